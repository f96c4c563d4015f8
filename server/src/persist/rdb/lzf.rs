//! LZF, the compression of RDB strings (Redis's `lzf_c.c` / `lzf_d.c` format).
//!
//! A stream of runs: a control byte below 32 starts `ctrl + 1` literal bytes; otherwise its top
//! three bits are a back-reference's length - 2 (7 means one more length byte follows) and the
//! low five bits with the next byte are the distance - 1, at most 8 KiB back.

const HASH_LOG: u32 = 14;
const MAX_LIT: usize = 32;
const MAX_OFF: usize = 1 << 13;
/// Longest reference: a length byte of 255 on top of the 7 in the control byte, plus 2.
const MAX_REF: usize = 255 + 7 + 2;

fn hash3(p: &[u8]) -> usize {
    let v = (u32::from(p[0]) << 16) | (u32::from(p[1]) << 8) | u32::from(p[2]);
    (v.wrapping_mul(0x9E37_79B1) >> (32 - HASH_LOG)) as usize
}

/// Compresses `input`; None if the result would be longer than `max_out` bytes (Redis then stores
/// the string as it is).
pub fn compress(input: &[u8], max_out: usize) -> Option<Vec<u8>> {
    let n = input.len();
    let mut out = Vec::with_capacity(max_out.min(n / 2 + 16));
    let mut table = vec![0u32; 1 << HASH_LOG];
    let mut lit_start = 0;
    let mut i = 0;
    let flush_lits = |out: &mut Vec<u8>, from: usize, to: usize| {
        for chunk in input[from..to].chunks(MAX_LIT) {
            out.push((chunk.len() - 1) as u8);
            out.extend_from_slice(chunk);
        }
    };
    while i + 2 < n {
        let h = hash3(&input[i..]);
        let cand = table[h] as usize;
        table[h] = (i + 1) as u32;
        if cand != 0 {
            let r = cand - 1;
            let off = i - r - 1;
            if off < MAX_OFF && input[r..r + 3] == input[i..i + 3] {
                let max = (n - i).min(MAX_REF);
                let mut len = 3;
                while len < max && input[r + len] == input[i + len] {
                    len += 1;
                }
                flush_lits(&mut out, lit_start, i);
                let l = len - 2;
                if l < 7 {
                    out.push(((l as u8) << 5) | (off >> 8) as u8);
                } else {
                    out.push((7 << 5) | (off >> 8) as u8);
                    out.push((l - 7) as u8);
                }
                out.push(off as u8);
                i += len;
                lit_start = i;
                if out.len() > max_out {
                    return None;
                }
                continue;
            }
        }
        i += 1;
        if i - lit_start >= 4096 && out.len() + (i - lit_start) > max_out {
            return None;
        }
    }
    flush_lits(&mut out, lit_start, n);
    (out.len() <= max_out).then_some(out)
}

/// Decompresses `input` into exactly `len` bytes; None if it is malformed or of another length.
pub fn decompress(input: &[u8], len: usize) -> Option<Vec<u8>> {
    let mut out: Vec<u8> = Vec::with_capacity(len);
    let mut i = 0;
    while i < input.len() {
        let ctrl = input[i] as usize;
        i += 1;
        if ctrl < 32 {
            let run = ctrl + 1;
            let lit = input.get(i..i + run)?;
            if out.len() + run > len {
                return None;
            }
            out.extend_from_slice(lit);
            i += run;
        } else {
            let mut l = ctrl >> 5;
            if l == 7 {
                l += *input.get(i)? as usize;
                i += 1;
            }
            let l = l + 2;
            let back = ((ctrl & 0x1f) << 8) + *input.get(i)? as usize + 1;
            i += 1;
            if back > out.len() || out.len() + l > len {
                return None;
            }
            let from = out.len() - back;
            // Byte by byte: a reference may overlap the bytes it produces.
            for k in 0..l {
                let b = out[from + k];
                out.push(b);
            }
        }
    }
    (out.len() == len).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        let mut rng = 0x1234_5678_u64;
        let mut next = || {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            rng
        };
        for size in [0usize, 1, 3, 21, 100, 5000, 70_000] {
            for alphabet in [1u64, 4, 256] {
                let data: Vec<u8> = (0..size).map(|_| (next() % alphabet) as u8).collect();
                match compress(&data, data.len().saturating_sub(4)) {
                    Some(c) => assert!(decompress(&c, data.len()).as_deref() == Some(&data[..])),
                    None => assert!(alphabet == 256 || size < 30, "{size} {alphabet}"),
                }
            }
        }
    }

    #[test]
    fn reads_what_redis_wrote() {
        // DUMP of 100 'a' and of "hello world " x 5 from redis-server 7.0.15: their LZF bodies.
        let want = [b'a'; 100];
        assert_eq!(
            decompress(b"\x01aa\xe0W\x00\x01aa", 100).as_deref(),
            Some(&want[..])
        );
        let want = "hello world ".repeat(5);
        let got = decompress(b"\x0chello world h\xe0$\x0b\x01d ", 60);
        assert_eq!(got.as_deref(), Some(want.as_bytes()));
    }

    #[test]
    fn refuses_bad_references_and_lengths() {
        assert_eq!(decompress(b"\x20\x00", 3), None); // a reference before any output
        assert_eq!(decompress(b"\x02ab", 3), None); // literal run past the input
        assert_eq!(decompress(b"\x00a", 2), None); // shorter than declared
        assert_eq!(decompress(b"\x01ab", 1), None); // longer than declared
    }
}
