//! DEBUG and MODULE, behind `enable-debug-command` / `enable-module-command` as in Redis 7.0
//! (the check is in `run_command`, where Redis's processCommand has it). DEBUG has the
//! subcommands that are cheap and useful to tests and operators; MODULE lists no modules and
//! refuses to load any: respd cannot run Redis modules.

use super::server::{ADMIN, LS};
use super::{eq, help_reply, CommandSpec, Ctx, Flags};
use crate::config::params;
use crate::resp::Reply;
use crate::state::Shared;
use crate::{command, container, subcommand};
use bytes::Bytes;

/// DEBUG and the MODULE container.
pub static COMMANDS: &[CommandSpec] = &[
    command!(
        "debug",
        -2,
        ADMIN,
        (0, 0, 0),
        "server",
        "1.0.0",
        &[],
        debug,
        "A container for debugging commands"
    ),
    container!(
        "module",
        -2,
        Flags::empty(),
        "server",
        "4.0.0",
        MODULE_SUBS,
        "A container for module commands"
    ),
];

const ADMIN_NOSCRIPT: Flags = Flags::ADMIN.union(Flags::NOSCRIPT);
const LOADING_ONES: Flags = ADMIN_NOSCRIPT.union(Flags::NO_ASYNC_LOADING);

static MODULE_SUBS: &[CommandSpec] = &[
    subcommand!(
        "module",
        "help",
        2,
        LS,
        (0, 0, 0),
        "5.0.0",
        &[],
        module_help,
        "Show helpful text about the different subcommands"
    ),
    subcommand!(
        "module",
        "list",
        2,
        ADMIN_NOSCRIPT,
        (0, 0, 0),
        "4.0.0",
        &[],
        module_list,
        "List all modules loaded by the server"
    ),
    subcommand!(
        "module",
        "load",
        -3,
        LOADING_ONES,
        (0, 0, 0),
        "4.0.0",
        &[],
        module_load,
        "Load a module"
    ),
    subcommand!(
        "module",
        "loadex",
        -3,
        LOADING_ONES,
        (0, 0, 0),
        "7.0.0",
        &[],
        module_load,
        "Load a module with extended parameters"
    ),
    subcommand!(
        "module",
        "unload",
        3,
        LOADING_ONES,
        (0, 0, 0),
        "4.0.0",
        &[],
        module_unload,
        "Unload a module"
    ),
];

const DEBUG_REFUSED: &str = "ERR DEBUG command not allowed. If the enable-debug-command option is set to \"local\", you can run it from a local connection, otherwise you need to set this option in the configuration file, and then restart the server.";
const MODULE_REFUSED: &str = "ERR MODULE command not allowed. If the enable-module-command option is set to \"local\", you can run it from a local connection, otherwise you need to set this option in the configuration file, and then restart the server.";

/// Redis's PROTECTED commands (DEBUG; MODULE LOAD, LOADEX and UNLOAD): the refusal unless the
/// setting is `yes`, or `local` and the client is on a loopback address.
pub fn protected_refusal(
    srv: &Shared,
    spec: &CommandSpec,
    peer: std::net::SocketAddr,
) -> Option<&'static str> {
    let (setting, err) = match (spec.parent, spec.name) {
        (None, "debug") => (params::ENABLE_DEBUG_COMMAND, DEBUG_REFUSED),
        (Some("module"), "load" | "loadex" | "unload") => {
            (params::ENABLE_MODULE_COMMAND, MODULE_REFUSED)
        }
        _ => return None,
    };
    let allowed = match srv.config().get(setting) {
        "yes" => true,
        "local" => peer.ip().is_loopback(),
        _ => false,
    };
    (!allowed).then_some(err)
}

fn module_help(_ctx: &mut Ctx, _a: &[Bytes]) -> Reply {
    help_reply(
        "MODULE",
        &[
            "LIST",
            "    Return a list of loaded modules.",
            "LOAD <path> [<arg> ...]",
            "    Load a module library from <path>, passing to it any optional arguments.",
            "LOADEX <path> [[CONFIG NAME VALUE] [CONFIG NAME VALUE]] [ARGS ...]",
            "    Load a module library from <path>, while passing it module configurations and optional arguments.",
            "UNLOAD <name>",
            "    Unload a module.",
        ],
    )
}

fn module_list(_ctx: &mut Ctx, _a: &[Bytes]) -> Reply {
    Reply::Array(vec![])
}

fn module_load(_ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    tracing::warn!(
        path = %String::from_utf8_lossy(&a[2]),
        "Module failed to load: respd cannot load Redis modules"
    );
    Reply::error("ERR Error loading the extension. Please check the server logs.")
}

fn module_unload(_ctx: &mut Ctx, _a: &[Bytes]) -> Reply {
    Reply::error("ERR Error unloading module: no such module with that name")
}

fn debug(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    let sub = &a[1];
    match a.len() {
        2 if eq(sub, "help") => debug_help(),
        2 if eq(sub, "change-repl-id") => {
            // respd has no replication: nothing to change.
            tracing::warn!("Changing replication IDs after receiving DEBUG change-repl-id");
            Reply::Ok
        }
        3 if eq(sub, "log") => {
            tracing::warn!("DEBUG LOG: {}", String::from_utf8_lossy(&a[2]));
            Reply::Ok
        }
        3 if eq(sub, "error") => {
            // No line breaks inside an error reply.
            let msg: String = String::from_utf8_lossy(&a[2])
                .chars()
                .map(|c| if c == '\r' || c == '\n' { ' ' } else { c })
                .collect();
            Reply::error(msg)
        }
        3 if eq(sub, "sleep") => {
            let secs = strtod(&a[2]);
            // As nanosleep, a negative or unreadable time does not sleep. The whole server
            // stops in Redis; here the worker thread of this client does.
            if secs > 0.0 && secs.is_finite() {
                std::thread::sleep(std::time::Duration::from_micros((secs * 1e6) as u64));
            }
            Reply::Ok
        }
        3 if eq(sub, "object") => debug_object(ctx, &a[2]),
        _ => Reply::error(format!(
            "ERR unknown subcommand or wrong number of arguments for '{}'. Try DEBUG HELP.",
            String::from_utf8_lossy(&sub[..sub.len().min(128)])
        )),
    }
}

/// C's strtod: the longest number at the start, 0 if there is none.
fn strtod(b: &[u8]) -> f64 {
    let s = String::from_utf8_lossy(b);
    let s = s.trim_start();
    (1..=s.len())
        .rev()
        .filter(|&n| s.is_char_boundary(n))
        .find_map(|n| s[..n].parse::<f64>().ok())
        .unwrap_or(0.0)
}

fn debug_object(ctx: &mut Ctx, key: &Bytes) -> Reply {
    let info = ctx.with_key(key, |v| {
        let now = (v.now() / 1000) as u32;
        v.peek(key).map(|e| {
            let addr = &e.value as *const _ as usize;
            // Redis's rdbSavedObjectLen: the DUMP payload without its type byte and footer.
            let len = crate::persist::rdb::dump_payload(&e.value)
                .len()
                .saturating_sub(11);
            (
                addr,
                e.value.encoding(e.str_hint),
                len,
                e.last_access,
                now.saturating_sub(e.last_access),
            )
        })
    });
    match info {
        Some((addr, enc, len, lru, idle)) => Reply::Simple(
            format!(
                "Value at:{addr:#x} refcount:1 encoding:{enc} serializedlength:{len} lru:{} lru_seconds_idle:{idle}",
                lru & 0xFF_FFFF
            )
            .into(),
        ),
        None => Reply::error("ERR no such key"),
    }
}

fn debug_help() -> Reply {
    help_reply(
        "DEBUG",
        &[
            "CHANGE-REPL-ID",
            "    Change the replication IDs of the instance.",
            "    Dangerous: should be used only for testing the replication subsystem.",
            "ERROR <string>",
            "    Return a Redis protocol error with <string> as message. Useful for clients",
            "    unit tests to simulate Redis errors.",
            "LOG <message>",
            "    Write <message> to the server log.",
            "OBJECT <key>",
            "    Show low level info about `key` and associated value.",
            "SLEEP <seconds>",
            "    Stop the server for <seconds>. Decimals allowed.",
        ],
    )
}
