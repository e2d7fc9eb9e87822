//! [`ItemMemory`]: named symbols ↔ vectors on top of an [`HvStore`], with cleanup.
//!
//! The names live in a sidecar file `<store path>.names`.
//!
//! Version 2 (written by [`ItemMemory::create`]): the magic `b"ZCHVNAM2"`,
//! then one record per vector, in store order: a `u32` byte length, a `u32`
//! CRC-32C, and that many bytes of UTF-8 (integers little-endian). The CRC
//! covers the record's index (`u64`), its length (`u32`) and its bytes, so a
//! flipped, swapped or truncated record is an [`HvError::NamesChecksum`] or
//! [`HvError::CorruptNames`] naming the sidecar and the record's byte offset,
//! never a wrong name.
//!
//! Version 1 (magic `b"ZCHVNAME"`): the same records without the CRC. It is
//! still opened, and appended to as version 1; its names are not protected
//! against corruption (recreate the item memory to upgrade).
//!
//! An insert appends the name record first and the vector second, so after a
//! crash the sidecar may hold one name more than the store; opening drops such
//! extra names (and a torn trailing record), while a sidecar with fewer names
//! than the store has vectors is reported as corrupt.
//!
//! A writable item memory holds its store's writer lock (see the
//! [single-writer rule](crate::store#one-writer-many-readers)); the lock on
//! the store also guards the sidecar.

use std::collections::HashMap;
use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use crate::error::{HvError, Result, io_err};
use crate::hv::HV16;
use crate::kernels::Kernel;
use crate::search::Hit;
use crate::store::{HvStore, OpenOptions};

/// First 8 bytes of a version-1 names sidecar (records without checksums).
pub const NAMES_MAGIC: [u8; 8] = *b"ZCHVNAME";
/// First 8 bytes of a version-2 names sidecar (checksummed records).
pub const NAMES_MAGIC_V2: [u8; 8] = *b"ZCHVNAM2";
/// Longest symbol name, in bytes.
pub const MAX_NAME_LEN: usize = 1 << 16;

/// The result of [`ItemMemory::cleanup`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cleaned<'a> {
    /// Index of the nearest symbol.
    pub index: usize,
    /// Its name.
    pub name: &'a str,
    /// Hamming distance from the query.
    pub distance: u32,
}

/// Named symbols stored as vectors in an on-disk [`HvStore`].
#[derive(Debug)]
pub struct ItemMemory {
    store: HvStore,
    names: Vec<String>,
    by_name: HashMap<String, usize>,
    names_path: PathBuf,
    names_file: Option<File>,
    /// Whether the sidecar is version 2 (checksummed records).
    names_v2: bool,
    /// Byte length of the sidecar's committed records (where the next goes).
    names_end: u64,
}

/// The checksum a version-2 names record `index` holding `name` carries:
/// CRC-32C of `index` as a little-endian `u64`, the length as a
/// little-endian `u32`, then the bytes (for tools that write or repair
/// sidecars; names longer than [`MAX_NAME_LEN`] are never valid).
pub fn names_record_crc(index: usize, name: &[u8]) -> u32 {
    record_crc(index, name)
}

fn record_crc(index: usize, name: &[u8]) -> u32 {
    let len = name.len() as u32; // ok: truncation only for names never valid
    let crc = crc32c::crc32c_append(0, &(index as u64).to_le_bytes());
    let crc = crc32c::crc32c_append(crc, &len.to_le_bytes());
    crc32c::crc32c_append(crc, name)
}

/// The sidecar path for a store path.
pub fn names_path(store: &Path) -> PathBuf {
    let mut s = store.as_os_str().to_os_string();
    s.push(".names");
    PathBuf::from(s)
}

impl ItemMemory {
    /// Creates (or truncates) a store and its version-2 names sidecar, locked
    /// for writing (fails with [`HvError::Locked`] if another handle writes it).
    pub fn create(path: impl AsRef<Path>) -> Result<ItemMemory> {
        let path = path.as_ref();
        let store = HvStore::create(path)?;
        let np = names_path(path);
        let mut f = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&np)
            .map_err(io_err("create", &np))?;
        f.write_all(&NAMES_MAGIC_V2).map_err(io_err("write", &np))?;
        f.sync_data().map_err(io_err("fsync", &np))?;
        Ok(ItemMemory {
            store,
            names: Vec::new(),
            by_name: HashMap::new(),
            names_path: np,
            names_file: Some(f),
            names_v2: true,
            names_end: NAMES_MAGIC_V2.len() as u64,
        })
    }

    /// Opens a store and sidecar for reading and inserting, verified (see
    /// [`HvStore::open`]). Takes the store's writer lock: fails with
    /// [`HvError::Locked`] while another handle, in any process, writes it.
    pub fn open(path: impl AsRef<Path>) -> Result<ItemMemory> {
        OpenOptions::new().write(true).open_item_memory(path)
    }

    /// Opens a store and sidecar read-only (cleanup and lookups only),
    /// verified; takes no lock.
    pub fn open_read_only(path: impl AsRef<Path>) -> Result<ItemMemory> {
        OpenOptions::new().open_item_memory(path)
    }

    /// Opens with explicit [`OpenOptions`] (e.g. without the data pass).
    pub fn open_with(path: impl AsRef<Path>, options: OpenOptions) -> Result<ItemMemory> {
        Self::open_impl(path.as_ref(), options)
    }

    pub(crate) fn open_impl(path: &Path, options: OpenOptions) -> Result<ItemMemory> {
        let writable = options.is_write();
        let store = options.open(path)?;
        let np = names_path(path);
        let mut f = std::fs::OpenOptions::new()
            .read(true)
            .write(writable)
            .open(&np)
            .map_err(io_err("open", &np))?;
        let mut raw = Vec::new();
        f.read_to_end(&mut raw).map_err(io_err("read", &np))?;
        let corrupt = |offset: usize, reason: String| HvError::CorruptNames {
            path: np.clone(),
            offset: offset as u64,
            reason,
        };
        let names_v2 = match raw.get(..8) {
            Some(m) if m == NAMES_MAGIC_V2 => true,
            Some(m) if m == NAMES_MAGIC => false,
            _ => return Err(corrupt(0, "bad magic (not a zc-hv16 names sidecar)".to_string())),
        };
        let head = if names_v2 { 8 } else { 4 };
        let want = store.len();
        let mut names = Vec::new();
        names
            .try_reserve(want.min(raw.len() / head))
            .map_err(|_| HvError::TooLarge { count: want as u64 })?;
        let mut by_name = HashMap::new();
        let mut pos = 8usize;
        while names.len() < want {
            let index = names.len();
            let Some(rec_head) = raw.get(pos..).and_then(|r| r.get(..head)) else {
                return Err(corrupt(pos, format!("{index} names for {want} vectors")));
            };
            let len = u32::from_le_bytes([rec_head[0], rec_head[1], rec_head[2], rec_head[3]]) as usize;
            if len > MAX_NAME_LEN {
                return Err(corrupt(pos, format!("name length {len} exceeds {MAX_NAME_LEN}")));
            }
            let body_at = pos + head; // ok: pos + head <= raw.len()
            let Some(body) = raw.get(body_at..).and_then(|r| r.get(..len)) else {
                return Err(corrupt(pos, "record runs past the end of the file".to_string()));
            };
            if names_v2 {
                let stored = u32::from_le_bytes([rec_head[4], rec_head[5], rec_head[6], rec_head[7]]);
                let computed = record_crc(index, body);
                if stored != computed {
                    return Err(HvError::NamesChecksum {
                        path: np.clone(),
                        offset: pos as u64,
                        index,
                        stored,
                        computed,
                    });
                }
            }
            let name = std::str::from_utf8(body)
                .map_err(|_| corrupt(body_at, "name is not UTF-8".to_string()))?
                .to_string();
            if let Some(first) = by_name.insert(name.clone(), index) {
                return Err(corrupt(
                    pos,
                    format!("duplicate name `{name}` (first at index {first})"),
                ));
            }
            names.push(name);
            pos = body_at + len; // ok: within raw.len()
        }
        // Anything after the last complete record is a crashed insert: drop it.
        if writable && pos < raw.len() {
            f.set_len(pos as u64).map_err(io_err("set_len", &np))?;
        }
        Ok(ItemMemory {
            store,
            names,
            by_name,
            names_path: np,
            names_file: writable.then_some(f),
            names_v2,
            names_end: pos as u64,
        })
    }

    /// Inserts `name` with vector `v`; returns its index.
    pub fn insert(&mut self, name: &str, v: &HV16) -> Result<usize> {
        if let Some(&index) = self.by_name.get(name) {
            return Err(HvError::DuplicateName {
                name: name.to_string(),
                index,
            });
        }
        if name.len() > MAX_NAME_LEN {
            return Err(HvError::NameTooLong {
                len: name.len(),
                max: MAX_NAME_LEN,
            });
        }
        if !self.store.is_writable() {
            return Err(HvError::ReadOnly {
                path: self.store.path().to_path_buf(),
            });
        }
        let np = &self.names_path;
        let mut f = self
            .names_file
            .as_ref()
            .ok_or_else(|| HvError::ReadOnly { path: np.clone() })?;
        let index = self.names.len();
        let mut rec = Vec::new();
        rec.try_reserve(8 + name.len()).map_err(|_| HvError::NameTooLong {
            len: name.len(),
            max: MAX_NAME_LEN,
        })?;
        rec.extend_from_slice(&(name.len() as u32).to_le_bytes()); // ok: <= MAX_NAME_LEN
        if self.names_v2 {
            rec.extend_from_slice(&record_crc(index, name.as_bytes()).to_le_bytes());
        }
        rec.extend_from_slice(name.as_bytes());
        // Append at the end (drop a torn tail from an earlier failed write first).
        let end = self.names_end;
        f.set_len(end).map_err(io_err("set_len", np))?;
        std::io::Seek::seek(&mut f, std::io::SeekFrom::Start(end)).map_err(io_err("seek", np))?;
        f.write_all(&rec).map_err(io_err("write", np))?;
        if self.store.is_durable() {
            f.sync_data().map_err(io_err("fsync", np))?;
        }
        let index = self.store.push(v)?;
        self.names_end = end.saturating_add(rec.len() as u64);
        self.names.push(name.to_string());
        self.by_name.insert(name.to_string(), index);
        Ok(index)
    }

    /// The index of `name`, inserting `HV16::from_key(name)` if it is new.
    pub fn intern(&mut self, name: &str) -> Result<usize> {
        match self.by_name.get(name) {
            Some(&i) => Ok(i),
            None => self.insert(name, &HV16::from_key(name.as_bytes())),
        }
    }

    /// The vector of `name`.
    pub fn get(&self, name: &str) -> Option<&HV16> {
        self.by_name.get(name).and_then(|&i| self.store.get(i))
    }

    /// The index of `name`.
    pub fn index_of(&self, name: &str) -> Option<usize> {
        self.by_name.get(name).copied()
    }

    /// The name at `index`.
    pub fn name(&self, index: usize) -> Option<&str> {
        self.names.get(index).map(String::as_str)
    }

    /// All vectors (zero-copy over the store mapping).
    pub fn vectors(&self) -> &[HV16] {
        self.store.vectors()
    }

    /// The underlying store.
    pub fn store(&self) -> &HvStore {
        &self.store
    }

    /// Number of symbols.
    pub fn len(&self) -> usize {
        self.names.len()
    }

    /// Whether there are no symbols.
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// The nearest symbol to `query` (errors with [`HvError::Empty`] when empty).
    pub fn cleanup(&self, query: &HV16) -> Result<Cleaned<'_>> {
        let hit = Kernel::active().cleanup(self.vectors(), query)?;
        self.resolve(hit)
    }

    /// The `out.len()` nearest symbols into `out` (see [`Kernel::top_k_into`]).
    pub fn top_k_into(&self, query: &HV16, out: &mut [Hit]) -> Result<()> {
        Kernel::active().top_k_into(self.vectors(), query, out)
    }

    /// A hit with its name.
    pub fn resolve(&self, hit: Hit) -> Result<Cleaned<'_>> {
        let name = self.name(hit.index).ok_or(HvError::IndexOutOfRange {
            index: hit.index,
            len: self.len(),
        })?;
        Ok(Cleaned {
            index: hit.index,
            name,
            distance: hit.distance,
        })
    }
}
