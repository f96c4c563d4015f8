//! Blocking list commands driven by the `redis` crate against an in-process server.

use crate::common::TestServer;
use std::thread;
use std::time::{Duration, Instant};

/// Starts respd on 127.0.0.1:0; returns its URL and the server (stopped on drop).
fn start() -> (String, TestServer) {
    let srv = TestServer::start(&[]);
    (format!("redis://{}/", srv.addr), srv)
}

fn conn(url: &str) -> redis::Connection {
    let c = redis::Client::open(url).expect("client");
    let con = c.get_connection().expect("connect");
    con.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    con
}

fn blocked(con: &mut redis::Connection) -> i64 {
    let info: String = redis::cmd("INFO").arg("clients").query(con).expect("info");
    info.lines()
        .find_map(|l| l.strip_prefix("blocked_clients:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(-1)
}

fn wait_blocked(con: &mut redis::Connection, n: i64) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while blocked(con) != n {
        assert!(
            Instant::now() < deadline,
            "blocked_clients never reached {n}"
        );
        thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn blpop_fifo_and_timeout_with_the_redis_crate() {
    let (url, stop) = start();
    let mut c = conn(&url);

    // Three clients block in turn; one push of three elements serves them in that order.
    let mut waiters = Vec::new();
    for i in 0..3 {
        let u = url.clone();
        waiters.push(thread::spawn(move || {
            let mut w = conn(&u);
            let r: Option<(String, String)> = redis::cmd("BLPOP")
                .arg("jobs")
                .arg(0)
                .query(&mut w)
                .expect("blpop");
            r
        }));
        wait_blocked(&mut c, i + 1);
    }
    let n: i64 = redis::cmd("RPUSH")
        .arg("jobs")
        .arg(&["1", "2", "3"])
        .query(&mut c)
        .expect("rpush");
    assert_eq!(n, 3);
    let got: Vec<String> = waiters
        .into_iter()
        .map(|h| h.join().expect("join").expect("served").1)
        .collect();
    assert_eq!(got, ["1", "2", "3"]);

    // A timeout answers nil within a bounded time.
    let t0 = Instant::now();
    let r: Option<(String, String)> = redis::cmd("BLPOP")
        .arg("empty")
        .arg(0.2)
        .query(&mut c)
        .expect("blpop");
    assert!(r.is_none());
    let took = t0.elapsed();
    assert!(took >= Duration::from_millis(180) && took < Duration::from_secs(3));

    // BLMOVE wakes on a push and moves the element.
    let u = url.clone();
    let h = thread::spawn(move || {
        let mut w = conn(&u);
        let r: Option<String> = redis::cmd("BLMOVE")
            .arg(&["src", "dst", "LEFT", "RIGHT", "5"])
            .query(&mut w)
            .expect("blmove");
        r
    });
    wait_blocked(&mut c, 1);
    let _: i64 = redis::cmd("LPUSH")
        .arg(&["src", "x"])
        .query(&mut c)
        .expect("lpush");
    assert_eq!(h.join().expect("join").as_deref(), Some("x"));
    let dst: Vec<String> = redis::cmd("LRANGE")
        .arg(&["dst", "0", "-1"])
        .query(&mut c)
        .expect("lrange");
    assert_eq!(dst, ["x"]);
    drop(stop);
}
