//! Sorted set commands: the table, shared parsing and replies, and the single-key commands
//! (ZADD, ZINCRBY, ZREM, ZSCORE, ZMSCORE, ZCARD, ZCOUNT, ZLEXCOUNT, ZRANK, ZREVRANK). Ranges are
//! in `zrange`, pops in `zpop`, set algebra in `zsetops`.

use super::zpop::{bzmpop, bzpopmax, bzpopmin, zmpop, zpopmax, zpopmin, zrandmember, zscan};
use super::zrange::{
    zrange, zrangebylex, zrangebyscore, zrangestore, zremrangebylex, zremrangebyrank,
    zremrangebyscore, zrevrange, zrevrangebylex, zrevrangebyscore,
};
use super::zsetops::{zdiff, zdiffstore, zinter, zintercard, zinterstore, zunion, zunionstore};
use super::{eq, wrongtype, CommandSpec, Ctx, Flags, ERR_NOT_FLOAT, ERR_SYNTAX};
use crate::command;
use crate::keyspace::zset::{LexBound, LexRange, ScoreRange, ZSet};
use crate::keyspace::{Value, View};
use crate::resp::Reply;
use crate::state::NotifyClass;
use crate::util::num::strtod;
use bytes::Bytes;

const WDF: Flags = Flags::WRITE.union(Flags::DENYOOM).union(Flags::FAST);
const WD: Flags = Flags::WRITE.union(Flags::DENYOOM);
const WF: Flags = Flags::WRITE.union(Flags::FAST);
const W: Flags = Flags::WRITE;
const RF: Flags = Flags::READONLY.union(Flags::FAST);
const R: Flags = Flags::READONLY;
const WB: Flags = Flags::WRITE.union(Flags::BLOCKING);
const WBF: Flags = Flags::WRITE
    .union(Flags::NOSCRIPT)
    .union(Flags::BLOCKING)
    .union(Flags::FAST);
/// ACL categories beyond those the flags imply (see `CommandSpec::acl_categories`).
const ACL: &[&str] = &["sortedset"];

/// The sorted set family.
#[rustfmt::skip]
pub static COMMANDS: &[CommandSpec] = &[
    command!("zadd", -4, WDF, (1, 1, 1), "sorted_set", "1.2.0", ACL, zadd, "Adds one or more members to a sorted set, or updates their scores. Creates the key if it doesn't exist."),
    command!("zincrby", 4, WDF, (1, 1, 1), "sorted_set", "1.2.0", ACL, zincrby, "Increments the score of a member in a sorted set."),
    command!("zrem", -3, WF, (1, 1, 1), "sorted_set", "1.2.0", ACL, zrem, "Removes one or more members from a sorted set. Deletes the sorted set if all members were removed."),
    command!("zscore", 3, RF, (1, 1, 1), "sorted_set", "1.2.0", ACL, zscore, "Returns the score of a member in a sorted set."),
    command!("zmscore", -3, RF, (1, 1, 1), "sorted_set", "6.2.0", ACL, zmscore, "Returns the score of one or more members in a sorted set."),
    command!("zcard", 2, RF, (1, 1, 1), "sorted_set", "1.2.0", ACL, zcard, "Returns the number of members in a sorted set."),
    command!("zcount", 4, RF, (1, 1, 1), "sorted_set", "2.0.0", ACL, zcount, "Returns the count of members in a sorted set that have scores within a range."),
    command!("zlexcount", 4, RF, (1, 1, 1), "sorted_set", "2.8.9", ACL, zlexcount, "Returns the number of members in a sorted set within a lexicographical range."),
    command!("zrank", 3, RF, (1, 1, 1), "sorted_set", "2.0.0", ACL, zrank, "Returns the index of a member in a sorted set ordered by ascending scores."),
    command!("zrevrank", 3, RF, (1, 1, 1), "sorted_set", "2.0.0", ACL, zrevrank, "Returns the index of a member in a sorted set ordered by descending scores."),
    command!("zrange", -4, R, (1, 1, 1), "sorted_set", "1.2.0", ACL, zrange, "Returns members in a sorted set within a range of indexes."),
    command!("zrangestore", -5, WD, (1, 2, 1), "sorted_set", "6.2.0", ACL, zrangestore, "Stores a range of members from sorted set in a key."),
    command!("zrevrange", -4, R, (1, 1, 1), "sorted_set", "1.2.0", ACL, zrevrange, "Returns members in a sorted set within a range of indexes in reverse order."),
    command!("zrangebyscore", -4, R, (1, 1, 1), "sorted_set", "1.0.5", ACL, zrangebyscore, "Returns members in a sorted set within a range of scores."),
    command!("zrevrangebyscore", -4, R, (1, 1, 1), "sorted_set", "2.2.0", ACL, zrevrangebyscore, "Returns members in a sorted set within a range of scores in reverse order."),
    command!("zrangebylex", -4, R, (1, 1, 1), "sorted_set", "2.8.9", ACL, zrangebylex, "Returns members in a sorted set within a lexicographical range."),
    command!("zrevrangebylex", -4, R, (1, 1, 1), "sorted_set", "2.8.9", ACL, zrevrangebylex, "Returns members in a sorted set within a lexicographical range in reverse order."),
    command!("zremrangebyrank", 4, W, (1, 1, 1), "sorted_set", "2.0.0", ACL, zremrangebyrank, "Removes members in a sorted set within a range of indexes. Deletes the sorted set if all members were removed."),
    command!("zremrangebyscore", 4, W, (1, 1, 1), "sorted_set", "1.2.0", ACL, zremrangebyscore, "Removes members in a sorted set within a range of scores. Deletes the sorted set if all members were removed."),
    command!("zremrangebylex", 4, W, (1, 1, 1), "sorted_set", "2.8.9", ACL, zremrangebylex, "Removes members in a sorted set within a lexicographical range. Deletes the sorted set if all members were removed."),
    command!("zpopmin", -2, WF, (1, 1, 1), "sorted_set", "5.0.0", ACL, zpopmin, "Returns the lowest-scoring members from a sorted set after removing them. Deletes the sorted set if the last member was popped."),
    command!("zpopmax", -2, WF, (1, 1, 1), "sorted_set", "5.0.0", ACL, zpopmax, "Returns the highest-scoring members from a sorted set after removing them. Deletes the sorted set if the last member was popped."),
    command!("bzpopmin", -3, WBF, (1, -2, 1), "sorted_set", "5.0.0", ACL, bzpopmin, "Removes and returns the member with the lowest score from one or more sorted sets. Blocks until a member is available otherwise."),
    command!("bzpopmax", -3, WBF, (1, -2, 1), "sorted_set", "5.0.0", ACL, bzpopmax, "Removes and returns the member with the highest score from one or more sorted sets. Blocks until a member available otherwise."),
    command!("zmpop", -4, W.union(Flags::MOVABLEKEYS), (0, 0, 0), "sorted_set", "7.0.0", ACL, zmpop, "Returns the highest- or lowest-scoring members from one or more sorted sets after removing them."),
    command!("bzmpop", -5, WB.union(Flags::MOVABLEKEYS), (0, 0, 0), "sorted_set", "7.0.0", ACL, bzmpop, "Removes and returns a member by score from one or more sorted sets. Blocks until a member is available otherwise."),
    command!("zunionstore", -4, WD.union(Flags::MOVABLEKEYS), (1, 1, 1), "sorted_set", "2.0.0", ACL, zunionstore, "Stores the union of multiple sorted sets in a key."),
    command!("zinterstore", -4, WD.union(Flags::MOVABLEKEYS), (1, 1, 1), "sorted_set", "2.0.0", ACL, zinterstore, "Stores the intersect of multiple sorted sets in a key."),
    command!("zdiffstore", -4, WD.union(Flags::MOVABLEKEYS), (1, 1, 1), "sorted_set", "6.2.0", ACL, zdiffstore, "Stores the difference of multiple sorted sets in a key."),
    command!("zunion", -3, R.union(Flags::MOVABLEKEYS), (0, 0, 0), "sorted_set", "6.2.0", ACL, zunion, "Returns the union of multiple sorted sets."),
    command!("zinter", -3, R.union(Flags::MOVABLEKEYS), (0, 0, 0), "sorted_set", "6.2.0", ACL, zinter, "Returns the intersect of multiple sorted sets."),
    command!("zdiff", -3, R.union(Flags::MOVABLEKEYS), (0, 0, 0), "sorted_set", "6.2.0", ACL, zdiff, "Returns the difference between multiple sorted sets."),
    command!("zintercard", -3, R.union(Flags::MOVABLEKEYS), (0, 0, 0), "sorted_set", "7.0.0", ACL, zintercard, "Returns the number of members of the intersect of multiple sorted sets."),
    command!("zrandmember", -2, R, (1, 1, 1), "sorted_set", "6.2.0", ACL, zrandmember, "Returns one or more random members from a sorted set."),
    command!("zscan", -3, R, (1, 1, 1), "sorted_set", "2.8.0", ACL, zscan, "Iterates over members and scores of a sorted set."),
];

// ---- shared helpers ----

/// The sorted set at `key` for reading: Ok(None) if missing, WRONGTYPE for another type.
pub(crate) fn zread<'a>(v: &'a mut View, key: &[u8]) -> Result<Option<&'a ZSet>, Reply> {
    match v.get(key) {
        None => Ok(None),
        Some(e) => match &e.value {
            Value::ZSet(z) => Ok(Some(z)),
            _ => Err(wrongtype()),
        },
    }
}

/// The sorted set at `key` for writing: Ok(None) if missing, WRONGTYPE for another type.
pub(crate) fn zwrite<'a>(v: &'a mut View, key: &[u8]) -> Result<Option<&'a mut ZSet>, Reply> {
    match v.get_mut(key) {
        None => Ok(None),
        Some(e) => match &mut e.value {
            Value::ZSet(z) => Ok(Some(z)),
            _ => Err(wrongtype()),
        },
    }
}

/// Removes `key` if its sorted set is now empty (Redis never keeps an empty aggregate).
/// Returns whether it did.
pub(crate) fn drop_if_empty(v: &mut View, key: &[u8]) -> bool {
    let empty =
        matches!(v.peek(key), Some(e) if matches!(&e.value, Value::ZSet(z) if z.is_empty()));
    if empty {
        v.remove(key);
    }
    empty
}

/// Stores a freshly built sorted set at `dst` (replacing anything, dropping the TTL), or deletes
/// `dst` when the result is empty. Returns (stored length, whether an old key was deleted).
pub(crate) fn store_result(
    v: &mut View,
    dst: &Bytes,
    mut z: ZSet,
    lp: (usize, usize),
) -> (usize, bool) {
    let n = z.len();
    if n == 0 {
        return (0, v.remove(dst).is_some());
    }
    z.settle_encoding(lp.0, lp.1);
    v.set(dst, Value::ZSet(Box::new(z)), None);
    (n, false)
}

/// The listpack limits (`zset-max-listpack-entries`, `zset-max-listpack-value`).
pub(crate) fn lp_limits(ctx: &Ctx) -> (usize, usize) {
    ctx.srv.zset_listpack_limits()
}

/// Notifications after a store: the event when something was stored, `del` when an old key went.
pub(crate) fn notify_store(ctx: &Ctx, event: &str, dst: &[u8], stored: usize, deleted: bool) {
    if stored > 0 {
        ctx.notify(NotifyClass::ZSet, event, dst);
        ctx.signal_ready(dst);
    } else if deleted {
        ctx.notify(NotifyClass::Generic, "del", dst);
    }
}

/// Members with optional scores: a flat array in RESP2, [member, score] pairs in RESP3.
pub(crate) fn scored_reply(resp: u8, items: Vec<(Bytes, f64)>, withscores: bool) -> Reply {
    if !withscores {
        return Reply::Array(items.into_iter().map(|(m, _)| Reply::Bulk(m)).collect());
    }
    if resp >= 3 {
        Reply::Array(
            items
                .into_iter()
                .map(|(m, s)| Reply::Array(vec![Reply::Bulk(m), Reply::Double(s)]))
                .collect(),
        )
    } else {
        let mut out = Vec::with_capacity(items.len() * 2);
        for (m, s) in items {
            out.push(Reply::Bulk(m));
            out.push(Reply::Double(s));
        }
        Reply::Array(out)
    }
}

/// A score argument as Redis's getDoubleFromObject reads it.
pub(crate) fn parse_score(b: &[u8]) -> Option<f64> {
    if b.is_empty() || b[0].is_ascii_whitespace() {
        return None;
    }
    // A plain count, the usual score: exact in an f64 up to 15 digits.
    if b.len() <= 15 && b.iter().all(u8::is_ascii_digit) {
        return Some(b.iter().fold(0u64, |n, d| n * 10 + u64::from(d - b'0')) as f64);
    }
    match strtod(b)? {
        (v, _) if v.is_nan() => None,
        (v, true) if v.is_infinite() || v == 0.0 => None,
        (v, _) => Some(v),
    }
}

/// One end of a score range: `(` makes it exclusive; strtod's leniency (leading blanks, an empty
/// number read as 0) is kept as Redis has it.
fn score_bound(b: &[u8]) -> Option<(f64, bool)> {
    let (ex, rest) = match b.first() {
        Some(b'(') => (true, &b[1..]),
        _ => (false, b),
    };
    if rest.is_empty() {
        return Some((0.0, ex));
    }
    let start = rest.iter().position(|c| !c.is_ascii_whitespace())?;
    let (v, _) = strtod(&rest[start..])?;
    (!v.is_nan()).then_some((v, ex))
}

/// A score interval from its two arguments, or "min or max is not a float".
pub(crate) fn score_range(min: &[u8], max: &[u8]) -> Result<ScoreRange, Reply> {
    match (score_bound(min), score_bound(max)) {
        (Some((min, minex)), Some((max, maxex))) => Ok(ScoreRange {
            min,
            max,
            minex,
            maxex,
        }),
        _ => Err(Reply::error("ERR min or max is not a float")),
    }
}

fn lex_bound(b: &Bytes) -> Option<LexBound> {
    match b.first() {
        Some(b'+') if b.len() == 1 => Some(LexBound::PosInf),
        Some(b'-') if b.len() == 1 => Some(LexBound::NegInf),
        Some(b'(') => Some(LexBound::Excl(b.slice(1..))),
        Some(b'[') => Some(LexBound::Incl(b.slice(1..))),
        _ => None,
    }
}

/// A lexicographic interval from its two arguments, or Redis's error.
pub(crate) fn lex_range(min: &Bytes, max: &Bytes) -> Result<LexRange, Reply> {
    match (lex_bound(min), lex_bound(max)) {
        (Some(min), Some(max)) => Ok(LexRange { min, max }),
        _ => Err(Reply::error("ERR min or max not valid string range item")),
    }
}

// ---- commands ----

/// ZADD's options.
#[derive(Default, Clone, Copy)]
struct AddFlags {
    nx: bool,
    xx: bool,
    gt: bool,
    lt: bool,
    ch: bool,
    incr: bool,
}

/// What one ZADD/ZINCRBY did.
enum AddOutcome {
    Added(f64),
    Updated(f64),
    Same(f64),
    Skipped,
    NaN,
}

fn add_one(
    z: &mut ZSet,
    f: AddFlags,
    member: &Bytes,
    score: f64,
    lp: (usize, usize),
) -> AddOutcome {
    match z.score(member) {
        Some(cur) => {
            if f.nx {
                return AddOutcome::Skipped;
            }
            let new = if f.incr { cur + score } else { score };
            if new.is_nan() {
                return AddOutcome::NaN;
            }
            if (f.lt && new >= cur) || (f.gt && new <= cur) {
                return AddOutcome::Skipped;
            }
            if new == cur {
                return AddOutcome::Same(new);
            }
            z.insert(member.clone(), new);
            AddOutcome::Updated(new)
        }
        None => {
            if f.xx {
                return AddOutcome::Skipped;
            }
            z.grow_encoding(member.len(), lp.0, lp.1);
            z.insert(member.clone(), score);
            AddOutcome::Added(score)
        }
    }
}

/// ZADD (GEOADD runs it with the scores it computed).
pub(crate) fn zadd(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    let mut f = AddFlags::default();
    let mut i = 2;
    while i < a.len() {
        let o = &a[i];
        if eq(o, "nx") {
            f.nx = true;
        } else if eq(o, "xx") {
            f.xx = true;
        } else if eq(o, "ch") {
            f.ch = true;
        } else if eq(o, "incr") {
            f.incr = true;
        } else if eq(o, "gt") {
            f.gt = true;
        } else if eq(o, "lt") {
            f.lt = true;
        } else {
            break;
        }
        i += 1;
    }
    let rest = &a[i..];
    if rest.is_empty() || rest.len() % 2 != 0 {
        return Reply::error(ERR_SYNTAX);
    }
    if f.nx && f.xx {
        return Reply::error("ERR XX and NX options at the same time are not compatible");
    }
    if (f.nx && (f.gt || f.lt)) || (f.gt && f.lt) {
        return Reply::error("ERR GT, LT, and/or NX options at the same time are not compatible");
    }
    if f.incr && rest.len() > 2 {
        return Reply::error("ERR INCR option supports a single increment-element pair");
    }
    let event = if f.incr { "zincr" } else { "zadd" };
    if let [score, member] = rest {
        // The usual single pair needs no vector.
        let Some(score) = parse_score(score) else {
            return Reply::error(ERR_NOT_FLOAT);
        };
        return zadd_apply(ctx, &a[1], f, &[(score, member)], event);
    }
    let mut pairs = Vec::with_capacity(rest.len() / 2);
    for p in rest.chunks(2) {
        match parse_score(&p[0]) {
            Some(s) => pairs.push((s, &p[1])),
            None => return Reply::error(ERR_NOT_FLOAT),
        }
    }
    zadd_apply(ctx, &a[1], f, &pairs, event)
}

fn zadd_apply(
    ctx: &mut Ctx,
    key: &Bytes,
    f: AddFlags,
    pairs: &[(f64, &Bytes)],
    event: &str,
) -> Reply {
    let lp = lp_limits(ctx);
    let r = ctx.with_key(key, |v| {
        let exists = match zwrite(v, key) {
            Err(e) => return Err(e),
            Ok(z) => z.is_some(),
        };
        if !exists {
            if f.xx {
                return Ok((0, 0, None, false));
            }
            let mut z = ZSet::new();
            if lp.0 == 0 || pairs[0].1.len() > lp.1 {
                z.set_skiplist();
            }
            v.set(key, Value::ZSet(Box::new(z)), None);
        }
        let Ok(Some(z)) = zwrite(v, key) else {
            return Ok((0, 0, None, false));
        };
        let (mut added, mut updated, mut last) = (0, 0, None);
        let mut nan = false;
        for (score, m) in pairs {
            match add_one(z, f, m, *score, lp) {
                AddOutcome::Added(s) => {
                    added += 1;
                    last = Some(s);
                }
                AddOutcome::Updated(s) => {
                    updated += 1;
                    last = Some(s);
                }
                AddOutcome::Same(s) => last = Some(s),
                AddOutcome::Skipped => {}
                AddOutcome::NaN => {
                    nan = true;
                    break;
                }
            }
        }
        Ok((added, updated, last, nan))
    });
    let (added, updated, last, nan) = match r {
        Ok(x) => x,
        Err(e) => return e,
    };
    if added + updated > 0 {
        ctx.notify(NotifyClass::ZSet, event, key);
        if added > 0 {
            ctx.signal_ready(key);
        }
    }
    if nan {
        return Reply::error("ERR resulting score is not a number (NaN)");
    }
    if f.incr {
        return last.map_or(Reply::Nil, Reply::Double);
    }
    Reply::Int(if f.ch { added + updated } else { added })
}

fn zincrby(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    let Some(incr) = parse_score(&a[2]) else {
        return Reply::error(ERR_NOT_FLOAT);
    };
    let f = AddFlags {
        incr: true,
        ..Default::default()
    };
    zadd_apply(ctx, &a[1], f, &[(incr, &a[3])], "zincr")
}

fn zrem(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    let key = &a[1];
    let r = ctx.with_key(key, |v| {
        let n = match zwrite(v, key)? {
            None => return Ok((0, false)),
            Some(z) => a[2..].iter().filter(|m| z.remove(m)).count(),
        };
        Ok((n, drop_if_empty(v, key)))
    });
    ctx.removed_reply(r, NotifyClass::ZSet, "zrem", key)
}

/// Runs a read-only closure on the sorted set at `a[1]` (None when missing).
fn read_with<R>(ctx: &mut Ctx, key: &[u8], f: impl FnOnce(Option<&ZSet>) -> R) -> Result<R, Reply> {
    ctx.with_key(key, |v| zread(v, key).map(f))
}

fn zscore(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    match read_with(ctx, &a[1], |z| z.and_then(|z| z.score(&a[2]))) {
        Ok(s) => s.map_or(Reply::Nil, Reply::Double),
        Err(e) => e,
    }
}

fn zmscore(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    let r = read_with(ctx, &a[1], |z| {
        a[2..]
            .iter()
            .map(|m| z.and_then(|z| z.score(m)).map_or(Reply::Nil, Reply::Double))
            .collect()
    });
    r.map_or_else(|e| e, Reply::Array)
}

fn zcard(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    match read_with(ctx, &a[1], |z| z.map_or(0, |z| z.len())) {
        Ok(n) => Reply::Int(n as i64),
        Err(e) => e,
    }
}

fn zcount(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    let range = match score_range(&a[2], &a[3]) {
        Ok(r) => r,
        Err(e) => return e,
    };
    match read_with(ctx, &a[1], |z| z.map_or(0, |z| z.count_score(&range))) {
        Ok(n) => Reply::Int(n as i64),
        Err(e) => e,
    }
}

fn zlexcount(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    let range = match lex_range(&a[2], &a[3]) {
        Ok(r) => r,
        Err(e) => return e,
    };
    match read_with(ctx, &a[1], |z| z.map_or(0, |z| z.count_lex(&range))) {
        Ok(n) => Reply::Int(n as i64),
        Err(e) => e,
    }
}

fn rank_generic(ctx: &mut Ctx, a: &[Bytes], rev: bool) -> Reply {
    let r = read_with(ctx, &a[1], |z| {
        z.and_then(|z| z.rank(&a[2]).map(|r| if rev { z.len() - 1 - r } else { r }))
    });
    match r {
        Ok(r) => r.map_or(Reply::Nil, |r| Reply::Int(r as i64)),
        Err(e) => e,
    }
}

fn zrank(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    rank_generic(ctx, a, false)
}

fn zrevrank(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    rank_generic(ctx, a, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores_parse_like_strtod() {
        assert_eq!(parse_score(b"1.5"), Some(1.5));
        assert_eq!(parse_score(b"0x10"), Some(16.0));
        assert_eq!(parse_score(b"-inf"), Some(f64::NEG_INFINITY));
        assert_eq!(parse_score(b"1e400"), None);
        assert_eq!(parse_score(b"1e-400"), None);
        assert_eq!(parse_score(b" 1"), None);
        assert_eq!(parse_score(b"1 "), None);
        assert_eq!(parse_score(b"nan"), None);
        assert_eq!(parse_score(b""), None);
        assert_eq!(parse_score(b"."), None);
        // The integer fast path agrees with strtod, leading zeros and signs included.
        assert_eq!(parse_score(b"0"), Some(0.0));
        assert_eq!(parse_score(b"007"), Some(7.0));
        assert_eq!(parse_score(b"999999999999999"), Some(999_999_999_999_999.0));
        assert_eq!(
            parse_score(b"12345678901234567890"),
            Some(1.2345678901234567e19)
        );
        assert!(parse_score(b"-0").is_some_and(|v| v == 0.0 && v.is_sign_negative()));
        assert_eq!(parse_score(b"0X1p4"), Some(16.0));
        assert_eq!(parse_score(b"INF"), Some(f64::INFINITY));
        assert_eq!(parse_score("é".as_bytes()), None);
    }

    #[test]
    fn ranges_parse_like_redis() {
        let r = score_range(b"(1", b"+inf").unwrap_or_else(|_| panic!());
        assert!(r.minex && !r.maxex && r.max.is_infinite());
        assert!(score_range(b"(", b"").is_ok());
        assert!(score_range(b"( 1", b"2").is_ok());
        assert!(score_range(b"x", b"2").is_err());
        assert!(lex_range(&Bytes::from("[a"), &Bytes::from("+")).is_ok());
        assert!(lex_range(&Bytes::from("a"), &Bytes::from("+")).is_err());
        assert!(lex_range(&Bytes::from("-x"), &Bytes::from("+")).is_err());
    }
}
