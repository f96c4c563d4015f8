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
        // No save rules: the embedded defaults' would save into the checkout at SIGTERM.
        .args(["--save", ""])
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

#[test]
fn help_names_the_environment_and_exit_codes() {
    for flag in ["--help", "-h"] {
        let out = Command::new(BIN).arg(flag).output().expect("run");
        assert!(out.status.success());
        let s = String::from_utf8_lossy(&out.stdout);
        for want in ["CONFIG_FILE", "RESPD_LOG", "Exit status", "--maxmemory"] {
            assert!(s.contains(want), "{flag}: no {want} in {s}");
        }
    }
    for flag in ["-v", "-V", "--version"] {
        let out = Command::new(BIN).arg(flag).output().expect("run");
        assert!(out.status.success(), "{flag}");
        assert!(String::from_utf8_lossy(&out.stdout).starts_with("respd "));
    }
}

/// Starts respd with `args` on a free port, sends `req` and returns the reply bytes up to and
/// including `until`, and the first log line; stops it with SIGTERM.
fn run_and_ask(args: &[&str], req: &[u8], until: &[u8]) -> (Vec<u8>, String) {
    use std::io::{BufRead, Write};
    let port = free_port();
    let mut child = Command::new(BIN)
        .args(args)
        .args(["--port", &port.to_string()])
        // No save rules: the embedded defaults' would save into the checkout at SIGTERM.
        .args(["--save", ""])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let mut s = wait_for_port(port);
    s.set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    s.write_all(req).expect("write");
    let mut got = Vec::new();
    let mut buf = [0u8; 256];
    while !got.ends_with(until) {
        let n = s.read(&mut buf).expect("read");
        assert!(n > 0, "closed early: {}", String::from_utf8_lossy(&got));
        got.extend_from_slice(&buf[..n]);
    }
    let mut first = String::new();
    let mut log = std::io::BufReader::new(child.stdout.take().expect("stdout"));
    log.read_line(&mut first).expect("log line");
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    child.wait().expect("wait");
    (got, first)
}

#[test]
fn config_file_first_or_anywhere_and_multiword_values() {
    let dir = std::env::temp_dir().join(format!("respd-cfg3-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let f = dir.join("c.yaml");
    std::fs::write(&f, "maxclients: 7\n").expect("write");
    let path = f.to_str().expect("utf-8 path");
    let req = b"CONFIG GET maxclients\r\nCONFIG GET oom-score-adj-values\r\n";
    let until = b"$9\r\n0 200 800\r\n";
    // As redis-server: the file first, then parameters; or --config after a parameter.
    let setups: [&[&str]; 2] = [
        &[path, "--oom-score-adj-values", "0", "200", "800"],
        &[
            "--oom-score-adj-values",
            "0",
            "200",
            "800",
            "--config",
            path,
        ],
    ];
    for args in setups {
        let (got, first) = run_and_ask(args, req, until);
        assert!(
            got.starts_with(b"*2\r\n$10\r\nmaxclients\r\n$1\r\n7\r\n"),
            "{args:?}: {got:?}"
        );
        // The log names the file, and a log that is not a terminal has no colour codes.
        assert!(
            first.contains("configuration loaded from") && first.contains(path),
            "{first}"
        );
        assert!(!first.contains('\u{1b}'), "{first:?}");
    }
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn bad_command_lines_exit_2_naming_the_fault() {
    let cases: [(&[&str], &str); 4] = [
        (&["--port"], "missing value for '--port'"),
        (&["a.yaml", "b.yaml"], "unexpected argument 'b.yaml'"),
        (&["--config"], "missing file name after '--config'"),
        (&["--save", "900"], "'save'"),
    ];
    for (args, want) in cases {
        let out = Command::new(BIN).args(args).output().expect("run");
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(want), "{args:?}: {err}");
    }
}
