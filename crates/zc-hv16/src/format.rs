//! The on-disk formats: the [`HvStore`](crate::HvStore) file (header versions
//! 1 and 2, data checksums) and the [`ItemMemory`](crate::ItemMemory) names
//! sidecar, for tools that read, write or repair them.
//!
//! ## Store file format (version 2, little-endian)
//!
//! | offset | size | field                                                     |
//! |-------:|-----:|-----------------------------------------------------------|
//! | 0      | 8    | magic `b"ZCHV16ST"`                                       |
//! | 8      | 4    | format version, `2` (version `1` files are still read)    |
//! | 12     | 4    | dimension in bits, `2048`                                 |
//! | 16     | 8    | vector count `n`                                          |
//! | 24     | 8    | generator id: `0` unspecified, `1` SplitMix64 v1 ([`HV16::random`](crate::HV16::random)) |
//! | 32     | 8    | data offset, `4096`                                       |
//! | 40     | 4    | CRC-32C of bytes `4096 .. 4096 + 256·n` ([`data_crc32c`]) |
//! | 44     | 28   | zero (reserved; a non-zero byte is an error)              |
//! | 72     | 8    | header checksum: FNV-1a 64 of bytes 0..72                 |
//! | 80     | 4016 | zero (reserved)                                           |
//! | 4096   | 256·n | the vectors, word 0 first, each word little-endian       |
//!
//! Version 1 differs only at bytes 40..72: four 64-bit lane states of a slower
//! checksum ([`data_checksum`]). A version-1 file opens, verifies and appends
//! in place as version 1 (older builds keep reading it); [`HvStore::create`](crate::HvStore::create)
//! writes version 2.
//!
//! The file may be longer than `4096 + 256·n` (reserved capacity for appends);
//! bytes past the count are ignored. Only little-endian hosts are supported.
//!
//! ## Names sidecar format
//!
//! An [`ItemMemory`](crate::ItemMemory) keeps its names in `<store path>.names`
//! ([`names_path`]).
//!
//! Version 2 (written by [`ItemMemory::create`](crate::ItemMemory::create)):
//! the magic [`NAMES_MAGIC_V2`], then one record per vector, in store order:
//! a `u32` byte length, a `u32` CRC-32C ([`names_record_crc`]), and that many
//! bytes of UTF-8 (integers little-endian). The CRC covers the record's index
//! (`u64`), its length (`u32`) and its bytes, so a flipped, swapped or
//! truncated record is an [`HvError::NamesChecksum`] or
//! [`HvError::CorruptNames`] naming the sidecar and the record's byte offset,
//! never a wrong name.
//!
//! Version 1 ([`NAMES_MAGIC`]): the same records without the CRC. It is still
//! opened, and appended to as version 1; its names are not protected against
//! corruption (recreate the item memory to upgrade).

use std::path::{Path, PathBuf};

use crate::error::{HvError, Result};
use crate::hv::{BYTES, DIM, GENERATOR_SPLITMIX64_V1, HV16, fnv1a64};

/// The 8 bytes every store starts with.
pub const MAGIC: [u8; 8] = *b"ZCHV16ST";
/// The format version this build writes (it reads versions 1 and 2).
pub const VERSION: u32 = 2;
/// The first format version: data checksummed by four 64-bit lanes
/// ([`data_checksum`]); still read, and appended to in place.
pub const VERSION_1: u32 = 1;
/// Byte offset of the first vector (one page: the mapping starts page-aligned).
pub const DATA_OFFSET: u64 = 4096;
/// Bytes of the header that carry fields (the rest of the page is zero).
pub const HEADER_USED: usize = 80;
/// Byte offset of the header checksum (FNV-1a 64 of the bytes before it).
pub const HEADER_CHECKSUM_OFFSET: u64 = 72;
/// Generator id meaning "vectors of unknown origin".
pub const GENERATOR_UNSPECIFIED: u64 = 0;

/// The version-1 lane states of an empty store.
pub(crate) const LANE_INIT: [u64; 4] = [
    0x243F_6A88_85A3_08D3,
    0x1319_8A2E_0370_7344,
    0xA409_3822_299F_31D0,
    0x082E_FA98_EC4E_6C89,
];

/// Version-1 streaming data checksum: lane `l` folds words `l, l+4, l+8, …`
/// of the data as `h = (h ^ w) * 0x9E3779B97F4A7C15; h ^= h >> 29`, starting
/// from the first hex digits of π. The header stores the four lane states so
/// appends extend the checksum without rereading the file. (Version 2 uses
/// CRC-32C instead: 15.0 vs 9.9 GB/s on the machine in the README.)
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

/// One number from the four version-1 lane states (what error messages show).
pub fn fold_lanes(l: [u64; 4]) -> u64 {
    l[0] ^ l[1].rotate_left(16) ^ l[2].rotate_left(32) ^ l[3].rotate_left(48)
}

/// Version-2 data checksum: CRC-32C (Castagnoli) of the vector bytes,
/// extended from `crc` (the checksum of the vectors before them; `0` for none).
pub fn data_crc32c(crc: u32, vs: &[HV16]) -> u32 {
    crc32c::crc32c_append(crc, HV16::as_bytes(vs))
}

/// The decoded header of a store.
///
/// | offset | size | version 1                         | version 2                  |
/// |-------:|-----:|-----------------------------------|----------------------------|
/// | 0      | 8    | magic `b"ZCHV16ST"`               | same                       |
/// | 8      | 4    | `1`                               | `2`                        |
/// | 12     | 4    | dimension in bits, `2048`         | same                       |
/// | 16     | 8    | vector count `n`                  | same                       |
/// | 24     | 8    | generator id                      | same                       |
/// | 32     | 8    | data offset, `4096`               | same                       |
/// | 40     | 32   | 4 lane states ([`data_checksum`]) | CRC-32C of the data (4 bytes), then 28 zero bytes |
/// | 72     | 8    | FNV-1a 64 of bytes 0..72          | same                       |
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    /// Format version (1 or 2).
    pub version: u32,
    /// Bits per vector.
    pub dimension: u32,
    /// Number of vectors.
    pub count: u64,
    /// Generator id.
    pub generator: u64,
    /// Data offset.
    pub data_offset: u64,
    /// Version 1: data checksum lane states. Version 2: all zero.
    pub data_lanes: [u64; 4],
    /// Version 2: CRC-32C of the committed vectors. Version 1: zero.
    pub data_crc32c: u32,
}

impl Header {
    /// A fresh version-2 header of an empty store.
    pub(crate) fn new_v2(generator: u64) -> Header {
        Header {
            version: VERSION,
            dimension: DIM as u32,
            count: 0,
            generator,
            data_offset: DATA_OFFSET,
            data_lanes: [0; 4],
            data_crc32c: 0,
        }
    }

    /// Checks `vs` against the stored data checksum: the full state (all
    /// four lanes for version 1, not their 64-bit fold, which a crafted header
    /// can match with wrong lanes). On a mismatch returns (stored, computed)
    /// as single numbers for the error message.
    pub(crate) fn check_data(&self, vs: &[HV16]) -> std::result::Result<(), (u64, u64)> {
        if self.version == VERSION_1 {
            let lanes = data_checksum(LANE_INIT, vs);
            if lanes != self.data_lanes {
                return Err((fold_lanes(self.data_lanes), fold_lanes(lanes)));
            }
        } else {
            let crc = data_crc32c(0, vs);
            if crc != self.data_crc32c {
                return Err((u64::from(self.data_crc32c), u64::from(crc)));
            }
        }
        Ok(())
    }

    /// Extends the data checksum over vectors appended after the current ones.
    pub(crate) fn extend_checksum(&mut self, vs: &[HV16]) {
        if self.version == VERSION_1 {
            self.data_lanes = data_checksum(self.data_lanes, vs);
        } else {
            self.data_crc32c = data_crc32c(self.data_crc32c, vs);
        }
    }

    /// The 80 header bytes (fields and header checksum).
    pub(crate) fn encode(&self) -> [u8; HEADER_USED] {
        let mut b = [0u8; HEADER_USED];
        b[0..8].copy_from_slice(&MAGIC);
        b[8..12].copy_from_slice(&self.version.to_le_bytes());
        b[12..16].copy_from_slice(&self.dimension.to_le_bytes());
        b[16..24].copy_from_slice(&self.count.to_le_bytes());
        b[24..32].copy_from_slice(&self.generator.to_le_bytes());
        b[32..40].copy_from_slice(&self.data_offset.to_le_bytes());
        if self.version == VERSION_1 {
            for (i, l) in self.data_lanes.iter().enumerate() {
                b[40 + 8 * i..48 + 8 * i].copy_from_slice(&l.to_le_bytes());
            }
        } else {
            b[40..44].copy_from_slice(&self.data_crc32c.to_le_bytes());
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
        if version != VERSION && version != VERSION_1 {
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
        if version == VERSION
            && let Some(i) = b[44..72].iter().position(|&x| x != 0)
        {
            return Err(HvError::ReservedNotZero {
                path: path_buf(),
                offset: 44 + i as u64,
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
        let (data_lanes, data_crc32c) = if version == VERSION_1 {
            ([u64_at(40), u64_at(48), u64_at(56), u64_at(64)], 0)
        } else {
            ([0; 4], u32_at(40))
        };
        Ok(Header {
            version,
            dimension,
            count,
            generator,
            data_offset,
            data_lanes,
            data_crc32c,
        })
    }
}

/// First 8 bytes of a version-1 names sidecar (records without checksums).
pub const NAMES_MAGIC: [u8; 8] = *b"ZCHVNAME";
/// First 8 bytes of a version-2 names sidecar (checksummed records).
pub const NAMES_MAGIC_V2: [u8; 8] = *b"ZCHVNAM2";
/// Longest symbol name, in bytes.
pub const MAX_NAME_LEN: usize = 1 << 16;

/// The checksum a version-2 names record `index` holding `name` carries:
/// CRC-32C of `index` as a little-endian `u64`, the length as a
/// little-endian `u32`, then the bytes (names longer than [`MAX_NAME_LEN`]
/// are never valid).
pub fn names_record_crc(index: usize, name: &[u8]) -> u32 {
    let len = name.len() as u32; // ok: truncation only for names never valid
    let crc = crc32c::crc32c_append(0, &(index as u64).to_le_bytes());
    let crc = crc32c::crc32c_append(crc, &len.to_le_bytes());
    crc32c::crc32c_append(crc, name)
}

/// The names sidecar path for a store path: `<store>.names`.
pub fn names_path(store: &Path) -> PathBuf {
    let mut s = store.as_os_str().to_os_string();
    s.push(".names");
    PathBuf::from(s)
}
