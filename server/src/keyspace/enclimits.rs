//! The `*-max-listpack-*` / `set-max-intset-entries` settings as the write path of every
//! HSET/SADD/ZADD reads them: straight from the configuration, one relaxed load each.

use super::HashLimits;
use crate::config::{params, Config};

/// Encoding thresholds in force, read through the configuration they come from.
#[derive(Debug, Clone, Copy)]
pub struct EncodingLimits<'a>(&'a Config);

/// A negative or huge setting as a count or length (Redis's `size_t` fields).
fn size(v: u64) -> usize {
    usize::try_from(v).unwrap_or(usize::MAX)
}

impl<'a> EncodingLimits<'a> {
    /// The thresholds of `c`.
    pub fn new(c: &'a Config) -> Self {
        EncodingLimits(c)
    }

    /// `hash-max-listpack-entries` and `-value`.
    pub fn hash(&self) -> HashLimits {
        HashLimits {
            entries: size(self.0.get(params::HASH_MAX_LISTPACK_ENTRIES).max(0) as u64),
            value: size(self.0.get(params::HASH_MAX_LISTPACK_VALUE)),
        }
    }

    /// `set-max-intset-entries`.
    pub fn set_intset(&self) -> usize {
        size(self.0.get(params::SET_MAX_INTSET_ENTRIES).max(0) as u64)
    }

    /// `zset-max-listpack-entries` and `-value`.
    pub fn zset(&self) -> (usize, usize) {
        (
            size(self.0.get(params::ZSET_MAX_LISTPACK_ENTRIES).max(0) as u64),
            size(self.0.get(params::ZSET_MAX_LISTPACK_VALUE)),
        )
    }
}
