//! Commands: the table that describes them and the generic checks every command passes before
//! its handler runs (unknown command, arity, authentication, MULTI queuing, subscribed context).
//! One module per command family, a large family split by concern (CLIENT and transactions beside
//! the connection commands; INFO, CONFIG, COMMAND, SLOWLOG and MEMORY beside the server ones);
//! each exports `COMMANDS`, and [`table`] joins them.

pub mod acl;
pub mod args;
pub mod bitmaps;
pub mod client;
pub mod coll;
pub mod command;
pub mod config;
pub mod connection;
pub mod ctx;
pub mod debug;
pub mod geo;
mod geohash;
pub mod hashes;
mod hll;
pub mod hyperloglog;
pub mod info;
mod keymiss;
pub mod keys;
pub mod keyspec;
pub mod latency;
pub mod lcs;
pub mod lists;
pub mod lists_blocking;
pub mod lolwut;
pub mod memory;
pub mod monitor;
pub mod persist;
pub mod propagate;
pub mod pubsub;
pub mod script;
pub mod server;
pub mod setops;
pub mod sets;
pub mod slowlog;
pub mod sort;
mod stream_groups;
mod stream_info;
mod stream_read;
mod stream_write;
pub mod streams;
pub mod strings;
mod table;
pub mod tracking;
pub mod tx;
mod zpop;
mod zrange;
mod zsetops;
pub mod zsets;

pub use args::*;
pub use ctx::{block_or_timeout, parse_timeout_ms, parse_timeout_secs, Ctx, Session};
pub use table::{lookup, table, CommandSpec, Flags};

use crate::keyspace::Locked;
use crate::resp::Reply;
use crate::state::Shared;
use bytes::Bytes;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Instant;

/// A command handler: it reads its arguments (`args[0]` is the command name) and returns the reply.
pub type Handler = fn(&mut Ctx, &[Bytes]) -> Reply;

/// The handler of a container command called without a subcommand (only COMMAND allows that).
pub fn container_handler(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    if eq(&a[0], "command") {
        return command::command_all(ctx);
    }
    Reply::error(format!(
        "ERR unknown subcommand. Try {} HELP.",
        text(&a[0]).to_ascii_uppercase()
    ))
}

/// Whether `args` may write: a write command, EXEC, or a script (unknown commands: no). The
/// connection asks this only while a save holds back writes (`Keyspace::save_backlog_full`).
pub fn may_write(args: &[Bytes]) -> bool {
    lookup(args).is_ok_and(|s| {
        s.flags.contains(Flags::WRITE) || matches!(s.name, "exec" | "eval" | "evalsha" | "fcall")
    })
}

/// Runs one command through the generic checks and its handler, and counts its error replies
/// (INFO errorstats): a script's own calls are not, its final reply is.
pub fn dispatch(
    srv: &Shared,
    conn: &mut Session,
    held: Option<&mut Locked>,
    args: &[Bytes],
) -> Reply {
    let in_script = conn.in_script;
    // Client-side caching's turn around a top-level command (not one EXEC or a script runs,
    // nor a blocked client's re-run): one relaxed load while nobody tracks.
    let top = held.is_none() && !in_script && conn.rerun.is_none();
    let tracking_before = top && srv.tracking.active();
    if tracking_before {
        tracking::limit(srv);
    }
    let reply = run_command(srv, conn, held, args);
    // Also right after the first CLIENT TRACKING ON (its CACHING state starts clean).
    if tracking_before || (conn.track.on && top) {
        tracking::finish(srv, conn, args);
    }
    if !in_script {
        match &reply {
            Reply::Error(e) => srv.stats.count_error(e),
            Reply::Seq(v) => v.iter().for_each(|r| {
                if let Reply::Error(e) = r {
                    srv.stats.count_error(e)
                }
            }),
            _ => {}
        }
    }
    reply
}

fn run_command(
    srv: &Shared,
    conn: &mut Session,
    held: Option<&mut Locked>,
    args: &[Bytes],
) -> Reply {
    let cached = conn
        .last_spec
        .filter(|s| args[0].eq_ignore_ascii_case(s.name.as_bytes()));
    let spec = match cached.map_or_else(|| lookup(args), Ok) {
        Ok(spec) => {
            if spec.subcommands.is_empty() && spec.parent.is_none() {
                conn.last_spec = Some(spec);
            }
            spec
        }
        Err(e) => {
            if held.is_none() {
                conn.handle.last_cmd.store(0, Relaxed);
            }
            if conn.multi.is_some() {
                conn.multi_error = true;
            }
            return e;
        }
    };
    // CLIENT LIST's `cmd`: the command looked up, as Redis's `lastcmd`, run or refused; not
    // the commands EXEC or a script runs.
    if held.is_none() {
        conn.handle.last_cmd.store(
            <CommandSpec as crate::state::CallSpec>::stat_key(spec),
            Relaxed,
        );
    }
    if !spec.arity_ok(args.len()) {
        srv.record_rejected(spec);
        let msg = format!(
            "wrong number of arguments for '{}' command",
            spec.full_name()
        );
        if spec.name == "exec" {
            // A refused EXEC ends the transaction, in MULTI or not.
            return exec_abort(srv, conn, &msg);
        }
        if conn.multi.is_some() {
            conn.multi_error = true;
        }
        return Reply::error(format!("ERR {msg}"));
    }
    // DEBUG and MODULE LOAD/LOADEX/UNLOAD, right after the arity check as in Redis.
    if let Some(e) = debug::protected_refusal(srv, spec, conn.handle.addr) {
        return reject(srv, conn, spec, e);
    }
    if !conn.authed && !spec.flags.contains(Flags::NOAUTH) && srv.auth_required() {
        srv.record_rejected(spec);
        if conn.multi.is_some() {
            conn.multi_error = true;
        }
        return Reply::error("NOAUTH Authentication required.");
    }
    // ACL: one branch for an unrestricted user, once its cached user is current.
    if conn.acl_epoch != srv.acl.epoch() {
        acl::refresh(srv, conn);
    }
    // The AOF's replay runs as the default user, whatever rules it has now.
    if !conn.acl_free && !conn.replaying {
        if let Some(e) = acl::check(srv, conn, spec, args, held.is_some()) {
            srv.record_rejected(spec);
            // As Redis's `rejectCommand`: a refused EXEC aborts, in MULTI or not.
            if let (Reply::Error(m), "exec") = (&e, spec.name) {
                let m = m.to_string();
                return exec_abort(srv, conn, &m);
            }
            if conn.multi.is_some() {
                conn.multi_error = true;
            }
            return e;
        }
    }
    // Persistence's refusals, where Redis's processCommand has them: MISCONF before the
    // subscribed-context check, LOADING after it. Not inside EXEC: EXEC itself was checked.
    let misconf = held
        .is_none()
        .then(|| persist::disk_error(srv, spec, conn.multi.as_deref()))
        .flatten();
    if let Some(e) = misconf {
        return reject(srv, conn, spec, e);
    }
    if conn.in_subscribed_context() && !spec.flags.contains(Flags::PUBSUB_OK) {
        srv.record_rejected(spec);
        return Reply::error(format!(
            "ERR Can't execute '{}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context",
            spec.full_name()
        ));
    }
    if let Some(e) = (held.is_none() && !conn.replaying)
        .then(|| persist::loading_error(srv, spec))
        .flatten()
    {
        return reject(srv, conn, spec, e);
    }
    // A running script holds its shards (its own calls come with the locks, `held`): a command
    // on them waits for it, up to busy-reply-threshold, then gets -BUSY instead of waiting on
    // its locks; past the threshold everyone gets -BUSY, as in Redis.
    if held.is_none()
        && srv
            .scripts
            .running
            .load(std::sync::atomic::Ordering::Relaxed)
            > 0
        && !spec.flags.contains(Flags::ALLOW_BUSY)
        && !script::wait_for_scripts(srv, conn.db, spec, args)
    {
        srv.record_rejected(spec);
        if conn.multi.is_some() {
            conn.multi_error = true;
        }
        return script::busy_reply(srv);
    }
    if conn.multi.is_some() && !spec.flags.contains(Flags::NO_QUEUE) {
        if spec.flags.contains(Flags::NO_MULTI) {
            srv.record_rejected(spec);
            conn.multi_error = true;
            return Reply::error("ERR Command not allowed inside a transaction");
        }
        if let Some(q) = conn.multi.as_mut() {
            q.push(args.to_vec());
        }
        return Reply::simple("QUEUED");
    }
    if held.is_none() && spec.flags.contains(Flags::DENYOOM) && !srv.make_room() {
        srv.record_rejected(spec);
        return Reply::error("OOM command not allowed when used memory > 'maxmemory'.");
    }
    let start = conn.clock;
    conn.now_ms = srv.unix_ms_at(start);
    conn.prop.done = false;
    let mut ctx = Ctx {
        srv,
        conn,
        held,
        args,
    };
    // A script's own commands run on its own session (several scripts may run at once).
    let in_script = ctx.conn.in_script;
    if spec.flags.contains(Flags::SKIP_MONITOR) && srv.monitors.active() {
        monitor::feed(srv, ctx.conn, in_script, false, args);
    }
    if srv.wants_keyspace_event(crate::state::NotifyClass::KeyMiss) {
        keymiss::notify(&mut ctx, spec, args);
    }
    if ctx.conn.track.on {
        tracking::before_command(ctx.conn, spec, args);
    }
    let mut reply = (spec.handler)(&mut ctx, args);
    if !ctx.conn.track_keys.is_empty() {
        // A command that opened no view (an error before it) still tracks, as in Redis.
        tracking::remember(srv, ctx.conn);
    }
    if srv.monitors.active()
        && !spec
            .flags
            .intersects(Flags::SKIP_MONITOR.union(Flags::ADMIN))
    {
        let after = ctx.held.is_none();
        monitor::feed(srv, ctx.conn, in_script, after, args);
    }
    if ctx.held.is_some() {
        // Inside EXEC nothing blocks: a blocking command answers as if it had timed out.
        if let Some(b) = ctx.conn.block.take() {
            reply = b.timeout_reply;
        }
    }
    let end = Instant::now();
    ctx.conn.clock = end;
    srv.record_call(
        spec,
        args,
        end.saturating_duration_since(start),
        reply.is_error(),
        ctx.conn.id,
    );
    reply
}

/// Redis's `execCommandAbort`: ends the transaction being queued and answers EXECABORT.
fn exec_abort(srv: &Shared, conn: &mut Session, why: &str) -> Reply {
    conn.multi = None;
    conn.multi_error = false;
    conn.handle
        .multi
        .store(0, std::sync::atomic::Ordering::Relaxed);
    tx::unwatch_all(srv, conn);
    Reply::error(format!("EXECABORT Transaction discarded because of: {why}"))
}

/// Redis's `rejectCommand`: the error, which also dooms a transaction being queued; refusing
/// EXEC discards the transaction with EXECABORT.
fn reject(srv: &Shared, conn: &mut Session, spec: &CommandSpec, err: &'static str) -> Reply {
    srv.record_rejected(spec);
    if spec.name == "exec" && conn.multi.is_some() {
        return exec_abort(srv, conn, err);
    }
    if conn.multi.is_some() {
        conn.multi_error = true;
    }
    Reply::error(err)
}
