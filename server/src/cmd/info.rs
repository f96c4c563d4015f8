//! INFO: the sections Redis prints, from the shared counters, the keyspace and /proc.

use super::server::LS;
use super::{text, CommandSpec, Ctx};
use crate::command;
use crate::resp::Reply;
use bytes::Bytes;
use std::fmt::Write;
use std::sync::atomic::Ordering::Relaxed;

/// The INFO command.
pub static COMMANDS: &[CommandSpec] = &[command!(
    "info",
    -1,
    LS,
    (0, 0, 0),
    "server",
    "1.0.0",
    &["dangerous"],
    info,
    "Returns information and statistics about the server."
)];

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
    // "all" is every section in Redis 7.0, commandstats included (genRedisInfoString; only
    // module-generated sections need "everything").
    let all = wanted.iter().any(|w| w == "all" || w == "everything");
    let want = |s: &str| {
        if wanted.is_empty() || wanted.iter().any(|w| w == "default") {
            DEFAULT_SECTIONS.contains(&s)
        } else {
            all || wanted.iter().any(|w| w == s)
        }
    };
    let srv = ctx.srv;
    let mut o = String::new();
    let up = srv.process.started.elapsed().as_secs();
    let port = srv.process.port();
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
            srv.process.run_id,
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
        let n = srv.clients.len();
        let c = srv.config();
        let _ = write!(
            o,
            "connected_clients:{n}\r\ncluster_connections:0\r\nmaxclients:{}\r\nclient_recent_max_input_buffer:0\r\nclient_recent_max_output_buffer:0\r\nblocked_clients:{}\r\ntracking_clients:{}\r\nclients_in_timeout_table:0\r\n",
            c.get(crate::config::params::MAXCLIENTS),
            srv.stats.blocked_clients.load(Relaxed),
            srv.tracking.clients(),
        );
    }
    if want("memory") {
        section(&mut o, "Memory");
        let used = crate::alloc::used_memory();
        let rss = crate::alloc::rss();
        let c = srv.config();
        let maxmem = c.get(crate::config::params::MAXMEMORY);
        let _ = write!(
            o,
            "used_memory:{used}\r\nused_memory_human:{}\r\nused_memory_rss:{rss}\r\nused_memory_rss_human:{}\r\nused_memory_peak:{}\r\nused_memory_peak_human:{}\r\nused_memory_dataset:{used}\r\ntotal_system_memory:{}\r\nmaxmemory:{maxmem}\r\nmaxmemory_human:{}\r\nmaxmemory_policy:{}\r\nmem_fragmentation_ratio:{:.2}\r\nmem_allocator:{}\r\nlazyfree_pending_objects:{}\r\nlazyfreed_objects:{}\r\n",
            human(used as u64),
            human(rss as u64),
            crate::alloc::peak_rss(),
            human(crate::alloc::peak_rss() as u64),
            total_memory(),
            human(maxmem),
            c.get(crate::config::params::MAXMEMORY_POLICY).name(),
            if used > 0 { rss as f64 / used as f64 } else { 1.0 },
            crate::alloc::name(),
            crate::keyspace::lazyfree::pending(),
            crate::keyspace::lazyfree::freed(),
        );
    }
    if want("persistence") {
        section(&mut o, "Persistence");
        // Redis's fields in Redis's order. No fork: the copy-on-write and fork figures are 0.
        let p = &ctx.srv.persist;
        let loading = p.loading.is_active();
        let _ = write!(
            o,
            "loading:{}\r\nasync_loading:0\r\ncurrent_cow_peak:0\r\ncurrent_cow_size:0\r\ncurrent_cow_size_age:0\r\ncurrent_fork_perc:0.00\r\ncurrent_save_keys_processed:0\r\ncurrent_save_keys_total:0\r\nrdb_changes_since_last_save:{}\r\nrdb_bgsave_in_progress:{}\r\nrdb_last_save_time:{}\r\nrdb_last_bgsave_status:{}\r\nrdb_last_bgsave_time_sec:{}\r\nrdb_current_bgsave_time_sec:{}\r\nrdb_saves:{}\r\nrdb_last_cow_size:0\r\nrdb_last_load_keys_expired:{}\r\nrdb_last_load_keys_loaded:{}\r\n",
            u8::from(loading),
            p.changes_since_save(&ctx.srv.ks),
            u8::from(p.saving.load(Relaxed)),
            p.last_save.load(Relaxed),
            if p.last_ok.load(Relaxed) { "ok" } else { "err" },
            p.last_save_secs.load(Relaxed),
            p.current_bgsave_secs(),
            p.saves.load(Relaxed),
            p.last_load_keys_expired.load(Relaxed),
            p.last_load_keys_loaded.load(Relaxed),
        );
        let (aof_head, aof_tail) = aof_info(ctx.srv);
        o.push_str(&aof_head);
        o.push_str("module_fork_in_progress:0\r\nmodule_fork_last_cow_size:0\r\n");
        o.push_str(&aof_tail);
        if loading {
            let l = &p.loading;
            let now = crate::keyspace::now_ms() / 1000;
            let (perc, eta) = l.progress(now);
            let _ = write!(
                o,
                "loading_start_time:{}\r\nloading_total_bytes:{}\r\nloading_rdb_used_mem:{}\r\nloading_loaded_bytes:{}\r\nloading_loaded_perc:{perc:.2}\r\nloading_eta_seconds:{eta}\r\n",
                l.start_time.load(Relaxed),
                l.total_bytes.load(Relaxed),
                l.rdb_used_mem.load(Relaxed),
                l.loaded_bytes.load(Relaxed),
            );
        }
    }
    if want("stats") {
        section(&mut o, "Stats");
        let s = &srv.stats;
        let k = &srv.ks.stats;
        let (tk, ti, tp) = srv.tracking.totals();
        let _ = write!(
            o,
            "total_connections_received:{}\r\ntotal_commands_processed:{}\r\ninstantaneous_ops_per_sec:0\r\ntotal_net_input_bytes:{}\r\ntotal_net_output_bytes:{}\r\nrejected_connections:{}\r\nexpired_keys:{}\r\nevicted_keys:{}\r\nkeyspace_hits:{}\r\nkeyspace_misses:{}\r\npubsub_channels:{}\r\npubsub_patterns:{}\r\npubsubshard_channels:{}\r\nlatest_fork_usec:0\r\ntotal_forks:0\r\ntracking_total_keys:{}\r\ntracking_total_items:{}\r\ntracking_total_prefixes:{}\r\nunexpected_error_replies:0\r\ntotal_error_replies:{}\r\n",
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
            srv.pubsub.numshardchannels(),
            tk,
            ti,
            tp,
            s.error_replies.load(Relaxed),
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
                let rejected = c.rejected.load(Relaxed);
                if calls == 0 && rejected == 0 {
                    continue;
                }
                let usec = c.usec.load(Relaxed);
                let per_call = if calls == 0 {
                    0.0
                } else {
                    usec as f64 / calls as f64
                };
                let _ = write!(
                    o,
                    "cmdstat_{n}:calls={calls},usec={usec},usec_per_call={per_call:.2},rejected_calls={rejected},failed_calls={}\r\n",
                    c.failed.load(Relaxed)
                );
            }
        }
    }
    if want("errorstats") {
        section(&mut o, "Errorstats");
        let errors = srv.stats.errors.lock().unwrap_or_else(|e| e.into_inner());
        for (code, n) in errors.iter() {
            let _ = write!(o, "errorstat_{code}:count={n}\r\n");
        }
    }
    if all || wanted.iter().any(|w| w == "latencystats") {
        section(&mut o, "Latencystats");
        super::latency::latencystats(srv, &mut o);
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

/// INFO persistence's `aof_*` lines, in Redis 7.0's order (the size lines only while it is on).
/// INFO persistence's AOF fields in Redis 7.0's order: those always shown (before the
/// `module_fork_*` lines) and those shown only while the AOF is on (after them).
fn aof_info(srv: &crate::state::Shared) -> (String, String) {
    let a = &srv.aof;
    let ok = |b: bool| if b { "ok" } else { "err" };
    let head = format!(
        "aof_enabled:{}\r\naof_rewrite_in_progress:{}\r\naof_rewrite_scheduled:{}\r\naof_last_rewrite_time_sec:{}\r\naof_current_rewrite_time_sec:-1\r\naof_last_bgrewrite_status:{}\r\naof_rewrites:{}\r\naof_rewrites_consecutive_failures:{}\r\naof_last_write_status:{}\r\naof_last_cow_size:0\r\n",
        u8::from(a.on()),
        u8::from(a.rewriting.load(Relaxed)),
        u8::from(a.rewrite_scheduled.load(Relaxed)),
        a.last_rewrite_secs.load(Relaxed),
        ok(a.last_rewrite_ok.load(Relaxed)),
        a.rewrites.load(Relaxed),
        a.rewrite_failures.load(Relaxed),
        ok(a.last_write_ok.load(Relaxed)),
    );
    let mut tail = String::new();
    if a.on() {
        let _ = write!(
            tail,
            "aof_current_size:{}\r\naof_base_size:{}\r\naof_pending_rewrite:{}\r\naof_buffer_length:0\r\naof_pending_bio_fsync:0\r\naof_delayed_fsync:0\r\n",
            a.current_size(),
            a.base_size.load(Relaxed),
            u8::from(a.rewrite_scheduled.load(Relaxed)),
        );
    }
    (head, tail)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cmd::ctx::tests::{run, server_and_conn};

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
        assert!(all.contains(&"commandstats".to_string()), "{all:?}");
        assert!(DEFAULT_SECTIONS
            .iter()
            .all(|s| all.contains(&s.to_string())));
        let every = info_(&["everything"]);
        assert!(every.contains(&"commandstats".to_string()), "{every:?}");
        assert_eq!(info_(&["all", "commandstats"]), all);
        assert_eq!(every, all);
    }
}
