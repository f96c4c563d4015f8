//! String commands.

use super::{
    eq, int, stored, syntax, wrongtype, CommandSpec, Ctx, Flags, ERR_NOT_INT, ERR_OVERFLOW,
};
use crate::command;
use crate::keyspace::{StrHint, Value, View};
use crate::resp::Reply;
use crate::state::NotifyClass;
use bytes::Bytes;

const W: Flags = Flags::WRITE;
const WD: Flags = Flags::WRITE.union(Flags::DENYOOM);
const WDF: Flags = Flags::WRITE.union(Flags::DENYOOM).union(Flags::FAST);
const RF: Flags = Flags::READONLY.union(Flags::FAST);
const R: Flags = Flags::READONLY;
/// ACL categories beyond those the flags imply (see `CommandSpec::acl_categories`).
const ACL: &[&str] = &["string"];

/// The string family.
pub static COMMANDS: &[CommandSpec] = &[
    command!("get", 2, RF, (1, 1, 1), "string", "1.0.0", ACL, get, "Returns the string value of a key."),
    command!("set", -3, WD, (1, 1, 1), "string", "1.0.0", ACL, set, "Sets the string value of a key, ignoring its type. The key is created if it doesn't exist."),
    command!("setnx", 3, WDF, (1, 1, 1), "string", "1.0.0", ACL, setnx, "Set the string value of a key only when the key doesn't exist."),
    command!("setex", 4, WD, (1, 1, 1), "string", "2.0.0", ACL, setex, "Sets the string value and expiration time of a key. Creates the key if it doesn't exist."),
    command!("psetex", 4, WD, (1, 1, 1), "string", "2.6.0", ACL, psetex, "Sets both string value and expiration time in milliseconds of a key. The key is created if it doesn't exist."),
    command!("mget", -2, RF, (1, -1, 1), "string", "1.0.0", ACL, mget, "Atomically returns the string values of one or more keys."),
    command!("mset", -3, WD, (1, -1, 2), "string", "1.0.1", ACL, mset, "Atomically creates or modifies the string values of one or more keys."),
    command!("msetnx", -3, WD, (1, -1, 2), "string", "1.0.1", ACL, msetnx, "Atomically modifies the string values of one or more keys only when all keys don't exist."),
    command!("getset", 3, WDF, (1, 1, 1), "string", "1.0.0", ACL, getset, "Returns the previous string value of a key after setting it to a new value."),
    command!("getdel", 2, W.union(Flags::FAST), (1, 1, 1), "string", "6.2.0", ACL, getdel, "Returns the string value of a key after deleting the key."),
    command!("getex", -2, W.union(Flags::FAST), (1, 1, 1), "string", "6.2.0", ACL, getex, "Returns the string value of a key after setting its expiration time."),
    command!("append", 3, WDF, (1, 1, 1), "string", "2.0.0", ACL, append, "Appends a string to the value of a key. Creates the key if it doesn't exist."),
    command!("strlen", 2, RF, (1, 1, 1), "string", "2.2.0", ACL, strlen, "Returns the length of a string value."),
    command!("getrange", 4, R, (1, 1, 1), "string", "2.4.0", &["string"], getrange, "Returns a substring of the string stored at a key."),
    command!("substr", 4, R, (1, 1, 1), "string", "1.0.0", &["string"], getrange, "Returns a substring from a string value."),
    command!("setrange", 4, WD, (1, 1, 1), "string", "2.2.0", ACL, setrange, "Overwrites a part of a string value with another by an offset. Creates the key if it doesn't exist."),
    command!("incr", 2, WDF, (1, 1, 1), "string", "1.0.0", ACL, incr, "Increments the integer value of a key by one. Uses 0 as initial value if the key doesn't exist."),
    command!("decr", 2, WDF, (1, 1, 1), "string", "1.0.0", ACL, decr, "Decrements the integer value of a key by one. Uses 0 as initial value if the key doesn't exist."),
    command!("incrby", 3, WDF, (1, 1, 1), "string", "1.0.0", ACL, incrby, "Increments the integer value of a key by a number. Uses 0 as initial value if the key doesn't exist."),
    command!("decrby", 3, WDF, (1, 1, 1), "string", "1.0.0", ACL, decrby, "Decrements a number from the integer value of a key. Uses 0 as initial value if the key doesn't exist."),
    command!("incrbyfloat", 3, WDF, (1, 1, 1), "string", "2.6.0", ACL, incrbyfloat, "Increment the floating point value of a key by a number. Uses 0 as initial value if the key doesn't exist."),
];

/// The string at `key`: Ok(None) if missing, Err(WRONGTYPE) if another type.
pub fn get_str(v: &mut View, key: &[u8]) -> Result<Option<Bytes>, Reply> {
    str_ref(v, key).map(|b| b.cloned())
}

/// The string at `key` (borrowed), WRONGTYPE for another type.
fn str_ref<'v>(v: &'v mut View, key: &[u8]) -> Result<Option<&'v Bytes>, Reply> {
    match v.get(key) {
        None => Ok(None),
        Some(e) => match &e.value {
            Value::Str(b) => Ok(Some(b)),
            _ => Err(wrongtype()),
        },
    }
}

fn get(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    let r = ctx.with_key(&a[1], |v| match v.get(&a[1]).map(|e| &e.value) {
        None => Ok(None),
        Some(Value::Str(b)) => Ok(Some(Reply::bulk_of(b))),
        Some(_) => Err(wrongtype()),
    });
    match r {
        Ok(v) => {
            ctx.count_lookup(v.is_some());
            v.unwrap_or(Reply::Nil)
        }
        Err(e) => e,
    }
}

/// Expiry options shared by SET and GETEX.
#[derive(Clone, Copy, PartialEq)]
enum Expiry {
    None,
    At(u64),
    /// An absolute time already past or a non-positive relative one: handled by the caller.
    Keep,
    Persist,
}

/// Parses `EX s | PX ms | EXAT ts | PXAT ms` value; Redis's "invalid expire time" on bad ranges.
fn expire_at(unit_ms: bool, absolute: bool, raw: &[u8], now: u64, cmd: &str) -> Result<u64, Reply> {
    let n = int(raw)?;
    let invalid = || Reply::error(format!("ERR invalid expire time in '{cmd}' command"));
    if n <= 0 {
        return Err(invalid());
    }
    let ms = if unit_ms {
        n
    } else {
        n.checked_mul(1000).ok_or_else(invalid)?
    };
    if absolute {
        Ok(ms as u64)
    } else {
        (ms as u64)
            .checked_add(now)
            .filter(|t| *t <= i64::MAX as u64)
            .ok_or_else(invalid)
    }
}

fn set(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    let (mut nx, mut xx, mut get_old) = (false, false, false);
    let mut exp = Expiry::None;
    let mut exp_spec: Option<(bool, bool, &Bytes)> = None;
    let mut i = 3;
    while i < a.len() {
        let o = &a[i];
        let has_next = i + 1 < a.len();
        if eq(o, "nx") && !xx {
            nx = true;
        } else if eq(o, "xx") && !nx {
            xx = true;
        } else if eq(o, "get") {
            get_old = true;
        } else if eq(o, "keepttl") && exp == Expiry::None && exp_spec.is_none() {
            exp = Expiry::Keep;
        } else if exp == Expiry::None && exp_spec.is_none() && has_next {
            let spec = if eq(o, "ex") {
                (false, false)
            } else if eq(o, "px") {
                (true, false)
            } else if eq(o, "exat") {
                (false, true)
            } else if eq(o, "pxat") {
                (true, true)
            } else {
                return syntax();
            };
            exp_spec = Some((spec.0, spec.1, &a[i + 1]));
            i += 1;
        } else {
            return syntax();
        }
        i += 1;
    }
    let key = a[1].clone();
    let val = stored(&a[2]);
    let r = ctx.with_key(&key, |v| {
        let now = v.now();
        if let Some((ms, abs, raw)) = exp_spec {
            exp = Expiry::At(expire_at(ms, abs, raw, now, "set")?);
        }
        let old = if get_old { get_str(v, &key)? } else { None };
        if (nx || xx) && (nx == v.exists(&key)) {
            return Ok((
                if get_old {
                    Reply::opt_bulk(old)
                } else {
                    Reply::Nil
                },
                false,
            ));
        }
        match exp {
            Expiry::Keep => v.set_keep_ttl(&key, Value::Str(val)),
            Expiry::At(t) if t <= now => {
                // Already expired: Redis stores and deletes at once.
                v.delete(&key);
            }
            Expiry::At(t) => v.set(&key, Value::Str(val), Some(t)),
            _ => v.set(&key, Value::Str(val), None),
        }
        Ok((
            if get_old {
                Reply::opt_bulk(old)
            } else {
                Reply::Ok
            },
            true,
        ))
    });
    match r {
        Ok((reply, stored)) => {
            if stored {
                ctx.notify(NotifyClass::String, "set", &key);
                if matches!(exp, Expiry::At(_)) {
                    ctx.notify(NotifyClass::Generic, "expire", &key);
                }
            }
            reply
        }
        Err(e) => e,
    }
}

fn setnx(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    let done = ctx.with_key(&a[1], |v| {
        if v.exists(&a[1]) {
            false
        } else {
            v.set(&a[1], Value::Str(stored(&a[2])), None);
            true
        }
    });
    if done {
        ctx.notify(NotifyClass::String, "set", &a[1]);
    }
    Reply::Int(done as i64)
}

fn setex_common(ctx: &mut Ctx, a: &[Bytes], ms: bool, name: &str) -> Reply {
    let key = a[1].clone();
    let r = ctx.with_key(&key, |v| {
        let t = expire_at(ms, false, &a[2], v.now(), name)?;
        v.set(&key, Value::Str(stored(&a[3])), Some(t));
        Ok::<_, Reply>(())
    });
    match r {
        Ok(()) => {
            ctx.notify(NotifyClass::String, "set", &key);
            ctx.notify(NotifyClass::Generic, "expire", &key);
            Reply::Ok
        }
        Err(e) => e,
    }
}

fn setex(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    setex_common(ctx, a, false, "setex")
}

fn psetex(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    setex_common(ctx, a, true, "psetex")
}

fn mget(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    let keys = &a[1..];
    let vals: Vec<Reply> = ctx.with_keys(keys, |v| {
        keys.iter()
            .map(|k| match v.get(k) {
                Some(e) => match &e.value {
                    Value::Str(b) => Reply::Bulk(b.clone()),
                    _ => Reply::Nil,
                },
                None => Reply::Nil,
            })
            .collect()
    });
    Reply::Array(vals)
}

fn mset_common(ctx: &mut Ctx, a: &[Bytes], nx: bool) -> Reply {
    if a.len() % 2 == 0 {
        return Reply::error(format!(
            "ERR wrong number of arguments for '{}' command",
            if nx { "msetnx" } else { "mset" }
        ));
    }
    let keys: Vec<&Bytes> = a[1..].iter().step_by(2).collect();
    let done = ctx.with_keys(&keys, |v| {
        if nx && keys.iter().any(|k| v.exists(k)) {
            return false;
        }
        for p in a[1..].chunks(2) {
            v.set(&p[0], Value::Str(stored(&p[1])), None);
        }
        true
    });
    if done {
        for k in keys {
            ctx.notify(NotifyClass::String, "set", k);
        }
    }
    if nx {
        Reply::Int(done as i64)
    } else {
        Reply::Ok
    }
}

fn mset(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    mset_common(ctx, a, false)
}

fn msetnx(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    mset_common(ctx, a, true)
}

fn getset(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    let r = ctx.with_key(&a[1], |v| {
        let old = get_str(v, &a[1])?;
        v.set(&a[1], Value::Str(stored(&a[2])), None);
        Ok::<_, Reply>(old)
    });
    match r {
        Ok(old) => {
            ctx.notify(NotifyClass::String, "set", &a[1]);
            Reply::opt_bulk(old)
        }
        Err(e) => e,
    }
}

fn getdel(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    let r = ctx.with_key(&a[1], |v| {
        let old = get_str(v, &a[1])?;
        if old.is_some() {
            v.remove(&a[1]);
        }
        Ok::<_, Reply>(old)
    });
    match r {
        Ok(old) => {
            if old.is_some() {
                ctx.notify(NotifyClass::Generic, "del", &a[1]);
            }
            Reply::opt_bulk(old)
        }
        Err(e) => e,
    }
}

fn getex(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    let mut exp = Expiry::None;
    let mut spec: Option<(bool, bool, &Bytes)> = None;
    let mut i = 2;
    while i < a.len() {
        let o = &a[i];
        let set_already = exp != Expiry::None || spec.is_some();
        if eq(o, "persist") && !set_already {
            exp = Expiry::Persist;
        } else if !set_already
            && i + 1 < a.len()
            && (eq(o, "ex") || eq(o, "px") || eq(o, "exat") || eq(o, "pxat"))
        {
            let ms = eq(o, "px") || eq(o, "pxat");
            let abs = eq(o, "exat") || eq(o, "pxat");
            spec = Some((ms, abs, &a[i + 1]));
            i += 1;
        } else {
            return syntax();
        }
        i += 1;
    }
    let key = &a[1];
    let r = ctx.with_key(key, |v| {
        let now = v.now();
        let val = get_str(v, key)?;
        // As Redis: a missing key answers nil (and another type WRONGTYPE) before the time
        // is checked.
        if let (Some((ms, abs, raw)), Some(_)) = (spec, &val) {
            exp = Expiry::At(expire_at(ms, abs, raw, now, "getex")?);
        }
        let mut event = None;
        if val.is_some() {
            match exp {
                Expiry::At(t) if t <= now => {
                    v.delete(key);
                    event = Some("del");
                }
                Expiry::At(t) => {
                    v.set_expire(key, Some(t));
                    event = Some("expire");
                }
                Expiry::Persist if v.peek(key).is_some_and(|e| e.expire_at().is_some()) => {
                    v.set_expire(key, None);
                    event = Some("persist");
                }
                _ => {}
            }
        }
        Ok::<_, Reply>((val, event))
    });
    match r {
        Ok((val, event)) => {
            if let Some(e) = event {
                ctx.notify(NotifyClass::Generic, e, key);
            }
            Reply::opt_bulk(val)
        }
        Err(e) => e,
    }
}

/// Redis's `SDS_MAX_PREALLOC`: a string grown in place gets room for as much again up to 1 MiB,
/// and 1 MiB beyond that, so that growing a value by pieces costs what is added, and a large
/// value holds at most 1 MiB it does not use.
const MAX_PREALLOC: usize = 1 << 20;

/// Takes the string at `key` out of the keyspace to change it in place; the caller stores it
/// back. No copy is made unless a reply still in flight shares the bytes.
pub(super) fn take_str(v: &mut View, key: &[u8]) -> Option<Vec<u8>> {
    let e = v.get_mut_quiet(key)?;
    let Value::Str(b) = &mut e.value else {
        return None;
    };
    let b = std::mem::take(b);
    Some(match b.try_into_mut() {
        Ok(m) => m.into(),
        Err(shared) => shared.to_vec(),
    })
}

/// Makes room for `new_len` bytes with Redis's preallocation.
pub(super) fn grow(buf: &mut Vec<u8>, new_len: usize) {
    if buf.capacity() < new_len {
        let want = if new_len < MAX_PREALLOC {
            new_len * 2
        } else {
            new_len + MAX_PREALLOC
        };
        buf.reserve_exact(want - buf.len());
    }
}

fn append(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    let max = ctx.srv.limits().max_bulk;
    let r = ctx.with_key(&a[1], |v| {
        let Some(cur_len) = get_str_len(v, &a[1])? else {
            v.set_keep_ttl(&a[1], Value::Str(a[2].clone()));
            return Ok(a[2].len());
        };
        if (cur_len + a[2].len()) as u64 > max {
            return Err(Reply::error(
                "ERR string exceeds maximum allowed size (proto-max-bulk-len)",
            ));
        }
        let mut buf = take_str(v, &a[1]).unwrap_or_default();
        grow(&mut buf, cur_len + a[2].len());
        buf.extend_from_slice(&a[2]);
        let len = buf.len();
        v.set_keep_ttl(&a[1], Value::Str(Bytes::from(buf)));
        v.set_str_hint(&a[1], StrHint::Raw);
        Ok(len)
    });
    match r {
        Ok(n) => {
            ctx.notify(NotifyClass::String, "append", &a[1]);
            Reply::Int(n as i64)
        }
        Err(e) => e,
    }
}

/// The length of the string at `key`, WRONGTYPE for another type.
fn get_str_len(v: &mut View, key: &[u8]) -> Result<Option<usize>, Reply> {
    str_ref(v, key).map(|b| b.map(Bytes::len))
}

fn strlen(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    match ctx.with_key(&a[1], |v| get_str(v, &a[1])) {
        Ok(v) => Reply::Int(v.map_or(0, |b| b.len() as i64)),
        Err(e) => e,
    }
}

fn getrange(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    let (mut start, mut end) = match (int(&a[2]), int(&a[3])) {
        (Ok(s), Ok(e)) => (s, e),
        (Err(e), _) | (_, Err(e)) => return e,
    };
    let val = match ctx.with_key(&a[1], |v| get_str(v, &a[1])) {
        Ok(Some(b)) => b,
        Ok(None) => return Reply::bulk(Bytes::new()),
        Err(e) => return e,
    };
    let len = val.len() as i64;
    if start < 0 && end < 0 && start > end {
        return Reply::bulk(Bytes::new());
    }
    if start < 0 {
        start += len;
    }
    if end < 0 {
        end += len;
    }
    start = start.max(0);
    end = end.max(0);
    if end >= len {
        end = len - 1;
    }
    if len == 0 || start > end {
        return Reply::bulk(Bytes::new());
    }
    Reply::Bulk(val.slice(start as usize..=end as usize))
}

fn setrange(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    let off = match int(&a[2]) {
        Ok(o) if o >= 0 => o as u64,
        Ok(_) => return Reply::error("ERR offset is out of range"),
        Err(e) => return e,
    };
    let max = ctx.srv.limits().max_bulk;
    let patch = &a[3];
    let r = ctx.with_key(&a[1], |v| {
        let cur_len = get_str_len(v, &a[1])?;
        if cur_len.is_none() && patch.is_empty() {
            return Ok(0);
        }
        let cur_len = cur_len.unwrap_or(0);
        if patch.is_empty() {
            return Ok(cur_len as i64);
        }
        if off + patch.len() as u64 > max {
            return Err(Reply::error(
                "ERR string exceeds maximum allowed size (proto-max-bulk-len)",
            ));
        }
        let off = off as usize;
        let new_len = cur_len.max(off + patch.len());
        // In place, as Redis's sds: the cost is the patch (and any zeros), not the whole value.
        let mut buf = match take_str(v, &a[1]) {
            Some(mut b) => {
                grow(&mut b, new_len);
                b
            }
            None => Vec::with_capacity(new_len),
        };
        if buf.len() < new_len {
            buf.resize(new_len, 0);
        }
        buf[off..off + patch.len()].copy_from_slice(patch);
        v.set_keep_ttl(&a[1], Value::Str(Bytes::from(buf)));
        v.set_str_hint(&a[1], StrHint::Raw);
        Ok(new_len as i64)
    });
    match r {
        Ok(n) => {
            if !patch.is_empty() {
                ctx.notify(NotifyClass::String, "setrange", &a[1]);
            }
            Reply::Int(n)
        }
        Err(e) => e,
    }
}

fn incr_by(ctx: &mut Ctx, key: &Bytes, by: i64) -> Reply {
    let r = ctx.with_key(key, |v| {
        let cur = match get_str(v, key)? {
            None => 0,
            Some(b) => crate::util::num::parse_i64(&b).ok_or(Reply::error(ERR_NOT_INT))?,
        };
        let n = cur.checked_add(by).ok_or(Reply::error(ERR_OVERFLOW))?;
        v.set_keep_ttl(key, Value::Str(Bytes::from(n.to_string())));
        Ok::<_, Reply>(n)
    });
    match r {
        Ok(n) => {
            ctx.notify(NotifyClass::String, "incrby", key);
            Reply::Int(n)
        }
        Err(e) => e,
    }
}

fn incr(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    incr_by(ctx, &a[1], 1)
}

fn decr(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    incr_by(ctx, &a[1], -1)
}

fn incrby(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    match int(&a[2]) {
        Ok(n) => incr_by(ctx, &a[1], n),
        Err(e) => e,
    }
}

fn decrby(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    match int(&a[2]) {
        Ok(i64::MIN) => Reply::error("ERR decrement would overflow"),
        Ok(n) => incr_by(ctx, &a[1], -n),
        Err(e) => e,
    }
}

fn incrbyfloat(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    let key = &a[1];
    let r = ctx.with_key(key, |v| {
        let cur = get_str(v, key)?;
        let s = crate::ldouble::incr_by_float(cur.as_deref(), &a[2]).map_err(|e| match e {
            crate::ldouble::IncrError::NotFloat | crate::ldouble::IncrError::BadIncrement => {
                Reply::error(super::ERR_NOT_FLOAT)
            }
            crate::ldouble::IncrError::NanOrInf => {
                Reply::error("ERR increment would produce NaN or Infinity")
            }
        })?;
        v.set_keep_ttl(key, Value::Str(s.clone()));
        v.set_str_hint(key, StrHint::NoInt);
        Ok(s)
    });
    match r {
        Ok(s) => {
            ctx.notify(NotifyClass::String, "incrbyfloat", key);
            Reply::Bulk(s)
        }
        Err(e) => e,
    }
}
