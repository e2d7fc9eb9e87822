//! [`HvStore`]: a file of 2048-bit vectors, memory-mapped read-only and read
//! as `&[HV16]` with zero copies.
//!
//! ## File format (version 1, little-endian)
//!
//! | offset | size | field                                                     |
//! |-------:|-----:|-----------------------------------------------------------|
//! | 0      | 8    | magic `b"ZCHV16ST"`                                       |
//! | 8      | 4    | format version, `1`                                       |
//! | 12     | 4    | dimension in bits, `2048`                                 |
//! | 16     | 8    | vector count `n`                                          |
//! | 24     | 8    | generator id: `0` unspecified, `1` SplitMix64 v1 ([`HV16::random`]) |
//! | 32     | 8    | data offset, `4096`                                       |
//! | 40     | 32   | data checksum state (4 × u64, see [`data_checksum`])      |
//! | 72     | 8    | header checksum: FNV-1a 64 of bytes 0..72                 |
//! | 80     | 4016 | zero (reserved)                                           |
//! | 4096   | 256·n | the vectors, word 0 first, each word little-endian       |
//!
//! The file may be longer than `4096 + 256·n` (reserved capacity for appends);
//! bytes past the count are ignored. Only little-endian hosts are supported.
//!
//! ## Crash consistency
//!
//! An append writes the new vectors past the current count, syncs them, and
//! only then rewrites the header (count, data checksum, header checksum) and
//! syncs again. A crash before the header write leaves the old header, which
//! opens with the old count; a torn header fails its checksum; a file cut short
//! fails with [`HvError::CountExceedsFile`]. No state opens with garbage.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use zc_buffers::{Advice, CopyKind, HostBufferExt, MmapBuf, MmapOptions, ledger};

use crate::error::{HvError, Result, io_err};
use crate::hv::{BYTES, DIM, GENERATOR_SPLITMIX64_V1, HV16, fnv1a64};

/// The 8 bytes every store starts with.
pub const MAGIC: [u8; 8] = *b"ZCHV16ST";
/// The format version this build reads and writes.
pub const VERSION: u32 = 1;
/// Byte offset of the first vector (one page: the mapping starts page-aligned).
pub const DATA_OFFSET: u64 = 4096;
/// Bytes of the header that carry fields (the rest of the page is zero).
pub const HEADER_USED: usize = 80;
/// Generator id meaning "vectors of unknown origin".
pub const GENERATOR_UNSPECIFIED: u64 = 0;

const LANE_INIT: [u64; 4] = [
    0x243F_6A88_85A3_08D3,
    0x1319_8A2E_0370_7344,
    0xA409_3822_299F_31D0,
    0x082E_FA98_EC4E_6C89,
];

/// Streaming data checksum: lane `l` folds words `l, l+4, l+8, …` of the data
/// as `h = (h ^ w) * 0x9E3779B97F4A7C15; h ^= h >> 29`, starting from the first
/// hex digits of π. The header stores the four lane states so appends extend
/// the checksum without rereading the file.
pub fn data_checksum(mut lanes: [u64; 4], vs: &[HV16]) -> [u64; 4] {
    for v in vs {
        for quad in v.words.chunks_exact(4) {
            for (h, &w) in lanes.iter_mut().zip(quad) {
                *h = (*h ^ w).wrapping_mul(0x9E37_79B9_7F4A_7C15);
                *h ^= *h >> 29;
            }
        }
    }
    lanes
}

/// One number from the four lane states (what error messages show).
pub fn fold_lanes(l: [u64; 4]) -> u64 {
    l[0] ^ l[1].rotate_left(16) ^ l[2].rotate_left(32) ^ l[3].rotate_left(48)
}

/// The decoded header of a store.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    /// Format version.
    pub version: u32,
    /// Bits per vector.
    pub dimension: u32,
    /// Number of vectors.
    pub count: u64,
    /// Generator id.
    pub generator: u64,
    /// Data offset.
    pub data_offset: u64,
    /// Data checksum lane states.
    pub data_lanes: [u64; 4],
}

impl Header {
    fn encode(&self) -> [u8; HEADER_USED] {
        let mut b = [0u8; HEADER_USED];
        b[0..8].copy_from_slice(&MAGIC);
        b[8..12].copy_from_slice(&self.version.to_le_bytes());
        b[12..16].copy_from_slice(&self.dimension.to_le_bytes());
        b[16..24].copy_from_slice(&self.count.to_le_bytes());
        b[24..32].copy_from_slice(&self.generator.to_le_bytes());
        b[32..40].copy_from_slice(&self.data_offset.to_le_bytes());
        for (i, l) in self.data_lanes.iter().enumerate() {
            b[40 + 8 * i..48 + 8 * i].copy_from_slice(&l.to_le_bytes());
        }
        let sum = fnv1a64(&b[..72]);
        b[72..80].copy_from_slice(&sum.to_le_bytes());
        b
    }

    /// Decodes and validates a header against a file of `file_len` bytes.
    pub fn decode(b: &[u8; HEADER_USED], file_len: u64, path: &Path) -> Result<Header> {
        let u32_at = |o: usize| u32::from_le_bytes([b[o], b[o + 1], b[o + 2], b[o + 3]]);
        let u64_at = |o: usize| {
            let mut w = [0u8; 8];
            w.copy_from_slice(&b[o..o + 8]);
            u64::from_le_bytes(w)
        };
        let path_buf = || path.to_path_buf();
        let mut magic = [0u8; 8];
        magic.copy_from_slice(&b[0..8]);
        if magic != MAGIC {
            return Err(HvError::BadMagic {
                path: path_buf(),
                found: magic,
                expected: MAGIC,
            });
        }
        let version = u32_at(8);
        if version != VERSION {
            return Err(HvError::UnsupportedVersion {
                path: path_buf(),
                found: version,
                supported: VERSION,
            });
        }
        let dimension = u32_at(12);
        if dimension as usize != DIM {
            return Err(HvError::WrongDimension {
                path: path_buf(),
                found: dimension,
                expected: DIM as u32,
            });
        }
        let stored = u64_at(72);
        let computed = fnv1a64(&b[..72]);
        if stored != computed {
            return Err(HvError::HeaderChecksum {
                path: path_buf(),
                stored,
                computed,
            });
        }
        let generator = u64_at(24);
        if generator != GENERATOR_UNSPECIFIED && generator != GENERATOR_SPLITMIX64_V1 {
            return Err(HvError::UnknownGenerator {
                path: path_buf(),
                found: generator,
            });
        }
        let data_offset = u64_at(32);
        if data_offset != DATA_OFFSET {
            return Err(HvError::BadDataOffset {
                path: path_buf(),
                found: data_offset,
                expected: DATA_OFFSET,
            });
        }
        let count = u64_at(16);
        let needed = count
            .checked_mul(BYTES as u64)
            .and_then(|d| d.checked_add(DATA_OFFSET))
            .unwrap_or(u64::MAX);
        if needed > file_len {
            return Err(HvError::CountExceedsFile {
                path: path_buf(),
                count,
                needed,
                file_len,
            });
        }
        Ok(Header {
            version,
            dimension,
            count,
            generator,
            data_offset,
            data_lanes: [u64_at(40), u64_at(48), u64_at(56), u64_at(64)],
        })
    }
}

/// A memory-mapped store of [`HV16`] vectors. See the [module docs](self) for
/// the format. [`HvStore::vectors`] is a `&[HV16]` straight over the page
/// cache; every search in [`crate::search`] runs on it directly.
#[derive(Debug)]
pub struct HvStore {
    path: PathBuf,
    /// Present when opened for writing.
    file: Option<File>,
    /// Maps vectors `0..capacity` (read-only opens: `0..count`). `None` when empty.
    map: Option<MmapBuf>,
    header: Header,
    capacity: usize,
    durable: bool,
}

impl HvStore {
    /// Creates (or truncates) a store at `path` with generator id 0 (unspecified).
    pub fn create(path: impl AsRef<Path>) -> Result<HvStore> {
        Self::create_with_generator(path, GENERATOR_UNSPECIFIED)
    }

    /// Creates (or truncates) a store recording `generator` (0 or
    /// [`GENERATOR_SPLITMIX64_V1`]) as the origin of its vectors.
    pub fn create_with_generator(path: impl AsRef<Path>, generator: u64) -> Result<HvStore> {
        let path = path.as_ref();
        if generator != GENERATOR_UNSPECIFIED && generator != GENERATOR_SPLITMIX64_V1 {
            return Err(HvError::UnknownGenerator {
                path: path.to_path_buf(),
                found: generator,
            });
        }
        check_endian(path)?;
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(path)
            .map_err(io_err("create", path))?;
        file.set_len(DATA_OFFSET).map_err(io_err("set_len", path))?;
        let mut store = HvStore {
            path: path.to_path_buf(),
            file: Some(file),
            map: None,
            header: Header {
                version: VERSION,
                dimension: DIM as u32,
                count: 0,
                generator,
                data_offset: DATA_OFFSET,
                data_lanes: LANE_INIT,
            },
            capacity: 0,
            durable: true,
        };
        store.write_header()?;
        Ok(store)
    }

    /// Opens a store read-only and maps its vectors (no copy). Validates the
    /// header; does not read the data (see [`HvStore::verify`]).
    pub fn open(path: impl AsRef<Path>) -> Result<HvStore> {
        Self::open_impl(path.as_ref(), false)
    }

    /// Opens a store for reading and appending.
    pub fn open_rw(path: impl AsRef<Path>) -> Result<HvStore> {
        Self::open_impl(path.as_ref(), true)
    }

    fn open_impl(path: &Path, writable: bool) -> Result<HvStore> {
        check_endian(path)?;
        let mut file = OpenOptions::new()
            .read(true)
            .write(writable)
            .open(path)
            .map_err(io_err("open", path))?;
        let file_len = file.metadata().map_err(io_err("stat", path))?.len();
        if file_len < DATA_OFFSET {
            return Err(HvError::TruncatedHeader {
                path: path.to_path_buf(),
                len: file_len,
                header: DATA_OFFSET,
            });
        }
        let mut raw = [0u8; HEADER_USED];
        file.read_exact(&mut raw).map_err(io_err("read header", path))?;
        let header = Header::decode(&raw, file_len, path)?;
        let count = usize::try_from(header.count).map_err(|_| HvError::TooLarge { count: header.count })?;
        let capacity = if writable {
            usize::try_from((file_len - DATA_OFFSET) / BYTES as u64)
                .map_err(|_| HvError::TooLarge { count: header.count })?
        } else {
            count
        };
        let mut store = HvStore {
            path: path.to_path_buf(),
            file: writable.then_some(file),
            map: None,
            header,
            capacity,
            durable: true,
        };
        store.remap()?;
        Ok(store)
    }

    fn remap(&mut self) -> Result<()> {
        self.map = None;
        if self.capacity == 0 {
            return Ok(());
        }
        let len = self.capacity.checked_mul(BYTES).ok_or(HvError::TooLarge {
            count: self.capacity as u64,
        })?;
        let map = MmapOptions::new()
            .offset(DATA_OFFSET)
            .len(len)
            .advice(Advice::Sequential)
            .open(&self.path)?;
        // Validate once that the mapping casts (page-aligned, multiple of 256).
        map.as_slice::<HV16>()?;
        self.map = Some(map);
        Ok(())
    }

    /// The vectors, straight over the mapping (zero copies).
    pub fn vectors(&self) -> &[HV16] {
        let Some(map) = &self.map else { return &[] };
        let all = map.as_slice::<HV16>().unwrap_or(&[]); // ok: checked castable in remap
        all.get(..self.len()).unwrap_or(all) // ok: count <= capacity by construction
    }

    /// Vector `i`, if `i < len()`.
    pub fn get(&self, i: usize) -> Option<&HV16> {
        self.vectors().get(i)
    }

    /// Number of vectors.
    pub fn len(&self) -> usize {
        self.header.count as usize // ok: checked to fit usize at open / append
    }

    /// Whether the store holds no vectors.
    pub fn is_empty(&self) -> bool {
        self.header.count == 0
    }

    /// The decoded header.
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The generator id recorded in the header.
    pub fn generator(&self) -> u64 {
        self.header.generator
    }

    /// Whether the store can be appended to.
    pub fn is_writable(&self) -> bool {
        self.file.is_some()
    }

    /// Vectors the file has room for without growing.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// With `false`, appends skip `fsync` (the data-then-header order still
    /// protects against a crash of this process, not of the machine). Default `true`.
    pub fn set_durable(&mut self, durable: bool) {
        self.durable = durable;
    }

    /// Reads all vectors and checks them against the header's data checksum.
    pub fn verify(&self) -> Result<()> {
        let lanes = data_checksum(LANE_INIT, self.vectors());
        if lanes != self.header.data_lanes {
            return Err(HvError::DataChecksum {
                path: self.path.clone(),
                stored: fold_lanes(self.header.data_lanes),
                computed: fold_lanes(lanes),
            });
        }
        Ok(())
    }

    fn writable_file(&self) -> Result<&File> {
        self.file.as_ref().ok_or_else(|| HvError::ReadOnly {
            path: self.path.clone(),
        })
    }

    /// Grows the file so that `additional` more vectors fit without remapping.
    pub fn reserve(&mut self, additional: usize) -> Result<()> {
        let need = self
            .len()
            .checked_add(additional)
            .ok_or(HvError::TooLarge { count: u64::MAX })?;
        self.grow_to(need)
    }

    fn grow_to(&mut self, capacity: usize) -> Result<()> {
        if capacity <= self.capacity {
            return Ok(());
        }
        let bytes = (capacity as u64)
            .checked_mul(BYTES as u64)
            .and_then(|b| b.checked_add(DATA_OFFSET))
            .filter(|_| capacity.checked_mul(BYTES).is_some())
            .ok_or(HvError::TooLarge { count: capacity as u64 })?;
        let file = self.writable_file()?;
        file.set_len(bytes).map_err(io_err("set_len", &self.path))?;
        self.capacity = capacity;
        self.remap()
    }

    /// Truncates reserved capacity so the file is exactly header + data.
    pub fn shrink_to_fit(&mut self) -> Result<()> {
        let count = self.len();
        let file = self.writable_file()?;
        file.set_len(DATA_OFFSET + count as u64 * BYTES as u64)
            .map_err(io_err("set_len", &self.path))?;
        self.capacity = count;
        self.remap()
    }

    /// Appends vectors: data first, then the header (see the module docs).
    /// The file grows by at least half its capacity when full, so repeated
    /// small appends remap rarely. Returns the index of the first new vector.
    /// The bytes written are recorded in the copy ledger as `CopyKind::Other`.
    pub fn append(&mut self, vs: &[HV16]) -> Result<usize> {
        let first = self.len();
        self.writable_file()?;
        if vs.is_empty() {
            return Ok(first);
        }
        let new_count = first
            .checked_add(vs.len())
            .filter(|n| n.checked_mul(BYTES).is_some())
            .ok_or(HvError::TooLarge { count: u64::MAX })?;
        if new_count > self.capacity {
            let grown = self.capacity.saturating_add(self.capacity / 2).max(new_count).max(16);
            self.grow_to(grown)?;
        }
        let file = self.writable_file()?;
        let bytes = HV16::as_bytes(vs);
        let mut f = file;
        f.seek(SeekFrom::Start(DATA_OFFSET + first as u64 * BYTES as u64))
            .map_err(io_err("seek", &self.path))?;
        f.write_all(bytes).map_err(io_err("write", &self.path))?;
        ledger::record_copy(CopyKind::Other, bytes.len());
        if self.durable {
            file.sync_data().map_err(io_err("fsync", &self.path))?;
        }
        self.header.data_lanes = data_checksum(self.header.data_lanes, vs);
        self.header.count = new_count as u64;
        self.write_header()?;
        Ok(first)
    }

    /// Appends one vector; returns its index.
    pub fn push(&mut self, v: &HV16) -> Result<usize> {
        self.append(std::slice::from_ref(v))
    }

    /// Syncs the file to disk.
    pub fn flush(&self) -> Result<()> {
        self.writable_file()?.sync_all().map_err(io_err("fsync", &self.path))
    }

    fn write_header(&mut self) -> Result<()> {
        let raw = self.header.encode();
        let durable = self.durable;
        let path = self.path.clone();
        let mut f = self.writable_file()?;
        f.seek(SeekFrom::Start(0)).map_err(io_err("seek", &path))?;
        f.write_all(&raw).map_err(io_err("write header", &path))?;
        if durable {
            f.sync_data().map_err(io_err("fsync", &path))?;
        }
        Ok(())
    }
}

fn check_endian(path: &Path) -> Result<()> {
    if cfg!(target_endian = "big") {
        return Err(HvError::Io {
            op: "open (big-endian hosts are not supported)",
            path: path.to_path_buf(),
            source: std::io::Error::from(std::io::ErrorKind::Unsupported),
        });
    }
    Ok(())
}
