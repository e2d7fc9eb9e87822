//! The crate's error types: [`VolterraError`] and, for the NPZ reader and
//! writer, [`NpzError`].

use std::path::PathBuf;

use zc_buffers::SimdLevel;

use crate::processor::EngineKind;

/// Everything that can go wrong in zc-volterra.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum VolterraError {
    /// The kernel has no taps at all (no order present, no full H2).
    #[error("empty kernel: no order has any taps")]
    EmptyKernel,
    /// An order outside 1..=5 was requested.
    #[error("order {order} is not supported (orders 1..=5)")]
    BadOrder {
        /// The order asked for.
        order: usize,
    },
    /// A tap is NaN or infinite.
    #[error("non-finite tap in {what} at index {index}")]
    NonFinite {
        /// Which kernel part.
        what: &'static str,
        /// Flat index of the tap.
        index: usize,
    },
    /// The full H2 matrix is not square / not `n*n` values.
    #[error("full H2 has {len} values, which is not n*n for n = {n}")]
    H2Shape {
        /// Declared side.
        n: usize,
        /// Number of values given.
        len: usize,
    },
    /// The full H2 matrix is not symmetric.
    #[error("full H2 is not symmetric: H2[{i}][{j}] = {a} but H2[{j}][{i}] = {b}")]
    H2NotSymmetric {
        /// Row.
        i: usize,
        /// Column.
        j: usize,
        /// `H2[i][j]`.
        a: f64,
        /// `H2[j][i]`.
        b: f64,
    },
    /// A processor was built with `max_block(0)`.
    #[error("max_block must be at least 1")]
    ZeroBlock,
    /// A size asked for at preparation (`max_block`, `history`, `partition`)
    /// beyond what a processor may be prepared for: see
    /// [`MAX_PREPARED_SAMPLES`](crate::processor::MAX_PREPARED_SAMPLES).
    #[error("{what} of {requested} samples exceeds the limit of {limit}")]
    SizeLimit {
        /// Which setting.
        what: &'static str,
        /// The value asked for.
        requested: usize,
        /// The largest accepted value.
        limit: usize,
    },
    /// The prepared state of the engine asked for (or, for
    /// [`EngineKind::Auto`], of every engine) exceeds the processor's memory
    /// cap ([`ProcessorBuilder::memory_cap`](crate::ProcessorBuilder::memory_cap)).
    #[error("the {engine:?} engine needs {needed} bytes of prepared state, above the memory cap of {cap} bytes")]
    MemoryCap {
        /// The engine (for `Auto`: the one needing the least memory).
        engine: EngineKind,
        /// Bytes its prepared state needs.
        needed: usize,
        /// The cap.
        cap: usize,
    },
    /// A SIMD level was forced for which zc-volterra has no kernel (see
    /// [`SIMD_LEVELS`](crate::SIMD_LEVELS)).
    #[error("zc-volterra has no kernel for SIMD level {level}")]
    SimdNotImplemented {
        /// The level asked for.
        level: SimdLevel,
    },
    /// A prepared kernel does not fit the processor it is swapped into.
    #[error("prepared kernel does not fit the processor: {what} is {actual}, the processor allows {allowed}")]
    SwapMismatch {
        /// Which property differs.
        what: &'static str,
        /// The prepared kernel's value.
        actual: usize,
        /// The processor's value.
        allowed: usize,
    },
    /// A [`VolterraState`](crate::VolterraState) was passed to a
    /// [`VolterraPlan`](crate::VolterraPlan) other than the one that made it
    /// ([`VolterraPlan::make_state`](crate::VolterraPlan::make_state));
    /// nothing was written and neither was changed.
    #[error("the state was made by plan #{state_plan}, not by this plan #{plan}")]
    ForeignState {
        /// The plan's id ([`VolterraPlan::id`](crate::VolterraPlan::id)).
        plan: u64,
        /// The id of the plan that made the state.
        state_plan: u64,
    },
    /// An operation that needs a memoryless kernel got one with memory.
    #[error("kernel is not memoryless: {0}")]
    NotMemoryless(&'static str),
    /// The FFT library refused a transform (a buffer size it did not expect;
    /// a bug in this crate if it ever happens).
    #[error("{direction} FFT of length {len} failed: {source}")]
    Fft {
        /// `"forward"` or `"inverse"`.
        direction: &'static str,
        /// The transform length.
        len: usize,
        /// The library's error.
        #[source]
        source: realfft::FftError,
    },
    /// Malformed NPZ / NPY content, or a failure writing it.
    #[error("npz {}: {source}", .path.as_ref().map_or_else(|| "<reader>".to_owned(), |p| p.display().to_string()))]
    Npz {
        /// The file, where the call had one (`load_npz`, `save_npz`);
        /// `None` for `read_npz` / `write_npz` on a reader or writer.
        path: Option<PathBuf>,
        /// What was wrong.
        #[source]
        source: NpzError,
    },
    /// I/O error on a file, with the path.
    #[error("{op} {}: {source}", .path.display())]
    Io {
        /// What was being done (`"open"`, `"create"`, `"flush"`).
        op: &'static str,
        /// The file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The identification problem is ill-posed.
    #[error("identification: {0}")]
    Identification(#[source] IdentifyError),
    /// Invalid analysis arguments.
    #[error("analysis: {0}")]
    Analysis(#[source] AnalysisError),
    /// A zc-buffers error: an output too small, a buffer that is not a valid
    /// typed view, a SIMD level this CPU lacks, a failed allocation.
    #[error(transparent)]
    Buffer(#[from] zc_buffers::BufferError),
}

/// What is wrong with an NPZ file (always inside [`VolterraError::Npz`],
/// which names the path). `member` is the array's key (`"h1"`, `"h2"`,
/// `"h2_is_diagonal"`, `"h3_diagonal"`, …; the file in the archive is
/// `<member>.npy`).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NpzError {
    /// The archive itself is unreadable (not a zip, corrupt directory) or
    /// could not be written.
    #[error("zip archive: {source}")]
    Zip {
        /// The zip library's error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// Reading (inflating) or writing a member failed.
    #[error("{member}.npy: {source}")]
    MemberIo {
        /// The array.
        member: &'static str,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A member larger than [`MAX_NPY_BYTES`](crate::npz::MAX_NPY_BYTES)
    /// uncompressed.
    #[error("{member}.npy: more than {limit} bytes uncompressed")]
    MemberTooLarge {
        /// The array.
        member: &'static str,
        /// The limit.
        limit: u64,
    },
    /// The member does not start with the `.npy` magic.
    #[error("{member}.npy: not an .npy array (bad magic)")]
    BadMagic {
        /// The array.
        member: &'static str,
    },
    /// An `.npy` format version other than 1, 2, 3.
    #[error("{member}.npy: unsupported .npy version {version}")]
    UnsupportedVersion {
        /// The array.
        member: &'static str,
        /// The version byte.
        version: u8,
    },
    /// The member ends before its header or data does.
    #[error("{member}.npy: truncated {part}: {actual} bytes, {needed} needed")]
    Truncated {
        /// The array.
        member: &'static str,
        /// `"header"` or `"data"`.
        part: &'static str,
        /// Bytes needed.
        needed: usize,
        /// Bytes present.
        actual: usize,
    },
    /// A header field is missing or malformed.
    #[error("{member}.npy: bad or missing header field {field}")]
    BadHeader {
        /// The array.
        member: &'static str,
        /// `"descr"`, `"fortran_order"`, `"shape"` or `"utf-8"` (the header
        /// is not text).
        field: &'static str,
    },
    /// A dtype other than `<f8`, `<f4` or bool.
    #[error("{member}.npy: unsupported dtype {dtype:?} (need <f8, <f4 or bool)")]
    UnsupportedDtype {
        /// The array.
        member: &'static str,
        /// The `descr` string.
        dtype: String,
    },
    /// The shape's element count overflows `usize`.
    #[error("{member}.npy: shape {shape:?} overflows")]
    ShapeOverflow {
        /// The array.
        member: &'static str,
        /// The shape.
        shape: Vec<usize>,
    },
    /// An array of the wrong shape for its key (and, for `h2`, for the
    /// `h2_is_diagonal` flag).
    #[error("{member} must have shape {expected}, has {actual:?}")]
    Shape {
        /// The array.
        member: &'static str,
        /// The shape it must have, e.g. `"(N,)"` or `"(N, N) (h2_is_diagonal is False)"`.
        expected: &'static str,
        /// The shape it has.
        actual: Vec<usize>,
    },
    /// The arrays parse but do not form a valid kernel (a non-finite tap, an
    /// asymmetric H2, no taps at all).
    #[error("invalid kernel: {source}")]
    Kernel {
        /// The validation error.
        #[source]
        source: Box<VolterraError>,
    },
}

/// Why [`identify`](crate::identify::identify) cannot fit.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum IdentifyError {
    /// The ridge parameter is negative or not finite.
    #[error("ridge must be finite and >= 0, got {ridge}")]
    BadRidge {
        /// The ridge given.
        ridge: f64,
    },
    /// A recording holds NaN or ±∞.
    #[error("non-finite sample in {signal} at index {index}")]
    NonFiniteSample {
        /// `"x"` (input) or `"y"` (output).
        signal: &'static str,
        /// Index of the first such sample.
        index: usize,
    },
    /// Fewer samples than unknown taps.
    #[error("{samples} samples for {unknowns} unknowns")]
    TooFewSamples {
        /// Samples in the recording.
        samples: usize,
        /// Taps to fit.
        unknowns: usize,
    },
    /// The normal equations are singular (add ridge, or excite the system
    /// more).
    #[error("normal equations are singular (pivot {pivot}); add ridge or excite the system more")]
    Singular {
        /// The Cholesky pivot that was not positive.
        pivot: usize,
    },
}

/// Invalid arguments to [`analysis`](crate::analysis).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum AnalysisError {
    /// An empty signal.
    #[error("empty signal")]
    EmptySignal,
    /// A fundamental outside `(0, sample_rate / 2)`.
    #[error("need 0 < f0 ({f0}) < sample_rate/2 ({sample_rate}/2)")]
    BadFrequency {
        /// The fundamental.
        f0: f64,
        /// The sample rate.
        sample_rate: f64,
    },
}

/// `Result` with [`VolterraError`].
pub type Result<T> = std::result::Result<T, VolterraError>;
