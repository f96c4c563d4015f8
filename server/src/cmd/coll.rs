//! Helpers shared by the hash and set families: typed lookups (`Coll`), HDEL/SREM, HSCAN/SSCAN,
//! random counts, and keyspace events collected under the lock and sent after it.

use super::{eq, glob_match, int, syntax, wrongtype, Ctx, ERR_NOT_INT};
use crate::keyspace::{Hash, Set, Value, View};
use crate::resp::Reply;
use crate::state::NotifyClass;
use bytes::Bytes;

/// Keyspace events a command produced, sent once its locks are released.
pub type Events = Vec<(NotifyClass, &'static str, Bytes)>;

/// Sends collected keyspace events.
pub fn fire(ctx: &Ctx, evs: Events) {
    for (class, ev, key) in evs {
        ctx.notify(class, ev, &key);
    }
}

/// Sends the events of a write that answers a count, then the count (or the write's error).
pub fn fire_int(ctx: &Ctx, r: Result<(i64, Events), Reply>) -> Reply {
    match r {
        Ok((n, evs)) => {
            fire(ctx, evs);
            Reply::Int(n)
        }
        Err(e) => e,
    }
}

/// A collection boxed in its own `Value` variant (a hash or a set): the typed lookups both
/// families make, written once. Call as `Hash::write(v, key, true)`.
pub trait Coll: Default {
    /// The collection in `v`, or None if `v` is another type.
    fn of(v: &Value) -> Option<&Self>;
    /// Likewise, mutable.
    fn of_mut(v: &mut Value) -> Option<&mut Self>;
    /// `self` as a stored value.
    fn into_value(self) -> Value;
    /// Whether the field or member `m` is there.
    fn has(&self, m: &[u8]) -> bool;
    /// Removes the field or member `m`; returns whether it was there.
    fn take(&mut self, m: &[u8]) -> bool;
    /// Whether nothing is left.
    fn none_left(&self) -> bool;

    /// The collection at `key` for reading: Ok(None) if missing, WRONGTYPE if another type.
    fn read<'v>(v: &'v mut View, key: &[u8]) -> Result<Option<&'v Self>, Reply> {
        match v.get(key) {
            None => Ok(None),
            Some(e) => Self::of(&e.value).map(Some).ok_or_else(wrongtype),
        }
    }

    /// The collection at `key` for writing, created empty if missing and `create`.
    fn write<'v>(
        v: &'v mut View,
        key: &Bytes,
        create: bool,
    ) -> Result<Option<&'v mut Self>, Reply> {
        match v.peek(key).map(|e| Self::of(&e.value).is_some()) {
            Some(false) => return Err(wrongtype()),
            None if !create => return Ok(None),
            None => v.set(key, Self::default().into_value(), None),
            Some(true) => {}
        }
        Ok(v.get_mut(key).and_then(|e| Self::of_mut(&mut e.value)))
    }

    /// The collection at `key` without counting an access: lets a write that changes nothing
    /// leave WATCHers undisturbed, as Redis does.
    fn peek<'v>(v: &'v mut View, key: &[u8]) -> Result<Option<&'v Self>, Reply> {
        match v.peek(key) {
            None => Ok(None),
            Some(e) => Self::of(&e.value).map(Some).ok_or_else(wrongtype),
        }
    }

    /// Runs a read-only closure on the collection at `key`, counting the lookup.
    fn with_read<R>(
        ctx: &mut Ctx,
        key: &Bytes,
        f: impl FnOnce(Option<&Self>) -> R,
    ) -> Result<R, Reply> {
        let r = ctx.with_key(key, |v| Self::read(v, key).map(|c| (c.is_some(), f(c))));
        r.map(|(hit, out)| {
            ctx.count_lookup(hit);
            out
        })
    }
}

/// HSCAN and SSCAN (`a` is KEY CURSOR [MATCH p] [COUNT n]): `step` gives the next cursor and
/// the matching elements, flattened, of one step over an existing collection.
pub fn scan<C: Coll>(
    ctx: &mut Ctx,
    a: &[Bytes],
    step: impl FnOnce(&C, u64, &ScanOpts) -> (u64, Vec<Bytes>),
) -> Reply {
    let cursor = match parse_cursor(&a[2]) {
        Ok(c) => c,
        Err(e) => return e,
    };
    let r = C::with_read(ctx, &a[1], |c| {
        let Some(c) = c else {
            return Ok(empty_scan());
        };
        let opts = ScanOpts::parse(&a[3..])?;
        let (next, out) = step(c, cursor, &opts);
        Ok(scan_reply(next, out))
    });
    match r {
        Ok(Ok(rep)) | Ok(Err(rep)) | Err(rep) => rep,
    }
}

/// `Coll` for a collection type stored as `Value::$variant`.
macro_rules! impl_coll {
    ($ty:ident, $variant:ident, $wrap:expr) => {
        impl Coll for $ty {
            fn of(v: &Value) -> Option<&Self> {
                match v {
                    Value::$variant(c) => Some(c),
                    _ => None,
                }
            }
            fn of_mut(v: &mut Value) -> Option<&mut Self> {
                match v {
                    Value::$variant(c) => Some(c),
                    _ => None,
                }
            }
            fn into_value(self) -> Value {
                Value::$variant($wrap(self))
            }
            fn has(&self, m: &[u8]) -> bool {
                self.contains(m)
            }
            fn take(&mut self, m: &[u8]) -> bool {
                self.remove(m)
            }
            fn none_left(&self) -> bool {
                self.is_empty()
            }
        }
    };
}

// A hash is held inline in its `Value` (see there), a set boxed.
impl_coll!(Hash, Hash, std::convert::identity);
impl_coll!(Set, Set, Box::new);

/// HDEL and SREM: removes the fields or members `a[2..]` from the collection at `a[1]`, with
/// `event` when any went and `del` when none is left; answers how many went.
pub fn remove_members<C: Coll>(
    ctx: &mut Ctx,
    a: &[Bytes],
    class: NotifyClass,
    event: &'static str,
) -> Reply {
    let key = &a[1];
    let r = ctx.with_key(key, |v| {
        let mut evs = Events::new();
        if !C::peek(v, key)?.is_some_and(|c| a[2..].iter().any(|m| c.has(m))) {
            return Ok((0, evs));
        }
        let Some(c) = C::write(v, key, false)? else {
            return Ok((0, evs));
        };
        let n = a[2..].iter().filter(|m| c.take(m)).count() as i64;
        let empty = c.none_left();
        if n > 0 {
            evs.push((class, event, key.clone()));
        }
        if empty {
            v.remove(key);
            evs.push((NotifyClass::Generic, "del", key.clone()));
        }
        Ok((n, evs))
    });
    fire_int(ctx, r)
}

/// Parses a SCAN cursor as Redis's `strtoul` does (a leading sign is accepted, "-1" wraps).
pub fn parse_cursor(b: &[u8]) -> Result<u64, Reply> {
    let bad = || Reply::error("ERR invalid cursor");
    if b.first().is_some_and(|c| c.is_ascii_whitespace()) {
        return Err(bad());
    }
    let (neg, digits) = match b.first() {
        Some(b'-') => (true, &b[1..]),
        Some(b'+') => (false, &b[1..]),
        _ => (false, b),
    };
    let mut v: u64 = 0;
    for &c in digits {
        if !c.is_ascii_digit() {
            return Err(bad());
        }
        v = v
            .checked_mul(10)
            .and_then(|v| v.checked_add(u64::from(c - b'0')))
            .ok_or_else(bad)?;
    }
    Ok(if neg { v.wrapping_neg() } else { v })
}

/// MATCH and COUNT of HSCAN/SSCAN/ZSCAN.
pub struct ScanOpts {
    pub pattern: Option<Bytes>,
    pub count: usize,
}

impl ScanOpts {
    /// Parses the options after the cursor (`args[3..]`).
    pub fn parse(args: &[Bytes]) -> Result<ScanOpts, Reply> {
        let mut o = ScanOpts {
            pattern: None,
            count: 10,
        };
        let mut i = 0;
        while i < args.len() {
            if i + 1 >= args.len() {
                return Err(syntax());
            }
            if eq(&args[i], "count") {
                let c = int(&args[i + 1])?;
                if c < 1 {
                    return Err(syntax());
                }
                o.count = c as usize;
            } else if eq(&args[i], "match") {
                // "*" matches everything: Redis skips the matching then.
                o.pattern = (args[i + 1].as_ref() != b"*").then(|| args[i + 1].clone());
            } else {
                return Err(syntax());
            }
            i += 2;
        }
        Ok(o)
    }

    /// Whether an element passes MATCH.
    pub fn matches(&self, elem: &[u8]) -> bool {
        self.pattern
            .as_ref()
            .is_none_or(|p| glob_match(p, elem, false))
    }
}

/// The `[cursor, elements]` reply of a scan.
pub fn scan_reply(cursor: u64, elems: Vec<Bytes>) -> Reply {
    Reply::Array(vec![
        Reply::bulk(Bytes::from(cursor.to_string())),
        Reply::bulks(elems),
    ])
}

/// The empty scan reply (missing key).
pub fn empty_scan() -> Reply {
    scan_reply(0, Vec::new())
}

/// Parses the count of SRANDMEMBER/HRANDFIELD (any long but LONG_MIN).
pub fn rand_count(b: &[u8]) -> Result<i64, Reply> {
    let n = crate::util::num::parse_i64(b).ok_or(Reply::error(ERR_NOT_INT))?;
    if n == i64::MIN {
        return Err(Reply::error(format!(
            "ERR value is out of range, value must between {} and {}",
            -i64::MAX,
            i64::MAX
        )));
    }
    Ok(n)
}

/// Refuses replies too large to build (Redis would try and run out of memory).
pub fn check_reply_size(n: u64) -> Result<(), Reply> {
    if n > (1 << 31) {
        return Err(Reply::error("ERR value is out of range"));
    }
    Ok(())
}

/// `k` distinct indexes out of `0..n` (k < n), in random order.
pub fn distinct_indexes(n: usize, k: usize) -> Vec<usize> {
    use rand::seq::index::sample;
    sample(&mut rand::rng(), n, k).into_vec()
}

/// A random index in `0..n` (n > 0).
pub fn rand_index(n: usize) -> usize {
    use rand::RngExt;
    rand::rng().random_range(0..n)
}
