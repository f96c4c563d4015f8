//! The point-in-time snapshot a background save writes (and the AOF rewrite, for its base):
//! the keyspace as it was at one instant, read while clients go on writing, without fork and
//! without copying the keyspace.
//!
//! [`start`] takes the cut (every shard locked once, no per-key work; see `keyspace::snap` for
//! the copy-on-first-write it sets up). [`Snapshot::write`] then walks it database by database,
//! shard by shard, looking keys up in batches of at most [`crate::keyspace::TAKE_KEYS`] keys or [`BATCH_BYTES`]
//! per lock hold: a string is taken as a shared `Bytes`, a collection is serialized into a
//! buffer under the lock, and everything is written to the file after the lock is released.
//! Old versions of keys that clients changed first (the pre-images) are written with the shard
//! they belong to.
//!
//! ```ignore
//! let snap = persist::snapshot::start(&ks, || switch_aof_files()).ok_or(Busy)?;
//! std::thread::spawn(move || snap.write(&mut rdb_writer, 0));
//! ```

use super::rdb::{self, Writer};
use crate::keyspace::{Cut, Entry, Key, Keyspace, Value, SHARDS};
use bytes::Bytes;
use std::io::{self, Write};
use std::sync::Arc;
use std::time::Duration;

/// Value bytes taken per lock hold (strings counted by length, collections by their
/// serialized size): bounds both the pause a shard's clients see and the memory in flight.
pub const BATCH_BYTES: usize = 1 << 20;

/// How many bytes of old values overwritten during a save may wait for the writer before write
/// commands wait too: 1/32 of the memory in use, at least [`BACKLOG_MIN`]. The aim for memory
/// during a save is 1.1x the data; this leaves most of that margin to client buffers and the
/// values in the writer's hands.
fn backlog_limit(used: usize) -> usize {
    (used / 32).max(BACKLOG_MIN)
}

/// The smallest backlog bound: a few large values, so small data sets are not throttled at once.
const BACKLOG_MIN: usize = 16 << 20;

/// A snapshot begun and not yet written. Dropping it unwritten still walks the keyspace (without
/// writing) so that every key carries its epoch, and ends it in every shard.
pub struct Snapshot {
    ks: Arc<Keyspace>,
    cut: Cut,
    done: bool,
}

/// Begins a snapshot of `ks` now; `at_cut` runs while every shard is locked, at the cut itself.
/// None when a snapshot is already running.
pub fn start(ks: &Arc<Keyspace>, at_cut: impl FnOnce()) -> Option<Snapshot> {
    let cut = ks.snapshot_begin(at_cut)?;
    ks.set_save_backlog_limit(backlog_limit(crate::alloc::used_memory()));
    Some(Snapshot {
        ks: ks.clone(),
        cut,
        done: false,
    })
}

/// Where a walk writes the cut: Redis's RDB (`rdb::Writer`: SAVE, BGSAVE, the AOF base with
/// `aof-use-rdb-preamble yes`) or commands (the AOF base with it off).
pub trait Sink {
    /// The start of database `db` of the cut, with its key and expiry counts.
    fn select_db(&mut self, db: usize, keys: usize, expires: usize) -> io::Result<()>;
    /// A switch to database `db` (pre-images of another database, written between batches).
    fn select_only(&mut self, db: usize) -> io::Result<()>;
    /// An entry owned by the walk (a pre-image).
    fn key(&mut self, k: &[u8], e: &Entry) -> io::Result<()>;
    /// A string, its value a shared handle taken under the lock.
    fn string(&mut self, k: &[u8], expire_at: Option<u64>, v: &Value) -> io::Result<()>;
    /// Serializes a collection while its shard is locked, for [`Sink::raw`] after the lock.
    fn record(&self, k: &[u8], e: &Entry) -> Vec<u8>;
    /// Writes what [`Sink::record`] made.
    fn raw(&mut self, r: &[u8]) -> io::Result<()>;
}

/// The RDB form: records made under the lock are compressed as the writer compresses.
pub struct RdbSink<'a, W: Write>(pub &'a mut Writer<W>);

impl<W: Write> Sink for RdbSink<'_, W> {
    fn select_db(&mut self, db: usize, keys: usize, expires: usize) -> io::Result<()> {
        self.0.select_db(db, keys, expires)
    }
    fn select_only(&mut self, db: usize) -> io::Result<()> {
        self.0.select_only(db)
    }
    fn key(&mut self, k: &[u8], e: &Entry) -> io::Result<()> {
        self.0.key(k, e)
    }
    fn string(&mut self, k: &[u8], expire_at: Option<u64>, v: &Value) -> io::Result<()> {
        self.0.key_value(k, expire_at, v)
    }
    fn record(&self, k: &[u8], e: &Entry) -> Vec<u8> {
        rdb::write::key_record(k, e, self.0.compresses())
    }
    fn raw(&mut self, r: &[u8]) -> io::Result<()> {
        self.0.raw(r)
    }
}

/// A key taken from the keyspace for writing outside its shard's lock.
enum Taken {
    /// A string: the key and a shared handle to its value.
    Str(Key, Option<u64>, Value),
    /// A collection, already serialized (expiry, type, key, value).
    Record(Vec<u8>),
}

impl Snapshot {
    /// [`Keyspace::changes`] at the cut.
    pub fn changes(&self) -> u64 {
        self.cut.changes
    }

    /// Keys at the cut (all databases).
    pub fn keys(&self) -> u64 {
        self.cut.dbs.iter().map(|d| d.1 as u64).sum()
    }

    /// Writes every database of the cut to `w` (SELECTDB, RESIZEDB and the keys, no header or
    /// EOF). `key_delay_us` is `rdb-key-save-delay` (for tests), as Redis's `debugDelay`: a
    /// sleep of that many microseconds after each key, or when negative, of 1 us after every
    /// `-key_delay_us`th key. Returns the keys written.
    pub fn write<W: Write>(self, w: &mut Writer<W>, key_delay_us: i64) -> io::Result<u64> {
        self.write_to(&mut RdbSink(w), key_delay_us)
    }

    /// Writes every database of the cut to `sink`.
    pub fn write_to(mut self, sink: &mut dyn Sink, key_delay_us: i64) -> io::Result<u64> {
        let out = self.walk(Some(sink), key_delay_us);
        self.done = true;
        out
    }

    /// The walk; with no writer (or after a write error) it only marks keys saved and ends
    /// the snapshot shard by shard.
    fn walk(&mut self, mut w: Option<&mut dyn Sink>, delay: i64) -> io::Result<u64> {
        let ks = self.ks.clone();
        let mut err: Option<io::Error> = None;
        let mut written = 0u64;
        // Sleep `delay` after every `every`th key (never, for 0).
        let (delay, every) = match delay {
            0 => (Duration::ZERO, 0),
            d if d > 0 => (Duration::from_micros(d.unsigned_abs()), 1),
            d => (Duration::from_micros(1), d.unsigned_abs()),
        };
        // Writes one key unless the file already failed; then only counts on.
        let mut put = |w: &mut Option<&mut dyn Sink>,
                       err: &mut Option<io::Error>,
                       f: &mut dyn FnMut(&mut dyn Sink) -> io::Result<()>| {
            if err.is_some() {
                return;
            }
            if let Some(w) = w.as_deref_mut() {
                match f(w) {
                    Ok(()) => written += 1,
                    Err(e) => *err = Some(e),
                }
                if every > 0 && written % every == 0 {
                    std::thread::sleep(delay);
                }
            }
        };
        for db in 0..ks.db_count() {
            let counts = self.cut.dbs.iter().find(|d| d.0 == db).copied();
            if let (Some((_, n, e)), Some(w)) = (counts, w.as_deref_mut()) {
                if err.is_none() {
                    if let Err(e) = w.select_db(db, n, e) {
                        err = Some(e);
                    }
                }
            }
            for si in 0..SHARDS {
                let keys = ks.snapshot_keys(db, si);
                let mut rest = &keys[..];
                loop {
                    let mut taken = Vec::new();
                    let pre = ks.snapshot_take(db, si, &mut rest, BATCH_BYTES, |k, e| {
                        let Some(sink) = w.as_deref().filter(|_| err.is_none()) else {
                            return 0; // Only marking now.
                        };
                        match &e.value {
                            Value::Str(s) => {
                                taken.push(Taken::Str(
                                    k.clone(),
                                    e.expire_at(),
                                    Value::Str(s.clone()),
                                ));
                                s.len() + 16
                            }
                            _ => {
                                let r = sink.record(k.as_slice(), e);
                                let n = r.len();
                                taken.push(Taken::Record(r));
                                n
                            }
                        }
                    });
                    write_pre(&ks, pre, &mut |f| put(&mut w, &mut err, f));
                    for t in &taken {
                        put(&mut w, &mut err, &mut |w| match t {
                            Taken::Str(k, at, v) => w.string(k.as_slice(), *at, v),
                            Taken::Record(r) => w.raw(r),
                        });
                    }
                    // Old values clients overwrote meanwhile, in any shard: written now, so they
                    // are freed now (under their own database's SELECTDB).
                    for (origin, pre) in ks.snapshot_sweep() {
                        if origin != db {
                            select_only(&mut w, &mut err, origin);
                        }
                        write_pre(&ks, pre, &mut |f| put(&mut w, &mut err, f));
                        if origin != db {
                            select_only(&mut w, &mut err, db);
                        }
                    }
                    if rest.is_empty() {
                        break;
                    }
                }
                let pre = ks.snapshot_finish(db, si);
                write_pre(&ks, pre, &mut |f| put(&mut w, &mut err, f));
            }
        }
        ks.snapshot_end();
        match err {
            Some(e) => Err(e),
            None => Ok(written),
        }
    }
}

/// SELECTDB alone, unless the file already failed.
fn select_only(w: &mut Option<&mut dyn Sink>, err: &mut Option<io::Error>, db: usize) {
    if let (None, Some(w)) = (&*err, w.as_deref_mut()) {
        if let Err(e) = w.select_only(db) {
            *err = Some(e);
        }
    }
}

type PutFn<'a> = dyn FnMut(&mut dyn FnMut(&mut dyn Sink) -> io::Result<()>) + 'a;

/// Writes pre-images (owned: no lock needed), each freed at once: writes held back while they
/// were many go on as they go.
fn write_pre(ks: &Keyspace, pre: Vec<(Bytes, Entry)>, put: &mut PutFn<'_>) {
    for (k, e) in pre {
        put(&mut |w| w.key(&k, &e));
        ks.snapshot_written(&k, &e);
    }
}

impl Drop for Snapshot {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        if std::thread::panicking() {
            self.ks.snapshot_abort();
        } else {
            let _ = self.walk(None, 0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keyspace::{Hash, HashLimits};

    fn limits() -> rdb::read::Limits {
        rdb::read::Limits::default()
    }

    /// (db, key) → the value's DUMP payload and expiry, from a file's bytes.
    fn read_back(file: &[u8]) -> Vec<(usize, Bytes, Vec<u8>, Option<u64>)> {
        let mut r = rdb::Reader::new(file, file.len() as u64, limits());
        r.header().expect("header");
        let mut out = Vec::new();
        loop {
            match r.next_item().expect("item") {
                rdb::Item::Eof => break,
                rdb::Item::Aux(..) | rdb::Item::Function(_) => {}
                rdb::Item::Key {
                    db,
                    key,
                    value,
                    expire_at,
                    ..
                } => out.push((db, key, rdb::dump_payload(&value), expire_at)),
            }
        }
        out.sort();
        out
    }

    fn hash(n: usize, tag: &str) -> Value {
        let mut h = Hash::default();
        let lim = HashLimits {
            entries: 128,
            value: 64,
        };
        for i in 0..n {
            h.insert(
                Bytes::from(format!("f{i}")),
                Bytes::from(format!("{tag}{i}")),
                lim,
            );
        }
        Value::Hash(h)
    }

    fn save(body: impl FnOnce(&mut Writer<&mut Vec<u8>>) -> u64) -> Vec<u8> {
        let mut file = Vec::new();
        let mut w = Writer::new(&mut file, true, true);
        w.header(0, 0).expect("vec");
        body(&mut w);
        w.finish().expect("vec");
        file
    }

    #[test]
    fn a_mutation_during_a_snapshot_keeps_the_old_value_in_the_file() {
        let ks = Arc::new(Keyspace::new(2));
        let keys: Vec<Bytes> = (0..3000).map(|i| Bytes::from(format!("k{i}"))).collect();
        for (i, k) in keys.iter().enumerate() {
            let mut l = ks.lock_keys(i % 2, &[k]);
            let mut v = l.view(i % 2);
            let val = if i % 10 == 0 {
                hash(200, "old")
            } else {
                Value::Str(Bytes::from(format!("old{i}").repeat(i % 7 + 1)))
            };
            v.set(k, val, (i % 4 == 0).then_some(1 << 60));
        }
        let all = |ks: &Keyspace| {
            let l = ks.lock_all();
            let mut w = Writer::new(Vec::new(), true, true);
            w.header(0, 0).expect("vec");
            for db in 0..2 {
                let (n, e) = l.counts(db);
                w.select_db(db, n, e).expect("vec");
                for (k, e) in l.entries(db) {
                    w.key(k, e).expect("vec");
                }
            }
            w.finish().expect("vec");
            read_back(&w.into_inner())
        };
        let before = all(&ks);
        let snap = start(&ks, || ()).expect("starts");
        // Every key changed before the writer reaches it: all of the file comes from pre-images.
        for (i, k) in keys.iter().enumerate() {
            let mut l = ks.lock_keys(i % 2, &[k]);
            let mut v = l.view(i % 2);
            match i % 4 {
                0 => v.set(k, Value::Str(Bytes::from("new")), None),
                1 => {
                    v.delete(k);
                }
                2 => {
                    if let Some(e) = v.get_mut(k) {
                        if let Value::Hash(h) = &mut e.value {
                            h.insert(
                                Bytes::from("f0"),
                                Bytes::from("NEW"),
                                HashLimits {
                                    entries: 128,
                                    value: 64,
                                },
                            );
                        } else {
                            e.value = Value::Str(Bytes::from("in place"));
                        }
                    }
                }
                _ => {
                    v.set_expire(k, Some(1 << 61));
                }
            }
        }
        let file = save(|w| snap.write(w, 0).expect("vec"));
        assert_eq!(read_back(&file), before);
        assert_ne!(all(&ks), before);
        assert!(!ks.snapshot_running());
    }

    #[test]
    fn a_failed_write_still_ends_the_snapshot() {
        struct Full(usize);
        impl Write for Full {
            fn write(&mut self, b: &[u8]) -> io::Result<usize> {
                if self.0 < b.len() {
                    return Err(io::Error::other("disk full"));
                }
                self.0 -= b.len();
                Ok(b.len())
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let ks = Arc::new(Keyspace::new(1));
        for i in 0..1000 {
            let k = Bytes::from(format!("k{i}"));
            ks.lock_keys(0, &[&k])
                .view(0)
                .set(&k, Value::Str(k.clone()), None);
        }
        let snap = start(&ks, || ()).expect("starts");
        let mut w = Writer::new(Full(500), false, true);
        assert!(snap.write(&mut w, 0).is_err());
        assert!(!ks.snapshot_running());
        // Dropped without writing: ended too, and the next one starts.
        drop(start(&ks, || ()).expect("starts"));
        assert!(!ks.snapshot_running());
        assert!(start(&ks, || ()).is_some());
    }
}
