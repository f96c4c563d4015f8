//! Set values. Redis 7.0 holds a set of integers as a sorted intset (so SMEMBERS answers in
//! numeric order) until `set-max-intset-entries` or a non-integer member; then a table for good.

use bytes::Bytes;
use indexmap::IndexSet;

/// A set of strings.
#[derive(Debug, Clone)]
pub struct Set {
    set: IndexSet<Bytes, super::KeyHasher>,
    /// Still an intset: every member is an integer in canonical form.
    intset: bool,
}

impl Default for Set {
    fn default() -> Self {
        Set {
            set: IndexSet::default(),
            intset: true,
        }
    }
}

/// Whether Redis would store `m` in an intset.
fn is_int(m: &[u8]) -> bool {
    crate::util::num::parse_i64(m).is_some()
}

impl Set {
    /// A set built the way Redis builds one from its first member (intset if it is an integer).
    pub fn new() -> Self {
        Set::default()
    }

    pub fn len(&self) -> usize {
        self.set.len()
    }

    pub fn is_empty(&self) -> bool {
        self.set.is_empty()
    }

    /// Whether Redis would hold this set as an intset.
    pub fn is_intset(&self) -> bool {
        self.intset
    }

    pub fn contains(&self, m: &[u8]) -> bool {
        self.set.contains(m)
    }

    /// Adds a member; true if it is new. `max_intset` is `set-max-intset-entries`.
    pub fn insert(&mut self, m: Bytes, max_intset: usize) -> bool {
        if self.intset && !is_int(&m) {
            self.intset = false;
        }
        let new = self.set.insert(m);
        if self.intset && self.set.len() > max_intset {
            self.intset = false;
        }
        new
    }

    /// Removes a member; true if it was there.
    pub fn remove(&mut self, m: &[u8]) -> bool {
        self.set.swap_remove(m)
    }

    /// Members in no particular order (cheap).
    pub fn iter(&self) -> impl Iterator<Item = &Bytes> {
        self.set.iter()
    }

    /// Members in Redis's order: ascending for an intset, arbitrary for a table.
    pub fn members(&self) -> Vec<Bytes> {
        let mut v: Vec<Bytes> = self.set.iter().cloned().collect();
        if self.intset {
            v.sort_by_key(|m| crate::util::num::parse_i64(m).unwrap_or(0));
        }
        v
    }

    /// The member at position `i` (for random picks).
    pub fn get_index(&self, i: usize) -> Option<&Bytes> {
        self.set.get_index(i)
    }

    /// Removes and returns the member at position `i`.
    pub fn take_index(&mut self, i: usize) -> Option<Bytes> {
        self.set.swap_remove_index(i)
    }

    /// Approximate bytes held.
    pub fn mem_usage(&self) -> usize {
        self.set.iter().map(|m| m.len() + 32).sum::<usize>() + 64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
