//! Popping (ZPOPMIN, ZPOPMAX, ZMPOP and their blocking forms), ZRANDMEMBER and ZSCAN.

use super::zsets::{drop_if_empty, scored_reply, zread, zwrite};
use super::{block_or_timeout, eq, int, parse_timeout_secs, syntax, Ctx, ERR_SYNTAX};
use crate::keyspace::View;
use crate::resp::{fmt_double, Reply};
use crate::state::NotifyClass;
use bytes::Bytes;
use std::time::Instant;

/// What a pop took: the key, the elements, and whether the key went with its last element.
type Popped = (Bytes, Vec<(Bytes, f64)>, bool);

/// Pops up to `count` from the first non-empty sorted set among `keys`. WRONGTYPE for a key of
/// another type met before one with something to pop, except for a blocked client's re-run
/// (`rerun`): Redis serves it only from sorted sets and passes other types over, as for lists.
fn pop_first(
    v: &mut View,
    keys: &[Bytes],
    count: usize,
    max: bool,
    rerun: bool,
) -> Result<Option<Popped>, Reply> {
    for k in keys {
        let z = match zwrite(v, k) {
            Ok(Some(z)) => z,
            Ok(None) => continue,
            Err(_) if rerun => continue,
            Err(e) => return Err(e),
        };
        let popped = z.pop(count, max);
        let gone = drop_if_empty(v, k);
        // BZPOPMIN/BZMPOP/ZMPOP go to the AOF as the plain pop of the key served.
        v.propagate(|| {
            let pop = if max { "ZPOPMAX" } else { "ZPOPMIN" };
            vec![
                Bytes::from_static(pop.as_bytes()),
                k.clone(),
                Bytes::from(popped.len().to_string()),
            ]
        });
        return Ok(Some((k.clone(), popped, gone)));
    }
    Ok(None)
}

fn notify_pop(ctx: &Ctx, key: &[u8], n: usize, max: bool, gone: bool) {
    if n > 0 {
        ctx.notify(
            NotifyClass::ZSet,
            if max { "zpopmax" } else { "zpopmin" },
            key,
        );
    }
    if gone {
        ctx.notify(NotifyClass::Generic, "del", key);
    }
}

fn zpop_generic(ctx: &mut Ctx, a: &[Bytes], max: bool) -> Reply {
    if a.len() > 3 {
        return syntax();
    }
    let count = match a.get(2) {
        None => None,
        Some(c) => match int(c) {
            Ok(n) if n >= 0 => Some(n as usize),
            _ => return Reply::error("ERR value is out of range, must be positive"),
        },
    };
    let key = &a[1];
    let r = ctx.with_key(key, |v| {
        pop_first(v, std::slice::from_ref(key), count.unwrap_or(1), max, false)
    });
    match r {
        Err(e) => e,
        Ok(None) => Reply::Array(vec![]),
        Ok(Some((k, popped, gone))) => {
            notify_pop(ctx, &k, popped.len(), max, gone);
            // A single pop (no count) stays a flat pair in RESP3 too.
            let resp = if count.is_none() { 2 } else { ctx.conn.resp };
            scored_reply(resp, popped, true)
        }
    }
}

pub fn zpopmin(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    zpop_generic(ctx, a, false)
}

pub fn zpopmax(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    zpop_generic(ctx, a, true)
}

fn bzpop_generic(ctx: &mut Ctx, a: &[Bytes], max: bool) -> Reply {
    let to = match parse_timeout_secs(&a[a.len() - 1]) {
        Ok(t) => t,
        Err(e) => return e,
    };
    let keys = &a[1..a.len() - 1];
    let rerun = ctx.conn.rerun.is_some();
    match ctx.with_keys(keys, |v| pop_first(v, keys, 1, max, rerun)) {
        Err(e) => e,
        Ok(Some((k, mut popped, gone))) => {
            notify_pop(ctx, &k, popped.len(), max, gone);
            let (m, s) = popped.remove(0);
            Reply::Array(vec![Reply::Bulk(k), Reply::Bulk(m), Reply::Double(s)])
        }
        Ok(None) => block_or_timeout(ctx, keys.to_vec(), to, Reply::NilArray),
    }
}

pub fn bzpopmin(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    bzpop_generic(ctx, a, false)
}

pub fn bzpopmax(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    bzpop_generic(ctx, a, true)
}

/// Parses `numkeys key... MIN|MAX [COUNT n]` from `a[at]`: (keys, max, count).
fn parse_mpop(a: &[Bytes], at: usize) -> Result<(&[Bytes], bool, usize), Reply> {
    let numkeys = match int(&a[at]) {
        Ok(n) if n >= 1 => n as usize,
        _ => return Err(Reply::error("ERR numkeys should be greater than 0")),
    };
    let where_idx = at.saturating_add(numkeys).saturating_add(1);
    if where_idx >= a.len() {
        return Err(syntax());
    }
    let max = if eq(&a[where_idx], "min") {
        false
    } else if eq(&a[where_idx], "max") {
        true
    } else {
        return Err(syntax());
    };
    let mut count = None;
    let mut j = where_idx + 1;
    while j < a.len() {
        if count.is_none() && eq(&a[j], "count") && j + 1 < a.len() {
            j += 1;
            match int(&a[j]) {
                Ok(n) if n >= 1 => count = Some(n as usize),
                _ => return Err(Reply::error("ERR count should be greater than 0")),
            }
        } else {
            return Err(Reply::error(ERR_SYNTAX));
        }
        j += 1;
    }
    Ok((&a[at + 1..where_idx], max, count.unwrap_or(1)))
}

fn mpop_reply(key: Bytes, popped: Vec<(Bytes, f64)>) -> Reply {
    // ZMPOP nests [member, score] pairs in both protocols.
    let pairs = popped
        .into_iter()
        .map(|(m, s)| Reply::Array(vec![Reply::Bulk(m), Reply::Double(s)]))
        .collect();
    Reply::Array(vec![Reply::Bulk(key), Reply::Array(pairs)])
}

fn mpop_generic(ctx: &mut Ctx, a: &[Bytes], at: usize, to: Option<Option<Instant>>) -> Reply {
    let (keys, max, count) = match parse_mpop(a, at) {
        Ok(x) => x,
        Err(e) => return e,
    };
    let rerun = ctx.conn.rerun.is_some();
    match ctx.with_keys(keys, |v| pop_first(v, keys, count, max, rerun)) {
        Err(e) => e,
        Ok(Some((k, popped, gone))) => {
            notify_pop(ctx, &k, popped.len(), max, gone);
            mpop_reply(k, popped)
        }
        Ok(None) => match to {
            Some(to) => block_or_timeout(ctx, keys.to_vec(), to, Reply::NilArray),
            None => Reply::NilArray,
        },
    }
}

pub fn zmpop(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    mpop_generic(ctx, a, 1, None)
}

pub fn bzmpop(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    let to = match parse_timeout_secs(&a[1]) {
        Ok(t) => t,
        Err(e) => return e,
    };
    mpop_generic(ctx, a, 2, Some(to))
}

pub fn zrandmember(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    use rand::RngExt;
    let key = &a[1];
    if a.len() == 2 {
        let r = ctx.with_key(key, |v| {
            zread(v, key).map(|z| {
                z.and_then(|z| z.at_rank(rand::rng().random_range(0..z.len())))
                    .map(|(m, _)| m)
            })
        });
        return match r {
            Ok(m) => Reply::opt_bulk(m),
            Err(e) => e,
        };
    }
    let count = match int(&a[2]) {
        Ok(n) if n != i64::MIN => n,
        Ok(_) => {
            return Reply::error(
                "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807",
            )
        }
        Err(e) => return e,
    };
    if a.len() > 4 || (a.len() == 4 && !eq(&a[3], "withscores")) {
        return syntax();
    }
    let withscores = a.len() == 4;
    // Redis would try to build a reply of any size and run out of memory; refuse absurd ones.
    if count < 0 && count.unsigned_abs() > MAX_RANDOM_REPLY {
        return Reply::error("ERR value is out of range");
    }
    if withscores && !(-(i64::MAX / 2)..=i64::MAX / 2).contains(&count) {
        return Reply::error("ERR value is out of range");
    }
    let r = ctx.with_key(key, |v| {
        zread(v, key).map(|z| {
            let Some(z) = z else {
                return Vec::new();
            };
            let len = z.len();
            let mut rng = rand::rng();
            if count < 0 {
                // Repeats allowed: independent draws.
                let n = count.unsigned_abs() as usize;
                return (0..n)
                    .filter_map(|_| z.at_rank(rng.random_range(0..len)))
                    .collect();
            }
            let n = count as usize;
            if n >= len {
                return z.pairs();
            }
            rand::seq::index::sample(&mut rng, len, n)
                .into_iter()
                .filter_map(|i| z.at_rank(i))
                .collect()
        })
    });
    match r {
        Ok(items) => scored_reply(ctx.conn.resp, items, withscores),
        Err(e) => e,
    }
}

/// The most elements ZRANDMEMBER with a negative count returns (16 Mi).
const MAX_RANDOM_REPLY: u64 = 1 << 24;

/// A score as a listpack stores it (Redis's d2string): integers print without exponent.
fn listpack_score(s: f64) -> String {
    const LIM: f64 = (i64::MAX / 2) as f64;
    if (-LIM..=LIM).contains(&s) && s == s.trunc() {
        format!("{}", s as i64)
    } else {
        fmt_double(s)
    }
}

pub fn zscan(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    let cursor = match super::coll::parse_cursor(&a[2]) {
        Ok(c) => usize::try_from(c).unwrap_or(usize::MAX),
        Err(e) => return e,
    };
    let opts = match super::coll::ScanOpts::parse(&a[3..]) {
        Ok(o) => o,
        Err(e) => return e,
    };
    let count = opts.count;
    let key = &a[1];
    let r = ctx.with_key(key, |v| {
        zread(v, key).map(|z| {
            let Some(z) = z else {
                return (0, Vec::new());
            };
            // A small (listpack) set is returned whole, as Redis does. A large one is walked by
            // rank, `count` at a time; the cursor is the next rank.
            let small = z.encoding() == "listpack";
            let (items, next) = if small {
                (z.range_by_rank(0, z.len().saturating_sub(1), false), 0)
            } else {
                let end = cursor.saturating_add(count);
                let items = if cursor < z.len() {
                    z.range_by_rank(cursor, end - 1, false)
                } else {
                    Vec::new()
                };
                (items, if end >= z.len() { 0 } else { end })
            };
            let mut out = Vec::new();
            for (m, s) in items {
                if !opts.matches(&m) {
                    continue;
                }
                let sc = if small {
                    listpack_score(s)
                } else {
                    fmt_double(s)
                };
                out.push(Reply::Bulk(m));
                out.push(Reply::Bulk(Bytes::from(sc)));
            }
            (next, out)
        })
    });
    match r {
        Ok((next, items)) => Reply::Array(vec![
            Reply::Bulk(Bytes::from(next.to_string())),
            Reply::Array(items),
        ]),
        Err(e) => e,
    }
}
