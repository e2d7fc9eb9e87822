//! Device, pinned and managed buffers.

use std::ffi::c_void;
use std::fmt;
use std::ptr::NonNull;
use std::sync::Arc;

use cudarc::driver::{CudaStream, sys};
use zc_buffers::{Buffer, Device, HostBuffer, HostBufferMut, Residency};

use crate::device::{CudaDevice, Stream};
use crate::driver::{call_sys, driver_version};
use crate::error::{CudaError, Result};
use crate::kind::{DEVICE_ALIGN, MemoryKind, host_align};

mod sealed {
    pub trait Sealed {}
}

/// Memory addressed from the device side of a copy: [`DeviceBuffer`],
/// [`ManagedBuffer`] and device-pool guards. Sealed: only zc-cuda's own
/// allocations qualify, so a device address handed to the driver is always
/// one the driver gave out, `len()` bytes long.
pub trait DeviceMemory: Buffer + sealed::Sealed {
    /// The device address of the first byte.
    fn dptr(&self) -> u64;
    /// The ordinal of the device the memory belongs to.
    fn ordinal(&self) -> usize;
}

/// Buffers whose bytes stay where they are when the value is moved (heap,
/// mmap or driver memory behind a pointer), so an owned value can be handed
/// to an asynchronous copy and moved around while the copy runs.
///
/// # Safety
/// Moving a value of the type must not change the address returned by
/// `host_ptr` / `as_bytes` / `device_ptr`, and nothing but the value may
/// write to those bytes while the value is owned by someone else.
pub unsafe trait StableBytes: Buffer {}

// SAFETY: the bytes of all these live behind a pointer the value owns
// exclusively (heap allocation, file mapping, driver allocation).
unsafe impl StableBytes for zc_buffers::AlignedBuf {}
// SAFETY: as above (the Vec's heap allocation; no &mut access while owned
// by a copy means no reallocation).
unsafe impl StableBytes for Vec<u8> {}
// SAFETY: a Box never moves its contents.
unsafe impl<B: Buffer + ?Sized> StableBytes for Box<B> {}
// SAFETY: a read-only file mapping; the mapping address is fixed.
unsafe impl StableBytes for zc_buffers::MmapBuf {}
// SAFETY: a writable file mapping owned by the value; the address is fixed.
unsafe impl StableBytes for zc_buffers::MmapBufMut {}
// SAFETY: a heap pool guard owns an AlignedBuf (heap pointer) exclusively.
unsafe impl StableBytes for zc_buffers::Pooled<zc_buffers::HeapBackend> {}
// SAFETY: a device pool guard owns a DeviceBuffer (driver allocation).
unsafe impl StableBytes for zc_buffers::Pooled<crate::pool::DeviceBackend> {}
// SAFETY: driver allocations owned by the value.
unsafe impl StableBytes for DeviceBuffer {}
// SAFETY: driver allocation owned by the value.
unsafe impl StableBytes for PinnedBuffer {}
// SAFETY: driver allocation owned by the value.
unsafe impl StableBytes for ManagedBuffer {}

fn check_len(what: &'static str, len: usize) -> Result<()> {
    if len == 0 {
        return Err(CudaError::EmptyBuffer { what });
    }
    if len > isize::MAX as usize {
        return Err(CudaError::TooLarge { what, len });
    }
    Ok(())
}

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
pub enum Advice {
    /// Mostly read: the driver may keep read-only copies on each side.
    SetReadMostly,
    /// Undo [`Advice::SetReadMostly`].
    UnsetReadMostly,
    /// Prefer to keep the pages at this location.
    SetPreferredLocation(Location),
    /// Undo a preferred location.
    UnsetPreferredLocation,
    /// This location will access the memory: map it there.
    SetAccessedBy(Location),
    /// Undo [`Advice::SetAccessedBy`].
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
    pub fn advise(&self, advice: Advice) -> Result<()> {
        use sys::CUmem_advise as A;
        self.device.bind()?;
        let (a, loc) = match advice {
            Advice::SetReadMostly => (A::CU_MEM_ADVISE_SET_READ_MOSTLY, Location::Device),
            Advice::UnsetReadMostly => (A::CU_MEM_ADVISE_UNSET_READ_MOSTLY, Location::Device),
            Advice::SetPreferredLocation(l) => (A::CU_MEM_ADVISE_SET_PREFERRED_LOCATION, l),
            Advice::UnsetPreferredLocation => (A::CU_MEM_ADVISE_UNSET_PREFERRED_LOCATION, Location::Device),
            Advice::SetAccessedBy(l) => (A::CU_MEM_ADVISE_SET_ACCESSED_BY, l),
            Advice::UnsetAccessedBy(l) => (A::CU_MEM_ADVISE_UNSET_ACCESSED_BY, l),
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

impl sealed::Sealed for zc_buffers::Pooled<crate::pool::DeviceBackend> {}
impl DeviceMemory for zc_buffers::Pooled<crate::pool::DeviceBackend> {
    fn dptr(&self) -> u64 {
        self.inner().dptr
    }
    fn ordinal(&self) -> usize {
        self.inner().device.ordinal()
    }
}

// ManagedBuffer, DeviceBuffer: Send + Sync come from their fields (u64,
// usize, CudaDevice, Arc<CudaStream>), which are all Send + Sync.
