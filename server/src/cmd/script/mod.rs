//! Scripting: EVAL, EVALSHA, their `_RO` forms and SCRIPT (docs/scripting.md). A script runs with
//! every shard locked, as EXEC runs its queue: no other client sees it half done. Its
//! `redis.call`s go through the normal dispatcher with those locks ([`engine`]); Lua values and
//! replies convert by Redis's rules ([`convert`]).

mod convert;
pub mod engine;

use super::{eq, CommandSpec, Ctx, Flags};
use crate::keyspace::Locked;
use crate::resp::Reply;
use crate::state::Shared;
use crate::{command, container, subcommand};
use bytes::Bytes;
use engine::{Engine, RunSpec};
use std::sync::atomic::Ordering::Relaxed;

const EVAL: Flags = Flags::NOSCRIPT
    .union(Flags::STALE)
    .union(Flags::SKIP_MONITOR)
    .union(Flags::NO_MANDATORY_KEYS)
    .union(Flags::MOVABLEKEYS);
const SCRIPTING: &[&str] = &["scripting"];

/// The scripting commands.
pub static COMMANDS: &[CommandSpec] = &[
    command!(
        "eval",
        -3,
        EVAL,
        (0, 0, 0),
        "scripting",
        "2.6.0",
        SCRIPTING,
        eval,
        "Executes a server-side Lua script."
    ),
    command!(
        "evalsha",
        -3,
        EVAL,
        (0, 0, 0),
        "scripting",
        "2.6.0",
        SCRIPTING,
        evalsha,
        "Executes a server-side Lua script by SHA1 digest."
    ),
    command!(
        "eval_ro",
        -3,
        EVAL.union(Flags::READONLY),
        (0, 0, 0),
        "scripting",
        "7.0.0",
        SCRIPTING,
        eval_ro,
        "Executes a read-only server-side Lua script."
    ),
    command!(
        "evalsha_ro",
        -3,
        EVAL.union(Flags::READONLY),
        (0, 0, 0),
        "scripting",
        "7.0.0",
        SCRIPTING,
        evalsha_ro,
        "Executes a read-only server-side Lua script by SHA1 digest."
    ),
    container!(
        "script",
        -2,
        Flags::empty(),
        "scripting",
        "2.6.0",
        SCRIPT_SUBS,
        "A container for Lua scripts management commands."
    ),
];

static SCRIPT_SUBS: &[CommandSpec] = &[
    subcommand!(
        "script",
        "flush",
        -2,
        Flags::NOSCRIPT,
        (0, 0, 0),
        "2.6.0",
        SCRIPTING,
        script_flush,
        "Removes all server-side Lua scripts from the script cache."
    ),
    subcommand!(
        "script",
        "exists",
        -3,
        Flags::NOSCRIPT,
        (0, 0, 0),
        "2.6.0",
        SCRIPTING,
        script_exists,
        "Determines whether server-side Lua scripts exist in the script cache."
    ),
    subcommand!(
        "script",
        "debug",
        3,
        Flags::NOSCRIPT,
        (0, 0, 0),
        "3.2.0",
        SCRIPTING,
        script_debug,
        "Sets the debug mode of server-side Lua scripts."
    ),
    subcommand!(
        "script",
        "kill",
        2,
        Flags::NOSCRIPT.union(Flags::ALLOW_BUSY),
        (0, 0, 0),
        "2.6.0",
        SCRIPTING,
        script_kill,
        "Terminates a server-side Lua script during execution."
    ),
    subcommand!(
        "script",
        "help",
        2,
        Flags::LOADING.union(Flags::STALE),
        (0, 0, 0),
        "5.0.0",
        SCRIPTING,
        script_help,
        "Returns helpful text about the different subcommands."
    ),
    subcommand!(
        "script",
        "load",
        3,
        Flags::NOSCRIPT.union(Flags::STALE),
        (0, 0, 0),
        "2.6.0",
        SCRIPTING,
        script_load,
        "Loads a server-side Lua script to the script cache."
    ),
];

/// Runs `f` with the engine (made on first use), the keyspace already locked by the caller.
fn with_engine<R>(srv: &Shared, f: impl FnOnce(&mut Engine) -> R) -> Result<R, Reply> {
    let mut slot = srv
        .scripts
        .engine
        .lock()
        .map_err(|_| Reply::error("ERR script engine unavailable"))?;
    if slot
        .as_ref()
        .and_then(|e| e.downcast_ref::<Engine>())
        .is_none()
    {
        let engine = Engine::new(srv.scripts.run.clone(), &srv.scripts.rand).map_err(|e| {
            tracing::error!("cannot start the Lua engine: {e}");
            Reply::error("ERR cannot start the Lua engine")
        })?;
        *slot = Some(Box::new(engine));
    }
    match slot.as_mut().and_then(|e| e.downcast_mut::<Engine>()) {
        Some(e) => Ok(f(e)),
        None => Err(Reply::error("ERR script engine unavailable")),
    }
}

fn eval(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    eval_generic(ctx, a, false, false)
}
fn evalsha(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    eval_generic(ctx, a, true, false)
}
fn eval_ro(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    eval_generic(ctx, a, false, true)
}
fn evalsha_ro(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    eval_generic(ctx, a, true, true)
}

/// EVAL and friends (Redis's `evalGenericCommand`).
fn eval_generic(ctx: &mut Ctx, a: &[Bytes], by_sha: bool, ro: bool) -> Reply {
    let Some(numkeys) = crate::util::num::parse_i64(&a[2]) else {
        return Reply::error("ERR value is not an integer or out of range");
    };
    if numkeys > (a.len() - 3) as i64 {
        return Reply::error("ERR Number of keys can't be greater than number of args");
    }
    if numkeys < 0 {
        return Reply::error("ERR Number of keys can't be negative");
    }
    if by_sha && a[1].len() != 40 {
        return Reply::error("NOSCRIPT No matching script. Please use EVAL.");
    }
    let numkeys = numkeys as usize;
    let srv = ctx.srv;
    // Redis's pre-command OOM state; known before locking, since making room locks shards.
    let oom = ctx.held.is_none()
        && srv.config().get(crate::config::params::MAXMEMORY) > 0
        && !srv.make_room();
    match ctx.held.as_deref_mut() {
        Some(l) => eval_locked(srv, ctx.conn, l, a, by_sha, ro, oom, numkeys),
        None => {
            let mut l = srv.ks.lock_all();
            eval_locked(srv, ctx.conn, &mut l, a, by_sha, ro, oom, numkeys)
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn eval_locked(
    srv: &Shared,
    conn: &mut super::Session,
    locked: &mut Locked,
    a: &[Bytes],
    by_sha: bool,
    ro: bool,
    oom: bool,
    numkeys: usize,
) -> Reply {
    let r = with_engine(srv, |eng| {
        let sha = if by_sha {
            String::from_utf8_lossy(&a[1]).to_ascii_lowercase()
        } else {
            match eng.load(&a[1]) {
                Ok(s) => s,
                Err(e) => return e,
            }
        };
        let Some(flags) = eng.scripts.get(&sha).map(|s| s.flags) else {
            return Reply::error("NOSCRIPT No matching script. Please use EVAL.");
        };
        if flags.shebang && !flags.no_writes && ro {
            return Reply::error(
                "ERR Can not execute a script with write flag using *_ro command.",
            );
        }
        if flags.shebang && oom && !flags.allow_oom && !flags.no_writes {
            return Reply::error("OOM allow-oom flag is not set on the script, can not run it when used memory > 'maxmemory'");
        }
        let threshold = srv
            .config()
            .get(crate::config::params::BUSY_REPLY_THRESHOLD)
            .max(0) as u64;
        let run = &srv.scripts.run;
        run.begin(threshold, false);
        let spec = RunSpec {
            name: &sha,
            keys: &a[3..3 + numkeys],
            args: &a[3 + numkeys..],
            read_only: ro,
            flags,
            oom,
        };
        // On a multi-threaded runtime this worker's other tasks (and its turn at polling the
        // sockets) move to another thread for the run, so a long script does not strand them.
        let multi = tokio::runtime::Handle::try_current()
            .is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread);
        let reply = if multi {
            tokio::task::block_in_place(|| eng.run(srv, conn, locked, &sha, spec))
        } else {
            eng.run(srv, conn, locked, &sha, spec)
        };
        let killed = run.kill.load(Relaxed);
        run.end();
        // Killed, the run ends in the hook's error (with its position); should a script have
        // caught that error and ended otherwise, the caller still learns it was killed.
        if killed && !matches!(&reply, Reply::Error(e) if e.starts_with("ERR Script killed")) {
            return Reply::error("ERR Script killed by user with SCRIPT KILL...");
        }
        reply
    });
    r.unwrap_or_else(|e| e)
}

fn script_load(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    match with_engine(ctx.srv, |eng| eng.load(&a[2])) {
        Ok(Ok(sha)) => Reply::bulk(sha),
        Ok(Err(e)) | Err(e) => e,
    }
}

fn script_exists(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    let slot = match ctx.srv.scripts.engine.lock() {
        Ok(s) => s,
        Err(_) => return Reply::error("ERR script engine unavailable"),
    };
    let eng = slot.as_ref().and_then(|e| e.downcast_ref::<Engine>());
    Reply::Array(
        a[2..]
            .iter()
            .map(|sha| {
                let sha = String::from_utf8_lossy(sha).to_ascii_lowercase();
                Reply::Int(eng.is_some_and(|e| e.scripts.contains_key(&sha)) as i64)
            })
            .collect(),
    )
}

fn script_flush(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    if a.len() > 3 || (a.len() == 3 && !eq(&a[2], "sync") && !eq(&a[2], "async")) {
        return Reply::error("ERR SCRIPT FLUSH only support SYNC|ASYNC option");
    }
    // Redis starts a new Lua state: cached scripts and anything they left behind go.
    let old = ctx
        .srv
        .scripts
        .engine
        .lock()
        .ok()
        .and_then(|mut s| s.take());
    drop(old);
    Reply::Ok
}

fn script_kill(ctx: &mut Ctx, _a: &[Bytes]) -> Reply {
    kill(ctx.srv, false)
}

/// SCRIPT KILL and FUNCTION KILL (Redis's `scriptKill`).
pub fn kill(srv: &Shared, function: bool) -> Reply {
    let run = &srv.scripts.run;
    if !run.running.load(Relaxed) {
        return Reply::error("NOTBUSY No scripts in execution right now.");
    }
    if run.wrote.load(Relaxed) {
        return Reply::error("UNKILLABLE Sorry the script already executed write commands against the dataset. You can either wait the script termination or kill the server in a hard way using the SHUTDOWN NOSAVE command.");
    }
    let is_function = run.function.load(Relaxed);
    if !function && is_function {
        return Reply::error("BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE.");
    }
    if function && !is_function {
        return Reply::error("BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.");
    }
    run.kill.store(true, Relaxed);
    Reply::Ok
}

/// Waits while a script runs: true once it has ended, false once it is past
/// busy-reply-threshold (the caller answers -BUSY). The wait blocks this worker as waiting for
/// the script's locks would, but ends at the threshold where that would not.
pub fn wait_for_script(srv: &Shared) -> bool {
    let run = &srv.scripts.run;
    loop {
        if !run.running.load(Relaxed) {
            return true;
        }
        if run.busy.load(Relaxed) {
            return false;
        }
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
}

/// What a client gets while a script is busy.
pub fn busy_reply(srv: &Shared) -> Reply {
    if srv.scripts.run.function.load(Relaxed) {
        Reply::error("BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE.")
    } else {
        Reply::error("BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.")
    }
}

fn script_debug(_ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    if eq(&a[2], "no") {
        return Reply::Ok;
    }
    if eq(&a[2], "yes") || eq(&a[2], "sync") {
        // The Lua debugger speaks its own protocol with redis-cli --ldb; respd has none.
        return Reply::error("ERR SCRIPT DEBUG is not supported by respd");
    }
    Reply::error("ERR Use SCRIPT DEBUG YES/SYNC/NO")
}

fn script_help(_ctx: &mut Ctx, _a: &[Bytes]) -> Reply {
    let mut r = super::help_reply(
        "SCRIPT",
        &[
            "DEBUG (YES|SYNC|NO)",
            "    Set the debug mode for subsequent scripts executed.",
            "EXISTS <sha1> [<sha1> ...]",
            "    Return information about the existence of the scripts in the script cache.",
            "FLUSH [ASYNC|SYNC]",
            "    Flush the Lua scripts cache. Very dangerous on replicas.",
            "    When called without the optional mode argument, the behavior is determined by the",
            "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
            "    * ASYNC: Asynchronously flush the scripts cache.",
            "    * SYNC: Synchronously flush the scripts cache.",
            "KILL",
            "    Kill the currently executing Lua script.",
            "LOAD <script>",
            "    Load a script into the scripts cache without executing it.",
        ],
    );
    // SCRIPT HELP says "Prints", where help_reply's other users say "Print".
    if let Reply::Array(v) = &mut r {
        if let Some(last) = v.last_mut() {
            *last = Reply::simple("    Prints this help.");
        }
    }
    r
}
