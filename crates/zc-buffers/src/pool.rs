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

use std::cell::UnsafeCell;
use std::fmt;
use std::mem::ManuallyDrop;
use std::ops::{Deref, DerefMut, Range};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::*};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use crate::aligned::{AlignedBuf, DEFAULT_ALIGN};
use crate::buffer::{Buffer, Device, HostBuffer, HostBufferMut, Residency, SyncDirection, check_range};
use crate::error::{BufferError, Result};
use crate::ledger;

/// Allocates the buffers a [`Pool`] hands out.
pub trait PoolBackend: Send + Sync + 'static {
    /// The buffer type.
    type Buf: Buffer + Send + 'static;
    /// Allocate a buffer of exactly `capacity` bytes, initialised (zeroed).
    fn allocate(&self, capacity: usize) -> Result<Self::Buf>;
    /// Zero the first `len` bytes of `buf` (used by `zero_on_release`).
    fn zero(&self, buf: &mut Self::Buf, len: usize) -> Result<()>;
    /// Alignment every buffer from this backend has.
    fn align(&self) -> usize;
}

/// The heap backend: [`AlignedBuf`]s, zeroed at allocation.
#[derive(Clone, Copy, Debug)]
pub struct HeapBackend {
    align: usize,
}

impl HeapBackend {
    /// A heap backend with the given alignment (power of two).
    pub fn new(align: usize) -> Result<Self> {
        if align == 0 || !align.is_power_of_two() {
            return Err(BufferError::InvalidAlignment { align });
        }
        Ok(Self { align })
    }
}

impl Default for HeapBackend {
    fn default() -> Self {
        Self { align: DEFAULT_ALIGN }
    }
}

impl PoolBackend for HeapBackend {
    type Buf = AlignedBuf;
    fn allocate(&self, capacity: usize) -> Result<AlignedBuf> {
        AlignedBuf::zeroed_aligned(capacity, self.align)
    }
    fn zero(&self, buf: &mut AlignedBuf, len: usize) -> Result<()> {
        let n = len.min(buf.len());
        buf.as_bytes_mut()[..n].fill(0);
        Ok(())
    }
    fn align(&self) -> usize {
        self.align
    }
}

/// How requests are rounded to the sizes the pool keeps.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SizeClasses {
    /// Geometric classes: every power of two from `min` up, split into
    /// `steps` equal sub-steps (4 steps wastes at most 25%: a 960 000-byte
    /// request lands in a 1 048 576-byte class, 9.6 MB in 10 485 760).
    Geometric {
        /// Smallest class in bytes (rounded up to a power of two).
        min: usize,
        /// Sub-steps per doubling (1 = pure powers of two).
        steps: usize,
    },
    /// Exactly these sizes (a request takes the smallest that fits; larger
    /// requests are refused). Use when the sizes are known up front.
    Exact(Vec<usize>),
}

impl Default for SizeClasses {
    fn default() -> Self {
        SizeClasses::Geometric { min: 4096, steps: 4 }
    }
}

impl SizeClasses {
    fn sizes(&self, cap: usize, align: usize) -> Result<Vec<usize>> {
        let round = |s: usize| s.div_ceil(align).saturating_mul(align);
        let mut v: Vec<usize> = match self {
            SizeClasses::Exact(sizes) => sizes.iter().map(|&s| round(s.max(1))).collect(),
            SizeClasses::Geometric { min, steps } => {
                let steps = (*steps).clamp(1, 64);
                let mut out = Vec::new();
                let mut base = (*min.max(&1))
                    .checked_next_power_of_two()
                    .ok_or(BufferError::TooLarge { len: *min, align })?;
                loop {
                    for k in 0..steps {
                        let s = base.saturating_add(base / steps * k);
                        out.push(round(s));
                    }
                    if base >= cap || base > usize::MAX / 4 {
                        break;
                    }
                    base *= 2;
                }
                out
            }
        };
        v.sort_unstable();
        v.dedup();
        Ok(v)
    }
}

/// Pool statistics (a consistent-enough snapshot; counters are relaxed).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PoolStats {
    /// Acquires served from an idle buffer.
    pub hits: u64,
    /// Acquires that allocated.
    pub misses: u64,
    /// Idle buffers freed to make room for another class, or by `trim`.
    pub evictions: u64,
    /// Acquires that gave up (cap reached, timed out).
    pub exhausted: u64,
    /// Guards currently alive.
    pub in_use: usize,
    /// Capacity bytes of the buffers currently handed out.
    pub in_use_bytes: usize,
    /// The most bytes the pool has held from the allocator at once (idle +
    /// in use). Without evictions this is the sum over size classes of the
    /// most buffers of that class ever in use at once: the footprint the
    /// workload needed. Updated only on misses, so the hit path stays free
    /// of shared counters.
    pub high_water_bytes: usize,
    /// Capacity bytes of idle buffers kept for reuse.
    pub idle_bytes: usize,
    /// `in_use_bytes + idle_bytes`: what the pool holds from the allocator.
    pub held_bytes: usize,
    /// The byte cap.
    pub cap_bytes: usize,
}

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
    /// set (under every class lock) when the last handle went while guards were out
    orphaned: AtomicBool,
    /// guards still out when the pool was orphaned
    remaining: AtomicUsize,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding the wait lock cannot leave `()` invalid.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The per-class lock. Critical sections are a few instructions (push/pop a
/// Vec that never reallocates, bump counters), so a test-and-test-and-set
/// spin lock that yields after a short spin beats a futex mutex here: its
/// unlock is a plain release store, so a pool round trip costs four atomic
/// read-modify-writes (lock and Arc count, twice) instead of six.
struct SpinLock<T> {
    locked: AtomicBool,
    value: UnsafeCell<T>,
}

// SAFETY: the lock gives exclusive access to `value`, so sharing the lock
// between threads only ever moves a `T` between them (hence T: Send).
unsafe impl<T: Send> Sync for SpinLock<T> {}

impl<T> SpinLock<T> {
    fn new(value: T) -> Self {
        Self {
            locked: AtomicBool::new(false),
            value: UnsafeCell::new(value),
        }
    }

    #[inline]
    fn lock(&self) -> SpinGuard<'_, T> {
        let mut spins = 0u32;
        while self.locked.swap(true, Acquire) {
            while self.locked.load(Relaxed) {
                spins += 1;
                if spins < 64 {
                    std::hint::spin_loop();
                } else {
                    // The holder may be descheduled (more threads than cores).
                    std::thread::yield_now();
                }
            }
        }
        SpinGuard { lock: self }
    }
}

struct SpinGuard<'a, T> {
    lock: &'a SpinLock<T>,
}

impl<T> Deref for SpinGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the guard exists only while this thread holds the lock.
        unsafe { &*self.lock.value.get() }
    }
}

impl<T> DerefMut for SpinGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the guard exists only while this thread holds the lock.
        unsafe { &mut *self.lock.value.get() }
    }
}

impl<T> Drop for SpinGuard<'_, T> {
    #[inline]
    fn drop(&mut self) {
        self.lock.locked.store(false, Release);
    }
}

fn slot_lock<Buf>(slot: &Slot<Buf>) -> SpinGuard<'_, SlotState<Buf>> {
    slot.state.lock()
}

/// A thread-safe pool of reusable buffers. Cloning is cheap (shared).
///
/// Guards do not hold a reference count (that would cost two more atomic
/// operations per acquire/release): the pool's shared state is owned by the
/// handles, and if the last handle goes while guards are still out, the
/// state is marked orphaned and the last guard to come back frees it.
pub struct Pool<B: PoolBackend = HeapBackend> {
    owner: Arc<Owner<B>>,
}

impl<B: PoolBackend> Clone for Pool<B> {
    fn clone(&self) -> Self {
        Self {
            owner: self.owner.clone(),
        }
    }
}

/// Owns the leaked `Box<Inner>` on behalf of all `Pool` handles; its `Drop`
/// runs once, when the last handle goes.
struct Owner<B: PoolBackend> {
    inner: NonNull<Inner<B>>,
}

// SAFETY: Owner only gives out `&Inner<B>`; Inner is Send + Sync because its
// backend is (PoolBackend: Send + Sync), its buffers are Send and sit behind
// locks, and everything else is atomics, locks or immutable after build.
unsafe impl<B: PoolBackend> Send for Owner<B> {}
// SAFETY: as above.
unsafe impl<B: PoolBackend> Sync for Owner<B> {}

impl<B: PoolBackend> Drop for Owner<B> {
    fn drop(&mut self) {
        let ptr = self.inner;
        // SAFETY: the state is alive: only this drop (once) or, after it
        // marked the state orphaned, the last guard frees it.
        let inner = unsafe { ptr.as_ref() };
        // Decide with every class locked, so no guard returns in between.
        let locked: Vec<_> = inner.slots.iter().map(slot_lock).collect();
        let outstanding: usize = locked.iter().map(|st| st.in_use).sum();
        if outstanding > 0 {
            inner.remaining.store(outstanding, SeqCst);
            inner.orphaned.store(true, SeqCst);
            drop(locked);
            return;
        }
        drop(locked);
        // SAFETY: no handle and no guard refers to the state any more; it
        // came from Box::leak in `build`.
        drop(unsafe { Box::from_raw(ptr.as_ptr()) });
    }
}

/// Called by a guard after it has returned (or detached) its buffer from an
/// orphaned pool: the last one frees the state.
///
/// # Safety
/// `ptr` is the pool state the guard belonged to, the guard was counted in
/// `remaining`, and it calls this exactly once and touches the state no
/// more afterwards.
unsafe fn leave_orphaned<B: PoolBackend>(ptr: NonNull<Inner<B>>) {
    // SAFETY: this guard is still counted in `remaining`, so the state lives.
    let last = unsafe { ptr.as_ref() }.remaining.fetch_sub(1, AcqRel) == 1;
    if last {
        // SAFETY: every guard counted at orphaning has now left; no handle
        // exists; the state came from Box::leak in `build`.
        drop(unsafe { Box::from_raw(ptr.as_ptr()) });
    }
}

/// Builds a [`Pool`].
#[derive(Debug)]
pub struct PoolBuilder<B: PoolBackend = HeapBackend> {
    name: String,
    backend: B,
    cap: usize,
    classes: SizeClasses,
    zero_on_release: bool,
    default_wait: Option<Duration>,
    prefill: Vec<(usize, usize)>,
}

impl Pool<HeapBackend> {
    /// A builder for a heap pool (64-byte aligned buffers, 1 GiB cap,
    /// geometric classes with 4 steps, no zeroing, no waiting).
    pub fn builder() -> PoolBuilder<HeapBackend> {
        PoolBuilder::with_backend(HeapBackend::default())
    }
}

impl PoolBuilder<HeapBackend> {
    /// Alignment of the heap buffers (power of two; 4096 for DMA).
    pub fn align(mut self, align: usize) -> Result<Self> {
        self.backend = HeapBackend::new(align)?;
        Ok(self)
    }
}

impl<B: PoolBackend> PoolBuilder<B> {
    /// A builder over any backend (device memory, NPU buffer objects, …).
    pub fn with_backend(backend: B) -> Self {
        Self {
            name: "pool".to_string(),
            backend,
            cap: 1 << 30,
            classes: SizeClasses::default(),
            zero_on_release: false,
            default_wait: None,
            prefill: Vec::new(),
        }
    }
    /// A name, used in errors and reports ("mel", "audio", …).
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }
    /// Most bytes the pool may hold from the allocator (idle + in use).
    pub fn cap_bytes(mut self, cap: usize) -> Self {
        self.cap = cap;
        self
    }
    /// How requests are rounded to kept sizes.
    pub fn size_classes(mut self, classes: SizeClasses) -> Self {
        self.classes = classes;
        self
    }
    /// Zero the used bytes of a buffer when it comes back, so one holder's
    /// data never reaches the next.
    pub fn zero_on_release(mut self, on: bool) -> Self {
        self.zero_on_release = on;
        self
    }
    /// How long [`Pool::acquire`] waits for a buffer when the cap is reached
    /// (default: not at all).
    pub fn wait(mut self, timeout: Option<Duration>) -> Self {
        self.default_wait = timeout;
        self
    }
    /// Allocate `count` buffers able to hold `len` bytes at build time, so
    /// the first requests are hits.
    pub fn prefill(mut self, len: usize, count: usize) -> Self {
        self.prefill.push((len, count));
        self
    }
    /// Build the pool (allocating any prefill).
    pub fn build(self) -> Result<Pool<B>> {
        let align = self.backend.align();
        let sizes = self.classes.sizes(self.cap, align)?;
        let slots: Box<[Slot<B::Buf>]> = sizes
            .into_iter()
            .map(|size| Slot {
                size,
                state: SpinLock::new(SlotState {
                    free: Vec::new(),
                    hits: 0,
                    misses: 0,
                    in_use: 0,
                }),
            })
            .collect();
        let inner = Box::new(Inner {
            name: self.name,
            backend: self.backend,
            slots,
            cap: self.cap,
            zero_on_release: self.zero_on_release,
            default_wait: self.default_wait,
            held: AtomicUsize::new(0),
            high_water: AtomicUsize::new(0),
            evictions: AtomicU64::new(0),
            exhausted: AtomicU64::new(0),
            waiters: AtomicUsize::new(0),
            wait_lock: Mutex::new(()),
            wait_cv: Condvar::new(),
            orphaned: AtomicBool::new(false),
            remaining: AtomicUsize::new(0),
        });
        let pool = Pool {
            owner: Arc::new(Owner {
                inner: NonNull::from(Box::leak(inner)),
            }),
        };
        for (len, count) in self.prefill {
            let guards: Vec<_> = (0..count).map(|_| pool.try_acquire(len)).collect::<Result<_>>()?;
            drop(guards);
        }
        // Reserve free-list room so steady-state releases never reallocate,
        // and start the counters after the prefill.
        for slot in pool.inner().slots.iter() {
            let per_slot = (pool.inner().cap / slot.size.max(1)).clamp(1, 64);
            let mut st = slot_lock(slot);
            st.free.reserve(per_slot);
            st.hits = 0;
            st.misses = 0;
        }
        Ok(pool)
    }
}

impl<B: PoolBackend> fmt::Debug for Pool<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pool")
            .field("name", &self.inner().name)
            .field("stats", &self.stats())
            .finish()
    }
}

enum Outcome<T> {
    Got(T),
    Full,
}

impl<B: PoolBackend> Pool<B> {
    fn inner(&self) -> &Inner<B> {
        // SAFETY: the Owner (kept alive by this handle) frees the state only
        // in its Drop, which cannot have run while a handle exists.
        unsafe { self.owner.inner.as_ref() }
    }

    /// The pool's name.
    pub fn name(&self) -> &str {
        &self.inner().name
    }

    /// The backend.
    pub fn backend(&self) -> &B {
        &self.inner().backend
    }

    /// The sizes this pool keeps, ascending.
    pub fn class_sizes(&self) -> impl Iterator<Item = usize> + '_ {
        self.inner().slots.iter().map(|s| s.size)
    }

    /// Acquire a buffer of `len` bytes, waiting up to the builder's
    /// [`wait`](PoolBuilder::wait) timeout when the cap is reached.
    pub fn acquire(&self, len: usize) -> Result<Pooled<B>> {
        match self.inner().default_wait {
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
        let inner = self.inner();
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
        let slots = &self.inner().slots;
        let i = slots.partition_point(|s| s.size < len);
        if i == slots.len() || slots[i].size > self.inner().cap {
            return Err(BufferError::RequestTooLarge {
                pool: self.inner().name.clone(),
                requested: len,
                limit: slots
                    .iter()
                    .map(|s| s.size)
                    .filter(|&s| s <= self.inner().cap)
                    .max()
                    .unwrap_or(0)
                    .min(self.inner().cap),
            });
        }
        Ok(i)
    }

    fn exhausted_error(&self, slot: usize, waited: Duration) -> BufferError {
        self.inner().exhausted.fetch_add(1, Relaxed);
        BufferError::PoolExhausted {
            pool: self.inner().name.clone(),
            in_use: self.in_use_bytes(),
            cap: self.inner().cap,
            requested: self.inner().slots[slot].size,
            waited,
        }
    }

    fn attempt(&self, slot: usize, len: usize) -> Result<Outcome<Pooled<B>>> {
        let inner = self.inner();
        let size = inner.slots[slot].size;
        // Fast path: an idle buffer of this class, counted under the same lock.
        {
            let mut st = slot_lock(&inner.slots[slot]);
            if let Some(buf) = st.free.pop() {
                st.hits += 1;
                st.in_use += 1;
                drop(st);
                return Ok(Outcome::Got(self.guard(buf, slot, len)));
            }
        }
        // Reserve room under the cap, evicting idle buffers of other classes.
        if !self.reserve(size) {
            return Ok(Outcome::Full);
        }
        match inner.backend.allocate(size) {
            Ok(buf) => {
                {
                    let mut st = slot_lock(&inner.slots[slot]);
                    st.misses += 1;
                    st.in_use += 1;
                }
                ledger::record_alloc(size);
                Ok(Outcome::Got(self.guard(buf, slot, len)))
            }
            Err(e) => {
                inner.held.fetch_sub(size, SeqCst);
                Err(e)
            }
        }
    }

    /// Add `size` to `held` if it stays within the cap, evicting idle buffers
    /// (largest classes first) when needed.
    fn reserve(&self, size: usize) -> bool {
        let inner = self.inner();
        loop {
            let held = inner.held.load(SeqCst);
            if let Some(next) = held.checked_add(size)
                && next <= inner.cap
            {
                if inner.held.compare_exchange(held, next, SeqCst, SeqCst).is_ok() {
                    inner.high_water.fetch_max(next, Relaxed);
                    return true;
                }
                continue;
            }
            if !self.evict_one() {
                return false;
            }
        }
    }

    fn evict_one(&self) -> bool {
        let inner = self.inner();
        for slot in inner.slots.iter().rev() {
            let victim = slot_lock(slot).free.pop();
            if let Some(buf) = victim {
                drop(buf);
                inner.held.fetch_sub(slot.size, SeqCst);
                inner.evictions.fetch_add(1, Relaxed);
                return true;
            }
        }
        false
    }

    fn guard(&self, buf: B::Buf, slot: usize, len: usize) -> Pooled<B> {
        Pooled {
            buf: ManuallyDrop::new(buf),
            len,
            slot,
            pool: self.owner.inner,
        }
    }

    /// Free every idle buffer; returns the bytes released.
    pub fn trim(&self) -> usize {
        self.trim_to(0)
    }

    /// Free idle buffers (largest first) until at most `keep_idle` idle bytes
    /// remain; returns the bytes released.
    pub fn trim_to(&self, keep_idle: usize) -> usize {
        let inner = self.inner();
        let mut released = 0;
        let mut idle = self.idle_bytes();
        for slot in inner.slots.iter().rev() {
            let mut st = slot_lock(slot);
            while idle > keep_idle {
                let Some(buf) = st.free.pop() else { break };
                drop(buf);
                inner.held.fetch_sub(slot.size, SeqCst);
                inner.evictions.fetch_add(1, Relaxed);
                idle = idle.saturating_sub(slot.size);
                released += slot.size;
            }
        }
        released
    }

    fn idle_bytes(&self) -> usize {
        self.inner()
            .slots
            .iter()
            .map(|s| slot_lock(s).free.len() * s.size)
            .sum()
    }

    fn in_use_bytes(&self) -> usize {
        self.inner().slots.iter().map(|s| slot_lock(s).in_use * s.size).sum()
    }

    /// A snapshot of the statistics (each class is read under its lock; the
    /// classes are read one after another).
    pub fn stats(&self) -> PoolStats {
        let inner = self.inner();
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
    /// Return a buffer. Returns whether the pool was orphaned (read under
    /// the class lock), in which case the caller must `leave_orphaned`.
    ///
    /// The guard stays counted in its class's `in_use` until this function
    /// no longer touches the state: `Owner::drop` frees the state only when
    /// every class shows 0 in use, and the orphan count includes this guard
    /// until it calls `leave_orphaned`.
    fn release(&self, mut buf: B::Buf, slot: usize, len: usize) -> bool {
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
            // Read under the class lock: a waiter registers before its retry,
            // and a failing retry locks every class, so either it saw this
            // buffer or this read sees it (no lost wake-up).
            let waiters = self.waiters.load(SeqCst);
            if waiters == 0 {
                let orphaned = self.count_out(st);
                // freed outside the lock: the buffer is ours alone and
                // touches no pool state
                drop(scrap);
                return orphaned;
            }
            waiters
        };
        drop(scrap);
        self.wake(waiters);
        let st = slot_lock(&self.slots[slot]);
        self.count_out(st)
    }

    /// Take a detached buffer's bytes off the books; like `release`, returns
    /// whether the pool was orphaned.
    fn forget(&self, slot: usize) -> bool {
        let size = self.slots[slot].size;
        let waiters = {
            let st = slot_lock(&self.slots[slot]);
            self.held.fetch_sub(size, SeqCst);
            let waiters = self.waiters.load(SeqCst);
            if waiters == 0 {
                return self.count_out(st);
            }
            waiters
        };
        self.wake(waiters);
        let st = slot_lock(&self.slots[slot]);
        self.count_out(st)
    }

    fn wake(&self, waiters: usize) {
        if waiters > 0 {
            let _g = lock(&self.wait_lock);
            self.wait_cv.notify_all();
        }
    }

    /// Leave the class after the last use of the state: decrement `in_use`
    /// and read `orphaned` under the class lock, which is released on return.
    fn count_out(&self, mut st: SpinGuard<'_, SlotState<B::Buf>>) -> bool {
        st.in_use -= 1;
        self.orphaned.load(Relaxed)
    }
}

/// An RAII guard: a buffer on loan from a [`Pool`]. Derefs to the bytes
/// asked for (`len`, not the class size); goes back to the pool on drop.
pub struct Pooled<B: PoolBackend = HeapBackend> {
    buf: ManuallyDrop<B::Buf>,
    len: usize,
    slot: usize,
    /// Not reference-counted: the state outlives every guard (see [`Pool`]).
    pool: NonNull<Inner<B>>,
}

// SAFETY: a guard owns its buffer (B::Buf: Send) and shares only the pool
// state, which is Sync (see Owner) and outlives it.
unsafe impl<B: PoolBackend> Send for Pooled<B> {}
// SAFETY: `&Pooled` gives `&B::Buf` (needs Buf: Sync) and `&Inner` (Sync).
unsafe impl<B: PoolBackend> Sync for Pooled<B> where B::Buf: Sync {}

impl<B: PoolBackend> Pooled<B> {
    fn pool(&self) -> &Inner<B> {
        // SAFETY: the state is freed only after every guard has returned.
        unsafe { self.pool.as_ref() }
    }

    /// The bytes asked for at acquire.
    pub fn requested_len(&self) -> usize {
        self.len
    }

    /// Bytes actually reserved (the size class).
    pub fn capacity(&self) -> usize {
        self.pool().slots[self.slot].size
    }

    /// The underlying buffer (all `capacity()` bytes). There is deliberately
    /// no mutable access to it: replacing or resizing the buffer would break
    /// the pool's size classes, cap and alignment guarantees; write through
    /// the guard's own `HostBufferMut` bytes instead.
    pub fn inner(&self) -> &B::Buf {
        &self.buf
    }

    /// Take the buffer out of the pool for good: it no longer counts against
    /// the cap and is freed by its own `Drop`.
    pub fn detach(self) -> B::Buf {
        let mut this = ManuallyDrop::new(self);
        // SAFETY: `this` is never used or dropped again, so buf is moved out
        // exactly once.
        let buf = unsafe { ManuallyDrop::take(&mut this.buf) };
        if this.pool().forget(this.slot) {
            // SAFETY: this guard has left its class and touches the state no more.
            unsafe { leave_orphaned(this.pool) };
        }
        buf
    }
}

impl<B: PoolBackend> Pooled<B>
where
    B::Buf: HostBuffer,
{
    /// Hand the bytes to a `bytes::Bytes` without copying; the buffer goes
    /// back to the pool when the last `Bytes` clone drops.
    pub fn into_bytes(self) -> bytes::Bytes {
        bytes::Bytes::from_owner(self)
    }
}

impl<B: PoolBackend> Drop for Pooled<B> {
    fn drop(&mut self) {
        // SAFETY: drop runs once; buf is not touched afterwards.
        let buf = unsafe { ManuallyDrop::take(&mut self.buf) };
        if self.pool().release(buf, self.slot, self.len) {
            // SAFETY: this guard has returned its buffer and touches the
            // state no more.
            unsafe { leave_orphaned(self.pool) };
        }
    }
}

impl<B: PoolBackend> fmt::Debug for Pooled<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pooled")
            .field("pool", &self.pool().name)
            .field("len", &self.len)
            .field("capacity", &self.capacity())
            .finish()
    }
}

// SAFETY: the backend buffer's own pointers (it upholds the contract) with a
// length never larger than its capacity (`len` ≤ class size ≤ buffer length).
unsafe impl<B: PoolBackend> Buffer for Pooled<B> {
    fn len(&self) -> usize {
        self.len
    }
    fn align(&self) -> usize {
        self.buf.align()
    }
    fn residency(&self) -> Residency {
        self.buf.residency()
    }
    fn device(&self) -> Device {
        self.buf.device()
    }
    fn host_ptr(&self) -> Option<NonNull<u8>> {
        self.buf.host_ptr()
    }
    fn device_ptr(&self) -> Option<u64> {
        self.buf.device_ptr()
    }
    fn sync(&mut self, direction: SyncDirection, range: Range<usize>) -> Result<()> {
        check_range(&range, self.len)?;
        self.buf.sync(direction, range)
    }
}

impl<B: PoolBackend> HostBuffer for Pooled<B>
where
    B::Buf: HostBuffer,
{
    fn as_bytes(&self) -> &[u8] {
        &self.buf.as_bytes()[..self.len]
    }
}

impl<B: PoolBackend> HostBufferMut for Pooled<B>
where
    B::Buf: HostBufferMut,
{
    fn as_bytes_mut(&mut self) -> &mut [u8] {
        let len = self.len;
        &mut self.buf.as_bytes_mut()[..len]
    }
}

impl<B: PoolBackend> Deref for Pooled<B>
where
    B::Buf: HostBuffer,
{
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl<B: PoolBackend> DerefMut for Pooled<B>
where
    B::Buf: HostBufferMut,
{
    fn deref_mut(&mut self) -> &mut [u8] {
        self.as_bytes_mut()
    }
}

impl<B: PoolBackend> AsRef<[u8]> for Pooled<B>
where
    B::Buf: HostBuffer,
{
    fn as_ref(&self) -> &[u8] {
        self.as_bytes()
    }
}
