//! The append-only file, as Redis 7.0's multi-part AOF: a directory (`appenddirname`) holding a
//! manifest, one base file (an RDB, or RESP commands with `aof-use-rdb-preamble no`) and the
//! incremental files of the commands since.
//!
//! - [`Aof::append`] is called by the command layer while the command's shard locks are held,
//!   so commands on one key reach the buffer in the order they took effect. It encodes the
//!   command in RESP into an in-memory buffer; a large argument is kept as its `Bytes` handle,
//!   never copied.
//! - One writer thread (`respd-aof`) takes the whole buffer at a time, writes it with vectored
//!   writes, and fsyncs per `appendfsync`: `always` after every batch (one fsync for every
//!   command that arrived meanwhile; connections wait in [`Aof::wait_synced`] for it to pass
//!   their offset before sending replies), `everysec` once a second, `no` never.
//! - [`Aof::rewrite`] (BGREWRITEAOF): begins BGSAVE's copy-free snapshot and, at its cut, starts
//!   a new incremental file (and lists it in the manifest); the base is written from the
//!   snapshot on a thread; then the manifest names the new base and incremental file only, and
//!   the old files are deleted.
//!
//! Like the rest of `persist`, it sees the keyspace and the configuration only.

pub mod load;
pub mod manifest;

pub use load::{load, AofLoadError, AofLoaded};
pub use manifest::{FileInfo, Manifest};

use crate::config::Config;
use crate::keyspace::{Entry, Keyspace, Value};
use bytes::{Bytes, BytesMut};
use std::fs::File;
use std::io::{IoSlice, Write};
use std::path::PathBuf;
use std::sync::atomic::{
    AtomicBool, AtomicI64, AtomicU64, AtomicU8, AtomicUsize, Ordering::Relaxed,
};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// `appendfsync`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fsync {
    Always,
    Everysec,
    No,
}

impl Fsync {
    /// `appendfsync`'s value.
    pub fn from_name(s: &str) -> Fsync {
        match s {
            "always" => Fsync::Always,
            "no" => Fsync::No,
            _ => Fsync::Everysec,
        }
    }
}

/// The AOF settings, read in this one place.
#[derive(Debug, Clone)]
pub struct AofSettings {
    /// `dir`.
    pub dir: PathBuf,
    /// `appenddirname`.
    pub dirname: String,
    /// `appendfilename`: the prefix of every file name.
    pub filename: String,
    pub fsync: Fsync,
    /// `aof-use-rdb-preamble`: the base is an RDB file (else RESP commands).
    pub rdb_preamble: bool,
    /// `aof-load-truncated`.
    pub load_truncated: bool,
    /// `auto-aof-rewrite-percentage` and `auto-aof-rewrite-min-size`.
    pub auto_percentage: u64,
    pub auto_min_size: u64,
    /// `aof-timestamp-enabled`: `#TS:<unix seconds>` annotations as the second changes.
    pub timestamps: bool,
    /// `no-appendfsync-on-rewrite`: no fsync while a rewrite or a background save writes.
    pub no_fsync_on_rewrite: bool,
    /// `aof-disable-auto-gc`: a rewrite keeps the files it replaces, as history.
    pub keep_history: bool,
    /// `aof-rewrite-incremental-fsync`: the base is fsynced every 4 MiB as it is written.
    pub incremental_fsync: bool,
    /// The RDB settings, for an RDB base.
    pub rdb: super::Settings,
}

impl AofSettings {
    pub fn from_config(c: &Config) -> Self {
        use crate::config::params as p;
        AofSettings {
            dir: PathBuf::from(&*c.get(p::DIR)),
            dirname: c.get(p::APPENDDIRNAME).to_string(),
            filename: c.get(p::APPENDFILENAME).to_string(),
            fsync: Fsync::from_name(c.get(p::APPENDFSYNC)),
            rdb_preamble: c.get(p::AOF_USE_RDB_PREAMBLE),
            load_truncated: c.get(p::AOF_LOAD_TRUNCATED),
            auto_percentage: c.get(p::AUTO_AOF_REWRITE_PERCENTAGE).max(0) as u64,
            auto_min_size: c.get(p::AUTO_AOF_REWRITE_MIN_SIZE),
            timestamps: c.get(p::AOF_TIMESTAMP_ENABLED),
            no_fsync_on_rewrite: c.get(p::NO_APPENDFSYNC_ON_REWRITE),
            keep_history: c.get(p::AOF_DISABLE_AUTO_GC),
            incremental_fsync: c.get(p::AOF_REWRITE_INCREMENTAL_FSYNC),
            rdb: super::Settings::from_config(c),
        }
    }

    /// `dir/appenddirname`.
    pub fn aof_dir(&self) -> PathBuf {
        self.dir.join(&self.dirname)
    }

    /// The manifest's path.
    pub fn manifest_path(&self) -> PathBuf {
        self.aof_dir().join(format!("{}.manifest", self.filename))
    }

    fn base_name(&self, seq: u64) -> String {
        let ext = if self.rdb_preamble { "rdb" } else { "aof" };
        format!("{}.{seq}.base.{ext}", self.filename)
    }

    fn incr_name(&self, seq: u64) -> String {
        format!("{}.{seq}.incr.aof", self.filename)
    }
}

/// Why the AOF could not be started or rewritten.
#[derive(Debug, thiserror::Error)]
pub enum AofError {
    #[error("Background append only file rewriting already in progress")]
    InProgress,
    /// A background save's snapshot is being written: one snapshot runs at a time, as Redis has
    /// one child at a time; the rewrite is scheduled for when it ends.
    #[error("a background save is in progress: AOF rewrite scheduled")]
    SaveInProgress,
    #[error("AOF file {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

fn io_err(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> AofError {
    let path = path.into().display().to_string();
    move |source| AofError::Io { path, source }
}

/// What the writer takes from the buffer.
enum Item {
    Data(Bytes),
    /// Go on in this file (a rewrite started a new incremental file).
    Switch(File),
    /// `appendonly no`: write what is left, fsync, end.
    Stop,
}

/// How long `everysec` and `no` let commands gather before a write (see `writer_loop`).
const GATHER: Duration = Duration::from_millis(1);

/// The in-memory buffer commands are appended to.
#[derive(Default)]
struct Pending {
    /// Small pieces are encoded here; sealed into `items` when a large argument or a switch
    /// comes, or when the writer takes the buffer.
    small: BytesMut,
    items: Vec<Item>,
    /// Bytes ever appended (the offset the last append ended at).
    end: u64,
    /// The database of the last SELECT written to the current file.
    db: Option<usize>,
    /// The second of the last `#TS:` annotation.
    ts: u64,
}

impl Pending {
    fn seal(&mut self) {
        if !self.small.is_empty() {
            let b = self.small.split().freeze();
            self.items.push(Item::Data(b));
        }
    }

    fn is_empty(&self) -> bool {
        self.small.is_empty() && self.items.is_empty()
    }

    fn int(&mut self, prefix: u8, n: usize) {
        self.small.extend_from_slice(&[prefix]);
        let mut digits = [0u8; 20];
        let mut i = digits.len();
        let mut n = n;
        loop {
            i -= 1;
            digits[i] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        self.small.extend_from_slice(&digits[i..]);
        self.small.extend_from_slice(b"\r\n");
    }

    fn command(&mut self, argv: &[Bytes]) {
        // Arguments at least this long go to the file from their own `Bytes`, uncopied.
        const BIG: usize = 16 * 1024;
        self.int(b'*', argv.len());
        for a in argv {
            self.int(b'$', a.len());
            if a.len() >= BIG {
                self.seal();
                self.items.push(Item::Data(a.clone()));
            } else {
                self.small.extend_from_slice(a);
            }
            self.small.extend_from_slice(b"\r\n");
        }
        self.end += resp_len(argv);
    }

    /// `#TS:<now>` when the second changed since the last one (Redis's
    /// `genAofTimestampAnnotationIfNeeded`).
    fn annotate(&mut self, now: u64) {
        if now > self.ts {
            let line = format!("#TS:{now}\r\n");
            self.small.extend_from_slice(line.as_bytes());
            self.end += line.len() as u64;
            self.ts = now;
        }
    }

    fn select(&mut self, db: usize) {
        if self.db != Some(db) {
            let n = Bytes::from(db.to_string());
            self.command(&[Bytes::from_static(b"SELECT"), n]);
            self.db = Some(db);
        }
    }
}

/// The length of a command in RESP.
fn resp_len(argv: &[Bytes]) -> u64 {
    let digits = |n: usize| n.checked_ilog10().unwrap_or(0) as u64 + 1;
    let mut n = 1 + digits(argv.len()) + 2;
    for a in argv {
        n += 1 + digits(a.len()) + 2 + a.len() as u64 + 2;
    }
    n
}

/// The files of the AOF as the manifest lists them.
struct Files {
    settings: AofSettings,
    manifest: Manifest,
}

/// The append-only file of a running server (off until [`Aof::start`] or [`Aof::enable`]).
pub struct Aof {
    on: AtomicBool,
    fsync: AtomicU8,
    /// `aof-timestamp-enabled` and `no-appendfsync-on-rewrite`, followed at each CONFIG SET.
    timestamps: AtomicBool,
    no_fsync_on_rewrite: AtomicBool,
    /// The keyspace, to see a background save running (`no-appendfsync-on-rewrite`).
    ks: std::sync::OnceLock<std::sync::Weak<Keyspace>>,
    pending: Mutex<Pending>,
    wake: Condvar,
    /// The offset fsynced (`always`), or written (`no`): replies wait for it.
    synced: tokio::sync::watch::Sender<u64>,
    /// Connections waiting for an fsync (`always`), and how many were waiting when the last
    /// fsync released them: the writer gathers until as many are back (see `writer_loop`).
    waiters: AtomicUsize,
    released: AtomicUsize,
    files: Mutex<Option<Files>>,
    writer: Mutex<Option<std::thread::JoinHandle<()>>>,
    /// INFO persistence.
    pub rewriting: AtomicBool,
    pub rewrite_scheduled: AtomicBool,
    /// `CONFIG SET appendonly yes` waits for a save: the scheduled rewrite starts appending.
    enable_pending: AtomicBool,
    pub last_write_ok: AtomicBool,
    pub last_rewrite_ok: AtomicBool,
    pub last_rewrite_secs: AtomicI64,
    /// Rewrites done (`aof_rewrites`) and failures since the last success
    /// (`aof_rewrites_consecutive_failures`).
    pub rewrites: AtomicU64,
    pub rewrite_failures: AtomicU64,
    /// The AOF's size after the last rewrite or start (`aof_base_size`), which automatic
    /// rewrites measure growth from.
    pub base_size: AtomicU64,
}

impl Default for Aof {
    fn default() -> Self {
        Aof {
            on: AtomicBool::new(false),
            fsync: AtomicU8::new(1),
            timestamps: AtomicBool::new(false),
            no_fsync_on_rewrite: AtomicBool::new(false),
            ks: std::sync::OnceLock::new(),
            pending: Mutex::default(),
            wake: Condvar::new(),
            synced: tokio::sync::watch::channel(0).0,
            waiters: AtomicUsize::new(0),
            released: AtomicUsize::new(0),
            files: Mutex::new(None),
            writer: Mutex::new(None),
            rewriting: AtomicBool::new(false),
            rewrite_scheduled: AtomicBool::new(false),
            enable_pending: AtomicBool::new(false),
            last_write_ok: AtomicBool::new(true),
            last_rewrite_ok: AtomicBool::new(true),
            last_rewrite_secs: AtomicI64::new(-1),
            rewrites: AtomicU64::new(0),
            rewrite_failures: AtomicU64::new(0),
            base_size: AtomicU64::new(0),
        }
    }
}

fn guard<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Aof {
    /// Whether commands are being appended: the one load the write path pays when it is off.
    #[inline]
    pub fn on(&self) -> bool {
        self.on.load(Relaxed)
    }

    /// Whether replies must wait for the fsync that covers their commands.
    #[inline]
    pub fn always(&self) -> bool {
        self.on() && self.fsync.load(Relaxed) == 0
    }

    /// Follows `appendfsync` (read by the writer at each batch).
    pub fn set_fsync(&self, f: Fsync) {
        let v = match f {
            Fsync::Always => 0,
            Fsync::Everysec => 1,
            Fsync::No => 2,
        };
        self.fsync.store(v, Relaxed);
    }

    /// Follows the settings the writer reads as it goes (at start and after each CONFIG SET).
    pub fn follow(&self, s: &AofSettings) {
        self.set_fsync(s.fsync);
        self.timestamps.store(s.timestamps, Relaxed);
        self.no_fsync_on_rewrite
            .store(s.no_fsync_on_rewrite, Relaxed);
    }

    /// Whether a rewrite or a background save is writing (Redis's `hasActiveChildProcess`).
    fn child_active(&self) -> bool {
        self.rewriting.load(Relaxed)
            || self
                .ks
                .get()
                .and_then(|k| k.upgrade())
                .is_some_and(|k| k.snapshot_running())
    }

    fn fsync_mode(&self) -> Fsync {
        match self.fsync.load(Relaxed) {
            0 => Fsync::Always,
            2 => Fsync::No,
            _ => Fsync::Everysec,
        }
    }

    /// Appends commands run in database `db` (SELECT first when the file's database differs).
    /// Returns the offset they end at. Called with the commands' shard locks held.
    pub fn append(&self, db: usize, cmds: &[Vec<Bytes>]) -> u64 {
        let mut p = guard(&self.pending);
        let was_empty = p.is_empty();
        if self.timestamps.load(Relaxed) {
            p.annotate(crate::keyspace::now_ms() / 1000);
        }
        p.select(db);
        for c in cmds {
            p.command(c);
        }
        let end = p.end;
        drop(p);
        if was_empty {
            self.wake.notify_one();
        }
        end
    }

    /// Appends commands of several databases in order (a transaction).
    pub fn append_ops(&self, ops: &[(usize, Vec<Bytes>)]) -> u64 {
        let mut p = guard(&self.pending);
        let was_empty = p.is_empty();
        if self.timestamps.load(Relaxed) {
            p.annotate(crate::keyspace::now_ms() / 1000);
        }
        for (db, c) in ops {
            p.select(*db);
            p.command(c);
        }
        let end = p.end;
        drop(p);
        if was_empty {
            self.wake.notify_one();
        }
        end
    }

    /// The offset appended so far.
    pub fn end(&self) -> u64 {
        guard(&self.pending).end
    }

    /// Waits until the file is fsynced up to `offset` (`always`): a reply waits here for the
    /// fsync that covers its command. One fsync serves every connection waiting meanwhile.
    pub async fn wait_synced(&self, offset: u64) {
        let mut rx = self.synced.subscribe();
        if *rx.borrow() >= offset {
            return;
        }
        // Counted down also when the connection ends mid-wait (a kill drops this future).
        struct Waiting<'a>(&'a AtomicUsize);
        impl Drop for Waiting<'_> {
            fn drop(&mut self) {
                self.0.fetch_sub(1, Relaxed);
            }
        }
        let n = self.waiters.fetch_add(1, Relaxed) + 1;
        let _counted = Waiting(&self.waiters);
        if n >= self.released.load(Relaxed) {
            // The round the writer is gathering is complete.
            self.wake.notify_one();
        }
        let _ = rx.wait_for(|&s| s >= offset).await;
    }

    /// Starts appending after a load at start: opens the last incremental file of `loaded`'s
    /// manifest, or (a fresh directory) writes a base from the keyspace first, as Redis does.
    pub fn start(
        self: &Arc<Self>,
        s: AofSettings,
        ks: &Arc<Keyspace>,
        loaded: Option<Manifest>,
    ) -> Result<(), AofError> {
        let dir = s.aof_dir();
        std::fs::create_dir_all(&dir).map_err(io_err(&dir))?;
        self.follow(&s);
        let _ = self.ks.set(Arc::downgrade(ks));
        let Some(mut m) = loaded else {
            // Nothing on disk: the keyspace (dump.rdb, if it was loaded) becomes the base.
            self.on.store(true, Relaxed);
            self.spawn_writer();
            return self.rewrite_now(ks, s);
        };
        let incr = match m.incr.last() {
            Some(f) => f.name.clone(),
            None => {
                m.incr_seq += 1;
                let f = FileInfo {
                    name: s.incr_name(m.incr_seq),
                    seq: m.incr_seq,
                };
                let name = f.name.clone();
                m.incr.push(f);
                write_manifest(&s, &m)?;
                name
            }
        };
        let path = dir.join(&incr);
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(io_err(&path))?;
        let size = total_size(&s, &m);
        self.base_size.store(size, Relaxed);
        *guard(&self.files) = Some(Files {
            settings: s,
            manifest: m,
        });
        guard(&self.pending).items.push(Item::Switch(file));
        self.on.store(true, Relaxed);
        self.spawn_writer();
        Ok(())
    }

    /// The files' state, made when there is none from the manifest an earlier run left (its
    /// numbering goes on and its files are replaced), or an empty one.
    fn files_or_manifest(&self, s: &AofSettings) {
        let mut files = guard(&self.files);
        if files.is_none() {
            let m = std::fs::read_to_string(s.manifest_path())
                .ok()
                .and_then(|t| Manifest::parse(&t).ok())
                .unwrap_or_default();
            *files = Some(Files {
                settings: s.clone(),
                manifest: m,
            });
        }
    }

    /// `CONFIG SET appendonly yes` at runtime: appending starts now, into a new incremental
    /// file, and a rewrite writes the base (Redis's `startAppendOnly`).
    /// `defer`: the shard locks are held by the caller (CONFIG SET inside EXEC), so the rewrite
    /// that starts appending begins at the next once-a-second check, after EXEC; its cut then
    /// holds every write made meanwhile.
    pub fn enable(
        self: &Arc<Self>,
        ks: &Arc<Keyspace>,
        s: AofSettings,
        defer: bool,
    ) -> Result<(), AofError> {
        if self.on() {
            return Ok(());
        }
        let dir = s.aof_dir();
        std::fs::create_dir_all(&dir).map_err(io_err(&dir))?;
        self.follow(&s);
        let _ = self.ks.set(Arc::downgrade(ks));
        self.files_or_manifest(&s);
        self.spawn_writer();
        if defer {
            self.enable_pending.store(true, Relaxed);
            self.rewrite_scheduled.store(true, Relaxed);
            return Ok(());
        }
        match self.rewrite(ks, s, true) {
            Err(AofError::SaveInProgress) => {
                // As Redis's startAppendOnly with a child running: the rewrite (which starts
                // appending) waits for the save; `appendonly` reads yes meanwhile.
                tracing::info!("AOF was enabled but there is already a background save: an AOF rewrite was scheduled to start when possible");
                self.enable_pending.store(true, Relaxed);
                self.rewrite_scheduled.store(true, Relaxed);
                Ok(())
            }
            r => r,
        }
    }

    /// `CONFIG SET appendonly no`: stops appending; what was appended is written and fsynced.
    pub fn disable(&self) {
        self.enable_pending.store(false, Relaxed);
        if !self.on.swap(false, Relaxed) {
            return;
        }
        {
            let mut p = guard(&self.pending);
            p.seal();
            p.items.push(Item::Stop);
            p.db = None;
        }
        self.wake.notify_one();
        if let Some(h) = guard(&self.writer).take() {
            let _ = h.join();
        }
        let mut p = guard(&self.pending);
        p.items.clear();
        p.small.clear();
    }

    fn spawn_writer(self: &Arc<Self>) {
        let mut w = guard(&self.writer);
        if w.is_some() {
            return;
        }
        let me = self.clone();
        match std::thread::Builder::new()
            .name("respd-aof".into())
            .spawn(move || me.writer_loop())
        {
            Ok(h) => *w = Some(h),
            Err(e) => tracing::error!("cannot start the AOF writer: {e}"),
        }
    }

    fn writer_loop(&self) {
        let mut file: Option<File> = None;
        let mut last_fsync = Instant::now();
        let mut unsynced = false;
        loop {
            let (items, end) = {
                let mut p = guard(&self.pending);
                while p.is_empty() {
                    let wait = if unsynced {
                        Duration::from_secs(1).saturating_sub(last_fsync.elapsed())
                    } else {
                        Duration::from_secs(1)
                    };
                    if unsynced && wait.is_zero() {
                        break;
                    }
                    p = self
                        .wake
                        .wait_timeout(p, wait)
                        .map(|(g, _)| g)
                        .unwrap_or_else(|e| e.into_inner().0);
                }
                if self.fsync_mode() != Fsync::Always && !p.is_empty() {
                    // No reply waits for this write: let commands gather for a millisecond, so
                    // that the connections append without waking this thread (only the first
                    // append to an empty buffer wakes it) and the file gets one write per
                    // millisecond, not one per command. Redis writes once per event-loop
                    // pass; the loss at a crash stays within everysec's promise of a second.
                    drop(p);
                    std::thread::sleep(GATHER);
                    p = guard(&self.pending);
                }
                if self.fsync_mode() == Fsync::Always && !p.is_empty() {
                    // Redis fsyncs once per event-loop pass, after reading every ready client.
                    // The equivalent here: the clients the last fsync released send their next
                    // commands over the following few hundred microseconds, so gather until as
                    // many connections wait again, or nothing new came for 100 µs (some clients
                    // do not come back), or 2 ms passed. An fsync started at the first of them
                    // would make most clients wait for two.
                    let started = Instant::now();
                    let target = self.released.load(Relaxed);
                    let mut seen = p.end;
                    while self.waiters.load(Relaxed) < target
                        && started.elapsed() < Duration::from_millis(2)
                    {
                        let (g, t) = self
                            .wake
                            .wait_timeout(p, Duration::from_micros(100))
                            .unwrap_or_else(|e| e.into_inner());
                        p = g;
                        if t.timed_out() {
                            if p.end == seen {
                                break;
                            }
                            seen = p.end;
                        }
                    }
                }
                p.seal();
                (std::mem::take(&mut p.items), p.end)
            };
            let mut batch: Vec<Bytes> = Vec::new();
            let mut stop = false;
            for item in items {
                match item {
                    Item::Data(b) => batch.push(b),
                    Item::Switch(f) => {
                        match file.as_ref() {
                            Some(old) => {
                                self.write_all(old, &mut batch);
                                let _ = old.sync_data();
                            }
                            // Left from before an `appendonly no`: no file wants it.
                            None => batch.clear(),
                        }
                        file = Some(f);
                    }
                    Item::Stop => stop = true,
                }
            }
            if let Some(f) = file.as_ref() {
                if !batch.is_empty() {
                    self.write_all(f, &mut batch);
                    unsynced = true;
                }
                let mode = self.fsync_mode();
                let due = last_fsync.elapsed() >= Duration::from_secs(1);
                // `no-appendfsync-on-rewrite`: while a rewrite or a save writes, Redis skips the
                // fsync (in `always` too: the reply then waits for the write only).
                let held = !stop && self.no_fsync_on_rewrite.load(Relaxed) && self.child_active();
                if unsynced
                    && !held
                    && (stop || mode == Fsync::Always || (mode == Fsync::Everysec && due))
                {
                    if let Err(e) = f.sync_data() {
                        tracing::warn!("fsync of the AOF failed: {e}");
                        self.last_write_ok.store(false, Relaxed);
                    }
                    last_fsync = Instant::now();
                    unsynced = false;
                    self.released.store(self.waiters.load(Relaxed), Relaxed);
                    self.synced.send_replace(end);
                } else if mode != Fsync::Everysec {
                    // `no`: in the file is all this mode promises.
                    self.synced.send_replace(end);
                }
            } else {
                self.synced.send_replace(end);
            }
            if stop {
                return;
            }
        }
    }

    /// Writes `batch` to `f` whole: a failed write is logged, shown in INFO and retried every
    /// second from where it stopped (as Redis keeps its buffer until the disk takes it).
    fn write_all(&self, mut f: &File, batch: &mut Vec<Bytes>) {
        let mut i = 0;
        let mut off = 0;
        let mut failing = false;
        while i < batch.len() {
            let mut slices = [IoSlice::new(&[]); 64];
            let mut k = 0;
            for (j, b) in batch[i..].iter().enumerate() {
                if k == slices.len() {
                    break;
                }
                slices[k] = IoSlice::new(if j == 0 { &b[off..] } else { &b[..] });
                k += 1;
            }
            match f.write_vectored(&slices[..k]) {
                Ok(0) | Err(_) if !failing => {
                    tracing::warn!("error writing to the AOF: retrying every second");
                    self.last_write_ok.store(false, Relaxed);
                    failing = true;
                    std::thread::sleep(Duration::from_secs(1));
                }
                Ok(0) | Err(_) => std::thread::sleep(Duration::from_secs(1)),
                Ok(mut n) => {
                    if failing {
                        tracing::info!("AOF write error looks solved, writing again");
                        self.last_write_ok.store(true, Relaxed);
                        failing = false;
                    }
                    while n > 0 && i < batch.len() {
                        let left = batch[i].len() - off;
                        if n >= left {
                            n -= left;
                            i += 1;
                            off = 0;
                        } else {
                            off += n;
                            n = 0;
                        }
                    }
                }
            }
        }
        batch.clear();
    }

    /// A rewrite run to completion on this thread (start with an empty directory).
    fn rewrite_now(self: &Arc<Self>, ks: &Arc<Keyspace>, s: AofSettings) -> Result<(), AofError> {
        if guard(&self.files).is_none() {
            *guard(&self.files) = Some(Files {
                settings: s.clone(),
                manifest: Manifest::default(),
            });
        }
        self.rewriting.store(true, Relaxed);
        let (job, started) = self.rewrite_begin(ks, &s, true)?;
        self.rewrite_finish(job, started)
    }

    /// BGREWRITEAOF: a new incremental file and the snapshot under every lock, the base written
    /// on a thread. `incr`: appending goes on into a new incremental file (the AOF is on).
    pub fn rewrite(
        self: &Arc<Self>,
        ks: &Arc<Keyspace>,
        s: AofSettings,
        incr: bool,
    ) -> Result<(), AofError> {
        if self.rewriting.swap(true, Relaxed) {
            return Err(AofError::InProgress);
        }
        self.files_or_manifest(&s);
        let dir = s.aof_dir();
        if let Err(e) = std::fs::create_dir_all(&dir).map_err(io_err(&dir)) {
            self.rewriting.store(false, Relaxed);
            return Err(e);
        }
        let (job, started) = match self.rewrite_begin(ks, &s, incr) {
            Ok(x) => x,
            Err(AofError::SaveInProgress) => {
                self.rewriting.store(false, Relaxed);
                return Err(AofError::SaveInProgress);
            }
            Err(e) => {
                self.rewriting.store(false, Relaxed);
                self.last_rewrite_ok.store(false, Relaxed);
                self.rewrite_failures.fetch_add(1, Relaxed);
                return Err(e);
            }
        };
        let me = self.clone();
        let spawned = std::thread::Builder::new()
            .name("respd-aof-rewrite".into())
            .spawn(move || {
                if let Err(e) = me.rewrite_finish(job, started) {
                    tracing::warn!("background AOF rewrite failed: {e}");
                }
            });
        if let Err(e) = spawned {
            self.rewriting.store(false, Relaxed);
            return Err(AofError::Io {
                path: "thread".into(),
                source: e,
            });
        }
        Ok(())
    }

    /// At the snapshot's cut, under every shard lock: a new incremental file (listed in the
    /// manifest when a base exists, so a crash meanwhile loses nothing). The base is then
    /// written from that copy-free snapshot (`persist::snapshot`), as BGSAVE writes its file.
    fn rewrite_begin(
        &self,
        ks: &Arc<Keyspace>,
        s: &AofSettings,
        incr: bool,
    ) -> Result<(RewriteJob, Instant), AofError> {
        let started = Instant::now();
        let mut switched = Ok(None);
        let mut functions = Vec::new();
        // The libraries as of the cut: FUNCTION LOAD and the like change them and append to
        // the AOF with every shard locked, so each is either in the base or in the new file.
        let snap = super::snapshot::start(ks, || {
            switched = self.switch_files(s, incr);
            functions = ks.functions.read().map(|f| f.clone()).unwrap_or_default();
        })
        .ok_or(AofError::SaveInProgress)?;
        // On an error the snapshot is dropped unwritten (its walk still ends it).
        let new_incr = switched?;
        Ok((
            RewriteJob {
                snap,
                new_incr,
                settings: s.clone(),
                functions,
            },
            started,
        ))
    }

    /// The cut of a rewrite: with `incr`, appending goes on into a new incremental file from
    /// here, so each command is either in the snapshot or appended after it.
    fn switch_files(&self, s: &AofSettings, incr: bool) -> Result<Option<FileInfo>, AofError> {
        let mut files = guard(&self.files);
        let Some(f) = files.as_mut() else {
            return Err(AofError::InProgress);
        };
        f.settings = s.clone();
        if !incr {
            return Ok(None);
        }
        let mut m = f.manifest.clone();
        self.on.store(true, Relaxed);
        m.incr_seq += 1;
        let info = FileInfo {
            name: s.incr_name(m.incr_seq),
            seq: m.incr_seq,
        };
        let path = s.aof_dir().join(&info.name);
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(io_err(&path))?;
        m.incr.push(info.clone());
        if m.base.is_some() {
            write_manifest(s, &m)?;
        }
        f.manifest = m;
        let mut p = guard(&self.pending);
        p.seal();
        p.items.push(Item::Switch(file));
        // The new file starts without a database selected.
        p.db = None;
        drop(p);
        self.wake.notify_one();
        Ok(Some(info))
    }

    /// Writes the base from the snapshot, then the manifest naming it, then deletes the files
    /// it replaces.
    fn rewrite_finish(&self, job: RewriteJob, started: Instant) -> Result<(), AofError> {
        let out = self.write_base(job);
        self.last_rewrite_ok.store(out.is_ok(), Relaxed);
        if out.is_ok() {
            self.rewrites.fetch_add(1, Relaxed);
            self.rewrite_failures.store(0, Relaxed);
        } else {
            self.rewrite_failures.fetch_add(1, Relaxed);
        }
        self.last_rewrite_secs
            .store(started.elapsed().as_secs() as i64, Relaxed);
        self.rewriting.store(false, Relaxed);
        if out.is_ok() {
            tracing::info!(
                "Background AOF rewrite finished successfully in {:.3} s",
                started.elapsed().as_secs_f64()
            );
        }
        out
    }

    fn write_base(&self, job: RewriteJob) -> Result<(), AofError> {
        let RewriteJob {
            snap,
            new_incr,
            settings,
            functions,
        } = job;
        let s = &settings;
        let dir = s.aof_dir();
        let tmp = dir.join(format!("temp-rewriteaof-bg-{}.aof", std::process::id()));
        let written = (|| -> std::io::Result<()> {
            let file = File::create(&tmp)?;
            {
                let w = std::io::BufWriter::with_capacity(
                    1 << 16,
                    super::AutoSync::new(&file, s.incremental_fsync),
                );
                if s.rdb_preamble {
                    let mut w = super::rdb::Writer::new(w, s.rdb.compression, s.rdb.checksum);
                    w.header(
                        crate::keyspace::now_ms() / 1000,
                        crate::alloc::used_memory() as u64,
                    )?;
                    w.functions(&functions)?;
                    snap.write(&mut w, s.rdb.key_save_delay)?;
                    w.finish()?;
                } else {
                    let mut sink = CommandSink(w);
                    if s.timestamps {
                        // As Redis's rewrite: the base starts with the time it was made.
                        let now = crate::keyspace::now_ms() / 1000;
                        sink.0.write_all(format!("#TS:{now}\r\n").as_bytes())?;
                    }
                    // As Redis's rewriteFunctions: FUNCTION LOAD of each library first.
                    for code in &functions {
                        resp_cmd(&mut sink.0, &[b"FUNCTION", b"LOAD", code])?;
                    }
                    snap.write_to(&mut sink, s.rdb.key_save_delay)?;
                    sink.0.flush()?;
                }
            }
            file.sync_all()
        })();
        if let Err(e) = written {
            let _ = std::fs::remove_file(&tmp);
            return Err(io_err(&tmp)(e));
        }
        let mut files = guard(&self.files);
        let Some(f) = files.as_mut() else {
            let _ = std::fs::remove_file(&tmp);
            return Ok(());
        };
        let mut m = f.manifest.clone();
        m.base_seq += 1;
        let base = FileInfo {
            name: s.base_name(m.base_seq),
            seq: m.base_seq,
        };
        let base_path = dir.join(&base.name);
        std::fs::rename(&tmp, &base_path).map_err(io_err(&base_path))?;
        // Everything before the new incremental file is in the base now.
        // Newest first, as Redis's manifest lists history: the replaced incremental files
        // (last first), the old base, then what was history already.
        let keep_from = new_incr
            .as_ref()
            .and_then(|n| m.incr.iter().position(|i| i == n))
            .unwrap_or(m.incr.len());
        let mut old: Vec<FileInfo> = m.incr.drain(..keep_from).rev().collect();
        old.extend(m.base.replace(base));
        old.append(&mut m.history);
        if s.keep_history {
            // `aof-disable-auto-gc yes`: the manifest lists them as history until it is no.
            m.history = old;
            old = Vec::new();
        }
        write_manifest(s, &m)?;
        f.manifest = m;
        for o in &old {
            tracing::info!("Removing the history file {} in the background", o.name);
            let _ = std::fs::remove_file(dir.join(&o.name));
        }
        let _ = super::sync_dir(&dir);
        self.base_size
            .store(total_size(&f.settings, &f.manifest), Relaxed);
        Ok(())
    }

    /// `CONFIG SET aof-disable-auto-gc no`: the history files a rewrite kept are deleted now
    /// (Redis's `aofDelHistoryFiles`).
    pub fn remove_history(&self) {
        let mut files = guard(&self.files);
        let Some(f) = files.as_mut() else {
            return;
        };
        if f.manifest.history.is_empty() {
            return;
        }
        let mut m = f.manifest.clone();
        let old: Vec<FileInfo> = m.history.drain(..).collect();
        if let Err(e) = write_manifest(&f.settings, &m) {
            tracing::warn!("cannot remove the AOF's history files: {e}");
            return;
        }
        f.manifest = m;
        let dir = f.settings.aof_dir();
        for o in &old {
            tracing::info!("Removing the history file {} in the background", o.name);
            let _ = std::fs::remove_file(dir.join(&o.name));
        }
    }

    /// `aof_current_size`: the files the manifest lists.
    pub fn current_size(&self) -> u64 {
        match guard(&self.files).as_ref() {
            Some(f) => total_size(&f.settings, &f.manifest),
            None => 0,
        }
    }

    /// The once-a-second check: a scheduled rewrite, or an automatic one when the AOF grew by
    /// `auto-aof-rewrite-percentage` over its size after the last rewrite and is at least
    /// `auto-aof-rewrite-min-size` (Redis's `serverCron`).
    pub fn rewrite_if_due(self: &Arc<Self>, ks: &Arc<Keyspace>, s: AofSettings, bgsave: bool) {
        if self.rewriting.load(Relaxed) || bgsave {
            return;
        }
        let scheduled = self.rewrite_scheduled.swap(false, Relaxed);
        let mut due = false;
        if self.on() && s.auto_percentage > 0 {
            let size = self.current_size();
            let base = self.base_size.load(Relaxed).max(1);
            let growth = size.saturating_sub(base) * 100 / base;
            if size >= s.auto_min_size && growth >= s.auto_percentage {
                tracing::info!("Starting automatic rewriting of AOF on {growth}% growth");
                due = true;
            }
        }
        if scheduled || due {
            let incr = self.on() || self.enable_pending.load(Relaxed);
            match self.rewrite(ks, s, incr) {
                Ok(()) => self.enable_pending.store(false, Relaxed),
                // A save began meanwhile: again at the next check.
                Err(AofError::SaveInProgress) => self.rewrite_scheduled.store(true, Relaxed),
                Err(e) => tracing::warn!("{e}"),
            }
        }
    }
}

/// What a background rewrite writes.
struct RewriteJob {
    snap: super::snapshot::Snapshot,
    new_incr: Option<FileInfo>,
    settings: AofSettings,
    /// The function libraries' code at the cut.
    functions: Vec<Bytes>,
}

/// The base as commands (`aof-use-rdb-preamble no`), as Redis's `rewriteAppendOnlyFileRio`:
/// collections in commands of at most 64 elements, then PEXPIREAT. A stream is one RESTORE of
/// its DUMP payload (entries, groups, PELs and consumers at once).
struct CommandSink<W: Write>(W);

impl<W: Write> super::snapshot::Sink for CommandSink<W> {
    fn select_db(&mut self, db: usize, _keys: usize, _expires: usize) -> std::io::Result<()> {
        self.select_only(db)
    }
    fn select_only(&mut self, db: usize) -> std::io::Result<()> {
        resp_cmd(&mut self.0, &[b"SELECT", db.to_string().as_bytes()])
    }
    fn key(&mut self, k: &[u8], e: &Entry) -> std::io::Result<()> {
        entry_commands(&mut self.0, k, e)
    }
    fn string(&mut self, k: &[u8], expire_at: Option<u64>, v: &Value) -> std::io::Result<()> {
        if let Value::Str(s) = v {
            resp_cmd(&mut self.0, &[b"SET", k, &s[..]])?;
        }
        expiry(&mut self.0, k, expire_at)
    }
    fn record(&self, k: &[u8], e: &Entry) -> Vec<u8> {
        let mut out = Vec::new();
        // Writing into a Vec cannot fail.
        let _ = entry_commands(&mut out, k, e);
        out
    }
    fn raw(&mut self, r: &[u8]) -> std::io::Result<()> {
        self.0.write_all(r)
    }
}

fn expiry<W: Write>(w: &mut W, k: &[u8], at: Option<u64>) -> std::io::Result<()> {
    match at {
        Some(t) => resp_cmd(w, &[b"PEXPIREAT", k, t.to_string().as_bytes()]),
        None => Ok(()),
    }
}

/// One key as the commands that make it.
fn entry_commands<W: Write>(w: &mut W, k: &[u8], e: &Entry) -> std::io::Result<()> {
    match &e.value {
        Value::Str(s) => resp_cmd(w, &[b"SET", k, &s[..]])?,
        Value::List(l) => batched(w, b"RPUSH", k, 1, l.iter().map(|x| &x[..]).collect())?,
        Value::Set(s) => {
            let members = s.members();
            batched(w, b"SADD", k, 1, members.iter().map(|x| &x[..]).collect())?
        }
        Value::ZSet(z) => {
            let scores: Vec<String> = z
                .iter()
                .map(|(_, sc)| crate::resp::fmt_double(sc))
                .collect();
            let args = z
                .iter()
                .zip(&scores)
                .flat_map(|((m, _), sc)| [sc.as_bytes(), m])
                .collect();
            batched(w, b"ZADD", k, 2, args)?
        }
        Value::Hash(h) => {
            let args = h.iter().flat_map(|(f, v)| [f, v]).collect();
            batched(w, b"HSET", k, 2, args)?
        }
        Value::Stream(_) => {
            let payload = super::rdb::dump_payload(&e.value);
            resp_cmd(w, &[b"RESTORE", k, b"0", &payload])?;
        }
    }
    expiry(w, k, e.expire_at())
}

/// `cmd key` followed by `args` (elements of `per` arguments each), split into commands of at
/// most 64 elements, as Redis's rewrite does.
fn batched<W: Write>(
    w: &mut W,
    cmd: &[u8],
    key: &[u8],
    per: usize,
    args: Vec<&[u8]>,
) -> std::io::Result<()> {
    const ITEMS: usize = 64;
    for c in args.chunks(ITEMS * per) {
        let mut argv: Vec<&[u8]> = vec![cmd, key];
        argv.extend_from_slice(c);
        resp_cmd(w, &argv)?;
    }
    Ok(())
}

/// One command in RESP.
fn resp_cmd<W: Write>(w: &mut W, argv: &[&[u8]]) -> std::io::Result<()> {
    write!(w, "*{}\r\n", argv.len())?;
    for a in argv {
        write!(w, "${}\r\n", a.len())?;
        w.write_all(a)?;
        w.write_all(b"\r\n")?;
    }
    Ok(())
}

fn total_size(s: &AofSettings, m: &Manifest) -> u64 {
    m.base
        .iter()
        .chain(m.incr.iter())
        .map(|f| {
            std::fs::metadata(s.aof_dir().join(&f.name))
                .map(|md| md.len())
                .unwrap_or(0)
        })
        .sum()
}

/// Writes the manifest atomically: a temporary file, fsync, rename, fsync of the directory.
fn write_manifest(s: &AofSettings, m: &Manifest) -> Result<(), AofError> {
    let dir = s.aof_dir();
    let tmp = dir.join(format!("temp-{}.manifest", s.filename));
    let path = s.manifest_path();
    (|| -> std::io::Result<()> {
        let mut f = File::create(&tmp)?;
        f.write_all(m.format().as_bytes())?;
        f.sync_all()?;
        std::fs::rename(&tmp, &path)?;
        super::sync_dir(&dir)
    })()
    .map_err(io_err(&path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_are_encoded_as_resp_with_large_values_uncopied() {
        let mut p = Pending::default();
        let big = Bytes::from(vec![b'x'; 100_000]);
        p.select(3);
        p.command(&[
            Bytes::from_static(b"SET"),
            Bytes::from_static(b"k"),
            big.clone(),
        ]);
        p.select(3); // No second SELECT.
        p.seal();
        let mut all = Vec::new();
        let mut shared = false;
        for i in &p.items {
            if let Item::Data(b) = i {
                shared |= b.as_ptr() == big.as_ptr();
                all.extend_from_slice(b);
            }
        }
        assert!(shared, "the value's own bytes are in the buffer");
        let mut want =
            b"*2\r\n$6\r\nSELECT\r\n$1\r\n3\r\n*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$100000\r\n".to_vec();
        want.extend_from_slice(&big);
        want.extend_from_slice(b"\r\n");
        assert_eq!(all, want);
        assert_eq!(p.end, want.len() as u64);
    }
}
