//! Persistence: RDB snapshots written by SAVE and read at start, in Redis 7.0's format.
//!
//! [`rdb`] is the codec; this module puts files on disk and takes them off it. A save writes a
//! temporary file in `dir`, fsyncs it, renames it over `dbfilename` and fsyncs the directory,
//! so a crash at any point leaves either the old dump or the new one, never a torn file.
//! Sits below `state` (which holds a [`Status`]): it sees the keyspace and the configuration only.

pub mod aof;
pub mod rdb;
pub mod snapshot;

use crate::config::Config;
use crate::keyspace::Keyspace;
use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Instant;

/// The persistence settings, read in this one place so the settings rework can switch how.
#[derive(Debug, Clone)]
pub struct Settings {
    /// `dir`: where the dump and its temporary files live.
    pub dir: PathBuf,
    /// `dbfilename`.
    pub dbfilename: String,
    /// `rdbcompression`.
    pub compression: bool,
    /// `rdbchecksum`.
    pub checksum: bool,
    /// What loaded values may be (`proto-max-bulk-len`, `databases`, encoding thresholds).
    pub limits: rdb::read::Limits,
    /// `save`: (seconds, changes) pairs; a background save starts when any pair is reached.
    pub save_rules: Vec<(u64, u64)>,
    /// `rdb-key-save-delay`: microseconds slept after each key saved (for tests, as Redis).
    pub key_save_delay: i64,
    /// `key-load-delay`: microseconds slept after each key loaded (for tests, as Redis).
    pub key_load_delay: i64,
    /// `rdb-save-incremental-fsync`: fsync the dump every 4 MiB written.
    pub incremental_fsync: bool,
}

/// Redis's `debugDelay`, behind its test settings: `n` > 0 sleeps n µs; `n` < 0 sleeps 1 µs
/// once in -n calls on average.
pub(crate) fn debug_delay(n: i64) {
    let us = match n {
        0 => return,
        n if n > 0 => n as u64,
        n => u64::from(rand::random_range(0..n.unsigned_abs()) == 0),
    };
    if us > 0 {
        std::thread::sleep(std::time::Duration::from_micros(us));
    }
}

impl Settings {
    pub fn from_config(c: &Config) -> Self {
        use crate::config::params as p;
        let n = |v: i64| usize::try_from(v).unwrap_or(usize::MAX);
        let m = |v: u64| usize::try_from(v).unwrap_or(usize::MAX);
        Settings {
            dir: PathBuf::from(&*c.get(p::DIR)),
            dbfilename: c.get(p::DBFILENAME).to_string(),
            compression: c.get(p::RDBCOMPRESSION),
            checksum: c.get(p::RDBCHECKSUM),
            limits: rdb::read::Limits {
                max_bulk: c.get(p::PROTO_MAX_BULK_LEN),
                dbs: n(c.get(p::DATABASES)).max(1),
                verify_checksum: c.get(p::RDBCHECKSUM),
                hash: crate::keyspace::HashLimits {
                    entries: n(c.get(p::HASH_MAX_LISTPACK_ENTRIES)),
                    value: m(c.get(p::HASH_MAX_LISTPACK_VALUE)),
                },
                set_intset: n(c.get(p::SET_MAX_INTSET_ENTRIES)),
                zset: (
                    n(c.get(p::ZSET_MAX_LISTPACK_ENTRIES)),
                    m(c.get(p::ZSET_MAX_LISTPACK_VALUE)),
                ),
            },
            save_rules: parse_rules(&c.get(p::SAVE)),
            key_save_delay: c.get(p::RDB_KEY_SAVE_DELAY),
            key_load_delay: c.get(p::KEY_LOAD_DELAY),
            incremental_fsync: c.get(p::RDB_SAVE_INCREMENTAL_FSYNC),
        }
    }

    fn key_save_delay(&self) {
        debug_delay(self.key_save_delay);
    }

    /// `dir/dbfilename`.
    pub fn path(&self) -> PathBuf {
        self.dir.join(&self.dbfilename)
    }
}

/// `save`'s "seconds changes ..." pairs (CONFIG SET has already checked their form).
fn parse_rules(s: &str) -> Vec<(u64, u64)> {
    let n: Vec<u64> = s
        .split_whitespace()
        .filter_map(|x| x.parse().ok())
        .collect();
    n.chunks_exact(2).map(|p| (p[0], p[1])).collect()
}

/// What INFO persistence and LASTSAVE report.
#[derive(Debug)]
pub struct Status {
    /// Unix seconds of the last successful save (the start time before any).
    pub last_save: AtomicU64,
    /// Whether the last save succeeded (`rdb_last_bgsave_status`).
    pub last_ok: AtomicBool,
    /// [`Keyspace::changes`] as the last successful save saw it.
    pub changes_at_save: AtomicU64,
    /// Seconds the last save took (`rdb_last_bgsave_time_sec`), -1 before any.
    pub last_save_secs: std::sync::atomic::AtomicI64,
    /// Set while a save runs, so a second one is refused (`rdb_bgsave_in_progress`).
    pub saving: AtomicBool,
    /// Unix seconds a background save was last started (failed ones retry after 5 s, as Redis).
    pub last_try: AtomicU64,
    /// A BGSAVE asked for inside EXEC (whose locks a snapshot cannot take): started on the next
    /// tick of [`save_if_due`], as Redis's `rdb_bgsave_scheduled`.
    pub scheduled: AtomicBool,
    /// Saves started, foreground and background (`rdb_saves`).
    pub saves: AtomicU64,
    /// Unix seconds the running background save started (`rdb_current_bgsave_time_sec`).
    pub bg_started: AtomicU64,
    /// The load at start, while it runs (`-LOADING`, INFO's `loading_*`).
    pub loading: Loading,
    /// Keys the last load kept and skipped as expired (`rdb_last_load_keys_*`).
    pub last_load_keys_loaded: AtomicU64,
    pub last_load_keys_expired: AtomicU64,
}

/// A load in progress: set while the dataset is read at start, so commands without Redis's
/// `loading` flag are refused and INFO reports how far it got.
#[derive(Debug, Default)]
pub struct Loading {
    pub active: AtomicBool,
    /// Unix seconds the load started.
    pub start_time: AtomicU64,
    /// The file's size.
    pub total_bytes: AtomicU64,
    /// Bytes read so far, updated as the reader goes.
    pub loaded_bytes: AtomicU64,
    /// The `used-mem` aux field of the file (`loading_rdb_used_mem`).
    pub rdb_used_mem: AtomicU64,
}

impl Loading {
    /// Whether a load is running.
    #[inline]
    pub fn is_active(&self) -> bool {
        self.active.load(Relaxed)
    }

    /// Marks a load of `total` bytes as started now.
    pub fn start(&self, total: u64) {
        self.start_time
            .store(crate::keyspace::now_ms() / 1000, Relaxed);
        self.total_bytes.store(total, Relaxed);
        self.loaded_bytes.store(0, Relaxed);
        self.rdb_used_mem.store(0, Relaxed);
        self.active.store(true, Relaxed);
    }

    /// Ends the load: commands are served from now on.
    pub fn finish(&self) {
        self.active.store(false, Relaxed);
    }

    /// `loading_loaded_perc` and `loading_eta_seconds` at `now` (Unix seconds), as Redis's INFO
    /// computes them.
    pub fn progress(&self, now: u64) -> (f64, u64) {
        let loaded = self.loaded_bytes.load(Relaxed);
        let total = self.total_bytes.load(Relaxed);
        let (perc, remaining) = if total > 0 {
            (
                loaded as f64 / total as f64 * 100.0,
                total.saturating_sub(loaded),
            )
        } else {
            (0.0, 1)
        };
        let elapsed = now.saturating_sub(self.start_time.load(Relaxed));
        let eta = if elapsed == 0 {
            1 // Redis's stand-in before a second has passed
        } else {
            elapsed.saturating_mul(remaining) / (loaded + 1)
        };
        (perc, eta)
    }
}

impl Status {
    pub fn new(now_unix: u64) -> Self {
        Status {
            last_save: AtomicU64::new(now_unix),
            last_ok: AtomicBool::new(true),
            changes_at_save: AtomicU64::new(0),
            last_save_secs: std::sync::atomic::AtomicI64::new(-1),
            saving: AtomicBool::new(false),
            last_try: AtomicU64::new(0),
            scheduled: AtomicBool::new(false),
            saves: AtomicU64::new(0),
            bg_started: AtomicU64::new(0),
            loading: Loading::default(),
            last_load_keys_loaded: AtomicU64::new(0),
            last_load_keys_expired: AtomicU64::new(0),
        }
    }

    /// Records a finished save in what INFO and LASTSAVE report. As Redis, a success sets
    /// `rdb_last_bgsave_status` to ok, but only a failed background save sets it to err (which
    /// `stop-writes-on-bgsave-error` acts on): a failed SAVE just answers its error.
    fn record(&self, out: &Result<Saved, SaveError>, started: Instant, background: bool) {
        if out.is_ok() || background {
            self.last_ok.store(out.is_ok(), Relaxed);
        }
        match out {
            Ok(saved) => {
                self.changes_at_save.store(saved.changes, Relaxed);
                self.last_save
                    .store(crate::keyspace::now_ms() / 1000, Relaxed);
                self.last_save_secs
                    .store(started.elapsed().as_secs() as i64, Relaxed);
                tracing::info!(
                    "DB saved on disk: {} keys, {} bytes in {:.3} s",
                    saved.keys,
                    saved.bytes,
                    started.elapsed().as_secs_f64()
                );
            }
            Err(e) if background => tracing::warn!("Background saving error: {e}"),
            Err(e) => tracing::warn!("{e}"),
        }
    }

    /// `rdb_current_bgsave_time_sec`: seconds the running background save has taken, -1 if none.
    pub fn current_bgsave_secs(&self) -> i64 {
        if !self.saving.load(Relaxed) || self.bg_started.load(Relaxed) == 0 {
            return -1;
        }
        let now = crate::keyspace::now_ms() / 1000;
        now.saturating_sub(self.bg_started.load(Relaxed)) as i64
    }

    /// `rdb_changes_since_last_save`.
    pub fn changes_since_save(&self, ks: &Keyspace) -> u64 {
        ks.changes()
            .saturating_sub(self.changes_at_save.load(Relaxed))
    }
}

/// Why a save failed.
#[derive(Debug, thiserror::Error)]
pub enum SaveError {
    #[error("a save is already in progress")]
    InProgress,
    #[error("failed opening the temp RDB file {path} for saving: {source}")]
    Open {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot start the background save: {0}")]
    Spawn(#[source] std::io::Error),
    #[error("write error saving DB on disk ({path}): {source}")]
    Write {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

/// What a save wrote.
#[derive(Debug)]
pub struct Saved {
    pub keys: u64,
    pub bytes: u64,
    /// [`Keyspace::changes`] at the moment the data was taken.
    pub changes: u64,
}

/// Writes the whole keyspace to `dir/dbfilename` (Redis's SAVE): every shard of every database
/// locked while the file is written, so it is the keyspace at one moment and clients wait, as
/// they do for Redis's SAVE; then fsync, rename and fsync of the directory.
pub fn save(ks: &Keyspace, st: &Status, s: &Settings) -> Result<Saved, SaveError> {
    if st.saving.swap(true, Relaxed) {
        return Err(SaveError::InProgress);
    }
    st.saves.fetch_add(1, Relaxed);
    let started = Instant::now();
    let out = write_file(s, |w| {
        let locked = ks.lock_all();
        w.functions(&ks.functions.read().map(|f| f.clone()).unwrap_or_default())?;
        let mut keys = 0u64;
        for db in 0..ks.db_count() {
            let (n, e) = locked.counts(db);
            if n == 0 {
                continue;
            }
            w.select_db(db, n, e)?;
            for (k, entry) in locked.entries(db) {
                w.key(k, entry)?;
                keys += 1;
                s.key_save_delay();
            }
        }
        Ok((keys, locked.changes()))
    });
    st.record(&out, started, false);
    st.saving.store(false, Relaxed);
    out
}

/// BGSAVE: takes a point-in-time snapshot (every shard locked once, for no per-key work; see
/// [`snapshot`]) and writes it on a thread of its own while clients go on writing.
pub fn bgsave(ks: &Arc<Keyspace>, st: &Arc<Status>, s: Settings) -> Result<(), SaveError> {
    if st.saving.swap(true, Relaxed) {
        return Err(SaveError::InProgress);
    }
    st.last_try.store(crate::keyspace::now_ms() / 1000, Relaxed);
    st.bg_started
        .store(crate::keyspace::now_ms() / 1000, Relaxed);
    st.saves.fetch_add(1, Relaxed);
    let started = Instant::now();
    let Some(snap) = snapshot::start(ks, || ()) else {
        // Another snapshot (the AOF rewrite's) is being written.
        st.saving.store(false, Relaxed);
        return Err(SaveError::InProgress);
    };
    tracing::info!(
        "background saving started ({} keys, cut in {} us)",
        snap.keys(),
        started.elapsed().as_micros()
    );
    let status = st.clone();
    let functions = ks.functions.read().map(|f| f.clone()).unwrap_or_default();
    let spawned = std::thread::Builder::new()
        .name("respd-bgsave".into())
        .spawn(move || {
            let changes = snap.changes();
            let delay = s.key_save_delay;
            let out = write_file(&s, |w| {
                w.functions(&functions)?;
                Ok((snap.write(w, delay)?, changes))
            });
            status.record(&out, started, true);
            status.saving.store(false, Relaxed);
        });
    if let Err(e) = spawned {
        st.last_ok.store(false, Relaxed); // as Redis when its fork fails
        tracing::warn!("Can't save in background: {e}");
        st.saving.store(false, Relaxed);
        return Err(SaveError::Spawn(e));
    }
    Ok(())
}

/// Starts a background save when a `save` rule is reached or one was scheduled: Redis's
/// `serverCron` test (changes and seconds since the last success; after a failure, not before
/// 5 s since the last try).
pub fn save_if_due(ks: &Arc<Keyspace>, st: &Arc<Status>, s: Settings) {
    if st.saving.load(Relaxed) {
        return;
    }
    let now = crate::keyspace::now_ms() / 1000;
    let scheduled = st.scheduled.swap(false, Relaxed);
    let retry_ok = st.last_ok.load(Relaxed) || now.saturating_sub(st.last_try.load(Relaxed)) > 5;
    let since = now.saturating_sub(st.last_save.load(Relaxed));
    let changes = st.changes_since_save(ks);
    let due = s
        .save_rules
        .iter()
        .any(|&(secs, n)| changes >= n && since > secs && retry_ok);
    if scheduled || due {
        if due {
            tracing::info!("{changes} changes in {since} seconds: saving");
        }
        if let Err(e) = bgsave(ks, st, s) {
            tracing::warn!("{e}");
        }
    }
}

/// Writes a dump through `body` (which writes the databases and returns the keys written and
/// the change count they reflect) to a temporary file in `dir`, fsyncs it, renames it over
/// `dbfilename` and fsyncs the directory.
fn write_file(
    s: &Settings,
    body: impl FnOnce(&mut rdb::Writer<BufWriter<AutoSync<'_>>>) -> std::io::Result<(u64, u64)>,
) -> Result<Saved, SaveError> {
    let tmp = s.dir.join(format!("temp-{}.rdb", std::process::id()));
    let tmp_name = tmp.display().to_string();
    let werr = |source| SaveError::Write {
        path: tmp_name.clone(),
        source,
    };
    let file = File::create(&tmp).map_err(|source| SaveError::Open {
        path: tmp_name.clone(),
        source,
    })?;
    let result = (|| {
        // Big values pass through BufWriter's write_all straight to the file, uncopied.
        let mut w = rdb::Writer::new(
            BufWriter::with_capacity(1 << 16, AutoSync::new(&file, s.incremental_fsync)),
            s.compression,
            s.checksum,
        );
        w.header(
            crate::keyspace::now_ms() / 1000,
            crate::alloc::used_memory() as u64,
        )
        .map_err(werr)?;
        let (keys, changes) = body(&mut w).map_err(werr)?;
        w.finish().map_err(werr)?;
        let bytes = w.written();
        drop(w);
        file.sync_all().map_err(werr)?;
        std::fs::rename(&tmp, s.path()).map_err(werr)?;
        sync_dir(&s.dir).map_err(werr)?;
        Ok(Saved {
            keys,
            bytes,
            changes,
        })
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// A file written with an fsync every 4 MiB when `on` (Redis's `rioSetAutoSync` under
/// `rdb-save-incremental-fsync` and `aof-rewrite-incremental-fsync`), so that the kernel never
/// holds gigabytes of a save's dirty pages to flush at once, stalling the AOF's fsyncs.
pub struct AutoSync<'a> {
    file: &'a File,
    on: bool,
    since: u64,
}

impl<'a> AutoSync<'a> {
    /// Redis's REDIS_AUTOSYNC_BYTES.
    const EVERY: u64 = 4 << 20;

    pub fn new(file: &'a File, on: bool) -> Self {
        AutoSync { file, on, since: 0 }
    }
}

impl Write for AutoSync<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let mut f = self.file;
        let n = f.write(buf)?;
        if self.on {
            self.since += n as u64;
            if self.since >= Self::EVERY {
                self.file.sync_data()?;
                self.since = 0;
            }
        }
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Makes a rename durable: the directory's entry is on disk once this returns.
fn sync_dir(dir: &Path) -> std::io::Result<()> {
    let d = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    File::open(d)?.sync_all()
}

/// Why a file could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("cannot open {path}: {source}")]
    Open {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: {source}")]
    Rdb {
        path: String,
        #[source]
        source: rdb::RdbError,
    },
}

/// What a load read.
#[derive(Debug, Default)]
pub struct Loaded {
    pub keys: u64,
    pub expired_skipped: u64,
    pub empty_skipped: u64,
}

/// Counts the bytes read from the file as the reader goes (INFO's `loading_loaded_bytes`).
struct Progress<'a, R> {
    inner: R,
    loaded: &'a AtomicU64,
}

impl<R: Read> Read for Progress<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.loaded.fetch_add(n as u64, Relaxed);
        Ok(n)
    }
}

/// What a start loads.
#[derive(Debug)]
pub enum Source {
    /// `dir/dbfilename`.
    Rdb(PathBuf),
}

/// Which file a start loads, if any: Redis's `loadDataFromDisk` decision, kept in this one
/// place (today the dump, when it exists).
pub fn source_at_start(s: &Settings) -> Option<Source> {
    let path = s.path();
    path.exists().then_some(Source::Rdb(path))
}

/// Loads `src` into the keyspace. `st.loading` must already be marked (by the caller, before
/// the listener serves, so no client sees the keyspace half-loaded without `-LOADING`); the
/// caller ends it ([`Loading::finish`]) when the keyspace may be served: after a failure the
/// process exits without serving it, and with the AOF on, only once appending has started.
pub fn load_source(
    src: &Source,
    ks: &Keyspace,
    st: &Status,
    s: &Settings,
) -> Result<Loaded, LoadError> {
    let out = match src {
        Source::Rdb(path) => load(path, ks, &s.limits, &st.loading, s.key_load_delay)?,
    };
    st.last_load_keys_loaded.store(out.keys, Relaxed);
    st.last_load_keys_expired
        .store(out.expired_skipped, Relaxed);
    Ok(out)
}

/// Loads `path` into the keyspace (at start, while clients get `-LOADING`), reporting progress
/// in `progress`. Keys already expired are skipped, as Redis does when it is a master; empty
/// collections too, as Redis 7.0 does.
pub fn load(
    path: &Path,
    ks: &Keyspace,
    limits: &rdb::read::Limits,
    progress: &Loading,
    key_delay: i64,
) -> Result<Loaded, LoadError> {
    let name = path.display().to_string();
    let file = File::open(path).map_err(|source| LoadError::Open {
        path: name.clone(),
        source,
    })?;
    let total = file
        .metadata()
        .map_err(|source| LoadError::Open {
            path: name.clone(),
            source,
        })?
        .len();
    progress.start(total);
    load_file(file, &name, total, ks, limits, progress, key_delay)
}

/// Reads an opened RDB file of `total` bytes into the keyspace, adding what it reads to
/// `progress` (which the caller started: an AOF's base is one part of a larger load).
pub fn load_file(
    file: File,
    name: &str,
    total: u64,
    ks: &Keyspace,
    limits: &rdb::read::Limits,
    progress: &Loading,
    key_delay: i64,
) -> Result<Loaded, LoadError> {
    let rerr = |source| LoadError::Rdb {
        path: name.to_string(),
        source,
    };
    let counted = Progress {
        inner: file,
        loaded: &progress.loaded_bytes,
    };
    let mut r = rdb::Reader::new(
        BufReader::with_capacity(1 << 16, counted),
        total,
        limits.clone(),
    );
    r.header().map_err(rerr)?;
    let now = crate::keyspace::now_ms();
    let mut out = Loaded::default();
    loop {
        match r.next_item().map_err(rerr)? {
            rdb::Item::Eof => break,
            rdb::Item::Function(code) => {
                if let Ok(mut f) = ks.functions.write() {
                    f.push(code);
                }
            }
            rdb::Item::Aux(k, v) => {
                if &k[..] == b"used-mem" {
                    let used = std::str::from_utf8(&v).ok().and_then(|v| v.parse().ok());
                    progress.rdb_used_mem.store(used.unwrap_or(0), Relaxed);
                }
                tracing::debug!(
                    "RDB '{}': {}",
                    String::from_utf8_lossy(&k),
                    String::from_utf8_lossy(&v)
                );
            }
            rdb::Item::Key {
                db,
                key,
                value,
                expire_at,
                idle,
                freq,
            } => {
                if expire_at.is_some_and(|t| t <= now) {
                    out.expired_skipped += 1;
                    continue;
                }
                if is_empty(&value) {
                    out.empty_skipped += 1;
                    continue;
                }
                let mut l = ks.lock_keys(db, &[&key]);
                l.view_at(db, now)
                    .set_restored(&key, value, expire_at, idle, freq);
                drop(l);
                out.keys += 1;
                debug_delay(key_delay);
            }
        }
    }
    Ok(out)
}

/// Whether a collection has no elements (Redis never keeps an empty one).
pub fn is_empty(v: &crate::keyspace::Value) -> bool {
    use crate::keyspace::Value;
    match v {
        Value::Str(_) | Value::Stream(_) => false,
        Value::List(l) => l.is_empty(),
        Value::Set(s) => s.is_empty(),
        Value::ZSet(z) => z.is_empty(),
        Value::Hash(h) => h.is_empty(),
    }
}
