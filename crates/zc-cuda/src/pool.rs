//! A pool of device buffers: the zc-buffers [`Pool`] over a device-memory
//! backend, so guards, size classes, the byte cap and statistics behave
//! exactly as for host pools.

use std::sync::OnceLock;

use cudarc::driver::sys;
use zc_buffers::{Pool, PoolBackend, PoolBuilder, Pooled};

use crate::device::{CudaDevice, Stream};
use crate::driver::call_sys;
use crate::error::{CudaError, Result};
use crate::kind::DEVICE_ALIGN;
use crate::memory::DeviceBuffer;

/// A pool of device buffers with RAII guards ([`PooledDevice`]).
pub type DevicePool = Pool<DeviceBackend>;

/// A device buffer on loan from a [`DevicePool`]; goes back on drop.
pub type PooledDevice = Pooled<DeviceBackend>;

/// Allocates the buffers of a [`DevicePool`]: stream-ordered from the
/// device's memory pool where the device has one (`cuMemAllocAsync`),
/// `cuMemAlloc` elsewhere; zeroed before they are handed out.
///
/// Constructing one touches no driver state; [`PoolBackend::prepare`]
/// (called by `PoolBuilder::build`) creates its stream and sets the memory
/// pool's release threshold, so every driver error surfaces in `build()`.
#[derive(Debug)]
pub struct DeviceBackend {
    device: CudaDevice,
    release_threshold: u64,
    stream: OnceLock<Stream>,
}

/// The release threshold [`DeviceBackend::new`] sets on the device's memory
/// pool: keep everything (freed memory is reused, never returned to the
/// driver at stream synchronisation).
pub const KEEP_ALL: u64 = u64::MAX;

impl DeviceBackend {
    /// A backend on `device` that raises the release threshold of the
    /// device's current memory pool to [`KEEP_ALL`] when prepared.
    pub fn new(device: &CudaDevice) -> Self {
        Self::with_release_threshold(device, KEEP_ALL)
    }

    /// As [`new`](Self::new) with a chosen release threshold in bytes
    /// (memory above it is returned to the driver at synchronisation).
    pub fn with_release_threshold(device: &CudaDevice, threshold: u64) -> Self {
        Self {
            device: device.clone(),
            release_threshold: threshold,
            stream: OnceLock::new(),
        }
    }

    /// The device.
    pub fn device(&self) -> &CudaDevice {
        &self.device
    }

    /// The stream allocations are ordered on, created on first use.
    pub fn stream(&self) -> Result<&Stream> {
        if let Some(s) = self.stream.get() {
            return Ok(s);
        }
        let created = self.device.new_stream()?;
        // Two threads may race here; the loser's stream is dropped.
        let _ = self.stream.set(created);
        self.stream.get().ok_or(CudaError::DriverUnusable {
            call: "cuStreamCreate",
            message: "stream slot empty after set".to_owned(),
        })
    }
}

/// The device's current memory pool (binding the device's context first).
fn current_pool(device: &CudaDevice) -> Result<sys::CUmemoryPool> {
    device.bind()?;
    let dev = device.cu_device();
    let mut pool: sys::CUmemoryPool = std::ptr::null_mut();
    // SAFETY: writes one pool handle through a valid pointer; `dev` is valid.
    call_sys("cuDeviceGetMemPool", || unsafe {
        sys::cuDeviceGetMemPool(&mut pool, dev)
    })?;
    Ok(pool)
}

/// Set `CU_MEMPOOL_ATTR_RELEASE_THRESHOLD` on the device's current memory
/// pool.
pub fn set_release_threshold(device: &CudaDevice, threshold: u64) -> Result<()> {
    let pool = current_pool(device)?;
    let mut value: u64 = threshold;
    let attr = sys::CUmemPool_attribute::CU_MEMPOOL_ATTR_RELEASE_THRESHOLD;
    // SAFETY: RELEASE_THRESHOLD takes a cuuint64_t, which `value` is.
    call_sys("cuMemPoolSetAttribute", || unsafe {
        sys::cuMemPoolSetAttribute(pool, attr, (&mut value as *mut u64).cast())
    })
}

/// Read `CU_MEMPOOL_ATTR_RELEASE_THRESHOLD` of the device's current pool.
pub fn release_threshold(device: &CudaDevice) -> Result<u64> {
    let pool = current_pool(device)?;
    let mut value: u64 = 0;
    let attr = sys::CUmemPool_attribute::CU_MEMPOOL_ATTR_RELEASE_THRESHOLD;
    // SAFETY: RELEASE_THRESHOLD is a cuuint64_t.
    call_sys("cuMemPoolGetAttribute", || unsafe {
        sys::cuMemPoolGetAttribute(pool, attr, (&mut value as *mut u64).cast())
    })?;
    Ok(value)
}

impl PoolBackend for DeviceBackend {
    type Buf = DeviceBuffer;

    fn allocate(&self, capacity: usize) -> zc_buffers::Result<DeviceBuffer> {
        let stream = self.stream()?;
        let mut b = DeviceBuffer::alloc_async(stream, &self.device, capacity)?;
        b.zero(stream)?;
        // Handed out to any stream next: finish allocation and zeroing first.
        stream.synchronize()?;
        Ok(b)
    }

    fn zero(&self, buf: &mut DeviceBuffer, len: usize) -> zc_buffers::Result<()> {
        let stream = self.stream()?;
        buf.zero_prefix(stream, len)?;
        stream.synchronize()?;
        Ok(())
    }

    fn prepare(&self) -> zc_buffers::Result<()> {
        self.stream()?;
        if self.device.caps().memory_pools {
            set_release_threshold(&self.device, self.release_threshold)?;
        }
        Ok(())
    }

    fn align(&self) -> usize {
        DEVICE_ALIGN
    }
}

impl CudaDevice {
    /// A builder for a pool of device buffers on this device, named
    /// `cuda{ordinal}`; configure it like any [`PoolBuilder`] (`name`,
    /// `cap_bytes`, `size_classes`, `zero_on_release`, `wait`, `prefill`) and
    /// `build()`, which creates the backend's stream and sets the memory
    /// pool's release threshold (driver errors surface there). The NPU
    /// crate builds its pools the same way (`NpuDevice::pool_builder`).
    pub fn pool_builder(&self) -> PoolBuilder<DeviceBackend> {
        PoolBuilder::with_backend(DeviceBackend::new(self)).name(format!("cuda{}", self.ordinal()))
    }
}

impl crate::memory::sealed::Sealed for zc_buffers::Pooled<DeviceBackend> {}
impl crate::memory::DeviceMemory for zc_buffers::Pooled<DeviceBackend> {
    fn dptr(&self) -> u64 {
        crate::memory::DeviceMemory::dptr(self.inner())
    }
    fn ordinal(&self) -> usize {
        crate::memory::DeviceMemory::ordinal(self.inner())
    }
}
