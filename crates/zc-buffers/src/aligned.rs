//! `AlignedBuf`: an owned heap buffer with a chosen alignment.

use std::alloc::{self, Layout};
use std::fmt;
use std::mem::MaybeUninit;
use std::ptr::NonNull;

use crate::buffer::{Buffer, HostBuffer, HostBufferMut, Residency};
use crate::error::{BufferError, Result};
use crate::ledger::{self, CopyKind};

/// Default alignment of heap buffers: one cache line, enough for AVX-512.
pub const DEFAULT_ALIGN: usize = 64;
/// Alignment of DMA-bound buffers (pinned, registered, NPU): one page.
pub const PAGE_ALIGN: usize = 4096;

fn layout_for(len: usize, align: usize) -> Result<Layout> {
    if align == 0 || !align.is_power_of_two() {
        return Err(BufferError::InvalidAlignment { align });
    }
    Layout::from_size_align(len, align).map_err(|_| BufferError::TooLarge { len, align })
}

/// An owned, initialised heap buffer whose base address is aligned to a
/// chosen power of two (default [`DEFAULT_ALIGN`]).
///
/// ```
/// use zc_buffers::{AlignedBuf, Buffer, HostBufferExt, HostBufferMutExt};
/// let mut buf = AlignedBuf::zeroed(4 * 1024)?;
/// assert_eq!(buf.align(), 64);
/// buf.as_slice_mut::<f32>()?[3] = 1.5;
/// assert_eq!(buf.as_slice::<f32>()?[3], 1.5);
/// # Ok::<(), zc_buffers::BufferError>(())
/// ```
pub struct AlignedBuf {
    ptr: NonNull<u8>,
    len: usize,
    align: usize,
}

// SAFETY: AlignedBuf uniquely owns its allocation, like Box<[u8]>.
unsafe impl Send for AlignedBuf {}
// SAFETY: shared access only hands out &[u8]; mutation needs &mut self.
unsafe impl Sync for AlignedBuf {}

impl AlignedBuf {
    /// A zeroed buffer of `len` bytes aligned to [`DEFAULT_ALIGN`].
    pub fn zeroed(len: usize) -> Result<Self> {
        Self::zeroed_aligned(len, DEFAULT_ALIGN)
    }

    /// A zeroed buffer of `len` bytes aligned to `align` (a power of two).
    /// Uses `alloc_zeroed`, so large buffers come straight from zeroed pages.
    pub fn zeroed_aligned(len: usize, align: usize) -> Result<Self> {
        let layout = layout_for(len, align)?;
        if len == 0 {
            return Ok(Self::empty_with(align));
        }
        // SAFETY: layout has non-zero size (checked above).
        let raw = unsafe { alloc::alloc_zeroed(layout) };
        let ptr = NonNull::new(raw).ok_or(BufferError::AllocFailed { len, align })?;
        ledger::record_alloc(len);
        Ok(Self { ptr, len, align })
    }

    /// An uninitialised buffer; fill it, then turn it into an `AlignedBuf`
    /// with [`UninitBuf::init_with`] / [`UninitBuf::copy_from`] (no UB: the
    /// bytes are never readable before they are written).
    pub fn uninit(len: usize) -> Result<UninitBuf> {
        UninitBuf::new(len, DEFAULT_ALIGN)
    }

    /// Like [`AlignedBuf::uninit`] with a chosen alignment.
    pub fn uninit_aligned(len: usize, align: usize) -> Result<UninitBuf> {
        UninitBuf::new(len, align)
    }

    /// A copy of `bytes` in a new buffer aligned to `align`. The copy is
    /// recorded in the [`ledger`](mod@crate::ledger) as a realigning copy.
    pub fn copy_from_slice(bytes: &[u8], align: usize) -> Result<Self> {
        let buf = UninitBuf::new(bytes.len(), align)?;
        Ok(buf.copy_from(bytes))
    }

    fn empty_with(align: usize) -> Self {
        // A dangling but aligned, non-null pointer: valid for zero-length slices.
        let ptr = NonNull::<u8>::dangling().with_addr(std::num::NonZeroUsize::MIN.saturating_add(align - 1));
        Self { ptr, len: 0, align }
    }

    /// The alignment this buffer was allocated with.
    pub fn alignment(&self) -> usize {
        self.align
    }

    /// Raw pointer to the first byte.
    pub fn as_ptr(&self) -> *const u8 {
        self.ptr.as_ptr()
    }

    /// Raw mutable pointer to the first byte.
    pub fn as_mut_ptr(&mut self) -> *mut u8 {
        self.ptr.as_ptr()
    }

    /// Set every byte to zero.
    pub fn zero(&mut self) {
        self.as_bytes_mut().fill(0);
    }
}

impl Drop for AlignedBuf {
    fn drop(&mut self) {
        if self.len != 0 {
            // SAFETY: ptr was allocated with exactly this (validated) layout.
            unsafe {
                alloc::dealloc(
                    self.ptr.as_ptr(),
                    Layout::from_size_align_unchecked(self.len, self.align),
                )
            };
        }
    }
}

impl fmt::Debug for AlignedBuf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AlignedBuf")
            .field("ptr", &self.ptr)
            .field("len", &self.len)
            .field("align", &self.align)
            .finish()
    }
}

impl Clone for AlignedBuf {
    /// Clones copy every byte; the copy is recorded in the ledger.
    fn clone(&self) -> Self {
        match UninitBuf::new(self.len, self.align) {
            Ok(u) => u.copy_from(self.as_bytes()),
            // The same layout was allocatable once; failing now is OOM, which
            // std treats as an abort, as Vec::clone does.
            Err(_) => {
                alloc::handle_alloc_error(Layout::from_size_align(self.len, self.align).unwrap_or(Layout::new::<u8>()))
            }
        }
    }
}

// SAFETY: the owned allocation of `len` bytes made with `align` (heap; stable across moves).
unsafe impl Buffer for AlignedBuf {
    fn len(&self) -> usize {
        self.len
    }
    fn align(&self) -> usize {
        self.align
    }
    fn residency(&self) -> Residency {
        Residency::Heap
    }
    fn host_ptr(&self) -> Option<NonNull<u8>> {
        Some(self.ptr)
    }
}

impl HostBuffer for AlignedBuf {
    fn as_bytes(&self) -> &[u8] {
        // SAFETY: ptr is valid for len initialised bytes (or dangling+aligned
        // with len 0), owned by self and borrowed immutably.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }
}

impl HostBufferMut for AlignedBuf {
    fn as_bytes_mut(&mut self) -> &mut [u8] {
        // SAFETY: as above, borrowed mutably through &mut self.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr(), self.len) }
    }
}

impl AsRef<[u8]> for AlignedBuf {
    fn as_ref(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl AsMut<[u8]> for AlignedBuf {
    fn as_mut(&mut self) -> &mut [u8] {
        self.as_bytes_mut()
    }
}

impl std::ops::Deref for AlignedBuf {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl std::ops::DerefMut for AlignedBuf {
    fn deref_mut(&mut self) -> &mut [u8] {
        self.as_bytes_mut()
    }
}

/// An aligned allocation whose bytes have not been written yet. It exposes
/// them only as `MaybeUninit<u8>` until it is turned into an [`AlignedBuf`].
pub struct UninitBuf {
    buf: AlignedBuf,
}

impl UninitBuf {
    fn new(len: usize, align: usize) -> Result<Self> {
        let layout = layout_for(len, align)?;
        if len == 0 {
            return Ok(Self {
                buf: AlignedBuf::empty_with(align),
            });
        }
        // SAFETY: non-zero size checked above.
        let raw = unsafe { alloc::alloc(layout) };
        let ptr = NonNull::new(raw).ok_or(BufferError::AllocFailed { len, align })?;
        ledger::record_alloc(len);
        Ok(Self {
            buf: AlignedBuf { ptr, len, align },
        })
    }

    /// The not-yet-initialised bytes.
    pub fn as_uninit_mut(&mut self) -> &mut [MaybeUninit<u8>] {
        // SAFETY: the allocation is valid for len bytes; MaybeUninit<u8> has
        // no validity requirement.
        unsafe { std::slice::from_raw_parts_mut(self.buf.ptr.as_ptr().cast::<MaybeUninit<u8>>(), self.buf.len) }
    }

    /// Initialise every byte with `f`, which receives the uninitialised
    /// region and must write all of it; returns the buffer.
    ///
    /// # Safety
    /// `f` must initialise every byte of the slice it is given.
    pub unsafe fn init_with(mut self, f: impl FnOnce(&mut [MaybeUninit<u8>])) -> AlignedBuf {
        f(self.as_uninit_mut());
        self.buf
    }

    /// Copy `src` into the buffer (lengths must match: the extra bytes of a
    /// longer buffer are zeroed, a shorter `src` is padded with zeros; a
    /// longer `src` is truncated). Recorded in the ledger as a realigning copy.
    pub fn copy_from(self, src: &[u8]) -> AlignedBuf {
        let len = self.buf.len;
        let n = src.len().min(len);
        let dst = self.buf.ptr.as_ptr();
        // SAFETY: dst is valid for len >= n writable bytes, src for n readable
        // bytes, and they cannot overlap (dst is a fresh allocation). The tail
        // n..len is within the allocation.
        unsafe {
            std::ptr::copy_nonoverlapping(src.as_ptr(), dst, n);
            std::ptr::write_bytes(dst.add(n), 0, len - n);
        }
        ledger::record_copy(CopyKind::Realign, n);
        self.buf
    }

    /// Zero every byte and return the buffer.
    pub fn zeroed(self) -> AlignedBuf {
        // SAFETY: the allocation is valid for len writable bytes.
        unsafe { std::ptr::write_bytes(self.buf.ptr.as_ptr(), 0, self.buf.len) };
        self.buf
    }
}

impl fmt::Debug for UninitBuf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UninitBuf")
            .field("len", &self.buf.len)
            .field("align", &self.buf.align)
            .finish()
    }
}
