//! Hash commands.

use super::coll::{
    check_reply_size, distinct_indexes, empty_scan, fire, parse_cursor, rand_count, rand_index,
    scan_reply, Events, ScanOpts,
};
use super::{eq, int, stored, syntax, wrongtype, CommandSpec, Ctx, Flags, ERR_OVERFLOW};
use crate::command;
use crate::keyspace::hash::scan_step;
use crate::keyspace::{Hash, HashLimits, Value, View};
use crate::resp::Reply;
use crate::state::NotifyClass;
use bytes::Bytes;

const WDF: Flags = Flags(Flags::WRITE.0 | Flags::DENYOOM.0 | Flags::FAST.0);
const WF: Flags = Flags(Flags::WRITE.0 | Flags::FAST.0);
const RF: Flags = Flags(Flags::READONLY.0 | Flags::FAST.0);
const R: Flags = Flags::READONLY;
const ACL_WF: &[&str] = &["write", "hash", "fast"];
const ACL_RF: &[&str] = &["read", "hash", "fast"];
const ACL_RS: &[&str] = &["read", "hash", "slow"];

/// The hash family.
pub static COMMANDS: &[CommandSpec] = &[
    command!("hset", -4, WDF, (1, 1, 1), "hash", "2.0.0", ACL_WF, hset, "Creates or modifies the value of a field in a hash."),
    command!("hmset", -4, WDF, (1, 1, 1), "hash", "2.0.0", ACL_WF, hmset, "Sets the values of multiple fields."),
    command!("hsetnx", 4, WDF, (1, 1, 1), "hash", "2.0.0", ACL_WF, hsetnx, "Sets the value of a field in a hash only when the field doesn't exist."),
    command!("hget", 3, RF, (1, 1, 1), "hash", "2.0.0", ACL_RF, hget, "Returns the value of a field in a hash."),
    command!("hmget", -3, RF, (1, 1, 1), "hash", "2.0.0", ACL_RF, hmget, "Returns the values of all fields in a hash."),
    command!("hdel", -3, WF, (1, 1, 1), "hash", "2.0.0", ACL_WF, hdel, "Deletes one or more fields and their values from a hash. Deletes the hash if no fields remain."),
    command!("hexists", 3, RF, (1, 1, 1), "hash", "2.0.0", ACL_RF, hexists, "Determines whether a field exists in a hash."),
    command!("hlen", 2, RF, (1, 1, 1), "hash", "2.0.0", ACL_RF, hlen, "Returns the number of fields in a hash."),
    command!("hstrlen", 3, RF, (1, 1, 1), "hash", "3.2.0", ACL_RF, hstrlen, "Returns the length of the value of a field."),
    command!("hkeys", 2, R, (1, 1, 1), "hash", "2.0.0", ACL_RS, hkeys, "Returns all fields in a hash."),
    command!("hvals", 2, R, (1, 1, 1), "hash", "2.0.0", ACL_RS, hvals, "Returns all values in a hash."),
    command!("hgetall", 2, R, (1, 1, 1), "hash", "2.0.0", ACL_RS, hgetall, "Returns all fields and values in a hash."),
    command!("hincrby", 4, WDF, (1, 1, 1), "hash", "2.0.0", ACL_WF, hincrby, "Increments the integer value of a field in a hash by a number. Uses 0 as initial value if the field doesn't exist."),
    command!("hincrbyfloat", 4, WDF, (1, 1, 1), "hash", "2.6.0", ACL_WF, hincrbyfloat, "Increments the floating point value of a field by a number. Uses 0 as initial value if the field doesn't exist."),
    command!("hrandfield", -2, R, (1, 1, 1), "hash", "6.2.0", ACL_RS, hrandfield, "Returns one or more random fields from a hash."),
    command!("hscan", -3, R, (1, 1, 1), "hash", "2.8.0", ACL_RS, hscan, "Iterates over fields and values of a hash."),
];

/// The `hash-max-listpack-*` limits from the configuration.
pub fn limits(ctx: &Ctx) -> HashLimits {
    ctx.srv.encoding_limits().hash()
}

/// The hash at `key` for reading: Ok(None) if missing, WRONGTYPE if another type.
fn read<'v>(v: &'v mut View, key: &[u8]) -> Result<Option<&'v Hash>, Reply> {
    match v.get(key) {
        None => Ok(None),
        Some(e) => match &e.value {
            Value::Hash(h) => Ok(Some(h)),
            _ => Err(wrongtype()),
        },
    }
}

/// The hash at `key` for writing, created empty if missing and `create`.
fn write<'v>(v: &'v mut View, key: &Bytes, create: bool) -> Result<Option<&'v mut Hash>, Reply> {
    match v.peek(key).map(|e| matches!(e.value, Value::Hash(_))) {
        Some(false) => return Err(wrongtype()),
        None if !create => return Ok(None),
        None => v.set(key, Value::Hash(Box::default()), None),
        Some(true) => {}
    }
    match v.get_mut(key).map(|e| &mut e.value) {
        Some(Value::Hash(h)) => Ok(Some(h)),
        _ => Ok(None),
    }
}

/// The hash at `key` without counting an access: lets a write that changes nothing leave WATCHers
/// undisturbed, as Redis does.
fn peek<'v>(v: &'v mut View, key: &[u8]) -> Result<Option<&'v Hash>, Reply> {
    match v.peek(key).map(|e| &e.value) {
        None => Ok(None),
        Some(Value::Hash(h)) => Ok(Some(h)),
        Some(_) => Err(wrongtype()),
    }
}

/// Runs a read-only closure on the hash at `a[1]`, counting the lookup.
fn with_read<R>(
    ctx: &mut Ctx,
    key: &Bytes,
    f: impl FnOnce(Option<&Hash>) -> R,
) -> Result<R, Reply> {
    let r = ctx.with_key(key, |v| read(v, key).map(|h| (h.is_some(), f(h))));
    r.map(|(hit, out)| {
        ctx.count_lookup(hit);
        out
    })
}

fn set_fields(ctx: &mut Ctx, a: &[Bytes]) -> Result<i64, Reply> {
    if a.len() % 2 == 1 {
        return Err(Reply::err(format!(
            "wrong number of arguments for '{}' command",
            super::text(&a[0]).to_ascii_lowercase()
        )));
    }
    let lim = limits(ctx);
    let key = &a[1];
    ctx.with_key(key, |v| {
        let h = write(v, key, true)?.ok_or_else(wrongtype)?;
        let mut added = 0;
        for p in a[2..].chunks(2) {
            added += i64::from(h.insert(stored(&p[0]), stored(&p[1]), lim));
        }
        Ok(added)
    })
    .inspect(|_| ctx.notify(NotifyClass::Hash, "hset", key))
}

fn hset(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    set_fields(ctx, a).map_or_else(|e| e, Reply::Int)
}

fn hmset(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    set_fields(ctx, a).map_or_else(|e| e, |_| Reply::Ok)
}

fn hsetnx(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    let lim = limits(ctx);
    let key = &a[1];
    let r = ctx.with_key(key, |v| {
        if peek(v, key)?.is_some_and(|h| h.contains(&a[2])) {
            return Ok(false);
        }
        let h = write(v, key, true)?.ok_or_else(wrongtype)?;
        h.insert(stored(&a[2]), stored(&a[3]), lim);
        Ok(true)
    });
    match r {
        Ok(set) => {
            if set {
                ctx.notify(NotifyClass::Hash, "hset", key);
            }
            Reply::Int(i64::from(set))
        }
        Err(e) => e,
    }
}

fn hget(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    with_read(ctx, &a[1], |h| {
        Reply::opt_bulk(h.and_then(|h| h.get(&a[2]).cloned()))
    })
    .unwrap_or_else(|e| e)
}

fn hmget(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    with_read(ctx, &a[1], |h| {
        Reply::Array(
            a[2..]
                .iter()
                .map(|f| Reply::opt_bulk(h.and_then(|h| h.get(f).cloned())))
                .collect(),
        )
    })
    .unwrap_or_else(|e| e)
}

fn hdel(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    let key = &a[1];
    let r = ctx.with_key(key, |v| {
        let mut evs = Events::new();
        if !peek(v, key)?.is_some_and(|h| a[2..].iter().any(|f| h.contains(f))) {
            return Ok((0, evs));
        }
        let Some(h) = write(v, key, false)? else {
            return Ok((0, evs));
        };
        let n = a[2..].iter().filter(|f| h.remove(f)).count() as i64;
        let empty = h.is_empty();
        if n > 0 {
            evs.push((NotifyClass::Hash, "hdel", key.clone()));
        }
        if empty {
            v.remove(key);
            evs.push((NotifyClass::Generic, "del", key.clone()));
        }
        Ok((n, evs))
    });
    match r {
        Ok((n, evs)) => {
            fire(ctx, evs);
            Reply::Int(n)
        }
        Err(e) => e,
    }
}

fn hexists(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    with_read(ctx, &a[1], |h| {
        Reply::Int(i64::from(h.is_some_and(|h| h.contains(&a[2]))))
    })
    .unwrap_or_else(|e| e)
}

fn hlen(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    with_read(ctx, &a[1], |h| Reply::Int(h.map_or(0, |h| h.len() as i64))).unwrap_or_else(|e| e)
}

fn hstrlen(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    with_read(ctx, &a[1], |h| {
        Reply::Int(h.and_then(|h| h.get(&a[2])).map_or(0, |v| v.len() as i64))
    })
    .unwrap_or_else(|e| e)
}

fn hkeys(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    with_read(ctx, &a[1], |h| {
        Reply::bulks(h.into_iter().flat_map(|h| h.iter().map(|(k, _)| k.clone())))
    })
    .unwrap_or_else(|e| e)
}

fn hvals(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    with_read(ctx, &a[1], |h| {
        Reply::bulks(h.into_iter().flat_map(|h| h.iter().map(|(_, v)| v.clone())))
    })
    .unwrap_or_else(|e| e)
}

fn hgetall(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    with_read(ctx, &a[1], |h| {
        Reply::Map(
            h.into_iter()
                .flat_map(|h| h.iter())
                .map(|(k, v)| (Reply::Bulk(k.clone()), Reply::Bulk(v.clone())))
                .collect(),
        )
    })
    .unwrap_or_else(|e| e)
}

/// Read-modify-write of one field for HINCRBY/HINCRBYFLOAT.
fn incr_field(
    ctx: &mut Ctx,
    a: &[Bytes],
    event: &'static str,
    f: impl FnOnce(Option<&Bytes>) -> Result<Bytes, Reply>,
) -> Result<Bytes, Reply> {
    let lim = limits(ctx);
    let key = &a[1];
    ctx.with_key(key, |v| {
        let h = write(v, key, true)?.ok_or_else(wrongtype)?;
        let new = f(h.get(&a[2]));
        // An error leaves a freshly created hash empty: it must not stay.
        let new = match new {
            Ok(n) => n,
            Err(e) => {
                if h.is_empty() {
                    v.remove(key);
                }
                return Err(e);
            }
        };
        h.insert(a[2].clone(), new.clone(), lim);
        Ok(new)
    })
    .inspect(|_| ctx.notify(NotifyClass::Hash, event, key))
}

fn hincrby(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    let by = match int(&a[3]) {
        Ok(n) => n,
        Err(e) => return e,
    };
    let r = incr_field(ctx, a, "hincrby", |cur| {
        let cur = match cur {
            None => 0,
            Some(b) => {
                crate::resp::parse_i64(b).ok_or(Reply::error("ERR hash value is not an integer"))?
            }
        };
        let n = cur.checked_add(by).ok_or(Reply::error(ERR_OVERFLOW))?;
        Ok(Bytes::from(n.to_string()))
    });
    match r {
        Ok(b) => Reply::Int(crate::resp::parse_i64(&b).unwrap_or(0)),
        Err(e) => e,
    }
}

fn hincrbyfloat(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    use crate::ldouble::{incr_by_float, IncrError};
    // Redis checks the increment alone first (before the key's type).
    match incr_by_float(None, &a[3]) {
        Err(IncrError::NanOrInf) => return Reply::error("ERR value is NaN or Infinity"),
        Err(_) => return Reply::error(super::ERR_NOT_FLOAT),
        Ok(_) => {}
    }
    let r = incr_field(ctx, a, "hincrbyfloat", |cur| {
        incr_by_float(cur.map(|b| b.as_ref()), &a[3]).map_err(|e| match e {
            IncrError::NotFloat => Reply::error("ERR hash value is not a float"),
            IncrError::BadIncrement => Reply::error(super::ERR_NOT_FLOAT),
            IncrError::NanOrInf => Reply::error("ERR increment would produce NaN or Infinity"),
        })
    });
    r.map_or_else(|e| e, Reply::Bulk)
}

fn hrandfield(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    if a.len() == 2 {
        return with_read(ctx, &a[1], |h| {
            Reply::opt_bulk(
                h.and_then(|h| h.get_index(rand_index(h.len())).map(|(k, _)| k.clone())),
            )
        })
        .unwrap_or_else(|e| e);
    }
    let count = match rand_count(&a[2]) {
        Ok(n) => n,
        Err(e) => return e,
    };
    let withvalues = match a.len() {
        3 => false,
        4 if eq(&a[3], "withvalues") => true,
        _ => return syntax(),
    };
    if withvalues && !(-i64::MAX / 2..=i64::MAX / 2).contains(&count) {
        return Reply::error("ERR value is out of range");
    }
    if let Err(e) = check_reply_size(count.unsigned_abs()) {
        return e;
    }
    let resp3 = ctx.conn.resp >= 3;
    with_read(ctx, &a[1], |h| {
        let Some(h) = h.filter(|_| count != 0) else {
            return Reply::Array(Vec::new());
        };
        let picks: Vec<usize> = if count < 0 {
            (0..count.unsigned_abs())
                .map(|_| rand_index(h.len()))
                .collect()
        } else if count as usize >= h.len() {
            (0..h.len()).collect()
        } else {
            distinct_indexes(h.len(), count as usize)
        };
        let pairs = picks.into_iter().filter_map(|i| h.get_index(i));
        if !withvalues {
            return Reply::bulks(pairs.map(|(k, _)| k.clone()));
        }
        if resp3 {
            return Reply::Array(
                pairs
                    .map(|(k, v)| Reply::bulks([k.clone(), v.clone()]))
                    .collect(),
            );
        }
        Reply::bulks(pairs.flat_map(|(k, v)| [k.clone(), v.clone()]))
    })
    .unwrap_or_else(|e| e)
}

fn hscan(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    let cursor = match parse_cursor(&a[2]) {
        Ok(c) => c,
        Err(e) => return e,
    };
    let r = with_read(ctx, &a[1], |h| {
        let Some(h) = h else {
            return Ok(empty_scan());
        };
        let opts = ScanOpts::parse(&a[3..])?;
        let (next, pairs): (u64, Vec<(&Bytes, &Bytes)>) = if h.is_table() {
            scan_step(
                h.iter().map(|(k, v)| (k.as_ref(), (k, v))),
                h.len(),
                cursor,
                opts.count,
            )
        } else {
            (0, h.iter().collect())
        };
        let out = pairs
            .into_iter()
            .filter(|(k, _)| opts.matches(k))
            .flat_map(|(k, v)| [k.clone(), v.clone()])
            .collect();
        Ok(scan_reply(next, out))
    });
    match r {
        Ok(Ok(rep)) | Ok(Err(rep)) | Err(rep) => rep,
    }
}
