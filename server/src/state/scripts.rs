//! What the scripting commands share (`crate::cmd::script`): the Lua engine (kept here opaque, so
//! this layer needs no Lua), and the state of the script running now, which other clients read
//! for `-BUSY` and SCRIPT KILL and which the engine's instruction hook reads to stop.

use std::any::Any;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// The script engine and the run in progress.
#[derive(Default)]
pub struct Scripts {
    /// The Lua engine, made at the first script and dropped by SCRIPT FLUSH. Locked after the
    /// keyspace (a script holds every shard first), never before it.
    pub engine: Mutex<Option<Box<dyn Any + Send>>>,
    /// The run in progress, shared with the engine's hook.
    pub run: Arc<RunState>,
    /// `math.random`'s generator state (Redis's lrand48), kept across SCRIPT FLUSH as Redis
    /// keeps it; 0 until the first script.
    pub rand: Arc<AtomicU64>,
}

/// One script run at a time (a script holds every shard): when it started, whether it wrote,
/// and whether SCRIPT KILL asked it to stop.
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
}

impl RunState {
    /// Marks a run as started.
    pub fn begin(&self, threshold_ms: u64, function: bool) {
        if let Ok(mut s) = self.started.lock() {
            *s = Some(Instant::now());
        }
        self.threshold_ms.store(threshold_ms, Relaxed);
        self.wrote.store(false, Relaxed);
        self.kill.store(false, Relaxed);
        self.function.store(function, Relaxed);
        self.running.store(true, Relaxed);
    }

    /// Marks the run as over.
    pub fn end(&self) {
        self.running.store(false, Relaxed);
        self.busy.store(false, Relaxed);
        self.kill.store(false, Relaxed);
    }

    /// Called by the hook now and then: sets `busy` past the threshold; true if the run must stop.
    pub fn check(&self) -> bool {
        let t = self.threshold_ms.load(Relaxed);
        if t > 0 && !self.busy.load(Relaxed) {
            let started = self.started.lock().ok().and_then(|s| *s);
            if started.is_some_and(|s| s.elapsed().as_millis() as u64 >= t) {
                self.busy.store(true, Relaxed);
            }
        }
        self.kill.load(Relaxed)
    }
}
