//! The error type of zc-npu.

use std::fmt;
use std::path::PathBuf;

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
    /// A zero-byte buffer object was asked for.
    #[error("a buffer object cannot be empty (zero bytes requested)")]
    ZeroSize,
    /// A buffer object larger than the address space can describe.
    #[error("a buffer object of {len} bytes is too large (at most {max} bytes)")]
    TooLarge {
        /// Bytes requested.
        len: usize,
        /// The largest accepted size.
        max: usize,
    },
    /// A user pointer that is not page aligned (XRT needs 4096-byte alignment).
    #[error("user pointer {addr:#x} is aligned to {actual} bytes; a user-pointer buffer object needs {required}")]
    Unaligned {
        /// The address.
        addr: usize,
        /// Alignment required.
        required: usize,
        /// Largest power of two dividing the address.
        actual: usize,
    },
    /// A host buffer that the CPU cannot address was passed to `wrap`.
    #[error("the buffer to wrap has no host address")]
    NotHostAccessible,
    /// A byte range outside the buffer object.
    #[error("range {start}..{end} is outside a buffer object of {len} bytes")]
    RangeOutOfBounds {
        /// Range start.
        start: usize,
        /// Range end.
        end: usize,
        /// Buffer length.
        len: usize,
    },
    /// Two lengths that must agree do not (the copy helpers).
    #[error("length mismatch: expected {expected} bytes, got {actual}")]
    LengthMismatch {
        /// What the operation needs.
        expected: usize,
        /// What the caller passed.
        actual: usize,
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
    /// An error from zc-buffers (a pool, a view).
    #[error(transparent)]
    Buffer(#[from] BufferErrorMessage),
}

/// A [`BufferError`] carried inside [`NpuError`] as its message (so that
/// `NpuError` stays `Clone`, which the global runtime cache needs).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct BufferErrorMessage(pub String);

impl From<BufferError> for NpuError {
    fn from(e: BufferError) -> Self {
        match e {
            BufferError::RangeOutOfBounds { start, end, len } => NpuError::RangeOutOfBounds { start, end, len },
            BufferError::LengthMismatch { expected, actual } => NpuError::LengthMismatch { expected, actual },
            other => NpuError::Buffer(BufferErrorMessage(other.to_string())),
        }
    }
}

impl From<NpuError> for BufferError {
    fn from(e: NpuError) -> Self {
        match e {
            NpuError::RangeOutOfBounds { start, end, len } => BufferError::RangeOutOfBounds { start, end, len },
            NpuError::LengthMismatch { expected, actual } => BufferError::LengthMismatch { expected, actual },
            other => BufferError::Backend {
                backend: "xrt",
                message: other.to_string(),
            },
        }
    }
}

/// Shorthand for `Result<T, NpuError>`.
pub type Result<T, E = NpuError> = std::result::Result<T, E>;

/// A failed [`NpuBuffer::wrap`](crate::NpuBuffer::wrap): the error and the
/// host buffer, handed back untouched.
pub struct WrapError<H> {
    /// Why wrapping failed.
    pub error: NpuError,
    /// The host buffer that was passed in.
    pub buffer: H,
}

impl<H> WrapError<H> {
    /// The host buffer, handed back.
    pub fn into_buffer(self) -> H {
        self.buffer
    }
}

impl<H> fmt::Debug for WrapError<H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WrapError")
            .field("error", &self.error)
            .finish_non_exhaustive()
    }
}

impl<H> fmt::Display for WrapError<H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cannot wrap host buffer as a buffer object: {}", self.error)
    }
}

impl<H> std::error::Error for WrapError<H> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.error)
    }
}

impl<H> From<WrapError<H>> for NpuError {
    fn from(e: WrapError<H>) -> Self {
        e.error
    }
}

impl<H> From<WrapError<H>> for BufferError {
    fn from(e: WrapError<H>) -> Self {
        e.error.into()
    }
}
