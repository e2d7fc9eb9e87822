//! [`OpenOptions`]: how to open an existing store or item memory.

use std::path::Path;

use crate::error::Result;
use crate::item_memory::ItemMemory;
use crate::store::HvStore;

/// How to open an existing [`HvStore`] or [`ItemMemory`]: read-only or for
/// writing, with or without the data verification pass.
///
/// The defaults are the safe ones: read-only, verified.
///
/// ```no_run
/// use zc_hv16::OpenOptions;
/// // Accept the risk of silently corrupt vectors for a faster open of a
/// // large store (the header and the names are still checked):
/// let store = OpenOptions::new().verify(false).open("big.hv16")?;
/// // Append to a store (takes the single-writer lock), verified first:
/// let mut rw = OpenOptions::new().write(true).open("items.hv16")?;
/// # Ok::<(), zc_hv16::HvError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OpenOptions {
    verify: bool,
    write: bool,
}

impl Default for OpenOptions {
    fn default() -> Self {
        Self::new()
    }
}

impl OpenOptions {
    /// Read-only, verified.
    pub fn new() -> Self {
        OpenOptions {
            verify: true,
            write: false,
        }
    }

    /// Whether opening reads every committed vector and checks the data
    /// checksum (default `true`). With `false` the open costs one header
    /// read and a mapping, whatever the store's size, and a corrupt data
    /// region is found only by [`HvStore::verify`] — or not at all: searches
    /// return wrong neighbours without an error. The header checksum and the
    /// names sidecar's record checksums are checked either way.
    pub fn verify(mut self, verify: bool) -> Self {
        self.verify = verify;
        self
    }

    /// Whether to open for appending (default `false`). A writable open takes
    /// the store's exclusive writer lock (see the
    /// [single-writer rule](crate::store#one-writer-many-readers)).
    pub fn write(mut self, write: bool) -> Self {
        self.write = write;
        self
    }

    /// Whether opening verifies the data.
    pub fn is_verify(&self) -> bool {
        self.verify
    }

    /// Whether opening is for writing.
    pub fn is_write(&self) -> bool {
        self.write
    }

    /// Opens the store at `path` with these options.
    pub fn open(&self, path: impl AsRef<Path>) -> Result<HvStore> {
        HvStore::open_impl(path.as_ref(), *self)
    }

    /// Opens the item memory at `path` (store and names sidecar) with these
    /// options.
    pub fn open_item_memory(&self, path: impl AsRef<Path>) -> Result<ItemMemory> {
        ItemMemory::open_impl(path.as_ref(), *self)
    }
}
