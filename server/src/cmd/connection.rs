//! Connection commands: PING, ECHO, HELLO, AUTH, QUIT, RESET, and what a closing connection
//! releases. CLIENT is in client.rs, MULTI/EXEC/WATCH in tx.rs.

use super::client::{set_name, valid_name};
use super::tx::unwatch_all;
use super::Session;
use super::{eq, int, syntax, text, CommandSpec, Ctx, Flags};
use crate::command;
use crate::resp::Reply;
use crate::state::Shared;
use bytes::Bytes;
use std::sync::atomic::Ordering::Relaxed;

const CONN: Flags = Flags::LOADING.union(Flags::STALE).union(Flags::FAST);
/// ACL categories beyond those the flags imply (see `CommandSpec::acl_categories`).
pub(super) const ACL: &[&str] = &["connection"];
/// Runs while a script is busy, and not from a script (Redis's `noscript allow_busy`).
pub(super) const BUSY_OK: Flags = Flags::NOSCRIPT.union(Flags::ALLOW_BUSY);

/// The connection and transaction family.
pub static COMMANDS: &[CommandSpec] = &[
    command!(
        "ping",
        -1,
        Flags::FAST.union(Flags::PUBSUB_OK),
        (0, 0, 0),
        "connection",
        "1.0.0",
        ACL,
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
        ACL,
        echo,
        "Returns the given string."
    ),
    command!(
        "quit",
        -1,
        Flags::NOAUTH
            .union(Flags::NO_QUEUE)
            .union(Flags::PUBSUB_OK)
            .union(CONN)
            .union(BUSY_OK),
        (0, 0, 0),
        "connection",
        "1.0.0",
        ACL,
        quit,
        "Closes the connection."
    ),
    command!(
        "reset",
        1,
        Flags::NOAUTH
            .union(Flags::NO_QUEUE)
            .union(Flags::PUBSUB_OK)
            .union(CONN)
            .union(BUSY_OK),
        (0, 0, 0),
        "connection",
        "6.2.0",
        ACL,
        reset,
        "Resets the connection."
    ),
    command!(
        "hello",
        -1,
        Flags::NOAUTH.union(CONN).union(BUSY_OK),
        (0, 0, 0),
        "connection",
        "6.0.0",
        ACL,
        hello,
        "Handshakes with the Redis server."
    ),
    command!(
        "auth",
        -2,
        Flags::NOAUTH.union(CONN).union(BUSY_OK),
        (0, 0, 0),
        "connection",
        "1.0.0",
        ACL,
        auth,
        "Authenticates the connection."
    ),
];

fn ping(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    if a.len() > 2 {
        return Reply::error("ERR wrong number of arguments for 'ping' command");
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
    ctx.srv.monitors.remove(ctx.conn.id);
    super::tracking::disable(ctx.srv, ctx.conn);
    ctx.conn.db = 0;
    ctx.conn.handle.db.store(0, Relaxed);
    ctx.conn.resp = 2;
    ctx.conn.handle.resp.store(2, Relaxed);
    ctx.conn.authed = false;
    // Back to the default user, as Redis's RESET.
    ctx.conn.user = "default".into();
    ctx.conn.handle.set_user("default");
    ctx.conn.acl_epoch = 0;
    set_name(&ctx.conn.handle, Bytes::new());
    Reply::simple("RESET")
}

fn auth(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    if a.len() > 3 {
        return syntax();
    }
    if a.len() == 2 && super::acl::default_nopass(ctx.srv) {
        return Reply::error("ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?");
    }
    let (user, pass) = if a.len() == 3 {
        (&a[1][..], &a[2])
    } else {
        (&b"default"[..], &a[1])
    };
    match super::acl::authenticate(ctx, user, pass) {
        Ok(()) => Reply::Ok,
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
    let mut auth_at = None;
    while i < a.len() {
        let more = a.len() - i - 1;
        if eq(&a[i], "auth") && more >= 2 {
            auth_at = Some(i);
            i += 3;
        } else if eq(&a[i], "setname") && more >= 1 {
            if let Err(e) = valid_name(&a[i + 1]) {
                return e;
            }
            name = Some(a[i + 1].clone());
            i += 2;
        } else {
            return Reply::error(format!(
                "ERR Syntax error in HELLO option '{}'",
                text(&a[i])
            ));
        }
    }
    // As Redis: options are parsed first, then the credentials checked.
    if let Some(i) = auth_at {
        if let Err(e) = super::acl::authenticate(ctx, &a[i + 1], &a[i + 2]) {
            return e;
        }
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

pub use super::pubsub::unsubscribe_all;

/// Releases what a closing connection holds in shared state.
pub fn cleanup(srv: &Shared, conn: &mut Session) {
    unwatch_all(srv, conn);
    unsubscribe_all(srv, conn);
    srv.monitors.remove(conn.id);
    super::tracking::disable(srv, conn);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cmd::client::client_getname;
    use crate::cmd::ctx::tests::{client, cmd, e, resp2, run, server_and_conn};
    use crate::cmd::Session as Conn;

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
            Reply::error("ERR Syntax error in HELLO option 'LOUD'")
        );
        // AUTH needs both a user and a password.
        assert_eq!(
            hello_(&["3", "AUTH", "default"]),
            Reply::error("ERR Syntax error in HELLO option 'AUTH'")
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
    fn ping_and_echo() {
        let (srv, mut c) = server_and_conn();
        let srv = &*srv;
        assert_eq!(run(srv, &mut c, ping, &["PING"]), Reply::simple("PONG"));
        assert_eq!(run(srv, &mut c, ping, &["PING", "hi"]), Reply::bulk("hi"));
        assert_eq!(
            run(srv, &mut c, ping, &["PING", "a", "b"]),
            Reply::error("ERR wrong number of arguments for 'ping' command")
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
