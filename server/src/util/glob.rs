//! Redis's glob patterns (`stringmatchlen` in Redis 7.0's `util.c`), the one matcher behind KEYS,
//! SCAN/HSCAN/SSCAN/ZSCAN MATCH, PSUBSCRIBE and PUBSUB CHANNELS, CONFIG GET and COMMAND LIST.
//!
//! The results are Redis's, quirks included:
//! - an empty subject matches only the empty pattern (`*` does not match `""`);
//! - `?`, a literal, an escaped literal and a class each take exactly one byte;
//! - inside `[...]`: `\x` is `x` compared case-sensitively even under `nocase`, a range `a-z` may
//!   be written backwards, its bounds compare as C's signed `char` (so `[a-\xff]` is the range
//!   -1..97), `[a-]` reads `]` as the range's end, and a class left open runs to the pattern's end;
//! - `\` at the very end of a pattern is a literal backslash.
//!
//! Redis walks the pattern recursively, one level per `*`, and since 7.0.9 abandons the whole
//! search once the rest of a pattern after a `*` matched at no position (CVE-2022-36021). That
//! abandonment never changes a result, only the cost. Because every token but `*` takes exactly
//! one byte, the same answer comes from the classic two-pointer walk that backtracks only to the
//! latest `*`: no recursion (a pattern of a million stars needs no stack) and at most
//! O(pattern × subject) steps, where the naive recursion is exponential in the number of stars.

/// Whether `subject` matches the glob `pattern`, as Redis's `stringmatchlen`.
pub fn glob_match(pattern: &[u8], subject: &[u8], nocase: bool) -> bool {
    let (p, s) = (pattern, subject);
    if s.is_empty() {
        // Redis's loop runs only while both have bytes left.
        return p.is_empty();
    }
    let (mut pi, mut si) = (0usize, 0usize);
    // After the latest `*`: where the pattern resumes, and where the subject's try starts.
    let mut star: Option<(usize, usize)> = None;
    loop {
        if si == s.len() {
            // The subject is used up: only stars may be left of the pattern.
            return p[pi..].iter().all(|&c| c == b'*');
        }
        if pi < p.len() && p[pi] == b'*' {
            while pi < p.len() && p[pi] == b'*' {
                pi += 1;
            }
            if pi == p.len() {
                return true;
            }
            star = Some((pi, si));
            continue;
        }
        if pi < p.len() {
            let (hit, next) = one(p, pi, s[si], nocase);
            if hit {
                pi = next;
                si += 1;
                continue;
            }
        }
        // A mismatch, or pattern left over: let the latest star take one more byte.
        match star {
            Some((resume, from)) if from < s.len() => {
                star = Some((resume, from + 1));
                pi = resume;
                si = from + 1;
            }
            _ => return false,
        }
    }
}

/// Matches the one-byte token at `p[pi]` (not a `*`) against `c`; returns the outcome and where
/// the next token starts. Where the pattern resumes never depends on `c`.
fn one(p: &[u8], pi: usize, c: u8, nocase: bool) -> (bool, usize) {
    match p[pi] {
        b'?' => (true, pi + 1),
        b'[' => class(p, pi + 1, c, nocase),
        b'\\' if pi + 1 < p.len() => (same(p[pi + 1], c, nocase), pi + 2),
        lit => (same(lit, c, nocase), pi + 1),
    }
}

/// A class whose body starts at `p[i]` (just after `[`), in the order Redis tests its cases.
fn class(p: &[u8], mut i: usize, c: u8, nocase: bool) -> (bool, usize) {
    let negate = i < p.len() && p[i] == b'^';
    if negate {
        i += 1;
    }
    let mut hit = false;
    loop {
        let left = p.len() - i;
        if left >= 2 && p[i] == b'\\' {
            hit |= p[i + 1] == c;
            i += 2;
        } else if left >= 1 && p[i] == b']' {
            i += 1;
            break;
        } else if left == 0 {
            // Unterminated: the class ends with the pattern.
            break;
        } else if left >= 3 && p[i + 1] == b'-' {
            // C's `char` is signed on x86-64, where Debian's redis-server is what respd answers
            // like; `nocase` folds only after the bounds were ordered, as Redis does.
            let (mut lo, mut hi) = (p[i] as i8 as i32, p[i + 2] as i8 as i32);
            if lo > hi {
                std::mem::swap(&mut lo, &mut hi);
            }
            let mut x = c as i8 as i32;
            if nocase {
                (lo, hi, x) = (lower(lo), lower(hi), lower(x));
            }
            hit |= lo <= x && x <= hi;
            i += 3;
        } else {
            hit |= same(p[i], c, nocase);
            i += 1;
        }
    }
    (hit != negate, i)
}

/// glibc's `tolower` in the C locale on a signed `char` widened to int: ASCII letters fold, and a
/// negative value other than EOF (-1) comes back as its unsigned byte (its table covers -128..255).
fn lower(x: i32) -> i32 {
    match x {
        0x41..=0x5a => x + 32,
        -128..=-2 => x + 256,
        _ => x,
    }
}

fn same(a: u8, b: u8, nocase: bool) -> bool {
    a == b || (nocase && a.eq_ignore_ascii_case(&b))
}

#[cfg(test)]
mod tests {
    use super::glob_match;

    /// Redis 7.0's recursive matcher without the early abandonment, transcribed as plainly as
    /// possible: the reference the fast walk must agree with (exponential, so small inputs only).
    fn naive(p: &[u8], s: &[u8], nocase: bool) -> bool {
        let (mut pi, mut si) = (0, 0);
        while pi < p.len() && si < s.len() {
            if p[pi] == b'*' {
                while pi + 1 < p.len() && p[pi + 1] == b'*' {
                    pi += 1;
                }
                if pi + 1 == p.len() {
                    return true;
                }
                return (si..s.len()).any(|k| naive(&p[pi + 1..], &s[k..], nocase));
            }
            let (hit, next) = super::one(p, pi, s[si], nocase);
            if !hit {
                return false;
            }
            pi = next;
            si += 1;
            if si == s.len() {
                while pi < p.len() && p[pi] == b'*' {
                    pi += 1;
                }
            }
        }
        pi == p.len() && si == s.len()
    }

    #[test]
    fn the_basics() {
        assert!(glob_match(b"*", b"anything", false));
        assert!(glob_match(b"h?llo", b"hello", false));
        assert!(glob_match(b"h[ae]llo", b"hallo", false));
        assert!(!glob_match(b"h[^e]llo", b"hello", false));
        assert!(glob_match(b"h[a-b]llo", b"hbllo", false));
        assert!(glob_match(b"h[b-a]llo", b"hallo", false));
        assert!(glob_match(b"exp:*:det", b"exp:1:2:det", false));
        assert!(!glob_match(b"a\\*", b"ab", false));
        assert!(glob_match(b"a\\*", b"a*", false));
        assert!(glob_match(b"HeLLo", b"hello", true));
        assert!(!glob_match(b"HeLLo", b"hello", false));
        assert!(glob_match(b"a*b*c", b"axxbyyc", false));
        assert!(!glob_match(b"a*b*c", b"axxbyy", false));
    }

    #[test]
    fn redis_quirks() {
        // An empty subject matches the empty pattern only.
        assert!(!glob_match(b"*", b"", false));
        assert!(glob_match(b"", b"", false));
        assert!(!glob_match(b"", b"a", false));
        // Trailing stars after the subject is used up.
        assert!(glob_match(b"a***", b"a", false));
        // A trailing backslash is a literal.
        assert!(glob_match(b"a\\", b"a\\", false));
        // Unterminated classes.
        assert!(!glob_match(b"[", b"a", false));
        assert!(glob_match(b"[^", b"a", false));
        assert!(glob_match(b"[ab", b"b", false));
        assert!(!glob_match(b"[ab", b"bc", false));
        // `[a-]`: `]` is the range's end and the class stays open.
        assert!(glob_match(b"[a-]", b"_", false));
        assert!(glob_match(b"[a-]x", b"_", false));
        // `[]` matches nothing; `[^]` anything.
        assert!(!glob_match(b"[]", b"a", false));
        assert!(glob_match(b"[^]", b"a", false));
        // Escapes in a class are case-sensitive even with nocase; literals are not.
        assert!(!glob_match(b"[\\A]", b"a", true));
        assert!(glob_match(b"[A]", b"a", true));
        assert!(glob_match(b"[A-C]", b"b", true));
        // Range bounds compare as signed chars.
        assert!(glob_match(b"[a-\xff]", b"\x00", false));
        assert!(!glob_match(b"[a-\xff]", b"b", false));
        assert!(!glob_match(b"[a-\xff]", b"\x80", false));
        // Under nocase glibc's tolower maps -128..-2 to 128..254 but keeps -1: [a-\xfe] becomes
        // the empty range 254..97, [a-\xff] stays -1..97.
        assert!(!glob_match(b"[a-\xfe]", b"\x00", true));
        assert!(glob_match(b"[a-\xff]", b"\x00", true));
    }

    #[test]
    fn pathological_patterns_end() {
        let key = vec![b'a'; 55];
        let pat = [b"a*".repeat(31), b"b".to_vec()].concat();
        assert!(!glob_match(&pat, &key, false));
        let stars = [b"*a".repeat(100_000), b"*b".to_vec()].concat();
        assert!(!glob_match(&stars, &vec![b'a'; 1000], false));
        // Deep enough for any recursive walk to blow a thread's stack.
        let deep = b"a*".repeat(1_000_000);
        assert!(glob_match(&deep, &vec![b'a'; 1_000_000], false));
    }

    /// A deterministic corpus (xorshift) of patterns and subjects over a small alphabet, so that
    /// matches, classes, escapes and malformed patterns all occur.
    #[test]
    fn agrees_with_the_plain_recursion() {
        const PAT: &[u8] = b"ab*?[]^-\\A\xff";
        const SUB: &[u8] = b"abAB-]\\\xff\x00";
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = move |n: usize| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x % n as u64) as usize
        };
        for _ in 0..200_000 {
            let p: Vec<u8> = (0..next(9)).map(|_| PAT[next(PAT.len())]).collect();
            let s: Vec<u8> = (0..next(7)).map(|_| SUB[next(SUB.len())]).collect();
            let nocase = next(2) == 1;
            assert_eq!(
                glob_match(&p, &s, nocase),
                naive(&p, &s, nocase),
                "pattern {p:?} subject {s:?} nocase {nocase}"
            );
        }
    }
}
