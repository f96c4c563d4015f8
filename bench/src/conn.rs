//! A lean RESP connection: requests are written from shared buffers with vectored writes, and a
//! large bulk reply is read straight from the socket into a preallocated buffer, so neither a
//! 128 MiB SET nor a 128 MiB GET is bounded by the client.

use anyhow::{bail, Context, Result};
use std::io::{IoSlice, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// What a reply was, as far as the driver cares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    Status,
    Error(String),
    Int(i64),
    /// A bulk string of this length.
    Bulk(usize),
    Nil,
    /// An array of this many elements (already consumed).
    Array(usize),
}

/// Input buffer size: large enough that small pipelined replies come in one read.
const IN_BUF: usize = 256 * 1024;

/// One client connection.
pub struct Conn {
    stream: TcpStream,
    buf: Vec<u8>,
    start: usize,
    end: usize,
    /// Where large bulks land; grown once to the largest value, and touched so the first GET
    /// does not pay page faults.
    sink: Vec<u8>,
}

/// Credentials every connection of this run sends first (`-a`, `--user`): set once from the
/// command line before any connection, so the workers, the prefill and the INFO probe all log in.
static AUTH: std::sync::OnceLock<(Option<String>, String)> = std::sync::OnceLock::new();

/// Makes every later connection send `AUTH [user] password` first.
pub fn set_auth(user: Option<String>, password: String) {
    let _ = AUTH.set((user, password));
}

impl Conn {
    /// Connects with Nagle off (and logs in when [`set_auth`] was called); `sink` is sized for
    /// the largest bulk expected.
    pub fn connect(addr: &str, max_bulk: usize) -> Result<Conn> {
        let mut c = Self::open(addr, max_bulk)?;
        if let Some((user, pass)) = AUTH.get() {
            let mut args: Vec<&[u8]> = vec![b"AUTH"];
            if let Some(u) = user {
                args.push(u.as_bytes());
            }
            args.push(pass.as_bytes());
            c.send(&args)?;
            if let Reply::Error(e) = c.read_reply()? {
                bail!("AUTH to {addr} failed: {e}");
            }
        }
        Ok(c)
    }

    fn open(addr: &str, max_bulk: usize) -> Result<Conn> {
        let stream = TcpStream::connect(addr).with_context(|| format!("connecting to {addr}"))?;
        stream.set_nodelay(true)?;
        stream.set_read_timeout(Some(Duration::from_secs(120)))?;
        let mut sink = Vec::new();
        if max_bulk > IN_BUF {
            sink = vec![1u8; max_bulk + 2];
        }
        Ok(Conn {
            stream,
            buf: vec![0; IN_BUF],
            start: 0,
            end: 0,
            sink,
        })
    }

    /// Sends one command.
    fn send(&mut self, args: &[&[u8]]) -> Result<()> {
        let mut head = format!("*{}\r\n", args.len()).into_bytes();
        for a in args {
            head.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
            head.extend_from_slice(a);
            head.extend_from_slice(b"\r\n");
        }
        self.write_all(&mut [IoSlice::new(&head)])
    }

    /// Writes all of `bufs` (headers and shared value slices) with as few syscalls as it can.
    pub fn write_all(&mut self, bufs: &mut [IoSlice<'_>]) -> Result<()> {
        let mut bufs = bufs;
        IoSlice::advance_slices(&mut bufs, 0);
        while !bufs.is_empty() {
            let n = self.stream.write_vectored(bufs)?;
            if n == 0 {
                bail!("server closed the connection");
            }
            IoSlice::advance_slices(&mut bufs, n);
        }
        Ok(())
    }

    fn fill(&mut self) -> Result<()> {
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        } else if self.end == self.buf.len() {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        let n = self.stream.read(&mut self.buf[self.end..])?;
        if n == 0 {
            bail!("server closed the connection");
        }
        self.end += n;
        Ok(())
    }

    /// The next line without its CRLF, as a range of `buf`.
    fn line(&mut self) -> Result<(usize, usize)> {
        let mut from = self.start;
        loop {
            if let Some(i) = self.buf[from..self.end].iter().position(|&b| b == b'\n') {
                let nl = from + i;
                if nl == self.start || self.buf[nl - 1] != b'\r' {
                    bail!("protocol error: bare LF in reply");
                }
                let r = (self.start, nl - 1);
                self.start = nl + 1;
                return Ok(r);
            }
            let scanned = self.end - self.start;
            if scanned > 64 * 1024 {
                bail!("protocol error: reply line too long");
            }
            self.fill()?;
            from = self.start + scanned;
        }
    }

    fn int(&self, (a, b): (usize, usize)) -> Result<i64> {
        std::str::from_utf8(&self.buf[a + 1..b])
            .ok()
            .and_then(|s| s.parse().ok())
            .context("protocol error: bad integer in reply")
    }

    /// Reads one whole reply.
    pub fn read_reply(&mut self) -> Result<Reply> {
        let l = self.line()?;
        match self.buf[l.0] {
            b'+' => Ok(Reply::Status),
            b'-' => Ok(Reply::Error(
                String::from_utf8_lossy(&self.buf[l.0 + 1..l.1]).into_owned(),
            )),
            b':' => Ok(Reply::Int(self.int(l)?)),
            b'_' => Ok(Reply::Nil),
            b'$' => {
                let n = self.int(l)?;
                if n < 0 {
                    return Ok(Reply::Nil);
                }
                self.skip_bulk(n as usize)?;
                Ok(Reply::Bulk(n as usize))
            }
            b'*' | b'%' | b'~' | b'>' => {
                let n = self.int(l)?;
                if n < 0 {
                    return Ok(Reply::Nil);
                }
                let items = if self.buf[l.0] == b'%' { 2 * n } else { n };
                for _ in 0..items {
                    self.read_reply()?;
                }
                Ok(Reply::Array(n as usize))
            }
            b',' | b'#' | b'(' => Ok(Reply::Status),
            other => bail!("protocol error: unexpected reply type {:?}", other as char),
        }
    }

    /// Consumes a bulk body of `n` bytes and its CRLF.
    fn skip_bulk(&mut self, n: usize) -> Result<()> {
        let need = n + 2;
        let have = self.end - self.start;
        if have >= need {
            self.start += need;
        } else if need <= self.buf.len() {
            while self.end - self.start < need {
                self.fill()?;
            }
            self.start += need;
        } else {
            // Large: the buffered head goes to the sink, the rest is read into it directly.
            if self.sink.len() < need {
                self.sink.resize(need, 1);
            }
            self.sink[..have].copy_from_slice(&self.buf[self.start..self.end]);
            self.start = 0;
            self.end = 0;
            self.stream
                .read_exact(&mut self.sink[have..need])
                .context("reading a bulk reply")?;
            if &self.sink[n..need] != b"\r\n" {
                bail!("protocol error: bulk not terminated by CRLF");
            }
        }
        Ok(())
    }

    /// Sends one command and returns its bulk reply's text (INFO, CONFIG GET are small).
    pub fn call_text(&mut self, args: &[&[u8]]) -> Result<String> {
        self.send(args)?;
        let l = self.line()?;
        if self.buf[l.0] != b'$' {
            bail!("expected a bulk reply");
        }
        let n = self.int(l)?.max(0) as usize;
        while self.end - self.start < n + 2 {
            self.fill()?;
        }
        let s = String::from_utf8_lossy(&self.buf[self.start..self.start + n]).into_owned();
        self.start += n + 2;
        Ok(s)
    }
}

/// A field of `INFO server`, e.g. `redis_version`.
pub fn info_field(info: &str, field: &str) -> Option<String> {
    info.lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .map(|v| v.trim().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    #[test]
    fn reads_every_reply_kind_including_a_large_bulk() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap().to_string();
        let big = 1 << 20;
        let server = std::thread::spawn(move || {
            let (mut s, _) = l.accept().unwrap();
            let mut out = b"+OK\r\n-ERR no\r\n:42\r\n$-1\r\n*2\r\n$1\r\na\r\n:1\r\n".to_vec();
            out.extend_from_slice(format!("${big}\r\n").as_bytes());
            out.extend(std::iter::repeat_n(b'x', big));
            out.extend_from_slice(b"\r\n$3\r\nabc\r\n");
            // Dribble it out so replies straddle reads.
            for c in out.chunks(7777) {
                s.write_all(c).unwrap();
            }
        });
        let mut c = Conn::connect(&addr, big).unwrap();
        assert_eq!(c.read_reply().unwrap(), Reply::Status);
        assert_eq!(c.read_reply().unwrap(), Reply::Error("ERR no".into()));
        assert_eq!(c.read_reply().unwrap(), Reply::Int(42));
        assert_eq!(c.read_reply().unwrap(), Reply::Nil);
        assert_eq!(c.read_reply().unwrap(), Reply::Array(2));
        assert_eq!(c.read_reply().unwrap(), Reply::Bulk(big));
        assert_eq!(c.read_reply().unwrap(), Reply::Bulk(3));
        server.join().unwrap();
    }
}
