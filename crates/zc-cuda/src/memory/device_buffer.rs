//! [`DeviceBuffer`]: device memory, not CPU-addressable.

use std::fmt;
use std::ptr::NonNull;
use std::sync::Arc;

use cudarc::driver::{CudaStream, sys};
use zc_buffers::{Buffer, Device, Residency};

use super::{DeviceMemory, check_len, sealed};
use crate::device::{CudaDevice, Stream};
use crate::driver::call_sys;
use crate::error::{CudaError, Result};
use crate::kind::{DEVICE_ALIGN, MemoryKind};

/// How a device buffer goes back to the driver.
enum Free {
    /// `cuMemFree`.
    Sync,
    /// `cuMemFreeAsync` on the stream it was allocated on (memory pool).
    Async(Arc<CudaStream>),
}

/// Device memory (`cuMemAlloc`, or `cuMemAllocAsync` from the device's
/// memory pool for [`DevicePool`](crate::DevicePool) buffers). Not
/// CPU-addressable; DLPack device `kDLCUDA`.
pub struct DeviceBuffer {
    dptr: u64,
    len: usize,
    device: CudaDevice,
    free: Free,
}

impl fmt::Debug for DeviceBuffer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeviceBuffer")
            .field("dptr", &format_args!("{:#x}", self.dptr))
            .field("len", &self.len)
            .field("ordinal", &self.device.ordinal())
            .finish()
    }
}

impl DeviceBuffer {
    /// Allocate `len` bytes of device memory with `cuMemAlloc`; the
    /// contents are unspecified (use [`alloc_zeroed`](Self::alloc_zeroed)
    /// for zeros).
    pub fn alloc(device: &CudaDevice, len: usize) -> Result<Self> {
        check_len("cuMemAlloc", len)?;
        device.bind()?;
        let mut dptr: sys::CUdeviceptr = 0;
        // SAFETY: writes one device pointer through a valid pointer; the
        // device's context is current.
        call_sys("cuMemAlloc_v2", || unsafe { sys::cuMemAlloc_v2(&mut dptr, len) })?;
        Ok(Self {
            dptr,
            len,
            device: device.clone(),
            free: Free::Sync,
        })
    }

    /// Allocate `len` zeroed bytes of device memory.
    pub fn alloc_zeroed(device: &CudaDevice, len: usize) -> Result<Self> {
        let mut b = Self::alloc(device, len)?;
        b.zero(device.stream())?;
        device.stream().synchronize()?;
        Ok(b)
    }

    /// Allocate from the device's current memory pool, ordered on `stream`
    /// (`cuMemAllocAsync`); the memory is usable by work queued on `stream`
    /// after this call, and goes back with `cuMemFreeAsync` on that stream.
    pub fn alloc_async(stream: &Stream, device: &CudaDevice, len: usize) -> Result<Self> {
        check_len("cuMemAllocAsync", len)?;
        if stream.ordinal() != device.ordinal() {
            return Err(CudaError::WrongDevice {
                what: "cuMemAllocAsync stream",
                expected: device.ordinal(),
                actual: stream.ordinal(),
            });
        }
        if !device.caps().memory_pools {
            return Self::alloc(device, len);
        }
        device.bind()?;
        let mut dptr: sys::CUdeviceptr = 0;
        let raw = stream.raw();
        // SAFETY: writes one device pointer; `raw` is a live stream of this
        // device (kept alive by `stream`, then by the Free::Async Arc).
        call_sys("cuMemAllocAsync", || unsafe {
            sys::cuMemAllocAsync(&mut dptr, len, raw)
        })?;
        Ok(Self {
            dptr,
            len,
            device: device.clone(),
            free: Free::Async(stream.cuda_stream().clone()),
        })
    }

    /// Queue `cuMemsetD8Async(0)` over the whole buffer on `stream`.
    pub fn zero(&mut self, stream: &Stream) -> Result<()> {
        self.zero_prefix(stream, self.len)
    }

    pub(crate) fn zero_prefix(&mut self, stream: &Stream, len: usize) -> Result<()> {
        let n = len.min(self.len);
        if n == 0 {
            return Ok(());
        }
        stream.bind()?;
        let (dptr, raw) = (self.dptr, stream.raw());
        // SAFETY: `dptr..dptr+n` lies inside this live allocation; we hold
        // `&mut self`, so no copy of ours reads it concurrently.
        call_sys("cuMemsetD8Async", || unsafe { sys::cuMemsetD8Async(dptr, 0, n, raw) })
    }

    /// The device this memory belongs to.
    pub fn device_handle(&self) -> &CudaDevice {
        &self.device
    }
}

impl Drop for DeviceBuffer {
    fn drop(&mut self) {
        let _ = self.device.bind();
        let dptr = self.dptr;
        let _ = match &self.free {
            // SAFETY: `dptr` came from cuMemAlloc and is freed once, here;
            // every copy of ours that used it has completed (synchronous
            // copies wait, asynchronous ones own the buffer until done).
            Free::Sync => call_sys("cuMemFree_v2", || unsafe { sys::cuMemFree_v2(dptr) }),
            Free::Async(s) => {
                let raw = s.cu_stream();
                // SAFETY: `dptr` came from cuMemAllocAsync on `raw`, which
                // the Arc keeps alive; freed once, stream-ordered.
                call_sys("cuMemFreeAsync", || unsafe { sys::cuMemFreeAsync(dptr, raw) })
            }
        };
    }
}

// SAFETY: no host pointer; `dptr` is this allocation's device address of `len`
// bytes on `device`, freed only when the buffer drops.
unsafe impl Buffer for DeviceBuffer {
    fn len(&self) -> usize {
        self.len
    }
    fn align(&self) -> usize {
        DEVICE_ALIGN
    }
    fn residency(&self) -> Residency {
        MemoryKind::Device.residency()
    }
    fn device(&self) -> Device {
        MemoryKind::Device.dlpack_device(self.device.ordinal())
    }
    fn host_ptr(&self) -> Option<NonNull<u8>> {
        None
    }
    fn device_ptr(&self) -> Option<u64> {
        Some(self.dptr)
    }
}

impl sealed::Sealed for DeviceBuffer {}
impl DeviceMemory for DeviceBuffer {
    fn dptr(&self) -> u64 {
        self.dptr
    }
    fn ordinal(&self) -> usize {
        self.device.ordinal()
    }
}

// SAFETY: the driver allocation is owned by the value and freed only on
// drop; moving the value moves the device address, not the memory.
unsafe impl zc_buffers::StableBytes for DeviceBuffer {}
