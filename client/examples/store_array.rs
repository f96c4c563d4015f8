//! Store a 4096×4096 float64 array whose element [i, j] is `i*4096 + j`, as `.npy`, at KEY.
//!
//! `cargo run --release -p respd-client --example store_array -- --url URL --key KEY`

use clap::Parser;
use respd_client::{Client, NpyArray, Target};

#[derive(Parser)]
struct Args {
    /// Server URL (default: RESPD_URL, the site config, then redis://127.0.0.1:6379).
    #[arg(long)]
    url: Option<String>,
    /// Key to store the array at.
    #[arg(long)]
    key: String,
    /// Side of the square array.
    #[arg(long, default_value_t = 4096)]
    n: usize,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let n = args.n;
    let elems: Vec<f64> = (0..n * n).map(|k| k as f64).collect();
    let a = NpyArray::from_vec(vec![n, n], &elems)?;
    let mut c = Client::open(Target::resolve(args.url.as_deref())?)?;
    let t = std::time::Instant::now();
    c.put_array(args.key.as_bytes(), &a)?;
    println!(
        "stored {} at {} in {:.3} s",
        a.describe(),
        args.key,
        t.elapsed().as_secs_f64()
    );
    Ok(())
}
