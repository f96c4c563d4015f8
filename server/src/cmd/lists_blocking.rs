//! List commands that move elements between lists or pop from several keys, and their blocking
//! forms (BLPOP, BRPOP, BLMOVE, BRPOPLPUSH, BLMPOP). A blocking form that finds nothing hands
//! over to its connection (`cmd::block_or_timeout`), which runs it again when one of its keys
//! is fed.

use super::lists::{list_mut, notify_pop, pop_n, push_all, End, ACL, W};
use super::{block_or_timeout, parse_timeout_secs};
use super::{wrongtype, CommandSpec, Ctx, Flags};
use crate::command;
use crate::keyspace::Value;
use crate::resp::Reply;
use crate::state::NotifyClass;
use bytes::Bytes;
use std::collections::VecDeque;

const WD: Flags = Flags::WRITE.union(Flags::DENYOOM);
const WB: Flags = Flags::WRITE.union(Flags::BLOCKING);
const WDB: Flags = Flags::WRITE.union(Flags::DENYOOM).union(Flags::BLOCKING);

/// The moving, multi-key and blocking list commands.
pub static COMMANDS: &[CommandSpec] = &[
    command!("lmove", 5, WD, (1, 2, 1), "list", "6.2.0", ACL, lmove, "Returns an element after popping it from one list and pushing it to another. Deletes the list if the last element was moved."),
    command!("rpoplpush", 3, WD, (1, 2, 1), "list", "1.2.0", ACL, rpoplpush, "Returns the last element of a list after removing and pushing it to another list. Deletes the list if the last element was popped."),
    command!("lmpop", -4, W.union(Flags::MOVABLEKEYS), (0, 0, 0), "list", "7.0.0", ACL, lmpop, "Returns multiple elements from a list after removing them. Deletes the list if the last element was popped."),
    command!("blpop", -3, WB.union(Flags::NOSCRIPT), (1, -2, 1), "list", "2.0.0", ACL, blpop, "Removes and returns the first element in a list. Blocks until an element is available otherwise. Deletes the list if the last element was popped."),
    command!("brpop", -3, WB.union(Flags::NOSCRIPT), (1, -2, 1), "list", "2.0.0", ACL, brpop, "Removes and returns the last element in a list. Blocks until an element is available otherwise. Deletes the list if the last element was popped."),
    command!("blmove", 6, WDB.union(Flags::NOSCRIPT), (1, 2, 1), "list", "6.2.0", ACL, blmove, "Pops an element from a list, pushes it to another list and returns it. Blocks until an element is available otherwise. Deletes the list if the last element was moved."),
    command!("brpoplpush", 4, WDB.union(Flags::NOSCRIPT), (1, 2, 1), "list", "2.2.0", ACL, brpoplpush, "Pops an element from a list, pushes it to another list and returns it. Block until an element is available otherwise. Deletes the list if the last element was popped."),
    command!("blmpop", -5, WB.union(Flags::MOVABLEKEYS), (0, 0, 0), "list", "7.0.0", ACL, blmpop, "Pops the first element from one of multiple lists. Blocks until an element is available otherwise. Deletes the list if the last element was popped."),
];

/// Moves one element from `src` (at `from`) to `dst` (at `to`). Ok(None) when `src` is missing
/// (or, for a blocked client's re-run, not a list).
fn move_one(
    ctx: &mut Ctx,
    src: &Bytes,
    dst: &Bytes,
    from: End,
    to: End,
) -> Result<Option<Bytes>, Reply> {
    let rerun = ctx.conn.rerun.is_some();
    let r = ctx.with_keys(&[src, dst], |v| {
        match v.peek(src) {
            None => return Ok(None),
            Some(e) if !matches!(e.value, Value::List(_)) => {
                return if rerun { Ok(None) } else { Err(wrongtype()) };
            }
            Some(_) => {}
        }
        if v.peek(dst)
            .is_some_and(|e| !matches!(e.value, Value::List(_)))
        {
            return Err(wrongtype());
        }
        if src == dst {
            // A rotation: the list and its TTL stay.
            let Some(l) = list_mut(v, src)? else {
                return Ok(None);
            };
            let x = match from {
                End::Left => l.pop_front(),
                End::Right => l.pop_back(),
            };
            if let Some(x) = &x {
                push_all(l, std::slice::from_ref(x), to);
            }
            return Ok(x.map(|x| (x, false)));
        }
        let Some((mut popped, deleted)) = pop_n(v, src, from, 1)? else {
            return Ok(None);
        };
        let Some(x) = popped.pop() else {
            return Ok(None);
        };
        if !v.exists(dst) {
            v.set(dst, Value::List(VecDeque::new()), None);
        }
        if let Some(l) = list_mut(v, dst)? {
            push_all(l, std::slice::from_ref(&x), to);
        }
        Ok(Some((x, deleted)))
    })?;
    let Some((x, deleted)) = r else {
        return Ok(None);
    };
    ctx.notify(NotifyClass::List, to.push_event(), dst);
    ctx.signal_ready(dst);
    notify_pop(ctx, src, from, deleted);
    Ok(Some(x))
}

fn lmove(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    let (from, to) = match (End::parse(&a[3]), End::parse(&a[4])) {
        (Ok(f), Ok(t)) => (f, t),
        (Err(e), _) | (_, Err(e)) => return e,
    };
    match move_one(ctx, &a[1], &a[2], from, to) {
        Ok(x) => Reply::opt_bulk(x),
        Err(e) => e,
    }
}

fn rpoplpush(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    match move_one(ctx, &a[1], &a[2], End::Right, End::Left) {
        Ok(x) => Reply::opt_bulk(x),
        Err(e) => e,
    }
}

/// Pops up to `count` from `end` of the first non-empty list among `keys`: (key, elements).
fn pop_first(
    ctx: &mut Ctx,
    keys: &[Bytes],
    end: End,
    count: usize,
) -> Result<Option<(Bytes, Vec<Bytes>)>, Reply> {
    let rerun = ctx.conn.rerun.is_some();
    // A blocked client is served from the key that became ready, like Redis does.
    let ready = ctx.conn.rerun.clone().filter(|k| keys.contains(k));
    let ready = ready.as_ref();
    let order = ready
        .into_iter()
        .chain(keys.iter().filter(|k| Some(*k) != ready));
    let r = ctx.with_keys(keys, |v| {
        for k in order {
            match pop_n(v, k, end, count) {
                Ok(Some((elems, deleted))) => {
                    // BLPOP/BLMPOP/LMPOP go to the AOF as the plain pop of the key served.
                    v.propagate(|| {
                        let pop = match end {
                            End::Left => "LPOP",
                            End::Right => "RPOP",
                        };
                        vec![
                            Bytes::from_static(pop.as_bytes()),
                            k.clone(),
                            Bytes::from(elems.len().to_string()),
                        ]
                    });
                    return Ok(Some((k.clone(), elems, deleted)));
                }
                Ok(None) => {}
                // A blocked client is served only from lists; Redis passes other types over.
                Err(_) if rerun => {}
                Err(e) => return Err(e),
            }
        }
        Ok(None)
    })?;
    Ok(r.map(|(k, elems, deleted)| {
        notify_pop(ctx, &k, end, deleted);
        (k, elems)
    }))
}

fn bpop(ctx: &mut Ctx, a: &[Bytes], end: End) -> Reply {
    let deadline = match parse_timeout_secs(&a[a.len() - 1]) {
        Ok(d) => d,
        Err(e) => return e,
    };
    let keys = &a[1..a.len() - 1];
    match pop_first(ctx, keys, end, 1) {
        Err(e) => e,
        Ok(Some((k, mut elems))) => match elems.pop() {
            Some(x) => Reply::Array(vec![Reply::Bulk(k), Reply::Bulk(x)]),
            None => Reply::NilArray,
        },
        Ok(None) => block_or_timeout(ctx, keys.to_vec(), deadline, Reply::NilArray),
    }
}

fn blpop(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    bpop(ctx, a, End::Left)
}

fn brpop(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    bpop(ctx, a, End::Right)
}

fn bmove(ctx: &mut Ctx, a: &[Bytes], from: End, to: End, timeout: &[u8]) -> Reply {
    let deadline = match parse_timeout_secs(timeout) {
        Ok(d) => d,
        Err(e) => return e,
    };
    match move_one(ctx, &a[1], &a[2], from, to) {
        Ok(Some(x)) => Reply::Bulk(x),
        // Inside MULTI a nil bulk, but a timed-out client gets a nil array (Redis 7.0 answers
        // every list timeout that way).
        Ok(None) if ctx.held.is_some() => Reply::Nil,
        Ok(None) => block_or_timeout(ctx, vec![a[1].clone()], deadline, Reply::NilArray),
        Err(e) => e,
    }
}

fn blmove(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    let (from, to) = match (End::parse(&a[3]), End::parse(&a[4])) {
        (Ok(f), Ok(t)) => (f, t),
        (Err(e), _) | (_, Err(e)) => return e,
    };
    bmove(ctx, a, from, to, &a[5])
}

fn brpoplpush(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    bmove(ctx, a, End::Right, End::Left, &a[3])
}

/// The parsed tail of LMPOP/BLMPOP from `numkeys` on: (keys, end, count).
fn parse_mpop(a: &[Bytes], numkeys_idx: usize) -> Result<(&[Bytes], End, usize), Reply> {
    let numkeys_err = || Reply::error("ERR numkeys should be greater than 0");
    let numkeys = crate::util::num::parse_i64(&a[numkeys_idx]).ok_or_else(numkeys_err)?;
    if numkeys < 1 {
        return Err(numkeys_err());
    }
    let where_idx = (numkeys_idx as u64)
        .saturating_add(numkeys as u64)
        .saturating_add(1);
    if where_idx >= a.len() as u64 {
        return Err(super::syntax());
    }
    let where_idx = where_idx as usize;
    let end = End::parse(&a[where_idx])?;
    let mut count: Option<usize> = None;
    let mut j = where_idx + 1;
    while j < a.len() {
        if count.is_none() && super::eq(&a[j], "count") && j + 1 < a.len() {
            j += 1;
            match crate::util::num::parse_i64(&a[j]) {
                Some(c) if c >= 1 => count = Some(c as usize),
                _ => return Err(Reply::error("ERR count should be greater than 0")),
            }
        } else {
            return Err(super::syntax());
        }
        j += 1;
    }
    Ok((&a[numkeys_idx + 1..where_idx], end, count.unwrap_or(1)))
}

fn mpop_reply(k: Bytes, elems: Vec<Bytes>) -> Reply {
    Reply::Array(vec![Reply::Bulk(k), Reply::bulks(elems)])
}

fn lmpop(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    let (keys, end, count) = match parse_mpop(a, 1) {
        Ok(p) => p,
        Err(e) => return e,
    };
    match pop_first(ctx, keys, end, count) {
        Ok(Some((k, elems))) => mpop_reply(k, elems),
        Ok(None) => Reply::NilArray,
        Err(e) => e,
    }
}

fn blmpop(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    let (keys, end, count) = match parse_mpop(a, 2) {
        Ok(p) => p,
        Err(e) => return e,
    };
    let deadline = match parse_timeout_secs(&a[1]) {
        Ok(d) => d,
        Err(e) => return e,
    };
    match pop_first(ctx, keys, end, count) {
        Ok(Some((k, elems))) => mpop_reply(k, elems),
        Ok(None) => block_or_timeout(ctx, keys.to_vec(), deadline, Reply::NilArray),
        Err(e) => e,
    }
}
