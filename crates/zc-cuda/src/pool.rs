//! A pool of device buffers: the zc-buffers [`Pool`] over a device-memory
//! backend, so guards, size classes, the byte cap and statistics behave
//! exactly as for host pools.

use cudarc::driver::sys;
use zc_buffers::{Pool, PoolBackend, PoolBuilder, Pooled};

use crate::device::{CudaDevice, Stream};
use crate::driver::call_sys;
use crate::error::Result;
use crate::kind::DEVICE_ALIGN;
use crate::memory::DeviceBuffer;

/// A pool of device buffers with RAII guards ([`PooledDevice`]).
pub type DevicePool = Pool<DeviceBackend>;

/// A device buffer on loan from a [`DevicePool`]; goes back on drop.
pub type PooledDevice = Pooled<DeviceBackend>;

/// Allocates the buffers of a [`DevicePool`]: stream-ordered from the
/// device's memory pool where the device has one (`cuMemAllocAsync`),
/// `cuMemAlloc` elsewhere; zeroed before they are handed out.
#[derive(Debug)]
pub struct DeviceBackend {
    device: CudaDevice,
    stream: Stream,
}

/// The release threshold [`DeviceBackend::new`] sets on the device's memory
/// pool: keep everything (freed memory is reused, never returned to the
/// driver at stream synchronisation).
pub const KEEP_ALL: u64 = u64::MAX;

impl DeviceBackend {
    /// A backend on `device`, with its own stream, raising the release
    /// threshold of the device's current memory pool to [`KEEP_ALL`].
    pub fn new(device: &CudaDevice) -> Result<Self> {
        Self::with_release_threshold(device, KEEP_ALL)
    }

    /// As [`new`](Self::new) with a chosen release threshold in bytes
    /// (memory above it is returned to the driver at synchronisation).
    pub fn with_release_threshold(device: &CudaDevice, threshold: u64) -> Result<Self> {
        let stream = device.new_stream()?;
        if device.caps().memory_pools {
            set_release_threshold(device, threshold)?;
        }
        Ok(Self {
            device: device.clone(),
            stream,
        })
    }

    /// The device.
    pub fn device(&self) -> &CudaDevice {
        &self.device
    }

    /// The stream allocations are ordered on.
    pub fn stream(&self) -> &Stream {
        &self.stream
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
        let mut b = DeviceBuffer::alloc_async(&self.stream, &self.device, capacity)?;
        b.zero(&self.stream)?;
        // Handed out to any stream next: finish allocation and zeroing first.
        self.stream.synchronize()?;
        Ok(b)
    }

    fn zero(&self, buf: &mut DeviceBuffer, len: usize) -> zc_buffers::Result<()> {
        buf.zero_prefix(&self.stream, len)?;
        self.stream.synchronize()?;
        Ok(())
    }

    fn align(&self) -> usize {
        DEVICE_ALIGN
    }
}

impl CudaDevice {
    /// A builder for a device pool on this device (name, cap, size classes,
    /// zero-on-release, waits, prefill: all of [`PoolBuilder`]).
    pub fn pool_builder(&self) -> Result<PoolBuilder<DeviceBackend>> {
        Ok(PoolBuilder::with_backend(DeviceBackend::new(self)?))
    }

    /// A device pool named `name` holding at most `cap_bytes`.
    pub fn device_pool(&self, name: &str, cap_bytes: usize) -> Result<DevicePool> {
        Ok(self.pool_builder()?.name(name).cap_bytes(cap_bytes).build()?)
    }
}
