//! LOLWUT, as Redis 7.0's lolwut.c: the version line, or with `VERSION 5` Georg Nees's
//! "Schotter" in braille and with `VERSION 6` a city skyline in terminal colours. The same
//! arithmetic (f32 where Redis uses float), so the parts that are not random match byte for byte.

use super::{int, CommandSpec, Ctx, Flags};
use crate::command;
use crate::resp::Reply;
use bytes::Bytes;
use std::f64::consts::PI;

/// The LOLWUT command.
pub static COMMANDS: &[CommandSpec] = &[command!(
    "lolwut",
    -1,
    Flags::READONLY.union(Flags::FAST),
    (0, 0, 0),
    "server",
    "5.0.0",
    &["read", "fast"],
    lolwut,
    "Display some computer art and the Redis version"
)];

fn lolwut(_ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    let mut args = &a[1..];
    let mut ver = None;
    if a.len() >= 3 && a[1].eq_ignore_ascii_case(b"version") {
        match int(&a[2]) {
            // Redis prints the version as an unsigned int, so it wraps as this does.
            Ok(v) => ver = Some(v as u32),
            Err(e) => return e,
        }
        args = &a[3..];
    }
    // Redis matches "5." but not "5.9" for 5, and 4.9 for 5 too: with "N.0.0" only N counts.
    let out = match ver {
        Some(5) => schotter(args),
        Some(6) => skyline(args),
        _ => Ok(String::new()),
    };
    match out {
        Ok(mut s) => {
            if ver != Some(5) && ver != Some(6) {
                s.push_str("Redis ver. ");
            }
            s.push_str(crate::REDIS_VERSION);
            s.push('\n');
            Reply::Verbatim(Bytes::from(s))
        }
        Err(e) => e,
    }
}

/// The largest VERSION 5 canvas drawn (16 MB; Redis's defaults draw 132 x 356).
const MAX_PIXELS: i64 = 16 << 20;

/// C's `rand()`: 0..=RAND_MAX (2^31 - 1).
fn crand() -> i32 {
    (rand::random::<u32>() >> 1) as i32
}

/// The optional numeric arguments, each clamped to 1..=`max`.
fn numbers<const N: usize>(
    args: &[Bytes],
    mut vals: [i64; N],
    max: [i64; N],
) -> Result<[i64; N], Reply> {
    for (i, a) in args.iter().take(N).enumerate() {
        vals[i] = int(a)?;
    }
    for (v, m) in vals.iter_mut().zip(max) {
        *v = (*v).clamp(1, m);
    }
    Ok(vals)
}

struct Canvas {
    width: i32,
    height: i32,
    pixels: Vec<u8>,
}

impl Canvas {
    fn new(width: i32, height: i32, bg: u8) -> Canvas {
        Canvas {
            width,
            height,
            pixels: vec![bg; (width.max(0) as usize) * (height.max(0) as usize)],
        }
    }

    fn set(&mut self, x: i32, y: i32, c: u8) {
        if x >= 0 && x < self.width && y >= 0 && y < self.height {
            self.pixels[(x + y * self.width) as usize] = c;
        }
    }

    fn get(&self, x: i32, y: i32) -> u8 {
        if x >= 0 && x < self.width && y >= 0 && y < self.height {
            self.pixels[(x + y * self.width) as usize]
        } else {
            0
        }
    }

    /// Bresenham, as lwDrawLine.
    fn line(&mut self, mut x1: i32, mut y1: i32, x2: i32, y2: i32, c: u8) {
        let (dx, dy) = ((x2 - x1).abs(), (y2 - y1).abs());
        let (sx, sy) = (if x1 < x2 { 1 } else { -1 }, if y1 < y2 { 1 } else { -1 });
        let mut err = dx - dy;
        loop {
            self.set(x1, y1, c);
            if x1 == x2 && y1 == y2 {
                break;
            }
            let e2 = err * 2;
            if e2 > -dy {
                err -= dy;
                x1 += sx;
            }
            if e2 < dx {
                err += dx;
                y1 += sy;
            }
        }
    }

    // Redis's truncated square root of 2, not SQRT_2: the rounding must be the same.
    #[allow(clippy::approx_constant)]
    fn square(&mut self, x: i32, y: i32, size: f32, angle: f32, c: u8) {
        let size = ((f64::from(size) / 1.4142135623) as f32).round();
        let mut k = (PI / 4.0 + f64::from(angle)) as f32;
        let mut px = [0i32; 4];
        let mut py = [0i32; 4];
        for j in 0..4 {
            px[j] = (f64::from(k).sin() * f64::from(size) + f64::from(x)).round() as i32;
            py[j] = (f64::from(k).cos() * f64::from(size) + f64::from(y)).round() as i32;
            k = (f64::from(k) + PI / 2.0) as f32;
        }
        for j in 0..4 {
            self.line(px[j], py[j], px[(j + 1) % 4], py[(j + 1) % 4], c);
        }
    }
}

fn schotter(args: &[Bytes]) -> Result<String, Reply> {
    let [cols, per_row, per_col] = numbers(args, [66, 8, 12], [1000, 200, 200])?;
    let (per_row, per_col) = (per_row as i32, per_col as i32);
    let width = cols as i32 * 2;
    let padding = if width > 4 { 2 } else { 0 };
    let side = (width - padding * 2) as f32 / per_row as f32;
    let height = (side * per_col as f32 + (padding * 2) as f32) as i32;
    // Redis would draw up to 2000 x 399204 pixels (800 MB) for `1000 1 200`: bounded here.
    if i64::from(width) * i64::from(height) > MAX_PIXELS {
        return Err(Reply::error("ERR LOLWUT canvas too large"));
    }
    let mut canvas = Canvas::new(width, height, 0);
    for y in 0..per_col {
        for x in 0..per_row {
            let mut sx = (x as f32 * side + side / 2.0 + padding as f32) as i32;
            let mut sy = (y as f32 * side + side / 2.0 + padding as f32) as i32;
            let mut angle = 0.0f32;
            if y > 1 {
                let mut r = [0f32; 3];
                for v in &mut r {
                    *v = crand() as f32 / i32::MAX as f32 / per_col as f32 * y as f32;
                }
                for v in &mut r {
                    if crand() % 2 == 1 {
                        *v = -*v;
                    }
                }
                angle = r[0];
                sx = (sx as f32 + r[1] * side / 3.0) as i32;
                sy = (sy as f32 + r[2] * side / 3.0) as i32;
            }
            canvas.square(sx, sy, side, angle, 1);
        }
    }
    let mut text = String::new();
    let mut y = 0;
    while y < canvas.height {
        let mut x = 0;
        while x < canvas.width {
            let bits = [
                (0, 0),
                (0, 1),
                (0, 2),
                (1, 0),
                (1, 1),
                (1, 2),
                (0, 3),
                (1, 3),
            ];
            let mut byte = 0u32;
            for (i, (dx, dy)) in bits.iter().enumerate() {
                if canvas.get(x + dx, y + dy) != 0 {
                    byte |= 1 << i;
                }
            }
            text.push(char::from_u32(0x2800 + byte).unwrap_or(' '));
            x += 2;
        }
        if y != canvas.height - 1 {
            text.push('\n');
        }
        y += 4;
    }
    text.push_str("\nGeorg Nees - schotter, plotter on paper, 1968. Redis ver. ");
    Ok(text)
}

fn skyscraper(c: &mut Canvas, xoff: i32, width: i32, height: i32, windows: bool, color: u8) {
    let starty = c.height - 1;
    let endy = starty - height + 1;
    let mut y = starty;
    while y >= endy {
        for x in xoff..xoff + width {
            // The roof is four pixels narrower.
            if y == endy && (x <= xoff + 1 || x >= xoff + width - 2) {
                continue;
            }
            let mut px = color;
            if windows && x > xoff + 1 && x < xoff + width - 2 && y > endy + 1 && y < starty - 1 {
                let relx = x - (xoff + 1);
                let rely = y - (endy + 1);
                if (relx / 2) % 2 != 0 && rely % 2 != 0 {
                    loop {
                        px = 1 + (crand() % 2) as u8;
                        if px != color {
                            break;
                        }
                    }
                    // Both pixels of one window have the same colour.
                    if relx % 2 != 0 {
                        px = c.get(x - 1, y);
                    }
                }
            }
            c.set(x, y, px);
        }
        y -= 1;
    }
}

fn skyline(args: &[Bytes]) -> Result<String, Reply> {
    let [cols, rows] = numbers(args, [80, 20], [1000, 1000])?;
    let mut c = Canvas::new(cols as i32, rows as i32, 3);
    let h = c.height;
    // The lighter grays first, so that they stay in the background.
    for color in [2u8, 1] {
        let mut offset = -10;
        while offset < c.width {
            offset += crand() % 8;
            let width = 10 + crand() % 9;
            let height = if color == 2 {
                h / 2 + crand() % h / 2
            } else {
                h / 2 + crand() % h / 3
            };
            skyscraper(&mut c, offset, width, height, false, color);
            offset += if color == 2 { width / 2 } else { width + 1 };
        }
    }
    let mut offset = -10;
    while offset < c.width {
        offset += crand() % 8;
        let mut width = 5 + crand() % 14;
        if width % 4 != 0 {
            width += width % 3;
        }
        let height = h / 3 + crand() % h / 2;
        skyscraper(&mut c, offset, width, height, true, 0);
        offset += width + 5;
    }
    let mut text = String::new();
    for y in 0..c.height {
        for x in 0..c.width {
            let ce = match c.get(x, y) {
                1 => "0;90;100m",
                2 => "0;37;47m",
                3 => "0;97;107m",
                _ => "0;30;40m",
            };
            text.push_str("\x1b[");
            text.push_str(ce);
            text.push_str(" \x1b[0m");
        }
        if y != c.height - 1 {
            text.push('\n');
        }
    }
    text.push_str(
        "\nDedicated to the 8 bit game developers of past and present.\n\
         Original 8 bit image from Plaguemon by hikikomori. Redis ver. ",
    );
    Ok(text)
}
