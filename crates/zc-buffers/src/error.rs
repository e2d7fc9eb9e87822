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
    /// A typed view needs an address aligned to `required`; the memory is not.
    #[error("misaligned memory: a view of {type_name} needs {required}-byte alignment, address {addr:#x} has {actual}")]
    Misaligned {
        /// The element type of the view.
        type_name: &'static str,
        /// Alignment required by the element type.
        required: usize,
        /// Largest power of two dividing the address.
        actual: usize,
        /// The address itself.
        addr: usize,
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
        level: crate::simd::SimdLevel,
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
