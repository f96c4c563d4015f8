//! A pool of large value buffers. A freshly mapped 128 MiB buffer costs a page fault per 4 KiB on
//! first touch, which in these VMs runs at 250-2500 MB/s, slower than the network; a buffer that
//! a dropped value gave back is already mapped. Buffers idle for [`DECAY`] are returned to the
//! system, like jemalloc's dirty-page decay, so an idle server does not hold them.

use bytes::Bytes;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Buffers at least this large are pooled.
pub const POOL_MIN: usize = 1 << 20;
/// How long an unused buffer is kept.
pub const DECAY: Duration = Duration::from_secs(2);
/// At most this many bytes are kept idle.
const MAX_IDLE: usize = 1 << 30;

struct Idle {
    since: Instant,
    buf: Vec<u8>,
}

static POOL: Mutex<Vec<Idle>> = Mutex::new(Vec::new());
/// The capacity held in `POOL`, changed under its lock: `used_memory` reads it before every write
/// under `maxmemory`, from every worker, so it must not take the lock.
static IDLE: AtomicUsize = AtomicUsize::new(0);

fn pool() -> std::sync::MutexGuard<'static, Vec<Idle>> {
    POOL.lock().unwrap_or_else(|e| e.into_inner())
}

/// An empty buffer with room for exactly `cap` bytes, reused when one of a close size is idle.
pub fn take(cap: usize) -> Vec<u8> {
    if cap >= POOL_MIN {
        let mut p = pool();
        // Close in size only, so a small value never pins a much larger buffer.
        if let Some(i) = p
            .iter()
            .position(|b| b.buf.capacity() >= cap && b.buf.capacity() <= cap + cap / 8)
        {
            let mut v = p.swap_remove(i).buf;
            IDLE.fetch_sub(v.capacity(), Relaxed);
            v.clear();
            return v;
        }
    }
    Vec::with_capacity(cap)
}

/// Frees buffers idle for longer than [`DECAY`]; the server calls it periodically.
pub fn purge() {
    let now = Instant::now();
    let stale: Vec<Idle> = {
        let mut p = pool();
        let (keep, stale): (Vec<Idle>, Vec<Idle>) = p
            .drain(..)
            .partition(|b| now.duration_since(b.since) < DECAY);
        *p = keep;
        IDLE.fetch_sub(stale.iter().map(|b| b.buf.capacity()).sum(), Relaxed);
        stale
    };
    drop(stale); // Freed outside the lock.
}

/// Frees every idle buffer at once (memory pressure).
pub fn clear() {
    let all = {
        let mut p = pool();
        IDLE.fetch_sub(p.iter().map(|b| b.buf.capacity()).sum(), Relaxed);
        std::mem::take(&mut *p)
    };
    drop(all);
}

/// Bytes held idle in the pool.
pub fn idle_bytes() -> usize {
    IDLE.load(Relaxed)
}

/// Owner of a pooled buffer inside a `Bytes`: gives the buffer back when the value is dropped.
struct Pooled(Vec<u8>);

impl AsRef<[u8]> for Pooled {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl Drop for Pooled {
    fn drop(&mut self) {
        let buf = std::mem::take(&mut self.0);
        let mut p = pool();
        if IDLE.load(Relaxed) + buf.capacity() <= MAX_IDLE {
            IDLE.fetch_add(buf.capacity(), Relaxed);
            p.push(Idle {
                since: Instant::now(),
                buf,
            });
        }
    }
}

/// Turns a filled buffer into a value whose storage returns to the pool when dropped.
pub fn freeze(buf: Vec<u8>) -> Bytes {
    if buf.capacity() >= POOL_MIN {
        Bytes::from_owner(Pooled(buf))
    } else {
        Bytes::from(buf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dropped_value_lends_its_buffer_to_the_next() {
        let mut v = take(3 << 20);
        v.resize(3 << 20, 1);
        let ptr = v.as_ptr();
        let b = freeze(v);
        assert_eq!(b.len(), 3 << 20);
        drop(b);
        let again = take(3 << 20);
        assert_eq!(again.as_ptr(), ptr);
        assert!(again.is_empty());
        // The pool is shared with the other tests of this binary: its idle count agrees with
        // what it holds, whatever they left there.
        let p = pool();
        let held: usize = p.iter().map(|b| b.buf.capacity()).sum();
        assert_eq!(idle_bytes(), held);
    }
}
