//! A small sorted set in one buffer, as Redis's listpack holds it: (member, score) entries one
//! after another in (score, member) order, so a set of ten members is one allocation instead of
//! a map, a skip list and a `Bytes` per member. Every operation is a linear walk, which is what
//! the `zset-max-listpack-*` thresholds bound.
//!
//! Entry: the member's length (LEB128), the member, then the score. A score that is an integer
//! of at most 53 bits is a LEB128 of its zigzag shifted left by one (first byte even; 1 byte for
//! 0..63); any other score is the byte 0x01 and its 8 bytes (little-endian f64). -0 is stored as
//! 0, as a listpack stores it.

use std::cmp::Ordering;

/// Entries packed in (score, member) order.
#[derive(Debug, Clone, Default)]
pub(super) struct Packed {
    buf: Vec<u8>,
    len: u32,
}

/// Largest magnitude stored as an integer: every such integer is exact in an f64.
const INT_MAX: f64 = (1u64 << 53) as f64;

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Reads a LEB128 at `*at`; the buffer is only ever written by `encode`, so it is well formed.
fn get_varint(buf: &[u8], at: &mut usize) -> u64 {
    let mut v = 0u64;
    let mut shift = 0;
    loop {
        let b = buf[*at];
        *at += 1;
        v |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return v;
        }
        shift += 7;
    }
}

fn encode(out: &mut Vec<u8>, member: &[u8], score: f64) {
    put_varint(out, member.len() as u64);
    out.extend_from_slice(member);
    if score.fract() == 0.0 && score.abs() <= INT_MAX {
        let i = score as i64;
        let zz = ((i << 1) ^ (i >> 63)) as u64;
        put_varint(out, zz << 1);
    } else {
        out.push(0x01);
        out.extend_from_slice(&score.to_le_bytes());
    }
}

/// The entry at `*at`, moving `*at` past it.
#[inline]
fn decode<'a>(buf: &'a [u8], at: &mut usize) -> (&'a [u8], f64) {
    let n = get_varint(buf, at) as usize;
    let member = &buf[*at..*at + n];
    *at += n;
    let score = if buf[*at] & 1 == 1 {
        let mut b = [0u8; 8];
        b.copy_from_slice(&buf[*at + 1..*at + 9]);
        *at += 9;
        f64::from_le_bytes(b)
    } else {
        let zz = get_varint(buf, at) >> 1;
        (((zz >> 1) as i64) ^ -((zz & 1) as i64)) as f64
    };
    (member, score)
}

fn order(s1: f64, m1: &[u8], s2: f64, m2: &[u8]) -> Ordering {
    s1.partial_cmp(&s2)
        .unwrap_or(Ordering::Equal)
        .then_with(|| m1.cmp(m2))
}

/// Walks the entries: (start offset, member, score).
pub(super) struct Iter<'a> {
    buf: &'a [u8],
    at: usize,
}

impl<'a> Iterator for Iter<'a> {
    type Item = (usize, &'a [u8], f64);
    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        if self.at >= self.buf.len() {
            return None;
        }
        let start = self.at;
        let (m, s) = decode(self.buf, &mut self.at);
        Some((start, m, s))
    }
}

impl Packed {
    pub(super) fn len(&self) -> usize {
        self.len as usize
    }

    /// Bytes of the buffer (its capacity: what the allocator holds).
    pub(super) fn heap_bytes(&self) -> usize {
        self.buf.capacity()
    }

    pub(super) fn iter(&self) -> Iter<'_> {
        Iter {
            buf: &self.buf,
            at: 0,
        }
    }

    /// The entries, in order, for walks that index or go backwards.
    pub(super) fn entries(&self) -> Vec<(&[u8], f64)> {
        let mut v = Vec::with_capacity(self.len());
        v.extend(self.iter().map(|(_, m, s)| (m, s)));
        v
    }

    /// (start, end, score) of `member`'s entry.
    fn find(&self, member: &[u8]) -> Option<(usize, usize, f64)> {
        let mut it = self.iter();
        while let Some((start, m, s)) = it.next() {
            if m == member {
                return Some((start, it.at, s));
            }
        }
        None
    }

    pub(super) fn score(&self, member: &[u8]) -> Option<f64> {
        self.find(member).map(|(_, _, s)| s)
    }

    /// 0-based rank of `member`.
    pub(super) fn rank(&self, member: &[u8]) -> Option<usize> {
        self.iter().position(|(_, m, _)| m == member)
    }

    /// Adds `member` or moves it to `score`; returns the previous score.
    pub(super) fn insert(&mut self, member: &[u8], score: f64) -> Option<f64> {
        let score = if score == 0.0 { 0.0 } else { score };
        let prev = match self.find(member) {
            Some((_, _, s)) if s == score => return Some(s),
            Some((a, b, s)) => {
                self.buf.drain(a..b);
                self.len -= 1;
                Some(s)
            }
            None => None,
        };
        let at = self
            .iter()
            .find(|&(_, m, s)| order(s, m, score, member) == Ordering::Greater)
            .map_or(self.buf.len(), |(start, _, _)| start);
        let mut enc = Vec::with_capacity(member.len() + 12);
        encode(&mut enc, member, score);
        // Exactly what is needed, as a listpack reallocates: no doubling slack per small set.
        self.buf.reserve_exact(enc.len());
        self.buf.splice(at..at, enc);
        self.len += 1;
        prev
    }

    /// Removes `member`; returns whether it was there.
    pub(super) fn remove(&mut self, member: &[u8]) -> bool {
        match self.find(member) {
            Some((a, b, _)) => {
                self.buf.drain(a..b);
                self.len -= 1;
                self.trim();
                true
            }
            None => false,
        }
    }

    /// Keeps the entries for which `keep(rank, member, score)` holds; returns how many went.
    pub(super) fn retain(&mut self, mut keep: impl FnMut(usize, &[u8], f64) -> bool) -> usize {
        let mut out = Vec::with_capacity(self.buf.len());
        let mut kept = 0u32;
        for (i, (start, m, s)) in self.iter().enumerate() {
            if keep(i, m, s) {
                let mut at = start;
                decode(&self.buf, &mut at);
                out.extend_from_slice(&self.buf[start..at]);
                kept += 1;
            }
        }
        let gone = (self.len - kept) as usize;
        if gone > 0 {
            out.shrink_to_fit();
            self.buf = out;
            self.len = kept;
        }
        gone
    }

    /// Gives back slack left by removals beyond a little.
    fn trim(&mut self) {
        if self.buf.capacity() - self.buf.len() > 64.max(self.buf.len() / 4) {
            self.buf.shrink_to_fit();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{RngExt, SeedableRng};
    use std::collections::HashMap;

    #[test]
    fn scores_round_trip() {
        for s in [
            0.0,
            -0.0,
            1.0,
            -1.0,
            63.0,
            64.0,
            -64.0,
            1e15,
            -(2f64.powi(53)),
            2f64.powi(53),
            2f64.powi(53) + 2.0,
            0.5,
            -3.25,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::MAX,
            f64::MIN_POSITIVE,
        ] {
            let mut p = Packed::default();
            p.insert(b"m", s);
            let got = p.score(b"m").unwrap();
            assert_eq!(got, s, "{s}");
            assert!(got.is_sign_positive() || s != 0.0, "-0 is stored as 0");
        }
        let mut p = Packed::default();
        p.insert(b"a", 5.0);
        assert_eq!(
            p.buf.len(),
            1 + 1 + 1,
            "a small integer score takes one byte"
        );
    }

    /// Property test against a plain model: a map and its (score, member) sorting.
    #[test]
    fn randomized_against_model() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(18);
        for _ in 0..50 {
            let mut p = Packed::default();
            let mut m: HashMap<Vec<u8>, f64> = HashMap::new();
            for _ in 0..400 {
                let len = if rng.random_bool(0.05) {
                    200
                } else {
                    rng.random_range(0..4)
                };
                let mem: Vec<u8> = (0..len)
                    .map(|i| b'a' + ((rng.random_range(0..3) + i) % 26) as u8)
                    .collect();
                let score = match rng.random_range(0..4) {
                    0 => rng.random_range(-3..3) as f64,
                    1 => rng.random_range(-1e6..1e6),
                    2 => rng.random_range(-(1i64 << 60)..(1i64 << 60)) as f64,
                    _ => [f64::INFINITY, f64::NEG_INFINITY, -0.0, 1e300][rng.random_range(0..4)],
                };
                match rng.random_range(0..10) {
                    0..=5 => {
                        let s = if score == 0.0 { 0.0 } else { score };
                        assert_eq!(p.insert(&mem, score), m.insert(mem.clone(), s));
                    }
                    6..=8 => assert_eq!(p.remove(&mem), m.remove(&mem).is_some()),
                    _ => {
                        let lo = rng.random_range(-3..3) as f64;
                        let gone = p.retain(|_, _, s| s < lo);
                        let before = m.len();
                        m.retain(|_, s| *s < lo);
                        assert_eq!(gone, before - m.len());
                    }
                }
                let mut want: Vec<(&[u8], f64)> = m.iter().map(|(k, s)| (&k[..], *s)).collect();
                // The model sorts on its own, not through `order`.
                want.sort_by(|a, b| a.1.partial_cmp(&b.1).unwrap().then(a.0.cmp(b.0)));
                assert_eq!(p.entries(), want);
                assert_eq!(p.len(), m.len());
                for (i, (k, s)) in want.iter().enumerate() {
                    assert_eq!(p.rank(k), Some(i));
                    assert_eq!(p.score(k), Some(*s));
                }
            }
        }
    }
}
