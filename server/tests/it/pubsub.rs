//! Pub/sub through the `redis` crate against an in-process server: channel and pattern messages,
//! a large message to several subscribers, and a keyspace notification.

use crate::common::TestServer;
use std::time::Duration;

/// Starts respd on 127.0.0.1:0 (stopped when the returned server drops).
fn start() -> TestServer {
    TestServer::start(&[])
}

fn client(addr: std::net::SocketAddr) -> redis::Connection {
    let c = redis::Client::open(format!("redis://{addr}/")).expect("client");
    let con = c.get_connection().expect("connect");
    con.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    con
}

#[test]
fn messages_reach_channel_and_pattern_subscribers() {
    let srv = start();
    let addr = srv.addr;
    let mut sub_con = client(addr);
    let mut publisher = client(addr);
    let mut sub = sub_con.as_pubsub();
    sub.subscribe("daq.run").expect("subscribe");
    sub.psubscribe("daq.*").expect("psubscribe");
    let n: i64 = redis::cmd("PUBLISH")
        .arg("daq.run")
        .arg("hello")
        .query(&mut publisher)
        .expect("publish");
    assert_eq!(n, 2);
    let m = sub.get_message().expect("message");
    assert_eq!(m.get_channel_name(), "daq.run");
    assert!(!m.from_pattern());
    assert_eq!(m.get_payload::<String>().expect("payload"), "hello");
    let m = sub.get_message().expect("pmessage");
    assert!(m.from_pattern());
    assert_eq!(m.get_pattern::<String>().expect("pattern"), "daq.*");
    assert_eq!(m.get_payload::<String>().expect("payload"), "hello");
}

#[test]
fn large_message_arrives_intact_to_each_subscriber() {
    let srv = start();
    let addr = srv.addr;
    let mut cons: Vec<redis::Connection> = (0..3).map(|_| client(addr)).collect();
    // A PubSub unsubscribes when dropped: keep one per connection for the whole test.
    let mut subs: Vec<redis::PubSub> = cons.iter_mut().map(|c| c.as_pubsub()).collect();
    for s in subs.iter_mut() {
        s.subscribe("hist").expect("subscribe");
    }
    let payload: Vec<u8> = (0..16u32 << 20).map(|i| (i % 251) as u8).collect();
    let mut publisher = client(addr);
    let n: i64 = redis::cmd("PUBLISH")
        .arg("hist")
        .arg(&payload)
        .query(&mut publisher)
        .expect("publish");
    assert_eq!(n, 3);
    for s in subs.iter_mut() {
        let m = s.get_message().expect("message");
        assert!(m.get_payload_bytes() == payload.as_slice());
    }
}

#[test]
fn keyspace_notification_for_set() {
    let srv = start();
    let addr = srv.addr;
    let mut admin = client(addr);
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("notify-keyspace-events")
        .arg("KEA")
        .query(&mut admin)
        .expect("config set");
    let mut sub_con = client(addr);
    let mut sub = sub_con.as_pubsub();
    sub.subscribe("__keyevent@0__:set").expect("subscribe");
    let _: () = redis::cmd("SET")
        .arg("run:42")
        .arg("1")
        .query(&mut admin)
        .expect("set");
    let m = sub.get_message().expect("notification");
    assert_eq!(m.get_channel_name(), "__keyevent@0__:set");
    assert_eq!(m.get_payload::<String>().expect("payload"), "run:42");
}
