//! The listener: binds the configured addresses, accepts clients and gives each a connection
//! task, expires keys in the background, and stops cleanly; and the systemd readiness notice.

use crate::config::{params, Config};
use crate::connection;
use crate::state::{NotifyClass, Shared};
use std::net::SocketAddr;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::mpsc;
use tokio::task::JoinSet;

/// Binds the configured addresses, each listening with `tcp-backlog` pending connections (as
/// Redis; the kernel caps it at `somaxconn`). Tokio's own `bind` listens with 128, which drops
/// SYNs when thousands of clients connect at once and makes them retry after 1 s, 3 s, 7 s...
pub async fn bind(config: &Config) -> std::io::Result<Vec<TcpListener>> {
    bind_port(config, config.get(params::PORT)).await
}

/// A listening socket, and whether its clients speak TLS (`tls-port`).
pub struct Listener {
    pub tcp: TcpListener,
    pub tls: bool,
}

/// Binds the plain port and the TLS one, each on every `bind` address. As Redis, `port 0` with a
/// `tls-port` listens on TLS only; with neither, `port 0` stays an ephemeral plain port (tests).
pub async fn bind_all(config: &Config) -> std::io::Result<Vec<Listener>> {
    let tls_port = config.get(params::TLS_PORT);
    let mut out = Vec::new();
    if config.get(params::PORT) != 0 || tls_port == 0 {
        let plain = bind(config).await?;
        out.extend(plain.into_iter().map(|tcp| Listener { tcp, tls: false }));
    }
    if tls_port != 0 {
        let tls = bind_port(config, tls_port).await?;
        out.extend(tls.into_iter().map(|tcp| Listener { tcp, tls: true }));
    }
    Ok(out)
}

async fn bind_port(config: &Config, port: i64) -> std::io::Result<Vec<TcpListener>> {
    let backlog = u32::try_from(config.get(params::TCP_BACKLOG)).unwrap_or(u32::MAX);
    warn_if_backlog_capped(backlog);
    let mut out = Vec::new();
    let mut last_err = None;
    let addrs = config.get(params::BIND);
    for a in addrs.split_whitespace() {
        // A leading '-' marks an address that may be missing on this host.
        let (optional, a) = match a.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, a),
        };
        let addr = if a.contains(':') {
            format!("[{a}]:{port}")
        } else {
            format!("{a}:{port}")
        };
        match listen(&addr, backlog).await {
            Ok(l) => out.push(l),
            Err(e) if optional => tracing::debug!("optional bind {addr} skipped: {e}"),
            Err(e) => last_err = Some(std::io::Error::new(e.kind(), format!("{addr}: {e}"))),
        }
    }
    if let Some(e) = last_err {
        return Err(e);
    }
    if out.is_empty() {
        return Err(std::io::Error::other("no address to listen on"));
    }
    Ok(out)
}

/// Listens on the first address `addr` resolves to that can be bound.
async fn listen(addr: &str, backlog: u32) -> std::io::Result<TcpListener> {
    let mut last_err = None;
    for a in tokio::net::lookup_host(addr).await? {
        let socket = if a.is_ipv4() {
            TcpSocket::new_v4()?
        } else {
            TcpSocket::new_v6()?
        };
        // As std and Redis do: a restarted server binds again at once despite TIME_WAIT.
        socket.set_reuseaddr(true)?;
        match socket.bind(a).and_then(|()| socket.listen(backlog)) {
            Ok(l) => return Ok(l),
            Err(e) => last_err = Some(e),
        }
    }
    Err(last_err.unwrap_or_else(|| std::io::Error::other("address resolved to nothing")))
}

/// Redis's warning when the kernel caps the backlog below `tcp-backlog`.
fn warn_if_backlog_capped(backlog: u32) {
    let somaxconn = std::fs::read_to_string("/proc/sys/net/core/somaxconn")
        .ok()
        .and_then(|s| s.trim().parse::<u32>().ok());
    if let Some(max) = somaxconn.filter(|&m| m < backlog) {
        tracing::warn!(
            "The TCP backlog setting of {backlog} cannot be enforced because \
             /proc/sys/net/core/somaxconn is set to the lower value of {max}."
        );
    }
}

/// Serves clients on `listeners` until `shutdown` completes or a client sends SHUTDOWN; then stops
/// accepting, lets connections finish the replies in flight and returns.
pub async fn run(
    listeners: Vec<TcpListener>,
    srv: Arc<Shared>,
    shutdown: impl std::future::Future<Output = ()>,
) {
    let plain = listeners
        .into_iter()
        .map(|tcp| Listener { tcp, tls: false });
    run_listeners(plain.collect(), srv, shutdown).await
}

/// [`run`] over plain and TLS listeners ([`bind_all`]).
pub async fn run_listeners(
    listeners: Vec<Listener>,
    srv: Arc<Shared>,
    shutdown: impl std::future::Future<Output = ()>,
) {
    if let Some(l) = listeners.first() {
        if let Ok(a) = l.tcp.local_addr() {
            srv.process.set_local_addr(a);
        }
    }
    // Accepted sockets reach the loop below in batches: everything the backlog holds is taken
    // at once (up to ACCEPT_BATCH, as Redis's MAX_ACCEPTS_PER_CALL), so a storm of connects drains
    // the backlog in a few wake-ups instead of one task hop per client.
    let (conn_tx, mut conn_rx) = mpsc::channel::<(Vec<(TcpStream, SocketAddr)>, bool)>(16);
    let mut accept_tasks = JoinSet::new();
    for Listener { tcp: l, tls } in listeners {
        let tx = conn_tx.clone();
        accept_tasks.spawn(async move {
            loop {
                let (batch, err) = accept_batch(&l).await;
                if !batch.is_empty() && tx.send((batch, tls)).await.is_err() {
                    return;
                }
                if let Some(e) = err {
                    // Out of descriptors and similar: back off instead of spinning.
                    tracing::warn!("accept: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        });
    }
    drop(conn_tx);
    let expire_srv = srv.clone();
    let expirer = tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_millis(100));
        loop {
            tick.tick().await;
            crate::resp::pool::purge();
            if expire_srv.persist.loading.is_active() {
                continue; // As Redis: nothing expires while the dataset loads.
            }
            // A running script holds shards: waiting for one would stall this worker.
            if expire_srv.scripts.running.load(Relaxed) > 0 {
                continue;
            }
            let mut any = false;
            for (db, key) in expire_srv.expire_cycle(200) {
                expire_srv.notify_keyspace(db, NotifyClass::Expired, "expired", &key);
                // A deleted key: its XREADGROUP readers are told (`signalDeletedKeyAsReady`).
                expire_srv.blocking.signal(db, &key);
                any = true;
            }
            if any {
                crate::connection::blocking::serve_ready(&expire_srv);
            }
        }
    });
    // `save` rules and scheduled BGSAVEs, checked once a second as Redis's serverCron does.
    let save_srv = srv.clone();
    let saver = tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        loop {
            tick.tick().await;
            if save_srv.persist.loading.is_active() {
                continue; // A save now would write a half-loaded keyspace over the dump.
            }
            if save_srv.scripts.running.load(Relaxed) > 0 {
                continue;
            }
            let settings = crate::persist::Settings::from_config(save_srv.config());
            // One snapshot at a time: a save due (or scheduled) during an AOF rewrite waits
            // for it, as Redis's serverCron waits for its child.
            if !save_srv.aof.rewriting.load(Relaxed) {
                crate::persist::save_if_due(&save_srv.ks, &save_srv.persist, settings);
            }
            let aof = crate::persist::aof::AofSettings::from_config(save_srv.config());
            let saving = save_srv
                .persist
                .saving
                .load(std::sync::atomic::Ordering::Relaxed);
            save_srv.aof.rewrite_if_due(&save_srv.ks, aof, saving);
        }
    });
    let mut conns = JoinSet::new();
    let mut stop = srv.shutdown.subscribe();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            _ = stop.changed() => break,
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
            batch = conn_rx.recv() => {
                let Some((batch, tls)) = batch else { break };
                let keepalive = u64::try_from(srv.config().get(params::TCP_KEEPALIVE)).unwrap_or(0);
                // The certificates of the moment: a CONFIG SET reload serves the next batch.
                let acceptor = if tls { srv.tls.acceptor() } else { None };
                for (sock, addr) in batch {
                    if let Err(e) = set_keepalive(&sock, keepalive) {
                        tracing::debug!("tcp-keepalive on {addr}: {e}");
                    }
                    srv.stats.connections_received.fetch_add(1, Relaxed);
                    let s = srv.clone();
                    match (tls, &acceptor) {
                        (false, _) => {
                            conns.spawn(async move { connection::serve(s, sock, addr).await });
                        }
                        (true, Some(a)) => {
                            let a = a.clone();
                            conns.spawn(async move { connection::serve_tls(s, sock, addr, a).await });
                        }
                        // Not reachable: a TLS port is bound only once TLS is configured.
                        (true, None) => tracing::warn!("TLS client {addr} dropped: TLS not configured"),
                    }
                }
            }
        }
    }
    tracing::info!("shutting down: no new connections, finishing replies in flight");
    accept_tasks.abort_all();
    expirer.abort();
    saver.abort();
    srv.request_shutdown();
    // Connections finish the batch they are executing and flush it; give them a bounded time.
    let _ = tokio::time::timeout(Duration::from_secs(5), async {
        while conns.join_next().await.is_some() {}
    })
    .await;
    conns.abort_all();
}

/// `tcp-keepalive` as Redis's anetKeepAlive sets it: probes after `secs` idle, then every
/// `secs / 3`, and the peer is dead after 3 unanswered; so a client whose host vanished (power
/// cut, cable) is noticed and its connection freed. 0 leaves keepalive off.
fn set_keepalive(sock: &TcpStream, secs: u64) -> std::io::Result<()> {
    use std::os::fd::AsRawFd;
    if secs == 0 {
        return Ok(());
    }
    let secs = libc::c_int::try_from(secs).unwrap_or(libc::c_int::MAX);
    let fd = sock.as_raw_fd();
    let opts = [
        (libc::SOL_SOCKET, libc::SO_KEEPALIVE, 1),
        (libc::IPPROTO_TCP, libc::TCP_KEEPIDLE, secs),
        (libc::IPPROTO_TCP, libc::TCP_KEEPINTVL, (secs / 3).max(1)),
        (libc::IPPROTO_TCP, libc::TCP_KEEPCNT, 3),
    ];
    for (level, name, value) in opts {
        // SAFETY: `fd` is the open socket `sock` owns; the option value is a c_int that outlives
        // the call, and its size is passed.
        let rc = unsafe {
            libc::setsockopt(
                fd,
                level,
                name,
                (&value as *const libc::c_int).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        if rc != 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

/// The most connections taken from one listener's backlog per wake-up.
const ACCEPT_BATCH: usize = 1000;

/// Waits for at least one connection (or an error), then takes every other one already waiting.
async fn accept_batch(l: &TcpListener) -> (Vec<(TcpStream, SocketAddr)>, Option<std::io::Error>) {
    let mut batch = Vec::new();
    let mut err = None;
    std::future::poll_fn(|cx| {
        while batch.len() < ACCEPT_BATCH {
            match l.poll_accept(cx) {
                Poll::Ready(Ok(c)) => batch.push(c),
                Poll::Ready(Err(e)) => {
                    err = Some(e);
                    break;
                }
                Poll::Pending => break,
            }
        }
        if batch.is_empty() && err.is_none() {
            Poll::Pending
        } else {
            Poll::Ready(())
        }
    })
    .await;
    (batch, err)
}

/// Tells systemd (Type=notify) that the server is ready, when run under it.
pub fn notify_systemd_ready() {
    let Some(path) = std::env::var_os("NOTIFY_SOCKET") else {
        return;
    };
    let mut path = path.to_string_lossy().into_owned();
    if let Some(abs) = path.strip_prefix('@') {
        path = format!("\0{abs}"); // Abstract socket namespace.
    }
    let sent = std::os::unix::net::UnixDatagram::unbound().and_then(|s| {
        if let Some(name) = path.strip_prefix('\0') {
            use std::os::linux::net::SocketAddrExt;
            let addr = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes())?;
            s.send_to_addr(b"READY=1\nSTATUS=ready to accept connections", &addr)
        } else {
            s.send_to(b"READY=1\nSTATUS=ready to accept connections", &path)
        }
    });
    if let Err(e) = sent {
        tracing::warn!("could not notify systemd: {e}");
    }
}

#[cfg(test)]
mod tests {
    use super::bind;
    use crate::Config;

    fn config(bind: &str) -> Config {
        let mut c = Config::default();
        c.set("bind", bind).expect("bind");
        c.set("port", "0").expect("port");
        c
    }

    #[tokio::test]
    async fn binds_each_address() {
        let ls = bind(&config("127.0.0.1 127.0.0.2")).await.expect("bound");
        let addrs: Vec<_> = ls
            .iter()
            .map(|l| l.local_addr().expect("addr").ip())
            .collect();
        assert_eq!(
            addrs,
            [
                "127.0.0.1".parse::<std::net::IpAddr>().unwrap(),
                "127.0.0.2".parse().unwrap()
            ]
        );
    }

    /// 192.0.2.1 (TEST-NET-1) is no address of this host, so binding it fails.
    #[tokio::test]
    async fn an_optional_address_that_fails_is_skipped() {
        let ls = bind(&config("-192.0.2.1 127.0.0.1")).await.expect("bound");
        assert_eq!(ls.len(), 1);
        assert!(ls[0].local_addr().expect("addr").ip().is_loopback());
    }

    #[tokio::test]
    async fn a_required_address_that_fails_is_an_error_naming_it() {
        let e = bind(&config("127.0.0.1 192.0.2.1"))
            .await
            .expect_err("refused");
        assert!(e.to_string().contains("192.0.2.1:0"), "{e}");
    }

    #[tokio::test]
    async fn nothing_bound_is_an_error() {
        let e = bind(&config("-192.0.2.1")).await.expect_err("refused");
        assert_eq!(e.to_string(), "no address to listen on");
    }
}
