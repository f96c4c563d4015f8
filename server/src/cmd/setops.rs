//! Set algebra across keys: SINTER, SUNION, SDIFF, their STORE forms, SINTERCARD and SMOVE.

use super::coll::{fire, Events};
use super::sets::{drop_if_empty, max_intset, read, set_reply, write};
use super::{eq, syntax, wrongtype, Ctx};
use crate::keyspace::{Set, Value, View};
use crate::resp::Reply;
use crate::server::NotifyClass;
use bytes::Bytes;

/// The sets of `keys`, in order (None for a missing key); WRONGTYPE if any key holds another type.
/// Copies, because the view lends one value at a time (members are refcounted `Bytes`).
fn load(v: &mut View, keys: &[Bytes]) -> Result<Vec<Option<Set>>, Reply> {
    let mut out = Vec::with_capacity(keys.len());
    for k in keys {
        out.push(read(v, k)?.cloned());
    }
    Ok(out)
}

/// The intersection of `sets` in Redis's order (the smallest set's), stopping at `limit` (0: all).
fn intersect(sets: &[Option<Set>], limit: usize, max_intset: usize) -> Set {
    let mut out = Set::new();
    if sets.iter().any(|s| s.is_none()) {
        return out;
    }
    let mut sets: Vec<&Set> = sets.iter().flatten().collect();
    sets.sort_by_key(|s| s.len());
    let Some((first, rest)) = sets.split_first() else {
        return out;
    };
    for m in first.members() {
        if rest.iter().all(|s| s.contains(&m)) {
            out.insert(m, max_intset);
            if limit > 0 && out.len() >= limit {
                break;
            }
        }
    }
    out
}

/// Members of an intersection, in the order SINTER replies with (the smallest set's order).
fn intersect_ordered(sets: &[Option<Set>]) -> Vec<Bytes> {
    if sets.iter().any(|s| s.is_none()) {
        return Vec::new();
    }
    let mut sets: Vec<&Set> = sets.iter().flatten().collect();
    sets.sort_by_key(|s| s.len());
    let Some((first, rest)) = sets.split_first() else {
        return Vec::new();
    };
    first
        .members()
        .into_iter()
        .filter(|m| rest.iter().all(|s| s.contains(m)))
        .collect()
}

fn union(sets: &[Option<Set>], max_intset: usize) -> Set {
    let mut out = Set::new();
    for s in sets.iter().flatten() {
        for m in s.iter() {
            out.insert(m.clone(), max_intset);
        }
    }
    out
}

fn diff(sets: &[Option<Set>], max_intset: usize) -> Set {
    let mut out = Set::new();
    let Some(Some(first)) = sets.first() else {
        return out;
    };
    for m in first.iter() {
        if !sets[1..].iter().flatten().any(|s| s.contains(m)) {
            out.insert(m.clone(), max_intset);
        }
    }
    out
}

#[derive(Clone, Copy, PartialEq)]
enum Op {
    Inter,
    Union,
    Diff,
}

fn compute(op: Op, sets: &[Option<Set>], max: usize) -> Set {
    match op {
        Op::Inter => intersect(sets, 0, max),
        Op::Union => union(sets, max),
        Op::Diff => diff(sets, max),
    }
}

fn read_op(ctx: &mut Ctx, a: &[Bytes], op: Op) -> Reply {
    let max = max_intset(ctx);
    let keys = &a[1..];
    let r = ctx.with_keys(keys, |v| {
        let sets = load(v, keys)?;
        Ok(match op {
            Op::Inter => intersect_ordered(&sets),
            _ => compute(op, &sets, max).members(),
        })
    });
    r.map_or_else(|e| e, set_reply)
}

fn store_op(ctx: &mut Ctx, a: &[Bytes], op: Op, event: &'static str) -> Reply {
    let max = max_intset(ctx);
    let dst = &a[1];
    let keys = &a[2..];
    let r = ctx.with_keys(&a[1..], |v| {
        let sets = load(v, keys)?;
        let out = compute(op, &sets, max);
        let n = out.len() as i64;
        let mut evs = Events::new();
        if out.is_empty() {
            if v.remove(dst).is_some() {
                evs.push((NotifyClass::Generic, "del", dst.clone()));
            }
        } else {
            v.set(dst.clone(), Value::Set(Box::new(out)), None);
            evs.push((NotifyClass::Set, event, dst.clone()));
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

pub fn sinter(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    read_op(ctx, a, Op::Inter)
}

pub fn sunion(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    read_op(ctx, a, Op::Union)
}

pub fn sdiff(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    read_op(ctx, a, Op::Diff)
}

pub fn sinterstore(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    store_op(ctx, a, Op::Inter, "sinterstore")
}

pub fn sunionstore(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    store_op(ctx, a, Op::Union, "sunionstore")
}

pub fn sdiffstore(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    store_op(ctx, a, Op::Diff, "sdiffstore")
}

pub fn sintercard(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    let nerr = || Reply::error("ERR numkeys should be greater than 0");
    let numkeys = match crate::resp::parse_i64_pub(&a[1]) {
        Some(n) if n >= 1 => n as u64,
        _ => return nerr(),
    };
    if numkeys > (a.len() - 2) as u64 {
        return Reply::error("ERR Number of keys can't be greater than number of args");
    }
    let keys = &a[2..2 + numkeys as usize];
    let mut limit = 0usize;
    let mut i = 2 + numkeys as usize;
    while i < a.len() {
        if eq(&a[i], "limit") && i + 1 < a.len() {
            match crate::resp::parse_i64_pub(&a[i + 1]) {
                Some(l) if l >= 0 => limit = l as usize,
                _ => return Reply::error("ERR LIMIT can't be negative"),
            }
            i += 2;
        } else {
            return syntax();
        }
    }
    let max = max_intset(ctx);
    let r = ctx.with_keys(keys, |v| {
        let sets = load(v, keys)?;
        Ok(intersect(&sets, limit, max).len() as i64)
    });
    r.map_or_else(|e| e, Reply::Int)
}

pub fn smove(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    let (src, dst, m) = (&a[1], &a[2], &a[3]);
    let max = max_intset(ctx);
    let r = ctx.with_keys(&a[1..3], |v| {
        let mut evs = Events::new();
        let src_type = v.peek(src).map(|e| matches!(e.value, Value::Set(_)));
        let dst_type = v.peek(dst).map(|e| matches!(e.value, Value::Set(_)));
        match (src_type, dst_type) {
            (None, _) => return Ok((0, evs)),
            (Some(false), _) | (_, Some(false)) => return Err(wrongtype()),
            _ => {}
        }
        if src == dst {
            let has = read(v, src)?.is_some_and(|s| s.contains(m));
            return Ok((i64::from(has), evs));
        }
        if !super::sets::peek(v, src)?.is_some_and(|s| s.contains(m)) {
            return Ok((0, evs));
        }
        let removed = write(v, src, false)?.is_some_and(|s| s.remove(m));
        if !removed {
            return Ok((0, evs));
        }
        evs.push((NotifyClass::Set, "srem", src.clone()));
        drop_if_empty(v, src, &mut evs);
        let d = write(v, dst, true)?.ok_or_else(wrongtype)?;
        if d.insert(m.clone(), max) {
            evs.push((NotifyClass::Set, "sadd", dst.clone()));
        }
        Ok((1, evs))
    });
    match r {
        Ok((n, evs)) => {
            fire(ctx, evs);
            Reply::Int(n)
        }
        Err(e) => e,
    }
}
