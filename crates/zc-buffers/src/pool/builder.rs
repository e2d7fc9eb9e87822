//! [`PoolBuilder`]: configuration, validated when the pool is built.

use std::time::Duration;

use super::backend::{HeapBackend, PoolBackend};
use super::classes::SizeClasses;
use super::spin::SpinLock;
use super::{Inner, Pool, Slot, SlotState};
use crate::error::Result;
use crate::sync::{Arc, AtomicU64, AtomicUsize, Condvar, Mutex};

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

impl PoolBuilder<HeapBackend> {
    /// Alignment of the heap buffers (power of two; 4096 for DMA). Checked
    /// by [`build`](PoolBuilder::build):
    /// [`BufferError::InvalidAlignment`](crate::BufferError::InvalidAlignment).
    pub fn align(mut self, align: usize) -> Self {
        self.backend = HeapBackend::with_align_unchecked(align);
        self
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
        self.backend.prepare()?;
        let align = self.backend.align();
        let sizes = self.classes.sizes(self.cap, align)?;
        let slots: Box<[Slot<B::Buf>]> = sizes
            .into_iter()
            .map(|size| {
                // Reserve free-list room so steady-state releases never
                // reallocate (the release path must not allocate or unwind).
                let per_slot = (self.cap / size.max(1)).clamp(1, 64);
                let mut free = Vec::new();
                free.try_reserve_exact(per_slot)
                    .map_err(|_| crate::BufferError::AllocFailed {
                        len: per_slot.saturating_mul(std::mem::size_of::<B::Buf>()),
                        align: std::mem::align_of::<B::Buf>(),
                    })?;
                Ok(Slot {
                    size,
                    state: SpinLock::new(SlotState {
                        free,
                        hits: 0,
                        misses: 0,
                        in_use: 0,
                    }),
                })
            })
            .collect::<Result<_>>()?;
        let pool = Pool {
            inner: Arc::new(Inner {
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
            }),
        };
        for (len, count) in self.prefill {
            // Grown one successful acquire at a time: bounded by the cap, not
            // by the caller's `count`.
            let mut guards = Vec::new();
            for _ in 0..count {
                guards.push(pool.try_acquire(len)?);
            }
            drop(guards);
        }
        // Start the counters after the prefill.
        for slot in pool.inner.slots.iter() {
            let mut st = slot.state.lock();
            st.hits = 0;
            st.misses = 0;
        }
        Ok(pool)
    }
}
