//! Test helpers shared by the integration tests.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use zc_buffers::{AlignedBuf, Buffer, HostBuffer, HostBufferMut, Residency};

/// An `AlignedBuf` that counts its drops, to check that owners are freed
/// exactly once however they travel (pools, DLPack, threads).
pub struct DropCounted {
    /// The bytes.
    pub buf: AlignedBuf,
    /// Incremented when this value drops.
    pub drops: Arc<AtomicUsize>,
}

impl Drop for DropCounted {
    fn drop(&mut self) {
        self.drops.fetch_add(1, Ordering::SeqCst);
    }
}

// SAFETY: forwards to the AlignedBuf it owns.
unsafe impl Buffer for DropCounted {
    fn len(&self) -> usize {
        self.buf.len()
    }
    fn align(&self) -> usize {
        self.buf.align()
    }
    fn residency(&self) -> Residency {
        Residency::Heap
    }
    fn host_ptr(&self) -> Option<std::ptr::NonNull<u8>> {
        self.buf.host_ptr()
    }
}

impl HostBuffer for DropCounted {
    fn as_bytes(&self) -> &[u8] {
        self.buf.as_bytes()
    }
}

impl HostBufferMut for DropCounted {
    fn as_bytes_mut(&mut self) -> &mut [u8] {
        self.buf.as_bytes_mut()
    }
}
