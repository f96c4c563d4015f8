//! CLIENT PAUSE: whether commands are held back now, which (all, or those that may write), and
//! until when. The connections wait on it before running a command (`connection`), the command
//! layer says which commands a pause covers (`cmd::client::paused`).

use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::Mutex;
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// The pause in force, if any.
pub struct Pause {
    /// Whether a pause may be in force: one load per command when there is none.
    active: AtomicBool,
    /// Its end and whether it covers all commands (else those that may write).
    now: Mutex<Option<(Instant, bool)>>,
    /// Bumped at every change, so that waiting connections look again.
    changed: watch::Sender<u64>,
}

impl Default for Pause {
    fn default() -> Self {
        Pause {
            active: AtomicBool::new(false),
            now: Mutex::new(None),
            changed: watch::channel(0).0,
        }
    }
}

impl Pause {
    /// Pauses for `ms` more milliseconds; as Redis, a pause in force is only extended and made
    /// stricter, never shortened.
    pub fn pause(&self, ms: u64, all: bool) {
        let end = Instant::now()
            .checked_add(Duration::from_millis(ms))
            .unwrap_or_else(|| Instant::now() + Duration::from_secs(86400 * 365 * 100));
        let mut p = self.now.lock().unwrap_or_else(|e| e.into_inner());
        *p = Some(match *p {
            Some((e, a)) => (e.max(end), a || all),
            None => (end, all),
        });
        self.active.store(true, Relaxed);
        self.changed.send_modify(|v| *v += 1);
    }

    pub fn unpause(&self) {
        *self.now.lock().unwrap_or_else(|e| e.into_inner()) = None;
        self.active.store(false, Relaxed);
        self.changed.send_modify(|v| *v += 1);
    }

    /// The pause in force: its end and whether it covers all commands.
    pub fn current(&self) -> Option<(Instant, bool)> {
        if !self.active.load(Relaxed) {
            return None;
        }
        let mut p = self.now.lock().unwrap_or_else(|e| e.into_inner());
        match *p {
            Some((end, _)) if end <= Instant::now() => {
                *p = None;
                self.active.store(false, Relaxed);
                None
            }
            x => x,
        }
    }

    /// A receiver that sees the next change.
    pub fn watch(&self) -> watch::Receiver<u64> {
        self.changed.subscribe()
    }
}
