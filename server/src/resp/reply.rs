//! Replies and their encoding. Large bulk replies are queued as the stored `Bytes` itself, so a
//! 128 MiB GET is written from the value with no copy into an output buffer.

use bytes::{Buf, BufMut, Bytes, BytesMut};
use std::borrow::Cow;
use std::collections::VecDeque;
use std::io::IoSlice;

/// Longest bulk a [`Reply::ShortBulk`] holds: the reply stays no larger than one with a `Bytes`.
pub const SHORT_BULK: usize = 30;

/// Bulks at least this large are written from their own `Bytes`, not copied.
const ZERO_COPY_MIN: usize = 16 * 1024;

/// A reply, independent of the protocol version it will be encoded in.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    /// `+OK`.
    Ok,
    /// A status line such as `+PONG`.
    Simple(Cow<'static, str>),
    /// An error line, with its code: `ERR ...`, `WRONGTYPE ...`.
    Error(Cow<'static, str>),
    Int(i64),
    Bulk(Bytes),
    /// A short bulk string copied out of the keyspace (GET of a small value): no allocation, and
    /// the stored value's reference count and header are not touched, one cache miss fewer.
    ShortBulk {
        len: u8,
        buf: [u8; SHORT_BULK],
    },
    /// RESP2 `$-1`, RESP3 `_`.
    Nil,
    /// RESP2 `*-1`, RESP3 `_`.
    NilArray,
    Array(Vec<Reply>),
    /// RESP3 map; a flat array in RESP2.
    Map(Vec<(Reply, Reply)>),
    /// RESP3 set; an array in RESP2.
    Set(Vec<Reply>),
    /// RESP3 double; a bulk string in RESP2.
    Double(f64),
    /// A double as Redis's `addReplyHumanLongDouble` writes it (17 decimals, trailing zeros
    /// cut: GEOPOS, WITHCOORD): RESP3 double; a bulk string in RESP2.
    HumanDouble(f64),
    /// RESP3 boolean; 1 or 0 in RESP2.
    Bool(bool),
    /// RESP3 push; an array in RESP2.
    Push(Vec<Reply>),
    /// RESP3 verbatim string (`txt`); a bulk string in RESP2.
    Verbatim(Bytes),
    /// Bytes already encoded (prebuilt constant replies).
    Raw(&'static [u8]),
    /// Several replies in a row for one command (SUBSCRIBE with several channels).
    Seq(Vec<Reply>),
}

impl Reply {
    /// An error reply: its text starts with its code (`ERR ...`, `WRONGTYPE ...`). A static
    /// text is sent as it is, without a copy.
    pub fn error(msg: impl Into<Cow<'static, str>>) -> Reply {
        Reply::Error(msg.into())
    }
    pub fn bulk(b: impl Into<Bytes>) -> Reply {
        Reply::Bulk(b.into())
    }
    pub fn simple(s: &'static str) -> Reply {
        Reply::Simple(Cow::Borrowed(s))
    }
    /// A bulk string of a stored value: copied when short, shared otherwise.
    pub fn bulk_of(b: &Bytes) -> Reply {
        if b.len() <= SHORT_BULK {
            let mut buf = [0u8; SHORT_BULK];
            buf[..b.len()].copy_from_slice(b);
            Reply::ShortBulk {
                len: b.len() as u8,
                buf,
            }
        } else {
            Reply::Bulk(b.clone())
        }
    }
    /// A bulk string, or nil for `None`.
    pub fn opt_bulk(b: Option<Bytes>) -> Reply {
        b.map_or(Reply::Nil, Reply::Bulk)
    }
    pub fn is_error(&self) -> bool {
        matches!(self, Reply::Error(_))
    }
    pub fn bulks<I: IntoIterator<Item = Bytes>>(it: I) -> Reply {
        Reply::Array(it.into_iter().map(Reply::Bulk).collect())
    }
}

/// Formats a double as Redis 7.0 does for replies and stored values (`%.17g`, `inf`, `-inf`).
/// Redis's `ld2string(.., LD_STR_HUMAN)`: `%.17Lf` without trailing zeros (and "-0" as "0").
pub fn fmt_human(d: f64) -> String {
    if d.is_infinite() {
        return if d > 0.0 { "inf".into() } else { "-inf".into() };
    }
    let mut s = format!("{d:.17}");
    if s.contains('.') {
        let t = s.trim_end_matches('0').trim_end_matches('.').len();
        s.truncate(t);
    }
    if s == "-0" {
        s = "0".into();
    }
    s
}

pub fn fmt_double(d: f64) -> String {
    if d.is_infinite() {
        return if d > 0.0 { "inf".into() } else { "-inf".into() };
    }
    if d.is_nan() {
        return "nan".into();
    }
    if d == 0.0 && d.is_sign_negative() {
        return "-0".into();
    }
    if d == d.trunc() && d.abs() < 1e17 {
        // Integral values print without exponent or fraction, as %.17g does below 1e17.
        return format!("{}", d as i64);
    }
    g17(d)
}

/// C's `%.17g`.
fn g17(d: f64) -> String {
    let e = format!("{:.16e}", d); // d.ddddddddddddddddde±x
    let (mant, exp) = e.split_once('e').unwrap_or((&e, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if (-4..17).contains(&exp) {
        let decimals = (16 - exp).max(0) as usize;
        let s = format!("{:.*}", decimals, d);
        trim_zeros(s)
    } else {
        let m = trim_zeros(mant.to_string());
        format!("{}e{}{:02}", m, if exp < 0 { '-' } else { '+' }, exp.abs())
    }
}

fn trim_zeros(s: String) -> String {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

/// A connection's pending output: small replies are encoded into a buffer, large bulks are
/// queued as their own `Bytes`.
#[derive(Debug, Default)]
pub struct Out {
    buf: BytesMut,
    chunks: VecDeque<Bytes>,
    queued: usize,
}

impl Out {
    pub fn new() -> Self {
        Self::default()
    }

    /// Bytes waiting to be written.
    pub fn len(&self) -> usize {
        self.queued + self.buf.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Appends raw protocol bytes.
    pub fn raw(&mut self, b: &[u8]) {
        self.buf.extend_from_slice(b);
    }

    /// Encodes a reply for protocol version `resp` (2 or 3).
    pub fn push(&mut self, r: &Reply, resp: u8) {
        let b = &mut self.buf;
        match r {
            Reply::Ok => b.extend_from_slice(b"+OK\r\n"),
            Reply::Simple(s) => line(b, b'+', s.as_bytes()),
            Reply::Error(s) => {
                // Like Redis, newlines cannot break the protocol.
                let clean: Vec<u8> = s
                    .bytes()
                    .map(|c| if c == b'\r' || c == b'\n' { b' ' } else { c })
                    .collect();
                line(b, b'-', &clean);
            }
            Reply::Int(i) => num(b, b':', *i),
            Reply::Bulk(v) => self.bulk(b'$', v),
            Reply::ShortBulk { len, buf } => copied_bulk(b, b'$', &buf[..usize::from(*len)]),
            Reply::Verbatim(v) => {
                if resp >= 3 {
                    num(b, b'=', (v.len() + 4) as i64);
                    b.extend_from_slice(b"txt:");
                    b.extend_from_slice(v);
                    b.extend_from_slice(b"\r\n");
                } else {
                    self.bulk(b'$', v)
                }
            }
            Reply::Nil => b.extend_from_slice(if resp >= 3 { b"_\r\n" } else { b"$-1\r\n" }),
            Reply::NilArray => b.extend_from_slice(if resp >= 3 { b"_\r\n" } else { b"*-1\r\n" }),
            Reply::Array(items) => {
                num(b, b'*', (items.len()) as i64);
                for i in items {
                    self.push(i, resp);
                }
            }
            Reply::Set(items) => {
                num(b, if resp >= 3 { b'~' } else { b'*' }, items.len() as i64);
                for i in items {
                    self.push(i, resp);
                }
            }
            Reply::Push(items) => {
                num(b, if resp >= 3 { b'>' } else { b'*' }, items.len() as i64);
                for i in items {
                    self.push(i, resp);
                }
            }
            Reply::Map(pairs) => {
                if resp >= 3 {
                    num(b, b'%', (pairs.len()) as i64);
                } else {
                    num(b, b'*', (pairs.len() * 2) as i64);
                }
                for (k, v) in pairs {
                    self.push(k, resp);
                    self.push(v, resp);
                }
            }
            Reply::Double(d) => {
                if resp >= 3 {
                    let s = if d.is_infinite() {
                        if *d > 0.0 {
                            "inf".to_string()
                        } else {
                            "-inf".to_string()
                        }
                    } else {
                        fmt_double(*d)
                    };
                    line(b, b',', s.as_bytes());
                } else {
                    let s = fmt_double(*d);
                    num(b, b'$', (s.len()) as i64);
                    line_body(b, s.as_bytes());
                }
            }
            Reply::HumanDouble(d) => {
                let s = fmt_human(*d);
                if resp >= 3 {
                    line(b, b',', s.as_bytes());
                } else {
                    num(b, b'$', s.len() as i64);
                    line_body(b, s.as_bytes());
                }
            }
            Reply::Bool(t) => {
                if resp >= 3 {
                    b.extend_from_slice(if *t { b"#t\r\n" } else { b"#f\r\n" });
                } else {
                    b.extend_from_slice(if *t { b":1\r\n" } else { b":0\r\n" });
                }
            }
            Reply::Raw(bytes) => b.extend_from_slice(bytes),
            Reply::Seq(items) => {
                for i in items {
                    self.push(i, resp);
                }
            }
        }
    }

    fn bulk(&mut self, kind: u8, v: &Bytes) {
        if v.len() < ZERO_COPY_MIN {
            return copied_bulk(&mut self.buf, kind, v);
        }
        // Flush what is buffered, then queue the value itself: no copy.
        num(&mut self.buf, kind, v.len() as i64);
        let head = self.buf.split().freeze();
        self.queued += head.len();
        self.chunks.push_back(head);
        self.queued += v.len();
        self.chunks.push_back(v.clone());
        self.buf.extend_from_slice(b"\r\n");
    }

    /// Fills `dst` with pending output, in order, for a vectored write; returns how many slices.
    pub fn slices<'a>(&'a self, dst: &mut [IoSlice<'a>]) -> usize {
        let mut n = 0;
        for (d, c) in dst.iter_mut().zip(self.chunks.iter()) {
            *d = IoSlice::new(c);
            n += 1;
        }
        if n < dst.len() && !self.buf.is_empty() {
            dst[n] = IoSlice::new(&self.buf);
            n += 1;
        }
        n
    }

    /// Drops the first `n` written bytes.
    pub fn advance(&mut self, mut n: usize) {
        while n > 0 {
            if let Some(front) = self.chunks.front_mut() {
                if n >= front.len() {
                    n -= front.len();
                    self.queued -= front.len();
                    self.chunks.pop_front();
                } else {
                    let _ = front.split_to(n);
                    self.queued -= n;
                    n = 0;
                }
            } else {
                // Advanced in place: splitting would turn the buffer into a shared one.
                let k = n.min(self.buf.len());
                if k == self.buf.len() {
                    self.buf.clear();
                } else {
                    self.buf.advance(k);
                }
                n = 0;
            }
        }
        if self.buf.is_empty() && self.buf.capacity() > 1 << 20 {
            self.buf = BytesMut::new(); // Give back a buffer grown by one large reply.
        }
    }
}

fn line(b: &mut BytesMut, kind: u8, body: &[u8]) {
    b.put_u8(kind);
    line_body(b, body);
}

fn line_body(b: &mut BytesMut, body: &[u8]) {
    b.extend_from_slice(body);
    b.extend_from_slice(b"\r\n");
}

/// Writes `<kind><n>\r\n` without allocating.
/// A bulk string copied into the output buffer.
fn copied_bulk(b: &mut BytesMut, kind: u8, v: &[u8]) {
    num(b, kind, v.len() as i64);
    b.extend_from_slice(v);
    b.extend_from_slice(b"\r\n");
}

fn num(b: &mut BytesMut, kind: u8, n: i64) {
    // Built right to left in one stack array, then appended with a single capacity check.
    let mut t = [0u8; 24];
    let mut i = t.len() - 2;
    t[i..].copy_from_slice(b"\r\n");
    let mut v = n.unsigned_abs();
    loop {
        i -= 1;
        t[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    if n < 0 {
        i -= 1;
        t[i] = b'-';
    }
    i -= 1;
    t[i] = kind;
    b.extend_from_slice(&t[i..]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_format_at_their_extremes() {
        for (n, want) in [
            (0i64, ":0\r\n".to_string()),
            (-1, ":-1\r\n".into()),
            (400_000, ":400000\r\n".into()),
            (i64::MAX, format!(":{}\r\n", i64::MAX)),
            (i64::MIN, format!(":{}\r\n", i64::MIN)),
        ] {
            let mut b = BytesMut::new();
            num(&mut b, b':', n);
            assert_eq!(&b[..], want.as_bytes());
        }
    }

    #[test]
    fn doubles_format_like_redis() {
        assert_eq!(fmt_double(1.5), "1.5");
        assert_eq!(fmt_double(3.0), "3");
        assert_eq!(fmt_double(-0.0), "-0");
        assert_eq!(fmt_double(0.1), "0.10000000000000001");
        assert_eq!(fmt_double(f64::INFINITY), "inf");
        assert_eq!(fmt_double(1e20), "1e+20");
        assert_eq!(fmt_double(1.5e-7), "1.4999999999999999e-07");
    }

    #[test]
    fn a_short_bulk_encodes_as_a_bulk() {
        for v in [&b""[..], b"xxx", &[7u8; SHORT_BULK], &[9u8; SHORT_BULK + 1]] {
            let b = Bytes::copy_from_slice(v);
            for resp in [2, 3] {
                let (mut x, mut y) = (Out::new(), Out::new());
                x.push(&Reply::bulk_of(&b), resp);
                y.push(&Reply::Bulk(b.clone()), resp);
                assert_eq!(x.buf, y.buf);
            }
        }
        assert!(matches!(
            Reply::bulk_of(&Bytes::from_static(b"xxx")),
            Reply::ShortBulk { .. }
        ));
        // The inline copy must not make every reply larger.
        assert!(std::mem::size_of::<Reply>() <= 40);
    }

    #[test]
    fn large_bulk_is_queued_without_copy() {
        let v = Bytes::from(vec![7u8; ZERO_COPY_MIN * 2]);
        let mut o = Out::new();
        o.push(&Reply::Bulk(v.clone()), 2);
        let mut s = [IoSlice::new(&[]); 8];
        assert_eq!(o.slices(&mut s), 3);
        assert_eq!(s[1].as_ptr(), v.as_ptr());
        assert_eq!(o.len(), v.len() + 2 + format!("${}\r\n", v.len()).len());
    }
}
