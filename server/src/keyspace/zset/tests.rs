//! ZSet against a naive sorted-vector model.

use super::*;
use rand::{RngExt, SeedableRng};

fn b(s: &str) -> Bytes {
    Bytes::copy_from_slice(s.as_bytes())
}

/// The model: (score, member) sorted on every call.
fn model_sorted(m: &HashMap<Bytes, f64>) -> Vec<(Bytes, f64)> {
    let mut v: Vec<(Bytes, f64)> = m.iter().map(|(k, s)| (k.clone(), *s)).collect();
    v.sort_by(|a, b| cmp(a.1, &a.0, b.1, &b.0));
    v
}

#[test]
fn basics() {
    let mut z = ZSet::new();
    assert!(z.is_empty());
    assert_eq!(z.insert(b("b"), 2.0), None);
    assert_eq!(z.insert(b("a"), 1.0), None);
    assert_eq!(z.insert(b("c"), 3.0), None);
    assert_eq!(z.insert(b("a"), 4.0), Some(1.0));
    assert_eq!(z.members_in_order(), vec![b("b"), b("c"), b("a")]);
    assert_eq!(z.rank(b"a"), Some(2));
    assert_eq!(z.rank(b"zz"), None);
    assert_eq!(z.at_rank(0), Some((b("b"), 2.0)));
    assert_eq!(z.range_by_rank(0, 10, true)[0].0, b("a"));
    let r = ScoreRange {
        min: 2.0,
        max: 3.0,
        minex: true,
        maxex: false,
    };
    assert_eq!(z.count_score(&r), 1);
    assert!(z.remove(b"c"));
    assert!(!z.remove(b"c"));
    assert_eq!(z.pop(5, false).len(), 2);
    assert!(z.is_empty());
    z.insert(b("x"), 0.0);
    assert_eq!(z.len(), 1);
}

#[test]
fn lex_ranges() {
    let mut z = ZSet::new();
    for m in ["a", "b", "c", "d", "e"] {
        z.insert(b(m), 0.0);
    }
    let r = LexRange {
        min: LexBound::Excl(b("a")),
        max: LexBound::Incl(b("c")),
    };
    let got: Vec<Bytes> = z
        .range_by_lex(&r, false, 0, None)
        .into_iter()
        .map(|x| x.0)
        .collect();
    assert_eq!(got, vec![b("b"), b("c")]);
    assert_eq!(z.count_lex(&r), 2);
    let all = LexRange {
        min: LexBound::NegInf,
        max: LexBound::PosInf,
    };
    assert_eq!(z.range_by_lex(&all, true, 1, Some(2))[0].0, b("d"));
    assert_eq!(z.remove_range_by_lex(&r), 2);
    assert_eq!(z.len(), 3);
}

#[test]
fn randomized_against_model() {
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    // Rounds alternate the forms: packed throughout, skip list throughout, and switching
    // between them at small thresholds (grown past, settled back), as the commands do.
    for round in 0..30 {
        let mut z = ZSet::new();
        if round % 3 == 1 {
            z.set_skiplist();
        }
        let mut m: HashMap<Bytes, f64> = HashMap::new();
        for _ in 0..600 {
            let mem = b(&format!("m{}", rng.random_range(0..80)));
            let score = rng.random_range(-5..5) as f64 / 2.0;
            if round % 3 == 2 {
                let (entries, value) = (rng.random_range(0..40), rng.random_range(1..4));
                if rng.random_bool(0.05) {
                    z.settle_encoding(entries, value);
                    let fits = m.len() <= entries && m.keys().all(|k| k.len() <= value);
                    assert_eq!(z.encoding(), if fits { "listpack" } else { "skiplist" });
                } else if !m.contains_key(&mem) {
                    z.grow_encoding(mem.len(), entries, value);
                }
            }
            match rng.random_range(0..10) {
                0..=4 => {
                    assert_eq!(z.insert(mem.clone(), score), m.insert(mem, score));
                }
                5 | 6 => {
                    assert_eq!(z.remove(&mem), m.remove(&mem).is_some());
                }
                7 => {
                    let s = model_sorted(&m);
                    let n = rng.random_range(0..3);
                    let max = rng.random_bool(0.5);
                    let got = z.pop(n, max);
                    let want: Vec<_> = if max {
                        s.iter().rev().take(n).cloned().collect()
                    } else {
                        s.iter().take(n).cloned().collect()
                    };
                    assert_eq!(got, want);
                    for (k, _) in want {
                        m.remove(&k);
                    }
                }
                _ => {
                    let lo = rng.random_range(-6..6) as f64 / 2.0;
                    let hi = lo + rng.random_range(0..6) as f64 / 2.0;
                    let r = ScoreRange {
                        min: lo,
                        max: hi,
                        minex: rng.random_bool(0.3),
                        maxex: rng.random_bool(0.3),
                    };
                    let s = model_sorted(&m);
                    let want: Vec<_> = s
                        .iter()
                        .filter(|(_, v)| r.gte_min(*v) && r.lte_max(*v))
                        .cloned()
                        .collect();
                    assert_eq!(z.count_score(&r), want.len());
                    let off = rng.random_range(0..3);
                    let lim = rng.random_range(0..4);
                    let fwd = z.range_by_score(&r, false, off, Some(lim));
                    let w: Vec<_> = want.iter().skip(off).take(lim).cloned().collect();
                    assert_eq!(fwd, w);
                    let rev = z.range_by_score(&r, true, off, None);
                    let w: Vec<_> = want.iter().rev().skip(off).cloned().collect();
                    assert_eq!(rev, w);
                    if rng.random_bool(0.2) {
                        assert_eq!(z.remove_range_by_score(&r), want.len());
                        for (k, _) in want {
                            m.remove(&k);
                        }
                    }
                }
            }
            assert_eq!(z.len(), m.len());
        }
        let s = model_sorted(&m);
        let got = z.pairs();
        assert_eq!(got, s, "round {round}");
        for (i, (k, v)) in s.iter().enumerate() {
            assert_eq!(z.rank(k), Some(i));
            assert_eq!(z.score(k), Some(*v));
            assert_eq!(z.at_rank(i), Some((k.clone(), *v)));
        }
        if !s.is_empty() {
            let a = rng.random_range(0..s.len());
            let e = rng.random_range(a..s.len() + 3);
            let want: Vec<_> = s.iter().skip(a).take(e - a + 1).cloned().collect();
            assert_eq!(z.range_by_rank(a, e, false), want);
            let want: Vec<_> = s.iter().rev().skip(a).take(e - a + 1).cloned().collect();
            assert_eq!(z.range_by_rank(a, e, true), want);
            let n = z.remove_range_by_rank(a, e);
            assert_eq!(n, s.len().min(e + 1) - a);
        }
    }
}
