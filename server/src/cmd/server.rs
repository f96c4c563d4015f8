//! Server commands: INFO, CONFIG, COMMAND, TIME, SLOWLOG, MEMORY, SHUTDOWN, LASTSAVE.

use super::{eq, glob_match, help_reply, int, syntax, table, text, CommandSpec, Ctx, Flags};
use crate::resp::Reply;
use crate::{command, container, subcommand};
use bytes::Bytes;
use std::fmt::Write;
use std::sync::atomic::Ordering::Relaxed;

const ADMIN: Flags = Flags(Flags::ADMIN.0 | Flags::NOSCRIPT.0 | Flags::LOADING.0 | Flags::STALE.0);
const LS: Flags = Flags(Flags::LOADING.0 | Flags::STALE.0);
const ACL_A: &[&str] = &["admin", "slow", "dangerous"];
const ACL_S: &[&str] = &["slow", "connection"];

/// The server family.
pub static COMMANDS: &[CommandSpec] = &[
    command!(
        "info",
        -1,
        LS,
        (0, 0, 0),
        "server",
        "1.0.0",
        &["slow", "dangerous"],
        info,
        "Returns information and statistics about the server."
    ),
    container!(
        "config",
        -2,
        Flags::NONE,
        "server",
        "2.0.0",
        CONFIG_SUBS,
        "A container for server configuration commands."
    ),
    // A container that also answers alone (the whole table), in @connection as in Redis.
    CommandSpec {
        acl: &["connection"],
        ..container!(
            "command",
            -1,
            LS,
            "server",
            "2.8.13",
            COMMAND_SUBS,
            "Returns detailed information about all commands."
        )
    },
    command!(
        "time",
        1,
        Flags(LS.0 | Flags::FAST.0),
        (0, 0, 0),
        "server",
        "2.6.0",
        &["fast"],
        time,
        "Returns the server time."
    ),
    container!(
        "slowlog",
        -2,
        Flags::NONE,
        "server",
        "2.2.12",
        SLOWLOG_SUBS,
        "A container for slow log commands."
    ),
    container!(
        "memory",
        -2,
        Flags::NONE,
        "server",
        "4.0.0",
        MEMORY_SUBS,
        "A container for memory diagnostics commands."
    ),
    command!(
        "shutdown",
        -1,
        Flags(ADMIN.0 | Flags::NO_MULTI.0 | Flags::ALLOW_BUSY.0 | Flags::SENTINEL.0),
        (0, 0, 0),
        "server",
        "1.0.0",
        ACL_A,
        shutdown,
        "Synchronously saves the database(s) to disk and shuts down the Redis server."
    ),
    command!(
        "lastsave",
        1,
        Flags(LS.0 | Flags::FAST.0),
        (0, 0, 0),
        "server",
        "1.0.0",
        &["fast", "admin", "dangerous"],
        lastsave,
        "Returns the Unix timestamp of the last successful save to disk."
    ),
];

static CONFIG_SUBS: &[CommandSpec] = &[
    subcommand!(
        "config",
        "get",
        -3,
        ADMIN,
        (0, 0, 0),
        "2.0.0",
        ACL_A,
        config_get,
        "Returns the effective values of configuration parameters."
    ),
    subcommand!(
        "config",
        "set",
        -4,
        ADMIN,
        (0, 0, 0),
        "2.0.0",
        ACL_A,
        config_set,
        "Sets configuration parameters in-flight."
    ),
    subcommand!(
        "config",
        "resetstat",
        2,
        ADMIN,
        (0, 0, 0),
        "2.0.0",
        ACL_A,
        config_resetstat,
        "Resets the server's statistics."
    ),
    subcommand!(
        "config",
        "help",
        2,
        LS,
        (0, 0, 0),
        "5.0.0",
        &["slow"],
        config_help,
        "Returns helpful text about the different subcommands."
    ),
];

static COMMAND_SUBS: &[CommandSpec] = &[
    subcommand!(
        "command",
        "count",
        2,
        LS,
        (0, 0, 0),
        "2.8.13",
        ACL_S,
        command_count,
        "Returns a count of commands."
    ),
    subcommand!(
        "command",
        "info",
        -2,
        LS,
        (0, 0, 0),
        "2.8.13",
        ACL_S,
        command_info,
        "Returns information about one, multiple or all commands."
    ),
    subcommand!(
        "command",
        "docs",
        -2,
        LS,
        (0, 0, 0),
        "7.0.0",
        ACL_S,
        command_docs,
        "Returns documentary information about one, multiple or all commands."
    ),
    subcommand!(
        "command",
        "list",
        -2,
        LS,
        (0, 0, 0),
        "7.0.0",
        ACL_S,
        command_list,
        "Returns a list of command names."
    ),
    subcommand!(
        "command",
        "getkeys",
        -4,
        LS,
        (0, 0, 0),
        "2.8.13",
        ACL_S,
        command_getkeys,
        "Extracts the key names from an arbitrary command."
    ),
    subcommand!(
        "command",
        "help",
        2,
        LS,
        (0, 0, 0),
        "5.0.0",
        ACL_S,
        command_help,
        "Returns helpful text about the different subcommands."
    ),
];

static SLOWLOG_SUBS: &[CommandSpec] = &[
    subcommand!(
        "slowlog",
        "get",
        -2,
        Flags(Flags::ADMIN.0 | LS.0),
        (0, 0, 0),
        "2.2.12",
        ACL_A,
        slowlog_get,
        "Returns the slow log's entries."
    ),
    subcommand!(
        "slowlog",
        "len",
        2,
        Flags(Flags::ADMIN.0 | LS.0),
        (0, 0, 0),
        "2.2.12",
        ACL_A,
        slowlog_len,
        "Returns the number of entries in the slow log."
    ),
    subcommand!(
        "slowlog",
        "reset",
        2,
        Flags(Flags::ADMIN.0 | LS.0),
        (0, 0, 0),
        "2.2.12",
        ACL_A,
        slowlog_reset,
        "Clears all entries from the slow log."
    ),
    subcommand!(
        "slowlog",
        "help",
        2,
        LS,
        (0, 0, 0),
        "6.2.0",
        &["slow"],
        slowlog_help,
        "Show helpful text about the different subcommands"
    ),
];

static MEMORY_SUBS: &[CommandSpec] = &[
    subcommand!(
        "memory",
        "usage",
        -3,
        Flags::READONLY,
        (2, 2, 1),
        "4.0.0",
        &["read", "slow"],
        memory_usage,
        "Estimates the memory usage of a key."
    ),
    subcommand!(
        "memory",
        "stats",
        2,
        Flags::NONE,
        (0, 0, 0),
        "4.0.0",
        &["slow"],
        memory_stats,
        "Returns details about memory usage."
    ),
    subcommand!(
        "memory",
        "doctor",
        2,
        Flags::NONE,
        (0, 0, 0),
        "4.0.0",
        &["slow"],
        memory_doctor,
        "Outputs a memory problems report."
    ),
    subcommand!(
        "memory",
        "purge",
        2,
        Flags::NONE,
        (0, 0, 0),
        "4.0.0",
        &["slow"],
        memory_purge,
        "Asks the allocator to release memory."
    ),
    subcommand!(
        "memory",
        "help",
        2,
        LS,
        (0, 0, 0),
        "4.0.0",
        &["slow"],
        memory_help,
        "Outputs helpful text about the different subcommands."
    ),
];

fn info(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    let wanted: Vec<String> = a[1..]
        .iter()
        .map(|s| text(s).to_ascii_lowercase())
        .collect();
    Reply::Verbatim(Bytes::from(info_text(ctx, &wanted)))
}

const DEFAULT_SECTIONS: &[&str] = &[
    "server",
    "clients",
    "memory",
    "persistence",
    "stats",
    "replication",
    "cpu",
    "modules",
    "errorstats",
    "cluster",
    "keyspace",
];

/// The INFO text for the requested sections (none: the default ones).
pub fn info_text(ctx: &mut Ctx, wanted: &[String]) -> String {
    let all = wanted.iter().any(|w| w == "all" || w == "everything");
    let want = |s: &str| {
        if wanted.is_empty() || wanted.iter().any(|w| w == "default") {
            DEFAULT_SECTIONS.contains(&s)
        } else {
            all && s != "commandstats" && s != "latencystats"
                || wanted.iter().any(|w| w == s)
                || wanted.iter().any(|w| w == "everything")
        }
    };
    let srv = ctx.srv;
    let mut o = String::new();
    let up = srv.started.elapsed().as_secs();
    let port = srv
        .local_addr
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .map_or(0, |a| a.port());
    let mut sections = 0;
    let mut section = |o: &mut String, name: &str| {
        if sections > 0 {
            o.push_str("\r\n");
        }
        sections += 1;
        let _ = write!(o, "# {name}\r\n");
    };
    if want("server") {
        section(&mut o, "Server");
        let _ = write!(
            o,
            "redis_version:{}\r\nredis_git_sha1:00000000\r\nredis_git_dirty:0\r\nredis_build_id:0\r\nredis_mode:standalone\r\nos:{} {}\r\narch_bits:64\r\nmonotonic_clock:POSIX clock_gettime\r\nmultiplexing_api:epoll\r\natomicvar_api:c11-builtin\r\ngcc_version:0.0.0\r\nprocess_id:{}\r\nprocess_supervised:{}\r\nrun_id:{}\r\ntcp_port:{}\r\nserver_time_usec:{}\r\nuptime_in_seconds:{}\r\nuptime_in_days:{}\r\nhz:10\r\nconfigured_hz:10\r\nlru_clock:{}\r\nexecutable:respd\r\nconfig_file:\r\nio_threads_active:0\r\nrespd_version:{}\r\n",
            crate::REDIS_VERSION,
            std::env::consts::OS,
            std::env::consts::ARCH,
            std::process::id(),
            if std::env::var_os("NOTIFY_SOCKET").is_some() { "systemd" } else { "no" },
            srv.run_id,
            port,
            crate::keyspace::now_ms() * 1000,
            up,
            up / 86400,
            (crate::keyspace::now_ms() / 1000) & 0xff_ffff,
            env!("CARGO_PKG_VERSION"),
        );
    }
    if want("clients") {
        section(&mut o, "Clients");
        let n = srv.clients.lock().unwrap_or_else(|e| e.into_inner()).len();
        let c = srv.config();
        let _ = write!(
            o,
            "connected_clients:{n}\r\ncluster_connections:0\r\nmaxclients:{}\r\nclient_recent_max_input_buffer:0\r\nclient_recent_max_output_buffer:0\r\nblocked_clients:{}\r\ntracking_clients:0\r\nclients_in_timeout_table:0\r\n",
            c.num("maxclients"),
            srv.stats.blocked_clients.load(Relaxed),
        );
    }
    if want("memory") {
        section(&mut o, "Memory");
        let used = crate::alloc::used_memory();
        let rss = crate::alloc::rss();
        let c = srv.config();
        let maxmem = c.num("maxmemory");
        let _ = write!(
            o,
            "used_memory:{used}\r\nused_memory_human:{}\r\nused_memory_rss:{rss}\r\nused_memory_rss_human:{}\r\nused_memory_peak:{}\r\nused_memory_peak_human:{}\r\nused_memory_dataset:{used}\r\ntotal_system_memory:{}\r\nmaxmemory:{maxmem}\r\nmaxmemory_human:{}\r\nmaxmemory_policy:{}\r\nmem_fragmentation_ratio:{:.2}\r\nmem_allocator:libc\r\nlazyfree_pending_objects:0\r\n",
            human(used as u64),
            human(rss as u64),
            crate::alloc::peak_rss(),
            human(crate::alloc::peak_rss() as u64),
            total_memory(),
            human(maxmem),
            c.get("maxmemory-policy").unwrap_or("noeviction"),
            if used > 0 { rss as f64 / used as f64 } else { 1.0 },
        );
    }
    if want("persistence") {
        section(&mut o, "Persistence");
        let _ = write!(
            o,
            "loading:0\r\nasync_loading:0\r\ncurrent_cow_peak:0\r\ncurrent_cow_size:0\r\nrdb_changes_since_last_save:{}\r\nrdb_bgsave_in_progress:{}\r\nrdb_last_save_time:{}\r\nrdb_last_bgsave_status:{}\r\nrdb_last_bgsave_time_sec:{}\r\naof_enabled:0\r\naof_rewrite_in_progress:0\r\naof_rewrite_scheduled:0\r\naof_last_bgrewrite_status:ok\r\naof_last_write_status:ok\r\n",
            ctx.srv.persist.changes_since_save(&ctx.srv.ks),
            u8::from(ctx.srv.persist.saving.load(Relaxed)),
            ctx.srv.persist.last_save.load(Relaxed),
            if ctx.srv.persist.last_ok.load(Relaxed) { "ok" } else { "err" },
            ctx.srv.persist.last_save_secs.load(Relaxed),
        );
    }
    if want("stats") {
        section(&mut o, "Stats");
        let s = &srv.stats;
        let k = &srv.ks.stats;
        let _ = write!(
            o,
            "total_connections_received:{}\r\ntotal_commands_processed:{}\r\ninstantaneous_ops_per_sec:0\r\ntotal_net_input_bytes:{}\r\ntotal_net_output_bytes:{}\r\nrejected_connections:{}\r\nexpired_keys:{}\r\nevicted_keys:{}\r\nkeyspace_hits:{}\r\nkeyspace_misses:{}\r\npubsub_channels:{}\r\npubsub_patterns:{}\r\nlatest_fork_usec:0\r\ntotal_forks:0\r\n",
            s.connections_received.load(Relaxed),
            s.commands_processed.load(Relaxed),
            s.net_input_bytes.load(Relaxed),
            s.net_output_bytes.load(Relaxed),
            s.rejected_connections.load(Relaxed),
            k.expired.load(Relaxed),
            s.evicted_keys.load(Relaxed),
            k.hits.load(Relaxed),
            k.misses.load(Relaxed),
            srv.pubsub.numchannels(),
            srv.pubsub.numpat(),
        );
    }
    if want("replication") {
        section(&mut o, "Replication");
        o.push_str("role:master\r\nconnected_slaves:0\r\nmaster_failover_state:no-failover\r\nmaster_replid:0000000000000000000000000000000000000000\r\nmaster_repl_offset:0\r\nrepl_backlog_active:0\r\n");
    }
    if want("cpu") {
        section(&mut o, "CPU");
        let (user, sys) = cpu_times();
        let _ = write!(o, "used_cpu_sys:{sys:.6}\r\nused_cpu_user:{user:.6}\r\n");
    }
    if want("modules") {
        section(&mut o, "Modules");
    }
    if want("commandstats") {
        section(&mut o, "Commandstats");
        if let Some(st) = srv.cmdstats.get() {
            let mut all: Vec<&(String, crate::state::CmdStat)> = st.values().collect();
            all.sort_by(|a, b| a.0.cmp(&b.0));
            for (n, c) in all {
                let calls = c.calls.load(Relaxed);
                if calls == 0 {
                    continue;
                }
                let usec = c.usec.load(Relaxed);
                let _ = write!(
                    o,
                    "cmdstat_{n}:calls={calls},usec={usec},usec_per_call={:.2},rejected_calls=0,failed_calls={}\r\n",
                    usec as f64 / calls as f64,
                    c.failed.load(Relaxed)
                );
            }
        }
    }
    if want("errorstats") {
        section(&mut o, "Errorstats");
    }
    if want("cluster") {
        section(&mut o, "Cluster");
        o.push_str("cluster_enabled:0\r\n");
    }
    if want("keyspace") {
        section(&mut o, "Keyspace");
        let n = srv.ks.db_count();
        let sizes = ctx.with_all(|v| {
            (0..n)
                .filter_map(|db| {
                    v.set_db(db);
                    let (k, e) = v.db_stats();
                    (k > 0).then_some((db, k, e))
                })
                .collect::<Vec<_>>()
        });
        for (db, k, e) in sizes {
            let _ = write!(o, "db{db}:keys={k},expires={e},avg_ttl=0\r\n");
        }
    }
    o
}

fn human(b: u64) -> String {
    let f = b as f64;
    if b < 1024 {
        format!("{b}B")
    } else if f < 1024.0 * 1024.0 {
        format!("{:.2}K", f / 1024.0)
    } else if f < 1024.0 * 1024.0 * 1024.0 {
        format!("{:.2}M", f / 1024.0 / 1024.0)
    } else {
        format!("{:.2}G", f / 1024.0 / 1024.0 / 1024.0)
    }
}

fn total_memory() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("MemTotal:"))
                .and_then(|l| {
                    l.split_whitespace()
                        .nth(1)
                        .and_then(|k| k.parse::<u64>().ok())
                })
        })
        .map_or(0, |kb| kb * 1024)
}

/// (user, system) CPU seconds of this process.
fn cpu_times() -> (f64, f64) {
    let Ok(s) = std::fs::read_to_string("/proc/self/stat") else {
        return (0.0, 0.0);
    };
    let Some(rest) = s.rsplit_once(')').map(|(_, r)| r) else {
        return (0.0, 0.0);
    };
    let f: Vec<&str> = rest.split_whitespace().collect();
    let tick = 100.0;
    let get = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0) / tick;
    (get(11), get(12))
}

fn config_get(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    let c = ctx.srv.config();
    let mut out = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for pat in &a[2..] {
        let pat = text(pat).to_ascii_lowercase();
        for p in crate::config::PARAMS {
            for name in std::iter::once(p.name).chain(p.alias) {
                if glob_match(pat.as_bytes(), name.as_bytes(), true) && seen.insert(name) {
                    let mut v = c.get(p.name).unwrap_or_default().to_string();
                    if p.name == "dir" {
                        // Redis shows the working directory it changed into: an absolute path.
                        if let Ok(abs) = std::fs::canonicalize(&v) {
                            v = abs.display().to_string();
                        }
                    }
                    out.push((
                        Reply::bulk(Bytes::from_static(name.as_bytes())),
                        Reply::bulk(Bytes::from(v)),
                    ));
                }
            }
        }
    }
    Reply::Map(out)
}

fn config_set(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    if a.len() % 2 != 0 {
        return Reply::error("ERR wrong number of arguments for 'config|set' command");
    }
    let mut next = ctx.srv.config().clone();
    let mut seen = std::collections::HashSet::new();
    for p in a[2..].chunks(2) {
        let name = text(&p[0]).to_ascii_lowercase();
        let Some(param) = crate::config::PARAMS
            .iter()
            .find(|x| x.name == name || x.alias == Some(&*name))
        else {
            return Reply::err(format!(
                "Unknown option or number of arguments for CONFIG SET - '{name}'"
            ));
        };
        if !seen.insert(param.name) {
            return Reply::err(format!(
                "CONFIG SET failed (possibly related to argument '{name}') - duplicate parameter"
            ));
        }
        if param.immutable {
            return Reply::err(format!(
                "CONFIG SET failed (possibly related to argument '{name}') - can't set immutable config"
            ));
        }
        if param.protected && next.get("enable-protected-configs") != Some("yes") {
            return Reply::err(format!(
                "CONFIG SET failed (possibly related to argument '{name}') - can't set protected config"
            ));
        }
        if let Err(msg) = next.set(&name, &text(&p[1])) {
            return Reply::err(format!(
                "CONFIG SET failed (possibly related to argument '{name}') - {msg}"
            ));
        }
    }
    *ctx.srv.config.write().unwrap_or_else(|e| e.into_inner()) = next;
    ctx.srv.config_changed();
    Reply::Ok
}

fn config_resetstat(ctx: &mut Ctx, _a: &[Bytes]) -> Reply {
    let s = &ctx.srv.stats;
    for c in [
        &s.connections_received,
        &s.commands_processed,
        &s.rejected_connections,
        &s.net_input_bytes,
        &s.net_output_bytes,
        &s.evicted_keys,
    ] {
        c.store(0, Relaxed);
    }
    let k = &ctx.srv.ks.stats;
    for c in [&k.hits, &k.misses, &k.expired] {
        c.store(0, Relaxed);
    }
    if let Some(st) = ctx.srv.cmdstats.get() {
        for (_, c) in st.values() {
            c.calls.store(0, Relaxed);
            c.usec.store(0, Relaxed);
            c.failed.store(0, Relaxed);
        }
    }
    Reply::Ok
}

fn config_help(_ctx: &mut Ctx, _a: &[Bytes]) -> Reply {
    help_reply(
        "CONFIG",
        &[
            "GET <pattern>",
            "    Return parameters matching the glob-like <pattern> and their values.",
            "SET <directive> <value>",
            "    Set the configuration <directive> to <value>.",
            "RESETSTAT",
            "    Reset statistics reported by the INFO command.",
        ],
    )
}

fn status_set(names: Vec<&'static str>) -> Reply {
    Reply::Set(names.into_iter().map(|n| Reply::Simple(n.into())).collect())
}

fn spec_info(c: &CommandSpec) -> Reply {
    Reply::Array(vec![
        Reply::bulk(Bytes::from(c.full_name())),
        Reply::Int(c.arity as i64),
        status_set(c.flags.names()),
        Reply::Int(c.keys.0 as i64),
        Reply::Int(c.keys.1 as i64),
        Reply::Int(c.keys.2 as i64),
        Reply::Set(
            c.acl_categories()
                .iter()
                .map(|a| Reply::Simple(format!("@{a}").into()))
                .collect(),
        ),
        Reply::Set(vec![]),
        Reply::Array(vec![]),
        Reply::Array(c.subcommands.iter().map(spec_info).collect()),
    ])
}

fn sorted_specs() -> Vec<&'static CommandSpec> {
    let mut v: Vec<&'static CommandSpec> = table().values().copied().collect();
    v.sort_by_key(|c| c.name);
    v
}

/// Finds a command or `container|sub` by name.
fn find_spec(name: &[u8]) -> Option<&'static CommandSpec> {
    let n = text(name).to_ascii_lowercase();
    match n.split_once('|') {
        Some((p, s)) => table()
            .get(p.as_bytes())?
            .subcommands
            .iter()
            .find(|x| x.name == s),
        None => table().get(n.as_bytes()).copied(),
    }
}

/// COMMAND without a subcommand: every command's details.
pub fn command_all(_ctx: &mut Ctx) -> Reply {
    Reply::Array(sorted_specs().into_iter().map(spec_info).collect())
}

fn command_count(_ctx: &mut Ctx, _a: &[Bytes]) -> Reply {
    Reply::Int(table().len() as i64)
}

fn command_info(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    if a.len() == 2 {
        return command_all(ctx);
    }
    Reply::Array(
        a[2..]
            .iter()
            .map(|n| find_spec(n).map_or(Reply::Nil, spec_info))
            .collect(),
    )
}

fn spec_docs(c: &CommandSpec) -> Reply {
    let s = |x: &str| Reply::bulk(Bytes::from(x.to_string()));
    let mut fields = vec![
        (s("summary"), s(c.summary)),
        (s("since"), s(c.since)),
        (
            s("group"),
            s(if c.group.is_empty() {
                "server"
            } else {
                c.group
            }),
        ),
    ];
    if !c.subcommands.is_empty() {
        fields.push((
            s("subcommands"),
            Reply::Map(
                c.subcommands
                    .iter()
                    .map(|x| (s(&x.full_name()), spec_docs(x)))
                    .collect(),
            ),
        ));
    }
    Reply::Map(fields)
}

fn command_docs(_ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    let specs: Vec<&CommandSpec> = if a.len() == 2 {
        sorted_specs()
    } else {
        a[2..].iter().filter_map(|n| find_spec(n)).collect()
    };
    Reply::Map(
        specs
            .into_iter()
            .map(|c| (Reply::bulk(Bytes::from(c.full_name())), spec_docs(c)))
            .collect(),
    )
}

fn command_list(_ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    let mut names: Vec<String> = Vec::new();
    for c in sorted_specs() {
        names.push(c.name.to_string());
        names.extend(c.subcommands.iter().map(|s| s.full_name()));
    }
    if a.len() > 2 {
        if a.len() != 5 || !eq(&a[2], "filterby") {
            return syntax();
        }
        let val = text(&a[4]).to_ascii_lowercase();
        if eq(&a[3], "pattern") {
            names.retain(|n| glob_match(&a[4], n.as_bytes(), true));
        } else if eq(&a[3], "aclcat") {
            let cat = val.trim_start_matches('@').to_string();
            names.retain(|n| {
                find_spec(n.as_bytes()).is_some_and(|c| c.acl_categories().contains(&cat.as_str()))
            });
        } else if eq(&a[3], "module") {
            names.clear();
        } else {
            return syntax();
        }
    }
    Reply::Array(
        names
            .into_iter()
            .map(|n| Reply::bulk(Bytes::from(n)))
            .collect(),
    )
}

fn command_getkeys(_ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    let args = &a[2..];
    let spec = match super::lookup(args) {
        Ok(s) => s,
        Err(_) => return Reply::error("ERR Invalid command specified"),
    };
    if !spec.arity_ok(args.len()) {
        return Reply::error("ERR Invalid number of arguments specified for command");
    }
    let keys = if spec.name == "xread" || spec.name == "xreadgroup" {
        super::streams::read_keys(args)
    } else {
        spec.key_args(args)
    };
    if keys.is_empty() {
        return Reply::error("ERR The command has no key arguments");
    }
    Reply::bulks(keys.into_iter().cloned())
}

fn command_help(_ctx: &mut Ctx, _a: &[Bytes]) -> Reply {
    help_reply(
        "COMMAND",
        &[
            "(no subcommand)",
            "    Return details about all Redis commands.",
            "COUNT",
            "    Return the total number of commands in this Redis server.",
            "LIST",
            "    Return a list of all commands in this Redis server.",
            "INFO [<command-name> ...]",
            "    Return details about multiple Redis commands.",
            "DOCS [<command-name> ...]",
            "    Return documentation details about multiple Redis commands.",
            "GETKEYS <full-command>",
            "    Return the keys from a full Redis command.",
        ],
    )
}

fn time(_ctx: &mut Ctx, _a: &[Bytes]) -> Reply {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    Reply::Array(vec![
        Reply::bulk(Bytes::from(now.as_secs().to_string())),
        Reply::bulk(Bytes::from(now.subsec_micros().to_string())),
    ])
}

fn slowlog_get(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    let count = match a.get(2) {
        None => 10,
        Some(c) => match int(c) {
            Ok(-1) => usize::MAX,
            Ok(n) if n >= 0 => n as usize,
            _ => return Reply::error("ERR count should be greater than or equal to -1"),
        },
    };
    let log = ctx.srv.slowlog.lock().unwrap_or_else(|e| e.into_inner());
    Reply::Array(
        log.iter()
            .take(count)
            .map(|e| {
                Reply::Array(vec![
                    Reply::Int(e.id as i64),
                    Reply::Int(e.time as i64),
                    Reply::Int(e.micros as i64),
                    Reply::bulks(e.args.iter().cloned()),
                    Reply::bulk(Bytes::from(e.addr.clone())),
                    Reply::Bulk(e.name.clone()),
                ])
            })
            .collect(),
    )
}

fn slowlog_len(ctx: &mut Ctx, _a: &[Bytes]) -> Reply {
    Reply::Int(
        ctx.srv
            .slowlog
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .len() as i64,
    )
}

fn slowlog_reset(ctx: &mut Ctx, _a: &[Bytes]) -> Reply {
    ctx.srv
        .slowlog
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clear();
    Reply::Ok
}

fn slowlog_help(_ctx: &mut Ctx, _a: &[Bytes]) -> Reply {
    help_reply(
        "SLOWLOG",
        &[
            "GET [<count>]",
            "    Return top <count> entries from the slowlog (default: 10, -1 mean all).",
            "    Entries are made of:",
            "    id, timestamp, time in microseconds, arguments array, client IP and port,",
            "    client name",
            "LEN",
            "    Return the length of the slowlog.",
            "RESET",
            "    Reset the slowlog.",
        ],
    )
}

fn memory_usage(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    if a.len() != 3 && !(a.len() == 5 && eq(&a[3], "samples")) {
        return syntax();
    }
    if a.len() == 5 {
        if let Err(e) = int(&a[4]) {
            return e;
        }
    }
    let key = &a[2];
    let n = ctx.with_key(key, |v| {
        v.peek(key).map(|e| e.value.mem_usage() + key.len() + 56)
    });
    n.map_or(Reply::Nil, |n| Reply::Int(n as i64))
}

fn memory_stats(ctx: &mut Ctx, _a: &[Bytes]) -> Reply {
    let used = crate::alloc::used_memory() as i64;
    let s = |x: &'static str| Reply::bulk(Bytes::from_static(x.as_bytes()));
    let keys: i64 = ctx.with_all(|v| {
        let n = v.db_count();
        (0..n)
            .map(|db| {
                v.set_db(db);
                v.db_stats().0
            })
            .sum::<usize>()
    }) as i64;
    Reply::Map(vec![
        (
            s("peak.allocated"),
            Reply::Int(crate::alloc::peak_rss() as i64),
        ),
        (s("total.allocated"), Reply::Int(used)),
        (s("keys.count"), Reply::Int(keys)),
        (s("dataset.bytes"), Reply::Int(used)),
    ])
}

fn memory_doctor(_ctx: &mut Ctx, _a: &[Bytes]) -> Reply {
    Reply::Verbatim(Bytes::from_static(b"Hi Sam, I can't find any memory issue in your instance. I can only account for what occurs on this base."))
}

fn memory_purge(_ctx: &mut Ctx, _a: &[Bytes]) -> Reply {
    Reply::Ok
}

fn memory_help(_ctx: &mut Ctx, _a: &[Bytes]) -> Reply {
    help_reply(
        "MEMORY",
        &[
            "DOCTOR",
            "    Return memory problems reports.",
            "STATS",
            "    Return information about the memory usage of the server.",
            "USAGE <key> [SAMPLES <count>]",
            "    Return memory in bytes used by <key> and its value. Nested values are",
            "    sampled up to <count> times (default: 5, 0 means sample all).",
        ],
    )
}

fn shutdown(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    let (mut save, mut nosave, mut force, mut abort, mut now) = (false, false, false, false, false);
    for o in &a[1..] {
        if eq(o, "nosave") {
            nosave = true;
        } else if eq(o, "save") {
            save = true;
        } else if eq(o, "now") {
            now = true;
        } else if eq(o, "force") {
            force = true;
        } else if eq(o, "abort") {
            abort = true;
        } else {
            return syntax();
        }
    }
    if (abort && (save || nosave || now || force)) || (save && nosave) {
        return syntax();
    }
    if abort {
        return Reply::error("ERR No shutdown in progress.");
    }
    tracing::warn!("user requested shutdown");
    // As Redis: a final save when save rules are set (unless NOSAVE), or when SAVE is given.
    let rules = ctx
        .srv
        .config()
        .get("save")
        .is_some_and(|r| !r.trim().is_empty());
    if (rules && !nosave) || save {
        tracing::info!("saving the final RDB snapshot before exiting");
        if super::persist::save_now(ctx).is_err() {
            if !force {
                tracing::warn!("error trying to save the DB, can't exit");
                return Reply::error("ERR Errors trying to SHUTDOWN. Check logs.");
            }
            tracing::warn!("error trying to save the DB, exit anyway");
        }
    }
    ctx.srv.request_shutdown();
    ctx.conn.close_after_reply = true;
    // Like Redis, no reply: the connection just closes.
    Reply::Raw(b"")
}

fn lastsave(ctx: &mut Ctx, _a: &[Bytes]) -> Reply {
    Reply::Int(ctx.srv.persist.last_save.load(Relaxed) as i64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cmd::ctx::tests::{cmd, resp2, run, server_and_conn};

    fn e(s: &'static str) -> Reply {
        Reply::error(s)
    }

    #[test]
    fn human_sizes_as_redis_prints_them() {
        let cases = [
            (0, "0B"),
            (1023, "1023B"),
            (1024, "1.00K"),
            (1536, "1.50K"),
            (1 << 20, "1.00M"),
            ((1 << 20) * 5 / 2, "2.50M"),
            (3 << 30, "3.00G"),
            (5 << 40, "5120.00G"),
        ];
        for (b, want) in cases {
            assert_eq!(human(b), want, "{b}");
        }
    }

    /// The `# Section` headers of an INFO reply.
    fn sections(r: Reply) -> Vec<String> {
        let Reply::Verbatim(t) = r else {
            panic!("INFO reply")
        };
        String::from_utf8_lossy(&t)
            .lines()
            .filter_map(|l| l.strip_prefix("# "))
            .map(str::to_lowercase)
            .collect()
    }

    #[test]
    fn info_section_selection() {
        let (srv, mut c) = server_and_conn();
        let srv = &*srv;
        let mut info_ = |a: &[&str]| {
            let mut v = vec!["INFO"];
            v.extend_from_slice(a);
            sections(run(srv, &mut c, info, &v))
        };
        assert_eq!(info_(&[]), DEFAULT_SECTIONS);
        assert_eq!(info_(&["default"]), DEFAULT_SECTIONS);
        assert_eq!(info_(&["MEMORY"]), ["memory"]);
        assert_eq!(info_(&["keyspace", "cpu"]), ["cpu", "keyspace"]);
        assert_eq!(info_(&["nosuchsection"]), Vec::<String>::new());
        let all = info_(&["all"]);
        assert!(!all.contains(&"commandstats".to_string()), "{all:?}");
        assert!(DEFAULT_SECTIONS
            .iter()
            .all(|s| all.contains(&s.to_string())));
        let every = info_(&["everything"]);
        assert!(every.contains(&"commandstats".to_string()), "{every:?}");
        assert_eq!(info_(&["all", "commandstats"]).len(), all.len() + 1);
    }

    #[test]
    fn config_set_checks_every_pair_before_changing_anything() {
        let (srv, mut c) = server_and_conn();
        let srv = &*srv;
        let mut set = |a: &[&str]| {
            let mut v = vec!["CONFIG", "SET"];
            v.extend_from_slice(a);
            run(srv, &mut c, config_set, &v)
        };
        assert_eq!(
            set(&["maxmemory"]),
            e("ERR wrong number of arguments for 'config|set' command")
        );
        assert_eq!(
            set(&["no-such-thing", "1"]),
            Reply::err("Unknown option or number of arguments for CONFIG SET - 'no-such-thing'")
        );
        assert_eq!(
            set(&["maxmemory", "1mb", "MAXMEMORY", "2mb"]),
            Reply::err("CONFIG SET failed (possibly related to argument 'maxmemory') - duplicate parameter")
        );
        assert_eq!(
            set(&["aclfile", "/x"]),
            Reply::err("CONFIG SET failed (possibly related to argument 'aclfile') - can't set immutable config")
        );
        assert_eq!(
            set(&["dir", "/tmp"]),
            Reply::err("CONFIG SET failed (possibly related to argument 'dir') - can't set protected config")
        );
        // A bad value anywhere refuses the whole command: the good pair before it is not applied.
        let r = set(&["maxmemory", "10mb", "maxmemory-policy", "lru-ish"]);
        let Reply::Error(msg) = r else {
            panic!("expected an error, got {r:?}")
        };
        assert!(
            msg.starts_with(
                "ERR CONFIG SET failed (possibly related to argument 'maxmemory-policy') - "
            ),
            "{msg}"
        );
        assert_eq!(srv.config().get("maxmemory"), Some("0"));
        // Names are case-insensitive, aliases reach the same parameter.
        assert_eq!(
            set(&["MaxMemory", "10mb", "lua-time-limit", "42"]),
            Reply::Ok
        );
        assert_eq!(srv.config().get("maxmemory"), Some("10485760"));
        assert_eq!(
            resp2(&cmd(
                srv,
                &mut c,
                &["CONFIG", "GET", "busy-reply-threshold"]
            )),
            "*2\r\n$20\r\nbusy-reply-threshold\r\n$2\r\n42\r\n"
        );
    }

    #[test]
    fn command_getkeys_list_and_info() {
        let (srv, mut c) = server_and_conn();
        let srv = &*srv;
        let mut getkeys = |a: &[&str]| {
            let mut v = vec!["COMMAND", "GETKEYS"];
            v.extend_from_slice(a);
            resp2(&run(srv, &mut c, command_getkeys, &v))
        };
        assert_eq!(getkeys(&["GET", "k"]), "*1\r\n$1\r\nk\r\n");
        assert_eq!(
            getkeys(&["mset", "a", "1", "b", "2"]),
            "*2\r\n$1\r\na\r\n$1\r\nb\r\n"
        );
        assert_eq!(
            getkeys(&["XREAD", "COUNT", "2", "STREAMS", "s1", "s2", "0", "0"]),
            "*2\r\n$2\r\ns1\r\n$2\r\ns2\r\n"
        );
        assert_eq!(
            getkeys(&["NOSUCHCMD", "k"]),
            "-ERR Invalid command specified\r\n"
        );
        assert_eq!(
            getkeys(&["GET"]),
            "-ERR Invalid number of arguments specified for command\r\n"
        );
        assert_eq!(
            getkeys(&["PING"]),
            "-ERR The command has no key arguments\r\n"
        );
        let mut list = |a: &[&str]| {
            let mut v = vec!["COMMAND", "LIST"];
            v.extend_from_slice(a);
            run(srv, &mut c, command_list, &v)
        };
        let Reply::Array(all) = list(&[]) else {
            panic!("COMMAND LIST")
        };
        assert!(all.len() > table().len(), "subcommands are listed too");
        assert!(all.contains(&Reply::bulk("config|get")));
        let Reply::Array(conn) = list(&["FILTERBY", "ACLCAT", "@connection"]) else {
            panic!("COMMAND LIST")
        };
        assert!(conn.contains(&Reply::bulk("ping")) && !conn.contains(&Reply::bulk("get")));
        assert_eq!(list(&["FILTERBY", "MODULE", "x"]), Reply::Array(vec![]));
        assert_eq!(list(&["FILTERBY", "ACLCAT"]), e("ERR syntax error"));
        assert_eq!(list(&["FILTERBY", "COLOR", "red"]), e("ERR syntax error"));
        assert_eq!(list(&["SORTBY", "ACLCAT", "read"]), e("ERR syntax error"));
        assert_eq!(
            run(srv, &mut c, command_count, &["COMMAND", "COUNT"]),
            Reply::Int(table().len() as i64)
        );
        let Reply::Array(infos) = run(
            srv,
            &mut c,
            command_info,
            &["COMMAND", "INFO", "get", "nope", "CONFIG|GET"],
        ) else {
            panic!("COMMAND INFO")
        };
        assert!(
            resp2(&infos[0]).starts_with("*10\r\n$3\r\nget\r\n:2\r\n"),
            "{}",
            resp2(&infos[0])
        );
        assert_eq!(infos[1], Reply::Nil);
        assert!(
            resp2(&infos[2]).starts_with("*10\r\n$10\r\nconfig|get\r\n"),
            "{}",
            resp2(&infos[2])
        );
    }

    #[test]
    fn slowlog_get_count() {
        let (srv, mut c) = server_and_conn();
        let srv = &*srv;
        {
            let mut log = srv.slowlog.lock().unwrap_or_else(|e| e.into_inner());
            for id in (0..15).rev() {
                log.push_back(crate::state::SlowEntry {
                    id,
                    time: 1,
                    micros: 2,
                    args: vec![Bytes::from_static(b"GET")],
                    addr: "127.0.0.1:1".into(),
                    name: Bytes::new(),
                });
            }
        }
        let mut get = |a: &[&str]| {
            let mut v = vec!["SLOWLOG", "GET"];
            v.extend_from_slice(a);
            match run(srv, &mut c, slowlog_get, &v) {
                Reply::Array(es) => Ok(es
                    .iter()
                    .map(|x| match x {
                        Reply::Array(f) => f[0].clone(),
                        other => panic!("entry {other:?}"),
                    })
                    .collect::<Vec<_>>()),
                other => Err(other),
            }
        };
        assert_eq!(get(&[]).map(|v| v.len()), Ok(10), "10 by default");
        assert_eq!(get(&["-1"]).map(|v| v.len()), Ok(15), "-1: all");
        assert_eq!(get(&["0"]), Ok(vec![]));
        assert_eq!(
            get(&["2"]),
            Ok(vec![Reply::Int(14), Reply::Int(13)]),
            "newest first"
        );
        for bad in ["-2", "x"] {
            assert_eq!(
                get(&[bad]),
                Err(e("ERR count should be greater than or equal to -1")),
                "{bad}"
            );
        }
        assert_eq!(
            run(srv, &mut c, slowlog_len, &["SLOWLOG", "LEN"]),
            Reply::Int(15)
        );
        run(srv, &mut c, slowlog_reset, &["SLOWLOG", "RESET"]);
        assert_eq!(
            run(srv, &mut c, slowlog_len, &["SLOWLOG", "LEN"]),
            Reply::Int(0)
        );
    }

    #[test]
    fn memory_usage_options() {
        let (srv, mut c) = server_and_conn();
        let srv = &*srv;
        let value = "x".repeat(1000);
        cmd(srv, &mut c, &["SET", "k", &value]);
        let mut usage = |a: &[&str]| {
            let mut v = vec!["MEMORY", "USAGE"];
            v.extend_from_slice(a);
            run(srv, &mut c, memory_usage, &v)
        };
        let Reply::Int(n) = usage(&["k"]) else {
            panic!("MEMORY USAGE")
        };
        assert!((1000..4096).contains(&n), "{n}");
        assert_eq!(usage(&["k", "SAMPLES", "5"]), Reply::Int(n));
        assert_eq!(usage(&["nope"]), Reply::Nil);
        assert_eq!(usage(&["k", "SAMPLES"]), e("ERR syntax error"));
        assert_eq!(usage(&["k", "SIZE", "5"]), e("ERR syntax error"));
        assert_eq!(
            usage(&["k", "samples", "many"]),
            e("ERR value is not an integer or out of range")
        );
    }
}
