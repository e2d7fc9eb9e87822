//! File-backed buffers: `MmapBuf` (read-only) and `MmapBufMut` (read-write).
//!
//! ```
//! use zc_buffers::{MmapBuf, MmapBufMut, MmapOptions, Advice, HostBufferExt, HostBufferMutExt};
//! let dir = tempfile::tempdir()?;
//! let path = dir.path().join("frames.f32");
//! {
//!     // SAFETY: the file is ours alone while the mapping lives.
//!     let mut out = unsafe { MmapBufMut::create(&path, 3000 * 4)? };
//!     out.as_slice_mut::<f32>()?[2999] = 7.0;
//!     out.flush()?;
//! }
//! let map = MmapOptions::new().advice(Advice::Sequential).populate(true).open(&path)?;
//! assert_eq!(map.as_slice::<f32>()?[2999], 7.0); // straight over the mapping
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Writable mappings are `unsafe` to create: two writers of the same bytes
//! would alias a `&mut [u8]`. A read-only mapping of a file that another
//! process truncates or rewrites can fault (SIGBUS) or change under you; that
//! is the nature of `mmap` — map only files whose lifetime you control (see
//! [`MmapOptions::open`]).

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};
use std::ptr::NonNull;

use memmap2::{Mmap, MmapMut};

use crate::aligned::PAGE_ALIGN;
use crate::buffer::{Buffer, HostBuffer, HostBufferMut, Residency, observed_align};
use crate::error::{BufferError, Result};

/// Access-pattern advice passed to `madvise`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Advice {
    /// No advice.
    Normal,
    /// Read front to back: aggressive read-ahead.
    Sequential,
    /// Random access: no read-ahead.
    Random,
    /// Will be needed soon: start reading it in.
    WillNeed,
}

/// Options for opening a mapping.
#[derive(Clone, Debug)]
pub struct MmapOptions {
    offset: u64,
    len: Option<usize>,
    advice: Advice,
    populate: bool,
}

impl Default for MmapOptions {
    fn default() -> Self {
        Self::new()
    }
}

fn io<'a>(op: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> BufferError + 'a {
    move |source| BufferError::Io {
        op,
        path: path.to_path_buf(),
        source,
    }
}

impl MmapOptions {
    /// Whole file, no advice, no populate.
    pub fn new() -> Self {
        Self {
            offset: 0,
            len: None,
            advice: Advice::Normal,
            populate: false,
        }
    }
    /// Map from this byte offset.
    pub fn offset(mut self, offset: u64) -> Self {
        self.offset = offset;
        self
    }
    /// Map exactly this many bytes (default: to the end of the file).
    pub fn len(mut self, len: usize) -> Self {
        self.len = Some(len);
        self
    }
    /// Access-pattern advice.
    pub fn advice(mut self, advice: Advice) -> Self {
        self.advice = advice;
        self
    }
    /// Pre-fault the pages (`MAP_POPULATE`) so first touches do not fault.
    pub fn populate(mut self, on: bool) -> Self {
        self.populate = on;
        self
    }

    fn range(&self, path: &Path, file: &File) -> Result<(u64, usize)> {
        let file_len = file.metadata().map_err(io("stat", path))?.len();
        if file_len == 0 {
            return Err(BufferError::EmptyFile {
                path: path.to_path_buf(),
            });
        }
        let len = match self.len {
            Some(l) => l as u64,
            None => file_len.saturating_sub(self.offset),
        };
        let end = self.offset.saturating_add(len);
        if end > file_len || len == 0 {
            return Err(BufferError::FileTooShort {
                path: path.to_path_buf(),
                file_len,
                offset: self.offset,
                end,
            });
        }
        let len = usize::try_from(len).map_err(|_| BufferError::TooLarge {
            len: usize::MAX,
            align: 1,
        })?;
        Ok((self.offset, len))
    }

    fn memmap_options(&self, offset: u64, len: usize) -> memmap2::MmapOptions {
        let mut o = memmap2::MmapOptions::new();
        o.offset(offset).len(len);
        if self.populate {
            o.populate();
        }
        o
    }

    /// Map `path` read-only.
    ///
    /// The mapping stays valid while the buffer lives even if the file is
    /// renamed or unlinked; if another process **truncates** it, touching the
    /// lost pages raises SIGBUS. Map only files whose size you control.
    pub fn open(&self, path: impl AsRef<Path>) -> Result<MmapBuf> {
        let path = path.as_ref();
        let file = File::open(path).map_err(io("open", path))?;
        let (offset, len) = self.range(path, &file)?;
        // SAFETY: read-only shared mapping of a file we opened; the documented
        // caveat (external truncation) is the caller's to avoid.
        let map = unsafe { self.memmap_options(offset, len).map(&file) }.map_err(io("mmap", path))?;
        if self.advice != Advice::Normal {
            advise_map(&map, self.advice).map_err(io("madvise", path))?;
        }
        Ok(MmapBuf {
            map,
            path: path.to_path_buf(),
        })
    }

    /// Map `path` read-write (the file must exist and be long enough).
    ///
    /// # Safety
    /// While the returned mapping lives, nothing else — in this process or
    /// another — may map the same bytes of the file writable, write them, or
    /// truncate the file: the mapping hands out `&mut [u8]` over those bytes,
    /// and a second writer would alias it (the contract of
    /// `memmap2::MmapMut::map_mut`).
    pub unsafe fn open_mut(&self, path: impl AsRef<Path>) -> Result<MmapBufMut> {
        let path = path.as_ref();
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(path)
            .map_err(io("open", path))?;
        let (offset, len) = self.range(path, &file)?;
        // SAFETY: the caller upholds this function's contract: no other
        // writer or mapping of these bytes while the mapping lives.
        let map = unsafe { self.memmap_options(offset, len).map_mut(&file) }.map_err(io("mmap", path))?;
        if self.advice != Advice::Normal {
            advise_map(&map, self.advice).map_err(io("madvise", path))?;
        }
        Ok(MmapBufMut {
            map,
            path: path.to_path_buf(),
        })
    }
}

/// A read-only file mapping implementing [`Buffer`]: typed views read the
/// page cache directly, with no copy into a `Vec`.
#[derive(Debug)]
pub struct MmapBuf {
    map: Mmap,
    path: PathBuf,
}

impl MmapBuf {
    /// Map the whole file read-only.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        MmapOptions::new().open(path)
    }
    /// The file it maps.
    pub fn path(&self) -> &Path {
        &self.path
    }
    /// The first mapped byte (like [`AlignedBuf::as_ptr`](crate::AlignedBuf::as_ptr)).
    pub fn as_ptr(&self) -> *const u8 {
        self.map.as_ptr()
    }
    /// Apply advice to the mapping after the fact.
    pub fn advise(&self, advice: Advice) -> Result<()> {
        advise_map(&self.map, advice).map_err(io("madvise", &self.path))
    }
}

/// A read-write file mapping implementing [`HostBufferMut`].
#[derive(Debug)]
pub struct MmapBufMut {
    map: MmapMut,
    path: PathBuf,
}

impl MmapBufMut {
    /// Create (or truncate) `path` with `len` zero bytes and map it read-write.
    ///
    /// # Safety
    /// As for [`MmapOptions::open_mut`]: nothing else may map, write or
    /// truncate the file while the mapping lives.
    pub unsafe fn create(path: impl AsRef<Path>, len: usize) -> Result<Self> {
        let path = path.as_ref();
        if len == 0 {
            return Err(BufferError::EmptyFile {
                path: path.to_path_buf(),
            });
        }
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(path)
            .map_err(io("create", path))?;
        file.set_len(len as u64).map_err(io("set_len", path))?;
        // SAFETY: we just created and sized the file; the caller guarantees
        // no other writer or mapping while this one lives.
        let map = unsafe { MmapMut::map_mut(&file) }.map_err(io("mmap", path))?;
        Ok(Self {
            map,
            path: path.to_path_buf(),
        })
    }
    /// Map an existing file read-write.
    ///
    /// # Safety
    /// As for [`MmapOptions::open_mut`].
    pub unsafe fn open(path: impl AsRef<Path>) -> Result<Self> {
        // SAFETY: forwarded contract.
        unsafe { MmapOptions::new().open_mut(path) }
    }
    /// The first mapped byte.
    pub fn as_ptr(&self) -> *const u8 {
        self.map.as_ptr()
    }
    /// The first mapped byte, writable.
    pub fn as_mut_ptr(&mut self) -> *mut u8 {
        self.map.as_mut_ptr()
    }
    /// Write dirty pages back to the file and wait.
    pub fn flush(&self) -> Result<()> {
        self.map.flush().map_err(io("msync", &self.path))
    }
    /// Start writing dirty pages back without waiting.
    pub fn flush_async(&self) -> Result<()> {
        self.map.flush_async().map_err(io("msync", &self.path))
    }
    /// Turn into a read-only mapping (same pages, no copy).
    pub fn into_read_only(self) -> Result<MmapBuf> {
        let path = self.path;
        let map = self.map.make_read_only().map_err(io("mprotect", &path))?;
        Ok(MmapBuf { map, path })
    }
    /// The file it maps.
    pub fn path(&self) -> &Path {
        &self.path
    }
    /// Apply advice to the mapping.
    pub fn advise(&self, advice: Advice) -> Result<()> {
        advise_map(&self.map, advice).map_err(io("madvise", &self.path))
    }
}

trait Advisable {
    fn advise_with(&self, a: memmap2::Advice) -> std::io::Result<()>;
}
impl Advisable for Mmap {
    fn advise_with(&self, a: memmap2::Advice) -> std::io::Result<()> {
        self.advise(a)
    }
}
impl Advisable for MmapMut {
    fn advise_with(&self, a: memmap2::Advice) -> std::io::Result<()> {
        self.advise(a)
    }
}

fn advise_map(map: &impl Advisable, advice: Advice) -> std::io::Result<()> {
    let a = match advice {
        Advice::Normal => memmap2::Advice::Normal,
        Advice::Sequential => memmap2::Advice::Sequential,
        Advice::Random => memmap2::Advice::Random,
        Advice::WillNeed => memmap2::Advice::WillNeed,
    };
    map.advise_with(a)
}

fn map_align(ptr: *const u8) -> usize {
    // A mapping starts on a page; with an offset it starts at offset % page.
    observed_align(ptr).min(PAGE_ALIGN)
}

macro_rules! mapping_buffer {
    ($($t:ty),*) => {$(
        // SAFETY: the live mapping's address and length; a mapping starts on a page.
        unsafe impl Buffer for $t {
            fn len(&self) -> usize {
                self.map.len()
            }
            fn align(&self) -> usize {
                map_align(self.map.as_ptr())
            }
            fn residency(&self) -> Residency {
                Residency::Mmap
            }
            fn host_ptr(&self) -> Option<NonNull<u8>> {
                NonNull::new(self.map.as_ptr().cast_mut())
            }
        }

        impl HostBuffer for $t {
            fn as_bytes(&self) -> &[u8] {
                &self.map
            }
        }

        impl AsRef<[u8]> for $t {
            fn as_ref(&self) -> &[u8] {
                &self.map
            }
        }
    )*};
}
mapping_buffer!(MmapBuf, MmapBufMut);

impl HostBufferMut for MmapBufMut {
    fn as_bytes_mut(&mut self) -> &mut [u8] {
        &mut self.map
    }
}
