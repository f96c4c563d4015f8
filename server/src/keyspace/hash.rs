//! Hash values. Small hashes keep their fields in insertion order, as Redis's listpack does (so
//! HGETALL answers in Redis's order); once past `hash-max-listpack-*` they become a table for good.

use bytes::Bytes;
use indexmap::IndexMap;
use std::hash::{BuildHasher, Hasher};

/// The `hash-max-listpack-*` limits in force.
#[derive(Debug, Clone, Copy)]
pub struct HashLimits {
    pub entries: usize,
    pub value: usize,
}

/// A hash: field -> value.
#[derive(Debug, Clone, Default)]
pub struct Hash {
    map: IndexMap<Bytes, Bytes, super::KeyHasher>,
    /// Converted to a hash table (Redis never converts back).
    table: bool,
}

impl Hash {
    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Whether Redis would hold this hash as a hash table (not a listpack).
    pub fn is_table(&self) -> bool {
        self.table
    }

    pub fn get(&self, field: &[u8]) -> Option<&Bytes> {
        self.map.get(field)
    }

    pub fn contains(&self, field: &[u8]) -> bool {
        self.map.contains_key(field)
    }

    /// Converts to a table if a string of `len` bytes is about to be stored past the limit.
    pub fn check_len(&mut self, len: usize, lim: HashLimits) {
        if len > lim.value {
            self.table = true;
        }
    }

    /// Sets a field; true if it is new. Converts to a table past the limits.
    pub fn insert(&mut self, field: Bytes, value: Bytes, lim: HashLimits) -> bool {
        self.check_len(field.len().max(value.len()), lim);
        let new = self.map.insert(field, value).is_none();
        if self.map.len() > lim.entries {
            self.table = true;
        }
        new
    }

    /// Removes a field; true if it was there.
    pub fn remove(&mut self, field: &[u8]) -> bool {
        if self.table {
            self.map.swap_remove(field).is_some()
        } else {
            // A listpack deletes in place: the other fields keep their order.
            self.map.shift_remove(field).is_some()
        }
    }

    /// Fields and values in Redis's order for a listpack (arbitrary for a table).
    pub fn iter(&self) -> impl Iterator<Item = (&Bytes, &Bytes)> {
        self.map.iter()
    }

    /// The field at position `i` (for random picks).
    pub fn get_index(&self, i: usize) -> Option<(&Bytes, &Bytes)> {
        self.map.get_index(i)
    }

    /// Approximate bytes held.
    pub fn mem_usage(&self) -> usize {
        self.map
            .iter()
            .map(|(k, v)| k.len() + v.len() + 48)
            .sum::<usize>()
            + 64
    }
}

/// The stable hash that orders a table's elements for HSCAN/SSCAN cursors.
pub fn scan_hash(b: &[u8]) -> u64 {
    // Fixed keys: a cursor must mean the same position across calls and restarts.
    let mut h =
        std::hash::BuildHasherDefault::<std::collections::hash_map::DefaultHasher>::default()
            .build_hasher();
    h.write(b);
    h.finish()
}

/// One step of a cursor scan over a table: the elements whose [`scan_hash`] is at least `cursor`,
/// at least `count` of them (more for big tables so a full scan stays O(n) calls of O(n) work),
/// and the next cursor (0 when done). Elements present during the whole scan are returned
/// exactly once, whatever is added or removed between calls.
pub fn scan_step<'a, T>(
    items: impl Iterator<Item = (&'a [u8], T)>,
    len: usize,
    cursor: u64,
    count: usize,
) -> (u64, Vec<T>) {
    let want = count.max(len / 64).max(1);
    let mut cand: Vec<(u64, T)> = items
        .map(|(k, t)| (scan_hash(k), t))
        .filter(|(h, _)| *h >= cursor)
        .collect();
    if cand.len() <= want {
        return (0, cand.into_iter().map(|(_, t)| t).collect());
    }
    cand.select_nth_unstable_by_key(want - 1, |(h, _)| *h);
    let bound = cand[want - 1].0;
    // Every element hashing to `bound` goes now, so the next cursor can start past it.
    let out: Vec<T> = cand
        .into_iter()
        .filter(|(h, _)| *h <= bound)
        .map(|(_, t)| t)
        .collect();
    (bound.checked_add(1).unwrap_or(0), out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scan_covers_everything_once() {
        let items: Vec<Vec<u8>> = (0..1000).map(|i| format!("f{i}").into_bytes()).collect();
        let mut seen = Vec::new();
        let mut cur = 0;
        for _ in 0..10_000 {
            let (next, got) = scan_step(
                items.iter().map(|k| (k.as_slice(), k.clone())),
                items.len(),
                cur,
                10,
            );
            seen.extend(got);
            cur = next;
            if cur == 0 {
                break;
            }
        }
        seen.sort();
        let mut want = items.clone();
        want.sort();
        assert_eq!(seen, want);
    }

    #[test]
    fn listpack_order_and_conversion() {
        let lim = HashLimits {
            entries: 2,
            value: 4,
        };
        let mut h = Hash::default();
        h.insert("b".into(), "1".into(), lim);
        h.insert("a".into(), "2".into(), lim);
        assert!(!h.is_table());
        h.remove(b"b");
        h.insert("c".into(), "3".into(), lim);
        let keys: Vec<_> = h.iter().map(|(k, _)| k.clone()).collect();
        assert_eq!(keys, vec![Bytes::from("a"), Bytes::from("c")]);
        h.insert("d".into(), "4".into(), lim);
        assert!(h.is_table());
        h.remove(b"d");
        assert!(h.is_table());
    }
}
