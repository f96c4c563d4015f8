//! The keyspace: 16 databases, each split into shards by key hash, each shard behind its own lock,
//! so clients working on different keys proceed in parallel. Handlers reach it through a [`View`]
//! that holds the locks of the shards they named, always taken in shard order.

mod enclimits;
mod evict;
pub mod hash;
mod key;
pub mod lazyfree;
pub mod set;
mod snap;
pub mod stream;
mod value;
pub mod zset;

pub use enclimits::EncodingLimits;
pub use evict::Policy;
pub use hash::{Hash, HashLimits};
pub use key::Key;
pub use set::Set;
pub use snap::{Cut, TAKE_KEYS};
pub use value::{Entry, StrHint, Value};

use bytes::Bytes;
use std::collections::{BTreeSet, HashMap};
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{SystemTime, UNIX_EPOCH};

/// Shards per database.
pub const SHARDS: usize = 16;

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// The hasher of the keyspace maps: keyed per process, and much faster than SipHash.
pub type KeyHasher = foldhash::fast::RandomState;

/// The shard a key lives in. One seed for the process, so shard order is stable for its life.
pub fn shard_of(key: &[u8]) -> usize {
    static SEED: std::sync::OnceLock<foldhash::fast::FixedState> = std::sync::OnceLock::new();
    let h = SEED
        .get_or_init(|| foldhash::fast::FixedState::with_seed(rand::random()))
        .hash_one(key);
    // The top bits: the maps inside a shard use their own seeds, so no correlation with them.
    (h >> 58) as usize % SHARDS
}

/// One shard of a database: its keys, the index of their expiry times, and the watchers of its keys.
#[derive(Default)]
pub struct Shard {
    pub(crate) map: HashMap<Key, Entry, KeyHasher>,
    /// (expiry time, key) of every key with a TTL, for active expiry.
    pub(crate) expires: BTreeSet<(u64, Bytes)>,
    /// Keys under WATCH, with the flags of the transactions watching them.
    pub(crate) watched: HashMap<Bytes, Vec<Arc<AtomicBool>>>,
    /// Modifications ever made here (never reset: a save remembers the sum it saw), for INFO's
    /// `rdb_changes_since_last_save`. Counted under the shard lock, so no shared cache line.
    changes: u64,
    /// This shard's part in a running snapshot (see `snap`).
    snap: snap::ShardSnap,
}

impl Shard {
    fn touch(&mut self, key: &[u8]) {
        self.changes += 1;
        if !self.watched.is_empty() {
            if let Some(ws) = self.watched.get(key) {
                for w in ws {
                    w.store(true, Ordering::Relaxed);
                }
            }
        }
    }

    /// Marks the watchers FLUSHDB or SWAPDB concern, as Redis does: keys present here, or live
    /// in `other`, the contents about to take this shard's place.
    fn touch_replaced(&self, other: Option<&HashMap<Key, Entry, KeyHasher>>, now: u64) {
        for (k, ws) in &self.watched {
            let live_in_other = other.is_some_and(|m| {
                m.get(&k[..])
                    .is_some_and(|e| e.expire_at.is_none_or(|t| t > now))
            });
            if self.map.contains_key(&k[..]) || live_in_other {
                for w in ws {
                    w.store(true, Ordering::Relaxed);
                }
            }
        }
    }

    /// Removes a key; a running snapshot that still needs it keeps it, and the caller gets a
    /// clone of it then (rarely wanted; most callers drop it).
    fn remove_entry(&mut self, key: &[u8]) -> Option<Entry> {
        let (k, e) = self.map.remove_entry(key)?;
        if let Some(t) = e.expire_at {
            self.expires.remove(&(t, k.to_bytes()));
        }
        if self.snap.active && e.saved != self.snap.epoch {
            let copy = e.clone();
            self.keep_removed(|| k.to_bytes(), e);
            return Some(copy);
        }
        Some(e)
    }

    /// Removes a key whose entry the caller does not want: a running snapshot that still needs
    /// it gets it moved, not cloned. Returns whether it was there.
    fn drop_entry(&mut self, key: &[u8]) -> bool {
        let Some((k, e)) = self.map.remove_entry(key) else {
            return false;
        };
        if let Some(t) = e.expire_at {
            self.expires.remove(&(t, k.to_bytes()));
        }
        self.keep_removed(|| k.to_bytes(), e);
        true
    }

    /// Number of keys (expired ones not yet reclaimed included, as Redis counts them).
    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

/// One database.
pub struct Db {
    shards: Box<[Mutex<Shard>]>,
}

impl Db {
    fn new(db: usize) -> Self {
        let shard = || {
            let mut s = Shard::default();
            s.snap.origin = db;
            Mutex::new(s)
        };
        Db {
            shards: (0..SHARDS).map(|_| shard()).collect(),
        }
    }
}

/// Counters kept by the keyspace, shown by INFO.
#[derive(Default)]
pub struct KsStats {
    pub hits: AtomicU64,
    pub misses: AtomicU64,
    pub expired: AtomicU64,
}

/// All databases.
pub struct Keyspace {
    dbs: Box<[Db]>,
    pub stats: KsStats,
    /// Pre-images made by writes during a snapshot and not yet taken by its reader (see
    /// `snap`); shared with every shard's snapshot state.
    snap_backlog: Arc<snap::Backlog>,
    /// The function libraries' code (FUNCTION LOAD), which RDB files and the AOF carry beside
    /// the keys; the scripting commands keep it current.
    pub functions: std::sync::RwLock<Vec<Bytes>>,
}

fn lock(m: &Mutex<Shard>) -> MutexGuard<'_, Shard> {
    // A handler that panicked left the shard consistent (every mutation is a single map call), so
    // a poisoned lock is taken over rather than taking the server down.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Keyspace {
    /// `n` empty databases.
    pub fn new(n: usize) -> Self {
        Keyspace {
            dbs: (0..n.max(1)).map(Db::new).collect(),
            stats: KsStats::default(),
            snap_backlog: Arc::default(),
            functions: Default::default(),
        }
    }

    /// Number of databases.
    pub fn db_count(&self) -> usize {
        self.dbs.len()
    }

    /// Locks the shards holding `keys` in database `db`, in shard order.
    pub fn lock_keys<'k, K: AsRef<[u8]>>(&'k self, db: usize, keys: &[K]) -> Locked<'k> {
        let shards = &self.dbs[db].shards;
        if let [k] = keys {
            // The common case: one key, no allocation.
            let i = shard_of(k.as_ref());
            return Locked {
                guards: Guards::One([(db, i, lock(&shards[i]))]),
                one_key: (k.as_ref().as_ptr() as usize, k.as_ref().len()),
                grow: None,
            };
        }
        let mut idx: Vec<usize> = keys.iter().map(|k| shard_of(k.as_ref())).collect();
        idx.sort_unstable();
        idx.dedup();
        Locked {
            guards: Guards::Many(idx.into_iter().map(|i| (db, i, lock(&shards[i]))).collect()),
            one_key: (0, 0),
            grow: None,
        }
    }

    /// Locks the shards holding `keys` in database `db` (in shard order), in a lock set that may
    /// take more shards later ([`Locked::cover`]): a script's declared keys.
    pub fn lock_keys_growable<K: AsRef<[u8]>>(&self, db: usize, keys: &[K]) -> Locked<'_> {
        let mut idx: Vec<usize> = keys.iter().map(|k| shard_of(k.as_ref())).collect();
        idx.sort_unstable();
        idx.dedup();
        let shards = &self.dbs[db].shards;
        Locked {
            guards: Guards::Many(idx.into_iter().map(|i| (db, i, lock(&shards[i]))).collect()),
            one_key: (0, 0),
            grow: Some(self),
        }
    }

    /// Locks every shard of the given databases (ascending db order, then shard order).
    pub fn lock_dbs(&self, dbs: &[usize]) -> Locked<'_> {
        let mut dbs = dbs.to_vec();
        dbs.sort_unstable();
        dbs.dedup();
        let mut guards = Vec::with_capacity(dbs.len() * SHARDS);
        for db in dbs {
            for (i, m) in self.dbs[db].shards.iter().enumerate() {
                guards.push((db, i, lock(m)));
            }
        }
        Locked {
            guards: Guards::Many(guards),
            one_key: (0, 0),
            grow: None,
        }
    }

    /// Locks everything: used by EXEC and by commands that span databases.
    pub fn lock_all(&self) -> Locked<'_> {
        let all: Vec<usize> = (0..self.dbs.len()).collect();
        self.lock_dbs(&all)
    }

    /// Keys and keys with expiry per database, for INFO keyspace.
    pub fn db_sizes(&self) -> Vec<(usize, usize, usize)> {
        let mut out = Vec::new();
        for (i, db) in self.dbs.iter().enumerate() {
            let (mut k, mut e) = (0, 0);
            for s in db.shards.iter() {
                let s = lock(s);
                k += s.map.len();
                e += s.expires.len();
            }
            if k > 0 {
                out.push((i, k, e));
            }
        }
        out
    }

    /// Modifications made to every shard since the start, for `rdb_changes_since_last_save`.
    pub fn changes(&self) -> u64 {
        self.dbs
            .iter()
            .flat_map(|db| db.shards.iter())
            .map(|s| lock(s).changes)
            .sum()
    }

    /// One round of active expiry: removes up to `budget` expired keys per shard. Returns the
    /// expired (db, key) pairs so the caller can send notifications.
    pub fn expire_cycle(&self, budget: usize) -> Vec<(usize, Bytes)> {
        self.expire_cycle_with(budget, &mut |_, _| {})
    }

    /// [`Keyspace::expire_cycle`], calling `removed` with each key while its shard is still
    /// locked (the AOF's DEL must precede any later write to the key).
    pub fn expire_cycle_with(
        &self,
        budget: usize,
        removed: &mut dyn FnMut(usize, &Bytes),
    ) -> Vec<(usize, Bytes)> {
        let now = now_ms();
        let mut gone = Vec::new();
        for (dbi, db) in self.dbs.iter().enumerate() {
            for s in db.shards.iter() {
                let mut s = lock(s);
                for _ in 0..budget {
                    let Some((t, k)) = s.expires.first().cloned() else {
                        break;
                    };
                    if t > now {
                        break;
                    }
                    s.expires.pop_first();
                    if let Some(e) = s.map.remove(&k[..]) {
                        s.keep_removed(|| k.clone(), e);
                    }
                    s.touch(&k);
                    removed(dbi, &k);
                    gone.push((dbi, k));
                }
            }
        }
        self.stats
            .expired
            .fetch_add(gone.len() as u64, Ordering::Relaxed);
        gone
    }
}

type Held<'k> = (usize, usize, MutexGuard<'k, Shard>);

/// The held shard of `key` in database `db`.
fn held_shard<'a>(locked: &'a mut Locked<'_>, db: usize, key: &[u8]) -> &'a mut Shard {
    if let Guards::One([(d, _, _)]) = &locked.guards {
        if *d == db && locked.one_key == (key.as_ptr() as usize, key.len()) {
            return &mut locked.guards[0].2;
        }
    }
    let si = shard_of(key);
    let pos = locked
        .guards
        .binary_search_by(|(d, s, _)| (*d, *s).cmp(&(db, si)));
    match pos {
        Ok(p) => &mut locked.guards[p].2,
        // Handlers lock the keys they touch; reaching here is a bug in a handler's key list.
        Err(_) => panic!("shard {si} of db {db} not locked for this command"),
    }
}

/// Locked shards: (db, shard, guard), sorted by db then shard.
enum Guards<'k> {
    One([Held<'k>; 1]),
    Many(Vec<Held<'k>>),
}

impl<'k> std::ops::Deref for Guards<'k> {
    type Target = [Held<'k>];
    fn deref(&self) -> &Self::Target {
        match self {
            Guards::One(g) => g,
            Guards::Many(v) => v,
        }
    }
}

impl std::ops::DerefMut for Guards<'_> {
    fn deref_mut(&mut self) -> &mut Self::Target {
        match self {
            Guards::One(g) => g,
            Guards::Many(v) => v,
        }
    }
}

/// Shards locked by one command (or by EXEC for a whole transaction).
pub struct Locked<'k> {
    guards: Guards<'k>,
    /// Address and length of the key a single-key lock was taken for: handlers pass that same
    /// slice back, and its shard is then known without hashing it again.
    one_key: (usize, usize),
    /// Set for a lock set that may take more shards while held (a script's): the keyspace.
    grow: Option<&'k Keyspace>,
}

/// What [`Locked::cover`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cover {
    /// Every shard asked for is held (some perhaps just taken).
    Held,
    /// A shard is held by someone else and lies below a shard this set holds: waiting for it
    /// could deadlock, so it was not waited for.
    Contended,
}

impl<'k> Locked<'k> {
    /// Whether this set may take more shards ([`Keyspace::lock_keys_growable`]).
    pub fn is_growable(&self) -> bool {
        self.grow.is_some()
    }

    /// Whether shard `shard` of database `db` is held.
    pub fn holds(&self, db: usize, shard: usize) -> bool {
        self.guards
            .binary_search_by(|(d, s, _)| (*d, *s).cmp(&(db, shard)))
            .is_ok()
    }

    /// Takes the shards `(db, shard)` of `want` this growable set lacks. A free shard is taken at
    /// once; a busy one is waited for only when it sorts after every shard held, so every
    /// blocking wait in the server is for a lock above all its waiter holds (the order
    /// `lock_keys`/`lock_dbs` keep) and no cycle of waits can form. Otherwise the shard is left
    /// and the answer is [`Cover::Contended`]. `block_out_of_order` waits anyway (the caller has
    /// no way back; it risks a deadlock with another script doing the same).
    pub fn cover(
        &mut self,
        want: impl IntoIterator<Item = (usize, usize)>,
        block_out_of_order: bool,
    ) -> Cover {
        let Some(ks) = self.grow else {
            return Cover::Held;
        };
        for (db, si) in want {
            let Some(dbs) = ks.dbs.get(db) else {
                continue;
            };
            let pos = match self
                .guards
                .binary_search_by(|(d, s, _)| (*d, *s).cmp(&(db, si)))
            {
                Ok(_) => continue,
                Err(p) => p,
            };
            let m = &dbs.shards[si];
            let g = match m.try_lock() {
                Ok(g) => g,
                Err(std::sync::TryLockError::Poisoned(e)) => e.into_inner(),
                Err(std::sync::TryLockError::WouldBlock) => {
                    if pos < self.guards.len() && !block_out_of_order {
                        return Cover::Contended;
                    }
                    lock(m)
                }
            };
            if let Guards::Many(v) = &mut self.guards {
                v.insert(pos, (db, si, g));
            }
        }
        Cover::Held
    }
    /// Every key of database `db` in the locked shards, expired ones not yet reclaimed included
    /// (as Redis writes them to a snapshot), for saving.
    pub fn entries(&self, db: usize) -> impl Iterator<Item = (&[u8], &Entry)> + '_ {
        self.guards
            .iter()
            .filter(move |(d, _, _)| *d == db)
            .flat_map(|(_, _, g)| g.map.iter().map(|(k, e)| (k.as_slice(), e)))
    }

    /// (keys, keys with a TTL) of database `db` in the locked shards.
    pub fn counts(&self, db: usize) -> (usize, usize) {
        self.guards
            .iter()
            .filter(|(d, _, _)| *d == db)
            .fold((0, 0), |(k, e), (_, _, g)| {
                (k + g.map.len(), e + g.expires.len())
            })
    }

    /// Modifications made to the locked shards since the start (see [`Keyspace::changes`]).
    pub fn changes(&self) -> u64 {
        self.guards.iter().map(|(_, _, g)| g.changes).sum()
    }

    /// A view of database `db` through these locks.
    pub fn view(&mut self, db: usize) -> View<'_, 'k> {
        self.view_at(db, now_ms())
    }

    /// A view with the command's clock reading `now` (Unix ms), taken once by the caller.
    pub fn view_at(&mut self, db: usize, now: u64) -> View<'_, 'k> {
        View {
            db,
            now,
            locked: self,
            expired: Vec::new(),
            prop: None,
            new_keys: None,
            modified: None,
        }
    }
}

/// A handler's access to the keys it locked. Expired keys are removed when looked up (lazy expiry).
pub struct View<'v, 'k> {
    pub db: usize,
    now: u64,
    locked: &'v mut Locked<'k>,
    /// Keys this view found expired, for notifications.
    pub expired: Vec<Bytes>,
    /// While the AOF is on: the commands a handler asks to be written in place of its own
    /// (SPOP as SREM, a blocking pop as its plain form); see [`View::propagate`].
    pub prop: Option<Vec<Vec<Bytes>>>,
    /// While someone listens for `new` keyspace events: the (db, key) of every key this view
    /// created, as Redis's `dbAdd` reports them (a replaced value is no new key).
    pub new_keys: Option<Vec<(usize, Bytes)>>,
    /// While some client tracks keys (CLIENT TRACKING): every key this view changed, in the
    /// order of the changes, as WATCH sees them (Redis's `signalModifiedKey`).
    pub modified: Option<Vec<Bytes>>,
}

impl<'v, 'k> View<'v, 'k> {
    /// The current time as this command sees it (one clock reading per command, as Redis does).
    pub fn now(&self) -> u64 {
        self.now
    }

    /// Notes a changed key for tracking (see `modified`), after its shard's `touch`.
    #[inline]
    fn note(&mut self, key: &[u8]) {
        if let Some(m) = self.modified.as_mut() {
            m.push(Bytes::copy_from_slice(key));
        }
    }

    /// Asks for `argv` to be appended to the AOF in place of the running command's own argv
    /// (built only while the AOF is on).
    pub fn propagate(&mut self, argv: impl FnOnce() -> Vec<Bytes>) {
        if let Some(p) = self.prop.as_mut() {
            p.push(argv());
        }
    }

    /// Modifications made to the locked shards so far (see [`Keyspace::changes`]): a command
    /// that moved it changed something.
    pub fn changes(&self) -> u64 {
        self.locked.changes()
    }

    /// Switches the view to another database (locked by the same `Locked`).
    pub fn set_db(&mut self, db: usize) {
        self.db = db;
    }

    fn shard_in(&mut self, db: usize, key: &[u8]) -> &mut Shard {
        held_shard(self.locked, db, key)
    }

    fn shard(&mut self, key: &[u8]) -> &mut Shard {
        self.shard_in(self.db, key)
    }

    fn expire_if_needed(&mut self, db: usize, key: &[u8]) {
        let now = self.now;
        let s = self.shard_in(db, key);
        if s.expires.is_empty() {
            return; // No key of this shard has a TTL: skip the lookup.
        }
        let dead = matches!(s.map.get(key), Some(e) if e.expire_at.is_some_and(|t| t <= now));
        if dead {
            s.drop_entry(key);
            s.touch(key);
            self.expired.push(Bytes::copy_from_slice(key));
            self.note(key);
        }
    }

    /// Looks a key up for reading; counts a keyspace hit or miss.
    pub fn get(&mut self, key: &[u8]) -> Option<&Entry> {
        self.expire_if_needed(self.db, key);
        let now_s = (self.now / 1000) as u32;
        self.shard(key).map.get_mut(key).map(|e| {
            e.touch_access(now_s);
            &*e
        })
    }

    /// Looks a key up without counting it as an access (EXISTS, TYPE, TTL and friends).
    pub fn peek(&mut self, key: &[u8]) -> Option<&Entry> {
        self.expire_if_needed(self.db, key);
        self.shard(key).map.get(key)
    }

    /// Looks a key up for writing. Watchers of the key see it as modified.
    pub fn get_mut(&mut self, key: &[u8]) -> Option<&mut Entry> {
        self.expire_if_needed(self.db, key);
        let now_s = (self.now / 1000) as u32;
        let s = held_shard(self.locked, self.db, key);
        if !s.map.contains_key(key) {
            return None;
        }
        s.touch(key);
        s.keep_old(key);
        if let Some(m) = self.modified.as_mut() {
            m.push(Bytes::copy_from_slice(key));
        }
        let e = s.map.get_mut(key)?;
        e.touch_access(now_s);
        Some(e)
    }

    /// Looks a key up to change what Redis does not count as a modification (a stream's consumer
    /// groups, XSETID): WATCHers are not told, as in Redis.
    pub fn get_mut_quiet(&mut self, key: &[u8]) -> Option<&mut Entry> {
        self.expire_if_needed(self.db, key);
        let now_s = (self.now / 1000) as u32;
        let s = self.shard(key);
        s.keep_old(key);
        let e = s.map.get_mut(key)?;
        e.touch_access(now_s);
        Some(e)
    }

    /// Counts a change to `key` that WATCHers are not told of (a stream's groups): the AOF and
    /// the save rules see it, as Redis's `dirty` does.
    pub fn count_quiet_change(&mut self, key: &[u8]) {
        self.shard(key).changes += 1;
    }

    /// Tells WATCHers of `key` that it changed (after a `get_mut_quiet` that did change it).
    pub fn mark_modified(&mut self, key: &[u8]) {
        self.shard(key).touch(key);
        self.note(key);
    }

    /// Whether the key exists (and is not expired).
    pub fn exists(&mut self, key: &[u8]) -> bool {
        self.peek(key).is_some()
    }

    /// Stores a value, replacing any previous one and its TTL.
    pub fn set(&mut self, key: &Bytes, value: Value, expire_at: Option<u64>) {
        self.set_in(self.db, key, value, expire_at)
    }

    /// `set` in another locked database.
    pub fn set_in(&mut self, db: usize, key: &Bytes, value: Value, expire_at: Option<u64>) {
        let now_s = (self.now / 1000) as u32;
        self.note(key);
        let s = self.shard_in(db, key);
        s.touch(key);
        let mut entry = Entry::new(value, expire_at, now_s);
        entry.saved = s.stamp();
        match s.map.get_mut(&key[..]) {
            Some(slot) => {
                let old_t = slot.expire_at;
                let old = std::mem::replace(slot, entry);
                s.keep_removed(|| key.clone(), old);
                if old_t != expire_at {
                    if let Some(t) = old_t {
                        s.expires.remove(&(t, key.clone()));
                    }
                    if let Some(t) = expire_at {
                        s.expires.insert((t, key.clone()));
                    }
                }
            }
            None => {
                if let Some(t) = expire_at {
                    s.expires.insert((t, key.clone()));
                }
                s.map.insert(Key::from(key), entry);
                if let Some(n) = self.new_keys.as_mut() {
                    n.push((db, key.clone()));
                }
            }
        }
    }

    /// Stores a value read from a dump (loading, RESTORE) with its saved access metadata: idle
    /// seconds for LRU, the counter for LFU.
    pub fn set_restored(
        &mut self,
        key: &Bytes,
        value: Value,
        expire_at: Option<u64>,
        idle_s: Option<u64>,
        freq: Option<u8>,
    ) {
        self.set(key, value, expire_at);
        let now_s = self.now / 1000;
        if let Some(e) = self.shard(key).map.get_mut(&key[..]) {
            if let Some(idle) = idle_s {
                e.last_access = now_s.saturating_sub(idle) as u32;
            }
            if let Some(f) = freq {
                e.freq = f;
            }
        }
    }

    /// Replaces the value and keeps the TTL (SET KEEPTTL, in-place updates).
    pub fn set_keep_ttl(&mut self, key: &Bytes, value: Value) {
        let ttl = self.peek(key).and_then(|e| e.expire_at);
        self.set(key, value, ttl);
    }

    /// Records how the string at `key` was written, for OBJECT ENCODING.
    pub fn set_str_hint(&mut self, key: &[u8], hint: StrHint) {
        if let Some(e) = self.shard(key).map.get_mut(key) {
            e.str_hint = hint;
        }
    }

    /// Removes a key; returns its entry.
    pub fn remove(&mut self, key: &[u8]) -> Option<Entry> {
        self.remove_in(self.db, key)
    }

    /// Removes a key without returning its entry (DEL): during a snapshot that saves a copy of
    /// a collection that `remove` would have to make. Returns whether it existed.
    pub fn delete(&mut self, key: &[u8]) -> bool {
        let db = self.db;
        self.expire_if_needed(db, key);
        let s = self.shard_in(db, key);
        if !s.drop_entry(key) {
            return false;
        }
        s.touch(key);
        self.note(key);
        true
    }

    /// `remove` in another locked database.
    pub fn remove_in(&mut self, db: usize, key: &[u8]) -> Option<Entry> {
        self.expire_if_needed(db, key);
        let s = self.shard_in(db, key);
        let e = s.remove_entry(key)?;
        s.touch(key);
        self.note(key);
        Some(e)
    }

    /// Looks up a key in another locked database, without counting an access.
    pub fn peek_in(&mut self, db: usize, key: &[u8]) -> Option<&Entry> {
        self.expire_if_needed(db, key);
        self.shard_in(db, key).map.get(key)
    }

    /// Sets or clears a key's expiry time. Returns false if the key does not exist.
    pub fn set_expire(&mut self, key: &[u8], at: Option<u64>) -> bool {
        self.expire_if_needed(self.db, key);
        let s = self.shard(key);
        let Some((k, e)) = s.map.get_key_value(key) else {
            return false;
        };
        let k = k.to_bytes();
        let old = e.expire_at;
        s.keep_old(key);
        if let Some(t) = old {
            s.expires.remove(&(t, k.clone()));
        }
        if let Some(t) = at {
            s.expires.insert((t, k.clone()));
        }
        if let Some(e) = s.map.get_mut(key) {
            e.expire_at = at;
        }
        s.touch(key);
        self.note(key);
        true
    }

    /// Every live key of the current database (needs all its shards locked).
    pub fn keys(&mut self) -> Vec<Bytes> {
        let now = self.now;
        let db = self.db;
        let mut out = Vec::new();
        for (d, _, g) in self.locked.guards.iter() {
            if *d != db {
                continue;
            }
            out.extend(
                g.map
                    .iter()
                    .filter(|(_, e)| e.expire_at.is_none_or(|t| t > now))
                    .map(|(k, _)| k.to_bytes()),
            );
        }
        out
    }

    /// Live keys of one shard of the current database, for SCAN (that shard must be locked).
    pub fn shard_keys(
        &mut self,
        shard: usize,
        mut filter: impl FnMut(&[u8], &Entry) -> bool,
    ) -> Vec<Bytes> {
        let now = self.now;
        let db = self.db;
        let Ok(p) = self
            .locked
            .guards
            .binary_search_by(|(d, s, _)| (*d, *s).cmp(&(db, shard)))
        else {
            return Vec::new();
        };
        self.locked.guards[p]
            .2
            .map
            .iter()
            .filter(|(k, e)| e.expire_at.is_none_or(|t| t > now) && filter(k.as_slice(), e))
            .map(|(k, _)| k.to_bytes())
            .collect()
    }

    /// Number of databases.
    pub fn db_count(&self) -> usize {
        self.locked
            .guards
            .iter()
            .map(|(d, _, _)| d + 1)
            .max()
            .unwrap_or(0)
    }

    /// (keys, keys with a TTL) of the current database (all its shards locked).
    pub fn db_stats(&self) -> (usize, usize) {
        self.locked
            .guards
            .iter()
            .filter(|(d, _, _)| *d == self.db)
            .fold((0, 0), |(k, e), (_, _, g)| {
                (k + g.map.len(), e + g.expires.len())
            })
    }

    /// Number of keys in the current database (needs all its shards locked).
    pub fn dbsize(&self) -> usize {
        self.locked
            .guards
            .iter()
            .filter(|(d, _, _)| *d == self.db)
            .map(|(_, _, g)| g.map.len())
            .sum()
    }

    /// Empties database `db` (all its shards locked); returns how many keys it held.
    pub fn flush(&mut self, db: usize) -> usize {
        self.flush_with(db, false)
    }

    /// [`View::flush`]; `lazy` (FLUSHDB/FLUSHALL ASYNC) hands every shard's keys to the
    /// lazyfree thread whatever their number (large values go there anyway).
    pub fn flush_with(&mut self, db: usize, lazy: bool) -> usize {
        let mut n = 0;
        for (d, _, g) in self.locked.guards.iter_mut() {
            if *d == db {
                n += g.map.len();
                g.changes += g.map.len() as u64;
                g.touch_replaced(None, self.now);
                g.take_all(lazy);
            }
        }
        n
    }

    /// Exchanges the contents of two databases (all shards of both locked).
    pub fn swap_dbs(&mut self, a: usize, b: usize) {
        if a == b {
            return;
        }
        for si in 0..SHARDS {
            let pa = self
                .locked
                .guards
                .binary_search_by(|(d, s, _)| (*d, *s).cmp(&(a, si)));
            let pb = self
                .locked
                .guards
                .binary_search_by(|(d, s, _)| (*d, *s).cmp(&(b, si)));
            if let (Ok(pa), Ok(pb)) = (pa, pb) {
                let (lo, hi) = (pa.min(pb), pa.max(pb));
                let (left, right) = self.locked.guards.split_at_mut(hi);
                let x = &mut left[lo].2;
                let y = &mut right[0].2;
                x.touch_replaced(Some(&y.map), self.now);
                y.touch_replaced(Some(&x.map), self.now);
                std::mem::swap(&mut x.map, &mut y.map);
                std::mem::swap(&mut x.expires, &mut y.expires);
                snap::swap(x, y);
            }
        }
    }

    /// A random live key of the current database (all its shards locked).
    pub fn random_key(&mut self) -> Option<Bytes> {
        use rand::RngExt;
        let db = self.db;
        let now = self.now;
        let total = self.dbsize();
        if total == 0 {
            return None;
        }
        let mut rng = rand::rng();
        // A few random probes; expired keys found on the way are skipped.
        for _ in 0..100 {
            let mut idx = rng.random_range(0..total);
            for (d, _, g) in self.locked.guards.iter() {
                if *d != db {
                    continue;
                }
                if idx < g.map.len() {
                    if let Some((k, e)) = g.map.iter().nth(idx) {
                        if e.expire_at.is_none_or(|t| t > now) {
                            return Some(k.to_bytes());
                        }
                    }
                    break;
                }
                idx -= g.map.len();
            }
        }
        None
    }

    /// Registers a WATCH flag on a key.
    pub fn watch(&mut self, key: &Bytes, flag: Arc<AtomicBool>) {
        self.shard(key)
            .watched
            .entry(key.clone())
            .or_default()
            .push(flag);
    }

    /// Removes a WATCH flag from a key.
    pub fn unwatch(&mut self, key: &[u8], flag: &Arc<AtomicBool>) {
        let s = self.shard(key);
        if let Some(v) = s.watched.get_mut(key) {
            v.retain(|f| !Arc::ptr_eq(f, flag));
            if v.is_empty() {
                s.watched.remove(key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_single_key_lock_serves_the_same_key_from_another_slice() {
        let ks = Keyspace::new(1);
        let key = Bytes::from_static(b"histogram:17");
        // An equal key in another allocation: its shard is found by hashing, not by address.
        let twin = Bytes::copy_from_slice(&key);
        assert_ne!(key.as_ptr(), twin.as_ptr());
        {
            let mut l = ks.lock_keys(0, &[&key]);
            let mut v = l.view(0);
            v.set(&twin, Value::Str(Bytes::from_static(b"1")), None);
            assert!(v.exists(&key));
        }
        {
            let mut l = ks.lock_keys(0, &[&twin]);
            let mut v = l.view(0);
            assert!(matches!(v.get(&key).map(|e| &e.value), Some(Value::Str(b)) if b == "1"));
        }
        assert_eq!(ks_len(&ks), 1);
    }

    #[test]
    #[should_panic(expected = "not locked")]
    fn a_key_outside_the_locked_shard_is_refused() {
        let ks = Keyspace::new(1);
        let key = Bytes::from_static(b"a");
        let other = (0..1000)
            .map(|i| Bytes::from(format!("k{i}")))
            .find(|k| shard_of(k) != shard_of(&key))
            .expect("some key in another shard");
        let mut l = ks.lock_keys(0, &[&key]);
        l.view(0).set(&other, Value::Str(Bytes::new()), None);
    }

    fn ks_len(ks: &Keyspace) -> usize {
        ks.db_sizes().iter().map(|(_, k, _)| k).sum()
    }
}
