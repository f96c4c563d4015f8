//! The state every connection shares, and who owns each part. Nothing here knows a socket or a
//! command: connections (`crate::connection`) and handlers (`crate::cmd`) use it, it uses only the
//! layers below (`keyspace`, `resp`, `config`, `util`).
//!
//! - [`Shared`]: the one handle every task holds: keyspace, configuration and its hot copies,
//!   the client list, and the parts below.
//! - [`client`]: what other tasks may see or change of a client ([`ClientHandle`]).
//! - [`blocked`]: the registry of clients blocked on keys ([`BlockOn`]).
//! - [`pubsub`]: channel and pattern subscriptions; [`notify`]: keyspace events.
//! - [`stats`]: INFO counters, per-command counters and the slow log.

pub mod blocked;
pub mod client;
pub mod notify;
pub mod pubsub;
pub mod stats;

pub use blocked::BlockOn;
pub use client::ClientHandle;
pub use notify::NotifyClass;
pub use stats::{CallSpec, CmdStat, CmdStats, SlowEntry, Stats};

use crate::config::Config;
use crate::keyspace::Keyspace;
use crate::resp::Limits;
use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, OnceLock, RwLock};
use std::time::Instant;
use tokio::sync::watch;

/// State shared by all connections.
pub struct Shared {
    pub ks: Keyspace,
    /// Saves: last time and status, changes since (INFO persistence, LASTSAVE).
    pub persist: Arc<crate::persist::Status>,
    /// Clients blocked on keys.
    pub blocking: blocked::Blocking,
    pub config: RwLock<Config>,
    pub stats: Stats,
    /// Call counters per command, filled in by the command table on the first call.
    pub cmdstats: OnceLock<CmdStats>,
    pub clients: Mutex<BTreeMap<u64, Arc<ClientHandle>>>,
    pub next_client_id: AtomicU64,
    pub started: Instant,
    /// Unix time in ms at `started`: command clocks are derived from one monotonic reading.
    started_unix_ms: u64,
    pub run_id: String,
    /// The address actually bound (port 0 resolves here).
    pub local_addr: Mutex<Option<SocketAddr>>,
    pub slowlog: Mutex<VecDeque<SlowEntry>>,
    pub slowlog_next_id: AtomicU64,
    /// Channel and pattern subscriptions.
    pub pubsub: pubsub::PubSub,
    /// Keyspace notification flags.
    pub notifier: notify::Notifier,
    /// Hot copies of settings read on every request.
    max_bulk: AtomicU64,
    query_buffer_limit: AtomicU64,
    auth_required: AtomicBool,
    idle_timeout: AtomicU64,
    /// `zset-max-listpack-entries`, read by every ZADD.
    zset_listpack_entries: AtomicU64,
    /// `zset-max-listpack-value`, read by every ZADD.
    zset_listpack_value: AtomicU64,
    maxmemory: AtomicU64,
    policy: Mutex<crate::keyspace::Policy>,
    slowlog_slower_than: std::sync::atomic::AtomicI64,
    /// Hash/set/zset encoding thresholds (OBJECT ENCODING), read on every write to those types.
    pub encoding_limits: crate::keyspace::EncodingLimits,
    /// Set when the server should stop (SHUTDOWN or a signal).
    pub shutdown: watch::Sender<bool>,
}

impl Shared {
    /// Shared state for a configuration.
    pub fn new(config: Config) -> Arc<Self> {
        let dbs = config.num("databases") as usize;
        let (tx, _) = watch::channel(false);
        let run_id: String = (0..40)
            .map(|_| char::from_digit(rand::random_range(0..16u32), 16).unwrap_or('0'))
            .collect();
        let s = Arc::new(Shared {
            ks: Keyspace::new(dbs),
            persist: Arc::new(crate::persist::Status::new(
                crate::keyspace::now_ms() / 1000,
            )),
            blocking: Default::default(),
            config: RwLock::new(config),
            stats: Stats::default(),
            cmdstats: OnceLock::new(),
            clients: Mutex::new(BTreeMap::new()),
            next_client_id: AtomicU64::new(1),
            started: Instant::now(),
            started_unix_ms: crate::keyspace::now_ms(),
            run_id,
            local_addr: Mutex::new(None),
            slowlog: Mutex::new(VecDeque::new()),
            slowlog_next_id: AtomicU64::new(0),
            pubsub: Default::default(),
            notifier: Default::default(),
            max_bulk: AtomicU64::new(0),
            query_buffer_limit: AtomicU64::new(0),
            auth_required: AtomicBool::new(false),
            idle_timeout: AtomicU64::new(0),
            zset_listpack_entries: AtomicU64::new(128),
            zset_listpack_value: AtomicU64::new(64),
            maxmemory: AtomicU64::new(0),
            policy: Mutex::new(crate::keyspace::Policy::NoEviction),
            slowlog_slower_than: std::sync::atomic::AtomicI64::new(10000),
            encoding_limits: Default::default(),
            shutdown: tx,
        });
        s.config_changed();
        s
    }

    /// Reads the configuration.
    pub fn config(&self) -> std::sync::RwLockReadGuard<'_, Config> {
        self.config.read().unwrap_or_else(|e| e.into_inner())
    }

    /// Refreshes the hot copies after the configuration changed.
    pub fn config_changed(&self) {
        let c = self.config();
        self.max_bulk.store(c.num("proto-max-bulk-len"), Relaxed);
        self.query_buffer_limit
            .store(c.num("client-query-buffer-limit"), Relaxed);
        self.auth_required.store(c.requirepass().is_some(), Relaxed);
        self.idle_timeout.store(c.num("timeout"), Relaxed);
        self.zset_listpack_entries
            .store(c.num("zset-max-listpack-entries"), Relaxed);
        self.zset_listpack_value
            .store(c.num("zset-max-listpack-value"), Relaxed);
        self.maxmemory.store(c.num("maxmemory"), Relaxed);
        *self.policy.lock().unwrap_or_else(|e| e.into_inner()) =
            crate::keyspace::Policy::parse(c.get("maxmemory-policy").unwrap_or("noeviction"));
        let slower = c
            .get("slowlog-log-slower-than")
            .and_then(|v| v.parse().ok())
            .unwrap_or(10000);
        self.slowlog_slower_than.store(slower, Relaxed);
        self.encoding_limits.load_from(&c);
        self.notifier
            .configure(c.get("notify-keyspace-events").unwrap_or(""));
        let limits = crate::config::special::parse_buffer_limits(
            c.get("client-output-buffer-limit").unwrap_or(""),
        );
        self.pubsub.set_limit(limits[2]);
    }

    /// Protocol limits now in force.
    pub fn limits(&self) -> Limits {
        Limits {
            max_bulk: self.max_bulk.load(Relaxed),
            query_buffer: self.query_buffer_limit.load(Relaxed),
        }
    }

    /// Sorted set listpack limits now in force: (max entries, max member length).
    pub fn zset_listpack_limits(&self) -> (usize, usize) {
        (
            self.zset_listpack_entries.load(Relaxed) as usize,
            self.zset_listpack_value.load(Relaxed) as usize,
        )
    }

    /// Seconds after which an idle client is closed (`timeout`), 0 for never.
    pub fn idle_timeout(&self) -> u64 {
        self.idle_timeout.load(Relaxed)
    }

    /// Evicts keys until memory is under `maxmemory`; false if that is not possible (OOM).
    pub fn make_room(&self) -> bool {
        let max = self.maxmemory.load(Relaxed);
        if max == 0 || (crate::alloc::used_memory() as u64) <= max {
            return true;
        }
        crate::resp::pool::clear(); // Under pressure, buffers kept for reuse go first.
        let policy = *self.policy.lock().unwrap_or_else(|e| e.into_inner());
        // Bounded: a value freed by another thread meanwhile must not make this spin.
        for _ in 0..10_000 {
            if (crate::alloc::used_memory() as u64) <= max {
                return true;
            }
            match self.ks.evict_one(policy) {
                Some((db, key)) => {
                    self.stats.evicted_keys.fetch_add(1, Relaxed);
                    self.notify_keyspace(db, NotifyClass::Evicted, "evicted", &key);
                }
                None => return false,
            }
        }
        (crate::alloc::used_memory() as u64) <= max
    }

    /// Whether clients must AUTH first.
    pub fn auth_required(&self) -> bool {
        self.auth_required.load(Relaxed)
    }

    /// Unix milliseconds at a monotonic instant.
    pub fn unix_ms_at(&self, t: Instant) -> u64 {
        self.started_unix_ms + t.saturating_duration_since(self.started).as_millis() as u64
    }

    /// Milliseconds since start.
    pub fn uptime_ms(&self) -> u64 {
        self.started.elapsed().as_millis() as u64
    }

    /// Marks `key` in `db` ready for the clients blocked on it; they are served, first blocked
    /// first, once the current command (or transaction) is done
    /// (`connection::blocking::serve_ready`).
    pub fn signal_ready(&self, db: usize, key: &[u8]) {
        self.blocking.signal(db, key);
    }

    /// Sends a keyspace notification, if `notify-keyspace-events` asks for its class.
    pub fn notify_keyspace(&self, db: usize, class: NotifyClass, event: &str, key: &[u8]) {
        self.notifier.notify(&self.pubsub, db, class, event, key);
    }

    /// Asks the server to stop.
    pub fn request_shutdown(&self) {
        let _ = self.shutdown.send(true);
    }
}
