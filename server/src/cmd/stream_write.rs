//! XADD, XDEL, XTRIM, XSETID.

use super::streams::{id_reply, parse_id_generic, parse_strict_id, stream_mut};
use super::{eq, int, syntax, wrongtype, Ctx};
use crate::config::params;
use crate::keyspace::stream::{Fields, NodeLimits, StreamId, Trim};
use crate::keyspace::Value;
use crate::resp::Reply;
use crate::state::NotifyClass;
use bytes::Bytes;

/// Parsed XADD/XTRIM options.
struct AddTrim {
    trim: Option<Trim>,
    approx: bool,
    limit: u64,
    nomkstream: bool,
    id: Option<(StreamId, bool)>,
    /// Where the ID (or `*`) is, for XADD.
    idpos: usize,
}

/// Redis's streamParseAddOrTrimArgsOrReply.
fn parse_add_trim(a: &[Bytes], xadd: bool, limit: u64) -> Result<AddTrim, Reply> {
    let mut p = AddTrim {
        trim: None,
        approx: false,
        limit: 0,
        nomkstream: false,
        id: None,
        idpos: a.len(),
    };
    let mut limit_given = false;
    let both = "ERR syntax error, MAXLEN and MINID options at the same time are not compatible";
    let mut i = 2;
    while i < a.len() {
        let more = a.len() - 1 - i;
        let opt = &a[i];
        if xadd && opt.as_ref() == b"*" {
            break;
        } else if (eq(opt, "maxlen") || eq(opt, "minid")) && more > 0 {
            if p.trim.is_some() {
                return Err(Reply::error(both));
            }
            p.approx = false;
            let next = &a[i + 1];
            if more >= 2 && next.as_ref() == b"~" {
                p.approx = true;
                i += 1;
            } else if more >= 2 && next.as_ref() == b"=" {
                i += 1;
            }
            if eq(opt, "maxlen") {
                let n = int(&a[i + 1])?;
                if n < 0 {
                    return Err(Reply::error("ERR The MAXLEN argument must be >= 0."));
                }
                p.trim = Some(Trim::MaxLen(n as u64));
            } else {
                p.trim = Some(Trim::MinId(parse_strict_id(&a[i + 1], 0)?));
            }
            i += 1;
        } else if eq(opt, "limit") && more > 0 {
            let n = int(&a[i + 1])?;
            if n < 0 {
                return Err(Reply::error("ERR The LIMIT argument must be >= 0."));
            }
            p.limit = n as u64;
            limit_given = true;
            i += 1;
        } else if xadd && eq(opt, "nomkstream") {
            p.nomkstream = true;
        } else if xadd {
            p.id = Some(parse_id_generic(opt, 0, true, true)?);
            break;
        } else {
            return Err(syntax());
        }
        i += 1;
    }
    p.idpos = i;
    if limit_given && p.trim.is_none() {
        return Err(Reply::error(
            "ERR syntax error, LIMIT cannot be used without specifying a trimming strategy",
        ));
    }
    if !xadd && p.trim.is_none() {
        return Err(Reply::error(
            "ERR syntax error, XTRIM must be called with a trimming strategy",
        ));
    }
    if limit_given {
        if !p.approx {
            return Err(Reply::error(
                "ERR syntax error, LIMIT cannot be used without the special ~ option",
            ));
        }
    } else if p.approx {
        p.limit = limit;
    }
    Ok(p)
}

/// The configured node limits, and the default LIMIT of `~` trimming Redis derives from them
/// (100 nodes' worth, within 1 and 1000000; 10000 when nodes have no entry bound).
fn node_limits(ctx: &Ctx) -> (NodeLimits, u64) {
    let c = ctx.srv.config();
    let max_entries = c.get(params::STREAM_NODE_MAX_ENTRIES).max(0) as u64;
    let limits = NodeLimits {
        max_entries,
        max_bytes: c.get(params::STREAM_NODE_MAX_BYTES),
    };
    let limit = match max_entries.saturating_mul(100) {
        0 => 10_000,
        n => n.min(1_000_000),
    };
    (limits, limit)
}

pub fn xadd(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    let (nodes, limit) = node_limits(ctx);
    let p = match parse_add_trim(a, true, limit) {
        Ok(p) => p,
        Err(e) => return e,
    };
    let field_pos = p.idpos + 1;
    if a.len() < field_pos + 2 || (a.len() - field_pos) % 2 == 1 {
        return Reply::error("ERR wrong number of arguments for 'xadd' command");
    }
    if let Some((id, true)) = p.id {
        if id.is_zero() {
            return Reply::error("ERR The ID specified in XADD must be greater than 0-0");
        }
    }
    let fields: Fields = a[field_pos..]
        .chunks(2)
        .map(|c| (c[0].clone(), c[1].clone()))
        .collect();
    let key = &a[1];
    let r = ctx.with_key(key, |v| {
        let now = v.now();
        match v.peek(key) {
            Some(e) if !matches!(e.value, Value::Stream(_)) => return Err(wrongtype()),
            Some(_) => {}
            None if p.nomkstream => return Ok(None),
            None => v.set(key, Value::Stream(Box::default()), None),
        }
        let Some(s) = stream_mut(v, key)? else {
            return Ok(None);
        };
        if s.last_id == StreamId::MAX {
            return Err(Reply::error(
                "ERR The stream has exhausted the last possible ID, unable to add more items",
            ));
        }
        let top = || {
            Reply::error(
                "ERR The ID specified in XADD is equal or smaller than the target stream top item",
            )
        };
        let id = match p.id {
            Some((id, true)) => id,
            Some((id, false)) if id.ms == s.last_id.ms => {
                if s.last_id.seq == u64::MAX {
                    return Err(top());
                }
                StreamId::new(id.ms, s.last_id.seq + 1)
            }
            Some((id, false)) => id,
            None if now > s.last_id.ms => StreamId::new(now, 0),
            None => s.last_id.incr().ok_or_else(top)?,
        };
        if id <= s.last_id {
            return Err(top());
        }
        s.append_in(id, fields, nodes);
        let trimmed = p.trim.is_some_and(|t| s.trim(t, p.approx, p.limit) > 0);
        v.mark_modified(key);
        Ok(Some((id, trimmed)))
    });
    match r {
        Ok(Some((id, trimmed))) => {
            ctx.notify(NotifyClass::Stream, "xadd", key);
            if trimmed {
                ctx.notify(NotifyClass::Stream, "xtrim", key);
            }
            ctx.signal_ready(key);
            id_reply(id)
        }
        Ok(None) => Reply::Nil,
        Err(e) => e,
    }
}

pub fn xdel(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    let key = &a[1];
    let r = ctx.with_key(key, |v| {
        // As Redis: a missing key or another type answers before the IDs are checked.
        let Some(s) = stream_mut(v, key)? else {
            return Ok(0);
        };
        let mut ids = Vec::with_capacity(a.len() - 2);
        for b in &a[2..] {
            ids.push(parse_strict_id(b, 0)?);
        }
        let mut n = 0;
        for id in ids {
            if s.delete(id) {
                if id > s.max_deleted {
                    s.max_deleted = id;
                }
                n += 1;
            }
        }
        if n > 0 {
            v.mark_modified(key);
        }
        Ok(n)
    });
    match r {
        Ok(n) => {
            if n > 0 {
                ctx.notify(NotifyClass::Stream, "xdel", key);
            }
            Reply::Int(n)
        }
        Err(e) => e,
    }
}

pub fn xtrim(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    let (_, limit) = node_limits(ctx);
    let p = match parse_add_trim(a, false, limit) {
        Ok(p) => p,
        Err(e) => return e,
    };
    let Some(how) = p.trim else {
        return syntax();
    };
    let key = &a[1];
    let r = ctx.with_key(key, |v| {
        let n = stream_mut(v, key)?.map_or(0, |s| s.trim(how, p.approx, p.limit));
        if n > 0 {
            v.mark_modified(key);
        }
        Ok::<_, Reply>(n)
    });
    match r {
        Ok(n) => {
            if n > 0 {
                ctx.notify(NotifyClass::Stream, "xtrim", key);
            }
            Reply::Int(n as i64)
        }
        Err(e) => e,
    }
}

pub fn xsetid(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    let id = match parse_strict_id(&a[2], 0) {
        Ok(id) => id,
        Err(e) => return e,
    };
    let mut entries_added: Option<u64> = None;
    let mut max_del = StreamId::MIN;
    let mut j = 3;
    while j < a.len() {
        let more = j + 1 < a.len();
        if eq(&a[j], "entriesadded") && more {
            match int(&a[j + 1]) {
                Ok(n) if n < 0 => return Reply::error("ERR entries_added must be positive"),
                Ok(n) => entries_added = Some(n as u64),
                Err(e) => return e,
            }
        } else if eq(&a[j], "maxdeletedid") && more {
            match parse_strict_id(&a[j + 1], 0) {
                Ok(m) if id < m => return Reply::error(
                    "ERR The ID specified in XSETID is smaller than the provided max_deleted_entry_id",
                ),
                Ok(m) => max_del = m,
                Err(e) => return e,
            }
        } else {
            return syntax();
        }
        j += 2;
    }
    let key = &a[1];
    let r = ctx.with_key(key, |v| {
        let Some(s) = stream_mut(v, key)? else {
            return Err(Reply::error(super::ERR_NO_KEY));
        };
        if !s.is_empty() {
            if id < s.last_valid_id() {
                return Err(Reply::error(
                    "ERR The ID specified in XSETID is smaller than the target stream top item",
                ));
            }
            if entries_added.is_some_and(|n| (s.len() as u64) > n) {
                return Err(Reply::error("ERR The entries_added specified in XSETID is smaller than the target stream length"));
            }
        }
        // Redis 7.0 does not compare with max_deleted_entry_id here (later versions do).
        s.last_id = id;
        if let Some(n) = entries_added {
            s.entries_added = n;
        }
        if !max_del.is_zero() {
            s.max_deleted = max_del;
        }
        Ok(())
    });
    match r {
        Ok(()) => {
            ctx.notify(NotifyClass::Stream, "xsetid", key);
            Reply::Ok
        }
        Err(e) => e,
    }
}
