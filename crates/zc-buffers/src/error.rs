//! The error type shared by every zc-buffers API.

use std::path::PathBuf;
use std::time::Duration;

/// Everything that can go wrong in zc-buffers. Each variant carries the
/// figures a caller needs to fix the call (expected vs actual, required vs
/// actual), never a bare "invalid argument".
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BufferError {
    /// An alignment that is not a power of two (or is zero).
    #[error("alignment {align} is not a power of two")]
    InvalidAlignment {
        /// The alignment that was asked for.
        align: usize,
    },
    /// A size/alignment pair the allocator cannot describe (len rounded up to
    /// `align` overflows `isize::MAX`).
    #[error("a buffer of {len} bytes aligned to {align} cannot be described (exceeds isize::MAX)")]
    TooLarge {
        /// Requested length in bytes.
        len: usize,
        /// Requested alignment in bytes.
        align: usize,
    },
    /// The system allocator returned null.
    #[error("allocation of {len} bytes aligned to {align} failed (out of memory)")]
    AllocFailed {
        /// Requested length in bytes.
        len: usize,
        /// Requested alignment in bytes.
        align: usize,
    },
    /// An address without the alignment an operation needs: a typed view
    /// (`what` is the element type), a DLPack import, memory to be
    /// page-locked or wrapped by a device runtime (`what` names it). The one
    /// misalignment error of every zc crate.
    #[error("misaligned {what}: address {addr:#x} has {actual}-byte alignment, {required} needed")]
    Misaligned {
        /// What needed the alignment (an element type, "page-locked memory", …).
        what: &'static str,
        /// Alignment required.
        required: usize,
        /// Largest power of two dividing the address.
        actual: usize,
        /// The address itself.
        addr: usize,
    },
    /// A zero-length buffer where a runtime needs at least one byte
    /// (registration with a driver, a device allocation).
    #[error("{what}: a zero-length buffer cannot be used")]
    EmptyBuffer {
        /// What was being done.
        what: &'static str,
    },
    /// The byte length is not a multiple of the element size.
    #[error("a byte length of {len} is not a multiple of size_of::<{type_name}>() = {elem_size}")]
    LengthNotMultiple {
        /// The element type.
        type_name: &'static str,
        /// Byte length of the region.
        len: usize,
        /// Size of one element.
        elem_size: usize,
    },
    /// A shape/stride combination reaches past the end of the buffer.
    #[error(
        "view out of bounds: shape {shape:?} with strides {strides:?} needs {needed} elements, the buffer holds {available}"
    )]
    OutOfBounds {
        /// Shape asked for.
        shape: Vec<usize>,
        /// Strides asked for (elements).
        strides: Vec<usize>,
        /// Elements the view reaches.
        needed: usize,
        /// Elements the buffer holds.
        available: usize,
    },
    /// Shape × strides overflow `usize`/`isize`.
    #[error("shape {shape:?} with strides {strides:?} overflows the address space")]
    Overflow {
        /// Shape asked for.
        shape: Vec<usize>,
        /// Strides asked for (elements).
        strides: Vec<usize>,
    },
    /// Shape and strides have different numbers of dimensions.
    #[error("shape has {shape_ndim} dimensions but strides have {strides_ndim}")]
    RankMismatch {
        /// Dimensions of the shape.
        shape_ndim: usize,
        /// Dimensions of the strides.
        strides_ndim: usize,
    },
    /// A mutable view whose strides would make two indices alias one element.
    #[error("mutable view with shape {shape:?} and strides {strides:?} would alias elements")]
    Aliasing {
        /// Shape asked for.
        shape: Vec<usize>,
        /// Strides asked for (elements).
        strides: Vec<usize>,
    },
    /// Two shapes that must agree do not.
    #[error("shape mismatch: expected {expected:?}, got {actual:?}")]
    ShapeMismatch {
        /// What the operation needs.
        expected: Vec<usize>,
        /// What the caller passed.
        actual: Vec<usize>,
    },
    /// Two lengths that must agree do not.
    #[error("length mismatch: expected {expected} bytes, got {actual}")]
    LengthMismatch {
        /// What the operation needs.
        expected: usize,
        /// What the caller passed.
        actual: usize,
    },
    /// Zero-sized element types cannot be viewed.
    #[error("zero-sized element type {type_name} cannot be viewed")]
    ZeroSizedType {
        /// The element type.
        type_name: &'static str,
    },
    /// A byte range outside the buffer (for `sync`, sub-views, …).
    #[error("range {start}..{end} is outside a buffer of {len} bytes")]
    RangeOutOfBounds {
        /// Range start.
        start: usize,
        /// Range end.
        end: usize,
        /// Buffer length.
        len: usize,
    },
    /// The buffer is not CPU-addressable (device memory).
    #[error("buffer with residency {residency:?} has no host mapping")]
    NotHostAccessible {
        /// Where the bytes live.
        residency: crate::Residency,
    },
    /// `sync` through a shared reference (`&B`) on memory that needs cache
    /// maintenance: only `&mut B`, `Box<B>` or the owner can sync it.
    #[error(
        "buffer with residency {residency:?} needs cache maintenance; sync it through `&mut` or its owner, not `&`"
    )]
    SyncNeedsExclusive {
        /// Where the bytes live.
        residency: crate::Residency,
    },
    /// A pool request larger than the pool's byte cap or largest size class.
    #[error("pool `{pool}`: a request of {requested} bytes exceeds the limit of {limit} bytes")]
    RequestTooLarge {
        /// Pool name.
        pool: String,
        /// Bytes asked for.
        requested: usize,
        /// Cap or largest class.
        limit: usize,
    },
    /// The pool's byte cap is reached and no buffer came back in time.
    #[error("pool `{pool}` exhausted: {in_use} of {cap} bytes in use, {requested} more requested (waited {waited:?})")]
    PoolExhausted {
        /// Pool name.
        pool: String,
        /// Bytes currently handed out.
        in_use: usize,
        /// The pool's byte cap.
        cap: usize,
        /// Bytes asked for.
        requested: usize,
        /// How long the call waited before giving up.
        waited: Duration,
    },
    /// An I/O error on a file-backed buffer, with the path.
    #[error("{op} {path}: {source}")]
    Io {
        /// What was being done ("open", "map", "set_len", …).
        op: &'static str,
        /// The file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// A file that is empty (a zero-length mapping cannot be made).
    #[error("{path} is empty; an empty file cannot be mapped")]
    EmptyFile {
        /// The file.
        path: PathBuf,
    },
    /// A file shorter than the range asked for.
    #[error("{path} is {file_len} bytes; the mapping needs bytes {offset}..{end}")]
    FileTooShort {
        /// The file.
        path: PathBuf,
        /// Its length.
        file_len: u64,
        /// Mapping start.
        offset: u64,
        /// Mapping end.
        end: u64,
    },
    /// An `ndarray` view that is not in standard (C-contiguous) layout where
    /// one contiguous run of elements is needed.
    #[error("array view with shape {shape:?} and strides {strides:?} is not C-contiguous")]
    NotContiguous {
        /// Shape of the view.
        shape: Vec<usize>,
        /// Its strides (elements, absolute values).
        strides: Vec<usize>,
    },
    /// An output buffer smaller than the result. Every compute entry point
    /// in zc accepts an output at least as large as the result and writes its
    /// prefix; this is the one error for "too small", in every crate.
    #[error("output too small: {needed} {type_name} elements needed, the buffer holds {actual}")]
    OutputTooSmall {
        /// Element type of the output.
        type_name: &'static str,
        /// Elements the result needs.
        needed: usize,
        /// Elements the output holds.
        actual: usize,
    },
    /// A SIMD level was forced that this CPU cannot run.
    #[error("SIMD level {level} is not available on this CPU")]
    SimdUnavailable {
        /// The level asked for.
        level: crate::SimdLevel,
    },
    /// A worker thread panicked. The operation's output is incomplete and
    /// must not be used; nothing else is affected.
    #[error("worker thread {worker} panicked: {message}")]
    WorkerPanicked {
        /// Index of the worker (0-based).
        worker: usize,
        /// The panic message, where it was a string.
        message: String,
    },
    /// An error raised by a hardware backend (CUDA, XRT) through the trait.
    #[error("{backend}: {message}")]
    Backend {
        /// Which backend.
        backend: &'static str,
        /// Its message.
        message: String,
    },
}

/// Shorthand for `Result<T, BufferError>`.
pub type Result<T, E = BufferError> = std::result::Result<T, E>;

/// Largest power of two that divides `addr` (capped at `1 << (usize::BITS - 1)`;
/// 0 maps to the cap): the alignment an address actually has. The one
/// implementation used by every zc crate.
///
/// ```
/// assert_eq!(zc_buffers::addr_alignment(0x1040), 64);
/// assert_eq!(zc_buffers::addr_alignment(0x1000), 4096);
/// ```
pub fn addr_alignment(addr: usize) -> usize {
    if addr == 0 {
        1 << (usize::BITS - 1)
    } else {
        1 << addr.trailing_zeros()
    }
}

/// An operation that took ownership of `value` and failed: the error, and
/// the value handed back untouched (a host buffer that could not be
/// registered or wrapped, the buffers of a copy that could not be queued).
/// The one "error that hands the value back" of every zc crate; `E` is the
/// crate's error type.
///
/// Converts into [`BufferError`] (dropping the value) when `E` does, so `?`
/// works where the value is not wanted back.
pub struct Rejected<T, E = BufferError> {
    /// Why it failed.
    pub error: E,
    /// What was handed in, unchanged.
    pub value: T,
}

impl<T, E> Rejected<T, E> {
    /// Pairs an error with the value it hands back.
    pub fn new(error: E, value: T) -> Self {
        Self { error, value }
    }

    /// The value handed back.
    pub fn into_value(self) -> T {
        self.value
    }

    /// Splits into the error and the value.
    pub fn into_parts(self) -> (E, T) {
        (self.error, self.value)
    }

    /// Converts the error (e.g. into a wider error type), keeping the value.
    pub fn map_err<F>(self, f: impl FnOnce(E) -> F) -> Rejected<T, F> {
        Rejected {
            error: f(self.error),
            value: self.value,
        }
    }
}

impl<T, E: std::fmt::Debug> std::fmt::Debug for Rejected<T, E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Rejected")
            .field("error", &self.error)
            .field("value", &std::any::type_name::<T>())
            .finish()
    }
}

impl<T, E: std::fmt::Display> std::fmt::Display for Rejected<T, E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(&self.error, f)
    }
}

impl<T, E: std::error::Error + 'static> std::error::Error for Rejected<T, E> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.error)
    }
}

impl<T, E: Into<BufferError>> From<Rejected<T, E>> for BufferError {
    fn from(r: Rejected<T, E>) -> Self {
        r.error.into()
    }
}
