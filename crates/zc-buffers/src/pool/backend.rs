//! What allocates the pool's buffers: the [`PoolBackend`] trait and the heap
//! backend.

use crate::aligned::{AlignedBuf, DEFAULT_ALIGN};
use crate::buffer::{Buffer, HostBufferMut};
use crate::error::{BufferError, Result};

/// Allocates the buffers a [`Pool`](super::Pool) hands out.
pub trait PoolBackend: Send + Sync + 'static {
    /// The buffer type.
    type Buf: Buffer + Send + 'static;
    /// Allocate a buffer of exactly `capacity` bytes, initialised (zeroed).
    /// A backend that allocates host memory the ledger should see records
    /// it itself ([`ledger::record_alloc`](crate::ledger::record_alloc)); the
    /// pool records nothing, so each allocation is counted once.
    fn allocate(&self, capacity: usize) -> Result<Self::Buf>;
    /// Zero the first `len` bytes of `buf` (used by `zero_on_release`).
    fn zero(&self, buf: &mut Self::Buf, len: usize) -> Result<()>;
    /// Alignment every buffer from this backend has.
    fn align(&self) -> usize;
    /// Checks the backend's configuration and acquires what it needs before
    /// the first allocation (a device stream, a runtime). Called once by
    /// [`PoolBuilder::build`](super::PoolBuilder::build), so a builder chain
    /// is infallible and every configuration error surfaces in `build()`.
    fn prepare(&self) -> Result<()> {
        Ok(())
    }
}

/// The heap backend: [`AlignedBuf`]s, zeroed at allocation.
#[derive(Clone, Copy, Debug)]
pub struct HeapBackend {
    align: usize,
}

impl HeapBackend {
    /// A heap backend with the given alignment (power of two).
    pub fn new(align: usize) -> Result<Self> {
        let b = Self { align };
        b.prepare()?;
        Ok(b)
    }

    /// Unchecked: the builder stores what it was given and `build()` checks.
    pub(super) fn with_align_unchecked(align: usize) -> Self {
        Self { align }
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
        // AlignedBuf records the allocation in the ledger.
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
    fn prepare(&self) -> Result<()> {
        if self.align == 0 || !self.align.is_power_of_two() {
            return Err(BufferError::InvalidAlignment { align: self.align });
        }
        Ok(())
    }
}
