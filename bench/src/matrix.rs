//! Running workloads on several targets and links: `compare` and the CI `suite`.

use crate::driver;
use crate::lab::{self, Lab, Server};
use crate::report::{BenchResult, Conditions, LinkLimit};
use crate::workload::{Plan, Workload};
use anyhow::{Context, Result};
use std::path::PathBuf;

/// What to measure and where.
pub struct Matrix {
    /// `local`, or a rate like `1gbit`, `10gbit`, `2500mbit`.
    pub links: Vec<String>,
    /// `respd` and/or `redis`.
    pub targets: Vec<String>,
    pub workloads: Vec<Workload>,
    /// Runs per target and workload, alternating the order; the median is kept.
    pub rounds: usize,
    /// Seconds of bulk TCP transfer to measure each link's limit (0: do not measure).
    pub limit_secs: f64,
    pub respd: Option<PathBuf>,
    pub redis: PathBuf,
    pub progress: bool,
}

/// What a matrix run produced.
pub struct Outcome {
    pub conditions: Conditions,
    pub links: Vec<LinkLimit>,
    pub results: Vec<BenchResult>,
}

/// Parses `1gbit`, `10gbit`, `500mbit` into Mbit/s.
pub fn parse_rate(s: &str) -> Result<u64> {
    let s = s.to_ascii_lowercase();
    let (num, mult) = if let Some(n) = s.strip_suffix("gbit") {
        (n, 1000)
    } else if let Some(n) = s.strip_suffix("mbit") {
        (n, 1)
    } else {
        anyhow::bail!("bad link {s:?}: use local, 1gbit, 10gbit or NNNmbit");
    };
    let n: u64 = num
        .parse()
        .with_context(|| format!("bad link rate {s:?}"))?;
    Ok(n * mult)
}

impl Matrix {
    /// Runs everything; a remote link that cannot be made here is skipped with a message.
    pub fn run(&self) -> Result<Outcome> {
        let plans: Vec<Plan> = self
            .workloads
            .iter()
            .map(Workload::plan)
            .collect::<Result<_>>()?;
        let respd_bin = if self.targets.iter().any(|t| t == "respd") {
            Some(lab::respd_binary(self.respd.as_deref())?)
        } else {
            None
        };
        let mut out = Outcome {
            conditions: Conditions::here(plans.first().map_or(1, |p| p.w.seed)),
            links: Vec::new(),
            results: Vec::new(),
        };
        let mut notes = Vec::new();
        let t0 = std::time::Instant::now();
        lab::install_signal_handler();
        let mut remote_checked = false;
        for (i, link_name) in self.links.iter().enumerate() {
            let lab = if link_name == "local" {
                Lab::local()
            } else {
                let mbit = parse_rate(link_name)?;
                if !remote_checked {
                    lab::remove_stale();
                    remote_checked = true;
                }
                if let Some(why) = lab::remote_unavailable() {
                    eprintln!("{link_name}: {why}");
                    notes.push(format!("{link_name}: {why}"));
                    continue;
                }
                Lab::shaped(mbit, i as u8).with_context(|| format!("making link {link_name}"))?
            };
            let link = lab.link.clone();
            // The limit is measured before and after the workloads and the higher kept: on a
            // shared machine one short transfer can land in a busy moment.
            let first_limit = if self.limit_secs > 0.0 {
                Some(
                    lab::link_limit(&link, self.limit_secs)
                        .with_context(|| format!("measuring link {}", link.name))?,
                )
            } else {
                None
            };
            let link_start = out.results.len();
            let mut servers: Vec<Server> = Vec::new();
            for t in &self.targets {
                let bin = match t.as_str() {
                    "respd" => respd_bin.clone().context("respd binary")?,
                    _ => self.redis.clone(),
                };
                let port = lab::free_port()?;
                let s = lab::start(t, &bin, &link, port)?;
                let v = format!("{}: {}", t, s.version);
                if !out.conditions.targets.contains(&v) {
                    out.conditions.targets.push(v);
                }
                servers.push(s);
            }
            for plan in &plans {
                let mut runs: Vec<Vec<BenchResult>> = vec![Vec::new(); servers.len()];
                for round in 0..self.rounds.max(1) {
                    // Alternate the order so neither target always runs on a warmer machine.
                    let order: Vec<usize> = if round % 2 == 0 {
                        (0..servers.len()).collect()
                    } else {
                        (0..servers.len()).rev().collect()
                    };
                    for si in order {
                        let s = &servers[si];
                        eprintln!(
                            "[{:5.1}s] {} {} {} {}",
                            t0.elapsed().as_secs_f64(),
                            link.name,
                            s.target,
                            plan.label(),
                            crate::workload::fmt_size(plan.value_size())
                        );
                        let (p, addr, progress) = (plan.clone(), s.addr.clone(), self.progress);
                        let m = lab::in_netns(link.client_ns.as_deref(), move || {
                            driver::run(&p, &addr, progress)
                        })
                        .with_context(|| {
                            format!("{} on {} over {}", plan.label(), s.target, link.name)
                        })?;
                        let r = BenchResult::new(&s.target, &link.name, plan, &m);
                        if let Some(e) = &m.first_error {
                            eprintln!("  {} errors, first: {e}", m.errors);
                        }
                        runs[si].push(r);
                    }
                }
                for mut rs in runs {
                    rs.sort_by(|a, b| a.ops_per_sec.total_cmp(&b.ops_per_sec));
                    if let Some(r) = rs.get(rs.len() / 2) {
                        out.results.push(r.clone());
                    }
                }
            }
            drop(servers);
            if let Some((mb0, method)) = first_limit {
                let (mb1, _) = lab::link_limit(&link, self.limit_secs)
                    .with_context(|| format!("measuring link {}", link.name))?;
                let mb = mb0.max(mb1);
                eprintln!(
                    "link {}: {mb0:.0} / {mb1:.0} MB/s before / after ({method})",
                    link.name
                );
                out.links.push(LinkLimit {
                    link: link.name.clone(),
                    limit_mb_per_sec: mb,
                    method: format!("{method}, best of before and after the workloads"),
                });
                for r in &mut out.results[link_start..] {
                    r.link_fraction = Some(r.mb_per_sec / mb);
                }
            }
            drop(lab);
        }
        out.conditions.note = notes.join("; ");
        Ok(out)
    }
}

/// The CI throughput workloads: small SET/GET at -P1 and -P16, then 1, 16 and 128 MiB values
/// (and with `full`, the curve from 1 KiB to 512 MiB on loopback).
pub fn suite_workloads(quick: bool, sweep: bool) -> Vec<Workload> {
    let (small_secs, big_secs) = if quick { (1.5, 1.0) } else { (5.0, 4.0) };
    let mut ws = Vec::new();
    for p in [1usize, 16] {
        for (ratio, op) in [("1:0", "SET"), ("0:1", "GET")] {
            ws.push(Workload {
                name: format!("{op} P{p}"),
                ratio: ratio.into(),
                size: "3".into(),
                keys: 10_000,
                pipeline: p,
                connections: 50,
                threads: 2,
                duration: small_secs,
                warmup: 0.5,
                ..Workload::default()
            });
        }
    }
    let mut sizes = vec!["1MiB", "16MiB", "128MiB"];
    if sweep {
        sizes = vec![
            "1KiB", "16KiB", "256KiB", "1MiB", "16MiB", "128MiB", "512MiB",
        ];
    }
    for size in sizes {
        for (ratio, op) in [("1:0", "SET"), ("0:1", "GET")] {
            let bytes = crate::workload::parse_size(size).unwrap_or(1 << 20);
            ws.push(Workload {
                name: format!("{op} P1"),
                ratio: ratio.into(),
                size: size.into(),
                keys: if bytes >= 128 << 20 { 1 } else { 4 },
                key_pattern: crate::workload::KeyPattern::Sequential,
                pipeline: 1,
                connections: 1,
                threads: 1,
                duration: big_secs,
                min_requests: if quick { 2 } else { 4 },
                // One request or so unmeasured: the first of a size pays for the server's fresh
                // buffer (first-touch page faults), which a steady stream of arrays does not.
                warmup: 0.2,
                ..Workload::default()
            });
        }
    }
    ws
}

/// Whether a figure is a real positive number (not zero, negative or NaN).
fn positive(f: f64) -> bool {
    f.is_finite() && f > 0.0
}

/// Checks that every expected figure is there and positive, on every measured link or only on
/// `only_link`; the problems found.
pub fn check(
    out: &Outcome,
    workloads: &[Workload],
    targets: &[String],
    only_link: Option<&str>,
) -> Vec<String> {
    let mut problems = Vec::new();
    for l in &out.links {
        if !positive(l.limit_mb_per_sec) {
            problems.push(format!("link {}: no limit measured", l.link));
        }
    }
    for l in out
        .links
        .iter()
        .filter(|l| only_link.is_none_or(|o| o == l.link))
    {
        for t in targets {
            for w in workloads {
                let Ok(p) = w.plan() else { continue };
                let found = out.results.iter().find(|r| {
                    r.link == l.link
                        && &r.target == t
                        && r.workload == p.label()
                        && r.value_size == p.value_size() as u64
                });
                let what = format!("{} {} {} {}", l.link, t, p.label(), p.value_size());
                match found {
                    None => problems.push(format!("{what}: missing")),
                    Some(r) => {
                        let figures = [r.ops_per_sec, r.mb_per_sec, r.p50_us, r.p99_us, r.max_us];
                        if r.requests == 0 || figures.iter().any(|f| !positive(*f)) {
                            problems.push(format!("{what}: a figure is zero or missing"));
                        }
                        if r.errors > 0 || r.misses > 0 {
                            problems
                                .push(format!("{what}: {} errors, {} misses", r.errors, r.misses));
                        }
                    }
                }
            }
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_wants_every_figure_on_the_links_asked() {
        let w = Workload {
            ratio: "0:1".into(),
            size: "1KiB".into(),
            ..Workload::default()
        };
        let p = w.plan().unwrap();
        let link = |l: &str| LinkLimit {
            link: l.into(),
            limit_mb_per_sec: 100.0,
            method: "test".into(),
        };
        let mut m = crate::driver::Measured {
            hist: hdrhistogram::Histogram::new(3).unwrap(),
            ops: 10,
            bytes: 10_240,
            errors: 0,
            first_error: None,
            misses: 0,
            seconds: 1.0,
        };
        m.hist.record(1000).unwrap();
        let out = Outcome {
            conditions: Conditions::default(),
            links: vec![link("local"), link("1gbit")],
            results: vec![BenchResult::new("respd", "local", &p, &m)],
        };
        let t = vec!["respd".to_string()];
        assert!(check(&out, std::slice::from_ref(&w), &t, Some("local")).is_empty());
        let all = check(&out, &[w], &t, None);
        assert_eq!(all.len(), 1, "{all:?}");
        assert!(all[0].starts_with("1gbit respd GET P1 1024: missing"));
    }
}
