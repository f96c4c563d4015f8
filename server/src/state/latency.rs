//! The latency monitor (LATENCY LATEST/HISTORY/RESET/GRAPH/DOCTOR): per event class, one sample
//! a second of the worst latency at or over `latency-monitor-threshold` ms, the last 160 kept;
//! and per-command latency histograms (LATENCY HISTOGRAM, INFO latencystats), in power-of-two
//! buckets from 1024 ns as Redis reports them.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Mutex;

/// Samples kept per event, as Redis's `LATENCY_TS_LEN`.
pub const SAMPLES: usize = 160;

/// One event class's samples: (unix seconds, ms), oldest first once full.
#[derive(Default, Clone)]
pub struct Series {
    pub samples: Vec<(u64, u64)>,
    /// The all-time maximum.
    pub max: u64,
}

/// Event classes by name.
#[derive(Default)]
pub struct LatencyMonitor {
    events: Mutex<BTreeMap<String, Series>>,
}

impl LatencyMonitor {
    /// Records `ms` for `event` at `now` (unix seconds): a second's worst only.
    pub fn add(&self, event: &str, ms: u64, now: u64) {
        let mut ev = self.events.lock().unwrap_or_else(|e| e.into_inner());
        let s = ev.entry(event.to_string()).or_default();
        s.max = s.max.max(ms);
        if let Some(last) = s.samples.last_mut() {
            if last.0 == now {
                last.1 = last.1.max(ms);
                return;
            }
        }
        if s.samples.len() == SAMPLES {
            s.samples.remove(0);
        }
        s.samples.push((now, ms));
    }

    pub fn get(&self, event: &str) -> Option<Series> {
        self.events
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(event)
            .cloned()
    }

    pub fn all(&self) -> Vec<(String, Series)> {
        self.events
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }

    /// Forgets the named events (all without names); how many there were.
    pub fn reset(&self, names: Option<&[String]>) -> usize {
        let mut ev = self.events.lock().unwrap_or_else(|e| e.into_inner());
        match names {
            None => {
                let n = ev.len();
                ev.clear();
                n
            }
            Some(ns) => ns
                .iter()
                .filter(|n| ev.remove(n.as_str()).is_some())
                .count(),
        }
    }
}

/// Buckets of a command's latency histogram: bucket k counts calls of at most 1024·2^k ns.
pub const BUCKETS: usize = 32;

/// A command's latency histogram.
#[derive(Default)]
pub struct Histogram {
    counts: [AtomicU64; BUCKETS],
}

impl Histogram {
    pub fn record(&self, ns: u64) {
        let k = if ns <= 1024 {
            0
        } else {
            (64 - ((ns - 1) >> 10).leading_zeros() as usize).min(BUCKETS - 1)
        };
        self.counts[k].fetch_add(1, Relaxed);
    }

    pub fn reset(&self) {
        self.counts.iter().for_each(|c| c.store(0, Relaxed));
    }

    pub fn total(&self) -> u64 {
        self.counts.iter().map(|c| c.load(Relaxed)).sum()
    }

    /// (bucket bound in µs, calls at or under it) for each bucket that adds calls, as LATENCY
    /// HISTOGRAM's `histogram_usec`.
    pub fn cumulative(&self) -> Vec<(u64, u64)> {
        let mut out = Vec::new();
        let mut sum = 0;
        for (k, c) in self.counts.iter().enumerate() {
            let n = c.load(Relaxed);
            if n > 0 {
                sum += n;
                out.push(((1024u64 << k) / 1000, sum));
            }
        }
        out
    }

    /// The bound (µs) under which `p` percent of the calls fall.
    pub fn percentile_us(&self, p: f64) -> f64 {
        let total = self.total();
        let want = ((p / 100.0) * total as f64).ceil().max(1.0) as u64;
        let mut sum = 0;
        for (k, c) in self.counts.iter().enumerate() {
            sum += c.load(Relaxed);
            if sum >= want {
                return (1024u64 << k) as f64 / 1000.0;
            }
        }
        0.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_and_samples() {
        let h = Histogram::default();
        for ns in [500, 1024, 1025, 2048, 5000, 1_000_000] {
            h.record(ns);
        }
        assert_eq!(h.cumulative(), vec![(1, 2), (2, 4), (8, 5), (1048, 6)]);
        assert_eq!(h.percentile_us(50.0), 2.048);
        let m = LatencyMonitor::default();
        m.add("command", 5, 100);
        m.add("command", 9, 100);
        m.add("command", 3, 101);
        let s = m.get("command").expect("event");
        assert_eq!((s.samples, s.max), (vec![(100, 9), (101, 3)], 9));
        assert_eq!(m.reset(Some(&["nosuch".into()])), 0);
        assert_eq!(m.reset(None), 1);
    }
}
