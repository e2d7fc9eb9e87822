//! # zc-cuda
//!
//! CUDA memory behind the zc [`Buffer`](zc_buffers::Buffer) trait, built on
//! the `cudarc` driver API with libcuda loaded at run time — so the crate
//! builds with no CUDA toolkit and runs (returning [`CudaError::NoDriver`])
//! with no driver.
//!
//! * [`DeviceBuffer`]: device memory (`kDLCUDA`).
//! * [`PinnedBuffer`]: page-locked host memory, cached by default
//!   (`kDLCUDAHost`); write-combined only through [`PinnedOptions`].
//! * [`ManagedBuffer`]: unified memory with [`prefetch`](ManagedBuffer::prefetch)
//!   and [`advise`](ManagedBuffer::advise) (`kDLCUDAManaged`).
//! * [`Registered`]: an existing page-aligned host buffer (a pool guard, an
//!   `AlignedBuf`, an mmap) page-locked in place — the zero-copy upload path.
//! * [`Stream`]: synchronous copies on borrowed buffers
//!   ([`copy_htod`](Stream::copy_htod), [`copy_dtoh`](Stream::copy_dtoh),
//!   [`copy_dtod`](Stream::copy_dtod)) and asynchronous ones on owned buffers
//!   ([`upload`](Stream::upload), [`download`](Stream::download),
//!   [`copy_device`](Stream::copy_device)) returning a [`PendingCopy`] with
//!   completion and timing events. Every transfer records itself in
//!   `zc_buffers::ledger`.
//! * [`DevicePool`]: the zc-buffers [`Pool`](zc_buffers::Pool) over a
//!   device-memory backend, with the CUDA memory pool's release threshold
//!   raised so freed memory is reused.
//!
//! Every buffer exports to DLPack through
//! `zc_buffers::interop::dlpack::DlpackTensor::new` with the right device.
//!
//! ```
//! use zc_cuda::{CudaDevice, CudaError};
//! match CudaDevice::new(0) {
//!     Ok(dev) => println!("using {}", dev.name()),
//!     Err(e) if e.is_unavailable() => println!("no GPU: {e}"),
//!     Err(e) => return Err(e),
//! }
//! # Ok::<(), CudaError>(())
//! ```

mod device;
mod driver;
mod error;
mod kind;
mod memory;
mod pool;
mod registered;
mod transfer;

pub use device::{CudaDevice, DeviceCaps, Event, Stream};
pub use driver::{available, device_count, driver_present, driver_version, probe};
pub use error::{CudaError, Result};
pub use kind::{CopyPlan, DEVICE_ALIGN, MemoryKind, PAGE, Side, check_registrable, plan_copy, side_of};
pub use memory::{DeviceBuffer, DeviceMemory, Location, ManagedAdvice, ManagedBuffer, PinnedBuffer, PinnedOptions};
pub use pool::{DeviceBackend, DevicePool, KEEP_ALL, PooledDevice, release_threshold, set_release_threshold};
pub use registered::{RegisterOptions, Registered};
pub use transfer::{Completed, PendingCopy};

/// Re-export of the cudarc version this crate is built on.
pub use cudarc;

impl CudaDevice {
    /// Allocate device memory (contents unspecified); see [`DeviceBuffer::alloc`].
    pub fn alloc(&self, len: usize) -> Result<DeviceBuffer> {
        DeviceBuffer::alloc(self, len)
    }

    /// Allocate zeroed device memory.
    pub fn alloc_zeroed(&self, len: usize) -> Result<DeviceBuffer> {
        DeviceBuffer::alloc_zeroed(self, len)
    }

    /// Allocate zeroed, cached page-locked host memory.
    pub fn alloc_pinned(&self, len: usize) -> Result<PinnedBuffer> {
        PinnedBuffer::alloc(self, len)
    }

    /// Allocate zeroed managed memory.
    pub fn alloc_managed(&self, len: usize) -> Result<ManagedBuffer> {
        ManagedBuffer::alloc(self, len)
    }

    /// Page-lock `buf` in place for this device.
    pub fn register<B: zc_buffers::HostBuffer>(
        &self,
        buf: B,
    ) -> Result<Registered<B>, zc_buffers::Rejected<B, CudaError>> {
        Registered::with_device(self, buf)
    }
}

/// The README's code blocks, compiled and run as doc-tests so that every
/// snippet a user copies works as written.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
