//! Arrays to pictures: a 2-D plane (of a 2-D array, or one slice of a 3-D one) reduced block by
//! block to at most `max_side` pixels a side, coloured, and encoded as PNG; a 1-D array reduced
//! to min/max per bucket for a line plot.
//!
//! Every element is read once, in memory order, whatever the dtype, byte order or C/Fortran
//! order, so a 4096×4096 float64 (128 MiB) renders in tens of milliseconds. Non-finite values are
//! counted; a block takes the mean (or max) of its finite values, and only a block with none is
//! shown in the NaN/±inf colour (at full resolution every NaN and inf is seen as such).

use respd_client::{DType, Endian, NpyArray, Order};

use crate::colormap::{self, Cmap};

/// What cannot be rendered.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// The array's dimensions do not fit the view asked for.
    #[error("{0}")]
    Shape(String),
    /// PNG encoding failed.
    #[error("png: {0}")]
    Png(#[from] png::EncodingError),
}

/// Linear or logarithmic value scale.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scale {
    /// `(v - min) / (max - min)`.
    Linear,
    /// On log10 of the values; zero and negative values take the lowest colour.
    Log,
}

/// How a block of elements becomes one pixel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reduce {
    /// Mean of the block's finite values.
    Mean,
    /// Largest finite value (keeps single hot pixels visible).
    Max,
}

/// Rendering options.
#[derive(Clone, Debug)]
pub struct Options {
    /// Colour map.
    pub cmap: Cmap,
    /// Value scale.
    pub scale: Scale,
    /// Block reduction.
    pub reduce: Reduce,
    /// Largest output side in pixels.
    pub max_side: usize,
    /// Value for the lowest colour (default: the data's finite minimum).
    pub vmin: Option<f64>,
    /// Value for the highest colour (default: the data's finite maximum).
    pub vmax: Option<f64>,
    /// Rows `r0..r1` and columns `c0..c1` only (zoom), clamped to the plane.
    pub roi: Option<[usize; 4]>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            cmap: Cmap::Viridis,
            scale: Scale::Linear,
            reduce: Reduce::Mean,
            max_side: 1024,
            vmin: None,
            vmax: None,
            roi: None,
        }
    }
}

/// What the source values were, for the page to show beside the picture.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct Stats {
    /// Smallest finite value (None when there is none).
    pub min: Option<f64>,
    /// Largest finite value.
    pub max: Option<f64>,
    /// Smallest finite value above zero (the log scale's floor).
    pub min_positive: Option<f64>,
    /// Count of NaN elements.
    pub nan: u64,
    /// Count of +inf elements.
    pub pos_inf: u64,
    /// Count of -inf elements.
    pub neg_inf: u64,
    /// Source elements per pixel side (1: every element is a pixel).
    pub factor: usize,
    /// Source rows and columns shown (the ROI's extent).
    pub rows: usize,
    /// See `rows`.
    pub cols: usize,
    /// First source row and column shown.
    pub row0: usize,
    /// See `row0`.
    pub col0: usize,
    /// The values given to the lowest and highest colour.
    pub lo: f64,
    /// See `lo`.
    pub hi: f64,
}

/// A rendered picture: RGB rows top to bottom.
#[derive(Clone, Debug)]
pub struct Image {
    /// Pixels across.
    pub width: usize,
    /// Pixels down.
    pub height: usize,
    /// `width * height * 3` bytes.
    pub rgb: Vec<u8>,
    /// The source's statistics.
    pub stats: Stats,
}

/// A 2-D view of an array's bytes: element `(r, c)` is at element offset `base + r*sr + c*sc`.
struct Plane<'a> {
    data: &'a [u8],
    dtype: DType,
    endian: Endian,
    rows: usize,
    cols: usize,
    base: usize,
    sr: usize,
    sc: usize,
}

impl<'a> Plane<'a> {
    /// Plane `index` of a 2-D array (index 0) or of a 3-D array (slices along the first axis).
    fn of(a: &'a NpyArray, index: usize) -> Result<Self, RenderError> {
        let (n, rows, cols) = match a.shape[..] {
            [r, c] => (1, r, c),
            [n, r, c] => (n, r, c),
            _ => {
                return Err(RenderError::Shape(format!(
                    "an image needs a 2-D or 3-D array, not {}",
                    a.describe()
                )))
            }
        };
        if index >= n {
            return Err(RenderError::Shape(format!(
                "slice {index} of {n} does not exist"
            )));
        }
        let (base, sr, sc) = match (a.order, a.shape.len()) {
            (Order::C, _) => (index * rows * cols, cols, 1),
            (Order::Fortran, 2) => (0, 1, rows),
            (Order::Fortran, _) => (index, n, n * rows),
        };
        Ok(Plane {
            data: &a.data,
            dtype: a.dtype,
            endian: a.endian,
            rows,
            cols,
            base,
            sr,
            sc,
        })
    }
}

/// Per-pixel accumulator.
#[derive(Clone, Copy)]
struct Cell {
    sum: f64,
    max: f64,
    n: u32,
    /// Bit 0: a NaN, bit 1: a +inf, bit 2: a -inf in the block.
    special: u8,
}

/// Calls `$body` with `$read` bound to a monomorphic `Fn(&[u8]) -> f64` for the plane's element
/// type and byte order (complex values as their magnitude).
macro_rules! with_reader {
    ($dtype:expr, $endian:expr, $read:ident => $body:expr) => {{
        macro_rules! num {
            ($t:ty) => {{
                const S: usize = std::mem::size_of::<$t>();
                match $endian {
                    Endian::Little => {
                        let $read = |b: &[u8]| {
                            <$t>::from_le_bytes(b[..S].try_into().unwrap_or([0; S])) as f64
                        };
                        $body
                    }
                    Endian::Big => {
                        let $read = |b: &[u8]| {
                            <$t>::from_be_bytes(b[..S].try_into().unwrap_or([0; S])) as f64
                        };
                        $body
                    }
                }
            }};
        }
        macro_rules! cplx {
            ($t:ty) => {{
                const S: usize = std::mem::size_of::<$t>();
                let conv: fn([u8; S]) -> $t = match $endian {
                    Endian::Little => <$t>::from_le_bytes,
                    Endian::Big => <$t>::from_be_bytes,
                };
                let $read = |b: &[u8]| {
                    let re = conv(b[..S].try_into().unwrap_or([0; S])) as f64;
                    let im = conv(b[S..2 * S].try_into().unwrap_or([0; S])) as f64;
                    re.hypot(im)
                };
                $body
            }};
        }
        match $dtype {
            DType::Bool | DType::U8 => num!(u8),
            DType::I8 => num!(i8),
            DType::I16 => num!(i16),
            DType::U16 => num!(u16),
            DType::I32 => num!(i32),
            DType::U32 => num!(u32),
            DType::I64 => num!(i64),
            DType::U64 => num!(u64),
            DType::F32 => num!(f32),
            DType::F64 => num!(f64),
            DType::C64 => cplx!(f32),
            DType::C128 => cplx!(f64),
        }
    }};
}

/// Render plane `index` of a 2-D or 3-D array.
pub fn render(a: &NpyArray, index: usize, opts: &Options) -> Result<Image, RenderError> {
    let p = Plane::of(a, index)?;
    let [r0, r1, c0, c1] = match opts.roi {
        Some([r0, r1, c0, c1]) => {
            let r1 = r1.min(p.rows);
            let c1 = c1.min(p.cols);
            [r0.min(r1), r1, c0.min(c1), c1]
        }
        None => [0, p.rows, 0, p.cols],
    };
    let (rows, cols) = (r1 - r0, c1 - c0);
    if rows == 0 || cols == 0 {
        return Err(RenderError::Shape(format!(
            "nothing to show: {rows}×{cols} elements"
        )));
    }
    let factor = rows.max(cols).div_ceil(opts.max_side.max(1));
    let (oh, ow) = (rows.div_ceil(factor), cols.div_ceil(factor));
    let mut cells = vec![
        Cell {
            sum: 0.0,
            max: f64::NEG_INFINITY,
            n: 0,
            special: 0
        };
        oh * ow
    ];
    let mut stats = Stats {
        factor,
        rows,
        cols,
        row0: r0,
        col0: c0,
        ..Stats::default()
    };
    let mut g = Global {
        lo: f64::INFINITY,
        hi: f64::NEG_INFINITY,
        lo_pos: f64::INFINITY,
        nan: 0,
        pos_inf: 0,
        neg_inf: 0,
    };
    let size = p.dtype.size();
    // Walk memory order: the inner loop takes the axis with the smaller stride, a block of
    // `factor` elements at a time, so the pixel index needs no division per element.
    let row_major = p.sc <= p.sr;
    let (o0, o1, i0, i1, so, si) = if row_major {
        (r0, r1, c0, c1, p.sr, p.sc)
    } else {
        (c0, c1, r0, r1, p.sc, p.sr)
    };
    with_reader!(p.dtype, p.endian, read => {
        for o in o0..o1 {
            let ob = (o - o0) / factor;
            let line = p.base + o * so;
            let (mut i, mut b) = (i0, 0);
            while i < i1 {
                let end = (i + factor).min(i1);
                let cell = &mut cells[if row_major { ob * ow + b } else { b * ow + ob }];
                for j in i..end {
                    let off = (line + j * si) * size;
                    g.add(cell, read(&p.data[off..off + size]));
                }
                i = end;
                b += 1;
            }
        }
    });
    let Global { lo, hi, lo_pos, .. } = g;
    (stats.nan, stats.pos_inf, stats.neg_inf) = (g.nan, g.pos_inf, g.neg_inf);
    if lo <= hi {
        stats.min = Some(lo);
        stats.max = Some(hi);
    }
    if lo_pos.is_finite() {
        stats.min_positive = Some(lo_pos);
    }
    let lo = opts.vmin.or(stats.min).unwrap_or(0.0);
    let hi = opts.vmax.or(stats.max).unwrap_or(1.0);
    let map = Mapper::new(opts.scale, lo, hi, stats.min_positive);
    stats.lo = map.lo;
    stats.hi = map.hi;
    let table = opts.cmap.table();
    let mut rgb = Vec::with_capacity(oh * ow * 3);
    for cell in &cells {
        let colour = if cell.n > 0 {
            let v = match opts.reduce {
                Reduce::Mean => cell.sum / cell.n as f64,
                Reduce::Max => cell.max,
            };
            table[map.index(v)]
        } else if cell.special & 1 != 0 {
            colormap::NAN
        } else if cell.special & 2 != 0 {
            colormap::POS_INF
        } else {
            colormap::NEG_INF
        };
        rgb.extend_from_slice(&colour);
    }
    Ok(Image {
        width: ow,
        height: oh,
        rgb,
        stats,
    })
}

/// Whole-plane statistics gathered in the same pass.
struct Global {
    lo: f64,
    hi: f64,
    lo_pos: f64,
    nan: u64,
    pos_inf: u64,
    neg_inf: u64,
}

impl Global {
    #[inline(always)]
    fn add(&mut self, cell: &mut Cell, v: f64) {
        if v.is_finite() {
            cell.sum += v;
            cell.n += 1;
            if v > cell.max {
                cell.max = v;
            }
            self.lo = self.lo.min(v);
            self.hi = self.hi.max(v);
            if v > 0.0 && v < self.lo_pos {
                self.lo_pos = v;
            }
        } else if v.is_nan() {
            cell.special |= 1;
            self.nan += 1;
        } else if v > 0.0 {
            cell.special |= 2;
            self.pos_inf += 1;
        } else {
            cell.special |= 4;
            self.neg_inf += 1;
        }
    }
}

/// Value → colour index.
struct Mapper {
    log: bool,
    lo: f64,
    hi: f64,
    /// `lo` and `hi` in the scale's space.
    a: f64,
    b: f64,
}

impl Mapper {
    fn new(scale: Scale, lo: f64, hi: f64, min_positive: Option<f64>) -> Self {
        match scale {
            Scale::Linear => Mapper {
                log: false,
                lo,
                hi,
                a: lo,
                b: hi,
            },
            Scale::Log => {
                // A log scale starts above zero: at the smallest positive value when asked lower.
                let lo = if lo > 0.0 {
                    lo
                } else {
                    min_positive.unwrap_or(1.0).min(hi.max(f64::MIN_POSITIVE))
                };
                let hi = hi.max(lo);
                Mapper {
                    log: true,
                    lo,
                    hi,
                    a: lo.log10(),
                    b: hi.log10(),
                }
            }
        }
    }

    fn index(&self, v: f64) -> usize {
        let x = if self.log {
            if v <= 0.0 {
                return 0;
            }
            v.log10()
        } else {
            v
        };
        let span = self.b - self.a;
        let t = if span > 0.0 { (x - self.a) / span } else { 0.0 };
        (t.clamp(0.0, 1.0) * 255.0).round() as usize
    }
}

/// The picture as a PNG file (8-bit RGB, fast compression: speed matters more than size here).
pub fn encode_png(img: &Image) -> Result<Vec<u8>, RenderError> {
    let mut out = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut out, img.width as u32, img.height as u32);
        enc.set_color(png::ColorType::Rgb);
        enc.set_depth(png::BitDepth::Eight);
        enc.set_compression(png::Compression::Fast);
        let mut w = enc.write_header()?;
        w.write_image_data(&img.rgb)?;
        w.finish()?;
    }
    Ok(out)
}

/// A 1-D array reduced to at most `buckets` points: per bucket the first index, min and max
/// (None where a bucket holds no finite value).
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Series {
    /// Element count of the array.
    pub len: usize,
    /// Elements per bucket.
    pub step: usize,
    /// First index of each bucket.
    pub x: Vec<usize>,
    /// Smallest finite value of each bucket.
    pub lo: Vec<Option<f64>>,
    /// Largest finite value of each bucket.
    pub hi: Vec<Option<f64>>,
    /// Count of NaN elements.
    pub nan: u64,
    /// Count of ±inf elements.
    pub inf: u64,
}

/// Reduce a 1-D array for a line plot.
pub fn series(a: &NpyArray, buckets: usize) -> Result<Series, RenderError> {
    if a.shape.len() != 1 {
        return Err(RenderError::Shape(format!(
            "a line plot needs a 1-D array, not {}",
            a.describe()
        )));
    }
    let len = a.shape[0];
    let step = len.div_ceil(buckets.max(1)).max(1);
    let nb = len.div_ceil(step);
    let mut s = Series {
        len,
        step,
        x: (0..nb).map(|b| b * step).collect(),
        lo: vec![None; nb],
        hi: vec![None; nb],
        nan: 0,
        inf: 0,
    };
    let size = a.dtype.size();
    with_reader!(a.dtype, a.endian, read => {
        for i in 0..len {
            let v = read(&a.data[i * size..(i + 1) * size]);
            if v.is_nan() {
                s.nan += 1;
            } else if v.is_infinite() {
                s.inf += 1;
            } else {
                let b = i / step;
                s.lo[b] = Some(s.lo[b].map_or(v, |x: f64| x.min(v)));
                s.hi[b] = Some(s.hi[b].map_or(v, |x: f64| x.max(v)));
            }
        }
    });
    Ok(s)
}

/// Every element in C order as a number (None for NaN and ±inf, which JSON cannot hold).
pub fn values(a: &NpyArray) -> Vec<Option<f64>> {
    let a = a.with_order(Order::C);
    let size = a.dtype.size();
    with_reader!(a.dtype, a.endian, read => {
        a.data
            .chunks_exact(size)
            .map(|b| Some(read(b)).filter(|v| v.is_finite()))
            .collect()
    })
}

#[cfg(test)]
mod tests;
