//! The per-class lock of the pool.
//!
//! Critical sections are a few instructions (push/pop a `Vec` that never
//! reallocates, bump counters), so a test-and-test-and-set spin lock that
//! yields after a short spin beats a futex mutex here: its unlock is a plain
//! release store.

use std::mem::ManuallyDrop;
use std::ops::{Deref, DerefMut};
use std::panic::RefUnwindSafe;
use std::sync::atomic::Ordering::{Acquire, Relaxed, Release};

use crate::sync::{AtomicBool, MutPtr, UnsafeCell, spin_loop, yield_now};

/// A spin lock around a `T`.
pub(super) struct SpinLock<T> {
    locked: AtomicBool,
    value: UnsafeCell<T>,
}

// SAFETY: the lock gives exclusive access to `value`, so sharing the lock
// between threads only ever moves a `T` between them (hence T: Send).
unsafe impl<T: Send> Sync for SpinLock<T> {}

// No critical section of the pool can unwind (they push into reserved
// vectors, pop and bump counters), so a `T` seen after a panic elsewhere is
// never half-updated; `std::sync::Mutex` makes the same promise through
// poisoning.
impl<T> RefUnwindSafe for SpinLock<T> {}

impl<T> SpinLock<T> {
    pub(super) fn new(value: T) -> Self {
        Self {
            locked: AtomicBool::new(false),
            value: UnsafeCell::new(value),
        }
    }

    #[inline]
    pub(super) fn lock(&self) -> SpinGuard<'_, T> {
        let mut spins = 0u32;
        // Test and test-and-set: only try to take the lock (a write) when a
        // read says it is free, so waiting threads share the line instead of
        // bouncing it.
        while self
            .locked
            .compare_exchange_weak(false, true, Acquire, Relaxed)
            .is_err()
        {
            if cfg!(loom) {
                // Under loom every relaxed read of the inner loop below would
                // be a branch over stale values; the model waits on the CAS
                // alone (the inner loop only reads, it takes nothing) and
                // yields to the holder.
                yield_now();
                continue;
            }
            while self.locked.load(Relaxed) {
                spins = spins.saturating_add(1);
                if spins < 64 {
                    spin_loop();
                } else {
                    // The holder may be descheduled (more threads than cores).
                    yield_now();
                }
            }
        }
        SpinGuard {
            lock: self,
            ptr: ManuallyDrop::new(self.value.get_mut()),
        }
    }
}

/// Exclusive access to a [`SpinLock`]'s value; unlocks on drop.
pub(super) struct SpinGuard<'a, T> {
    lock: &'a SpinLock<T>,
    /// Dropped (ending the access loom tracks) before the unlock.
    ptr: ManuallyDrop<MutPtr<T>>,
}

impl<T> Deref for SpinGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the guard exists only while this thread holds the lock, so
        // no other reference to the value exists.
        unsafe { MutPtr::deref(&self.ptr) }
    }
}

impl<T> DerefMut for SpinGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: as in `deref`, and `&mut self` makes this the only borrow
        // through the guard.
        unsafe { MutPtr::deref(&self.ptr) }
    }
}

impl<T> Drop for SpinGuard<'_, T> {
    #[inline]
    fn drop(&mut self) {
        // SAFETY: `ptr` is not used again; it must go before the unlock so
        // that the access it stands for ends inside the critical section.
        unsafe { ManuallyDrop::drop(&mut self.ptr) };
        self.lock.locked.store(false, Release);
    }
}
