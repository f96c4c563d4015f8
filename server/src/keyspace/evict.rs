//! Eviction under `maxmemory`: Redis's approximated policies, by sampling a few keys of a random
//! shard and evicting the best candidate (oldest access, least used, nearest expiry, or any).

use super::{lock, Key, Keyspace, SHARDS};
use bytes::Bytes;
use rand::RngExt;

/// Keys sampled per eviction, as Redis's `maxmemory-samples` default.
const SAMPLES: usize = 5;

/// Which keys a policy may evict and how it ranks them: `maxmemory-policy`'s options.
pub use crate::config::Policy;

impl Policy {
    /// The policy named by `maxmemory-policy`.
    pub fn parse(s: &str) -> Policy {
        match s {
            "allkeys-lru" => Policy::AllKeysLru,
            "allkeys-lfu" => Policy::AllKeysLfu,
            "allkeys-random" => Policy::AllKeysRandom,
            "volatile-lru" => Policy::VolatileLru,
            "volatile-lfu" => Policy::VolatileLfu,
            "volatile-random" => Policy::VolatileRandom,
            "volatile-ttl" => Policy::VolatileTtl,
            _ => Policy::NoEviction,
        }
    }

    fn volatile(self) -> bool {
        matches!(
            self,
            Policy::VolatileLru
                | Policy::VolatileLfu
                | Policy::VolatileRandom
                | Policy::VolatileTtl
        )
    }
}

impl Keyspace {
    /// Evicts one key chosen by `policy`; returns its (db, key), or None when nothing is evictable.
    pub fn evict_one(&self, policy: Policy) -> Option<(usize, Bytes)> {
        self.evict_one_with(policy, &mut |_, _| {})
    }

    /// [`Keyspace::evict_one`], calling `removed` with the key while its shard is still locked
    /// (the AOF's DEL must precede any later write to the key).
    pub fn evict_one_with(
        &self,
        policy: Policy,
        removed: &mut dyn FnMut(usize, &Bytes),
    ) -> Option<(usize, Bytes)> {
        if policy == Policy::NoEviction {
            return None;
        }
        let mut rng = rand::rng();
        let slots = self.dbs.len() * SHARDS;
        // Random shards, then every shard in order (to tell "nothing evictable" for sure). Not a
        // walk from a random shard: past empty ones (every unused database) it lands on the same
        // shard almost every time and drains it, recently used keys and all.
        // A generator of its own, so the probes need no vector (this runs once per evicted key).
        let mut pick = rand::rng();
        let probes = (0..slots)
            .map(move |_| pick.random_range(0..slots))
            .chain(0..slots);
        for slot in probes {
            let (db, si) = (slot / SHARDS, slot % SHARDS);
            let mut s = lock(&self.dbs[db].shards[si]);
            let pool = if policy.volatile() {
                s.expires.len()
            } else {
                s.map.len()
            };
            if pool == 0 {
                continue;
            }
            let skip = rng.random_range(0..pool);
            let candidates: Vec<Bytes> = if policy == Policy::VolatileTtl {
                // The index is ordered by expiry: its first keys are the shard's nearest expiries
                // (a window from a random place would be a random pick).
                s.expires
                    .iter()
                    .take(SAMPLES)
                    .map(|(_, k)| k.clone())
                    .collect()
            } else if policy.volatile() {
                s.expires
                    .iter()
                    .cycle()
                    .skip(skip)
                    .take(SAMPLES.min(pool))
                    .map(|(_, k)| k.clone())
                    .collect()
            } else {
                s.map
                    .keys()
                    .cycle()
                    .skip(skip)
                    .take(SAMPLES.min(pool))
                    .map(Key::to_bytes)
                    .collect()
            };
            let best = candidates.into_iter().min_by_key(|k| {
                let e = &s.map[&k[..]];
                match policy {
                    Policy::AllKeysLru | Policy::VolatileLru => u64::from(e.last_access),
                    Policy::AllKeysLfu | Policy::VolatileLfu => u64::from(e.freq),
                    Policy::VolatileTtl => e.expire_at.unwrap_or(u64::MAX),
                    _ => 0,
                }
            })?;
            s.drop_entry(&best);
            s.touch(&best);
            removed(db, &best);
            return Some((db, best));
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::super::{shard_of, value::Entry, value::Value};
    use super::*;

    /// Names whose keys all fall in one shard: with no more than `SAMPLES` keys in the whole
    /// keyspace every key is sampled, so the policy alone decides which one goes.
    fn same_shard_keys(n: usize) -> Vec<Bytes> {
        let first = shard_of(b"k0");
        (0..100_000)
            .map(|i| Bytes::from(format!("k{i}")))
            .filter(|k| shard_of(k) == first)
            .take(n)
            .collect()
    }

    /// A keyspace of one database holding `keys` with the given (last access, freq, expiry).
    fn keyspace(keys: &[Bytes], meta: &[(u32, u8, Option<u64>)]) -> Keyspace {
        let ks = Keyspace::new(1);
        {
            let mut s = lock(&ks.dbs[0].shards[shard_of(&keys[0])]);
            for (k, &(access, freq, expire)) in keys.iter().zip(meta) {
                let mut e = Entry::new(Value::Str(Bytes::from_static(b"v")), expire, access);
                e.freq = freq;
                if let Some(t) = expire {
                    s.expires.insert((t, k.clone()));
                }
                s.map.insert(Key::from(k), e);
            }
        }
        ks
    }

    fn evict_all(ks: &Keyspace, policy: Policy) -> Vec<Bytes> {
        std::iter::from_fn(|| ks.evict_one(policy).map(|(_, k)| k)).collect()
    }

    #[test]
    fn policy_names_parse_and_unknown_means_noeviction() {
        let names = [
            ("allkeys-lru", Policy::AllKeysLru, false),
            ("allkeys-lfu", Policy::AllKeysLfu, false),
            ("allkeys-random", Policy::AllKeysRandom, false),
            ("volatile-lru", Policy::VolatileLru, true),
            ("volatile-lfu", Policy::VolatileLfu, true),
            ("volatile-random", Policy::VolatileRandom, true),
            ("volatile-ttl", Policy::VolatileTtl, true),
            ("noeviction", Policy::NoEviction, false),
        ];
        for (name, p, volatile) in names {
            assert_eq!(Policy::parse(name), p, "{name}");
            assert_eq!(p.volatile(), volatile, "{name}");
        }
        assert_eq!(Policy::parse("lru"), Policy::NoEviction);
        assert_eq!(Policy::parse("ALLKEYS-LRU"), Policy::NoEviction);
    }

    #[test]
    fn lru_evicts_the_least_recently_used_first() {
        let k = same_shard_keys(SAMPLES);
        // Accessed at 50, 10, 40, 20, 30 seconds: oldest first is k1, k3, k4, k2, k0.
        let meta = [50, 10, 40, 20, 30].map(|t| (t, 5, None));
        let order = [1, 3, 4, 2, 0].map(|i| k[i].clone());
        assert_eq!(evict_all(&keyspace(&k, &meta), Policy::AllKeysLru), order);
        // volatile-lru ranks the same way among keys with a TTL.
        let meta = [50, 10, 40, 20, 30].map(|t| (t, 5, Some(u64::MAX - 1)));
        assert_eq!(evict_all(&keyspace(&k, &meta), Policy::VolatileLru), order);
    }

    #[test]
    fn lfu_evicts_the_least_frequently_used_first() {
        let k = same_shard_keys(SAMPLES);
        let meta = [9, 200, 1, 30, 5].map(|f| (100, f, Some(1 << 50)));
        let order = [2, 4, 0, 3, 1].map(|i| k[i].clone());
        assert_eq!(evict_all(&keyspace(&k, &meta), Policy::AllKeysLfu), order);
        assert_eq!(evict_all(&keyspace(&k, &meta), Policy::VolatileLfu), order);
    }

    #[test]
    fn volatile_ttl_evicts_the_nearest_expiry_and_never_a_persistent_key() {
        let k = same_shard_keys(SAMPLES);
        let meta = [
            (1, 1, Some(5_000)),
            (1, 1, None),
            (1, 1, Some(2_000)),
            (1, 1, None),
            (1, 1, Some(9_000)),
        ];
        let ks = keyspace(&k, &meta);
        assert_eq!(
            evict_all(&ks, Policy::VolatileTtl),
            [2, 0, 4].map(|i| k[i].clone())
        );
        // The evicted keys left the expiry index too; the persistent ones are all that remain.
        let s = lock(&ks.dbs[0].shards[shard_of(&k[0])]);
        assert!(s.expires.is_empty());
        assert_eq!(s.map.len(), 2);
        assert!(s.map.contains_key(&k[1][..]) && s.map.contains_key(&k[3][..]));
    }

    #[test]
    fn volatile_policies_leave_persistent_keys_and_random_takes_them() {
        let k = same_shard_keys(3);
        let meta = [(1, 1, None); 3];
        for p in [
            Policy::VolatileLru,
            Policy::VolatileLfu,
            Policy::VolatileRandom,
            Policy::VolatileTtl,
            Policy::NoEviction,
        ] {
            assert_eq!(keyspace(&k, &meta).evict_one(p), None, "{p:?}");
        }
        let mut gone = evict_all(&keyspace(&k, &meta), Policy::AllKeysRandom);
        let mut want = k.clone();
        gone.sort();
        want.sort();
        assert_eq!(gone, want);
        assert_eq!(Keyspace::new(2).evict_one(Policy::AllKeysLru), None);
    }
}
