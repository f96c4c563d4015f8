//! One client connection: read requests, run them (`cmd::dispatch`), flush their replies
//! together; and, in [`blocking`], a blocked client's wait and the re-runs that wake it.

pub mod blocking;

use crate::cmd;
use crate::cmd::Session;
use crate::config::params;
use crate::resp::{Out, ProtoError, Reply, RequestParser};
use crate::state::{ClientHandle, Shared};
use std::io::IoSlice;
use std::net::SocketAddr;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::OwnedWriteHalf;
use tokio::net::TcpStream;
use tokio::sync::mpsc;

/// Counts a client in INFO's `blocked_clients` for as long as it lives.
struct BlockedCount<'a>(&'a Shared);

impl<'a> BlockedCount<'a> {
    fn new(srv: &'a Shared) -> Self {
        srv.stats.blocked_clients.fetch_add(1, Relaxed);
        BlockedCount(srv)
    }
}

impl Drop for BlockedCount<'_> {
    fn drop(&mut self) {
        self.0.stats.blocked_clients.fetch_sub(1, Relaxed);
    }
}

/// Flush replies once this much output is pending, even mid-batch, to bound memory.
const FLUSH_AT: usize = 1 << 20;

/// The protected-mode refusal Redis sends to non-loopback clients when no password is set.
const DENIED: &str = "-DENIED Redis is running in protected mode because protected mode is enabled and no password is set for the default user. In this mode connections are only accepted from the loopback interface. If you want to connect from external computers to Redis you may adopt one of the following solutions: 1) Just disable protected mode sending the command 'CONFIG SET protected-mode no' from the loopback interface by connecting to Redis from the same host the server is running, however MAKE SURE Redis is not publicly accessible from internet if you do so. Use CONFIG REWRITE to make this change permanent. 2) Alternatively you can just disable the protected mode by editing the Redis configuration file, and setting the protected mode option to 'no', and then restarting the server. 3) If you started the server manually just for testing, restart it with the '--protected-mode no' option. 4) Set up an authentication for the default user. NOTE: You only need to do one of the above things in order for the server to start accepting connections from the outside.\r\n";

/// Serves one client until it quits, is killed, breaks the protocol or the server stops.
pub async fn serve(srv: Arc<Shared>, sock: TcpStream, addr: SocketAddr) {
    let _ = sock.set_nodelay(true);
    let laddr = sock.local_addr().unwrap_or(addr);
    let (mut rd, mut wr) = sock.into_split();

    {
        let (max, protected) = {
            let c = srv.config();
            (
                c.get(params::MAXCLIENTS) as usize,
                c.get(params::PROTECTED_MODE) && !c.is_set(params::REQUIREPASS),
            )
        };
        let n = srv.clients.len();
        if n >= max {
            srv.stats.rejected_connections.fetch_add(1, Relaxed);
            let _ = wr
                .write_all(b"-ERR max number of clients reached\r\n")
                .await;
            return;
        }
        if protected && !addr.ip().is_loopback() {
            srv.stats.rejected_connections.fetch_add(1, Relaxed);
            let _ = wr.write_all(DENIED.as_bytes()).await;
            return;
        }
    }

    let (push_tx, mut push_rx) = mpsc::unbounded_channel();
    let id = srv.clients.next_id();
    let handle = ClientHandle::new(id, addr, laddr, srv.uptime_ms(), push_tx);
    srv.clients.insert(handle.clone());
    // Redis logs these at `verbose`, which is tracing's DEBUG here.
    tracing::debug!("Accepted {addr}");
    let mut conn = Session::new(id, handle.clone());
    let mut parser = RequestParser::new();
    let mut out = Out::new();
    let mut stop = srv.shutdown.subscribe();
    // Pushed bytes (see `pubsub::push_cost`) moved into `out` and not yet known to be written.
    let mut push_pending = 0usize;

    let main = async {
        loop {
            // Run every complete request in the buffer, then flush their replies together.
            let mut batch = 0usize; // commands run from this read
            loop {
                let limits = srv.limits();
                let auth_req = !conn.authed && srv.auth_required();
                match parser.next_command(&limits, auth_req) {
                    Ok(Some(args)) => {
                        batch += 1;
                        if srv.pause.current().is_some() {
                            aof_wait(&srv, conn.prop.offset).await;
                            flush(&mut wr, &mut out, &srv).await?;
                            wait_for_pause(&srv, &conn, &args).await;
                            conn.clock = Instant::now();
                        }
                        if srv.ks.save_backlog_full() && cmd::may_write(&args) {
                            // A save's writer is behind the old values writes left it: this
                            // write waits, so memory does not grow with the overwrite rate.
                            aof_wait(&srv, conn.prop.offset).await;
                            flush(&mut wr, &mut out, &srv).await?;
                            srv.ks.save_backlog_wait().await;
                        }
                        let mut reply = cmd::dispatch(&srv, &mut conn, None, &args);
                        // Messages queued so far (PUBLISH to a channel of our own, in RESP3)
                        // go before this reply, as Redis writes them into the output buffer.
                        // `omem` counts every queued message: one load spares the common case
                        // (nothing for us) the channel's receive.
                        if handle.omem.load(Relaxed) != 0 {
                            while let Ok(m) = push_rx.try_recv() {
                                push_pending += crate::state::pubsub::push_cost(&m);
                                push_unless_silent(&mut out, &conn, &m);
                            }
                        }
                        // Clients blocked on keys this command fed are served before our next one.
                        blocking::serve_ready(&srv);
                        if let Some(block) = conn.block.take() {
                            aof_wait(&srv, conn.prop.offset).await;
                            flush(&mut wr, &mut out, &srv).await?;
                            // Counted while blocked, also if the connection ends mid-wait.
                            let counted = BlockedCount::new(&srv);
                            let io = blocking::WaitIo {
                                rd: &mut rd,
                                parser: &mut parser,
                                push_rx: &mut push_rx,
                                wr: &mut wr,
                                out: &mut out,
                                stop: &mut stop,
                            };
                            let r = blocking::wait(&srv, &mut conn, &args, block, io).await;
                            drop(counted);
                            match r? {
                                blocking::Outcome::Reply(r) => {
                                    // Served by another client's command: its write is in the
                                    // AOF by now, at most at the current end.
                                    if srv.aof.always() {
                                        conn.prop.offset = srv.aof.end();
                                    }
                                    reply = r
                                }
                                blocking::Outcome::Close => return Ok(()),
                            }
                            // The reply may have fed other blocked clients (BLMOVE).
                            blocking::serve_ready(&srv);
                            conn.clock = Instant::now();
                        }
                        push_unless_silent(&mut out, &conn, &reply);
                        conn.reply.command_done();
                        if let Some(m) = conn.after_reply.take() {
                            push_unless_silent(&mut out, &conn, &m);
                        }
                        parser.recycle(args);
                        if conn.close_after_reply {
                            aof_wait(&srv, conn.prop.offset).await;
                            flush(&mut wr, &mut out, &srv).await?;
                            return Ok(());
                        }
                        if out.len() >= FLUSH_AT {
                            aof_wait(&srv, conn.prop.offset).await;
                            flush(&mut wr, &mut out, &srv).await?;
                            conn.clock = Instant::now();
                        }
                    }
                    Ok(None) => break,
                    Err(e) => {
                        report_protocol_error(&e, &addr);
                        if e.replies() {
                            out.push(&Reply::error(format!("ERR {e}")), conn.resp);
                        }
                        flush(&mut wr, &mut out, &srv).await?;
                        return Ok(());
                    }
                }
            }
            if !out.is_empty() && batch > 1 {
                // Like Redis, which writes replies only after serving every client that was
                // ready: other ready connections run first, so a client reading many
                // connections is woken once for a burst of replies, not once per reply. Only
                // after a pipeline: a lone request's reply goes at once, since waiting behind
                // the other clients cost ~20% of redis-benchmark's rate at -P 1.
                tokio::task::yield_now().await;
            }
            aof_wait(&srv, conn.prop.offset).await;
            flush(&mut wr, &mut out, &srv).await?;
            if push_pending > 0 {
                crate::state::pubsub::release(&handle, std::mem::take(&mut push_pending));
            }
            let pending = parser.pending_bytes();
            handle.qbuf.store(pending, Relaxed);
            handle
                .qbuf_free
                .store(parser.capacity().saturating_sub(pending), Relaxed);
            handle.last_interaction.store(
                conn.now_ms
                    .saturating_sub(srv.unix_ms_at(srv.process.started)),
                Relaxed,
            );
            if handle.killed.load(Relaxed) || *stop.borrow() {
                return Ok(());
            }
            // Redis's `timeout`: idle clients are closed, except subscribers.
            let idle_limit = srv.idle_timeout();
            let may_time_out = idle_limit > 0 && !conn.has_subscriptions();
            // Made only when it can fire: making one reads the clock.
            let idle = async {
                if may_time_out {
                    tokio::time::sleep(Duration::from_secs(idle_limit)).await
                } else {
                    std::future::pending().await
                }
            };
            tokio::select! {
                _ = idle => {
                    tracing::debug!("closing idle client {addr}");
                    return Ok(());
                }
                n = rd.read_buf(parser.read_target()) => {
                    let n = n?;
                    if n == 0 {
                        // A client that vanishes mid-value: dropping the parser frees what it held.
                        tracing::debug!("Client closed connection id={id} addr={addr}");
                        return Ok(());
                    }
                    srv.stats.net_input_bytes.fetch_add(n as u64, Relaxed);
                }
                Some(msg) = push_rx.recv() => {
                    push_pending += crate::state::pubsub::push_cost(&msg);
                    push_unless_silent(&mut out, &conn, &msg);
                    while let Ok(m) = push_rx.try_recv() {
                        push_pending += crate::state::pubsub::push_cost(&m);
                        push_unless_silent(&mut out, &conn, &m);
                        if out.len() >= FLUSH_AT { break; }
                    }
                }
                // A kill is seen by the select around `main`, which waits on it for the whole
                // connection: waiting here too would register a second waiter on every read.
                _ = stop.changed() => return Ok(()),
            }
            conn.clock = Instant::now();
        }
    };
    // A kill (CLIENT KILL, output buffer limit) also ends a write the client never reads.
    let result: std::io::Result<()> = tokio::select! {
        r = main => r,
        _ = handle.kill.notified() => Ok(()),
    };
    if let Err(e) = result {
        tracing::debug!("client {addr}: {e}");
    }
    // A connection ended while blocked (killed mid-wait) leaves no waiter behind.
    srv.blocking.forget(id);
    cmd::connection::cleanup(&srv, &mut conn);
    srv.clients.remove(id);
}

/// Writes a reply, or under CLIENT REPLY OFF/SKIP only its push parts (pub/sub messages and
/// subscription confirmations, which Redis sends regardless).
fn push_unless_silent(out: &mut Out, conn: &Session, r: &Reply) {
    if !conn.reply.silent() {
        out.push(r, conn.resp);
        return;
    }
    match r {
        Reply::Push(_) => out.push(r, conn.resp),
        Reply::Seq(v) => v
            .iter()
            .filter(|x| matches!(x, Reply::Push(_)))
            .for_each(|x| out.push(x, conn.resp)),
        _ => {}
    }
}

/// Holds a command back while a CLIENT PAUSE covers it (until the pause ends or is lifted).
async fn wait_for_pause(srv: &Shared, conn: &Session, args: &[bytes::Bytes]) {
    loop {
        let mut changed = srv.pause.watch();
        let Some((end, all)) = srv.pause.current() else {
            return;
        };
        if !cmd::client::paused(conn, args, all) {
            return;
        }
        tokio::select! {
            _ = tokio::time::sleep_until(end.into()) => {}
            _ = changed.changed() => {}
        }
    }
}

fn report_protocol_error(e: &ProtoError, addr: &SocketAddr) {
    match e {
        ProtoError::QueryBufferLimit => {
            tracing::warn!("closing client {addr} that reached max query buffer length")
        }
        _ => tracing::debug!("protocol error from client {addr}: {e}"),
    }
}

/// With `appendfsync always`, waits until the AOF is fsynced up to `offset` (where this
/// client's last write ended), so no reply acknowledges a write a crash could lose. One fsync
/// serves every client waiting meanwhile.
async fn aof_wait(srv: &Shared, offset: u64) {
    if offset == 0 || !srv.aof.always() {
        return;
    }
    srv.aof.wait_synced(offset).await;
}

/// Writes all pending output, large values straight from their `Bytes`.
pub(crate) async fn flush(
    wr: &mut OwnedWriteHalf,
    out: &mut Out,
    srv: &Shared,
) -> std::io::Result<()> {
    while !out.is_empty() {
        let n = {
            let mut slices = [IoSlice::new(&[]); 16];
            let k = out.slices(&mut slices);
            // Small replies sit in one buffer: write(2) skips writev's iovec import.
            if k == 1 {
                wr.write(&slices[0]).await?
            } else {
                wr.write_vectored(&slices[..k]).await?
            }
        };
        if n == 0 {
            return Err(std::io::ErrorKind::WriteZero.into());
        }
        srv.stats.net_output_bytes.fetch_add(n as u64, Relaxed);
        out.advance(n);
    }
    Ok(())
}
