//! The kernels for [`SimdLevel::Avx2`](zc_buffers::SimdLevel::Avx2): the
//! FIR is the generic body compiled with AVX2 and FMA, in groups of 8 ymm
//! accumulators (64 `f32` / 32 `f64` outputs) with fused multiply-add; the
//! complex multiply-accumulate is written with intrinsics (interleaved
//! re/im, `fmaddsub`).

use std::arch::x86_64::*;

use realfft::num_complex::Complex;

use crate::kernels::generic::{fir_body, rows_by};
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

/// The row-form FIR of the full H2 ([`generic::rows`](crate::kernels::generic::rows))
/// with AVX2 + FMA: groups of 6 ymm per row (24 `f64` / 48 `f32` outputs),
/// so two rows hold 12 accumulators and share each load of `x`.
///
/// # Safety
/// The CPU must support AVX2 and FMA (`SimdLevel::Avx2.is_available()`).
#[target_feature(enable = "avx2,fma")]
pub(crate) unsafe fn rows<T: Sample>(h: &[T], rows: usize, x: &[T], y: &mut [T]) {
    if size_of::<T>() == 4 {
        rows_by::<T, 48, true>(h, rows, x, y)
    } else {
        rows_by::<T, 24, true>(h, rows, x, y)
    }
}

/// `acc[i] += x[i]·h[i]` over interleaved complex `f64`, two per ymm.
///
/// # Safety
/// The CPU must support AVX2 and FMA.
#[target_feature(enable = "avx2,fma")]
pub(crate) unsafe fn cmac_f64(acc: &mut [Complex<f64>], x: &[Complex<f64>], h: &[Complex<f64>]) {
    let n = acc.len().min(x.len()).min(h.len());
    let whole = n - n % 2;
    let (pa, px, ph) = (
        acc.as_mut_ptr().cast::<f64>(),
        x.as_ptr().cast::<f64>(),
        h.as_ptr().cast::<f64>(),
    );
    let mut i = 0;
    while i < whole {
        // SAFETY: `i + 2 <= n` complex values = `2i + 4 <= 2n` f64 in each
        // slice (`Complex<f64>` is `repr(C)` {re, im}); unaligned loads.
        unsafe {
            let xv = _mm256_loadu_pd(px.add(2 * i));
            let hv = _mm256_loadu_pd(ph.add(2 * i));
            let av = _mm256_loadu_pd(pa.add(2 * i));
            let hre = _mm256_movedup_pd(hv); // hr hr
            let him = _mm256_permute_pd::<0b1111>(hv); // hi hi
            let xsw = _mm256_permute_pd::<0b0101>(xv); // xi xr
            // (xr·hr − xi·hi, xi·hr + xr·hi)
            let prod = _mm256_fmaddsub_pd(xv, hre, _mm256_mul_pd(xsw, him));
            _mm256_storeu_pd(pa.add(2 * i), _mm256_add_pd(av, prod));
        }
        i += 2;
    }
    crate::kernels::generic::cmac(&mut acc[whole..n], &x[whole..n], &h[whole..n]);
}

/// `acc[i] += x[i]·h[i]` over interleaved complex `f32`, four per ymm.
///
/// # Safety
/// The CPU must support AVX2 and FMA.
#[target_feature(enable = "avx2,fma")]
pub(crate) unsafe fn cmac_f32(acc: &mut [Complex<f32>], x: &[Complex<f32>], h: &[Complex<f32>]) {
    let n = acc.len().min(x.len()).min(h.len());
    let whole = n - n % 4;
    let (pa, px, ph) = (
        acc.as_mut_ptr().cast::<f32>(),
        x.as_ptr().cast::<f32>(),
        h.as_ptr().cast::<f32>(),
    );
    let mut i = 0;
    while i < whole {
        // SAFETY: `i + 4 <= n` complex values = `2i + 8 <= 2n` f32 in each
        // slice (`Complex<f32>` is `repr(C)` {re, im}); unaligned loads.
        unsafe {
            let xv = _mm256_loadu_ps(px.add(2 * i));
            let hv = _mm256_loadu_ps(ph.add(2 * i));
            let av = _mm256_loadu_ps(pa.add(2 * i));
            let hre = _mm256_moveldup_ps(hv);
            let him = _mm256_movehdup_ps(hv);
            let xsw = _mm256_permute_ps::<0b1011_0001>(xv);
            let prod = _mm256_fmaddsub_ps(xv, hre, _mm256_mul_ps(xsw, him));
            _mm256_storeu_ps(pa.add(2 * i), _mm256_add_ps(av, prod));
        }
        i += 4;
    }
    crate::kernels::generic::cmac(&mut acc[whole..n], &x[whole..n], &h[whole..n]);
}
