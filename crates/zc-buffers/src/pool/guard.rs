//! [`Pooled`]: the RAII guard for a buffer on loan from a pool.

use std::fmt;
use std::mem::ManuallyDrop;
use std::ops::{Deref, DerefMut, Range};
use std::ptr::NonNull;

use super::Inner;
use super::backend::{HeapBackend, PoolBackend};
use crate::buffer::{Buffer, Device, HostBuffer, HostBufferMut, Residency, SyncDirection, check_range};
use crate::error::Result;
use crate::sync::Arc;

/// An RAII guard: a buffer on loan from a [`Pool`](super::Pool). Derefs to
/// the bytes asked for (`len`, not the class size); goes back to the pool on
/// drop. A guard keeps the pool's shared state alive (it holds one count of
/// the same reference count as the pool handles), so it may outlive every
/// `Pool` handle; the state and its idle buffers are freed when the last
/// handle or guard goes.
pub struct Pooled<B: PoolBackend = HeapBackend> {
    /// Taken exactly once: by `Drop` or by `detach`.
    buf: ManuallyDrop<B::Buf>,
    len: usize,
    slot: usize,
    pool: Arc<Inner<B>>,
}

impl<B: PoolBackend> Pooled<B> {
    pub(super) fn new(buf: B::Buf, slot: usize, len: usize, pool: Arc<Inner<B>>) -> Self {
        Self {
            buf: ManuallyDrop::new(buf),
            len,
            slot,
            pool,
        }
    }

    /// The bytes asked for at acquire.
    pub fn requested_len(&self) -> usize {
        self.len
    }

    /// Bytes actually reserved (the size class).
    pub fn capacity(&self) -> usize {
        self.pool.slots[self.slot].size
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
        // SAFETY: `this` is never dropped and its fields are not used after
        // these two reads, so each is moved out exactly once.
        let (buf, pool) = unsafe { (ManuallyDrop::take(&mut this.buf), std::ptr::read(&this.pool)) };
        pool.forget(this.slot);
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
        // SAFETY: drop runs once and `detach` (the only other taker) forgets
        // the guard, so the buffer is moved out exactly once.
        let buf = unsafe { ManuallyDrop::take(&mut self.buf) };
        self.pool.release(buf, self.slot, self.len);
        // `self.pool` drops after this: the state outlives the release.
    }
}

impl<B: PoolBackend> fmt::Debug for Pooled<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pooled")
            .field("pool", &self.pool.name)
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
