//! [`OpenOptions`]: how to open an existing store or item memory.

use super::durability::Durability;

/// How to open an existing [`HvStore`](crate::HvStore) or
/// [`ItemMemory`](crate::ItemMemory): read-only or for writing, with or
/// without the data verification pass, and with which [`Durability`].
/// Pass it to [`HvStore::open_with`](crate::HvStore::open_with) or
/// [`ItemMemory::open_with`](crate::ItemMemory::open_with).
///
/// The defaults are the safe ones: read-only, verified, [`Durability::Sync`].
///
/// ```no_run
/// use zc_hv16::{Durability, HvStore, ItemMemory, OpenOptions};
/// // Accept the risk of silently corrupt vectors for a faster open of a
/// // large store (the header and the names are still checked):
/// let store = HvStore::open_with("big.hv16", OpenOptions::new().verify(false))?;
/// // Append to an item memory (takes the single-writer lock), without a
/// // flush per insert:
/// let opts = OpenOptions::new().write(true).durability(Durability::NoSync);
/// let mut items = ItemMemory::open_with("items.hv16", opts)?;
/// # Ok::<(), zc_hv16::HvError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OpenOptions {
    verify: bool,
    write: bool,
    durability: Durability,
}

impl Default for OpenOptions {
    fn default() -> Self {
        Self::new()
    }
}

impl OpenOptions {
    /// Read-only, verified, [`Durability::Sync`].
    pub fn new() -> Self {
        OpenOptions {
            verify: true,
            write: false,
            durability: Durability::Sync,
        }
    }

    /// Whether opening reads every committed vector and checks the data
    /// checksum (default `true`). With `false` the open costs one header
    /// read and a mapping, whatever the store's size, and a corrupt data
    /// region is found only by [`HvStore::verify`](crate::HvStore::verify) —
    /// or not at all: searches return wrong neighbours without an error. The
    /// header checksum and the names sidecar's record checksums are checked
    /// either way.
    pub fn verify(mut self, verify: bool) -> Self {
        self.verify = verify;
        self
    }

    /// Whether to open for appending (default `false`). A writable open takes
    /// the store's exclusive writer lock (see the
    /// [single-writer rule](crate::HvStore#one-writer-many-readers)).
    pub fn write(mut self, write: bool) -> Self {
        self.write = write;
        self
    }

    /// The [`Durability`] of writes through the opened handle (default
    /// [`Durability::Sync`]; it matters only with `write(true)`).
    pub fn durability(mut self, durability: Durability) -> Self {
        self.durability = durability;
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

    /// The durability the opened handle starts with.
    pub(crate) fn durability_of(&self) -> Durability {
        self.durability
    }
}
