//! The error type of zc-mel.

use std::path::PathBuf;

use zc_buffers::BufferError;

/// Everything that can go wrong in zc-mel. Each variant carries the figures a
/// caller needs to fix the call. Shared failures (output too small,
/// misaligned memory, a SIMD level the CPU lacks, a panicked worker) are the
/// core's [`BufferError`] variants, wrapped in [`MelError::Buffer`].
///
/// Whether the caller's output was written, per variant: every error is
/// detected before anything is written (the output is untouched) except
/// two internal failures that say so — [`MelError::Resample`] (the engine
/// failed mid-clip: the output may be partly written) and
/// [`BufferError::WorkerPanicked`] inside [`MelError::Buffer`] (the other
/// workers may have written their parts: the output is unspecified and must
/// not be used).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MelError {
    /// A [`MelConfig`](crate::MelConfig) that cannot describe a spectrogram.
    #[error("invalid mel configuration: {reason}")]
    InvalidConfig {
        /// What is wrong.
        reason: &'static str,
    },
    /// Too few samples for the centred STFT (reflect padding needs more than
    /// `n_fft / 2` samples, and at least one frame must result).
    #[error("{samples} samples are too few: the centred STFT needs at least {needed}")]
    TooShort {
        /// Samples after padding / trimming.
        samples: usize,
        /// The minimum.
        needed: usize,
    },
    /// A NaN or infinite input sample (policy: rejected before anything is written).
    #[error("sample {index} is not finite ({value}); NaN/Inf input is rejected")]
    NonFiniteSample {
        /// Index into the samples passed to the call that failed (for
        /// [`MelStream`](crate::MelStream), into that call's chunk; the
        /// stream position is [`MelStream::samples_received`](crate::MelStream::samples_received)).
        index: usize,
        /// The offending value.
        value: f32,
    },
    /// An output view smaller than the spectrogram in some dimension (views
    /// may be larger: the result fills their top-left corner).
    #[error("output view has shape {actual:?}, the spectrogram needs at least {needed:?}")]
    ViewTooSmall {
        /// Shape needed (rows, cols) in the plan's layout.
        needed: (usize, usize),
        /// Shape provided.
        actual: (usize, usize),
    },
    /// A [`MelScratch`](crate::MelScratch) made for a plan of another
    /// geometry (`n_fft`, `n_mels`, filterbank span).
    #[error("scratch made for n_fft {} / {} mels does not fit this plan (n_fft {} / {} mels)", actual.0, actual.1, expected.0, expected.1)]
    ScratchMismatch {
        /// `(n_fft, n_mels)` of the plan.
        expected: (usize, usize),
        /// `(n_fft, n_mels)` the scratch was made for.
        actual: (usize, usize),
    },
    /// A batch whose clip and output counts differ.
    #[error("batch of {clips} clips but {outputs} outputs")]
    BatchSize {
        /// Clips given.
        clips: usize,
        /// Outputs given.
        outputs: usize,
    },
    /// An error in one clip of a batch (nothing of the batch was written).
    #[error("batch clip {item}: {source}")]
    BatchItem {
        /// Index of the clip.
        item: usize,
        /// What is wrong with it.
        #[source]
        source: Box<MelError>,
    },
    /// Streaming needs a caller-supplied maximum.
    #[error("streaming needs Normalization::Fixed: the global maximum is unknown until the end")]
    StreamNormalization,
    /// A shared failure from the core: an output too small
    /// ([`BufferError::OutputTooSmall`]), misaligned or not contiguous, a
    /// SIMD level the CPU lacks ([`BufferError::SimdUnavailable`]), a
    /// worker thread that panicked ([`BufferError::WorkerPanicked`]: an
    /// internal bug; the output is unspecified), a mapping failure.
    #[error(transparent)]
    Buffer(#[from] BufferError),
    /// An I/O error reading a file.
    #[error("{op} {path}: {source}")]
    Io {
        /// What was being done.
        op: &'static str,
        /// The file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// A file that is not RIFF/WAVE, or whose chunk structure is corrupt.
    #[error("{path}: not a valid WAV file: {reason} (at byte offset {offset})")]
    InvalidWav {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: &'static str,
        /// File offset where the problem was found.
        offset: u64,
    },
    /// A WAV sample format this crate does not decode.
    #[error("{path}: unsupported WAV format (tag {format_tag:#06x}, {bits_per_sample} bits per sample)")]
    UnsupportedFormat {
        /// The file.
        path: PathBuf,
        /// The WAVE format tag (after resolving WAVE_FORMAT_EXTENSIBLE).
        format_tag: u16,
        /// Bits per sample.
        bits_per_sample: u16,
    },
    /// A WAV whose sample rate is not the one required (no resampling is done).
    #[error("{path}: sample rate is {actual} Hz, {expected} Hz is required (resample first)")]
    SampleRate {
        /// The file.
        path: PathBuf,
        /// Required rate.
        expected: u32,
        /// The file's rate.
        actual: u32,
    },
    /// A sample rate a [`Resampler`](crate::resample::Resampler) cannot be
    /// planned for (0, or outside `min..=max`).
    #[error("cannot resample from {rate} Hz: supported input rates are {min}..={max} Hz")]
    InvalidSampleRate {
        /// The rate asked for.
        rate: u32,
        /// Lowest supported rate.
        min: u32,
        /// Highest supported rate.
        max: u32,
    },
    /// The resampling engine failed (an internal sizing bug; the output may
    /// be partly written).
    #[error("resampling failed: {message}")]
    Resample {
        /// The engine's message.
        message: String,
    },
    /// A WAV whose data chunk reaches past the end of the file.
    #[error(
        "{path}: truncated: the data chunk at offset {offset} declares {declared} bytes, the file holds {available}"
    )]
    Truncated {
        /// The file.
        path: PathBuf,
        /// Offset of the data payload.
        offset: u64,
        /// Bytes the chunk header declares.
        declared: u64,
        /// Bytes actually present after `offset`.
        available: u64,
    },
    /// A WAV data chunk that is not a whole number of sample frames.
    #[error("{path}: data chunk of {data_len} bytes is not a multiple of the {frame_bytes}-byte sample frame")]
    RaggedData {
        /// The file.
        path: PathBuf,
        /// Data chunk length in bytes.
        data_len: u64,
        /// Bytes per sample frame (all channels).
        frame_bytes: u64,
    },
    /// A zero-copy view was asked of a WAV that is not mono 32-bit float.
    #[error("{path}: no zero-copy f32 view: {reason}; decode it with decode_into instead")]
    NotZeroCopy {
        /// The file.
        path: PathBuf,
        /// Why not.
        reason: &'static str,
    },
}

/// Shorthand for `Result<T, MelError>`.
pub type Result<T, E = MelError> = std::result::Result<T, E>;
