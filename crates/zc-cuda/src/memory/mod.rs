//! Device, pinned and managed buffers: one file per owner type, the
//! [`DeviceMemory`] trait here.

mod device_buffer;
mod managed;
mod pinned;

pub use device_buffer::DeviceBuffer;
pub use managed::{Location, ManagedAdvice, ManagedBuffer};
pub use pinned::{PinnedBuffer, PinnedOptions};

use zc_buffers::{Buffer, BufferError};

use crate::error::{CudaError, Result};

pub(crate) mod sealed {
    pub trait Sealed {}
}

/// Memory addressed from the device side of a copy: [`DeviceBuffer`],
/// [`ManagedBuffer`] and device-pool guards. Sealed: only zc-cuda's own
/// allocations qualify, so a device address handed to the driver is always
/// one the driver gave out, `len()` bytes long.
pub trait DeviceMemory: Buffer + sealed::Sealed {
    /// The device address of the first byte.
    fn dptr(&self) -> u64;
    /// The ordinal of the device the memory belongs to.
    fn ordinal(&self) -> usize;
}

/// A length the driver accepts for an allocation: non-zero, at most `isize::MAX`.
pub(crate) fn check_len(what: &'static str, len: usize) -> Result<()> {
    if len == 0 {
        return Err(BufferError::EmptyBuffer { what }.into());
    }
    if len > isize::MAX as usize {
        return Err(CudaError::TooLarge { what, len });
    }
    Ok(())
}
