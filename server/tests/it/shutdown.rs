//! Graceful shutdown: in-flight replies are finished, then `run` returns.

use crate::common::TestServer;

#[test]
fn run_returns_after_shutdown_and_replies_in_flight_complete() {
    let srv = TestServer::start(&[]);
    let mut c = srv.client();
    let n = 32 << 20;
    let v = vec![b'z'; n];
    assert_eq!(c.cmd(&[b"SET", b"v", &v]), b"+OK\r\n");
    // A large reply is being written when the server is told to stop.
    c.send(b"GET v\r\n");
    let stopper = std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_millis(200));
        srv.stop();
    });
    let got = c.read_reply().expect("the reply in flight is finished");
    assert_eq!(got.len(), n + format!("${n}\r\n\r\n").len());
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
