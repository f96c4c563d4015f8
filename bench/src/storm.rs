//! A connection storm: N clients connect at once, each sends PING and waits for +PONG, as when
//! a DAQ farm or a batch of analysis jobs starts. Non-blocking connects on one epoll set, so the
//! SYNs leave as fast as the kernel takes them and the client is never the bottleneck.

use anyhow::{bail, Context, Result};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::fd::{AsRawFd, FromRawFd};
use std::time::{Duration, Instant};

/// What one storm measured.
pub struct Storm {
    pub connections: usize,
    pub answered: usize,
    pub secs: f64,
    /// SYNs the kernel dropped because a listen queue was full, during the storm (all sockets
    /// of the host: run nothing else meanwhile).
    pub listen_overflows: u64,
}

/// The host's TcpExt ListenOverflows counter.
fn listen_overflows() -> u64 {
    let text = std::fs::read_to_string("/proc/net/netstat").unwrap_or_default();
    let mut lines = text.lines().filter(|l| l.starts_with("TcpExt:"));
    let (Some(names), Some(values)) = (lines.next(), lines.next()) else {
        return 0;
    };
    names
        .split_whitespace()
        .zip(values.split_whitespace())
        .find(|(n, _)| *n == "ListenOverflows")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0)
}

/// A non-blocking socket with its connect to `addr` under way.
fn start_connect(addr: &SocketAddr) -> Result<TcpStream> {
    let SocketAddr::V4(v4) = addr else {
        bail!("storm: IPv4 addresses only")
    };
    // SAFETY: plain socket calls on a descriptor this function owns; the sockaddr lives on the
    // stack for the duration of connect().
    unsafe {
        let fd = libc::socket(
            libc::AF_INET,
            libc::SOCK_STREAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
            0,
        );
        if fd < 0 {
            return Err(std::io::Error::last_os_error()).context("socket");
        }
        let stream = TcpStream::from_raw_fd(fd);
        let sa = libc::sockaddr_in {
            sin_family: libc::AF_INET as libc::sa_family_t,
            sin_port: v4.port().to_be(),
            sin_addr: libc::in_addr {
                s_addr: u32::from(*v4.ip()).to_be(),
            },
            sin_zero: [0; 8],
        };
        let rc = libc::connect(
            fd,
            (&sa as *const libc::sockaddr_in).cast(),
            std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
        );
        if rc != 0 {
            let e = std::io::Error::last_os_error();
            if e.raw_os_error() != Some(libc::EINPROGRESS) {
                return Err(e).context("connect");
            }
        }
        Ok(stream)
    }
}

struct Epoll(i32);

impl Epoll {
    fn new() -> Result<Epoll> {
        // SAFETY: creates a descriptor owned by the returned value.
        let fd = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
        if fd < 0 {
            return Err(std::io::Error::last_os_error()).context("epoll_create1");
        }
        Ok(Epoll(fd))
    }

    fn ctl(&self, op: i32, fd: i32, events: u32, token: u64) -> Result<()> {
        let mut ev = libc::epoll_event { events, u64: token };
        // SAFETY: `ev` outlives the call; `fd` is an open socket.
        if unsafe { libc::epoll_ctl(self.0, op, fd, &mut ev) } != 0 {
            return Err(std::io::Error::last_os_error()).context("epoll_ctl");
        }
        Ok(())
    }

    fn wait(&self, out: &mut [libc::epoll_event], timeout: Duration) -> usize {
        // SAFETY: the kernel writes at most `out.len()` events into `out`.
        let n = unsafe {
            libc::epoll_wait(
                self.0,
                out.as_mut_ptr(),
                out.len() as i32,
                timeout.as_millis() as i32,
            )
        };
        n.max(0) as usize
    }
}

impl Drop for Epoll {
    fn drop(&mut self) {
        // SAFETY: the descriptor is owned and closed once.
        unsafe { libc::close(self.0) };
    }
}

/// Opens `n` connections to `addr` at once, PINGs on each as soon as it is connected, and
/// waits (at most `bound`) for every reply. The connections stay open until all have answered.
pub fn run(addr: &str, n: usize, bound: Duration) -> Result<Storm> {
    let addr: SocketAddr = addr
        .parse()
        .with_context(|| format!("storm needs an IP:port, not {addr}"))?;
    let ep = Epoll::new()?;
    let overflows = listen_overflows();
    let t0 = Instant::now();
    let mut socks = Vec::with_capacity(n);
    for i in 0..n {
        let s = start_connect(&addr)
            .with_context(|| format!("connection {i} (raise `ulimit -n` for many)"))?;
        ep.ctl(
            libc::EPOLL_CTL_ADD,
            s.as_raw_fd(),
            libc::EPOLLOUT as u32,
            i as u64,
        )?;
        socks.push((s, false));
    }
    let mut events = vec![libc::epoll_event { events: 0, u64: 0 }; 1024];
    let (mut done, mut answered) = (0, 0);
    while done < n {
        if t0.elapsed() > bound {
            bail!(
                "storm: {} of {n} connections unanswered after {bound:?}",
                n - done
            );
        }
        let ready = ep.wait(&mut events, Duration::from_secs(1));
        for ev in &events[..ready] {
            let i = ev.u64 as usize;
            let (s, sent) = &mut socks[i];
            let fd = s.as_raw_fd();
            if !*sent {
                if s.take_error().ok().flatten().is_some() || s.write(b"PING\r\n").is_err() {
                    done += 1;
                    ep.ctl(libc::EPOLL_CTL_DEL, fd, 0, 0)?;
                    continue;
                }
                *sent = true;
                ep.ctl(libc::EPOLL_CTL_MOD, fd, libc::EPOLLIN as u32, i as u64)?;
            } else {
                let mut buf = [0u8; 64];
                if matches!(s.read(&mut buf), Ok(7) if &buf[..7] == b"+PONG\r\n") {
                    answered += 1;
                }
                done += 1;
                ep.ctl(libc::EPOLL_CTL_DEL, fd, 0, 0)?;
            }
        }
    }
    Ok(Storm {
        connections: n,
        answered,
        secs: t0.elapsed().as_secs_f64(),
        listen_overflows: listen_overflows().saturating_sub(overflows),
    })
}
