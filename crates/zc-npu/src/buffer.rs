//! `NpuBuffer`: an XRT buffer object implementing the zc `Buffer` trait.

use std::ffi::c_void;
use std::fmt;
use std::ops::Range;
use std::ptr::NonNull;

use zc_buffers::ledger::{self, CopyKind};
use zc_buffers::{
    Buffer, BufferError, Device, HostBuffer, HostBufferMut, PAGE_ALIGN, Rejected, Residency, StableBytes,
    SyncDirection, check_range,
};

use crate::device::NpuDevice;
use crate::error::{NpuError, Result};
use crate::flags::{BoFlags, MemoryGroup};
use crate::runtime::BufferHandle;

/// The largest buffer object this crate asks XRT for: `isize::MAX` rounded
/// down to a page, so that lengths and page-rounded lengths never overflow.
pub const MAX_BO_BYTES: usize = (isize::MAX as usize) & !(PAGE_ALIGN - 1);

/// `XCL_BO_SYNC_BO_TO_DEVICE`.
const SYNC_TO_DEVICE: i32 = 0;
/// `XCL_BO_SYNC_BO_FROM_DEVICE`.
const SYNC_FROM_DEVICE: i32 = 1;

/// Marker for buffer objects whose host memory XRT allocated (the default
/// type parameter of [`NpuBuffer`]); wrapped buffers carry their host
/// buffer's type instead.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct XrtOwned;

/// A live `xrtBufferHandle`, freed on drop.
struct Handle {
    device: NpuDevice,
    raw: BufferHandle,
}

impl Drop for Handle {
    fn drop(&mut self) {
        // SAFETY: raw came from xrtBOAlloc/xrtBOAllocUserPtr on this
        // runtime and is freed only here. The device (and runtime) outlive
        // the call because `self.device` is dropped after this body. A free
        // failure cannot be reported from Drop.
        let _ = unsafe { (self.device.runtime().fns().bo_free)(self.raw) };
    }
}

/// The buffer object proper: handle, host mapping and what it was made with.
struct Bo {
    handle: Handle,
    map: NonNull<u8>,
    len: usize,
    align: usize,
    flags: BoFlags,
    group: MemoryGroup,
    device_addr: u64,
    user_ptr: bool,
}

// SAFETY: the BO handle is an opaque key into XRT's internally locked BO
// cache (usable from any thread), and the mapping is memory this Bo owns
// exclusively (mutation only through &mut).
unsafe impl Send for Bo {}
// SAFETY: through &Bo only reads of the mapping and thread-safe XRT queries
// (xrtBOSize) happen.
unsafe impl Sync for Bo {}

/// An XRT buffer object on an NPU, with its host mapping.
///
/// * [`Buffer`]: `len`, `align` (4096), `residency`
///   ([`Residency::NpuBufferObject`]), `host_ptr` (the mapping),
///   `device_ptr` (`xrtBOAddress`), and `sync(direction, range)`, which is
///   `xrtBOSync` on exactly that byte range (an empty range calls nothing).
/// * [`HostBuffer`] / [`HostBufferMut`]: the mapping as bytes, so the
///   blanket `HostBufferExt` / `HostBufferMutExt` give typed slices and
///   `ndarray` views with no copy.
/// * Freed (`xrtBOFree`) on drop, before the device it lives on is closed.
///
/// `H` is [`XrtOwned`] for BOs from [`NpuBuffer::alloc`]; for
/// [`NpuBuffer::wrap`] it is the wrapped host buffer's type, kept alive
/// until the BO has been freed and handed back by [`NpuBuffer::into_host`].
pub struct NpuBuffer<H = XrtOwned> {
    // Field order matters: the BO is freed before the host memory it maps.
    // The host owner is stored inline: wrapping requires
    // `H: StableBytes`, so moving it (with the `NpuBuffer`) never moves the
    // bytes the BO maps.
    bo: Bo,
    host: H,
}

fn check_len(len: usize) -> Result<()> {
    if len == 0 {
        return Err(BufferError::EmptyBuffer { what: "xrtBOAlloc" }.into());
    }
    if len > MAX_BO_BYTES {
        return Err(NpuError::TooLarge { len, max: MAX_BO_BYTES });
    }
    Ok(())
}

fn addr_align(addr: usize) -> usize {
    zc_buffers::addr_alignment(addr).min(PAGE_ALIGN)
}

impl NpuBuffer<XrtOwned> {
    /// Allocate a host-only buffer object of `len` bytes in memory group 0:
    /// the kind XDNA uses for data tensors. Write it through the mapping
    /// (`as_bytes_mut`, `as_slice_mut::<f32>()`, `view2_mut`), then
    /// `sync(ToDevice, range)` the bytes you wrote.
    ///
    /// Errors: `BufferError::EmptyBuffer` (zero bytes), [`NpuError::TooLarge`],
    /// [`NpuError::Xrt`] when `xrtBOAlloc` or `xrtBOMap` fails.
    pub fn alloc(device: &NpuDevice, len: usize) -> Result<NpuBuffer> {
        Self::alloc_with(device, len, BoFlags::HOST_ONLY, 0)
    }

    /// Allocate with explicit flags ([`BoFlags::HOST_ONLY`] for data,
    /// [`BoFlags::CACHEABLE`] for instruction buffers; anything else is
    /// refused with [`NpuError::UnsupportedFlags`] before XRT is called) and
    /// memory group (the kernel argument's `group_id`).
    pub fn alloc_with(device: &NpuDevice, len: usize, flags: BoFlags, group: MemoryGroup) -> Result<NpuBuffer> {
        let flags = flags.validate()?;
        check_len(len)?;
        let fns = *device.runtime().fns();
        crate::errno::clear();
        // SAFETY: the device handle is live (held by `device`); len is
        // non-zero and at most MAX_BO_BYTES; flags and group are plain values.
        let raw = unsafe { (fns.bo_alloc)(device.as_raw(), len, flags.bits(), group) };
        if raw.is_null() {
            return Err(NpuError::Xrt {
                call: "xrtBOAlloc",
                code: crate::errno::last(),
            });
        }
        // From here on `handle` frees the BO on every early return.
        let handle = Handle {
            device: device.clone(),
            raw,
        };
        check_size(&handle, len)?;
        crate::errno::clear();
        // SAFETY: raw is a live BO handle of this runtime.
        let map = unsafe { (fns.bo_map)(raw) };
        let map = NonNull::new(map.cast::<u8>()).ok_or_else(|| NpuError::Xrt {
            call: "xrtBOMap",
            code: crate::errno::last(),
        })?;
        // SAFETY: raw is a live BO handle of this runtime.
        let device_addr = unsafe { (fns.bo_address)(raw) };
        ledger::record_alloc(len);
        Ok(NpuBuffer {
            bo: Bo {
                handle,
                map,
                len,
                align: addr_align(map.as_ptr() as usize),
                flags,
                group,
                device_addr,
                user_ptr: false,
            },
            host: XrtOwned,
        })
    }
}

fn check_size(handle: &Handle, len: usize) -> Result<()> {
    // SAFETY: handle.raw is a live BO handle of this runtime.
    let size = unsafe { (handle.device.runtime().fns().bo_size)(handle.raw) };
    if size < len {
        return Err(NpuError::Contract {
            call: "xrtBOSize",
            detail: format!("the buffer object holds {size} bytes, {len} were asked for"),
        });
    }
    Ok(())
}

impl<H: HostBufferMut + StableBytes + Send + 'static> NpuBuffer<H> {
    /// Wrap an existing page-aligned host buffer (a pool guard from a
    /// `Pool::builder().align(4096)` pool, an `AlignedBuf` with 4096
    /// alignment, a writable file mapping) as a host-only user-pointer
    /// buffer object in memory group 0, so its bytes reach the NPU without
    /// being copied into a BO. The buffer is owned by the `NpuBuffer` until
    /// the BO is freed ([`NpuBuffer::into_host`] hands it back).
    ///
    /// `H` must be [`StableBytes`]: its bytes stay where they are when the
    /// owner moves (every zc owner is; a plain array is not), so the BO's
    /// mapping stays valid while the `NpuBuffer` is moved around.
    ///
    /// Errors (the buffer comes back in [`Rejected::value`]):
    /// [`BufferError::EmptyBuffer`], [`NpuError::TooLarge`],
    /// [`BufferError::Misaligned`] (the address is not 4096-aligned),
    /// [`NpuError::Xrt`] when `xrtBOAllocUserPtr` fails.
    pub fn wrap(device: &NpuDevice, host: H) -> std::result::Result<NpuBuffer<H>, Rejected<H, NpuError>> {
        Self::wrap_with(device, host, BoFlags::HOST_ONLY, 0)
    }

    /// [`NpuBuffer::wrap`] with explicit flags and memory group.
    pub fn wrap_with(
        device: &NpuDevice,
        host: H,
        flags: BoFlags,
        group: MemoryGroup,
    ) -> std::result::Result<NpuBuffer<H>, Rejected<H, NpuError>> {
        if let Err(error) = flags.validate() {
            return Err(Rejected::new(error, host));
        }
        // `H: StableBytes`: the pointer taken here stays valid when `host`
        // moves into the returned NpuBuffer.
        let mut host = host;
        match Self::register(device, &mut host, flags, group) {
            Ok(bo) => Ok(NpuBuffer { bo, host }),
            Err(error) => Err(Rejected::new(error, host)),
        }
    }

    fn register(device: &NpuDevice, host: &mut H, flags: BoFlags, group: MemoryGroup) -> Result<Bo> {
        let bytes = host.as_bytes_mut();
        let len = bytes.len();
        let ptr = bytes.as_mut_ptr();
        check_len(len)?;
        let addr = ptr as usize;
        if !addr.is_multiple_of(PAGE_ALIGN) {
            return Err(BufferError::Misaligned {
                what: "an XRT user-pointer buffer object",
                required: PAGE_ALIGN,
                actual: zc_buffers::addr_alignment(addr),
                addr,
            }
            .into());
        }
        let map = NonNull::new(ptr).ok_or(BufferError::NotHostAccessible {
            residency: host.residency(),
        })?;
        let fns = *device.runtime().fns();
        crate::errno::clear();
        // SAFETY: the device handle is live; ptr is valid for len writable
        // bytes and page aligned (checked above), and the memory outlives the
        // BO: it belongs to the HostBox that the returned NpuBuffer drops
        // after freeing the BO.
        let raw = unsafe { (fns.bo_alloc_user_ptr)(device.as_raw(), ptr.cast::<c_void>(), len, flags.bits(), group) };
        if raw.is_null() {
            return Err(NpuError::Xrt {
                call: "xrtBOAllocUserPtr",
                code: crate::errno::last(),
            });
        }
        let handle = Handle {
            device: device.clone(),
            raw,
        };
        check_size(&handle, len)?;
        // SAFETY: raw is a live BO handle of this runtime.
        let device_addr = unsafe { (fns.bo_address)(raw) };
        Ok(Bo {
            handle,
            map,
            len,
            align: PAGE_ALIGN,
            flags,
            group,
            device_addr,
            user_ptr: true,
        })
    }
}

impl<H> NpuBuffer<H> {
    /// Make host writes in `range` (bytes) visible to the NPU
    /// ([`SyncDirection::ToDevice`]) or NPU writes visible to the host
    /// ([`SyncDirection::FromDevice`]): `xrtBOSync(bo, dir, range.len(),
    /// range.start)`. An empty range calls nothing. Errors:
    /// `BufferError::RangeOutOfBounds` (nothing is called),
    /// [`NpuError::Xrt`] with XRT's return code.
    pub fn sync_range(&mut self, direction: SyncDirection, range: Range<usize>) -> Result<()> {
        check_range(&range, self.bo.len)?;
        if range.is_empty() {
            return Ok(());
        }
        let dir = match direction {
            SyncDirection::ToDevice => SYNC_TO_DEVICE,
            SyncDirection::FromDevice => SYNC_FROM_DEVICE,
        };
        let h = &self.bo.handle;
        // SAFETY: h.raw is a live BO handle; offset + size lies within the
        // BO (checked above).
        let rc = unsafe { (h.device.runtime().fns().bo_sync)(h.raw, dir, range.end - range.start, range.start) };
        if rc != 0 {
            return Err(NpuError::Xrt {
                call: "xrtBOSync",
                code: rc,
            });
        }
        Ok(())
    }

    /// Sync the whole buffer object.
    pub fn sync_all(&mut self, direction: SyncDirection) -> Result<()> {
        self.sync_range(direction, 0..self.bo.len)
    }

    /// Copy `src` into the mapping at byte `offset`. This is a deliberate
    /// copy and is recorded in the ledger as [`CopyKind::BufferObject`];
    /// the zero-copy way is to produce the data in the mapping directly.
    /// On a range error nothing is written.
    pub fn write_at(&mut self, offset: usize, src: &[u8]) -> Result<()> {
        let end = offset.checked_add(src.len()).ok_or(BufferError::RangeOutOfBounds {
            start: offset,
            end: usize::MAX,
            len: self.bo.len,
        })?;
        check_range(&(offset..end), self.bo.len)?;
        self.as_bytes_mut()[offset..end].copy_from_slice(src); // ok: range checked above
        ledger::record_copy(CopyKind::BufferObject, src.len());
        Ok(())
    }

    /// Copy bytes `offset..offset + dst.len()` of the mapping into `dst`
    /// (recorded as [`CopyKind::BufferObject`]). On a range error `dst` is
    /// untouched.
    pub fn read_at(&self, offset: usize, dst: &mut [u8]) -> Result<()> {
        let end = offset.checked_add(dst.len()).ok_or(BufferError::RangeOutOfBounds {
            start: offset,
            end: usize::MAX,
            len: self.bo.len,
        })?;
        check_range(&(offset..end), self.bo.len)?;
        dst.copy_from_slice(&self.as_bytes()[offset..end]); // ok: range checked above, lengths equal
        ledger::record_copy(CopyKind::BufferObject, dst.len());
        Ok(())
    }

    /// The flags the BO was allocated with.
    pub fn flags(&self) -> BoFlags {
        self.bo.flags
    }

    /// The memory group the BO was allocated in.
    pub fn group(&self) -> MemoryGroup {
        self.bo.group
    }

    /// True for a user-pointer BO made by [`NpuBuffer::wrap`].
    pub fn is_user_ptr(&self) -> bool {
        self.bo.user_ptr
    }

    /// The device the BO lives on.
    pub fn npu_device(&self) -> &NpuDevice {
        &self.bo.handle.device
    }

    /// The size XRT reports for the BO (`xrtBOSize`); at least
    /// [`Buffer::len`], larger where XRT rounded up.
    pub fn bo_size(&self) -> usize {
        let h = &self.bo.handle;
        // SAFETY: h.raw is a live BO handle of this runtime.
        unsafe { (h.device.runtime().fns().bo_size)(h.raw) }
    }

    /// The raw `xrtBufferHandle`, for binding the BO as a kernel argument
    /// through XRT APIs this crate does not wrap. Valid while `self` lives;
    /// do not free it.
    pub fn as_raw(&self) -> *mut c_void {
        self.bo.handle.raw
    }

    /// Free the buffer object and hand back the host buffer (for a wrapped
    /// buffer; [`XrtOwned`] for an allocated one).
    pub fn into_host(self) -> H {
        let NpuBuffer { bo, host } = self;
        drop(bo);
        host
    }
}

impl<H> fmt::Debug for NpuBuffer<H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NpuBuffer")
            .field("len", &self.bo.len)
            .field("flags", &self.bo.flags)
            .field("group", &self.bo.group)
            .field("user_ptr", &self.bo.user_ptr)
            .field("device_addr", &format_args!("{:#x}", self.bo.device_addr))
            .field("device", &self.bo.handle.device.index())
            .finish()
    }
}

// SAFETY: `map` is the BO's host mapping (or the wrapped buffer) of `len` bytes,
// valid while the BO lives; `device_addr` is XRT's address of the same BO.
unsafe impl<H> Buffer for NpuBuffer<H> {
    fn len(&self) -> usize {
        self.bo.len
    }
    fn align(&self) -> usize {
        self.bo.align
    }
    fn residency(&self) -> Residency {
        Residency::NpuBufferObject
    }
    /// The CPU: consumers (DLPack, views) address the bytes through the
    /// host mapping; the NPU side is reached through `sync`.
    fn device(&self) -> Device {
        Device::CPU
    }
    fn host_ptr(&self) -> Option<NonNull<u8>> {
        Some(self.bo.map)
    }
    fn device_ptr(&self) -> Option<u64> {
        Some(self.bo.device_addr)
    }
    fn sync(&mut self, direction: SyncDirection, range: Range<usize>) -> zc_buffers::Result<()> {
        self.sync_range(direction, range).map_err(Into::into)
    }
}

impl<H> HostBuffer for NpuBuffer<H> {
    fn as_bytes(&self) -> &[u8] {
        // SAFETY: map is valid for len bytes (an XRT mapping of a BO of at
        // least len bytes, checked against xrtBOSize, or the wrapped host
        // buffer's len bytes) for as long as the BO lives, i.e. as long as
        // self. The bytes are initialised: driver-mapped pages always hold
        // defined bytes, and wrapped memory came from a HostBufferMut.
        unsafe { std::slice::from_raw_parts(self.bo.map.as_ptr(), self.bo.len) }
    }
}

impl<H> HostBufferMut for NpuBuffer<H> {
    fn as_bytes_mut(&mut self) -> &mut [u8] {
        // SAFETY: as in as_bytes; &mut self gives exclusive access, and the
        // wrapped host buffer is not reachable other than through this
        // mapping while the BO lives.
        unsafe { std::slice::from_raw_parts_mut(self.bo.map.as_ptr(), self.bo.len) }
    }
}
