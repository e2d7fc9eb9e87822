//! [`ItemMemory`]: named symbols ↔ vectors on top of an [`HvStore`], with cleanup.
//!
//! The names live in a sidecar file `<store path>.names`: the magic
//! `b"ZCHVNAME"`, then one record per vector, in store order: a `u32`
//! little-endian byte length and that many bytes of UTF-8. An insert appends
//! the name record first and the vector second, so after a crash the sidecar
//! may hold one name more than the store; opening drops such extra names (and
//! a torn trailing record), while a sidecar with fewer names than the store has
//! vectors is reported as corrupt.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use crate::error::{HvError, Result, io_err};
use crate::hv::HV16;
use crate::kernels::Kernel;
use crate::search::Hit;
use crate::store::HvStore;

/// First 8 bytes of a names sidecar.
pub const NAMES_MAGIC: [u8; 8] = *b"ZCHVNAME";
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
}

/// The sidecar path for a store path.
pub fn names_path(store: &Path) -> PathBuf {
    let mut s = store.as_os_str().to_os_string();
    s.push(".names");
    PathBuf::from(s)
}

impl ItemMemory {
    /// Creates (or truncates) a store and its names sidecar.
    pub fn create(path: impl AsRef<Path>) -> Result<ItemMemory> {
        let path = path.as_ref();
        let store = HvStore::create(path)?;
        let np = names_path(path);
        let mut f = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&np)
            .map_err(io_err("create", &np))?;
        f.write_all(&NAMES_MAGIC).map_err(io_err("write", &np))?;
        f.sync_data().map_err(io_err("fsync", &np))?;
        Ok(ItemMemory {
            store,
            names: Vec::new(),
            by_name: HashMap::new(),
            names_path: np,
            names_file: Some(f),
        })
    }

    /// Opens a store and sidecar for reading and inserting.
    pub fn open(path: impl AsRef<Path>) -> Result<ItemMemory> {
        Self::open_impl(path.as_ref(), true)
    }

    /// Opens a store and sidecar read-only (cleanup and lookups only).
    pub fn open_read_only(path: impl AsRef<Path>) -> Result<ItemMemory> {
        Self::open_impl(path.as_ref(), false)
    }

    fn open_impl(path: &Path, writable: bool) -> Result<ItemMemory> {
        let store = if writable {
            HvStore::open_rw(path)?
        } else {
            HvStore::open(path)?
        };
        let np = names_path(path);
        let mut f = OpenOptions::new()
            .read(true)
            .write(writable)
            .open(&np)
            .map_err(io_err("open", &np))?;
        let mut raw = Vec::new();
        f.read_to_end(&mut raw).map_err(io_err("read", &np))?;
        let corrupt = |offset: usize, reason: &str| HvError::CorruptNames {
            path: np.clone(),
            offset: offset as u64,
            reason: reason.to_string(),
        };
        if raw.get(..8) != Some(&NAMES_MAGIC[..]) {
            return Err(corrupt(0, "bad magic"));
        }
        let want = store.len();
        let mut names = Vec::with_capacity(want);
        let mut by_name = HashMap::with_capacity(want);
        let mut pos = 8usize;
        while names.len() < want {
            let Some(len_bytes) = raw.get(pos..pos + 4) else {
                return Err(corrupt(pos, &format!("{} names for {} vectors", names.len(), want)));
            };
            let len = u32::from_le_bytes([len_bytes[0], len_bytes[1], len_bytes[2], len_bytes[3]]) as usize;
            if len > MAX_NAME_LEN {
                return Err(corrupt(pos, &format!("name length {len} exceeds {MAX_NAME_LEN}")));
            }
            let Some(body) = raw.get(pos + 4..pos + 4 + len) else {
                return Err(corrupt(pos, "record runs past the end of the file"));
            };
            let name = std::str::from_utf8(body)
                .map_err(|_| corrupt(pos + 4, "name is not UTF-8"))?
                .to_string();
            if by_name.insert(name.clone(), names.len()).is_some() {
                return Err(corrupt(pos, &format!("duplicate name `{name}`")));
            }
            names.push(name);
            pos += 4 + len;
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
        let mut rec = Vec::with_capacity(4 + name.len());
        rec.extend_from_slice(&(name.len() as u32).to_le_bytes());
        rec.extend_from_slice(name.as_bytes());
        // Append at the end (drop a torn tail from an earlier failed write first).
        let end = 8 + self.names.iter().map(|n| 4 + n.len() as u64).sum::<u64>();
        f.set_len(end).map_err(io_err("set_len", np))?;
        std::io::Seek::seek(&mut f, std::io::SeekFrom::Start(end)).map_err(io_err("seek", np))?;
        f.write_all(&rec).map_err(io_err("write", np))?;
        f.sync_data().map_err(io_err("fsync", np))?;
        let index = self.store.push(v)?;
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
