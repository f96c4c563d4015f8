//! Server-wide counters (INFO stats), per-command counters (INFO commandstats) and the slow log.

use super::Shared;
use bytes::Bytes;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

/// Server-wide counters for INFO.
#[derive(Default)]
pub struct Stats {
    pub connections_received: AtomicU64,
    pub commands_processed: AtomicU64,
    pub rejected_connections: AtomicU64,
    pub net_input_bytes: AtomicU64,
    pub net_output_bytes: AtomicU64,
    pub evicted_keys: AtomicU64,
    pub blocked_clients: AtomicU64,
    /// Error replies sent (INFO `total_error_replies`), and by error code (INFO errorstats).
    pub error_replies: AtomicU64,
    pub errors: std::sync::Mutex<std::collections::BTreeMap<String, u64>>,
}

/// Redis keeps at most this many error codes in errorstats, then stops adding new ones.
const ERROR_CODES_MAX: usize = 128;

impl Stats {
    /// Counts an error reply by its code (the first word: `ERR`, `WRONGTYPE`, ...).
    pub fn count_error(&self, text: &str) {
        self.error_replies.fetch_add(1, Relaxed);
        let code = text.split(' ').next().unwrap_or("ERR");
        let mut m = self.errors.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = m.get_mut(code) {
            *n += 1;
        } else if m.len() < ERROR_CODES_MAX {
            m.insert(code.to_string(), 1);
        }
    }
}

/// Per-command call counters (INFO commandstats).
#[derive(Default)]
pub struct CmdStat {
    pub calls: AtomicU64,
    pub usec: AtomicU64,
    pub failed: AtomicU64,
    /// Refused before running (arity, NOAUTH, OOM, ...): `rejected_calls`.
    pub rejected: AtomicU64,
    /// Latencies (`latency-tracking`): LATENCY HISTOGRAM, INFO latencystats.
    pub latency: super::latency::Histogram,
}

/// Call counters per command (INFO commandstats), keyed by an id the command layer chooses (the
/// address of its static spec: no string work per call), each with the name INFO shows.
pub type CmdStats = HashMap<usize, (String, CmdStat), foldhash::fast::RandomState>;

/// What [`Shared::record_call`] needs to know of a command. The command table implements it for
/// its specs, so this layer counts calls without knowing the table.
pub trait CallSpec {
    /// The command's key in [`CmdStats`]: unique to it and cheap (the address of a static spec).
    fn stat_key(&self) -> usize;
    /// Whether a slow call goes to the slow log (EXEC's does not: the commands it ran do, as in
    /// Redis's `skip_slowlog`).
    fn log_slow(&self) -> bool;
    /// Whether the command is `fast` (its latency samples go to `fast-command`, not `command`).
    fn is_fast(&self) -> bool;
    /// An empty counter for every command, keyed by `stat_key`, with the name INFO shows.
    fn all_stats() -> CmdStats;
}

/// SLOWLOG: the newest entries first, at most `slowlog-max-len`.
#[derive(Default)]
pub struct SlowLog {
    entries: std::sync::Mutex<std::collections::VecDeque<SlowEntry>>,
    next_id: AtomicU64,
}

impl SlowLog {
    /// The entries, newest first, locked while the guard lives.
    pub fn entries(&self) -> std::sync::MutexGuard<'_, std::collections::VecDeque<SlowEntry>> {
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Adds an entry (its id assigned here) and drops the oldest beyond `max`.
    fn push(&self, mut e: SlowEntry, max: usize) {
        e.id = self.next_id.fetch_add(1, Relaxed);
        let mut log = self.entries();
        log.push_front(e);
        while log.len() > max {
            log.pop_back();
        }
    }
}

/// One SLOWLOG entry.
#[derive(Debug, Clone)]
pub struct SlowEntry {
    pub id: u64,
    pub time: u64,
    pub micros: u64,
    pub args: Vec<Bytes>,
    pub addr: String,
    pub name: Bytes,
}

impl Shared {
    /// Counts a command call and logs it to the slowlog when slow.
    #[inline(never)] // Out of line, as before it was generic: dispatch measures as it did.
    pub fn record_call<S: CallSpec>(
        &self,
        spec: &S,
        args: &[Bytes],
        took: Duration,
        failed: bool,
        client: u64,
    ) {
        self.stats.commands_processed.fetch_add(1, Relaxed);
        let micros = took.as_micros() as u64;
        let stats = self.cmdstats.get_or_init(S::all_stats);
        let (tracking, threshold) = {
            let c = self.config();
            (
                c.get(crate::config::params::LATENCY_TRACKING),
                c.get(crate::config::params::LATENCY_MONITOR_THRESHOLD),
            )
        };
        if let Some((_, st)) = stats.get(&spec.stat_key()) {
            st.calls.fetch_add(1, Relaxed);
            st.usec.fetch_add(micros, Relaxed);
            if failed {
                st.failed.fetch_add(1, Relaxed);
            }
            if tracking {
                st.latency.record(took.as_nanos() as u64);
            }
        }
        let ms = micros / 1000;
        if threshold > 0 && ms >= threshold as u64 {
            let event = if spec.is_fast() {
                "fast-command"
            } else {
                "command"
            };
            self.latency
                .add(event, ms, crate::keyspace::now_ms() / 1000);
        }
        let slower = self
            .config()
            .get(crate::config::params::SLOWLOG_LOG_SLOWER_THAN);
        if slower >= 0 && micros >= slower as u64 && spec.log_slow() {
            self.slowlog_push(args, micros, client);
        }
    }

    /// Counts a command refused before it ran (INFO commandstats `rejected_calls`).
    pub fn record_rejected<S: CallSpec>(&self, spec: &S) {
        let stats = self.cmdstats.get_or_init(S::all_stats);
        if let Some((_, st)) = stats.get(&spec.stat_key()) {
            st.rejected.fetch_add(1, Relaxed);
        }
    }

    fn slowlog_push(&self, args: &[Bytes], micros: u64, client: u64) {
        let max = self.config().get(crate::config::params::SLOWLOG_MAX_LEN) as usize;
        let (addr, name) = match self.clients.get(client) {
            Some(h) => (
                h.addr.to_string(),
                h.name
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .clone()
                    .unwrap_or_default(),
            ),
            None => (String::new(), Bytes::new()),
        };
        // Like Redis: at most 32 arguments, each at most 128 bytes.
        let mut shown: Vec<Bytes> = args
            .iter()
            .take(if args.len() > 32 { 31 } else { 32 })
            .map(|a| {
                if a.len() > 128 {
                    Bytes::from(format!(
                        "{}... ({} more bytes)",
                        String::from_utf8_lossy(&a[..128]),
                        a.len() - 128
                    ))
                } else {
                    a.clone()
                }
            })
            .collect();
        if args.len() > 32 {
            shown.push(Bytes::from(format!(
                "... ({} more arguments)",
                args.len() - 31
            )));
        }
        let e = SlowEntry {
            id: 0,
            time: crate::keyspace::now_ms() / 1000,
            micros,
            args: shown,
            addr,
            name,
        };
        self.slowlog.push(e, max);
    }
}
