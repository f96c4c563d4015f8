//! Sorted set algebra: ZUNION, ZINTER, ZDIFF, their STORE forms, and ZINTERCARD. Plain sets are
//! accepted as inputs, each member with score 1.

use super::zsets::{lp_limits, notify_store, parse_score, scored_reply, store_result};
use super::{eq, int, syntax, wrongtype, Ctx};
use crate::keyspace::zset::ZSet;
use crate::keyspace::{Value, View};
use crate::resp::Reply;
use bytes::Bytes;
use std::collections::HashMap;

#[derive(Clone, Copy, PartialEq)]
enum Op {
    Union,
    Inter,
    Diff,
}

#[derive(Clone, Copy)]
enum Agg {
    Sum,
    Min,
    Max,
}

impl Agg {
    fn apply(self, acc: &mut f64, v: f64) {
        match self {
            Agg::Sum => {
                *acc += v;
                // inf + -inf: Redis makes it 0 rather than NaN.
                if acc.is_nan() {
                    *acc = 0.0;
                }
            }
            Agg::Min => *acc = acc.min(v),
            Agg::Max => *acc = acc.max(v),
        }
    }
}

/// Options after the keys.
struct Opts {
    weights: Option<Vec<f64>>,
    agg: Agg,
    withscores: bool,
    limit: usize,
}

/// One input: its elements (a missing key is empty).
type Src = Vec<(Bytes, f64)>;

fn parse_opts(rest: &[Bytes], n: usize, op: Op, store: bool, card: bool) -> Result<Opts, Reply> {
    let mut o = Opts {
        weights: None,
        agg: Agg::Sum,
        withscores: false,
        limit: 0,
    };
    let mut j = 0;
    while j < rest.len() {
        let left = rest.len() - j;
        let a = &rest[j];
        if op != Op::Diff && !card && left > n && eq(a, "weights") {
            let mut w = Vec::with_capacity(n);
            for b in &rest[j + 1..j + 1 + n] {
                w.push(parse_score(b).ok_or(Reply::error("ERR weight value is not a float"))?);
            }
            o.weights = Some(w);
            j += 1 + n;
        } else if op != Op::Diff && !card && left >= 2 && eq(a, "aggregate") {
            let b = &rest[j + 1];
            o.agg = if eq(b, "sum") {
                Agg::Sum
            } else if eq(b, "min") {
                Agg::Min
            } else if eq(b, "max") {
                Agg::Max
            } else {
                return Err(syntax());
            };
            j += 2;
        } else if !store && !card && eq(a, "withscores") {
            o.withscores = true;
            j += 1;
        } else if card && left >= 2 && eq(a, "limit") {
            match int(&rest[j + 1]) {
                Ok(l) if l >= 0 => o.limit = l as usize,
                _ => return Err(Reply::error("ERR LIMIT can't be negative")),
            }
            j += 2;
        } else {
            return Err(syntax());
        }
    }
    Ok(o)
}

/// Reads the inputs: WRONGTYPE for anything but a sorted set or a set.
fn read_srcs(v: &mut View, keys: &[Bytes]) -> Result<Vec<Src>, Reply> {
    let mut out = Vec::with_capacity(keys.len());
    for k in keys {
        let src = match v.get(k).map(|e| &e.value) {
            None => Vec::new(),
            Some(Value::ZSet(z)) => z.pairs(),
            Some(Value::Set(s)) => s.iter().map(|m| (m.clone(), 1.0)).collect(),
            Some(_) => return Err(wrongtype()),
        };
        out.push(src);
    }
    Ok(out)
}

fn weighted(w: f64, s: f64) -> f64 {
    let v = w * s;
    // 0 * inf: Redis makes it 0 rather than NaN.
    if v.is_nan() {
        0.0
    } else {
        v
    }
}

/// Computes the operation; `limit` > 0 stops an intersection early (ZINTERCARD).
fn compute(mut srcs: Vec<(Src, f64)>, op: Op, agg: Agg, limit: usize) -> HashMap<Bytes, f64> {
    let mut out: HashMap<Bytes, f64> = HashMap::new();
    match op {
        Op::Union => {
            srcs.sort_by_key(|(s, _)| s.len());
            for (src, w) in &srcs {
                for (m, s) in src {
                    let v = weighted(*w, *s);
                    match out.get_mut(m) {
                        Some(acc) => agg.apply(acc, v),
                        None => {
                            out.insert(m.clone(), v);
                        }
                    }
                }
            }
        }
        Op::Inter => {
            srcs.sort_by_key(|(s, _)| s.len());
            if srcs.iter().any(|(s, _)| s.is_empty()) {
                return out;
            }
            let others: Vec<(HashMap<&Bytes, f64>, f64)> = srcs[1..]
                .iter()
                .map(|(s, w)| (s.iter().map(|(m, v)| (m, *v)).collect(), *w))
                .collect();
            let (first, w0) = &srcs[0];
            'outer: for (m, s) in first {
                let mut acc = weighted(*w0, *s);
                for (map, w) in &others {
                    match map.get(m) {
                        Some(v) => agg.apply(&mut acc, weighted(*w, *v)),
                        None => continue 'outer,
                    }
                }
                out.insert(m.clone(), acc);
                if limit > 0 && out.len() >= limit {
                    break;
                }
            }
        }
        Op::Diff => {
            let (first, _) = &srcs[0];
            let others: Vec<std::collections::HashSet<&Bytes>> = srcs[1..]
                .iter()
                .map(|(s, _)| s.iter().map(|(m, _)| m).collect())
                .collect();
            for (m, s) in first {
                if !others.iter().any(|o| o.contains(m)) {
                    out.insert(m.clone(), *s);
                }
            }
        }
    }
    out
}

/// The shared body. `dst` for the STORE forms; `numkeys` is `a[at]`.
fn generic(
    ctx: &mut Ctx,
    a: &[Bytes],
    at: usize,
    dst: Option<&Bytes>,
    op: Op,
    card: bool,
) -> Reply {
    let n = match int(&a[at]) {
        Ok(n) => n,
        Err(e) => return e,
    };
    if n < 1 {
        let name = String::from_utf8_lossy(&a[0]).to_ascii_lowercase();
        return Reply::error(format!(
            "ERR at least 1 input key is needed for '{name}' command"
        ));
    }
    if n as u64 > (a.len() - at - 1) as u64 {
        return syntax();
    }
    let n = n as usize;
    let keys = &a[at + 1..at + 1 + n];
    let opts = parse_opts(&a[at + 1 + n..], n, op, dst.is_some(), card);
    let mut locks: Vec<&Bytes> = keys.iter().collect();
    if let Some(d) = dst {
        locks.push(d);
    }
    let lp = lp_limits(ctx);
    let resp = ctx.conn.resp;
    let r = ctx.with_keys(&locks, |v| {
        let srcs = read_srcs(v, keys)?;
        let opts = opts?;
        let weights = opts.weights.clone().unwrap_or_else(|| vec![1.0; n]);
        let res = compute(
            srcs.into_iter().zip(weights).collect(),
            op,
            opts.agg,
            opts.limit,
        );
        if card {
            return Ok((Reply::Int(res.len() as i64), None));
        }
        // Built as a skiplist, as Redis does; a stored result then settles into its encoding.
        let mut z = ZSet::new();
        z.set_skiplist();
        for (m, s) in res {
            z.insert(m, s);
        }
        match dst {
            Some(d) => {
                let (len, deleted) = store_result(v, d, z, lp);
                Ok((Reply::Int(len as i64), Some((len, deleted))))
            }
            None => {
                let items = z.pairs();
                Ok((scored_reply(resp, items, opts.withscores), None))
            }
        }
    });
    match r {
        Err(e) => e,
        Ok((reply, stored)) => {
            if let (Some(d), Some((len, deleted))) = (dst, stored) {
                let ev = match op {
                    Op::Union => "zunionstore",
                    Op::Inter => "zinterstore",
                    Op::Diff => "zdiffstore",
                };
                notify_store(ctx, ev, d, len, deleted);
                return reply;
            }
            reply
        }
    }
}

pub fn zunion(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    generic(ctx, a, 1, None, Op::Union, false)
}

pub fn zinter(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    generic(ctx, a, 1, None, Op::Inter, false)
}

pub fn zdiff(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    generic(ctx, a, 1, None, Op::Diff, false)
}

pub fn zintercard(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    generic(ctx, a, 1, None, Op::Inter, true)
}

pub fn zunionstore(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    generic(ctx, a, 2, Some(&a[1]), Op::Union, false)
}

pub fn zinterstore(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    generic(ctx, a, 2, Some(&a[1]), Op::Inter, false)
}

pub fn zdiffstore(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    generic(ctx, a, 2, Some(&a[1]), Op::Diff, false)
}
