//! Reports: the conditions of the run, a table of results, JSON and markdown beside it.

use crate::driver::Measured;
use crate::workload::{fmt_size, Plan};
use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use std::fmt::Write as _;

/// The conditions of a run: what was measured, where and with what.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Conditions {
    pub unix_time: u64,
    pub host: String,
    pub kernel: String,
    pub cpus: usize,
    /// /proc/loadavg when the run started: the machine is shared, so figures move with it.
    pub loadavg: String,
    pub bench_version: String,
    /// `target: version` of every server measured.
    pub targets: Vec<String>,
    pub seed: u64,
    pub note: String,
}

impl Conditions {
    /// The conditions of this machine now.
    pub fn here(seed: u64) -> Conditions {
        let read = |p: &str| {
            std::fs::read_to_string(p)
                .map(|s| s.trim().to_owned())
                .unwrap_or_default()
        };
        Conditions {
            unix_time: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0),
            host: read("/proc/sys/kernel/hostname"),
            kernel: read("/proc/sys/kernel/osrelease"),
            cpus: std::thread::available_parallelism().map_or(1, |n| n.get()),
            loadavg: read("/proc/loadavg")
                .split_whitespace()
                .take(3)
                .collect::<Vec<_>>()
                .join(" "),
            bench_version: env!("CARGO_PKG_VERSION").into(),
            targets: Vec::new(),
            seed,
            note: String::new(),
        }
    }
}

/// One workload on one target over one link.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct BenchResult {
    pub target: String,
    pub link: String,
    pub workload: String,
    pub value_size: u64,
    pub pipeline: usize,
    pub connections: usize,
    pub threads: usize,
    pub requests: u64,
    pub seconds: f64,
    pub ops_per_sec: f64,
    /// Payload MB/s (10^6 bytes), values only, not protocol overhead.
    pub mb_per_sec: f64,
    pub p50_us: f64,
    pub p90_us: f64,
    pub p99_us: f64,
    pub p999_us: f64,
    pub p9999_us: f64,
    pub max_us: f64,
    pub errors: u64,
    pub misses: u64,
    /// MB/s as a fraction of the link's measured limit.
    pub link_fraction: Option<f64>,
    pub seed: u64,
    /// The latency histogram as HdrHistogram's percentile distribution (`--hist`); not in the
    /// JSON, which keeps the summary.
    #[serde(skip)]
    pub hgrm: String,
}

/// A link and the bulk TCP throughput it carries.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct LinkLimit {
    pub link: String,
    pub limit_mb_per_sec: f64,
    pub method: String,
}

/// One entry of the JSON report.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Record {
    Run(Conditions),
    Result(BenchResult),
    Link(LinkLimit),
}

impl BenchResult {
    /// Summarises a measurement.
    pub fn new(target: &str, link: &str, plan: &Plan, m: &Measured) -> BenchResult {
        let us = |q: f64| m.hist.value_at_quantile(q) as f64 / 1000.0;
        let secs = m.seconds.max(1e-9);
        BenchResult {
            target: target.into(),
            link: link.into(),
            workload: plan.label(),
            value_size: plan.value_size() as u64,
            pipeline: plan.w.pipeline,
            connections: plan.w.connections,
            threads: plan.w.threads,
            requests: m.ops,
            seconds: m.seconds,
            ops_per_sec: m.ops as f64 / secs,
            mb_per_sec: m.bytes as f64 / secs / 1e6,
            p50_us: us(0.5),
            p90_us: us(0.9),
            p99_us: us(0.99),
            p999_us: us(0.999),
            p9999_us: us(0.9999),
            max_us: m.hist.max() as f64 / 1000.0,
            errors: m.errors,
            misses: m.misses,
            link_fraction: None,
            seed: plan.w.seed,
            hgrm: percentile_distribution(&m.hist),
        }
    }
}

/// Formats a latency in µs with a sensible number of digits.
fn lat(us: f64) -> String {
    if us >= 100_000.0 {
        format!("{:.0}ms", us / 1000.0)
    } else if us >= 1000.0 {
        format!("{:.1}ms", us / 1000.0)
    } else {
        format!("{us:.0}µs")
    }
}

fn ops(x: f64) -> String {
    if x >= 1e6 {
        format!("{:.2}M", x / 1e6)
    } else if x >= 1e4 {
        format!("{:.1}k", x / 1e3)
    } else {
        format!("{x:.1}")
    }
}

/// The conditions as text lines.
pub fn conditions_text(c: &Conditions, links: &[LinkLimit]) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "host {} ({} cpus, Linux {}, load {}), respd-bench {}, seed {}",
        c.host, c.cpus, c.kernel, c.loadavg, c.bench_version, c.seed
    );
    for t in &c.targets {
        let _ = writeln!(s, "target {t}");
    }
    for l in links {
        let _ = writeln!(
            s,
            "link {}: limit {:.0} MB/s ({})",
            l.link, l.limit_mb_per_sec, l.method
        );
    }
    if !c.note.is_empty() {
        let _ = writeln!(s, "{}", c.note);
    }
    s
}

const HEAD: [&str; 15] = [
    "target", "link", "workload", "size", "conns", "ops/s", "MB/s", "% link", "p50", "p90", "p99",
    "p99.9", "p99.99", "max", "errors",
];

fn row(r: &BenchResult) -> [String; 15] {
    [
        r.target.clone(),
        r.link.clone(),
        r.workload.clone(),
        fmt_size(r.value_size as usize),
        r.connections.to_string(),
        ops(r.ops_per_sec),
        format!("{:.1}", r.mb_per_sec),
        r.link_fraction
            .map_or("-".into(), |f| format!("{:.1}%", f * 100.0)),
        lat(r.p50_us),
        lat(r.p90_us),
        lat(r.p99_us),
        lat(r.p999_us),
        lat(r.p9999_us),
        lat(r.max_us),
        r.errors.to_string(),
    ]
}

/// The results as an aligned text table.
pub fn table(results: &[BenchResult]) -> String {
    let rows: Vec<[String; 15]> = results.iter().map(row).collect();
    let mut width = HEAD.map(|h| h.chars().count());
    for r in &rows {
        for (w, c) in width.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let mut s = String::new();
    let line = |s: &mut String, cells: Vec<&str>| {
        for (i, (c, w)) in cells.iter().zip(width).enumerate() {
            let pad = w - c.chars().count();
            // Names left-aligned, figures right-aligned.
            if i < 3 {
                let _ = write!(s, "{c}{}  ", " ".repeat(pad));
            } else {
                let _ = write!(s, "{}{c}  ", " ".repeat(pad));
            }
        }
        s.truncate(s.trim_end().len());
        s.push('\n');
    };
    line(&mut s, HEAD.to_vec());
    for r in &rows {
        line(&mut s, r.iter().map(String::as_str).collect());
    }
    s
}

/// The results as a markdown table.
pub fn markdown(results: &[BenchResult]) -> String {
    let mut s = format!("| {} |\n", HEAD.join(" | "));
    let _ = writeln!(
        s,
        "|{}",
        HEAD.iter()
            .enumerate()
            .map(|(i, _)| if i < 3 { "---|" } else { "---:|" })
            .collect::<String>()
    );
    for r in results {
        let _ = writeln!(s, "| {} |", row(r).join(" | "));
    }
    s
}

/// respd/redis ratios for every workload and link measured on both.
pub fn ratios(results: &[BenchResult], a: &str, b: &str) -> String {
    let mut s = format!(
        "| link | workload | size | {a}/{b} ops/s | {a}/{b} p99 |\n|---|---|---:|---:|---:|\n"
    );
    for ra in results.iter().filter(|r| r.target == a) {
        let Some(rb) = results.iter().find(|r| {
            r.target == b
                && r.link == ra.link
                && r.workload == ra.workload
                && r.value_size == ra.value_size
        }) else {
            continue;
        };
        let _ = writeln!(
            s,
            "| {} | {} | {} | {:.2} | {:.2} |",
            ra.link,
            ra.workload,
            fmt_size(ra.value_size as usize),
            ra.ops_per_sec / rb.ops_per_sec.max(1e-9),
            ra.p99_us / rb.p99_us.max(1e-9)
        );
    }
    s
}

/// Writes the JSON report: the conditions, every link and every result.
pub fn write_json(
    path: &std::path::Path,
    cond: &Conditions,
    links: &[LinkLimit],
    results: &[BenchResult],
) -> Result<()> {
    let mut recs = vec![Record::Run(cond.clone())];
    recs.extend(links.iter().cloned().map(Record::Link));
    recs.extend(results.iter().cloned().map(Record::Result));
    let text = serde_json::to_string_pretty(&recs)?;
    std::fs::write(path, text + "\n").with_context(|| format!("writing {path:?}"))
}

/// A histogram of nanoseconds in HdrHistogram's percentile-distribution text (values in
/// microseconds), the format its Java/C tools print and its plotFiles page reads.
pub fn percentile_distribution(h: &hdrhistogram::Histogram<u64>) -> String {
    let mut s = String::from("       Value     Percentile TotalCount 1/(1-Percentile)\n\n");
    if h.is_empty() {
        return s;
    }
    let mut total = 0u64;
    for v in h.iter_quantiles(5) {
        let q = v.quantile_iterated_to();
        let value = v.value_iterated_to() as f64 / 1000.0;
        total += v.count_since_last_iteration();
        if q < 1.0 {
            let _ = writeln!(
                s,
                "{value:12.3} {q:14.12} {total:10} {:14.2}",
                1.0 / (1.0 - q)
            );
        } else {
            let _ = writeln!(s, "{value:12.3} {q:14.12} {total:10}");
        }
    }
    let _ = writeln!(
        s,
        "#[Mean    = {:12.3}, StdDeviation   = {:12.3}]",
        h.mean() / 1000.0,
        h.stdev() / 1000.0
    );
    let _ = writeln!(
        s,
        "#[Max     = {:12.3}, Total count    = {:12}]",
        h.max() as f64 / 1000.0,
        h.len()
    );
    let _ = writeln!(
        s,
        "#[Buckets = {:12}, SubBuckets     = {:12}]",
        h.buckets(),
        h.distinct_values()
    );
    s
}

/// The results as CSV, one row per result, the JSON's fields as columns.
pub fn csv(results: &[BenchResult]) -> String {
    let mut s = String::from(
        "target,link,workload,value_size,pipeline,connections,threads,requests,seconds,\
ops_per_sec,mb_per_sec,p50_us,p90_us,p99_us,p999_us,p9999_us,max_us,errors,misses,\
link_fraction,seed\n",
    );
    let q = |t: &str| {
        if t.contains([',', '"', '\n']) {
            format!("\"{}\"", t.replace('"', "\"\""))
        } else {
            t.to_string()
        }
    };
    for r in results {
        let _ = writeln!(
            s,
            "{},{},{},{},{},{},{},{},{:.3},{:.1},{:.3},{:.1},{:.1},{:.1},{:.1},{:.1},{:.1},{},{},{},{}",
            q(&r.target),
            q(&r.link),
            q(&r.workload),
            r.value_size,
            r.pipeline,
            r.connections,
            r.threads,
            r.requests,
            r.seconds,
            r.ops_per_sec,
            r.mb_per_sec,
            r.p50_us,
            r.p90_us,
            r.p99_us,
            r.p999_us,
            r.p9999_us,
            r.max_us,
            r.errors,
            r.misses,
            r.link_fraction.map_or(String::new(), |f| format!("{f:.3}")),
            r.seed
        );
    }
    s
}

/// Writes one `.hgrm` file per result into `dir`, named after its target, link, workload and size.
pub fn write_hists(dir: &std::path::Path, results: &[BenchResult]) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {dir:?}"))?;
    for r in results {
        let name: String = format!("{}-{}-{}-{}", r.target, r.link, r.workload, r.value_size)
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        let path = dir.join(format!("{name}.hgrm"));
        std::fs::write(&path, &r.hgrm).with_context(|| format!("writing {path:?}"))?;
    }
    Ok(())
}
