//! The listener and the state every connection shares: keyspace, configuration, clients, stats.

use crate::cmd::CommandSpec;
use crate::config::Config;
use crate::connection;
use crate::keyspace::Keyspace;
use crate::resp::{Limits, Reply};
use bytes::Bytes;
use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, Mutex, OnceLock, RwLock};
use std::time::{Duration, Instant};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch, Notify};
use tokio::task::JoinSet;

/// Keyspace notification classes (`notify-keyspace-events` letters).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotifyClass {
    Generic,
    String,
    List,
    Set,
    Hash,
    ZSet,
    Stream,
    Expired,
    Evicted,
    KeyMiss,
    New,
}

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

/// What other tasks may see or change of a client (CLIENT LIST, CLIENT KILL, pub/sub delivery).
pub struct ClientHandle {
    pub id: u64,
    pub addr: SocketAddr,
    pub laddr: SocketAddr,
    pub created: Instant,
    pub name: Mutex<Option<Bytes>>,
    pub lib_name: Mutex<Option<Bytes>>,
    pub lib_ver: Mutex<Option<Bytes>>,
    pub db: AtomicUsize,
    pub resp: AtomicU8,
    pub last_cmd: Mutex<String>,
    /// Milliseconds since the server started, at the last command.
    pub last_interaction: AtomicU64,
    pub killed: AtomicBool,
    pub kill: Notify,
    /// Pending output bytes and query buffer size, for CLIENT LIST.
    pub omem: AtomicUsize,
    pub qbuf: AtomicUsize,
    pub subs: AtomicUsize,
    pub psubs: AtomicUsize,
    pub multi: AtomicU64,
    /// When (ms since the epoch) pending output first passed the soft limit; 0 when under it.
    pub obuf_soft_since: AtomicU64,
    /// Push messages (pub/sub, keyspace notifications) for this client's connection.
    pub push: mpsc::UnboundedSender<Reply>,
}

impl ClientHandle {
    /// Asks the connection to close.
    pub fn kill(&self) {
        self.killed.store(true, Relaxed);
        self.kill.notify_one();
    }
}

/// A blocking command that found nothing to serve. Its handler sets `Conn::block` (outside MULTI,
/// and only if the timeout has not passed) and returns any reply, which is discarded; the
/// connection then waits until one of `keys` is signalled ready (`Shared::signal_ready`), the
/// deadline passes (it then sends `timeout_reply`) or the client goes away, and runs the same
/// command again.
#[derive(Debug, Clone)]
pub struct BlockOn {
    pub keys: Vec<Bytes>,
    pub deadline: Option<Instant>,
    pub timeout_reply: Reply,
    /// The arguments to run again instead of the original ones, when the first run resolved
    /// something that must not be resolved again (XREAD's `$` becomes the stream's last ID at
    /// the time of the first call). None: run the original arguments.
    pub rerun_args: Option<Vec<Bytes>>,
}

/// Per-connection state, owned by the connection's task.
pub struct Conn {
    pub id: u64,
    pub db: usize,
    pub resp: u8,
    pub authed: bool,
    pub user: String,
    pub handle: Arc<ClientHandle>,
    /// Close once the current reply is written (QUIT).
    pub close_after_reply: bool,
    /// Commands queued by MULTI.
    pub multi: Option<Vec<Vec<Bytes>>>,
    /// A command was refused while queuing: EXEC answers EXECABORT.
    pub multi_error: bool,
    /// WATCHed keys (db, key) and the flag a change to any of them sets.
    pub watching: Vec<(usize, Bytes)>,
    pub watch_dirty: Arc<AtomicBool>,
    pub subscriptions: HashSet<Bytes>,
    pub psubscriptions: HashSet<Bytes>,
    /// Set by a blocking command that found nothing to do yet.
    pub block: Option<BlockOn>,
    /// While the command runs again for a blocked client: the key that became ready. As in
    /// Redis, that key is served first, and keys of the wrong type are passed over.
    pub rerun: Option<Bytes>,
    /// The running command's clock (Unix ms), set by dispatch from `clock`.
    pub now_ms: u64,
    /// When the next command starts: set by the connection after each wait (a read, a flush),
    /// then each command starts where the one before it ended, so a command costs one clock read.
    pub clock: Instant,
    /// The last command without subcommands that ran: a pipeline of the same command skips the
    /// table's lookup (a case-insensitive compare instead of a hash).
    pub last_spec: Option<&'static CommandSpec>,
}

impl Conn {
    /// The state of a fresh connection (db 0, RESP2, not authenticated).
    pub fn new(id: u64, handle: Arc<ClientHandle>) -> Conn {
        Conn {
            id,
            db: 0,
            resp: 2,
            authed: false,
            user: "default".into(),
            handle,
            close_after_reply: false,
            multi: None,
            multi_error: false,
            watching: Vec::new(),
            watch_dirty: Arc::new(AtomicBool::new(false)),
            subscriptions: Default::default(),
            psubscriptions: Default::default(),
            block: None,
            rerun: None,
            now_ms: crate::keyspace::now_ms(),
            clock: Instant::now(),
            last_spec: None,
        }
    }

    /// Whether only pub/sub commands are allowed (RESP2 with subscriptions).
    pub fn in_subscribed_context(&self) -> bool {
        self.resp == 2 && (!self.subscriptions.is_empty() || !self.psubscriptions.is_empty())
    }
}

/// State shared by all connections.
pub struct Shared {
    pub ks: Keyspace,
    /// Clients blocked on keys.
    pub blocking: crate::blocking::Blocking,
    pub config: RwLock<Config>,
    pub stats: Stats,
    /// Call counters per command, keyed by the address of its static spec (no string work per call).
    pub cmdstats: OnceLock<HashMap<usize, (String, CmdStat), foldhash::fast::RandomState>>,
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
    pub pubsub: crate::pubsub::PubSub,
    /// Keyspace notification flags.
    pub notifier: crate::notify::Notifier,
    /// Hot copies of settings read on every request.
    max_bulk: AtomicU64,
    query_buffer_limit: AtomicU64,
    auth_required: AtomicBool,
    idle_timeout: AtomicU64,
    /// `zset-max-listpack-entries` and `zset-max-listpack-value`, read by every ZADD.
    zset_listpack: [AtomicU64; 2],
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
            zset_listpack: [AtomicU64::new(128), AtomicU64::new(64)],
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
        self.zset_listpack[0].store(c.num("zset-max-listpack-entries"), Relaxed);
        self.zset_listpack[1].store(c.num("zset-max-listpack-value"), Relaxed);
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
            self.zset_listpack[0].load(Relaxed) as usize,
            self.zset_listpack[1].load(Relaxed) as usize,
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

    /// Counts a command call and logs it to the slowlog when slow.
    pub fn record_call(
        &self,
        spec: &CommandSpec,
        args: &[Bytes],
        took: Duration,
        failed: bool,
        client: u64,
    ) {
        self.stats.commands_processed.fetch_add(1, Relaxed);
        let micros = took.as_micros() as u64;
        let stats = self.cmdstats.get_or_init(|| {
            let mut m = HashMap::default();
            for c in crate::cmd::table().values() {
                m.insert(
                    *c as *const CommandSpec as usize,
                    (c.full_name(), CmdStat::default()),
                );
                for s in c.subcommands {
                    m.insert(
                        s as *const CommandSpec as usize,
                        (s.full_name(), CmdStat::default()),
                    );
                }
            }
            m
        });
        if let Some((_, st)) = stats.get(&(spec as *const CommandSpec as usize)) {
            st.calls.fetch_add(1, Relaxed);
            st.usec.fetch_add(micros, Relaxed);
            if failed {
                st.failed.fetch_add(1, Relaxed);
            }
        }
        let slower = self.slowlog_slower_than.load(Relaxed);
        // EXEC is not logged itself: the commands it ran are, as in Redis (`skip_slowlog`).
        if slower >= 0
            && micros >= slower as u64
            && !spec.flags.contains(crate::cmd::Flags::SKIP_SLOWLOG)
        {
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

    /// Marks `key` in `db` ready for the clients blocked on it; they are served, first blocked
    /// first, once the current command (or transaction) is done (`blocking::serve_ready`).
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

/// Binds the configured addresses.
pub async fn bind(config: &Config) -> std::io::Result<Vec<TcpListener>> {
    let port = config.port();
    let mut out = Vec::new();
    let mut last_err = None;
    for (i, a) in config.bind().iter().enumerate() {
        let optional = config
            .get("bind")
            .unwrap_or("")
            .split_whitespace()
            .nth(i)
            .is_some_and(|s| s.starts_with('-'));
        let addr = if a.contains(':') {
            format!("[{a}]:{port}")
        } else {
            format!("{a}:{port}")
        };
        match TcpListener::bind(&addr).await {
            Ok(l) => out.push(l),
            Err(e) if optional => tracing::debug!("optional bind {addr} skipped: {e}"),
            Err(e) => last_err = Some(std::io::Error::new(e.kind(), format!("{addr}: {e}"))),
        }
    }
    if let Some(e) = last_err {
        return Err(e);
    }
    if out.is_empty() {
        return Err(std::io::Error::other("no address to listen on"));
    }
    Ok(out)
}

/// Serves clients on `listeners` until `shutdown` completes or a client sends SHUTDOWN; then stops
/// accepting, lets connections finish the replies in flight and returns.
pub async fn run(
    listeners: Vec<TcpListener>,
    srv: Arc<Shared>,
    shutdown: impl std::future::Future<Output = ()>,
) {
    if let Some(l) = listeners.first() {
        if let Ok(a) = l.local_addr() {
            *srv.local_addr.lock().unwrap_or_else(|e| e.into_inner()) = Some(a);
        }
    }
    let (conn_tx, mut conn_rx) = mpsc::channel::<(tokio::net::TcpStream, SocketAddr)>(128);
    let mut accept_tasks = JoinSet::new();
    for l in listeners {
        let tx = conn_tx.clone();
        accept_tasks.spawn(async move {
            loop {
                match l.accept().await {
                    Ok(c) => {
                        if tx.send(c).await.is_err() {
                            return;
                        }
                    }
                    Err(e) => {
                        // Out of descriptors and similar: back off instead of spinning.
                        tracing::warn!("accept: {e}");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                }
            }
        });
    }
    drop(conn_tx);
    let expire_srv = srv.clone();
    let expirer = tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_millis(100));
        loop {
            tick.tick().await;
            crate::resp::pool::purge();
            for (db, key) in expire_srv.ks.expire_cycle(200) {
                expire_srv.notify_keyspace(db, NotifyClass::Expired, "expired", &key);
            }
        }
    });
    let mut conns = JoinSet::new();
    let mut stop = srv.shutdown.subscribe();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            _ = stop.changed() => break,
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
            c = conn_rx.recv() => {
                let Some((sock, addr)) = c else { break };
                srv.stats.connections_received.fetch_add(1, Relaxed);
                let s = srv.clone();
                conns.spawn(async move { connection::serve(s, sock, addr).await });
            }
        }
    }
    tracing::info!("shutting down: no new connections, finishing replies in flight");
    accept_tasks.abort_all();
    expirer.abort();
    srv.request_shutdown();
    // Connections finish the batch they are executing and flush it; give them a bounded time.
    let _ = tokio::time::timeout(Duration::from_secs(5), async {
        while conns.join_next().await.is_some() {}
    })
    .await;
    conns.abort_all();
}

/// Tells systemd (Type=notify) that the server is ready, when run under it.
pub fn notify_systemd_ready() {
    let Some(path) = std::env::var_os("NOTIFY_SOCKET") else {
        return;
    };
    let mut path = path.to_string_lossy().into_owned();
    if let Some(abs) = path.strip_prefix('@') {
        path = format!("\0{abs}"); // Abstract socket namespace.
    }
    let sent = std::os::unix::net::UnixDatagram::unbound().and_then(|s| {
        if let Some(name) = path.strip_prefix('\0') {
            use std::os::linux::net::SocketAddrExt;
            let addr = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes())?;
            s.send_to_addr(b"READY=1\nSTATUS=ready to accept connections", &addr)
        } else {
            s.send_to(b"READY=1\nSTATUS=ready to accept connections", &path)
        }
    });
    if let Err(e) = sent {
        tracing::warn!("could not notify systemd: {e}");
    }
}
