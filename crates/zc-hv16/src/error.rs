//! The error type of every fallible zc-hv16 API.

use std::path::PathBuf;

use zc_buffers::BufferError;

/// Everything that can go wrong in zc-hv16. Variants carry the figures needed
/// to fix the call or locate the corruption (expected vs found, file offsets).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HvError {
    /// A failure shared by every zc crate, from zc-buffers: I/O on a file
    /// (`Io { op, path, source }`), an output too small, a SIMD level this
    /// CPU lacks, a panicked worker, a misaligned or ragged byte slice, a
    /// mapping failure, a refused allocation.
    #[error(transparent)]
    Buffer(#[from] BufferError),
    /// The file is shorter than the fixed-size store header.
    #[error("{path} is {len} bytes; a store needs at least a {header}-byte header")]
    TruncatedHeader {
        /// The file.
        path: PathBuf,
        /// Its length.
        len: u64,
        /// Header size.
        header: u64,
    },
    /// The first 8 bytes are not the store magic.
    #[error("{path}: bad magic {found:02x?} at offset 0 (expected {expected:02x?}); not a zc-hv16 store")]
    BadMagic {
        /// The file.
        path: PathBuf,
        /// What was found.
        found: [u8; 8],
        /// What a store starts with.
        expected: [u8; 8],
    },
    /// The header checksum does not match the header bytes.
    #[error(
        "{path}: header checksum mismatch at byte offset 72 over bytes 0..72 (stored {stored:#018x}, computed {computed:#018x}); the header is corrupt or torn"
    )]
    HeaderChecksum {
        /// The file.
        path: PathBuf,
        /// Checksum stored at offset 72.
        stored: u64,
        /// Checksum of bytes 0..72.
        computed: u64,
    },
    /// A store format version this build does not read.
    #[error(
        "{path}: store format version {found} at byte offset 8 is not supported (this build reads versions 1 to {supported})"
    )]
    UnsupportedVersion {
        /// The file.
        path: PathBuf,
        /// Version in the header.
        found: u32,
        /// The newest version this build reads (and the one it writes).
        supported: u32,
    },
    /// The header's dimension is not 2048 bits.
    #[error(
        "{path}: store holds {found}-bit vectors (header byte offset 12); this crate handles {expected}-bit vectors"
    )]
    WrongDimension {
        /// The file.
        path: PathBuf,
        /// Dimension in the header.
        found: u32,
        /// 2048.
        expected: u32,
    },
    /// The header names a random generator this build does not know.
    #[error("{path}: unknown generator id {found} at header byte offset 24")]
    UnknownGenerator {
        /// The file.
        path: PathBuf,
        /// Generator id in the header.
        found: u64,
    },
    /// The header's data offset is not the one the format defines.
    #[error("{path}: data offset {found} at header byte offset 32 (expected {expected})")]
    BadDataOffset {
        /// The file.
        path: PathBuf,
        /// Offset in the header.
        found: u64,
        /// The format's data offset.
        expected: u64,
    },
    /// The header promises more vectors than the file holds.
    #[error("{path}: header count {count} needs {needed} bytes but the file is {file_len} bytes")]
    CountExceedsFile {
        /// The file.
        path: PathBuf,
        /// Vector count in the header.
        count: u64,
        /// Bytes the header count needs (header + data).
        needed: u64,
        /// Actual file length.
        file_len: u64,
    },
    /// The committed vectors do not match the header's data checksum: a
    /// corrupt byte, a torn append, or a header that reached the disk before
    /// its data. Reported by opening (unless verification is off) and by
    /// `HvStore::verify`; the store is not returned.
    #[error(
        "{path}: data checksum mismatch over bytes {offset}..{end} (stored {stored:#018x}, computed {computed:#018x}); the vector data is corrupt or was never written",
        end = offset.saturating_add(*len)
    )]
    DataChecksum {
        /// The file.
        path: PathBuf,
        /// Byte offset of the checksummed region (the first vector).
        offset: u64,
        /// Bytes in the checksummed region (256 × count).
        len: u64,
        /// Checksum in the header.
        stored: u64,
        /// Checksum of the data.
        computed: u64,
    },
    /// A version-2 header has a non-zero byte in its reserved range.
    #[error("{path}: reserved header byte at offset {offset} is not zero")]
    ReservedNotZero {
        /// The file.
        path: PathBuf,
        /// Byte offset of the first non-zero reserved byte.
        offset: u64,
    },
    /// Another handle (in this process or another) has the store open for
    /// writing; a store has one writer at a time. Read-only opens are not
    /// affected.
    #[error(
        "{path} is open for writing by another handle (this process or another); one writer at a time, read-only opens are allowed"
    )]
    Locked {
        /// The store file.
        path: PathBuf,
    },
    /// The store was opened read-only and cannot be appended to.
    #[error("{path} was opened read-only; open it with open_rw to write")]
    ReadOnly {
        /// The file.
        path: PathBuf,
    },
    /// Appending would overflow the addressable size.
    #[error("{path}: store would hold {count} vectors, more than this platform can address")]
    TooLarge {
        /// The store file.
        path: PathBuf,
        /// Requested total count.
        count: u64,
    },
    /// A search over zero vectors.
    #[error("search over an empty set of vectors")]
    Empty,
    /// `k` is zero or larger than the number of vectors searched.
    #[error("k = {k} is invalid for {n} vectors (need 1 <= k <= n)")]
    InvalidK {
        /// Requested k.
        k: usize,
        /// Vectors searched.
        n: usize,
    },
    /// A level-encoder configuration or index out of range.
    #[error("level {index} is out of range for {n_levels} levels (need n_levels >= 2 and index < n_levels)")]
    LevelOutOfRange {
        /// Index asked for.
        index: usize,
        /// Number of levels.
        n_levels: usize,
    },
    /// An encoder range that is empty or not finite.
    #[error("encoder range [{lo}, {hi}] is invalid (need finite lo < hi)")]
    InvalidRange {
        /// Lower bound.
        lo: f64,
        /// Upper bound.
        hi: f64,
    },
    /// A NaN passed to a scalar encoder.
    #[error("cannot encode NaN")]
    NotANumber,
    /// A symbol name already present in the item memory.
    #[error("symbol `{name}` is already in the item memory (index {index})")]
    DuplicateName {
        /// The name.
        name: String,
        /// Where it is.
        index: usize,
    },
    /// A symbol name longer than the sidecar format allows.
    #[error("symbol name of {len} bytes is longer than the limit of {max}")]
    NameTooLong {
        /// Its length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// An index past the end of a store or item memory.
    #[error("index {index} is out of range for {len} items")]
    IndexOutOfRange {
        /// The index.
        index: usize,
        /// Number of items.
        len: usize,
    },
    /// A corrupt or inconsistent names sidecar file.
    #[error("{path}: corrupt names sidecar at byte {offset}: {problem}")]
    CorruptNames {
        /// The sidecar file.
        path: PathBuf,
        /// Byte offset of the problem.
        offset: u64,
        /// What is wrong.
        problem: NamesProblem,
    },
    /// A names sidecar record whose checksum does not match its bytes.
    #[error(
        "{path}: names record {index} at byte {offset} fails its checksum (stored {stored:#010x}, computed {computed:#010x})"
    )]
    NamesChecksum {
        /// The sidecar file.
        path: PathBuf,
        /// Byte offset of the record.
        offset: u64,
        /// Record (symbol) index.
        index: usize,
        /// Checksum in the record.
        stored: u32,
        /// Checksum of the record's index, length and bytes.
        computed: u32,
    },
}

/// What is wrong with a names sidecar ([`HvError::CorruptNames`]).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NamesProblem {
    /// The file does not start with a names magic.
    #[error("bad magic (not a zc-hv16 names sidecar)")]
    BadMagic,
    /// The sidecar ends before every vector has a name.
    #[error("{found} names for {expected} vectors")]
    TooFewNames {
        /// Complete records found.
        found: usize,
        /// Vectors in the store.
        expected: usize,
    },
    /// A record length above the format's limit.
    #[error("name length {len} exceeds {max}")]
    NameTooLong {
        /// The length in the record.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A record whose bytes run past the end of the file.
    #[error("record runs past the end of the file")]
    RecordPastEnd,
    /// A name that is not UTF-8.
    #[error("name is not UTF-8")]
    NotUtf8,
    /// A name that appears twice.
    #[error("duplicate name `{name}` (first at index {first})")]
    DuplicateName {
        /// The name.
        name: String,
        /// Index of its first record.
        first: usize,
    },
}

/// Shorthand for `Result<T, HvError>`.
pub type Result<T, E = HvError> = std::result::Result<T, E>;

/// An allocation of `count` elements of `T` that the allocator refused (a
/// caller-sized request reported as an error rather than an abort).
pub(crate) fn alloc_err<T>(count: usize) -> HvError {
    HvError::Buffer(BufferError::AllocFailed {
        len: count.saturating_mul(std::mem::size_of::<T>()),
        align: std::mem::align_of::<T>(),
    })
}

pub(crate) fn io_err<'a>(op: &'static str, path: &'a std::path::Path) -> impl FnOnce(std::io::Error) -> HvError + 'a {
    move |source| io_error(op, path, source)
}

/// An I/O error on `path` while doing `op`: the core's
/// [`BufferError::Io`], shared by every zc crate.
pub(crate) fn io_error(op: &'static str, path: &std::path::Path, source: std::io::Error) -> HvError {
    HvError::Buffer(BufferError::Io {
        op,
        path: path.to_path_buf(),
        source,
    })
}
