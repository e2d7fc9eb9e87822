//! Fallible allocation for every buffer whose size comes from the caller.

use zc_buffers::BufferError;

use crate::error::{Result, VolterraError};

/// `n` copies of `value`, or [`BufferError::AllocFailed`] (inside
/// [`VolterraError::Buffer`]) when the allocator cannot provide them —
/// never a capacity-overflow panic or an aborting allocation.
pub(crate) fn filled<T: Clone>(n: usize, value: T) -> Result<Vec<T>> {
    let mut out = Vec::new();
    out.try_reserve_exact(n).map_err(|_| {
        VolterraError::Buffer(BufferError::AllocFailed {
            len: n.saturating_mul(std::mem::size_of::<T>()),
            align: std::mem::align_of::<T>(),
        })
    })?;
    out.resize(n, value);
    Ok(out)
}
