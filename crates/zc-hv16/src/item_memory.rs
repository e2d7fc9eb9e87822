//! [`ItemMemory`]: named symbols ↔ vectors on top of an [`HvStore`], with cleanup.

use std::borrow::Borrow;
use std::collections::HashMap;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::ops::Range;
use std::path::{Path, PathBuf};

use zc_buffers::ndarray::{ArrayViewMut, Dimension};
use zc_buffers::{HostBufferMut, IntoOutput};

use crate::error::{HvError, NamesProblem, Result, alloc_err, io_err};
use crate::format::{MAX_NAME_LEN, NAMES_MAGIC, NAMES_MAGIC_V2, names_path, names_record_crc};
use crate::hamming::Hamming;
use crate::hv::HV16;
use crate::search::Hit;
use crate::store::{Durability, HvStore, OpenOptions};

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

/// Named symbols stored as vectors in an on-disk [`HvStore`], with their
/// names in a sidecar file `<store path>.names` (format in
/// [`format`](mod@crate::format#names-sidecar-format)).
///
/// Names: [`ItemMemory::open`] reads, [`ItemMemory::open_rw`] reads and
/// inserts into an existing item memory, [`ItemMemory::create`] makes a new
/// one (as for [`HvStore`]). A writable item memory holds its store's writer
/// lock (see the [single-writer rule](HvStore#one-writer-many-readers)); the
/// lock on the store also guards the sidecar.
///
/// # Batches and durability
///
/// [`ItemMemory::extend`] inserts a batch with one write and one flush per
/// file; [`ItemMemory::insert`] is a batch of one. With [`Durability::Sync`]
/// (the default) a batch costs three `fdatasync` calls (names, vectors,
/// header) whatever its size, so insert in batches where speed matters, or
/// choose [`Durability::NoSync`] and [`ItemMemory::flush`] at the end.
///
/// # Crash consistency
///
/// A batch appends its name records first and its vectors second, so after a
/// crash the sidecar may hold names past the store's count; opening drops
/// such extra names (and a torn trailing record), while a sidecar with fewer
/// names than the store has vectors is reported as corrupt. A batch is all
/// or nothing: a crash mid-batch reopens with none of it.
///
/// Search runs at the level [`Hamming::detect`] picked at open; to pin one,
/// search [`ItemMemory::vectors`] with your own [`Hamming`] and
/// [`ItemMemory::resolve`] the hits.
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
    hamming: Hamming,
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
            hamming: Hamming::detect(),
        })
    }

    /// Opens a store and sidecar read-only (cleanup and lookups only),
    /// verified (see [`HvStore::open`]); takes no lock.
    pub fn open(path: impl AsRef<Path>) -> Result<ItemMemory> {
        Self::open_with(path, OpenOptions::new())
    }

    /// Opens a store and sidecar for reading and inserting, verified. Takes
    /// the store's writer lock: fails with [`HvError::Locked`] while another
    /// handle, in any process, writes it.
    pub fn open_rw(path: impl AsRef<Path>) -> Result<ItemMemory> {
        Self::open_with(path, OpenOptions::new().write(true))
    }

    /// Opens with explicit [`OpenOptions`] (e.g. without the data pass, or
    /// with [`Durability::NoSync`]).
    pub fn open_with(path: impl AsRef<Path>, options: OpenOptions) -> Result<ItemMemory> {
        let path = path.as_ref();
        let writable = options.is_write();
        let store = HvStore::open_with(path, options)?;
        let np = names_path(path);
        let mut f = std::fs::OpenOptions::new()
            .read(true)
            .write(writable)
            .open(&np)
            .map_err(io_err("open", &np))?;
        let mut raw = Vec::new();
        f.read_to_end(&mut raw).map_err(io_err("read", &np))?;
        let corrupt = |offset: usize, problem: NamesProblem| HvError::CorruptNames {
            path: np.clone(),
            offset: offset as u64,
            problem,
        };
        let names_v2 = match raw.get(..8) {
            Some(m) if m == NAMES_MAGIC_V2 => true,
            Some(m) if m == NAMES_MAGIC => false,
            _ => return Err(corrupt(0, NamesProblem::BadMagic)),
        };
        let head = if names_v2 { 8 } else { 4 };
        let want = store.len();
        let mut names = Vec::new();
        names
            .try_reserve(want.min(raw.len() / head))
            .map_err(|_| alloc_err::<String>(want))?;
        let mut by_name = HashMap::new();
        let mut pos = 8usize;
        while names.len() < want {
            let index = names.len();
            let Some(rec_head) = raw.get(pos..).and_then(|r| r.get(..head)) else {
                return Err(corrupt(
                    pos,
                    NamesProblem::TooFewNames {
                        found: index,
                        expected: want,
                    },
                ));
            };
            let len = u32::from_le_bytes([rec_head[0], rec_head[1], rec_head[2], rec_head[3]]) as usize;
            if len > MAX_NAME_LEN {
                return Err(corrupt(pos, NamesProblem::NameTooLong { len, max: MAX_NAME_LEN }));
            }
            let body_at = pos + head; // ok: pos + head <= raw.len()
            let Some(body) = raw.get(body_at..).and_then(|r| r.get(..len)) else {
                return Err(corrupt(pos, NamesProblem::RecordPastEnd));
            };
            if names_v2 {
                let stored = u32::from_le_bytes([rec_head[4], rec_head[5], rec_head[6], rec_head[7]]);
                let computed = names_record_crc(index, body);
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
                .map_err(|_| corrupt(body_at, NamesProblem::NotUtf8))?
                .to_string();
            if let Some(first) = by_name.insert(name.clone(), index) {
                return Err(corrupt(pos, NamesProblem::DuplicateName { name, first }));
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
            hamming: Hamming::detect(),
        })
    }

    /// Sets when inserts reach stable storage, for the store and the sidecar
    /// (see [`Durability`]; default [`Durability::Sync`]).
    pub fn set_durability(&mut self, durability: Durability) {
        self.store.set_durability(durability);
    }

    /// The current [`Durability`].
    pub fn durability(&self) -> Durability {
        self.store.durability()
    }

    /// Flushes the sidecar and the store to the device (what
    /// [`Durability::Sync`] does after every batch). Errors on a read-only
    /// handle.
    pub fn flush(&self) -> Result<()> {
        let f = self.names_file.as_ref().ok_or_else(|| HvError::ReadOnly {
            path: self.names_path.clone(),
        })?;
        f.sync_all().map_err(io_err("fsync", &self.names_path))?;
        self.store.flush()
    }

    /// Inserts `name` with vector `v`; returns its index. A batch of one
    /// (see [`ItemMemory::extend`]).
    pub fn insert(&mut self, name: &str, v: &HV16) -> Result<usize> {
        let r = self.extend([(name, v)])?;
        Ok(r.start)
    }

    /// Inserts a batch of `(name, vector)` pairs with one write and (with
    /// [`Durability::Sync`]) one flush per file, and returns the indices
    /// they got. All or nothing: a duplicate name (against the memory or
    /// earlier in the batch, [`HvError::DuplicateName`]), a name over
    /// [`MAX_NAME_LEN`](crate::format::MAX_NAME_LEN) bytes or a failed write
    /// inserts none of the batch. The batch is gathered in memory first
    /// (about 256 bytes per vector plus its name), with allocation failures
    /// reported as errors.
    pub fn extend<I, S, V>(&mut self, items: I) -> Result<Range<usize>>
    where
        I: IntoIterator<Item = (S, V)>,
        S: AsRef<str>,
        V: Borrow<HV16>,
    {
        if !self.store.is_writable() {
            return Err(HvError::ReadOnly {
                path: self.store.path().to_path_buf(),
            });
        }
        let first = self.names.len();
        let r = self.extend_inner(items);
        if r.is_err() {
            for name in self.names.drain(first..) {
                self.by_name.remove(&name);
            }
        }
        r.map(|()| first..self.names.len())
    }

    /// Stages the batch in `names`/`by_name` (undone by the caller on error)
    /// and writes it.
    fn extend_inner<I, S, V>(&mut self, items: I) -> Result<()>
    where
        I: IntoIterator<Item = (S, V)>,
        S: AsRef<str>,
        V: Borrow<HV16>,
    {
        let np = &self.names_path;
        let mut rec: Vec<u8> = Vec::new();
        let mut vecs: Vec<HV16> = Vec::new();
        for (name, v) in items {
            let name = name.as_ref();
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
            let index = self.names.len();
            rec.try_reserve(8 + name.len())
                .map_err(|_| alloc_err::<u8>(rec.len().saturating_add(8 + name.len())))?;
            vecs.try_reserve(1).map_err(|_| alloc_err::<HV16>(vecs.len() + 1))?;
            self.names.try_reserve(1).map_err(|_| alloc_err::<String>(index + 1))?;
            self.by_name
                .try_reserve(1)
                .map_err(|_| alloc_err::<(String, usize)>(index + 1))?;
            rec.extend_from_slice(&(name.len() as u32).to_le_bytes()); // ok: <= MAX_NAME_LEN
            if self.names_v2 {
                rec.extend_from_slice(&names_record_crc(index, name.as_bytes()).to_le_bytes());
            }
            rec.extend_from_slice(name.as_bytes());
            vecs.push(*v.borrow());
            self.names.push(name.to_string());
            self.by_name.insert(name.to_string(), index);
        }
        if vecs.is_empty() {
            return Ok(());
        }
        let mut f = self
            .names_file
            .as_ref()
            .ok_or_else(|| HvError::ReadOnly { path: np.clone() })?;
        // Append at the end (drop a torn tail from an earlier failed write first).
        let end = self.names_end;
        f.set_len(end).map_err(io_err("set_len", np))?;
        f.seek(SeekFrom::Start(end)).map_err(io_err("seek", np))?;
        f.write_all(&rec).map_err(io_err("write", np))?;
        if self.store.durability().is_sync() {
            f.sync_data().map_err(io_err("fsync", np))?;
        }
        self.store.append(&vecs)?;
        self.names_end = end.saturating_add(rec.len() as u64);
        Ok(())
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

    /// The underlying store, consuming the item memory (the names are dropped;
    /// a writable store keeps its lock).
    pub fn into_store(self) -> HvStore {
        self.store
    }

    /// The search handle (the level [`Hamming::detect`] picked at open).
    pub fn hamming(&self) -> Hamming {
        self.hamming
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
        let hit = self.hamming.cleanup(query, self.vectors())?;
        self.resolve(hit)
    }

    /// The `k` nearest symbols into `out[..k]`, nearest first; returns `k`
    /// (see [`Hamming::top_k_into_slice`]).
    pub fn top_k_into_slice(&self, query: &HV16, k: usize, out: &mut [Hit]) -> Result<usize> {
        self.hamming.top_k_into_slice(query, self.vectors(), k, out)
    }

    /// [`ItemMemory::top_k_into_slice`] into a host buffer viewed as `[Hit]`.
    pub fn top_k_into<B: HostBufferMut>(&self, query: &HV16, k: usize, out: &mut B) -> Result<usize> {
        self.top_k_into_slice(query, k, out.into_output()?)
    }

    /// [`ItemMemory::top_k_into_slice`] into a standard-layout array view.
    pub fn top_k_into_view<D: Dimension>(
        &self,
        query: &HV16,
        k: usize,
        out: ArrayViewMut<'_, Hit, D>,
    ) -> Result<usize> {
        self.top_k_into_slice(query, k, out.into_output()?)
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
