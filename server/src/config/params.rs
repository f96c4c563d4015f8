//! The parameter table: every name of Redis 7's redis.conf, its type, range and default.

use super::parse_memory;

/// What values a parameter takes.
#[derive(Debug, Clone, Copy)]
pub enum Kind {
    Bool,
    Int { min: i64, max: i64 },
    Memory { min: u64, max: u64 },
    Enum(&'static [&'static str]),
    Str,
}

/// One configuration parameter.
#[derive(Debug)]
pub struct Param {
    pub name: &'static str,
    pub kind: Kind,
    /// The default, in CONFIG GET form.
    pub default: &'static str,
    /// Refused by CONFIG SET (settable only at startup).
    pub immutable: bool,
    /// Refused by CONFIG SET unless `enable-protected-configs` allows it (Redis 7).
    pub protected: bool,
    /// The older name of the same parameter (`slaveof` for `replicaof`).
    pub alias: Option<&'static str>,
}

/// Every parameter of Redis 7.0's redis.conf (read off `CONFIG GET *` of redis-server 7.0.15),
/// with Redis's types and ranges, plus respd's own at the end.
#[rustfmt::skip]
pub static PARAMS: &[Param] = &[
    Param { name: "acl-pubsub-default", kind: Kind::Enum(&["allchannels", "resetchannels"]), default: "resetchannels", immutable: false, protected: false, alias: None },
    Param { name: "aclfile", kind: Kind::Str, default: "", immutable: true, protected: false, alias: None },
    Param { name: "acllog-max-len", kind: Kind::Int { min: 0, max: i64::MAX }, default: "128", immutable: false, protected: false, alias: None },
    Param { name: "active-defrag-cycle-max", kind: Kind::Int { min: 1, max: 99 }, default: "25", immutable: false, protected: false, alias: None },
    Param { name: "active-defrag-cycle-min", kind: Kind::Int { min: 1, max: 99 }, default: "1", immutable: false, protected: false, alias: None },
    Param { name: "active-defrag-ignore-bytes", kind: Kind::Memory { min: 1, max: i64::MAX as u64 }, default: "104857600", immutable: false, protected: false, alias: None },
    Param { name: "active-defrag-max-scan-fields", kind: Kind::Int { min: 1, max: i64::MAX }, default: "1000", immutable: false, protected: false, alias: None },
    Param { name: "active-defrag-threshold-lower", kind: Kind::Int { min: 0, max: 1000 }, default: "10", immutable: false, protected: false, alias: None },
    Param { name: "active-defrag-threshold-upper", kind: Kind::Int { min: 0, max: 1000 }, default: "100", immutable: false, protected: false, alias: None },
    Param { name: "active-expire-effort", kind: Kind::Int { min: 1, max: 10 }, default: "1", immutable: false, protected: false, alias: None },
    Param { name: "activedefrag", kind: Kind::Bool, default: "no", immutable: false, protected: false, alias: None },
    Param { name: "activerehashing", kind: Kind::Bool, default: "yes", immutable: false, protected: false, alias: None },
    Param { name: "always-show-logo", kind: Kind::Bool, default: "no", immutable: true, protected: false, alias: None },
    Param { name: "aof-disable-auto-gc", kind: Kind::Bool, default: "no", immutable: false, protected: false, alias: None },
    Param { name: "aof-load-truncated", kind: Kind::Bool, default: "yes", immutable: false, protected: false, alias: None },
    Param { name: "aof-rewrite-incremental-fsync", kind: Kind::Bool, default: "yes", immutable: false, protected: false, alias: None },
    Param { name: "aof-timestamp-enabled", kind: Kind::Bool, default: "no", immutable: false, protected: false, alias: None },
    Param { name: "aof-use-rdb-preamble", kind: Kind::Bool, default: "yes", immutable: false, protected: false, alias: None },
    Param { name: "aof_rewrite_cpulist", kind: Kind::Str, default: "", immutable: true, protected: false, alias: None },
    Param { name: "appenddirname", kind: Kind::Str, default: "appendonlydir", immutable: true, protected: false, alias: None },
    Param { name: "appendfilename", kind: Kind::Str, default: "appendonly.aof", immutable: true, protected: false, alias: None },
    Param { name: "appendfsync", kind: Kind::Enum(&["everysec", "always", "no"]), default: "everysec", immutable: false, protected: false, alias: None },
    Param { name: "appendonly", kind: Kind::Bool, default: "no", immutable: false, protected: false, alias: None },
    Param { name: "auto-aof-rewrite-min-size", kind: Kind::Memory { min: 0, max: i64::MAX as u64 }, default: "67108864", immutable: false, protected: false, alias: None },
    Param { name: "auto-aof-rewrite-percentage", kind: Kind::Int { min: 0, max: i32::MAX as i64 }, default: "100", immutable: false, protected: false, alias: None },
    Param { name: "bgsave_cpulist", kind: Kind::Str, default: "", immutable: true, protected: false, alias: None },
    Param { name: "bind", kind: Kind::Str, default: "127.0.0.1 -::1", immutable: false, protected: false, alias: None },
    Param { name: "bind-source-addr", kind: Kind::Str, default: "", immutable: false, protected: false, alias: None },
    Param { name: "bio_cpulist", kind: Kind::Str, default: "", immutable: true, protected: false, alias: None },
    Param { name: "busy-reply-threshold", kind: Kind::Int { min: 0, max: i64::MAX }, default: "5000", immutable: false, protected: false, alias: Some("lua-time-limit") },
    Param { name: "client-output-buffer-limit", kind: Kind::Str, default: "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60", immutable: false, protected: false, alias: None },
    Param { name: "client-query-buffer-limit", kind: Kind::Memory { min: 1048576, max: i64::MAX as u64 }, default: "1073741824", immutable: false, protected: false, alias: None },
    Param { name: "cluster-allow-pubsubshard-when-down", kind: Kind::Bool, default: "yes", immutable: false, protected: false, alias: None },
    Param { name: "cluster-allow-reads-when-down", kind: Kind::Bool, default: "no", immutable: false, protected: false, alias: None },
    Param { name: "cluster-allow-replica-migration", kind: Kind::Bool, default: "yes", immutable: false, protected: false, alias: None },
    Param { name: "cluster-announce-bus-port", kind: Kind::Int { min: 0, max: 65535 }, default: "0", immutable: false, protected: false, alias: None },
    Param { name: "cluster-announce-hostname", kind: Kind::Str, default: "", immutable: false, protected: false, alias: None },
    Param { name: "cluster-announce-ip", kind: Kind::Str, default: "", immutable: false, protected: false, alias: None },
    Param { name: "cluster-announce-port", kind: Kind::Int { min: 0, max: 65535 }, default: "0", immutable: false, protected: false, alias: None },
    Param { name: "cluster-announce-tls-port", kind: Kind::Int { min: 0, max: 65535 }, default: "0", immutable: false, protected: false, alias: None },
    Param { name: "cluster-config-file", kind: Kind::Str, default: "nodes.conf", immutable: true, protected: false, alias: None },
    Param { name: "cluster-enabled", kind: Kind::Bool, default: "no", immutable: true, protected: false, alias: None },
    Param { name: "cluster-link-sendbuf-limit", kind: Kind::Memory { min: 0, max: u64::MAX }, default: "0", immutable: false, protected: false, alias: None },
    Param { name: "cluster-migration-barrier", kind: Kind::Int { min: 0, max: i32::MAX as i64 }, default: "1", immutable: false, protected: false, alias: None },
    Param { name: "cluster-node-timeout", kind: Kind::Int { min: 0, max: i64::MAX }, default: "15000", immutable: false, protected: false, alias: None },
    Param { name: "cluster-port", kind: Kind::Int { min: 0, max: 65535 }, default: "0", immutable: true, protected: false, alias: None },
    Param { name: "cluster-preferred-endpoint-type", kind: Kind::Enum(&["ip", "hostname", "unknown-endpoint"]), default: "ip", immutable: false, protected: false, alias: None },
    Param { name: "cluster-replica-no-failover", kind: Kind::Bool, default: "no", immutable: false, protected: false, alias: Some("cluster-slave-no-failover") },
    Param { name: "cluster-replica-validity-factor", kind: Kind::Int { min: 0, max: i32::MAX as i64 }, default: "10", immutable: false, protected: false, alias: Some("cluster-slave-validity-factor") },
    Param { name: "cluster-require-full-coverage", kind: Kind::Bool, default: "yes", immutable: false, protected: false, alias: None },
    Param { name: "crash-log-enabled", kind: Kind::Bool, default: "yes", immutable: false, protected: false, alias: None },
    Param { name: "crash-memcheck-enabled", kind: Kind::Bool, default: "yes", immutable: false, protected: false, alias: None },
    Param { name: "daemonize", kind: Kind::Bool, default: "no", immutable: true, protected: false, alias: None },
    Param { name: "databases", kind: Kind::Int { min: 1, max: i32::MAX as i64 }, default: "16", immutable: true, protected: false, alias: None },
    Param { name: "dbfilename", kind: Kind::Str, default: "dump.rdb", immutable: false, protected: true, alias: None },
    Param { name: "dir", kind: Kind::Str, default: ".", immutable: false, protected: true, alias: None },
    Param { name: "disable-thp", kind: Kind::Bool, default: "yes", immutable: true, protected: false, alias: None },
    Param { name: "dynamic-hz", kind: Kind::Bool, default: "yes", immutable: false, protected: false, alias: None },
    Param { name: "enable-debug-command", kind: Kind::Enum(&["no", "yes", "local"]), default: "no", immutable: true, protected: false, alias: None },
    Param { name: "enable-module-command", kind: Kind::Enum(&["no", "yes", "local"]), default: "no", immutable: true, protected: false, alias: None },
    Param { name: "enable-protected-configs", kind: Kind::Enum(&["no", "yes", "local"]), default: "no", immutable: true, protected: false, alias: None },
    Param { name: "hash-max-listpack-entries", kind: Kind::Int { min: 0, max: i64::MAX }, default: "512", immutable: false, protected: false, alias: Some("hash-max-ziplist-entries") },
    Param { name: "hash-max-listpack-value", kind: Kind::Memory { min: 0, max: i64::MAX as u64 }, default: "64", immutable: false, protected: false, alias: Some("hash-max-ziplist-value") },
    Param { name: "hll-sparse-max-bytes", kind: Kind::Memory { min: 0, max: i64::MAX as u64 }, default: "3000", immutable: false, protected: false, alias: None },
    Param { name: "hz", kind: Kind::Int { min: 0, max: i32::MAX as i64 }, default: "10", immutable: false, protected: false, alias: None },
    Param { name: "ignore-warnings", kind: Kind::Str, default: "", immutable: false, protected: false, alias: None },
    Param { name: "io-threads", kind: Kind::Int { min: 1, max: 128 }, default: "1", immutable: true, protected: false, alias: None },
    Param { name: "io-threads-do-reads", kind: Kind::Bool, default: "no", immutable: true, protected: false, alias: None },
    Param { name: "jemalloc-bg-thread", kind: Kind::Bool, default: "yes", immutable: false, protected: false, alias: None },
    Param { name: "latency-monitor-threshold", kind: Kind::Int { min: 0, max: i64::MAX }, default: "0", immutable: false, protected: false, alias: None },
    Param { name: "latency-tracking", kind: Kind::Bool, default: "yes", immutable: false, protected: false, alias: None },
    Param { name: "latency-tracking-info-percentiles", kind: Kind::Str, default: "50 99 99.9", immutable: false, protected: false, alias: None },
    Param { name: "lazyfree-lazy-eviction", kind: Kind::Bool, default: "no", immutable: false, protected: false, alias: None },
    Param { name: "lazyfree-lazy-expire", kind: Kind::Bool, default: "no", immutable: false, protected: false, alias: None },
    Param { name: "lazyfree-lazy-server-del", kind: Kind::Bool, default: "no", immutable: false, protected: false, alias: None },
    Param { name: "lazyfree-lazy-user-del", kind: Kind::Bool, default: "no", immutable: false, protected: false, alias: None },
    Param { name: "lazyfree-lazy-user-flush", kind: Kind::Bool, default: "no", immutable: false, protected: false, alias: None },
    Param { name: "lfu-decay-time", kind: Kind::Int { min: 0, max: i32::MAX as i64 }, default: "1", immutable: false, protected: false, alias: None },
    Param { name: "lfu-log-factor", kind: Kind::Int { min: 0, max: i32::MAX as i64 }, default: "10", immutable: false, protected: false, alias: None },
    Param { name: "list-compress-depth", kind: Kind::Int { min: 0, max: i32::MAX as i64 }, default: "0", immutable: false, protected: false, alias: None },
    Param { name: "list-max-listpack-size", kind: Kind::Int { min: i32::MIN as i64, max: i32::MAX as i64 }, default: "-2", immutable: false, protected: false, alias: Some("list-max-ziplist-size") },
    Param { name: "logfile", kind: Kind::Str, default: "", immutable: true, protected: false, alias: None },
    Param { name: "loglevel", kind: Kind::Enum(&["debug", "verbose", "notice", "warning"]), default: "notice", immutable: false, protected: false, alias: None },
    Param { name: "masterauth", kind: Kind::Str, default: "", immutable: false, protected: false, alias: None },
    Param { name: "masteruser", kind: Kind::Str, default: "", immutable: false, protected: false, alias: None },
    Param { name: "maxclients", kind: Kind::Int { min: 1, max: i32::MAX as i64 }, default: "10000", immutable: false, protected: false, alias: None },
    Param { name: "maxmemory", kind: Kind::Memory { min: 0, max: u64::MAX }, default: "0", immutable: false, protected: false, alias: None },
    Param { name: "maxmemory-clients", kind: Kind::Str, default: "0", immutable: false, protected: false, alias: None },
    Param { name: "maxmemory-eviction-tenacity", kind: Kind::Int { min: 0, max: 100 }, default: "10", immutable: false, protected: false, alias: None },
    Param { name: "maxmemory-policy", kind: Kind::Enum(&["volatile-lru", "volatile-lfu", "volatile-random", "volatile-ttl", "allkeys-lru", "allkeys-lfu", "allkeys-random", "noeviction"]), default: "noeviction", immutable: false, protected: false, alias: None },
    Param { name: "maxmemory-samples", kind: Kind::Int { min: 1, max: i32::MAX as i64 }, default: "5", immutable: false, protected: false, alias: None },
    Param { name: "min-replicas-max-lag", kind: Kind::Int { min: 0, max: i32::MAX as i64 }, default: "10", immutable: false, protected: false, alias: Some("min-slaves-max-lag") },
    Param { name: "min-replicas-to-write", kind: Kind::Int { min: 0, max: i32::MAX as i64 }, default: "0", immutable: false, protected: false, alias: Some("min-slaves-to-write") },
    Param { name: "no-appendfsync-on-rewrite", kind: Kind::Bool, default: "no", immutable: false, protected: false, alias: None },
    Param { name: "notify-keyspace-events", kind: Kind::Str, default: "", immutable: false, protected: false, alias: None },
    Param { name: "oom-score-adj", kind: Kind::Enum(&["no", "yes", "relative", "absolute"]), default: "no", immutable: false, protected: false, alias: None },
    Param { name: "oom-score-adj-values", kind: Kind::Str, default: "0 200 800", immutable: false, protected: false, alias: None },
    Param { name: "pidfile", kind: Kind::Str, default: "", immutable: true, protected: false, alias: None },
    Param { name: "port", kind: Kind::Int { min: 0, max: 65535 }, default: "6379", immutable: false, protected: false, alias: None },
    Param { name: "proc-title-template", kind: Kind::Str, default: "{title} {listen-addr} {server-mode}", immutable: false, protected: false, alias: None },
    Param { name: "propagation-error-behavior", kind: Kind::Enum(&["ignore", "panic", "panic-on-replicas"]), default: "ignore", immutable: false, protected: false, alias: None },
    Param { name: "protected-mode", kind: Kind::Bool, default: "yes", immutable: false, protected: false, alias: None },
    Param { name: "proto-max-bulk-len", kind: Kind::Memory { min: 1048576, max: i64::MAX as u64 }, default: "536870912", immutable: false, protected: false, alias: None },
    Param { name: "rdb-del-sync-files", kind: Kind::Bool, default: "no", immutable: false, protected: false, alias: None },
    Param { name: "rdb-save-incremental-fsync", kind: Kind::Bool, default: "yes", immutable: false, protected: false, alias: None },
    Param { name: "rdbchecksum", kind: Kind::Bool, default: "yes", immutable: false, protected: false, alias: None },
    Param { name: "rdbcompression", kind: Kind::Bool, default: "yes", immutable: false, protected: false, alias: None },
    Param { name: "repl-backlog-size", kind: Kind::Memory { min: 1, max: i64::MAX as u64 }, default: "1048576", immutable: false, protected: false, alias: None },
    Param { name: "repl-backlog-ttl", kind: Kind::Int { min: 0, max: i32::MAX as i64 }, default: "3600", immutable: false, protected: false, alias: None },
    Param { name: "repl-disable-tcp-nodelay", kind: Kind::Bool, default: "no", immutable: false, protected: false, alias: None },
    Param { name: "repl-diskless-load", kind: Kind::Enum(&["disabled", "on-empty-db", "swapdb"]), default: "disabled", immutable: false, protected: false, alias: None },
    Param { name: "repl-diskless-sync", kind: Kind::Bool, default: "yes", immutable: false, protected: false, alias: None },
    Param { name: "repl-diskless-sync-delay", kind: Kind::Int { min: 0, max: i32::MAX as i64 }, default: "5", immutable: false, protected: false, alias: None },
    Param { name: "repl-diskless-sync-max-replicas", kind: Kind::Int { min: 0, max: i32::MAX as i64 }, default: "0", immutable: false, protected: false, alias: None },
    Param { name: "repl-ping-replica-period", kind: Kind::Int { min: 1, max: i32::MAX as i64 }, default: "10", immutable: false, protected: false, alias: Some("repl-ping-slave-period") },
    Param { name: "repl-timeout", kind: Kind::Int { min: 1, max: i32::MAX as i64 }, default: "60", immutable: false, protected: false, alias: None },
    Param { name: "replica-announce-ip", kind: Kind::Str, default: "", immutable: false, protected: false, alias: Some("slave-announce-ip") },
    Param { name: "replica-announce-port", kind: Kind::Int { min: 0, max: 65535 }, default: "0", immutable: false, protected: false, alias: Some("slave-announce-port") },
    Param { name: "replica-announced", kind: Kind::Bool, default: "yes", immutable: false, protected: false, alias: None },
    Param { name: "replica-ignore-disk-write-errors", kind: Kind::Bool, default: "no", immutable: false, protected: false, alias: None },
    Param { name: "replica-ignore-maxmemory", kind: Kind::Bool, default: "yes", immutable: false, protected: false, alias: Some("slave-ignore-maxmemory") },
    Param { name: "replica-lazy-flush", kind: Kind::Bool, default: "no", immutable: false, protected: false, alias: Some("slave-lazy-flush") },
    Param { name: "replica-priority", kind: Kind::Int { min: 0, max: i32::MAX as i64 }, default: "100", immutable: false, protected: false, alias: Some("slave-priority") },
    Param { name: "replica-read-only", kind: Kind::Bool, default: "yes", immutable: false, protected: false, alias: Some("slave-read-only") },
    Param { name: "replica-serve-stale-data", kind: Kind::Bool, default: "yes", immutable: false, protected: false, alias: Some("slave-serve-stale-data") },
    Param { name: "replicaof", kind: Kind::Str, default: "", immutable: false, protected: false, alias: Some("slaveof") },
    Param { name: "requirepass", kind: Kind::Str, default: "", immutable: false, protected: false, alias: None },
    Param { name: "sanitize-dump-payload", kind: Kind::Enum(&["no", "yes", "clients"]), default: "no", immutable: false, protected: false, alias: None },
    Param { name: "save", kind: Kind::Str, default: "", immutable: false, protected: false, alias: None },
    Param { name: "server_cpulist", kind: Kind::Str, default: "", immutable: true, protected: false, alias: None },
    Param { name: "set-max-intset-entries", kind: Kind::Int { min: 0, max: i64::MAX }, default: "512", immutable: false, protected: false, alias: None },
    Param { name: "set-proc-title", kind: Kind::Bool, default: "yes", immutable: false, protected: false, alias: None },
    Param { name: "shutdown-on-sigint", kind: Kind::Str, default: "default", immutable: false, protected: false, alias: None },
    Param { name: "shutdown-on-sigterm", kind: Kind::Str, default: "default", immutable: false, protected: false, alias: None },
    Param { name: "shutdown-timeout", kind: Kind::Int { min: 0, max: i32::MAX as i64 }, default: "10", immutable: false, protected: false, alias: None },
    Param { name: "slowlog-log-slower-than", kind: Kind::Int { min: -1, max: i64::MAX }, default: "10000", immutable: false, protected: false, alias: None },
    Param { name: "slowlog-max-len", kind: Kind::Int { min: 0, max: i64::MAX }, default: "128", immutable: false, protected: false, alias: None },
    Param { name: "socket-mark-id", kind: Kind::Int { min: 0, max: 4294967295 }, default: "0", immutable: false, protected: false, alias: None },
    Param { name: "stop-writes-on-bgsave-error", kind: Kind::Bool, default: "yes", immutable: false, protected: false, alias: None },
    Param { name: "stream-node-max-bytes", kind: Kind::Memory { min: 0, max: i64::MAX as u64 }, default: "4096", immutable: false, protected: false, alias: None },
    Param { name: "stream-node-max-entries", kind: Kind::Int { min: 0, max: i64::MAX }, default: "100", immutable: false, protected: false, alias: None },
    Param { name: "supervised", kind: Kind::Enum(&["upstart", "systemd", "auto", "no"]), default: "no", immutable: true, protected: false, alias: None },
    Param { name: "syslog-enabled", kind: Kind::Bool, default: "no", immutable: true, protected: false, alias: None },
    Param { name: "syslog-facility", kind: Kind::Enum(&["user", "local0", "local1", "local2", "local3", "local4", "local5", "local6", "local7"]), default: "local0", immutable: true, protected: false, alias: None },
    Param { name: "syslog-ident", kind: Kind::Str, default: "redis", immutable: true, protected: false, alias: None },
    Param { name: "tcp-backlog", kind: Kind::Int { min: 0, max: i32::MAX as i64 }, default: "511", immutable: true, protected: false, alias: None },
    Param { name: "tcp-keepalive", kind: Kind::Int { min: 0, max: i32::MAX as i64 }, default: "300", immutable: false, protected: false, alias: None },
    Param { name: "timeout", kind: Kind::Int { min: 0, max: i32::MAX as i64 }, default: "0", immutable: false, protected: false, alias: None },
    Param { name: "tls-auth-clients", kind: Kind::Enum(&["no", "yes", "optional"]), default: "yes", immutable: false, protected: false, alias: None },
    Param { name: "tls-ca-cert-dir", kind: Kind::Str, default: "", immutable: false, protected: false, alias: None },
    Param { name: "tls-ca-cert-file", kind: Kind::Str, default: "", immutable: false, protected: false, alias: None },
    Param { name: "tls-cert-file", kind: Kind::Str, default: "", immutable: false, protected: false, alias: None },
    Param { name: "tls-ciphers", kind: Kind::Str, default: "", immutable: false, protected: false, alias: None },
    Param { name: "tls-ciphersuites", kind: Kind::Str, default: "", immutable: false, protected: false, alias: None },
    Param { name: "tls-client-cert-file", kind: Kind::Str, default: "", immutable: false, protected: false, alias: None },
    Param { name: "tls-client-key-file", kind: Kind::Str, default: "", immutable: false, protected: false, alias: None },
    Param { name: "tls-client-key-file-pass", kind: Kind::Str, default: "", immutable: false, protected: false, alias: None },
    Param { name: "tls-cluster", kind: Kind::Bool, default: "no", immutable: false, protected: false, alias: None },
    Param { name: "tls-dh-params-file", kind: Kind::Str, default: "", immutable: false, protected: false, alias: None },
    Param { name: "tls-key-file", kind: Kind::Str, default: "", immutable: false, protected: false, alias: None },
    Param { name: "tls-key-file-pass", kind: Kind::Str, default: "", immutable: false, protected: false, alias: None },
    Param { name: "tls-port", kind: Kind::Int { min: 0, max: 65535 }, default: "0", immutable: false, protected: false, alias: None },
    Param { name: "tls-prefer-server-ciphers", kind: Kind::Bool, default: "no", immutable: false, protected: false, alias: None },
    Param { name: "tls-protocols", kind: Kind::Str, default: "", immutable: false, protected: false, alias: None },
    Param { name: "tls-replication", kind: Kind::Bool, default: "no", immutable: false, protected: false, alias: None },
    Param { name: "tls-session-cache-size", kind: Kind::Int { min: 0, max: i32::MAX as i64 }, default: "20480", immutable: false, protected: false, alias: None },
    Param { name: "tls-session-cache-timeout", kind: Kind::Int { min: 0, max: i32::MAX as i64 }, default: "300", immutable: false, protected: false, alias: None },
    Param { name: "tls-session-caching", kind: Kind::Bool, default: "yes", immutable: false, protected: false, alias: None },
    Param { name: "tracking-table-max-keys", kind: Kind::Int { min: 0, max: i64::MAX }, default: "1000000", immutable: false, protected: false, alias: None },
    Param { name: "unixsocket", kind: Kind::Str, default: "", immutable: true, protected: false, alias: None },
    Param { name: "unixsocketperm", kind: Kind::Int { min: 0, max: 511 }, default: "0", immutable: true, protected: false, alias: None },
    Param { name: "zset-max-listpack-entries", kind: Kind::Int { min: 0, max: i64::MAX }, default: "128", immutable: false, protected: false, alias: Some("zset-max-ziplist-entries") },
    Param { name: "zset-max-listpack-value", kind: Kind::Memory { min: 0, max: i64::MAX as u64 }, default: "64", immutable: false, protected: false, alias: Some("zset-max-ziplist-value") },
    // respd's own: runtime worker threads, 0 = one per core but one.
    Param { name: "worker-threads", kind: Kind::Int { min: 0, max: 1024 }, default: "0", immutable: true, protected: false, alias: None },

];

/// Finds a parameter by name (case-insensitive) or alias.
pub fn find(name: &str) -> Option<&'static Param> {
    PARAMS.iter().find(|p| {
        p.name.eq_ignore_ascii_case(name) || p.alias.is_some_and(|a| a.eq_ignore_ascii_case(name))
    })
}

impl Param {
    /// Checks a value and returns it in CONFIG GET form; the error is Redis's reason text.
    pub fn normalize(&self, value: &str) -> Result<String, String> {
        match self.kind {
            Kind::Bool => match value.to_ascii_lowercase().as_str() {
                "yes" => Ok("yes".into()),
                "no" => Ok("no".into()),
                _ => Err("argument must be 'yes' or 'no'".into()),
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
                Ok(v.to_string())
            }
            Kind::Memory { min, max } => {
                let v = if let Some(neg) = value.strip_prefix('-') {
                    // Negative memory values are refused like Redis does for unsigned sizes.
                    let _ = neg;
                    return Err("argument must be a memory value".into());
                } else {
                    parse_memory(value)
                        .ok_or_else(|| "argument must be a memory value".to_string())?
                };
                if v < min || v > max {
                    return Err(format!(
                        "argument must be between {min} and {max} inclusive"
                    ));
                }
                Ok(v.to_string())
            }
            Kind::Enum(opts) => {
                let l = value.to_ascii_lowercase();
                if opts.contains(&l.as_str()) {
                    Ok(l)
                } else {
                    Err(format!(
                        "argument(s) must be one of the following: {}",
                        opts.join(", ")
                    ))
                }
            }
            Kind::Str => Ok(value.to_string()),
        }
    }
}
