//! A per-request bump arena (bumpalo underneath) with 64-byte minimum alignment.
//!
//! ```
//! use zc_buffers::Arena;
//! let mut arena = Arena::with_capacity(1 << 20)?;
//! {
//!     let frames: &mut [f32] = arena.alloc_slice_zeroed(3000)?;
//!     frames[0] = 1.0;
//!     assert_eq!(frames.as_ptr() as usize % 64, 0);
//! }
//! assert_eq!(arena.stats().allocations, 1);
//! arena.reset(); // everything freed at once; chunks kept for the next request
//! # Ok::<(), zc_buffers::BufferError>(())
//! ```

use std::cell::Cell;
use std::ptr::NonNull;

use bumpalo::Bump;
use bytemuck::Pod;

use crate::buffer::{Buffer, HostBuffer, HostBufferMut, Residency};
use crate::error::{BufferError, Result};

/// Minimum alignment of every arena allocation.
pub const ARENA_MIN_ALIGN: usize = 64;

/// Arena statistics.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ArenaStats {
    /// Allocations since the last reset.
    pub allocations: u64,
    /// Bytes asked for since the last reset.
    pub bytes_requested: u64,
    /// Bytes in use in the arena's chunks (including alignment padding).
    pub bytes_used: usize,
    /// Bytes the arena holds from the system (chunk capacity + metadata).
    pub bytes_reserved: usize,
    /// Resets so far.
    pub resets: u64,
}

/// A bump arena for per-request scratch: allocation is a pointer bump,
/// freeing is one [`reset`](Arena::reset). Every allocation is aligned to at
/// least [`ARENA_MIN_ALIGN`] (64) bytes. (bumpalo's own `MIN_ALIGN` stops at
/// 16, so the arena asks bumpalo for explicit 64-byte layouts.)
pub struct Arena {
    bump: Bump,
    allocations: Cell<u64>,
    bytes_requested: Cell<u64>,
    resets: u64,
}

impl Default for Arena {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for Arena {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Arena").field("stats", &self.stats()).finish()
    }
}

// Each allocation hands out fresh memory that no other reference can reach,
// so `&self -> &mut [T]` is sound (the same contract as bumpalo's API).
#[allow(clippy::mut_from_ref)]
impl Arena {
    /// An empty arena (the first allocation reserves a chunk).
    pub fn new() -> Self {
        Self {
            bump: Bump::new(),
            allocations: Cell::new(0),
            bytes_requested: Cell::new(0),
            resets: 0,
        }
    }

    /// An arena with `bytes` reserved up front. The reservation is
    /// fallible: a size the allocator cannot provide (or describe) is
    /// [`BufferError::AllocFailed`], never a panic or an abort.
    pub fn with_capacity(bytes: usize) -> Result<Self> {
        let bump = Bump::try_with_capacity(bytes).map_err(|_| BufferError::AllocFailed {
            len: bytes,
            align: ARENA_MIN_ALIGN,
        })?;
        Ok(Self { bump, ..Self::new() })
    }

    /// Room for `len` values of `T` aligned to max(64, align_of::<T>()).
    fn raw<T>(&self, len: usize, align: usize) -> Result<NonNull<T>> {
        let size = std::mem::size_of::<T>();
        let align = align.max(ARENA_MIN_ALIGN).max(std::mem::align_of::<T>());
        let bytes = len.checked_mul(size).ok_or(BufferError::TooLarge { len, align })?;
        let layout = std::alloc::Layout::from_size_align(bytes, align)
            .map_err(|_| BufferError::TooLarge { len: bytes, align })?;
        let ptr = self
            .bump
            .try_alloc_layout(layout)
            .map_err(|_| BufferError::AllocFailed { len: bytes, align })?;
        self.allocations.set(self.allocations.get() + 1);
        self.bytes_requested.set(self.bytes_requested.get() + bytes as u64);
        Ok(ptr.cast::<T>())
    }

    /// Move `value` into the arena.
    pub fn alloc<T: Copy>(&self, value: T) -> Result<&mut T> {
        let p = self.raw::<T>(1, 1)?;
        // SAFETY: `p` is fresh, aligned arena memory for one T, borrowed for
        // the arena's lifetime; T: Copy has no drop glue to lose on reset.
        unsafe {
            p.as_ptr().write(value);
            Ok(&mut *p.as_ptr())
        }
    }

    /// A zeroed slice of `len` plain-old-data elements.
    pub fn alloc_slice_zeroed<T: Pod>(&self, len: usize) -> Result<&mut [T]> {
        let p = self.raw::<T>(len, 1)?;
        // SAFETY: fresh aligned memory for `len` T; all-zero bytes are a valid
        // T (Pod); the slice borrows the arena.
        unsafe {
            std::ptr::write_bytes(p.as_ptr(), 0, len);
            Ok(std::slice::from_raw_parts_mut(p.as_ptr(), len))
        }
    }

    /// A slice filled with copies of `value`.
    pub fn alloc_slice_fill<T: Copy>(&self, len: usize, value: T) -> Result<&mut [T]> {
        self.alloc_slice_fill_with(len, |_| value)
    }

    /// A copy of `src` in the arena (recorded in the ledger as a copy).
    pub fn alloc_slice_copy<T: Copy>(&self, src: &[T]) -> Result<&mut [T]> {
        let p = self.raw::<T>(src.len(), 1)?;
        crate::ledger::record_copy(crate::ledger::CopyKind::Other, std::mem::size_of_val(src));
        // SAFETY: fresh memory for src.len() T, cannot overlap `src`.
        unsafe {
            std::ptr::copy_nonoverlapping(src.as_ptr(), p.as_ptr(), src.len());
            Ok(std::slice::from_raw_parts_mut(p.as_ptr(), src.len()))
        }
    }

    /// A slice built element by element (`T: Copy`: the arena never runs
    /// destructors).
    pub fn alloc_slice_fill_with<T: Copy>(&self, len: usize, mut f: impl FnMut(usize) -> T) -> Result<&mut [T]> {
        let p = self.raw::<T>(len, 1)?;
        for i in 0..len {
            // SAFETY: i < len, inside the fresh allocation.
            unsafe { p.as_ptr().add(i).write(f(i)) };
        }
        // SAFETY: all len elements were initialised above.
        Ok(unsafe { std::slice::from_raw_parts_mut(p.as_ptr(), len) })
    }

    /// A zeroed byte buffer of `len` bytes aligned to `align` (≥ 64),
    /// implementing [`Buffer`], so arena memory can feed any zc stage.
    pub fn alloc_buffer(&self, len: usize, align: usize) -> Result<ArenaBuf<'_>> {
        if align == 0 || !align.is_power_of_two() {
            return Err(BufferError::InvalidAlignment { align });
        }
        let align = align.max(ARENA_MIN_ALIGN);
        let bytes = self.alloc_slice_zeroed_aligned(len, align)?;
        Ok(ArenaBuf { bytes, align })
    }

    fn alloc_slice_zeroed_aligned(&self, len: usize, align: usize) -> Result<&mut [u8]> {
        let p = self.raw::<u8>(len, align)?;
        // SAFETY: fresh memory for len bytes, zeroed before it is exposed.
        unsafe {
            std::ptr::write_bytes(p.as_ptr(), 0, len);
            Ok(std::slice::from_raw_parts_mut(p.as_ptr(), len))
        }
    }

    /// Free everything at once, keeping the largest chunk for reuse.
    pub fn reset(&mut self) {
        self.bump.reset();
        self.allocations.set(0);
        self.bytes_requested.set(0);
        self.resets += 1;
    }

    /// Statistics.
    pub fn stats(&self) -> ArenaStats {
        ArenaStats {
            allocations: self.allocations.get(),
            bytes_requested: self.bytes_requested.get(),
            bytes_used: self.bump.allocated_bytes().saturating_sub(self.bump.chunk_capacity()),
            bytes_reserved: self.bump.allocated_bytes_including_metadata(),
            resets: self.resets,
        }
    }
}

/// A zeroed byte region inside an [`Arena`], usable wherever a zc
/// [`Buffer`] is expected.
#[derive(Debug)]
pub struct ArenaBuf<'a> {
    bytes: &'a mut [u8],
    align: usize,
}

// SAFETY: the arena region this buffer borrows exclusively, aligned to `align`.
unsafe impl Buffer for ArenaBuf<'_> {
    fn len(&self) -> usize {
        self.bytes.len()
    }
    fn align(&self) -> usize {
        self.align
    }
    fn residency(&self) -> Residency {
        Residency::Arena
    }
    fn host_ptr(&self) -> Option<NonNull<u8>> {
        NonNull::new(self.bytes.as_ptr().cast_mut())
    }
}

impl HostBuffer for ArenaBuf<'_> {
    fn as_bytes(&self) -> &[u8] {
        self.bytes
    }
}

impl HostBufferMut for ArenaBuf<'_> {
    fn as_bytes_mut(&mut self) -> &mut [u8] {
        self.bytes
    }
}
