//! Replies to Lua values and back, by Redis's rules (script_lua.c). A command's reply is encoded
//! in the script client's protocol and read back, so a script sees exactly what a client of that
//! protocol would: RESP2 maps as flat arrays, doubles as strings; RESP3 maps, sets, doubles and
//! big numbers as Redis's tables (`{map=...}`, `{set=...}`, `{double=...}`, `{big_number=...}`).

use crate::resp::{Out, Reply};
use bytes::Bytes;
use mlua::{Lua, Table, Value};
use std::borrow::Cow;

/// How deep a returned table may nest before the reply says so (Redis's Lua stack limit).
const MAX_DEPTH: usize = 1000;

/// `reply` as the Lua value `redis.call` returns, in protocol `resp`.
pub fn reply_to_lua(lua: &Lua, reply: &Reply, resp: u8) -> mlua::Result<Value> {
    // The common replies directly, as their encoding would read back.
    match reply {
        Reply::Int(i) => return Ok(Value::Number(*i as f64)),
        Reply::Bulk(b) => return lua.create_string(b).map(Value::String),
        Reply::ShortBulk { len, buf } => {
            return lua.create_string(&buf[..*len as usize]).map(Value::String)
        }
        Reply::Nil if resp == 2 => return Ok(Value::Boolean(false)),
        _ => {}
    }
    let mut out = Out::new();
    out.push(reply, resp);
    let mut bytes = Vec::with_capacity(out.len());
    while !out.is_empty() {
        let taken = {
            let mut sl = [std::io::IoSlice::new(&[]); 16];
            let n = out.slices(&mut sl);
            sl[..n]
                .iter()
                .map(|s| {
                    bytes.extend_from_slice(s);
                    s.len()
                })
                .sum::<usize>()
        };
        out.advance(taken);
    }
    let mut p = Parser { b: &bytes, at: 0 };
    p.value(lua).map(|v| v.unwrap_or(Value::Boolean(false)))
}

struct Parser<'a> {
    b: &'a [u8],
    at: usize,
}

impl Parser<'_> {
    fn line(&mut self) -> &[u8] {
        let start = self.at;
        let end = self.b[start..]
            .windows(2)
            .position(|w| w == b"\r\n")
            .map_or(self.b.len(), |p| start + p);
        self.at = (end + 2).min(self.b.len());
        &self.b[start..end]
    }

    fn int(line: &[u8]) -> i64 {
        crate::util::num::parse_i64(line).unwrap_or(0)
    }

    fn bulk(&mut self, len: i64) -> &[u8] {
        let len = len.max(0) as usize;
        let start = self.at.min(self.b.len());
        let end = (start + len).min(self.b.len());
        self.at = (end + 2).min(self.b.len());
        &self.b[start..end]
    }

    /// One value; `None` for a reply nothing is pushed for (an attribute's own value is read on).
    fn value(&mut self, lua: &Lua) -> mlua::Result<Option<Value>> {
        if self.at >= self.b.len() {
            return Ok(None);
        }
        let t = self.b[self.at];
        self.at += 1;
        let line = self.line().to_vec();
        let text = |l: &[u8]| lua.create_string(l).map(Value::String);
        let single = |k: &str, v: Value| -> mlua::Result<Value> {
            let t = lua.create_table()?;
            t.raw_set(k, v)?;
            Ok(Value::Table(t))
        };
        Ok(Some(match t {
            b'+' => single("ok", text(&line)?)?,
            b'-' => {
                let s = String::from_utf8_lossy(&line).into_owned();
                single("err", Value::String(lua.create_string(&s)?))?
            }
            b':' => Value::Number(Self::int(&line) as f64),
            b'$' => {
                let n = Self::int(&line);
                if n < 0 {
                    Value::Boolean(false)
                } else {
                    let s = self.bulk(n).to_vec();
                    text(&s)?
                }
            }
            b'*' | b'~' | b'>' => {
                let n = Self::int(&line);
                if n < 0 {
                    Value::Boolean(false)
                } else {
                    let tb = lua.create_table()?;
                    for i in 0..n {
                        let v = self.value(lua)?.unwrap_or(Value::Nil);
                        if t == b'~' {
                            tb.raw_set(v, true)?;
                        } else {
                            tb.raw_set(i + 1, v)?;
                        }
                    }
                    if t == b'~' {
                        single("set", Value::Table(tb))?
                    } else {
                        Value::Table(tb)
                    }
                }
            }
            b'%' => {
                let n = Self::int(&line);
                let tb = lua.create_table()?;
                for _ in 0..n {
                    let k = self.value(lua)?.unwrap_or(Value::Nil);
                    let v = self.value(lua)?.unwrap_or(Value::Nil);
                    if !k.is_nil() {
                        tb.raw_set(k, v)?;
                    }
                }
                single("map", Value::Table(tb))?
            }
            b'_' => Value::Nil,
            b'#' => Value::Boolean(line == b"t"),
            b',' => {
                let s = String::from_utf8_lossy(&line);
                let d = match s.as_ref() {
                    "inf" => f64::INFINITY,
                    "-inf" => f64::NEG_INFINITY,
                    "nan" => f64::NAN,
                    x => x.parse().unwrap_or(0.0),
                };
                single("double", Value::Number(d))?
            }
            b'(' => single("big_number", text(&line)?)?,
            b'=' => {
                let n = Self::int(&line);
                let s = self.bulk(n).to_vec();
                let (fmt, body) = if s.len() >= 4 {
                    s.split_at(4)
                } else {
                    (&s[..], &[][..])
                };
                let inner = lua.create_table()?;
                inner.raw_set("string", lua.create_string(body)?)?;
                inner.raw_set("format", lua.create_string(&fmt[..fmt.len().min(3)])?)?;
                single("verbatim_string", Value::Table(inner))?
            }
            b'|' => {
                let n = Self::int(&line);
                for _ in 0..n * 2 {
                    self.value(lua)?;
                }
                return self.value(lua);
            }
            _ => Value::Nil,
        }))
    }
}

/// A script's result as the reply to its caller (`luaReplyToRedisReply`); `resp` is the script
/// client's protocol (it decides what `true`/`false` become).
pub fn lua_to_reply(v: &Value, resp: u8, depth: usize) -> Reply {
    if depth > MAX_DEPTH {
        return Reply::error("ERR reached lua stack limit");
    }
    match v {
        Value::String(s) => Reply::Bulk(Bytes::copy_from_slice(&s.as_bytes())),
        Value::Boolean(b) => match (resp, b) {
            (2, true) => Reply::Int(1),
            (2, false) => Reply::Nil,
            (_, b) => Reply::Bool(*b),
        },
        Value::Integer(i) => Reply::Int(*i),
        Value::Number(n) => Reply::Int(c_trunc(*n)),
        Value::Table(t) => table_reply(t, resp, depth),
        _ => Reply::Nil,
    }
}

/// C's `(long long)` of a double as x86 does it: out of range and NaN give i64::MIN.
fn c_trunc(n: f64) -> i64 {
    if n.is_nan() || !(-9.223_372_036_854_776e18..9.223_372_036_854_776e18).contains(&n) {
        i64::MIN
    } else {
        n as i64
    }
}

fn field(t: &Table, k: &str) -> Value {
    t.raw_get::<Value>(k).unwrap_or(Value::Nil)
}

fn table_reply(t: &Table, resp: u8, depth: usize) -> Reply {
    if let Value::String(e) = field(t, "err") {
        return Reply::Error(Cow::Owned(super::engine::no_newlines(&e.to_string_lossy())));
    }
    if let Value::String(s) = field(t, "ok") {
        return Reply::Simple(Cow::Owned(super::engine::no_newlines(&s.to_string_lossy())));
    }
    match field(t, "double") {
        Value::Number(d) => return Reply::Double(d),
        Value::Integer(i) => return Reply::Double(i as f64),
        _ => {}
    }
    if let Value::String(s) = field(t, "big_number") {
        // Line breaks become spaces, as Redis's addReplyBigNum of a script's text does.
        let v: Vec<u8> = s
            .as_bytes()
            .iter()
            .map(|&c| if c == b'\r' || c == b'\n' { b' ' } else { c })
            .collect();
        return Reply::BigNumber(Bytes::from(v));
    }
    if let Value::Table(vt) = field(t, "verbatim_string") {
        if let (Value::String(f), Value::String(s)) = (field(&vt, "format"), field(&vt, "string")) {
            // Redis's addReplyVerbatim: the format's first three bytes, spaces for missing ones.
            let mut format = [b' '; 3];
            for (d, c) in format.iter_mut().zip(f.as_bytes().iter()) {
                *d = *c;
            }
            return Reply::VerbatimAs(format, Bytes::copy_from_slice(&s.as_bytes()));
        }
    }
    if let Value::Table(m) = field(t, "map") {
        let mut out = Vec::new();
        for (k, v) in m.pairs::<Value, Value>().flatten() {
            out.push((
                lua_to_reply(&k, resp, depth + 1),
                lua_to_reply(&v, resp, depth + 1),
            ));
        }
        return Reply::Map(out);
    }
    if let Value::Table(s) = field(t, "set") {
        let mut out = Vec::new();
        for (k, _) in s.pairs::<Value, Value>().flatten() {
            out.push(lua_to_reply(&k, resp, depth + 1));
        }
        return Reply::Set(out);
    }
    // An array up to its first nil.
    let mut out = Vec::new();
    for i in 1.. {
        match t.raw_get::<Value>(i) {
            Ok(Value::Nil) | Err(_) => break,
            Ok(v) => out.push(lua_to_reply(&v, resp, depth + 1)),
        }
    }
    Reply::Array(out)
}
