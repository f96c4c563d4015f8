//! The state every connection shares, and who owns each part. Nothing here knows a socket or a
//! command: connections (`crate::connection`) and handlers (`crate::cmd`) use it, it uses only the
//! layers below (`keyspace`, `resp`, `config`, `util`).
//!
//! - [`Shared`]: the one handle every task holds, made of named parts: the keyspace, the
//!   configuration (read in place through typed handles, `srv.config().get(params::TIMEOUT)`),
//!   [`Clients`], [`Process`] (start time, run id, bound address), [`SlowLog`], the save status
//!   and the parts below.
//! - [`client`]: what other tasks may see or change of a client ([`ClientHandle`]), and the list
//!   of connected clients ([`Clients`]).
//! - [`acl`]: ACL users, their permission check and the ACL LOG.
//! - [`blocked`]: the registry of clients blocked on keys ([`BlockOn`]).
//! - [`pubsub`]: channel and pattern subscriptions; [`notify`]: keyspace events.
//! - [`stats`]: INFO counters, per-command counters and the slow log.
//! - [`scripts`]: the Lua engine and the script running now (for -BUSY and SCRIPT KILL).
//! - [`monitor`]: the clients in MONITOR mode and the line each command shows them.
//! - [`pause`]: CLIENT PAUSE in force.
//! - [`latency`]: the latency monitor's events and per-command latency histograms.
//! - [`tracking`]: client-side caching: who read which keys, BCAST prefixes, invalidations.

pub mod acl;
pub mod blocked;
pub mod client;
pub mod latency;
pub mod monitor;
pub mod notify;
pub mod pause;
pub mod pubsub;
pub mod scripts;
pub mod stats;
pub mod tls;
pub mod tracking;

pub use blocked::BlockOn;
pub use client::{ClientHandle, Clients};
pub use notify::NotifyClass;
pub use stats::{CallSpec, CmdStat, CmdStats, SlowEntry, SlowLog, Stats};

use crate::config::{params, Config};
use crate::keyspace::Keyspace;
use crate::resp::Limits;
use bytes::Bytes;
use std::net::SocketAddr;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Instant;
use tokio::sync::watch;

/// Who this server process is: when it started, its run id, where it listens (INFO server).
pub struct Process {
    pub started: Instant,
    /// Unix time in ms at `started`: command clocks are derived from one monotonic reading.
    started_unix_ms: u64,
    /// 40 random hex digits, new at each start, as Redis's `run_id`.
    pub run_id: String,
    /// The address actually bound (port 0 resolves here).
    local_addr: Mutex<Option<SocketAddr>>,
}

impl Process {
    fn new() -> Self {
        Process {
            started: Instant::now(),
            started_unix_ms: crate::keyspace::now_ms(),
            run_id: (0..40)
                .map(|_| char::from_digit(rand::random_range(0..16u32), 16).unwrap_or('0'))
                .collect(),
            local_addr: Mutex::new(None),
        }
    }

    /// Unix milliseconds at a monotonic instant.
    pub fn unix_ms_at(&self, t: Instant) -> u64 {
        self.started_unix_ms + t.saturating_duration_since(self.started).as_millis() as u64
    }

    /// Records the address the listener bound.
    pub fn set_local_addr(&self, a: SocketAddr) {
        *self.local_addr.lock().unwrap_or_else(|e| e.into_inner()) = Some(a);
    }

    /// The port the listener bound, 0 before it has.
    pub fn port(&self) -> u16 {
        self.local_addr
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .map_or(0, |a| a.port())
    }
}

/// State shared by all connections.
pub struct Shared {
    pub ks: Arc<Keyspace>,
    /// Saves: last time and status, changes since (INFO persistence, LASTSAVE).
    pub persist: Arc<crate::persist::Status>,
    /// The append-only file: commands are appended under their shard locks (`cmd::ctx`).
    pub aof: Arc<crate::persist::aof::Aof>,
    /// Clients blocked on keys.
    pub blocking: blocked::Blocking,
    /// Every setting; CONFIG SET changes it in place.
    config: Config,
    pub stats: Stats,
    /// Call counters per command, filled in by the command table on the first call.
    pub cmdstats: OnceLock<CmdStats>,
    /// Every connected client.
    pub clients: Clients,
    /// When this process started, its run id, where it listens.
    pub process: Process,
    /// SLOWLOG's entries.
    pub slowlog: SlowLog,
    /// Channel and pattern subscriptions.
    pub pubsub: pubsub::PubSub,
    /// Set when the server should stop (SHUTDOWN or a signal).
    pub shutdown: watch::Sender<bool>,
    /// The Lua engine and the script running now.
    pub scripts: scripts::Scripts,
    /// The clients in MONITOR mode.
    pub monitors: monitor::Monitors,
    /// CLIENT PAUSE in force.
    pub pause: pause::Pause,
    /// LATENCY's event samples.
    pub latency: latency::LatencyMonitor,
    /// The TLS ports' certificates and settings (CONFIG SET of a `tls-*` reloads them).
    pub tls: tls::Tls,
    /// ACL users and the ACL LOG.
    pub acl: acl::Acl,
    /// CLIENT TRACKING: the keys tracking clients read, and their BCAST prefixes.
    pub tracking: tracking::Tracking,
}

impl Shared {
    /// Shared state for a configuration.
    pub fn new(config: Config) -> Arc<Self> {
        let dbs = config.get(params::DATABASES) as usize;
        let (tx, _) = watch::channel(false);
        let requirepass = config.is_set(params::REQUIREPASS);
        Arc::new(Shared {
            ks: Arc::new(Keyspace::new(dbs)),
            persist: Arc::new(crate::persist::Status::new(
                crate::keyspace::now_ms() / 1000,
            )),
            aof: Default::default(),
            blocking: Default::default(),
            pubsub: pubsub::PubSub::with_limits(config.output_limits()),
            config,
            stats: Stats::default(),
            cmdstats: OnceLock::new(),
            clients: Clients::default(),
            process: Process::new(),
            slowlog: SlowLog::default(),
            shutdown: tx,
            scripts: Default::default(),
            monitors: Default::default(),
            pause: Default::default(),
            latency: Default::default(),
            tls: Default::default(),
            acl: acl::Acl::new(!requirepass),
            tracking: Default::default(),
        })
    }

    /// The configuration: `srv.config().get(params::MAXMEMORY)`.
    #[inline]
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Protocol limits now in force.
    #[inline]
    pub fn limits(&self) -> Limits {
        Limits {
            max_bulk: self.config.get(params::PROTO_MAX_BULK_LEN),
            query_buffer: self.config.get(params::CLIENT_QUERY_BUFFER_LIMIT),
        }
    }

    /// Sorted set listpack limits now in force: (max entries, max member length).
    pub fn zset_listpack_limits(&self) -> (usize, usize) {
        self.encoding_limits().zset()
    }

    /// Hash/set/zset encoding thresholds (OBJECT ENCODING), read on every write to those types.
    #[inline]
    pub fn encoding_limits(&self) -> crate::keyspace::EncodingLimits<'_> {
        crate::keyspace::EncodingLimits::new(&self.config)
    }

    /// Seconds after which an idle client is closed (`timeout`), 0 for never.
    pub fn idle_timeout(&self) -> u64 {
        self.config.get(params::TIMEOUT).max(0) as u64
    }

    /// Evicts keys until memory is under `maxmemory`; false if that is not possible (OOM).
    pub fn make_room(&self) -> bool {
        let max = self.config.get(params::MAXMEMORY);
        if max == 0 || (crate::alloc::used_memory() as u64) <= max {
            return true;
        }
        crate::resp::pool::clear(); // Under pressure, buffers kept for reuse go first.
        let policy = self.config.get(params::MAXMEMORY_POLICY);
        // Bounded: a value freed by another thread meanwhile must not make this spin.
        for _ in 0..10_000 {
            if (crate::alloc::used_memory() as u64) <= max {
                return true;
            }
            let aof = &self.aof;
            let on = aof.on();
            let evicted = self.ks.evict_one_with(policy, &mut |db, k| {
                if on {
                    aof.append(db, &[vec![Bytes::from_static(b"DEL"), k.clone()]]);
                }
            });
            match evicted {
                Some((db, key)) => {
                    self.stats.evicted_keys.fetch_add(1, Relaxed);
                    self.notify_keyspace(db, NotifyClass::Evicted, "evicted", &key);
                    if self.tracking.active() {
                        let keys = [key];
                        self.tracking
                            .invalidate(&self.track_route(), None, &keys, false);
                    }
                }
                None => return false,
            }
        }
        (crate::alloc::used_memory() as u64) <= max
    }

    /// One round of active expiry (see [`Keyspace::expire_cycle`]); each key expired is a DEL in
    /// the AOF, appended before its shard is unlocked.
    pub fn expire_cycle(&self, budget: usize) -> Vec<(usize, bytes::Bytes)> {
        let aof = &self.aof;
        let on = aof.on();
        let gone = self.ks.expire_cycle_with(budget, &mut |db, k| {
            if on {
                aof.append(db, &[vec![Bytes::from_static(b"DEL"), k.clone()]]);
            }
        });
        if self.tracking.active() && !gone.is_empty() {
            let keys: Vec<Bytes> = gone.iter().map(|(_, k)| k.clone()).collect();
            let r = self.track_route();
            self.tracking.invalidate(&r, None, &keys, false);
            // No command follows to send what BCAST clients gathered.
            self.tracking.finish(&r, 0);
        }
        gone
    }

    /// Where tracking messages go: the clients, under pub/sub's output limits.
    pub fn track_route(&self) -> tracking::Route<'_> {
        tracking::Route {
            clients: &self.clients,
            pubsub: &self.pubsub,
        }
    }

    /// Whether clients must AUTH first: the default user is off or has a password.
    #[inline]
    pub fn auth_required(&self) -> bool {
        !self.acl.default_open()
    }

    /// Unix milliseconds at a monotonic instant.
    pub fn unix_ms_at(&self, t: Instant) -> u64 {
        self.process.unix_ms_at(t)
    }

    /// Milliseconds since start.
    pub fn uptime_ms(&self) -> u64 {
        self.process.started.elapsed().as_millis() as u64
    }

    /// Marks `key` in `db` ready for the clients blocked on it; they are served, first blocked
    /// first, once the current command (or transaction) is done
    /// (`connection::blocking::serve_ready`).
    pub fn signal_ready(&self, db: usize, key: &[u8]) {
        self.blocking.signal(db, key);
    }

    /// Sends a keyspace notification, if `notify-keyspace-events` asks for its class.
    pub fn notify_keyspace(&self, db: usize, class: NotifyClass, event: &str, key: &[u8]) {
        let flags = self.config.get(params::NOTIFY_KEYSPACE_EVENTS);
        notify::publish(flags, &self.pubsub, db, class, event, key);
    }

    /// Whether an event of `class` would reach anyone now (so work to find such events, as
    /// `new` and `keymiss` need, is done only then).
    pub fn wants_keyspace_event(&self, class: NotifyClass) -> bool {
        use crate::config::special::events;
        let f = self.config.get(params::NOTIFY_KEYSPACE_EVENTS);
        f & notify::class_bit(class) != 0
            && f & (events::KEYSPACE | events::KEYEVENT) != 0
            && !self.pubsub.is_idle()
    }

    /// Asks the server to stop.
    pub fn request_shutdown(&self) {
        let _ = self.shutdown.send(true);
    }
}
