//! Connection commands (PING, ECHO, HELLO, AUTH, CLIENT, QUIT, RESET) and transactions (MULTI,
//! EXEC, DISCARD, WATCH, UNWATCH).

use super::Session;
use super::{eq, help_reply, int, syntax, text, CommandSpec, Ctx, Flags};
use crate::resp::Reply;
use crate::state::{ClientHandle, Shared};
use crate::{command, container, subcommand};
use bytes::Bytes;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

const CONN: Flags = Flags(Flags::LOADING.0 | Flags::STALE.0 | Flags::FAST.0);
const ACL_C: &[&str] = &["fast", "connection"];
const ACL_CS: &[&str] = &["slow", "connection"];
const TX: Flags =
    Flags(Flags::NO_QUEUE.0 | Flags::LOADING.0 | Flags::STALE.0 | Flags::FAST.0 | BUSY_OK.0);
/// Runs while a script is busy, and not from a script (Redis's `noscript allow_busy`).
const BUSY_OK: Flags = Flags(Flags::NOSCRIPT.0 | Flags::ALLOW_BUSY.0);

/// The connection and transaction family.
pub static COMMANDS: &[CommandSpec] = &[
    command!(
        "ping",
        -1,
        Flags(Flags::FAST.0 | Flags::PUBSUB_OK.0),
        (0, 0, 0),
        "connection",
        "1.0.0",
        ACL_C,
        ping,
        "Returns the server's liveliness response."
    ),
    command!(
        "echo",
        2,
        CONN,
        (0, 0, 0),
        "connection",
        "1.0.0",
        ACL_C,
        echo,
        "Returns the given string."
    ),
    command!(
        "quit",
        -1,
        Flags(Flags::NOAUTH.0 | Flags::NO_QUEUE.0 | Flags::PUBSUB_OK.0 | CONN.0 | BUSY_OK.0),
        (0, 0, 0),
        "connection",
        "1.0.0",
        ACL_C,
        quit,
        "Closes the connection."
    ),
    command!(
        "reset",
        1,
        Flags(Flags::NOAUTH.0 | Flags::NO_QUEUE.0 | Flags::PUBSUB_OK.0 | CONN.0 | BUSY_OK.0),
        (0, 0, 0),
        "connection",
        "6.2.0",
        ACL_C,
        reset,
        "Resets the connection."
    ),
    command!(
        "hello",
        -1,
        Flags(Flags::NOAUTH.0 | CONN.0 | BUSY_OK.0),
        (0, 0, 0),
        "connection",
        "6.0.0",
        ACL_C,
        hello,
        "Handshakes with the Redis server."
    ),
    command!(
        "auth",
        -2,
        Flags(Flags::NOAUTH.0 | CONN.0 | BUSY_OK.0),
        (0, 0, 0),
        "connection",
        "1.0.0",
        ACL_C,
        auth,
        "Authenticates the connection."
    ),
    container!(
        "client",
        -2,
        Flags::NONE,
        "connection",
        "2.4.0",
        CLIENT_SUBS,
        "A container for client connection commands."
    ),
    command!(
        "multi",
        1,
        TX,
        (0, 0, 0),
        "transactions",
        "1.2.0",
        &["fast", "transaction"],
        multi,
        "Starts a transaction."
    ),
    command!(
        "exec",
        1,
        Flags(
            Flags::NO_QUEUE.0
                | Flags::LOADING.0
                | Flags::STALE.0
                | Flags::NOSCRIPT.0
                | Flags::SKIP_SLOWLOG.0
        ),
        (0, 0, 0),
        "transactions",
        "1.2.0",
        &["slow", "transaction"],
        exec,
        "Executes all commands in a transaction."
    ),
    command!(
        "discard",
        1,
        TX,
        (0, 0, 0),
        "transactions",
        "2.0.0",
        &["fast", "transaction"],
        discard,
        "Discards a transaction."
    ),
    command!(
        "watch",
        -2,
        TX,
        (1, -1, 1),
        "transactions",
        "2.2.0",
        &["fast", "transaction"],
        watch,
        "Monitors changes to keys to determine the execution of a transaction."
    ),
    command!(
        "unwatch",
        1,
        Flags(Flags::LOADING.0 | Flags::STALE.0 | Flags::FAST.0 | BUSY_OK.0),
        (0, 0, 0),
        "transactions",
        "2.2.0",
        &["fast", "transaction"],
        unwatch,
        "Forgets about watched keys of a transaction."
    ),
];

const CS: Flags = Flags(Flags::LOADING.0 | Flags::STALE.0 | Flags::NOSCRIPT.0);
static CLIENT_SUBS: &[CommandSpec] = &[
    subcommand!(
        "client",
        "id",
        2,
        CS,
        (0, 0, 0),
        "5.0.0",
        ACL_CS,
        client_id,
        "Returns the unique client ID of the connection."
    ),
    subcommand!(
        "client",
        "setname",
        3,
        CS,
        (0, 0, 0),
        "2.6.9",
        ACL_CS,
        client_setname,
        "Sets the connection name."
    ),
    subcommand!(
        "client",
        "getname",
        2,
        CS,
        (0, 0, 0),
        "2.6.9",
        ACL_CS,
        client_getname,
        "Returns the name of the connection."
    ),
    subcommand!(
        "client",
        "list",
        -2,
        Flags(Flags::ADMIN.0 | CS.0),
        (0, 0, 0),
        "2.4.0",
        ACL_CS,
        client_list,
        "Lists open connections."
    ),
    subcommand!(
        "client",
        "info",
        2,
        CS,
        (0, 0, 0),
        "6.2.0",
        ACL_CS,
        client_info,
        "Returns information about the connection."
    ),
    subcommand!(
        "client",
        "kill",
        -3,
        Flags(Flags::ADMIN.0 | CS.0),
        (0, 0, 0),
        "2.4.0",
        ACL_CS,
        client_kill,
        "Terminates open connections."
    ),
    subcommand!(
        "client",
        "setinfo",
        4,
        CS,
        (0, 0, 0),
        "7.2.0",
        ACL_CS,
        client_setinfo,
        "Sets information specific to the client or connection."
    ),
    subcommand!(
        "client",
        "no-evict",
        3,
        Flags(Flags::ADMIN.0 | CS.0),
        (0, 0, 0),
        "7.0.0",
        ACL_CS,
        client_onoff,
        "Sets the client eviction mode of the connection."
    ),
    subcommand!(
        "client",
        "no-touch",
        3,
        CS,
        (0, 0, 0),
        "7.2.0",
        ACL_CS,
        client_onoff,
        "Controls whether commands sent by the client affect the LRU/LFU of accessed keys."
    ),
    subcommand!(
        "client",
        "getredir",
        2,
        CS,
        (0, 0, 0),
        "6.0.0",
        ACL_CS,
        client_getredir,
        "Returns the client ID to which the connection's tracking notifications are redirected."
    ),
    subcommand!(
        "client",
        "unblock",
        -3,
        Flags(Flags::ADMIN.0 | CS.0),
        (0, 0, 0),
        "5.0.0",
        ACL_CS,
        client_unblock,
        "Unblocks a client blocked by a blocking command from a different connection."
    ),
    subcommand!(
        "client",
        "help",
        2,
        Flags(Flags::LOADING.0 | Flags::STALE.0),
        (0, 0, 0),
        "5.0.0",
        ACL_CS,
        client_help,
        "Returns helpful text about the different subcommands."
    ),
];

fn ping(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    if a.len() > 2 {
        return Reply::err("wrong number of arguments for 'ping' command");
    }
    if ctx.conn.in_subscribed_context() {
        let msg = a.get(1).cloned().unwrap_or_default();
        return Reply::Array(vec![
            Reply::bulk(Bytes::from_static(b"pong")),
            Reply::Bulk(msg),
        ]);
    }
    match a.get(1) {
        Some(m) => Reply::Bulk(m.clone()),
        None => Reply::simple("PONG"),
    }
}

fn echo(_ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    Reply::Bulk(a[1].clone())
}

fn quit(ctx: &mut Ctx, _a: &[Bytes]) -> Reply {
    ctx.conn.close_after_reply = true;
    Reply::Ok
}

fn reset(ctx: &mut Ctx, _a: &[Bytes]) -> Reply {
    ctx.conn.multi = None;
    ctx.conn.multi_error = false;
    unwatch_all(ctx.srv, ctx.conn);
    crate::cmd::connection::unsubscribe_all(ctx.srv, ctx.conn);
    ctx.conn.db = 0;
    ctx.conn.handle.db.store(0, Relaxed);
    ctx.conn.resp = 2;
    ctx.conn.handle.resp.store(2, Relaxed);
    ctx.conn.authed = false;
    set_name(&ctx.conn.handle, Bytes::new());
    Reply::simple("RESET")
}

/// Checks a password for the default user; Redis's errors otherwise.
fn check_auth(srv: &Shared, user: Option<&[u8]>, pass: &[u8]) -> Result<(), Reply> {
    let wrong = Reply::error("WRONGPASS invalid username-password pair or user is disabled.");
    if let Some(u) = user {
        if u != b"default" {
            return Err(wrong);
        }
    }
    let p = srv.config().get(crate::config::params::REQUIREPASS);
    match &*p {
        // No password: the default user takes any password (nopass), as Redis does.
        "" => Ok(()),
        p if p.as_bytes() == pass => Ok(()),
        _ => Err(wrong),
    }
}

fn auth(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    if a.len() > 3 {
        return syntax();
    }
    if a.len() == 2 && !ctx.srv.auth_required() {
        return Reply::error("ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?");
    }
    let (user, pass) = if a.len() == 3 {
        (Some(&a[1][..]), &a[2])
    } else {
        (None, &a[1])
    };
    match check_auth(ctx.srv, user, pass) {
        Ok(()) => {
            ctx.conn.authed = true;
            Reply::Ok
        }
        Err(e) => e,
    }
}

fn hello(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    let mut ver = ctx.conn.resp;
    let mut i = 1;
    if a.len() > 1 {
        match int(&a[1]) {
            Ok(v) if v == 2 || v == 3 => ver = v as u8,
            Ok(_) => return Reply::error("NOPROTO unsupported protocol version"),
            Err(_) => {
                return Reply::error("ERR Protocol version is not an integer or out of range")
            }
        }
        i = 2;
    }
    let mut name: Option<Bytes> = None;
    let mut authed_now = false;
    while i < a.len() {
        let more = a.len() - i - 1;
        if eq(&a[i], "auth") && more >= 2 {
            if let Err(e) = check_auth(ctx.srv, Some(&a[i + 1]), &a[i + 2]) {
                return e;
            }
            authed_now = true;
            i += 3;
        } else if eq(&a[i], "setname") && more >= 1 {
            if let Err(e) = valid_name(&a[i + 1]) {
                return e;
            }
            name = Some(a[i + 1].clone());
            i += 2;
        } else {
            return Reply::err(format!("Syntax error in HELLO option '{}'", text(&a[i])));
        }
    }
    if authed_now {
        ctx.conn.authed = true;
    }
    if !ctx.conn.authed && ctx.srv.auth_required() {
        return Reply::error("NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time");
    }
    if let Some(n) = name {
        set_name(&ctx.conn.handle, n);
    }
    ctx.conn.resp = ver;
    ctx.conn.handle.resp.store(ver, Relaxed);
    let s = |x: &'static str| Reply::bulk(Bytes::from_static(x.as_bytes()));
    Reply::Map(vec![
        (s("server"), s("redis")),
        (s("version"), s(crate::REDIS_VERSION)),
        (s("proto"), Reply::Int(ver as i64)),
        (s("id"), Reply::Int(ctx.conn.id as i64)),
        (s("mode"), s("standalone")),
        (s("role"), s("master")),
        (s("modules"), Reply::Array(vec![])),
    ])
}

fn valid_name(n: &[u8]) -> Result<(), Reply> {
    if n.iter().any(|&c| !(b'!'..=b'~').contains(&c)) {
        return Err(Reply::error(
            "ERR Client names cannot contain spaces, newlines or special characters.",
        ));
    }
    Ok(())
}

fn set_name(h: &ClientHandle, n: Bytes) {
    *h.name.lock().unwrap_or_else(|e| e.into_inner()) = if n.is_empty() { None } else { Some(n) };
}

fn client_id(ctx: &mut Ctx, _a: &[Bytes]) -> Reply {
    Reply::Int(ctx.conn.id as i64)
}

fn client_setname(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    if let Err(e) = valid_name(&a[2]) {
        return e;
    }
    set_name(&ctx.conn.handle, a[2].clone());
    Reply::Ok
}

fn client_getname(ctx: &mut Ctx, _a: &[Bytes]) -> Reply {
    Reply::opt_bulk(
        ctx.conn
            .handle
            .name
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone(),
    )
}

fn client_setinfo(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    let v = a[3].clone();
    let slot = if eq(&a[2], "lib-name") {
        &ctx.conn.handle.lib_name
    } else if eq(&a[2], "lib-ver") {
        &ctx.conn.handle.lib_ver
    } else {
        return Reply::err(format!("Unrecognized option '{}'", text(&a[2])));
    };
    if v.iter().any(|&c| !(b'!'..=b'~').contains(&c)) {
        return Reply::err(format!(
            "{} cannot contain spaces, newlines or special characters.",
            text(&a[2]).to_ascii_lowercase()
        ));
    }
    *slot.lock().unwrap_or_else(|e| e.into_inner()) = Some(v);
    Reply::Ok
}

fn client_onoff(_ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    if eq(&a[2], "on") || eq(&a[2], "off") {
        Reply::Ok
    } else {
        syntax()
    }
}

fn client_getredir(_ctx: &mut Ctx, _a: &[Bytes]) -> Reply {
    Reply::Int(-1)
}

/// One CLIENT LIST line (without the newline), in Redis 7's format.
fn client_line(srv: &Shared, h: &ClientHandle, current: &str) -> String {
    let now = srv.uptime_ms();
    let name = h
        .name
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone()
        .unwrap_or_default();
    let lib = h
        .lib_name
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone()
        .unwrap_or_default();
    let ver = h
        .lib_ver
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone()
        .unwrap_or_default();
    let subs = h.subs.load(Relaxed);
    let psubs = h.psubs.load(Relaxed);
    let flags = if subs + psubs > 0 {
        "P"
    } else if srv.blocking.is_blocked(h.id) {
        "b"
    } else {
        "N"
    };
    let cmd = if current.is_empty() {
        h.last_cmd.lock().unwrap_or_else(|e| e.into_inner()).clone()
    } else {
        current.to_string()
    };
    format!(
        "id={} addr={} laddr={} fd=8 name={} age={} idle={} flags={} db={} sub={} psub={} ssub=0 multi={} qbuf={} qbuf-free=0 argv-mem=0 multi-mem=0 rbs=16384 rbp=0 obl=0 oll=0 omem={} tot-mem=0 events=r cmd={} user=default redir=-1 resp={} lib-name={} lib-ver={}",
        h.id,
        h.addr,
        h.laddr,
        String::from_utf8_lossy(&name),
        h.created.elapsed().as_secs(),
        now.saturating_sub(h.last_interaction.load(Relaxed)) / 1000,
        flags,
        h.db.load(Relaxed),
        subs,
        psubs,
        h.multi.load(Relaxed) as i64 - 1,
        h.qbuf.load(Relaxed),
        h.omem.load(Relaxed),
        cmd,
        h.resp.load(Relaxed),
        String::from_utf8_lossy(&lib),
        String::from_utf8_lossy(&ver),
    )
}

fn clients(srv: &Shared) -> Vec<Arc<ClientHandle>> {
    srv.clients
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .values()
        .cloned()
        .collect()
}

fn client_list(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    let mut ids: Option<Vec<u64>> = None;
    let mut typ: Option<String> = None;
    let mut i = 2;
    while i < a.len() {
        if eq(&a[i], "type") && i + 1 < a.len() {
            let t = text(&a[i + 1]).to_ascii_lowercase();
            if !["normal", "master", "replica", "slave", "pubsub"].contains(&t.as_str()) {
                return Reply::err(format!("Unknown client type '{}'", text(&a[i + 1])));
            }
            typ = Some(t);
            i += 2;
        } else if eq(&a[i], "id") && i + 1 < a.len() {
            let mut v = Vec::new();
            for x in &a[i + 1..] {
                match crate::resp::parse_i64(x) {
                    Some(n) if n > 0 => v.push(n as u64),
                    _ => return Reply::error("ERR Invalid client ID"),
                }
            }
            ids = Some(v);
            i = a.len();
        } else {
            return syntax();
        }
    }
    let mut out = String::new();
    for h in clients(ctx.srv) {
        if ids.as_ref().is_some_and(|v| !v.contains(&h.id)) {
            continue;
        }
        let is_pubsub = h.subs.load(Relaxed) + h.psubs.load(Relaxed) > 0;
        match typ.as_deref() {
            Some("pubsub") if !is_pubsub => continue,
            Some("normal") if is_pubsub => continue,
            Some("master") | Some("replica") | Some("slave") => continue,
            _ => {}
        }
        let cur = if h.id == ctx.conn.id {
            "client|list"
        } else {
            ""
        };
        out.push_str(&client_line(ctx.srv, &h, cur));
        out.push('\n');
    }
    Reply::Verbatim(Bytes::from(out))
}

fn client_info(ctx: &mut Ctx, _a: &[Bytes]) -> Reply {
    let line = client_line(ctx.srv, &ctx.conn.handle, "client|info");
    Reply::Verbatim(Bytes::from(line + "\n"))
}

fn client_kill(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    let all = clients(ctx.srv);
    if a.len() == 3 {
        // Old form: CLIENT KILL addr:port.
        let addr = text(&a[2]);
        return match all.iter().find(|h| h.addr.to_string() == addr) {
            Some(h) => {
                h.kill();
                if h.id == ctx.conn.id {
                    ctx.conn.close_after_reply = true;
                }
                Reply::Ok
            }
            None => Reply::error("ERR No such client"),
        };
    }
    if a.len() % 2 != 0 {
        return syntax();
    }
    let mut skipme = true;
    let mut filters: Vec<(String, String)> = Vec::new();
    for p in a[2..].chunks(2) {
        let k = text(&p[0]).to_ascii_lowercase();
        let v = text(&p[1]);
        match k.as_str() {
            "id" => {
                if crate::resp::parse_i64(&p[1]).is_none_or(|n| n <= 0) {
                    return Reply::error("ERR client-id should be greater than 0");
                }
            }
            "type" => {
                if !["normal", "master", "replica", "slave", "pubsub"]
                    .contains(&v.to_ascii_lowercase().as_str())
                {
                    return Reply::err(format!("Unknown client type '{v}'"));
                }
            }
            "skipme" => {
                if eq(&p[1], "yes") {
                    skipme = true;
                } else if eq(&p[1], "no") {
                    skipme = false;
                } else {
                    return syntax();
                }
                continue;
            }
            "addr" | "laddr" | "user" | "maxage" => {}
            _ => return syntax(),
        }
        filters.push((k, v));
    }
    let mut n = 0;
    for h in all {
        if skipme && h.id == ctx.conn.id {
            continue;
        }
        let ok = filters.iter().all(|(k, v)| match k.as_str() {
            "id" => h.id.to_string() == *v,
            "addr" => h.addr.to_string() == *v,
            "laddr" => h.laddr.to_string() == *v,
            "user" => v == "default",
            "type" => {
                let ps = h.subs.load(Relaxed) + h.psubs.load(Relaxed) > 0;
                match v.to_ascii_lowercase().as_str() {
                    "pubsub" => ps,
                    "normal" => !ps,
                    _ => false,
                }
            }
            "maxage" => v
                .parse::<u64>()
                .is_ok_and(|m| h.created.elapsed().as_secs() >= m),
            _ => false,
        });
        if ok {
            h.kill();
            if h.id == ctx.conn.id {
                ctx.conn.close_after_reply = true;
            }
            n += 1;
        }
    }
    Reply::Int(n)
}

fn client_unblock(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    if a.len() > 4 {
        return Reply::error(
            "ERR unknown subcommand or wrong number of arguments for 'unblock'. Try CLIENT HELP.",
        );
    }
    let Some(id) = crate::resp::parse_i64(&a[2]) else {
        return Reply::error(super::ERR_NOT_INT);
    };
    let error = match a.get(3) {
        None => None,
        Some(r) if eq(r, "timeout") => None,
        Some(r) if eq(r, "error") => Some(Reply::error(
            "UNBLOCKED client unblocked via CLIENT UNBLOCK",
        )),
        Some(_) => {
            return Reply::error("ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR");
        }
    };
    let done = u64::try_from(id).is_ok_and(|id| ctx.srv.blocking.unblock(id, error));
    Reply::Int(done as i64)
}

fn client_help(_ctx: &mut Ctx, _a: &[Bytes]) -> Reply {
    help_reply(
        "CLIENT",
        &[
            "GETNAME",
            "    Return the name of the current connection.",
            "ID",
            "    Return the ID of the current connection.",
            "INFO",
            "    Return information about the current client connection.",
            "KILL <ip:port>",
            "    Kill connection made from <ip:port>.",
            "KILL <option> <value> [<option> <value> [...]]",
            "    Kill connections. Options are: ID, ADDR, LADDR, TYPE, USER, SKIPME, MAXAGE.",
            "LIST [options ...]",
            "    Return information about client connections.",
            "SETNAME <name>",
            "    Assign the name <name> to the current connection.",
            "SETINFO <option> <value>",
            "    Set client meta attr. Options are: LIB-NAME, LIB-VER.",
            "UNBLOCK <clientid> [TIMEOUT|ERROR]",
            "    Unblock the specified blocked client.",
        ],
    )
}

fn multi(ctx: &mut Ctx, _a: &[Bytes]) -> Reply {
    if ctx.conn.multi.is_some() {
        return Reply::error("ERR MULTI calls can not be nested");
    }
    ctx.conn.multi = Some(Vec::new());
    ctx.conn.multi_error = false;
    ctx.conn.handle.multi.store(1, Relaxed);
    Reply::Ok
}

fn discard(ctx: &mut Ctx, _a: &[Bytes]) -> Reply {
    if ctx.conn.multi.take().is_none() {
        return Reply::error("ERR DISCARD without MULTI");
    }
    ctx.conn.multi_error = false;
    ctx.conn.handle.multi.store(0, Relaxed);
    unwatch_all(ctx.srv, ctx.conn);
    Reply::Ok
}

fn exec(ctx: &mut Ctx, _a: &[Bytes]) -> Reply {
    let Some(queue) = ctx.conn.multi.take() else {
        return Reply::error("ERR EXEC without MULTI");
    };
    ctx.conn.handle.multi.store(0, Relaxed);
    if std::mem::take(&mut ctx.conn.multi_error) {
        unwatch_all(ctx.srv, ctx.conn);
        return Reply::error("EXECABORT Transaction discarded because of previous errors.");
    }
    // Everything is locked for the whole transaction: no other client sees it half done.
    let mut locked = ctx.srv.ks.lock_all();
    {
        // A watched key that expired since WATCH counts as changed; looking it up expires it.
        let mut v = locked.view(0);
        for (db, k) in &ctx.conn.watching {
            let _ = v.peek_in(*db, k);
        }
    }
    if ctx.conn.watch_dirty.load(Relaxed) {
        drop(locked);
        unwatch_all(ctx.srv, ctx.conn);
        return Reply::NilArray;
    }
    let mut replies = Vec::with_capacity(queue.len());
    for args in &queue {
        replies.push(super::dispatch(ctx.srv, ctx.conn, Some(&mut locked), args));
    }
    drop(locked);
    unwatch_all(ctx.srv, ctx.conn);
    Reply::Array(replies)
}

fn watch(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    if ctx.conn.multi.is_some() {
        return Reply::error("ERR WATCH inside MULTI is not allowed");
    }
    let db = ctx.conn.db;
    let flag = ctx.conn.watch_dirty.clone();
    let keys = &a[1..];
    let mut added = Vec::new();
    ctx.with_keys(keys, |v| {
        for k in keys {
            // A key already expired is gone, not changed, when it is reclaimed: drop it first.
            let _ = v.peek(k);
            v.watch(k, flag.clone());
            added.push((db, k.clone()));
        }
    });
    ctx.conn.watching.extend(added);
    Reply::Ok
}

fn unwatch(ctx: &mut Ctx, _a: &[Bytes]) -> Reply {
    unwatch_all(ctx.srv, ctx.conn);
    Reply::Ok
}

/// Forgets every WATCHed key of a connection and clears its dirty flag.
pub fn unwatch_all(srv: &Shared, conn: &mut Session) {
    for (db, k) in std::mem::take(&mut conn.watching) {
        let mut l = srv.ks.lock_keys(db, &[&k]);
        l.view(db).unwatch(&k, &conn.watch_dirty);
    }
    conn.watch_dirty.store(false, Relaxed);
}

pub use super::pubsub::unsubscribe_all;

/// Releases what a closing connection holds in shared state.
pub fn cleanup(srv: &Shared, conn: &mut Session) {
    unwatch_all(srv, conn);
    unsubscribe_all(srv, conn);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cmd::ctx::tests::{client, cmd, resp2, run, server_and_conn};
    use crate::cmd::Session as Conn;

    fn e(s: &'static str) -> Reply {
        Reply::error(s)
    }

    /// Registers a client with the server as a connection would; its handle.
    fn connect(srv: &Shared, id: u64) -> Arc<ClientHandle> {
        let h = client(id).0;
        srv.clients
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(id, h.clone());
        h
    }

    #[test]
    fn hello_options() {
        let (srv, mut c) = server_and_conn();
        let srv = &*srv;
        let mut hello_ = |a: &[&str]| {
            let mut args = vec!["HELLO"];
            args.extend_from_slice(a);
            run(srv, &mut c, hello, &args)
        };
        assert_eq!(hello_(&["4"]), e("NOPROTO unsupported protocol version"));
        assert_eq!(
            hello_(&["three"]),
            e("ERR Protocol version is not an integer or out of range")
        );
        assert_eq!(
            hello_(&["3", "SETNAME", "a b"]),
            e("ERR Client names cannot contain spaces, newlines or special characters.")
        );
        assert_eq!(
            hello_(&["3", "LOUD"]),
            Reply::err("Syntax error in HELLO option 'LOUD'")
        );
        // AUTH needs both a user and a password.
        assert_eq!(
            hello_(&["3", "AUTH", "default"]),
            Reply::err("Syntax error in HELLO option 'AUTH'")
        );
        assert_eq!(c.resp, 2, "a refused HELLO changes nothing");
        let r = resp2(&run(srv, &mut c, hello, &["HELLO", "3", "setname", "me"]));
        assert!(
            r.starts_with("*14\r\n$6\r\nserver\r\n$5\r\nredis\r\n"),
            "{r}"
        );
        assert!(r.contains("$5\r\nproto\r\n:3\r\n"), "{r}");
        assert_eq!(c.resp, 3);
        assert_eq!(
            run(srv, &mut c, client_getname, &["CLIENT", "GETNAME"]),
            Reply::bulk("me")
        );
        // Without a protocol version the current one stays.
        assert!(resp2(&run(srv, &mut c, hello, &["HELLO"])).contains("$5\r\nproto\r\n:3\r\n"));
    }

    #[test]
    fn hello_and_auth_with_a_password() {
        let (srv, mut admin) = server_and_conn();
        let srv = &*srv;
        assert_eq!(
            cmd(srv, &mut admin, &["CONFIG", "SET", "requirepass", "secret"]),
            Reply::Ok
        );
        let mut c = Conn::new(2, client(2).0);
        assert_eq!(
            run(srv, &mut c, hello, &["HELLO", "3"]),
            e("NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time")
        );
        let wrong = e("WRONGPASS invalid username-password pair or user is disabled.");
        assert_eq!(
            run(
                srv,
                &mut c,
                hello,
                &["HELLO", "3", "AUTH", "default", "nope"]
            ),
            wrong
        );
        assert_eq!(
            run(srv, &mut c, hello, &["HELLO", "3", "AUTH", "bob", "secret"]),
            wrong
        );
        assert_eq!(run(srv, &mut c, auth, &["AUTH", "nope"]), wrong);
        assert_eq!(
            run(srv, &mut c, auth, &["AUTH", "a", "b", "c"]),
            e("ERR syntax error")
        );
        assert!(!c.authed && c.resp == 2);
        assert!(!run(
            srv,
            &mut c,
            hello,
            &["HELLO", "3", "AUTH", "default", "secret"]
        )
        .is_error());
        assert!(c.authed && c.resp == 3);
        let mut d = Conn::new(3, client(3).0);
        assert_eq!(
            run(srv, &mut d, auth, &["AUTH", "default", "secret"]),
            Reply::Ok
        );
        assert!(d.authed);
        // RESET forgets the authentication, the protocol and the database.
        d.db = 3;
        assert_eq!(run(srv, &mut d, reset, &["RESET"]), Reply::simple("RESET"));
        assert!(!d.authed && d.resp == 2 && d.db == 0);
    }

    #[test]
    fn client_names_and_info_values() {
        let (srv, mut c) = server_and_conn();
        let srv = &*srv;
        let bad = e("ERR Client names cannot contain spaces, newlines or special characters.");
        for name in ["a b", "a\nb", "\u{e9}"] {
            assert_eq!(
                run(srv, &mut c, client_setname, &["CLIENT", "SETNAME", name]),
                bad,
                "{name:?}"
            );
        }
        assert_eq!(
            run(srv, &mut c, client_setname, &["CLIENT", "SETNAME", "w-1!"]),
            Reply::Ok
        );
        assert_eq!(
            run(srv, &mut c, client_getname, &["CLIENT", "GETNAME"]),
            Reply::bulk("w-1!")
        );
        // An empty name clears it.
        assert_eq!(
            run(srv, &mut c, client_setname, &["CLIENT", "SETNAME", ""]),
            Reply::Ok
        );
        assert_eq!(
            run(srv, &mut c, client_getname, &["CLIENT", "GETNAME"]),
            Reply::Nil
        );
        let mut setinfo =
            |k: &str, v: &str| run(srv, &mut c, client_setinfo, &["CLIENT", "SETINFO", k, v]);
        assert_eq!(
            setinfo("LIB-NAME", "redis py"),
            Reply::err("lib-name cannot contain spaces, newlines or special characters.")
        );
        assert_eq!(
            setinfo("lib-color", "red"),
            Reply::err("Unrecognized option 'lib-color'")
        );
        assert_eq!(setinfo("lib-ver", "1.2"), Reply::Ok);
        assert_eq!(setinfo("LIB-NAME", "respd"), Reply::Ok);
        let info = resp2(&run(srv, &mut c, client_info, &["CLIENT", "INFO"]));
        assert!(info.contains(" lib-name=respd lib-ver=1.2"), "{info}");
    }

    #[test]
    fn client_list_filters() {
        let (srv, mut c) = server_and_conn();
        let srv = &*srv;
        for id in [5, 7, 9] {
            connect(srv, id);
        }
        connect(srv, 8).subs.store(1, Relaxed);
        let ids = |r: Reply| -> Vec<String> {
            let Reply::Verbatim(t) = r else {
                panic!("CLIENT LIST reply")
            };
            String::from_utf8_lossy(&t)
                .lines()
                .map(|l| l.split(' ').next().unwrap_or("").to_string())
                .collect()
        };
        let mut list = |a: &[&str]| {
            let mut args = vec!["CLIENT", "LIST"];
            args.extend_from_slice(a);
            run(srv, &mut c, client_list, &args)
        };
        assert_eq!(ids(list(&[])), ["id=5", "id=7", "id=8", "id=9"]);
        assert_eq!(ids(list(&["ID", "9", "5", "6"])), ["id=5", "id=9"]);
        assert_eq!(ids(list(&["TYPE", "pubsub"])), ["id=8"]);
        assert_eq!(ids(list(&["type", "NORMAL"])), ["id=5", "id=7", "id=9"]);
        assert_eq!(ids(list(&["TYPE", "master"])), Vec::<String>::new());
        assert_eq!(
            list(&["TYPE", "robot"]),
            Reply::err("Unknown client type 'robot'")
        );
        assert_eq!(list(&["ID", "5", "0"]), e("ERR Invalid client ID"));
        assert_eq!(list(&["ID", "x"]), e("ERR Invalid client ID"));
        assert_eq!(list(&["ORDER", "id"]), e("ERR syntax error"));
    }

    #[test]
    fn client_kill_filters() {
        let (srv, mut c) = server_and_conn();
        let srv = &*srv;
        let me = connect(srv, 1);
        c.handle = me.clone();
        let a = connect(srv, 5);
        let b = connect(srv, 6);
        let p = connect(srv, 7);
        p.psubs.store(1, Relaxed);
        let mut kill = |args: &[&str]| {
            let mut v = vec!["CLIENT", "KILL"];
            v.extend_from_slice(args);
            run(srv, &mut c, client_kill, &v)
        };
        assert_eq!(
            kill(&["ID", "0"]),
            e("ERR client-id should be greater than 0")
        );
        assert_eq!(
            kill(&["TYPE", "robot"]),
            Reply::err("Unknown client type 'robot'")
        );
        assert_eq!(kill(&["SKIPME", "maybe"]), e("ERR syntax error"));
        assert_eq!(kill(&["ID", "5", "TYPE"]), e("ERR syntax error"));
        assert_eq!(kill(&["COLOR", "red"]), e("ERR syntax error"));
        assert_eq!(kill(&["127.0.0.1:1"]), e("ERR No such client"));
        assert!(
            [&me, &a, &b, &p].iter().all(|h| !h.killed.load(Relaxed)),
            "refusals killed no one"
        );
        // Filters combine: a normal client with id 7 is nobody.
        assert_eq!(kill(&["ID", "7", "TYPE", "normal"]), Reply::Int(0));
        assert_eq!(kill(&["TYPE", "pubsub"]), Reply::Int(1));
        assert!(p.killed.load(Relaxed) && !a.killed.load(Relaxed));
        assert_eq!(kill(&[&b.addr.to_string()]), Reply::Ok);
        assert!(b.killed.load(Relaxed) && !a.killed.load(Relaxed));
        // The caller is skipped unless SKIPME no; killing itself closes after the reply.
        assert_eq!(kill(&["USER", "default", "ID", "1"]), Reply::Int(0));
        assert_eq!(kill(&["ID", "1", "SKIPME", "no"]), Reply::Int(1));
        assert!(me.killed.load(Relaxed) && c.close_after_reply);
        assert!(!a.killed.load(Relaxed));
    }

    #[test]
    fn client_unblock_reasons() {
        let (srv, mut c) = server_and_conn();
        let srv = &*srv;
        let mut unblock = |a: &[&str]| {
            let mut v = vec!["CLIENT", "UNBLOCK"];
            v.extend_from_slice(a);
            run(srv, &mut c, client_unblock, &v)
        };
        assert_eq!(
            unblock(&["5", "LATER"]),
            e("ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR")
        );
        assert_eq!(unblock(&["five"]), e(super::super::ERR_NOT_INT));
        assert_eq!(unblock(&["5", "error", "x"]), e("ERR unknown subcommand or wrong number of arguments for 'unblock'. Try CLIENT HELP."));
        // Not blocked (nor a valid id): 0, whatever the reason.
        for a in [&["5"][..], &["5", "TIMEOUT"], &["5", "error"], &["-3"]] {
            assert_eq!(unblock(a), Reply::Int(0), "{a:?}");
        }
    }

    #[test]
    fn transactions_and_watch() {
        let (srv, mut c) = server_and_conn();
        let srv = &*srv;
        let (mut other, _) = (Conn::new(2, client(2).0), ());
        other.authed = true;
        assert_eq!(
            run(srv, &mut c, exec, &["EXEC"]),
            e("ERR EXEC without MULTI")
        );
        assert_eq!(
            run(srv, &mut c, discard, &["DISCARD"]),
            e("ERR DISCARD without MULTI")
        );
        assert_eq!(run(srv, &mut c, multi, &["MULTI"]), Reply::Ok);
        assert_eq!(
            run(srv, &mut c, multi, &["MULTI"]),
            e("ERR MULTI calls can not be nested")
        );
        assert_eq!(
            run(srv, &mut c, watch, &["WATCH", "k"]),
            e("ERR WATCH inside MULTI is not allowed")
        );
        assert_eq!(run(srv, &mut c, discard, &["DISCARD"]), Reply::Ok);
        assert!(c.multi.is_none());
        // Queued commands run in order; a queuing error aborts the whole transaction.
        cmd(srv, &mut c, &["MULTI"]);
        cmd(srv, &mut c, &["SET", "k", "1"]);
        cmd(srv, &mut c, &["INCR", "k"]);
        assert_eq!(resp2(&cmd(srv, &mut c, &["EXEC"])), "*2\r\n+OK\r\n:2\r\n");
        cmd(srv, &mut c, &["MULTI"]);
        assert!(cmd(srv, &mut c, &["INCR"]).is_error());
        cmd(srv, &mut c, &["INCR", "k"]);
        assert_eq!(
            cmd(srv, &mut c, &["EXEC"]),
            e("EXECABORT Transaction discarded because of previous errors.")
        );
        assert_eq!(resp2(&cmd(srv, &mut c, &["GET", "k"])), "$1\r\n2\r\n");
        // A watched key changed by another client voids EXEC; an unchanged one does not.
        assert_eq!(run(srv, &mut c, watch, &["WATCH", "k"]), Reply::Ok);
        cmd(srv, &mut other, &["SET", "k", "9"]);
        cmd(srv, &mut c, &["MULTI"]);
        cmd(srv, &mut c, &["SET", "k", "1"]);
        assert_eq!(cmd(srv, &mut c, &["EXEC"]), Reply::NilArray);
        assert!(c.watching.is_empty(), "EXEC unwatches");
        run(srv, &mut c, watch, &["WATCH", "k"]);
        cmd(srv, &mut other, &["SET", "j", "9"]);
        cmd(srv, &mut c, &["MULTI"]);
        cmd(srv, &mut c, &["SET", "k", "1"]);
        assert_eq!(resp2(&cmd(srv, &mut c, &["EXEC"])), "*1\r\n+OK\r\n");
        // UNWATCH forgets the keys: a later change no longer matters.
        run(srv, &mut c, watch, &["WATCH", "k"]);
        assert_eq!(run(srv, &mut c, unwatch, &["UNWATCH"]), Reply::Ok);
        cmd(srv, &mut other, &["SET", "k", "5"]);
        cmd(srv, &mut c, &["MULTI"]);
        cmd(srv, &mut c, &["GET", "k"]);
        assert_eq!(resp2(&cmd(srv, &mut c, &["EXEC"])), "*1\r\n$1\r\n5\r\n");
    }

    #[test]
    fn ping_and_echo() {
        let (srv, mut c) = server_and_conn();
        let srv = &*srv;
        assert_eq!(run(srv, &mut c, ping, &["PING"]), Reply::simple("PONG"));
        assert_eq!(run(srv, &mut c, ping, &["PING", "hi"]), Reply::bulk("hi"));
        assert_eq!(
            run(srv, &mut c, ping, &["PING", "a", "b"]),
            Reply::err("wrong number of arguments for 'ping' command")
        );
        assert_eq!(run(srv, &mut c, echo, &["ECHO", "x y"]), Reply::bulk("x y"));
        // A RESP2 subscriber gets PING's reply as a ["pong", message] array.
        c.subscriptions.insert(Bytes::from_static(b"ch"));
        assert_eq!(
            resp2(&run(srv, &mut c, ping, &["PING"])),
            "*2\r\n$4\r\npong\r\n$0\r\n\r\n"
        );
        c.resp = 3;
        assert_eq!(run(srv, &mut c, ping, &["PING"]), Reply::simple("PONG"));
    }
}
