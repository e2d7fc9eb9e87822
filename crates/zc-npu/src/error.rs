//! The error type of zc-npu.

use std::fmt;
use std::path::PathBuf;

use std::sync::Arc;

use zc_buffers::BufferError;

/// One attempt to load the XRT library: the path (or bare name handed to the
/// dynamic loader) and why it failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoadAttempt {
    /// The path or library name that was tried.
    pub path: PathBuf,
    /// The loader's message.
    pub reason: String,
}

impl fmt::Display for LoadAttempt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.path.display(), self.reason)
    }
}

fn list_attempts(tried: &[LoadAttempt]) -> String {
    if tried.is_empty() {
        return "nothing".to_string();
    }
    tried.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ")
}

fn describe_code(code: i32) -> String {
    if code == 0 {
        return "no error code reported".to_string();
    }
    format!(
        "{} ({})",
        code,
        std::io::Error::from_raw_os_error(code.saturating_abs())
    )
}

/// Everything that can go wrong in zc-npu. Each variant carries what a caller
/// needs to act on it (the paths tried, the call that failed and its code,
/// required vs actual figures).
#[derive(Clone, Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NpuError {
    /// No XRT library could be loaded. `tried` lists every path or name with
    /// the loader's reason, in order.
    #[error(
        "XRT runtime (libxrt_coreutil) not found; tried: {tried_list}. Install XRT / the Ryzen AI software, or point {env} at libxrt_coreutil.so",
        tried_list = list_attempts(tried),
        env = crate::runtime::LIB_ENV
    )]
    LibraryNotFound {
        /// Every attempt, in order.
        tried: Vec<LoadAttempt>,
    },
    /// The library loaded but lacks a symbol of the XRT C API.
    #[error("{path} has no symbol `{symbol}` ({reason}); is it libxrt_coreutil from XRT 2.x?")]
    SymbolMissing {
        /// The missing symbol.
        symbol: &'static str,
        /// The library that was loaded.
        path: PathBuf,
        /// The loader's message.
        reason: String,
    },
    /// `xrtDeviceOpen(index)` failed: no such device, or no permission.
    #[error("no NPU device at index {index}: xrtDeviceOpen failed with errno {}", describe_code(*code))]
    NoDevice {
        /// The index asked for.
        index: u32,
        /// `errno` after the call (0 when XRT set none).
        code: i32,
    },
    /// Buffer-object flags the XDNA driver (or this crate) does not accept.
    #[error("unsupported buffer-object flags {flags:#x}: {reason}")]
    UnsupportedFlags {
        /// The flags passed.
        flags: u64,
        /// Why they are refused.
        reason: &'static str,
    },
    /// A buffer object larger than the address space can describe.
    #[error("a buffer object of {len} bytes is too large (at most {max} bytes)")]
    TooLarge {
        /// Bytes requested.
        len: usize,
        /// The largest accepted size.
        max: usize,
    },
    /// An XRT call failed. `code` is the call's return value, or `errno` for
    /// calls that return a handle or pointer (0 when XRT set none).
    #[error("{call} failed: {}", describe_code(*code))]
    Xrt {
        /// The C function.
        call: &'static str,
        /// Return value or errno.
        code: i32,
    },
    /// XRT returned something that breaks its documented contract (a mapping
    /// smaller than asked for, a misaligned mapping).
    #[error("{call} returned an unusable result: {detail}")]
    Contract {
        /// The C function.
        call: &'static str,
        /// What was wrong.
        detail: String,
    },
    /// A failure shared with every zc crate (a range, a length, an
    /// alignment, a pool), kept whole as the source. Behind an `Arc` so that
    /// `NpuError` stays `Clone` (the global runtime cache hands out copies).
    #[error(transparent)]
    Buffer(Arc<BufferError>),
}

impl NpuError {
    /// The shared zc-buffers failure inside [`NpuError::Buffer`], if this is
    /// one, for matching: `e.as_buffer_error()` →
    /// `Some(BufferError::RangeOutOfBounds { .. })`.
    pub fn as_buffer_error(&self) -> Option<&BufferError> {
        match self {
            NpuError::Buffer(inner) => Some(inner),
            _ => None,
        }
    }
}

impl From<BufferError> for NpuError {
    fn from(e: BufferError) -> Self {
        NpuError::Buffer(Arc::new(e))
    }
}

impl From<NpuError> for BufferError {
    fn from(e: NpuError) -> Self {
        match e {
            NpuError::Buffer(inner) => Arc::try_unwrap(inner).unwrap_or_else(|shared| BufferError::Backend {
                backend: "xrt",
                message: shared.to_string(),
            }),
            other => BufferError::Backend {
                backend: "xrt",
                message: other.to_string(),
            },
        }
    }
}

impl<H> From<zc_buffers::Rejected<H, NpuError>> for NpuError {
    fn from(r: zc_buffers::Rejected<H, NpuError>) -> Self {
        r.error
    }
}

/// Shorthand for `Result<T, NpuError>`.
pub type Result<T, E = NpuError> = std::result::Result<T, E>;
