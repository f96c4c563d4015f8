//! Hash commands.

use super::coll::{
    check_reply_size, distinct_indexes, rand_count, rand_index, remove_members, scan, Coll,
};
use super::{eq, int, stored, syntax, wrongtype, CommandSpec, Ctx, Flags, ERR_OVERFLOW};
use crate::command;
use crate::keyspace::hash::scan_step;
use crate::keyspace::{Hash, HashLimits};
use crate::resp::Reply;
use crate::state::NotifyClass;
use bytes::Bytes;

const WDF: Flags = Flags::WRITE.union(Flags::DENYOOM).union(Flags::FAST);
const WF: Flags = Flags::WRITE.union(Flags::FAST);
const RF: Flags = Flags::READONLY.union(Flags::FAST);
const R: Flags = Flags::READONLY;
/// ACL categories beyond those the flags imply (see `CommandSpec::acl_categories`).
const ACL: &[&str] = &["hash"];

/// The hash family.
pub static COMMANDS: &[CommandSpec] = &[
    command!("hset", -4, WDF, (1, 1, 1), "hash", "2.0.0", ACL, hset, "Creates or modifies the value of a field in a hash."),
    command!("hmset", -4, WDF, (1, 1, 1), "hash", "2.0.0", ACL, hmset, "Sets the values of multiple fields."),
    command!("hsetnx", 4, WDF, (1, 1, 1), "hash", "2.0.0", ACL, hsetnx, "Sets the value of a field in a hash only when the field doesn't exist."),
    command!("hget", 3, RF, (1, 1, 1), "hash", "2.0.0", ACL, hget, "Returns the value of a field in a hash."),
    command!("hmget", -3, RF, (1, 1, 1), "hash", "2.0.0", ACL, hmget, "Returns the values of all fields in a hash."),
    command!("hdel", -3, WF, (1, 1, 1), "hash", "2.0.0", ACL, hdel, "Deletes one or more fields and their values from a hash. Deletes the hash if no fields remain."),
    command!("hexists", 3, RF, (1, 1, 1), "hash", "2.0.0", ACL, hexists, "Determines whether a field exists in a hash."),
    command!("hlen", 2, RF, (1, 1, 1), "hash", "2.0.0", ACL, hlen, "Returns the number of fields in a hash."),
    command!("hstrlen", 3, RF, (1, 1, 1), "hash", "3.2.0", ACL, hstrlen, "Returns the length of the value of a field."),
    command!("hkeys", 2, R, (1, 1, 1), "hash", "2.0.0", ACL, hkeys, "Returns all fields in a hash."),
    command!("hvals", 2, R, (1, 1, 1), "hash", "2.0.0", ACL, hvals, "Returns all values in a hash."),
    command!("hgetall", 2, R, (1, 1, 1), "hash", "2.0.0", ACL, hgetall, "Returns all fields and values in a hash."),
    command!("hincrby", 4, WDF, (1, 1, 1), "hash", "2.0.0", ACL, hincrby, "Increments the integer value of a field in a hash by a number. Uses 0 as initial value if the field doesn't exist."),
    command!("hincrbyfloat", 4, WDF, (1, 1, 1), "hash", "2.6.0", ACL, hincrbyfloat, "Increments the floating point value of a field by a number. Uses 0 as initial value if the field doesn't exist."),
    command!("hrandfield", -2, R, (1, 1, 1), "hash", "6.2.0", ACL, hrandfield, "Returns one or more random fields from a hash."),
    command!("hscan", -3, R, (1, 1, 1), "hash", "2.8.0", ACL, hscan, "Iterates over fields and values of a hash."),
];

/// The `hash-max-listpack-*` limits from the configuration.
pub fn limits(ctx: &Ctx) -> HashLimits {
    ctx.srv.encoding_limits().hash()
}

fn set_fields(ctx: &mut Ctx, a: &[Bytes]) -> Result<i64, Reply> {
    if a.len() % 2 == 1 {
        return Err(Reply::error(format!(
            "ERR wrong number of arguments for '{}' command",
            super::text(&a[0]).to_ascii_lowercase()
        )));
    }
    let lim = limits(ctx);
    let key = &a[1];
    ctx.with_key(key, |v| {
        let h = Hash::write(v, key, true)?.ok_or_else(wrongtype)?;
        let mut added = 0;
        for p in a[2..].chunks(2) {
            added += i64::from(h.insert_with(&p[0], &p[1], lim, stored));
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
        if Hash::peek(v, key)?.is_some_and(|h| h.contains(&a[2])) {
            return Ok(false);
        }
        let h = Hash::write(v, key, true)?.ok_or_else(wrongtype)?;
        h.insert_with(&a[2], &a[3], lim, stored);
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
    Hash::with_read(ctx, &a[1], |h| {
        Reply::opt_bulk(h.and_then(|h| h.get_bytes(&a[2])))
    })
    .unwrap_or_else(|e| e)
}

fn hmget(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    Hash::with_read(ctx, &a[1], |h| {
        Reply::Array(
            a[2..]
                .iter()
                .map(|f| Reply::opt_bulk(h.and_then(|h| h.get_bytes(f))))
                .collect(),
        )
    })
    .unwrap_or_else(|e| e)
}

fn hdel(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    remove_members::<Hash>(ctx, a, NotifyClass::Hash, "hdel")
}

fn hexists(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    Hash::with_read(ctx, &a[1], |h| {
        Reply::Int(i64::from(h.is_some_and(|h| h.contains(&a[2]))))
    })
    .unwrap_or_else(|e| e)
}

fn hlen(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    Hash::with_read(ctx, &a[1], |h| Reply::Int(h.map_or(0, |h| h.len() as i64)))
        .unwrap_or_else(|e| e)
}

fn hstrlen(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    Hash::with_read(ctx, &a[1], |h| {
        Reply::Int(h.and_then(|h| h.get(&a[2])).map_or(0, |v| v.len() as i64))
    })
    .unwrap_or_else(|e| e)
}

fn hkeys(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    Hash::with_read(ctx, &a[1], |h| {
        Reply::bulks(
            h.into_iter()
                .flat_map(|h| h.to_bytes().into_iter().map(|(k, _)| k)),
        )
    })
    .unwrap_or_else(|e| e)
}

fn hvals(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    Hash::with_read(ctx, &a[1], |h| {
        Reply::bulks(
            h.into_iter()
                .flat_map(|h| h.to_bytes().into_iter().map(|(_, v)| v)),
        )
    })
    .unwrap_or_else(|e| e)
}

fn hgetall(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    Hash::with_read(ctx, &a[1], |h| {
        Reply::Map(
            h.into_iter()
                .flat_map(|h| h.to_bytes())
                .map(|(k, v)| (Reply::Bulk(k), Reply::Bulk(v)))
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
    f: impl FnOnce(Option<&[u8]>) -> Result<Bytes, Reply>,
) -> Result<Bytes, Reply> {
    let lim = limits(ctx);
    let key = &a[1];
    ctx.with_key(key, |v| {
        let h = Hash::write(v, key, true)?.ok_or_else(wrongtype)?;
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
        h.insert_with(&a[2], &new, lim, stored);
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
            Some(b) => crate::util::num::parse_i64(b)
                .ok_or(Reply::error("ERR hash value is not an integer"))?,
        };
        let n = cur.checked_add(by).ok_or(Reply::error(ERR_OVERFLOW))?;
        Ok(Bytes::from(n.to_string()))
    });
    match r {
        Ok(b) => Reply::Int(crate::util::num::parse_i64(&b).unwrap_or(0)),
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
        incr_by_float(cur, &a[3]).map_err(|e| match e {
            IncrError::NotFloat => Reply::error("ERR hash value is not a float"),
            IncrError::BadIncrement => Reply::error(super::ERR_NOT_FLOAT),
            IncrError::NanOrInf => Reply::error("ERR increment would produce NaN or Infinity"),
        })
    });
    r.map_or_else(|e| e, Reply::Bulk)
}

fn hrandfield(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    if a.len() == 2 {
        return Hash::with_read(ctx, &a[1], |h| {
            Reply::opt_bulk(h.and_then(|h| {
                h.pick(&[rand_index(h.len())])
                    .into_iter()
                    .next()
                    .map(|(k, _)| k)
            }))
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
    Hash::with_read(ctx, &a[1], |h| {
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
        let pairs = h.pick(&picks).into_iter();
        if !withvalues {
            return Reply::bulks(pairs.map(|(k, _)| k));
        }
        if resp3 {
            return Reply::Array(pairs.map(|(k, v)| Reply::bulks([k, v])).collect());
        }
        Reply::bulks(pairs.flat_map(|(k, v)| [k, v]))
    })
    .unwrap_or_else(|e| e)
}

fn hscan(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    scan::<Hash>(ctx, a, |h, cursor, opts| {
        let (next, pairs): (u64, Vec<(Bytes, Bytes)>) = match h.table() {
            Some(m) => {
                let (next, got) = scan_step(
                    m.iter().map(|(k, v)| (k.as_ref(), (k, v))),
                    m.len(),
                    cursor,
                    opts.count,
                );
                let got = got.into_iter().map(|(k, v)| (k.clone(), v.clone()));
                (next, got.collect())
            }
            None => (0, h.to_bytes()),
        };
        let out = pairs
            .into_iter()
            .filter(|(k, _)| opts.matches(k))
            .flat_map(|(k, v)| [k, v])
            .collect();
        (next, out)
    })
}
