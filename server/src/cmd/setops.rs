//! Set algebra across keys: SINTER, SUNION, SDIFF, their STORE forms, SINTERCARD and SMOVE.

use super::coll::{fire_int, Coll, Events};
use super::sets::{drop_if_empty, max_intset, set_reply};
use super::{eq, syntax, wrongtype, Ctx};
use crate::keyspace::{Set, Value, View};
use crate::resp::Reply;
use crate::state::NotifyClass;
use bytes::Bytes;

/// Type-checks every key (WRONGTYPE if any holds another type; Redis checks them all before
/// computing) and returns the set sizes, None for a missing key. Each lookup counts as a read.
fn sizes(v: &mut View, keys: &[Bytes]) -> Result<Vec<Option<usize>>, Reply> {
    keys.iter()
        .map(|k| Ok(Set::read(v, k)?.map(|s| s.len())))
        .collect()
}

/// Members of the intersection in the order SINTER replies with (the smallest set's), at most
/// `limit` of them (0: all). Works from the smallest set, so a small set against a huge one
/// costs the small one's size.
fn intersect(v: &mut View, keys: &[Bytes], limit: usize) -> Result<Vec<Bytes>, Reply> {
    let sizes = sizes(v, keys)?;
    if sizes.iter().any(Option::is_none) {
        return Ok(Vec::new());
    }
    let mut order: Vec<usize> = (0..keys.len()).collect();
    order.sort_by_key(|&i| sizes[i]);
    let mut cand = Set::peek(v, &keys[order[0]])?
        .map(|s| s.members())
        .unwrap_or_default();
    for &i in &order[1..] {
        if cand.is_empty() {
            break;
        }
        if let Some(s) = Set::peek(v, &keys[i])? {
            cand.retain(|m| s.contains(m));
        }
    }
    if limit > 0 {
        cand.truncate(limit);
    }
    Ok(cand)
}

fn union(v: &mut View, keys: &[Bytes], max_intset: usize) -> Result<Set, Reply> {
    sizes(v, keys)?;
    let mut out = Set::new();
    for k in keys {
        if let Some(s) = Set::peek(v, k)? {
            for m in s.iter() {
                out.insert(m, max_intset);
            }
        }
    }
    Ok(out)
}

fn diff(v: &mut View, keys: &[Bytes], max_intset: usize) -> Result<Set, Reply> {
    sizes(v, keys)?;
    let mut cand: Vec<Bytes> = Set::peek(v, &keys[0])?
        .map(|s| s.iter().collect())
        .unwrap_or_default();
    for k in &keys[1..] {
        if cand.is_empty() {
            break;
        }
        if let Some(s) = Set::peek(v, k)? {
            cand.retain(|m| !s.contains(m));
        }
    }
    Ok(to_set(cand, max_intset))
}

fn to_set(members: Vec<Bytes>, max_intset: usize) -> Set {
    let mut out = Set::new();
    for m in members {
        out.insert(m, max_intset);
    }
    out
}

#[derive(Clone, Copy, PartialEq)]
enum Op {
    Inter,
    Union,
    Diff,
}

/// The result as a set built the way Redis builds it (intset while it can).
fn compute(v: &mut View, op: Op, keys: &[Bytes], max: usize) -> Result<Set, Reply> {
    match op {
        Op::Inter => Ok(to_set(intersect(v, keys, 0)?, max)),
        Op::Union => union(v, keys, max),
        Op::Diff => diff(v, keys, max),
    }
}

fn read_op(ctx: &mut Ctx, a: &[Bytes], op: Op) -> Reply {
    let max = max_intset(ctx);
    let keys = &a[1..];
    let r = ctx.with_keys(keys, |v| {
        Ok(match op {
            Op::Inter => intersect(v, keys, 0)?,
            _ => compute(v, op, keys, max)?.members(),
        })
    });
    r.map_or_else(|e| e, set_reply)
}

fn store_op(ctx: &mut Ctx, a: &[Bytes], op: Op, event: &'static str) -> Reply {
    let max = max_intset(ctx);
    let dst = &a[1];
    let keys = &a[2..];
    let r = ctx.with_keys(&a[1..], |v| {
        let out = compute(v, op, keys, max)?;
        let n = out.len() as i64;
        let mut evs = Events::new();
        if out.is_empty() {
            if v.remove(dst).is_some() {
                evs.push((NotifyClass::Generic, "del", dst.clone()));
            }
        } else {
            v.set(dst, Value::Set(Box::new(out)), None);
            evs.push((NotifyClass::Set, event, dst.clone()));
        }
        Ok((n, evs))
    });
    fire_int(ctx, r)
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
    let numkeys = match crate::util::num::parse_i64(&a[1]) {
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
            match crate::util::num::parse_i64(&a[i + 1]) {
                Some(l) if l >= 0 => limit = l as usize,
                _ => return Reply::error("ERR LIMIT can't be negative"),
            }
            i += 2;
        } else {
            return syntax();
        }
    }
    let r = ctx.with_keys(keys, |v| Ok(intersect(v, keys, limit)?.len() as i64));
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
            let has = Set::read(v, src)?.is_some_and(|s| s.contains(m));
            return Ok((i64::from(has), evs));
        }
        if !Set::peek(v, src)?.is_some_and(|s| s.contains(m)) {
            return Ok((0, evs));
        }
        let removed = Set::write(v, src, false)?.is_some_and(|s| s.remove(m));
        if !removed {
            return Ok((0, evs));
        }
        evs.push((NotifyClass::Set, "srem", src.clone()));
        drop_if_empty(v, src, &mut evs);
        // Redis touches (and notifies) the destination only when the member is added to it.
        if Set::peek(v, dst)?.is_some_and(|s| s.contains(m)) {
            return Ok((1, evs));
        }
        let d = Set::write(v, dst, true)?.ok_or_else(wrongtype)?;
        let added = d.insert(m.clone(), max);
        if dst_type.is_none() {
            // Redis adds the destination after the source's events: its `new` goes here.
            if let Some(n) = v.new_keys.as_mut() {
                n.retain(|(_, k)| k != dst);
            }
            evs.push((NotifyClass::New, "new", dst.clone()));
        }
        if added {
            evs.push((NotifyClass::Set, "sadd", dst.clone()));
        }
        Ok((1, evs))
    });
    fire_int(ctx, r)
}
