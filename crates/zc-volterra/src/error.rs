//! The crate's error type.

/// Everything that can go wrong in zc-volterra.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum VolterraError {
    /// The kernel has no taps at all (no order present, no full H2).
    #[error("empty kernel: no order has any taps")]
    EmptyKernel,
    /// An order outside 1..=5 was requested.
    #[error("order {0} is not supported (orders 1..=5)")]
    BadOrder(usize),
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
    /// `prepare` was asked for a zero block size.
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
    /// A block larger than the prepared maximum.
    #[error("block of {len} samples exceeds the prepared maximum of {max}")]
    BlockTooLarge {
        /// Block length given.
        len: usize,
        /// Prepared maximum.
        max: usize,
    },
    /// Input and output lengths differ.
    #[error("output length {output} differs from input length {input}")]
    LengthMismatch {
        /// Input length.
        input: usize,
        /// Output length.
        output: usize,
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
    /// An operation that needs a memoryless kernel got one with memory.
    #[error("kernel is not memoryless: {0}")]
    NotMemoryless(&'static str),
    /// The FFT library reported an error (buffer sizes; should not happen).
    #[error("fft: {0}")]
    Fft(String),
    /// Malformed NPZ / NPY content.
    #[error("npz: {0}")]
    Npz(String),
    /// I/O error while reading or writing a file.
    #[error("io: {0}")]
    Io(#[from] std::io::Error),
    /// Identification problem is ill-posed (too little data, singular system).
    #[error("identification: {0}")]
    Identification(String),
    /// Invalid analysis arguments.
    #[error("analysis: {0}")]
    Analysis(String),
    /// A zc-buffers error (typed views of caller buffers).
    #[error(transparent)]
    Buffer(#[from] zc_buffers::BufferError),
}

/// `Result` with [`VolterraError`].
pub type Result<T> = std::result::Result<T, VolterraError>;
