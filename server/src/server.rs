//! The listener: binds the configured addresses, accepts clients and gives each a connection
//! task, expires keys in the background, and stops cleanly; and the systemd readiness notice.

use crate::config::Config;
use crate::connection;
use crate::state::{NotifyClass, Shared};
use std::net::SocketAddr;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio::task::JoinSet;

/// Binds the configured addresses.
pub async fn bind(config: &Config) -> std::io::Result<Vec<TcpListener>> {
    let port = config.port();
    let mut out = Vec::new();
    let mut last_err = None;
    for (i, a) in config.bind().iter().enumerate() {
        let optional = config
            .get("bind")
            .unwrap_or("")
            .split_whitespace()
            .nth(i)
            .is_some_and(|s| s.starts_with('-'));
        let addr = if a.contains(':') {
            format!("[{a}]:{port}")
        } else {
            format!("{a}:{port}")
        };
        match TcpListener::bind(&addr).await {
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

/// Serves clients on `listeners` until `shutdown` completes or a client sends SHUTDOWN; then stops
/// accepting, lets connections finish the replies in flight and returns.
pub async fn run(
    listeners: Vec<TcpListener>,
    srv: Arc<Shared>,
    shutdown: impl std::future::Future<Output = ()>,
) {
    if let Some(l) = listeners.first() {
        if let Ok(a) = l.local_addr() {
            *srv.local_addr.lock().unwrap_or_else(|e| e.into_inner()) = Some(a);
        }
    }
    let (conn_tx, mut conn_rx) = mpsc::channel::<(tokio::net::TcpStream, SocketAddr)>(128);
    let mut accept_tasks = JoinSet::new();
    for l in listeners {
        let tx = conn_tx.clone();
        accept_tasks.spawn(async move {
            loop {
                match l.accept().await {
                    Ok(c) => {
                        if tx.send(c).await.is_err() {
                            return;
                        }
                    }
                    Err(e) => {
                        // Out of descriptors and similar: back off instead of spinning.
                        tracing::warn!("accept: {e}");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
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
            for (db, key) in expire_srv.ks.expire_cycle(200) {
                expire_srv.notify_keyspace(db, NotifyClass::Expired, "expired", &key);
            }
        }
    });
    // `save` rules and scheduled BGSAVEs, checked once a second as Redis's serverCron does.
    let save_srv = srv.clone();
    let saver = tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        loop {
            tick.tick().await;
            let settings = crate::persist::Settings::from_config(&save_srv.config());
            crate::persist::save_if_due(&save_srv.ks, &save_srv.persist, settings);
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
            c = conn_rx.recv() => {
                let Some((sock, addr)) = c else { break };
                srv.stats.connections_received.fetch_add(1, Relaxed);
                let s = srv.clone();
                conns.spawn(async move { connection::serve(s, sock, addr).await });
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
