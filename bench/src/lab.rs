//! The lab: servers started on free ports, and "remote" links made of two network namespaces
//! joined by a veth pair shaped with `tc htb`. Everything made here is removed again, also on
//! Ctrl-C (a signal handler removes what the guards would have).

use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Namespaces and server processes to remove if the run is interrupted.
static LIVE: Mutex<(Vec<String>, Vec<u32>)> = Mutex::new((Vec::new(), Vec::new()));

const NS_PREFIX: &str = "respd-bench-";

/// Removes every namespace and server this process made; for the Ctrl-C handler.
pub fn cleanup_all() {
    let (nss, pids) = match LIVE.lock() {
        Ok(mut l) => (std::mem::take(&mut l.0), std::mem::take(&mut l.1)),
        Err(_) => return,
    };
    for pid in pids {
        let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
    }
    for ns in nss {
        remove_ns(&ns);
    }
}

/// Installs the Ctrl-C / SIGTERM handler that cleans up before exiting.
pub fn install_signal_handler() {
    let _ = ctrlc::set_handler(|| {
        eprintln!("\ninterrupted: removing servers and namespaces");
        cleanup_all();
        std::process::exit(130);
    });
}

fn sh(cmd: &str, args: &[&str]) -> Result<()> {
    let out = Command::new(cmd)
        .args(args)
        .output()
        .with_context(|| format!("running {cmd}"))?;
    if !out.status.success() {
        bail!(
            "{cmd} {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

/// Runs `f` on a thread inside network namespace `ns` (threads it spawns stay there too).
pub fn in_netns<T: Send + 'static>(
    ns: Option<&str>,
    f: impl FnOnce() -> Result<T> + Send + 'static,
) -> Result<T> {
    let Some(ns) = ns else { return f() };
    let path = format!("/var/run/netns/{ns}");
    std::thread::spawn(move || {
        let file = std::fs::File::open(&path).with_context(|| format!("opening {path}"))?;
        use std::os::fd::AsRawFd;
        // SAFETY: setns on a valid namespace fd only changes this thread's network namespace.
        let rc = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
        if rc != 0 {
            bail!("setns {path}: {}", std::io::Error::last_os_error());
        }
        f()
    })
    .join()
    .map_err(|_| anyhow::anyhow!("thread in namespace panicked"))?
}

/// Whether remote links can be made here; the reason when not.
pub fn remote_unavailable() -> Option<String> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Some("remote links need root (network namespaces and tc): skipped".into());
    }
    for tool in ["ip", "tc"] {
        if Command::new(tool).arg("-V").output().is_err() {
            return Some(format!("remote links need `{tool}` (iproute2): skipped"));
        }
    }
    None
}

fn remove_ns(ns: &str) {
    // Kill what still runs inside (only our own servers), then the namespace and its veth end.
    if let Ok(out) = Command::new("ip").args(["netns", "pids", ns]).output() {
        for pid in String::from_utf8_lossy(&out.stdout).split_whitespace() {
            let _ = Command::new("kill").args(["-9", pid]).status();
        }
    }
    let _ = Command::new("ip").args(["netns", "del", ns]).status();
}

/// Removes namespaces left by an earlier run of this tool that was killed outright.
pub fn remove_stale() {
    let Ok(out) = Command::new("ip").args(["netns", "list"]).output() else {
        return;
    };
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let name = line.split_whitespace().next().unwrap_or("");
        let Some(pid) = name
            .strip_prefix(NS_PREFIX)
            .and_then(|r| r.split('-').next())
        else {
            continue;
        };
        if !Path::new(&format!("/proc/{pid}")).exists() {
            remove_ns(name);
        }
    }
}

/// Where a link's two ends are: the server's and the client's namespace (none for loopback).
#[derive(Debug, Clone)]
pub struct Link {
    /// `local`, `1gbit`, `10gbit`.
    pub name: String,
    pub server_ns: Option<String>,
    pub client_ns: Option<String>,
    pub server_ip: String,
}

/// A shaped veth link between two fresh namespaces; removed on drop.
pub struct Lab {
    pub link: Link,
    nss: Vec<String>,
}

impl Lab {
    /// Loopback: no namespaces.
    pub fn local() -> Lab {
        Lab {
            link: Link {
                name: "local".into(),
                server_ns: None,
                client_ns: None,
                server_ip: "127.0.0.1".into(),
            },
            nss: Vec::new(),
        }
    }

    /// Two namespaces joined by a veth pair shaped to `mbit` Mbit/s each way.
    pub fn shaped(mbit: u64, idx: u8) -> Result<Lab> {
        let pid = std::process::id();
        let s = format!("{NS_PREFIX}{pid}-{idx}s");
        let c = format!("{NS_PREFIX}{pid}-{idx}c");
        let name = if mbit % 1000 == 0 {
            format!("{}gbit", mbit / 1000)
        } else {
            format!("{mbit}mbit")
        };
        let mut lab = Lab {
            link: Link {
                name,
                server_ns: Some(s.clone()),
                client_ns: Some(c.clone()),
                server_ip: format!("10.213.{idx}.1"),
            },
            nss: Vec::new(),
        };
        for ns in [&s, &c] {
            sh("ip", &["netns", "add", ns])?;
            lab.nss.push(ns.clone());
            if let Ok(mut l) = LIVE.lock() {
                l.0.push(ns.clone());
            }
        }
        sh(
            "ip",
            &[
                "link", "add", "rbv-s", "netns", &s, "type", "veth", "peer", "name", "rbv-c",
                "netns", &c,
            ],
        )?;
        let rate = format!("{mbit}mbit");
        // About a millisecond at the rate: htb's computed default (one MTU-ish) holds a
        // 10 Gbit class well under its rate when GSO hands it 64 KiB packets.
        let burst = format!("{}k", (mbit / 8).max(64));
        for (ns, dev, ip) in [(&s, "rbv-s", 1), (&c, "rbv-c", 2)] {
            sh(
                "ip",
                &[
                    "-n",
                    ns,
                    "addr",
                    "add",
                    &format!("10.213.{idx}.{ip}/24"),
                    "dev",
                    dev,
                ],
            )?;
            sh("ip", &["-n", ns, "link", "set", dev, "up"])?;
            sh("ip", &["-n", ns, "link", "set", "lo", "up"])?;
            sh(
                "tc",
                &[
                    "-n", ns, "qdisc", "add", "dev", dev, "root", "handle", "1:", "htb", "default",
                    "10",
                ],
            )?;
            sh(
                "tc",
                &[
                    "-n", ns, "class", "add", "dev", dev, "parent", "1:", "classid", "1:10", "htb",
                    "rate", &rate, "ceil", &rate, "burst", &burst, "cburst", &burst,
                ],
            )?;
        }
        Ok(lab)
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        for ns in &self.nss {
            remove_ns(ns);
        }
        if let Ok(mut l) = LIVE.lock() {
            l.0.retain(|n| !self.nss.contains(n));
        }
    }
}

/// A server this tool started; killed on drop.
pub struct Server {
    /// `respd` or `redis`.
    pub target: String,
    pub addr: String,
    pub version: String,
    child: Child,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Ok(mut l) = LIVE.lock() {
            l.1.retain(|p| *p != self.child.id());
        }
    }
}

/// A TCP port nobody listens on now (in the root namespace; any port is free in a new one).
pub fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// The respd binary of this workspace: beside this binary, or built with cargo when missing.
pub fn respd_binary(explicit: Option<&Path>) -> Result<PathBuf> {
    if let Some(p) = explicit {
        return Ok(p.to_owned());
    }
    if let Some(p) = std::env::current_exe()
        .ok()
        .and_then(|e| Some(e.parent()?.join("respd")))
        .filter(|p| p.exists())
    {
        return Ok(p);
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let built = root.join("target/release/respd");
    if !built.exists() {
        eprintln!("building respd (cargo build --release -p respd)");
        let ok = Command::new("cargo")
            .args(["build", "--release", "-p", "respd"])
            .current_dir(&root)
            .status()
            .context("running cargo")?
            .success();
        if !ok || !built.exists() {
            bail!("could not build respd");
        }
    }
    Ok(built)
}

/// Starts `target` (`respd` at `bin`, or `redis` from `bin`) on `link`'s server side.
pub fn start(target: &str, bin: &Path, link: &Link, port: u16) -> Result<Server> {
    let port_s = port.to_string();
    let mut args: Vec<&str> = vec!["--port", &port_s, "--bind", &link.server_ip];
    args.extend(["--save", "", "--appendonly", "no", "--protected-mode", "no"]);
    let mut cmd = match &link.server_ns {
        Some(ns) => {
            let mut c = Command::new("ip");
            c.args(["netns", "exec", ns]).arg(bin);
            c
        }
        None => Command::new(bin),
    };
    let log = std::env::temp_dir().join(format!("respd-bench-{}-{target}.log", std::process::id()));
    let logf = std::fs::File::create(&log)?;
    let child = cmd
        .args(&args)
        .stdin(Stdio::null())
        .stdout(logf.try_clone()?)
        .stderr(logf)
        .spawn()
        .with_context(|| format!("starting {}", bin.display()))?;
    if let Ok(mut l) = LIVE.lock() {
        l.1.push(child.id());
    }
    let mut server = Server {
        target: target.into(),
        addr: format!("{}:{port}", link.server_ip),
        version: String::new(),
        child,
    };
    let addr = server.addr.clone();
    let info = in_netns(link.client_ns.as_deref(), move || {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            match crate::conn::Conn::connect(&addr, 0)
                .and_then(|mut c| c.call_text(&[b"INFO", b"server"]))
            {
                Ok(info) => return Ok(info),
                Err(e) if Instant::now() > deadline => return Err(e),
                Err(_) => std::thread::sleep(Duration::from_millis(50)),
            }
        }
    });
    let info = match info {
        Ok(i) => i,
        Err(e) => {
            let log = std::fs::read_to_string(&log).unwrap_or_default();
            bail!("{target} did not come up: {e:#}\n{log}");
        }
    };
    let v = |f| crate::conn::info_field(&info, f).unwrap_or_else(|| "?".into());
    server.version = if target == "respd" {
        let out = Command::new(bin).arg("--version").output();
        out.map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
            .unwrap_or_else(|_| "respd ?".into())
    } else {
        format!("redis-server {}", v("redis_version"))
    };
    Ok(server)
}

/// The bulk TCP throughput of `link` in MB/s (10^6), with how it was measured: iperf3 when it is
/// installed, otherwise one stream of 4 MiB writes for `secs`.
pub fn link_limit(link: &Link, secs: f64) -> Result<(f64, String)> {
    if Command::new("iperf3").arg("-v").output().is_ok() {
        return iperf3(link, secs).map(|v| (v, "iperf3, one stream".into()));
    }
    bulk_transfer(link, secs).map(|v| (v, "one TCP stream of 4 MiB writes".into()))
}

fn netns_cmd(ns: &Option<String>, prog: &str) -> Command {
    match ns {
        Some(ns) => {
            let mut c = Command::new("ip");
            c.args(["netns", "exec", ns, prog]);
            c
        }
        None => Command::new(prog),
    }
}

fn iperf3(link: &Link, secs: f64) -> Result<f64> {
    let port = free_port()?.to_string();
    let mut server = netns_cmd(&link.server_ns, "iperf3")
        .args(["-s", "-1", "-B", &link.server_ip, "-p", &port])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .context("starting iperf3 -s")?;
    let result = (|| {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let out = netns_cmd(&link.client_ns, "iperf3")
                .args(["-c", &link.server_ip, "-p", &port, "-J"])
                .args(["-t", &format!("{secs}")])
                .output()?;
            let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
            if let Some(bps) = v["end"]["sum_received"]["bits_per_second"].as_f64() {
                return Ok(bps / 8.0 / 1e6);
            }
            if Instant::now() > deadline {
                bail!("iperf3 failed: {}", v["error"]);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    })();
    let _ = server.kill();
    let _ = server.wait();
    result
}

fn bulk_transfer(link: &Link, secs: f64) -> Result<f64> {
    use std::io::{Read, Write};
    let ip = link.server_ip.clone();
    let listener = in_netns(link.server_ns.as_deref(), move || {
        Ok(std::net::TcpListener::bind((ip.as_str(), 0))?)
    })?;
    let addr = listener.local_addr()?;
    let receiver = std::thread::spawn(move || -> Result<f64> {
        let (mut s, _) = listener.accept()?;
        let mut buf = vec![0u8; 4 << 20];
        let mut total = 0u64;
        let t0 = Instant::now();
        loop {
            let n = s.read(&mut buf)?;
            if n == 0 {
                break;
            }
            total += n as u64;
        }
        Ok(total as f64 / t0.elapsed().as_secs_f64() / 1e6)
    });
    in_netns(link.client_ns.as_deref(), move || {
        let mut s = std::net::TcpStream::connect(addr)?;
        let buf = vec![7u8; 4 << 20];
        let end = Instant::now() + Duration::from_secs_f64(secs);
        while Instant::now() < end {
            s.write_all(&buf)?;
        }
        Ok(())
    })?;
    receiver
        .join()
        .map_err(|_| anyhow::anyhow!("receiver panicked"))?
}
