//! Writing NumPy `.npy` files (format 1.0/2.0, C order, little-endian):
//! the one `.npy` writer of the workspace, used by the mel example, the
//! Volterra `.npz` writer and the Python reference checks.
//!
//! Only the header is built here; the array bytes are written straight from
//! the caller's slice (no copy into an intermediate buffer).
//!
//! ```
//! use zc_buffers::interop::npy;
//! let mel = vec![-1.5f32; 80 * 3];
//! let mut file = Vec::new();
//! npy::write(&mut file, &[80, 3], &mel)?;
//! assert_eq!(&file[..6], b"\x93NUMPY");
//! assert_eq!(file.len(), npy::header("<f4", &[80, 3]).len() + 80 * 3 * 4);
//! # Ok::<(), std::io::Error>(())
//! ```

use std::io::Write;

use bytemuck::Pod;

use crate::error::{BufferError, Result};

/// Element types with a NumPy dtype (`descr`), little-endian.
pub trait NpyElement: Pod {
    /// The dtype string (`'<f4'`, `'|u1'`, …).
    const DESCR: &'static str;
}

macro_rules! npy_element {
    ($($t:ty => $d:literal),* $(,)?) => {
        $(impl NpyElement for $t {
            const DESCR: &'static str = $d;
        })*
    };
}
npy_element!(f32 => "<f4", f64 => "<f8", u8 => "|u1", i8 => "|i1", u16 => "<u2", i16 => "<i2",
    u32 => "<u4", i32 => "<i4", u64 => "<u8", i64 => "<i8");

/// The `.npy` header (magic, version, length, dict, padding) for a C-order
/// array of `descr` elements with `shape`, padded so the data starts on a
/// 64-byte boundary. Version 1.0 while the header fits in a `u16` length,
/// 2.0 beyond.
pub fn header(descr: &str, shape: &[usize]) -> Vec<u8> {
    let shape_s = match shape {
        [] => "()".to_owned(),
        [n] => format!("({n},)"),
        s => format!("({})", s.iter().map(usize::to_string).collect::<Vec<_>>().join(", ")),
    };
    let dict = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape_s}, }}");
    // magic (6) + version (2) + length (2 in v1, 4 in v2) + dict + '\n', padded to 64.
    let (version, len_bytes) = if 10 + dict.len() < usize::from(u16::MAX) {
        (1u8, 2)
    } else {
        (2u8, 4)
    };
    let prefix = 8 + len_bytes;
    let total = (prefix + dict.len() + 1).div_ceil(64) * 64;
    let header_len = total - prefix;
    let mut h = Vec::with_capacity(total);
    h.extend_from_slice(b"\x93NUMPY");
    h.extend_from_slice(&[version, 0]);
    if version == 1 {
        // ok: header_len < u16::MAX in this branch (checked above, padding < 64 within it)
        h.extend_from_slice(&u16::try_from(header_len).unwrap_or(u16::MAX).to_le_bytes());
    } else {
        h.extend_from_slice(&u32::try_from(header_len).unwrap_or(u32::MAX).to_le_bytes());
    }
    h.extend_from_slice(dict.as_bytes());
    h.resize(total - 1, b' ');
    h.push(b'\n');
    h
}

/// Writes `data` as a C-order `.npy` array of `shape` to `w`: the header,
/// then the elements' bytes straight from `data`.
///
/// A `std::io` API like the `Write` it takes: the shape must describe
/// exactly `data.len()` elements, else an `InvalidInput` error whose source
/// is [`BufferError::LengthMismatch`] (or [`BufferError::Overflow`]) and
/// nothing is written; write failures are the writer's own errors.
pub fn write<T: NpyElement, W: Write>(mut w: W, shape: &[usize], data: &[T]) -> std::io::Result<()> {
    check_shape(shape, data.len()).map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
    w.write_all(&header(T::DESCR, shape))?;
    w.write_all(bytemuck::cast_slice(data))
}

/// `shape` describes exactly `len` elements.
fn check_shape(shape: &[usize], len: usize) -> Result<()> {
    let n = shape
        .iter()
        .try_fold(1usize, |a, &d| a.checked_mul(d))
        .ok_or_else(|| BufferError::Overflow {
            shape: shape.to_vec(),
            strides: Vec::new(),
        })?;
    if n != len {
        return Err(BufferError::LengthMismatch {
            expected: n,
            actual: len,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_are_64_aligned_and_name_dtype_and_shape() {
        for shape in [&[][..], &[5], &[80, 3000], &[2, 3, 4]] {
            let h = header("<f4", shape);
            assert_eq!(h.len() % 64, 0);
            assert_eq!(&h[..8], b"\x93NUMPY\x01\x00");
            let len = u16::from_le_bytes([h[8], h[9]]) as usize;
            assert_eq!(10 + len, h.len());
            let dict = std::str::from_utf8(&h[10..]).unwrap();
            assert!(dict.starts_with("{'descr': '<f4', 'fortran_order': False, 'shape': ("));
            assert!(dict.ends_with('\n'));
        }
        assert!(
            std::str::from_utf8(&header("<f8", &[7])[10..])
                .unwrap()
                .contains("'shape': (7,)")
        );
        assert!(
            std::str::from_utf8(&header("<f8", &[])[10..])
                .unwrap()
                .contains("'shape': ()")
        );
    }

    #[test]
    fn huge_headers_switch_to_version_2() {
        let shape = vec![1usize; 30_000];
        let h = header("<f4", &shape);
        assert_eq!(&h[6..8], &[2, 0]);
        let len = u32::from_le_bytes([h[8], h[9], h[10], h[11]]) as usize;
        assert_eq!(12 + len, h.len());
        assert_eq!(h.len() % 64, 0);
    }

    #[test]
    fn write_checks_the_shape_and_writes_little_endian_bytes() {
        let mut out = Vec::new();
        write(&mut out, &[2, 2], &[1.0f32, 2.0, 3.0, 4.0]).unwrap();
        let h = header("<f4", &[2, 2]).len();
        assert_eq!(h, 128, "numpy writes this header in 128 bytes too");
        assert_eq!(out.len(), h + 16);
        assert_eq!(&out[h..h + 4], &1.0f32.to_le_bytes());
        assert_eq!(&out[h + 12..], &4.0f32.to_le_bytes());
        let mut untouched = Vec::new();
        let e = write(&mut untouched, &[3, 2], &[0u8; 5]).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput);
        let inner = e.get_ref().and_then(|i| i.downcast_ref::<BufferError>());
        assert!(matches!(
            inner,
            Some(BufferError::LengthMismatch { expected: 6, actual: 5 })
        ));
        assert!(untouched.is_empty());
        let e = write(&mut untouched, &[usize::MAX, 2], &[0u8; 5]).unwrap_err();
        let inner = e.get_ref().and_then(|i| i.downcast_ref::<BufferError>());
        assert!(matches!(inner, Some(BufferError::Overflow { .. })));
    }
}
