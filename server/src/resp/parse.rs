//! Request parser. It mirrors Redis's `processMultibulkBuffer` / `processInlineBuffer`: the same
//! limits and the same error texts. A bulk of at least [`BIG_ARG`] bytes gets a buffer of exactly its
//! declared size, read into directly and frozen into the argument: one copy from the kernel, none after.

use crate::util::num::parse_i64;
use bytes::{Buf, BufMut, Bytes, BytesMut};
use thiserror::Error;

/// Bulks this large are read into a dedicated buffer of their exact size (Redis: PROTO_MBULK_BIG_ARG).
pub const BIG_ARG: usize = 32 * 1024;
/// Longest inline request, and longest multibulk or bulk header (Redis: PROTO_INLINE_MAX_SIZE).
pub const INLINE_MAX: usize = 64 * 1024;

/// Limits a client's requests must keep.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// `proto-max-bulk-len`.
    pub max_bulk: u64,
    /// `client-query-buffer-limit`.
    pub query_buffer: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_bulk: 512 * 1024 * 1024,
            query_buffer: 1024 * 1024 * 1024,
        }
    }
}

/// A protocol error; after replying with its text the server closes the connection.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum ProtoError {
    #[error("Protocol error: too big inline request")]
    TooBigInline,
    #[error("Protocol error: unbalanced quotes in request")]
    UnbalancedQuotes,
    #[error("Protocol error: too big mbulk count string")]
    TooBigMbulkCount,
    #[error("Protocol error: invalid multibulk length")]
    InvalidMultibulkLen,
    #[error("Protocol error: unauthenticated multibulk length")]
    UnauthMultibulkLen,
    #[error("Protocol error: too big bulk count string")]
    TooBigBulkCount,
    #[error("Protocol error: expected '$', got '{}'", char::from(*.0))]
    ExpectedDollar(u8),
    #[error("Protocol error: invalid bulk length")]
    InvalidBulkLen,
    #[error("Protocol error: unauthenticated bulk length")]
    UnauthBulkLen,
    /// Redis closes such a client without a reply.
    #[error("client reached the query buffer limit")]
    QueryBufferLimit,
}

impl ProtoError {
    /// Whether Redis sends an error reply before closing (it does not for the query buffer limit).
    pub fn replies(&self) -> bool {
        !matches!(self, ProtoError::QueryBufferLimit)
    }
}

#[derive(Debug, Default)]
enum State {
    #[default]
    Idle,
    /// Inside a multibulk: arguments so far and how many remain.
    Multibulk { args: Vec<Bytes>, remaining: usize },
    /// Inside a large bulk: its exact-size buffer is being filled straight from the socket.
    BigBulk {
        args: Vec<Bytes>,
        remaining: usize,
        len: usize,
        buf: Vec<u8>,
    },
}

/// Turns bytes from a socket into commands; one per connection.
#[derive(Debug, Default)]
pub struct RequestParser {
    /// Bytes read and not yet parsed.
    pub buf: BytesMut,
    state: State,
    /// An emptied argument vector handed back by [`RequestParser::recycle`], reused for the next
    /// command: one allocation less per request.
    spare: Vec<Bytes>,
    /// Set once a request has spanned two reads: the client pipelines or sends values, so reads
    /// go in [`READ_CHUNK`]s from then on. Until then [`FIRST_CHUNK`] does.
    streaming: bool,
}

/// How much to read at a time when requests have spanned reads and no large bulk is in progress.
const READ_CHUNK: usize = 64 * 1024;

/// The first reads' size: one small request fits. A client that sends one request at a time
/// never needs more, so ten thousand idle clients hold 6 KB each (Redis 7.0: 38 KB, its 16 KiB
/// query buffer among them) instead of the 64 KiB chunk, which the kernel must also zero as they
/// connect. A request that spans reads switches the client to [`READ_CHUNK`]s.
const FIRST_CHUNK: usize = 1024;

impl RequestParser {
    /// A parser with an empty buffer.
    pub fn new() -> Self {
        Self::default()
    }

    /// The buffer the next socket read should fill. For a large bulk that is its own buffer,
    /// whose spare capacity is exactly what the bulk still lacks.
    pub fn read_target(&mut self) -> &mut (dyn BufMut + Send) {
        match &mut self.state {
            State::BigBulk { buf, .. } => buf,
            _ => {
                // Unparsed bytes left at a read: a request arrives in pieces.
                self.streaming |= !self.buf.is_empty();
                let chunk = if self.streaming {
                    READ_CHUNK
                } else {
                    FIRST_CHUNK
                };
                if self.buf.capacity() - self.buf.len() < chunk / 4 {
                    self.buf.reserve(chunk);
                }
                &mut self.buf
            }
        }
    }

    /// Bytes held for the request being received: the unparsed input and a large bulk in progress.
    pub fn pending_bytes(&self) -> usize {
        let big = match &self.state {
            State::BigBulk { buf, .. } => buf.capacity(),
            _ => 0,
        };
        self.buf.len() + big
    }

    /// Bytes allocated for input: the buffer and a large bulk in progress (`qbuf` + `qbuf-free`).
    pub fn capacity(&self) -> usize {
        let big = match &self.state {
            State::BigBulk { buf, .. } => buf.capacity(),
            _ => 0,
        };
        self.buf.capacity() + big
    }

    /// Whether a request has started but not finished arriving.
    pub fn mid_request(&self) -> bool {
        !matches!(self.state, State::Idle) || !self.buf.is_empty()
    }

    /// The next complete command, `Ok(None)` when more input is needed. `auth_required` applies
    /// Redis's limits for clients that have not authenticated yet.
    pub fn next_command(
        &mut self,
        limits: &Limits,
        auth_required: bool,
    ) -> Result<Option<Vec<Bytes>>, ProtoError> {
        if matches!(self.state, State::Idle) && self.buf.first() == Some(&b'*') {
            if let Some(args) = self.whole_multibulk(limits, auth_required) {
                return Ok(Some(args));
            }
        } else if matches!(self.state, State::Idle) && self.buf.is_empty() {
            return Ok(None);
        }
        loop {
            match std::mem::take(&mut self.state) {
                State::Idle => {
                    if self.buf.is_empty() {
                        return Ok(None);
                    }
                    if self.buf[0] == b'*' {
                        let Some((n, used)) = read_header(&self.buf, ProtoError::TooBigMbulkCount)?
                        else {
                            return Ok(None);
                        };
                        let n = match n {
                            Some(n) if n <= i32::MAX as i64 => n,
                            _ => return Err(ProtoError::InvalidMultibulkLen),
                        };
                        if n > 10 && auth_required {
                            return Err(ProtoError::UnauthMultibulkLen);
                        }
                        self.buf.advance(used);
                        if n <= 0 {
                            continue; // Redis ignores empty multibulks.
                        }
                        let n = n as usize;
                        self.state = State::Multibulk {
                            args: self.arg_vec(n),
                            remaining: n,
                        };
                    } else {
                        match self.parse_inline()? {
                            Some(Some(args)) => return Ok(Some(args)),
                            Some(None) => continue,
                            None => return Ok(None),
                        }
                    }
                }
                State::Multibulk {
                    mut args,
                    mut remaining,
                } => {
                    while remaining > 0 {
                        if self.buf.is_empty() {
                            self.state = State::Multibulk { args, remaining };
                            return Ok(None);
                        }
                        let Some((n, used)) = read_header(&self.buf, ProtoError::TooBigBulkCount)?
                        else {
                            self.state = State::Multibulk { args, remaining };
                            return Ok(None);
                        };
                        if self.buf[0] != b'$' {
                            return Err(ProtoError::ExpectedDollar(self.buf[0]));
                        }
                        let len = match n {
                            Some(n) if n >= 0 && (n as u64) <= limits.max_bulk => n as usize,
                            _ => return Err(ProtoError::InvalidBulkLen),
                        };
                        if len > 16384 && auth_required {
                            return Err(ProtoError::UnauthBulkLen);
                        }
                        if len >= BIG_ARG && self.buf.len() - used < len + 2 {
                            if (len as u64) + 2 > limits.query_buffer {
                                return Err(ProtoError::QueryBufferLimit);
                            }
                            self.buf.advance(used);
                            // Exactly the declared size: no growth while it arrives, and the stored
                            // value holds no slack.
                            let mut big = super::pool::take(len + 2);
                            let have = self.buf.len().min(len + 2);
                            big.extend_from_slice(&self.buf[..have]);
                            self.buf.advance(have);
                            self.state = State::BigBulk {
                                args,
                                remaining,
                                len,
                                buf: big,
                            };
                            return self.finish_big(limits, auth_required);
                        }
                        if self.buf.len() - used < len + 2 {
                            self.state = State::Multibulk { args, remaining };
                            return Ok(None);
                        }
                        self.buf.advance(used);
                        args.push(Bytes::copy_from_slice(&self.buf[..len]));
                        self.buf.advance(len + 2);
                        remaining -= 1;
                    }
                    return Ok(Some(args));
                }
                big @ State::BigBulk { .. } => {
                    self.state = big;
                    return self.finish_big(limits, auth_required);
                }
            }
        }
    }

    /// Hands back a command's argument vector once it has run, so the next command reuses it.
    pub fn recycle(&mut self, mut args: Vec<Bytes>) {
        // A vector grown for a huge multibulk is not kept.
        if args.capacity() <= 64 {
            args.clear();
            self.spare = args;
        }
    }

    fn arg_vec(&mut self, n: usize) -> Vec<Bytes> {
        let mut v = std::mem::take(&mut self.spare);
        v.reserve(n.min(1024));
        v
    }

    /// The fast path for a multibulk that is whole in the buffer and has no large bulk (a
    /// pipeline of small commands): parsed in one pass and the buffer advanced once. Anything
    /// else (incomplete, a large bulk, a limit crossed, malformed) returns None having changed
    /// nothing, and the general path below, which has Redis's error texts, takes it from the start.
    fn whole_multibulk(&mut self, limits: &Limits, auth_required: bool) -> Option<Vec<Bytes>> {
        let buf = &self.buf[..];
        let (n, mut pos) = header_at(buf, 0)?;
        if n <= 0 || n > 1024 || (n > 10 && auth_required) {
            return None;
        }
        // Check every length first, so nothing is copied for a command that is not whole yet.
        let mut spans = [(0usize, 0usize); 16];
        let n = n as usize;
        if n > spans.len() {
            return None;
        }
        for span in spans.iter_mut().take(n) {
            if buf.get(pos) != Some(&b'$') {
                return None;
            }
            let (len, at) = header_at(buf, pos)?;
            let len = usize::try_from(len).ok()?;
            if len >= BIG_ARG
                || (len as u64) > limits.max_bulk
                || (len > 16384 && auth_required)
                || buf.len() - at < len + 2
            {
                return None;
            }
            *span = (at, len);
            pos = at + len + 2;
        }
        let mut args = self.arg_vec(n);
        for &(at, len) in &spans[..n] {
            args.push(Bytes::copy_from_slice(&self.buf[at..at + len]));
        }
        self.buf.advance(pos);
        Some(args)
    }

    /// Completes a large bulk once its buffer is full, then carries on parsing.
    fn finish_big(
        &mut self,
        limits: &Limits,
        auth_required: bool,
    ) -> Result<Option<Vec<Bytes>>, ProtoError> {
        match std::mem::take(&mut self.state) {
            State::BigBulk {
                mut args,
                remaining,
                len,
                mut buf,
            } => {
                if buf.len() < len + 2 {
                    self.state = State::BigBulk {
                        args,
                        remaining,
                        len,
                        buf,
                    };
                    return Ok(None);
                }
                // Like Redis, the trailing CRLF is skipped, not checked.
                buf.truncate(len);
                args.push(super::pool::freeze(buf));
                let remaining = remaining - 1;
                if remaining == 0 {
                    return Ok(Some(args));
                }
                self.state = State::Multibulk { args, remaining };
                self.next_command(limits, auth_required)
            }
            other => {
                self.state = other;
                Ok(None)
            }
        }
    }

    /// `None`: need more input; `Some(None)`: an empty line, skipped; `Some(Some(args))`: a command.
    fn parse_inline(&mut self) -> Result<Option<Option<Vec<Bytes>>>, ProtoError> {
        let Some(nl) = memchr(b'\n', &self.buf) else {
            if self.buf.len() > INLINE_MAX {
                return Err(ProtoError::TooBigInline);
            }
            return Ok(None);
        };
        let mut line = &self.buf[..nl];
        if line.last() == Some(&b'\r') {
            line = &line[..line.len() - 1];
        }
        let args = split_inline_args(line).ok_or(ProtoError::UnbalancedQuotes)?;
        self.buf.advance(nl + 1);
        if args.is_empty() {
            return Ok(Some(None));
        }
        Ok(Some(Some(args)))
    }
}

/// Reads `<type><number>\r\n` at the start of `buf`: `Ok(None)` when incomplete, else the number
/// (None if it is not a valid integer) and the header's length.
#[allow(clippy::type_complexity)]
fn read_header(
    buf: &[u8],
    too_big: ProtoError,
) -> Result<Option<(Option<i64>, usize)>, ProtoError> {
    let Some(cr) = memchr(b'\r', buf) else {
        if buf.len() > INLINE_MAX {
            return Err(too_big);
        }
        return Ok(None);
    };
    if cr + 1 >= buf.len() {
        return Ok(None); // The '\n' has not arrived yet.
    }
    // A header that is only "\r\n" has no number (the caller then names the type byte).
    Ok(Some((buf.get(1..cr).and_then(parse_i64), cr + 2)))
}

/// Reads a `<type><number>\r\n` header at `at`: the number and where the header ends; None when
/// it is incomplete or not a valid number.
fn header_at(buf: &[u8], at: usize) -> Option<(i64, usize)> {
    let rest = buf.get(at + 1..)?;
    let cr = memchr(b'\r', &rest[..rest.len().min(32)])?;
    if rest.get(cr + 1) != Some(&b'\n') {
        return None;
    }
    Some((parse_i64(&rest[..cr])?, at + 1 + cr + 2))
}

fn memchr(needle: u8, hay: &[u8]) -> Option<usize> {
    hay.iter().position(|&b| b == needle)
}

/// Past the closing quote at `i`: `None` when something other than white space follows it.
fn closing_quote(line: &[u8], i: usize) -> Option<usize> {
    match line.get(i + 1) {
        Some(c) if !c.is_ascii_whitespace() => None,
        _ => Some(i + 1),
    }
}

/// Splits an inline request like Redis's `sdssplitargs`: spaces separate arguments, "double"
/// quotes take escapes (\n \r \t \b \a \xHH), 'single' quotes take only \'. `None` on unbalanced
/// quotes or a closing quote not followed by a space.
pub fn split_inline_args(line: &[u8]) -> Option<Vec<Bytes>> {
    let mut args = Vec::new();
    let mut i = 0;
    let n = line.len();
    loop {
        while i < n && line[i].is_ascii_whitespace() {
            i += 1;
        }
        if i >= n {
            return Some(args);
        }
        let mut cur = Vec::new();
        let mut in_dq = false;
        let mut in_sq = false;
        loop {
            if in_dq {
                if i >= n {
                    return None;
                }
                let c = line[i];
                if c == b'\\'
                    && i + 3 < n
                    && line[i + 1] == b'x'
                    && line[i + 2].is_ascii_hexdigit()
                    && line[i + 3].is_ascii_hexdigit()
                {
                    cur.push(hex(line[i + 2]) * 16 + hex(line[i + 3]));
                    i += 3;
                } else if c == b'\\' && i + 1 < n {
                    i += 1;
                    cur.push(match line[i] {
                        b'n' => b'\n',
                        b'r' => b'\r',
                        b't' => b'\t',
                        b'b' => 8,
                        b'a' => 7,
                        other => other,
                    });
                } else if c == b'"' {
                    i = closing_quote(line, i)?;
                    break;
                } else {
                    cur.push(c);
                }
            } else if in_sq {
                if i >= n {
                    return None;
                }
                let c = line[i];
                if c == b'\\' && i + 1 < n && line[i + 1] == b'\'' {
                    i += 1;
                    cur.push(b'\'');
                } else if c == b'\'' {
                    i = closing_quote(line, i)?;
                    break;
                } else {
                    cur.push(c);
                }
            } else {
                if i >= n {
                    break;
                }
                match line[i] {
                    b' ' | b'\n' | b'\r' | b'\t' | 0 => {
                        i += 1;
                        break;
                    }
                    b'"' => in_dq = true,
                    b'\'' => in_sq = true,
                    c => cur.push(c),
                }
            }
            i += 1;
        }
        args.push(Bytes::from(cur));
    }
}

fn hex(c: u8) -> u8 {
    match c {
        b'0'..=b'9' => c - b'0',
        b'a'..=b'f' => c - b'a' + 10,
        _ => c - b'A' + 10,
    }
}

#[cfg(test)]
mod tests {
    /// Inputs `cargo fuzz` (fuzz/fuzz_targets/resp_parse.rs) found to panic.
    #[test]
    fn fuzz_regressions() {
        // An empty line where a bulk header belongs used to slice buf[1..0].
        let mut p = RequestParser::new();
        bytes::BufMut::put_slice(p.read_target(), b"*1\r\n\r\n");
        assert_eq!(
            p.next_command(&Limits::default(), false),
            Err(ProtoError::ExpectedDollar(b'\r'))
        );
        let mut p = RequestParser::new();
        let crash = b"*3\r\n$3\r\n\0\0SET\r\n$1\r\nk\r\n$1\r\nv\r\n*2\r\n$3\r\nGET\r\n$1\r\nk\r\n";
        bytes::BufMut::put_slice(p.read_target(), crash);
        while let Ok(Some(args)) = p.next_command(&Limits::default(), false) {
            p.recycle(args);
        }
    }

    use super::*;

    fn parse_all(input: &[u8]) -> Result<Vec<Vec<Bytes>>, ProtoError> {
        let mut p = RequestParser::new();
        let limits = Limits::default();
        let mut out = Vec::new();
        for &b in input {
            p.read_target().put_slice(&[b]);
            while let Some(c) = p.next_command(&limits, false)? {
                out.push(c);
            }
        }
        Ok(out)
    }

    #[test]
    fn byte_by_byte_multibulk_and_inline() {
        let cmds = parse_all(b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\nPING\r\n\r\nSET a \"b c\"\n").unwrap();
        assert_eq!(cmds.len(), 3);
        assert_eq!(cmds[0], vec![Bytes::from("GET"), Bytes::from("k")]);
        assert_eq!(cmds[1], vec![Bytes::from("PING")]);
        assert_eq!(cmds[2][2], Bytes::from("b c"));
    }

    #[test]
    fn whole_commands_in_one_read_then_a_partial_one() {
        let mut p = RequestParser::new();
        let limits = Limits::default();
        let input = b"*2\r\n$3\r\nGET\r\n$1\r\na\r\n*3\r\n$3\r\nSET\r\n$1\r\nb\r\n$2\r\nxy\r\n*2\r\n$3\r\nGE";
        p.read_target().put_slice(input);
        let first = p.next_command(&limits, false).unwrap().unwrap();
        assert_eq!(first, vec![Bytes::from("GET"), Bytes::from("a")]);
        p.recycle(first);
        let second = p.next_command(&limits, false).unwrap().unwrap();
        assert_eq!(second[2], Bytes::from("xy"));
        p.recycle(second);
        assert_eq!(p.next_command(&limits, false).unwrap(), None);
        p.read_target().put_slice(b"T\r\n$1\r\nc\r\n");
        let third = p.next_command(&limits, false).unwrap().unwrap();
        assert_eq!(third, vec![Bytes::from("GET"), Bytes::from("c")]);
        assert!(!p.mid_request());
    }

    #[test]
    fn error_after_whole_commands_in_the_same_read() {
        let mut p = RequestParser::new();
        let limits = Limits::default();
        p.read_target()
            .put_slice(b"*1\r\n$4\r\nPING\r\n*1\r\n+x\r\n*1\r\n$4\r\nPING\r\n");
        assert!(p.next_command(&limits, false).unwrap().is_some());
        assert_eq!(
            p.next_command(&limits, false),
            Err(ProtoError::ExpectedDollar(b'+'))
        );
        // Unauthenticated limits hold on the fast path too.
        let mut p = RequestParser::new();
        p.read_target().put_slice(b"*11\r\n");
        for _ in 0..11 {
            p.read_target().put_slice(b"$1\r\na\r\n");
        }
        assert_eq!(
            p.next_command(&limits, true),
            Err(ProtoError::UnauthMultibulkLen)
        );
    }

    #[test]
    fn big_bulk_uses_exact_buffer() {
        let n = BIG_ARG * 3 + 7;
        let head = format!("*2\r\n$3\r\nSET\r\n${n}\r\n").into_bytes();
        let mut input = head.clone();
        input.extend(std::iter::repeat_n(b'x', n));
        input.extend_from_slice(b"\r\n");
        let mut p = RequestParser::new();
        let limits = Limits::default();
        let mut got = None;
        let mut fed = 0;
        let mut checked = 0;
        for chunk in input.chunks(1000) {
            p.read_target().put_slice(chunk);
            fed += chunk.len();
            if let Some(c) = p.next_command(&limits, false).unwrap() {
                got = Some(c);
            } else if fed > head.len() + BIG_ARG {
                // Mid-bulk: one buffer of exactly the declared size plus CRLF, whose spare room
                // (what the next read may fill) is exactly the part not yet received.
                let received = fed - head.len();
                assert_eq!(p.pending_bytes(), n + 2, "after {fed} bytes");
                assert_eq!(
                    p.read_target().chunk_mut().len(),
                    n + 2 - received,
                    "after {fed} bytes"
                );
                checked += 1;
            }
        }
        assert!(checked > 10, "the bulk was never seen in progress");
        let got = got.unwrap();
        assert_eq!(got[1].len(), n);
        assert!(got[1].iter().all(|&b| b == b'x'));
        assert_eq!(p.pending_bytes(), 0);
    }

    #[test]
    fn errors_have_redis_texts() {
        let e = |s: &[u8]| parse_all(s).unwrap_err().to_string();
        assert_eq!(e(b"*x\r\n"), "Protocol error: invalid multibulk length");
        assert_eq!(e(b"*1\r\n+x\r\n"), "Protocol error: expected '$', got '+'");
        assert_eq!(e(b"*1\r\n$-5\r\n"), "Protocol error: invalid bulk length");
        assert_eq!(
            e(b"*1\r\n$999999999999\r\n"),
            "Protocol error: invalid bulk length"
        );
        assert_eq!(
            e(b"SET \"a\n"),
            "Protocol error: unbalanced quotes in request"
        );
        assert_eq!(
            e(b"*3000000000\r\n"),
            "Protocol error: invalid multibulk length"
        );
    }
}
