//! Point-in-time snapshots without a copy: copy-on-first-write, per key.
//!
//! [`Keyspace::snapshot_begin`] takes every shard's lock once (no per-key work) and gives each
//! shard the snapshot's epoch. From then on a key's contents at that cut are in exactly one of
//! two places until the snapshot's reader has them:
//! - in the map, unchanged, while the entry's `saved` differs from the epoch;
//! - in the shard's pre-images, when a write changed or removed it first: every mutation path
//!   of the keyspace calls [`Shard::keep_old`] / [`Shard::keep_removed`] before it changes an
//!   entry, which moves (removal, overwrite) or clones (change in place) the old entry there and
//!   marks the key saved. Keys created after the cut are marked saved when created.
//!
//! The reader walks database by database, shard by shard: it collects the shard's keys
//! ([`Keyspace::snapshot_keys`]), then takes the unsaved ones in small batches under the lock
//! ([`Keyspace::snapshot_take`], which also hands over the pre-images), and finally
//! [`Keyspace::snapshot_finish`] ends the snapshot for that shard, so writes there stop paying
//! anything. A reader must walk to the end even if it stops writing (a failed save): every key
//! then carries the epoch, which is what lets the next snapshot's epoch tell saved from unsaved.
//!
//! SWAPDB moves a shard's snapshot state with its map (the state follows the contents: the
//! reader finds database `d`'s contents at the cut by `origin`), FLUSHDB moves unsaved entries
//! to the pre-images (no copy: they were going to be dropped).

use super::{lock, Entry, Key, Keyspace, Shard};
use bytes::Bytes;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::Arc;

/// The pre-images made during a snapshot and not yet written by its reader, over every shard.
/// Writes keep old values alive until the reader has them; when clients overwrite faster than
/// the reader writes, those pile up (a point-in-time file needs every old value until it is
/// written). Past `limit` bytes the server makes write commands wait (see
/// [`Keyspace::save_backlog_full`]) until the reader has written them, so memory during a save
/// stays within the data plus `limit`, instead of growing with the overwrite rate.
#[derive(Default)]
pub(crate) struct Backlog {
    /// Pre-images made since the reader last swept them up.
    count: AtomicUsize,
    /// Their bytes (as `Value::mem_usage` counts them).
    bytes: AtomicUsize,
    /// The bound; 0 when no snapshot runs.
    limit: AtomicUsize,
    /// Woken whenever the reader wrote a pre-image, or the snapshot ended.
    taken: tokio::sync::Notify,
}

impl Backlog {
    fn add(&self, n: usize, bytes: usize) {
        self.count.fetch_add(n, Relaxed);
        self.bytes.fetch_add(bytes, Relaxed);
    }

    fn written(&self, bytes: usize) {
        // Saturating: the snapshot may have ended (and zeroed the count) meanwhile.
        let _ = self
            .bytes
            .fetch_update(Relaxed, Relaxed, |b| Some(b.saturating_sub(bytes)));
        self.taken.notify_waiters();
    }
}

/// What a pre-image counts in the backlog: its key and value, and what holding them costs
/// besides (the entry, the key's allocation, the pre-image list's slot), which for small values
/// is as much as the value itself.
fn entry_bytes(k: &[u8], e: &Entry) -> usize {
    const HELD: usize = std::mem::size_of::<(Bytes, Entry)>() + 32;
    k.len() + e.value.mem_usage() + HELD
}

/// A shard's part in the running (or last) snapshot.
#[derive(Default)]
pub(crate) struct ShardSnap {
    /// Epoch of the last snapshot begun (0: none). Never 0 once one began, so an entry made
    /// outside a shard (`saved == 0`) is always unsaved.
    pub(crate) epoch: u16,
    /// Whether that snapshot still needs this shard's contents.
    pub(crate) active: bool,
    /// The database whose contents at the cut this shard holds (SWAPDB moves contents).
    pub(crate) origin: usize,
    /// Entries as they were at the cut, taken out by writes before the reader got them.
    pub(crate) pre: Vec<(Bytes, Entry)>,
    /// The keyspace's account of pre-images not yet written by the reader.
    backlog: Arc<Backlog>,
}

impl ShardSnap {
    fn push(&mut self, k: Bytes, e: Entry) {
        let n = entry_bytes(&k, &e);
        self.pre.push((k, e));
        self.backlog.add(1, n);
    }

    /// Hands the pre-images over to the reader, which reports each written
    /// ([`Keyspace::snapshot_written`]): until then they count in the backlog.
    fn take_pre(&mut self) -> Vec<(Bytes, Entry)> {
        std::mem::take(&mut self.pre)
    }
}

impl Shard {
    /// Before `key` changes in place (or its TTL does): keeps a clone of its entry if the
    /// running snapshot still needs it. One branch when no snapshot runs.
    #[inline]
    pub(crate) fn keep_old(&mut self, key: &[u8]) {
        if self.snap.active {
            self.keep_old_slow(key);
        }
    }

    #[cold]
    fn keep_old_slow(&mut self, key: &[u8]) {
        let epoch = self.snap.epoch;
        if let Some((k, e)) = self.map.get_key_value(key) {
            if e.saved != epoch {
                let (k, e) = (k.to_bytes(), e.clone());
                self.snap.push(k, e);
                if let Some(e) = self.map.get_mut(key) {
                    e.saved = epoch;
                }
            }
        }
    }

    /// After `e` left the map (removed, expired, evicted, overwritten): keeps it if the running
    /// snapshot still needs it; a move, no copy.
    #[inline]
    pub(crate) fn keep_removed(&mut self, key: impl FnOnce() -> Bytes, e: Entry) {
        if self.snap.active && e.saved != self.snap.epoch {
            self.snap.push(key(), e);
        } else {
            super::lazyfree::free_entry(e);
        }
    }

    /// The mark of an entry created now: saved by the running snapshot (not in it).
    #[inline]
    pub(crate) fn stamp(&self) -> u16 {
        self.snap.epoch
    }

    /// Empties the map and the expiry index, keeping for the running snapshot what it still
    /// needs (FLUSHDB); the rest is freed off this thread when large (`lazy`: FLUSHDB ASYNC).
    pub(crate) fn take_all(&mut self, lazy: bool) {
        let map = std::mem::take(&mut self.map);
        let expires = std::mem::take(&mut self.expires);
        if self.snap.active {
            let epoch = self.snap.epoch;
            let mut rest = std::collections::HashMap::default();
            for (k, e) in map {
                if e.saved != epoch {
                    self.snap.push(k.to_bytes(), e);
                } else {
                    rest.insert(k, e);
                }
            }
            super::lazyfree::free_map((rest, expires), lazy);
            return;
        }
        super::lazyfree::free_map((map, expires), lazy);
    }
}

/// What a snapshot's cut saw: its epoch, and per non-empty database (db, keys, keys with a TTL).
#[derive(Debug)]
pub struct Cut {
    pub epoch: u16,
    pub dbs: Vec<(usize, usize, usize)>,
    /// [`Keyspace::changes`] at the cut.
    pub changes: u64,
}

/// Most keys looked up per lock hold by [`Keyspace::snapshot_take`].
pub const TAKE_KEYS: usize = 256;

impl Keyspace {
    /// Begins a snapshot: the cut is now, with every shard locked (O(shards), no per-key work).
    /// `at_cut` runs under those locks (the AOF rewrite switches files there). None when a
    /// snapshot is already running.
    pub fn snapshot_begin(&self, at_cut: impl FnOnce()) -> Option<Cut> {
        let mut locked = self.lock_all();
        let guards = &mut locked.guards;
        if guards.iter().any(|(_, _, g)| g.snap.active) {
            return None;
        }
        // Epochs run 1..=u16::MAX and wrap past 0: 0 marks entries never seen by a shard.
        let epoch = match guards[0].2.snap.epoch.wrapping_add(1) {
            0 => 1,
            e => e,
        };
        let mut dbs: Vec<(usize, usize, usize)> = Vec::new();
        let mut changes = 0;
        for (db, _, g) in guards.iter_mut() {
            g.snap = ShardSnap {
                epoch,
                active: true,
                origin: *db,
                pre: Vec::new(),
                backlog: self.snap_backlog.clone(),
            };
            changes += g.changes;
            match dbs.last_mut() {
                Some(last) if last.0 == *db => {
                    last.1 += g.map.len();
                    last.2 += g.expires.len();
                }
                _ => dbs.push((*db, g.map.len(), g.expires.len())),
            }
        }
        dbs.retain(|d| d.1 > 0);
        at_cut();
        Some(Cut {
            epoch,
            dbs,
            changes,
        })
    }

    /// Runs `f` on the shard holding database `db`'s shard `si` as it was at the cut.
    fn with_origin<R>(&self, db: usize, si: usize, mut f: impl FnMut(&mut Shard) -> R) -> R {
        {
            let mut s = lock(&self.dbs[db].shards[si]);
            if s.snap.origin == db {
                return f(&mut s);
            }
        }
        // SWAPDB moved it: look in the other databases. A swap between two looks can move it
        // behind this scan, so scan until found (it is always in exactly one shard).
        loop {
            for d in &self.dbs {
                let mut s = lock(&d.shards[si]);
                if s.snap.origin == db {
                    return f(&mut s);
                }
            }
        }
    }

    /// The keys now in the shard holding `db`'s shard `si` of the cut: every key of the cut
    /// still in the map is among them (the others are in its pre-images).
    pub fn snapshot_keys(&self, db: usize, si: usize) -> Vec<Key> {
        self.with_origin(db, si, |s| {
            if s.snap.active {
                s.map.keys().cloned().collect()
            } else {
                Vec::new()
            }
        })
    }

    /// Under one lock hold: hands over the shard's pre-images, then gives `take` the unsaved
    /// entries among the front of `keys` and marks them saved, until [`TAKE_KEYS`] keys were
    /// looked up or `take`'s costs add up to `budget`. Advances `keys` past those looked up.
    pub fn snapshot_take(
        &self,
        db: usize,
        si: usize,
        keys: &mut &[Key],
        budget: usize,
        mut take: impl FnMut(&Key, &Entry) -> usize,
    ) -> Vec<(Bytes, Entry)> {
        self.with_origin(db, si, |s| {
            let pre = s.snap.take_pre();
            if !s.snap.active {
                *keys = &[];
                return pre;
            }
            let epoch = s.snap.epoch;
            let (mut n, mut cost) = (0, 0);
            while let Some((k, rest)) = keys.split_first() {
                if n >= TAKE_KEYS || cost >= budget {
                    break;
                }
                *keys = rest;
                n += 1;
                if let Some(e) = s.map.get_mut(k.as_slice()) {
                    if e.saved != epoch {
                        cost += take(k, e);
                        e.saved = epoch;
                    }
                }
            }
            pre
        })
    }

    /// Takes the pre-images of every shard, each with the database of the cut it belongs to,
    /// if any were made since the last sweep (else nothing, without taking a lock). The reader
    /// sweeps between batches so that old values overwritten during a save are written and
    /// freed at once rather than when the walk reaches their shard: memory then grows by what
    /// clients overwrite between two batches, not by all they overwrite during the save.
    pub fn snapshot_sweep(&self) -> Vec<(usize, Vec<(Bytes, Entry)>)> {
        if self.snap_backlog.count.swap(0, Relaxed) == 0 {
            return Vec::new();
        }
        let mut out = Vec::new();
        for db in self.dbs.iter() {
            for s in db.shards.iter() {
                let mut s = lock(s);
                if !s.snap.pre.is_empty() {
                    let pre = s.snap.take_pre();
                    out.push((s.snap.origin, pre));
                }
            }
        }
        out
    }

    /// Ends the snapshot for `db`'s shard `si` of the cut (after [`Keyspace::snapshot_take`]
    /// went through all its keys); returns the last pre-images.
    pub fn snapshot_finish(&self, db: usize, si: usize) -> Vec<(Bytes, Entry)> {
        self.with_origin(db, si, |s| {
            s.snap.active = false;
            s.snap.take_pre()
        })
    }

    /// Ends a snapshot whose reader cannot go on (it panicked): every shard stops keeping
    /// pre-images. Entries it did not reach keep an older mark; only if epochs then wrapped
    /// around to exactly that mark (65,535 snapshots later) would one be skipped.
    pub fn snapshot_abort(&self) {
        for db in self.dbs.iter() {
            for s in db.shards.iter() {
                let mut s = lock(s);
                s.snap.active = false;
                drop(s.snap.take_pre());
            }
        }
        self.snapshot_end();
    }

    /// Sets the bound on pre-images not yet taken (see [`Backlog`]): `bytes` for the snapshot
    /// that begins now.
    pub fn set_save_backlog_limit(&self, bytes: usize) {
        self.snap_backlog.limit.store(bytes.max(1), Relaxed);
    }

    /// The reader wrote (or, failing, dropped) pre-image `(k, e)`: it no longer counts.
    pub fn snapshot_written(&self, k: &[u8], e: &Entry) {
        self.snap_backlog.written(entry_bytes(k, e));
    }

    /// Called when a snapshot's reader is done: writes no longer wait.
    pub fn snapshot_end(&self) {
        let b = &self.snap_backlog;
        b.limit.store(0, Relaxed);
        b.bytes.store(0, Relaxed);
        b.taken.notify_waiters();
    }

    /// Whether a write must wait for the running snapshot's reader before it runs: the
    /// pre-images not yet taken are over the bound. One load when no snapshot runs.
    #[inline]
    pub fn save_backlog_full(&self) -> bool {
        let b = &self.snap_backlog;
        let limit = b.limit.load(Relaxed);
        limit != 0 && b.bytes.load(Relaxed) >= limit
    }

    /// Waits until [`Keyspace::save_backlog_full`] is false.
    pub async fn save_backlog_wait(&self) {
        let b = &self.snap_backlog;
        loop {
            let taken = b.taken.notified();
            tokio::pin!(taken);
            taken.as_mut().enable();
            if !self.save_backlog_full() {
                return;
            }
            taken.await;
        }
    }

    /// Whether a snapshot is running in any shard.
    pub fn snapshot_running(&self) -> bool {
        self.dbs
            .iter()
            .flat_map(|d| d.shards.iter())
            .any(|s| lock(s).snap.active)
    }
}

/// SWAPDB's part: the snapshot state follows the contents it describes.
pub(crate) fn swap(x: &mut Shard, y: &mut Shard) {
    std::mem::swap(&mut x.snap, &mut y.snap);
}

#[cfg(test)]
mod tests {
    use super::super::{Keyspace, Value, SHARDS};
    use bytes::Bytes;
    use std::collections::BTreeMap;

    type Seen = BTreeMap<(usize, Vec<u8>), (String, Option<u64>)>;

    fn show(v: &Value) -> String {
        match v {
            Value::Str(s) => format!("str:{s:?}"),
            Value::List(l) => format!("list:{l:?}"),
            other => other.type_name().to_string(),
        }
    }

    /// Everything a reader would write, walking as `persist::snapshot` does (a key read twice
    /// would be a bug: asserted).
    fn walk(ks: &Keyspace, mut between: impl FnMut(usize, usize)) -> Seen {
        let mut seen = Seen::new();
        let mut add = |db: usize, k: &[u8], v: &Value, at: Option<u64>| {
            let old = seen.insert((db, k.to_vec()), (show(v), at));
            assert!(old.is_none(), "{k:?} written twice");
        };
        for db in 0..ks.db_count() {
            for si in 0..SHARDS {
                let keys = ks.snapshot_keys(db, si);
                let mut rest = &keys[..];
                loop {
                    // Small budgets, so a shard takes several holds and writes fall between.
                    let mut got = Vec::new();
                    let pre = ks.snapshot_take(db, si, &mut rest, 1, |k, e| {
                        got.push((k.to_bytes(), e.value.clone(), e.expire_at));
                        1
                    });
                    for (k, e) in pre {
                        add(db, &k, &e.value, e.expire_at);
                    }
                    for (k, v, at) in got {
                        add(db, &k, &v, at);
                    }
                    between(db, si);
                    for (origin, pre) in ks.snapshot_sweep() {
                        for (k, e) in pre {
                            add(origin, &k, &e.value, e.expire_at);
                        }
                    }
                    if rest.is_empty() {
                        break;
                    }
                }
                for (k, e) in ks.snapshot_finish(db, si) {
                    add(db, &k, &e.value, e.expire_at);
                }
            }
        }
        seen
    }

    /// Every key as it is now.
    fn state(ks: &Keyspace) -> Seen {
        let l = ks.lock_all();
        let mut out = Seen::new();
        for db in 0..ks.db_count() {
            for (k, e) in l.entries(db) {
                out.insert((db, k.to_vec()), (show(&e.value), e.expire_at));
            }
        }
        out
    }

    fn key(i: usize) -> Bytes {
        Bytes::from(format!("key:{i}"))
    }

    fn fill(ks: &Keyspace, db: usize, n: usize) {
        for i in 0..n {
            let k = key(i);
            let mut l = ks.lock_keys(db, &[&k]);
            let mut v = l.view(db);
            if i % 3 == 0 {
                let list = (0..5).map(|j| Bytes::from(format!("{i}.{j}"))).collect();
                v.set(&k, Value::List(list), None);
            } else {
                let at = (i % 5 == 0).then_some(u64::MAX / 2 + i as u64);
                v.set(&k, Value::Str(Bytes::from(format!("v{i}"))), at);
            }
        }
    }

    /// Writes of every kind to the keys of `db`, round `r`.
    fn scribble(ks: &Keyspace, db: usize, n: usize, r: usize) {
        for i in (r % 7..n).step_by(7) {
            let k = key(i);
            let mut l = ks.lock_keys(db, &[&k]);
            let mut v = l.view(db);
            match (i + r) % 6 {
                0 => v.set(&k, Value::Str(Bytes::from(format!("new{r}"))), None),
                1 => {
                    v.delete(&k);
                }
                2 => {
                    if let Some(e) = v.get_mut(&k) {
                        match &mut e.value {
                            Value::List(l) => l.push_back(Bytes::from("pushed")),
                            Value::Str(s) => *s = Bytes::from("changed in place"),
                            _ => {}
                        }
                    }
                }
                3 => {
                    v.set_expire(&k, Some(u64::MAX / 3));
                }
                4 => {
                    v.remove(&k);
                    v.set(&k, Value::Str(Bytes::from("recreated")), None);
                }
                _ => {
                    let fresh = Bytes::from(format!("fresh:{r}:{i}"));
                    drop(l);
                    let mut l = ks.lock_keys(db, &[&fresh]);
                    l.view(db).set(&fresh, Value::Str(Bytes::from("x")), None);
                }
            }
        }
    }

    #[test]
    fn an_entry_stays_64_bytes_with_its_snapshot_mark() {
        assert_eq!(std::mem::size_of::<super::Entry>(), 64);
    }

    #[test]
    fn writes_during_a_snapshot_leave_it_as_it_was_at_the_cut() {
        let ks = Keyspace::new(3);
        fill(&ks, 0, 2000);
        fill(&ks, 2, 300);
        let before = state(&ks);
        let cut = ks.snapshot_begin(|| ()).expect("no snapshot running");
        assert_eq!(cut.dbs.iter().map(|d| d.1).sum::<usize>(), 2300);
        assert!(ks.snapshot_begin(|| ()).is_none(), "one snapshot at a time");
        let mut round = 0;
        let seen = walk(&ks, |_, _| {
            round += 1;
            scribble(&ks, 0, 2000, round);
            scribble(&ks, 2, 300, round);
        });
        assert_ne!(state(&ks), before, "the writes changed the keyspace");
        assert_eq!(seen, before);
        assert!(!ks.snapshot_running());
        // The next snapshot sees the keyspace as the writes left it.
        let after = state(&ks);
        ks.snapshot_begin(|| ()).expect("begins");
        assert_eq!(walk(&ks, |_, _| ()), after);
    }

    #[test]
    fn flushdb_and_swapdb_during_a_snapshot_change_nothing_in_it() {
        let ks = Keyspace::new(4);
        fill(&ks, 0, 500);
        fill(&ks, 1, 200);
        fill(&ks, 3, 100);
        let before = state(&ks);
        ks.snapshot_begin(|| ()).expect("begins");
        let mut n = 0;
        let seen = walk(&ks, |db, si| {
            n += 1;
            let mut l = ks.lock_all();
            let mut v = l.view(0);
            match n {
                // In the middle of db 0: swap it away and back, then flush db 1 and swap 1/3.
                5 => v.swap_dbs(0, 2),
                9 => v.swap_dbs(2, 0),
                12 => {
                    v.flush(1);
                    v.swap_dbs(1, 3);
                }
                _ if db == 0 && si == 7 => v.swap_dbs(0, 1),
                _ => {}
            }
        });
        assert_eq!(seen, before);
    }

    #[test]
    fn a_snapshot_dropped_unwritten_still_marks_every_key() {
        // Epoch wrap: 70,000 snapshots that each see one key; a stale mark would hide it.
        let ks = Keyspace::new(1);
        fill(&ks, 0, 1);
        for _ in 0..70_000 {
            ks.snapshot_begin(|| ()).expect("begins");
            let seen = walk(&ks, |_, _| ());
            assert_eq!(seen.len(), 1);
        }
    }
}
