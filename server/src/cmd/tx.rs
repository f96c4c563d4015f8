//! Transactions: MULTI, EXEC, DISCARD, WATCH, UNWATCH. Queuing itself happens in `dispatch`;
//! EXEC runs the queue under one lock of the whole keyspace.

use super::connection::BUSY_OK;
use super::Session;
use super::{CommandSpec, Ctx, Flags};
use crate::command;
use crate::resp::Reply;
use crate::state::Shared;
use bytes::Bytes;
use std::sync::atomic::Ordering::Relaxed;

/// The transaction commands.
pub static COMMANDS: &[CommandSpec] = &[
    command!(
        "multi",
        1,
        TX,
        (0, 0, 0),
        "transactions",
        "1.2.0",
        &["transaction"],
        multi,
        "Starts a transaction."
    ),
    command!(
        "exec",
        1,
        Flags::NO_QUEUE
            .union(Flags::LOADING)
            .union(Flags::STALE)
            .union(Flags::NOSCRIPT)
            .union(Flags::SKIP_SLOWLOG),
        (0, 0, 0),
        "transactions",
        "1.2.0",
        &["transaction"],
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
        &["transaction"],
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
        &["transaction"],
        watch,
        "Monitors changes to keys to determine the execution of a transaction."
    ),
    command!(
        "unwatch",
        1,
        Flags::LOADING
            .union(Flags::STALE)
            .union(Flags::FAST)
            .union(BUSY_OK),
        (0, 0, 0),
        "transactions",
        "2.2.0",
        &["transaction"],
        unwatch,
        "Forgets about watched keys of a transaction."
    ),
];

const TX: Flags = Flags::NO_QUEUE
    .union(Flags::LOADING)
    .union(Flags::STALE)
    .union(Flags::FAST)
    .union(BUSY_OK);

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
    if ctx.srv.aof.on() {
        ctx.conn.prop.exec = Some(Vec::new());
    }
    for args in &queue {
        replies.push(super::dispatch(ctx.srv, ctx.conn, Some(&mut locked), args));
    }
    // Written while everything is still locked: no other write can come between.
    super::propagate::after_exec(ctx.srv, ctx.conn);
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cmd::ctx::tests::{client, cmd, e, resp2, run, server_and_conn};
    use crate::cmd::Session as Conn;

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
}
