//! The one output convention of zc's compute entry points.
//!
//! Every call that writes an array result (a log-mel spectrogram, Volterra
//! output samples, Hamming distances, top-k hits) takes its output as
//! `out: impl IntoOutput<'_, T>`, so the caller may pass any of:
//!
//! * a typed slice `&mut [T]`,
//! * any host buffer `&mut B` where `B:` [`HostBufferMut`] (an
//!   [`AlignedBuf`](crate::AlignedBuf), a pool guard, a writable mapping, an
//!   arena buffer, …), viewed as `[T]` with length and alignment checked,
//! * an `ndarray` view [`ArrayViewMut`] in standard (C-contiguous) layout.
//!
//! The output may be larger than the result: the call writes the prefix it
//! needs and returns what it wrote (a shape or a count), so one pooled buffer
//! sized for the longest input serves every shorter one. An output that is
//! too small is [`BufferError::OutputTooSmall`] in every crate, and nothing
//! is written.

use bytemuck::Pod;
use ndarray::{ArrayViewMut, Dimension};

use crate::buffer::HostBufferMut;
use crate::error::{BufferError, Result};
use crate::view::HostBufferMutExt;

/// An output in one of the three forms zc's compute calls accept.
/// Implemented for `&mut [T]`, `&mut B` with `B: HostBufferMut`, and
/// `ArrayViewMut<'_, T, D>` in standard layout.
///
/// Every call that writes an array result (a log-mel spectrogram, Volterra
/// output samples, Hamming distances) accepts its output in these forms.
/// The output may be larger than the result: the call writes the prefix it
/// needs and returns what it wrote, so one pooled buffer sized for the
/// longest input serves every shorter one. An output that is too small is
/// [`BufferError::OutputTooSmall`] in every crate, and nothing is written.
pub trait IntoOutput<'a, T: Pod> {
    /// The output as one contiguous typed slice.
    fn into_output(self) -> Result<&'a mut [T]>;
}

impl<'a, T: Pod> IntoOutput<'a, T> for &'a mut [T] {
    fn into_output(self) -> Result<&'a mut [T]> {
        Ok(self)
    }
}

impl<'a, T: Pod, B: HostBufferMut> IntoOutput<'a, T> for &'a mut B {
    fn into_output(self) -> Result<&'a mut [T]> {
        self.as_slice_mut::<T>()
    }
}

impl<'a, T: Pod, D: Dimension> IntoOutput<'a, T> for ArrayViewMut<'a, T, D> {
    fn into_output(self) -> Result<&'a mut [T]> {
        // Checked first, so the success path allocates nothing (the error
        // copies shape and strides).
        if !self.is_standard_layout() {
            return Err(BufferError::NotContiguous {
                shape: self.shape().to_vec(),
                strides: self.strides().iter().map(|&s| s.unsigned_abs()).collect(),
            });
        }
        // A standard-layout view is one contiguous slice; `Vec::new()`
        // does not allocate, so this unreachable error costs nothing.
        self.into_slice().ok_or(BufferError::NotContiguous {
            shape: Vec::new(),
            strides: Vec::new(),
        })
    }
}

/// The prefix of `out` that holds `needed` elements, or
/// [`BufferError::OutputTooSmall`]. The check every entry point makes before
/// it writes anything.
pub fn output_prefix<T: Pod>(out: &mut [T], needed: usize) -> Result<&mut [T]> {
    let actual = out.len();
    out.get_mut(..needed).ok_or(BufferError::OutputTooSmall {
        type_name: std::any::type_name::<T>(),
        needed,
        actual,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::AlignedBuf;
    use ndarray::{Array2, s};

    fn fill<'a>(out: impl IntoOutput<'a, f32>, n: usize) -> Result<usize> {
        let out = output_prefix(out.into_output()?, n)?;
        out.fill(1.0);
        Ok(n)
    }

    #[test]
    fn all_three_forms_write_a_prefix() {
        let mut v = vec![0f32; 8];
        assert_eq!(fill(&mut v[..], 5).unwrap(), 5);
        assert_eq!(v, [1.0, 1.0, 1.0, 1.0, 1.0, 0.0, 0.0, 0.0]);

        let mut b = AlignedBuf::zeroed(32).unwrap();
        assert_eq!(fill(&mut b, 8).unwrap(), 8);
        assert!(
            crate::HostBufferExt::as_slice::<f32>(&b)
                .unwrap()
                .iter()
                .all(|&x| x == 1.0)
        );

        let mut a = Array2::<f32>::zeros((2, 4));
        assert_eq!(fill(a.view_mut(), 6).unwrap(), 6);
        assert_eq!(a[[1, 1]], 1.0);
        assert_eq!(a[[1, 2]], 0.0);
    }

    #[test]
    fn too_small_and_strided_outputs_are_refused_untouched() {
        let mut v = vec![0f32; 3];
        assert!(matches!(
            fill(&mut v[..], 4),
            Err(BufferError::OutputTooSmall {
                needed: 4,
                actual: 3,
                ..
            })
        ));
        assert_eq!(v, [0.0; 3]);
        let mut a = Array2::<f32>::zeros((4, 4));
        assert!(matches!(
            fill(a.slice_mut(s![.., ..2]), 2),
            Err(BufferError::NotContiguous { .. })
        ));
        let mut odd = AlignedBuf::zeroed(6).unwrap();
        assert!(fill(&mut odd, 1).is_err());
    }
}
