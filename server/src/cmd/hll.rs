//! Redis's HyperLogLog representation, byte for byte, so that a value moved between respd and
//! redis-server (DUMP/RESTORE, an RDB) counts the same on both: a 16-byte header (`HYLL`, the
//! encoding, three reserved bytes, the cached cardinality little endian with its top bit set when
//! stale), then either 16384 six-bit registers packed LSB first (dense) or ZERO/XZERO/VAL run
//! opcodes (sparse). Elements hash with MurmurHash64A (seed 0xadc83b19): the low 14 bits pick the
//! register, the run of zeros above them (plus one) is its value. The estimate is Ertl's improved
//! estimator, as Redis 7.0 computes it.

/// Header bytes.
pub const HDR: usize = 16;
/// Registers (2^14).
pub const REGISTERS: usize = 1 << 14;
/// Length of a dense value.
pub const DENSE_SIZE: usize = HDR + (REGISTERS * 6).div_ceil(8);
const DENSE: u8 = 0;
const SPARSE: u8 = 1;
const Q: usize = 64 - 14;
const SPARSE_VAL_MAX: u8 = 32;
const SPARSE_VAL_MAX_LEN: usize = 4;
const SPARSE_ZERO_MAX_LEN: usize = 64;

/// A sparse value whose opcodes do not cover exactly the 16384 registers.
#[derive(Debug, PartialEq, Eq)]
pub struct Invalid;

/// Redis's `MurmurHash64A`, endian-neutral (words read little endian).
pub fn murmur64a(key: &[u8], seed: u64) -> u64 {
    const M: u64 = 0xc6a4a7935bd1e995;
    const R: u32 = 47;
    let mut h = seed ^ (key.len() as u64).wrapping_mul(M);
    let mut chunks = key.chunks_exact(8);
    for c in chunks.by_ref() {
        let mut k = u64::from_le_bytes(c.try_into().unwrap_or([0; 8]));
        k = k.wrapping_mul(M);
        k ^= k >> R;
        k = k.wrapping_mul(M);
        h ^= k;
        h = h.wrapping_mul(M);
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        for (i, b) in rest.iter().enumerate() {
            h ^= (*b as u64) << (8 * i);
        }
        h = h.wrapping_mul(M);
    }
    h ^= h >> R;
    h = h.wrapping_mul(M);
    h ^= h >> R;
    h
}

/// The register an element goes to and the value it offers (Redis's `hllPatLen`).
pub fn pat_len(ele: &[u8]) -> (usize, u8) {
    let hash = murmur64a(ele, 0xadc83b19);
    let index = (hash as usize) & (REGISTERS - 1);
    let rest = (hash >> 14) | (1u64 << Q);
    (index, rest.trailing_zeros() as u8 + 1)
}

/// A new, empty HLL: sparse, one XZERO opcode covering every register.
pub fn new_sparse() -> Vec<u8> {
    let mut v = Vec::with_capacity(HDR + 2);
    v.extend_from_slice(b"HYLL");
    v.push(SPARSE);
    v.extend_from_slice(&[0; 11]);
    push_xzero(&mut v, REGISTERS);
    v
}

/// Whether `b` is a HyperLogLog Redis would accept (`isHLLObjectOrReply`).
pub fn is_valid(b: &[u8]) -> bool {
    b.len() >= HDR
        && &b[..4] == b"HYLL"
        && b[4] <= SPARSE
        && (b[4] != DENSE || b.len() == DENSE_SIZE)
}

pub fn is_sparse(b: &[u8]) -> bool {
    b[4] == SPARSE
}

/// The cached cardinality, if still valid.
pub fn cached(b: &[u8]) -> Option<u64> {
    (b[15] & 0x80 == 0).then(|| u64::from_le_bytes(b[8..16].try_into().unwrap_or([0; 8])))
}

pub fn set_cached(b: &mut [u8], card: u64) {
    b[8..16].copy_from_slice(&card.to_le_bytes());
}

pub fn invalidate(b: &mut [u8]) {
    b[15] |= 0x80;
}

fn dense_get(regs: &[u8], i: usize) -> u8 {
    let byte = i * 6 / 8;
    let fb = (i * 6) & 7;
    let b0 = regs[byte] as u16;
    let b1 = regs.get(byte + 1).copied().unwrap_or(0) as u16;
    (((b0 >> fb) | (b1 << (8 - fb))) & 63) as u8
}

fn dense_set(regs: &mut [u8], i: usize, val: u8) {
    let byte = i * 6 / 8;
    let fb = (i * 6) & 7;
    let v = val as u16;
    regs[byte] &= !((63u16 << fb) as u8);
    regs[byte] |= (v << fb) as u8;
    if let Some(b1) = regs.get_mut(byte + 1) {
        *b1 &= !((63u16 >> (8 - fb)) as u8);
        *b1 |= (v >> (8 - fb)) as u8;
    }
}

/// One sparse opcode at `p`: (registers it covers, its value, its length in bytes).
fn opcode(b: &[u8], p: usize) -> (usize, u8, usize) {
    let x = b[p];
    if x & 0xc0 == 0 {
        ((x & 0x3f) as usize + 1, 0, 1)
    } else if x & 0xc0 == 0x40 {
        let lo = b.get(p + 1).copied().unwrap_or(0) as usize;
        (((x as usize & 0x3f) << 8 | lo) + 1, 0, 2)
    } else {
        ((x & 3) as usize + 1, ((x >> 2) & 0x1f) + 1, 1)
    }
}

fn val_op(val: u8, len: usize) -> u8 {
    ((val - 1) << 2) | (len as u8 - 1) | 0x80
}

fn push_xzero(v: &mut Vec<u8>, len: usize) {
    let l = len - 1;
    v.push((l >> 8) as u8 | 0x40);
    v.push((l & 0xff) as u8);
}

fn push_zero_run(v: &mut Vec<u8>, len: usize) {
    if len > SPARSE_ZERO_MAX_LEN {
        push_xzero(v, len);
    } else {
        v.push(len as u8 - 1);
    }
}

/// Calls `f(first register, run length, value)` for each opcode; Err if they do not cover
/// exactly the registers (a VAL run past the end stops the walk, as in Redis).
fn walk_sparse(b: &[u8], mut f: impl FnMut(usize, usize, u8)) -> Result<(), Invalid> {
    let mut p = HDR;
    let mut idx = 0;
    while p < b.len() {
        let (run, val, len) = opcode(b, p);
        if val > 0 && idx + run > REGISTERS {
            break;
        }
        f(idx, run, val);
        idx += run;
        p += len;
    }
    if idx == REGISTERS {
        Ok(())
    } else {
        Err(Invalid)
    }
}

/// Turns a sparse value into a dense one, keeping the header (cached cardinality included).
pub fn to_dense(b: &mut Vec<u8>) -> Result<bool, Invalid> {
    if b[4] == DENSE {
        return Ok(false);
    }
    let mut dense = vec![0u8; DENSE_SIZE];
    dense[..HDR].copy_from_slice(&b[..HDR]);
    dense[4] = DENSE;
    let regs = &mut dense[HDR..];
    walk_sparse(b, |first, run, val| {
        if val > 0 {
            for i in first..first + run {
                dense_set(regs, i, val);
            }
        }
    })?;
    *b = dense;
    Ok(true)
}

/// Raises register `index` to `count` (Redis's `hllDenseSet`/`hllSparseSet`): whether it
/// changed. A sparse value turns dense when `count` needs it or it would grow past `max_sparse`.
pub fn set(b: &mut Vec<u8>, index: usize, count: u8, max_sparse: usize) -> Result<bool, Invalid> {
    if b[4] == DENSE {
        let regs = &mut b[HDR..];
        if count > dense_get(regs, index) {
            dense_set(regs, index, count);
            return Ok(true);
        }
        return Ok(false);
    }
    if count > SPARSE_VAL_MAX {
        return promote(b, index, count);
    }
    // Find the opcode that covers the register.
    let (mut p, mut first, mut prev, mut found) = (HDR, 0, None, None);
    while p < b.len() {
        let (run, val, len) = opcode(b, p);
        if index < first + run {
            found = Some((run, val, len));
            break;
        }
        prev = Some(p);
        p += len;
        first += run;
    }
    let Some((run, val, oplen)) = found else {
        return Err(Invalid);
    };
    let is_val = b[p] & 0x80 != 0;
    if is_val && val >= count {
        return Ok(false);
    }
    if run == 1 && oplen == 1 {
        // A VAL or ZERO of one register becomes our VAL.
        b[p] = val_op(count, 1);
    } else {
        let last = first + run - 1;
        let mut seq = Vec::with_capacity(5);
        if is_val {
            if index != first {
                seq.push(val_op(val, index - first));
            }
            seq.push(val_op(count, 1));
            if index != last {
                seq.push(val_op(val, last - index));
            }
        } else {
            if index != first {
                push_zero_run(&mut seq, index - first);
            }
            seq.push(val_op(count, 1));
            if index != last {
                push_zero_run(&mut seq, last - index);
            }
        }
        let delta = seq.len() as isize - oplen as isize;
        if delta > 0 && b.len() + delta as usize > max_sparse {
            return promote(b, index, count);
        }
        b.splice(p..p + oplen, seq);
    }
    // Merge adjacent VALs of the same value, scanning up to five opcodes from the previous one.
    let mut p = prev.unwrap_or(HDR);
    let mut scan = 5;
    while p < b.len() {
        if scan == 0 {
            break;
        }
        scan -= 1;
        let x = b[p];
        if x & 0xc0 == 0x40 {
            p += 2;
            continue;
        }
        if x & 0xc0 == 0 {
            p += 1;
            continue;
        }
        if p + 1 < b.len() && b[p + 1] & 0x80 != 0 {
            let (l1, v1, _) = opcode(b, p);
            let (l2, v2, _) = opcode(b, p + 1);
            if v1 == v2 && l1 + l2 <= SPARSE_VAL_MAX_LEN {
                b[p + 1] = val_op(v1, l1 + l2);
                b.remove(p);
                continue;
            }
        }
        p += 1;
    }
    invalidate(b);
    Ok(true)
}

fn promote(b: &mut Vec<u8>, index: usize, count: u8) -> Result<bool, Invalid> {
    to_dense(b)?;
    dense_set(&mut b[HDR..], index, count);
    Ok(true)
}

/// Adds one element: whether a register changed.
pub fn add(b: &mut Vec<u8>, ele: &[u8], max_sparse: usize) -> Result<bool, Invalid> {
    let (index, count) = pat_len(ele);
    set(b, index, count, max_sparse)
}

/// Raises `max[i]` to each register of `b` (Redis's `hllMerge`).
pub fn merge_into(max: &mut [u8], b: &[u8]) -> Result<(), Invalid> {
    if b[4] == DENSE {
        let regs = &b[HDR..];
        for (i, m) in max.iter_mut().enumerate().take(REGISTERS) {
            *m = (*m).max(dense_get(regs, i));
        }
        return Ok(());
    }
    walk_sparse(b, |first, run, val| {
        if val > 0 {
            for m in &mut max[first..first + run] {
                *m = (*m).max(val);
            }
        }
    })
}

/// Every register's value (dense or sparse), for PFDEBUG GETREG.
pub fn registers(b: &[u8]) -> Result<Vec<u8>, Invalid> {
    let mut out = vec![0u8; REGISTERS];
    merge_into(&mut out, b)?;
    Ok(out)
}

/// The sparse opcodes as PFDEBUG DECODE prints them.
pub fn decode(b: &[u8]) -> String {
    let mut out = Vec::new();
    let mut p = HDR;
    while p < b.len() {
        let (run, val, len) = opcode(b, p);
        out.push(match (b[p] & 0xc0, val) {
            (0, _) => format!("z:{run}"),
            (0x40, _) => format!("Z:{run}"),
            _ => format!("v:{val},{run}"),
        });
        p += len;
    }
    out.join(" ")
}

fn sigma(mut x: f64) -> f64 {
    if x == 1.0 {
        return f64::INFINITY;
    }
    let mut y = 1.0;
    let mut z = x;
    loop {
        x *= x;
        let prev = z;
        z += x * y;
        y += y;
        if prev == z {
            return z;
        }
    }
}

fn tau(mut x: f64) -> f64 {
    if x == 0.0 || x == 1.0 {
        return 0.0;
    }
    let mut y = 1.0;
    let mut z = 1.0 - x;
    loop {
        x = x.sqrt();
        let prev = z;
        y *= 0.5;
        z -= (1.0 - x) * (1.0 - x) * y;
        if prev == z {
            return z / 3.0;
        }
    }
}

/// The estimate from a register histogram (Ertl's estimator, as Redis's `hllCount`).
fn estimate(histo: &[u32; 64]) -> u64 {
    let m = REGISTERS as f64;
    let mut z = m * tau((m - histo[Q + 1] as f64) / m);
    for j in (1..=Q).rev() {
        z += histo[j] as f64;
        z *= 0.5;
    }
    z += m * sigma(histo[0] as f64 / m);
    // Redis's HLL_ALPHA_INF, 0.5 / ln 2.
    (0.7213475204444817 * m * m / z).round() as u64
}

/// The cardinality of a dense or sparse value.
pub fn count(b: &[u8]) -> Result<u64, Invalid> {
    let mut histo = [0u32; 64];
    if b[4] == DENSE {
        let regs = &b[HDR..];
        for i in 0..REGISTERS {
            histo[dense_get(regs, i) as usize] += 1;
        }
    } else {
        // Redis counts what the opcodes say, even past the end, then checks the total.
        let mut p = HDR;
        let mut idx = 0;
        while p < b.len() {
            let (run, val, len) = opcode(b, p);
            histo[val as usize] += run as u32;
            idx += run;
            p += len;
        }
        if idx != REGISTERS {
            return Err(Invalid);
        }
    }
    Ok(estimate(&histo))
}

/// The cardinality of registers held one a byte (the union PFCOUNT of several keys builds).
pub fn count_raw(regs: &[u8]) -> u64 {
    let mut histo = [0u32; 64];
    for &r in regs {
        histo[(r & 63) as usize] += 1;
    }
    estimate(&histo)
}

/// PFSELFTEST: the dense registers keep what is stored in them, and dense and sparse values
/// agree and stay within the expected error up to ten million elements.
pub fn self_test(seed: u64, max_sparse: usize) -> Result<(), String> {
    let mut rng = seed | 1;
    let mut next = move || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    let mut dense = vec![0u8; DENSE_SIZE];
    dense[..4].copy_from_slice(b"HYLL");
    let mut bytes = vec![0u8; REGISTERS];
    for _ in 0..1000 {
        for (i, b) in bytes.iter_mut().enumerate() {
            *b = (next() & 63) as u8;
            dense_set(&mut dense[HDR..], i, *b);
        }
        for (i, &b) in bytes.iter().enumerate() {
            let got = dense_get(&dense[HDR..], i);
            if got != b {
                return Err(format!(
                    "TESTFAILED Register {i} should be {b} but is {got}"
                ));
            }
        }
    }
    dense[HDR..].fill(0);
    let mut sparse = new_sparse();
    let relerr = 1.04 / (REGISTERS as f64).sqrt();
    let mut checkpoint: u64 = 1;
    let salt = next();
    for j in 1..=10_000_000u64 {
        let ele = (j ^ salt).to_le_bytes();
        let (index, c) = pat_len(&ele);
        let _ = set(&mut dense, index, c, max_sparse);
        let _ = set(&mut sparse, index, c, max_sparse);
        if j != checkpoint {
            continue;
        }
        if (j as usize) < max_sparse / 2 && !is_sparse(&sparse) {
            return Err("TESTFAILED sparse encoding not used".into());
        }
        let (d, s) = (count(&dense), count(&sparse));
        if d != s {
            return Err("TESTFAILED dense/sparse disagree".into());
        }
        let card = d.unwrap_or(0);
        let abserr = (checkpoint as i64 - card as i64).unsigned_abs();
        let maxerr = if j == 10 {
            1
        } else {
            (relerr * 6.0 * checkpoint as f64).ceil() as u64
        };
        if abserr > maxerr {
            return Err(format!(
                "TESTFAILED Too big error. card:{checkpoint} abserr:{abserr}"
            ));
        }
        checkpoint *= 10;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dense_registers_keep_their_values() {
        let mut regs = vec![0u8; DENSE_SIZE - HDR];
        for i in 0..REGISTERS {
            dense_set(&mut regs, i, (i % 64) as u8);
        }
        for i in 0..REGISTERS {
            assert_eq!(dense_get(&regs, i), (i % 64) as u8);
        }
    }

    #[test]
    fn sparse_and_dense_count_alike() {
        let mut s = new_sparse();
        let mut d = new_sparse();
        to_dense(&mut d).unwrap();
        for i in 0..2000u32 {
            let e = i.to_string();
            add(&mut s, e.as_bytes(), 1 << 20).unwrap();
            add(&mut d, e.as_bytes(), 1 << 20).unwrap();
        }
        assert!(is_sparse(&s));
        assert_eq!(count(&s), count(&d));
        let c = count(&d).unwrap();
        assert!((1900..2100).contains(&c), "{c}");
        assert_eq!(registers(&s), registers(&d));
    }

    #[test]
    fn a_corrupt_sparse_value_is_refused() {
        let mut s = new_sparse();
        s.truncate(HDR + 1);
        s.push(0);
        assert_eq!(count(&s), Err(Invalid));
        assert_eq!(to_dense(&mut s), Err(Invalid));
    }
}
