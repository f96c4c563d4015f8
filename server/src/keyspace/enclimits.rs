//! The `*-max-listpack-*` / `set-max-intset-entries` settings, copied out of the configuration so
//! the write path of every HSET/SADD reads two atomics instead of looking parameters up by name.

use super::HashLimits;
use crate::config::Config;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

/// Encoding thresholds in force (refreshed by `Shared::config_changed`).
#[derive(Debug, Default)]
pub struct EncodingLimits {
    hash_entries: AtomicUsize,
    hash_value: AtomicUsize,
    set_intset: AtomicUsize,
    zset_entries: AtomicUsize,
    zset_value: AtomicUsize,
}

impl EncodingLimits {
    /// Copies the thresholds from a configuration.
    pub fn load_from(&self, c: &Config) {
        let n = |name| c.num(name) as usize;
        self.hash_entries
            .store(n("hash-max-listpack-entries"), Relaxed);
        self.hash_value.store(n("hash-max-listpack-value"), Relaxed);
        self.set_intset.store(n("set-max-intset-entries"), Relaxed);
        self.zset_entries
            .store(n("zset-max-listpack-entries"), Relaxed);
        self.zset_value.store(n("zset-max-listpack-value"), Relaxed);
    }

    /// `hash-max-listpack-entries` and `-value`.
    pub fn hash(&self) -> HashLimits {
        HashLimits {
            entries: self.hash_entries.load(Relaxed),
            value: self.hash_value.load(Relaxed),
        }
    }

    /// `set-max-intset-entries`.
    pub fn set_intset(&self) -> usize {
        self.set_intset.load(Relaxed)
    }

    /// `zset-max-listpack-entries` and `-value`.
    pub fn zset(&self) -> (usize, usize) {
        (
            self.zset_entries.load(Relaxed),
            self.zset_value.load(Relaxed),
        )
    }
}
