//! Argument parsing shared by handlers, with Redis's error texts.

use crate::resp::Reply;
use crate::util::num::{parse_float, parse_i64};
use bytes::Bytes;

pub const ERR_NOT_INT: &str = "ERR value is not an integer or out of range";
pub const ERR_NOT_FLOAT: &str = "ERR value is not a valid float";
pub const ERR_SYNTAX: &str = "ERR syntax error";
pub const ERR_WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";
pub const ERR_NO_KEY: &str = "ERR no such key";
pub const ERR_OVERFLOW: &str = "ERR increment or decrement would overflow";

/// The WRONGTYPE error.
pub fn wrongtype() -> Reply {
    Reply::error(ERR_WRONGTYPE)
}

/// The syntax error.
pub fn syntax() -> Reply {
    Reply::error(ERR_SYNTAX)
}

/// Parses an integer argument, or the Redis error.
pub fn int(b: &[u8]) -> Result<i64, Reply> {
    parse_i64(b).ok_or(Reply::error(ERR_NOT_INT))
}

/// Parses a float argument, or the Redis error.
pub fn float(b: &[u8]) -> Result<f64, Reply> {
    parse_float(b).ok_or(Reply::error(ERR_NOT_FLOAT))
}

/// Case-insensitive comparison of an argument with an option name.
pub fn eq(a: &[u8], opt: &str) -> bool {
    a.eq_ignore_ascii_case(opt.as_bytes())
}

/// Largest argument [`stored`] copies.
const STORE_COPY_MAX: usize = 512;

/// An argument as the keyspace keeps it. A small one is copied into an allocation of its own,
/// because cloning the request's `Bytes` would add a shared header to every stored element (one
/// more allocation, atomic counts, a pointer chased on each read). A large one is shared, never
/// copied.
pub fn stored(b: &Bytes) -> Bytes {
    if b.len() <= STORE_COPY_MAX {
        Bytes::copy_from_slice(b)
    } else {
        b.clone()
    }
}

/// Lossy text of an argument, for error messages.
pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

pub use crate::util::glob::glob_match;

/// A HELP reply in Redis's layout.
pub fn help_reply(cmd: &str, lines: &[&str]) -> Reply {
    let mut out = vec![Reply::Simple(
        format!("{cmd} <subcommand> [<arg> [value] [opt] ...]. Subcommands are:").into(),
    )];
    out.extend(lines.iter().map(|l| Reply::Simple(l.to_string().into())));
    out.push(Reply::simple("HELP"));
    out.push(Reply::simple("    Prints this help."));
    Reply::Array(out)
}
