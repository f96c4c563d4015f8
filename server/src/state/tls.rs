//! The TLS ports' settings as a rustls server configuration: built from the `tls-*` parameters
//! at start and rebuilt by CONFIG SET of any of them, so new connections use the new certificate
//! (open ones keep theirs), as Redis's `tlsConfigure`.

use crate::config::{params, Config};
use rustls::crypto::CryptoProvider;
use rustls::server::{StoresServerSessions, WebPkiClientVerifier};
use rustls::{RootCertStore, ServerConfig, SupportedCipherSuite};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::CertificateDer;
use std::collections::{HashMap, VecDeque};
use std::path::Path;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};
use tokio_rustls::TlsAcceptor;

mod key;

/// The acceptor new TLS connections use; none while no `tls-port` is configured.
#[derive(Default)]
pub struct Tls {
    acceptor: RwLock<Option<TlsAcceptor>>,
}

impl Tls {
    /// The acceptor for a new connection (the configuration as of now).
    pub fn acceptor(&self) -> Option<TlsAcceptor> {
        self.acceptor
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Builds the configuration from `c` and makes it the one new connections use; on an error
    /// (the reason, naming the file or the value) the previous one stays.
    pub fn configure(&self, c: &Config) -> Result<(), String> {
        let config = server_config(c)?;
        *self.acceptor.write().unwrap_or_else(|e| e.into_inner()) =
            Some(TlsAcceptor::from(Arc::new(config)));
        Ok(())
    }
}

/// Whether the `tls-*` settings are in use (Redis configures TLS only then).
pub fn enabled(c: &Config) -> bool {
    c.get(params::TLS_PORT) != 0
}

/// The rustls configuration the `tls-*` parameters describe, with Redis's checks.
pub fn server_config(c: &Config) -> Result<ServerConfig, String> {
    let cert_file = c.get(params::TLS_CERT_FILE);
    let key_file = c.get(params::TLS_KEY_FILE);
    if cert_file.is_empty() {
        return Err("No tls-cert-file configured!".into());
    }
    if key_file.is_empty() {
        return Err("No tls-key-file configured!".into());
    }
    let auth = c.get(params::TLS_AUTH_CLIENTS);
    let ca_file = c.get(params::TLS_CA_CERT_FILE);
    let ca_dir = c.get(params::TLS_CA_CERT_DIR);
    if auth != "no" && ca_file.is_empty() && ca_dir.is_empty() {
        return Err(
            "Either tls-ca-cert-file or tls-ca-cert-dir must be specified when \
                    tls-cluster, tls-replication or tls-auth-clients are enabled!"
                .into(),
        );
    }
    let versions = protocols(&c.get(params::TLS_PROTOCOLS))?;
    let mut provider = rustls::crypto::ring::default_provider();
    provider.cipher_suites = cipher_suites(
        &provider,
        &c.get(params::TLS_CIPHERSUITES),
        &c.get(params::TLS_CIPHERS),
    )?;
    let provider = Arc::new(provider);

    let certs = CertificateDer::pem_file_iter(&*cert_file)
        .and_then(|it| it.collect::<Result<Vec<_>, _>>())
        .map_err(|e| format!("Failed to load certificate: {cert_file}: {e}"))?;
    if certs.is_empty() {
        return Err(format!(
            "Failed to load certificate: {cert_file}: no certificate in the file"
        ));
    }
    let key = key::load(&key_file, &c.get(params::TLS_KEY_FILE_PASS))?;

    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&versions)
        .map_err(|e| format!("Invalid tls-protocols, tls-ciphers or tls-ciphersuites: {e}"))?;
    let builder = if auth == "no" {
        builder.with_no_client_auth()
    } else {
        let mut roots = RootCertStore::empty();
        if !ca_file.is_empty() {
            add_ca_file(&mut roots, Path::new(&*ca_file))?;
        }
        if !ca_dir.is_empty() {
            let dir = std::fs::read_dir(&*ca_dir).map_err(|e| {
                format!("Failed to configure CA certificate(s) file/directory: {ca_dir}: {e}")
            })?;
            // OpenSSL's hashed directory holds links to PEM files: every file that parses adds
            // its certificates, others (a README, a CRL) are skipped.
            for entry in dir.flatten() {
                let _ = add_ca_file(&mut roots, &entry.path());
            }
        }
        if roots.is_empty() {
            return Err(
                "Failed to configure CA certificate(s) file/directory: no CA certificate \
                        found"
                    .into(),
            );
        }
        let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider);
        let verifier = if auth == "optional" {
            verifier.allow_unauthenticated()
        } else {
            verifier
        };
        let verifier = verifier
            .build()
            .map_err(|e| format!("Failed to configure client certificate verification: {e}"))?;
        builder.with_client_cert_verifier(verifier)
    };
    let mut config = builder
        .with_single_cert(certs, key)
        .map_err(|e| format!("Failed to load private key: {key_file}: {e}"))?;
    config.ignore_client_order = c.get(params::TLS_PREFER_SERVER_CIPHERS);
    if c.get(params::TLS_SESSION_CACHING) {
        config.session_storage = Arc::new(SessionCache::new(
            c.get(params::TLS_SESSION_CACHE_SIZE) as usize,
            Duration::from_secs(c.get(params::TLS_SESSION_CACHE_TIMEOUT) as u64),
        ));
    } else {
        config.session_storage = Arc::new(rustls::server::NoServerSessionStorage {});
        config.send_tls13_tickets = 0;
    }
    Ok(config)
}

fn add_ca_file(roots: &mut RootCertStore, path: &Path) -> Result<(), String> {
    let fail = |e: &dyn std::fmt::Display| {
        format!(
            "Failed to configure CA certificate(s) file/directory: {}: {e}",
            path.display()
        )
    };
    let certs = CertificateDer::pem_file_iter(path)
        .and_then(|it| it.collect::<Result<Vec<_>, _>>())
        .map_err(|e| fail(&e))?;
    if certs.is_empty() {
        return Err(fail(&"no certificate in the file"));
    }
    for cert in certs {
        roots.add(cert).map_err(|e| fail(&e))?;
    }
    Ok(())
}

/// `tls-protocols`: Redis's words, case-insensitive; empty is TLSv1.2 and TLSv1.3 (Redis's
/// default). TLSv1 and TLSv1.1 are refused by name: rustls does not speak them.
fn protocols(s: &str) -> Result<Vec<&'static rustls::SupportedProtocolVersion>, String> {
    if s.trim().is_empty() {
        return Ok(vec![&rustls::version::TLS13, &rustls::version::TLS12]);
    }
    let mut out = Vec::new();
    for w in s.split_whitespace() {
        let v = match w.to_ascii_lowercase().as_str() {
            "tlsv1.2" => &rustls::version::TLS12,
            "tlsv1.3" => &rustls::version::TLS13,
            "tlsv1" | "tlsv1.1" => {
                return Err(format!(
                    "tls-protocols: respd does not support {w} (only TLSv1.2 and TLSv1.3)"
                ))
            }
            _ => {
                return Err(
                    "Invalid tls-protocols specified. Use a combination of 'TLSv1', \
                            'TLSv1.1', 'TLSv1.2' and 'TLSv1.3'."
                        .into(),
                )
            }
        };
        if !out.contains(&v) {
            out.push(v);
        }
    }
    Ok(out)
}

/// OpenSSL's names of the suites rustls implements: TLS 1.3's (`tls-ciphersuites`) are the
/// IANA names, TLS 1.2's (`tls-ciphers`) OpenSSL's own.
const SUITE_NAMES: &[(&str, &str)] = &[
    ("TLS_AES_256_GCM_SHA384", "TLS13_AES_256_GCM_SHA384"),
    ("TLS_AES_128_GCM_SHA256", "TLS13_AES_128_GCM_SHA256"),
    (
        "TLS_CHACHA20_POLY1305_SHA256",
        "TLS13_CHACHA20_POLY1305_SHA256",
    ),
    (
        "ECDHE-ECDSA-AES256-GCM-SHA384",
        "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
    ),
    (
        "ECDHE-ECDSA-AES128-GCM-SHA256",
        "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
    ),
    (
        "ECDHE-ECDSA-CHACHA20-POLY1305",
        "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
    ),
    (
        "ECDHE-RSA-AES256-GCM-SHA384",
        "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
    ),
    (
        "ECDHE-RSA-AES128-GCM-SHA256",
        "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
    ),
    (
        "ECDHE-RSA-CHACHA20-POLY1305",
        "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
    ),
];

/// The provider's suites in the order `tls-ciphersuites` (TLS 1.3) and `tls-ciphers` (TLS 1.2)
/// name them, each list `:`-separated as OpenSSL's; an empty list keeps every suite of its
/// version. A name rustls lacks, or an OpenSSL keyword (`HIGH`, `!aNULL`), is refused by name.
fn cipher_suites(
    provider: &CryptoProvider,
    tls13: &str,
    tls12: &str,
) -> Result<Vec<SupportedCipherSuite>, String> {
    let all = &provider.cipher_suites;
    let pick = |list: &str, param: &str, v13: bool| -> Result<Vec<SupportedCipherSuite>, String> {
        let of_version: Vec<_> = all
            .iter()
            .filter(|s| matches!(s, SupportedCipherSuite::Tls13(_)) == v13)
            .copied()
            .collect();
        if list.trim().is_empty() {
            return Ok(of_version);
        }
        let mut out = Vec::new();
        for name in list.split([':', ',', ' ']).filter(|n| !n.is_empty()) {
            let rustls_name = SUITE_NAMES
                .iter()
                .find(|(openssl, _)| openssl.eq_ignore_ascii_case(name))
                .map(|(_, r)| *r);
            let suite = rustls_name.and_then(|r| {
                of_version
                    .iter()
                    .find(|s| format!("{:?}", s.suite()) == r)
                    .copied()
            });
            match suite {
                Some(s) if !out.contains(&s) => out.push(s),
                Some(_) => {}
                None => {
                    let known: Vec<&str> = SUITE_NAMES
                        .iter()
                        .filter(|(o, _)| o.starts_with("TLS_") == v13)
                        .map(|(o, _)| *o)
                        .collect();
                    return Err(format!(
                        "Failed to configure {param}: respd does not support '{name}' \
                         (supported: {})",
                        known.join(":")
                    ));
                }
            }
        }
        Ok(out)
    };
    let mut out = pick(tls13, "ciphersuites", true)?;
    out.extend(pick(tls12, "ciphers", false)?);
    Ok(out)
}

/// The server's session cache (session IDs and TLS 1.3's stateful tickets) with OpenSSL's
/// limits: at most `size` sessions (0: no limit, as SSL_CTX_sess_set_cache_size), each valid
/// for `timeout`.
#[derive(Debug)]
struct SessionCache {
    size: usize,
    timeout: Duration,
    inner: Mutex<SessionMap>,
}

#[derive(Debug, Default)]
struct SessionMap {
    map: HashMap<Vec<u8>, (Vec<u8>, Instant)>,
    /// Insertion order, for evicting the oldest when full.
    order: VecDeque<Vec<u8>>,
}

impl SessionCache {
    fn new(size: usize, timeout: Duration) -> Self {
        SessionCache {
            size,
            timeout,
            inner: Mutex::default(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, SessionMap> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn fresh(&self, stored: Instant) -> bool {
        stored.elapsed() < self.timeout
    }
}

impl StoresServerSessions for SessionCache {
    fn put(&self, key: Vec<u8>, value: Vec<u8>) -> bool {
        let mut m = self.lock();
        let now = Instant::now();
        // Insertion order is age order: expired sessions (and keys taken since) sit in front.
        while let Some(k) = m.order.front() {
            match m.map.get(k) {
                Some((_, t)) if self.fresh(*t) => break,
                Some(_) => {
                    let k = k.clone();
                    m.map.remove(&k);
                }
                None => {}
            }
            m.order.pop_front();
        }
        if let Some(slot) = m.map.get_mut(&key) {
            *slot = (value, now);
            return true;
        }
        while self.size > 0 && m.map.len() >= self.size {
            let Some(k) = m.order.pop_front() else { break };
            m.map.remove(&k);
        }
        m.order.push_back(key.clone());
        m.map.insert(key, (value, now));
        true
    }

    fn get(&self, key: &[u8]) -> Option<Vec<u8>> {
        let m = self.lock();
        m.map
            .get(key)
            .filter(|(_, t)| self.fresh(*t))
            .map(|(v, _)| v.clone())
    }

    fn take(&self, key: &[u8]) -> Option<Vec<u8>> {
        let mut m = self.lock();
        m.map
            .remove(key)
            .filter(|(_, t)| self.fresh(*t))
            .map(|(v, _)| v)
    }

    fn can_cache(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protocols_follow_redis_words() {
        assert_eq!(protocols("").unwrap().len(), 2);
        let v = protocols("TLSv1.2").unwrap();
        assert_eq!(v.len(), 1);
        assert_eq!(v[0].version, rustls::ProtocolVersion::TLSv1_2);
        assert!(protocols("tlsv1.3 TLSV1.2").is_ok());
        assert!(protocols("TLSv1.1").unwrap_err().contains("TLSv1.1"));
        assert!(protocols("SSLv3")
            .unwrap_err()
            .contains("Invalid tls-protocols"));
    }

    #[test]
    fn cipher_names_map_to_rustls_suites() {
        let p = rustls::crypto::ring::default_provider();
        let all = cipher_suites(&p, "", "").unwrap();
        assert_eq!(all.len(), p.cipher_suites.len());
        // Every name in the table resolves: a misspelt rustls name would refuse a valid setting.
        for (openssl, _) in SUITE_NAMES {
            let (v13, v12) = if openssl.starts_with("TLS_") {
                (*openssl, "")
            } else {
                ("", *openssl)
            };
            let got = cipher_suites(&p, v13, v12).unwrap();
            assert_eq!(
                got.len(),
                p.cipher_suites.len() - if v13.is_empty() { 5 } else { 2 }
            );
        }
        let order = cipher_suites(
            &p,
            "TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_GCM_SHA256",
            "",
        )
        .unwrap();
        assert_eq!(
            format!("{:?}", order[0].suite()),
            "TLS13_CHACHA20_POLY1305_SHA256"
        );
        let e = cipher_suites(&p, "", "HIGH:!aNULL").unwrap_err();
        assert!(e.contains("'HIGH'") && e.contains("ciphers"), "{e}");
        let e = cipher_suites(&p, "", "AES256-SHA").unwrap_err();
        assert!(e.contains("'AES256-SHA'"), "{e}");
    }

    #[test]
    fn session_cache_keeps_size_and_timeout() {
        let c = SessionCache::new(2, Duration::from_secs(60));
        for k in [b"a", b"b", b"c"] {
            c.put(k.to_vec(), k.to_vec());
        }
        assert!(c.get(b"a").is_none(), "the oldest went when full");
        assert_eq!(c.get(b"c"), Some(b"c".to_vec()));
        assert_eq!(c.take(b"b"), Some(b"b".to_vec()));
        assert!(c.get(b"b").is_none());
        let c = SessionCache::new(0, Duration::ZERO);
        c.put(b"x".to_vec(), b"x".to_vec());
        assert!(c.get(b"x").is_none(), "expired at once");
    }

    #[test]
    fn tls_port_without_cert_is_refused() {
        let mut c = Config::default();
        c.set("tls-port", "6380").unwrap();
        assert_eq!(
            server_config(&c).unwrap_err(),
            "No tls-cert-file configured!"
        );
        c.set("tls-cert-file", "/nonexistent.crt").unwrap();
        assert_eq!(
            server_config(&c).unwrap_err(),
            "No tls-key-file configured!"
        );
        c.set("tls-key-file", "/nonexistent.key").unwrap();
        assert!(server_config(&c).unwrap_err().contains("tls-ca-cert-file"));
        c.set("tls-auth-clients", "no").unwrap();
        assert!(server_config(&c)
            .unwrap_err()
            .contains("Failed to load certificate: /nonexistent.crt"));
    }
}
