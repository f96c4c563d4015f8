//! A counting allocator: `used_memory` in INFO is the exact number of bytes the heap holds.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicIsize, AtomicUsize, Ordering::Relaxed};

/// One counter per slot, each on its own cache line, so threads do not contend on one line
/// (a single shared counter cost ~5% of a pipelined benchmark).
#[repr(align(64))]
struct Slot(AtomicIsize);

const SLOTS: usize = 16;
static COUNTERS: [Slot; SLOTS] = [const { Slot(AtomicIsize::new(0)) }; SLOTS];
static NEXT_SLOT: AtomicUsize = AtomicUsize::new(0);
static INSTALLED: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    static MY_SLOT: Cell<usize> = const { Cell::new(usize::MAX) };
}

fn add(delta: isize) {
    let slot = MY_SLOT
        .try_with(|s| {
            let mut v = s.get();
            if v == usize::MAX {
                v = NEXT_SLOT.fetch_add(1, Relaxed) % SLOTS;
                s.set(v);
            }
            v
        })
        .unwrap_or(0); // During thread teardown: any slot will do, the sum stays right.
    COUNTERS[slot].0.fetch_add(delta, Relaxed);
}

/// The system allocator, counting live bytes. The `respd` binary installs it.
pub struct Counting;

// SAFETY: every call is forwarded to the system allocator unchanged; only a counter is added.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        add(l.size() as isize);
        // SAFETY: same contract as ours.
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        add(-(l.size() as isize));
        // SAFETY: same contract as ours.
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn alloc_zeroed(&self, l: Layout) -> *mut u8 {
        add(l.size() as isize);
        // SAFETY: same contract as ours.
        unsafe { System.alloc_zeroed(l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        add(new as isize - l.size() as isize);
        // SAFETY: same contract as ours.
        unsafe { System.realloc(p, l, new) }
    }
}

/// Marks the counting allocator as installed (the binary calls it at start).
pub fn mark_installed() {
    INSTALLED.store(1, Relaxed);
}

/// Bytes held on the heap for data: exact under [`Counting`] (else the resident set size),
/// without the idle large-value buffers kept for reuse, which Redis's allocator would not count
/// either.
pub fn used_memory() -> usize {
    let heap = if INSTALLED.load(Relaxed) == 1 {
        COUNTERS
            .iter()
            .map(|c| c.0.load(Relaxed))
            .sum::<isize>()
            .max(0) as usize
    } else {
        rss()
    };
    heap.saturating_sub(crate::resp::pool::idle_bytes())
}

/// Resident set size from /proc.
pub fn rss() -> usize {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| {
            s.split_whitespace()
                .nth(1)
                .and_then(|p| p.parse::<usize>().ok())
        })
        .map_or(0, |pages| pages * 4096)
}

/// Peak resident set size from /proc (VmHWM).
pub fn peak_rss() -> usize {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmHWM:")).and_then(|l| {
                l.split_whitespace()
                    .nth(1)
                    .and_then(|k| k.parse::<usize>().ok())
            })
        })
        .map_or(0, |kb| kb * 1024)
}
