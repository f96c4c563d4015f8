//! Starting an in-process server and a raw RESP client.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;
use tokio::sync::oneshot;

/// A server running on its own runtime thread; stopped on drop.
pub struct TestServer {
    pub addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl TestServer {
    /// Starts respd with the embedded defaults plus `params` (name, value).
    pub fn start(params: &[(&str, &str)]) -> TestServer {
        let mut config = respd::Config::default();
        // No save rules unless a test sets some: the embedded defaults' would write dumps into
        // the checkout.
        config.set("save", "").expect("save");
        for (k, v) in params {
            config.set(k, v).expect("test config");
        }
        let (addr_tx, addr_rx) = std::sync::mpsc::channel();
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
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
                addr_tx
                    .send(l.local_addr().expect("addr"))
                    .expect("send addr");
                let srv = respd::Shared::new(config);
                respd::run(vec![l], srv, async {
                    let _ = stop_rx.await;
                })
                .await;
            });
        });
        let addr = addr_rx
            .recv_timeout(Duration::from_secs(10))
            .expect("server started");
        TestServer {
            addr,
            stop: Some(stop_tx),
            thread: Some(thread),
        }
    }

    pub fn client(&self) -> Client {
        Client::connect(self.addr)
    }

    /// Stops the server and waits for `run` to return.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            t.join().expect("server thread");
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// respd as its own process: the real binary with its counting allocator, so INFO memory reports
/// this server's heap alone, undisturbed by the other tests in this process. Killed on drop.
pub struct ChildServer {
    pub addr: SocketAddr,
    child: std::process::Child,
}

impl ChildServer {
    pub fn start() -> ChildServer {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("free port");
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_respd"))
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
            ])
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("start respd");
        let addr: SocketAddr = ([127, 0, 0, 1], port).into();
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(addr).is_err() {
            if let Ok(Some(st)) = child.try_wait() {
                panic!("respd exited at start ({st})");
            }
            assert!(std::time::Instant::now() < deadline, "respd did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        ChildServer { addr, child }
    }

    pub fn client(&self) -> Client {
        Client::connect(self.addr)
    }
}

impl Drop for ChildServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A numeric field of an INFO reply.
pub fn info_field(c: &mut Client, section: &str, field: &str) -> u64 {
    let r = c.cmd(&[b"INFO", section.as_bytes()]);
    let text = String::from_utf8_lossy(&r);
    text.lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {field} in INFO {section}: {text}"))
}

/// A blocking raw RESP client.
pub struct Client {
    pub sock: TcpStream,
    buf: Vec<u8>,
}

pub fn encode(args: &[&[u8]]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
    out
}

impl Client {
    pub fn connect(addr: SocketAddr) -> Client {
        let sock = TcpStream::connect(addr).expect("connect");
        sock.set_read_timeout(Some(Duration::from_secs(30)))
            .expect("timeout");
        sock.set_nodelay(true).expect("nodelay");
        Client {
            sock,
            buf: Vec::new(),
        }
    }

    pub fn send(&mut self, data: &[u8]) {
        self.sock.write_all(data).expect("write");
    }

    fn fill(&mut self) -> bool {
        let mut chunk = vec![0u8; 1 << 20];
        match self.sock.read(&mut chunk) {
            Ok(0) | Err(_) => false,
            Ok(n) => {
                self.buf.extend_from_slice(&chunk[..n]);
                true
            }
        }
    }

    fn line_end(&mut self, from: usize) -> Option<usize> {
        loop {
            if let Some(i) = self.buf[from..].windows(2).position(|w| w == b"\r\n") {
                return Some(from + i);
            }
            if !self.fill() {
                return None;
            }
        }
    }

    fn reply_end(&mut self, pos: usize) -> Option<usize> {
        while self.buf.len() <= pos {
            if !self.fill() {
                return None;
            }
        }
        let kind = self.buf[pos];
        let eol = self.line_end(pos)?;
        let head: i64 = std::str::from_utf8(&self.buf[pos + 1..eol])
            .ok()?
            .parse()
            .unwrap_or(0);
        match kind {
            b'$' if head >= 0 => {
                let end = eol + 2 + head as usize + 2;
                while self.buf.len() < end {
                    if !self.fill() {
                        return None;
                    }
                }
                Some(end)
            }
            b'*' | b'~' | b'>' | b'%' if head > 0 => {
                let n = if kind == b'%' { head * 2 } else { head };
                let mut p = eol + 2;
                for _ in 0..n {
                    p = self.reply_end(p)?;
                }
                Some(p)
            }
            _ => Some(eol + 2),
        }
    }

    /// The next complete reply's bytes; None if the server closed the connection.
    pub fn read_reply(&mut self) -> Option<Vec<u8>> {
        let end = self.reply_end(0)?;
        let rest = self.buf.split_off(end);
        Some(std::mem::replace(&mut self.buf, rest))
    }

    pub fn cmd(&mut self, args: &[&[u8]]) -> Vec<u8> {
        self.send(&encode(args));
        self.read_reply().expect("reply")
    }

    /// Whether the server closes the connection (reading what is left) within the timeout.
    pub fn closed(&mut self) -> bool {
        self.sock
            .set_read_timeout(Some(Duration::from_secs(5)))
            .expect("timeout");
        let mut chunk = [0u8; 4096];
        loop {
            match self.sock.read(&mut chunk) {
                Ok(0) => return true,
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(e) => {
                    return e.kind() != std::io::ErrorKind::WouldBlock
                        && e.kind() != std::io::ErrorKind::TimedOut
                }
            }
        }
    }

    pub fn pending(&self) -> &[u8] {
        &self.buf
    }

    /// Reads until at least `n` bytes are buffered (kept for `read_reply`); false if closed.
    pub fn read_at_least(&mut self, n: usize) -> bool {
        while self.buf.len() < n {
            if !self.fill() {
                return false;
            }
        }
        true
    }
}
