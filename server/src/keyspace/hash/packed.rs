//! A small hash in one buffer, as Redis's listpack holds it: (field, value) entries one after
//! another in insertion order, so a hash of ten fields is one allocation instead of a map and
//! two `Bytes` per field. Every operation is a linear walk, which is what the
//! `hash-max-listpack-*` thresholds bound.
//!
//! Entry: the field's length (LEB128), the field, the value's length (LEB128), the value. The
//! bytes are kept exactly as given (no integer re-encoding), so a read gives back what was
//! stored.

use bytes::Bytes;

/// Entries packed in insertion order.
#[derive(Debug, Clone, Default)]
pub(super) struct Packed {
    buf: Vec<u8>,
    len: u32,
}

/// The LEB128 of `v` and how many of its bytes are used.
fn varint_bytes(mut v: u64) -> ([u8; 10], usize) {
    let mut out = [0u8; 10];
    let mut n = 0;
    while v >= 0x80 {
        out[n] = (v as u8) | 0x80;
        v >>= 7;
        n += 1;
    }
    out[n] = v as u8;
    (out, n + 1)
}

/// Reads a LEB128 at `*at`; the buffer is only ever written by this module, so it is well formed.
#[inline]
fn get_varint(buf: &[u8], at: &mut usize) -> u64 {
    // Lengths under 128 (nearly all in a small hash) take one byte.
    let first = buf[*at];
    if first < 0x80 {
        *at += 1;
        return u64::from(first);
    }
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

/// A length-prefixed string at `*at`, moving `*at` past it; returns its byte range.
#[inline]
fn get_str(buf: &[u8], at: &mut usize) -> (usize, usize) {
    let n = get_varint(buf, at) as usize;
    let start = *at;
    *at += n;
    (start, *at)
}

/// Walks the entries: positions of (entry start, field range, value range).
struct Spans<'a> {
    buf: &'a [u8],
    at: usize,
}

/// One entry's byte positions in the buffer.
#[derive(Clone, Copy)]
struct Span {
    start: usize,
    field: (usize, usize),
    /// Where the value's length prefix begins.
    value_at: usize,
    value: (usize, usize),
}

impl Iterator for Spans<'_> {
    type Item = Span;
    #[inline]
    fn next(&mut self) -> Option<Span> {
        if self.at >= self.buf.len() {
            return None;
        }
        let start = self.at;
        let field = get_str(self.buf, &mut self.at);
        let value_at = self.at;
        let value = get_str(self.buf, &mut self.at);
        Some(Span {
            start,
            field,
            value_at,
            value,
        })
    }
}

/// Walks the entries as (field, value) slices.
pub struct Iter<'a> {
    spans: Spans<'a>,
}

impl<'a> Iterator for Iter<'a> {
    type Item = (&'a [u8], &'a [u8]);
    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        let s = self.spans.next()?;
        let b = self.spans.buf;
        Some((&b[s.field.0..s.field.1], &b[s.value.0..s.value.1]))
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

    fn spans(&self) -> Spans<'_> {
        Spans {
            buf: &self.buf,
            at: 0,
        }
    }

    pub(super) fn iter(&self) -> Iter<'_> {
        Iter {
            spans: self.spans(),
        }
    }

    /// The entries as `Bytes` made from one copy of the buffer: a reply of the whole hash costs
    /// one allocation, not one per field.
    pub(super) fn to_bytes(&self) -> Vec<(Bytes, Bytes)> {
        let all = Bytes::copy_from_slice(&self.buf);
        self.spans()
            .map(|s| {
                (
                    all.slice(s.field.0..s.field.1),
                    all.slice(s.value.0..s.value.1),
                )
            })
            .collect()
    }

    fn find(&self, field: &[u8]) -> Option<Span> {
        let buf = &self.buf[..];
        self.spans().find(|s| {
            let f = &buf[s.field.0..s.field.1];
            // Short fields are compared inline: a memcmp call per entry cost more than the walk.
            f.len() == field.len()
                && if f.len() <= 16 {
                    f.iter().zip(field).all(|(a, b)| a == b)
                } else {
                    f == field
                }
        })
    }

    pub(super) fn get(&self, field: &[u8]) -> Option<&[u8]> {
        self.find(field).map(|s| &self.buf[s.value.0..s.value.1])
    }

    /// Sets `field` to `value`, in place if it is there, else at the end; true if it is new.
    pub(super) fn insert(&mut self, field: &[u8], value: &[u8]) -> bool {
        let Some(s) = self.find(field) else {
            self.push(field, value);
            return true;
        };
        let (pre, n) = varint_bytes(value.len() as u64);
        let (old, new) = (s.value.1 - s.value_at, n + value.len());
        if new > old {
            self.buf.reserve_exact(new - old);
        }
        self.buf
            .splice(s.value_at..s.value.1, pre[..n].iter().chain(value).copied());
        self.trim();
        false
    }

    /// Adds an entry at the end without looking for `field` (the caller knows it is new).
    pub(super) fn push(&mut self, field: &[u8], value: &[u8]) {
        let (fpre, fl) = varint_bytes(field.len() as u64);
        let (vpre, vn) = varint_bytes(value.len() as u64);
        // Exactly what is needed, as a listpack reallocates: no doubling slack per hash.
        self.buf.reserve_exact(fl + field.len() + vn + value.len());
        self.buf.extend_from_slice(&fpre[..fl]);
        self.buf.extend_from_slice(field);
        self.buf.extend_from_slice(&vpre[..vn]);
        self.buf.extend_from_slice(value);
        self.len += 1;
    }

    /// Removes `field`; the others keep their order. Returns whether it was there.
    pub(super) fn remove(&mut self, field: &[u8]) -> bool {
        match self.find(field) {
            Some(s) => {
                self.buf.drain(s.start..s.value.1);
                self.len -= 1;
                self.trim();
                true
            }
            None => false,
        }
    }

    /// Gives back slack left by removals or shorter values beyond a little.
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

    #[test]
    fn long_lengths_round_trip() {
        let mut p = Packed::default();
        let big = vec![7u8; 300];
        assert!(p.insert(b"", &big));
        assert!(p.insert(&big, b""));
        assert_eq!(p.get(b""), Some(&big[..]));
        assert_eq!(p.get(&big), Some(&b""[..]));
        assert_eq!(p.buf.len(), 1 + 2 + 300 + 2 + 300 + 1);
        assert!(!p.insert(b"", b"x"));
        assert_eq!(p.get(b""), Some(&b"x"[..]));
        assert_eq!(p.iter().count(), 2);
    }

    /// Property test against a plain model: a vector of pairs in insertion order.
    #[test]
    fn randomized_against_model() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(18);
        for _ in 0..50 {
            let mut p = Packed::default();
            let mut m: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
            for _ in 0..400 {
                let rand_str = |rng: &mut rand::rngs::StdRng| -> Vec<u8> {
                    let len = if rng.random_bool(0.05) {
                        rng.random_range(100..300)
                    } else {
                        rng.random_range(0..4)
                    };
                    (0..len).map(|_| b'a' + rng.random_range(0..3u8)).collect()
                };
                let f = rand_str(&mut rng);
                match rng.random_range(0..10) {
                    0..=5 => {
                        let v = rand_str(&mut rng);
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
                        assert_eq!(p.insert(&f, &v), new);
                    }
                    _ => {
                        let at = m.iter().position(|(k, _)| *k == f);
                        if let Some(i) = at {
                            m.remove(i);
                        }
                        assert_eq!(p.remove(&f), at.is_some());
                    }
                }
                assert_eq!(p.len(), m.len());
                let got: Vec<(&[u8], &[u8])> = p.iter().collect();
                let want: Vec<(&[u8], &[u8])> = m.iter().map(|(k, v)| (&k[..], &v[..])).collect();
                assert_eq!(got, want);
                let owned = p.to_bytes();
                assert!(owned
                    .iter()
                    .map(|(k, v)| (&k[..], &v[..]))
                    .eq(want.iter().copied()));
                for (k, v) in &m {
                    assert_eq!(p.get(k), Some(&v[..]));
                }
                assert!(p.buf.capacity() - p.buf.len() <= 64.max(p.buf.len() / 4) + 310);
            }
        }
    }
}
