//! `rediss://` for real (feature `tls`): respd in this process on a TLS port, with a CA and a
//! server certificate made by openssl at run time; the client trusts the CA via SSL_CERT_FILE.

use respd_client::{AsyncClient, Client};
use std::path::Path;
use std::process::Command;
use std::sync::Mutex;
use std::time::Duration;

/// The step the test is at, for the watchdog's message.
static STEP: Mutex<&str> = Mutex::new("start");

fn step(s: &'static str) {
    eprintln!("tls test: {s}");
    if let Ok(mut g) = STEP.lock() {
        *g = s;
    }
}

/// Ends the process, naming the step, if the test has not finished in `limit`: a TLS read that
/// never returns must fail this test, not hold CI until its limit (it did once, not reproduced).
fn watchdog(limit: Duration) {
    std::thread::spawn(move || {
        std::thread::sleep(limit);
        let at = STEP.lock().map(|g| *g).unwrap_or("?");
        eprintln!("tls test: no end after {limit:?}, stuck at: {at}");
        std::process::exit(3);
    });
}

fn openssl(dir: &Path, args: &[&str]) {
    let st = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl (ci/test installs it)");
    assert!(
        st.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&st.stderr)
    );
}

/// A CA and a server certificate for 127.0.0.1 signed by it, in `dir`.
fn make_certs(dir: &Path) {
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
    ];
    let mut ca = vec!["req", "-x509"];
    ca.extend(ec);
    ca.extend([
        "-keyout", "ca.key", "-out", "ca.crt", "-subj", "/CN=ca", "-days", "2",
    ]);
    openssl(dir, &ca);
    let mut csr = vec!["req"];
    csr.extend(ec);
    csr.extend([
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
        "-subj",
        "/CN=respd",
    ]);
    openssl(dir, &csr);
    std::fs::write(dir.join("server.ext"), "subjectAltName=IP:127.0.0.1\n").expect("ext");
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "server.crt",
            "-days",
            "2",
            "-extfile",
            "server.ext",
        ],
    );
}

/// respd serving TLS only, on a port of its own; stops when the sender is dropped.
fn respd_tls(
    dir: &Path,
) -> (
    u16,
    tokio::sync::oneshot::Sender<()>,
    std::thread::JoinHandle<()>,
) {
    let mut config = respd::Config::default();
    config.set("save", "").expect("save");
    config.set("tls-port", "1").expect("tls-port"); // TLS in use; the listener is ours below.
    config.set("tls-auth-clients", "no").expect("auth");
    let path = |f: &str| dir.join(f).display().to_string();
    config
        .set("tls-cert-file", &path("server.crt"))
        .expect("cert");
    config
        .set("tls-key-file", &path("server.key"))
        .expect("key");
    let shared = respd::Shared::new(config);
    shared
        .tls
        .configure(shared.config())
        .expect("TLS configured");
    let (tx, rx) = std::sync::mpsc::channel();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let thread = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async move {
            let tcp = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind");
            tx.send(tcp.local_addr().expect("addr").port())
                .expect("send port");
            let l = respd::server::Listener { tcp, tls: true };
            respd::server::run_listeners(vec![l], shared, async move {
                let _ = stop_rx.await;
            })
            .await;
        });
    });
    let port = rx.recv_timeout(Duration::from_secs(20)).expect("started");
    (port, stop_tx, thread)
}

#[test]
fn rediss_urls_reach_a_tls_port() {
    watchdog(Duration::from_secs(120));
    step("certificates");
    let dir = std::env::temp_dir().join(format!("respd-client-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("tmp dir");
    make_certs(&dir);
    // Read by rustls-native-certs when the client builds its trust store; no other test in
    // this binary uses TLS.
    std::env::set_var("SSL_CERT_FILE", dir.join("ca.crt"));
    step("server start");
    let (port, stop, thread) = respd_tls(&dir);

    let url = format!("rediss://127.0.0.1:{port}");
    step("rediss connect");
    let mut c = Client::connect(&url).expect("rediss:// connects");
    let value: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
    step("put 3 MB");
    c.put(b"k", &value).expect("put");
    step("get 3 MB");
    assert_eq!(c.get(b"k").expect("get"), value);
    step("plain client on the TLS port");
    // A plain redis:// client on the TLS port gets no answer it could take for a reply.
    assert!(Client::connect(&format!("redis://127.0.0.1:{port}"))
        .and_then(|mut p| p.get(b"k"))
        .is_err());

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    step("async rediss");
    rt.block_on(async {
        let mut a = AsyncClient::connect(&url).await.expect("async rediss://");
        assert_eq!(a.get(b"k").await.expect("async get"), value);
    });

    step("server stop");
    drop(stop);
    thread.join().expect("server thread");
    let _ = std::fs::remove_dir_all(&dir);
}
