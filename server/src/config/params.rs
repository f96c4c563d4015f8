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
    pub default: &'static str,
    /// Refused by CONFIG SET (settable only at startup).
    pub immutable: bool,
    /// Another name for the same parameter (`slaveof` / `replicaof`).
    pub alias: Option<&'static str>,
}

const fn p(name: &'static str, kind: Kind, default: &'static str) -> Param {
    Param {
        name,
        kind,
        default,
        immutable: false,
        alias: None,
    }
}
const fn fixed(name: &'static str, kind: Kind, default: &'static str) -> Param {
    Param {
        name,
        kind,
        default,
        immutable: true,
        alias: None,
    }
}

const YESNO: Kind = Kind::Bool;
const INT: Kind = Kind::Int {
    min: 0,
    max: i32::MAX as i64,
};
const MEM: Kind = Kind::Memory {
    min: 0,
    max: u64::MAX,
};

/// All parameters.
pub static PARAMS: &[Param] = &[
    p("bind", Kind::Str, "127.0.0.1 -::1"),
    p("port", Kind::Int { min: 0, max: 65535 }, "6379"),
    p("requirepass", Kind::Str, ""),
    p(
        "maxclients",
        Kind::Int {
            min: 1,
            max: i32::MAX as i64,
        },
        "10000",
    ),
    p(
        "proto-max-bulk-len",
        Kind::Memory {
            min: 1024 * 1024,
            max: i64::MAX as u64,
        },
        "536870912",
    ),
    p(
        "client-query-buffer-limit",
        Kind::Memory {
            min: 1024 * 1024,
            max: i64::MAX as u64,
        },
        "1073741824",
    ),
    p(
        "loglevel",
        Kind::Enum(&["debug", "verbose", "notice", "warning", "nothing"]),
        "notice",
    ),
    p("logfile", Kind::Str, ""),
    fixed(
        "databases",
        Kind::Int {
            min: 1,
            max: i32::MAX as i64,
        },
        "16",
    ),
    p("dir", Kind::Str, "."),
    p("protected-mode", YESNO, "yes"),
    p("timeout", INT, "0"),
    p("tcp-keepalive", INT, "300"),
    p("maxmemory", MEM, "0"),
    p(
        "maxmemory-policy",
        Kind::Enum(&[
            "volatile-lru",
            "volatile-lfu",
            "volatile-random",
            "volatile-ttl",
            "allkeys-lru",
            "allkeys-lfu",
            "allkeys-random",
            "noeviction",
        ]),
        "noeviction",
    ),
    p("notify-keyspace-events", Kind::Str, ""),
    p(
        "slowlog-log-slower-than",
        Kind::Int {
            min: -1,
            max: i64::MAX,
        },
        "10000",
    ),
    p(
        "slowlog-max-len",
        Kind::Int {
            min: 0,
            max: i64::MAX,
        },
        "128",
    ),
    p("appendonly", YESNO, "no"),
    p("save", Kind::Str, ""),
    p("daemonize", YESNO, "no"),
    p("hash-max-listpack-entries", MEM, "128"),
    p("hash-max-listpack-value", MEM, "64"),
    p(
        "list-max-listpack-size",
        Kind::Int {
            min: i32::MIN as i64,
            max: i32::MAX as i64,
        },
        "-2",
    ),
    p("list-compress-depth", INT, "0"),
    p("set-max-intset-entries", MEM, "512"),
    p("zset-max-listpack-entries", MEM, "128"),
    p("zset-max-listpack-value", MEM, "64"),
    p(
        "client-output-buffer-limit",
        Kind::Str,
        "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60",
    ),
    p("io-threads", Kind::Int { min: 1, max: 128 }, "1"),
    // respd's own: runtime worker threads, 0 = one per core but one.
    fixed("worker-threads", Kind::Int { min: 0, max: 1024 }, "0"),
    p("unixsocket", Kind::Str, ""),
    p("tls-port", Kind::Int { min: 0, max: 65535 }, "0"),
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
