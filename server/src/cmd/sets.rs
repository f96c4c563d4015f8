//! Set commands on one key (the multi-key algebra is in `setops`).

use super::coll::{
    check_reply_size, distinct_indexes, fire, rand_count, rand_index, remove_members, scan, Coll,
    Events,
};
use super::{stored, syntax, wrongtype, CommandSpec, Ctx, Flags};
use crate::command;
use crate::keyspace::hash::scan_step;
use crate::keyspace::{Set, Value, View};
use crate::resp::Reply;
use crate::state::NotifyClass;
use bytes::Bytes;

const WDF: Flags = Flags::WRITE.union(Flags::DENYOOM).union(Flags::FAST);
const WF: Flags = Flags::WRITE.union(Flags::FAST);
const WD: Flags = Flags::WRITE.union(Flags::DENYOOM);
const RF: Flags = Flags::READONLY.union(Flags::FAST);
const R: Flags = Flags::READONLY;
/// ACL categories beyond those the flags imply (see `CommandSpec::acl_categories`).
const ACL: &[&str] = &["set"];

use super::setops::{
    sdiff, sdiffstore, sinter, sintercard, sinterstore, smove, sunion, sunionstore,
};

/// The set family.
pub static COMMANDS: &[CommandSpec] = &[
    command!("sadd", -3, WDF, (1, 1, 1), "set", "1.0.0", ACL, sadd, "Adds one or more members to a set. Creates the key if it doesn't exist."),
    command!("srem", -3, WF, (1, 1, 1), "set", "1.0.0", ACL, srem, "Removes one or more members from a set. Deletes the set if the last member was removed."),
    command!("sismember", 3, RF, (1, 1, 1), "set", "1.0.0", ACL, sismember, "Determines whether a member belongs to a set."),
    command!("smismember", -3, RF, (1, 1, 1), "set", "6.2.0", ACL, smismember, "Determines whether multiple members belong to a set."),
    command!("smembers", 2, R, (1, 1, 1), "set", "1.0.0", ACL, smembers, "Returns all members of a set."),
    command!("scard", 2, RF, (1, 1, 1), "set", "1.0.0", ACL, scard, "Returns the number of members in a set."),
    command!("spop", -2, WF, (1, 1, 1), "set", "1.0.0", ACL, spop, "Returns one or more random members from a set after removing them. Deletes the set if the last member was popped."),
    command!("srandmember", -2, R, (1, 1, 1), "set", "1.0.0", ACL, srandmember, "Get one or multiple random members from a set"),
    command!("smove", 4, WF, (1, 2, 1), "set", "1.0.0", ACL, smove, "Moves a member from one set to another."),
    command!("sinter", -2, R, (1, -1, 1), "set", "1.0.0", ACL, sinter, "Returns the intersect of multiple sets."),
    command!("sintercard", -3, Flags::READONLY.union(Flags::MOVABLEKEYS), (0, 0, 0), "set", "7.0.0", ACL, sintercard, "Returns the number of members of the intersect of multiple sets."),
    command!("sinterstore", -3, WD, (1, -1, 1), "set", "1.0.0", ACL, sinterstore, "Stores the intersect of multiple sets in a key."),
    command!("sunion", -2, R, (1, -1, 1), "set", "1.0.0", ACL, sunion, "Returns the union of multiple sets."),
    command!("sunionstore", -3, WD, (1, -1, 1), "set", "1.0.0", ACL, sunionstore, "Stores the union of multiple sets in a key."),
    command!("sdiff", -2, R, (1, -1, 1), "set", "1.0.0", ACL, sdiff, "Returns the difference of multiple sets."),
    command!("sdiffstore", -3, WD, (1, -1, 1), "set", "1.0.0", ACL, sdiffstore, "Stores the difference of multiple sets in a key."),
    command!("sscan", -3, R, (1, 1, 1), "set", "2.8.0", ACL, sscan, "Iterates over members of a set."),
];

/// `set-max-intset-entries` from the configuration.
pub fn max_intset(ctx: &Ctx) -> usize {
    ctx.srv.encoding_limits().set_intset()
}

/// A list of members as RESP3 set (an array in RESP2).
pub fn set_reply(m: Vec<Bytes>) -> Reply {
    Reply::Set(m.into_iter().map(Reply::Bulk).collect())
}

fn sadd(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    let max = max_intset(ctx);
    let key = &a[1];
    let r = ctx.with_key(key, |v| {
        if Set::peek(v, key)?.is_some_and(|s| a[2..].iter().all(|m| s.contains(m))) {
            return Ok(0);
        }
        let s = Set::write(v, key, true)?.ok_or_else(wrongtype)?;
        Ok(a[2..].iter().filter(|m| s.insert(stored(m), max)).count() as i64)
    });
    match r {
        Ok(n) => {
            if n > 0 {
                ctx.notify(NotifyClass::Set, "sadd", key);
            }
            Reply::Int(n)
        }
        Err(e) => e,
    }
}

/// Removes the key if its set became empty, with the `del` event.
pub fn drop_if_empty(v: &mut View, key: &Bytes, evs: &mut Events) {
    if matches!(v.peek(key).map(|e| &e.value), Some(Value::Set(s)) if s.is_empty()) {
        v.remove(key);
        evs.push((NotifyClass::Generic, "del", key.clone()));
    }
}

fn srem(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    remove_members::<Set>(ctx, a, NotifyClass::Set, "srem")
}

fn sismember(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    Set::with_read(ctx, &a[1], |s| {
        Reply::Int(i64::from(s.is_some_and(|s| s.contains(&a[2]))))
    })
    .unwrap_or_else(|e| e)
}

fn smismember(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    Set::with_read(ctx, &a[1], |s| {
        Reply::Array(
            a[2..]
                .iter()
                .map(|m| Reply::Int(i64::from(s.is_some_and(|s| s.contains(m)))))
                .collect(),
        )
    })
    .unwrap_or_else(|e| e)
}

fn smembers(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    Set::with_read(ctx, &a[1], |s| {
        set_reply(s.map(|s| s.members()).unwrap_or_default())
    })
    .unwrap_or_else(|e| e)
}

fn scard(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    Set::with_read(ctx, &a[1], |s| Reply::Int(s.map_or(0, |s| s.len() as i64)))
        .unwrap_or_else(|e| e)
}

fn spop(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    let key = &a[1];
    let count = match a.len() {
        2 => None,
        3 => match crate::util::num::parse_i64(&a[2]) {
            Some(n) if n >= 0 => Some(n as u64),
            _ => return Reply::error("ERR value is out of range, must be positive"),
        },
        _ => return syntax(),
    };
    let r = ctx.with_key(key, |v| {
        let mut evs = Events::new();
        if Set::peek(v, key)?.is_none() {
            return Ok((None, evs));
        }
        if count == Some(0) {
            return Ok((Some(Vec::new()), evs));
        }
        let Some(s) = Set::write(v, key, false)? else {
            return Ok((None, evs));
        };
        let popped = match count {
            None => {
                let i = rand_index(s.len());
                s.take_index(i).into_iter().collect()
            }
            Some(0) => Vec::new(),
            Some(n) if n as usize >= s.len() => {
                // The whole set goes, in its own order (as SMEMBERS would give it).
                let all = s.members();
                v.remove(key);
                v.propagate(|| vec![Bytes::from_static(b"DEL"), key.clone()]);
                evs.push((NotifyClass::Set, "spop", key.clone()));
                evs.push((NotifyClass::Generic, "del", key.clone()));
                return Ok((Some(all), evs));
            }
            Some(n) => {
                let mut idx = distinct_indexes(s.len(), n as usize);
                // Take from the highest index down so swap-removal does not move the others.
                idx.sort_unstable_by(|x, y| y.cmp(x));
                idx.into_iter().filter_map(|i| s.take_index(i)).collect()
            }
        };
        if !popped.is_empty() {
            evs.push((NotifyClass::Set, "spop", key.clone()));
            // Random in effect: the AOF gets the members that went (Redis writes SREM too).
            v.propagate(|| {
                let mut argv = vec![Bytes::from_static(b"SREM"), key.clone()];
                argv.extend(popped.iter().cloned());
                argv
            });
        }
        drop_if_empty(v, key, &mut evs);
        Ok((Some(popped), evs))
    });
    match r {
        Ok((got, evs)) => {
            fire(ctx, evs);
            match (count, got) {
                (None, None) => Reply::Nil,
                (None, Some(mut g)) => Reply::opt_bulk(g.pop()),
                (Some(_), g) => set_reply(g.unwrap_or_default()),
            }
        }
        Err(e) => e,
    }
}

fn srandmember(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    if a.len() == 2 {
        return Set::with_read(ctx, &a[1], |s| {
            Reply::opt_bulk(s.and_then(|s| s.get_index(rand_index(s.len()))))
        })
        .unwrap_or_else(|e| e);
    }
    if a.len() > 3 {
        return syntax();
    }
    let count = match rand_count(&a[2]) {
        Ok(n) => n,
        Err(e) => return e,
    };
    if let Err(e) = check_reply_size(count.unsigned_abs()) {
        return e;
    }
    Set::with_read(ctx, &a[1], |s| {
        let Some(s) = s.filter(|_| count != 0) else {
            return Reply::Array(Vec::new());
        };
        if count < 0 {
            let n = s.len();
            return Reply::bulks(
                (0..count.unsigned_abs()).filter_map(|_| s.get_index(rand_index(n))),
            );
        }
        if count as usize >= s.len() {
            return Reply::bulks(s.members());
        }
        Reply::bulks(
            distinct_indexes(s.len(), count as usize)
                .into_iter()
                .filter_map(|i| s.get_index(i)),
        )
    })
    .unwrap_or_else(|e| e)
}

fn sscan(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    scan::<Set>(ctx, a, |s, cursor, opts| {
        let (next, elems) = if s.is_intset() {
            (0, s.members())
        } else {
            let members = s.members();
            scan_step(
                members.iter().map(|m| (m.as_ref(), m.clone())),
                s.len(),
                cursor,
                opts.count,
            )
        };
        (
            next,
            elems.into_iter().filter(|m| opts.matches(m)).collect(),
        )
    })
}
