//! SORT and SORT_RO, following Redis 7.0's sort.c: BY and GET patterns (with `->field` hash
//! dereferences and `#`), LIMIT, ASC/DESC, ALPHA and STORE.

use super::{eq, int, syntax, wrongtype, CommandSpec, Ctx, Flags};
use crate::command;
use crate::keyspace::{Value, View};
use crate::resp::Reply;
use crate::state::NotifyClass;
use bytes::Bytes;
use std::cmp::Ordering;
use std::collections::VecDeque;

const W: Flags = Flags::WRITE.union(Flags::DENYOOM).union(Flags::MOVABLEKEYS);
const R: Flags = Flags::READONLY.union(Flags::MOVABLEKEYS);
/// ACL categories beyond those the flags imply (see `CommandSpec::acl_categories`).
const ACL: &[&str] = &["set", "sortedset", "list", "dangerous"];

/// The sort family.
pub static COMMANDS: &[CommandSpec] = &[
    command!(
        "sort",
        -2,
        W,
        (1, 1, 1),
        "generic",
        "1.0.0",
        ACL,
        sort,
        "Sorts the elements in a list, a set, or a sorted set, optionally storing the result."
    ),
    command!(
        "sort_ro",
        -2,
        R,
        (1, 1, 1),
        "generic",
        "7.0.0",
        ACL,
        sort_ro,
        "Returns the sorted elements of a list, a set, or a sorted set."
    ),
];

fn sort(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    sort_generic(ctx, a, false)
}

fn sort_ro(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    sort_generic(ctx, a, true)
}

/// Parsed options.
struct Opts {
    desc: bool,
    alpha: bool,
    limit: Option<(i64, i64)>,
    store: Option<Bytes>,
    by: Option<Bytes>,
    /// BY without a '*': no sorting at all.
    dontsort: bool,
    gets: Vec<Bytes>,
}

fn parse(a: &[Bytes], readonly: bool) -> Result<Opts, Reply> {
    let mut o = Opts {
        desc: false,
        alpha: false,
        limit: None,
        store: None,
        by: None,
        dontsort: false,
        gets: Vec::new(),
    };
    let mut j = 2;
    while j < a.len() {
        let left = a.len() - j - 1;
        let w = &a[j];
        if eq(w, "asc") {
            o.desc = false;
        } else if eq(w, "desc") {
            o.desc = true;
        } else if eq(w, "alpha") {
            o.alpha = true;
        } else if eq(w, "limit") && left >= 2 {
            o.limit = Some((int(&a[j + 1])?, int(&a[j + 2])?));
            j += 2;
        } else if !readonly && eq(w, "store") && left >= 1 {
            o.store = Some(a[j + 1].clone());
            j += 1;
        } else if eq(w, "by") && left >= 1 {
            o.by = Some(a[j + 1].clone());
            o.dontsort = !a[j + 1].contains(&b'*');
            j += 1;
        } else if eq(w, "get") && left >= 1 {
            o.gets.push(a[j + 1].clone());
            j += 1;
        } else {
            return Err(syntax());
        }
        j += 1;
    }
    Ok(o)
}

/// What a pattern resolves to for one element: `#` is the element, `key*->field` a hash field,
/// `key*` a string key; anything else (or a key of another type) is nothing.
fn lookup_pattern(v: &mut View, pat: &[u8], elem: &Bytes) -> Option<Bytes> {
    if pat == b"#" {
        return Some(elem.clone());
    }
    let star = pat.iter().position(|&c| c == b'*')?;
    let after = &pat[star + 1..];
    let (post, field) = match after.windows(2).position(|w| w == b"->") {
        Some(f) if f + 2 < after.len() => (&after[..f], Some(&after[f + 2..])),
        _ => (after, None),
    };
    let mut key = Vec::with_capacity(pat.len() + elem.len());
    key.extend_from_slice(&pat[..star]);
    key.extend_from_slice(elem);
    key.extend_from_slice(post);
    let e = v.get(&key)?;
    match (&e.value, field) {
        (Value::Hash(h), Some(f)) => h.get_bytes(f),
        (Value::Str(s), None) => Some(s.clone()),
        _ => None,
    }
}

/// A SORT score as Redis reads it: `strtod` over the whole string after any leading blanks (hex
/// included), the empty string as 0; None where Redis reports an error (ERANGE, NaN).
fn score(b: &[u8]) -> Option<f64> {
    if b.is_empty() {
        return Some(0.0);
    }
    let start = b.iter().position(|c| !c.is_ascii_whitespace())?;
    match crate::util::num::strtod(&b[start..])? {
        (v, false) if !v.is_nan() => Some(v),
        _ => None,
    }
}

/// One element being sorted, with what it sorts by.
struct Item {
    obj: Bytes,
    score: f64,
    cmp: Option<Bytes>,
}

fn sort_generic(ctx: &mut Ctx, a: &[Bytes], readonly: bool) -> Reply {
    let mut o = match parse(a, readonly) {
        Ok(o) => o,
        Err(e) => return e,
    };
    let key = &a[1];
    let r = ctx.with_db(|v| {
        // The elements in their native order, and whether that order means something.
        let (mut elems, native): (Vec<Bytes>, bool) = match v.get(key).map(|e| &e.value) {
            None => (Vec::new(), true),
            Some(Value::List(l)) => (l.iter().cloned().collect(), true),
            Some(Value::Set(s)) => (s.members(), false),
            Some(Value::ZSet(z)) => (z.members_in_order(), true),
            Some(_) => return Err(wrongtype()),
        };
        if o.dontsort && !native && o.store.is_some() {
            // A set has no order of its own: a stored result is sorted for determinism.
            o.dontsort = false;
            o.alpha = true;
            o.by = None;
        }
        let len = elems.len() as i64;
        let (lstart, lcount) = o.limit.unwrap_or((0, -1));
        let mut start = lstart.max(0);
        let mut end = if lcount < 0 {
            len - 1
        } else {
            start.saturating_add(lcount) - 1
        };
        if start >= len {
            start = len - 1;
            end = len - 2;
        }
        end = end.min(len - 1);
        if o.dontsort && native && o.desc {
            elems.reverse();
        }
        let mut items: Vec<Item> = elems
            .into_iter()
            .map(|obj| Item {
                obj,
                score: 0.0,
                cmp: None,
            })
            .collect();
        if !o.dontsort {
            let mut bad = false;
            for it in items.iter_mut() {
                let by = match &o.by {
                    Some(p) => match lookup_pattern(v, p, &it.obj) {
                        Some(b) => b,
                        None => continue,
                    },
                    None => it.obj.clone(),
                };
                if o.alpha {
                    if o.by.is_some() {
                        it.cmp = Some(by);
                    }
                } else {
                    match score(&by) {
                        Some(s) => it.score = s,
                        None => bad = true,
                    }
                }
            }
            let (alpha, by, desc) = (o.alpha, o.by.is_some(), o.desc);
            items.sort_by(|x, y| {
                let c = if !alpha {
                    x.score
                        .partial_cmp(&y.score)
                        .unwrap_or(Ordering::Equal)
                        .then_with(|| x.obj.cmp(&y.obj))
                } else if by {
                    x.cmp.cmp(&y.cmp)
                } else {
                    x.obj.cmp(&y.obj)
                };
                if desc {
                    c.reverse()
                } else {
                    c
                }
            });
            if bad {
                return Err(Reply::error(
                    "ERR One or more scores can't be converted into double",
                ));
            }
        }
        let range: &[Item] = if end >= start && start >= 0 {
            &items[start as usize..=end as usize]
        } else {
            &[]
        };
        let mut out: Vec<Option<Bytes>> = Vec::new();
        for it in range {
            if o.gets.is_empty() {
                out.push(Some(it.obj.clone()));
            }
            for g in &o.gets {
                out.push(lookup_pattern(v, g, &it.obj));
            }
        }
        let Some(dst) = &o.store else {
            return Ok((
                Reply::Array(out.into_iter().map(Reply::opt_bulk).collect()),
                None,
            ));
        };
        let n = out.len() as i64;
        let ev = if out.is_empty() {
            v.delete(dst).then_some("del")
        } else {
            let list: VecDeque<Bytes> = out.into_iter().map(Option::unwrap_or_default).collect();
            v.set(dst, Value::List(list), None);
            Some("sortstore")
        };
        Ok((Reply::Int(n), ev))
    });
    match r {
        Ok((reply, ev)) => {
            if let (Some(ev), Some(dst)) = (ev, &o.store) {
                if ev == "del" {
                    ctx.notify(NotifyClass::Generic, ev, dst);
                } else {
                    ctx.notify(NotifyClass::List, ev, dst);
                    ctx.signal_ready(dst);
                }
            }
            reply
        }
        Err(e) => e,
    }
}

#[cfg(test)]
mod tests {
    use super::score;

    #[test]
    fn scores_like_strtod() {
        assert_eq!(score(b""), Some(0.0));
        assert_eq!(score(b" 1.5"), Some(1.5));
        assert_eq!(score(b"1.5 "), None);
        assert_eq!(score(b"abc"), None);
        assert_eq!(score(b"nan"), None);
        assert_eq!(score(b"inf"), Some(f64::INFINITY));
        assert_eq!(score(b"1e400"), None);
        assert_eq!(score(b"1e-400"), None);
        assert_eq!(score(b"0e5"), Some(0.0));
        assert_eq!(score(b"0x10"), Some(16.0));
        assert_eq!(score(b"   "), None);
    }
}
