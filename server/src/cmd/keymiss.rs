//! Redis's `keymiss` keyspace events (class `m`): sent where Redis's `lookupKey` misses on a
//! read lookup (`lookupKeyRead*`), that is for the keys a command reads: the read-only keys of
//! its key specs, and the read lookups Redis's handlers make on keys their specs call
//! read-write (GETDEL, GETEX, GETSET, SET ... GET, PFCOUNT, PFMERGE, a BITFIELD of GETs only, XACK,
//! XCLAIM, XAUTOCLAIM, XREADGROUP). Looked up before the handler runs, so the events come
//! before the command's own, as in Redis; and only while someone listens for them.

use super::keyspec::{self, flags};
use super::{CommandSpec, Ctx};
use crate::state::NotifyClass;
use bytes::Bytes;

/// Commands with a read-only key spec that Redis reads without a notifying lookup.
fn never(name: &str) -> bool {
    matches!(
        name,
        "watch" | "object|encoding" | "object|freq" | "object|idletime" | "object|refcount"
    ) || name.starts_with("memory|")
}

/// Commands whose read-write keys Redis looks up for reading first.
fn reads_rw_keys(name: &str, args: &[Bytes]) -> bool {
    let has = |w: &str| {
        args.iter()
            .skip(2)
            .any(|a| a.eq_ignore_ascii_case(w.as_bytes()))
    };
    match name {
        "getdel" | "getex" | "getset" | "pfcount" | "xack" | "xclaim" | "xautoclaim"
        | "xreadgroup" | "bitfield_ro" | "pfmerge" => true,
        "set" => has("get"),
        "bitfield" => !has("set") && !has("incrby"),
        _ => false,
    }
}

/// Publishes `keymiss` for each key `args` reads that does not exist (expiring it first, as a
/// lookup does).
pub(super) fn notify(ctx: &mut Ctx, spec: &CommandSpec, args: &[Bytes]) {
    let name = spec.full_name();
    if never(&name) {
        return;
    }
    let rw_too = reads_rw_keys(&name, args);
    let keys: Vec<&Bytes> = keyspec::find(spec, args)
        .into_iter()
        .filter(|&(_, f)| f & flags::RO != 0 || rw_too)
        .filter_map(|(i, _)| args.get(i))
        .collect();
    for key in keys {
        if ctx.with_key(key, |v| v.peek(key).is_none()) {
            ctx.notify(NotifyClass::KeyMiss, "keymiss", key);
        }
    }
}
