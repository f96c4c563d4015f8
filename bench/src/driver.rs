//! The driver: connections, pipelining and scheduling. Each worker thread owns some connections
//! and one histogram; per round it sends a pipeline on each of its connections, then reads the
//! replies, so `threads` cores drive any number of connections.

use crate::conn::{Conn, Reply};
use crate::workload::{Gen, Op, Plan};
use anyhow::{bail, Context, Result};
use hdrhistogram::Histogram;
use std::io::{IoSlice, IsTerminal};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

/// Values at least this large are written from the shared value buffer instead of being copied.
const COPY_MAX: usize = 16 * 1024;

/// What one workload run measured, all workers merged.
pub struct Measured {
    /// Latency in nanoseconds.
    pub hist: Histogram<u64>,
    pub ops: u64,
    /// Payload bytes moved (values written by SET, bulk lengths read by GET).
    pub bytes: u64,
    pub errors: u64,
    pub first_error: Option<String>,
    /// GETs answered with nil.
    pub misses: u64,
    pub seconds: f64,
}

impl Measured {
    /// Nothing counted yet; latencies up to an hour at 3 significant digits.
    fn empty() -> anyhow::Result<Self> {
        Ok(Measured {
            hist: Histogram::new_with_bounds(1, 3_600_000_000_000, 3)?,
            ops: 0,
            bytes: 0,
            errors: 0,
            first_error: None,
            misses: 0,
            seconds: 0.0,
        })
    }

    /// Adds a worker's counts (not its time) to these; the first error seen is kept.
    fn absorb(&mut self, w: Measured) -> anyhow::Result<()> {
        self.hist.add(&w.hist)?;
        self.ops += w.ops;
        self.bytes += w.bytes;
        self.errors += w.errors;
        self.misses += w.misses;
        self.first_error = self.first_error.take().or(w.first_error);
        Ok(())
    }
}

struct Shared {
    plan: Plan,
    addr: String,
    value: Vec<u8>,
    /// Measured requests claimed so far (count mode) or completed (duration mode).
    claimed: AtomicU64,
    done: AtomicU64,
    failed: AtomicBool,
    finished: AtomicUsize,
}

/// A pipeline sent on one connection whose replies are still to be read.
struct Batch {
    n: u64,
    sent_at: Instant,
    measuring: bool,
}

struct WorkerOut {
    /// Its counts; `seconds` stays 0, the run's time comes from `start` and `finish`.
    counts: Measured,
    /// When this worker sent its first measured request.
    start: Option<Instant>,
    finish: Instant,
}

/// A value buffer: not all one byte, so nothing along the way can shortcut it.
pub fn make_value(n: usize) -> Vec<u8> {
    (0..n).map(|i| b'a' + (i % 23) as u8).collect()
}

fn push_bulk(hdr: &mut Vec<u8>, b: &[u8]) {
    hdr.extend_from_slice(b"$");
    hdr.extend_from_slice(b.len().to_string().as_bytes());
    hdr.extend_from_slice(b"\r\n");
    hdr.extend_from_slice(b);
    hdr.extend_from_slice(b"\r\n");
}

/// Pieces of a pipeline: ranges of the header buffer, or a prefix of the shared value.
#[derive(Clone, Copy)]
enum Seg {
    Hdr(usize, usize),
    Value(usize),
}

/// Encodes one request into `hdr`/`segs`; returns its payload size (for MB/s).
fn encode(
    plan: &Plan,
    op: Op,
    key: u64,
    size: usize,
    value: &[u8],
    hdr: &mut Vec<u8>,
    segs: &mut Vec<Seg>,
) -> usize {
    // Formatted without allocating: this runs for every request.
    let mut kbuf = [0u8; 20];
    let mut i = kbuf.len();
    let mut k = key;
    loop {
        i -= 1;
        kbuf[i] = b'0' + (k % 10) as u8;
        k /= 10;
        if k == 0 {
            break;
        }
    }
    let prefix = plan.w.key_prefix.as_bytes();
    let klen = prefix.len() + kbuf.len() - i;
    let key_bulk = |hdr: &mut Vec<u8>| {
        hdr.push(b'$');
        hdr.extend_from_slice(klen.to_string().as_bytes());
        hdr.extend_from_slice(b"\r\n");
        hdr.extend_from_slice(prefix);
        hdr.extend_from_slice(&kbuf[i..]);
        hdr.extend_from_slice(b"\r\n");
    };
    let start = hdr.len();
    let data_bulk = |hdr: &mut Vec<u8>, segs: &mut Vec<Seg>, seg_start: &mut usize| {
        if size < COPY_MAX {
            push_bulk(hdr, &value[..size]);
        } else {
            hdr.extend_from_slice(format!("${size}\r\n").as_bytes());
            segs.push(Seg::Hdr(*seg_start, hdr.len()));
            segs.push(Seg::Value(size));
            *seg_start = hdr.len();
            hdr.extend_from_slice(b"\r\n");
        }
    };
    let mut seg_start = start;
    let payload = match op {
        Op::Set => {
            hdr.extend_from_slice(b"*3\r\n$3\r\nSET\r\n");
            key_bulk(hdr);
            data_bulk(hdr, segs, &mut seg_start);
            size
        }
        Op::Get => {
            hdr.extend_from_slice(b"*2\r\n$3\r\nGET\r\n");
            key_bulk(hdr);
            0
        }
        Op::Template => {
            let words = plan.template.as_deref().unwrap_or_default();
            hdr.extend_from_slice(format!("*{}\r\n", words.len()).as_bytes());
            let mut payload = 0;
            for w in words {
                match w.as_str() {
                    "__data__" => {
                        data_bulk(hdr, segs, &mut seg_start);
                        payload += size;
                    }
                    "__key__" => key_bulk(hdr),
                    other if other.contains("__key__") => {
                        let key = format!("{}{key}", plan.w.key_prefix);
                        push_bulk(hdr, other.replace("__key__", &key).as_bytes());
                    }
                    other => push_bulk(hdr, other.as_bytes()),
                }
            }
            payload
        }
    };
    if hdr.len() > seg_start {
        segs.push(Seg::Hdr(seg_start, hdr.len()));
    }
    payload
}

fn send(conn: &mut Conn, value: &[u8], hdr: &[u8], segs: &[Seg]) -> Result<()> {
    let mut slices: Vec<IoSlice<'_>> = segs
        .iter()
        .map(|s| match *s {
            Seg::Hdr(a, b) => IoSlice::new(&hdr[a..b]),
            Seg::Value(n) => IoSlice::new(&value[..n]),
        })
        .collect();
    // Adjacent header pieces could be merged, but the kernel takes up to 1024 slices anyway;
    // write in groups below that limit.
    for group in slices.chunks_mut(512) {
        conn.write_all(group)?;
    }
    Ok(())
}

/// SETs every key of the key space once, so GETs hit.
fn prefill(plan: &Plan, addr: &str, value: &[u8]) -> Result<()> {
    let mut conn = Conn::connect(addr, 0)?;
    let size = plan.size_max;
    let depth = ((1usize << 20) / (size + 64)).clamp(1, 256) as u64;
    let mut key = 0;
    while key < plan.w.keys {
        let (mut hdr, mut segs) = (Vec::new(), Vec::new());
        let n = depth.min(plan.w.keys - key);
        for k in key..key + n {
            encode(plan, Op::Set, k, size, value, &mut hdr, &mut segs);
        }
        send(&mut conn, value, &hdr, &segs)?;
        for _ in 0..n {
            if let Reply::Error(e) = conn.read_reply()? {
                bail!("prefill SET failed: {e}");
            }
        }
        key += n;
    }
    Ok(())
}

/// The prefill `run` does first, alone (for workloads run side by side: every prefill is done
/// before any of them is measured).
pub fn prefill_only(plan: &Plan, addr: &str) -> Result<()> {
    if plan.reads() && plan.w.prefill {
        prefill(plan, addr, &make_value(plan.size_max)).context("prefill")?;
    }
    Ok(())
}

/// Runs one workload against `addr` (`host:port`).
pub fn run(plan: &Plan, addr: &str, progress: bool) -> Result<Measured> {
    let value = make_value(plan.size_max);
    if plan.reads() && plan.w.prefill {
        prefill(plan, addr, &value).context("prefill")?;
    }
    let threads = plan.w.threads;
    let shared = Arc::new(Shared {
        plan: plan.clone(),
        addr: addr.to_owned(),
        value,
        claimed: AtomicU64::new(0),
        done: AtomicU64::new(0),
        failed: AtomicBool::new(false),
        finished: AtomicUsize::new(0),
    });
    // Workers connect first; the clock starts when all of them are ready.
    let barrier = Arc::new(Barrier::new(threads + 1));
    let start_at = Arc::new(std::sync::Mutex::new(None::<Instant>));
    let mut handles = Vec::new();
    for idx in 0..threads {
        let conns = plan.w.connections / threads + usize::from(idx < plan.w.connections % threads);
        let (shared, barrier, start_at) = (shared.clone(), barrier.clone(), start_at.clone());
        handles.push(std::thread::spawn(move || {
            let r = worker(&shared, idx, conns, &barrier, &start_at);
            if r.is_err() {
                shared.failed.store(true, Ordering::Relaxed);
            }
            shared.finished.fetch_add(1, Ordering::Relaxed);
            r
        }));
    }
    let t0 = Instant::now();
    if let Ok(mut s) = start_at.lock() {
        *s = Some(t0);
    }
    barrier.wait();
    let measure_start = t0 + Duration::from_secs_f64(plan.w.warmup);
    let bar = progress_bar(plan, progress);
    while shared.finished.load(Ordering::Relaxed) < threads {
        std::thread::sleep(Duration::from_millis(100));
        if let Some(b) = &bar {
            if plan.w.requests > 0 {
                b.set_position(shared.done.load(Ordering::Relaxed));
            } else {
                b.set_position(t0.elapsed().as_millis() as u64);
            }
        }
    }
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    let mut m = Measured::empty()?;
    // The measured time runs from the first measured request: a warm-up request still running
    // when the warm-up ends (a 128 MiB SET on 1 Gbit takes a second) must not count.
    let mut first: Option<Instant> = None;
    let mut last = measure_start;
    for h in handles {
        let w = h.join().map_err(|_| anyhow::anyhow!("worker panicked"))??;
        m.absorb(w.counts)?;
        last = last.max(w.finish);
        first = match (first, w.start) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
    }
    m.seconds = last
        .duration_since(first.unwrap_or(measure_start))
        .as_secs_f64();
    Ok(m)
}

fn progress_bar(plan: &Plan, wanted: bool) -> Option<indicatif::ProgressBar> {
    let long = plan.w.requests > 1000 || plan.w.duration + plan.w.warmup >= 2.0;
    if !wanted || !long || !std::io::stderr().is_terminal() {
        return None;
    }
    let (len, style) = if plan.w.requests > 0 {
        (plan.w.requests, "{bar:40} {pos}/{len} requests")
    } else {
        (
            ((plan.w.duration + plan.w.warmup) * 1000.0) as u64,
            "{bar:40} {elapsed} (incl. warm-up)",
        )
    };
    let bar = indicatif::ProgressBar::new(len);
    if let Ok(s) = indicatif::ProgressStyle::with_template(style) {
        bar.set_style(s);
    }
    Some(bar)
}

fn worker(
    sh: &Shared,
    idx: usize,
    nconns: usize,
    barrier: &Barrier,
    start_at: &std::sync::Mutex<Option<Instant>>,
) -> Result<WorkerOut> {
    let plan = &sh.plan;
    let max_bulk = if plan.reads() { plan.size_max } else { 0 };
    let conns: Result<Vec<Conn>> = (0..nconns)
        .map(|_| Conn::connect(&sh.addr, max_bulk))
        .collect();
    barrier.wait();
    let mut conns = conns?;
    let t0 = start_at
        .lock()
        .ok()
        .and_then(|s| *s)
        .unwrap_or_else(Instant::now);
    let measure_start = t0 + Duration::from_secs_f64(plan.w.warmup);
    let end = measure_start + Duration::from_secs_f64(plan.w.duration);
    let mut gen = Gen::new(plan, idx, plan.w.threads);
    let mut out = WorkerOut {
        counts: Measured::empty()?,
        start: None,
        finish: Instant::now(),
    };
    // With a fixed rate, each request has a due time; this worker's share of the rate.
    let interval =
        (plan.w.rate > 0.0).then(|| Duration::from_secs_f64(plan.w.threads as f64 / plan.w.rate));
    let mut due = t0;
    let p = plan.w.pipeline as u64;
    let mut batch_ops: Vec<Vec<Op>> = vec![Vec::new(); nconns];
    let (mut hdr, mut segs) = (Vec::new(), Vec::new());
    // Each connection sends its next pipeline as soon as its replies are read, as
    // redis-benchmark does: no round in which every connection waits for the slowest.
    let mut next =
        |conn: &mut Conn, ops: &mut Vec<Op>, out: &mut WorkerOut| -> Result<Option<Batch>> {
            let now = Instant::now();
            let measuring = now >= measure_start;
            let mut n = p;
            if measuring {
                if plan.w.requests > 0 {
                    let got = sh.claimed.fetch_add(p, Ordering::Relaxed);
                    if got >= plan.w.requests {
                        return Ok(None);
                    }
                    n = p.min(plan.w.requests - got);
                } else if now >= end && sh.done.load(Ordering::Relaxed) >= plan.w.min_requests {
                    return Ok(None);
                }
            }
            let mut sent_at = now;
            if let Some(iv) = interval {
                if due > now {
                    std::thread::sleep(due - now);
                }
                sent_at = due;
                due += iv * n as u32;
            }
            hdr.clear();
            segs.clear();
            ops.clear();
            let mut payload = 0;
            for _ in 0..n {
                let op = gen.op();
                let key = gen.key();
                let size = gen.size();
                payload += encode(plan, op, key, size, &sh.value, &mut hdr, &mut segs);
                ops.push(op);
            }
            send(conn, &sh.value, &hdr, &segs)?;
            if measuring {
                out.counts.bytes += payload as u64;
                out.start.get_or_insert(sent_at);
            }
            Ok(Some(Batch {
                n,
                sent_at,
                measuring,
            }))
        };
    let mut pending: Vec<Option<Batch>> = Vec::with_capacity(nconns);
    for (conn, ops) in conns.iter_mut().zip(batch_ops.iter_mut()) {
        pending.push(next(conn, ops, &mut out)?);
    }
    'run: loop {
        let mut busy = false;
        for ((conn, ops), slot) in conns.iter_mut().zip(batch_ops.iter_mut()).zip(&mut pending) {
            if sh.failed.load(Ordering::Relaxed) {
                break 'run;
            }
            let Some(b) = slot.take() else { continue };
            busy = true;
            for op in ops.iter().take(b.n as usize) {
                let reply = conn.read_reply()?;
                if !b.measuring {
                    continue;
                }
                let ns = b.sent_at.elapsed().as_nanos().max(1) as u64;
                out.counts.hist.saturating_record(ns);
                out.counts.ops += 1;
                match reply {
                    Reply::Error(e) => {
                        out.counts.errors += 1;
                        out.counts.first_error.get_or_insert(e);
                    }
                    Reply::Nil if *op == Op::Get => out.counts.misses += 1,
                    Reply::Bulk(len) if *op == Op::Get => out.counts.bytes += len as u64,
                    _ => {}
                }
            }
            if b.measuring {
                sh.done.fetch_add(b.n, Ordering::Relaxed);
            }
            out.finish = Instant::now();
            *slot = next(conn, ops, &mut out)?;
        }
        if !busy {
            break;
        }
    }
    out.finish = Instant::now();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workload::Workload;
    use std::process::{Command, Stdio};

    /// Drives a real redis-server (ci/test installs it). Missing, it fails, unless
    /// RESPD_ALLOW_NO_REDIS=1 outside CI (CI=true) says to skip.
    #[test]
    fn counts_requests_bytes_and_hits_against_redis_server() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--save",
                "",
                "--bind",
                "127.0.0.1",
            ])
            .stdout(Stdio::null())
            .spawn();
        let mut child = match child {
            Ok(c) => c,
            Err(e) => {
                let allowed = std::env::var("RESPD_ALLOW_NO_REDIS").is_ok_and(|v| v == "1")
                    && !std::env::var("CI").is_ok_and(|v| v == "true");
                assert!(
                    allowed,
                    "cannot start redis-server ({e}); install it (ci/test does), or set \
                     RESPD_ALLOW_NO_REDIS=1 outside CI to skip"
                );
                eprintln!("SKIP (RESPD_ALLOW_NO_REDIS=1): cannot start redis-server ({e})");
                return;
            }
        };
        let addr = format!("127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(10);
        while Conn::connect(&addr, 0).is_err() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        let w = Workload {
            ratio: "1:3".into(),
            size: "100KiB".into(),
            keys: 8,
            pipeline: 4,
            connections: 3,
            threads: 2,
            requests: 1000,
            warmup: 0.0,
            ..Workload::default()
        };
        let m = run(&w.plan().unwrap(), &addr, false);
        let _ = child.kill();
        let _ = child.wait();
        let m = m.unwrap();
        assert_eq!(m.ops, 1000);
        assert_eq!((m.errors, m.misses), (0, 0));
        // Every request moved one value, whether SET or GET.
        assert_eq!(m.bytes, 1000 * 100 * 1024);
        assert_eq!(m.hist.len(), 1000);
    }
}
