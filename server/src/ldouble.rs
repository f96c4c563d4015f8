//! Redis's INCRBYFLOAT/HINCRBYFLOAT arithmetic, which is x87 `long double` (64-bit mantissa)
//! printed with `%.17Lf`: `0.1 + 0.2` gives "0.3" there, not f64's "0.30000000000000004". This is
//! a small software model of that: exact decimal parsing, one correctly rounded addition, and exact
//! fixed-point printing, on big integers.

use std::cmp::Ordering;

/// An unsigned big integer, little-endian 32-bit limbs.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Big(Vec<u32>);

impl Big {
    fn from_u128(mut v: u128) -> Big {
        let mut l = Vec::new();
        while v > 0 {
            l.push(v as u32);
            v >>= 32;
        }
        Big(l)
    }
    fn trim(&mut self) {
        while self.0.last() == Some(&0) {
            self.0.pop();
        }
    }
    fn is_zero(&self) -> bool {
        self.0.iter().all(|&x| x == 0)
    }
    fn bits(&self) -> u64 {
        match self.0.iter().rposition(|&x| x != 0) {
            None => 0,
            Some(i) => i as u64 * 32 + (32 - self.0[i].leading_zeros() as u64),
        }
    }
    fn bit(&self, i: u64) -> bool {
        let w = (i / 32) as usize;
        w < self.0.len() && (self.0[w] >> (i % 32)) & 1 == 1
    }
    /// Whether any bit below `i` is set.
    fn any_below(&self, i: u64) -> bool {
        let w = (i / 32) as usize;
        self.0.iter().take(w.min(self.0.len())).any(|&x| x != 0)
            || (w < self.0.len() && self.0[w] & ((1u32 << (i % 32)) - 1) != 0)
    }
    fn mul_small(&mut self, m: u32) {
        let mut carry = 0u64;
        for x in self.0.iter_mut() {
            let v = u64::from(*x) * u64::from(m) + carry;
            *x = v as u32;
            carry = v >> 32;
        }
        if carry > 0 {
            self.0.push(carry as u32);
        }
    }
    fn add_small(&mut self, a: u32) {
        let mut carry = u64::from(a);
        for x in self.0.iter_mut() {
            if carry == 0 {
                return;
            }
            let v = u64::from(*x) + carry;
            *x = v as u32;
            carry = v >> 32;
        }
        if carry > 0 {
            self.0.push(carry as u32);
        }
    }
    /// Divides in place by a small number; returns the remainder.
    fn div_small(&mut self, d: u32) -> u32 {
        let mut rem = 0u64;
        for x in self.0.iter_mut().rev() {
            let v = (rem << 32) | u64::from(*x);
            *x = (v / u64::from(d)) as u32;
            rem = v % u64::from(d);
        }
        self.trim();
        rem as u32
    }
    fn shl(&self, n: u64) -> Big {
        let (w, b) = ((n / 32) as usize, n % 32);
        let mut out = vec![0u32; w];
        let mut carry = 0u32;
        for &x in &self.0 {
            out.push((x << b) | carry);
            carry = if b == 0 { 0 } else { x >> (32 - b) };
        }
        out.push(carry);
        let mut r = Big(out);
        r.trim();
        r
    }
    fn shr(&self, n: u64) -> Big {
        let (w, b) = ((n / 32) as usize, n % 32);
        let src = self.0.get(w..).unwrap_or(&[]);
        let mut out = Vec::with_capacity(src.len());
        for i in 0..src.len() {
            let hi = src.get(i + 1).copied().unwrap_or(0);
            out.push(if b == 0 {
                src[i]
            } else {
                (src[i] >> b) | (hi << (32 - b))
            });
        }
        let mut r = Big(out);
        r.trim();
        r
    }
    fn cmp(&self, o: &Big) -> Ordering {
        let (a, b) = (self.bits(), o.bits());
        if a != b {
            return a.cmp(&b);
        }
        for i in (0..self.0.len().max(o.0.len())).rev() {
            let (x, y) = (
                self.0.get(i).copied().unwrap_or(0),
                o.0.get(i).copied().unwrap_or(0),
            );
            if x != y {
                return x.cmp(&y);
            }
        }
        Ordering::Equal
    }
    /// self -= o (self >= o).
    fn sub(&mut self, o: &Big) {
        let mut borrow = 0i64;
        for i in 0..self.0.len() {
            let v = i64::from(self.0[i]) - i64::from(o.0.get(i).copied().unwrap_or(0)) - borrow;
            borrow = i64::from(v < 0);
            self.0[i] = (v + (borrow << 32)) as u32;
        }
        self.trim();
    }
    fn add(&mut self, o: &Big) {
        let mut carry = 0u64;
        for i in 0..self.0.len().max(o.0.len()) {
            if i >= self.0.len() {
                self.0.push(0);
            }
            let v = u64::from(self.0[i]) + u64::from(o.0.get(i).copied().unwrap_or(0)) + carry;
            self.0[i] = v as u32;
            carry = v >> 32;
        }
        if carry > 0 {
            self.0.push(carry as u32);
        }
    }
    fn to_u128(&self) -> u128 {
        self.0
            .iter()
            .take(4)
            .rev()
            .fold(0u128, |acc, &x| (acc << 32) | u128::from(x))
    }
    fn pow10(n: u32) -> Big {
        let mut b = Big(vec![1]);
        for _ in 0..n {
            b.mul_small(10);
        }
        b
    }
    fn to_decimal(&self) -> String {
        let mut t = self.clone();
        let mut chunks = Vec::new();
        while !t.is_zero() {
            chunks.push(t.div_small(1_000_000_000));
        }
        let mut s = chunks.pop().map_or("0".to_string(), |c| c.to_string());
        for c in chunks.iter().rev() {
            s.push_str(&format!("{c:09}"));
        }
        s
    }
}

/// A finite long double: (-1)^neg * m * 2^e, with m having 64 significant bits (or 0).
#[derive(Clone, Copy, Debug)]
struct Ld {
    neg: bool,
    m: u64,
    e: i64,
}

/// Largest binary exponent of a long double (values below 2^16384).
const MAX_EXP: i64 = 16384;

/// Rounds `n * 2^e` to 64 bits, half to even; `sticky` says bits below `n` were lost.
fn round(neg: bool, n: &Big, e: i64, sticky: bool) -> Ld {
    let bits = n.bits();
    if bits <= 64 {
        let m = n.to_u128() as u64;
        let sh = if m == 0 { 0 } else { m.leading_zeros() };
        return Ld {
            neg,
            m: m << sh,
            e: e - i64::from(sh),
        };
    }
    let sh = bits - 64;
    let mut m = n.shr(sh).to_u128() as u64;
    let half = n.bit(sh - 1);
    let rest = sticky || n.any_below(sh - 1);
    let mut e = e + sh as i64;
    if half && (rest || m & 1 == 1) {
        let (v, over) = m.overflowing_add(1);
        m = if over {
            e += 1;
            1 << 63
        } else {
            v
        };
    }
    Ld { neg, m, e }
}

/// Parses a decimal float (as `strtold`); None for infinities or anything unparsable.
fn parse(s: &[u8]) -> Option<Ld> {
    let s = std::str::from_utf8(s).ok()?;
    let (neg, s) = match s.as_bytes().first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    let (mant, exp) = match s.find(['e', 'E']) {
        Some(i) => (&s[..i], s[i + 1..].parse::<i64>().ok()?),
        None => (s, 0),
    };
    let (int, frac) = mant.split_once('.').unwrap_or((mant, ""));
    if int.is_empty() && frac.is_empty() {
        return None;
    }
    let mut d = Big(Vec::new());
    for c in int.bytes().chain(frac.bytes()) {
        if !c.is_ascii_digit() {
            return None;
        }
        d.mul_small(10);
        d.add_small(u32::from(c - b'0'));
    }
    if d.is_zero() {
        return Some(Ld { neg, m: 0, e: 0 });
    }
    let exp = exp.checked_sub(frac.len() as i64)?;
    if exp > 5000 {
        return None;
    }
    if exp < -5500 {
        return Some(Ld { neg, m: 0, e: 0 });
    }
    if exp >= 0 {
        let mut n = d;
        for _ in 0..exp {
            n.mul_small(10);
        }
        return Some(round(neg, &n, 0, false));
    }
    // d / 10^-exp: a 65-66 bit quotient by long division, then rounded with the remainder.
    let p = Big::pow10((-exp) as u32);
    let k = 65 + p.bits() as i64 - d.bits() as i64;
    let (mut num, den) = if k >= 0 {
        (d.shl(k as u64), p)
    } else {
        (d, p.shl((-k) as u64))
    };
    let mut q: u128 = 0;
    for i in (0..67u64).rev() {
        let t = den.shl(i);
        if num.cmp(&t) != Ordering::Less {
            num.sub(&t);
            q |= 1 << i;
        }
    }
    Some(round(neg, &Big::from_u128(q), -k, !num.is_zero()))
}

/// The exactly rounded sum.
fn add(a: Ld, b: Ld) -> Ld {
    if a.m == 0 {
        return b;
    }
    if b.m == 0 {
        return a;
    }
    let e = a.e.min(b.e);
    let x = Big::from_u128(a.m.into()).shl((a.e - e) as u64);
    let y = Big::from_u128(b.m.into()).shl((b.e - e) as u64);
    if a.neg == b.neg {
        let mut s = x;
        s.add(&y);
        return round(a.neg, &s, e, false);
    }
    match x.cmp(&y) {
        Ordering::Equal => Ld {
            neg: false,
            m: 0,
            e: 0,
        },
        Ordering::Greater => {
            let mut s = x;
            s.sub(&y);
            round(a.neg, &s, e, false)
        }
        Ordering::Less => {
            let mut s = y;
            s.sub(&x);
            round(b.neg, &s, e, false)
        }
    }
}

/// `%.17Lf` with trailing zeros (and a bare point) removed, "-0" as "0": Redis's LD_STR_HUMAN.
fn format_human(v: Ld) -> String {
    // |v| * 10^17, rounded half to even (glibc prints the exact binary value rounded).
    let mut t = Big::from_u128(v.m.into());
    for _ in 0..17 {
        t.mul_small(10);
    }
    let scaled = if v.e >= 0 {
        t.shl(v.e as u64)
    } else {
        let sh = (-v.e) as u64;
        let mut q = t.shr(sh);
        let half = t.bit(sh - 1);
        let rest = sh > 1 && t.any_below(sh - 1);
        if half && (rest || q.bit(0)) {
            q.add_small(1);
        }
        q
    };
    let digits = scaled.to_decimal();
    let digits = format!("{digits:0>18}");
    let (ip, fp) = digits.split_at(digits.len() - 17);
    let fp = fp.trim_end_matches('0');
    let mut s = String::new();
    if v.neg {
        s.push('-');
    }
    s.push_str(ip);
    if !fp.is_empty() {
        s.push('.');
        s.push_str(fp);
    }
    if s == "-0" {
        s = "0".into();
    }
    s
}

/// `a + b` as Redis's HINCRBYFLOAT/INCRBYFLOAT compute and store it; None when either operand
/// is not a finite number or the sum overflows.
pub fn add_human(a: &[u8], b: &[u8]) -> Option<String> {
    let (x, y) = (parse(a)?, parse(b)?);
    let s = add(x, y);
    if s.m != 0 && s.e + 64 > MAX_EXP {
        return None;
    }
    Some(format_human(s))
}

#[cfg(test)]
mod tests {
    use super::add_human;

    #[test]
    fn matches_redis() {
        // Replies of redis-server 7.0 (x86_64).
        let cases: &[(&str, &str, &str)] = &[
            ("0.1", "0.2", "0.3"),
            ("1000000.123456789", "0", "1000000.12345678899998802"),
            (
                "1000000.12345678899998802",
                "0.1",
                "1000000.22345678900001076",
            ),
            ("3.0e3", "0", "3000"),
            ("3000", "0.1", "3000.10000000000000009"),
            ("0", "0.3333333333333333333333", "0.33333333333333333"),
            ("0.33333333333333333", "0.1", "0.43333333333333333"),
            ("0", "1e-20", "0"),
            ("0", "12345678901234567890.5", "12345678901234567890"),
            ("10.5", "0.1", "10.6"),
            ("5.0e3", "2.0e2", "5200"),
            ("1", "-1", "0"),
            ("-0.1", "0", "-0.1"),
        ];
        for (a, b, want) in cases {
            assert_eq!(
                add_human(a.as_bytes(), b.as_bytes()).as_deref(),
                Some(*want),
                "{a} + {b}"
            );
        }
        assert!(add_human(b"1e308", b"0")
            .unwrap()
            .starts_with("99999999999999999996685879655845645660560099847415567207797047994921734868838061872100126921888539320446747225054013223152134749593960583597420814430196418767959100019603190778663109604507106667939153395788938914560543563061268364901618630217086589253444881623791300855757318142424510452728255046343928578048"));
    }
}
