//! The packed encodings Redis stores as one RDB string: ziplist, listpack, intset and zipmap.
//! Each parser reads the whole blob with every length checked against what is left of it, and
//! returns the elements (integers as their decimal text) or what was wrong.

use bytes::{BufMut, Bytes};

/// What a malformed blob got wrong.
pub type BlobResult<T> = Result<T, &'static str>;

fn int_text(v: i64) -> Bytes {
    Bytes::from(v.to_string())
}

/// A bounds-checked cursor over a blob.
struct Cur<'a> {
    b: &'a [u8],
    at: usize,
}

impl<'a> Cur<'a> {
    fn take(&mut self, n: usize) -> BlobResult<&'a [u8]> {
        let end = self.at.checked_add(n).ok_or("length overflow")?;
        let s = self.b.get(self.at..end).ok_or("entry runs past the end")?;
        self.at = end;
        Ok(s)
    }
    fn u8(&mut self) -> BlobResult<u8> {
        Ok(self.take(1)?[0])
    }
    fn le(&mut self, n: usize) -> BlobResult<u64> {
        let s = self.take(n)?;
        Ok(s.iter().rev().fold(0u64, |a, &x| (a << 8) | u64::from(x)))
    }
    /// A little-endian signed integer of `n` bytes.
    fn sle(&mut self, n: usize) -> BlobResult<i64> {
        let v = self.le(n)?;
        let shift = 64 - 8 * n as u32;
        Ok(((v << shift) as i64) >> shift)
    }
}

/// A ziplist's elements (Redis 6's encoding of small lists, hashes and sorted sets).
pub fn ziplist(b: &[u8]) -> BlobResult<Vec<Bytes>> {
    let mut c = Cur { b, at: 0 };
    let total = c.le(4)? as usize;
    if total != b.len() {
        return Err("ziplist size differs from its header");
    }
    let _tail = c.le(4)?;
    let _count = c.le(2)?;
    let mut out = Vec::new();
    loop {
        let first = *b.get(c.at).ok_or("ziplist without its end marker")?;
        if first == 0xff {
            c.at += 1;
            break;
        }
        if c.u8()? == 0xfe {
            c.take(4)?;
        }
        let enc = c.u8()?;
        let v = match enc >> 6 {
            0 => Bytes::copy_from_slice(c.take(usize::from(enc & 0x3f))?),
            1 => {
                let n = (usize::from(enc & 0x3f) << 8) | usize::from(c.u8()?);
                Bytes::copy_from_slice(c.take(n)?)
            }
            2 => {
                if enc != 0x80 {
                    return Err("bad ziplist string encoding");
                }
                let s = c.take(4)?;
                let n = u32::from_be_bytes([s[0], s[1], s[2], s[3]]) as usize;
                Bytes::copy_from_slice(c.take(n)?)
            }
            _ => int_text(match enc {
                0xc0 => c.sle(2)?,
                0xd0 => c.sle(4)?,
                0xe0 => c.sle(8)?,
                0xf0 => c.sle(3)?,
                0xfe => c.sle(1)?,
                0xf1..=0xfd => i64::from(enc & 0x0f) - 1,
                _ => return Err("bad ziplist integer encoding"),
            }),
        };
        out.push(v);
    }
    if c.at != b.len() {
        return Err("bytes after the ziplist's end marker");
    }
    Ok(out)
}

/// A listpack's elements (Redis 7's encoding of small lists, hashes, sorted sets and stream nodes).
pub fn listpack(b: &[u8]) -> BlobResult<Vec<Bytes>> {
    let mut c = Cur { b, at: 0 };
    let total = c.le(4)? as usize;
    if total != b.len() {
        return Err("listpack size differs from its header");
    }
    let count = c.le(2)? as usize;
    let mut out = Vec::new();
    loop {
        let start = c.at;
        let enc = c.u8()?;
        if enc == 0xff {
            break;
        }
        let v = if enc & 0x80 == 0 {
            int_text(i64::from(enc))
        } else if enc & 0xc0 == 0x80 {
            Bytes::copy_from_slice(c.take(usize::from(enc & 0x3f))?)
        } else if enc & 0xe0 == 0xc0 {
            let v = (u64::from(enc & 0x1f) << 8) | u64::from(c.u8()?);
            // 13-bit two's complement.
            int_text(((v << 51) as i64) >> 51)
        } else if enc & 0xf0 == 0xe0 {
            let n = (usize::from(enc & 0x0f) << 8) | usize::from(c.u8()?);
            Bytes::copy_from_slice(c.take(n)?)
        } else {
            match enc {
                0xf0 => {
                    let n = c.le(4)? as usize;
                    Bytes::copy_from_slice(c.take(n)?)
                }
                0xf1 => int_text(c.sle(2)?),
                0xf2 => int_text(c.sle(3)?),
                0xf3 => int_text(c.sle(4)?),
                0xf4 => int_text(c.sle(8)?),
                _ => return Err("bad listpack encoding"),
            }
        };
        let l = c.at - start;
        c.take(backlen_bytes(l))?;
        out.push(v);
    }
    if c.at != b.len() {
        return Err("bytes after the listpack's end marker");
    }
    if count != 0xffff && count != out.len() {
        return Err("listpack count differs from its entries");
    }
    Ok(out)
}

/// An intset's members.
pub fn intset(b: &[u8]) -> BlobResult<Vec<Bytes>> {
    let mut c = Cur { b, at: 0 };
    let width = c.le(4)? as usize;
    if !matches!(width, 2 | 4 | 8) {
        return Err("bad intset encoding");
    }
    let n = c.le(4)? as usize;
    if n.checked_mul(width) != Some(b.len() - 8) {
        return Err("intset size differs from its header");
    }
    (0..n).map(|_| c.sle(width).map(int_text)).collect()
}

/// A zipmap's fields and values, alternating (Redis 2.x's small hashes).
pub fn zipmap(b: &[u8]) -> BlobResult<Vec<Bytes>> {
    let mut c = Cur { b, at: 0 };
    c.u8()?; // The count, unreliable past 253: the end marker is what counts.
    let mut out = Vec::new();
    loop {
        let l = c.u8()?;
        if l == 0xff {
            break;
        }
        let len = |c: &mut Cur, l: u8| -> BlobResult<usize> {
            match l {
                0..=253 => Ok(usize::from(l)),
                254 => Ok(c.le(4)? as usize),
                _ => Err("zipmap entry without a value"),
            }
        };
        let klen = len(&mut c, l)?;
        out.push(Bytes::copy_from_slice(c.take(klen)?));
        let l = c.u8()?;
        let vlen = len(&mut c, l)?;
        let free = usize::from(c.u8()?);
        out.push(Bytes::copy_from_slice(c.take(vlen)?));
        c.take(free)?;
    }
    if c.at != b.len() {
        return Err("bytes after the zipmap's end marker");
    }
    Ok(out)
}

/// Builds a listpack of `items` (stream nodes): integers that fit in 64 bits as integers, as
/// Redis's `lpAppend` stores them, everything else as strings.
pub fn build_listpack(items: &[LpItem<'_>]) -> Vec<u8> {
    let mut out = vec![0u8; 6];
    for it in items {
        let start = out.len();
        match *it {
            LpItem::Int(v) => put_int(&mut out, v),
            LpItem::Str(s) => match std::str::from_utf8(s).ok().and_then(canonical_int) {
                Some(v) => put_int(&mut out, v),
                None => put_str(&mut out, s),
            },
        }
        let l = out.len() - start;
        put_backlen(&mut out, l);
    }
    out.push(0xff);
    let total = out.len() as u32;
    out[..4].copy_from_slice(&total.to_le_bytes());
    let n = items.len().min(0xffff) as u16;
    out[4..6].copy_from_slice(&n.to_le_bytes());
    out
}

/// One element to put in a listpack.
#[derive(Clone, Copy)]
pub enum LpItem<'a> {
    Int(i64),
    Str(&'a [u8]),
}

/// The value of `s` if Redis's `string2ll` takes it (canonical decimal, no sign on zero).
fn canonical_int(s: &str) -> Option<i64> {
    if s.is_empty() || s.len() > 20 {
        return None;
    }
    let v: i64 = s.parse().ok()?;
    (v.to_string() == s).then_some(v)
}

fn put_int(out: &mut Vec<u8>, v: i64) {
    if (0..=127).contains(&v) {
        out.push(v as u8);
    } else if (-4096..=4095).contains(&v) {
        let u = (v as u64) & 0x1fff;
        out.push(0xc0 | (u >> 8) as u8);
        out.push(u as u8);
    } else if i16::try_from(v).is_ok() {
        out.push(0xf1);
        out.put_i16_le(v as i16);
    } else if (-(1 << 23)..(1 << 23)).contains(&v) {
        out.push(0xf2);
        out.extend_from_slice(&(v as i32).to_le_bytes()[..3]);
    } else if i32::try_from(v).is_ok() {
        out.push(0xf3);
        out.put_i32_le(v as i32);
    } else {
        out.push(0xf4);
        out.put_i64_le(v);
    }
}

fn put_str(out: &mut Vec<u8>, s: &[u8]) {
    let n = s.len();
    if n < 64 {
        out.push(0x80 | n as u8);
    } else if n < 4096 {
        out.push(0xe0 | (n >> 8) as u8);
        out.push(n as u8);
    } else {
        out.push(0xf0);
        out.put_u32_le(n as u32);
    }
    out.extend_from_slice(s);
}

/// How many bytes the backwards length of an entry of `l` bytes takes (7 bits a byte).
fn backlen_bytes(l: usize) -> usize {
    match l {
        0..=127 => 1,
        128..=16382 => 2,
        16383..=2_097_150 => 3,
        2_097_151..=268_435_454 => 4,
        _ => 5,
    }
}

/// The entry's length, readable backwards (Redis's `lpEncodeBacklen`): 7 bits per byte, most
/// significant first; every byte but the first has its top bit set, so a reader going backwards
/// knows when it has read the last one.
fn put_backlen(out: &mut Vec<u8>, l: usize) {
    let bytes = backlen_bytes(l);
    for i in (0..bytes).rev() {
        let g = ((l >> (7 * i)) & 0x7f) as u8;
        out.push(if i == bytes - 1 { g } else { g | 0x80 });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(v: &[Bytes]) -> Vec<String> {
        v.iter()
            .map(|b| String::from_utf8_lossy(b).into_owned())
            .collect()
    }

    #[test]
    fn listpack_round_trip_of_every_width() {
        let long = vec![b'x'; 5000];
        let mid = vec![b'y'; 300];
        let ints = [
            0i64,
            127,
            128,
            -1,
            4095,
            -4096,
            4096,
            32767,
            -32768,
            1 << 20,
            -(1 << 23),
            1 << 30,
            i64::MIN,
            i64::MAX,
        ];
        let mut items: Vec<LpItem> = ints.iter().map(|&v| LpItem::Int(v)).collect();
        items.extend([
            LpItem::Str(b"abc"),
            LpItem::Str(&mid),
            LpItem::Str(&long),
            LpItem::Str(b"007"),
            LpItem::Str(b"-0"),
        ]);
        let lp = build_listpack(&items);
        let got = texts(&listpack(&lp).expect("parses"));
        let mut want: Vec<String> = ints.iter().map(|v| v.to_string()).collect();
        want.extend([
            "abc".to_string(),
            "y".repeat(300),
            "x".repeat(5000),
            "007".into(),
            "-0".into(),
        ]);
        assert_eq!(got, want);
    }

    #[test]
    fn truncated_blobs_are_errors_not_panics() {
        let lp = build_listpack(&[LpItem::Str(b"hello"), LpItem::Int(300)]);
        for cut in 0..lp.len() {
            assert!(listpack(&lp[..cut]).is_err());
            let _ = ziplist(&lp[..cut]);
            let _ = intset(&lp[..cut]);
            let _ = zipmap(&lp[..cut]);
        }
    }

    #[test]
    fn intset_widths() {
        let mut b = vec![4, 0, 0, 0, 2, 0, 0, 0];
        b.extend_from_slice(&(-5i32).to_le_bytes());
        b.extend_from_slice(&70000i32.to_le_bytes());
        assert_eq!(texts(&intset(&b).expect("parses")), ["-5", "70000"]);
        assert!(intset(&b[..11]).is_err());
    }
}
