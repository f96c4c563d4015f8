//! The registry of clients blocked on keys (BLPOP, BLMOVE, BZPOPMIN, XREAD BLOCK, ...).
//!
//! A blocking handler that finds nothing sets `Session::block`; its connection then registers a
//! waiter here ([`Blocking::register`]), queued FIFO on each of its keys. A command that may feed
//! a key calls `Shared::signal_ready`, which only marks the key ready ([`Blocking::signal`]).
//! Once that command is done, the connection layer (`connection::blocking::serve_ready`) takes
//! the ready keys ([`Blocking::pop_ready`]), claims each waiter in turn ([`Blocking::claim`]),
//! runs its command again and records what it found ([`Blocking::settle`]); a waiter whose wait
//! is over finds its reply with [`Blocking::take_result`]. Timeouts ([`Blocking::expire`]) and
//! CLIENT UNBLOCK ([`Blocking::unblock`]) leave a re-run under way alone: it decides.

use crate::resp::Reply;
use crate::state::ClientHandle;
use bytes::Bytes;
use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;
use tokio::sync::Notify;

/// A blocking command that found nothing to serve. Its handler sets `Session::block` (outside
/// MULTI, and only if the timeout has not passed) and returns any reply, which is discarded; the
/// connection then waits until one of `keys` is signalled ready (`Shared::signal_ready`), the
/// deadline passes (it then sends `timeout_reply`) or the client goes away, and runs the same
/// command again.
#[derive(Debug, Clone)]
pub struct BlockOn {
    pub keys: Vec<Bytes>,
    pub deadline: Option<Instant>,
    pub timeout_reply: Reply,
    /// The arguments to run again instead of the original ones, when the first run resolved
    /// something that must not be resolved again (XREAD's `$` becomes the stream's last ID at
    /// the time of the first call). None: run the original arguments.
    pub rerun_args: Option<Vec<Bytes>>,
}

/// One blocked client.
struct Slot {
    db: usize,
    keys: Vec<Bytes>,
    args: Vec<Bytes>,
    resp: u8,
    handle: Arc<ClientHandle>,
    block: BlockOn,
    /// Its command is being re-run by some connection right now.
    running: bool,
    /// The reply that ends the wait, once there is one.
    result: Option<Reply>,
    notify: Arc<Notify>,
}

#[derive(Default)]
struct Inner {
    /// (db, key) → waiting client ids, first blocked first.
    queues: HashMap<(usize, Bytes), VecDeque<u64>>,
    slots: HashMap<u64, Slot>,
    /// Keys signalled since the last `serve_ready`, in signal order.
    ready: VecDeque<(usize, Bytes)>,
    ready_set: HashSet<(usize, Bytes)>,
}

impl Inner {
    fn unqueue(&mut self, id: u64) {
        let Some(s) = self.slots.get(&id) else {
            return;
        };
        for k in &s.keys {
            let qk = (s.db, k.clone());
            if let Some(q) = self.queues.get_mut(&qk) {
                q.retain(|x| *x != id);
                if q.is_empty() {
                    self.queues.remove(&qk);
                }
            }
        }
    }

    /// Ends a wait with `reply`: out of every queue, the reply left for the waiter to take.
    fn finish(&mut self, id: u64, reply: Reply) {
        self.unqueue(id);
        if let Some(s) = self.slots.get_mut(&id) {
            s.running = false;
            s.result = Some(reply);
            s.notify.notify_one();
        }
    }
}

/// The registry of blocked clients.
#[derive(Default)]
pub struct Blocking {
    inner: Mutex<Inner>,
    /// Registered waiters: pushes skip the lock entirely while nobody waits.
    waiters: AtomicUsize,
    has_ready: AtomicBool,
}

impl Blocking {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Number of clients blocked now (INFO `blocked_clients`).
    pub fn blocked(&self) -> usize {
        self.waiters.load(Relaxed)
    }

    /// Whether client `id` waits in a blocking command (CLIENT LIST flag `b`).
    pub fn is_blocked(&self, id: u64) -> bool {
        self.waiters.load(Relaxed) > 0 && self.lock().slots.contains_key(&id)
    }

    /// Marks `key` ready if someone waits on it (`Shared::signal_ready`).
    pub fn signal(&self, db: usize, key: &[u8]) {
        if self.waiters.load(Relaxed) == 0 {
            return;
        }
        let mut g = self.lock();
        let k = (db, Bytes::copy_from_slice(key));
        if g.queues.contains_key(&k) && g.ready_set.insert(k.clone()) {
            g.ready.push_back(k);
            self.has_ready.store(true, Relaxed);
        }
    }

    /// Marks every key someone waits on in `db` ready (SWAPDB brought in a new database).
    pub fn signal_db(&self, db: usize) {
        if self.waiters.load(Relaxed) == 0 {
            return;
        }
        let mut g = self.lock();
        let keys: Vec<(usize, Bytes)> = g.queues.keys().filter(|k| k.0 == db).cloned().collect();
        for k in keys {
            if g.ready_set.insert(k.clone()) {
                g.ready.push_back(k);
                self.has_ready.store(true, Relaxed);
            }
        }
    }

    /// Queues client `id` (in `db`, speaking `resp`) behind the others waiting on its keys; its
    /// command `args` runs again when one of them is signalled. The `Notify` fires when the
    /// wait is over ([`Blocking::take_result`]).
    pub fn register(
        &self,
        client: &Arc<ClientHandle>,
        db: usize,
        resp: u8,
        args: &[Bytes],
        block: BlockOn,
    ) -> Arc<Notify> {
        let id = client.id;
        let notify = Arc::new(Notify::new());
        let mut g = self.lock();
        for k in &block.keys {
            let q = g.queues.entry((db, k.clone())).or_default();
            if !q.contains(&id) {
                q.push_back(id);
            }
        }
        g.slots.insert(
            id,
            Slot {
                db,
                keys: block.keys.clone(),
                // XREAD's `$` stays what it meant at the first call.
                args: block.rerun_args.clone().unwrap_or_else(|| args.to_vec()),
                resp,
                handle: client.clone(),
                block,
                running: false,
                result: None,
                notify: notify.clone(),
            },
        );
        self.waiters.fetch_add(1, Relaxed);
        notify
    }

    /// Forgets a client's wait, if it has one (its connection is closing).
    pub fn forget(&self, id: u64) {
        if self.waiters.load(Relaxed) > 0 {
            self.remove(id);
        }
    }

    /// Forgets a waiter; returns its result if it had one.
    pub fn remove(&self, id: u64) -> Option<Reply> {
        let mut g = self.lock();
        g.unqueue(id);
        let s = g.slots.remove(&id)?;
        self.waiters.fetch_sub(1, Relaxed);
        s.result
    }

    /// The waiter's result, if its wait is over (the waiter is then forgotten).
    pub fn take_result(&self, id: u64) -> Option<Reply> {
        let mut g = self.lock();
        g.slots.get(&id)?.result.as_ref()?;
        let s = g.slots.remove(&id)?;
        self.waiters.fetch_sub(1, Relaxed);
        s.result
    }

    /// The deadline passed: ends the wait with the timeout reply, unless a re-run is under way
    /// (it then decides, and times the client out itself if it finds nothing).
    pub fn expire(&self, id: u64) -> bool {
        let mut g = self.lock();
        let Some(s) = g.slots.get(&id) else {
            return true;
        };
        if s.running || s.result.is_some() {
            return s.result.is_some();
        }
        let r = s.block.timeout_reply.clone();
        g.finish(id, r);
        true
    }

    /// CLIENT UNBLOCK: ends a client's wait with its timeout reply or with `error`. Returns
    /// whether the client was blocked.
    pub fn unblock(&self, id: u64, error: Option<Reply>) -> bool {
        let mut g = self.lock();
        let Some(s) = g.slots.get(&id) else {
            return false;
        };
        if s.running || s.result.is_some() {
            return false;
        }
        let r = error.unwrap_or_else(|| s.block.timeout_reply.clone());
        g.finish(id, r);
        true
    }

    /// Whether a key was signalled since the last [`Blocking::pop_ready`] emptied the list.
    pub fn has_ready(&self) -> bool {
        self.has_ready.load(Relaxed)
    }

    /// The next key signalled ready and the clients waiting on it, first blocked first.
    pub fn pop_ready(&self) -> Option<((usize, Bytes), Vec<u64>)> {
        let mut g = self.lock();
        loop {
            let Some(k) = g.ready.pop_front() else {
                self.has_ready.store(false, Relaxed);
                return None;
            };
            g.ready_set.remove(&k);
            if let Some(q) = g.queues.get(&k) {
                let ids: Vec<u64> = q.iter().copied().collect();
                return Some((k, ids));
            }
        }
    }

    /// Marks client `id`'s command as being run again and returns what the re-run needs; None
    /// if it is gone, already being re-run, or already answered.
    pub fn claim(&self, id: u64) -> Option<Job> {
        let mut g = self.lock();
        let s = g.slots.get_mut(&id)?;
        if s.running || s.result.is_some() {
            return None;
        }
        s.running = true;
        Some(Job {
            db: s.db,
            args: s.args.clone(),
            resp: s.resp,
            handle: s.handle.clone(),
            deadline: s.block.deadline,
            timeout_reply: s.block.timeout_reply.clone(),
        })
    }

    /// Records what a claimed re-run found: `served` ends the wait with that reply; None (it
    /// would block again) ends it with the timeout reply if the deadline has passed, and
    /// otherwise leaves the client waiting where it was. Returns whether it still waits.
    pub fn settle(&self, id: u64, job: Job, served: Option<Reply>) -> bool {
        let mut g = self.lock();
        if !g.slots.contains_key(&id) {
            return false; // The client went away meanwhile.
        }
        if let Some(reply) = served {
            g.finish(id, reply);
            return false;
        }
        if job.deadline.is_some_and(|d| d <= Instant::now()) {
            g.finish(id, job.timeout_reply);
            return false;
        }
        if let Some(s) = g.slots.get_mut(&id) {
            s.running = false;
        }
        true
    }
}

/// What a re-run needs to act as the blocked client ([`Blocking::claim`]).
pub struct Job {
    pub db: usize,
    pub args: Vec<Bytes>,
    pub resp: u8,
    pub handle: Arc<ClientHandle>,
    pub deadline: Option<Instant>,
    pub timeout_reply: Reply,
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A client's handle, as a connection registers it, and the queue its pushes arrive on.
    use crate::state::client::tests::handle;

    fn b(s: &str) -> Bytes {
        Bytes::copy_from_slice(s.as_bytes())
    }

    /// Registers client `id` in `db` as blocked on `keys` (BLPOP-like, timeout reply nil).
    fn block(reg: &Blocking, id: u64, db: usize, keys: &[&str]) {
        let keys: Vec<Bytes> = keys.iter().map(|k| b(k)).collect();
        let mut args = vec![b("BLPOP")];
        args.extend(keys.iter().cloned());
        args.push(b("0"));
        let on = BlockOn {
            keys,
            deadline: None,
            timeout_reply: Reply::NilArray,
            rerun_args: None,
        };
        reg.register(&handle(id), db, 2, &args, on);
    }

    #[test]
    fn ready_keys_come_in_signal_order_with_waiters_first_blocked_first() {
        let reg = Blocking::default();
        block(&reg, 5, 0, &["a", "b"]);
        block(&reg, 2, 0, &["b"]);
        block(&reg, 9, 0, &["a", "b"]);
        block(&reg, 7, 1, &["a"]);
        assert_eq!(reg.blocked(), 4);
        assert!(reg.is_blocked(2) && !reg.is_blocked(3));
        // Keys nobody waits on (here: in db 2) are not marked; a key signalled twice is ready once.
        reg.signal(2, b"a");
        reg.signal(0, b"b");
        reg.signal(0, b"a");
        reg.signal(0, b"b");
        assert_eq!(reg.pop_ready(), Some(((0, b("b")), vec![5, 2, 9])));
        assert_eq!(reg.pop_ready(), Some(((0, b("a")), vec![5, 9])));
        assert_eq!(reg.pop_ready(), None);
        reg.signal_db(1);
        assert_eq!(reg.pop_ready(), Some(((1, b("a")), vec![7])));
        assert_eq!(reg.pop_ready(), None);
    }

    #[test]
    fn an_ended_wait_leaves_every_queue_and_keeps_its_reply() {
        let reg = Blocking::default();
        for id in [1, 2, 3] {
            block(&reg, id, 0, &["k", "j"]);
        }
        // CLIENT UNBLOCK with an error, and a timeout: both replies wait for their client.
        assert!(reg.unblock(2, Some(Reply::error("UNBLOCKED by test"))));
        assert!(!reg.unblock(2, None), "already unblocked");
        assert!(!reg.unblock(42, None), "never blocked");
        assert!(reg.expire(3));
        reg.signal(0, b"j");
        assert_eq!(reg.pop_ready(), Some(((0, b("j")), vec![1])));
        assert_eq!(reg.take_result(1), None, "still waiting");
        assert_eq!(reg.take_result(2), Some(Reply::error("UNBLOCKED by test")));
        assert_eq!(reg.take_result(3), Some(Reply::NilArray));
        assert_eq!(reg.blocked(), 1);
        // A client that goes away is forgotten, and so are the queues it was alone in.
        reg.forget(1);
        assert_eq!(reg.blocked(), 0);
        assert!(reg.lock().queues.is_empty() && reg.lock().slots.is_empty());
        reg.signal(0, b"k");
        assert_eq!(reg.pop_ready(), None);
    }

    #[test]
    fn a_rerun_in_progress_is_not_timed_out_or_unblocked() {
        let reg = Blocking::default();
        block(&reg, 1, 0, &["k"]);
        reg.lock().slots.get_mut(&1).expect("slot").running = true;
        assert!(!reg.expire(1));
        assert!(!reg.unblock(1, None));
        assert_eq!(reg.blocked(), 1);
    }
}
