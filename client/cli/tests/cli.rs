//! respd-cli: output, byte-exact files, and exit codes for each error.

use std::process::{Command, Output, Stdio};

// The same in-process respd and spawned redis-server as the library's own tests.
#[path = "../../tests/it/servers.rs"]
#[allow(dead_code)]
mod servers;

use servers::{free_port, redis_server, respd};

fn cli(url: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_respd-cli"))
        .arg("--url")
        .arg(url)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run respd-cli")
}

#[test]
fn ping_put_get_info_ls_rm() {
    let s = respd();
    let dir = std::env::temp_dir().join(format!("respd-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let out = cli(&s.url, &["ping"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "PONG\n");
    let src = dir.join("in.bin");
    let data: Vec<u8> = (0..100_000u32).map(|i| (i * 31 % 256) as u8).collect();
    std::fs::write(&src, &data).unwrap();
    let dst = dir.join("out.bin");
    for chunk in ["1000000", "7777"] {
        assert!(cli(
            &s.url,
            &[
                "--chunk-size",
                chunk,
                "put",
                "d:file",
                src.to_str().unwrap()
            ]
        )
        .status
        .success());
        assert!(cli(&s.url, &["get", "d:file", dst.to_str().unwrap()])
            .status
            .success());
        assert_eq!(std::fs::read(&dst).unwrap(), data);
    }
    let info = cli(&s.url, &["info", "d:file"]);
    assert_eq!(
        String::from_utf8_lossy(&info.stdout),
        "chunked value: 100000 bytes in 13 parts\n"
    );
    let a = respd_client::NpyArray::from_vec(vec![4, 3], &[0.5f64; 12]).unwrap();
    std::fs::write(dir.join("a.npy"), a.to_npy()).unwrap();
    assert!(cli(
        &s.url,
        &["put", "d:arr", dir.join("a.npy").to_str().unwrap()]
    )
    .status
    .success());
    let info = cli(&s.url, &["info", "d:arr"]);
    assert!(String::from_utf8_lossy(&info.stdout).starts_with("float64 (4, 3) ("));
    let ls = cli(&s.url, &["ls", "d:"]);
    assert_eq!(String::from_utf8_lossy(&ls.stdout), "d:arr\nd:file\n");
    // rm without --yes and without a terminal refuses.
    let rm = cli(&s.url, &["rm", "d:"]);
    assert_eq!(rm.status.code(), Some(1));
    assert!(cli(&s.url, &["rm", "--yes", "d:"]).status.success());
    assert_eq!(cli(&s.url, &["ls", ""]).stdout, b"");
    let _ = std::fs::remove_dir_all(&dir);
}

/// respd-cli without `--url`, with `env` set and RESPD_URL/REDISCLI_AUTH/RESPD_CONFIG cleared.
fn cli_env(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_respd-cli"));
    c.args(args)
        .stdin(Stdio::null())
        .env_remove("RESPD_URL")
        .env_remove("REDISCLI_AUTH")
        .env("RESPD_CONFIG", "/nonexistent/respd-cli-test.yaml");
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().expect("run respd-cli")
}

#[test]
fn redis_cli_flags_and_password() {
    let s = respd();
    let port = s.url.rsplit(':').next().unwrap().to_string();
    let mut c = redis::Client::open(s.url.as_str())
        .unwrap()
        .get_connection()
        .unwrap();
    redis::cmd("SELECT").arg(2).exec(&mut c).unwrap();
    redis::cmd("SET")
        .arg("in2")
        .arg("two")
        .exec(&mut c)
        .unwrap();
    redis::cmd("CONFIG")
        .arg("SET")
        .arg("requirepass")
        .arg("s3cr@t x")
        .exec(&mut c)
        .unwrap();
    let base = ["-h", "127.0.0.1", "-p", port.as_str()];
    // No password: the server's NOAUTH, exit 1.
    let noauth = cli_env(&[&base[..], &["ping"]].concat(), &[]);
    assert_eq!(noauth.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&noauth.stderr).contains("NOAUTH"));
    // -a, and REDISCLI_AUTH, as redis-cli.
    let a = cli_env(&[&base[..], &["-a", "s3cr@t x", "ping"]].concat(), &[]);
    assert_eq!(String::from_utf8_lossy(&a.stdout), "PONG\n", "{a:?}");
    let env = cli_env(
        &[&base[..], &["ping"]].concat(),
        &[("REDISCLI_AUTH", "s3cr@t x")],
    );
    assert_eq!(String::from_utf8_lossy(&env.stdout), "PONG\n", "{env:?}");
    // --user default with the password is the same account; -n picks the database.
    let dst = std::env::temp_dir().join(format!("respd-cli-n-{}", std::process::id()));
    let n = cli_env(
        &[
            &base[..],
            &[
                "--user",
                "default",
                "-a",
                "s3cr@t x",
                "-n",
                "2",
                "get",
                "in2",
                dst.to_str().unwrap(),
            ],
        ]
        .concat(),
        &[],
    );
    assert!(n.status.success(), "{n:?}");
    assert_eq!(std::fs::read(&dst).unwrap(), b"two");
    let _ = std::fs::remove_file(&dst);
    // The flags also work over RESPD_URL's parts.
    let url = cli_env(
        &["-a", "s3cr@t x", "ping"],
        &[("RESPD_URL", s.url.as_str())],
    );
    assert_eq!(String::from_utf8_lossy(&url.stdout), "PONG\n", "{url:?}");
}

#[test]
fn put_ttl_and_closed_pipe() {
    let s = respd();
    let dir = std::env::temp_dir().join(format!("respd-cli-ttl-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let src = dir.join("in.bin");
    std::fs::write(&src, vec![7u8; 300_000]).unwrap();
    for chunk in ["1000000", "65536"] {
        let out = cli(
            &s.url,
            &[
                "--chunk-size",
                chunk,
                "put",
                "--ttl",
                "100",
                "t",
                src.to_str().unwrap(),
            ],
        );
        assert!(out.status.success(), "{out:?}");
        let mut c = redis::Client::open(s.url.as_str())
            .unwrap()
            .get_connection()
            .unwrap();
        let ttl: i64 = redis::cmd("TTL").arg("t").query(&mut c).unwrap();
        assert!(
            (90..=100).contains(&ttl),
            "ttl {ttl} with chunks of {chunk}"
        );
        // Every chunk outlives the manifest.
        let keys: Vec<String> = redis::cmd("KEYS").arg("*").query(&mut c).unwrap();
        for k in keys {
            let t: i64 = redis::cmd("TTL").arg(&k).query(&mut c).unwrap();
            assert!(t >= ttl, "{k}: ttl {t} < the manifest's {ttl}");
        }
    }
    // `get KEY - | head -c 1`: the reader closes the pipe early; quiet exit 0.
    let sh = format!(
        "{} --url {} get t - | head -c 1 >/dev/null; echo \"${{PIPESTATUS[0]}}\"",
        env!("CARGO_BIN_EXE_respd-cli"),
        s.url
    );
    let out = Command::new("bash").arg("-c").arg(&sh).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "0", "{out:?}");
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn errors_have_messages_and_exit_codes() {
    let s = respd();
    let missing = cli(&s.url, &["get", "nope", "-"]);
    assert_eq!(missing.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("key not found: nope"));
    let port = free_port();
    let dead = cli(&format!("redis://127.0.0.1:{port}"), &["ping"]);
    assert_eq!(dead.status.code(), Some(5));
    assert!(
        String::from_utf8_lossy(&dead.stderr)
            .contains(&format!("could not connect to 127.0.0.1:{port}")),
        "{}",
        String::from_utf8_lossy(&dead.stderr)
    );
    let bad = cli("nonsense://x", &["ping"]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("bad URL"));
    let usage = cli(&s.url, &["frobnicate"]);
    assert_eq!(usage.status.code(), Some(2));
    if let Some(r) = redis_server() {
        let mut c = redis::Client::open(r.url.as_str())
            .unwrap()
            .get_connection()
            .unwrap();
        redis::cmd("RPUSH").arg("l").arg("x").exec(&mut c).unwrap();
        let wrong = cli(&r.url, &["get", "l", "-"]);
        assert_eq!(wrong.status.code(), Some(4));
        assert!(String::from_utf8_lossy(&wrong.stderr).contains("wrong type"));
    }
}

#[test]
fn publish_and_subscribe() {
    for (_, r) in servers::both() {
        publish_and_subscribe_on(&r);
    }
}

fn publish_and_subscribe_on(r: &servers::Server) {
    let sub = Command::new(env!("CARGO_BIN_EXE_respd-cli"))
        .args(["--url", &r.url, "subscribe", "news", "--count", "1"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    // Publish until the subscriber is there (bounded).
    let mut delivered = false;
    for _ in 0..100 {
        let mut p = Command::new(env!("CARGO_BIN_EXE_respd-cli"))
            .args(["--url", &r.url, "publish", "news", "-"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        use std::io::Write;
        p.stdin.take().unwrap().write_all(b"hi there").unwrap();
        let out = p.wait_with_output().unwrap();
        if String::from_utf8_lossy(&out.stdout).trim() == "1" {
            delivered = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert!(delivered);
    let out = sub.wait_with_output().unwrap();
    assert_eq!(out.stdout, b"news\thi there\n");
}
