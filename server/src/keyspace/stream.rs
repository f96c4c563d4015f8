//! Streams (filled in by the data-types work).

/// A stream.
#[derive(Debug, Clone, Default)]
pub struct Stream {}

impl Stream {
    pub fn mem_usage(&self) -> usize {
        64
    }
}
