//! The `cjson` library Redis loads (Lua CJSON 2.1.0, `deps/lua/src/lua_cjson.c`), in Rust:
//! `encode`, `decode`, the configuration functions and `cjson.null`, with Redis's defaults
//! (numbers as `%.14g`, `/` escaped, sparse arrays refused past ratio 2 and index 10, depth 1000),
//! its error texts and its quirks (a NUL ends the input; `0x10`, `inf`, `nan`, `+1` are numbers as
//! strtod reads them).

use super::bit::{arg_error, check_bytes, lua_error, type_name};
use mlua::{Function, LightUserData, Lua, Table, Value, Variadic};
use std::sync::{Arc, Mutex};

/// Lua 5.1's `LUAI_MAXCSTACK`: `lua_checkstack` fails past it, which bounds nesting (and this
/// code's recursion) whatever depth limit a script sets.
const MAXCSTACK: usize = 8000;

/// A library's settings, shared by its functions (lua_cjson.c's `json_config_t` upvalue).
#[derive(Clone, Copy)]
struct Config {
    sparse_convert: bool,
    sparse_ratio: i32,
    sparse_safe: i32,
    encode_max_depth: i32,
    decode_max_depth: i32,
    /// 0 refuse, 1 encode (`nan`, `inf`), 2 encode as `null`.
    encode_invalid_numbers: i32,
    decode_invalid_numbers: bool,
    keep_buffer: bool,
    precision: i32,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            sparse_convert: false,
            sparse_ratio: 2,
            sparse_safe: 10,
            encode_max_depth: 1000,
            decode_max_depth: 1000,
            encode_invalid_numbers: 0,
            decode_invalid_numbers: true,
            keep_buffer: true,
            precision: 14,
        }
    }
}

type Shared = Arc<Mutex<Config>>;

fn get(cfg: &Shared) -> Config {
    cfg.lock().map(|c| *c).unwrap_or_default()
}

fn set(cfg: &Shared, f: impl FnOnce(&mut Config)) {
    if let Ok(mut c) = cfg.lock() {
        f(&mut c);
    }
}

/// `cjson`'s functions in a table, for the sandbox to show read-only (and for `cjson.new`).
pub fn library(lua: &Lua) -> mlua::Result<Table> {
    // The raw `next` of Lua's base library, taken before the sandbox replaces the globals.
    new_library(lua, lua.globals().raw_get("next")?)
}

fn new_library(lua: &Lua, next: Function) -> mlua::Result<Table> {
    let cfg: Shared = Arc::new(Mutex::new(Config::default()));
    let t = lua.create_table()?;
    let c = cfg.clone();
    let n = next.clone();
    t.raw_set(
        "encode",
        lua.create_function(move |lua, mut a: Variadic<Value>| {
            if a.len() != 1 {
                return Err(arg_error(lua, 1, "expected 1 argument"));
            }
            let cfg = get(&c);
            let mut out = Vec::new();
            let e = Encoder {
                lua,
                cfg: &cfg,
                next: &n,
            };
            e.encode(a.remove(0), &mut out)?;
            lua.create_string(&out)
        })?,
    )?;
    let c = cfg.clone();
    t.raw_set(
        "decode",
        lua.create_function(move |lua, a: Variadic<Value>| {
            if a.len() != 1 {
                return Err(arg_error(lua, 1, "expected 1 argument"));
            }
            let data = check_bytes(lua, &a, 1)?;
            decode(lua, &get(&c), &data)
        })?,
    )?;
    let c = cfg.clone();
    t.raw_set(
        "encode_sparse_array",
        lua.create_function(move |lua, a: Variadic<Value>| {
            arg_init(lua, &a, 3)?;
            let mut now = get(&c);
            if let Some(v) = enum_option(lua, &a, 1, BOOL_OPTIONS)? {
                now.sparse_convert = v == 1;
            }
            int_option(lua, &a, 2, &mut now.sparse_ratio, 0, i32::MAX)?;
            int_option(lua, &a, 3, &mut now.sparse_safe, 0, i32::MAX)?;
            set(&c, |x| *x = now);
            Ok((
                Value::Boolean(now.sparse_convert),
                now.sparse_ratio as f64,
                now.sparse_safe as f64,
            ))
        })?,
    )?;
    type Field = fn(&mut Config) -> &mut i32;
    let ints: [(&str, Field, i32, i32); 3] = [
        ("encode_max_depth", |c| &mut c.encode_max_depth, 1, i32::MAX),
        ("decode_max_depth", |c| &mut c.decode_max_depth, 1, i32::MAX),
        ("encode_number_precision", |c| &mut c.precision, 1, 14),
    ];
    for (name, field, min, max) in ints {
        let c = cfg.clone();
        t.raw_set(
            name,
            lua.create_function(move |lua, a: Variadic<Value>| {
                arg_init(lua, &a, 1)?;
                let mut now = get(&c);
                int_option(lua, &a, 1, field(&mut now), min, max)?;
                set(&c, |x| *x = now);
                Ok(*field(&mut now) as f64)
            })?,
        )?;
    }
    type Flag = fn(&mut Config) -> &mut bool;
    let flags: [(&str, Flag); 2] = [
        ("encode_keep_buffer", |c| &mut c.keep_buffer),
        ("decode_invalid_numbers", |c| &mut c.decode_invalid_numbers),
    ];
    for (name, field) in flags {
        let c = cfg.clone();
        t.raw_set(
            name,
            lua.create_function(move |lua, a: Variadic<Value>| {
                arg_init(lua, &a, 1)?;
                let mut now = get(&c);
                if let Some(v) = enum_option(lua, &a, 1, BOOL_OPTIONS)? {
                    *field(&mut now) = v == 1;
                }
                set(&c, |x| *x = now);
                Ok(*field(&mut now))
            })?,
        )?;
    }
    let c = cfg.clone();
    t.raw_set(
        "encode_invalid_numbers",
        lua.create_function(move |lua, a: Variadic<Value>| {
            arg_init(lua, &a, 1)?;
            let mut now = get(&c);
            if let Some(v) = enum_option(lua, &a, 1, &["off", "on", "null"])? {
                now.encode_invalid_numbers = v;
            }
            set(&c, |x| *x = now);
            Ok(match now.encode_invalid_numbers {
                0 => Value::Boolean(false),
                1 => Value::Boolean(true),
                _ => Value::String(lua.create_string("null")?),
            })
        })?,
    )?;
    t.raw_set(
        "new",
        lua.create_function(move |lua, ()| new_library(lua, next.clone()))?,
    )?;
    t.raw_set(
        "null",
        Value::LightUserData(LightUserData(std::ptr::null_mut())),
    )?;
    t.raw_set("_NAME", "cjson")?;
    t.raw_set("_VERSION", "2.1.0")?;
    Ok(t)
}

const BOOL_OPTIONS: &[&str] = &["off", "on"];

/// `json_arg_init`: at most `n` arguments.
fn arg_init(lua: &Lua, a: &[Value], n: usize) -> mlua::Result<()> {
    if a.len() > n {
        return Err(arg_error(lua, n + 1, "found too many arguments"));
    }
    Ok(())
}

/// `json_enum_option`: argument `i` as a boolean (bool options only) or one of `options`' words,
/// its index; `None` when absent or nil.
fn enum_option(lua: &Lua, a: &[Value], i: usize, options: &[&str]) -> mlua::Result<Option<i32>> {
    match a.get(i - 1) {
        None | Some(Value::Nil) => Ok(None),
        Some(Value::Boolean(b)) => Ok(Some(*b as i32)),
        Some(v) => {
            let s = match v {
                Value::String(s) => s.as_bytes().to_vec(),
                Value::Number(_) | Value::Integer(_) => lua
                    .coerce_string(v.clone())?
                    .map(|s| s.as_bytes().to_vec())
                    .unwrap_or_default(),
                _ => {
                    let got = type_name(a, i);
                    return Err(arg_error(lua, i, &format!("string expected, got {got}")));
                }
            };
            match options.iter().position(|o| o.as_bytes() == s.as_slice()) {
                Some(p) => Ok(Some(p as i32)),
                None => Err(arg_error(
                    lua,
                    i,
                    &format!("invalid option '{}'", String::from_utf8_lossy(&s)),
                )),
            }
        }
    }
}

/// `json_integer_option`: argument `i`, when given, as an integer in `min..=max` stored in
/// `setting` (the range error names argument 1 whatever `i` is, as lua_cjson.c does).
fn int_option(
    lua: &Lua,
    a: &[Value],
    i: usize,
    setting: &mut i32,
    min: i32,
    max: i32,
) -> mlua::Result<()> {
    let v = match a.get(i - 1) {
        None | Some(Value::Nil) => return Ok(()),
        Some(Value::Number(n)) => Some(*n),
        Some(Value::Integer(n)) => Some(*n as f64),
        Some(v @ Value::String(_)) => lua.coerce_number(v.clone())?,
        _ => None,
    };
    let Some(n) = v else {
        let got = type_name(a, i);
        return Err(arg_error(lua, i, &format!("number expected, got {got}")));
    };
    // lua_Integer (64 bits) truncated, then C's int.
    let n = n as i64 as i32;
    if n < min || n > max {
        return Err(arg_error(
            lua,
            1,
            &format!("expected integer between {min} and {max}"),
        ));
    }
    *setting = n;
    Ok(())
}

/// Lua's name of a value's type, as `lua_typename` gives it.
fn lua_type(v: &Value) -> &'static str {
    match v {
        Value::Nil => "nil",
        Value::Boolean(_) => "boolean",
        Value::Integer(_) | Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Table(_) => "table",
        Value::Function(_) => "function",
        Value::Thread(_) => "thread",
        _ => "userdata",
    }
}

struct Encoder<'a> {
    lua: &'a Lua,
    cfg: &'a Config,
    /// Lua's `next` (lua_next, as lua_cjson.c walks objects).
    next: &'a Function,
}

impl Encoder<'_> {
    fn fail(&self, v: &Value, reason: &str) -> mlua::Error {
        lua_error(
            self.lua,
            &format!("Cannot serialise {}: {reason}", lua_type(v)),
        )
    }

    /// `json_append_data`, with an explicit stack rather than recursion (a script may allow
    /// nesting thousands deep). The tables being walked and their iteration keys wait in Lua
    /// tables, not in Rust handles: mlua keeps each handle in a Lua stack slot, and those are as
    /// few as 8000. `top` is how many Lua stack slots lua_cjson.c would be using, for its
    /// `lua_checkstack` limit: one per array level, two (key, value) per object level.
    fn encode(&self, root: Value, out: &mut Vec<u8>) -> mlua::Result<()> {
        enum Items {
            Array(i32, i32),
            Object(bool),
        }
        let path = self.lua.create_table()?;
        let keys = self.lua.create_table()?;
        let mut stack: Vec<(Items, i32, usize)> = Vec::new();
        let mut next = Some((root, 0, 1usize));
        loop {
            if let Some((v, depth, top)) = next.take() {
                match &v {
                    Value::Table(t) => {
                        let depth = depth + 1;
                        if depth > self.cfg.encode_max_depth || top + 3 > MAXCSTACK {
                            return Err(lua_error(
                                self.lua,
                                &format!("Cannot serialise, excessive nesting ({depth})"),
                            ));
                        }
                        let len = self.array_length(t, &v)?;
                        path.raw_set(stack.len() + 1, t)?;
                        if len > 0 {
                            out.push(b'[');
                            stack.push((Items::Array(1, len), depth, top));
                        } else {
                            out.push(b'{');
                            keys.raw_set(stack.len() + 1, Value::Nil)?;
                            stack.push((Items::Object(false), depth, top));
                        }
                    }
                    other => self.scalar(other, out)?,
                }
            }
            let level = stack.len();
            let Some((items, depth, top)) = stack.last_mut() else {
                return Ok(());
            };
            let t: Table = path.raw_get(level)?;
            match items {
                Items::Array(i, len) => {
                    if *i > *len {
                        out.push(b']');
                        stack.pop();
                        continue;
                    }
                    if *i > 1 {
                        out.push(b',');
                    }
                    let e: Value = t.raw_get(*i)?;
                    *i += 1;
                    next = Some((e, *depth, *top + 1));
                }
                Items::Object(comma) => {
                    let k: Value = keys.raw_get(level)?;
                    let (k, e): (Value, Value) = self.next.call((t, k))?;
                    if k.is_nil() {
                        out.push(b'}');
                        stack.pop();
                        continue;
                    }
                    keys.raw_set(level, &k)?;
                    if *comma {
                        out.push(b',');
                    }
                    *comma = true;
                    match &k {
                        Value::Number(_) | Value::Integer(_) => {
                            out.push(b'"');
                            self.number(&k, out)?;
                            out.extend_from_slice(b"\":");
                        }
                        Value::String(s) => {
                            append_string(&s.as_bytes(), out);
                            out.push(b':');
                        }
                        _ => return Err(self.fail(&k, "table key must be a number or string")),
                    }
                    next = Some((e, *depth, *top + 2));
                }
            }
        }
    }

    /// A value that is not a table.
    fn scalar(&self, v: &Value, out: &mut Vec<u8>) -> mlua::Result<()> {
        match v {
            Value::String(s) => append_string(&s.as_bytes(), out),
            Value::Number(_) | Value::Integer(_) => self.number(v, out)?,
            Value::Boolean(true) => out.extend_from_slice(b"true"),
            Value::Boolean(false) => out.extend_from_slice(b"false"),
            Value::Nil => out.extend_from_slice(b"null"),
            Value::LightUserData(p) if p.0.is_null() => out.extend_from_slice(b"null"),
            _ => return Err(self.fail(v, "type not supported")),
        }
        Ok(())
    }

    /// `lua_array_length`: the largest index of a table whose keys are all integers ≥ 1, else -1
    /// (an object); an excessively sparse array is an error or an object.
    fn array_length(&self, t: &Table, v: &Value) -> mlua::Result<i32> {
        let (mut max, mut items) = (0i32, 0i64);
        for pair in t.clone().pairs::<Value, Value>() {
            let (k, _) = pair?;
            let k = match k {
                Value::Number(n) => n,
                Value::Integer(n) => n as f64,
                _ => return Ok(-1),
            };
            if k == 0.0 || k.floor() != k || k < 1.0 {
                return Ok(-1);
            }
            if k > max as f64 {
                // C's double → int conversion of an index past INT_MAX gives INT_MIN (x86-64).
                max = if k <= i32::MAX as f64 {
                    k as i32
                } else {
                    i32::MIN
                };
            }
            items += 1;
        }
        let c = self.cfg;
        if c.sparse_ratio > 0 && max as i64 > items * c.sparse_ratio as i64 && max > c.sparse_safe {
            if !c.sparse_convert {
                return Err(self.fail(v, "excessively sparse array"));
            }
            return Ok(-1);
        }
        Ok(max)
    }

    /// `json_append_number`.
    fn number(&self, v: &Value, out: &mut Vec<u8>) -> mlua::Result<()> {
        let n = match v {
            Value::Number(n) => *n,
            Value::Integer(n) => *n as f64,
            _ => 0.0,
        };
        match self.cfg.encode_invalid_numbers {
            0 if !n.is_finite() => return Err(self.fail(v, "must not be NaN or Inf")),
            1 if n.is_nan() => {
                out.extend_from_slice(b"nan");
                return Ok(());
            }
            2 if !n.is_finite() => {
                out.extend_from_slice(b"null");
                return Ok(());
            }
            _ => {}
        }
        out.extend_from_slice(fmt_g(n, self.cfg.precision as usize).as_bytes());
        Ok(())
    }
}

/// `json_append_string`: quoted, with lua_cjson's escapes (control bytes, `"`, `\`, `/`, DEL);
/// other bytes (UTF-8 or not) as they are.
fn append_string(s: &[u8], out: &mut Vec<u8>) {
    out.push(b'"');
    for &c in s {
        match c {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'/' => out.extend_from_slice(b"\\/"),
            0x08 => out.extend_from_slice(b"\\b"),
            b'\t' => out.extend_from_slice(b"\\t"),
            b'\n' => out.extend_from_slice(b"\\n"),
            0x0c => out.extend_from_slice(b"\\f"),
            b'\r' => out.extend_from_slice(b"\\r"),
            0..=0x1f | 0x7f => {
                out.extend_from_slice(format!("\\u{:04x}", c).as_bytes());
            }
            _ => out.push(c),
        }
    }
    out.push(b'"');
}

/// C's `%.<prec>g` (glibc's texts for infinities and NaN).
pub fn fmt_g(n: f64, prec: usize) -> String {
    if n.is_nan() {
        return if n.is_sign_negative() { "-nan" } else { "nan" }.into();
    }
    if n.is_infinite() {
        return if n < 0.0 { "-inf" } else { "inf" }.into();
    }
    let prec = prec.max(1);
    let sci = format!("{:.*e}", prec - 1, n);
    let (mant, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if exp < -4 || exp >= prec as i32 {
        let mant = strip_zeros(mant);
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{mant}e{sign}{:02}", exp.abs())
    } else {
        let decimals = (prec as i32 - 1 - exp).max(0) as usize;
        strip_zeros(&format!("{:.*}", decimals, n)).to_string()
    }
}

fn strip_zeros(s: &str) -> &str {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.')
    } else {
        s
    }
}

// ===== Decoding =====

#[derive(Clone, Copy, PartialEq, Debug)]
enum Tok {
    ObjBegin,
    ObjEnd,
    ArrBegin,
    ArrEnd,
    Str,
    Num(f64),
    Bool(bool),
    Null,
    Colon,
    Comma,
    End,
    Error(&'static str),
}

impl Tok {
    fn name(&self) -> &'static str {
        match self {
            Tok::ObjBegin => "T_OBJ_BEGIN",
            Tok::ObjEnd => "T_OBJ_END",
            Tok::ArrBegin => "T_ARR_BEGIN",
            Tok::ArrEnd => "T_ARR_END",
            Tok::Str => "T_STRING",
            Tok::Num(_) => "T_NUMBER",
            Tok::Bool(_) => "T_BOOLEAN",
            Tok::Null => "T_NULL",
            Tok::Colon => "T_COLON",
            Tok::Comma => "T_COMMA",
            Tok::End => "T_END",
            Tok::Error(e) => e,
        }
    }
}

struct Parser<'a> {
    lua: &'a Lua,
    cfg: &'a Config,
    data: &'a [u8],
    ptr: usize,
    depth: i32,
    /// The last string token's bytes.
    tmp: Vec<u8>,
    /// Where the last token starts (0-based), as lua_cjson.c reports it.
    index: usize,
}

fn decode(lua: &Lua, cfg: &Config, data: &[u8]) -> mlua::Result<Value> {
    if data.len() >= 2 && (data[0] == 0 || data[1] == 0) {
        return Err(lua_error(
            lua,
            "JSON parser does not support UTF-16 or UTF-32",
        ));
    }
    let mut p = Parser {
        lua,
        cfg,
        data,
        ptr: 0,
        depth: 0,
        tmp: Vec::new(),
        index: 0,
    };
    let tok = p.next();
    let v = p.value(tok)?;
    let tok = p.next();
    if tok != Tok::End {
        return Err(p.fail("the end", tok));
    }
    Ok(v)
}

impl Parser<'_> {
    /// The byte at `i`, 0 past the end (the C string's terminator).
    fn at(&self, i: usize) -> u8 {
        self.data.get(i).copied().unwrap_or(0)
    }

    fn fail(&self, expected: &str, tok: Tok) -> mlua::Error {
        lua_error(
            self.lua,
            &format!(
                "Expected {expected} but found {} at character {}",
                tok.name(),
                self.index + 1
            ),
        )
    }

    fn error(&mut self, e: &'static str) -> Tok {
        self.index = self.ptr;
        Tok::Error(e)
    }

    /// `json_decode_descend`.
    fn descend(&mut self, top: usize, slots: usize) -> mlua::Result<()> {
        self.depth += 1;
        if self.depth <= self.cfg.decode_max_depth && top + slots <= MAXCSTACK {
            return Ok(());
        }
        Err(lua_error(
            self.lua,
            &format!(
                "Found too many nested data structures ({}) at character {}",
                self.depth, self.ptr
            ),
        ))
    }

    /// `json_process_value` and the object and array contexts, with an explicit stack rather
    /// than recursion; the open containers and their pending keys wait in Lua tables (see the
    /// encoder); `top` counts Lua stack slots as in the encoder.
    fn value(&mut self, mut tok: Tok) -> mlua::Result<Value> {
        let path = self.lua.create_table()?;
        let keys = self.lua.create_table()?;
        // Per open container: its next array index (0 for an object), and its `top`.
        let mut stack: Vec<(i64, usize)> = Vec::new();
        let mut top = 1;
        loop {
            let mut v = match tok {
                Tok::Str => Value::String(self.lua.create_string(&self.tmp)?),
                Tok::Num(n) => Value::Number(n),
                Tok::Bool(b) => Value::Boolean(b),
                Tok::Null => Value::LightUserData(LightUserData(std::ptr::null_mut())),
                Tok::ObjBegin => {
                    self.descend(top, 3)?;
                    let t = self.lua.create_table()?;
                    tok = self.next();
                    if tok == Tok::ObjEnd {
                        self.depth -= 1;
                        Value::Table(t)
                    } else {
                        let key = self.key(tok)?;
                        tok = self.next();
                        path.raw_set(stack.len() + 1, t)?;
                        keys.raw_set(stack.len() + 1, key)?;
                        stack.push((0, top));
                        top += 2;
                        continue;
                    }
                }
                Tok::ArrBegin => {
                    self.descend(top, 2)?;
                    let t = self.lua.create_table()?;
                    tok = self.next();
                    if tok == Tok::ArrEnd {
                        self.depth -= 1;
                        Value::Table(t)
                    } else {
                        path.raw_set(stack.len() + 1, t)?;
                        stack.push((1, top));
                        top += 1;
                        continue;
                    }
                }
                other => return Err(self.fail("value", other)),
            };
            // Store the value in its container, closing the containers that end here.
            loop {
                let level = stack.len();
                let Some((i, ftop)) = stack.last_mut() else {
                    return Ok(v);
                };
                let t: Table = path.raw_get(level)?;
                let object = *i == 0;
                if object {
                    let key: Value = keys.raw_get(level)?;
                    t.raw_set(key, v)?;
                } else {
                    t.raw_set(*i, v)?;
                    *i += 1;
                }
                tok = self.next();
                if tok == if object { Tok::ObjEnd } else { Tok::ArrEnd } {
                    self.depth -= 1;
                    top = *ftop;
                    stack.pop();
                    path.raw_set(level, Value::Nil)?;
                    v = Value::Table(t);
                    continue;
                }
                if tok != Tok::Comma {
                    let what = if object {
                        "comma or object end"
                    } else {
                        "comma or array end"
                    };
                    return Err(self.fail(what, tok));
                }
                tok = self.next();
                if object {
                    let key = self.key(tok)?;
                    keys.raw_set(level, key)?;
                    tok = self.next();
                }
                break;
            }
        }
    }

    /// An object's key and its colon (the value's token is next).
    fn key(&mut self, tok: Tok) -> mlua::Result<mlua::String> {
        if tok != Tok::Str {
            return Err(self.fail("object key string", tok));
        }
        let key = self.lua.create_string(&self.tmp)?;
        let tok = self.next();
        if tok != Tok::Colon {
            return Err(self.fail("colon", tok));
        }
        Ok(key)
    }

    /// `json_next_token`.
    fn next(&mut self) -> Tok {
        while matches!(self.at(self.ptr), b' ' | b'\t' | b'\n' | b'\r') {
            self.ptr += 1;
        }
        self.index = self.ptr;
        let c = self.at(self.ptr);
        let single = match c {
            b'{' => Some(Tok::ObjBegin),
            b'}' => Some(Tok::ObjEnd),
            b'[' => Some(Tok::ArrBegin),
            b']' => Some(Tok::ArrEnd),
            b',' => Some(Tok::Comma),
            b':' => Some(Tok::Colon),
            _ => None,
        };
        if let Some(t) = single {
            self.ptr += 1;
            return t;
        }
        match c {
            0 => Tok::End,
            b'"' => self.string(),
            b'-' | b'0'..=b'9' => {
                if !self.cfg.decode_invalid_numbers && self.invalid_number() {
                    return self.error("invalid number");
                }
                self.number()
            }
            b'f' | b'i' | b'I' | b'n' | b'N' | b't' | b'+' => {
                let rest = &self.data[self.ptr.min(self.data.len())..];
                if rest.starts_with(b"true") {
                    self.ptr += 4;
                    Tok::Bool(true)
                } else if rest.starts_with(b"false") {
                    self.ptr += 5;
                    Tok::Bool(false)
                } else if rest.starts_with(b"null") {
                    self.ptr += 4;
                    Tok::Null
                } else if self.cfg.decode_invalid_numbers && self.invalid_number() {
                    self.number()
                } else {
                    self.error("invalid token")
                }
            }
            _ => self.error("invalid token"),
        }
    }

    /// `json_is_invalid_number`: what strtod reads but JSON does not allow.
    fn invalid_number(&self) -> bool {
        let mut p = self.ptr;
        if self.at(p) == b'+' {
            return true;
        }
        if self.at(p) == b'-' {
            p += 1;
        }
        let c = self.at(p);
        if c == b'0' {
            let c2 = self.at(p + 1);
            return c2 | 0x20 == b'x' || c2.is_ascii_digit();
        } else if c <= b'9' {
            return false;
        }
        let word = |w: &[u8]| (0..3).all(|i| self.at(p + i).to_ascii_lowercase() == w[i]);
        word(b"inf") || word(b"nan")
    }

    fn number(&mut self) -> Tok {
        match strtod(&self.data[self.ptr.min(self.data.len())..]) {
            Some((n, used)) => {
                self.ptr += used;
                Tok::Num(n)
            }
            None => self.error("invalid number"),
        }
    }

    /// `json_next_string_token`: the string's bytes into `tmp`.
    fn string(&mut self) -> Tok {
        self.ptr += 1;
        self.tmp.clear();
        loop {
            let mut c = self.at(self.ptr);
            if c == b'"' {
                break;
            }
            if c == 0 {
                return self.error("unexpected end of string");
            }
            if c == b'\\' {
                c = match self.at(self.ptr + 1) {
                    b'"' => b'"',
                    b'\\' => b'\\',
                    b'/' => b'/',
                    b'b' => 0x08,
                    b't' => b'\t',
                    b'n' => b'\n',
                    b'f' => 0x0c,
                    b'r' => b'\r',
                    b'u' => {
                        if self.unicode_escape() {
                            continue;
                        }
                        return self.error("invalid unicode escape code");
                    }
                    _ => return self.error("invalid escape code"),
                };
                self.ptr += 1;
            }
            self.tmp.push(c);
            self.ptr += 1;
        }
        self.ptr += 1;
        Tok::Str
    }

    fn hex4(&self, at: usize) -> Option<u32> {
        let mut v = 0;
        for i in 0..4 {
            v = v << 4 | (self.at(at + i) as char).to_digit(16)?;
        }
        Some(v)
    }

    /// `json_append_unicode_escape`: `\uXXXX` (or a surrogate pair) as UTF-8 into `tmp`.
    fn unicode_escape(&mut self) -> bool {
        let Some(mut cp) = self.hex4(self.ptr + 2) else {
            return false;
        };
        let mut len = 6;
        if cp & 0xF800 == 0xD800 {
            if cp & 0x400 != 0 || self.at(self.ptr + 6) != b'\\' || self.at(self.ptr + 7) != b'u' {
                return false;
            }
            let Some(low) = self.hex4(self.ptr + 8) else {
                return false;
            };
            if low & 0xFC00 != 0xDC00 {
                return false;
            }
            cp = (((cp & 0x3FF) << 10) | (low & 0x3FF)) + 0x10000;
            len = 12;
        }
        let t = &mut self.tmp;
        if cp <= 0x7F {
            t.push(cp as u8);
        } else if cp <= 0x7FF {
            t.extend_from_slice(&[(cp >> 6) as u8 | 0xC0, (cp & 0x3F) as u8 | 0x80]);
        } else if cp <= 0xFFFF {
            t.extend_from_slice(&[
                (cp >> 12) as u8 | 0xE0,
                ((cp >> 6) & 0x3F) as u8 | 0x80,
                (cp & 0x3F) as u8 | 0x80,
            ]);
        } else {
            t.extend_from_slice(&[
                (cp >> 18) as u8 | 0xF0,
                ((cp >> 12) & 0x3F) as u8 | 0x80,
                ((cp >> 6) & 0x3F) as u8 | 0x80,
                (cp & 0x3F) as u8 | 0x80,
            ]);
        }
        self.ptr += len;
        true
    }
}

/// C's `strtod` on the start of `s` (which has no leading space here): decimal, hexadecimal,
/// `inf`/`infinity`, `nan`/`nan(...)`, with a sign. The value and the bytes it read, or `None`
/// when it reads nothing.
pub fn strtod(s: &[u8]) -> Option<(f64, usize)> {
    let at = |i: usize| s.get(i).copied().unwrap_or(0);
    let mut i = 0;
    let neg = match at(0) {
        b'-' => {
            i = 1;
            true
        }
        b'+' => {
            i = 1;
            false
        }
        _ => false,
    };
    let sign = |v: f64| if neg { -v } else { v };
    let word =
        |from: usize, w: &[u8]| (0..w.len()).all(|k| at(from + k).to_ascii_lowercase() == w[k]);
    if word(i, b"inf") {
        let used = if word(i, b"infinity") { i + 8 } else { i + 3 };
        return Some((sign(f64::INFINITY), used));
    }
    if word(i, b"nan") {
        let mut used = i + 3;
        if at(used) == b'(' {
            let mut j = used + 1;
            while at(j).is_ascii_alphanumeric() || at(j) == b'_' {
                j += 1;
            }
            if at(j) == b')' {
                used = j + 1;
            }
        }
        return Some((sign(f64::NAN), used));
    }
    if at(i) == b'0' && at(i + 1) | 0x20 == b'x' {
        if let Some((v, used)) = hex_float(s, i + 2) {
            return Some((sign(v), used));
        }
        // "0x" without digits: strtod reads the "0".
        return Some((sign(0.0), i + 1));
    }
    let start = i;
    let mut digits = 0;
    while at(i).is_ascii_digit() {
        i += 1;
        digits += 1;
    }
    if at(i) == b'.' {
        i += 1;
        while at(i).is_ascii_digit() {
            i += 1;
            digits += 1;
        }
    }
    if digits == 0 {
        return None;
    }
    if at(i) | 0x20 == b'e' {
        let mut j = i + 1;
        if matches!(at(j), b'+' | b'-') {
            j += 1;
        }
        if at(j).is_ascii_digit() {
            while at(j).is_ascii_digit() {
                j += 1;
            }
            i = j;
        }
    }
    let text = std::str::from_utf8(&s[start..i]).ok()?;
    let v: f64 = text.parse().ok()?;
    Some((sign(v), i))
}

/// The digits of a hexadecimal float after `0x`, with an optional `.` part and `p` exponent.
fn hex_float(s: &[u8], mut i: usize) -> Option<(f64, usize)> {
    let at = |i: usize| s.get(i).copied().unwrap_or(0);
    let (mut v, mut digits, mut exp) = (0.0f64, 0, 0i32);
    while let Some(d) = (at(i) as char).to_digit(16) {
        v = v * 16.0 + d as f64;
        i += 1;
        digits += 1;
    }
    if at(i) == b'.' {
        let mut j = i + 1;
        while let Some(d) = (at(j) as char).to_digit(16) {
            v = v * 16.0 + d as f64;
            exp -= 4;
            j += 1;
            digits += 1;
        }
        if digits > 0 {
            i = j;
        }
    }
    if digits == 0 {
        return None;
    }
    if at(i) | 0x20 == b'p' {
        let mut j = i + 1;
        let neg = at(j) == b'-';
        if matches!(at(j), b'+' | b'-') {
            j += 1;
        }
        if at(j).is_ascii_digit() {
            let mut e = 0i32;
            while at(j).is_ascii_digit() {
                e = e.saturating_mul(10).saturating_add((at(j) - b'0') as i32);
                j += 1;
            }
            exp = exp.saturating_add(if neg { -e } else { e });
            i = j;
        }
    }
    Some((v * 2f64.powi(exp), i))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn g_format() {
        assert_eq!(fmt_g(1.0, 14), "1");
        assert_eq!(fmt_g(0.1, 14), "0.1");
        assert_eq!(fmt_g(1e100, 14), "1e+100");
        assert_eq!(fmt_g(123456789012345.0, 14), "1.2345678901234e+14");
        assert_eq!(fmt_g(12345678901234.0, 14), "12345678901234");
        assert_eq!(fmt_g(0.0001, 14), "0.0001");
        assert_eq!(fmt_g(0.00001, 14), "1e-05");
        assert_eq!(fmt_g(-2.5, 3), "-2.5");
        assert_eq!(fmt_g(1.0 / 3.0, 14), "0.33333333333333");
    }

    #[test]
    fn strtod_forms() {
        assert_eq!(strtod(b"12,"), Some((12.0, 2)));
        assert_eq!(strtod(b"-1.5e3]"), Some((-1500.0, 6)));
        assert_eq!(strtod(b"1e"), Some((1.0, 1)));
        assert_eq!(strtod(b"0x1A"), Some((26.0, 4)));
        assert_eq!(strtod(b"-"), None);
        assert_eq!(strtod(b"Infinity"), Some((f64::INFINITY, 8)));
        assert!(strtod(b"nan(12)").is_some_and(|(v, n)| v.is_nan() && n == 7));
    }
}
