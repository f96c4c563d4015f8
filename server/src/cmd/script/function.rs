//! Functions: FUNCTION LOAD/LIST/DELETE/FLUSH/DUMP/RESTORE/STATS/KILL/HELP, FCALL and FCALL_RO,
//! as Redis 7.0's functions.c and function_lua.c. The libraries live in the shared state
//! (`Scripts::functions`, code and function metadata); each Lua engine compiles a library the
//! first time one of its functions runs there, so functions run in parallel on the engine pool
//! as scripts do.

use super::engine::{Engine, Registered, RunSpec, ScriptFlags, Target};
use super::{give_back, take_engine, Ctx};
use crate::cmd::{eq, CommandSpec, Flags};
use crate::persist::rdb;
use crate::resp::Reply;
use crate::state::scripts::{Cached, FunctionInfo, Functions, Library, FUNCTION_FLAGS};
use crate::state::Shared;
use crate::subcommand;
use bytes::Bytes;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

const SCRIPTING: &[&str] = &["scripting"];

pub static SUBS: &[CommandSpec] = &[
    subcommand!(
        "function",
        "load",
        -3,
        Flags::WRITE.union(Flags::DENYOOM).union(Flags::NOSCRIPT),
        (0, 0, 0),
        "7.0.0",
        SCRIPTING,
        function_load,
        "Creates a library."
    ),
    subcommand!(
        "function",
        "delete",
        3,
        Flags::WRITE.union(Flags::NOSCRIPT),
        (0, 0, 0),
        "7.0.0",
        SCRIPTING,
        function_delete,
        "Deletes a library and its functions."
    ),
    subcommand!(
        "function",
        "flush",
        -2,
        Flags::WRITE.union(Flags::NOSCRIPT),
        (0, 0, 0),
        "7.0.0",
        SCRIPTING,
        function_flush,
        "Deletes all libraries and functions."
    ),
    subcommand!(
        "function",
        "dump",
        2,
        Flags::NOSCRIPT,
        (0, 0, 0),
        "7.0.0",
        SCRIPTING,
        function_dump,
        "Dumps all libraries into a serialized binary payload."
    ),
    subcommand!(
        "function",
        "restore",
        -3,
        Flags::WRITE.union(Flags::DENYOOM).union(Flags::NOSCRIPT),
        (0, 0, 0),
        "7.0.0",
        SCRIPTING,
        function_restore,
        "Restores all libraries from a payload."
    ),
    subcommand!(
        "function",
        "list",
        -2,
        Flags::NOSCRIPT,
        (0, 0, 0),
        "7.0.0",
        SCRIPTING,
        function_list,
        "Returns information about all libraries."
    ),
    subcommand!(
        "function",
        "stats",
        2,
        Flags::NOSCRIPT.union(Flags::ALLOW_BUSY),
        (0, 0, 0),
        "7.0.0",
        SCRIPTING,
        function_stats,
        "Returns information about a function during execution."
    ),
    subcommand!(
        "function",
        "kill",
        2,
        Flags::NOSCRIPT.union(Flags::ALLOW_BUSY),
        (0, 0, 0),
        "7.0.0",
        SCRIPTING,
        function_kill,
        "Terminates a function during execution."
    ),
    subcommand!(
        "function",
        "help",
        2,
        Flags::LOADING.union(Flags::STALE),
        (0, 0, 0),
        "7.0.0",
        SCRIPTING,
        function_help,
        "Returns helpful text about the different subcommands."
    ),
];

/// Redis's `addReplySubcommandSyntaxError`.
fn syntax_error(a: &[Bytes]) -> Reply {
    Reply::error(format!(
        "ERR unknown subcommand or wrong number of arguments for '{}'. Try FUNCTION HELP.",
        String::from_utf8_lossy(&a[1])
    ))
}

/// Redis's `functionsVerifyName`.
fn valid_name(n: &[u8]) -> bool {
    !n.is_empty() && n.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'_')
}

/// A library's shebang (`#!lua name=<name>`): its name and where its code starts (the line feed
/// that ends the shebang, so line numbers are the user's). Redis's `functionExtractLibMetaData`.
fn metadata(code: &[u8]) -> Result<(Bytes, usize), String> {
    if !code.starts_with(b"#!") {
        return Err("Missing library metadata".into());
    }
    let Some(end) = code.iter().position(|&c| c == b'\n') else {
        return Err("Invalid library metadata".into());
    };
    let Some(parts) = crate::resp::split_inline_args(&code[..end]) else {
        return Err("Invalid library metadata".into());
    };
    let Some(first) = parts.first() else {
        return Err("Invalid library metadata".into());
    };
    let engine = &first[2.min(first.len())..];
    let mut name = None;
    for p in &parts[1..] {
        if p.len() >= 5 && p[..5].eq_ignore_ascii_case(b"name=") {
            if name.is_some() {
                return Err(
                    "Invalid metadata value, name argument was given multiple times".into(),
                );
            }
            name = Some(p.slice(5..));
            continue;
        }
        return Err(format!(
            "Invalid metadata value given: {}",
            String::from_utf8_lossy(p)
        ));
    }
    let Some(name) = name else {
        return Err("Library name was not given".into());
    };
    if !valid_name(&name) {
        return Err("Library names can only contain letters, numbers, or underscores(_) and must be at least one character long".into());
    }
    if !engine.eq_ignore_ascii_case(b"lua") {
        return Err(format!(
            "Engine '{}' not found",
            String::from_utf8_lossy(engine)
        ));
    }
    Ok((name, end))
}

/// Compiles library `code` on `eng` and adds it to `into` (Redis's
/// `functionsCreateWithLibraryCtx`): replacing a library of the same name only if `replace`.
/// Keeps what `eng` compiled.
fn create(
    srv: &Shared,
    eng: &mut Engine,
    code: &Bytes,
    replace: bool,
    into: &mut Functions,
) -> Result<String, String> {
    let (name, start) = metadata(code)?;
    let name = String::from_utf8_lossy(&name).into_owned();
    if into.libs.contains_key(&name) && !replace {
        return Err(format!("Library '{name}' already exists"));
    }
    let registered = eng.load_library(&code[start..])?;
    if registered.is_empty() {
        return Err("No functions registered".into());
    }
    for r in &registered {
        if let Some((lib, _)) = into.index.get(&r.name) {
            if lib.name != name {
                return Err(format!("Function {} already exists", r.name));
            }
        }
    }
    into.unlink(&name);
    let lib = library(srv, name.clone(), code.clone(), &registered);
    eng.libs.insert(
        lib.id,
        registered.into_iter().map(|r| (r.name, r.func)).collect(),
    );
    into.link(lib);
    Ok(name)
}

fn library(srv: &Shared, name: String, code: Bytes, registered: &[Registered]) -> Arc<Library> {
    Arc::new(Library {
        name,
        id: srv.scripts.lib_ids.fetch_add(1, Relaxed) + 1,
        cached: Cached {
            body: code,
            wide: Default::default(),
        },
        functions: registered
            .iter()
            .map(|r| FunctionInfo {
                name: r.name.clone(),
                desc: r.desc.clone(),
                flags: r.flags,
            })
            .collect(),
    })
}

/// Runs `f`, a change of the libraries, on an engine of the pool with the libraries locked for
/// writing; if it succeeds, the libraries' code goes where RDB saves and AOF rewrites read it
/// (`Keyspace::functions`) and the command `argv` to the AOF. Every shard is locked first (the
/// order FCALL inside EXEC takes them in), so an AOF rewrite's cut sees both or neither.
fn change_libraries<T>(
    ctx: &mut Ctx,
    argv: &[Bytes],
    f: impl FnOnce(&mut Engine, &mut Functions) -> Result<T, String>,
) -> Result<T, Reply> {
    let srv = ctx.srv;
    let mut eng = take_engine(srv)?;
    let all = ctx.held.is_none().then(|| srv.ks.lock_all());
    let r = match srv.scripts.functions.write() {
        Ok(mut fs) => match f(&mut eng, &mut fs) {
            Ok(t) => {
                save_codes(srv, &fs);
                srv.aof.append(ctx.conn.db, &[argv.to_vec()]);
                Ok(t)
            }
            Err(e) => Err(Reply::error(format!("ERR {e}"))),
        },
        Err(_) => Err(Reply::error("ERR functions unavailable")),
    };
    drop(all);
    give_back(srv, eng);
    r
}

/// The libraries' code where RDB saves and AOF rewrites read it.
fn save_codes(srv: &Shared, fs: &Functions) {
    if let Ok(mut saved) = srv.ks.functions.write() {
        *saved = fs.libs.values().map(|l| l.cached.body.clone()).collect();
    }
}

/// Compiles the libraries a load put in `Keyspace::functions` (an RDB's, an AOF base's) that
/// are not loaded yet, as Redis's RDB load does; an error names the library's problem.
pub fn load_saved(srv: &Shared) -> Result<(), String> {
    let codes = srv
        .ks
        .functions
        .read()
        .map(|f| f.clone())
        .unwrap_or_default();
    if codes.is_empty() {
        return Ok(());
    }
    let mut eng = take_engine(srv).map_err(|_| "cannot start the Lua engine".to_string())?;
    let r = match srv.scripts.functions.write() {
        Ok(mut fs) => {
            let mut r = Ok(());
            for code in &codes {
                let known = metadata(code)
                    .is_ok_and(|(n, _)| fs.libs.contains_key(&*String::from_utf8_lossy(&n)));
                if !known {
                    if let Err(e) = create(srv, &mut eng, code, false, &mut fs) {
                        r = Err(e);
                        break;
                    }
                }
            }
            save_codes(srv, &fs);
            r
        }
        Err(_) => Err("functions unavailable".to_string()),
    };
    give_back(srv, eng);
    r
}

fn function_load(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    let mut replace = false;
    let mut i = 2;
    while i < a.len() - 1 {
        if eq(&a[i], "replace") {
            replace = true;
            i += 1;
            continue;
        }
        return Reply::error(format!(
            "ERR Unknown option given: {}",
            String::from_utf8_lossy(&a[i])
        ));
    }
    let code = &a[a.len() - 1];
    let srv = ctx.srv;
    match change_libraries(ctx, a, |eng, fs| create(srv, eng, code, replace, fs)) {
        Ok(name) => Reply::bulk(name),
        Err(e) => e,
    }
}

fn function_delete(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    let name = String::from_utf8_lossy(&a[2]).into_owned();
    match change_libraries(ctx, a, |_, fs| {
        fs.unlink(&name)
            .map(|_| ())
            .ok_or_else(|| "Library not found".to_string())
    }) {
        Ok(()) => Reply::Ok,
        Err(e) => e,
    }
}

fn function_flush(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    if a.len() > 3 {
        return syntax_error(a);
    }
    if a.len() == 3 && !eq(&a[2], "sync") && !eq(&a[2], "async") {
        return Reply::error("ERR FUNCTION FLUSH only supports SYNC|ASYNC option");
    }
    match change_libraries(ctx, a, |_, fs| {
        *fs = Functions::default();
        Ok(())
    }) {
        Ok(()) => Reply::Ok,
        Err(e) => e,
    }
}

fn function_list(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    let mut with_code = false;
    let mut pattern: Option<&Bytes> = None;
    let mut i = 2;
    while i < a.len() {
        if !with_code && eq(&a[i], "withcode") {
            with_code = true;
        } else if pattern.is_none() && eq(&a[i], "libraryname") {
            if i >= a.len() - 1 {
                return Reply::error("ERR library name argument was not given");
            }
            i += 1;
            pattern = Some(&a[i]);
        } else {
            return Reply::error(format!(
                "ERR Unknown argument {}",
                String::from_utf8_lossy(&a[i])
            ));
        }
        i += 1;
    }
    let Ok(fs) = ctx.srv.scripts.functions.read() else {
        return Reply::error("ERR functions unavailable");
    };
    let mut out = Vec::new();
    for lib in fs.libs.values() {
        if pattern.is_some_and(|p| !crate::util::glob::glob_match(p, lib.name.as_bytes(), true)) {
            continue;
        }
        let funcs = lib
            .functions
            .iter()
            .map(|f| {
                Reply::Map(vec![
                    (Reply::bulk("name"), Reply::bulk(f.name.clone())),
                    (Reply::bulk("description"), Reply::opt_bulk(f.desc.clone())),
                    (
                        Reply::bulk("flags"),
                        Reply::Set(
                            FUNCTION_FLAGS
                                .iter()
                                .enumerate()
                                .filter(|(i, _)| f.flags & (1 << i) != 0)
                                .map(|(_, n)| Reply::simple(n))
                                .collect(),
                        ),
                    ),
                ])
            })
            .collect();
        let mut m = vec![
            (Reply::bulk("library_name"), Reply::bulk(lib.name.clone())),
            (Reply::bulk("engine"), Reply::bulk("LUA")),
            (Reply::bulk("functions"), Reply::Array(funcs)),
        ];
        if with_code {
            m.push((
                Reply::bulk("library_code"),
                Reply::bulk(lib.cached.body.clone()),
            ));
        }
        out.push(Reply::Map(m));
    }
    Reply::Array(out)
}

fn function_dump(ctx: &mut Ctx, _a: &[Bytes]) -> Reply {
    let Ok(fs) = ctx.srv.scripts.functions.read() else {
        return Reply::error("ERR functions unavailable");
    };
    let codes: Vec<&[u8]> = fs.libs.values().map(|l| &l.cached.body[..]).collect();
    Reply::bulk(rdb::function_payload(&codes))
}

fn function_restore(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    if a.len() > 4 {
        return syntax_error(a);
    }
    #[derive(PartialEq)]
    enum Policy {
        Append,
        Replace,
        Flush,
    }
    let policy =
        match a.get(3) {
            None => Policy::Append,
            Some(p) if eq(p, "append") => Policy::Append,
            Some(p) if eq(p, "replace") => Policy::Replace,
            Some(p) if eq(p, "flush") => Policy::Flush,
            Some(_) => return Reply::error(
                "ERR Wrong restore policy given, value should be either FLUSH, APPEND or REPLACE.",
            ),
        };
    let codes = match rdb::read_function_payload(&a[2]) {
        Ok(c) => c,
        Err(e) => return Reply::error(format!("ERR {e}")),
    };
    let srv = ctx.srv;
    let r = change_libraries(ctx, a, |eng, current| -> Result<(), String> {
        // The payload's libraries first on their own, then joined to the current ones.
        let mut new = Functions::default();
        for code in &codes {
            create(srv, eng, code, false, &mut new)?;
        }
        if policy == Policy::Flush {
            *current = new;
            return Ok(());
        }
        let mut joined = current.clone();
        for name in new.libs.keys() {
            if joined.libs.contains_key(name) {
                if policy != Policy::Replace {
                    return Err(format!("Library {name} already exists"));
                }
                joined.unlink(name);
            }
        }
        for f in new.index.keys() {
            if joined.index.contains_key(f) {
                return Err(format!("Function {f} already exists"));
            }
        }
        for lib in new.libs.into_values() {
            joined.link(lib);
        }
        *current = joined;
        Ok(())
    });
    match r {
        Ok(()) => Reply::Ok,
        Err(e) => e,
    }
}

fn function_stats(ctx: &mut Ctx, _a: &[Bytes]) -> Reply {
    let srv = ctx.srv;
    let active = srv
        .scripts
        .active
        .lock()
        .map(|a| a.clone())
        .unwrap_or_default();
    // Redis can answer only while a script is busy; runs that are not (short ones on other
    // threads) are not "running" for it.
    let busy: Vec<_> = active.iter().filter(|r| r.busy.load(Relaxed)).collect();
    if busy.iter().any(|r| !r.function.load(Relaxed)) {
        return Reply::error(
            "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.",
        );
    }
    let running = busy.first().and_then(|r| {
        let call = r.call.lock().ok()?.clone()?;
        let ms = r
            .started
            .lock()
            .ok()
            .and_then(|s| *s)
            .map(|s| s.elapsed().as_millis() as i64)
            .unwrap_or(0);
        Some(Reply::Map(vec![
            (Reply::bulk("name"), Reply::bulk(call.0)),
            (Reply::bulk("command"), Reply::bulks(call.1)),
            (Reply::bulk("duration_ms"), Reply::Int(ms)),
        ]))
    });
    let (libs, funcs) = srv
        .scripts
        .functions
        .read()
        .map(|f| (f.libs.len() as i64, f.index.len() as i64))
        .unwrap_or((0, 0));
    Reply::Map(vec![
        (Reply::bulk("running_script"), running.unwrap_or(Reply::Nil)),
        (
            Reply::bulk("engines"),
            Reply::Map(vec![(
                Reply::bulk("LUA"),
                Reply::Map(vec![
                    (Reply::bulk("libraries_count"), Reply::Int(libs)),
                    (Reply::bulk("functions_count"), Reply::Int(funcs)),
                ]),
            )]),
        ),
    ])
}

fn function_kill(ctx: &mut Ctx, _a: &[Bytes]) -> Reply {
    super::kill(ctx.srv, true)
}

fn function_help(_ctx: &mut Ctx, _a: &[Bytes]) -> Reply {
    let mut r = crate::cmd::help_reply(
        "FUNCTION",
        &[
            "LOAD [REPLACE] <FUNCTION CODE>",
            "    Create a new library with the given library name and code.",
            "DELETE <LIBRARY NAME>",
            "    Delete the given library.",
            "LIST [LIBRARYNAME PATTERN] [WITHCODE]",
            "    Return general information on all the libraries:",
            "    * Library name",
            "    * The engine used to run the Library",
            "    * Library description",
            "    * Functions list",
            "    * Library code (if WITHCODE is given)",
            "    It also possible to get only function that matches a pattern using LIBRARYNAME argument.",
            "STATS",
            "    Return information about the current function running:",
            "    * Function name",
            "    * Command used to run the function",
            "    * Duration in MS that the function is running",
            "    If no function is running, return nil",
            "    In addition, returns a list of available engines.",
            "KILL",
            "    Kill the current running function.",
            "FLUSH [ASYNC|SYNC]",
            "    Delete all the libraries.",
            "    When called without the optional mode argument, the behavior is determined by the",
            "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
            "    * ASYNC: Asynchronously flush the libraries.",
            "    * SYNC: Synchronously flush the libraries.",
            "DUMP",
            "    Return a serialized payload representing the current libraries, can be restored using FUNCTION RESTORE command",
            "RESTORE <PAYLOAD> [FLUSH|APPEND|REPLACE]",
            "    Restore the libraries represented by the given payload, it is possible to give a restore policy to",
            "    control how to handle existing libraries (default APPEND):",
            "    * FLUSH: delete all existing libraries.",
            "    * APPEND: appends the restored libraries to the existing libraries. On collision, abort.",
            "    * REPLACE: appends the restored libraries to the existing libraries, On collision, replace the old",
            "      libraries with the new libraries (notice that even on this option there is a chance of failure",
            "      in case of functions name collision with another library).",
        ],
    );
    super::prints(&mut r);
    r
}

pub fn fcall(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    fcall_generic(ctx, a, false)
}

pub fn fcall_ro(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    fcall_generic(ctx, a, true)
}

/// FCALL and FCALL_RO (Redis's `fcallCommandGeneric`).
fn fcall_generic(ctx: &mut Ctx, a: &[Bytes], ro: bool) -> Reply {
    let srv = ctx.srv;
    let name = String::from_utf8_lossy(&a[1]);
    let found = srv
        .scripts
        .functions
        .read()
        .ok()
        .and_then(|f| f.index.get(name.as_ref()).cloned());
    let Some((lib, idx)) = found else {
        return Reply::error("ERR Function not found");
    };
    let Some(numkeys) = crate::util::num::parse_i64(&a[2]) else {
        return Reply::error("ERR Bad number of keys provided");
    };
    if numkeys > (a.len() - 3) as i64 {
        return Reply::error("ERR Number of keys can't be greater than number of args");
    }
    if numkeys < 0 {
        return Reply::error("ERR Number of keys can't be negative");
    }
    let numkeys = numkeys as usize;
    let info = &lib.functions[idx];
    let flags = ScriptFlags {
        shebang: true,
        no_writes: info.flags & 1 != 0,
        allow_oom: info.flags & 2 != 0,
    };
    if ro && !flags.no_writes {
        return Reply::error("ERR Can not execute a script with write flag using *_ro command.");
    }
    let oom = ctx.held.is_none()
        && srv.config().get(crate::config::params::MAXMEMORY) > 0
        && !srv.make_room();
    if oom && !flags.allow_oom && !flags.no_writes {
        return Reply::error("OOM allow-oom flag is not set on the script, can not run it when used memory > 'maxmemory'");
    }
    let mut eng = match take_engine(srv) {
        Ok(e) => e,
        Err(e) => return e,
    };
    let r = fcall_on(ctx, &mut eng, a, &lib, &info.name, ro, flags, oom, numkeys);
    give_back(srv, eng);
    r
}

#[allow(clippy::too_many_arguments)]
fn fcall_on(
    ctx: &mut Ctx,
    eng: &mut Engine,
    a: &[Bytes],
    lib: &Library,
    fname: &str,
    ro: bool,
    flags: ScriptFlags,
    oom: bool,
    numkeys: usize,
) -> Reply {
    if !eng.libs.contains_key(&lib.id) {
        // First use of this library on this engine: compile it here. Libraries that are gone
        // are dropped from the engine meanwhile.
        if let Ok(fs) = ctx.srv.scripts.functions.read() {
            let live: std::collections::HashSet<u64> = fs.libs.values().map(|l| l.id).collect();
            eng.libs.retain(|id, _| live.contains(id));
        }
        let start = metadata(&lib.cached.body).map(|m| m.1).unwrap_or(0);
        match eng.load_library(&lib.cached.body[start..]) {
            Ok(regs) => {
                eng.libs
                    .insert(lib.id, regs.into_iter().map(|r| (r.name, r.func)).collect());
            }
            Err(e) => return Reply::error(format!("ERR {e}")),
        }
    }
    let Some(func) = eng.libs.get(&lib.id).and_then(|m| m.get(fname)).cloned() else {
        return Reply::error("ERR Function not found");
    };
    if let Ok(mut c) = eng.run.call.lock() {
        *c = Some((fname.to_string(), a.to_vec()));
    }
    let spec = RunSpec {
        name: fname,
        keys: &a[3..3 + numkeys],
        args: &a[3 + numkeys..],
        read_only: ro,
        flags,
        oom,
    };
    super::run_locked(ctx, eng, &lib.cached, &Target::Function(func), &spec)
}
