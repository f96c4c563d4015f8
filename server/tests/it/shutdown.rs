//! Graceful shutdown: in-flight replies are finished, then `run` returns.

use crate::common::TestServer;

#[test]
fn run_returns_after_shutdown_and_replies_in_flight_complete() {
    let srv = TestServer::start(&[]);
    let addr = srv.addr;
    let mut c = srv.client();
    let n = 64 << 20;
    let v = vec![b'z'; n];
    assert_eq!(c.cmd(&[b"SET", b"v", &v]), b"+OK\r\n");
    c.send(b"GET v\r\n");
    // The reply has begun; 64 MiB is far more than the sockets buffer, so the rest of it waits
    // for this reader while the server is told to stop.
    assert!(c.read_at_least(16), "the reply began");
    let stopper = std::thread::spawn(move || srv.stop());
    // Wait for the state: the stop was seen once the listener no longer accepts.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while std::net::TcpStream::connect(addr).is_ok() {
        assert!(
            std::time::Instant::now() < deadline,
            "the server never stopped accepting"
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let got = c.read_reply().expect("the reply in flight is finished");
    assert_eq!(got.len(), n + format!("${n}\r\n\r\n").len());
    assert!(got.ends_with(b"zzzz\r\n"));
    stopper.join().expect("stopped");
    assert!(c.closed(), "the connection closes once the reply is out");
}

#[test]
fn shutdown_command_stops_the_server() {
    let srv = TestServer::start(&[]);
    let mut c = srv.client();
    c.send(b"SHUTDOWN NOSAVE\r\n");
    assert!(c.closed());
    // `run` has returned: joining the server thread does not hang.
    srv.stop();
}
