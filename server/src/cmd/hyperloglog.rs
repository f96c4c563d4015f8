//! HyperLogLog commands (PFADD, PFCOUNT, PFMERGE, PFDEBUG, PFSELFTEST) over string values that
//! hold Redis's own representation (`hll`). A value is changed in place (`strings::take_str`).

use super::hll::{self, Invalid};
use super::strings::take_str;
use super::{eq, text, wrongtype, CommandSpec, Ctx, Flags};
use crate::command;
use crate::config::params;
use crate::keyspace::{StrHint, Value, View};
use crate::resp::Reply;
use crate::state::NotifyClass;
use bytes::Bytes;

const WD: Flags = Flags::WRITE.union(Flags::DENYOOM);
const ACL: &[&str] = &["hyperloglog"];

/// The HyperLogLog family.
pub static COMMANDS: &[CommandSpec] = &[
    command!(
        "pfadd",
        -2,
        WD.union(Flags::FAST),
        (1, 1, 1),
        "hyperloglog",
        "2.8.9",
        ACL,
        pfadd,
        "Adds the specified elements to the specified HyperLogLog."
    ),
    command!(
        "pfcount",
        -2,
        Flags::READONLY,
        (1, -1, 1),
        "hyperloglog",
        "2.8.9",
        ACL,
        pfcount,
        "Return the approximated cardinality of the set(s) observed by the HyperLogLog at key(s)."
    ),
    command!(
        "pfmerge",
        -2,
        WD,
        (1, -1, 1),
        "hyperloglog",
        "2.8.9",
        ACL,
        pfmerge,
        "Merge N different HyperLogLogs into a single one."
    ),
    command!(
        "pfdebug",
        3,
        WD.union(Flags::ADMIN),
        (2, 2, 1),
        "hyperloglog",
        "2.8.9",
        ACL,
        pfdebug,
        "Internal commands for debugging HyperLogLog values"
    ),
    command!(
        "pfselftest",
        1,
        Flags::ADMIN,
        (0, 0, 0),
        "hyperloglog",
        "2.8.9",
        ACL,
        pfselftest,
        "An internal command for testing HyperLogLog values"
    ),
];

const ERR_NOT_HLL: &str = "WRONGTYPE Key is not a valid HyperLogLog string value.";
const ERR_INVALID: &str = "INVALIDOBJ Corrupted HLL object detected";

fn invalid(_: Invalid) -> Reply {
    Reply::error(ERR_INVALID)
}

/// The HLL at `key` (borrowed bytes): None if missing; WRONGTYPE for another type or a string
/// that is no HLL.
fn read_hll(v: &mut View, key: &[u8]) -> Result<Option<Bytes>, Reply> {
    match v.get(key).map(|e| &e.value) {
        None => Ok(None),
        Some(Value::Str(b)) if hll::is_valid(b) => Ok(Some(b.clone())),
        Some(Value::Str(_)) => Err(Reply::error(ERR_NOT_HLL)),
        Some(_) => Err(wrongtype()),
    }
}

/// Takes the (checked) HLL at `key` out to change it in place, or a new one if missing: the
/// bytes and whether the key was created.
fn take_hll(v: &mut View, key: &[u8]) -> Result<(Vec<u8>, bool), Reply> {
    match read_hll(v, key)? {
        None => Ok((hll::new_sparse(), true)),
        Some(_) => Ok((take_str(v, key).unwrap_or_default(), false)),
    }
}

/// Puts an HLL back: as a change (WATCHers told, propagated) or quietly.
fn put_hll(v: &mut View, key: &Bytes, b: Vec<u8>, modified: bool, created: bool) {
    if modified || created {
        v.set_keep_ttl(key, Value::Str(Bytes::from(b)));
    } else if let Some(e) = v.get_mut_quiet(key) {
        e.value = Value::Str(Bytes::from(b));
    }
    // Redis unshares the value into a raw string on every such access.
    v.set_str_hint(key, StrHint::Raw);
}

fn max_sparse(ctx: &Ctx) -> usize {
    ctx.srv.config().get(params::HLL_SPARSE_MAX_BYTES) as usize
}

fn pfadd(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    let key = a[1].clone();
    let max = max_sparse(ctx);
    let r = ctx.with_key(&key, |v| {
        let (mut b, created) = take_hll(v, &key)?;
        let mut updated = created;
        let mut res = Ok(());
        for e in &a[2..] {
            match hll::add(&mut b, e, max) {
                Ok(changed) => updated |= changed,
                Err(x) => {
                    res = Err(x);
                    break;
                }
            }
        }
        if updated && res.is_ok() {
            hll::invalidate(&mut b);
        }
        put_hll(v, &key, b, updated && res.is_ok(), created);
        res.map(|()| updated).map_err(invalid)
    });
    match r {
        Ok(updated) => {
            if updated {
                ctx.notify(NotifyClass::String, "pfadd", &key);
            }
            Reply::Int(updated as i64)
        }
        Err(e) => e,
    }
}

fn pfcount(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    if a.len() > 2 {
        let keys = &a[1..];
        let r = ctx.with_keys(keys, |v| {
            let mut max = vec![0u8; hll::REGISTERS];
            for k in keys {
                if let Some(b) = read_hll(v, k)? {
                    hll::merge_into(&mut max, &b).map_err(invalid)?;
                }
            }
            Ok::<_, Reply>(hll::count_raw(&max))
        });
        return match r {
            Ok(n) => Reply::Int(n as i64),
            Err(e) => e,
        };
    }
    let key = a[1].clone();
    let r = ctx.with_key(&key, |v| {
        let Some(b) = read_hll(v, &key)? else {
            return Ok(0);
        };
        v.set_str_hint(&key, StrHint::Raw);
        if let Some(n) = hll::cached(&b) {
            return Ok(n);
        }
        let n = hll::count(&b).map_err(invalid)?;
        // Caching the count changes the value: Redis tells WATCHers and propagates it.
        let mut b = take_str(v, &key).unwrap_or_default();
        hll::set_cached(&mut b, n);
        put_hll(v, &key, b, true, false);
        Ok(n)
    });
    match r {
        Ok(n) => Reply::Int(n as i64),
        Err(e) => e,
    }
}

fn pfmerge(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    let keys = &a[1..];
    let dest = a[1].clone();
    let max_bytes = max_sparse(ctx);
    let r = ctx.with_keys(keys, |v| {
        let mut max = vec![0u8; hll::REGISTERS];
        let mut use_dense = false;
        for k in keys {
            if let Some(b) = read_hll(v, k)? {
                use_dense |= !hll::is_sparse(&b);
                hll::merge_into(&mut max, &b).map_err(invalid)?;
            }
        }
        let (mut b, created) = take_hll(v, &dest)?;
        if use_dense {
            if let Err(e) = hll::to_dense(&mut b) {
                put_hll(v, &dest, b, false, created);
                return Err(invalid(e));
            }
        }
        for (i, &m) in max.iter().enumerate() {
            if m > 0 {
                // Checked above: the destination is valid, so this cannot fail.
                let _ = hll::set(&mut b, i, m, max_bytes);
            }
        }
        hll::invalidate(&mut b);
        put_hll(v, &dest, b, true, created);
        Ok::<_, Reply>(())
    });
    match r {
        Ok(()) => {
            ctx.notify(NotifyClass::String, "pfadd", &dest);
            Reply::Ok
        }
        Err(e) => e,
    }
}

fn pfdebug(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    let key = a[2].clone();
    let sub = &a[1];
    let r = ctx.with_key(&key, |v| {
        let Some(cur) = read_hll(v, &key)? else {
            return Err(Reply::error("ERR The specified key does not exist"));
        };
        v.set_str_hint(&key, StrHint::Raw);
        if eq(sub, "getreg") || eq(sub, "todense") {
            let mut converted = false;
            if hll::is_sparse(&cur) {
                // Redis converts without telling WATCHers (it only propagates).
                let mut b = take_str(v, &key).unwrap_or_default();
                let r = hll::to_dense(&mut b);
                put_hll(v, &key, b, false, false);
                converted = r.map_err(invalid)?;
            }
            if eq(sub, "todense") {
                return Ok(Reply::Int(converted as i64));
            }
            let b = read_hll(v, &key)?.unwrap_or_default();
            let regs = hll::registers(&b).map_err(invalid)?;
            return Ok(Reply::Array(
                regs.into_iter().map(|r| Reply::Int(r as i64)).collect(),
            ));
        }
        if eq(sub, "decode") {
            if !hll::is_sparse(&cur) {
                return Err(Reply::error("ERR HLL encoding is not sparse"));
            }
            return Ok(Reply::bulk(Bytes::from(hll::decode(&cur))));
        }
        if eq(sub, "encoding") {
            return Ok(Reply::simple(if hll::is_sparse(&cur) {
                "sparse"
            } else {
                "dense"
            }));
        }
        Err(Reply::error(format!(
            "ERR Unknown PFDEBUG subcommand '{}'",
            text(sub)
        )))
    });
    r.unwrap_or_else(|e| e)
}

fn pfselftest(ctx: &mut Ctx, _a: &[Bytes]) -> Reply {
    let seed = crate::keyspace::now_ms() ^ 0x9e37_79b9_7f4a_7c15;
    match hll::self_test(seed, max_sparse(ctx)) {
        Ok(()) => Reply::Ok,
        Err(e) => Reply::error(e),
    }
}
