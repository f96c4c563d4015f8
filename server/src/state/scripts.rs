//! What the scripting commands share (`crate::cmd::script`): the pool of Lua engines (kept here
//! opaque, so this layer needs no Lua), the script cache every engine compiles from, and the runs
//! in progress, which other clients read for `-BUSY` and SCRIPT KILL and which each engine's
//! instruction hook reads to stop.

use bytes::Bytes;
use std::any::Any;
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Instant;

/// The script engines, the script cache and the runs in progress.
#[derive(Default)]
pub struct Scripts {
    /// Idle Lua engines: a run takes one (or makes one) and gives it back, so scripts run in
    /// parallel on as many engines as there are runs at once (at most one per thread).
    pub engines: Mutex<Vec<Box<dyn Any + Send>>>,
    /// The script cache, SHA-1 → body: every engine compiles from it on first use.
    /// (foldhash: EVALSHA looks a SHA-1 up here on every call, and SipHash cost more than the
    /// rest of the lookup.)
    pub cache: RwLock<HashMap<String, Arc<Cached>, foldhash::fast::RandomState>>,
    /// Bumped by SCRIPT FLUSH: an engine made before it is dropped instead of reused.
    pub generation: AtomicU64,
    /// The runs in progress.
    pub active: Mutex<Vec<Arc<RunState>>>,
    /// How many runs are in progress: the one load a command pays while none is.
    pub running: AtomicUsize,
    /// How many of them are past `busy-reply-threshold`: other clients get -BUSY meanwhile.
    pub busy: Arc<AtomicUsize>,
    /// `math.random`'s generator state (Redis's lrand48), kept across SCRIPT FLUSH as Redis
    /// keeps it; 0 until the first script.
    pub rand: Arc<AtomicU64>,
    /// The function libraries (FUNCTION LOAD); each engine compiles a library on first use.
    pub functions: RwLock<Functions>,
    /// Numbers libraries, so an engine knows whether what it compiled is still current.
    pub lib_ids: AtomicU64,
}

/// Function flags as Redis lists them (`scripts_flags_def`), in its order: bit i is entry i.
pub const FUNCTION_FLAGS: &[&str] = &[
    "no-writes",
    "allow-oom",
    "allow-stale",
    "no-cluster",
    "allow-cross-slot-keys",
];

/// One function of a library.
pub struct FunctionInfo {
    pub name: String,
    pub desc: Option<Bytes>,
    /// Bits of [`FUNCTION_FLAGS`].
    pub flags: u8,
}

/// A loaded library: its whole code (shebang included, as FUNCTION LIST WITHCODE and DUMP give
/// it) and its functions.
pub struct Library {
    pub name: String,
    /// Unique per load: engines key what they compiled by it.
    pub id: u64,
    /// The code, and the library's lock mode (as a cached script's).
    pub cached: Cached,
    pub functions: Vec<FunctionInfo>,
}

/// The libraries by name and their functions by name.
#[derive(Default, Clone)]
pub struct Functions {
    pub libs: BTreeMap<String, Arc<Library>>,
    pub index: HashMap<String, (Arc<Library>, usize)>,
}

impl Functions {
    /// Adds `lib` (no clash checked: the caller did).
    pub fn link(&mut self, lib: Arc<Library>) {
        for (i, f) in lib.functions.iter().enumerate() {
            self.index.insert(f.name.clone(), (lib.clone(), i));
        }
        self.libs.insert(lib.name.clone(), lib);
    }

    /// Removes library `name`; returns it.
    pub fn unlink(&mut self, name: &str) -> Option<Arc<Library>> {
        let lib = self.libs.remove(name)?;
        for f in &lib.functions {
            self.index.remove(&f.name);
        }
        Some(lib)
    }
}

/// A cached script.
pub struct Cached {
    pub body: Bytes,
    /// Set once a run of it reached a key it did not declare: it runs with every shard locked
    /// from then on (docs/scripting.md, "Locks").
    pub wide: AtomicBool,
}

/// Bits of the shards a run holds, (db × 16 + shard) mod 256: a clash may be a false one, which
/// costs a wait, never a missed one.
pub type ShardBits = [u64; 4];

/// The bit of shard `shard` of `db` in [`ShardBits`].
pub fn shard_bit(db: usize, shard: usize) -> (usize, u64) {
    let i = (db * 16 + shard) & 255;
    (i / 64, 1 << (i % 64))
}

/// One run: when it started, which shards it holds, whether it wrote, and whether SCRIPT KILL
/// asked it to stop. Each engine has one, reused by its runs.
#[derive(Default)]
pub struct RunState {
    pub running: AtomicBool,
    /// Set by the hook once the run is past `busy-reply-threshold`: other clients get -BUSY.
    pub busy: AtomicBool,
    pub wrote: AtomicBool,
    pub kill: AtomicBool,
    /// A function (FCALL) rather than EVAL: which KILL applies.
    pub function: AtomicBool,
    /// `busy-reply-threshold` in ms when the run started (0: never busy).
    pub threshold_ms: AtomicU64,
    pub started: Mutex<Option<Instant>>,
    /// The shards the run holds or is about to take (every bit: all of them).
    pub shards: [AtomicU64; 4],
    /// Set for a run on a multi-threaded runtime: the hook, at its first turn, hands the
    /// worker's other connections to another thread.
    pub handoff: AtomicBool,
    /// Turns of the hook in this run.
    pub ticks: AtomicU32,
    /// A function's name and its FCALL's arguments (FUNCTION STATS), for a function run.
    pub call: Mutex<Option<(String, Vec<Bytes>)>>,
    /// Set while FUNCTION LOAD runs a library's code: the hook stops it past this instant.
    pub load_until: Mutex<Option<Instant>>,
}

impl RunState {
    /// Marks a run as started and registers it with `scripts`.
    pub fn begin(
        self: &Arc<Self>,
        scripts: &Scripts,
        threshold_ms: u64,
        function: bool,
        handoff: bool,
    ) {
        self.handoff.store(handoff, Relaxed);
        self.ticks.store(0, Relaxed);
        if let Ok(mut s) = self.started.lock() {
            *s = Some(Instant::now());
        }
        self.threshold_ms.store(threshold_ms, Relaxed);
        self.wrote.store(false, Relaxed);
        self.kill.store(false, Relaxed);
        self.function.store(function, Relaxed);
        self.running.store(true, Relaxed);
        if let Ok(mut a) = scripts.active.lock() {
            a.push(self.clone());
        }
        scripts.running.fetch_add(1, Relaxed);
    }

    /// Marks the run as over and unregisters it.
    pub fn end(self: &Arc<Self>, scripts: &Scripts) {
        if let Ok(mut a) = scripts.active.lock() {
            a.retain(|r| !Arc::ptr_eq(r, self));
        }
        scripts.running.fetch_sub(1, Relaxed);
        self.running.store(false, Relaxed);
        if self.busy.swap(false, Relaxed) {
            scripts.busy.fetch_sub(1, Relaxed);
        }
        self.kill.store(false, Relaxed);
        self.handoff.store(false, Relaxed);
        self.set_shards(&[0; 4]);
        if self.function.load(Relaxed) {
            if let Ok(mut c) = self.call.lock() {
                *c = None;
            }
        }
    }

    /// Records the shards the run holds (before it takes them).
    pub fn set_shards(&self, bits: &ShardBits) {
        for (a, b) in self.shards.iter().zip(bits) {
            a.store(*b, Relaxed);
        }
    }

    /// Adds one shard to [`RunState::shards`] (before the run takes it).
    pub fn add_shard(&self, db: usize, shard: usize) {
        let (w, b) = shard_bit(db, shard);
        self.shards[w].fetch_or(b, Relaxed);
    }

    /// Whether the run holds (or may hold) any shard of `bits`.
    pub fn clashes(&self, bits: &ShardBits) -> bool {
        self.shards
            .iter()
            .zip(bits)
            .any(|(a, b)| a.load(Relaxed) & b != 0)
    }

    /// Called by the hook now and then: sets `busy` (and counts it in `busy_count`) past the
    /// threshold; true if the run must stop.
    pub fn check(&self, busy_count: &AtomicUsize) -> bool {
        let t = self.threshold_ms.load(Relaxed);
        if t > 0 && !self.busy.load(Relaxed) {
            let started = self.started.lock().ok().and_then(|s| *s);
            if started.is_some_and(|s| s.elapsed().as_millis() as u64 >= t)
                && !self.busy.swap(true, Relaxed)
            {
                busy_count.fetch_add(1, Relaxed);
            }
        }
        self.kill.load(Relaxed)
    }
}

impl Scripts {
    /// Whether a run in progress holds (or may hold) a shard of `bits`.
    pub fn clash(&self, bits: &ShardBits) -> bool {
        self.active
            .lock()
            .map(|a| a.iter().any(|r| r.clashes(bits)))
            .unwrap_or(false)
    }
}
