//! The floor: a trivial RESP server that only streams preloaded buffers, so a mix run against
//! it measures what this machine's kernel, scheduler and client allow, with no keyspace, no
//! lock and no event loop of a real server (issue #21's isolation goal is judged against it).
//!
//! A thread per connection, blocking sockets. GET of a key starting with the large prefix
//! answers the large buffer, any other GET the small one; SET (and any other command) reads its
//! arguments and answers +OK. Nothing is stored.

use anyhow::{Context, Result};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;

struct Bufs {
    large_prefix: Vec<u8>,
    /// `$len\r\n` + bytes + `\r\n`, ready to write.
    large: Vec<u8>,
    small: Vec<u8>,
}

fn bulk(n: usize) -> Vec<u8> {
    let mut v = format!("${n}\r\n").into_bytes();
    v.resize(v.len() + n, b'x');
    v.extend_from_slice(b"\r\n");
    v
}

/// Serves `port` on 127.0.0.1 until killed.
pub fn serve(port: u16, large_prefix: &str, large: usize, small: usize) -> Result<()> {
    let l = TcpListener::bind(("127.0.0.1", port)).with_context(|| format!("bind {port}"))?;
    serve_on(l, large_prefix, large, small)
}

fn serve_on(l: TcpListener, large_prefix: &str, large: usize, small: usize) -> Result<()> {
    let bufs = Arc::new(Bufs {
        large_prefix: large_prefix.as_bytes().to_vec(),
        large: bulk(large),
        small: bulk(small),
    });
    eprintln!("floor: listening on {}", l.local_addr()?);
    for s in l.incoming() {
        let Ok(s) = s else { continue };
        let bufs = bufs.clone();
        std::thread::spawn(move || {
            let _ = client(s, &bufs);
        });
    }
    Ok(())
}

fn line(r: &mut impl BufRead, buf: &mut Vec<u8>) -> Result<usize> {
    buf.clear();
    if r.read_until(b'\n', buf)? == 0 {
        anyhow::bail!("closed");
    }
    let t = std::str::from_utf8(&buf[1..])?.trim_end();
    Ok(t.parse().unwrap_or(0))
}

fn client(s: TcpStream, bufs: &Bufs) -> Result<()> {
    s.set_nodelay(true)?;
    let mut w = s.try_clone()?;
    let mut r = BufReader::with_capacity(64 * 1024, s);
    let mut hdr = Vec::new();
    loop {
        let argc = line(&mut r, &mut hdr)?;
        let mut cmd = Vec::new();
        let mut key = Vec::new();
        for i in 0..argc {
            let n = line(&mut r, &mut hdr)?;
            if i < 2 {
                let mut a = vec![0; n + 2];
                r.read_exact(&mut a)?;
                a.truncate(n);
                if i == 0 {
                    cmd = a;
                } else {
                    key = a;
                }
            } else {
                // Values are read and dropped: nothing is stored.
                std::io::copy(&mut (&mut r).take(n as u64 + 2), &mut std::io::sink())?;
            }
        }
        if cmd.eq_ignore_ascii_case(b"GET") {
            let out = if key.starts_with(&bufs.large_prefix) {
                &bufs.large
            } else {
                &bufs.small
            };
            w.write_all(out)?;
        } else {
            w.write_all(b"+OK\r\n")?;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workload::Workload;

    /// The floor answers the driver's GETs with the right buffers, and workloads of one group
    /// run at the same time, each measured on its own.
    #[test]
    fn grouped_workloads_run_together_against_the_floor() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap().to_string();
        std::thread::spawn(move || serve_on(l, "big:", 1 << 20, 1024));
        let small = Workload {
            ratio: "0:1".into(),
            size: "1KiB".into(),
            key_prefix: "small:".into(),
            keys: 10,
            connections: 2,
            threads: 1,
            rate: 2000.0,
            duration: 0.5,
            warmup: 0.1,
            group: "g".into(),
            ..Workload::default()
        };
        let large = Workload {
            size: "1MiB".into(),
            key_prefix: "big:".into(),
            connections: 1,
            rate: 20.0,
            ..small.clone()
        };
        let plans = [small.plan().unwrap(), large.plan().unwrap()];
        let m = crate::run_together(&plans, &addr).unwrap();
        assert_eq!(m.len(), 2);
        assert!(m.iter().all(|m| m.errors == 0 && m.ops > 0));
        assert_eq!(
            m[0].bytes,
            m[0].ops * 1024,
            "small GETs got the small buffer"
        );
        assert_eq!(
            m[1].bytes,
            m[1].ops << 20,
            "large GETs got the large buffer"
        );
    }
}
