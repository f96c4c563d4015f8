//! ZRANGE and its older forms (ZREVRANGE, ZRANGEBYSCORE, ZRANGEBYLEX, ...), ZRANGESTORE, and the
//! ZREMRANGEBY* commands.

use super::zsets::{
    drop_if_empty, lex_range, lp_limits, notify_store, score_range, scored_reply, store_result,
    zread, zwrite,
};
use super::{eq, int, syntax, Ctx};
use crate::keyspace::zset::{LexRange, ScoreRange, ZSet};
use crate::resp::Reply;
use crate::state::NotifyClass;
use bytes::Bytes;

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Auto,
    Rank,
    Score,
    Lex,
}

enum Range {
    Rank(i64, i64),
    Score(ScoreRange),
    Lex(LexRange),
}

/// A parsed ZRANGE request.
struct Request {
    range: Range,
    rev: bool,
    withscores: bool,
    /// (offset, count); count < 0 means all.
    limit: Option<(i64, i64)>,
}

/// Parses `<min> <max> [options]` starting at `a[first]` (the source key is `a[first - 1]`).
/// `kind`/`rev` are preset by the legacy commands, which then refuse BYSCORE/BYLEX/REV.
fn parse(
    a: &[Bytes],
    first: usize,
    mut kind: Kind,
    rev: Option<bool>,
    store: bool,
) -> Result<Request, Reply> {
    let mut withscores = false;
    let mut limit: Option<(i64, i64)> = None;
    let mut dir = rev;
    let mut j = first + 2;
    while j < a.len() {
        let left = a.len() - j - 1;
        let o = &a[j];
        if eq(o, "withscores") && !store {
            withscores = true;
        } else if eq(o, "limit") && left >= 2 {
            limit = Some((int(&a[j + 1])?, int(&a[j + 2])?));
            j += 2;
        } else if dir.is_none() && eq(o, "rev") {
            dir = Some(true);
        } else if kind == Kind::Auto && eq(o, "bylex") {
            kind = Kind::Lex;
        } else if kind == Kind::Auto && eq(o, "byscore") {
            kind = Kind::Score;
        } else {
            return Err(syntax());
        }
        j += 1;
    }
    let rev = dir.unwrap_or(false);
    if kind == Kind::Auto {
        kind = Kind::Rank;
    }
    // Redis's own default for "no limit" is a count of -1, so `LIMIT 0 -1` passes this check.
    if kind == Kind::Rank && limit.is_some_and(|l| l.1 != -1) {
        return Err(Reply::error(
            "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX",
        ));
    }
    if withscores && kind == Kind::Lex {
        return Err(Reply::error(
            "ERR syntax error, WITHSCORES not supported in combination with BYLEX",
        ));
    }
    let (mut lo, mut hi) = (&a[first], &a[first + 1]);
    if rev && kind != Kind::Rank {
        std::mem::swap(&mut lo, &mut hi);
    }
    let range = match kind {
        Kind::Score => Range::Score(score_range(lo, hi)?),
        Kind::Lex => Range::Lex(lex_range(lo, hi)?),
        _ => Range::Rank(int(lo)?, int(hi)?),
    };
    Ok(Request {
        range,
        rev,
        withscores,
        limit,
    })
}

/// The elements a request selects from `z`.
fn select(z: &ZSet, req: &Request) -> Vec<(Bytes, f64)> {
    let (offset, count) = req.limit.unwrap_or((0, -1));
    // A negative offset selects nothing, as in Redis; a negative count means no limit.
    if offset < 0 {
        if let Range::Rank(..) = req.range {
        } else {
            return Vec::new();
        }
    }
    let offset = offset.max(0) as usize;
    let count = (count >= 0).then_some(count as usize);
    match &req.range {
        Range::Rank(start, end) => {
            let len = z.len() as i64;
            let mut start = if *start < 0 { len + start } else { *start };
            let mut end = if *end < 0 { len + end } else { *end };
            if start < 0 {
                start = 0;
            }
            if start > end || start >= len {
                return Vec::new();
            }
            if end >= len {
                end = len - 1;
            }
            z.range_by_rank(start as usize, end as usize, req.rev)
        }
        Range::Score(r) => z.range_by_score(r, req.rev, offset, count),
        Range::Lex(r) => z.range_by_lex(r, req.rev, offset, count),
    }
}

fn range_generic(ctx: &mut Ctx, a: &[Bytes], kind: Kind, rev: Option<bool>) -> Reply {
    let req = match parse(a, 2, kind, rev, false) {
        Ok(r) => r,
        Err(e) => return e,
    };
    let key = &a[1];
    let r = ctx.with_key(key, |v| zread(v, key).map(|z| z.map(|z| select(z, &req))));
    match r {
        Ok(items) => scored_reply(ctx.conn.resp, items.unwrap_or_default(), req.withscores),
        Err(e) => e,
    }
}

pub fn zrange(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    range_generic(ctx, a, Kind::Auto, None)
}

pub fn zrevrange(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    range_generic(ctx, a, Kind::Rank, Some(true))
}

pub fn zrangebyscore(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    range_generic(ctx, a, Kind::Score, Some(false))
}

pub fn zrevrangebyscore(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    range_generic(ctx, a, Kind::Score, Some(true))
}

pub fn zrangebylex(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    range_generic(ctx, a, Kind::Lex, Some(false))
}

pub fn zrevrangebylex(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    range_generic(ctx, a, Kind::Lex, Some(true))
}

pub fn zrangestore(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    let req = match parse(a, 3, Kind::Auto, None, true) {
        Ok(r) => r,
        Err(e) => return e,
    };
    let (dst, src) = (&a[1], &a[2]);
    let lp = lp_limits(ctx);
    let r = ctx.with_keys(&[dst, src], |v| {
        let items = zread(v, src)?.map(|z| select(z, &req)).unwrap_or_default();
        // Built as a skiplist (a packed set would grow past its limits); the store settles it.
        let mut z = ZSet::new();
        z.set_skiplist();
        for (m, s) in items {
            z.insert(m, s);
        }
        Ok(store_result(v, dst, z, lp))
    });
    match r {
        Ok((n, deleted)) => {
            notify_store(ctx, "zrangestore", dst, n, deleted);
            Reply::Int(n as i64)
        }
        Err(e) => e,
    }
}

/// ZREMRANGEBY*: `f` removes from the set and returns how many went.
fn remrange(ctx: &mut Ctx, key: &Bytes, event: &str, f: impl FnOnce(&mut ZSet) -> usize) -> Reply {
    let r = ctx.with_key(key, |v| {
        let n = match zwrite(v, key)? {
            None => return Ok((0, false)),
            Some(z) => f(z),
        };
        Ok::<_, Reply>((n, drop_if_empty(v, key)))
    });
    ctx.removed_reply(r, NotifyClass::ZSet, event, key)
}

pub fn zremrangebyrank(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    let (start, end) = match (int(&a[2]), int(&a[3])) {
        (Ok(s), Ok(e)) => (s, e),
        (Err(e), _) | (_, Err(e)) => return e,
    };
    remrange(ctx, &a[1], "zremrangebyrank", |z| {
        let len = z.len() as i64;
        let mut start = if start < 0 { len + start } else { start };
        let mut end = if end < 0 { len + end } else { end };
        if start < 0 {
            start = 0;
        }
        if start > end || start >= len {
            return 0;
        }
        if end >= len {
            end = len - 1;
        }
        z.remove_range_by_rank(start as usize, end as usize)
    })
}

pub fn zremrangebyscore(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    let r = match score_range(&a[2], &a[3]) {
        Ok(r) => r,
        Err(e) => return e,
    };
    remrange(ctx, &a[1], "zremrangebyscore", |z| {
        z.remove_range_by_score(&r)
    })
}

pub fn zremrangebylex(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    let r = match lex_range(&a[2], &a[3]) {
        Ok(r) => r,
        Err(e) => return e,
    };
    remrange(ctx, &a[1], "zremrangebylex", |z| z.remove_range_by_lex(&r))
}
