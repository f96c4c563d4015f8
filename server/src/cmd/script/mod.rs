//! Scripting: EVAL, EVALSHA, their `_RO` forms and SCRIPT (docs/scripting.md). A script runs with
//! its declared keys' shards locked (every shard once it has reached a key it did not declare),
//! as EXEC runs its queue: no other client sees it half done. Its `redis.call`s go through the
//! normal dispatcher with those locks ([`engine`]); Lua values and replies convert by Redis's
//! rules ([`convert`]). Each run takes a Lua engine from a pool, so scripts on different keys
//! run in parallel.

mod bit;
mod cjson;
mod cmsgpack;
mod convert;
pub mod engine;
mod function;
pub use function::load_saved;
mod structlib;

use super::{eq, CommandSpec, Ctx, Flags};
use crate::keyspace::{shard_of, Locked};
use crate::resp::Reply;
use crate::state::scripts::{shard_bit, Cached, ShardBits};
use crate::state::Shared;
use crate::{command, container, subcommand};
use bytes::Bytes;
use engine::{Engine, RunOutcome, RunSpec, Target};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::{Duration, Instant};

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
    command!(
        "fcall",
        -3,
        EVAL.union(Flags::NO_MANDATORY_KEYS),
        (0, 0, 0),
        "scripting",
        "7.0.0",
        SCRIPTING,
        function::fcall,
        "Invokes a function."
    ),
    command!(
        "fcall_ro",
        -3,
        EVAL.union(Flags::READONLY),
        (0, 0, 0),
        "scripting",
        "7.0.0",
        SCRIPTING,
        function::fcall_ro,
        "Invokes a read-only function."
    ),
    container!(
        "function",
        -2,
        Flags::empty(),
        "scripting",
        "7.0.0",
        function::SUBS,
        "A container for function commands."
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

/// An idle engine of the current generation, or a new one.
fn take_engine(srv: &Shared) -> Result<Box<Engine>, Reply> {
    let generation = srv.scripts.generation.load(Relaxed);
    let idle = srv.scripts.engines.lock().ok().and_then(|mut p| p.pop());
    if let Some(e) = idle.and_then(|e| e.downcast::<Engine>().ok()) {
        if e.generation == generation {
            return Ok(e);
        }
    }
    Engine::new(srv.scripts.busy.clone(), &srv.scripts.rand, generation)
        .map(Box::new)
        .map_err(|e| {
            tracing::error!("cannot start the Lua engine: {e}");
            Reply::error("ERR cannot start the Lua engine")
        })
}

/// Returns an engine to the pool, unless SCRIPT FLUSH retired it meanwhile.
fn give_back(srv: &Shared, eng: Box<Engine>) {
    if eng.generation != srv.scripts.generation.load(Relaxed) {
        return;
    }
    if let Ok(mut p) = srv.scripts.engines.lock() {
        p.push(eng);
    }
}

/// Compiles `body` on `eng` and adds it to the server's cache: its SHA-1 and cache entry.
fn load(srv: &Shared, eng: &mut Engine, body: &Bytes) -> Result<(String, Arc<Cached>), Reply> {
    let sha = eng.load(body)?;
    let mut cache = srv
        .scripts
        .cache
        .write()
        .map_err(|_| Reply::error("ERR script cache unavailable"))?;
    let cached = cache
        .entry(sha.clone())
        .or_insert_with(|| {
            Arc::new(Cached {
                body: body.clone(),
                wide: Default::default(),
            })
        })
        .clone();
    Ok((sha, cached))
}

/// The cached script `sha`, compiled on `eng`.
fn find(srv: &Shared, eng: &mut Engine, sha: &str) -> Result<Arc<Cached>, Reply> {
    let cached = srv
        .scripts
        .cache
        .read()
        .ok()
        .and_then(|c| c.get(sha).cloned())
        .ok_or_else(|| Reply::error("NOSCRIPT No matching script. Please use EVAL."))?;
    if !eng.scripts.contains_key(sha) {
        eng.load(&cached.body)?;
    }
    Ok(cached)
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
    let mut eng = match take_engine(srv) {
        Ok(e) => e,
        Err(e) => return e,
    };
    let r = eval_on(ctx, &mut eng, a, by_sha, ro, oom, numkeys);
    give_back(srv, eng);
    r
}

/// EVAL on engine `eng`: finds or compiles the script, takes its locks (unless EXEC holds
/// them all) and runs it, again with every shard if it asks to.
#[allow(clippy::too_many_arguments)]
fn eval_on(
    ctx: &mut Ctx,
    eng: &mut Engine,
    a: &[Bytes],
    by_sha: bool,
    ro: bool,
    oom: bool,
    numkeys: usize,
) -> Reply {
    let srv = ctx.srv;
    let found = if by_sha {
        // A SHA-1 not in ASCII cannot be cached: NOSCRIPT, from `find`.
        let mut sha = String::from_utf8(a[1].to_vec()).unwrap_or_default();
        sha.make_ascii_lowercase();
        find(srv, eng, &sha).map(|c| (sha, c))
    } else {
        load(srv, eng, &a[1])
    };
    let (sha, cached) = match found {
        Ok(x) => x,
        Err(e) => return e,
    };
    let Some(flags) = eng.scripts.get(&sha).map(|s| s.flags) else {
        return Reply::error("NOSCRIPT No matching script. Please use EVAL.");
    };
    if flags.shebang && !flags.no_writes && ro {
        return Reply::error("ERR Can not execute a script with write flag using *_ro command.");
    }
    if flags.shebang && oom && !flags.allow_oom && !flags.no_writes {
        return Reply::error("OOM allow-oom flag is not set on the script, can not run it when used memory > 'maxmemory'");
    }
    let spec = RunSpec {
        name: &sha,
        keys: &a[3..3 + numkeys],
        args: &a[3 + numkeys..],
        read_only: ro,
        flags,
        oom,
    };
    run_locked(ctx, eng, &cached, &Target::Script(&sha), &spec)
}

/// Runs `target` with its locks: the declared keys' shards (every shard once it has reached
/// keys it did not declare), or EXEC's.
fn run_locked(
    ctx: &mut Ctx,
    eng: &mut Engine,
    cached: &Cached,
    target: &Target,
    spec: &RunSpec,
) -> Reply {
    let srv = ctx.srv;
    if let Some(l) = ctx.held.as_deref_mut() {
        // Inside EXEC: every shard is held already.
        return match run_once(srv, ctx.conn, eng, l, cached, target, spec, [!0; 4]) {
            RunOutcome::Done(r) => r,
            RunOutcome::Restart => Reply::error("ERR script restarted with every shard locked"),
        };
    }
    let db = ctx.conn.db;
    let mut wide = cached.wide.load(Relaxed);
    loop {
        let bits = if wide {
            [!0; 4]
        } else {
            let mut b = [0; 4];
            for k in spec.keys {
                let (w, bit) = shard_bit(db, shard_of(k));
                b[w] |= bit;
            }
            b
        };
        // Waits here rather than on a shard, so a script that turns busy answers -BUSY.
        if !wait_clear(srv, &bits) {
            return busy_reply(srv);
        }
        let outcome = if wide {
            let mut l = srv.ks.lock_all();
            run_once(srv, ctx.conn, eng, &mut l, cached, target, spec, bits)
        } else {
            let mut l = srv.ks.lock_keys_growable(db, spec.keys);
            run_once(srv, ctx.conn, eng, &mut l, cached, target, spec, bits)
        };
        match outcome {
            RunOutcome::Done(r) => return r,
            RunOutcome::Restart if !wide => wide = true,
            RunOutcome::Restart => {
                return Reply::error("ERR script restarted with every shard locked")
            }
        }
    }
}

/// One run of a script with the locks in `locked`, registered as a run in progress.
#[allow(clippy::too_many_arguments)]
fn run_once(
    srv: &Shared,
    conn: &super::Session,
    eng: &mut Engine,
    locked: &mut Locked,
    cached: &Cached,
    target: &Target,
    spec: &RunSpec,
    bits: ShardBits,
) -> RunOutcome {
    let threshold = srv
        .config()
        .get(crate::config::params::BUSY_REPLY_THRESHOLD)
        .max(0) as u64;
    // On a multi-threaded runtime a long run hands this worker's other tasks (and its turn at
    // polling the sockets) to another thread, so it does not strand them.
    let multi = tokio::runtime::Handle::try_current()
        .is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread);
    let run = eng.run.clone();
    run.set_shards(&bits);
    let function = matches!(target, Target::Function(_));
    run.begin(&srv.scripts, threshold, function, multi);
    let spec = RunSpec { ..*spec };
    let outcome = eng.run(srv, conn, locked, cached, target, spec);
    let killed = run.kill.load(Relaxed);
    run.end(&srv.scripts);
    // Killed, the run ends in the hook's error (with its position); should a script have
    // caught that error and ended otherwise, the caller still learns it was killed.
    match outcome {
        RunOutcome::Done(reply)
            if killed
                && !matches!(&reply, Reply::Error(e) if e.starts_with("ERR Script killed")) =>
        {
            RunOutcome::Done(Reply::error(
                "ERR Script killed by user with SCRIPT KILL...",
            ))
        }
        o => o,
    }
}

fn script_load(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    let mut eng = match take_engine(ctx.srv) {
        Ok(e) => e,
        Err(e) => return e,
    };
    let r = load(ctx.srv, &mut eng, &a[2]);
    give_back(ctx.srv, eng);
    match r {
        Ok((sha, _)) => Reply::bulk(sha),
        Err(e) => e,
    }
}

fn script_exists(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    let Ok(cache) = ctx.srv.scripts.cache.read() else {
        return Reply::error("ERR script cache unavailable");
    };
    Reply::Array(
        a[2..]
            .iter()
            .map(|sha| {
                let sha = String::from_utf8_lossy(sha).to_ascii_lowercase();
                Reply::Int(cache.contains_key(&sha) as i64)
            })
            .collect(),
    )
}

fn script_flush(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    if a.len() > 3 || (a.len() == 3 && !eq(&a[2], "sync") && !eq(&a[2], "async")) {
        return Reply::error("ERR SCRIPT FLUSH only support SYNC|ASYNC option");
    }
    // Redis starts a new Lua state: cached scripts and anything they left behind go. Engines
    // running now are retired when their run ends.
    let scripts = &ctx.srv.scripts;
    scripts.generation.fetch_add(1, Relaxed);
    if let Ok(mut c) = scripts.cache.write() {
        c.clear();
    }
    let old = scripts
        .engines
        .lock()
        .map(|mut p| std::mem::take(&mut *p))
        .unwrap_or_default();
    drop(old);
    Reply::Ok
}

fn script_kill(ctx: &mut Ctx, _a: &[Bytes]) -> Reply {
    kill(ctx.srv, false)
}

/// SCRIPT KILL and FUNCTION KILL (Redis's `scriptKill`): stops the runs past the threshold (or,
/// if none is, every run), unless one of them has written.
pub fn kill(srv: &Shared, function: bool) -> Reply {
    let active = srv
        .scripts
        .active
        .lock()
        .map(|a| a.clone())
        .unwrap_or_default();
    if active.is_empty() {
        return Reply::error("NOTBUSY No scripts in execution right now.");
    }
    let busy: Vec<_> = active
        .iter()
        .filter(|r| r.busy.load(Relaxed))
        .cloned()
        .collect();
    let targets = if busy.is_empty() { active } else { busy };
    if targets.iter().any(|r| r.wrote.load(Relaxed)) {
        return Reply::error("UNKILLABLE Sorry the script already executed write commands against the dataset. You can either wait the script termination or kill the server in a hard way using the SHUTDOWN NOSAVE command.");
    }
    let is_function = targets.iter().any(|r| r.function.load(Relaxed));
    if !function && is_function {
        return Reply::error("BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE.");
    }
    if function && !is_function {
        return Reply::error("BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.");
    }
    for r in &targets {
        r.kill.store(true, Relaxed);
    }
    Reply::Ok
}

/// Whether `spec` runs a script (and so waits for the runs it clashes with itself).
fn runs_script(spec: &CommandSpec) -> bool {
    matches!(
        spec.name,
        "eval" | "evalsha" | "eval_ro" | "evalsha_ro" | "fcall" | "fcall_ro"
    )
}

/// Before a command runs while scripts do: waits while a run holds a shard of its keys (every
/// shard for a command whose keys its table row cannot name). True once it may go on, false
/// once a script is past busy-reply-threshold (the caller answers -BUSY). A command without
/// keys goes on at once.
pub fn wait_for_scripts(srv: &Shared, db: usize, spec: &CommandSpec, args: &[Bytes]) -> bool {
    if srv.scripts.busy.load(Relaxed) > 0 {
        return false;
    }
    if runs_script(spec) {
        return true;
    }
    let bits = if spec.flags.contains(Flags::MOVABLEKEYS) {
        [!0; 4]
    } else {
        let keys = spec.key_args(args);
        if keys.is_empty() {
            return true;
        }
        let mut b = [0; 4];
        for k in keys {
            let (w, bit) = shard_bit(db, shard_of(k));
            b[w] |= bit;
        }
        b
    };
    wait_clear(srv, &bits)
}

/// Waits until no run holds a shard of `bits`: true then, false once a run is past
/// busy-reply-threshold. The wait blocks this worker as waiting for the script's locks would,
/// but ends at the threshold where that would not. A stream of short runs on these shards does
/// not starve the caller: past the threshold's length it goes on and waits on the locks.
fn wait_clear(srv: &Shared, bits: &ShardBits) -> bool {
    let scripts = &srv.scripts;
    let mut start = None;
    for spin in 0u32.. {
        if scripts.busy.load(Relaxed) > 0 {
            return false;
        }
        if scripts.running.load(Relaxed) == 0 || !scripts.clash(bits) {
            return true;
        }
        let since = *start.get_or_insert_with(Instant::now);
        let threshold = srv
            .config()
            .get(crate::config::params::BUSY_REPLY_THRESHOLD)
            .max(0) as u64;
        let bound = if threshold == 0 { 1000 } else { threshold + 1 };
        if since.elapsed() > Duration::from_millis(bound) {
            return true;
        }
        // Most runs are a few microseconds: yield first, then sleep.
        if spin < 64 {
            std::thread::yield_now();
        } else {
            std::thread::sleep(Duration::from_micros(50));
        }
    }
    true
}

/// What a client gets while a script is busy.
pub fn busy_reply(srv: &Shared) -> Reply {
    let function = srv
        .scripts
        .active
        .lock()
        .map(|a| {
            a.iter()
                .any(|r| r.busy.load(Relaxed) && r.function.load(Relaxed))
        })
        .unwrap_or(false);
    if function {
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
    prints(&mut r);
    r
}

/// Redis's footer of every HELP reply (help_reply gives it too now; kept for clarity).
fn prints(r: &mut Reply) {
    if let Reply::Array(v) = r {
        if let Some(last) = v.last_mut() {
            *last = Reply::simple("    Prints this help.");
        }
    }
}
