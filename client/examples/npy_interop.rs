//! Interop driver for tests/python/test_client_interop.py.
//!
//! `npy_interop --url URL write PREFIX`: stores one array per dtype × order × byte order at
//! `PREFIX<dtype>:<C|F>:<little|big>`, shape (3, 4, 5), element k (C order) = pattern(k).
//! `npy_interop --url URL check PREFIX`: reads every key below PREFIX (written by numpy.save,
//! named the same way) and checks each equals the pattern; prints `ok N` or fails.
//! `npy_interop --url URL write-bundles PREFIX`: a histogram bundle at `PREFIXhist` (counts
//! 3×4 int64 = 0..12, edges 0..=3 and 0..=4 scaled by 0.5, attr `unit=keV`) and a plot bundle
//! at `PREFIXplot` (series `a`: x = 0,1,2, y = x², and `b`: x = 0,1, y = -x).
//! `npy_interop --url URL check-bundles PREFIX`: reads those two keys (written by the Python
//! module the same way) and checks them; prints `ok 2` or fails.

use clap::Parser;
use respd_client::{Bundle, Client, Complex, DType, Element, Endian, NpyArray, Order, Target};

#[derive(Parser)]
struct Args {
    #[arg(long)]
    url: Option<String>,
    /// `write`, `check`, `write-bundles` or `check-bundles`.
    mode: String,
    /// Key prefix.
    prefix: String,
}

const SHAPE: [usize; 3] = [3, 4, 5];

/// The pattern, per dtype, as NumPy computes it in the test: see `expected()` there.
fn pattern(dt: DType) -> anyhow::Result<NpyArray> {
    let n: usize = SHAPE.iter().product();
    let k = 0..n;
    let s = SHAPE.to_vec();
    fn ints<T: Element>(s: Vec<usize>, v: Vec<T>) -> anyhow::Result<NpyArray> {
        Ok(NpyArray::from_vec(s, &v)?)
    }
    let signed = |k: usize| (k * 7 % 100) as i64 - 50;
    let unsigned = |k: usize| (k * 7 % 100) as u64 + 150;
    match dt {
        DType::Bool => ints(s, k.map(|k| k % 3 == 0).collect()),
        DType::I8 => ints(s, k.map(|k| signed(k) as i8).collect()),
        DType::I16 => ints(s, k.map(|k| (signed(k) * 300) as i16).collect()),
        DType::I32 => ints(s, k.map(|k| (signed(k) * 40_000_000) as i32).collect()),
        DType::I64 => ints(s, k.map(|k| signed(k) * 100_000_000_000).collect()),
        DType::U8 => ints(s, k.map(|k| unsigned(k) as u8).collect()),
        DType::U16 => ints(s, k.map(|k| (unsigned(k) * 300) as u16).collect()),
        DType::U32 => ints(s, k.map(|k| (unsigned(k) * 16_000_000) as u32).collect()),
        DType::U64 => ints(
            s,
            k.map(|k| unsigned(k) * 100_000_000_000_000_000).collect(),
        ),
        DType::F32 => ints(s, k.map(|k| k as f32 * 0.5 - 3.0).collect()),
        DType::F64 => ints(s, k.map(|k| k as f64 * 0.1 - 3.0).collect()),
        DType::C64 => ints(
            s,
            k.map(|k| Complex {
                re: k as f32 * 0.5,
                im: 0.0 - k as f32,
            })
            .collect(),
        ),
        DType::C128 => ints(
            s,
            k.map(|k| Complex {
                re: k as f64 * 0.1,
                im: 0.0 - k as f64,
            })
            .collect(),
        ),
    }
}

/// The two bundles both sides write and check.
fn bundles() -> anyhow::Result<(Bundle, Bundle)> {
    let counts = NpyArray::from_vec(vec![3, 4], &(0..12i64).collect::<Vec<_>>())?;
    let edges = vec![
        (0..=3).map(|i| i as f64 * 0.5).collect(),
        (0..=4).map(|i| i as f64 * 0.5).collect(),
    ];
    let h = Bundle::histogram(counts, edges)?.attr("unit", "keV");
    let p = Bundle::plot(vec![
        ("a".into(), vec![0.0, 1.0, 2.0], vec![0.0, 1.0, 4.0]),
        ("b".into(), vec![0.0, 1.0], vec![0.0, -1.0]),
    ])?;
    Ok((h, p))
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let mut c = Client::open(Target::resolve(args.url.as_deref())?)?;
    match args.mode.as_str() {
        "write" => {
            let mut n = 0;
            for dt in DType::ALL {
                let a = pattern(dt)?;
                for (o, order) in [("C", Order::C), ("F", Order::Fortran)] {
                    for (e, endian) in [("little", Endian::Little), ("big", Endian::Big)] {
                        let key = format!("{}{}:{o}:{e}", args.prefix, dt.name());
                        c.put_array(key.as_bytes(), &a.with_order(order).with_endian(endian))?;
                        n += 1;
                    }
                }
            }
            println!("wrote {n}");
        }
        "check" => {
            let keys = c.list(args.prefix.as_bytes())?;
            anyhow::ensure!(!keys.is_empty(), "no keys below {}", args.prefix);
            for key in &keys {
                let name = String::from_utf8_lossy(key).into_owned();
                let dt_name = name[args.prefix.len()..].split(':').next().unwrap_or("");
                let dt = DType::from_name(dt_name)
                    .ok_or_else(|| anyhow::anyhow!("{name}: unknown dtype"))?;
                let got = c.get_array(key)?;
                let want = pattern(dt)?;
                // Compare logical content: normalise both to C order, little-endian.
                let norm = got.with_endian(Endian::Little).with_order(Order::C);
                anyhow::ensure!(norm.shape == want.shape, "{name}: shape {:?}", got.shape);
                anyhow::ensure!(norm.data == want.data, "{name}: values differ");
                let o = if got.order == Order::Fortran {
                    "F"
                } else {
                    "C"
                };
                anyhow::ensure!(name.contains(&format!(":{o}:")), "{name}: read order {o}");
            }
            println!("ok {}", keys.len());
        }
        "write-bundles" => {
            let (h, p) = bundles()?;
            c.put_bundle(format!("{}hist", args.prefix).as_bytes(), &h)?;
            c.put_bundle(format!("{}plot", args.prefix).as_bytes(), &p)?;
            println!("wrote 2");
        }
        "check-bundles" => {
            let (h, p) = bundles()?;
            for (name, want) in [("hist", h), ("plot", p)] {
                let got = c.get_bundle(format!("{}{name}", args.prefix).as_bytes())?;
                anyhow::ensure!(got.kind == want.kind, "{name}: kind {}", got.kind);
                anyhow::ensure!(got.attrs == want.attrs, "{name}: attrs differ");
                anyhow::ensure!(got.arrays.len() == want.arrays.len(), "{name}: array count");
                for (n, a) in &want.arrays {
                    let g = got
                        .get(n)
                        .ok_or_else(|| anyhow::anyhow!("{name}: no {n}"))?;
                    anyhow::ensure!(
                        g.shape == a.shape && g.dtype == a.dtype,
                        "{name}.{n}: shape/dtype"
                    );
                    let norm = g.with_endian(Endian::Little).with_order(Order::C);
                    anyhow::ensure!(norm.data == a.data, "{name}.{n}: values differ");
                }
            }
            println!("ok 2");
        }
        m => anyhow::bail!("unknown mode {m}"),
    }
    Ok(())
}
