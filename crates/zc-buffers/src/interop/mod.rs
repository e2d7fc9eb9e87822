//! Interop with other owners of bytes: DLPack (PyTorch, JAX, CuPy, NumPy),
//! `bytes::Bytes`, Arrow (feature `arrow`), and the NumPy `.npy` writer.
//! None of them copies.

pub mod dlpack;
pub mod npy;

#[cfg(feature = "arrow")]
pub mod arrow;

use crate::buffer::HostBuffer;

/// A `bytes::Bytes` over any owned host buffer, without copying: the owner
/// is dropped when the last `Bytes` clone is.
///
/// ```
/// use zc_buffers::{AlignedBuf, interop::into_bytes};
/// let buf = AlignedBuf::copy_from_slice(b"hello", 64)?;
/// let ptr = buf.as_ptr();
/// let bytes = into_bytes(buf);
/// assert_eq!(&bytes[..], b"hello");
/// assert_eq!(bytes.as_ptr(), ptr); // same memory
/// # Ok::<(), zc_buffers::BufferError>(())
/// ```
pub fn into_bytes<B>(owner: B) -> bytes::Bytes
where
    B: HostBuffer + AsRef<[u8]> + Send + 'static,
{
    bytes::Bytes::from_owner(owner)
}
