//! The FIR kernel for [`SimdLevel::Avx512`](zc_buffers::SimdLevel::Avx512):
//! the generic body compiled with AVX-512 F/BW/DQ/VL and FMA, in groups of 8
//! zmm accumulators (128 `f32` / 64 `f64` outputs).
//!
//! Not verified on hardware in this repository's CI machine (it has no
//! AVX-512); the property test `kernels::tests` runs it wherever the CPU has
//! it. `ZC_SIMD=avx2` caps a process to the AVX2 kernel.

use crate::kernels::generic::{fir_body, rows_by};
use crate::sample::Sample;

/// `y[n] += Σ_k h[k]·x[n + k]` with AVX-512 + FMA.
///
/// # Safety
/// The CPU must support the [`SimdLevel::Avx512`](zc_buffers::SimdLevel::Avx512)
/// features and FMA (`SimdLevel::Avx512.is_available()`).
#[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl,avx2,fma")]
pub(crate) unsafe fn fir<T: Sample>(h: &[T], x: &[T], y: &mut [T]) {
    if size_of::<T>() == 4 {
        fir_body::<T, 128, true>(h, x, y)
    } else {
        fir_body::<T, 64, true>(h, x, y)
    }
}

/// The row-form FIR of the full H2 ([`generic::rows`](crate::kernels::generic::rows))
/// with AVX-512 + FMA: groups of 12 zmm per row (96 `f64` / 192 `f32`
/// outputs), two rows in 24 of the 32 zmm registers. Never executed on the
/// development machine (no AVX-512).
///
/// # Safety
/// As for [`fir`].
#[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl,avx2,fma")]
pub(crate) unsafe fn rows<T: Sample>(h: &[T], rows: usize, x: &[T], y: &mut [T]) {
    if size_of::<T>() == 4 {
        rows_by::<T, 192, true>(h, rows, x, y)
    } else {
        rows_by::<T, 96, true>(h, rows, x, y)
    }
}
