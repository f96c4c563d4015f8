//! The parameter table: every name of Redis 7's redis.conf, declared once with its type, range,
//! default, mutability and whether respd implements it. Each row also makes a typed handle
//! (`MAXMEMORY: Mem`) that readers pass to [`super::Config::get`].

use super::handle::{Bool, Enum, Events, Int, LogLevel, Mem, Pick, Policy, Str};
use super::{parse_memory, special, Choice};
use Support::*;

/// What values a parameter takes.
#[derive(Debug, Clone, Copy)]
pub enum Kind {
    Bool,
    Int {
        min: i64,
        max: i64,
    },
    Memory {
        min: u64,
        max: u64,
    },
    Enum(&'static [&'static str]),
    Str,
    /// `notify-keyspace-events`: event class letters, held as bits.
    Events,
    /// `client-output-buffer-limit`: per-class limits, merged class by class on a set.
    BufferLimits,
    /// `save`: "<seconds> <changes>" pairs, checked and printed as Redis does.
    SaveRules,
    /// `shutdown-on-sigterm`/`-sigint`: Redis's flag words, checked and printed as Redis does.
    ShutdownFlags,
}

/// What respd does with a parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Support {
    /// It works, from the file, a flag or CONFIG SET.
    Implemented,
    /// It works as set at startup; a CONFIG SET is kept (CONFIG GET shows it) but takes effect
    /// only at the next start, and says so in the log.
    Startup,
    /// Accepted for compatibility, no effect: a value other than the default is logged as such.
    Ignored,
    /// Only the default ("off") value is accepted: anything else would promise what respd does
    /// not do (persistence), so it is refused.
    Refused,
}

/// One configuration parameter.
#[derive(Debug)]
pub struct Param {
    pub name: &'static str,
    pub kind: Kind,
    /// The default, in CONFIG GET form.
    pub default: &'static str,
    /// Whether respd implements it.
    pub support: Support,
    /// Refused by CONFIG SET (settable only at startup).
    pub immutable: bool,
    /// Refused by CONFIG SET unless `enable-protected-configs` allows it (Redis 7).
    pub protected: bool,
    /// Matched by CONFIG GET only by its exact name, never by a pattern (Redis's hidden
    /// test-only settings).
    pub hidden: bool,
    /// The older name of the same parameter (`slaveof` for `replicaof`).
    pub alias: Option<&'static str>,
}

impl Param {
    /// What a row leaves out.
    const BASE: Param = Param {
        name: "",
        kind: Kind::Str,
        default: "",
        support: Implemented,
        immutable: false,
        protected: false,
        hidden: false,
        alias: None,
    };
}

/// Declares the table: each row is `CONST: Handle = { name, kind, default, support, ... }`. It
/// makes `PARAMS`, the index of each row, and the handle constant; a handle type that cannot read
/// its row's kind fails to compile.
macro_rules! params {
    ($($(#[$doc:meta])* $c:ident: $h:ty = { $($f:ident: $v:expr),* $(,)? })*) => {
        #[allow(non_camel_case_types, clippy::upper_case_acronyms)]
        #[derive(Clone, Copy)]
        enum Ix { $($c,)* }

        /// How many parameters there are.
        pub const COUNT: usize = [$(Ix::$c),*].len();

        const TABLE: [Param; COUNT] = [$(Param { $($f: $v,)* ..Param::BASE }),*];

        /// Every parameter of Redis 7.0's redis.conf (read off `CONFIG GET *` of redis-server
        /// 7.0.15), with Redis's types and ranges, plus respd's own at the end.
        pub static PARAMS: &[Param] = &TABLE;

        $(
            $(#[$doc])*
            pub const $c: $h = <$h>::at(Ix::$c as usize);
            const _: () = assert!(
                <$h>::fits(&TABLE[Ix::$c as usize].kind),
                concat!(stringify!($c), "'s handle type cannot read its kind")
            );
        )*
    };
}

params! {
    ACL_PUBSUB_DEFAULT: Pick = { name: "acl-pubsub-default", kind: Kind::Enum(&["allchannels", "resetchannels"]), default: "resetchannels", support: Implemented }
    ACLFILE: Str = { name: "aclfile", kind: Kind::Str, default: "", support: Implemented, immutable: true }
    ACLLOG_MAX_LEN: Int = { name: "acllog-max-len", kind: Kind::Int { min: 0, max: i64::MAX }, default: "128", support: Implemented }
    ACTIVE_DEFRAG_CYCLE_MAX: Int = { name: "active-defrag-cycle-max", kind: Kind::Int { min: 1, max: 99 }, default: "25", support: Ignored }
    ACTIVE_DEFRAG_CYCLE_MIN: Int = { name: "active-defrag-cycle-min", kind: Kind::Int { min: 1, max: 99 }, default: "1", support: Ignored }
    ACTIVE_DEFRAG_IGNORE_BYTES: Mem = { name: "active-defrag-ignore-bytes", kind: Kind::Memory { min: 1, max: i64::MAX as u64 }, default: "104857600", support: Ignored }
    ACTIVE_DEFRAG_MAX_SCAN_FIELDS: Int = { name: "active-defrag-max-scan-fields", kind: Kind::Int { min: 1, max: i64::MAX }, default: "1000", support: Ignored }
    ACTIVE_DEFRAG_THRESHOLD_LOWER: Int = { name: "active-defrag-threshold-lower", kind: Kind::Int { min: 0, max: 1000 }, default: "10", support: Ignored }
    ACTIVE_DEFRAG_THRESHOLD_UPPER: Int = { name: "active-defrag-threshold-upper", kind: Kind::Int { min: 0, max: 1000 }, default: "100", support: Ignored }
    ACTIVE_EXPIRE_EFFORT: Int = { name: "active-expire-effort", kind: Kind::Int { min: 1, max: 10 }, default: "1", support: Ignored }
    ACTIVEDEFRAG: Bool = { name: "activedefrag", kind: Kind::Bool, default: "no", support: Ignored }
    ACTIVEREHASHING: Bool = { name: "activerehashing", kind: Kind::Bool, default: "yes", support: Ignored }
    ALWAYS_SHOW_LOGO: Bool = { name: "always-show-logo", kind: Kind::Bool, default: "no", support: Ignored, immutable: true }
    AOF_DISABLE_AUTO_GC: Bool = { name: "aof-disable-auto-gc", kind: Kind::Bool, default: "no" }
    AOF_LOAD_TRUNCATED: Bool = { name: "aof-load-truncated", kind: Kind::Bool, default: "yes" }
    AOF_REWRITE_INCREMENTAL_FSYNC: Bool = { name: "aof-rewrite-incremental-fsync", kind: Kind::Bool, default: "yes" }
    AOF_TIMESTAMP_ENABLED: Bool = { name: "aof-timestamp-enabled", kind: Kind::Bool, default: "no" }
    AOF_USE_RDB_PREAMBLE: Bool = { name: "aof-use-rdb-preamble", kind: Kind::Bool, default: "yes" }
    AOF_REWRITE_CPULIST: Str = { name: "aof_rewrite_cpulist", kind: Kind::Str, default: "", support: Ignored, immutable: true }
    APPENDDIRNAME: Str = { name: "appenddirname", kind: Kind::Str, default: "appendonlydir", immutable: true }
    APPENDFILENAME: Str = { name: "appendfilename", kind: Kind::Str, default: "appendonly.aof", immutable: true }
    APPENDFSYNC: Pick = { name: "appendfsync", kind: Kind::Enum(&["everysec", "always", "no"]), default: "everysec" }
    APPENDONLY: Bool = { name: "appendonly", kind: Kind::Bool, default: "no" }
    AUTO_AOF_REWRITE_MIN_SIZE: Mem = { name: "auto-aof-rewrite-min-size", kind: Kind::Memory { min: 0, max: i64::MAX as u64 }, default: "67108864" }
    AUTO_AOF_REWRITE_PERCENTAGE: Int = { name: "auto-aof-rewrite-percentage", kind: Kind::Int { min: 0, max: i32::MAX as i64 }, default: "100" }
    BGSAVE_CPULIST: Str = { name: "bgsave_cpulist", kind: Kind::Str, default: "", support: Ignored, immutable: true }
    BIND: Str = { name: "bind", kind: Kind::Str, default: "127.0.0.1 -::1", support: Startup }
    BIND_SOURCE_ADDR: Str = { name: "bind-source-addr", kind: Kind::Str, default: "", support: Ignored }
    BIO_CPULIST: Str = { name: "bio_cpulist", kind: Kind::Str, default: "", support: Ignored, immutable: true }
    BUSY_REPLY_THRESHOLD: Int = { name: "busy-reply-threshold", kind: Kind::Int { min: 0, max: i64::MAX }, default: "5000", support: Implemented, alias: Some("lua-time-limit") }
    CLIENT_OUTPUT_BUFFER_LIMIT: Str = { name: "client-output-buffer-limit", kind: Kind::BufferLimits, default: "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60", support: Implemented }
    CLIENT_QUERY_BUFFER_LIMIT: Mem = { name: "client-query-buffer-limit", kind: Kind::Memory { min: 1048576, max: i64::MAX as u64 }, default: "1073741824", support: Implemented }
    CLUSTER_ALLOW_PUBSUBSHARD_WHEN_DOWN: Bool = { name: "cluster-allow-pubsubshard-when-down", kind: Kind::Bool, default: "yes", support: Ignored }
    CLUSTER_ALLOW_READS_WHEN_DOWN: Bool = { name: "cluster-allow-reads-when-down", kind: Kind::Bool, default: "no", support: Ignored }
    CLUSTER_ALLOW_REPLICA_MIGRATION: Bool = { name: "cluster-allow-replica-migration", kind: Kind::Bool, default: "yes", support: Ignored }
    CLUSTER_ANNOUNCE_BUS_PORT: Int = { name: "cluster-announce-bus-port", kind: Kind::Int { min: 0, max: 65535 }, default: "0", support: Ignored }
    CLUSTER_ANNOUNCE_HOSTNAME: Str = { name: "cluster-announce-hostname", kind: Kind::Str, default: "", support: Ignored }
    CLUSTER_ANNOUNCE_IP: Str = { name: "cluster-announce-ip", kind: Kind::Str, default: "", support: Ignored }
    CLUSTER_ANNOUNCE_PORT: Int = { name: "cluster-announce-port", kind: Kind::Int { min: 0, max: 65535 }, default: "0", support: Ignored }
    CLUSTER_ANNOUNCE_TLS_PORT: Int = { name: "cluster-announce-tls-port", kind: Kind::Int { min: 0, max: 65535 }, default: "0", support: Ignored }
    CLUSTER_CONFIG_FILE: Str = { name: "cluster-config-file", kind: Kind::Str, default: "nodes.conf", support: Ignored, immutable: true }
    CLUSTER_ENABLED: Bool = { name: "cluster-enabled", kind: Kind::Bool, default: "no", support: Ignored, immutable: true }
    CLUSTER_LINK_SENDBUF_LIMIT: Mem = { name: "cluster-link-sendbuf-limit", kind: Kind::Memory { min: 0, max: u64::MAX }, default: "0", support: Ignored }
    CLUSTER_MIGRATION_BARRIER: Int = { name: "cluster-migration-barrier", kind: Kind::Int { min: 0, max: i32::MAX as i64 }, default: "1", support: Ignored }
    CLUSTER_NODE_TIMEOUT: Int = { name: "cluster-node-timeout", kind: Kind::Int { min: 0, max: i64::MAX }, default: "15000", support: Ignored }
    CLUSTER_PORT: Int = { name: "cluster-port", kind: Kind::Int { min: 0, max: 65535 }, default: "0", support: Ignored, immutable: true }
    CLUSTER_PREFERRED_ENDPOINT_TYPE: Pick = { name: "cluster-preferred-endpoint-type", kind: Kind::Enum(&["ip", "hostname", "unknown-endpoint"]), default: "ip", support: Ignored }
    CLUSTER_REPLICA_NO_FAILOVER: Bool = { name: "cluster-replica-no-failover", kind: Kind::Bool, default: "no", support: Ignored, alias: Some("cluster-slave-no-failover") }
    CLUSTER_REPLICA_VALIDITY_FACTOR: Int = { name: "cluster-replica-validity-factor", kind: Kind::Int { min: 0, max: i32::MAX as i64 }, default: "10", support: Ignored, alias: Some("cluster-slave-validity-factor") }
    CLUSTER_REQUIRE_FULL_COVERAGE: Bool = { name: "cluster-require-full-coverage", kind: Kind::Bool, default: "yes", support: Ignored }
    CRASH_LOG_ENABLED: Bool = { name: "crash-log-enabled", kind: Kind::Bool, default: "yes", support: Ignored }
    CRASH_MEMCHECK_ENABLED: Bool = { name: "crash-memcheck-enabled", kind: Kind::Bool, default: "yes", support: Ignored }
    DAEMONIZE: Bool = { name: "daemonize", kind: Kind::Bool, default: "no", support: Ignored, immutable: true }
    DATABASES: Int = { name: "databases", kind: Kind::Int { min: 1, max: i32::MAX as i64 }, default: "16", support: Implemented, immutable: true }
    DBFILENAME: Str = { name: "dbfilename", kind: Kind::Str, default: "dump.rdb", support: Implemented, protected: true }
    DIR: Str = { name: "dir", kind: Kind::Str, default: ".", support: Implemented, protected: true }
    DISABLE_THP: Bool = { name: "disable-thp", kind: Kind::Bool, default: "yes", support: Ignored, immutable: true }
    DYNAMIC_HZ: Bool = { name: "dynamic-hz", kind: Kind::Bool, default: "yes", support: Ignored }
    ENABLE_DEBUG_COMMAND: Pick = { name: "enable-debug-command", kind: Kind::Enum(&["no", "yes", "local"]), default: "no", support: Implemented, immutable: true }
    ENABLE_MODULE_COMMAND: Pick = { name: "enable-module-command", kind: Kind::Enum(&["no", "yes", "local"]), default: "no", support: Implemented, immutable: true }
    ENABLE_PROTECTED_CONFIGS: Pick = { name: "enable-protected-configs", kind: Kind::Enum(&["no", "yes", "local"]), default: "no", support: Implemented, immutable: true }
    HASH_MAX_LISTPACK_ENTRIES: Int = { name: "hash-max-listpack-entries", kind: Kind::Int { min: 0, max: i64::MAX }, default: "512", support: Implemented, alias: Some("hash-max-ziplist-entries") }
    HASH_MAX_LISTPACK_VALUE: Mem = { name: "hash-max-listpack-value", kind: Kind::Memory { min: 0, max: i64::MAX as u64 }, default: "64", support: Implemented, alias: Some("hash-max-ziplist-value") }
    HLL_SPARSE_MAX_BYTES: Mem = { name: "hll-sparse-max-bytes", kind: Kind::Memory { min: 0, max: i64::MAX as u64 }, default: "3000", support: Implemented }
    HZ: Int = { name: "hz", kind: Kind::Int { min: 0, max: i32::MAX as i64 }, default: "10", support: Ignored }
    IGNORE_WARNINGS: Str = { name: "ignore-warnings", kind: Kind::Str, default: "", support: Ignored }
    IO_THREADS: Int = { name: "io-threads", kind: Kind::Int { min: 1, max: 128 }, default: "1", support: Ignored, immutable: true }
    IO_THREADS_DO_READS: Bool = { name: "io-threads-do-reads", kind: Kind::Bool, default: "no", support: Ignored, immutable: true }
    JEMALLOC_BG_THREAD: Bool = { name: "jemalloc-bg-thread", kind: Kind::Bool, default: "yes", support: Ignored }
    /// Redis's hidden test setting: microseconds to sleep per key loaded (negative: 1 µs once
    /// in that many keys), so tests can watch a load in progress.
    KEY_LOAD_DELAY: Int = { name: "key-load-delay", kind: Kind::Int { min: i32::MIN as i64, max: i32::MAX as i64 }, default: "0", support: Implemented, hidden: true }
    LATENCY_MONITOR_THRESHOLD: Int = { name: "latency-monitor-threshold", kind: Kind::Int { min: 0, max: i64::MAX }, default: "0", support: Implemented }
    LATENCY_TRACKING: Bool = { name: "latency-tracking", kind: Kind::Bool, default: "yes", support: Implemented }
    LATENCY_TRACKING_INFO_PERCENTILES: Str = { name: "latency-tracking-info-percentiles", kind: Kind::Str, default: "50 99 99.9", support: Implemented }
    LAZYFREE_LAZY_EVICTION: Bool = { name: "lazyfree-lazy-eviction", kind: Kind::Bool, default: "no", support: Ignored }
    LAZYFREE_LAZY_EXPIRE: Bool = { name: "lazyfree-lazy-expire", kind: Kind::Bool, default: "no", support: Ignored }
    LAZYFREE_LAZY_SERVER_DEL: Bool = { name: "lazyfree-lazy-server-del", kind: Kind::Bool, default: "no", support: Ignored }
    LAZYFREE_LAZY_USER_DEL: Bool = { name: "lazyfree-lazy-user-del", kind: Kind::Bool, default: "no", support: Ignored }
    LAZYFREE_LAZY_USER_FLUSH: Bool = { name: "lazyfree-lazy-user-flush", kind: Kind::Bool, default: "no" }
    LFU_DECAY_TIME: Int = { name: "lfu-decay-time", kind: Kind::Int { min: 0, max: i32::MAX as i64 }, default: "1", support: Ignored }
    LFU_LOG_FACTOR: Int = { name: "lfu-log-factor", kind: Kind::Int { min: 0, max: i32::MAX as i64 }, default: "10", support: Ignored }
    LIST_COMPRESS_DEPTH: Int = { name: "list-compress-depth", kind: Kind::Int { min: 0, max: i32::MAX as i64 }, default: "0", support: Ignored }
    LIST_MAX_LISTPACK_SIZE: Int = { name: "list-max-listpack-size", kind: Kind::Int { min: i32::MIN as i64, max: i32::MAX as i64 }, default: "-2", support: Ignored, alias: Some("list-max-ziplist-size") }
    LOGFILE: Str = { name: "logfile", kind: Kind::Str, default: "", support: Implemented, immutable: true }
    LOGLEVEL: Enum<LogLevel> = { name: "loglevel", kind: Kind::Enum(LogLevel::NAMES), default: "notice", support: Implemented }
    MASTERAUTH: Str = { name: "masterauth", kind: Kind::Str, default: "", support: Ignored }
    MASTERUSER: Str = { name: "masteruser", kind: Kind::Str, default: "", support: Ignored }
    MAXCLIENTS: Int = { name: "maxclients", kind: Kind::Int { min: 1, max: i32::MAX as i64 }, default: "10000", support: Implemented }
    MAXMEMORY: Mem = { name: "maxmemory", kind: Kind::Memory { min: 0, max: u64::MAX }, default: "0", support: Implemented }
    MAXMEMORY_CLIENTS: Str = { name: "maxmemory-clients", kind: Kind::Str, default: "0", support: Ignored }
    MAXMEMORY_EVICTION_TENACITY: Int = { name: "maxmemory-eviction-tenacity", kind: Kind::Int { min: 0, max: 100 }, default: "10", support: Ignored }
    MAXMEMORY_POLICY: Enum<Policy> = { name: "maxmemory-policy", kind: Kind::Enum(Policy::NAMES), default: "noeviction", support: Implemented }
    MAXMEMORY_SAMPLES: Int = { name: "maxmemory-samples", kind: Kind::Int { min: 1, max: i32::MAX as i64 }, default: "5", support: Ignored }
    MIN_REPLICAS_MAX_LAG: Int = { name: "min-replicas-max-lag", kind: Kind::Int { min: 0, max: i32::MAX as i64 }, default: "10", support: Ignored, alias: Some("min-slaves-max-lag") }
    MIN_REPLICAS_TO_WRITE: Int = { name: "min-replicas-to-write", kind: Kind::Int { min: 0, max: i32::MAX as i64 }, default: "0", support: Ignored, alias: Some("min-slaves-to-write") }
    NO_APPENDFSYNC_ON_REWRITE: Bool = { name: "no-appendfsync-on-rewrite", kind: Kind::Bool, default: "no" }
    NOTIFY_KEYSPACE_EVENTS: Events = { name: "notify-keyspace-events", kind: Kind::Events, default: "", support: Implemented }
    OOM_SCORE_ADJ: Pick = { name: "oom-score-adj", kind: Kind::Enum(&["no", "yes", "relative", "absolute"]), default: "no", support: Ignored }
    OOM_SCORE_ADJ_VALUES: Str = { name: "oom-score-adj-values", kind: Kind::Str, default: "0 200 800", support: Ignored }
    PIDFILE: Str = { name: "pidfile", kind: Kind::Str, default: "", support: Ignored, immutable: true }
    PORT: Int = { name: "port", kind: Kind::Int { min: 0, max: 65535 }, default: "6379", support: Startup }
    PROC_TITLE_TEMPLATE: Str = { name: "proc-title-template", kind: Kind::Str, default: "{title} {listen-addr} {server-mode}", support: Ignored }
    PROPAGATION_ERROR_BEHAVIOR: Pick = { name: "propagation-error-behavior", kind: Kind::Enum(&["ignore", "panic", "panic-on-replicas"]), default: "ignore", support: Ignored }
    PROTECTED_MODE: Bool = { name: "protected-mode", kind: Kind::Bool, default: "yes", support: Implemented }
    PROTO_MAX_BULK_LEN: Mem = { name: "proto-max-bulk-len", kind: Kind::Memory { min: 1048576, max: i64::MAX as u64 }, default: "536870912", support: Implemented }
    RDB_DEL_SYNC_FILES: Bool = { name: "rdb-del-sync-files", kind: Kind::Bool, default: "no", support: Ignored }
    /// Redis's hidden test setting: microseconds to sleep per key saved (negative: sleep 1 µs
    /// once in that many keys), so tests can hold a save open.
    RDB_KEY_SAVE_DELAY: Int = { name: "rdb-key-save-delay", kind: Kind::Int { min: i32::MIN as i64, max: i32::MAX as i64 }, default: "0", support: Implemented, hidden: true }
    RDB_SAVE_INCREMENTAL_FSYNC: Bool = { name: "rdb-save-incremental-fsync", kind: Kind::Bool, default: "yes" }
    RDBCHECKSUM: Bool = { name: "rdbchecksum", kind: Kind::Bool, default: "yes", support: Implemented }
    RDBCOMPRESSION: Bool = { name: "rdbcompression", kind: Kind::Bool, default: "yes", support: Implemented }
    REPL_BACKLOG_SIZE: Mem = { name: "repl-backlog-size", kind: Kind::Memory { min: 1, max: i64::MAX as u64 }, default: "1048576", support: Ignored }
    REPL_BACKLOG_TTL: Int = { name: "repl-backlog-ttl", kind: Kind::Int { min: 0, max: i32::MAX as i64 }, default: "3600", support: Ignored }
    REPL_DISABLE_TCP_NODELAY: Bool = { name: "repl-disable-tcp-nodelay", kind: Kind::Bool, default: "no", support: Ignored }
    REPL_DISKLESS_LOAD: Pick = { name: "repl-diskless-load", kind: Kind::Enum(&["disabled", "on-empty-db", "swapdb"]), default: "disabled", support: Ignored }
    REPL_DISKLESS_SYNC: Bool = { name: "repl-diskless-sync", kind: Kind::Bool, default: "yes", support: Ignored }
    REPL_DISKLESS_SYNC_DELAY: Int = { name: "repl-diskless-sync-delay", kind: Kind::Int { min: 0, max: i32::MAX as i64 }, default: "5", support: Ignored }
    REPL_DISKLESS_SYNC_MAX_REPLICAS: Int = { name: "repl-diskless-sync-max-replicas", kind: Kind::Int { min: 0, max: i32::MAX as i64 }, default: "0", support: Ignored }
    REPL_PING_REPLICA_PERIOD: Int = { name: "repl-ping-replica-period", kind: Kind::Int { min: 1, max: i32::MAX as i64 }, default: "10", support: Ignored, alias: Some("repl-ping-slave-period") }
    REPL_TIMEOUT: Int = { name: "repl-timeout", kind: Kind::Int { min: 1, max: i32::MAX as i64 }, default: "60", support: Ignored }
    REPLICA_ANNOUNCE_IP: Str = { name: "replica-announce-ip", kind: Kind::Str, default: "", support: Ignored, alias: Some("slave-announce-ip") }
    REPLICA_ANNOUNCE_PORT: Int = { name: "replica-announce-port", kind: Kind::Int { min: 0, max: 65535 }, default: "0", support: Ignored, alias: Some("slave-announce-port") }
    REPLICA_ANNOUNCED: Bool = { name: "replica-announced", kind: Kind::Bool, default: "yes", support: Ignored }
    REPLICA_IGNORE_DISK_WRITE_ERRORS: Bool = { name: "replica-ignore-disk-write-errors", kind: Kind::Bool, default: "no", support: Ignored }
    REPLICA_IGNORE_MAXMEMORY: Bool = { name: "replica-ignore-maxmemory", kind: Kind::Bool, default: "yes", support: Ignored, alias: Some("slave-ignore-maxmemory") }
    REPLICA_LAZY_FLUSH: Bool = { name: "replica-lazy-flush", kind: Kind::Bool, default: "no", support: Ignored, alias: Some("slave-lazy-flush") }
    REPLICA_PRIORITY: Int = { name: "replica-priority", kind: Kind::Int { min: 0, max: i32::MAX as i64 }, default: "100", support: Ignored, alias: Some("slave-priority") }
    REPLICA_READ_ONLY: Bool = { name: "replica-read-only", kind: Kind::Bool, default: "yes", support: Ignored, alias: Some("slave-read-only") }
    REPLICA_SERVE_STALE_DATA: Bool = { name: "replica-serve-stale-data", kind: Kind::Bool, default: "yes", support: Ignored, alias: Some("slave-serve-stale-data") }
    REPLICAOF: Str = { name: "replicaof", kind: Kind::Str, default: "", support: Ignored, alias: Some("slaveof") }
    REQUIREPASS: Str = { name: "requirepass", kind: Kind::Str, default: "", support: Implemented }
    SANITIZE_DUMP_PAYLOAD: Pick = { name: "sanitize-dump-payload", kind: Kind::Enum(&["no", "yes", "clients"]), default: "no", support: Ignored }
    SAVE: Str = { name: "save", kind: Kind::SaveRules, default: "", support: Implemented }
    SERVER_CPULIST: Str = { name: "server_cpulist", kind: Kind::Str, default: "", support: Ignored, immutable: true }
    SET_MAX_INTSET_ENTRIES: Int = { name: "set-max-intset-entries", kind: Kind::Int { min: 0, max: i64::MAX }, default: "512", support: Implemented }
    SET_PROC_TITLE: Bool = { name: "set-proc-title", kind: Kind::Bool, default: "yes", support: Ignored }
    SHUTDOWN_ON_SIGINT: Str = { name: "shutdown-on-sigint", kind: Kind::ShutdownFlags, default: "default", support: Implemented }
    SHUTDOWN_ON_SIGTERM: Str = { name: "shutdown-on-sigterm", kind: Kind::ShutdownFlags, default: "default", support: Implemented }
    SHUTDOWN_TIMEOUT: Int = { name: "shutdown-timeout", kind: Kind::Int { min: 0, max: i32::MAX as i64 }, default: "10", support: Ignored }
    SLOWLOG_LOG_SLOWER_THAN: Int = { name: "slowlog-log-slower-than", kind: Kind::Int { min: -1, max: i64::MAX }, default: "10000", support: Implemented }
    SLOWLOG_MAX_LEN: Int = { name: "slowlog-max-len", kind: Kind::Int { min: 0, max: i64::MAX }, default: "128", support: Implemented }
    SOCKET_MARK_ID: Int = { name: "socket-mark-id", kind: Kind::Int { min: 0, max: 4294967295 }, default: "0", support: Ignored }
    STOP_WRITES_ON_BGSAVE_ERROR: Bool = { name: "stop-writes-on-bgsave-error", kind: Kind::Bool, default: "yes", support: Implemented }
    STREAM_NODE_MAX_BYTES: Mem = { name: "stream-node-max-bytes", kind: Kind::Memory { min: 0, max: i64::MAX as u64 }, default: "4096", support: Implemented }
    STREAM_NODE_MAX_ENTRIES: Int = { name: "stream-node-max-entries", kind: Kind::Int { min: 0, max: i64::MAX }, default: "100", support: Implemented }
    SUPERVISED: Pick = { name: "supervised", kind: Kind::Enum(&["upstart", "systemd", "auto", "no"]), default: "no", support: Ignored, immutable: true }
    SYSLOG_ENABLED: Bool = { name: "syslog-enabled", kind: Kind::Bool, default: "no", support: Ignored, immutable: true }
    SYSLOG_FACILITY: Pick = { name: "syslog-facility", kind: Kind::Enum(&["user", "local0", "local1", "local2", "local3", "local4", "local5", "local6", "local7"]), default: "local0", support: Ignored, immutable: true }
    SYSLOG_IDENT: Str = { name: "syslog-ident", kind: Kind::Str, default: "redis", support: Ignored, immutable: true }
    TCP_BACKLOG: Int = { name: "tcp-backlog", kind: Kind::Int { min: 0, max: i32::MAX as i64 }, default: "511", support: Implemented, immutable: true }
    TCP_KEEPALIVE: Int = { name: "tcp-keepalive", kind: Kind::Int { min: 0, max: i32::MAX as i64 }, default: "300", support: Implemented }
    TIMEOUT: Int = { name: "timeout", kind: Kind::Int { min: 0, max: i32::MAX as i64 }, default: "0", support: Implemented }
    TLS_AUTH_CLIENTS: Pick = { name: "tls-auth-clients", kind: Kind::Enum(&["no", "yes", "optional"]), default: "yes", support: Implemented }
    TLS_CA_CERT_DIR: Str = { name: "tls-ca-cert-dir", kind: Kind::Str, default: "", support: Implemented }
    TLS_CA_CERT_FILE: Str = { name: "tls-ca-cert-file", kind: Kind::Str, default: "", support: Implemented }
    TLS_CERT_FILE: Str = { name: "tls-cert-file", kind: Kind::Str, default: "", support: Implemented }
    TLS_CIPHERS: Str = { name: "tls-ciphers", kind: Kind::Str, default: "", support: Implemented }
    TLS_CIPHERSUITES: Str = { name: "tls-ciphersuites", kind: Kind::Str, default: "", support: Implemented }
    TLS_CLIENT_CERT_FILE: Str = { name: "tls-client-cert-file", kind: Kind::Str, default: "", support: Ignored }
    TLS_CLIENT_KEY_FILE: Str = { name: "tls-client-key-file", kind: Kind::Str, default: "", support: Ignored }
    TLS_CLIENT_KEY_FILE_PASS: Str = { name: "tls-client-key-file-pass", kind: Kind::Str, default: "", support: Ignored }
    TLS_CLUSTER: Bool = { name: "tls-cluster", kind: Kind::Bool, default: "no", support: Ignored }
    TLS_DH_PARAMS_FILE: Str = { name: "tls-dh-params-file", kind: Kind::Str, default: "", support: Ignored }
    TLS_KEY_FILE: Str = { name: "tls-key-file", kind: Kind::Str, default: "", support: Implemented }
    TLS_KEY_FILE_PASS: Str = { name: "tls-key-file-pass", kind: Kind::Str, default: "", support: Implemented }
    TLS_PORT: Int = { name: "tls-port", kind: Kind::Int { min: 0, max: 65535 }, default: "0", support: Startup }
    TLS_PREFER_SERVER_CIPHERS: Bool = { name: "tls-prefer-server-ciphers", kind: Kind::Bool, default: "no", support: Implemented }
    TLS_PROTOCOLS: Str = { name: "tls-protocols", kind: Kind::Str, default: "", support: Implemented }
    TLS_REPLICATION: Bool = { name: "tls-replication", kind: Kind::Bool, default: "no", support: Ignored }
    TLS_SESSION_CACHE_SIZE: Int = { name: "tls-session-cache-size", kind: Kind::Int { min: 0, max: i32::MAX as i64 }, default: "20480", support: Implemented }
    TLS_SESSION_CACHE_TIMEOUT: Int = { name: "tls-session-cache-timeout", kind: Kind::Int { min: 0, max: i32::MAX as i64 }, default: "300", support: Implemented }
    TLS_SESSION_CACHING: Bool = { name: "tls-session-caching", kind: Kind::Bool, default: "yes", support: Implemented }
    TRACKING_TABLE_MAX_KEYS: Int = { name: "tracking-table-max-keys", kind: Kind::Int { min: 0, max: i64::MAX }, default: "1000000", support: Implemented }
    UNIXSOCKET: Str = { name: "unixsocket", kind: Kind::Str, default: "", support: Ignored, immutable: true }
    UNIXSOCKETPERM: Int = { name: "unixsocketperm", kind: Kind::Int { min: 0, max: 511 }, default: "0", support: Ignored, immutable: true }
    ZSET_MAX_LISTPACK_ENTRIES: Int = { name: "zset-max-listpack-entries", kind: Kind::Int { min: 0, max: i64::MAX }, default: "128", support: Implemented, alias: Some("zset-max-ziplist-entries") }
    ZSET_MAX_LISTPACK_VALUE: Mem = { name: "zset-max-listpack-value", kind: Kind::Memory { min: 0, max: i64::MAX as u64 }, default: "64", support: Implemented, alias: Some("zset-max-ziplist-value") }
    // respd's own: runtime worker threads, 0 = one per core but one, at least two.
    WORKER_THREADS: Int = { name: "worker-threads", kind: Kind::Int { min: 0, max: 1024 }, default: "0", support: Implemented, immutable: true }
}

/// Finds a parameter by name (case-insensitive) or alias.
pub fn find(name: &str) -> Option<&'static Param> {
    index(name).map(|i| &PARAMS[i])
}

/// The index of a parameter by name (case-insensitive) or alias.
pub(super) fn index(name: &str) -> Option<usize> {
    PARAMS.iter().position(|p| {
        p.name.eq_ignore_ascii_case(name) || p.alias.is_some_and(|a| a.eq_ignore_ascii_case(name))
    })
}

/// The text of option `raw` of the enumerated parameter at `i`.
pub(super) fn option_text(i: usize, raw: u64) -> &'static str {
    match PARAMS.get(i).map(|p| p.kind) {
        Some(Kind::Enum(opts)) => opts.get(raw as usize).copied().unwrap_or(""),
        _ => "",
    }
}

/// A checked value, ready to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Raw {
    /// Bools (0/1), integers (as their bits), sizes, an enum's index, event bits.
    Num(u64),
    /// Strings and client-output-buffer-limit, in CONFIG GET form.
    Text(String),
}

impl Param {
    /// Checks a value; `current` is the stored text (client-output-buffer-limit changes only the
    /// classes named). The error is Redis's reason text.
    pub(super) fn parse(&self, value: &str, current: &str) -> Result<Raw, String> {
        let raw = match self.kind {
            Kind::Bool => match value.to_ascii_lowercase().as_str() {
                "yes" => Raw::Num(1),
                "no" => Raw::Num(0),
                _ => return Err("argument must be 'yes' or 'no'".into()),
            },
            Kind::Int { min, max } => {
                let v: i64 = value
                    .parse()
                    .map_err(|_| "argument couldn't be parsed into an integer".to_string())?;
                if v < min || v > max {
                    return Err(format!(
                        "argument must be between {min} and {max} inclusive"
                    ));
                }
                Raw::Num(v as u64)
            }
            Kind::Memory { min, max } => {
                // Negative memory values are refused like Redis does for unsigned sizes.
                let v = (!value.starts_with('-'))
                    .then(|| parse_memory(value))
                    .flatten()
                    .ok_or_else(|| "argument must be a memory value".to_string())?;
                if v < min || v > max {
                    return Err(format!(
                        "argument must be between {min} and {max} inclusive"
                    ));
                }
                Raw::Num(v)
            }
            Kind::Enum(opts) => {
                let l = value.to_ascii_lowercase();
                match opts.iter().position(|o| *o == l) {
                    Some(i) => Raw::Num(i as u64),
                    None => {
                        return Err(format!(
                            "argument(s) must be one of the following: {}",
                            opts.join(", ")
                        ))
                    }
                }
            }
            Kind::Str => Raw::Text(value.to_string()),
            Kind::Events => Raw::Num(special::parse_keyspace_events(value)? as u64),
            Kind::BufferLimits => Raw::Text(special::merge_buffer_limits(current, value)?),
            Kind::SaveRules => Raw::Text(special::parse_save_rules(value)?),
            Kind::ShutdownFlags => Raw::Text(special::parse_shutdown_flags(value)?),
        };
        if self.support == Refused && self.text_of(&raw) != self.default {
            let only = match self.default {
                "" => "an empty value".to_string(),
                d => format!("'{d}'"),
            };
            return Err(format!(
                "respd does not implement '{}' (only {only} is accepted)",
                self.name
            ));
        }
        Ok(raw)
    }

    /// A checked value in CONFIG GET form.
    pub(super) fn text_of(&self, raw: &Raw) -> String {
        match (raw, self.kind) {
            (Raw::Text(s), _) => s.clone(),
            (Raw::Num(n), Kind::Bool) => (if *n != 0 { "yes" } else { "no" }).to_string(),
            (Raw::Num(n), Kind::Int { .. }) => (*n as i64).to_string(),
            (Raw::Num(n), Kind::Enum(opts)) => opts.get(*n as usize).copied().unwrap_or("").into(),
            (Raw::Num(n), Kind::Events) => special::format_keyspace_events(*n as u32),
            (Raw::Num(n), _) => n.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    /// The parameter names (a trailing `*`: every name with that start) in backticks on the
    /// list items of README.md's "What is not implemented"; other backticked words name no
    /// parameter and are skipped.
    fn readme_names() -> BTreeSet<&'static str> {
        let readme = include_str!("../../../README.md");
        let start = readme
            .find("\n## What is not implemented\n")
            .expect("README.md has a section \"What is not implemented\"");
        let section = &readme[start + 1..];
        let section = &section[..section[3..].find("\n## ").map_or(section.len(), |e| e + 3)];
        let mut names = BTreeSet::new();
        let mut in_item = false;
        for line in section.lines() {
            let t = line.trim_start();
            if t.starts_with("- ") {
                in_item = true;
            } else if t.is_empty() || !line.starts_with(' ') {
                in_item = false;
            }
            if !in_item {
                continue;
            }
            for token in line.split('`').skip(1).step_by(2) {
                let matches = |p: &&Param| match token.strip_suffix('*') {
                    Some(prefix) => p.name.starts_with(prefix),
                    None => p.name == token,
                };
                names.extend(PARAMS.iter().filter(matches).map(|p| p.name));
            }
        }
        names
    }

    #[test]
    fn readme_lists_exactly_what_is_not_implemented() {
        let table: BTreeSet<&str> = PARAMS
            .iter()
            .filter(|p| p.support != Implemented)
            .map(|p| p.name)
            .collect();
        let readme = readme_names();
        let missing: Vec<_> = table.difference(&readme).collect();
        let extra: Vec<_> = readme.difference(&table).collect();
        assert!(
            missing.is_empty() && extra.is_empty(),
            "README.md's \"What is not implemented\" disagrees with the table: not listed \
             {missing:?}; listed but implemented {extra:?}"
        );
    }

    #[test]
    fn names_are_unique_and_lowercase() {
        let mut seen = BTreeSet::new();
        for p in PARAMS {
            for n in std::iter::once(p.name).chain(p.alias) {
                assert!(seen.insert(n), "{n} twice");
                assert_eq!(n, n.to_ascii_lowercase());
            }
        }
        assert_eq!(find("SLAVEOF").map(|p| p.name), Some("replicaof"));
        assert!(find("nosuch").is_none());
    }

    #[test]
    fn only_off_is_accepted_where_refused() {
        for p in PARAMS.iter().filter(|p| p.support == Refused) {
            assert!(p.parse(p.default, p.default).is_ok(), "{}", p.name);
        }
        // The AOF exists now: `appendonly yes` is a value like any other.
        assert!(find("appendonly")
            .expect("appendonly")
            .parse("yes", "no")
            .is_ok());
    }
}
