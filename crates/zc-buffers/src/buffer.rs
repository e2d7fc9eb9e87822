//! The `Buffer` trait family: what every zc memory owner exposes.

use std::ops::Range;
use std::ptr::NonNull;

use crate::error::{BufferError, Result};

/// Where a buffer's bytes live.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Residency {
    /// Ordinary pageable heap memory.
    Heap,
    /// A bump arena's chunk (heap).
    Arena,
    /// A file mapping.
    Mmap,
    /// Page-locked host memory allocated by a driver (e.g. `cuMemHostAlloc`).
    PinnedHost,
    /// Existing host memory page-locked in place (e.g. `cuMemHostRegister`).
    RegisteredHost,
    /// Device memory; not CPU-addressable.
    Device,
    /// Unified / managed memory, addressable from host and device.
    Managed,
    /// An accelerator buffer object with a host mapping that needs explicit
    /// cache maintenance (`sync`), e.g. an XRT BO on an AMD XDNA NPU.
    NpuBufferObject,
    /// Memory owned by a foreign runtime (imported through DLPack, say).
    Foreign,
}

impl Residency {
    /// True where the CPU can read the bytes through `host_ptr`.
    pub fn is_host_accessible(self) -> bool {
        !matches!(self, Residency::Device)
    }
}

/// DLPack device type codes (`DLDeviceType` in `dlpack.h`, v1.0).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(i32)]
#[non_exhaustive]
pub enum DeviceType {
    /// `kDLCPU`
    Cpu = 1,
    /// `kDLCUDA`
    Cuda = 2,
    /// `kDLCUDAHost` (pinned host memory)
    CudaHost = 3,
    /// `kDLOpenCL`
    OpenCl = 4,
    /// `kDLVulkan`
    Vulkan = 7,
    /// `kDLMetal`
    Metal = 8,
    /// `kDLVPI`
    Vpi = 9,
    /// `kDLROCM`
    Rocm = 10,
    /// `kDLROCMHost`
    RocmHost = 11,
    /// `kDLExtDev` (reserved for extension devices)
    ExtDev = 12,
    /// `kDLCUDAManaged`
    CudaManaged = 13,
    /// `kDLOneAPI`
    OneApi = 14,
    /// `kDLWebGPU`
    WebGpu = 15,
    /// `kDLHexagon`
    Hexagon = 16,
}

/// A DLPack device: type code plus ordinal.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Device {
    /// The device type.
    pub device_type: DeviceType,
    /// The ordinal (0 for the CPU).
    pub device_id: i32,
}

impl Device {
    /// The host CPU.
    pub const CPU: Device = Device {
        device_type: DeviceType::Cpu,
        device_id: 0,
    };
}

/// The direction of a cache-maintenance `sync`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SyncDirection {
    /// Make host writes visible to the device (flush).
    ToDevice,
    /// Make device writes visible to the host (invalidate).
    FromDevice,
}

/// A contiguous byte region kept alive by its owner, with a known length, a
/// guaranteed base alignment and a residency.
///
/// Implemented by [`AlignedBuf`](crate::AlignedBuf), pool guards
/// ([`Pooled`](crate::Pooled)), [`MmapBuf`](crate::MmapBuf), arena buffers,
/// `Vec<u8>`, and by the hardware crates' pinned, device, managed and NPU
/// buffers. The trait is object safe.
///
/// # Safety
///
/// Consumers hand these pointers to foreign code (DLPack consumers, the CUDA
/// driver, XRT), so an implementation promises:
/// * `host_ptr()`, when `Some`, addresses `len()` initialised bytes that stay
///   valid for reads (and, for [`HostBufferMut`] types, writes through
///   `&mut self`) until the value is moved, dropped or mutated through
///   `&mut self`; the address is a multiple of `align()`;
/// * where the type also implements [`HostBuffer`], `as_bytes()` is exactly
///   that region (same address, `len()` bytes);
/// * `device_ptr()`, when `Some`, is the device address of `len()` bytes on
///   `device()`, valid as long as the value lives, and `device()` is not
///   the CPU unless `host_ptr()` is `Some`.
pub unsafe trait Buffer {
    /// Length in bytes.
    fn len(&self) -> usize;

    /// True when the buffer holds no bytes.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Alignment (a power of two) that the base address is guaranteed to have.
    fn align(&self) -> usize;

    /// Where the bytes live.
    fn residency(&self) -> Residency;

    /// The DLPack device through which a consumer should address the bytes.
    fn device(&self) -> Device {
        Device::CPU
    }

    /// CPU address of the first byte, or `None` when the CPU cannot address
    /// the memory (device memory).
    fn host_ptr(&self) -> Option<NonNull<u8>>;

    /// Device address of the first byte, where the memory has one.
    fn device_ptr(&self) -> Option<u64> {
        None
    }

    /// Cache maintenance for `range` (bytes). A no-op for coherent host
    /// memory; NPU buffer objects flush or invalidate. Fails, leaving the
    /// buffer untouched, when `range` is outside the buffer.
    fn sync(&mut self, direction: SyncDirection, range: Range<usize>) -> Result<()> {
        let _ = direction;
        check_range(&range, self.len())
    }
}

/// A buffer whose bytes the CPU can read.
pub trait HostBuffer: Buffer {
    /// All bytes of the buffer.
    fn as_bytes(&self) -> &[u8];
}

/// A buffer whose bytes the CPU can write.
pub trait HostBufferMut: HostBuffer {
    /// All bytes of the buffer, writable.
    fn as_bytes_mut(&mut self) -> &mut [u8];
}

/// Check that `range` lies within a buffer of `len` bytes.
pub fn check_range(range: &Range<usize>, len: usize) -> Result<()> {
    if range.start > range.end || range.end > len {
        return Err(BufferError::RangeOutOfBounds {
            start: range.start,
            end: range.end,
            len,
        });
    }
    Ok(())
}

/// The alignment actually present at `ptr` (for owners that do not choose
/// their own alignment, such as `Vec<u8>`), capped at one page.
pub fn observed_align(ptr: *const u8) -> usize {
    crate::error::addr_alignment(ptr as usize).min(4096)
}

/// The host address and length of `buf` if it can be registered with a
/// device runtime in place (page-locked by CUDA, wrapped as an XRT
/// user-pointer buffer object): CPU-addressable, non-empty and starting on a
/// `page`-byte boundary. The one check both hardware crates make.
///
/// Errors: [`BufferError::NotHostAccessible`], [`BufferError::EmptyBuffer`],
/// [`BufferError::Misaligned`] (`what` = `"page-registered memory"`).
pub fn check_page_registrable<B: Buffer + ?Sized>(buf: &B, page: usize) -> Result<(NonNull<u8>, usize)> {
    let ptr = buf.host_ptr().ok_or(BufferError::NotHostAccessible {
        residency: buf.residency(),
    })?;
    if buf.is_empty() {
        return Err(BufferError::EmptyBuffer {
            what: "page registration",
        });
    }
    let addr = ptr.as_ptr() as usize;
    if page == 0 || !addr.is_multiple_of(page) {
        return Err(BufferError::Misaligned {
            what: "page-registered memory",
            required: page,
            actual: crate::error::addr_alignment(addr),
            addr,
        });
    }
    Ok((ptr, buf.len()))
}

/// Owners whose bytes stay where they are when the owner value is moved
/// (heap, file mapping or driver memory behind a pointer the value owns), so
/// an owned value can be handed to an asynchronous operation (a CUDA copy, an
/// NPU transfer) and moved around while the operation runs. Implemented here
/// for the core owners; hardware crates implement it for their own.
///
/// # Safety
/// Moving a value of the type must not change the addresses returned by
/// [`Buffer::host_ptr`], [`Buffer::device_ptr`] or the byte accessors, and
/// nothing but the value may write to those bytes while the value is owned
/// by someone else.
pub unsafe trait StableBytes: Buffer {}

// SAFETY: the bytes live in a heap allocation the value owns exclusively.
unsafe impl StableBytes for crate::AlignedBuf {}
// SAFETY: the Vec's heap allocation; while the value is owned elsewhere
// nobody holds `&mut` to it, so it cannot reallocate.
unsafe impl StableBytes for Vec<u8> {}
// SAFETY: a Box never moves its contents, and the bytes of a `StableBytes`
// owner live behind its own pointer, so moving the Box (which asserts unique
// access to the owner value, not to those bytes) leaves pointers into them
// valid. A `Box<[u8]>` is deliberately not covered: there the Box's own
// allocation holds the bytes, and moving it would invalidate pointers a
// device runtime keeps into them.
unsafe impl<B: StableBytes + ?Sized> StableBytes for Box<B> {}
// SAFETY: a read-only file mapping; the mapping address is fixed for its life.
unsafe impl StableBytes for crate::MmapBuf {}
// SAFETY: a writable file mapping owned by the value; the address is fixed.
unsafe impl StableBytes for crate::MmapBufMut {}
// SAFETY: a guard owns its backend buffer by value; moving the guard moves
// that buffer, whose bytes stay put because it is itself `StableBytes`.
unsafe impl<B: crate::PoolBackend> StableBytes for crate::Pooled<B> where B::Buf: StableBytes {}

// ---- blanket and std impls ----------------------------------------------

macro_rules! forward_buffer_reads {
    () => {
        fn len(&self) -> usize {
            (**self).len()
        }
        fn align(&self) -> usize {
            (**self).align()
        }
        fn residency(&self) -> Residency {
            (**self).residency()
        }
        fn device(&self) -> Device {
            (**self).device()
        }
        fn host_ptr(&self) -> Option<NonNull<u8>> {
            (**self).host_ptr()
        }
        fn device_ptr(&self) -> Option<u64> {
            (**self).device_ptr()
        }
    };
}

// SAFETY: forwards every method to the pointee, which upholds the contract.
unsafe impl<B: Buffer + ?Sized> Buffer for &mut B {
    forward_buffer_reads!();
    fn sync(&mut self, direction: SyncDirection, range: Range<usize>) -> Result<()> {
        (**self).sync(direction, range)
    }
}

// SAFETY: forwards every method to the pointee, which upholds the contract.
unsafe impl<B: Buffer + ?Sized> Buffer for Box<B> {
    forward_buffer_reads!();
    fn sync(&mut self, direction: SyncDirection, range: Range<usize>) -> Result<()> {
        (**self).sync(direction, range)
    }
}

// SAFETY: forwards every read to the pointee, which upholds the contract.
unsafe impl<B: Buffer + ?Sized> Buffer for &B {
    forward_buffer_reads!();
    /// A shared reference cannot reach the pointee's `sync` (it needs
    /// `&mut`). Memory that needs cache maintenance (an NPU buffer object)
    /// is refused with [`BufferError::SyncNeedsExclusive`] rather than left
    /// silently unsynchronised; coherent memory only checks the range.
    fn sync(&mut self, direction: SyncDirection, range: Range<usize>) -> Result<()> {
        let _ = direction;
        check_range(&range, self.len())?;
        if (**self).residency() == Residency::NpuBufferObject {
            return Err(BufferError::SyncNeedsExclusive {
                residency: (**self).residency(),
            });
        }
        Ok(())
    }
}

impl<B: HostBuffer + ?Sized> HostBuffer for &B {
    fn as_bytes(&self) -> &[u8] {
        (**self).as_bytes()
    }
}
impl<B: HostBuffer + ?Sized> HostBuffer for &mut B {
    fn as_bytes(&self) -> &[u8] {
        (**self).as_bytes()
    }
}
impl<B: HostBuffer + ?Sized> HostBuffer for Box<B> {
    fn as_bytes(&self) -> &[u8] {
        (**self).as_bytes()
    }
}

impl<B: HostBufferMut + ?Sized> HostBufferMut for &mut B {
    fn as_bytes_mut(&mut self) -> &mut [u8] {
        (**self).as_bytes_mut()
    }
}
impl<B: HostBufferMut + ?Sized> HostBufferMut for Box<B> {
    fn as_bytes_mut(&mut self) -> &mut [u8] {
        (**self).as_bytes_mut()
    }
}

// SAFETY: the slice's own pointer and length; alignment is the address's.
unsafe impl Buffer for [u8] {
    fn len(&self) -> usize {
        <[u8]>::len(self)
    }
    fn align(&self) -> usize {
        observed_align(self.as_ptr())
    }
    fn residency(&self) -> Residency {
        Residency::Heap
    }
    fn host_ptr(&self) -> Option<NonNull<u8>> {
        NonNull::new(self.as_ptr().cast_mut())
    }
}
impl HostBuffer for [u8] {
    fn as_bytes(&self) -> &[u8] {
        self
    }
}
impl HostBufferMut for [u8] {
    fn as_bytes_mut(&mut self) -> &mut [u8] {
        self
    }
}

// A Vec<u8> is its slice: forward to the [u8] impls.
// SAFETY: the Vec's heap bytes (stable across moves of the Vec).
unsafe impl Buffer for Vec<u8> {
    fn len(&self) -> usize {
        Vec::len(self)
    }
    fn align(&self) -> usize {
        self.as_slice().align()
    }
    fn residency(&self) -> Residency {
        Residency::Heap
    }
    fn host_ptr(&self) -> Option<NonNull<u8>> {
        self.as_slice().host_ptr()
    }
}
impl HostBuffer for Vec<u8> {
    fn as_bytes(&self) -> &[u8] {
        self
    }
}
impl HostBufferMut for Vec<u8> {
    fn as_bytes_mut(&mut self) -> &mut [u8] {
        self
    }
}

/// Implements [`Buffer`] for a wrapper type by forwarding **every** method
/// (including [`Buffer::sync`], which a hand-written forwarder is apt to
/// forget, leaving NPU memory silently unsynchronised) to one field; with
/// `host` also [`HostBuffer`], with `host_mut` also [`HostBufferMut`].
///
/// ```
/// use zc_buffers::{AlignedBuf, Buffer, HostBufferMut, forward_buffer};
///
/// /// A buffer tagged with the request it belongs to.
/// struct Tagged<B> {
///     request: u64,
///     inner: B,
/// }
/// forward_buffer!(impl[B: HostBufferMut] Tagged<B> => inner, host_mut);
///
/// let t = Tagged { request: 7, inner: AlignedBuf::zeroed(64)? };
/// assert_eq!((t.len(), t.request), (64, 7));
/// # Ok::<(), zc_buffers::BufferError>(())
/// ```
///
/// The generic parameters go in the brackets (`impl[]` when there are none);
/// the field's type must implement the traits being forwarded.
#[macro_export]
macro_rules! forward_buffer {
    (impl[$($g:tt)*] $ty:ty => $field:tt) => {
        // SAFETY: every method forwards to the field, which upholds the
        // `Buffer` contract; the wrapper adds no memory of its own.
        unsafe impl<$($g)*> $crate::Buffer for $ty {
            fn len(&self) -> usize {
                $crate::Buffer::len(&self.$field)
            }
            fn is_empty(&self) -> bool {
                $crate::Buffer::is_empty(&self.$field)
            }
            fn align(&self) -> usize {
                $crate::Buffer::align(&self.$field)
            }
            fn residency(&self) -> $crate::Residency {
                $crate::Buffer::residency(&self.$field)
            }
            fn device(&self) -> $crate::Device {
                $crate::Buffer::device(&self.$field)
            }
            fn host_ptr(&self) -> ::core::option::Option<::core::ptr::NonNull<u8>> {
                $crate::Buffer::host_ptr(&self.$field)
            }
            fn device_ptr(&self) -> ::core::option::Option<u64> {
                $crate::Buffer::device_ptr(&self.$field)
            }
            fn sync(
                &mut self,
                direction: $crate::SyncDirection,
                range: ::core::ops::Range<usize>,
            ) -> $crate::Result<()> {
                $crate::Buffer::sync(&mut self.$field, direction, range)
            }
        }
    };
    (impl[$($g:tt)*] $ty:ty => $field:tt, host) => {
        $crate::forward_buffer!(impl[$($g)*] $ty => $field);
        impl<$($g)*> $crate::HostBuffer for $ty {
            fn as_bytes(&self) -> &[u8] {
                $crate::HostBuffer::as_bytes(&self.$field)
            }
        }
    };
    (impl[$($g:tt)*] $ty:ty => $field:tt, host_mut) => {
        $crate::forward_buffer!(impl[$($g)*] $ty => $field, host);
        impl<$($g)*> $crate::HostBufferMut for $ty {
            fn as_bytes_mut(&mut self) -> &mut [u8] {
                $crate::HostBufferMut::as_bytes_mut(&mut self.$field)
            }
        }
    };
}
