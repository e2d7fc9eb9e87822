//! [`ManagedBuffer`]: unified memory with prefetch and advice.

use std::fmt;
use std::ptr::NonNull;

use cudarc::driver::sys;
use zc_buffers::{Buffer, Device, HostBuffer, HostBufferMut, Residency};

use super::{DeviceMemory, check_len, sealed};
use crate::device::{CudaDevice, Stream};
use crate::driver::{call_sys, driver_version};
use crate::error::{CudaError, Result};
use crate::kind::{DEVICE_ALIGN, MemoryKind};

/// Where managed memory should be moved or preferred.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Location {
    /// The buffer's GPU.
    Device,
    /// Host memory.
    Host,
}

/// Usage hints for managed memory (`cuMemAdvise`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ManagedAdvice {
    /// Mostly read: the driver may keep read-only copies on each side.
    SetReadMostly,
    /// Undo [`ManagedAdvice::SetReadMostly`].
    UnsetReadMostly,
    /// Prefer to keep the pages at this location.
    SetPreferredLocation(Location),
    /// Undo a preferred location.
    UnsetPreferredLocation,
    /// This location will access the memory: map it there.
    SetAccessedBy(Location),
    /// Undo [`ManagedAdvice::SetAccessedBy`].
    UnsetAccessedBy(Location),
}

/// Unified memory (`cuMemAllocManaged`), addressable from host and device,
/// migrated on demand or by [`prefetch`](Self::prefetch). DLPack
/// `kDLCUDAManaged`.
///
/// CPU access (`as_bytes`) while a kernel runs is only allowed on devices
/// with `concurrent_managed_access` (see [`DeviceCaps`](crate::DeviceCaps));
/// elsewhere synchronise first.
pub struct ManagedBuffer {
    dptr: u64,
    len: usize,
    device: CudaDevice,
}

impl fmt::Debug for ManagedBuffer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ManagedBuffer")
            .field("dptr", &format_args!("{:#x}", self.dptr))
            .field("len", &self.len)
            .field("ordinal", &self.device.ordinal())
            .finish()
    }
}

fn location(device: &CudaDevice, loc: Location, v2: bool) -> (sys::CUmemLocation, sys::CUdevice) {
    match loc {
        Location::Device => (
            sys::CUmemLocation {
                type_: sys::CUmemLocationType::CU_MEM_LOCATION_TYPE_DEVICE,
                id: device.cu_device(),
            },
            device.cu_device(),
        ),
        Location::Host => (
            sys::CUmemLocation {
                type_: if v2 {
                    sys::CUmemLocationType::CU_MEM_LOCATION_TYPE_HOST
                } else {
                    sys::CUmemLocationType::CU_MEM_LOCATION_TYPE_DEVICE
                },
                id: 0,
            },
            // CU_DEVICE_CPU
            -1,
        ),
    }
}

/// `cuMemAdvise_v2` / `cuMemPrefetchAsync_v2` exist from driver 12.2 on;
/// older drivers get the v1 entry points.
fn has_v2_unified_calls() -> bool {
    driver_version().is_ok_and(|v| v >= 12020)
}

impl ManagedBuffer {
    /// Allocate `len` zeroed bytes of managed memory attached globally.
    /// `ManagedUnsupported` when the device has no managed memory.
    pub fn alloc(device: &CudaDevice, len: usize) -> Result<Self> {
        check_len("cuMemAllocManaged", len)?;
        if !device.caps().managed_memory {
            return Err(CudaError::ManagedUnsupported {
                ordinal: device.ordinal(),
            });
        }
        device.bind()?;
        let mut dptr: sys::CUdeviceptr = 0;
        let flags = sys::CUmemAttach_flags::CU_MEM_ATTACH_GLOBAL as u32;
        // SAFETY: writes one pointer through a valid pointer.
        call_sys("cuMemAllocManaged", || unsafe {
            sys::cuMemAllocManaged(&mut dptr, len, flags)
        })?;
        // Owned from here on: an error below frees it.
        let b = Self {
            dptr,
            len,
            device: device.clone(),
        };
        let stream = device.stream();
        stream.bind()?;
        let raw = stream.raw();
        // SAFETY: the whole live allocation; nobody else has it yet.
        call_sys("cuMemsetD8Async", || unsafe { sys::cuMemsetD8Async(dptr, 0, len, raw) })?;
        stream.synchronize()?;
        Ok(b)
    }

    /// Queue a migration of the whole buffer to `to` on `stream`
    /// (`cuMemPrefetchAsync`).
    pub fn prefetch(&self, to: Location, stream: &Stream) -> Result<()> {
        stream.bind()?;
        let v2 = has_v2_unified_calls();
        let (loc, dev) = location(&self.device, to, v2);
        let (dptr, len, raw) = (self.dptr, self.len, stream.raw());
        if v2 {
            // SAFETY: the exact range of this live managed allocation.
            call_sys("cuMemPrefetchAsync_v2", || unsafe {
                sys::cuMemPrefetchAsync_v2(dptr, len, loc, 0, raw)
            })
        } else {
            // SAFETY: as above.
            call_sys("cuMemPrefetchAsync", || unsafe {
                sys::cuMemPrefetchAsync(dptr, len, dev, raw)
            })
        }
    }

    /// Give the driver a usage hint for the whole buffer (`cuMemAdvise`).
    pub fn advise(&self, advice: ManagedAdvice) -> Result<()> {
        use sys::CUmem_advise as A;
        self.device.bind()?;
        let (a, loc) = match advice {
            ManagedAdvice::SetReadMostly => (A::CU_MEM_ADVISE_SET_READ_MOSTLY, Location::Device),
            ManagedAdvice::UnsetReadMostly => (A::CU_MEM_ADVISE_UNSET_READ_MOSTLY, Location::Device),
            ManagedAdvice::SetPreferredLocation(l) => (A::CU_MEM_ADVISE_SET_PREFERRED_LOCATION, l),
            ManagedAdvice::UnsetPreferredLocation => (A::CU_MEM_ADVISE_UNSET_PREFERRED_LOCATION, Location::Device),
            ManagedAdvice::SetAccessedBy(l) => (A::CU_MEM_ADVISE_SET_ACCESSED_BY, l),
            ManagedAdvice::UnsetAccessedBy(l) => (A::CU_MEM_ADVISE_UNSET_ACCESSED_BY, l),
        };
        let v2 = has_v2_unified_calls();
        let (loc, dev) = location(&self.device, loc, v2);
        let (dptr, len) = (self.dptr, self.len);
        if v2 {
            // SAFETY: the exact range of this live managed allocation.
            call_sys("cuMemAdvise_v2", || unsafe { sys::cuMemAdvise_v2(dptr, len, a, loc) })
        } else {
            // SAFETY: as above.
            call_sys("cuMemAdvise", || unsafe { sys::cuMemAdvise(dptr, len, a, dev) })
        }
    }
}

impl Drop for ManagedBuffer {
    fn drop(&mut self) {
        let _ = self.device.bind();
        let dptr = self.dptr;
        // SAFETY: from cuMemAllocManaged, freed once, after our copies ended.
        let _ = call_sys("cuMemFree_v2", || unsafe { sys::cuMemFree_v2(dptr) });
    }
}

// SAFETY: the managed allocation's address (valid on host and device) and length,
// owned until drop.
unsafe impl Buffer for ManagedBuffer {
    fn len(&self) -> usize {
        self.len
    }
    fn align(&self) -> usize {
        DEVICE_ALIGN
    }
    fn residency(&self) -> Residency {
        MemoryKind::Managed.residency()
    }
    fn device(&self) -> Device {
        MemoryKind::Managed.dlpack_device(self.device.ordinal())
    }
    fn host_ptr(&self) -> Option<NonNull<u8>> {
        NonNull::new(self.dptr as usize as *mut u8)
    }
    fn device_ptr(&self) -> Option<u64> {
        Some(self.dptr)
    }
}

impl HostBuffer for ManagedBuffer {
    fn as_bytes(&self) -> &[u8] {
        // SAFETY: managed memory is CPU-addressable at its device address
        // (unified addressing); `len` bytes, zeroed at allocation.
        unsafe { std::slice::from_raw_parts(self.dptr as usize as *const u8, self.len) }
    }
}

impl HostBufferMut for ManagedBuffer {
    fn as_bytes_mut(&mut self) -> &mut [u8] {
        // SAFETY: as `as_bytes`, exclusive through `&mut self`.
        unsafe { std::slice::from_raw_parts_mut(self.dptr as usize as *mut u8, self.len) }
    }
}

impl sealed::Sealed for ManagedBuffer {}
impl DeviceMemory for ManagedBuffer {
    fn dptr(&self) -> u64 {
        self.dptr
    }
    fn ordinal(&self) -> usize {
        self.device.ordinal()
    }
}

// SAFETY: the driver allocation is owned by the value; its address is fixed.
unsafe impl zc_buffers::StableBytes for ManagedBuffer {}

// ManagedBuffer, DeviceBuffer: Send + Sync come from their fields (u64,
// usize, CudaDevice, Arc<CudaStream>), which are all Send + Sync.
