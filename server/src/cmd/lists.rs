//! List commands. A list is a `VecDeque<Bytes>`: O(1) push and pop at both ends and O(1)
//! indexing, so LINDEX and LRANGE cost what they return. The moving and blocking commands are
//! in `lists_blocking.rs`.

use super::{eq, int, stored, syntax, wrongtype, CommandSpec, Ctx, Flags, ERR_NOT_INT};
use crate::command;
use crate::keyspace::{Value, View};
use crate::resp::Reply;
use crate::state::NotifyClass;
use bytes::Bytes;
use std::collections::VecDeque;

pub(super) const WDF: Flags = Flags::WRITE.union(Flags::DENYOOM).union(Flags::FAST);
pub(super) const WF: Flags = Flags::WRITE.union(Flags::FAST);
pub(super) const W: Flags = Flags::WRITE;
const RF: Flags = Flags::READONLY.union(Flags::FAST);
const R: Flags = Flags::READONLY;
/// ACL categories beyond those the flags imply (see `CommandSpec::acl_categories`).
pub(super) const ACL: &[&str] = &["list"];

/// The list family.
pub static COMMANDS: &[CommandSpec] = &[
    command!("lpush", -3, WDF, (1, 1, 1), "list", "1.0.0", ACL, lpush, "Prepends one or more elements to a list. Creates the key if it doesn't exist."),
    command!("rpush", -3, WDF, (1, 1, 1), "list", "1.0.0", ACL, rpush, "Appends one or more elements to a list. Creates the key if it doesn't exist."),
    command!("lpushx", -3, WDF, (1, 1, 1), "list", "2.2.0", ACL, lpushx, "Prepends one or more elements to a list only when the list exists."),
    command!("rpushx", -3, WDF, (1, 1, 1), "list", "2.2.0", ACL, rpushx, "Appends an element to a list only when the list exists."),
    command!("lpop", -2, WF, (1, 1, 1), "list", "1.0.0", ACL, lpop, "Returns the first elements in a list after removing it. Deletes the list if the last element was popped."),
    command!("rpop", -2, WF, (1, 1, 1), "list", "1.0.0", ACL, rpop, "Returns and removes the last elements of a list. Deletes the list if the last element was popped."),
    command!("llen", 2, RF, (1, 1, 1), "list", "1.0.0", ACL, llen, "Returns the length of a list."),
    command!("lindex", 3, R, (1, 1, 1), "list", "1.0.0", ACL, lindex, "Returns an element from a list by its index."),
    command!("lset", 4, Flags::WRITE.union(Flags::DENYOOM), (1, 1, 1), "list", "1.0.0", ACL, lset, "Sets the value of an element in a list by its index."),
    command!("lrange", 4, R, (1, 1, 1), "list", "1.0.0", ACL, lrange, "Returns a range of elements from a list."),
    command!("ltrim", 4, W, (1, 1, 1), "list", "1.0.0", ACL, ltrim, "Removes elements from both ends a list. Deletes the list if all elements were trimmed."),
    command!("lrem", 4, W, (1, 1, 1), "list", "1.0.0", ACL, lrem, "Removes elements from a list. Deletes the list if the last element was removed."),
    command!("linsert", 5, Flags::WRITE.union(Flags::DENYOOM), (1, 1, 1), "list", "2.2.0", ACL, linsert, "Inserts an element before or after another element in a list."),
    command!("lpos", -3, R, (1, 1, 1), "list", "6.0.6", ACL, lpos, "Returns the index of matching elements in a list."),
];

/// The list at `key` for reading: Ok(None) if missing, WRONGTYPE for another type.
pub(super) fn list_ref<'a>(
    v: &'a mut View,
    key: &[u8],
) -> Result<Option<&'a VecDeque<Bytes>>, Reply> {
    match v.get(key) {
        None => Ok(None),
        Some(e) => match &e.value {
            Value::List(l) => Ok(Some(l)),
            _ => Err(wrongtype()),
        },
    }
}

/// The list at `key` for writing: Ok(None) if missing, WRONGTYPE for another type.
pub(super) fn list_mut<'a>(
    v: &'a mut View,
    key: &[u8],
) -> Result<Option<&'a mut VecDeque<Bytes>>, Reply> {
    // Check the type without touching watchers, so a WRONGTYPE leaves WATCH alone.
    match v.peek(key) {
        None => return Ok(None),
        Some(e) if !matches!(e.value, Value::List(_)) => return Err(wrongtype()),
        Some(_) => {}
    }
    match v.get_mut(key) {
        Some(e) => match &mut e.value {
            Value::List(l) => Ok(Some(l)),
            _ => Err(wrongtype()),
        },
        None => Ok(None),
    }
}

/// Which end of a list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum End {
    Left,
    Right,
}

impl End {
    /// LEFT or RIGHT, else the syntax error.
    pub(super) fn parse(b: &[u8]) -> Result<End, Reply> {
        if eq(b, "left") {
            Ok(End::Left)
        } else if eq(b, "right") {
            Ok(End::Right)
        } else {
            Err(syntax())
        }
    }

    pub(super) fn pop_event(self) -> &'static str {
        match self {
            End::Left => "lpop",
            End::Right => "rpop",
        }
    }

    pub(super) fn push_event(self) -> &'static str {
        match self {
            End::Left => "lpush",
            End::Right => "rpush",
        }
    }
}

/// Pushes `elems` at one end, creating the list unless `only_existing`. Returns the new length
/// (0 when nothing was done for a missing key).
fn push_generic(ctx: &mut Ctx, a: &[Bytes], end: End, only_existing: bool) -> Reply {
    let key = &a[1];
    let r = ctx.with_key(key, |v| {
        let l = match list_mut(v, key)? {
            Some(l) => l,
            None if only_existing => return Ok(0),
            None => {
                v.set(key, Value::List(VecDeque::new()), None);
                match list_mut(v, key)? {
                    Some(l) => l,
                    None => return Ok(0),
                }
            }
        };
        push_all(l, &a[2..], end);
        Ok(l.len())
    });
    match r {
        Ok(0) => Reply::Int(0),
        Ok(n) => {
            ctx.notify(NotifyClass::List, end.push_event(), key);
            ctx.signal_ready(key);
            Reply::Int(n as i64)
        }
        Err(e) => e,
    }
}

/// Pushes each element in turn at `end` (LPUSH a b c leaves c first, as in Redis).
pub(super) fn push_all(l: &mut VecDeque<Bytes>, elems: &[Bytes], end: End) {
    l.reserve(elems.len());
    for e in elems {
        match end {
            End::Left => l.push_front(stored(e)),
            End::Right => l.push_back(stored(e)),
        }
    }
}

fn lpush(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    push_generic(ctx, a, End::Left, false)
}

fn rpush(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    push_generic(ctx, a, End::Right, false)
}

fn lpushx(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    push_generic(ctx, a, End::Left, true)
}

fn rpushx(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    push_generic(ctx, a, End::Right, true)
}

/// Pops up to `count` elements from `end` of the list at `key`, deleting it when emptied.
/// Ok(None) if the key is missing. Returns (elements, whether the key was deleted).
pub(super) fn pop_n(
    v: &mut View,
    key: &[u8],
    end: End,
    count: usize,
) -> Result<Option<(Vec<Bytes>, bool)>, Reply> {
    let Some(l) = list_mut(v, key)? else {
        return Ok(None);
    };
    let n = count.min(l.len());
    let out: Vec<Bytes> = match end {
        End::Left => l.drain(..n).collect(),
        End::Right => (0..n).filter_map(|_| l.pop_back()).collect(),
    };
    let emptied = l.is_empty();
    if emptied {
        v.remove(key);
    }
    Ok(Some((out, emptied)))
}

/// Notifications for a pop: the pop event, then `del` if the list went away.
pub(super) fn notify_pop(ctx: &Ctx, key: &[u8], end: End, deleted: bool) {
    ctx.notify(NotifyClass::List, end.pop_event(), key);
    if deleted {
        ctx.notify(NotifyClass::Generic, "del", key);
    }
}

fn pop_generic(ctx: &mut Ctx, a: &[Bytes], end: End) -> Reply {
    if a.len() > 3 {
        return Reply::error(format!(
            "ERR wrong number of arguments for '{}' command",
            end.pop_event()
        ));
    }
    let count = match a.get(2) {
        None => None,
        Some(c) => match crate::util::num::parse_i64(c) {
            Some(n) if n >= 0 => Some(n as usize),
            _ => return Reply::error("ERR value is out of range, must be positive"),
        },
    };
    let key = &a[1];
    let r = ctx.with_key(key, |v| {
        if count == Some(0) {
            // Redis answers an empty array without popping, but a missing key is still nil.
            return list_ref(v, key).map(|l| l.map(|_| (Vec::new(), false)));
        }
        pop_n(v, key, end, count.unwrap_or(1))
    });
    match r {
        Err(e) => e,
        Ok(None) => match count {
            Some(_) => Reply::NilArray,
            None => Reply::Nil,
        },
        Ok(Some((elems, deleted))) => {
            if !elems.is_empty() {
                notify_pop(ctx, key, end, deleted);
            }
            match count {
                Some(_) => Reply::bulks(elems),
                None => Reply::opt_bulk(elems.into_iter().next()),
            }
        }
    }
}

fn lpop(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    pop_generic(ctx, a, End::Left)
}

fn rpop(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    pop_generic(ctx, a, End::Right)
}

/// Runs `f` on the list at `key` for a read command, counting the keyspace hit or miss as
/// Redis's lookupKeyRead does. Ok(None) if the key is missing.
fn read_list<R>(
    ctx: &mut Ctx,
    key: &[u8],
    f: impl FnOnce(&VecDeque<Bytes>) -> Result<R, Reply>,
) -> Result<Option<R>, Reply> {
    let mut hit = true;
    let r = ctx.with_key(key, |v| match list_ref(v, key)? {
        Some(l) => f(l).map(Some),
        None => {
            hit = false;
            Ok(None)
        }
    });
    ctx.count_lookup(hit);
    r
}

fn llen(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    match read_list(ctx, &a[1], |l| Ok(l.len())) {
        Ok(n) => Reply::Int(n.unwrap_or(0) as i64),
        Err(e) => e,
    }
}

/// A Redis list index (negative from the end) as a position, if inside the list.
fn position(idx: i64, len: usize) -> Option<usize> {
    let len = len as i64;
    let i = if idx < 0 { len.checked_add(idx)? } else { idx };
    (0..len).contains(&i).then_some(i as usize)
}

fn lindex(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    let r = read_list(ctx, &a[1], |l| {
        let idx = int(&a[2])?;
        Ok(position(idx, l.len()).and_then(|i| l.get(i).cloned()))
    });
    match r {
        Ok(x) => Reply::opt_bulk(x.flatten()),
        Err(e) => e,
    }
}

fn lset(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    let key = &a[1];
    let r = ctx.with_key(key, |v| {
        let Some(l) = list_mut(v, key)? else {
            return Err(Reply::error(super::ERR_NO_KEY));
        };
        let idx = int(&a[2])?;
        let Some(i) = position(idx, l.len()) else {
            return Err(Reply::error("ERR index out of range"));
        };
        l[i] = a[3].clone();
        Ok(())
    });
    match r {
        Ok(()) => {
            ctx.notify(NotifyClass::List, "lset", key);
            Reply::Ok
        }
        Err(e) => e,
    }
}

/// Redis's clamping of a start/end index pair to a list of `len`; None for an empty range.
fn clamp_range(start: i64, end: i64, len: usize) -> Option<(usize, usize)> {
    let llen = len as i64;
    let mut start = if start < 0 { llen + start } else { start };
    let mut end = if end < 0 { llen + end } else { end };
    if start < 0 {
        start = 0;
    }
    if start > end || start >= llen {
        return None;
    }
    if end >= llen {
        end = llen - 1;
    }
    Some((start as usize, end as usize))
}

fn lrange(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    let (Some(start), Some(end)) = (
        crate::util::num::parse_i64(&a[2]),
        crate::util::num::parse_i64(&a[3]),
    ) else {
        return Reply::error(ERR_NOT_INT);
    };
    let r = read_list(ctx, &a[1], |l| {
        Ok(match clamp_range(start, end, l.len()) {
            Some((s, e)) => l.range(s..=e).map(|x| Reply::Bulk(x.clone())).collect(),
            None => Vec::new(),
        })
    });
    match r {
        Ok(items) => Reply::Array(items.unwrap_or_default()),
        Err(e) => e,
    }
}

fn ltrim(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    let (Some(start), Some(end)) = (
        crate::util::num::parse_i64(&a[2]),
        crate::util::num::parse_i64(&a[3]),
    ) else {
        return Reply::error(ERR_NOT_INT);
    };
    let key = &a[1];
    let r = ctx.with_key(key, |v| {
        let Some(l) = list_mut(v, key)? else {
            return Ok(None);
        };
        match clamp_range(start, end, l.len()) {
            Some((s, e)) => {
                l.truncate(e + 1);
                l.drain(..s);
            }
            None => l.clear(),
        }
        let emptied = l.is_empty();
        if emptied {
            v.remove(key);
        }
        Ok(Some(emptied))
    });
    match r {
        Ok(None) => Reply::Ok,
        Ok(Some(deleted)) => {
            ctx.notify(NotifyClass::List, "ltrim", key);
            if deleted {
                ctx.notify(NotifyClass::Generic, "del", key);
            }
            Reply::Ok
        }
        Err(e) => e,
    }
}

fn lrem(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    let Some(count) = crate::util::num::parse_i64(&a[2]) else {
        return Reply::error(ERR_NOT_INT);
    };
    let key = &a[1];
    let elem = &a[3];
    let r = ctx.with_key(key, |v| {
        // Look first without write intent: no match leaves WATCH and the key untouched.
        match list_ref(v, key)? {
            Some(l) if l.iter().any(|x| x == elem) => {}
            _ => return Ok((0, false)),
        }
        let Some(l) = list_mut(v, key)? else {
            return Ok((0, false));
        };
        let limit = if count == 0 {
            usize::MAX
        } else {
            count.unsigned_abs().min(usize::MAX as u64) as usize
        };
        let mut removed = 0usize;
        let old = std::mem::take(l);
        let mut kept: VecDeque<Bytes> = VecDeque::with_capacity(old.len());
        if count >= 0 {
            for x in old {
                if removed < limit && x == elem {
                    removed += 1;
                } else {
                    kept.push_back(x);
                }
            }
        } else {
            for x in old.into_iter().rev() {
                if removed < limit && x == elem {
                    removed += 1;
                } else {
                    kept.push_front(x);
                }
            }
        }
        *l = kept;
        let emptied = l.is_empty();
        if emptied {
            v.remove(key);
        }
        Ok((removed, emptied))
    });
    ctx.removed_reply(r, NotifyClass::List, "lrem", key)
}

fn linsert(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    let after = if eq(&a[2], "after") {
        true
    } else if eq(&a[2], "before") {
        false
    } else {
        return syntax();
    };
    let key = &a[1];
    let r = ctx.with_key(key, |v| {
        let pos = match list_ref(v, key)? {
            None => return Ok(0),
            Some(l) => l.iter().position(|x| *x == a[3]),
        };
        let Some(p) = pos else {
            return Ok(-1);
        };
        let Some(l) = list_mut(v, key)? else {
            return Ok(0);
        };
        l.insert(if after { p + 1 } else { p }, a[4].clone());
        Ok(l.len() as i64)
    });
    match r {
        Ok(n) => {
            if n > 0 {
                ctx.notify(NotifyClass::List, "linsert", key);
            }
            Reply::Int(n)
        }
        Err(e) => e,
    }
}

fn lpos(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    let (mut rank, mut count, mut maxlen): (i64, Option<i64>, i64) = (1, None, 0);
    let mut i = 3;
    while i < a.len() {
        let more = i + 1 < a.len();
        if eq(&a[i], "rank") && more {
            let Some(r) = crate::util::num::parse_i64(&a[i + 1]) else {
                return Reply::error(ERR_NOT_INT);
            };
            if r == 0 {
                return Reply::error("ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list");
            }
            rank = r;
        } else if eq(&a[i], "count") && more {
            match crate::util::num::parse_i64(&a[i + 1]) {
                Some(c) if c >= 0 => count = Some(c),
                _ => return Reply::error("ERR COUNT can't be negative"),
            }
        } else if eq(&a[i], "maxlen") && more {
            match crate::util::num::parse_i64(&a[i + 1]) {
                Some(m) if m >= 0 => maxlen = m,
                _ => return Reply::error("ERR MAXLEN can't be negative"),
            }
        } else {
            return syntax();
        }
        i += 2;
    }
    let key = &a[1];
    let elem = &a[2];
    let r = read_list(ctx, key, |l| {
        let len = l.len();
        let from_tail = rank < 0;
        // Redis 7.0 negates RANK in a C long: LONG_MIN stays negative and so matches at once.
        let skip = if rank == i64::MIN {
            0
        } else {
            rank.unsigned_abs() - 1
        };
        let want = match count {
            Some(0) => u64::MAX,
            Some(c) => c as u64,
            None => 1,
        };
        let limit = if maxlen == 0 {
            len
        } else {
            (maxlen as usize).min(len)
        };
        let mut found = Vec::new();
        let mut matches = 0u64;
        let idx_iter: Box<dyn Iterator<Item = usize>> = if from_tail {
            Box::new((0..len).rev().take(limit))
        } else {
            Box::new((0..len).take(limit))
        };
        for i in idx_iter {
            if l[i] == elem {
                matches += 1;
                if matches > skip {
                    found.push(i as i64);
                    if found.len() as u64 >= want {
                        break;
                    }
                }
            }
        }
        Ok(found)
    });
    match (r, count) {
        (Err(e), _) => e,
        (Ok(None), Some(_)) => Reply::Array(Vec::new()),
        (Ok(None), None) => Reply::Nil,
        (Ok(Some(f)), Some(_)) => Reply::Array(f.into_iter().map(Reply::Int).collect()),
        (Ok(Some(f)), None) => f.first().map_or(Reply::Nil, |i| Reply::Int(*i)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_clamp_like_redis() {
        assert_eq!(clamp_range(0, -1, 3), Some((0, 2)));
        assert_eq!(clamp_range(-100, 100, 3), Some((0, 2)));
        assert_eq!(clamp_range(2, 1, 3), None);
        assert_eq!(clamp_range(3, 5, 3), None);
        assert_eq!(clamp_range(i64::MIN, i64::MAX, 3), Some((0, 2)));
        assert_eq!(clamp_range(0, -1, 0), None);
    }

    #[test]
    fn positions() {
        assert_eq!(position(-1, 3), Some(2));
        assert_eq!(position(-4, 3), None);
        assert_eq!(position(3, 3), None);
        assert_eq!(position(i64::MIN, 3), None);
    }
}
