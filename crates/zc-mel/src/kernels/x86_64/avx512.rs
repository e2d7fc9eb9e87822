//! The AVX-512 level ([`SimdLevel::Avx512`](zc_buffers::SimdLevel::Avx512)):
//! 512-bit FFT stages and logarithm, the finiteness scan and normalisation
//! compiled for AVX-512; the other kernels are the AVX2 ones.

use super::vf::{self, Y, Z};
use super::{generic_stage, radix_stage, run_stages};
use crate::kernels::generic::Generic;
use crate::kernels::{LANES, LaneFft};

// no 512-bit versions of these: the AVX2 kernels themselves (the level
// implies AVX2 and FMA, so dispatching to them is sound)
pub(crate) use super::avx2::{gather, power, project, window, window_gather};

#[target_feature(enable = "avx2,fma,avx512f,avx512vl")]
pub(crate) fn lane_fft(plan: &LaneFft, xr: &mut [f32], xi: &mut [f32], yr: &mut [f32], yi: &mut [f32]) {
    run_stages(plan, xr, xi, yr, yi, |st, sr, si, dr, di| {
        let (wide, all) = (vf::covered::<Z>(st), vf::covered::<Y>(st));
        if all > 0 {
            // SAFETY: this function runs only where AVX-512F/VL, AVX2
            // and FMA are present (its callers' contract).
            unsafe {
                radix_stage::<Z>(st, 0..wide, sr, si, dr, di);
                // a last unpaired column (stride 1, odd count)
                radix_stage::<Y>(st, wide..all, sr, si, dr, di);
            }
        } else {
            generic_stage(st, sr, si, dr, di)
        }
    })
}

#[target_feature(enable = "avx2,fma,avx512f,avx512vl")]
pub(crate) fn log_max(mel: &mut [f32], max: &mut [f32; LANES]) {
    // SAFETY: this function runs only where AVX-512F/VL, AVX2 and FMA
    // are present (its callers' contract).
    let done = unsafe { vf::log_max::<Z>(mel, max) };
    let rest = mel.get_mut(done..).unwrap_or_default();
    // SAFETY: as above.
    let done = unsafe { vf::log_max::<Y>(rest, max) };
    Generic::<true>::log_max(rest.get_mut(done..).unwrap_or_default(), max);
}

#[target_feature(enable = "avx2,fma,avx512f,avx512vl")]
pub(crate) fn all_finite(v: &[f32]) -> bool {
    Generic::<true>::all_finite(v)
}

#[target_feature(enable = "avx2,fma,avx512f,avx512vl")]
pub(crate) fn all_zero(v: &[f32]) -> bool {
    Generic::<true>::all_zero(v)
}

#[target_feature(enable = "avx2,fma,avx512f,avx512vl")]
pub(crate) fn nonzero_len(v: &[f32]) -> usize {
    Generic::<true>::nonzero_len(v)
}

#[target_feature(enable = "avx2,fma,avx512f,avx512vl")]
pub(crate) fn normalise(v: &mut [f32], floor: f32) {
    Generic::<true>::normalise(v, floor)
}
