//! CONFIG GET, SET, RESETSTAT and HELP over the settings in `crate::config`.

use super::server::{ADMIN, LS};
use super::{glob_match, help_reply, text, CommandSpec, Ctx, Flags};
use crate::resp::Reply;
use crate::{container, subcommand};
use bytes::Bytes;
use std::sync::atomic::Ordering::Relaxed;

/// The CONFIG container.
pub static COMMANDS: &[CommandSpec] = &[container!(
    "config",
    -2,
    Flags::empty(),
    "server",
    "2.0.0",
    CONFIG_SUBS,
    "A container for server configuration commands."
)];

static CONFIG_SUBS: &[CommandSpec] = &[
    subcommand!(
        "config",
        "get",
        -3,
        ADMIN,
        (0, 0, 0),
        "2.0.0",
        &[],
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
        &[],
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
        &[],
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
        &[],
        config_help,
        "Returns helpful text about the different subcommands."
    ),
];

fn config_get(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    let c = ctx.srv.config();
    let mut out = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for pat in &a[2..] {
        let pat = text(pat).to_ascii_lowercase();
        for p in crate::config::PARAMS {
            for name in std::iter::once(p.name).chain(p.alias) {
                // As Redis, a hidden (test) setting answers only its exact name, no pattern.
                let hit = if p.hidden {
                    pat == name
                } else {
                    glob_match(pat.as_bytes(), name.as_bytes(), true)
                };
                if hit && seen.insert(name) {
                    let mut v = c.text(p);
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
    let pairs: Vec<(String, String)> = a[2..]
        .chunks(2)
        .map(|p| (text(&p[0]), text(&p[1])))
        .collect();
    // What the pairs held before, put back when applying them fails (Redis's
    // restoreBackupConfig).
    let before: Vec<(String, String)> = pairs
        .iter()
        .filter_map(|(k, _)| {
            let p = crate::config::params::find(&k.to_ascii_lowercase())?;
            Some((k.clone(), ctx.srv.config().text(p)))
        })
        .collect();
    // The TLS settings among them, to put back if the new ones cannot be loaded.
    let tls_before: Vec<(String, String)> = before
        .iter()
        .filter(|(k, _)| k.to_ascii_lowercase().starts_with("tls-"))
        .cloned()
        .collect();
    match ctx.srv.config().set_from_client(&pairs) {
        Ok(()) => {
            if let Some(r) = reload_tls(ctx, &tls_before) {
                return r;
            }
            if pairs
                .iter()
                .any(|(k, _)| k.eq_ignore_ascii_case("loglevel"))
            {
                let level = ctx.srv.config().get(crate::config::params::LOGLEVEL);
                crate::config::loglevel_changed(level);
            }
            if pairs
                .iter()
                .any(|(k, _)| k.eq_ignore_ascii_case("requirepass"))
            {
                super::acl::requirepass_changed(ctx.srv);
            }
            let r = apply_aof(ctx);
            if r.is_error() {
                if let Err(e) = ctx.srv.config().set_from_client(&before) {
                    tracing::warn!("CONFIG SET: cannot restore the previous values: {e}");
                }
                let fsync = ctx.srv.config().get(crate::config::params::APPENDFSYNC);
                ctx.srv
                    .aof
                    .set_fsync(crate::persist::aof::Fsync::from_name(fsync));
            }
            r
        }
        Err(msg) => Reply::error(format!("ERR {msg}")),
    }
}

/// Rebuilds the TLS configuration after a CONFIG SET of `tls-*` (new connections get the new
/// certificates); when it cannot be built, the old values go back and the error is Redis's.
fn reload_tls(ctx: &mut Ctx, before: &[(String, String)]) -> Option<Reply> {
    let srv = ctx.srv;
    if before.is_empty() || !crate::state::tls::enabled(srv.config()) {
        return None;
    }
    let e = srv.tls.configure(srv.config()).err()?;
    tracing::warn!("{e}");
    if let Err(undo) = srv.config().set_from_client(before) {
        tracing::warn!("could not restore the TLS settings: {undo}");
    }
    let name = &before[0].0;
    Some(Reply::error(format!(
        "ERR CONFIG SET failed (possibly related to argument '{name}') - Unable to update TLS \
         configuration. Check server logs."
    )))
}

/// Follows `appendonly` and `appendfsync` after a CONFIG SET: `yes` starts appending and a
/// rewrite that writes the base (Redis's `startAppendOnly`), `no` stops appending.
fn apply_aof(ctx: &mut Ctx) -> Reply {
    use crate::config::params;
    use crate::persist::aof::AofSettings;
    let c = ctx.srv.config();
    let aof = &ctx.srv.aof;
    aof.follow(&AofSettings::from_config(c));
    if !c.get(params::AOF_DISABLE_AUTO_GC) {
        aof.remove_history();
    }
    let want = c.get(params::APPENDONLY);
    if want && !aof.on() {
        let held = ctx.held.is_some();
        if let Err(e) = aof.enable(&ctx.srv.ks, AofSettings::from_config(c), held) {
            tracing::warn!("cannot turn on the AOF: {e}");
            return Reply::error(
                "ERR CONFIG SET failed (possibly related to argument 'appendonly') - Unable to turn on AOF. Check server logs.",
            );
        }
    } else if !want && aof.on() {
        aof.disable();
    }
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
        &s.error_replies,
    ] {
        c.store(0, Relaxed);
    }
    s.errors.lock().unwrap_or_else(|e| e.into_inner()).clear();
    let k = &ctx.srv.ks.stats;
    for c in [&k.hits, &k.misses, &k.expired] {
        c.store(0, Relaxed);
    }
    crate::keyspace::lazyfree::reset_stats();
    if let Some(st) = ctx.srv.cmdstats.get() {
        for (_, c) in st.values() {
            c.calls.store(0, Relaxed);
            c.usec.store(0, Relaxed);
            c.failed.store(0, Relaxed);
            c.rejected.store(0, Relaxed);
            c.latency.reset();
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cmd::ctx::tests::{cmd, e, resp2, run, server_and_conn};

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
            Reply::error(
                "ERR Unknown option or number of arguments for CONFIG SET - 'no-such-thing'"
            )
        );
        assert_eq!(
            set(&["maxmemory", "1mb", "MAXMEMORY", "2mb"]),
            Reply::error("ERR CONFIG SET failed (possibly related to argument 'maxmemory') - duplicate parameter")
        );
        assert_eq!(
            set(&["aclfile", "/x"]),
            Reply::error("ERR CONFIG SET failed (possibly related to argument 'aclfile') - can't set immutable config")
        );
        assert_eq!(
            set(&["dir", "/tmp"]),
            Reply::error("ERR CONFIG SET failed (possibly related to argument 'dir') - can't set protected config")
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
        assert_eq!(srv.config().get(crate::config::params::MAXMEMORY), 0);
        // Names are case-insensitive, aliases reach the same parameter.
        assert_eq!(
            set(&["MaxMemory", "10mb", "lua-time-limit", "42"]),
            Reply::Ok
        );
        assert_eq!(srv.config().get(crate::config::params::MAXMEMORY), 10485760);
        assert_eq!(
            resp2(&cmd(
                srv,
                &mut c,
                &["CONFIG", "GET", "busy-reply-threshold"]
            )),
            "*2\r\n$20\r\nbusy-reply-threshold\r\n$2\r\n42\r\n"
        );
    }
}
