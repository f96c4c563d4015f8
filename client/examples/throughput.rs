//! MB/s of large SET/GET through the blocking and async paths of the `redis` crate.
//!
//! `cargo run --release -p respd-client --example throughput -- --url URL [--mib 128] [--reps 3]`

use std::time::Instant;

use clap::Parser;
use respd_client::{AsyncClient, Client, Target};

#[derive(Parser)]
struct Args {
    #[arg(long)]
    url: Option<String>,
    /// Value size in MiB.
    #[arg(long, default_value_t = 128)]
    mib: usize,
    /// Repetitions (the best is reported).
    #[arg(long, default_value_t = 3)]
    reps: usize,
}

fn best(
    reps: usize,
    bytes: usize,
    mut f: impl FnMut() -> anyhow::Result<()>,
) -> anyhow::Result<f64> {
    let mut best = f64::MAX;
    for _ in 0..reps {
        let t = Instant::now();
        f()?;
        best = best.min(t.elapsed().as_secs_f64());
    }
    Ok(bytes as f64 / 1e6 / best)
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let target = Target::resolve(args.url.as_deref())?;
    let n = args.mib << 20;
    let value: Vec<u8> = (0..n).map(|i| (i * 31 % 251) as u8).collect();
    let mut c = Client::open(target.clone())?;
    let set = best(args.reps, n, || Ok(c.put(b"throughput", &value)?))?;
    let get = best(args.reps, n, || {
        anyhow::ensure!(c.get(b"throughput")?.len() == n, "short read");
        Ok(())
    })?;
    println!(
        "blocking {} MiB: SET {set:.0} MB/s, GET {get:.0} MB/s",
        args.mib
    );
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let mut a = rt.block_on(AsyncClient::open(target))?;
    let set = best(args.reps, n, || {
        Ok(rt.block_on(a.put(b"throughput", &value))?)
    })?;
    let get = best(args.reps, n, || {
        anyhow::ensure!(rt.block_on(a.get(b"throughput"))?.len() == n, "short read");
        Ok(())
    })?;
    println!(
        "async    {} MiB: SET {set:.0} MB/s, GET {get:.0} MB/s",
        args.mib
    );
    c.delete(b"throughput")?;
    Ok(())
}
