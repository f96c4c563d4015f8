//! The Lua engine: one Lua 5.1 state with Redis's sandbox (`sandbox.lua`; a server keeps a pool
//! of them, one per run at a time), the scripts it compiled (SHA-1 → function), and one run:
//! KEYS and ARGV set, `redis.call` lent for the run's length, the result converted to a reply.
//! The caller holds the script's declared keys' shards (or every shard); a `redis.call` on a key
//! it did not declare takes that shard or asks for the run again with every shard
//! ([`RunOutcome::Restart`]).

use super::convert::{lua_to_reply, reply_to_lua};
use crate::cmd::{dispatch, lookup, Flags, Session};
use crate::keyspace::{Cover, Locked};
use crate::resp::Reply;
use crate::state::scripts::{Cached, RunState};
use crate::state::Shared;
use bytes::Bytes;
use mlua::{ffi, HookTriggers, Lua, LuaOptions, StdLib, Table, Value, Variadic, VmState};
use std::collections::HashMap;
use std::ffi::c_int;
use std::sync::atomic::{AtomicPtr, AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::Arc;

const SANDBOX: &str = include_str!("sandbox.lua");

/// Lua's own allocations are capped here: `string.rep` with an absurd count fails with "not
/// enough memory" instead of taking the machine's memory.
const LUA_MEMORY_LIMIT: usize = 1 << 30;

/// How often (in Lua instructions) the hook looks at the clock and at SCRIPT KILL, as Redis.
const HOOK_EVERY: u32 = 100_000;

/// How long a script that has already had effects waits for a shard of a key it did not
/// declare, held by another client, before its `redis.call` fails (a wait that long may be a
/// deadlock with the holder, which the failure breaks).
const UNDECLARED_WAIT: std::time::Duration = std::time::Duration::from_secs(1);

/// Commands that reach more than the keys their key positions name (every shard of a database,
/// or of several): a script calling one needs every shard.
const WIDE: &[&str] = &[
    "keys",
    "scan",
    "randomkey",
    "dbsize",
    "flushdb",
    "flushall",
    "swapdb",
    "move",
    "copy",
    "sort",
    "sort_ro",
    "info",
    "memory",
];

/// A script's shebang flags (`#!lua flags=no-writes,allow-oom`); none for a script without one
/// (Redis's "eval compat mode": it may write and runs past OOM as before 7.0).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ScriptFlags {
    pub shebang: bool,
    pub no_writes: bool,
    pub allow_oom: bool,
}

/// A cached script.
pub struct Script {
    pub body: Bytes,
    pub func: mlua::Function,
    pub flags: ScriptFlags,
}

/// One Lua state and what it compiled.
pub struct Engine {
    lua: Lua,
    pub scripts: HashMap<String, Script, foldhash::fast::RandomState>,
    /// The run state its hook reads (one run at a time per engine).
    pub run: Arc<RunState>,
    /// `Scripts::generation` when it was made: SCRIPT FLUSH retires it.
    pub generation: u64,
    /// KEYS and ARGV of the script run in progress, for the runner to fill.
    run_args: Arc<RunArgs>,
    /// The run in progress, for the functions below: set only while [`Engine::run`] runs a
    /// script.
    current: Arc<Current>,
    /// The sandbox's runner (`I.run`) behind `fill_and_run`, which first fills KEYS and ARGV.
    runner: mlua::Function,
    /// The sandbox's function runner (`I.runf`) and library loader (`I.load_lib`).
    runner_f: mlua::Function,
    load_lib: mlua::Function,
    /// Function libraries compiled here, by `Library::id`: function name → callback.
    pub libs: HashMap<u64, HashMap<String, mlua::Function>>,
}

/// What a run runs: a cached script (by SHA-1) or a library's function.
pub enum Target<'a> {
    Script(&'a str),
    Function(mlua::Function),
}

/// A function a library's code registered.
pub struct Registered {
    pub name: String,
    pub desc: Option<Bytes>,
    pub flags: u8,
    pub func: mlua::Function,
}

/// How long a library's code may run at FUNCTION LOAD (Redis's LOAD_TIMEOUT_MS).
const LOAD_TIMEOUT: std::time::Duration = std::time::Duration::from_millis(500);

/// The [`CallCtx`] of the run in progress on an engine, or null between runs. The engine's
/// `redis.call` is made once, so it reaches the run's context (which borrows the caller's
/// session and locks) through this rather than capturing it.
#[derive(Default)]
struct Current(AtomicPtr<()>);

impl Current {
    /// Runs `f` with the run's context; `None` between runs.
    fn with<R>(&self, f: impl FnOnce(&mut CallCtx) -> R) -> Option<R> {
        let p = self.0.load(Relaxed) as *mut CallCtx<'static, 'static, 'static>;
        if p.is_null() {
            return None;
        }
        // SAFETY: `Engine::run` stores a pointer to its own `CallCtx` before calling the script
        // and clears it before that context goes; the engine is used by one thread at a time
        // (it is taken out of the pool for the run), and the functions that call this never
        // nest (a command run by `redis.call` cannot call back into Lua), so this is the only
        // reference to the context while `f` runs, and `f` cannot keep it.
        Some(f(unsafe { &mut *p }))
    }
}

/// How a run ended.
pub enum RunOutcome {
    Done(Reply),
    /// It reached a key it did not declare whose shard is busy, before any effect: run it
    /// again with every shard.
    Restart,
}

/// What one run is given: the script's name for errors, KEYS, ARGV and how it may write.
pub struct RunSpec<'a> {
    pub name: &'a str,
    pub keys: &'a [Bytes],
    pub args: &'a [Bytes],
    pub read_only: bool,
    pub flags: ScriptFlags,
    /// Redis's pre-command OOM state: denyoom commands fail until the script writes.
    pub oom: bool,
}

/// The state of Redis's `lrand48`, shared by every script of a server and never reseeded by a
/// run (7.0 replicates effects, so a script's randomness need not repeat).
struct Rand48(AtomicU64);

impl Rand48 {
    const A: u64 = 0x5_DEEC_E66D;
    const MASK: u64 = (1 << 48) - 1;
    fn next(&self) -> i64 {
        let x = (self.0.load(Relaxed).wrapping_mul(Self::A).wrapping_add(0xB)) & Self::MASK;
        self.0.store(x, Relaxed);
        (x >> 17) as i64
    }
    fn seed(&self, s: i32) {
        self.0.store(((s as u32 as u64) << 16) | 0x330E, Relaxed);
    }
}

impl Engine {
    /// A fresh engine: the libraries Redis loads, the sandbox, the hook that stops a killed run.
    pub fn new(
        busy: Arc<AtomicUsize>,
        rand: &Arc<AtomicU64>,
        generation: u64,
    ) -> mlua::Result<Engine> {
        let run = Arc::new(RunState::default());
        let hook_run = run.clone();
        let libs = StdLib::TABLE | StdLib::STRING | StdLib::MATH | StdLib::DEBUG;
        // The debug library is needed by the sandbox's error handler only; it removes the global.
        let lua = unsafe { Lua::unsafe_new_with(libs, LuaOptions::default()) };
        lua.set_memory_limit(LUA_MEMORY_LIMIT)?;
        let real = lua.globals();
        let internal = lua.create_table()?;
        internal.raw_set(
            "sha1hex",
            lua.create_function(|_, s: mlua::String| {
                Ok(crate::util::sha1::sha1_hex(&s.as_bytes()))
            })?,
        )?;
        internal.raw_set(
            "log",
            lua.create_function(|_, (level, msg): (i64, mlua::String)| {
                let msg = msg.to_string_lossy();
                match level {
                    0 => tracing::debug!(target: "script", "{msg}"),
                    1 => tracing::info!(target: "script", "{msg}"),
                    2 => tracing::info!(target: "script", "{msg}"),
                    _ => tracing::warn!(target: "script", "{msg}"),
                }
                Ok(())
            })?,
        )?;
        // 0 before the first script: lrand48's own initial state, as Redis starts with.
        let start = match rand.load(Relaxed) {
            0 => 0x1234_ABCD_330E,
            x => x,
        };
        let r = Arc::new(Rand48(AtomicU64::new(start)));
        let (r1, r2, shared) = (r.clone(), r.clone(), rand.clone());
        internal.raw_set(
            "rand",
            lua.create_function(move |_, ()| {
                let v = r1.next();
                shared.store(r1.0.load(Relaxed), Relaxed);
                Ok(v)
            })?,
        )?;
        let shared = rand.clone();
        internal.raw_set(
            "srand",
            lua.create_function(move |_, s: f64| {
                r2.seed(s as i64 as i32);
                shared.store(r2.0.load(Relaxed), Relaxed);
                Ok(())
            })?,
        )?;
        // 0: bad arguments, 1: a known command (respd has no ACLs: allowed), 2: unknown.
        internal.raw_set(
            "acl_check",
            lua.create_function(|_, args: Variadic<Value>| {
                Ok(match to_args(&args) {
                    Ok(a) if !a.is_empty() => {
                        if lookup(&a).is_ok() {
                            1
                        } else {
                            2
                        }
                    }
                    _ => 0,
                })
            })?,
        )?;
        internal.raw_set(
            "unwrap_err",
            lua.create_function(|lua, v: Value| match v {
                Value::Error(e) => {
                    // A library function's error (`bit`, `struct`, `cjson`) is a plain message,
                    // as luaL_error's: `pcall` returns it as a string.
                    let Some(msg) = script_error(&e) else {
                        return Ok(Value::String(lua.create_string(lua_error_text(&e))?));
                    };
                    let t = lua.create_table()?;
                    t.raw_set("err", msg)?;
                    Ok(Value::Table(t))
                }
                other => Ok(other),
            })?,
        )?;
        // The libraries Redis loads beside Lua's own, shown read-only by the sandbox.
        let libs = lua.create_table()?;
        libs.raw_set("bit", super::bit::library(&lua)?)?;
        libs.raw_set("struct", super::structlib::library(&lua)?)?;
        libs.raw_set("cjson", super::cjson::library(&lua)?)?;
        libs.raw_set("cmsgpack", super::cmsgpack::library(&lua)?)?;
        internal.raw_set("libs", libs)?;
        internal.raw_set("version", crate::REDIS_VERSION)?;
        internal.raw_set("version_num", redis_version_num())?;
        let globals: Table = lua
            .load(SANDBOX)
            .set_name("=respd")
            .call((real.clone(), internal.clone()))?;
        lua.set_globals(globals)?;
        lua.set_hook(
            HookTriggers::new().every_nth_instruction(HOOK_EVERY),
            move |_, _| {
                if let Some(until) = hook_run.load_until.lock().ok().and_then(|u| *u) {
                    if std::time::Instant::now() > until {
                        return Err(mlua::Error::runtime("FUNCTION LOAD timeout"));
                    }
                }
                // A run this long hands its worker's other connections to another thread (a
                // short one never pays for that hand-off). `block_in_place` hands the worker's
                // core over only if the thread it wakes takes it before the closure ends, so the
                // first turns wait a little for that; later turns (every ~1 ms) retry at the cost
                // of a yield, and once the core is gone `block_in_place` costs nothing more.
                if hook_run.handoff.load(Relaxed) {
                    let tick = hook_run.ticks.fetch_add(1, Relaxed);
                    tokio::task::block_in_place(|| {
                        if tick < 3 {
                            std::thread::sleep(std::time::Duration::from_micros(500));
                        } else {
                            std::thread::yield_now();
                        }
                    });
                }
                if hook_run.check(&busy) {
                    return Err(mlua::Error::runtime(
                        "Script killed by user with SCRIPT KILL...",
                    ));
                }
                Ok(VmState::Continue)
            },
        )?;
        let keys = lua.create_table()?;
        let argv = lua.create_table()?;
        real.raw_set("KEYS", &keys)?;
        real.raw_set("ARGV", &argv)?;
        let current = Arc::new(Current::default());
        // redis.call raises the error (a Rust error that `unwrap_err` turns back into Redis's
        // error table); redis.pcall returns the table. Lua calls `call_with_args`, which reads
        // the arguments off the Lua stack into `args` and calls these without arguments.
        let args = Arc::new(ArgBuf::default());
        let (cur, buf) = (current.clone(), args.clone());
        let rcall = lua.create_function(move |lua, ()| {
            let (argv, bad) = buf.take();
            let r = unlimited(lua, || {
                cur.with(|c| match c.call(&argv, bad) {
                    Reply::Error(e) => Err(mlua::Error::external(ScriptError(err_text(&e)))),
                    r => reply_to_lua(lua, &r, c.sc.resp),
                })
                .unwrap_or_else(|| Err(idle_error()))
            });
            buf.give_back(argv);
            r
        })?;
        let (cur, buf) = (current.clone(), args.clone());
        let rpcall = lua.create_function(move |lua, ()| {
            let (argv, bad) = buf.take();
            let r = unlimited(lua, || {
                cur.with(|c| match c.call(&argv, bad) {
                    Reply::Error(e) => {
                        let t = lua.create_table()?;
                        t.raw_set("err", err_text(&e))?;
                        Ok(Value::Table(t))
                    }
                    r => reply_to_lua(lua, &r, c.sc.resp),
                })
                .unwrap_or_else(|| Err(idle_error()))
            });
            buf.give_back(argv);
            r
        })?;
        let rcall = with_args(&lua, rcall, &args)?;
        let rpcall = with_args(&lua, rpcall, &args)?;
        let cur = current.clone();
        internal.raw_set(
            "in_run",
            lua.create_function(move |_, ()| Ok(cur.with(|_| ()).is_some()))?,
        )?;
        let cur = current.clone();
        // The sandbox's redis.setresp checks its argument and that a run is on first.
        internal.raw_set(
            "setresp",
            lua.create_function(move |_, v: i64| {
                cur.with(|c| c.sc.resp = v as u8);
                Ok(())
            })?,
        )?;
        let redis: Table = internal.raw_get("redis")?;
        redis.raw_set("call", rcall)?;
        redis.raw_set("pcall", rpcall)?;
        let run_args = Arc::new(RunArgs::default());
        let runner = fill_and_run(
            &lua,
            internal.raw_get("run")?,
            (keys, argv),
            real.clone(),
            &run_args,
        )?;
        let runner_f: mlua::Function = internal.raw_get("runf")?;
        let load_lib: mlua::Function = internal.raw_get("load_lib")?;
        Ok(Engine {
            runner_f,
            load_lib,
            libs: HashMap::new(),
            lua,
            scripts: HashMap::default(),
            run,
            generation,
            run_args,
            current,
            runner,
        })
    }

    /// Compiles `body` into the cache (if new) and returns its SHA-1.
    pub fn load(&mut self, body: &Bytes) -> Result<String, Reply> {
        let sha = crate::util::sha1::sha1_hex(body);
        if self.scripts.contains_key(&sha) {
            return Ok(sha);
        }
        let (flags, skip) = shebang(body)?;
        // The shebang line goes but its line feed stays, so line numbers are the user's.
        let func = self
            .lua
            .load(&body[skip..])
            .set_name("@user_script")
            .into_function()
            .map_err(|e| {
                Reply::error(format!(
                    "ERR Error compiling script (new function): {}",
                    lua_error_text(&e)
                ))
            })?;
        self.scripts.insert(
            sha.clone(),
            Script {
                body: body.clone(),
                func,
                flags,
            },
        );
        Ok(sha)
    }

    /// Compiles and runs a library's code (after its shebang line, whose line feed stays): the
    /// functions it registered, or Redis's error text.
    pub fn load_library(&mut self, code: &[u8]) -> Result<Vec<Registered>, String> {
        let f = self
            .lua
            .load(code)
            .set_name("@user_function")
            .into_function()
            .map_err(|e| format!("Error compiling function: {}", lua_error_text(&e)))?;
        if let Ok(mut u) = self.run.load_until.lock() {
            *u = Some(std::time::Instant::now() + LOAD_TIMEOUT);
        }
        let r = self.load_lib.call::<(bool, Value)>(f);
        if let Ok(mut u) = self.run.load_until.lock() {
            *u = None;
        }
        let list = match r {
            Ok((true, Value::Table(t))) => t,
            Ok((_, Value::String(e))) => {
                return Err(format!(
                    "Error registering functions: {}",
                    e.to_string_lossy()
                ))
            }
            Ok(_) => return Err("Error registering functions".into()),
            Err(e) => {
                return Err(format!(
                    "Error registering functions: ERR {}",
                    lua_error_text(&e)
                ))
            }
        };
        let mut out = Vec::new();
        for entry in list.sequence_values::<Table>() {
            let entry = entry.map_err(|e| lua_error_text(&e))?;
            let name: mlua::String = entry.raw_get(1).map_err(|e| lua_error_text(&e))?;
            let desc = match entry.raw_get::<Value>(2) {
                Ok(Value::String(d)) => Some(Bytes::copy_from_slice(&d.as_bytes())),
                _ => None,
            };
            let flags: i64 = entry.raw_get(3).unwrap_or(0);
            let func: mlua::Function = entry.raw_get(4).map_err(|e| lua_error_text(&e))?;
            out.push(Registered {
                name: name.to_string_lossy(),
                desc,
                flags: flags as u8,
                func,
            });
        }
        Ok(out)
    }

    /// Fills a reused KEYS or ARGV table with `items`, clearing what a longer list left.
    fn fill(lua: &Lua, t: &Table, items: &[Bytes], before: usize) -> mlua::Result<()> {
        for (i, a) in items.iter().enumerate() {
            t.raw_set(i + 1, lua.create_string(a)?)?;
        }
        // The script may have added entries: those go too.
        let before = before.max(t.raw_len());
        for i in items.len()..before {
            t.raw_set(i + 1, Value::Nil)?;
        }
        Ok(())
    }

    /// Runs compiled script `sha` as `conn`'s script client, with the shards in `locked`.
    pub fn run(
        &mut self,
        srv: &Shared,
        conn: &Session,
        locked: &mut Locked,
        cached: &Cached,
        target: &Target,
        spec: RunSpec,
    ) -> RunOutcome {
        let lua = &self.lua;
        // A script reads KEYS and ARGV as globals (reused tables); a function gets new ones as
        // its arguments.
        let set = match target {
            Target::Script(sha) => {
                let Some(script) = self.scripts.get(*sha) else {
                    return RunOutcome::Done(Reply::error(
                        "NOSCRIPT No matching script. Please use EVAL.",
                    ));
                };
                // The runner fills KEYS and ARGV from these (valid for this call, cleared after).
                self.run_args.set(spec.keys, spec.args);
                Ok((script.func.clone(), None))
            }
            Target::Function(f) => unlimited(lua, || -> mlua::Result<_> {
                let k = lua.create_table()?;
                let a = lua.create_table()?;
                Self::fill(lua, &k, spec.keys, 0)?;
                Self::fill(lua, &a, spec.args, 0)?;
                Ok((f.clone(), Some((k, a))))
            }),
        };
        let (func, fargs) = match set {
            Ok(x) => x,
            Err(e) => return RunOutcome::Done(Reply::error(format!("ERR {}", lua_error_text(&e)))),
        };
        // The script's own client: the caller's database, RESP2 until `redis.setresp`.
        let mut sc = Session::new(conn.id, conn.handle.clone());
        sc.in_script = true;
        sc.db = conn.db;
        sc.authed = true;
        sc.user = conn.user.clone();
        // Client-side caching: what the script reads, its caller read (Redis's `script_caller`).
        sc.track = conn.track;
        let mut call = CallCtx {
            srv,
            sc,
            held: locked,
            run: &self.run,
            cached,
            read_only: spec.read_only || spec.flags.no_writes,
            deny_oom: spec.oom && !spec.flags.allow_oom,
            effects: false,
            restart: false,
        };
        self.current
            .0
            .store(&mut call as *mut CallCtx as *mut (), Relaxed);
        let outcome = match fargs {
            None => self.runner.call::<(bool, Value)>(func),
            Some((k, a)) => self.runner_f.call::<(bool, Value)>((func, k, a)),
        };
        self.current.0.store(std::ptr::null_mut(), Relaxed);
        self.run_args.set(&[], &[]);
        let reply = if call.restart {
            RunOutcome::Restart
        } else {
            RunOutcome::Done(match outcome {
                Ok((true, v)) => lua_to_reply(&v, call.sc.resp, 0),
                Ok((false, v)) => run_error(&v, spec.name),
                Err(e) => Reply::error(format!(
                    "ERR Error running script {}, {:.100}",
                    spec.name,
                    lua_error_text(&e)
                )),
            })
        };
        // Lua's own incremental collector keeps up with a run's garbage (Redis adds a step
        // every 50 runs; here that step cost more than it saved). A run that left much garbage
        // (one that hit the memory cap) is collected at once.
        if self.lua.used_memory() > LUA_MEMORY_LIMIT / 4 {
            let _ = self.lua.gc_collect();
        }
        reply
    }
}

/// Runs `f` (Rust work on the Lua state between script instructions: filling KEYS, a
/// `redis.call`) without the memory cap. With a cap set, mlua guards every call into Lua
/// against an allocation failure (a protected call each); without it, they are plain calls. The
/// cap is back before the script's next instruction.
fn unlimited<R>(lua: &Lua, f: impl FnOnce() -> R) -> R {
    let _ = lua.set_memory_limit(0);
    let r = f();
    let _ = lua.set_memory_limit(LUA_MEMORY_LIMIT);
    r
}

/// What `redis.call` raises between runs.
fn idle_error() -> mlua::Error {
    mlua::Error::external(ScriptError(
        "ERR redis.call/pcall can only be called inside a script invocation".into(),
    ))
}

/// Redis's REDIS_VERSION_NUM (0x00MMmmpp) of the version respd reports.
fn redis_version_num() -> i64 {
    let mut n = 0i64;
    for p in crate::REDIS_VERSION.split('.') {
        n = (n << 8) | p.parse::<i64>().unwrap_or(0);
    }
    n
}

/// The text of a Lua error as Lua itself would print it.
pub fn lua_error_text(e: &mlua::Error) -> String {
    match e {
        mlua::Error::SyntaxError { message, .. } => message.clone(),
        mlua::Error::RuntimeError(m) => m.clone(),
        mlua::Error::MemoryError(m) => m.clone(),
        mlua::Error::CallbackError { cause, .. } => lua_error_text(cause),
        other => other.to_string(),
    }
}

/// `#!lua flags=...`: the flags and how many bytes the shebang line takes (its line feed stays).
fn shebang(body: &[u8]) -> Result<(ScriptFlags, usize), Reply> {
    let mut flags = ScriptFlags::default();
    if !body.starts_with(b"#!") {
        return Ok((flags, 0));
    }
    let Some(end) = body.iter().position(|&c| c == b'\n') else {
        return Err(Reply::error("ERR Invalid script shebang"));
    };
    let line = String::from_utf8_lossy(&body[..end]);
    let mut parts = line.split_ascii_whitespace();
    let engine = parts.next().unwrap_or("");
    if engine != "#!lua" {
        return Err(Reply::error(format!(
            "ERR Unexpected engine in script shebang: {engine}"
        )));
    }
    flags.shebang = true;
    for p in parts {
        let Some(list) = p.strip_prefix("flags=") else {
            return Err(Reply::error(format!("ERR Unknown lua shebang option: {p}")));
        };
        for f in list.split(',').filter(|f| !f.is_empty()) {
            match f {
                "no-writes" => flags.no_writes = true,
                "allow-oom" => flags.allow_oom = true,
                "allow-stale" | "no-cluster" | "allow-cross-slot-keys" => {}
                _ => {
                    return Err(Reply::error(format!(
                        "ERR Unexpected flag in script shebang: {f}"
                    )))
                }
            }
        }
    }
    Ok((flags, end))
}

/// redis.call's arguments: strings as they are, numbers as `%.17g`, anything else refused.
fn to_args(vals: &[Value]) -> Result<Vec<Bytes>, ()> {
    vals.iter()
        .map(|v| match v {
            Value::String(s) => Ok(Bytes::copy_from_slice(&s.as_bytes())),
            Value::Integer(i) => Ok(Bytes::from(i.to_string())),
            Value::Number(n) => Ok(Bytes::from(crate::resp::fmt_double(*n))),
            _ => Err(()),
        })
        .collect()
}

/// The arguments of the `redis.call` in progress, as `call_with_args` read them off the Lua
/// stack, and whether one was neither a string nor a number.
#[derive(Default)]
struct ArgBuf(std::sync::Mutex<(Vec<Bytes>, bool)>);

impl ArgBuf {
    fn take(&self) -> (Vec<Bytes>, bool) {
        match self.0.lock() {
            Ok(mut b) => (std::mem::take(&mut b.0), b.1),
            Err(_) => (Vec::new(), true),
        }
    }

    /// Hands the vector back for the next call to fill (its allocation is kept).
    fn give_back(&self, mut v: Vec<Bytes>) {
        v.clear();
        if let Ok(mut b) = self.0.lock() {
            b.0 = v;
        }
    }
}

/// A number argument of `redis.call` as Redis writes it, `%.17g`: an integral one below 10^17
/// in plain digits (a faster path to the same text), others by `fmt_double`.
fn number_arg(n: f64) -> Bytes {
    let i = n as i64;
    if (-1e17..1e17).contains(&n) && (i as f64).to_bits() == n.to_bits() {
        Bytes::from(i.to_string())
    } else {
        Bytes::from(crate::resp::fmt_double(n))
    }
}

/// `f` (a Rust function taking no arguments) behind a C function that first reads its own
/// arguments off the Lua stack into `buf`: no mlua value per argument, no vector of them.
fn with_args(lua: &Lua, f: mlua::Function, buf: &Arc<ArgBuf>) -> mlua::Result<mlua::Function> {
    unsafe extern "C-unwind" fn call_with_args(l: *mut ffi::lua_State) -> c_int {
        // SAFETY: upvalue 2 is the `ArgBuf` that `f` (upvalue 1) keeps alive; only integers and
        // pointers live in this frame when `lua_call` may raise (a longjmp, as across Lua's own
        // C functions); the strings read are copied while on the stack.
        unsafe {
            let buf = &*(ffi::lua_touserdata(l, ffi::lua_upvalueindex(2)) as *const ArgBuf);
            let n = ffi::lua_gettop(l);
            if let Ok(mut b) = buf.0.lock() {
                b.0.clear();
                b.1 = false;
                for i in 1..=n {
                    match ffi::lua_type(l, i) {
                        ffi::LUA_TSTRING => {
                            let mut len = 0usize;
                            let p = ffi::lua_tolstring(l, i, &mut len);
                            let s = std::slice::from_raw_parts(p as *const u8, len);
                            b.0.push(Bytes::copy_from_slice(s));
                        }
                        ffi::LUA_TNUMBER => b.0.push(number_arg(ffi::lua_tonumber(l, i))),
                        _ => {
                            b.1 = true;
                            break;
                        }
                    }
                }
            }
            ffi::lua_settop(l, 0);
            ffi::lua_pushvalue(l, ffi::lua_upvalueindex(1));
            ffi::lua_call(l, 0, 1);
            1
        }
    }
    let ptr = Arc::as_ptr(buf) as *mut std::ffi::c_void;
    // SAFETY: pushes one closure over the two values given; `f` owns an `Arc` of `buf` (see
    // `Engine::new`), so the pointer lives as long as the closure can run.
    unsafe {
        lua.exec_raw::<mlua::Function>((f, mlua::LightUserData(ptr)), |l| {
            ffi::lua_pushcclosure(l, call_with_args, 2)
        })
    }
}

/// KEYS and ARGV for the next script run (pointers into the caller's slices, set by
/// `Engine::run` around the call that reads them), and how many entries each table got last.
#[derive(Default)]
struct RunArgs {
    lists: [(AtomicPtr<Bytes>, AtomicUsize); 2],
    before: [AtomicUsize; 2],
}

impl RunArgs {
    fn set(&self, keys: &[Bytes], args: &[Bytes]) {
        for (i, l) in [keys, args].into_iter().enumerate() {
            self.lists[i].0.store(l.as_ptr() as *mut Bytes, Relaxed);
            self.lists[i].1.store(l.len(), Relaxed);
        }
    }
}

/// Whether the table at `t` holds only keys 1..=`before` and has no metatable: refilling it
/// then leaves exactly what a new table would hold.
///
/// # Safety
/// `t` is a table's absolute index on `l`'s stack, with two free slots above the top.
unsafe fn refillable(l: *mut ffi::lua_State, t: c_int, before: usize) -> bool {
    unsafe {
        if ffi::lua_getmetatable(l, t) != 0 {
            ffi::lua_settop(l, -2);
            return false;
        }
        ffi::lua_pushnil(l);
        while ffi::lua_next(l, t) != 0 {
            ffi::lua_settop(l, -2);
            let k = if ffi::lua_type(l, -1) == ffi::LUA_TNUMBER {
                ffi::lua_tonumber(l, -1)
            } else {
                0.0
            };
            if !(k >= 1.0 && k <= before as f64 && k == k.trunc()) {
                ffi::lua_settop(l, -2);
                return false;
            }
        }
        true
    }
}

/// `runner` behind a C function that first fills the KEYS and ARGV tables from `args` with
/// Lua's own API (mlua's safe calls cost more than the filling itself). A table the last
/// script changed beyond its entries (another key, a metatable) is replaced by a new one, so
/// each run sees what Redis's new tables hold; the usual one is refilled in place.
fn fill_and_run(
    lua: &Lua,
    runner: mlua::Function,
    lists: (Table, Table),
    globals: Table,
    args: &Arc<RunArgs>,
) -> mlua::Result<mlua::Function> {
    unsafe extern "C-unwind" fn call(l: *mut ffi::lua_State) -> c_int {
        // SAFETY: upvalue 5 is the `RunArgs` the engine keeps as long as its Lua state; its
        // pointers are slices `Engine::run` borrows for this call. Only integers, pointers and
        // references live in this frame when Lua may raise (a longjmp).
        unsafe {
            let ra = &*(ffi::lua_touserdata(l, ffi::lua_upvalueindex(5)) as *const RunArgs);
            if ffi::lua_checkstack(l, 8) == 0 {
                return 0;
            }
            for (which, name) in [(0usize, c"KEYS"), (1, c"ARGV")] {
                let p = ra.lists[which].0.load(Relaxed);
                let n = if p.is_null() {
                    0
                } else {
                    ra.lists[which].1.load(Relaxed)
                };
                let up = ffi::lua_upvalueindex(2 + which as c_int);
                ffi::lua_pushvalue(l, up);
                let t = ffi::lua_gettop(l);
                let mut before = ra.before[which].swap(n, Relaxed);
                if !refillable(l, t, before) {
                    ffi::lua_settop(l, -2);
                    ffi::lua_createtable(l, n.min(c_int::MAX as usize) as c_int, 0);
                    ffi::lua_pushvalue(l, -1);
                    ffi::lua_replace(l, up);
                    ffi::lua_pushvalue(l, ffi::lua_upvalueindex(4));
                    ffi::lua_pushstring_(l, name.as_ptr());
                    ffi::lua_pushvalue(l, t);
                    ffi::lua_rawset(l, -3);
                    ffi::lua_settop(l, -2);
                    before = 0;
                }
                for i in 0..n {
                    let b: &Bytes = &*p.add(i);
                    ffi::lua_pushlstring_(l, b.as_ptr() as *const std::ffi::c_char, b.len());
                    ffi::lua_rawseti_(l, t, (i + 1) as c_int);
                }
                for i in n..before {
                    ffi::lua_pushnil(l);
                    ffi::lua_rawseti_(l, t, (i + 1) as c_int);
                }
                ffi::lua_settop(l, -2);
            }
            let nargs = ffi::lua_gettop(l);
            ffi::lua_pushvalue(l, ffi::lua_upvalueindex(1));
            ffi::lua_insert(l, 1);
            ffi::lua_call(l, nargs, ffi::LUA_MULTRET);
            ffi::lua_gettop(l)
        }
    }
    let ptr = Arc::as_ptr(args) as *mut std::ffi::c_void;
    // SAFETY: pushes one closure over the five values given; the engine owns `args` as long
    // as its Lua state.
    unsafe {
        lua.exec_raw::<mlua::Function>(
            (runner, lists.0, lists.1, globals, mlua::LightUserData(ptr)),
            |l| ffi::lua_pushcclosure(l, call, 5),
        )
    }
}

/// What a run's `redis.call` works with.
struct CallCtx<'a, 'l, 'k> {
    srv: &'a Shared,
    /// The script's own client.
    sc: Session,
    held: &'l mut Locked<'k>,
    run: &'a RunState,
    cached: &'a Cached,
    read_only: bool,
    deny_oom: bool,
    /// A command that may have changed something (anything not read-only) has run: the run can
    /// no longer be started again.
    effects: bool,
    /// The run must start again with every shard ([`RunOutcome::Restart`]).
    restart: bool,
}

impl CallCtx<'_, '_, '_> {
    /// One `redis.call`: Redis's checks for a command run by a script (script.c `scriptCall`),
    /// the shards of keys the script did not declare, then the normal dispatcher with the
    /// script's locks.
    fn call(&mut self, args: &[Bytes], bad: bool) -> Reply {
        if self.restart {
            // Whatever the script does with the error, the run is discarded.
            return Reply::error("ERR respd: the script runs again with every shard locked");
        }
        if bad {
            return Reply::error("ERR Lua redis lib command arguments must be strings or integers");
        }
        if args.is_empty() {
            return Reply::error(
                "ERR Please specify at least one argument for this redis lib call",
            );
        }
        let Ok(spec) = lookup(args) else {
            return Reply::error("ERR Unknown Redis command called from script");
        };
        if !spec.arity_ok(args.len()) {
            return Reply::error("ERR Wrong number of args calling Redis command from script");
        }
        if spec.flags.contains(Flags::NOSCRIPT) {
            return Reply::error("ERR This Redis command is not allowed from script");
        }
        let write = spec.flags.contains(Flags::WRITE);
        if self.read_only && write {
            return Reply::error("ERR Write commands are not allowed from read-only scripts.");
        }
        if self.deny_oom && spec.flags.contains(Flags::DENYOOM) && !self.run.wrote.load(Relaxed) {
            return Reply::error("OOM command not allowed when used memory > 'maxmemory'.");
        }
        if self.held.is_growable() {
            if let Err(e) = self.cover(spec, args) {
                return e;
            }
        }
        if write {
            self.run.wrote.store(true, Relaxed);
        }
        if !spec.flags.contains(Flags::READONLY) {
            self.effects = true;
        }
        // The clock: dispatch starts each command where the one before it ended (the first
        // where the run began), as for a client's pipeline.
        // Dispatch takes the command from here rather than looking it up again.
        self.sc.last_spec = Some(spec);
        dispatch(self.srv, &mut self.sc, Some(&mut *self.held), args)
    }

    /// Takes the shards a command needs that the run does not hold (keys it did not declare).
    /// The script is then marked to run with every shard from now on. A busy shard that cannot
    /// be waited for safely restarts a run that has had no effect yet; a run that has, waits
    /// for it a while polling, then fails the call.
    fn cover(&mut self, spec: &crate::cmd::CommandSpec, args: &[Bytes]) -> Result<(), Reply> {
        use crate::keyspace::{shard_of, SHARDS};
        let wide = spec.flags.contains(Flags::MOVABLEKEYS) || WIDE.contains(&spec.name);
        // The common case, keys the run holds, without building the list of shards.
        if !wide {
            let db = self.sc.db;
            let keys = spec.key_args(args);
            if keys.iter().all(|k| self.held.holds(db, shard_of(k))) {
                return Ok(());
            }
        }
        let want: Vec<(usize, usize)> = if wide {
            let dbs = self.srv.ks.db_count();
            (0..dbs)
                .flat_map(|d| (0..SHARDS).map(move |s| (d, s)))
                .collect()
        } else {
            let db = self.sc.db;
            spec.key_args(args)
                .into_iter()
                .map(|k| (db, shard_of(k)))
                .collect()
        };
        if want.iter().all(|&(d, s)| self.held.holds(d, s)) {
            return Ok(());
        }
        self.cached.wide.store(true, Relaxed);
        for &(d, s) in &want {
            self.run.add_shard(d, s);
        }
        if self.held.cover(want.iter().copied(), false) == Cover::Held {
            return Ok(());
        }
        if !self.effects {
            self.restart = true;
            return Err(Reply::error(
                "ERR respd: the script runs again with every shard locked",
            ));
        }
        let start = std::time::Instant::now();
        while start.elapsed() < UNDECLARED_WAIT {
            std::thread::sleep(std::time::Duration::from_micros(50));
            if self.held.cover(want.iter().copied(), false) == Cover::Held {
                return Ok(());
            }
        }
        Err(Reply::error(
            "ERR respd: a key the script did not declare is held by another client; declare the keys a script uses",
        ))
    }
}

/// An error `redis.call` raises: Redis's error table's message.
#[derive(Debug)]
struct ScriptError(String);

impl std::fmt::Display for ScriptError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ScriptError {}

/// The message of a [`ScriptError`] inside what Lua hands back.
fn script_error(e: &mlua::Error) -> Option<String> {
    match e {
        mlua::Error::CallbackError { cause, .. } => script_error(cause),
        mlua::Error::WithContext { cause, .. } => script_error(cause),
        mlua::Error::ExternalError(x) => x.downcast_ref::<ScriptError>().map(|s| s.0.clone()),
        _ => None,
    }
}

/// A command's error reply as Redis's error table holds it (`luaPushErrorBuff` of `-CODE msg`):
/// "CODE msg", with "ERR" for a reply without a code.
fn err_text(e: &str) -> String {
    let (code, msg) = match e.split_once(' ') {
        Some((c, m)) => (c, m),
        None => ("ERR", e),
    };
    format!("{code} {}", msg.trim_matches(['\r', '\n']))
}

/// The reply of a run that raised an error: the error table's message, where it happened, and
/// the script's name, as Redis words it.
fn run_error(v: &Value, name: &str) -> Reply {
    let Value::Table(t) = v else {
        let msg = match v {
            Value::String(s) => s.to_string_lossy(),
            _ => "execution failure".into(),
        };
        return Reply::error(format!("ERR Error running script {name}, {msg:.100}"));
    };
    let get = |k: &str| -> Option<String> {
        match t.raw_get::<Value>(k).ok()? {
            Value::String(s) => Some(s.to_string_lossy()),
            Value::Integer(i) => Some(i.to_string()),
            Value::Number(n) => Some(crate::resp::fmt_double(n)),
            _ => None,
        }
    };
    let mut msg = get("err").unwrap_or_default();
    if let (Some(line), Some(source)) = (get("line"), get("source")) {
        msg = format!("{msg} script: {name}, on {source}:{line}.");
    }
    Reply::error(no_newlines(&msg))
}

/// Error lines carry no line breaks (Redis maps them to spaces).
pub fn no_newlines(s: &str) -> String {
    s.replace(['\r', '\n'], " ")
}
