//! The FIR kernel for [`SimdLevel::Avx2`](zc_buffers::SimdLevel::Avx2): the
//! generic body compiled with AVX2 and FMA, in groups of 8 ymm accumulators
//! (64 `f32` / 32 `f64` outputs) with fused multiply-add.

use crate::kernels::generic::fir_body;
use crate::sample::Sample;

/// `y[n] += Σ_k h[k]·x[n + k]` with AVX2 + FMA.
///
/// # Safety
/// The CPU must support AVX2 and FMA (`SimdLevel::Avx2.is_available()`).
#[target_feature(enable = "avx2,fma")]
pub(crate) unsafe fn fir<T: Sample>(h: &[T], x: &[T], y: &mut [T]) {
    if size_of::<T>() == 4 {
        fir_body::<T, 64, true>(h, x, y)
    } else {
        fir_body::<T, 32, true>(h, x, y)
    }
}
