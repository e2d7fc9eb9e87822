//! [`PinnedBuffer`]: page-locked host memory from the driver.

use std::ffi::c_void;
use std::fmt;
use std::ptr::NonNull;

use cudarc::driver::sys;
use zc_buffers::{Buffer, Device, HostBuffer, HostBufferMut, Residency};

use super::check_len;
use crate::device::CudaDevice;
use crate::driver::call_sys;
use crate::error::{CudaError, Result};
use crate::kind::{MemoryKind, host_align};

/// Options for page-locked host allocations.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PinnedOptions {
    /// `CU_MEMHOSTALLOC_WRITECOMBINED`: faster host→device over PCIe on some
    /// systems, but CPU reads become uncached (tens of times slower). Off by
    /// default; turn on only for upload-only staging the CPU never reads.
    pub write_combined: bool,
    /// `CU_MEMHOSTALLOC_PORTABLE`: pinned for every context, not just the
    /// allocating one. On by default.
    pub portable: bool,
}

impl Default for PinnedOptions {
    fn default() -> Self {
        Self {
            write_combined: false,
            portable: true,
        }
    }
}

impl PinnedOptions {
    /// The `cuMemHostAlloc` flags.
    pub fn flags(&self) -> u32 {
        let mut f = sys::CU_MEMHOSTALLOC_DEVICEMAP;
        if self.write_combined {
            f |= sys::CU_MEMHOSTALLOC_WRITECOMBINED;
        }
        if self.portable {
            f |= sys::CU_MEMHOSTALLOC_PORTABLE;
        }
        f
    }
}

/// Page-locked host memory (`cuMemHostAlloc`), cached unless asked
/// otherwise, zeroed at allocation. CPU-addressable; DLPack `kDLCUDAHost`.
pub struct PinnedBuffer {
    ptr: NonNull<u8>,
    len: usize,
    dptr: Option<u64>,
    options: PinnedOptions,
    device: CudaDevice,
}

// SAFETY: the buffer owns its allocation exclusively; `&PinnedBuffer` only
// reads, `&mut` writes, as for a Box<[u8]>.
unsafe impl Send for PinnedBuffer {}
// SAFETY: as above.
unsafe impl Sync for PinnedBuffer {}

impl fmt::Debug for PinnedBuffer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PinnedBuffer")
            .field("ptr", &self.ptr)
            .field("len", &self.len)
            .field("options", &self.options)
            .finish()
    }
}

impl PinnedBuffer {
    /// Allocate `len` zeroed bytes of cached, portable page-locked memory.
    pub fn alloc(device: &CudaDevice, len: usize) -> Result<Self> {
        Self::alloc_with(device, len, PinnedOptions::default())
    }

    /// Allocate `len` zeroed bytes of page-locked memory with `options`.
    pub fn alloc_with(device: &CudaDevice, len: usize, options: PinnedOptions) -> Result<Self> {
        check_len("cuMemHostAlloc", len)?;
        device.bind()?;
        let mut p: *mut c_void = std::ptr::null_mut();
        let flags = options.flags();
        // SAFETY: writes one host pointer through a valid pointer.
        call_sys("cuMemHostAlloc", || unsafe { sys::cuMemHostAlloc(&mut p, len, flags) })?;
        let ptr = NonNull::new(p.cast::<u8>()).ok_or(CudaError::DriverUnusable {
            call: "cuMemHostAlloc",
            message: "returned a null pointer".to_string(),
        })?;
        // SAFETY: the driver gave us `len` writable bytes at `ptr`.
        unsafe { std::ptr::write_bytes(ptr.as_ptr(), 0, len) };
        let mut dptr: sys::CUdeviceptr = 0;
        // SAFETY: `p` is a live cuMemHostAlloc allocation with DEVICEMAP.
        let dptr = call_sys("cuMemHostGetDevicePointer_v2", || unsafe {
            sys::cuMemHostGetDevicePointer_v2(&mut dptr, p, 0)
        })
        .ok()
        .map(|()| dptr);
        Ok(Self {
            ptr,
            len,
            dptr,
            options,
            device: device.clone(),
        })
    }

    /// The options it was allocated with.
    pub fn options(&self) -> PinnedOptions {
        self.options
    }
}

impl Drop for PinnedBuffer {
    fn drop(&mut self) {
        let _ = self.device.bind();
        let p = self.ptr.as_ptr().cast::<c_void>();
        // SAFETY: `p` came from cuMemHostAlloc and is freed once, here, after
        // every copy that used it completed (see DeviceBuffer's Drop).
        let _ = call_sys("cuMemFreeHost", || unsafe { sys::cuMemFreeHost(p) });
    }
}

// SAFETY: the page-locked allocation's host address and length, owned until drop.
unsafe impl Buffer for PinnedBuffer {
    fn len(&self) -> usize {
        self.len
    }
    fn align(&self) -> usize {
        host_align(self.ptr.as_ptr() as usize)
    }
    fn residency(&self) -> Residency {
        MemoryKind::Pinned.residency()
    }
    fn device(&self) -> Device {
        MemoryKind::Pinned.dlpack_device(self.device.ordinal())
    }
    fn host_ptr(&self) -> Option<NonNull<u8>> {
        Some(self.ptr)
    }
    fn device_ptr(&self) -> Option<u64> {
        self.dptr
    }
}

impl HostBuffer for PinnedBuffer {
    fn as_bytes(&self) -> &[u8] {
        // SAFETY: `len` initialised bytes (zeroed at allocation) owned by us.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }
}

impl HostBufferMut for PinnedBuffer {
    fn as_bytes_mut(&mut self) -> &mut [u8] {
        // SAFETY: as `as_bytes`, with exclusive access through `&mut self`.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr(), self.len) }
    }
}

// SAFETY: the driver allocation is owned by the value; its address is fixed.
unsafe impl zc_buffers::StableBytes for PinnedBuffer {}
