//! The request parser against a real listener: split requests, large bulks, limits.

use crate::common::{encode, info_field, ChildServer, Client, TestServer};
use std::io::Write;
use std::time::{Duration, Instant};

/// A pipeline of commands and the replies they must get.
fn script() -> (Vec<u8>, Vec<u8>) {
    let mut req = Vec::new();
    req.extend(encode(&[b"SET", b"k", b"hello world"]));
    req.extend(b"GET k\r\n");
    req.extend(encode(&[b"APPEND", b"k", b"!"]));
    req.extend(b"ECHO \"a\\x41\"\r\n");
    req.extend(encode(&[b"MGET", b"k", b"nope"]));
    req.extend(b"*-1\r\n\r\nPING\r\n");
    let replies = b"+OK\r\n$11\r\nhello world\r\n:12\r\n$2\r\naA\r\n*2\r\n$12\r\nhello world!\r\n$-1\r\n+PONG\r\n".to_vec();
    (req, replies)
}

#[test]
fn requests_split_at_every_byte_boundary() {
    let srv = TestServer::start(&[]);
    let (req, want) = script();
    for cut in 1..req.len() {
        let mut c = srv.client();
        c.send(b"DEL k\r\n");
        assert!(c.read_reply().is_some());
        c.send(&req[..cut]);
        c.sock.flush().expect("flush");
        std::thread::sleep(Duration::from_millis(1));
        c.send(&req[cut..]);
        let mut got = Vec::new();
        while got.len() < want.len() {
            got.extend(c.read_reply().expect("reply"));
        }
        assert_eq!(
            String::from_utf8_lossy(&got),
            String::from_utf8_lossy(&want),
            "cut at {cut}"
        );
    }
}

#[test]
fn requests_sent_one_byte_at_a_time() {
    let srv = TestServer::start(&[]);
    let (req, want) = script();
    let mut c = srv.client();
    for b in &req {
        c.send(std::slice::from_ref(b));
    }
    let mut got = Vec::new();
    while got.len() < want.len() {
        got.extend(c.read_reply().expect("reply"));
    }
    assert_eq!(got, want);
}

#[test]
fn big_bulk_in_random_sized_writes() {
    let srv = TestServer::start(&[]);
    let n: usize = 128 << 20;
    let value: Vec<u8> = (0..n).map(|i| (i * 31 % 251) as u8).collect();
    let mut c = srv.client();
    let mut req = format!("*3\r\n$3\r\nSET\r\n$3\r\nbig\r\n${n}\r\n").into_bytes();
    req.extend_from_slice(&value);
    req.extend_from_slice(b"\r\n");
    // Deterministic pseudo-random chunk sizes between 1 byte and 256 KiB.
    let mut seed: u64 = 0x9e3779b97f4a7c15;
    let mut pos = 0;
    while pos < req.len() {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let len = (seed % (256 * 1024)) as usize + 1;
        let end = (pos + len).min(req.len());
        c.send(&req[pos..end]);
        pos = end;
    }
    assert_eq!(c.read_reply().expect("reply"), b"+OK\r\n");
    let got = c.cmd(&[b"GET", b"big"]);
    let header = format!("${n}\r\n");
    assert!(got.starts_with(header.as_bytes()));
    assert!(
        got[header.len()..header.len() + n] == value[..],
        "value differs"
    );
    assert_eq!(
        c.cmd(&[b"STRLEN", b"big"]),
        format!(":{n}\r\n").into_bytes()
    );
}

#[test]
fn pipelined_replies_come_in_order() {
    let srv = TestServer::start(&[]);
    let mut c = srv.client();
    let mut req = Vec::new();
    for i in 0..10_000 {
        req.extend(encode(&[
            b"SET",
            format!("k{i}").as_bytes(),
            format!("{i}").as_bytes(),
        ]));
        req.extend(encode(&[b"GET", format!("k{i}").as_bytes()]));
    }
    c.send(&req);
    for i in 0..10_000 {
        assert_eq!(c.read_reply().expect("reply"), b"+OK\r\n");
        let v = format!("{i}");
        assert_eq!(
            c.read_reply().expect("reply"),
            format!("${}\r\n{v}\r\n", v.len()).into_bytes()
        );
    }
}

#[test]
fn query_buffer_limit_closes_without_reply() {
    let srv = TestServer::start(&[
        ("client-query-buffer-limit", "1mb"),
        ("proto-max-bulk-len", "8mb"),
    ]);
    let mut keep = srv.client();
    assert_eq!(keep.cmd(&[b"SET", b"keep", b"v"]), b"+OK\r\n");
    let mut c = srv.client();
    c.send(b"*3\r\n$3\r\nSET\r\n$1\r\nx\r\n$4194304\r\n");
    let _ = c.sock.write_all(&vec![b'x'; 1 << 20]);
    assert!(c.closed());
    assert!(c.pending().is_empty(), "Redis sends no reply here");
    assert_eq!(keep.cmd(&[b"GET", b"keep"]), b"$1\r\nv\r\n");
}

#[test]
fn maxclients_refuses_with_redis_error() {
    let srv = TestServer::start(&[("maxclients", "2")]);
    let mut a = srv.client();
    let mut b = srv.client();
    assert_eq!(a.cmd(&[b"PING"]), b"+PONG\r\n");
    assert_eq!(b.cmd(&[b"PING"]), b"+PONG\r\n");
    let mut c = srv.client();
    assert_eq!(
        c.read_reply().expect("error"),
        b"-ERR max number of clients reached\r\n"
    );
    assert!(c.closed());
    drop(a);
    std::thread::sleep(Duration::from_millis(200));
    let mut d = srv.client();
    assert_eq!(d.cmd(&[b"PING"]), b"+PONG\r\n");
}

/// Polls `f` until it holds; the last value it saw when the deadline passes.
fn wait_for<T: std::fmt::Debug>(secs: u64, mut f: impl FnMut() -> (bool, T)) -> Result<T, T> {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        let (ok, v) = f();
        if ok {
            return Ok(v);
        }
        if Instant::now() > deadline {
            return Err(v);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_client_that_vanishes_mid_value_gives_its_buffer_back() {
    const CLIENTS: u64 = 3;
    const DECLARED: u64 = 100_000_000;
    const SENT: u64 = 48 << 20;
    let srv = ChildServer::start();
    let mut keep = srv.client();
    assert_eq!(keep.cmd(&[b"SET", b"keep", b"v"]), b"+OK\r\n");
    let mem = |c: &mut Client| {
        (
            info_field(c, "memory", "used_memory"),
            info_field(c, "memory", "used_memory_rss"),
        )
    };
    let (used0, rss0) = mem(&mut keep);
    let mut half = Vec::new();
    for _ in 0..CLIENTS {
        let mut c = srv.client();
        c.send(format!("*3\r\n$3\r\nSET\r\n$4\r\nhalf\r\n${DECLARED}\r\n").as_bytes());
        c.send(&vec![b'y'; SENT as usize]);
        half.push(c);
    }
    // During: the measures see the buffers (each of the declared size, SENT bytes of it written),
    // so the check below could fail.
    let during = wait_for(30, || {
        let (u, r) = mem(&mut keep);
        let ok = u >= used0 + CLIENTS * DECLARED && r >= rss0 + CLIENTS * SENT * 9 / 10;
        (ok, (u, r))
    });
    assert!(
        during.is_ok(),
        "the half-sent values never showed: before {used0} / {rss0} bytes (used / rss), during {during:?}"
    );
    drop(half);
    // After the clients vanish the memory comes back, give or take a few MiB of other buffers.
    let after = wait_for(30, || {
        let (u, r) = mem(&mut keep);
        (u <= used0 + (8 << 20) && r <= rss0 + (24 << 20), (u, r))
    });
    assert!(
        after.is_ok(),
        "memory not given back: before {used0} / {rss0}, during {during:?}, after {after:?}"
    );
    eprintln!("used / rss: before {used0} / {rss0}, during {during:?}, after {after:?}");
    assert_eq!(keep.cmd(&[b"EXISTS", b"half"]), b":0\r\n");
    assert_eq!(keep.cmd(&[b"GET", b"keep"]), b"$1\r\nv\r\n");
}

#[test]
fn resp3_replies() {
    let srv = TestServer::start(&[]);
    let mut c = srv.client();
    let hello = c.cmd(&[b"HELLO", b"3"]);
    assert!(
        hello.starts_with(b"%7\r\n"),
        "{}",
        String::from_utf8_lossy(&hello)
    );
    assert_eq!(c.cmd(&[b"GET", b"nope"]), b"_\r\n");
    assert!(c.cmd(&[b"CONFIG", b"GET", b"port"]).starts_with(b"%1\r\n"));
}

#[test]
fn idle_clients_are_closed_after_timeout() {
    let srv = TestServer::start(&[("timeout", "1")]);
    let mut c = srv.client();
    assert_eq!(c.cmd(&[b"PING"]), b"+PONG\r\n");
    let t = std::time::Instant::now();
    assert!(c.closed());
    assert!(t.elapsed() >= Duration::from_millis(900));
}
