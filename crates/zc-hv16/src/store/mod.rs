//! [`HvStore`]: a memory-mapped file of vectors (see the type's docs).

mod durability;
mod lock;
mod options;

use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use zc_buffers::ledger::{self, CopyKind};
use zc_buffers::{Advice, HostBufferExt, MmapBuf, MmapOptions};

use crate::error::{HvError, Result, io_err};
use crate::format::{DATA_OFFSET, GENERATOR_UNSPECIFIED, HEADER_USED, Header};
use crate::hv::{BYTES, GENERATOR_SPLITMIX64_V1, HV16};

pub use durability::Durability;
pub use options::OpenOptions;

/// A file of 2048-bit vectors, memory-mapped read-only and read as `&[HV16]`
/// with zero copies: [`HvStore::vectors`] is a slice straight over the page
/// cache, and every [`Hamming`](crate::Hamming) search runs on it directly.
/// The file layout is in [`format`](mod@crate::format).
///
/// Names: [`HvStore::open`] reads, [`HvStore::open_rw`] reads and appends to
/// an existing store, [`HvStore::create`] makes a new one (the same three in
/// [`ItemMemory`](crate::ItemMemory)).
///
/// # Verification on open
///
/// [`HvStore::open`] and [`HvStore::open_rw`] check the header *and* the data
/// checksum over the committed vectors before they return: a flipped byte,
/// a torn append or a header that reached the disk before its data (a machine
/// crash with [`Durability::NoSync`]) is an [`HvError::DataChecksum`] naming
/// the file and the byte range, never a store that searches wrong vectors.
/// This reads the whole committed region once (CRC-32C with the CPU's CRC
/// instruction; the README gives the measured cost). A caller who accepts the
/// risk skips it with [`OpenOptions::verify`]`(false)`; [`HvStore::verify`]
/// runs it later. Verification covers the bytes as they are at open: the
/// mapping is shared, so a process that rewrites vectors in place afterwards
/// (this crate only appends) changes what [`HvStore::vectors`] returns.
///
/// # One writer, many readers
///
/// Every writable open ([`HvStore::create`], [`HvStore::open_rw`],
/// [`ItemMemory::create`](crate::ItemMemory::create),
/// [`ItemMemory::open_rw`](crate::ItemMemory::open_rw)) takes an exclusive
/// advisory lock (`flock` on Unix, `LockFileEx` on Windows, through
/// [`File::try_lock`]) on the store file for the life of the handle. A second
/// writable open, from this process or another, fails at once with
/// [`HvError::Locked`] naming the file. Read-only opens take no lock and are
/// never blocked; they see the count of the header they read at open
/// (appends after that are invisible to them, never half-visible). The lock
/// is advisory: a program that writes the file without this crate is not
/// stopped. [`HvStore::create`] over a store that readers have mapped
/// truncates it under them (the lock excludes writers only); a reader that
/// then touches a vector past the new end gets `SIGBUS`, the risk every
/// shared file mapping carries. Create a new file and rename it over the old
/// one to replace a store that is being read. On Windows the lock is
/// `LockFileEx` over the whole file, which also blocks other handles' reads
/// while a writer is open; the rule above is tested on Linux.
///
/// # Crash consistency
///
/// An append writes the new vectors past the current count, syncs them, and
/// only then rewrites the header (count, data checksum, header checksum) and
/// syncs again. A crash before the header write leaves the old header, which
/// opens with the old count; a torn header fails its checksum; a file cut
/// short fails with [`HvError::CountExceedsFile`]. With
/// [`Durability::NoSync`] the OS may write the header before the data; the
/// data checksum then fails on open. No state opens with garbage.
#[derive(Debug)]
pub struct HvStore {
    path: PathBuf,
    /// Present when opened for writing; holds the exclusive lock while open.
    file: Option<File>,
    /// Maps vectors `0..capacity` (read-only opens: `0..count`). `None` when empty.
    map: Option<MmapBuf>,
    header: Header,
    capacity: usize,
    durability: Durability,
}

impl HvStore {
    /// Creates (or truncates) a version-2 store at `path` with generator id 0
    /// (unspecified), locked for writing (see the
    /// [single-writer rule](HvStore#one-writer-many-readers)). Writes are
    /// [`Durability::Sync`] until [`HvStore::set_durability`] says otherwise.
    pub fn create(path: impl AsRef<Path>) -> Result<HvStore> {
        Self::create_with_generator(path, GENERATOR_UNSPECIFIED)
    }

    /// Creates (or truncates) a store recording `generator` (0 or
    /// [`GENERATOR_SPLITMIX64_V1`]) as the origin of its vectors. Fails with
    /// [`HvError::Locked`], leaving the file untouched, when another handle
    /// has it open for writing.
    pub fn create_with_generator(path: impl AsRef<Path>, generator: u64) -> Result<HvStore> {
        let path = path.as_ref();
        if generator != GENERATOR_UNSPECIFIED && generator != GENERATOR_SPLITMIX64_V1 {
            return Err(HvError::UnknownGenerator {
                path: path.to_path_buf(),
                found: generator,
            });
        }
        check_endian(path)?;
        // Lock before truncating: a live writer's file is left as it is.
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(io_err("create", path))?;
        lock::lock_exclusive(&file, path)?;
        file.set_len(0).map_err(io_err("set_len", path))?;
        file.set_len(DATA_OFFSET).map_err(io_err("set_len", path))?;
        let mut store = HvStore {
            path: path.to_path_buf(),
            file: Some(file),
            map: None,
            header: Header::new_v2(generator),
            capacity: 0,
            durability: Durability::Sync,
        };
        store.write_header()?;
        Ok(store)
    }

    /// Opens a store read-only, checks its header and its data checksum (see
    /// [Verification on open](HvStore#verification-on-open)), and maps its
    /// vectors (no copy). Takes no lock. To skip the data pass, use
    /// [`OpenOptions::verify`]`(false)`.
    pub fn open(path: impl AsRef<Path>) -> Result<HvStore> {
        Self::open_with(path, OpenOptions::new())
    }

    /// Opens a store for reading and appending, verified like
    /// [`HvStore::open`]. Takes the store's writer lock: fails with
    /// [`HvError::Locked`] while another handle (in any process) has it open
    /// for writing.
    pub fn open_rw(path: impl AsRef<Path>) -> Result<HvStore> {
        Self::open_with(path, OpenOptions::new().write(true))
    }

    /// Opens with explicit [`OpenOptions`] (read-only or writable, verified or
    /// not, durability).
    pub fn open_with(path: impl AsRef<Path>, options: OpenOptions) -> Result<HvStore> {
        Self::open_impl(path.as_ref(), options)
    }

    fn open_impl(path: &Path, opts: OpenOptions) -> Result<HvStore> {
        check_endian(path)?;
        let writable = opts.is_write();
        let mut file = std::fs::OpenOptions::new()
            .read(true)
            .write(writable)
            .open(path)
            .map_err(io_err("open", path))?;
        if writable {
            lock::lock_exclusive(&file, path)?;
        }
        // Length and header are read under the lock: a writer that held it
        // before us has finished its last append.
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
        let count = usize::try_from(header.count).map_err(|_| HvError::TooLarge {
            path: path.to_path_buf(),
            count: header.count,
        })?;
        let capacity = if writable {
            usize::try_from((file_len - DATA_OFFSET) / BYTES as u64).map_err(|_| HvError::TooLarge {
                path: path.to_path_buf(),
                count: header.count,
            })?
        } else {
            count
        };
        let mut store = HvStore {
            path: path.to_path_buf(),
            file: writable.then_some(file),
            map: None,
            header,
            capacity,
            durability: opts.durability_of(),
        };
        store.remap()?;
        if opts.is_verify() {
            store.verify()?;
        }
        Ok(store)
    }

    fn remap(&mut self) -> Result<()> {
        self.map = None;
        if self.capacity == 0 {
            return Ok(());
        }
        let len = self.capacity.checked_mul(BYTES).ok_or_else(|| HvError::TooLarge {
            path: self.path.clone(),
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

    /// Sets when appends reach stable storage (see [`Durability`]; default
    /// [`Durability::Sync`]).
    pub fn set_durability(&mut self, durability: Durability) {
        self.durability = durability;
    }

    /// The current [`Durability`].
    pub fn durability(&self) -> Durability {
        self.durability
    }

    /// Reads all committed vectors and checks them against the header's data
    /// checksum (CRC-32C for version 2, the lane checksum for version 1).
    /// [`HvStore::open`] does this unless told not to.
    pub fn verify(&self) -> Result<()> {
        let vs = self.vectors();
        self.header
            .check_data(vs)
            .map_err(|(stored, computed)| HvError::DataChecksum {
                path: self.path.clone(),
                offset: DATA_OFFSET,
                len: HV16::as_bytes(vs).len() as u64,
                stored,
                computed,
            })
    }

    fn writable_file(&self) -> Result<&File> {
        self.file.as_ref().ok_or_else(|| HvError::ReadOnly {
            path: self.path.clone(),
        })
    }

    /// Grows the file so that `additional` more vectors fit without remapping.
    pub fn reserve(&mut self, additional: usize) -> Result<()> {
        let need = self.len().checked_add(additional).ok_or_else(|| HvError::TooLarge {
            path: self.path.clone(),
            count: u64::MAX,
        })?;
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
            .ok_or_else(|| HvError::TooLarge {
                path: self.path.clone(),
                count: capacity as u64,
            })?;
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

    /// Appends vectors: data first, then the header (see
    /// [crash consistency](HvStore#crash-consistency)); with
    /// [`Durability::Sync`] two `fdatasync` calls per append, whatever its size.
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
            .ok_or_else(|| HvError::TooLarge {
                path: self.path.clone(),
                count: u64::MAX,
            })?;
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
        if self.durability.is_sync() {
            file.sync_data().map_err(io_err("fsync", &self.path))?;
        }
        self.header.extend_checksum(vs);
        self.header.count = new_count as u64;
        self.write_header()?;
        Ok(first)
    }

    /// Appends one vector; returns its index.
    pub fn push(&mut self, v: &HV16) -> Result<usize> {
        self.append(std::slice::from_ref(v))
    }

    /// Syncs the file to disk (what [`Durability::Sync`] does after every
    /// append; with [`Durability::NoSync`], call it where a crash must not
    /// lose what was appended). Errors on a read-only handle.
    pub fn flush(&self) -> Result<()> {
        self.writable_file()?.sync_all().map_err(io_err("fsync", &self.path))
    }

    fn write_header(&mut self) -> Result<()> {
        let raw = self.header.encode();
        let durable = self.durability.is_sync();
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
        return Err(crate::error::io_error(
            "open (big-endian hosts are not supported)",
            path,
            std::io::Error::from(std::io::ErrorKind::Unsupported),
        ));
    }
    Ok(())
}
