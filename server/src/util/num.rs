//! Number readers with Redis's rules: `string2ll` for integers, C's `strtod` for doubles, and
//! `string2ld` for the float arguments read as a long double. Each takes the whole argument:
//! a number followed by anything else is not a number.

/// Strict decimal integer parsing as Redis's `string2ll`: no spaces, no '+', no leading zeros.
pub fn parse_i64(s: &[u8]) -> Option<i64> {
    if s.is_empty() || s.len() > 20 {
        return None;
    }
    if s == b"0" {
        return Some(0);
    }
    let (neg, digits) = if s[0] == b'-' {
        (true, &s[1..])
    } else {
        (false, s)
    };
    if digits.is_empty() || digits[0] == b'0' {
        return None;
    }
    let mut v: u64 = 0;
    for &c in digits {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add(u64::from(c - b'0'))?;
    }
    if neg {
        if v > i64::MAX as u64 + 1 {
            None
        } else {
            Some((v as i64).wrapping_neg())
        }
    } else {
        i64::try_from(v).ok()
    }
}

/// C's `strtod` over the whole of `s` (decimal, hex, inf/nan). Returns the value and whether it
/// overflowed or underflowed (ERANGE), or None if `s` is not entirely a number.
pub fn strtod(s: &[u8]) -> Option<(f64, bool)> {
    let t = std::str::from_utf8(s).ok()?;
    let (neg, body) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    let is = |w: &str| body.eq_ignore_ascii_case(w);
    let v = if is("inf") || is("infinity") {
        f64::INFINITY
    } else if is("nan") {
        f64::NAN
    } else if body.len() >= 2 && body.as_bytes()[..2].eq_ignore_ascii_case(b"0x") {
        parse_hex(&body[2..].to_ascii_lowercase())?
    } else {
        if !body
            .bytes()
            .all(|c| c.is_ascii_digit() || matches!(c, b'.' | b'e' | b'E' | b'+' | b'-'))
            || !body.starts_with(|c: char| c.is_ascii_digit() || c == '.')
        {
            return None;
        }
        let v: f64 = body.parse().ok()?;
        let erange = v.is_infinite() || (v == 0.0 && mantissa_nonzero(body));
        return Some((if neg { -v } else { v }, erange));
    };
    Some((if neg { -v } else { v }, false))
}

fn mantissa_nonzero(s: &str) -> bool {
    s.split(['e', 'E'])
        .next()
        .is_some_and(|m| m.bytes().any(|c| (b'1'..=b'9').contains(&c)))
}

/// Hex floats as strtod reads them: `1f`, `1.8p3`.
fn parse_hex(s: &str) -> Option<f64> {
    let (mant, exp) = match s.split_once('p') {
        Some((m, e)) => (m, e.parse::<i32>().ok()?),
        None => (s, 0),
    };
    let (int, frac) = mant.split_once('.').unwrap_or((mant, ""));
    if int.is_empty() && frac.is_empty() {
        return None;
    }
    let mut v = 0f64;
    for c in int.chars() {
        v = v * 16.0 + c.to_digit(16)? as f64;
    }
    let mut scale = 1.0 / 16.0;
    for c in frac.chars() {
        v += c.to_digit(16)? as f64 * scale;
        scale /= 16.0;
    }
    Some(v * 2f64.powi(exp))
}

/// Parses a float the way Redis's `string2ld`/`strtold` accepts it ("inf", "1e3", " 1" is refused).
pub fn parse_float(b: &[u8]) -> Option<f64> {
    let s = std::str::from_utf8(b).ok()?;
    if s.is_empty()
        || s.starts_with(|c: char| c.is_whitespace())
        || s.ends_with(|c: char| c.is_whitespace())
    {
        return None;
    }
    let lower = s.to_ascii_lowercase();
    let v = match lower.as_str() {
        "inf" | "+inf" | "infinity" | "+infinity" => f64::INFINITY,
        "-inf" | "-infinity" => f64::NEG_INFINITY,
        _ => {
            if lower.contains("nan") || lower.contains("inf") {
                return None;
            }
            s.parse::<f64>().ok()?
        }
    };
    if v.is_nan() {
        return None;
    }
    Some(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_i64_is_strict() {
        assert_eq!(parse_i64(b"-9223372036854775808"), Some(i64::MIN));
        assert_eq!(parse_i64(b"9223372036854775808"), None);
        assert_eq!(parse_i64(b"01"), None);
        assert_eq!(parse_i64(b"+1"), None);
        assert_eq!(parse_i64(b"-0"), None);
    }

    #[test]
    fn floats() {
        assert_eq!(parse_float(b"1.5"), Some(1.5));
        assert_eq!(parse_float(b"-inf"), Some(f64::NEG_INFINITY));
        assert_eq!(parse_float(b"nan"), None);
        assert_eq!(parse_float(b" 1"), None);
        assert_eq!(parse_float(b"abc"), None);
    }

    #[test]
    fn strtod_whole_string_with_erange() {
        assert_eq!(strtod(b"1.5"), Some((1.5, false)));
        assert_eq!(strtod(b"-0x1.8p1"), Some((-3.0, false)));
        assert_eq!(strtod(b"+.5e1"), Some((5.0, false)));
        assert_eq!(strtod(b"1e400"), Some((f64::INFINITY, true)));
        assert_eq!(strtod(b"-1e-400"), Some((-0.0, true)));
        assert_eq!(strtod(b"0e-400"), Some((0.0, false)));
        assert_eq!(strtod(b"-Infinity"), Some((f64::NEG_INFINITY, false)));
        assert!(strtod(b"nan").is_some_and(|(v, r)| v.is_nan() && !r));
        for bad in [
            &b""[..],
            b"1 ",
            b" 1",
            b"1e",
            b"e5",
            b"0x",
            b"1.5x",
            b"--1",
            b"\xff",
        ] {
            assert_eq!(strtod(bad), None, "{:?}", String::from_utf8_lossy(bad));
        }
    }
}
