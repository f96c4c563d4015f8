//! The Lua engine: one Lua 5.1 state per server with Redis's sandbox (`sandbox.lua`), the script
//! cache (SHA-1 → compiled function), and one run: KEYS and ARGV set, `redis.call` lent for the
//! run's length, the result converted to a reply. The caller holds every shard for the run.

use super::convert::{lua_to_reply, reply_to_lua};
use crate::cmd::{dispatch, lookup, Flags, Session};
use crate::keyspace::Locked;
use crate::resp::Reply;
use crate::state::scripts::RunState;
use crate::state::Shared;
use bytes::Bytes;
use mlua::{HookTriggers, Lua, LuaOptions, StdLib, Table, Value, Variadic, VmState};
use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;

const SANDBOX: &str = include_str!("sandbox.lua");

/// Lua's own allocations are capped here: `string.rep` with an absurd count fails with "not
/// enough memory" instead of taking the machine's memory.
const LUA_MEMORY_LIMIT: usize = 1 << 30;

/// How often (in Lua instructions) the hook looks at the clock and at SCRIPT KILL, as Redis.
const HOOK_EVERY: u32 = 100_000;

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

/// The engine of one server.
pub struct Engine {
    lua: Lua,
    real: Table,
    internal: Table,
    pub scripts: HashMap<String, Script>,
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
    pub fn new(run: Arc<RunState>, rand: &Arc<AtomicU64>) -> mlua::Result<Engine> {
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
                    let msg = match script_error(&e) {
                        Some(m) => m,
                        None => format!("ERR {}", lua_error_text(&e)),
                    };
                    let t = lua.create_table()?;
                    t.raw_set("err", msg)?;
                    Ok(Value::Table(t))
                }
                other => Ok(other),
            })?,
        )?;
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
                if run.check() {
                    return Err(mlua::Error::runtime(
                        "Script killed by user with SCRIPT KILL...",
                    ));
                }
                Ok(VmState::Continue)
            },
        )?;
        Ok(Engine {
            lua,
            real,
            internal,
            scripts: HashMap::new(),
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

    /// Runs cached script `sha` as `conn`'s script client, with every shard in `locked`.
    pub fn run(
        &mut self,
        srv: &Shared,
        conn: &Session,
        locked: &mut Locked,
        sha: &str,
        spec: RunSpec,
    ) -> Reply {
        let Some(script) = self.scripts.get(sha) else {
            return Reply::error("NOSCRIPT No matching script. Please use EVAL.");
        };
        let func = script.func.clone();
        let lua = &self.lua;
        let mk = |items: &[Bytes]| -> mlua::Result<Table> {
            let t = lua.create_table_with_capacity(items.len(), 0)?;
            for (i, a) in items.iter().enumerate() {
                t.raw_set(i + 1, lua.create_string(a)?)?;
            }
            Ok(t)
        };
        let set = (|| -> mlua::Result<()> {
            self.real.raw_set("KEYS", mk(spec.keys)?)?;
            self.real.raw_set("ARGV", mk(spec.args)?)?;
            Ok(())
        })();
        if let Err(e) = set {
            return Reply::error(format!("ERR {}", lua_error_text(&e)));
        }
        // The script's own client: the caller's database, RESP2 until `redis.setresp`.
        let mut sc = Session::new(conn.id, conn.handle.clone());
        sc.db = conn.db;
        sc.authed = true;
        sc.user = conn.user.clone();
        let sc = RefCell::new(sc);
        let held = RefCell::new(locked);
        let read_only = spec.read_only || spec.flags.no_writes;
        let deny_oom = spec.oom && !spec.flags.allow_oom;
        let run = &srv.scripts.run;
        let outcome = lua.scope(|scope| {
            // redis.call raises the error (a Rust error that `unwrap_err` turns back into
            // Redis's error table); redis.pcall returns the table.
            let call = scope.create_function(|lua, args: Variadic<Value>| {
                match call_command(srv, &sc, &held, run, &args, read_only, deny_oom) {
                    Reply::Error(e) => Err(mlua::Error::external(ScriptError(err_text(&e)))),
                    r => reply_to_lua(lua, &r, sc.borrow().resp),
                }
            })?;
            let pcall = scope.create_function(|lua, args: Variadic<Value>| {
                match call_command(srv, &sc, &held, run, &args, read_only, deny_oom) {
                    Reply::Error(e) => {
                        let t = lua.create_table()?;
                        t.raw_set("err", err_text(&e))?;
                        Ok(Value::Table(t))
                    }
                    r => reply_to_lua(lua, &r, sc.borrow().resp),
                }
            })?;
            let setresp = scope.create_function(|_, v: i64| {
                sc.borrow_mut().resp = v as u8;
                Ok(())
            })?;
            let redis: Table = self.internal.raw_get("redis")?;
            let idle: mlua::Function = self.internal.raw_get("idle_call")?;
            redis.raw_set("call", call)?;
            redis.raw_set("pcall", pcall)?;
            // Marks the run for the sandbox's "only inside a script invocation" checks.
            self.internal.raw_set("call", true)?;
            self.internal.raw_set("setresp", setresp)?;
            let runner: mlua::Function = self.internal.raw_get("run")?;
            let r = runner.call::<(bool, Value)>(func);
            redis.raw_set("call", idle.clone())?;
            redis.raw_set("pcall", idle)?;
            self.internal.raw_set("call", Value::Nil)?;
            self.internal.raw_set("setresp", Value::Nil)?;
            r
        });
        let resp = sc.borrow().resp;
        let reply = match outcome {
            Ok((true, v)) => lua_to_reply(&v, resp, 0),
            Ok((false, v)) => run_error(&v, spec.name),
            Err(e) => Reply::error(format!(
                "ERR Error running script {}, {:.100}",
                spec.name,
                lua_error_text(&e)
            )),
        };
        // Redis steps the collector now and then rather than letting a full cycle land on a run;
        // a run that left much garbage (one that hit the memory cap) is collected at once.
        let _ = self.lua.gc_step_kbytes(1);
        if self.lua.used_memory() > LUA_MEMORY_LIMIT / 4 {
            let _ = self.lua.gc_collect();
        }
        reply
    }
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

/// One `redis.call`: Redis's checks for a command run by a script (script.c `scriptCall`), then
/// the normal dispatcher with the locks the script holds.
fn call_command(
    srv: &Shared,
    sc: &RefCell<Session>,
    held: &RefCell<&mut Locked>,
    run: &RunState,
    vals: &[Value],
    read_only: bool,
    deny_oom: bool,
) -> Reply {
    let Ok(args) = to_args(vals) else {
        return Reply::error("ERR Lua redis lib command arguments must be strings or integers");
    };
    if args.is_empty() {
        return Reply::error("ERR Please specify at least one argument for this redis lib call");
    }
    let Ok(spec) = lookup(&args) else {
        return Reply::error("ERR Unknown Redis command called from script");
    };
    if !spec.arity_ok(args.len()) {
        return Reply::error("ERR Wrong number of args calling Redis command from script");
    }
    if spec.flags.contains(Flags::NOSCRIPT) {
        return Reply::error("ERR This Redis command is not allowed from script");
    }
    let write = spec.flags.contains(Flags::WRITE);
    if read_only && write {
        return Reply::error("ERR Write commands are not allowed from read-only scripts.");
    }
    if deny_oom && spec.flags.contains(Flags::DENYOOM) && !run.wrote.load(Relaxed) {
        return Reply::error("OOM command not allowed when used memory > 'maxmemory'.");
    }
    if write {
        run.wrote.store(true, Relaxed);
    }
    let mut sc = sc.borrow_mut();
    let mut held = held.borrow_mut();
    sc.now_ms = crate::keyspace::now_ms();
    sc.clock = std::time::Instant::now();
    dispatch(srv, &mut sc, Some(&mut **held), &args)
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
