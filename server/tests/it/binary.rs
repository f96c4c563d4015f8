//! The `respd` binary: flags, config file errors, version, signals.

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_respd");

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

#[test]
fn version_prints_version_and_tag() {
    let out = Command::new(BIN).arg("--version").output().expect("run");
    assert!(out.status.success());
    let s = String::from_utf8_lossy(&out.stdout);
    assert!(s.starts_with("respd "), "{s}");
    assert!(s.contains("tag"), "{s}");
}

#[test]
fn bad_config_names_the_key_and_exits_2() {
    let dir = std::env::temp_dir().join(format!("respd-cfg-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let f = dir.join("bad.yaml");
    std::fs::write(&f, "port: 6380\nmaxclients: lots\n").expect("write");
    let out = Command::new(BIN)
        .arg("--config")
        .arg(&f)
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("'maxclients'"), "{err}");
    std::fs::write(&f, "no-such-key: 1\n").expect("write");
    let out = Command::new(BIN)
        .arg("--config")
        .arg(&f)
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("'no-such-key'"));
    let out = Command::new(BIN)
        .args(["--port", "99999"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("'port'"));
    let out = Command::new(BIN)
        .arg("--config")
        .arg(dir.join("missing.yaml"))
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    std::fs::remove_dir_all(&dir).ok();
}

fn wait_for_port(port: u16) -> std::net::TcpStream {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Ok(s) = std::net::TcpStream::connect(("127.0.0.1", port)) {
            return s;
        }
        assert!(Instant::now() < deadline, "respd did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn flags_override_the_file_and_sigterm_exits_0() {
    use std::io::Write;
    let dir = std::env::temp_dir().join(format!("respd-cfg2-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let f = dir.join("c.yaml");
    std::fs::write(&f, "port: 1\nmaxclients: 7\nrequirepass: fromfile\n").expect("write");
    let port = free_port();
    let mut child = Command::new(BIN)
        .arg("--config")
        .arg(&f)
        .args(["--port", &port.to_string(), "--requirepass", "fromflag"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut s = wait_for_port(port);
    s.write_all(b"AUTH fromflag\r\nCONFIG GET maxclients\r\n")
        .expect("write");
    s.set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    let mut got = Vec::new();
    let mut buf = [0u8; 256];
    while !got.ends_with(b"$1\r\n7\r\n") {
        let n = s.read(&mut buf).expect("read");
        assert!(n > 0, "closed early: {}", String::from_utf8_lossy(&got));
        got.extend_from_slice(&buf[..n]);
    }
    assert!(got.starts_with(b"+OK\r\n"));
    // SAFETY-free signal delivery through the kill command keeps the test dependency-free.
    let st = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(st.success());
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(st) = child.try_wait().expect("wait") {
            break st;
        }
        assert!(Instant::now() < deadline, "respd did not stop on SIGTERM");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(status.code(), Some(0));
    std::fs::remove_dir_all(&dir).ok();
}
