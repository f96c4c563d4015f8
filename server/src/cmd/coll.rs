//! Helpers shared by the hash and set families: HSCAN/SSCAN arguments, random counts, and
//! keyspace events collected under the lock and sent after it.

use super::{eq, glob_match, int, syntax, Ctx, ERR_NOT_INT};
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
    use rand::Rng;
    rand::rng().random_range(0..n)
}
