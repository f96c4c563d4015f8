//! The `cmsgpack` library Redis loads (lua-cmsgpack 0.4.0, `deps/lua/src/lua_cmsgpack.c`), in
//! Rust: `pack`, `unpack`, `unpack_one`, `unpack_limit`, with its encoding choices (tables of keys
//! 1..N as arrays, integral numbers as the smallest integer, other numbers as float32 when that
//! is lossless), its nesting limit (a table 16 levels down packs as nil), its error texts and its
//! limit of Lua's 8000 C stack slots when unpacking.

use super::bit::{error_at, type_name};
use mlua::{ffi, Function, Lua, Table, Value, Variadic};
use std::ffi::c_int;

/// `LUACMSGPACK_MAX_NESTING`: a table this deep packs as nil (so cyclic tables pack).
const MAX_NESTING: usize = 16;

/// Lua 5.1's `LUAI_MAXCSTACK`: lua_cmsgpack.c's `luaL_checkstack` fails past it.
const MAXCSTACK: usize = 8000;

/// `cmsgpack`'s functions in a table, for the sandbox to show read-only.
pub fn library(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.raw_set(
        "pack",
        lua.create_function(|lua, a: Variadic<Value>| {
            if a.is_empty() {
                return Err(arg_error(lua, 0, 0, "MessagePack pack needs input."));
            }
            let mut out = Vec::new();
            for v in a.iter() {
                encode(v, 0, &mut out)?;
            }
            lua.create_string(&out)
        })?,
    )?;
    // The unpackers return as many values as the input holds (up to ~8000), in the script's
    // own call (`spread`, a C function: a tail call keeps the script's frame for error
    // positions). The Rust part fills a table, because handing those values back from Rust
    // would take an mlua handle each, and mlua has 8000 in all.
    let raw = lua.create_function(|lua, a: Variadic<Value>| {
        let s = check_string(lua, &a, 1)?;
        unpack_full(lua, &s, 0, 0)
    })?;
    t.raw_set("unpack", spread(lua, raw)?)?;
    let raw = lua.create_function(|lua, a: Variadic<Value>| {
        let offset = opt_integer(lua, &a, 2)?;
        let s = check_string(lua, &a, 1)?;
        unpack_full(lua, &s, 1, offset)
    })?;
    t.raw_set("unpack_one", spread(lua, raw)?)?;
    let raw = lua.create_function(|lua, a: Variadic<Value>| {
        let limit = check_integer(lua, &a, 2)?;
        let offset = opt_integer(lua, &a, 3)?;
        let s = check_string(lua, &a, 1)?;
        unpack_full(lua, &s, limit, offset)
    })?;
    t.raw_set("unpack_limit", spread(lua, raw)?)?;
    t.raw_set("_NAME", "cmsgpack")?;
    t.raw_set("_VERSION", "lua-cmsgpack 0.4.0")?;
    t.raw_set("_COPYRIGHT", "Copyright (C) 2012, Salvatore Sanfilippo")?;
    t.raw_set("_DESCRIPTION", "MessagePack C implementation for Lua")?;
    Ok(t)
}

/// A C function that calls `raw` (its upvalue) with its arguments and returns the `n` values of
/// the table `raw` returns with `n`.
fn spread(lua: &Lua, raw: Function) -> mlua::Result<Function> {
    unsafe extern "C-unwind" fn call(l: *mut ffi::lua_State) -> c_int {
        // Only integers and pointers live in this frame: an error raised by `raw` (a longjmp)
        // crosses it, as it crosses every C function of Lua's.
        unsafe {
            let nargs = ffi::lua_gettop(l);
            ffi::lua_pushvalue(l, ffi::lua_upvalueindex(1));
            ffi::lua_insert(l, 1);
            ffi::lua_call(l, nargs, 2);
            let n = ffi::lua_tointeger(l, -1) as c_int;
            ffi::lua_settop(l, -2);
            // `unpack_full` returns fewer than MAXCSTACK values, so this holds; if it did
            // not, no values rather than a write past the stack.
            if n <= 0 || ffi::lua_checkstack(l, n) == 0 {
                return 0;
            }
            for i in 1..=n {
                ffi::lua_rawgeti(l, 1, i as ffi::lua_Integer);
            }
            n
        }
    }
    // SAFETY: the closure only takes its upvalue from the stack; `call` reads its upvalue and
    // arguments from the stack it is given and checks the room it pushes into.
    unsafe { lua.exec_raw::<Function>(raw, |l| ffi::lua_pushcclosure(l, call, 1)) }
}

/// `luaL_argerror` as seen from a function `depth` levels under the one the script called.
fn arg_error(lua: &Lua, depth: usize, i: usize, msg: &str) -> mlua::Error {
    let name = lua
        .inspect_stack(depth, |d| d.names().name.map(|n| n.into_owned()))
        .flatten()
        .unwrap_or_else(|| "?".into());
    error_at(
        lua,
        depth + 1,
        &format!("bad argument #{i} to '{name}' ({msg})"),
    )
}

/// `luaL_checklstring` from under the wrapper (a number is read as Lua writes it).
fn check_string(lua: &Lua, a: &[Value], i: usize) -> mlua::Result<Vec<u8>> {
    let s = match a.get(i - 1) {
        Some(Value::String(s)) => Some(s.as_bytes().to_vec()),
        Some(v @ (Value::Number(_) | Value::Integer(_))) => {
            lua.coerce_string(v.clone())?.map(|s| s.as_bytes().to_vec())
        }
        _ => None,
    };
    s.ok_or_else(|| {
        let got = type_name(a, i);
        arg_error(lua, 1, i, &format!("string expected, got {got}"))
    })
}

/// `luaL_checkinteger`: a number (or a string Lua reads as one) truncated as x86-64's C does.
fn check_integer(lua: &Lua, a: &[Value], i: usize) -> mlua::Result<i64> {
    let n = match a.get(i - 1) {
        Some(Value::Number(n)) => Some(*n),
        Some(Value::Integer(n)) => Some(*n as f64),
        Some(v @ Value::String(_)) => lua.coerce_number(v.clone())?,
        _ => None,
    };
    match n {
        Some(n) => Ok(c_int64(n)),
        None => {
            let got = type_name(a, i);
            Err(arg_error(lua, 1, i, &format!("number expected, got {got}")))
        }
    }
}

/// `luaL_optinteger(L, i, 0)`.
fn opt_integer(lua: &Lua, a: &[Value], i: usize) -> mlua::Result<i64> {
    match a.get(i - 1) {
        None | Some(Value::Nil) => Ok(0),
        Some(_) => check_integer(lua, a, i),
    }
}

/// C's `(int64_t)d` on x86-64: out of range (and NaN) gives INT64_MIN.
fn c_int64(d: f64) -> i64 {
    if !(-9_223_372_036_854_775_808.0..9_223_372_036_854_775_808.0).contains(&d) {
        i64::MIN
    } else {
        d as i64
    }
}

/// `mp_encode_lua_type`: one value at nesting `level` (0 for an argument of `pack`).
fn encode(v: &Value, level: usize, out: &mut Vec<u8>) -> mlua::Result<()> {
    match v {
        Value::String(s) => encode_bytes(&s.as_bytes(), out),
        Value::Boolean(b) => out.push(if *b { 0xc3 } else { 0xc2 }),
        Value::Integer(n) => encode_number(*n as f64, out),
        Value::Number(n) => encode_number(*n, out),
        Value::Table(t) if level < MAX_NESTING => encode_table(t, level, out)?,
        _ => out.push(0xc0),
    }
    Ok(())
}

fn encode_bytes(s: &[u8], out: &mut Vec<u8>) {
    let len = s.len();
    if len < 32 {
        out.push(0xa0 | len as u8);
    } else if len <= 0xff {
        out.extend_from_slice(&[0xd9, len as u8]);
    } else if len <= 0xffff {
        out.push(0xda);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        // lua_cmsgpack.c writes the low 32 bits of the length, as here.
        out.push(0xdb);
        out.extend_from_slice(&(len as u32).to_be_bytes());
    }
    out.extend_from_slice(s);
}

/// `mp_encode_lua_number`: an integer when `(int64_t)n == n`, else float32 when lossless, else
/// a double.
fn encode_number(n: f64, out: &mut Vec<u8>) {
    if !n.is_infinite() && c_int64(n) as f64 == n {
        encode_int(c_int64(n), out);
        return;
    }
    let f = n as f32;
    if f as f64 == n {
        out.push(0xca);
        out.extend_from_slice(&f.to_bits().to_be_bytes());
    } else {
        out.push(0xcb);
        out.extend_from_slice(&n.to_bits().to_be_bytes());
    }
}

fn encode_int(n: i64, out: &mut Vec<u8>) {
    if n >= 0 {
        if n <= 127 {
            out.push(n as u8);
        } else if n <= 0xff {
            out.extend_from_slice(&[0xcc, n as u8]);
        } else if n <= 0xffff {
            out.push(0xcd);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        } else if n <= 0xffff_ffff {
            out.push(0xce);
            out.extend_from_slice(&(n as u32).to_be_bytes());
        } else {
            out.push(0xcf);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
    } else if n >= -32 {
        out.push(n as i8 as u8);
    } else if n >= -128 {
        out.extend_from_slice(&[0xd0, n as i8 as u8]);
    } else if n >= -32768 {
        out.push(0xd1);
        out.extend_from_slice(&(n as i16).to_be_bytes());
    } else if n >= -2_147_483_648 {
        out.push(0xd2);
        out.extend_from_slice(&(n as i32).to_be_bytes());
    } else {
        out.push(0xd3);
        out.extend_from_slice(&n.to_be_bytes());
    }
}

/// An array or map header: fix form up to 15, then 16 and 32 bits (`base` is the fix form's,
/// `wide` the 16-bit form's byte).
fn encode_len(n: usize, base: u8, wide: u8, out: &mut Vec<u8>) {
    if n <= 15 {
        out.push(base | n as u8);
    } else if n <= 0xffff {
        out.push(wide);
        out.extend_from_slice(&(n as u16).to_be_bytes());
    } else {
        out.push(wide + 1);
        out.extend_from_slice(&(n as u32).to_be_bytes());
    }
}

/// `mp_encode_lua_table`: an array when the keys are exactly 1..N (each a number that C's `int`
/// holds; an empty table is an array), else a map in Lua's `next` order.
fn encode_table(t: &Table, level: usize, out: &mut Vec<u8>) -> mlua::Result<()> {
    let (mut count, mut max, mut array) = (0i64, 0i64, true);
    for pair in t.pairs::<Value, Value>() {
        let (k, _) = pair?;
        let n = match k {
            Value::Integer(n) => n as f64,
            Value::Number(n) => n,
            _ => {
                array = false;
                break;
            }
        };
        // IS_INT_EQUIVALENT: x86-64 turns an out-of-range double into INT_MIN.
        let as_int = if !(-2_147_483_648.0..2_147_483_648.0).contains(&n) {
            i32::MIN
        } else {
            n as i32
        };
        if n <= 0.0 || n.is_infinite() || as_int as f64 != n {
            array = false;
            break;
        }
        max = max.max(as_int as i64);
        count += 1;
    }
    if array && max == count {
        let len = t.raw_len();
        encode_len(len, 0x90, 0xdc, out);
        for j in 1..=len {
            encode(&t.raw_get::<Value>(j)?, level + 1, out)?;
        }
    } else {
        let n = t.pairs::<Value, Value>().count();
        encode_len(n, 0x80, 0xde, out);
        for pair in t.pairs::<Value, Value>() {
            let (k, v) = pair?;
            encode(&k, level + 1, out)?;
            encode(&v, level + 1, out)?;
        }
    }
    Ok(())
}

/// Why decoding stopped (lua_cmsgpack.c's cursor errors and its raised ones).
enum Stop {
    Eof,
    BadFormat,
    Raise(mlua::Error),
}

impl From<mlua::Error> for Stop {
    fn from(e: mlua::Error) -> Self {
        Stop::Raise(e)
    }
}

/// `mp_unpack_full`: up to `limit` values from `offset` (both 0: every value, no offset
/// returned), as a table of results and their count.
fn unpack_full(lua: &Lua, s: &[u8], limit: i64, offset: i64) -> mlua::Result<(Table, i64)> {
    let len = s.len();
    let decode_all = limit == 0 && offset == 0;
    if offset < 0 || limit < 0 {
        // lua_cmsgpack.c prints the input's length where it means the limit.
        return Err(error_at(
            lua,
            2,
            &format!(
                "Invalid request to unpack with offset of {} and limit of {}.",
                offset as i32, len as i32
            ),
        ));
    }
    if offset as u64 > len as u64 {
        return Err(error_at(
            lua,
            2,
            &format!(
                "Start offset {} greater than input length {}.",
                offset as i32, len as i32
            ),
        ));
    }
    let limit = if decode_all { i32::MAX as i64 } else { limit };
    let results = lua.create_table()?;
    let mut d = Decoder {
        lua,
        s,
        pos: offset as usize,
        path: lua.create_table()?,
        keys: lua.create_table()?,
    };
    let mut n = 0i64;
    if !decode_all {
        // The next offset comes first; it is set once known.
        n = 1;
    }
    let mut count = 0i64;
    while d.pos < len && count < limit {
        // On the C stack: the input string, then the values so far.
        let top = 1 + count as usize;
        match d.value(top) {
            Ok(v) => {
                results.raw_set(n + 1, v)?;
                n += 1;
                count += 1;
            }
            Err(Stop::Eof) => return Err(error_at(lua, 2, "Missing bytes in input.")),
            Err(Stop::BadFormat) => return Err(error_at(lua, 2, "Bad data format in input.")),
            Err(Stop::Raise(e)) => return Err(e),
        }
    }
    if !decode_all {
        if 1 + count as usize + 1 > MAXCSTACK {
            return Err(stack_overflow(lua, "in function mp_unpack_full"));
        }
        let next = if d.pos == len { -1 } else { d.pos as i64 };
        results.raw_set(1, next as f64)?;
    }
    Ok((results, n))
}

fn stack_overflow(lua: &Lua, what: &str) -> mlua::Error {
    error_at(lua, 2, &format!("stack overflow ({what})"))
}

/// An array or map being filled: its entries left, its next index (arrays) or whether its key
/// is read (maps), and the C stack height under its table.
struct Open {
    map: bool,
    left: u64,
    index: u64,
    keyed: bool,
    top: usize,
}

struct Decoder<'a> {
    lua: &'a Lua,
    s: &'a [u8],
    pos: usize,
    /// The open tables by depth, and each open map's read key, kept in Lua tables rather than
    /// Rust handles (mlua has 8000 handles, nesting can reach 4000).
    path: Table,
    keys: Table,
}

impl Decoder<'_> {
    fn need(&self, n: usize) -> Result<&[u8], Stop> {
        let rest = &self.s[self.pos..];
        if rest.len() < n {
            return Err(Stop::Eof);
        }
        Ok(&rest[..n])
    }

    fn be(&self, at: usize, n: usize) -> Result<u64, Stop> {
        let b = self.need(at + n)?;
        Ok(b[at..].iter().fold(0u64, |a, &x| (a << 8) | x as u64))
    }

    fn bytes(&mut self, head: usize, len: usize) -> Result<Value, Stop> {
        let b = self.need(head.saturating_add(len))?;
        let v = Value::String(self.lua.create_string(&b[head..])?);
        self.pos += head + len;
        Ok(v)
    }

    /// `mp_decode_to_lua_type` for one top-level value, `top` slots of the C stack in use;
    /// iterative, nested tables waiting in `path`.
    fn value(&mut self, top: usize) -> Result<Value, Stop> {
        let mut open: Vec<Open> = Vec::new();
        let mut done: Option<Value> = None;
        loop {
            if let Some(v) = done.take() {
                let depth = open.len();
                let Some(o) = open.last_mut() else {
                    return Ok(v);
                };
                let t: Table = self.path.raw_get(depth)?;
                if !o.map {
                    t.raw_set(o.index as f64, v)?;
                    o.index += 1;
                    o.left -= 1;
                } else if !o.keyed {
                    self.keys.raw_set(depth, v)?;
                    o.keyed = true;
                } else {
                    let k: Value = self.keys.raw_get(depth)?;
                    // lua_settable's errors, raised with no position (a C function runs).
                    match k {
                        Value::Nil => return Err(mlua::Error::runtime("table index is nil").into()),
                        Value::Number(n) if n.is_nan() => {
                            return Err(mlua::Error::runtime("table index is NaN").into())
                        }
                        _ => {}
                    }
                    t.raw_set(k, v)?;
                    self.keys.raw_set(depth, Value::Nil)?;
                    o.keyed = false;
                    o.left -= 1;
                }
            }
            // The C stack height where the next value goes, or a finished table.
            let at = match open.last() {
                None => top,
                Some(o) if o.left == 0 => {
                    let depth = open.len();
                    open.pop();
                    let t: Table = self.path.raw_get(depth)?;
                    self.path.raw_set(depth, Value::Nil)?;
                    done = Some(Value::Table(t));
                    continue;
                }
                // Under a value: its table, and the array index or the map key.
                Some(o) => o.top + 1 + usize::from(!o.map || o.keyed),
            };
            let b = self.need(1)?[0];
            if at + 1 > MAXCSTACK {
                return Err(stack_overflow(
                    self.lua,
                    "too many return values at once; use unpack_one or unpack_limit instead.",
                )
                .into());
            }
            let (map, len) = match b {
                0xc0 => (false, None),
                0xc2 | 0xc3 => (false, None),
                0xca..=0xd3 => {
                    done = Some(self.number(b)?);
                    continue;
                }
                0xd9 => {
                    let l = self.be(1, 1)? as usize;
                    done = Some(self.bytes(2, l)?);
                    continue;
                }
                0xda => {
                    let l = self.be(1, 2)? as usize;
                    done = Some(self.bytes(3, l)?);
                    continue;
                }
                0xdb => {
                    let l = self.be(1, 4)? as usize;
                    done = Some(self.bytes(5, l)?);
                    continue;
                }
                0xdc => (false, Some((3, self.be(1, 2)?))),
                0xdd => (false, Some((5, self.be(1, 4)?))),
                0xde => (true, Some((3, self.be(1, 2)?))),
                0xdf => (true, Some((5, self.be(1, 4)?))),
                0x00..=0x7f => {
                    self.pos += 1;
                    done = Some(Value::Number(b as f64));
                    continue;
                }
                0xe0..=0xff => {
                    self.pos += 1;
                    done = Some(Value::Number(b as i8 as f64));
                    continue;
                }
                0xa0..=0xbf => {
                    done = Some(self.bytes(1, (b & 0x1f) as usize)?);
                    continue;
                }
                0x90..=0x9f => (false, Some((1, (b & 0xf) as u64))),
                0x80..=0x8f => (true, Some((1, (b & 0xf) as u64))),
                _ => return Err(Stop::BadFormat),
            };
            let Some((head, left)) = len else {
                self.pos += 1;
                done = Some(match b {
                    0xc0 => Value::Nil,
                    _ => Value::Boolean(b == 0xc3),
                });
                continue;
            };
            self.pos += head;
            if !map && at + 2 > MAXCSTACK {
                return Err(stack_overflow(self.lua, "in function mp_decode_to_lua_array").into());
            }
            let t = self.lua.create_table()?;
            self.path.raw_set(open.len() + 1, t)?;
            open.push(Open {
                map,
                left,
                index: 1,
                keyed: false,
                top: at,
            });
        }
    }

    fn number(&mut self, b: u8) -> Result<Value, Stop> {
        let (n, size) = match b {
            0xcc => (self.be(1, 1)? as f64, 2),
            0xcd => (self.be(1, 2)? as f64, 3),
            0xce => (self.be(1, 4)? as f64, 5),
            // lua_pushunsigned is lua_pushinteger on 64 bits: past 2^63 it wraps negative.
            0xcf => (self.be(1, 8)? as i64 as f64, 9),
            0xd0 => (self.be(1, 1)? as u8 as i8 as f64, 2),
            0xd1 => (self.be(1, 2)? as u16 as i16 as f64, 3),
            0xd2 => (self.be(1, 4)? as u32 as i32 as f64, 5),
            0xd3 => (self.be(1, 8)? as i64 as f64, 9),
            0xca => (f32::from_bits(self.be(1, 4)? as u32) as f64, 5),
            _ => (f64::from_bits(self.be(1, 8)?), 9),
        };
        self.pos += size;
        Ok(Value::Number(n))
    }
}
