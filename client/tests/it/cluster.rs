//! The cluster client against three redis-server nodes in cluster mode. Without redis-server it
//! fails, unless RESPD_ALLOW_NO_REDIS=1 outside CI (see `servers::redis_optional`).

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use respd_client::{Client, Error, NpyArray, Target};

use super::servers::{free_port, redis_missing};

struct Nodes(Vec<Child>, std::path::PathBuf);

impl Drop for Nodes {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
        let _ = std::fs::remove_dir_all(&self.1);
    }
}

/// Three nodes joined into a cluster. `None` only when redis-server is missing and that is
/// allowed; any other failure to set it up fails the test.
fn start_cluster() -> Option<(Nodes, Vec<u16>)> {
    let dir = std::env::temp_dir().join(format!("respd-client-cluster-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("cluster directory");
    let ports: Vec<u16> = (0..3).map(|_| free_port()).collect();
    let mut nodes = Nodes(Vec::new(), dir.clone());
    let bin = std::env::var("REDIS_SERVER").unwrap_or_else(|_| "redis-server".into());
    for p in &ports {
        let child = Command::new(&bin)
            .args([
                "--port",
                &p.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .args([
                "--cluster-enabled",
                "yes",
                "--cluster-config-file",
                &format!("nodes-{p}.conf"),
            ])
            .current_dir(&dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
        match child {
            Ok(c) => nodes.0.push(c),
            Err(e) => return redis_missing(&format!("cannot start {bin} ({e})")),
        }
    }
    let addrs: Vec<String> = ports.iter().map(|p| format!("127.0.0.1:{p}")).collect();
    let deadline = Instant::now() + Duration::from_secs(20);
    for a in &addrs {
        while std::net::TcpStream::connect(a).is_err() {
            assert!(Instant::now() < deadline, "cluster node {a} did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    let st = Command::new("redis-cli")
        .args(["--cluster", "create"])
        .args(&addrs)
        .args(["--cluster-replicas", "0", "--cluster-yes"])
        .stdin(Stdio::null())
        .output();
    match st {
        Ok(o) => assert!(
            o.status.success(),
            "redis-cli --cluster create failed ({}): {}{}",
            o.status,
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        ),
        Err(e) => return redis_missing(&format!("cannot run redis-cli ({e})")),
    }
    // Wait until every node agrees the cluster is up.
    for p in &ports {
        let mut c = redis::Client::open(format!("redis://127.0.0.1:{p}"))
            .expect("node URL")
            .get_connection()
            .expect("connect to cluster node");
        loop {
            let info: String = redis::cmd("CLUSTER")
                .arg("INFO")
                .query(&mut c)
                .expect("CLUSTER INFO");
            if info.contains("cluster_state:ok") {
                break;
            }
            assert!(Instant::now() < deadline, "cluster did not come up");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    Some((nodes, ports))
}

#[test]
fn cluster_put_get_chunked_and_arrays() {
    let Some((_nodes, ports)) = start_cluster() else {
        return;
    };
    let url = ports
        .iter()
        .map(|p| format!("redis://127.0.0.1:{p}"))
        .collect::<Vec<_>>()
        .join(",");
    let mut t = Target::from_url(&url).unwrap();
    assert!(t.is_cluster());
    t.chunk_size = Some(1000);
    let mut c = Client::open(t).unwrap();
    let v: Vec<u8> = (0..20_000u32).map(|i| (i % 253) as u8).collect();
    for k in 0..20 {
        let key = format!("exp:run{k}:big");
        c.put(key.as_bytes(), &v).unwrap();
        assert_eq!(c.get(key.as_bytes()).unwrap(), v);
    }
    let a = NpyArray::from_vec(vec![10], &[2.5f64; 10]).unwrap();
    c.put_array(b"arr", &a).unwrap();
    assert_eq!(c.get_array(b"arr").unwrap(), a);
    assert!(matches!(c.get(b"missing"), Err(Error::NotFound(_))));
    assert!(matches!(c.list(b"exp:"), Err(Error::Unsupported(_))));
    assert!(c.delete(b"exp:run0:big").unwrap());
}
