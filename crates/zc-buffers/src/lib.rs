//! # zc-buffers
//!
//! The core of the zc workspace: one [`Buffer`] trait that every memory owner
//! implements — heap ([`AlignedBuf`]), pool guards ([`Pooled`]), arenas
//! ([`Arena`]), file mappings ([`MmapBuf`]), and in sibling crates CUDA and
//! NPU buffers — so that pipeline stages hand memory along without copying.
//!
//! * [`Buffer`], [`HostBuffer`], [`HostBufferMut`]: length, alignment,
//!   residency, DLPack device, pointers, bytes, `sync`.
//! * [`HostBufferExt`] / [`HostBufferMutExt`]: checked typed slices and
//!   `ndarray` views with explicit shape and strides.
//! * [`Pool`]: a thread-safe buffer pool with size classes, a byte cap, RAII
//!   guards, waits with timeouts, statistics; generic over a
//!   [`PoolBackend`] so device and NPU pools share it.
//! * [`Arena`]: a per-request bump arena with 64-byte minimum alignment.
//! * [`MmapBuf`], [`MmapBufMut`]: file-backed buffers with advice.
//! * [`transpose_into`]: the one copy between mel-major and frame-major.
//! * [`IntoOutput`]: the one output convention (a typed slice, any
//!   [`HostBufferMut`], or an `ndarray` view; larger outputs get a prefix).
//! * [`SimdLevel`]: the CPU feature levels every crate's kernels are named
//!   by, detected once here.
//! * [`parallel`]: the one thread policy (0 = all cores; a panicked worker
//!   is an error, never a partial result).
//! * [`ledger`]: counts every deliberate copy and allocation.
//! * `testing` (feature `testing`): a counting global allocator.
//! * [`interop`]: DLPack, `bytes::Bytes`, Arrow (feature `arrow`).
//!
//! ```
//! use zc_buffers::{Pool, HostBufferMutExt, ledger};
//! let pool = Pool::builder().name("mel").cap_bytes(64 << 20).build()?;
//! let (result, report) = ledger::scope(|| -> Result<(), zc_buffers::BufferError> {
//!     let mut mel = pool.acquire(80 * 3000 * 4)?;      // RAII guard, 64-byte aligned
//!     mel.as_slice_mut::<f32>()?.fill(-1.5);           // typed view, checked
//!     let view = mel.view2_mut::<f32>(80, 3000)?;      // ndarray view, same bytes
//!     assert_eq!(view[[79, 2999]], -1.5);
//!     Ok(())
//! });                                                  // guard back in the pool
//! result?;
//! assert_eq!(report.copies, 0);                        // nothing was copied
//! # Ok::<(), zc_buffers::BufferError>(())
//! ```

mod aligned;
mod arena;
mod buffer;
mod error;
pub mod interop;
pub mod ledger;
mod mmap;
mod output;
pub mod parallel;
mod pool;
pub mod simd;
mod simd_level;
mod sync;
#[cfg(feature = "testing")]
pub mod testing;
mod view;

pub use aligned::{AlignedBuf, DEFAULT_ALIGN, PAGE_ALIGN, UninitBuf};
pub use arena::{ARENA_MIN_ALIGN, Arena, ArenaBuf, ArenaStats};
pub use buffer::{
    Buffer, Device, DeviceType, HostBuffer, HostBufferMut, Residency, StableBytes, SyncDirection,
    check_page_registrable, check_range, observed_align,
};
pub use error::{BufferError, Rejected, Result, addr_alignment};
pub use mmap::{Advice, MmapBuf, MmapBufMut, MmapOptions};
pub use output::{IntoOutput, output_prefix};
pub use pool::{HeapBackend, Pool, PoolBackend, PoolBuilder, PoolStats, Pooled, SizeClasses};
pub use simd_level::{SimdLevel, UnknownSimdLevel};
pub use view::{
    HostBufferExt, HostBufferMutExt, c_strides, cast_slice, cast_slice_mut, is_c_contiguous, transpose_into, view,
    view_mut,
};

/// Re-export of `bytemuck` (`Pod`, `Zeroable`).
pub use bytemuck;
/// Re-export of `ndarray`, whose view types appear in this crate's API.
pub use ndarray;

/// The traits and types most code needs.
pub mod prelude {
    pub use crate::{
        AlignedBuf, Buffer, BufferError, HostBuffer, HostBufferExt, HostBufferMut, HostBufferMutExt, Pool, Pooled,
        Residency,
    };
}

/// The README's code blocks, compiled and run as doc-tests so that every
/// snippet a user copies works as written.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
