//! Start servers for the tests: respd in-process on 127.0.0.1:0, redis-server as a child process.

use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running server; stops when dropped.
pub struct Server {
    pub url: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
    child: Option<Child>,
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// respd in this process.
pub fn respd() -> Server {
    let (tx, rx) = std::sync::mpsc::channel();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let thread = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async move {
            let l = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind");
            tx.send(l.local_addr().expect("addr")).expect("send addr");
            let mut config = respd::Config::default();
            // No save rules: the embedded defaults' would write dumps into the checkout.
            config.set("save", "").expect("save");
            let shared = respd::Shared::new(config);
            respd::run(vec![l], shared, async move {
                let _ = stop_rx.await;
            })
            .await;
        });
    });
    let addr = rx
        .recv_timeout(Duration::from_secs(20))
        .expect("respd started");
    Server {
        url: format!("redis://{addr}"),
        stop: Some(stop_tx),
        thread: Some(thread),
        child: None,
    }
}

/// A free TCP port on loopback.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// Whether a missing redis-server may skip the comparisons: only when RESPD_ALLOW_NO_REDIS=1 says
/// so, and never under CI=true (ci/test installs redis-server, so there a missing one is a bug).
pub fn redis_optional() -> bool {
    let allowed = std::env::var("RESPD_ALLOW_NO_REDIS").is_ok_and(|v| v == "1");
    let ci = std::env::var("CI").is_ok_and(|v| v == "true");
    allowed && !ci
}

/// Reports that redis-server cannot be used: a visible skip (`None`) when [`redis_optional`],
/// else a test failure.
pub fn redis_missing<T>(why: &str) -> Option<T> {
    assert!(
        redis_optional(),
        "{why}; install redis-server (ci/test does), or set RESPD_ALLOW_NO_REDIS=1 outside CI to skip"
    );
    eprintln!("SKIP (RESPD_ALLOW_NO_REDIS=1): {why}");
    None
}

/// Debian's redis-server (REDIS_SERVER overrides). Missing, it fails the test unless
/// [`redis_optional`]; then it is `None` with a SKIP line.
pub fn redis_server() -> Option<Server> {
    let bin = std::env::var("REDIS_SERVER").unwrap_or_else(|_| "redis-server".into());
    let port = free_port();
    let child = Command::new(&bin)
        .args([
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(e) => return redis_missing(&format!("cannot start {bin} ({e})")),
    };
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().expect("addr");
    let deadline = Instant::now() + Duration::from_secs(20);
    while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
        // A server that started and exited is a broken setup, not a missing one: always a failure.
        if let Ok(Some(st)) = child.try_wait() {
            panic!("{bin} exited at start ({st})");
        }
        assert!(Instant::now() < deadline, "redis-server did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    Some(Server {
        url: format!("redis://{addr}"),
        stop: None,
        thread: None,
        child: Some(child),
    })
}

/// Both servers (redis-server left out only when [`redis_optional`] allows it).
pub fn both() -> Vec<(&'static str, Server)> {
    let mut v = vec![("respd", respd())];
    if let Some(r) = redis_server() {
        v.push(("redis-server", r));
    }
    v
}
