//! CLIENT and its subcommands (ID, SETNAME, GETNAME, LIST, INFO, KILL, SETINFO, NO-EVICT,
//! NO-TOUCH, UNBLOCK, HELP) over the shared client registry; the tracking ones (TRACKING,
//! CACHING, GETREDIR, TRACKINGINFO) are in `cmd::tracking`.

use super::connection::ACL;
use super::{eq, help_reply, syntax, text, CommandSpec, Ctx, Flags, Session};
use crate::resp::Reply;
use crate::state::{ClientHandle, Shared};
use crate::{container, subcommand};
use bytes::Bytes;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex};

/// The CLIENT container.
pub static COMMANDS: &[CommandSpec] = &[container!(
    "client",
    -2,
    Flags::empty(),
    "connection",
    "2.4.0",
    CLIENT_SUBS,
    "A container for client connection commands."
)];

const CS: Flags = Flags::LOADING.union(Flags::STALE).union(Flags::NOSCRIPT);

static CLIENT_SUBS: &[CommandSpec] = &[
    subcommand!(
        "client",
        "id",
        2,
        CS,
        (0, 0, 0),
        "5.0.0",
        ACL,
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
        ACL,
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
        ACL,
        client_getname,
        "Returns the name of the connection."
    ),
    subcommand!(
        "client",
        "list",
        -2,
        Flags::ADMIN.union(CS),
        (0, 0, 0),
        "2.4.0",
        ACL,
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
        ACL,
        client_info,
        "Returns information about the connection."
    ),
    subcommand!(
        "client",
        "kill",
        -3,
        Flags::ADMIN.union(CS),
        (0, 0, 0),
        "2.4.0",
        ACL,
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
        ACL,
        client_setinfo,
        "Sets information specific to the client or connection."
    ),
    subcommand!(
        "client",
        "no-evict",
        3,
        Flags::ADMIN.union(CS),
        (0, 0, 0),
        "7.0.0",
        ACL,
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
        ACL,
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
        ACL,
        super::tracking::client_getredir,
        "Returns the client ID to which the connection's tracking notifications are redirected."
    ),
    subcommand!(
        "client",
        "tracking",
        -3,
        CS,
        (0, 0, 0),
        "6.0.0",
        ACL,
        super::tracking::client_tracking,
        "Controls server-assisted client-side caching for the connection."
    ),
    subcommand!(
        "client",
        "caching",
        3,
        CS,
        (0, 0, 0),
        "6.0.0",
        ACL,
        super::tracking::client_caching,
        "Instructs the server whether to track the keys in the next request."
    ),
    subcommand!(
        "client",
        "trackinginfo",
        2,
        CS,
        (0, 0, 0),
        "6.2.0",
        ACL,
        super::tracking::client_trackinginfo,
        "Returns information about server-assisted client-side caching for the connection."
    ),
    subcommand!(
        "client",
        "unblock",
        -3,
        Flags::ADMIN.union(CS),
        (0, 0, 0),
        "5.0.0",
        ACL,
        client_unblock,
        "Unblocks a client blocked by a blocking command from a different connection."
    ),
    subcommand!(
        "client",
        "reply",
        3,
        CS,
        (0, 0, 0),
        "3.2.0",
        ACL,
        client_reply,
        "Instructs the server whether to reply to commands."
    ),
    subcommand!(
        "client",
        "pause",
        -3,
        Flags::ADMIN.union(CS),
        (0, 0, 0),
        "3.0.0",
        ACL,
        client_pause,
        "Suspends commands processing."
    ),
    subcommand!(
        "client",
        "unpause",
        2,
        Flags::ADMIN.union(CS),
        (0, 0, 0),
        "6.2.0",
        ACL,
        client_unpause,
        "Resumes processing commands from paused clients."
    ),
    subcommand!(
        "client",
        "help",
        2,
        Flags::LOADING.union(Flags::STALE),
        (0, 0, 0),
        "5.0.0",
        ACL,
        client_help,
        "Returns helpful text about the different subcommands."
    ),
];

pub(super) fn valid_name(n: &[u8]) -> Result<(), Reply> {
    if n.iter().any(|&c| !(b'!'..=b'~').contains(&c)) {
        return Err(Reply::error(
            "ERR Client names cannot contain spaces, newlines or special characters.",
        ));
    }
    Ok(())
}

pub(super) fn set_name(h: &ClientHandle, n: Bytes) {
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

pub(super) fn client_getname(ctx: &mut Ctx, _a: &[Bytes]) -> Reply {
    Reply::opt_bulk(current_value(&ctx.conn.handle.name))
}

/// The value of a client's name or library field now (a poisoned lock still holds it).
fn current_value(slot: &Mutex<Option<Bytes>>) -> Option<Bytes> {
    slot.lock().unwrap_or_else(|e| e.into_inner()).clone()
}

fn client_setinfo(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    let v = a[3].clone();
    let slot = if eq(&a[2], "lib-name") {
        &ctx.conn.handle.lib_name
    } else if eq(&a[2], "lib-ver") {
        &ctx.conn.handle.lib_ver
    } else {
        return Reply::error(format!("ERR Unrecognized option '{}'", text(&a[2])));
    };
    if v.iter().any(|&c| !(b'!'..=b'~').contains(&c)) {
        return Reply::error(format!(
            "ERR {} cannot contain spaces, newlines or special characters.",
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

/// CLIENT REPLY ON|OFF|SKIP. OFF and SKIP have no reply of their own; the connection leaves
/// out what follows (`Session::reply`), pushes aside.
fn client_reply(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    let r = &mut ctx.conn.reply;
    if eq(&a[2], "on") {
        r.off = false;
        r.skip = false;
        Reply::Ok
    } else if eq(&a[2], "off") {
        r.off = true;
        Reply::Seq(Vec::new())
    } else if eq(&a[2], "skip") {
        r.skip_next = !r.off;
        Reply::Seq(Vec::new())
    } else {
        syntax()
    }
}

/// CLIENT PAUSE timeout [WRITE|ALL]: the connections hold back the commands it covers
/// (`state::Pause`) until it ends.
fn client_pause(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    if a.len() > 4 {
        return syntax();
    }
    let all = match a.get(3) {
        None => true,
        Some(m) if eq(m, "all") => true,
        Some(m) if eq(m, "write") => false,
        Some(_) => return Reply::error("ERR CLIENT PAUSE mode must be WRITE or ALL"),
    };
    let ms = match crate::util::num::parse_i64(&a[2]) {
        None => return Reply::error("ERR timeout is not an integer or out of range"),
        Some(ms) if ms < 0 => return Reply::error("ERR timeout is negative"),
        Some(ms) => ms as u64,
    };
    ctx.srv.pause.pause(ms, all);
    Reply::Ok
}

/// Commands that may replicate without being writes: a WRITE pause holds them back too.
const MAY_REPLICATE: &[&str] = &["pfcount", "publish", "spublish", "eval", "evalsha", "fcall"];

/// Whether a pause (`all`: of every command) holds back this command of `conn`. Commands Redis
/// refuses before it looks at the pause (unknown, wrong arity) are not held back.
pub fn paused(conn: &Session, args: &[Bytes], all: bool) -> bool {
    let Ok(spec) = crate::cmd::lookup(args) else {
        return false;
    };
    if !spec.arity_ok(args.len()) {
        return false;
    }
    if all {
        return true;
    }
    let may_write =
        |s: &CommandSpec| s.flags.contains(Flags::WRITE) || MAY_REPLICATE.contains(&s.name);
    if may_write(spec) {
        return true;
    }
    spec.name == "exec"
        && conn.multi.as_ref().is_some_and(|q| {
            q.iter()
                .any(|c| crate::cmd::lookup(c).is_ok_and(&may_write))
        })
}

fn client_unpause(ctx: &mut Ctx, _a: &[Bytes]) -> Reply {
    ctx.srv.pause.unpause();
    Reply::Ok
}

/// Output buffer of a client (Redis's `rbs` and the static reply buffer in `tot-mem`).
const REPLY_BUF: usize = 16384;

/// One CLIENT LIST line (without the newline), in Redis 7's format. `current` is the running
/// command's arguments, for the client that asks.
pub(crate) fn client_line(srv: &Shared, h: &ClientHandle, current: Option<&[Bytes]>) -> String {
    let now = srv.uptime_ms();
    let name = current_value(&h.name).unwrap_or_default();
    let lib = current_value(&h.lib_name).unwrap_or_default();
    let ver = current_value(&h.lib_ver).unwrap_or_default();
    let subs = h.subs.load(Relaxed);
    let psubs = h.psubs.load(Relaxed);
    let ssubs = h.ssubs.load(Relaxed);
    let mut flags = String::from(if srv.monitors.contains(h.id) {
        "O"
    } else if subs + psubs + ssubs > 0 {
        "P"
    } else if srv.blocking.is_blocked(h.id) {
        "b"
    } else {
        ""
    });
    let (track, redir) = super::tracking::list_fields(srv, h.id);
    flags.push_str(&track);
    if flags.is_empty() {
        flags.push('N');
    }
    let key = h.last_cmd.load(Relaxed);
    let cmd = srv
        .cmdstats
        .get()
        .and_then(|m| m.get(&key))
        .map_or("NULL", |(n, _)| n.as_str());
    // As Redis: the arguments of the command running now, only the asking client has any.
    let argv_mem: usize = current.map_or(0, |a| a.iter().map(|x| x.len()).sum());
    let (qbuf, qbuf_free) = (h.qbuf.load(Relaxed), h.qbuf_free.load(Relaxed));
    let omem = h.omem.load(Relaxed) + h.obuf.load(Relaxed);
    // What the client holds: query buffer, arguments, pending output and the reply buffer.
    let tot_mem = qbuf + qbuf_free + argv_mem + omem + REPLY_BUF;
    format!(
        "id={} addr={} laddr={} fd=8 name={} age={} idle={} flags={} db={} sub={} psub={} ssub={} multi={} qbuf={} qbuf-free={} argv-mem={} multi-mem=0 rbs={} rbp=0 obl=0 oll=0 omem={} tot-mem={} events=r cmd={} user={} redir={} resp={} lib-name={} lib-ver={}",
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
        ssubs,
        h.multi.load(Relaxed) as i64 - 1,
        qbuf,
        qbuf_free,
        argv_mem,
        REPLY_BUF,
        omem,
        tot_mem,
        cmd,
        h.user(),
        redir,
        h.resp.load(Relaxed),
        String::from_utf8_lossy(&lib),
        String::from_utf8_lossy(&ver),
    )
}

fn clients(srv: &Shared) -> Vec<Arc<ClientHandle>> {
    srv.clients.all()
}

fn client_list(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    let mut ids: Option<Vec<u64>> = None;
    let mut typ: Option<String> = None;
    let mut i = 2;
    while i < a.len() {
        if eq(&a[i], "type") && i + 1 < a.len() {
            let t = text(&a[i + 1]).to_ascii_lowercase();
            if !["normal", "master", "replica", "slave", "pubsub"].contains(&t.as_str()) {
                return Reply::error(format!("ERR Unknown client type '{}'", text(&a[i + 1])));
            }
            typ = Some(t);
            i += 2;
        } else if eq(&a[i], "id") && i + 1 < a.len() {
            let mut v = Vec::new();
            for x in &a[i + 1..] {
                match crate::util::num::parse_i64(x) {
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
        let is_pubsub = h.subs.load(Relaxed) + h.psubs.load(Relaxed) + h.ssubs.load(Relaxed) > 0;
        match typ.as_deref() {
            Some("pubsub") if !is_pubsub => continue,
            Some("normal") if is_pubsub => continue,
            Some("master") | Some("replica") | Some("slave") => continue,
            _ => {}
        }
        let cur = (h.id == ctx.conn.id).then_some(a);
        out.push_str(&client_line(ctx.srv, &h, cur));
        out.push('\n');
    }
    Reply::Verbatim(Bytes::from(out))
}

fn client_info(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    let line = client_line(ctx.srv, &ctx.conn.handle, Some(a));
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
                if crate::util::num::parse_i64(&p[1]).is_none_or(|n| n <= 0) {
                    return Reply::error("ERR client-id should be greater than 0");
                }
            }
            "type" => {
                if !["normal", "master", "replica", "slave", "pubsub"]
                    .contains(&v.to_ascii_lowercase().as_str())
                {
                    return Reply::error(format!("ERR Unknown client type '{v}'"));
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
            "user" => {
                if ctx.srv.acl.get(&v).is_none() && v != "default" {
                    return Reply::error(format!("ERR No such user '{v}'"));
                }
            }
            "addr" | "laddr" | "maxage" => {}
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
            "user" => *h.user() == **v,
            "type" => {
                let ps = h.subs.load(Relaxed) + h.psubs.load(Relaxed) + h.ssubs.load(Relaxed) > 0;
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
    let Some(id) = crate::util::num::parse_i64(&a[2]) else {
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
            "CACHING (YES|NO)",
            "    Enable/disable tracking of the keys for next command in OPTIN/OPTOUT modes.",
            "GETREDIR",
            "    Return the client ID we are redirecting to when tracking is enabled.",
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
            "TRACKING (ON|OFF) [REDIRECT <id>] [BCAST] [PREFIX <prefix> [...]]",
            "         [OPTIN] [OPTOUT] [NOLOOP]",
            "    Control server assisted client side caching.",
            "TRACKINGINFO",
            "    Report tracking status for the current connection.",
        ],
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cmd::ctx::tests::{client, e, resp2, run, server_and_conn};

    /// Registers a client with the server as a connection would; its handle.
    fn connect(srv: &Shared, id: u64) -> Arc<ClientHandle> {
        let h = client(id).0;
        srv.clients.insert(h.clone());
        h
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
            Reply::error("ERR lib-name cannot contain spaces, newlines or special characters.")
        );
        assert_eq!(
            setinfo("lib-color", "red"),
            Reply::error("ERR Unrecognized option 'lib-color'")
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
            Reply::error("ERR Unknown client type 'robot'")
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
            Reply::error("ERR Unknown client type 'robot'")
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
}
