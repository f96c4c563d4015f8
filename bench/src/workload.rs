//! The workload: a seeded, reproducible stream of commands (what to send, not how).

use anyhow::{bail, Context, Result};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use serde::{Deserialize, Serialize};

/// How keys are drawn from the key space.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum KeyPattern {
    /// 0, 1, 2, ... (each worker starts at its own offset).
    Sequential,
    /// Every key equally likely.
    Uniform,
    /// Centred on the middle of the key space, standard deviation a sixth of it.
    Gaussian,
}

/// One workload, as in a YAML file (`workloads: [...]`) or from flags.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Workload {
    /// Label in reports; derived from the mix and size when empty.
    pub name: String,
    /// A command template instead of the SET/GET mix, e.g. `LPUSH q __data__` or
    /// `HSET h __key__ __data__`: `__key__` and `__data__` are replaced per request.
    pub command: Option<String>,
    /// SET:GET ratio, e.g. `1:0` (only SET), `0:1` (only GET), `1:10`.
    pub ratio: String,
    /// Number of distinct keys.
    pub keys: u64,
    pub key_pattern: KeyPattern,
    pub key_prefix: String,
    /// Value size (`128MiB`, `3`, `1KiB`) or a range (`1KiB-4KiB`), drawn uniformly.
    pub size: String,
    /// Requests in flight per connection.
    pub pipeline: usize,
    pub connections: usize,
    /// Worker threads; connections are spread over them.
    pub threads: usize,
    /// Seconds to measure (used when `requests` is 0, or as the time once `min_requests` is met).
    pub duration: f64,
    /// Exactly this many measured requests (0: run for `duration`).
    pub requests: u64,
    /// With `duration`: go on past it until at least this many requests were measured.
    pub min_requests: u64,
    /// Seconds of load before measuring starts.
    pub warmup: f64,
    pub seed: u64,
    /// Fixed request rate (requests/s over all workers); 0 sends as fast as replies come.
    /// Latency is then measured from each request's scheduled time (no coordinated omission).
    pub rate: f64,
    /// SET every key once before measuring when the workload reads (default: yes).
    pub prefill: bool,
    /// Workloads next to each other in a file with the same non-empty group run at the same
    /// time against the server (after their prefills, one by one), each measured and reported
    /// on its own: small GETs at a fixed rate beside large GETs, for instance.
    pub group: String,
}

impl Default for Workload {
    fn default() -> Self {
        Workload {
            name: String::new(),
            command: None,
            ratio: "1:1".into(),
            keys: 10_000,
            key_pattern: KeyPattern::Uniform,
            key_prefix: "key:".into(),
            size: "3".into(),
            pipeline: 1,
            connections: 50,
            threads: 2,
            duration: 5.0,
            requests: 0,
            min_requests: 0,
            warmup: 1.0,
            seed: 1,
            rate: 0.0,
            prefill: true,
            group: String::new(),
        }
    }
}

/// A parsed, checked workload.
#[derive(Clone, Debug)]
pub struct Plan {
    pub w: Workload,
    pub sets: u32,
    pub gets: u32,
    pub size_min: usize,
    pub size_max: usize,
    /// The template split into words, when one is given.
    pub template: Option<Vec<String>>,
}

/// Parses `128MiB`, `1M`, `3`, `64k`, `1GiB` into bytes.
pub fn parse_size(s: &str) -> Result<usize> {
    let s = s.trim();
    let digits = s
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(digits);
    let n: f64 = num.parse().with_context(|| format!("bad size {s:?}"))?;
    let mult: f64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "k" | "kb" | "kib" => 1024.0,
        "m" | "mb" | "mib" => 1024.0 * 1024.0,
        "g" | "gb" | "gib" => 1024.0 * 1024.0 * 1024.0,
        _ => bail!("bad size unit in {s:?} (use B, KiB, MiB, GiB)"),
    };
    Ok((n * mult) as usize)
}

/// Formats a byte count the way sizes are written in reports: `3 B`, `1 KiB`, `128 MiB`.
pub fn fmt_size(n: usize) -> String {
    const UNITS: [(usize, &str); 3] = [(1 << 30, "GiB"), (1 << 20, "MiB"), (1 << 10, "KiB")];
    for (u, name) in UNITS {
        if n >= u && n % u == 0 {
            return format!("{} {name}", n / u);
        }
    }
    format!("{n} B")
}

impl Workload {
    /// Checks the workload and resolves its derived fields.
    pub fn plan(&self) -> Result<Plan> {
        let (lo, hi) = match self.size.split_once('-') {
            Some((a, b)) => (parse_size(a)?, parse_size(b)?),
            None => {
                let n = parse_size(&self.size)?;
                (n, n)
            }
        };
        if lo > hi || hi > 512 << 20 {
            bail!(
                "value size {:?} must be a range within 0..=512MiB",
                self.size
            );
        }
        let (sets, gets) = self
            .ratio
            .split_once(':')
            .and_then(|(a, b)| Some((a.trim().parse().ok()?, b.trim().parse().ok()?)))
            .with_context(|| format!("bad ratio {:?}, expected SET:GET like 1:10", self.ratio))?;
        if sets == 0 && gets == 0 && self.command.is_none() {
            bail!("ratio 0:0 sends nothing");
        }
        if self.keys == 0 || self.pipeline == 0 || self.connections == 0 || self.threads == 0 {
            bail!("keys, pipeline, connections and threads must be at least 1");
        }
        if self.requests == 0 && self.duration <= 0.0 {
            bail!("give a duration or a request count");
        }
        let template = match &self.command {
            Some(t) => {
                let words: Vec<String> = t.split_whitespace().map(str::to_owned).collect();
                if words.is_empty() {
                    bail!("empty command template");
                }
                Some(words)
            }
            None => None,
        };
        let reads = template.is_none() && gets > 0;
        if self.prefill && reads && (self.keys as u128) * (hi as u128) > 8 << 30 {
            bail!(
                "prefilling {} keys of {} needs more than 8 GiB: use fewer --keys",
                self.keys,
                fmt_size(hi)
            );
        }
        let mut w = self.clone();
        w.threads = w.threads.min(w.connections);
        Ok(Plan {
            w,
            sets,
            gets,
            size_min: lo,
            size_max: hi,
            template,
        })
    }
}

impl Plan {
    /// The workload's label in reports.
    pub fn label(&self) -> String {
        if !self.w.name.is_empty() {
            return self.w.name.clone();
        }
        let op = match (&self.template, self.sets, self.gets) {
            (Some(t), _, _) => t.join(" "),
            (None, _, 0) => "SET".into(),
            (None, 0, _) => "GET".into(),
            (None, s, g) => format!("SET:GET {s}:{g}"),
        };
        format!("{op} P{}", self.w.pipeline)
    }

    /// The value size in reports (the upper end of a range).
    pub fn value_size(&self) -> usize {
        self.size_max
    }

    /// Whether the measured commands read keys that a prefill must create.
    pub fn reads(&self) -> bool {
        self.template.is_none() && self.gets > 0
    }
}

/// What one generated request is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    Set,
    Get,
    Template,
}

/// Draws keys, operations and sizes for one worker.
pub struct Gen {
    rng: StdRng,
    pattern: KeyPattern,
    keys: u64,
    next_seq: u64,
    sets: u32,
    total: u32,
    template: bool,
    size_min: usize,
    size_max: usize,
}

impl Gen {
    /// The generator of worker `idx` of `workers`; seeded from the workload seed.
    pub fn new(p: &Plan, idx: usize, workers: usize) -> Gen {
        let seed = p.w.seed ^ (idx as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        Gen {
            rng: StdRng::seed_from_u64(seed),
            pattern: p.w.key_pattern,
            keys: p.w.keys,
            next_seq: p.w.keys * idx as u64 / workers.max(1) as u64,
            sets: p.sets,
            total: p.sets + p.gets,
            template: p.template.is_some(),
            size_min: p.size_min,
            size_max: p.size_max,
        }
    }

    /// The next key number.
    pub fn key(&mut self) -> u64 {
        match self.pattern {
            KeyPattern::Sequential => {
                let k = self.next_seq % self.keys;
                self.next_seq += 1;
                k
            }
            KeyPattern::Uniform => self.rng.random_range(0..self.keys),
            KeyPattern::Gaussian => {
                // Box-Muller: avoids a dependency for one distribution.
                let u1: f64 = self.rng.random::<f64>().max(f64::MIN_POSITIVE);
                let u2: f64 = self.rng.random();
                let z = (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos();
                let mean = self.keys as f64 / 2.0;
                let k = (mean + z * self.keys as f64 / 6.0).round();
                k.clamp(0.0, (self.keys - 1) as f64) as u64
            }
        }
    }

    /// The next operation.
    pub fn op(&mut self) -> Op {
        if self.template {
            Op::Template
        } else if self.rng.random_range(0..self.total) < self.sets {
            Op::Set
        } else {
            Op::Get
        }
    }

    /// The next value size.
    pub fn size(&mut self) -> usize {
        if self.size_min == self.size_max {
            self.size_min
        } else {
            self.rng.random_range(self.size_min..=self.size_max)
        }
    }
}

/// Loads workloads from a YAML file: either one mapping or `workloads: [..]`.
pub fn load_yaml(path: &std::path::Path) -> Result<Vec<Workload>> {
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Many {
        workloads: Vec<Workload>,
    }
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {path:?}"))?;
    if let Ok(m) = serde_norway::from_str::<Many>(&text) {
        return Ok(m.workloads);
    }
    let one: Workload =
        serde_norway::from_str(&text).with_context(|| format!("parsing {path:?}"))?;
    Ok(vec![one])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse() {
        assert_eq!(parse_size("3").unwrap(), 3);
        assert_eq!(parse_size("128MiB").unwrap(), 128 << 20);
        assert_eq!(parse_size("1k").unwrap(), 1024);
        assert!(parse_size("1x").is_err());
        assert_eq!(fmt_size(128 << 20), "128 MiB");
        assert_eq!(fmt_size(3), "3 B");
    }

    #[test]
    fn keys_stay_in_range_and_are_reproducible() {
        for pattern in [
            KeyPattern::Sequential,
            KeyPattern::Uniform,
            KeyPattern::Gaussian,
        ] {
            let w = Workload {
                key_pattern: pattern,
                keys: 100,
                ..Workload::default()
            };
            let p = w.plan().unwrap();
            let (mut a, mut b) = (Gen::new(&p, 1, 2), Gen::new(&p, 1, 2));
            for _ in 0..1000 {
                let k = a.key();
                assert!(k < 100);
                assert_eq!(k, b.key());
            }
        }
    }

    #[test]
    fn yaml_list_loads() {
        let dir = std::env::temp_dir().join(format!("rb-yaml-{}", std::process::id()));
        std::fs::write(
            &dir,
            "workloads:\n  - {ratio: '1:0', size: 1MiB, pipeline: 4}\n  - {command: 'LPUSH q __data__'}\n",
        )
        .unwrap();
        let ws = load_yaml(&dir).unwrap();
        std::fs::remove_file(&dir).unwrap();
        assert_eq!(ws.len(), 2);
        assert_eq!(ws[0].plan().unwrap().size_max, 1 << 20);
        assert_eq!(ws[1].plan().unwrap().label(), "LPUSH q __data__ P1");
    }
}
