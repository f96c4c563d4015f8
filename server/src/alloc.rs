//! A counting allocator: `used_memory` in INFO is the exact number of bytes the heap holds.

use libmimalloc_sys as mi;
use mimalloc::MiMalloc;
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicIsize, AtomicUsize, Ordering::Relaxed};

/// One counter per thread, each on its own cache line. Only its thread writes it, so the update
/// is a plain load and store, not a locked read-modify-write (a shared atomic counter cost ~5% of
/// a pipelined benchmark). Threads beyond the first `SLOTS - 1` share the last slot, atomically.
#[repr(align(64))]
struct Slot(AtomicIsize);

const SLOTS: usize = 64;
const SHARED: usize = SLOTS - 1;
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
                v = NEXT_SLOT.fetch_add(1, Relaxed).min(SHARED);
                s.set(v);
            }
            v
        })
        .unwrap_or(SHARED); // During thread teardown: the shared slot; the sum stays right.
    let c = &COUNTERS[slot].0;
    if slot == SHARED {
        c.fetch_add(delta, Relaxed);
    } else {
        c.store(c.load(Relaxed).wrapping_add(delta), Relaxed);
    }
}

/// Allocations at least this large go to the system allocator: it maps them on their own and
/// unmaps them when freed, so a deleted 128 MiB value leaves the resident set at once, and a
/// growing buffer is moved by `mremap`, not copied. mimalloc keeps freed memory for reuse until
/// it is next called, which an idle server never does.
const LARGE: usize = 256 * 1024;

/// mimalloc for small blocks, through its plain entry points where the layout allows. Every
/// block of those is 8-aligned (its pages start 16-aligned and block sizes are whole words);
/// 16-byte alignment is not promised for every size, so larger alignments take the aligned path.
struct Small;

const MI_ALIGN: usize = 8;

fn plain(l: &Layout) -> bool {
    l.align() <= MI_ALIGN && l.align() <= l.size()
}

impl Small {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        // SAFETY: GlobalAlloc's contract, passed on.
        unsafe {
            if plain(&l) {
                mi::mi_malloc(l.size()).cast()
            } else {
                MiMalloc.alloc(l)
            }
        }
    }
    unsafe fn alloc_zeroed(&self, l: Layout) -> *mut u8 {
        // SAFETY: as above.
        unsafe {
            if plain(&l) {
                mi::mi_zalloc(l.size()).cast()
            } else {
                MiMalloc.alloc_zeroed(l)
            }
        }
    }
    unsafe fn dealloc(&self, p: *mut u8, _l: Layout) {
        // SAFETY: `p` came from mimalloc, by either entry point; mi_free takes both.
        unsafe { mi::mi_free(p.cast()) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        // SAFETY: as above; the new size keeps the alignment plain when the old one was.
        unsafe {
            if l.align() <= MI_ALIGN && l.align() <= new {
                mi::mi_realloc(p.cast(), new).cast()
            } else {
                MiMalloc.realloc(p, l, new)
            }
        }
    }
}

/// The heap, counting live bytes: mimalloc for small allocations (much cheaper than glibc's for
/// the many short-lived ones of each request), the system allocator for large ones. The `respd`
/// binary installs it.
pub struct Counting;

// SAFETY: each block is allocated and freed by the same allocator, chosen by its size, which
// `dealloc` and `realloc` are given back unchanged; only a counter is added.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        add(l.size() as isize);
        // SAFETY: same contract as ours.
        unsafe {
            if l.size() >= LARGE {
                System.alloc(l)
            } else {
                Small.alloc(l)
            }
        }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        add(-(l.size() as isize));
        // SAFETY: same contract as ours; the block came from the allocator its size picks.
        unsafe {
            if l.size() >= LARGE {
                System.dealloc(p, l)
            } else {
                Small.dealloc(p, l)
            }
        }
    }
    unsafe fn alloc_zeroed(&self, l: Layout) -> *mut u8 {
        add(l.size() as isize);
        // SAFETY: same contract as ours.
        unsafe {
            if l.size() >= LARGE {
                System.alloc_zeroed(l)
            } else {
                Small.alloc_zeroed(l)
            }
        }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        let (was_large, is_large) = (l.size() >= LARGE, new >= LARGE);
        if was_large == is_large {
            add(new as isize - l.size() as isize);
            // SAFETY: same contract as ours, within one allocator.
            return unsafe {
                if is_large {
                    System.realloc(p, l, new)
                } else {
                    Small.realloc(p, l, new)
                }
            };
        }
        // Crossing the threshold moves the block to the other allocator.
        // SAFETY: `new` is non-zero and fits `l.align()` (realloc's contract).
        let to = unsafe { Layout::from_size_align_unchecked(new, l.align()) };
        // SAFETY: as alloc and dealloc above; the copy stays within both blocks.
        unsafe {
            let q = self.alloc(to);
            if !q.is_null() {
                std::ptr::copy_nonoverlapping(p, q, l.size().min(new));
                self.dealloc(p, l);
            }
            q
        }
    }
}

/// Marks the counting allocator as installed (the binary calls it at start), and pins glibc's
/// mmap threshold at [`LARGE`]: left to itself glibc raises the threshold to the size of each
/// mapped block freed (up to 32 MiB), after which blocks of that size come from its heap and stay
/// resident after they are freed. Pinned, every large value is mapped alone and unmapped when
/// freed, as [`LARGE`] promises (a soak of 16 MiB values left ~20 MiB resident without it).
pub fn mark_installed() {
    INSTALLED.store(1, Relaxed);
    // SAFETY: mallopt only changes glibc's tuning; called before any other thread exists.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, LARGE as libc::c_int);
    }
}

/// INFO's `mem_allocator`: the allocators serving the heap, small blocks first (Redis names
/// its own, `jemalloc-5.2.1` or `libc`). Without the binary's [`Counting`] allocator (the
/// library in a test), the system's.
pub fn name() -> &'static str {
    if INSTALLED.load(Relaxed) == 1 {
        "mimalloc+libc"
    } else {
        "libc"
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Every layout gets a block aligned as asked, whichever entry point serves it, also after
    /// realloc (growing within mimalloc, and across the large-value threshold both ways).
    #[test]
    fn blocks_are_aligned_as_their_layouts_ask() {
        let a = Counting;
        for align in [1usize, 2, 4, 8, 16, 32, 64, 4096] {
            for size in [1usize, 3, 8, 16, 24, 40, 48, 72, 100, 1000, 4095, LARGE + 1] {
                let l = Layout::from_size_align(size, align).unwrap();
                // SAFETY: non-zero sizes; each block is freed with its layout.
                unsafe {
                    for new in [size * 2 + 8, LARGE * 2, 5] {
                        let p = a.alloc(l);
                        assert!(!p.is_null());
                        assert_eq!(p as usize % align, 0, "alloc size {size} align {align}");
                        p.write_bytes(0xa5, size);
                        let q = a.realloc(p, l, new);
                        assert_eq!(q as usize % align, 0, "realloc to {new}, align {align}");
                        assert_eq!(*q, 0xa5, "realloc keeps the contents");
                        a.dealloc(q, Layout::from_size_align(new, align).unwrap());
                    }
                    let z = a.alloc_zeroed(l);
                    assert_eq!(z as usize % align, 0);
                    assert_eq!(*z.add(size - 1), 0);
                    a.dealloc(z, l);
                }
            }
        }
    }
}
