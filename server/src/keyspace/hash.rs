//! Hash values. Small hashes keep their fields in insertion order, as Redis's listpack does (so
//! HGETALL answers in Redis's order); once past `hash-max-listpack-*` they become a table for good.

mod packed;

use bytes::Bytes;
use indexmap::IndexMap;
use packed::Packed;
use std::hash::{BuildHasher, Hasher};

/// The `hash-max-listpack-*` limits in force.
#[derive(Debug, Clone, Copy)]
pub struct HashLimits {
    pub entries: usize,
    pub value: usize,
}

/// A hash table's map (the form past the limits).
pub type Table = IndexMap<Bytes, Bytes, super::KeyHasher>;

/// A hash: field -> value.
#[derive(Debug, Clone)]
pub struct Hash {
    repr: Repr,
}

#[derive(Debug, Clone)]
enum Repr {
    /// Within the limits: one buffer, as Redis's listpack.
    Packed(Packed),
    /// Past them, for good (Redis never converts back). Boxed so a small hash stays small.
    Table(Box<Table>),
}

impl Default for Hash {
    fn default() -> Self {
        Hash {
            repr: Repr::Packed(Packed::default()),
        }
    }
}

/// Fields and values of either form, as slices.
pub enum Iter<'a> {
    Packed(packed::Iter<'a>),
    Table(indexmap::map::Iter<'a, Bytes, Bytes>),
}

impl<'a> Iterator for Iter<'a> {
    type Item = (&'a [u8], &'a [u8]);
    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        match self {
            Iter::Packed(it) => it.next(),
            Iter::Table(it) => it.next().map(|(k, v)| (&k[..], &v[..])),
        }
    }
}

impl Hash {
    pub fn len(&self) -> usize {
        match &self.repr {
            Repr::Packed(p) => p.len(),
            Repr::Table(m) => m.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether this hash is held as a hash table (not a listpack), as Redis would hold it.
    pub fn is_table(&self) -> bool {
        matches!(self.repr, Repr::Table(_))
    }

    /// The map, when in table form (its `Bytes` can be handed out without a copy).
    pub fn table(&self) -> Option<&Table> {
        match &self.repr {
            Repr::Packed(_) => None,
            Repr::Table(m) => Some(m),
        }
    }

    pub fn get(&self, field: &[u8]) -> Option<&[u8]> {
        match &self.repr {
            Repr::Packed(p) => p.get(field),
            Repr::Table(m) => m.get(field).map(|v| &v[..]),
        }
    }

    /// The value as `Bytes`: shared from a table, copied out of a packed hash (a small value).
    pub fn get_bytes(&self, field: &[u8]) -> Option<Bytes> {
        match &self.repr {
            Repr::Packed(p) => p.get(field).map(Bytes::copy_from_slice),
            Repr::Table(m) => m.get(field).cloned(),
        }
    }

    pub fn contains(&self, field: &[u8]) -> bool {
        self.get(field).is_some()
    }

    /// Converts to a table, keeping the fields' order.
    fn convert(&mut self) {
        if let Repr::Packed(p) = &self.repr {
            let mut m = Table::with_capacity_and_hasher(p.len() + 1, Default::default());
            m.extend(
                p.iter()
                    .map(|(k, v)| (Bytes::copy_from_slice(k), Bytes::copy_from_slice(v))),
            );
            self.repr = Repr::Table(Box::new(m));
        }
    }

    /// Sets a field; true if it is new. Converts to a table past the limits.
    pub fn insert(&mut self, field: Bytes, value: Bytes, lim: HashLimits) -> bool {
        self.insert_with(&field, &value, lim, |b| b.clone())
    }

    /// Sets a field from borrowed arguments: a packed hash copies their bytes, a table stores
    /// `own(arg)` (so the caller decides whether a request's buffer may be shared). True if new.
    pub fn insert_with(
        &mut self,
        field: &Bytes,
        value: &Bytes,
        lim: HashLimits,
        own: impl Fn(&Bytes) -> Bytes,
    ) -> bool {
        // Redis converts before storing a string past hash-max-listpack-value (`hashTypeSet`),
        // so a big value goes straight into the table, never copied.
        if field.len().max(value.len()) > lim.value {
            self.convert();
        }
        let new = match &mut self.repr {
            Repr::Packed(p) => p.insert(field, value),
            Repr::Table(m) => m.insert(own(field), own(value)).is_none(),
        };
        if self.len() > lim.entries {
            self.convert();
        }
        new
    }

    /// Removes a field; true if it was there.
    pub fn remove(&mut self, field: &[u8]) -> bool {
        match &mut self.repr {
            // A listpack deletes in place: the other fields keep their order.
            Repr::Packed(p) => p.remove(field),
            Repr::Table(m) => m.swap_remove(field).is_some(),
        }
    }

    /// Fields and values in Redis's order for a listpack (arbitrary for a table).
    pub fn iter(&self) -> Iter<'_> {
        match &self.repr {
            Repr::Packed(p) => Iter::Packed(p.iter()),
            Repr::Table(m) => Iter::Table(m.iter()),
        }
    }

    /// Fields and values as `Bytes`, in [`Hash::iter`]'s order: a table's are shared, a packed
    /// hash's are slices of one copy of its buffer.
    pub fn to_bytes(&self) -> Vec<(Bytes, Bytes)> {
        match &self.repr {
            Repr::Packed(p) => p.to_bytes(),
            Repr::Table(m) => m.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
        }
    }

    /// The entries at positions `picks` (for random picks; repeats allowed).
    pub fn pick(&self, picks: &[usize]) -> Vec<(Bytes, Bytes)> {
        match &self.repr {
            Repr::Packed(p) => {
                let all = p.to_bytes();
                picks.iter().filter_map(|&i| all.get(i).cloned()).collect()
            }
            Repr::Table(m) => picks
                .iter()
                .filter_map(|&i| m.get_index(i))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        }
    }

    /// A hash from a loaded listpack (or ziplist) payload: it stays packed unless it has more
    /// entries than `entries`, whatever its strings' lengths, as Redis loads one. None if a
    /// field repeats.
    pub fn from_packed(pairs: Vec<(Bytes, Bytes)>, entries: usize) -> Option<Hash> {
        let mut h = Hash::default();
        if pairs.len() > entries {
            h.convert();
        }
        match &mut h.repr {
            Repr::Packed(p) => {
                // A set finds repeats: the limit may be set high, and a walk per field would
                // make a crafted payload quadratic.
                let mut seen = std::collections::HashSet::with_capacity(pairs.len());
                for (f, v) in &pairs {
                    if !seen.insert(&f[..]) {
                        return None;
                    }
                    p.push(f, v);
                }
            }
            Repr::Table(m) => {
                for (f, v) in pairs {
                    if m.insert(f, v).is_some() {
                        return None;
                    }
                }
            }
        }
        Some(h)
    }

    /// Approximate bytes held.
    pub fn mem_usage(&self) -> usize {
        match &self.repr {
            Repr::Packed(p) => p.heap_bytes() + std::mem::size_of::<Self>() + 16,
            Repr::Table(m) => m.iter().map(|(k, v)| k.len() + v.len() + 48).sum::<usize>() + 64,
        }
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

    /// Property test against a plain model (a vector of pairs in insertion order) with small
    /// random limits, changed mid-run as CONFIG SET would: contents always agree, the order too
    /// while packed, and the form turns into a table exactly where Redis's rules say, for good.
    #[test]
    fn randomized_against_model_across_the_limits() {
        use rand::{RngExt, SeedableRng};
        let mut rng = rand::rngs::StdRng::seed_from_u64(1818);
        for _ in 0..200 {
            let mut h = Hash::default();
            let mut m: Vec<(Bytes, Bytes)> = Vec::new();
            let mut table = false;
            let mut lim = HashLimits {
                entries: rng.random_range(0..12),
                value: rng.random_range(0..8),
            };
            for _ in 0..100 {
                if rng.random_bool(0.05) {
                    lim = HashLimits {
                        entries: rng.random_range(0..12),
                        value: rng.random_range(0..8),
                    };
                }
                let f = Bytes::from(format!("f{}", rng.random_range(0..14)));
                if rng.random_bool(0.7) {
                    let v = Bytes::from("v".repeat(rng.random_range(0..9)));
                    table |= f.len().max(v.len()) > lim.value;
                    let new = match m.iter_mut().find(|(k, _)| *k == f) {
                        Some(e) => {
                            e.1 = v.clone();
                            false
                        }
                        None => {
                            m.push((f.clone(), v.clone()));
                            true
                        }
                    };
                    table |= m.len() > lim.entries;
                    assert_eq!(h.insert(f, v, lim), new);
                } else {
                    let at = m.iter().position(|(k, _)| *k == f);
                    if let Some(i) = at {
                        m.remove(i);
                    }
                    assert_eq!(h.remove(&f), at.is_some());
                }
                assert_eq!(h.is_table(), table);
                assert_eq!(h.len(), m.len());
                for (k, v) in &m {
                    assert_eq!(h.get(k), Some(&v[..]));
                    assert_eq!(h.get_bytes(k).as_ref(), Some(v));
                }
                if !table {
                    assert_eq!(h.to_bytes(), m);
                }
            }
        }
    }

    #[test]
    fn a_big_value_goes_into_the_table_uncopied() {
        let lim = HashLimits {
            entries: 128,
            value: 64,
        };
        let mut h = Hash::default();
        h.insert("a".into(), "1".into(), lim);
        let big = Bytes::from(vec![b'x'; 1 << 20]);
        h.insert("big".into(), big.clone(), lim);
        assert!(h.is_table());
        let got = h.get_bytes(b"big").expect("stored");
        assert_eq!(got.as_ptr(), big.as_ptr(), "shared, not copied");
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
        let keys: Vec<_> = h.iter().map(|(k, _)| k).collect();
        assert_eq!(keys, vec![&b"a"[..], &b"c"[..]]);
        h.insert("d".into(), "4".into(), lim);
        assert!(h.is_table());
        h.remove(b"d");
        assert!(h.is_table());
    }
}
