//! Persistence: RDB snapshots written by SAVE and read at start, in Redis 7.0's format.
//!
//! [`rdb`] is the codec; this module puts files on disk and takes them off it. A save writes a
//! temporary file in `dir`, fsyncs it, renames it over `dbfilename` and fsyncs the directory,
//! so a crash at any point leaves either the old dump or the new one, never a torn file.
//! Sits below `state` (which holds a [`Status`]): it sees the keyspace and the configuration only.

pub mod rdb;

use crate::config::Config;
use crate::keyspace::Keyspace;
use std::fs::File;
use std::io::{BufReader, BufWriter};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
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
}

impl Settings {
    pub fn from_config(c: &Config) -> Self {
        let yes = |name| c.get(name).is_some_and(|v| v.eq_ignore_ascii_case("yes"));
        let n = |name| c.num(name) as usize;
        Settings {
            dir: PathBuf::from(c.get("dir").unwrap_or(".")),
            dbfilename: c.get("dbfilename").unwrap_or("dump.rdb").to_string(),
            compression: yes("rdbcompression"),
            checksum: yes("rdbchecksum"),
            limits: rdb::read::Limits {
                max_bulk: c.num("proto-max-bulk-len"),
                dbs: n("databases").max(1),
                verify_checksum: yes("rdbchecksum"),
                hash: crate::keyspace::HashLimits {
                    entries: n("hash-max-listpack-entries"),
                    value: n("hash-max-listpack-value"),
                },
                set_intset: n("set-max-intset-entries"),
                zset: (n("zset-max-listpack-entries"), n("zset-max-listpack-value")),
            },
        }
    }

    /// `dir/dbfilename`.
    pub fn path(&self) -> PathBuf {
        self.dir.join(&self.dbfilename)
    }
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
    /// Set while a save runs, so a second one is refused.
    pub saving: AtomicBool,
}

impl Status {
    pub fn new(now_unix: u64) -> Self {
        Status {
            last_save: AtomicU64::new(now_unix),
            last_ok: AtomicBool::new(true),
            changes_at_save: AtomicU64::new(0),
            last_save_secs: std::sync::atomic::AtomicI64::new(-1),
            saving: AtomicBool::new(false),
        }
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
}

/// Writes the whole keyspace to `dir/dbfilename` (Redis's SAVE): every shard of every database
/// locked while the file is written, so it is the keyspace at one moment and clients wait, as
/// they do for Redis's SAVE; then fsync, rename and fsync of the directory.
pub fn save(ks: &Keyspace, st: &Status, s: &Settings) -> Result<Saved, SaveError> {
    if st.saving.swap(true, Relaxed) {
        return Err(SaveError::InProgress);
    }
    let started = Instant::now();
    let out = write_snapshot(ks, st, s);
    st.saving.store(false, Relaxed);
    st.last_ok.store(out.is_ok(), Relaxed);
    match &out {
        Ok(saved) => {
            st.last_save
                .store(crate::keyspace::now_ms() / 1000, Relaxed);
            st.last_save_secs
                .store(started.elapsed().as_secs() as i64, Relaxed);
            tracing::info!(
                "DB saved on disk: {} keys, {} bytes in {:.3} s",
                saved.keys,
                saved.bytes,
                started.elapsed().as_secs_f64()
            );
        }
        Err(e) => tracing::warn!("{e}"),
    }
    out
}

fn write_snapshot(ks: &Keyspace, st: &Status, s: &Settings) -> Result<Saved, SaveError> {
    let tmp = s.dir.join(format!("temp-{}.rdb", std::process::id()));
    let tmp_name = tmp.display().to_string();
    let final_path = s.path();
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
            BufWriter::with_capacity(1 << 16, &file),
            s.compression,
            s.checksum,
        );
        w.header(
            crate::keyspace::now_ms() / 1000,
            crate::alloc::used_memory() as u64,
        )
        .map_err(werr)?;
        let mut keys = 0u64;
        let changes;
        {
            let locked = ks.lock_all();
            for db in 0..ks.db_count() {
                let (n, e) = locked.counts(db);
                if n == 0 {
                    continue;
                }
                w.select_db(db, n, e).map_err(werr)?;
                for (k, entry) in locked.entries(db) {
                    w.key(k, entry).map_err(werr)?;
                    keys += 1;
                }
            }
            w.finish().map_err(werr)?;
            changes = locked.changes();
        }
        let bytes = w.written();
        drop(w);
        file.sync_all().map_err(werr)?;
        std::fs::rename(&tmp, &final_path).map_err(werr)?;
        sync_dir(&s.dir).map_err(werr)?;
        // Only now: a save that failed leaves the changes counted as unsaved.
        st.changes_at_save.store(changes, Relaxed);
        Ok(Saved { keys, bytes })
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
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

/// Loads `path` into the keyspace (at start, before any client is served). Keys already expired
/// are skipped, as Redis does when it is a master; empty collections too, as Redis 7.0 does.
pub fn load(path: &Path, ks: &Keyspace, limits: &rdb::read::Limits) -> Result<Loaded, LoadError> {
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
    let rerr = |source| LoadError::Rdb {
        path: name.clone(),
        source,
    };
    let mut r = rdb::Reader::new(
        BufReader::with_capacity(1 << 16, file),
        total,
        limits.clone(),
    );
    r.header().map_err(rerr)?;
    let now = crate::keyspace::now_ms();
    let mut out = Loaded::default();
    loop {
        match r.next_item().map_err(rerr)? {
            rdb::Item::Eof => break,
            rdb::Item::Aux(k, v) => {
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
                out.keys += 1;
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
