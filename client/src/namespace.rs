//! Collision-free keys built from parts (experiment, run, detector, name).
//!
//! # Key layout
//! A key is its parts joined by [`SEPARATOR`] (`:`). Inside a part, `%` is written `%25` and `:`
//! is written `%3A`; nothing else changes. Escaping is injective and an escaped part never contains
//! `:`, so different part lists always give different keys, whatever the parts hold, and the keys
//! below a namespace are exactly those starting with its [`Namespace::prefix`] (`exp:run:`).
//! Python builds the same keys with
//! `":".join(p.replace("%", "%25").replace(":", "%3A") for p in parts)`.

/// The separator between parts.
pub const SEPARATOR: char = ':';

/// A namespace: a list of parts under which keys are made.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Namespace {
    parts: Vec<String>,
}

/// Escape one part (`%` → `%25`, `:` → `%3A`).
pub fn escape(part: &str) -> String {
    let mut out = String::with_capacity(part.len());
    for c in part.chars() {
        match c {
            '%' => out.push_str("%25"),
            ':' => out.push_str("%3A"),
            c => out.push(c),
        }
    }
    out
}

/// Undo [`escape`]; `None` for text that no escaped part can be.
pub fn unescape(s: &str) -> Option<String> {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find(['%', ':']) {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        if tail.starts_with("%25") {
            out.push('%');
        } else if tail.starts_with("%3A") {
            out.push(':');
        } else {
            return None;
        }
        rest = &tail[3..];
    }
    out.push_str(rest);
    Some(out)
}

impl Namespace {
    /// A namespace from its parts, outermost first (`["exp42", "run7"]`).
    pub fn new<I, S>(parts: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Namespace {
            parts: parts.into_iter().map(Into::into).collect(),
        }
    }

    /// The parts, unescaped.
    pub fn parts(&self) -> &[String] {
        &self.parts
    }

    /// A namespace one level deeper.
    pub fn child(&self, part: impl Into<String>) -> Namespace {
        let mut parts = self.parts.clone();
        parts.push(part.into());
        Namespace { parts }
    }

    /// The key for `name` in this namespace.
    pub fn key(&self, name: &str) -> String {
        let mut k = self.prefix();
        k.push_str(&escape(name));
        k
    }

    /// What every key below this namespace starts with (ends with the separator; empty at the root).
    pub fn prefix(&self) -> String {
        let mut k = String::new();
        for p in &self.parts {
            k.push_str(&escape(p));
            k.push(SEPARATOR);
        }
        k
    }

    /// Split a key back into its parts; `None` if it was not built by this scheme.
    pub fn split_key(key: &str) -> Option<Vec<String>> {
        key.split(SEPARATOR).map(unescape).collect()
    }
}

/// `prefix` as a SCAN MATCH pattern that matches exactly the keys starting with it.
pub fn glob_prefix(prefix: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(prefix.len() + 2);
    for &b in prefix {
        if matches!(b, b'*' | b'?' | b'[' | b']' | b'\\') {
            out.push(b'\\');
        }
        out.push(b);
    }
    out.push(b'*');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{RngExt, SeedableRng};
    use std::collections::HashMap;

    #[test]
    fn layout_is_documented_one() {
        let ns = Namespace::new(["exp:42", "run%7"]);
        assert_eq!(ns.prefix(), "exp%3A42:run%257:");
        assert_eq!(ns.key("a:b"), "exp%3A42:run%257:a%3Ab");
        assert_eq!(
            Namespace::split_key(&ns.key("a:b")).unwrap(),
            vec!["exp:42", "run%7", "a:b"]
        );
        assert_eq!(Namespace::default().prefix(), "");
    }

    #[test]
    fn adversarial_parts_never_collide() {
        let cases: Vec<Vec<&str>> = vec![
            vec!["a:b", "c"],
            vec!["a", "b:c"],
            vec!["a", "b", "c"],
            vec!["a%3Ab", "c"],
            vec!["a%", "3Ab", "c"],
            vec!["a%253Ab", "c"],
            vec!["", "a:b:c"],
            vec!["a:b:c", ""],
            vec![":", ":"],
            vec!["::"],
            vec!["%", ""],
            vec!["%25"],
        ];
        let mut seen = HashMap::new();
        for parts in &cases {
            let (last, ns) = parts.split_last().unwrap();
            let key = Namespace::new(ns.iter().copied()).key(last);
            if let Some(prev) = seen.insert(key.clone(), parts.clone()) {
                panic!("{prev:?} and {parts:?} both give {key}");
            }
            assert_eq!(Namespace::split_key(&key).unwrap(), *parts);
        }
    }

    #[test]
    fn random_parts_are_injective_and_prefix_exact() {
        // Property test: parts from a small alphabet rich in separators and escapes.
        let alphabet = ['a', ':', '%', '2', '5', '3', 'A', '*', 'é'];
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let mut seen: HashMap<String, Vec<String>> = HashMap::new();
        for _ in 0..20_000 {
            let n = rng.random_range(1..4);
            let parts: Vec<String> = (0..n)
                .map(|_| {
                    (0..rng.random_range(0..4))
                        .map(|_| alphabet[rng.random_range(0..alphabet.len())])
                        .collect()
                })
                .collect();
            let (last, outer) = parts.split_last().unwrap();
            let ns = Namespace::new(outer.to_vec());
            let key = ns.key(last);
            assert!(key.starts_with(&ns.prefix()));
            assert_eq!(Namespace::split_key(&key).unwrap(), parts);
            if let Some(prev) = seen.insert(key.clone(), parts.clone()) {
                assert_eq!(prev, parts, "collision at {key}");
            }
            // A key lies below another namespace only if that namespace's parts are a prefix of its parts.
            let other = Namespace::new(vec![parts[0].clone()]);
            let below = key.starts_with(&other.prefix());
            assert_eq!(below, parts.len() > 1, "{parts:?} vs {:?}", other.parts());
        }
    }

    #[test]
    fn glob_prefix_escapes_pattern_characters() {
        assert_eq!(
            glob_prefix(b"a*b?[c]\\:"),
            b"a\\*b\\?\\[c\\]\\\\:*".to_vec()
        );
    }
}
