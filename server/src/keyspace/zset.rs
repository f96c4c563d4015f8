//! Sorted sets (filled in by the data-types work).

/// A sorted set.
#[derive(Debug, Clone, Default)]
pub struct ZSet {}

impl ZSet {
    pub fn len(&self) -> usize {
        0
    }
    pub fn is_empty(&self) -> bool {
        true
    }
    pub fn mem_usage(&self) -> usize {
        64
    }
}
