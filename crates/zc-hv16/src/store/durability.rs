//! [`Durability`]: what a finished write of a store or item memory survives.

/// When a write to an [`HvStore`](crate::HvStore) or
/// [`ItemMemory`](crate::ItemMemory) reaches stable storage. One setting for
/// both: an item memory applies it to its store and its names sidecar.
///
/// Either way, writes go data first and header last, and every open checks
/// the header and (unless verification is off) the data checksum, so no
/// crash ever opens as a store with wrong vectors or names: the difference is
/// whether a finished write is still there after a power loss, and whether
/// the store still opens at all.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Durability {
    /// Each append / insert / batch returns after its data, then its header
    /// were flushed to the device (`fdatasync`; three per batch for an item
    /// memory: names, vectors, header). After a crash of the process or the
    /// machine, every write that returned is there. Costs a few
    /// milliseconds per call on most disks: batch writes with
    /// [`HvStore::append`](crate::HvStore::append) /
    /// [`ItemMemory::extend`](crate::ItemMemory::extend).
    #[default]
    Sync,
    /// Writes go to the OS page cache and return; nothing is flushed. A crash
    /// of this process loses nothing (the kernel writes the pages back). A
    /// crash of the machine (power loss, kernel panic) may lose writes that
    /// returned, and because the OS may write the header before its data,
    /// the next open may fail with
    /// [`HvError::DataChecksum`](crate::HvError::DataChecksum) or
    /// [`HvError::CorruptNames`](crate::HvError::CorruptNames) (rebuild from
    /// the source). Call [`HvStore::flush`](crate::HvStore::flush) /
    /// [`ItemMemory::flush`](crate::ItemMemory::flush) at a point that must
    /// survive.
    NoSync,
}

impl Durability {
    /// Whether writes are flushed to the device before they return.
    pub fn is_sync(self) -> bool {
        matches!(self, Durability::Sync)
    }
}
