//! Bitmap commands (SETBIT, GETBIT, BITCOUNT, BITPOS, BITOP, BITFIELD, BITFIELD_RO) on string
//! values. A write changes the string in place through `strings::take_str`, so SETBIT near the
//! end of a 512 MiB value costs the bytes it adds, not a copy of the value.

use super::strings::{grow, take_str};
use super::{eq, int, syntax, wrongtype, CommandSpec, Ctx, Flags, ERR_NOT_INT};
use crate::command;
use crate::keyspace::{StrHint, Value, View};
use crate::resp::Reply;
use crate::state::NotifyClass;
use bytes::Bytes;

const WD: Flags = Flags::WRITE.union(Flags::DENYOOM);
const R: Flags = Flags::READONLY;
const RF: Flags = Flags::READONLY.union(Flags::FAST);
const ACL: &[&str] = &["bitmap"];

/// The bitmap family.
pub static COMMANDS: &[CommandSpec] = &[
    command!(
        "setbit",
        4,
        WD,
        (1, 1, 1),
        "bitmap",
        "2.2.0",
        ACL,
        setbit,
        "Sets or clears the bit at offset in the string value stored at key"
    ),
    command!(
        "getbit",
        3,
        RF,
        (1, 1, 1),
        "bitmap",
        "2.2.0",
        ACL,
        getbit,
        "Returns the bit value at offset in the string value stored at key"
    ),
    command!(
        "bitcount",
        -2,
        R,
        (1, 1, 1),
        "bitmap",
        "2.6.0",
        ACL,
        bitcount,
        "Count set bits in a string"
    ),
    command!(
        "bitpos",
        -3,
        R,
        (1, 1, 1),
        "bitmap",
        "2.8.7",
        ACL,
        bitpos,
        "Find first bit set or clear in a string"
    ),
    command!(
        "bitop",
        -4,
        WD,
        (2, -1, 1),
        "bitmap",
        "2.6.0",
        ACL,
        bitop,
        "Perform bitwise operations between strings"
    ),
    command!(
        "bitfield",
        -2,
        WD,
        (1, 1, 1),
        "bitmap",
        "3.2.0",
        ACL,
        bitfield,
        "Perform arbitrary bitfield integer operations on strings"
    ),
    command!(
        "bitfield_ro",
        -2,
        RF,
        (1, 1, 1),
        "bitmap",
        "6.0.0",
        ACL,
        bitfield_ro,
        "Perform arbitrary bitfield integer operations on strings. Read-only variant of BITFIELD"
    ),
];

const ERR_OFFSET: &str = "ERR bit offset is not an integer or out of range";

/// Redis's `getBitOffsetFromArgument`: a bit offset below `proto-max-bulk-len` bytes; with
/// `hash_bits` a `#N` offset counts in fields of that width.
fn bit_offset(ctx: &Ctx, raw: &[u8], hash_bits: Option<u32>) -> Result<u64, Reply> {
    let err = || Reply::error(ERR_OFFSET);
    let (digits, mul) = match (raw.first(), hash_bits) {
        (Some(b'#'), Some(bits)) => (&raw[1..], bits as i64),
        _ => (raw, 1),
    };
    let n = crate::util::num::parse_i64(digits).ok_or_else(err)?;
    // Redis multiplies without a check; a wrapped product is caught as negative or too large.
    let n = n.wrapping_mul(mul);
    if n < 0 || (n as u64 >> 3) >= ctx.srv.limits().max_bulk {
        return Err(err());
    }
    Ok(n as u64)
}

/// The string at `key` for a read: None if missing, WRONGTYPE for another type.
fn read_str(v: &mut View, key: &[u8]) -> Result<Option<Bytes>, Reply> {
    match v.get(key).map(|e| &e.value) {
        None => Ok(None),
        Some(Value::Str(b)) => Ok(Some(b.clone())),
        Some(_) => Err(wrongtype()),
    }
}

/// Redis's `lookupStringForBitCommand` and what follows it: the string at `key` (created or
/// zero-padded so that byte `max_byte` exists) is handed to `f` in place; `f` says whether it
/// changed it. The key counts as modified when it was created, grew or changed. Returns `f`'s
/// result and whether the key was modified.
fn with_bits<T>(
    v: &mut View,
    key: &Bytes,
    max_byte: usize,
    f: impl FnOnce(&mut [u8]) -> (T, bool),
) -> Result<(T, bool), Reply> {
    let need = max_byte + 1;
    let (mut buf, mut dirty) = match v.peek(key).map(|e| &e.value) {
        None => (vec![0u8; need], true),
        Some(Value::Str(_)) => (take_str(v, key).unwrap_or_default(), false),
        Some(_) => return Err(wrongtype()),
    };
    if buf.len() < need {
        grow(&mut buf, need);
        buf.resize(need, 0);
        dirty = true;
    }
    let (out, changed) = f(&mut buf);
    let modified = dirty || changed;
    if modified {
        v.set_keep_ttl(key, Value::Str(Bytes::from(buf)));
    } else if let Some(e) = v.get_mut_quiet(key) {
        // Unchanged: put the bytes back without telling WATCHers, as Redis.
        e.value = Value::Str(Bytes::from(buf));
    }
    // Redis unshares the value into a raw string even when no bit changes.
    v.set_str_hint(key, StrHint::Raw);
    Ok((out, modified))
}

fn setbit(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    let off = match bit_offset(ctx, &a[2], None) {
        Ok(o) => o,
        Err(e) => return e,
    };
    let on = match crate::util::num::parse_i64(&a[3]) {
        Some(b @ (0 | 1)) => b as u8,
        _ => return Reply::error("ERR bit is not an integer or out of range"),
    };
    let byte = (off >> 3) as usize;
    let shift = 7 - (off & 7) as u32;
    let key = a[1].clone();
    let r = ctx.with_key(&key, |v| {
        with_bits(v, &key, byte, |buf| {
            let old = (buf[byte] >> shift) & 1;
            buf[byte] = (buf[byte] & !(1 << shift)) | (on << shift);
            (old, old != on)
        })
    });
    match r {
        Ok((old, modified)) => {
            if modified {
                ctx.notify(NotifyClass::String, "setbit", &key);
            }
            Reply::Int(old as i64)
        }
        Err(e) => e,
    }
}

fn getbit(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    let off = match bit_offset(ctx, &a[2], None) {
        Ok(o) => o,
        Err(e) => return e,
    };
    match ctx.with_key(&a[1], |v| read_str(v, &a[1])) {
        Ok(Some(b)) => {
            let byte = (off >> 3) as usize;
            let bit = b.get(byte).map_or(0, |x| (x >> (7 - (off & 7))) & 1);
            Reply::Int(bit as i64)
        }
        Ok(None) => Reply::Int(0),
        Err(e) => e,
    }
}

/// A BITCOUNT/BITPOS range after Redis's index arithmetic: whole bytes `start..=end`, and the
/// bits of the first and last byte that lie outside a BIT range.
struct Range {
    start: i64,
    end: i64,
    first_mask: u8,
    last_mask: u8,
}

/// Redis's conversion of `start`/`end` (negative from the end, clamped) in bytes or bits.
fn range(len: usize, mut start: i64, mut end: i64, bits: bool) -> Range {
    let mut total = len as i64;
    if bits {
        total <<= 3;
    }
    if start < 0 {
        start += total;
    }
    if end < 0 {
        end += total;
    }
    start = start.max(0);
    end = end.max(0);
    if end >= total {
        end = total - 1;
    }
    let (mut first_mask, mut last_mask) = (0u8, 0u8);
    if bits && start <= end {
        first_mask = !((1u16 << (8 - (start & 7))) - 1) as u8;
        last_mask = ((1u16 << (7 - (end & 7))) - 1) as u8;
        start >>= 3;
        end >>= 3;
    }
    Range {
        start,
        end,
        first_mask,
        last_mask,
    }
}

fn popcount(b: &[u8]) -> u64 {
    let mut chunks = b.chunks_exact(8);
    let mut n: u64 = chunks
        .by_ref()
        .map(|c| u64::from_ne_bytes(c.try_into().unwrap_or([0; 8])).count_ones() as u64)
        .sum();
    n += chunks
        .remainder()
        .iter()
        .map(|x| x.count_ones() as u64)
        .sum::<u64>();
    n
}

/// BIT or BYTE, Redis's syntax error otherwise.
fn unit(arg: Option<&Bytes>) -> Result<bool, Reply> {
    match arg {
        None => Ok(false),
        Some(u) if eq(u, "bit") => Ok(true),
        Some(u) if eq(u, "byte") => Ok(false),
        Some(_) => Err(syntax()),
    }
}

fn bitcount(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    // Redis looks the key up before it reads the range: a missing key is 0 whatever follows.
    let s = match ctx.with_key(&a[1], |v| read_str(v, &a[1])) {
        Ok(Some(s)) => s,
        Ok(None) => return Reply::Int(0),
        Err(e) => return e,
    };
    let r = match a.len() {
        2 => range(s.len(), 0, -1, false),
        4 | 5 => {
            let (start, end) = match (int(&a[2]), int(&a[3])) {
                (Ok(x), Ok(y)) => (x, y),
                (Err(e), _) | (_, Err(e)) => return e,
            };
            if start < 0 && end < 0 && start > end {
                return Reply::Int(0);
            }
            match unit(a.get(4)) {
                Ok(bits) => range(s.len(), start, end, bits),
                Err(e) => return e,
            }
        }
        _ => return syntax(),
    };
    if r.start > r.end {
        return Reply::Int(0);
    }
    let (start, end) = (r.start as usize, r.end as usize);
    let mut n = popcount(&s[start..=end]);
    n -= (s[start] & r.first_mask).count_ones() as u64;
    n -= (s[end] & r.last_mask).count_ones() as u64;
    Reply::Int(n as i64)
}

fn bitpos(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    let bit = match int(&a[2]) {
        Ok(b @ (0 | 1)) => b as u8,
        Ok(_) => return Reply::error("ERR The bit argument must be 1 or 0."),
        Err(e) => return e,
    };
    let s = match ctx.with_key(&a[1], |v| read_str(v, &a[1])) {
        Ok(Some(s)) => s,
        Ok(None) => return Reply::Int(if bit == 1 { -1 } else { 0 }),
        Err(e) => return e,
    };
    let mut end_given = false;
    let r = match a.len() {
        3 => range(s.len(), 0, -1, false),
        4..=6 => {
            let start = match int(&a[3]) {
                Ok(x) => x,
                Err(e) => return e,
            };
            let bits = match unit(a.get(5)) {
                Ok(b) => b,
                Err(e) => return e,
            };
            let end = match a.get(4) {
                Some(e) => {
                    end_given = true;
                    match int(e) {
                        Ok(x) => x,
                        Err(e) => return e,
                    }
                }
                None => -1,
            };
            range(s.len(), start, end, bits)
        }
        _ => return syntax(),
    };
    if r.start > r.end {
        return Reply::Int(-1);
    }
    let (start, end) = (r.start as usize, r.end as usize);
    for (i, &byte) in s[start..=end].iter().enumerate() {
        let idx = start + i;
        // Bits outside the range read as the opposite of what is looked for.
        let mut mask = 0u8;
        if idx == start {
            mask |= r.first_mask;
        }
        if idx == end {
            mask |= r.last_mask;
        }
        let x = if bit == 1 { byte & !mask } else { byte | mask };
        let x = if bit == 1 { x } else { !x };
        if x != 0 {
            return Reply::Int((idx as i64) * 8 + x.leading_zeros() as i64);
        }
    }
    // Not found. Looking for a clear bit with no end given, the string reads as padded with
    // zeros: the first bit past it.
    if bit == 0 && !end_given {
        return Reply::Int((end as i64 + 1) * 8);
    }
    Reply::Int(-1)
}

#[derive(Clone, Copy, PartialEq)]
enum Op {
    And,
    Or,
    Xor,
    Not,
}

fn bitop(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    let op = if eq(&a[1], "and") {
        Op::And
    } else if eq(&a[1], "or") {
        Op::Or
    } else if eq(&a[1], "xor") {
        Op::Xor
    } else if eq(&a[1], "not") {
        Op::Not
    } else {
        return syntax();
    };
    if op == Op::Not && a.len() != 4 {
        return Reply::error("ERR BITOP NOT must be called with a single source key.");
    }
    let dest = a[2].clone();
    let r = ctx.with_keys(&a[2..], |v| {
        let mut srcs = Vec::with_capacity(a.len() - 3);
        for k in &a[3..] {
            srcs.push(read_str(v, k)?.unwrap_or_default());
        }
        let max = srcs.iter().map(Bytes::len).max().unwrap_or(0);
        if max == 0 {
            return Ok((0, v.delete(&dest)));
        }
        let mut out = vec![0u8; max];
        out[..srcs[0].len()].copy_from_slice(&srcs[0]);
        match op {
            Op::Not => out.iter_mut().for_each(|b| *b = !*b),
            Op::And => {
                for s in &srcs[1..] {
                    for (i, o) in out.iter_mut().enumerate() {
                        *o &= s.get(i).copied().unwrap_or(0);
                    }
                }
            }
            Op::Or | Op::Xor => {
                for s in &srcs[1..] {
                    for (o, x) in out.iter_mut().zip(s.iter()) {
                        if op == Op::Or {
                            *o |= x;
                        } else {
                            *o ^= x;
                        }
                    }
                }
            }
        }
        v.set(&dest, Value::Str(Bytes::from(out)), None);
        v.set_str_hint(&dest, StrHint::Raw);
        Ok::<_, Reply>((max, true))
    });
    match r {
        Ok((n, changed)) => {
            if n > 0 {
                ctx.notify(NotifyClass::String, "set", &dest);
            } else if changed {
                ctx.notify(NotifyClass::Generic, "del", &dest);
            }
            Reply::Int(n as i64)
        }
        Err(e) => e,
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Overflow {
    Wrap,
    Sat,
    Fail,
}

#[derive(Clone, Copy, PartialEq)]
enum FieldOp {
    Get,
    Set,
    Incrby,
}

struct Field {
    op: FieldOp,
    signed: bool,
    bits: u32,
    offset: u64,
    arg: i64,
    overflow: Overflow,
}

const ERR_TYPE: &str =
    "ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is.";

/// `i1`..`i64`, `u1`..`u63`.
fn field_type(raw: &[u8]) -> Result<(bool, u32), Reply> {
    let err = || Reply::error(ERR_TYPE);
    let signed = match raw.first() {
        Some(b'i') => true,
        Some(b'u') => false,
        _ => return Err(err()),
    };
    let bits = crate::util::num::parse_i64(&raw[1..]).ok_or_else(err)?;
    if bits < 1 || bits > if signed { 64 } else { 63 } {
        return Err(err());
    }
    Ok((signed, bits as u32))
}

fn parse_fields(ctx: &Ctx, a: &[Bytes]) -> Result<Vec<Field>, Reply> {
    let mut ops = Vec::new();
    let mut overflow = Overflow::Wrap;
    let mut j = 2;
    while j < a.len() {
        let rem = a.len() - j - 1;
        let op = if eq(&a[j], "get") && rem >= 2 {
            FieldOp::Get
        } else if eq(&a[j], "set") && rem >= 3 {
            FieldOp::Set
        } else if eq(&a[j], "incrby") && rem >= 3 {
            FieldOp::Incrby
        } else if eq(&a[j], "overflow") && rem >= 1 {
            let t = &a[j + 1];
            overflow = if eq(t, "wrap") {
                Overflow::Wrap
            } else if eq(t, "sat") {
                Overflow::Sat
            } else if eq(t, "fail") {
                Overflow::Fail
            } else {
                return Err(Reply::error("ERR Invalid OVERFLOW type specified"));
            };
            j += 2;
            continue;
        } else {
            return Err(syntax());
        };
        let (signed, bits) = field_type(&a[j + 1])?;
        let offset = bit_offset(ctx, &a[j + 2], Some(bits))?;
        let arg = if op == FieldOp::Get {
            0
        } else {
            crate::util::num::parse_i64(&a[j + 3]).ok_or(Reply::error(ERR_NOT_INT))?
        };
        ops.push(Field {
            op,
            signed,
            bits,
            offset,
            arg,
            overflow,
        });
        j += if op == FieldOp::Get { 3 } else { 4 };
    }
    Ok(ops)
}

fn get_unsigned(p: &[u8], mut offset: u64, bits: u32) -> u64 {
    let mut v = 0u64;
    for _ in 0..bits {
        let byte = p.get((offset >> 3) as usize).copied().unwrap_or(0);
        v = (v << 1) | ((byte >> (7 - (offset & 7))) & 1) as u64;
        offset += 1;
    }
    v
}

fn get_signed(p: &[u8], offset: u64, bits: u32) -> i64 {
    let v = get_unsigned(p, offset, bits) as i64;
    if bits < 64 && v & (1i64 << (bits - 1)) != 0 {
        v | (-1i64 << bits)
    } else {
        v
    }
}

fn set_unsigned(p: &mut [u8], mut offset: u64, bits: u32, value: u64) {
    for j in 0..bits {
        let bit = ((value >> (bits - 1 - j)) & 1) as u8;
        let byte = (offset >> 3) as usize;
        let shift = 7 - (offset & 7);
        p[byte] = (p[byte] & !(1 << shift)) | (bit << shift);
        offset += 1;
    }
}

/// Redis's `checkUnsignedBitfieldOverflow`: Some(value to store) when `value + incr` does not
/// fit `bits` (wrapped or saturated; FAIL stores nothing), None when it fits.
fn unsigned_overflow(value: u64, incr: i64, bits: u32, ow: Overflow) -> Option<u64> {
    let max = (1u64 << bits) - 1;
    let maxincr = max.wrapping_sub(value) as i64;
    let minincr = (value as i64).wrapping_neg();
    let wrap = || value.wrapping_add(incr as u64) & max;
    if value > max || (incr > 0 && incr > maxincr) {
        Some(if ow == Overflow::Sat { max } else { wrap() })
    } else if incr < 0 && incr < minincr {
        Some(if ow == Overflow::Sat { 0 } else { wrap() })
    } else {
        None
    }
}

/// Redis's `checkSignedBitfieldOverflow`, as [`unsigned_overflow`].
fn signed_overflow(value: i64, incr: i64, bits: u32, ow: Overflow) -> Option<i64> {
    let max = if bits == 64 {
        i64::MAX
    } else {
        (1i64 << (bits - 1)) - 1
    };
    let min = -max - 1;
    let maxincr = (max as u64).wrapping_sub(value as u64) as i64;
    let minincr = min.wrapping_sub(value);
    let wrap = || {
        let c = (value as u64).wrapping_add(incr as u64);
        if bits < 64 {
            let mask = u64::MAX << bits;
            if c & (1u64 << (bits - 1)) != 0 {
                (c | mask) as i64
            } else {
                (c & !mask) as i64
            }
        } else {
            c as i64
        }
    };
    if value > max || (bits != 64 && incr > maxincr) || (value >= 0 && incr > 0 && incr > maxincr) {
        Some(if ow == Overflow::Sat { max } else { wrap() })
    } else if value < min
        || (bits != 64 && incr < minincr)
        || (value < 0 && incr < 0 && incr < minincr)
    {
        Some(if ow == Overflow::Sat { min } else { wrap() })
    } else {
        None
    }
}

/// Runs one SET or INCRBY on `p`: the reply (nil when FAIL refused it) and whether bits changed.
fn apply_field(p: &mut [u8], f: &Field) -> (Reply, bool) {
    if f.signed {
        let old = get_signed(p, f.offset, f.bits);
        let (new, ovf, ret_new) = match f.op {
            FieldOp::Incrby => {
                let o = signed_overflow(old, f.arg, f.bits, f.overflow);
                (o.unwrap_or(old.wrapping_add(f.arg)), o.is_some(), true)
            }
            _ => {
                let o = signed_overflow(f.arg, 0, f.bits, f.overflow);
                (o.unwrap_or(f.arg), o.is_some(), false)
            }
        };
        if ovf && f.overflow == Overflow::Fail {
            return (Reply::Nil, false);
        }
        set_unsigned(p, f.offset, f.bits, new as u64);
        (Reply::Int(if ret_new { new } else { old }), old != new)
    } else {
        let old = get_unsigned(p, f.offset, f.bits);
        let (new, ovf, ret_new) = match f.op {
            FieldOp::Incrby => {
                let o = unsigned_overflow(old, f.arg, f.bits, f.overflow);
                (
                    o.unwrap_or(old.wrapping_add(f.arg as u64)),
                    o.is_some(),
                    true,
                )
            }
            _ => {
                let o = unsigned_overflow(f.arg as u64, 0, f.bits, f.overflow);
                (o.unwrap_or(f.arg as u64), o.is_some(), false)
            }
        };
        if ovf && f.overflow == Overflow::Fail {
            return (Reply::Nil, false);
        }
        set_unsigned(p, f.offset, f.bits, new);
        (
            Reply::Int(if ret_new { new as i64 } else { old as i64 }),
            old != new,
        )
    }
}

fn get_field(p: &[u8], f: &Field) -> Reply {
    if f.signed {
        Reply::Int(get_signed(p, f.offset, f.bits))
    } else {
        Reply::Int(get_unsigned(p, f.offset, f.bits) as i64)
    }
}

fn bitfield_common(ctx: &mut Ctx, a: &[Bytes], ro: bool) -> Reply {
    let ops = match parse_fields(ctx, a) {
        Ok(o) => o,
        Err(e) => return e,
    };
    let key = a[1].clone();
    let readonly = ops.iter().all(|f| f.op == FieldOp::Get);
    if readonly {
        let s = match ctx.with_key(&key, |v| read_str(v, &key)) {
            Ok(s) => s.unwrap_or_default(),
            Err(e) => return e,
        };
        return Reply::Array(ops.iter().map(|f| get_field(&s, f)).collect());
    }
    if ro {
        return Reply::error("ERR BITFIELD_RO only supports the GET subcommand");
    }
    let highest = ops
        .iter()
        .filter(|f| f.op != FieldOp::Get)
        .map(|f| f.offset + f.bits as u64 - 1)
        .max()
        .unwrap_or(0);
    let r = ctx.with_key(&key, |v| {
        // Redis's `dirty` (created or grown) makes every write count as a change.
        let grows = match v.peek(&key).map(|e| &e.value) {
            Some(Value::Str(b)) => b.len() <= (highest >> 3) as usize,
            _ => true,
        };
        with_bits(v, &key, (highest >> 3) as usize, |p| {
            let mut changes = 0;
            let replies: Vec<Reply> = ops
                .iter()
                .map(|f| {
                    if f.op == FieldOp::Get {
                        return get_field(p, f);
                    }
                    let (r, changed) = apply_field(p, f);
                    if changed || (grows && !matches!(r, Reply::Nil)) {
                        changes += 1;
                    }
                    r
                })
                .collect();
            ((replies, changes > 0), changes > 0)
        })
    });
    match r {
        Ok(((replies, changed), _)) => {
            // Redis notifies only when a write counted as a change (a key created or grown
            // whose every write FAIL refused is padded silently).
            if changed {
                ctx.notify(NotifyClass::String, "setbit", &key);
            }
            Reply::Array(replies)
        }
        Err(e) => e,
    }
}

fn bitfield(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    bitfield_common(ctx, a, false)
}

fn bitfield_ro(ctx: &mut Ctx, a: &[Bytes]) -> Reply {
    bitfield_common(ctx, a, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overflow_as_redis() {
        assert_eq!(unsigned_overflow(255, 1, 8, Overflow::Wrap), Some(0));
        assert_eq!(unsigned_overflow(255, 1, 8, Overflow::Sat), Some(255));
        assert_eq!(unsigned_overflow(0, -1, 8, Overflow::Sat), Some(0));
        assert_eq!(unsigned_overflow(0, -1, 8, Overflow::Wrap), Some(255));
        assert_eq!(unsigned_overflow(3, 4, 8, Overflow::Wrap), None);
        assert_eq!(signed_overflow(127, 1, 8, Overflow::Wrap), Some(-128));
        assert_eq!(signed_overflow(-128, -1, 8, Overflow::Sat), Some(-128));
        assert_eq!(
            signed_overflow(i64::MAX, 1, 64, Overflow::Wrap),
            Some(i64::MIN)
        );
        assert_eq!(signed_overflow(5, -3, 8, Overflow::Wrap), None);
    }

    #[test]
    fn fields_round_trip() {
        let mut p = vec![0u8; 16];
        set_unsigned(&mut p, 3, 13, 0x1abc);
        assert_eq!(get_unsigned(&p, 3, 13), 0x1abc);
        set_unsigned(&mut p, 20, 64, (-5i64) as u64);
        assert_eq!(get_signed(&p, 20, 64), -5);
        set_unsigned(&mut p, 90, 5, 0b10011);
        assert_eq!(get_signed(&p, 90, 5), -13);
    }
}
