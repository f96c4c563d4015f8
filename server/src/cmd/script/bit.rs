//! The `bit` library Redis loads (LuaBitOp 1.0.2, `deps/lua/src/lua_bit.c`), in Rust: 32-bit
//! operations on Lua numbers. An argument becomes 32 bits as LuaBitOp does it, by adding
//! 2^52 + 2^51 to the double and keeping the low word (so 2.5 → 2, 3.5 → 4, 2^32 + 5 → 5); results
//! are signed 32-bit numbers.

use mlua::{Lua, Table, Value, Variadic};

/// An operation on one 32-bit value, and on two.
type Op1 = fn(u32) -> u32;
type Op2 = fn(u32, u32) -> u32;

/// `bit`'s functions in a table, for the sandbox to show read-only.
pub fn library(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    let unary: [(&str, Op1); 3] = [
        ("tobit", |b| b),
        ("bnot", |b| !b),
        ("bswap", u32::swap_bytes),
    ];
    for (name, f) in unary {
        t.raw_set(
            name,
            lua.create_function(move |lua, a: Variadic<Value>| Ok(ret(f(barg(lua, &a, 1)?))))?,
        )?;
    }
    let fold: [(&str, Op2); 3] = [
        ("band", |a, b| a & b),
        ("bor", |a, b| a | b),
        ("bxor", |a, b| a ^ b),
    ];
    for (name, f) in fold {
        t.raw_set(
            name,
            lua.create_function(move |lua, a: Variadic<Value>| {
                let mut b = barg(lua, &a, 1)?;
                // LuaBitOp reads the arguments from the last one down.
                for i in (2..=a.len()).rev() {
                    b = f(b, barg(lua, &a, i)?);
                }
                Ok(ret(b))
            })?,
        )?;
    }
    let shift: [(&str, Op2); 5] = [
        ("lshift", |b, n| b << n),
        ("rshift", |b, n| b >> n),
        ("arshift", |b, n| ((b as i32) >> n) as u32),
        ("rol", u32::rotate_left),
        ("ror", u32::rotate_right),
    ];
    for (name, f) in shift {
        t.raw_set(
            name,
            lua.create_function(move |lua, a: Variadic<Value>| {
                let b = barg(lua, &a, 1)?;
                let n = barg(lua, &a, 2)? & 31;
                Ok(ret(f(b, n)))
            })?,
        )?;
    }
    t.raw_set(
        "tohex",
        lua.create_function(|lua, a: Variadic<Value>| {
            let mut b = barg(lua, &a, 1)?;
            let mut n = if a.len() < 2 {
                8
            } else {
                barg(lua, &a, 2)? as i32
            };
            let digits: &[u8; 16] = if n < 0 {
                n = n.saturating_neg();
                b"0123456789ABCDEF"
            } else {
                b"0123456789abcdef"
            };
            let n = n.min(8) as usize;
            let mut buf = [0u8; 8];
            for i in (0..n).rev() {
                buf[i] = digits[(b & 15) as usize];
                b >>= 4;
            }
            lua.create_string(&buf[..n])
        })?,
    )?;
    Ok(t)
}

/// A 32-bit result as the Lua number LuaBitOp returns: signed.
fn ret(b: u32) -> f64 {
    b as i32 as f64
}

/// Argument `i` (from 1) as 32 bits (LuaBitOp's `barg`): a number, or a string Lua reads as one;
/// anything else is an argument error, as `luaL_typerror` words it.
fn barg(lua: &Lua, args: &[Value], i: usize) -> mlua::Result<u32> {
    let v = args.get(i - 1).cloned().unwrap_or(Value::Nil);
    let n = match &v {
        Value::Number(n) => Some(*n),
        Value::Integer(n) => Some(*n as f64),
        Value::String(_) => lua.coerce_number(v.clone())?,
        _ => None,
    };
    match n {
        Some(n) => Ok((n + 6_755_399_441_055_744.0).to_bits() as u32),
        None => {
            let got = type_name(args, i);
            Err(arg_error(lua, i, &format!("number expected, got {got}")))
        }
    }
}

/// Lua's `luaL_argerror` message: "<where>bad argument #i to '<name>' (<msg>)", where the name is
/// the one the caller used for the function and <where> the caller's position.
pub fn arg_error(lua: &Lua, i: usize, msg: &str) -> mlua::Error {
    let name = lua
        .inspect_stack(0, |d| d.names().name.map(|n| n.into_owned()))
        .flatten()
        .unwrap_or_else(|| "?".into());
    lua_error(lua, &format!("bad argument #{i} to '{name}' ({msg})"))
}

/// Lua's `luaL_error` from a library function: the message after the caller's position.
pub fn lua_error(lua: &Lua, msg: &str) -> mlua::Error {
    error_at(lua, 1, msg)
}

/// `lua_error`'s message with the position of the function `level` calls up (1: the caller).
pub fn error_at(lua: &Lua, level: usize, msg: &str) -> mlua::Error {
    let at = lua
        .inspect_stack(level, |d| {
            let line = d.current_line()?;
            let src = d.source().short_src?.into_owned();
            Some(format!("{src}:{line}: "))
        })
        .flatten()
        .unwrap_or_default();
    mlua::Error::runtime(format!("{at}{msg}"))
}

/// Lua's name of a value's type, "no value" for an argument not given.
pub fn type_name(args: &[Value], i: usize) -> &'static str {
    match args.get(i - 1) {
        None => "no value",
        Some(Value::Nil) => "nil",
        Some(Value::Boolean(_)) => "boolean",
        Some(Value::Integer(_)) | Some(Value::Number(_)) => "number",
        Some(Value::String(_)) => "string",
        Some(Value::Table(_)) => "table",
        Some(Value::Function(_)) => "function",
        Some(Value::Thread(_)) => "thread",
        Some(_) => "userdata",
    }
}

/// `luaL_checknumber`: argument `i` as a number (a string Lua reads as one included).
pub fn check_number(lua: &Lua, args: &[Value], i: usize) -> mlua::Result<f64> {
    let n = match args.get(i - 1) {
        Some(Value::Number(n)) => Some(*n),
        Some(Value::Integer(n)) => Some(*n as f64),
        Some(v @ Value::String(_)) => lua.coerce_number(v.clone())?,
        _ => None,
    };
    n.ok_or_else(|| {
        let got = type_name(args, i);
        arg_error(lua, i, &format!("number expected, got {got}"))
    })
}

/// `luaL_checklstring`: argument `i` as bytes (a number as Lua writes it).
pub fn check_bytes(lua: &Lua, args: &[Value], i: usize) -> mlua::Result<Vec<u8>> {
    let s = match args.get(i - 1) {
        Some(Value::String(s)) => Some(s.as_bytes().to_vec()),
        Some(v @ (Value::Number(_) | Value::Integer(_))) => {
            lua.coerce_string(v.clone())?.map(|s| s.as_bytes().to_vec())
        }
        _ => None,
    };
    s.ok_or_else(|| {
        let got = type_name(args, i);
        arg_error(lua, i, &format!("string expected, got {got}"))
    })
}
