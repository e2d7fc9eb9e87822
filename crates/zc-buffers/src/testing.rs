//! A counting global allocator for tests and benches (feature `testing`).
//!
//! Install it in a test binary, then count what a closure allocates on the
//! current thread:
//!
//! ```ignore
//! use zc_buffers::testing::{CountingAllocator, count_allocs};
//! #[global_allocator]
//! static ALLOC: CountingAllocator = CountingAllocator::new();
//!
//! let ((), stats) = count_allocs(|| { /* hot path */ })?;
//! assert_eq!(stats.allocations, 0);
//! ```
//!
//! Counts are kept per thread (so tests running in parallel do not disturb
//! each other) and globally (for code that spreads work over threads).

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};

/// Allocation figures.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AllocStats {
    /// Calls to `alloc`/`alloc_zeroed`.
    pub allocations: u64,
    /// Calls to `realloc`.
    pub reallocations: u64,
    /// Calls to `dealloc`.
    pub deallocations: u64,
    /// Bytes requested by `alloc`, `alloc_zeroed` and the growth of `realloc`.
    pub bytes_allocated: u64,
}

impl AllocStats {
    /// Allocations plus reallocations: every call that may have hit the heap.
    pub fn heap_calls(&self) -> u64 {
        self.allocations + self.reallocations
    }

    fn minus(self, before: AllocStats) -> AllocStats {
        AllocStats {
            allocations: self.allocations - before.allocations,
            reallocations: self.reallocations - before.reallocations,
            deallocations: self.deallocations - before.deallocations,
            bytes_allocated: self.bytes_allocated - before.bytes_allocated,
        }
    }
}

thread_local! {
    static T_ALLOC: Cell<u64> = const { Cell::new(0) };
    static T_REALLOC: Cell<u64> = const { Cell::new(0) };
    static T_DEALLOC: Cell<u64> = const { Cell::new(0) };
    static T_BYTES: Cell<u64> = const { Cell::new(0) };
}
static G_ALLOC: AtomicU64 = AtomicU64::new(0);
static G_REALLOC: AtomicU64 = AtomicU64::new(0);
static G_DEALLOC: AtomicU64 = AtomicU64::new(0);
static G_BYTES: AtomicU64 = AtomicU64::new(0);
static INSTALLED: AtomicBool = AtomicBool::new(false);

fn bump(c: &'static std::thread::LocalKey<Cell<u64>>, by: u64) {
    let _ = c.try_with(|c| c.set(c.get() + by));
}

/// A `GlobalAlloc` that forwards to [`System`] and counts calls.
#[derive(Debug, Default)]
pub struct CountingAllocator;

impl CountingAllocator {
    /// For `#[global_allocator] static A: CountingAllocator = CountingAllocator::new();`
    pub const fn new() -> Self {
        CountingAllocator
    }
}

/// Count one allocation of `size` bytes, per thread and globally.
fn note_alloc(size: usize) {
    INSTALLED.store(true, Relaxed);
    bump(&T_ALLOC, 1);
    bump(&T_BYTES, size as u64);
    G_ALLOC.fetch_add(1, Relaxed);
    G_BYTES.fetch_add(size as u64, Relaxed);
}

// SAFETY: every method forwards to System with the caller's arguments, so
// System's guarantees carry over; the counters touch only const-initialised
// thread-locals (no allocation, no destructor) and atomics.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note_alloc(layout.size());
        // SAFETY: forwarded contract.
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note_alloc(layout.size());
        // SAFETY: forwarded contract.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        bump(&T_DEALLOC, 1);
        G_DEALLOC.fetch_add(1, Relaxed);
        // SAFETY: forwarded contract.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        bump(&T_REALLOC, 1);
        let grow = new_size.saturating_sub(layout.size()) as u64;
        bump(&T_BYTES, grow);
        G_REALLOC.fetch_add(1, Relaxed);
        G_BYTES.fetch_add(grow, Relaxed);
        // SAFETY: forwarded contract.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

/// The counting allocator is not the global allocator of this binary.
#[derive(Debug, thiserror::Error)]
#[error("zc_buffers::testing::CountingAllocator is not installed as #[global_allocator] in this binary")]
pub struct NotInstalled;

/// This thread's counts since it started.
pub fn thread_stats() -> AllocStats {
    let g = |c: &'static std::thread::LocalKey<Cell<u64>>| c.try_with(Cell::get).unwrap_or(0);
    AllocStats {
        allocations: g(&T_ALLOC),
        reallocations: g(&T_REALLOC),
        deallocations: g(&T_DEALLOC),
        bytes_allocated: g(&T_BYTES),
    }
}

/// Process-wide counts since start.
pub fn global_stats() -> AllocStats {
    AllocStats {
        allocations: G_ALLOC.load(Relaxed),
        reallocations: G_REALLOC.load(Relaxed),
        deallocations: G_DEALLOC.load(Relaxed),
        bytes_allocated: G_BYTES.load(Relaxed),
    }
}

fn ensure_installed() -> Result<(), NotInstalled> {
    if !INSTALLED.load(Relaxed) {
        // Any allocation through the counting allocator sets the flag.
        drop(std::hint::black_box(Box::new(0u64)));
    }
    if INSTALLED.load(Relaxed) {
        Ok(())
    } else {
        Err(NotInstalled)
    }
}

/// Run `f` and return what it allocated **on this thread**.
pub fn count_allocs<R>(f: impl FnOnce() -> R) -> Result<(R, AllocStats), NotInstalled> {
    ensure_installed()?;
    let before = thread_stats();
    let r = f();
    Ok((r, thread_stats().minus(before)))
}

/// Run `f` and return what the **whole process** allocated meanwhile (use
/// for code that spreads work over threads; run such tests alone).
pub fn count_allocs_global<R>(f: impl FnOnce() -> R) -> Result<(R, AllocStats), NotInstalled> {
    ensure_installed()?;
    let before = global_stats();
    let r = f();
    Ok((r, global_stats().minus(before)))
}
