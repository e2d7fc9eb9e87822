//! # zc-npu
//!
//! AMD XDNA NPU buffer objects through XRT's C API, loaded at run time,
//! implementing the zc [`Buffer`](zc_buffers::Buffer) trait.
//!
//! A pipeline stage writes straight into a buffer object's host mapping
//! (typed slices and `ndarray` views from `zc_buffers`), then syncs only the
//! byte range it touched — instead of building a tensor, copying it into the
//! BO and syncing the whole BO.
//!
//! * [`Xrt`]: `libxrt_coreutil` opened with `libloading` and its C API
//!   resolved (`xrtDeviceOpen/Close`, `xrtBOAlloc`, `xrtBOAllocUserPtr`,
//!   `xrtBOMap`, `xrtBOSync`, `xrtBOFree`, `xrtBOSize`, `xrtBOAddress`).
//!   [`Xrt::load`] takes an explicit path; [`Xrt::global`] tries
//!   [`default_candidates`] once (the [`LIB_ENV`] variable overrides them).
//! * [`available`] / [`probe`]: is there a runtime and an NPU (`probe`: how
//!   many, or why not)? Never panics.
//! * [`NpuDevice`]: an opened device.
//! * [`NpuBuffer`]: a BO with its host mapping; [`NpuBuffer::alloc`] (XRT
//!   memory) or [`NpuBuffer::wrap`] (a user-pointer BO over a page-aligned
//!   zc buffer: no copy). `sync(ToDevice | FromDevice, range)` is
//!   `xrtBOSync` on that range.
//! * [`BoFlags`]: host-only (data, default) and cacheable (instruction
//!   buffers); device-only and p2p are refused up front.
//! * [`NpuPool`] / [`NpuPools`]: the zc-buffers pool over BOs, per memory
//!   group.
//!
//! Kernel execution (`xrt::hw_context`, `xrt::kernel`, `xrt::run`) is
//! C++-only in XRT and is not part of this crate; [`NpuBuffer::as_raw`]
//! hands the `xrtBufferHandle` to code that binds BOs to kernels.
//!
//! ```
//! use zc_buffers::{Buffer, HostBufferExt, HostBufferMutExt, SyncDirection};
//! if !zc_npu::available() {
//!     // No XRT or no NPU here: the error says which paths were tried.
//!     eprintln!("skipping: {}", zc_npu::probe().err().map(|e| e.to_string()).unwrap_or_default());
//!     return Ok(());
//! }
//! let npu = zc_npu::NpuDevice::open(0)?;
//! let mut mel = zc_npu::NpuBuffer::alloc(&npu, 80 * 3000 * 4)?;
//! mel.view2_mut::<f32>(80, 3000)?.fill(-1.5); // written in place, no copy
//! mel.sync(SyncDirection::ToDevice, 0..mel.len())?;
//! // ... run the kernel, then:
//! mel.sync(SyncDirection::FromDevice, 0..mel.len())?;
//! assert_eq!(mel.as_slice::<f32>()?[0], -1.5);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod buffer;
mod device;
mod errno;
pub mod error;
mod flags;
mod pool;
pub mod runtime;

pub use buffer::{MAX_BO_BYTES, NpuBuffer, XrtOwned};
pub use device::NpuDevice;
pub use error::{LoadAttempt, NpuError, Result};
pub use flags::{BoFlags, MemoryGroup};
pub use pool::{BoBackend, NpuPool, NpuPools, PooledBo};
pub use runtime::{LIB_ENV, Xrt, candidates_for, default_candidates};

/// The most device indices [`probe`] tries.
pub const MAX_PROBED_DEVICES: u32 = 64;

/// What [`available`] checks, with the reason when it is false: the number
/// of NPU devices that open (≥ 1; indices `0..n` are tried in order, at most
/// [`MAX_PROBED_DEVICES`]), or why none does — [`NpuError::LibraryNotFound`]
/// with every path tried, [`NpuError::SymbolMissing`], [`NpuError::NoDevice`].
/// The same shape as `zc_cuda::probe()`.
pub fn probe() -> Result<usize> {
    NpuDevice::open(0)?;
    let mut n = 1usize;
    while n < MAX_PROBED_DEVICES as usize && u32::try_from(n).is_ok_and(|i| NpuDevice::open(i).is_ok()) {
        n += 1;
    }
    Ok(n)
}

/// True when XRT loads and NPU device 0 opens. Never panics (a panic inside
/// the probe is caught and reported as `false`).
pub fn available() -> bool {
    std::panic::catch_unwind(|| probe().is_ok()).unwrap_or(false)
}

/// The README's code blocks, compiled and run as doc-tests so that every
/// snippet a user copies works as written.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
