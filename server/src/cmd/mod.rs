//! Commands: the table that describes them and the generic checks every command passes before
//! its handler runs (unknown command, arity, authentication, MULTI queuing, subscribed context).
//! One module per command family; each exports `COMMANDS`, and [`table`] joins them.

pub mod args;
pub mod coll;
pub mod connection;
pub mod hashes;
pub mod keys;
pub mod lists;
pub mod lists_blocking;
pub mod pubsub;
pub mod server;
pub mod setops;
pub mod sets;
pub mod sort;
mod stream_groups;
mod stream_info;
mod stream_read;
mod stream_write;
pub mod streams;
pub mod strings;
mod table;
mod zpop;
mod zrange;
mod zsetops;
pub mod zsets;

pub use args::*;
pub use table::{lookup, table, CommandSpec, Flags};

use crate::keyspace::{Locked, View};
use crate::resp::Reply;
use crate::server::Conn;
use crate::state::Shared;
use bytes::Bytes;
use std::time::Instant;

/// A command handler: it reads its arguments (`args[0]` is the command name) and returns the reply.
pub type Handler = fn(&mut Ctx, &[Bytes]) -> Reply;

/// What a handler sees: the server, its own connection, and (inside EXEC) the locks already held.
pub struct Ctx<'a, 'k> {
    pub srv: &'a Shared,
    pub conn: &'a mut Conn,
    /// Every shard of every database, held for the whole of an EXEC.
    pub held: Option<&'a mut Locked<'k>>,
}

impl<'a, 'k> Ctx<'a, 'k> {
    /// Runs `f` with the shards of `keys` in the selected database locked.
    pub fn with_keys<K: AsRef<[u8]>, R>(
        &mut self,
        keys: &[K],
        f: impl FnOnce(&mut View) -> R,
    ) -> R {
        let db = self.conn.db;
        let (r, expired) = match self.held.as_deref_mut() {
            Some(l) => run_view(l, db, self.conn.now_ms, f),
            None => run_view(
                &mut self.srv.ks.lock_keys(db, keys),
                db,
                self.conn.now_ms,
                f,
            ),
        };
        self.after(expired, db);
        r
    }

    /// Runs `f` with one key's shard locked.
    pub fn with_key<R>(&mut self, key: &[u8], f: impl FnOnce(&mut View) -> R) -> R {
        self.with_keys(&[key], f)
    }

    /// Runs `f` with every shard of the given databases locked (KEYS, SCAN, FLUSHDB, SWAPDB, MOVE).
    pub fn with_dbs<R>(&mut self, dbs: &[usize], f: impl FnOnce(&mut View) -> R) -> R {
        let db = self.conn.db;
        let (r, expired) = match self.held.as_deref_mut() {
            Some(l) => run_view(l, db, self.conn.now_ms, f),
            None => run_view(&mut self.srv.ks.lock_dbs(dbs), db, self.conn.now_ms, f),
        };
        self.after(expired, db);
        r
    }

    /// Runs `f` with every shard of the selected database locked.
    pub fn with_db<R>(&mut self, f: impl FnOnce(&mut View) -> R) -> R {
        let db = self.conn.db;
        self.with_dbs(&[db], f)
    }

    /// Runs `f` with everything locked (FLUSHALL).
    pub fn with_all<R>(&mut self, f: impl FnOnce(&mut View) -> R) -> R {
        let all: Vec<usize> = (0..self.srv.ks.db_count()).collect();
        self.with_dbs(&all, f)
    }

    /// Bookkeeping for keys a command found expired.
    fn after(&mut self, expired: Vec<Bytes>, db: usize) {
        if expired.is_empty() {
            return;
        }
        self.srv
            .ks
            .stats
            .expired
            .fetch_add(expired.len() as u64, std::sync::atomic::Ordering::Relaxed);
        for k in expired {
            self.srv
                .notify_keyspace(db, crate::state::NotifyClass::Expired, "expired", &k);
        }
    }

    /// Counts a read lookup as a keyspace hit or miss (INFO stats).
    pub fn count_lookup(&self, hit: bool) {
        use std::sync::atomic::Ordering::Relaxed;
        if hit {
            self.srv.ks.stats.hits.fetch_add(1, Relaxed);
        } else {
            self.srv.ks.stats.misses.fetch_add(1, Relaxed);
        }
    }

    /// Tells clients blocked on `key` (BLPOP, BZPOPMIN, XREAD BLOCK, ...) in the selected database
    /// that it may now serve them. Every command that adds to a list, sorted set or stream, or
    /// moves a key into place, calls it.
    pub fn signal_ready(&self, key: &[u8]) {
        self.srv.signal_ready(self.conn.db, key);
    }

    /// Sends a keyspace notification for `key` in the selected database.
    pub fn notify(&self, class: crate::state::NotifyClass, event: &str, key: &[u8]) {
        self.srv.notify_keyspace(self.conn.db, class, event, key);
    }
}

/// Runs `f` on a view of `db` and hands back the keys it found expired.
fn run_view<R>(
    l: &mut Locked,
    db: usize,
    now: u64,
    f: impl FnOnce(&mut View) -> R,
) -> (R, Vec<Bytes>) {
    let mut v = l.view_at(db, now);
    let r = f(&mut v);
    (r, std::mem::take(&mut v.expired))
}

/// The handler of a container command called without a subcommand (only COMMAND allows that).
pub fn container_handler(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    if eq(&a[0], "command") {
        return server::command_all(ctx);
    }
    Reply::err(format!(
        "unknown subcommand. Try {} HELP.",
        text(&a[0]).to_ascii_uppercase()
    ))
}

/// Runs one command through the generic checks and its handler.
pub fn dispatch(srv: &Shared, conn: &mut Conn, held: Option<&mut Locked>, args: &[Bytes]) -> Reply {
    let cached = conn
        .last_spec
        .filter(|s| args[0].eq_ignore_ascii_case(s.name.as_bytes()));
    let spec = match cached.map_or_else(|| lookup(args), Ok) {
        Ok(spec) => {
            if spec.subcommands.is_empty() && spec.parent.is_none() {
                conn.last_spec = Some(spec);
            }
            spec
        }
        Err(e) => {
            if conn.multi.is_some() {
                conn.multi_error = true;
            }
            return e;
        }
    };
    if !spec.arity_ok(args.len()) {
        let msg = format!(
            "wrong number of arguments for '{}' command",
            spec.full_name()
        );
        if spec.name == "exec" {
            // Redis's execCommandAbort: a refused EXEC ends the transaction, in MULTI or not.
            conn.multi = None;
            conn.multi_error = false;
            conn.handle
                .multi
                .store(0, std::sync::atomic::Ordering::Relaxed);
            connection::unwatch_all(srv, conn);
            return Reply::Error(
                format!("EXECABORT Transaction discarded because of: {msg}").into(),
            );
        }
        if conn.multi.is_some() {
            conn.multi_error = true;
        }
        return Reply::err(msg);
    }
    if !conn.authed && !spec.flags.contains(Flags::NOAUTH) && srv.auth_required() {
        if conn.multi.is_some() {
            conn.multi_error = true;
        }
        return Reply::error("NOAUTH Authentication required.");
    }
    if conn.in_subscribed_context() && !spec.flags.contains(Flags::PUBSUB_OK) {
        return Reply::err(format!(
            "Can't execute '{}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context",
            spec.full_name()
        ));
    }
    if conn.multi.is_some() && !spec.flags.contains(Flags::NO_QUEUE) {
        if spec.flags.contains(Flags::NO_MULTI) {
            conn.multi_error = true;
            return Reply::err("Command not allowed inside a transaction");
        }
        if let Some(q) = conn.multi.as_mut() {
            q.push(args.to_vec());
        }
        return Reply::simple("QUEUED");
    }
    if held.is_none() && spec.flags.contains(Flags::DENYOOM) && !srv.make_room() {
        return Reply::error("OOM command not allowed when used memory > 'maxmemory'.");
    }
    let start = conn.clock;
    conn.now_ms = srv.unix_ms_at(start);
    let mut ctx = Ctx { srv, conn, held };
    let mut reply = (spec.handler)(&mut ctx, args);
    if ctx.held.is_some() {
        // Inside EXEC nothing blocks: a blocking command answers as if it had timed out.
        if let Some(b) = ctx.conn.block.take() {
            reply = b.timeout_reply;
        }
    }
    let end = Instant::now();
    ctx.conn.clock = end;
    srv.record_call(
        spec,
        args,
        end.saturating_duration_since(start),
        reply.is_error(),
        ctx.conn.id,
    );
    reply
}
