//! Blocking commands, the connection's side (BLPOP, BLMOVE, BZPOPMIN, XREAD BLOCK, ...).
//!
//! A handler that finds nothing sets `Session::block` (`cmd::block_or_timeout`). Its connection
//! then [`wait`]s: it registers in the registry (`state::blocked`), and sleeps until its wait is
//! over (served, timed out, unblocked) or it must close. A command that may feed a key signals it
//! ready; once that command is done (after the whole EXEC for a transaction) its connection calls
//! [`serve_ready`], which runs the blocked commands of the ready keys' waiters again, in FIFO
//! order, on their behalf, and hands each reply to its waiter. So, as in Redis, a pushed element
//! goes to the client blocked first before the pusher's next command runs. A re-run that still
//! finds nothing leaves the waiter where it was in every queue, keeping its turn.

use crate::cmd::{self, Ctx, Session};
use crate::resp::Reply;
use crate::state::blocked::Job;
use crate::state::{BlockOn, Shared};
use bytes::Bytes;
use std::sync::atomic::Ordering::Relaxed;

/// Serves the clients blocked on keys signalled ready, first blocked first. Called by a
/// connection after each command it ran (not inside EXEC: the transaction's locks are gone).
pub fn serve_ready(srv: &Shared) {
    let b = &srv.blocking;
    if !b.has_ready() {
        return;
    }
    while let Some(((db, key), ids)) = b.pop_ready() {
        for id in ids {
            let Some(job) = b.claim(id) else {
                continue;
            };
            let (reply, blocked_again) = rerun(srv, id, &job, &key);
            let stream_reader = job.args.first().is_some_and(|c| {
                c.eq_ignore_ascii_case(b"xread") || c.eq_ignore_ascii_case(b"xreadgroup")
            });
            let served = (!blocked_again).then_some(reply);
            if !b.settle(id, job, served) {
                continue;
            }
            // Nothing for this client: if the key is gone, nothing for the ones after it either
            // (a stream stays, and its readers may each want different entries; a gone
            // stream still has XREADGROUP readers to tell).
            let exists = srv.ks.lock_keys(db, &[&key]).view(db).exists(&key);
            if !exists && !stream_reader {
                break;
            }
        }
    }
}

/// Runs a blocked client's command again as that client. Returns the reply and whether it
/// would block again.
fn rerun(srv: &Shared, id: u64, job: &Job, ready: &Bytes) -> (Reply, bool) {
    let mut conn = Session::new(id, job.handle.clone());
    conn.db = job.db;
    conn.resp = job.resp;
    conn.authed = true;
    conn.rerun = Some(ready.clone());
    let reply = match cmd::lookup(&job.args) {
        Ok(spec) => {
            let mut ctx = Ctx {
                srv,
                conn: &mut conn,
                held: None,
                args: &job.args,
            };
            (spec.handler)(&mut ctx, &job.args)
        }
        Err(e) => e,
    };
    let again = conn.block.is_some();
    (reply, again)
}

/// How a blocked client's wait ended.
pub enum Outcome {
    /// Send this reply and go on with the next request.
    Reply(Reply),
    /// The connection must close (killed, disconnected, server stopping).
    Close,
}

/// What the connection's wait loop must watch besides the registry.
pub struct WaitIo<'a, R, W> {
    pub rd: &'a mut R,
    pub parser: &'a mut crate::resp::RequestParser,
    pub push_rx: &'a mut tokio::sync::mpsc::UnboundedReceiver<Reply>,
    pub wr: &'a mut W,
    pub out: &'a mut crate::resp::Out,
    pub stop: &'a mut tokio::sync::watch::Receiver<bool>,
}

/// Blocks the connection until its command can be served, it times out, it is unblocked or
/// killed, the client disconnects, or the server stops. Requests the client sends meanwhile are
/// read but, as in Redis, not run until the wait is over.
pub async fn wait<R, W>(
    srv: &Shared,
    conn: &mut Session,
    args: &[Bytes],
    block: BlockOn,
    io: WaitIo<'_, R, W>,
) -> std::io::Result<Outcome>
where
    R: tokio::io::AsyncRead + Unpin,
    W: tokio::io::AsyncWrite + Unpin,
{
    use tokio::io::AsyncReadExt;
    let id = conn.id;
    let mut deadline = block.deadline;
    let keys = block.keys.clone();
    let notify = srv
        .blocking
        .register(&conn.handle, conn.db, conn.resp, args, block);
    // A push may have landed between the handler's look and the registration: look again, as
    // a signalled waiter would (this also serves anyone queued before us first).
    for k in &keys {
        srv.blocking.signal(conn.db, k);
    }
    serve_ready(srv);
    let outcome = loop {
        if let Some(r) = srv.blocking.take_result(id) {
            break Outcome::Reply(r);
        }
        if conn.handle.killed.load(Relaxed) || *io.stop.borrow() {
            break Outcome::Close;
        }
        let sleep = async {
            match deadline {
                Some(d) => tokio::time::sleep_until(d.into()).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = notify.notified() => {}
            _ = sleep => {
                if !srv.blocking.expire(id) {
                    // A re-run is deciding; it times us out itself if it finds nothing.
                    deadline = None;
                }
            }
            _ = conn.handle.kill.notified() => break Outcome::Close,
            _ = io.stop.changed() => break Outcome::Close,
            n = io.rd.read_buf(io.parser.read_target()) => {
                match n {
                    Ok(0) | Err(_) => break Outcome::Close,
                    Ok(n) => {
                        srv.stats.net_input_bytes.fetch_add(n as u64, Relaxed);
                        if io.parser.pending_bytes() as u64 > srv.limits().query_buffer {
                            break Outcome::Close;
                        }
                    }
                }
            }
            Some(msg) = io.push_rx.recv() => {
                io.out.push(&msg, conn.resp);
                super::flush(io.wr, io.out, srv).await?;
            }
        }
    };
    match outcome {
        Outcome::Close => {
            srv.blocking.remove(id);
            Ok(Outcome::Close)
        }
        Outcome::Reply(r) => Ok(Outcome::Reply(r)),
    }
}
