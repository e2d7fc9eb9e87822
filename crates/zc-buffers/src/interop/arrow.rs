//! Arrow buffers over zc memory (feature `arrow`).

use std::sync::Arc;

use crate::buffer::HostBuffer;

/// An `arrow_buffer::Buffer` over `owner`'s bytes without copying; the owner
/// is kept alive by the Arrow buffer (and all its slices).
///
/// ```
/// use zc_buffers::{AlignedBuf, HostBufferMutExt, interop::arrow::into_arrow_buffer};
/// let mut buf = AlignedBuf::zeroed(16)?;
/// buf.as_slice_mut::<f32>()?.copy_from_slice(&[1.0, 2.0, 3.0, 4.0]);
/// let ptr = buf.as_ptr();
/// let arrow = into_arrow_buffer(buf);
/// assert_eq!(arrow.as_ptr(), ptr);
/// assert_eq!(arrow.typed_data::<f32>(), &[1.0, 2.0, 3.0, 4.0]);
/// # Ok::<(), zc_buffers::BufferError>(())
/// ```
///
/// Any owner works, pool guards included: the buffer goes back to its pool
/// when the last Arrow buffer or slice over it drops.
pub fn into_arrow_buffer<B>(owner: B) -> arrow_buffer::Buffer
where
    B: HostBuffer + Send + Sync + std::panic::RefUnwindSafe + 'static,
{
    let owner = Arc::new(owner);
    let bytes = owner.as_bytes();
    let len = bytes.len();
    let ptr = std::ptr::NonNull::new(bytes.as_ptr().cast_mut()).unwrap_or(std::ptr::NonNull::dangling());
    // SAFETY: `ptr` addresses `len` initialised bytes owned by `owner`, which
    // the Arc keeps alive (and immobile: it is heap-pinned behind the Arc)
    // for as long as the Arrow buffer or any slice of it exists; HostBuffer
    // owners never move their bytes while borrowed immutably.
    unsafe { arrow_buffer::Buffer::from_custom_allocation(ptr, len, owner) }
}

/// The 0.1 name of [`into_arrow_buffer`] (it consumes its owner, so the
/// Rust API Guidelines name it `into_*`).
#[deprecated(since = "0.2.0", note = "renamed to `into_arrow_buffer` (it consumes the owner)")]
pub fn to_arrow_buffer<B>(owner: B) -> arrow_buffer::Buffer
where
    B: HostBuffer + Send + Sync + std::panic::RefUnwindSafe + 'static,
{
    into_arrow_buffer(owner)
}
