//! Set values. Redis 7.0 holds a set of integers as a sorted intset (so SMEMBERS answers in
//! numeric order) until `set-max-intset-entries` or a non-integer member; then a table for good.
//! respd holds such a set the same way: one sorted array of little-endian integers of Redis's
//! widths (2, 4 or 8 bytes, widened when a larger member arrives, never narrowed), so ten small
//! integers are one 20-byte allocation instead of a table and a `Bytes` per member.

use bytes::Bytes;
use indexmap::IndexSet;

/// Sorted integers of one width, laid out as Redis's intset contents.
#[derive(Debug, Clone, Default)]
struct Ints {
    /// 0 (empty, never written) or 2, 4, 8.
    width: u8,
    data: Vec<u8>,
}

/// The narrowest intset width holding `v`.
fn width_for(v: i64) -> usize {
    if i16::try_from(v).is_ok() {
        2
    } else if i32::try_from(v).is_ok() {
        4
    } else {
        8
    }
}

impl Ints {
    fn width(&self) -> usize {
        usize::from(self.width.max(2))
    }

    fn len(&self) -> usize {
        self.data.len() / self.width()
    }

    fn get(&self, i: usize) -> i64 {
        let w = self.width();
        let b = &self.data[i * w..(i + 1) * w];
        match w {
            2 => i64::from(i16::from_le_bytes([b[0], b[1]])),
            4 => i64::from(i32::from_le_bytes([b[0], b[1], b[2], b[3]])),
            _ => i64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]),
        }
    }

    fn search(&self, v: i64) -> Result<usize, usize> {
        let (mut lo, mut hi) = (0, self.len());
        while lo < hi {
            let mid = (lo + hi) / 2;
            match self.get(mid).cmp(&v) {
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
                std::cmp::Ordering::Equal => return Ok(mid),
            }
        }
        Err(lo)
    }

    fn contains(&self, v: i64) -> bool {
        width_for(v) <= self.width() && self.search(v).is_ok()
    }

    /// Rewrites the contents at `w` bytes an integer if that is wider (Redis's upgrade).
    fn widen(&mut self, w: usize) {
        if w <= self.width() && self.width != 0 {
            return;
        }
        let w = w.max(self.width()).min(8);
        let old: Vec<i64> = self.iter().collect();
        self.width = w as u8;
        self.data = Vec::with_capacity((old.len() + 1) * w);
        for x in old {
            self.data.extend_from_slice(&x.to_le_bytes()[..w]);
        }
    }

    /// Adds `v`; true if it is new.
    fn insert(&mut self, v: i64) -> bool {
        self.widen(width_for(v));
        let Err(at) = self.search(v) else {
            return false;
        };
        let w = self.width();
        // Exact growth: the array is bounded by set-max-intset-entries, and slack would be waste.
        self.data.reserve_exact(w);
        let at = at * w;
        self.data
            .splice(at..at, v.to_le_bytes()[..w].iter().copied());
        true
    }

    fn remove_at(&mut self, i: usize) -> i64 {
        let v = self.get(i);
        let w = self.width();
        self.data.drain(i * w..(i + 1) * w);
        v
    }

    fn remove(&mut self, v: i64) -> bool {
        if width_for(v) > self.width() {
            return false;
        }
        match self.search(v) {
            Ok(i) => {
                self.remove_at(i);
                true
            }
            Err(_) => false,
        }
    }

    fn iter(&self) -> impl Iterator<Item = i64> + '_ {
        (0..self.len()).map(|i| self.get(i))
    }
}

fn int_bytes(v: i64) -> Bytes {
    Bytes::from(v.to_string())
}

#[derive(Debug, Clone)]
enum Repr {
    Ints(Ints),
    Table(IndexSet<Bytes, super::KeyHasher>),
}

/// A set of strings.
#[derive(Debug, Clone)]
pub struct Set {
    repr: Repr,
}

impl Default for Set {
    fn default() -> Self {
        Set {
            repr: Repr::Ints(Ints::default()),
        }
    }
}

/// The members of a set, made on demand for an intset.
pub enum Iter<'a> {
    Ints(std::ops::Range<usize>, &'a Set),
    Table(indexmap::set::Iter<'a, Bytes>),
}

impl Iterator for Iter<'_> {
    type Item = Bytes;
    fn next(&mut self) -> Option<Bytes> {
        match self {
            Iter::Ints(r, s) => r.next().and_then(|i| s.get_index(i)),
            Iter::Table(it) => it.next().cloned(),
        }
    }
}

impl Set {
    /// A set built the way Redis builds one from its first member (intset if it is an integer).
    pub fn new() -> Self {
        Set::default()
    }

    pub fn len(&self) -> usize {
        match &self.repr {
            Repr::Ints(p) => p.len(),
            Repr::Table(t) => t.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether Redis would hold this set as an intset (and so respd holds it packed).
    pub fn is_intset(&self) -> bool {
        matches!(self.repr, Repr::Ints(_))
    }

    pub fn contains(&self, m: &[u8]) -> bool {
        match &self.repr {
            Repr::Ints(p) => crate::util::num::parse_i64(m).is_some_and(|v| p.contains(v)),
            Repr::Table(t) => t.contains(m),
        }
    }

    /// Turns an intset into a table (ascending order, as Redis's `setTypeConvert` fills it).
    fn make_table(&mut self) -> &mut IndexSet<Bytes, super::KeyHasher> {
        if let Repr::Ints(p) = &self.repr {
            let mut t = IndexSet::with_capacity_and_hasher(p.len() + 1, Default::default());
            t.extend(p.iter().map(int_bytes));
            self.repr = Repr::Table(t);
        }
        match &mut self.repr {
            Repr::Table(t) => t,
            Repr::Ints(_) => unreachable!("converted above"),
        }
    }

    /// Adds a member; true if it is new. `max_intset` is `set-max-intset-entries`.
    pub fn insert(&mut self, m: Bytes, max_intset: usize) -> bool {
        if let Repr::Ints(p) = &mut self.repr {
            if let Some(v) = crate::util::num::parse_i64(&m) {
                let new = p.insert(v);
                if p.len() > max_intset {
                    self.make_table();
                }
                return new;
            }
        }
        self.make_table().insert(m)
    }

    /// Removes a member; true if it was there.
    pub fn remove(&mut self, m: &[u8]) -> bool {
        match &mut self.repr {
            Repr::Ints(p) => crate::util::num::parse_i64(m).is_some_and(|v| p.remove(v)),
            Repr::Table(t) => t.swap_remove(m),
        }
    }

    /// Members in no particular order (cheap for a table; made one by one for an intset).
    pub fn iter(&self) -> Iter<'_> {
        match &self.repr {
            Repr::Ints(p) => Iter::Ints(0..p.len(), self),
            Repr::Table(t) => Iter::Table(t.iter()),
        }
    }

    /// Members in Redis's order: ascending for an intset, arbitrary for a table.
    pub fn members(&self) -> Vec<Bytes> {
        self.iter().collect()
    }

    /// The member at position `i` (for random picks).
    pub fn get_index(&self, i: usize) -> Option<Bytes> {
        match &self.repr {
            Repr::Ints(p) => (i < p.len()).then(|| int_bytes(p.get(i))),
            Repr::Table(t) => t.get_index(i).cloned(),
        }
    }

    /// Removes and returns the member at position `i`.
    pub fn take_index(&mut self, i: usize) -> Option<Bytes> {
        match &mut self.repr {
            Repr::Ints(p) => (i < p.len()).then(|| int_bytes(p.remove_at(i))),
            Repr::Table(t) => t.swap_remove_index(i),
        }
    }

    /// Widens an intset's integers to at least `width` bytes (2, 4 or 8), as a loaded intset
    /// had them: Redis never narrows one.
    pub fn widen(&mut self, width: usize) {
        if let Repr::Ints(p) = &mut self.repr {
            p.widen(width);
        }
    }

    /// An intset's width and little-endian contents, as Redis's intset blob holds them.
    pub fn intset_parts(&self) -> Option<(usize, &[u8])> {
        match &self.repr {
            Repr::Ints(p) => Some((p.width(), &p.data)),
            Repr::Table(_) => None,
        }
    }

    /// Approximate bytes held.
    pub fn mem_usage(&self) -> usize {
        match &self.repr {
            Repr::Ints(p) => p.data.capacity() + 64,
            Repr::Table(t) => t.iter().map(|m| m.len() + 32).sum::<usize>() + 64,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{RngExt, SeedableRng};
    use std::collections::BTreeSet;

    #[test]
    fn intset_order_and_conversion() {
        let mut s = Set::new();
        for m in ["10", "-3", "2"] {
            s.insert(Bytes::from(m), 3);
        }
        assert!(s.is_intset());
        assert_eq!(s.members(), vec!["-3", "2", "10"]);
        s.insert(Bytes::from("7"), 3);
        assert!(!s.is_intset());
        s.remove(b"7");
        assert!(!s.is_intset());
        let mut t = Set::new();
        t.insert(Bytes::from("01"), 512);
        assert!(!t.is_intset());
    }

    #[test]
    fn widths_upgrade_and_stay() {
        let mut s = Set::new();
        s.insert(Bytes::from("5"), 512);
        assert_eq!(s.intset_parts().map(|(w, d)| (w, d.len())), Some((2, 2)));
        s.insert(Bytes::from("70000"), 512);
        assert_eq!(s.intset_parts().map(|(w, d)| (w, d.len())), Some((4, 8)));
        s.insert(Bytes::from(i64::MIN.to_string()), 512);
        assert_eq!(s.intset_parts().map(|(w, _)| w), Some(8));
        assert_eq!(
            s.members(),
            vec![
                Bytes::from(i64::MIN.to_string()),
                "5".into(),
                "70000".into()
            ]
        );
        s.remove(i64::MIN.to_string().as_bytes());
        assert_eq!(s.intset_parts().map(|(w, _)| w), Some(8), "never narrowed");
        assert!(!s.contains(b"5.0") && !s.contains(b"99999999999") && s.contains(b"70000"));
    }

    /// Property test against a plain model: a `BTreeSet<i64>` while packed, then strings.
    #[test]
    fn randomized_against_model() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(18);
        for round in 0..200 {
            let max = [0usize, 1, 5, 64, 512][round % 5];
            let mut s = Set::new();
            let mut model: BTreeSet<i64> = BTreeSet::new();
            let mut packed = true;
            for _ in 0..300 {
                let v: i64 = match rng.random_range(0..4) {
                    0 => rng.random_range(-40..40),
                    1 => rng.random_range(-70000..70000),
                    2 => rng.random_range(i64::MIN..i64::MAX),
                    _ => [i64::MIN, i64::MAX, -32768, 32767, 32768, -32769][rng.random_range(0..6)],
                };
                let text = if rng.random_bool(0.01) {
                    format!("0{v}")
                } else {
                    v.to_string()
                };
                let is_int = crate::util::num::parse_i64(text.as_bytes()).is_some();
                match rng.random_range(0..10) {
                    0..=5 => {
                        let new = s.insert(Bytes::from(text.clone()), max);
                        if is_int {
                            assert_eq!(new, model.insert(v));
                        } else {
                            packed = false;
                        }
                        if model.len() > max {
                            packed = false;
                        }
                    }
                    6..=8 if is_int => assert_eq!(s.remove(text.as_bytes()), model.remove(&v)),
                    _ if !model.is_empty() && packed => {
                        let i = rng.random_range(0..model.len());
                        let want = *model.iter().nth(i).unwrap();
                        assert_eq!(s.take_index(i), Some(int_bytes(want)));
                        model.remove(&want);
                    }
                    _ => {}
                }
                assert_eq!(s.is_intset(), packed);
                if packed {
                    let want: Vec<Bytes> = model.iter().map(|&x| int_bytes(x)).collect();
                    assert_eq!(s.members(), want);
                    assert_eq!(s.len(), model.len());
                    for x in model.iter().take(5) {
                        assert!(s.contains(x.to_string().as_bytes()));
                    }
                    assert_eq!(s.contains(v.to_string().as_bytes()), model.contains(&v));
                } else {
                    break;
                }
            }
        }
    }
}
