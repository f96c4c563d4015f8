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
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
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
    let fd = std::os::fd::AsRawFd::as_raw_fd(&sock);
    let (rd, wr) = sock.into_split();
    serve_io(srv, rd, wr, addr, laddr, fd).await
}

/// How long a client on a TLS port has to complete its handshake: one that stalls or sends
/// something else is dropped, not kept until `timeout` (which applies to clients in session).
const TLS_HANDSHAKE_TIME: Duration = Duration::from_secs(10);

/// Serves one client of a TLS port: the handshake with the acceptor of the moment (so a
/// reloaded certificate serves new connections), then as [`serve`].
pub async fn serve_tls(
    srv: Arc<Shared>,
    sock: TcpStream,
    addr: SocketAddr,
    acceptor: tokio_rustls::TlsAcceptor,
) {
    let _ = sock.set_nodelay(true);
    let laddr = sock.local_addr().unwrap_or(addr);
    // The socket's descriptor, valid as long as the TLS stream that owns it.
    let fd = std::os::fd::AsRawFd::as_raw_fd(&sock);
    let stream = match tokio::time::timeout(TLS_HANDSHAKE_TIME, acceptor.accept(sock)).await {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => {
            // Redis logs these at verbose too ("Error accepting a client connection").
            tracing::debug!("Error accepting a client connection: {e} (conn: {addr})");
            return;
        }
        Err(_) => {
            tracing::debug!("TLS handshake with {addr} timed out");
            return;
        }
    };
    let (rd, wr) = tokio::io::split(stream);
    serve_io(srv, rd, wr, addr, laddr, fd).await
}

/// The connection over any stream: generic, so the plain TCP path compiles to what it was.
/// `fd` is the TCP socket's, whose kernel send queue counts in a stalled client's output.
async fn serve_io<R, W>(
    srv: Arc<Shared>,
    mut rd: R,
    mut wr: W,
    addr: SocketAddr,
    laddr: SocketAddr,
    fd: std::os::fd::RawFd,
) where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    {
        let (max, protected) = {
            let c = srv.config();
            (
                c.get(params::MAXCLIENTS) as usize,
                // As Redis: only while the default user has no password.
                c.get(params::PROTECTED_MODE) && srv.acl.default_open(),
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
    // client-output-buffer-limit's cells: CONFIG SET changes them in place.
    let obuf_limits = srv.config().output_limits();

    let main = async {
        loop {
            // Run every complete request in the buffer, then flush their replies together.
            let mut batch = 0usize; // commands run from this read
                                    // The normal class's hard limit (0: none), read once a batch; subscribers' output
                                    // is counted by pub/sub delivery under their own class.
            let obuf_hard = if conn.subscriptions.is_empty() && conn.psubscriptions.is_empty() {
                obuf_limits[0].load().hard as usize
            } else {
                0
            };
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
                        if conn.track.on && handle.omem.load(Relaxed) != 0 {
                            // What came before this command goes before its reply, as in Redis;
                            // invalidations that come while it runs wait for it (below).
                            while let Ok(m) = push_rx.try_recv() {
                                push_pending += crate::state::pubsub::push_cost(&m);
                                push_unless_silent(&mut out, &conn, &m);
                            }
                        }
                        let mut reply = cmd::dispatch(&srv, &mut conn, None, &args);
                        // Messages queued so far (PUBLISH to a channel of our own, in RESP3)
                        // go before this reply, as Redis writes them into the output buffer.
                        // `omem` counts every queued message: one load spares the common case
                        // (nothing for us) the channel's receive.
                        // An invalidation (CLIENT TRACKING) waits for the reply: it may be for
                        // a key this very command read, and must not reach the client's cache
                        // before the value it invalidates.
                        let mut invalidations = Vec::new();
                        if handle.omem.load(Relaxed) != 0 {
                            while let Ok(m) = push_rx.try_recv() {
                                push_pending += crate::state::pubsub::push_cost(&m);
                                if crate::state::tracking::is_invalidation(&m) {
                                    invalidations.push(m);
                                } else {
                                    push_unless_silent(&mut out, &conn, &m);
                                }
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
                        for m in invalidations {
                            push_unless_silent(&mut out, &conn, &m);
                        }
                        parser.recycle(args);
                        if obuf_hard != 0 && out.len() > obuf_hard {
                            // As Redis, which counts a reply as pending from when it is made
                            // and drops what is pending with the client.
                            obuf_close(&handle, out.len());
                            return Ok(());
                        }
                        if conn.close_after_reply {
                            aof_wait(&srv, conn.prop.offset).await;
                            flush(&mut wr, &mut out, &srv).await?;
                            return Ok(());
                        }
                        if out.len() >= FLUSH_AT {
                            aof_wait(&srv, conn.prop.offset).await;
                            flush_client(&mut wr, &mut out, &srv, Some((&handle, fd))).await?;
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
            flush_client(&mut wr, &mut out, &srv, Some((&handle, fd))).await?;
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
pub(crate) async fn flush<W: AsyncWrite + Unpin>(
    wr: &mut W,
    out: &mut Out,
    srv: &Shared,
) -> std::io::Result<()> {
    flush_client(wr, out, srv, None).await
}

/// [`flush`], and when the socket takes no more (the client does not read) and `client` is
/// given: the output waiting is shown in CLIENT LIST's `omem`, and the client is closed once
/// it passes the normal class's output buffer limit or makes no progress for `timeout`.
async fn flush_client<W: AsyncWrite + Unpin>(
    wr: &mut W,
    out: &mut Out,
    srv: &Shared,
    client: Option<(&ClientHandle, std::os::fd::RawFd)>,
) -> std::io::Result<()> {
    let mut stalled = false;
    while !out.is_empty() {
        let pending = out.len();
        let n = {
            let mut slices = [IoSlice::new(&[]); 16];
            let k = out.slices(&mut slices);
            let mut w = std::pin::pin!(async {
                // Small replies sit in one buffer: write(2) skips writev's iovec import.
                if k == 1 {
                    wr.write(&slices[0]).await
                } else {
                    wr.write_vectored(&slices[..k]).await
                }
            });
            // One poll: a socket with room (the usual case) writes without a timer.
            let first = std::future::poll_fn(|cx| {
                std::task::Poll::Ready(match std::future::Future::poll(w.as_mut(), cx) {
                    std::task::Poll::Ready(r) => Some(r),
                    std::task::Poll::Pending => None,
                })
            })
            .await;
            match (first, client) {
                (Some(r), _) => r?,
                (None, None) => w.await?,
                (None, Some((h, fd))) => {
                    stalled = true;
                    write_stalled(srv, h, pending + send_queue(fd), w).await?
                }
            }
        };
        if n == 0 {
            return Err(std::io::ErrorKind::WriteZero.into());
        }
        srv.stats.net_output_bytes.fetch_add(n as u64, Relaxed);
        out.advance(n);
    }
    if let (true, Some((h, _))) = (stalled, client) {
        h.obuf.store(0, Relaxed);
        h.obuf_soft_since.store(0, Relaxed);
    }
    Ok(())
}

/// Waits for a write the socket has no room for, checking every second the limits a client
/// that does not read its replies is held to: client-output-buffer-limit's normal class (not
/// for subscribers: pub/sub delivery counts theirs) and `timeout`, counted from the stall.
async fn write_stalled(
    srv: &Shared,
    h: &ClientHandle,
    pending: usize,
    mut w: std::pin::Pin<&mut impl std::future::Future<Output = std::io::Result<usize>>>,
) -> std::io::Result<usize> {
    h.obuf.store(pending, Relaxed);
    let began = Instant::now();
    loop {
        let subscriber = h.subs.load(Relaxed) + h.psubs.load(Relaxed) + h.ssubs.load(Relaxed) > 0;
        if !subscriber && over_output_limit(srv, h, pending as u64) {
            obuf_close(h, pending);
            return Err(std::io::Error::other("output buffer limit"));
        }
        let idle = srv.idle_timeout();
        if idle > 0 && began.elapsed() >= Duration::from_secs(idle) && !subscriber {
            tracing::debug!("closing idle client {} (its replies unread)", h.addr);
            return Err(std::io::ErrorKind::TimedOut.into());
        }
        tokio::select! {
            r = w.as_mut() => return r,
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
    }
}

/// Bytes the kernel still holds in a socket's send queue: output the client has not taken,
/// counted with the connection's own as Redis counts its reply list.
fn send_queue(fd: std::os::fd::RawFd) -> usize {
    let mut n: libc::c_int = 0;
    // SAFETY: TIOCOUTQ (SIOCOUTQ on a socket) writes one int through the pointer.
    let r = unsafe { libc::ioctl(fd, libc::TIOCOUTQ, &mut n) };
    if r == 0 {
        n.max(0) as usize
    } else {
        0
    }
}

/// Whether `pending` output bytes pass the normal class's hard limit, or its soft limit for
/// longer than its seconds (the time over it kept in the handle, as Redis keeps it).
fn over_output_limit(srv: &Shared, h: &ClientHandle, pending: u64) -> bool {
    let l = srv.config().output_limits()[0].load();
    if l.hard > 0 && pending >= l.hard {
        return true;
    }
    if l.soft == 0 || pending < l.soft {
        h.obuf_soft_since.store(0, Relaxed);
        return false;
    }
    let now = crate::keyspace::now_ms().max(1);
    let since = h.obuf_soft_since.load(Relaxed);
    if since == 0 {
        h.obuf_soft_since.store(now, Relaxed);
        return false;
    }
    now.saturating_sub(since) > l.soft_secs * 1000
}

/// Logs, as Redis does, a client closed for its output buffer limit.
fn obuf_close(h: &ClientHandle, pending: usize) {
    tracing::warn!(
        "Client id={} addr={} omem={pending} scheduled to be closed ASAP for overcoming of output buffer limits.",
        h.id,
        h.addr
    );
    h.killed.store(true, Relaxed);
}
