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
}

/// Per-command call counters (INFO commandstats).
#[derive(Default)]
pub struct CmdStat {
    pub calls: AtomicU64,
    pub usec: AtomicU64,
    pub failed: AtomicU64,
}

/// Call counters per command (INFO commandstats), keyed by an id the command layer chooses (the
/// address of its static spec: no string work per call), each with the name INFO shows.
pub type CmdStats = HashMap<usize, (String, CmdStat), foldhash::fast::RandomState>;

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
    /// Counts a command call in INFO stats and in its own counters (`stat`, from `cmdstats`),
    /// and logs it to the slow log when slow, unless `log_slow` is false (EXEC: the commands it
    /// ran are logged, as in Redis's `skip_slowlog`).
    pub fn record_call(
        &self,
        stat: Option<&CmdStat>,
        log_slow: bool,
        args: &[Bytes],
        took: Duration,
        failed: bool,
        client: u64,
    ) {
        self.stats.commands_processed.fetch_add(1, Relaxed);
        let micros = took.as_micros() as u64;
        if let Some(st) = stat {
            st.calls.fetch_add(1, Relaxed);
            st.usec.fetch_add(micros, Relaxed);
            if failed {
                st.failed.fetch_add(1, Relaxed);
            }
        }
        let slower = self.slowlog_slower_than.load(Relaxed);
        if log_slow && slower >= 0 && micros >= slower as u64 {
            self.slowlog_push(args, micros, client);
        }
    }

    fn slowlog_push(&self, args: &[Bytes], micros: u64, client: u64) {
        let max = self.config().num("slowlog-max-len") as usize;
        let (addr, name) = match self
            .clients
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&client)
        {
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
            id: self.slowlog_next_id.fetch_add(1, Relaxed),
            time: crate::keyspace::now_ms() / 1000,
            micros,
            args: shown,
            addr,
            name,
        };
        let mut log = self.slowlog.lock().unwrap_or_else(|e| e.into_inner());
        log.push_front(e);
        while log.len() > max {
            log.pop_back();
        }
    }
}
