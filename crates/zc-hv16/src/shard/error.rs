//! [`ShardError`]: what can go wrong with a sharded store. Every failure
//! tied to one shard names it (position in the manifest and file).

use std::path::PathBuf;

use crate::error::HvError;

/// An error of a sharded store. Failures shared with single stores (I/O on
/// the manifest, an output too small, an invalid `k`) are
/// [`ShardError::Hv`]; a failure of one shard is [`ShardError::Shard`] (or
/// another variant naming the shard) with the store's error as its source.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ShardError {
    /// A failure that is not about one shard: I/O on the manifest file
    /// (`HvError::Buffer(BufferError::Io { .. })`), `k` out of range, an
    /// output too small, a refused allocation.
    #[error(transparent)]
    Hv(#[from] HvError),
    /// Shard `index` (file `path`) could not be opened, read or written:
    /// missing, corrupt, truncated, locked by another writer.
    #[error("shard {index} ({path}): {source}")]
    Shard {
        /// Position of the shard in the manifest.
        index: usize,
        /// The shard file.
        path: PathBuf,
        /// What the store reported.
        #[source]
        source: HvError,
    },
    /// Shard `index` holds a different number of vectors than the manifest
    /// says (a stale manifest, or a writer that crashed between its store
    /// append and its manifest rewrite: reopening the writer reconciles).
    #[error("shard {index} ({path}) holds {found} vectors, the manifest says {expected}")]
    CountMismatch {
        /// Position of the shard in the manifest.
        index: usize,
        /// The shard file.
        path: PathBuf,
        /// Vectors in the store.
        found: u64,
        /// Vectors in the manifest entry.
        expected: u64,
    },
    /// Shard `index`'s data checksum differs from the one the manifest
    /// recorded: the file was replaced by another store of the same size.
    #[error("shard {index} ({path}) has data checksum {found:#x}, the manifest recorded {expected:#x}")]
    ChecksumMismatch {
        /// Position of the shard in the manifest.
        index: usize,
        /// The shard file.
        path: PathBuf,
        /// Checksum in the store header.
        found: u64,
        /// Checksum in the manifest.
        expected: u64,
    },
    /// The manifest is not valid JSON or lacks a field.
    #[error("shard manifest {path}: {source}")]
    ManifestParse {
        /// The manifest file.
        path: PathBuf,
        /// The JSON error (line and column).
        #[source]
        source: serde_json::Error,
    },
    /// The manifest parses but is inconsistent.
    #[error("shard manifest {path}: {problem}")]
    ManifestInvalid {
        /// The manifest file.
        path: PathBuf,
        /// What is wrong.
        problem: ManifestProblem,
    },
    /// A writer was asked to continue a sharded store made by another
    /// generator.
    #[error("{path} holds generator {found:?}, not {expected:?}")]
    GeneratorMismatch {
        /// The manifest file.
        path: PathBuf,
        /// Generator in the manifest.
        found: String,
        /// Generator the caller asked for.
        expected: String,
    },
    /// A writer limit of zero vectors per shard.
    #[error("max_vectors_per_shard must be at least 1")]
    ZeroShardSize,
}

/// What is inconsistent in a manifest ([`ShardError::ManifestInvalid`]).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ManifestProblem {
    /// The `format` field is not `"zc-hv16-shards"`.
    #[error("format {found:?} is not {expected:?}")]
    WrongFormat {
        /// Found.
        found: String,
        /// [`MANIFEST_FORMAT`](super::MANIFEST_FORMAT).
        expected: &'static str,
    },
    /// A manifest version this build does not read.
    #[error("version {found} is not supported (this build reads 1 to {supported})")]
    UnsupportedVersion {
        /// Found.
        found: u32,
        /// [`MANIFEST_VERSION`](super::MANIFEST_VERSION).
        supported: u32,
    },
    /// Vectors of another size than 2048 bits / 256 bytes.
    #[error("{dim}-bit vectors of {bytes_per_vector} bytes; this crate handles 2048-bit vectors of 256 bytes")]
    WrongDimension {
        /// `dim` field.
        dim: u32,
        /// `bytes_per_vector` field.
        bytes_per_vector: u32,
    },
    /// A shard whose offset is not the sum of the counts before it.
    #[error("shard {index} ({file}) has offset {offset}, expected {expected} (offsets must be contiguous)")]
    OffsetGap {
        /// Position of the shard.
        index: usize,
        /// Its file.
        file: String,
        /// Offset found.
        offset: u64,
        /// Sum of the counts before it.
        expected: u64,
    },
    /// `total` is not the sum of the counts.
    #[error("total {total} is not the sum of the shard counts {sum}")]
    TotalMismatch {
        /// `total` field.
        total: u64,
        /// Sum of counts.
        sum: u64,
    },
    /// A shard file that is absolute, empty or leaves the manifest's directory.
    #[error("shard {index} file {file:?} must be a relative path inside the manifest's directory")]
    BadFile {
        /// Position of the shard.
        index: usize,
        /// The file field.
        file: String,
    },
    /// The same file listed twice.
    #[error("shard {index} file {file:?} is listed twice")]
    DuplicateFile {
        /// Position of the second listing.
        index: usize,
        /// The file field.
        file: String,
    },
    /// Counts whose sum does not fit the platform's index type.
    #[error("the shard counts overflow this platform's index type")]
    TooLarge,
}

impl ShardError {
    /// `source` of shard `index` at `path`.
    pub(crate) fn shard(index: usize, path: &std::path::Path) -> impl FnOnce(HvError) -> ShardError + '_ {
        move |source| ShardError::Shard {
            index,
            path: path.to_path_buf(),
            source,
        }
    }
}

impl From<zc_buffers::BufferError> for ShardError {
    fn from(e: zc_buffers::BufferError) -> ShardError {
        ShardError::Hv(HvError::Buffer(e))
    }
}
