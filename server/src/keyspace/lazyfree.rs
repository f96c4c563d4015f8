//! Freeing large values off the worker threads, as Redis's lazyfree does for UNLINK.
//!
//! Dropping a 10-million-element collection walks every element (seconds), and unmapping a
//! 512 MiB string returns 131,072 pages to the kernel: done where the key left the map, both
//! would hold the shard lock and the worker that serves many other clients. Every value whose
//! freeing costs more than [`THRESHOLD`] ([`effort`]) is handed to one background thread
//! instead, whatever command removed it (DEL and FLUSHALL SYNC too: respd never frees a large
//! value inline). `used_memory` stays truthful: the counting allocator sees the bytes go when
//! the thread actually frees them. INFO shows `lazyfree_pending_objects` and `lazyfreed_objects`
//! as Redis counts them (one per value, one per key of a flushed database).

use super::key::Key;
use super::value::{Entry, Value};
use super::KeyHasher;
use bytes::Bytes;
use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::mpsc::{sync_channel, SyncSender, TrySendError};
use std::sync::OnceLock;

/// Redis's `LAZYFREE_THRESHOLD`: a value whose effort is above it is freed in the background.
pub const THRESHOLD: usize = 64;

/// Bytes of a string counted as one unit of effort: a string above 4 MiB goes to the thread
/// (below that, returning its pages costs well under a millisecond).
const STR_UNIT: usize = 64 * 1024;

/// Jobs queued at most; past that the remover frees inline, so memory waiting to be freed
/// stays bounded when values are removed faster than one thread frees them.
const QUEUE: usize = 1024;

/// Values queued and not yet freed (`lazyfree_pending_objects`).
static PENDING: AtomicU64 = AtomicU64::new(0);
/// Values freed by the thread since the start or CONFIG RESETSTAT (`lazyfreed_objects`).
static FREED: AtomicU64 = AtomicU64::new(0);

/// What FLUSHDB takes out of a shard.
pub type Flushed = (HashMap<Key, Entry, KeyHasher>, BTreeSet<(u64, Bytes)>);

enum Job {
    Value(Value),
    /// A flushed database shard's map and expiry index, counted as its number of keys.
    Map(Box<Flushed>, u64),
}

/// What freeing `v` costs, in Redis's units: elements for a collection (Redis's
/// `lazyfreeGetFreeEffort`), and for a string its size in 64 KiB (Redis counts a string as 1;
/// respd's strings are large enough that unmapping them matters).
pub fn effort(v: &Value) -> usize {
    match v {
        Value::Str(b) => 1 + b.len() / STR_UNIT,
        Value::List(l) => l.len(),
        Value::Hash(h) => h.len(),
        Value::Set(s) => s.len(),
        Value::ZSet(z) => z.len(),
        Value::Stream(s) => s.len(),
    }
}

fn sender() -> Option<&'static SyncSender<Job>> {
    static TX: OnceLock<Option<SyncSender<Job>>> = OnceLock::new();
    TX.get_or_init(|| {
        let (tx, rx) = sync_channel::<Job>(QUEUE);
        let spawned = std::thread::Builder::new()
            .name("respd-lazyfree".into())
            .spawn(move || {
                for job in rx {
                    let n = match job {
                        Job::Value(v) => {
                            drop(v);
                            1
                        }
                        Job::Map(m, n) => {
                            drop(m);
                            n
                        }
                    };
                    PENDING.fetch_sub(n, Relaxed);
                    FREED.fetch_add(n, Relaxed);
                }
            });
        match spawned {
            Ok(_) => Some(tx),
            Err(e) => {
                // Without the thread everything is freed inline, as before.
                tracing::warn!("cannot start the lazyfree thread: {e}");
                None
            }
        }
    })
    .as_ref()
}

/// Queues `job` counted as `n` objects; gives it back when the queue is full or absent.
fn queue(job: Job, n: u64) -> Option<Job> {
    let Some(tx) = sender() else {
        return Some(job);
    };
    PENDING.fetch_add(n, Relaxed);
    match tx.try_send(job) {
        Ok(()) => None,
        Err(TrySendError::Full(j) | TrySendError::Disconnected(j)) => {
            PENDING.fetch_sub(n, Relaxed);
            Some(j)
        }
    }
}

/// Frees a value that left the keyspace: in the background when it is large.
pub fn free_value(v: Value) {
    if effort(&v) > THRESHOLD {
        drop(queue(Job::Value(v), 1));
    }
}

/// Frees a removed entry (its key is small, and freed where it is).
pub fn free_entry(e: Entry) {
    free_value(e.value)
}

/// Frees a flushed shard's map. `all` (FLUSHALL/FLUSHDB ASYNC, as Redis's `emptyDbAsync`) hands
/// it over whole, counted as its keys; otherwise a map of more than [`THRESHOLD`] keys goes
/// whole and a smaller one is freed here, its large values excepted.
pub fn free_map(m: Flushed, all: bool) {
    let n = m.0.len();
    if n == 0 {
        return;
    }
    if all || n > THRESHOLD {
        drop(queue(Job::Map(Box::new(m), n as u64), n as u64));
        return;
    }
    for (_, e) in m.0 {
        free_entry(e);
    }
}

/// `lazyfree_pending_objects`.
pub fn pending() -> u64 {
    PENDING.load(Relaxed)
}

/// `lazyfreed_objects`.
pub fn freed() -> u64 {
    FREED.load(Relaxed)
}

/// CONFIG RESETSTAT: `lazyfreed_objects` back to 0, as Redis's `lazyfreeResetStats`.
pub fn reset_stats() {
    FREED.store(0, Relaxed);
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::VecDeque;

    fn wait_idle() {
        for _ in 0..1000 {
            if pending() == 0 {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        panic!("lazyfree thread did not drain");
    }

    #[test]
    fn large_values_go_to_the_thread_small_ones_do_not() {
        let list = |n: usize| Value::List((0..n).map(|_| Bytes::new()).collect::<VecDeque<_>>());
        assert!(effort(&list(64)) <= THRESHOLD);
        assert!(effort(&list(65)) > THRESHOLD);
        assert!(effort(&Value::Str(Bytes::from(vec![0u8; 1 << 20]))) <= THRESHOLD);
        assert!(effort(&Value::Str(Bytes::from(vec![0u8; 8 << 20]))) > THRESHOLD);
        let before = freed();
        free_value(list(65));
        free_value(Value::Str(Bytes::from(vec![0u8; 8 << 20])));
        wait_idle();
        // Other tests of this process may free at the same time: at least these two.
        assert!(
            freed() - before >= 2,
            "two large values freed in the background"
        );
    }
}
