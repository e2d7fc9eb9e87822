//! A thread-safe buffer pool with size classes, a byte cap and RAII guards.
//!
//! ```
//! use std::time::Duration;
//! use zc_buffers::{Pool, Buffer, HostBufferMutExt};
//! let pool = Pool::builder()
//!     .name("audio")
//!     .cap_bytes(32 << 20)
//!     .zero_on_release(true)
//!     .build()?;
//! {
//!     let mut audio = pool.acquire(480_000 * 4)?;        // 30 s of f32
//!     audio.as_slice_mut::<f32>()?[0] = 0.25;
//! } // returned to the pool here
//! let again = pool.acquire_timeout(480_000 * 4, Duration::from_millis(10))?;
//! assert_eq!(pool.stats().hits, 1);
//! # drop(again);
//! # Ok::<(), zc_buffers::BufferError>(())
//! ```
//!
//! The pool is generic over a [`PoolBackend`] that allocates the buffers, so
//! CUDA device pools and NPU buffer-object pools reuse this bookkeeping and
//! guard semantics. A guard can never be returned twice: release happens in
//! `Drop` of the one guard that owns the buffer.
//!
//! # Lifetime of the shared state
//!
//! One reference count covers every [`Pool`] handle and every [`Pooled`]
//! guard (an `Arc` of the shared state). A guard returns its buffer while it
//! still holds its count, and drops the count last, so whichever handle or
//! guard goes last frees the state, and nobody touches it afterwards. The
//! protocol — acquire, return, `into_bytes`, detach, trim, waits, and the
//! last handle dropping while guards return — is model-checked with loom
//! (`tests/loom_pool.rs`, run with `RUSTFLAGS="--cfg loom"`), which explores
//! every interleaving of 2–3 threads over the same code that ships.
//!
//! # Locking
//!
//! Each size class has its own spin lock (`pool/spin.rs`) over its free list and
//! its counters, so the hit path is: lock, pop, count, unlock, plus the
//! guard's reference-count increment (and the same on return). Bytes held
//! from the allocator (`held`) change only on misses, evictions, detaches
//! and trims. Waiters for a full pool register in `waiters` before they
//! retry; a return reads `waiters` under its class lock, so a waiter either
//! sees the buffer or is woken (no lost wake-up; also model-checked).

mod backend;
mod builder;
mod classes;
mod guard;
mod spin;

use std::fmt;
use std::sync::PoisonError;
use std::sync::atomic::Ordering::{Relaxed, SeqCst};
use std::time::{Duration, Instant};

pub use backend::{HeapBackend, PoolBackend};
pub use builder::PoolBuilder;
pub use classes::{PoolStats, SizeClasses};
pub use guard::Pooled;

use crate::buffer::Buffer;
use crate::error::{BufferError, Result};
use crate::sync::{Arc, AtomicU64, AtomicUsize, Condvar, Mutex, MutexGuard};
use spin::{SpinGuard, SpinLock};

/// One size class. Its counters live under the same lock as its free list,
/// so the hit path (lock, pop, count, unlock) needs no other atomic.
struct Slot<Buf> {
    size: usize,
    state: SpinLock<SlotState<Buf>>,
}

struct SlotState<Buf> {
    free: Vec<Buf>,
    hits: u64,
    misses: u64,
    in_use: usize,
}

/// The state every handle and guard shares (through one `Arc`).
struct Inner<B: PoolBackend> {
    name: String,
    backend: B,
    slots: Box<[Slot<B::Buf>]>,
    cap: usize,
    zero_on_release: bool,
    default_wait: Option<Duration>,
    /// bytes held from the allocator (idle + in use); changes only on misses,
    /// evictions, detaches and trims, never on the hit path
    held: AtomicUsize,
    high_water: AtomicUsize,
    evictions: AtomicU64,
    exhausted: AtomicU64,
    waiters: AtomicUsize,
    wait_lock: Mutex<()>,
    wait_cv: Condvar,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding the wait lock cannot leave `()` invalid.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

fn slot_lock<Buf>(slot: &Slot<Buf>) -> SpinGuard<'_, SlotState<Buf>> {
    slot.state.lock()
}

/// A thread-safe pool of reusable buffers. Cloning is cheap (shared).
///
/// Handles and guards share one reference count: dropping every handle
/// while guards are out is fine; the last guard to come back frees the pool.
pub struct Pool<B: PoolBackend = HeapBackend> {
    inner: Arc<Inner<B>>,
}

impl<B: PoolBackend> Clone for Pool<B> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
        }
    }
}

impl Pool<HeapBackend> {
    /// A builder for a heap pool (64-byte aligned buffers, 1 GiB cap,
    /// geometric classes with 4 steps, no zeroing, no waiting).
    pub fn builder() -> PoolBuilder<HeapBackend> {
        PoolBuilder::with_backend(HeapBackend::default())
    }
}

impl<B: PoolBackend> fmt::Debug for Pool<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pool")
            .field("name", &self.inner.name)
            .field("stats", &self.stats())
            .finish()
    }
}

enum Outcome<T> {
    Got(T),
    Full,
}

enum Reserve<Buf> {
    /// Room under the cap is reserved for a new buffer.
    Reserved,
    /// An idle buffer of the wanted class, already counted as a hit.
    Hit(Buf),
    Full,
}

enum Evicted<Buf> {
    One,
    Own(Buf),
    Nothing,
}

impl<B: PoolBackend> Pool<B> {
    /// The pool's name.
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// The backend.
    pub fn backend(&self) -> &B {
        &self.inner.backend
    }

    /// The sizes this pool keeps, ascending.
    pub fn class_sizes(&self) -> impl Iterator<Item = usize> + '_ {
        self.inner.slots.iter().map(|s| s.size)
    }

    /// Acquire a buffer of `len` bytes, waiting up to the builder's
    /// [`wait`](PoolBuilder::wait) timeout when the cap is reached.
    pub fn acquire(&self, len: usize) -> Result<Pooled<B>> {
        match self.inner.default_wait {
            Some(t) => self.acquire_timeout(len, t),
            None => self.try_acquire(len),
        }
    }

    /// Acquire without waiting: `PoolExhausted` when the cap is reached.
    pub fn try_acquire(&self, len: usize) -> Result<Pooled<B>> {
        let slot = self.slot_for(len)?;
        match self.attempt(slot, len)? {
            Outcome::Got(g) => Ok(g),
            Outcome::Full => Err(self.exhausted_error(slot, Duration::ZERO)),
        }
    }

    /// Acquire, waiting up to `timeout` for other holders to return buffers.
    pub fn acquire_timeout(&self, len: usize, timeout: Duration) -> Result<Pooled<B>> {
        let slot = self.slot_for(len)?;
        if let Outcome::Got(g) = self.attempt(slot, len)? {
            return Ok(g);
        }
        let start = Instant::now();
        let deadline = start.checked_add(timeout);
        let inner = &*self.inner;
        let mut guard = lock(&inner.wait_lock);
        inner.waiters.fetch_add(1, SeqCst);
        let result = loop {
            match self.attempt(slot, len) {
                Ok(Outcome::Got(g)) => break Ok(g),
                Err(e) => break Err(e),
                Ok(Outcome::Full) => {}
            }
            let now = Instant::now();
            let remaining = match deadline {
                Some(d) if d > now => d - now,
                Some(_) => break Err(self.exhausted_error(slot, start.elapsed())),
                None => Duration::from_secs(3600),
            };
            guard = match inner.wait_cv.wait_timeout(guard, remaining) {
                Ok((g, _)) => g,
                Err(p) => p.into_inner().0,
            };
        };
        inner.waiters.fetch_sub(1, SeqCst);
        drop(guard);
        result
    }

    fn slot_for(&self, len: usize) -> Result<usize> {
        let inner = &*self.inner;
        let slots = &inner.slots;
        let i = slots.partition_point(|s| s.size < len);
        if i == slots.len() || slots[i].size > inner.cap {
            return Err(BufferError::RequestTooLarge {
                pool: inner.name.clone(),
                requested: len,
                limit: slots
                    .iter()
                    .map(|s| s.size)
                    .filter(|&s| s <= inner.cap)
                    .max()
                    .unwrap_or(0)
                    .min(inner.cap),
            });
        }
        Ok(i)
    }

    fn exhausted_error(&self, slot: usize, waited: Duration) -> BufferError {
        let inner = &*self.inner;
        inner.exhausted.fetch_add(1, Relaxed);
        BufferError::PoolExhausted {
            pool: inner.name.clone(),
            in_use: self.in_use_bytes(),
            cap: inner.cap,
            requested: inner.slots[slot].size,
            waited,
        }
    }

    fn attempt(&self, slot: usize, len: usize) -> Result<Outcome<Pooled<B>>> {
        let inner = &*self.inner;
        let size = inner.slots[slot].size;
        // Fast path: an idle buffer of this class, counted under the same lock.
        {
            let mut st = slot_lock(&inner.slots[slot]);
            if let Some(buf) = st.free.pop() {
                st.hits += 1;
                st.in_use += 1;
                drop(st);
                return Ok(Outcome::Got(Pooled::new(buf, slot, len, self.inner.clone())));
            }
        }
        // Reserve room under the cap, evicting idle buffers of other classes.
        match self.reserve(slot) {
            Reserve::Reserved => {}
            Reserve::Hit(buf) => return Ok(Outcome::Got(Pooled::new(buf, slot, len, self.inner.clone()))),
            Reserve::Full => return Ok(Outcome::Full),
        }
        let buf = match inner.backend.allocate(size) {
            // A guard promises `len` bytes behind its pointer (`Buffer` is an
            // unsafe trait): never trust a backend that returned fewer.
            Ok(buf) if buf.len() >= size => buf,
            Ok(buf) => {
                inner.held.fetch_sub(size, SeqCst);
                return Err(BufferError::LengthMismatch {
                    expected: size,
                    actual: buf.len(),
                });
            }
            Err(e) => {
                inner.held.fetch_sub(size, SeqCst);
                return Err(e);
            }
        };
        {
            let mut st = slot_lock(&inner.slots[slot]);
            st.misses += 1;
            st.in_use += 1;
        }
        Ok(Outcome::Got(Pooled::new(buf, slot, len, self.inner.clone())))
    }

    /// Add the class size to `held` if it stays within the cap, evicting idle
    /// buffers (largest classes first) when needed. A buffer of the wanted
    /// class that came back meanwhile is taken as a hit, not evicted to make
    /// room for a new one of the same size (found by the loom model).
    fn reserve(&self, slot: usize) -> Reserve<B::Buf> {
        let inner = &*self.inner;
        let size = inner.slots[slot].size;
        loop {
            let held = inner.held.load(SeqCst);
            if let Some(next) = held.checked_add(size)
                && next <= inner.cap
            {
                if inner.held.compare_exchange(held, next, SeqCst, SeqCst).is_ok() {
                    inner.high_water.fetch_max(next, Relaxed);
                    return Reserve::Reserved;
                }
                continue;
            }
            match self.evict_one(slot) {
                Evicted::One => {}
                Evicted::Own(buf) => return Reserve::Hit(buf),
                Evicted::Nothing => return Reserve::Full,
            }
        }
    }

    /// Free one idle buffer, largest class first; an idle buffer of `own`
    /// class is handed back (counted as a hit) instead.
    fn evict_one(&self, own: usize) -> Evicted<B::Buf> {
        let inner = &*self.inner;
        for (i, slot) in inner.slots.iter().enumerate().rev() {
            let mut st = slot_lock(slot);
            let Some(buf) = st.free.pop() else { continue };
            if i == own {
                st.hits += 1;
                st.in_use += 1;
                return Evicted::Own(buf);
            }
            drop(st);
            drop(buf);
            inner.held.fetch_sub(slot.size, SeqCst);
            inner.evictions.fetch_add(1, Relaxed);
            return Evicted::One;
        }
        Evicted::Nothing
    }

    /// Free every idle buffer; returns the bytes released.
    pub fn trim(&self) -> usize {
        self.trim_to(0)
    }

    /// Free idle buffers (largest first) until at most `keep_idle` idle bytes
    /// remain; returns the bytes released.
    pub fn trim_to(&self, keep_idle: usize) -> usize {
        let inner = &*self.inner;
        let mut released = 0usize;
        let mut idle = self.idle_bytes();
        for slot in inner.slots.iter().rev() {
            while idle > keep_idle {
                // One buffer per lock hold; freed outside the lock.
                let Some(buf) = slot_lock(slot).free.pop() else { break };
                drop(buf);
                inner.held.fetch_sub(slot.size, SeqCst);
                inner.evictions.fetch_add(1, Relaxed);
                idle = idle.saturating_sub(slot.size);
                released = released.saturating_add(slot.size);
            }
        }
        released
    }

    fn idle_bytes(&self) -> usize {
        self.inner
            .slots
            .iter()
            .map(|s| slot_lock(s).free.len().saturating_mul(s.size))
            .fold(0, usize::saturating_add)
    }

    fn in_use_bytes(&self) -> usize {
        self.inner
            .slots
            .iter()
            .map(|s| slot_lock(s).in_use.saturating_mul(s.size))
            .fold(0, usize::saturating_add)
    }

    /// A snapshot of the statistics (each class is read under its lock; the
    /// classes are read one after another).
    pub fn stats(&self) -> PoolStats {
        let inner = &*self.inner;
        let mut st = PoolStats {
            evictions: inner.evictions.load(Relaxed),
            exhausted: inner.exhausted.load(Relaxed),
            high_water_bytes: inner.high_water.load(Relaxed),
            cap_bytes: inner.cap,
            ..PoolStats::default()
        };
        for slot in inner.slots.iter() {
            let s = slot_lock(slot);
            st.hits += s.hits;
            st.misses += s.misses;
            st.in_use += s.in_use;
            st.in_use_bytes += s.in_use * slot.size;
            st.idle_bytes += s.free.len() * slot.size;
        }
        st.held_bytes = st.in_use_bytes + st.idle_bytes;
        st
    }
}

impl<B: PoolBackend> Inner<B> {
    /// Return a buffer to its class (or scrap it when it could not be
    /// scrubbed), and wake waiters. The caller's reference count keeps the
    /// state alive throughout.
    fn release(&self, mut buf: B::Buf, slot: usize, len: usize) {
        let size = self.slots[slot].size;
        let keep = !self.zero_on_release || self.backend.zero(&mut buf, len).is_ok();
        let mut scrap = None;
        let waiters = {
            let mut st = slot_lock(&self.slots[slot]);
            if keep {
                st.free.push(buf);
            } else {
                // Could not scrub it: never hand it out again. Its bytes leave
                // the cap under the class lock, so a waiter that then fails
                // its retry (which locks every class) cannot miss them.
                self.held.fetch_sub(size, SeqCst);
                scrap = Some(buf);
            }
            st.in_use -= 1;
            // Read under the class lock: a waiter registers before its retry,
            // and a failing retry locks every class, so either it saw this
            // buffer or this read sees it (no lost wake-up).
            self.waiters.load(SeqCst)
        };
        // freed outside the lock: the buffer is ours alone
        drop(scrap);
        self.wake(waiters);
    }

    /// Take a detached buffer's bytes off the books.
    fn forget(&self, slot: usize) {
        let size = self.slots[slot].size;
        let waiters = {
            let mut st = slot_lock(&self.slots[slot]);
            self.held.fetch_sub(size, SeqCst);
            st.in_use -= 1;
            self.waiters.load(SeqCst)
        };
        self.wake(waiters);
    }

    fn wake(&self, waiters: usize) {
        if waiters > 0 {
            let _g = lock(&self.wait_lock);
            self.wait_cv.notify_all();
        }
    }
}
