//! Keys as the keyspace maps hold them. A short key lives inline in the map's slot: no allocation
//! of its own, and a lookup compares it without following a pointer to another cache line (with
//! many keys that miss was ~10% of a pipelined GET). Longer keys are held as their `Bytes`.

use bytes::Bytes;
use std::borrow::Borrow;
use std::hash::{Hash, Hasher};

/// Longest key kept inline: the slot is then no larger than a `Bytes` and its tag.
const INLINE: usize = 38;

/// A key of a keyspace map; it hashes and compares as its bytes, so maps are looked up by `&[u8]`.
#[derive(Clone)]
pub enum Key {
    Inline { len: u8, buf: [u8; INLINE] },
    Heap(Bytes),
}

impl Key {
    /// The key's bytes.
    pub fn as_slice(&self) -> &[u8] {
        match self {
            Key::Inline { len, buf } => &buf[..usize::from(*len)],
            Key::Heap(b) => b,
        }
    }

    /// The key as `Bytes`, for replies and indexes (a copy for an inline key).
    pub fn to_bytes(&self) -> Bytes {
        match self {
            Key::Inline { .. } => Bytes::copy_from_slice(self.as_slice()),
            Key::Heap(b) => b.clone(),
        }
    }
}

impl Key {
    /// `b` inline; the caller checked that it fits.
    fn from_inline(b: &[u8]) -> Key {
        let mut buf = [0u8; INLINE];
        buf[..b.len()].copy_from_slice(b);
        Key::Inline {
            len: b.len() as u8,
            buf,
        }
    }
}

impl From<Bytes> for Key {
    fn from(b: Bytes) -> Key {
        if b.len() <= INLINE {
            Key::from_inline(&b)
        } else {
            Key::Heap(b)
        }
    }
}

impl From<&Bytes> for Key {
    /// Copies a short key inline; a long one is shared, not copied.
    fn from(b: &Bytes) -> Key {
        if b.len() <= INLINE {
            Key::from_inline(b)
        } else {
            Key::Heap(b.clone())
        }
    }
}

impl Borrow<[u8]> for Key {
    fn borrow(&self) -> &[u8] {
        self.as_slice()
    }
}

impl Hash for Key {
    // As `[u8]` hashes, which `Borrow<[u8]>` requires.
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_slice().hash(state)
    }
}

impl PartialEq for Key {
    fn eq(&self, other: &Key) -> bool {
        self.as_slice() == other.as_slice()
    }
}

impl Eq for Key {}

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", Bytes::copy_from_slice(self.as_slice()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn short_and_long_keys_look_up_by_their_bytes() {
        let long = Bytes::from(vec![b'k'; INLINE + 1]);
        let mut m: HashMap<Key, u32> = HashMap::new();
        m.insert(Key::from(Bytes::from_static(b"a")), 1);
        m.insert(Key::from(Bytes::new()), 2);
        m.insert(Key::from(long.clone()), 3);
        m.insert(Key::from(Bytes::from(vec![b'k'; INLINE])), 4);
        assert!(matches!(Key::from(long.clone()), Key::Heap(_)));
        assert_eq!(m.get(&b"a"[..]), Some(&1));
        assert_eq!(m.get(&b""[..]), Some(&2));
        assert_eq!(m.get(&long[..]), Some(&3));
        assert_eq!(m.get(&vec![b'k'; INLINE][..]), Some(&4));
        assert_eq!(m.get(&b"b"[..]), None);
        assert_eq!(Key::from(long.clone()).to_bytes(), long);
        assert_eq!(Key::from(Bytes::from_static(b"ab")).to_bytes(), "ab");
        assert!(std::mem::size_of::<Key>() <= 40);
    }
}
