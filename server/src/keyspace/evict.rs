//! Eviction under `maxmemory`: Redis's approximated policies, by sampling a few keys of a random
//! shard and evicting the best candidate (oldest access, least used, nearest expiry, or any).

use super::{lock, Key, Keyspace, SHARDS};
use bytes::Bytes;
use rand::Rng;

/// Keys sampled per eviction, as Redis's `maxmemory-samples` default.
const SAMPLES: usize = 5;

/// Which keys a policy may evict and how it ranks them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    NoEviction,
    AllKeysLru,
    AllKeysLfu,
    AllKeysRandom,
    VolatileLru,
    VolatileLfu,
    VolatileRandom,
    VolatileTtl,
}

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
        if policy == Policy::NoEviction {
            return None;
        }
        let mut rng = rand::rng();
        let slots = self.dbs.len() * SHARDS;
        // Random shards, then every shard in order (to tell "nothing evictable" for sure). Not a
        // walk from a random shard: past empty ones (every unused database) it lands on the same
        // shard almost every time and drains it, recently used keys and all.
        let probes: Vec<usize> = (0..slots)
            .map(|_| rng.random_range(0..slots))
            .chain(0..slots)
            .collect();
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
            s.remove_entry(&best);
            s.touch(&best);
            return Some((db, best));
        }
        None
    }
}
