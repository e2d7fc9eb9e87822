//! The AVX2 + FMA level ([`SimdLevel::Avx2`](zc_buffers::SimdLevel::Avx2)):
//! 256-bit registers, one row of eight frames each.

use std::arch::x86_64::*;

use rustfft::num_complex::Complex32;

use super::vf::{self, Y};
use super::{generic_stage, radix_stage, run_stages};
use crate::filters::MelFilterbank;
use crate::kernels::generic::Generic;
use crate::kernels::{LANES, LaneFft, complex_as_f32};

#[target_feature(enable = "avx2,fma")]
pub(crate) fn window(src: &[f32], window: &[f32], dst: &mut [f32]) {
    Generic::<true>::window(src, window, dst)
}

#[target_feature(enable = "avx2,fma")]
pub(crate) fn window_gather(rows: &[&[f32]; LANES], window: &[f32], m: usize, zr: &mut [f32], zi: &mut [f32]) {
    if rows.iter().any(|r| r.len() < 2 * m) || window.len() < 2 * m || zr.len() < m * LANES || zi.len() < m * LANES {
        return Generic::<true>::window_gather(rows, window, m, zr, zi);
    }
    let full = m / 4 * 4;
    let mut k = 0;
    while k < full {
        // SAFETY: k + 4 <= m, so floats 2k..2k + 8 lie in every row and the window (2m floats, checked).
        let w = unsafe { _mm256_loadu_ps(window.as_ptr().add(2 * k)) };
        // A plain loop, not `rows.map(..)`: `array::map` is a generic
        // function compiled without AVX2, and when it is not inlined every
        // __m256 crosses a non-AVX call boundary (30% of the whole
        // spectrogram, measured).
        let mut r = [_mm256_setzero_ps(); LANES];
        for (dst, row) in r.iter_mut().zip(rows.iter()) {
            // SAFETY: as above.
            *dst = _mm256_mul_ps(unsafe { _mm256_loadu_ps(row.as_ptr().add(2 * k)) }, w);
        }
        let t = zc_buffers::simd::transpose8x8_ps(r);
        for (j, v) in t.into_iter().enumerate() {
            let dst = if j % 2 == 0 { &mut *zr } else { &mut *zi };
            // SAFETY: row k + j/2 < m of m rows of LANES floats (checked above).
            unsafe { _mm256_storeu_ps(dst.as_mut_ptr().add((k + j / 2) * LANES), v) };
        }
        k += 4;
    }
    for k in full..m {
        for (l, row) in rows.iter().enumerate() {
            zr[k * LANES + l] = row[2 * k] * window[2 * k];
            zi[k * LANES + l] = row[2 * k + 1] * window[2 * k + 1];
        }
    }
}

#[target_feature(enable = "avx2,fma")]
pub(crate) fn gather(fft: &[Complex32], slots: &[usize; LANES], m: usize, zr: &mut [f32], zi: &mut [f32]) {
    let flat = complex_as_f32(fft);
    let mut rows: [&[f32]; LANES] = [&[]; LANES];
    for (row, &slot) in rows.iter_mut().zip(slots) {
        match flat.get(2 * slot * m..2 * (slot * m + m)) {
            Some(r) => *row = r,
            None => return Generic::<true>::gather(fft, slots, m, zr, zi),
        }
    }
    if zr.len() < (m + 1) * LANES || zi.len() < (m + 1) * LANES {
        return;
    }
    let full = m / 4 * 4;
    let mut k = 0;
    while k < full {
        // k + 4 <= m, so floats 2k..2k + 8 lie in every row (2m floats);
        // a plain loop rather than `rows.map(..)` (see window_gather).
        let mut r = [_mm256_setzero_ps(); LANES];
        for (dst, row) in r.iter_mut().zip(rows.iter()) {
            // SAFETY: floats 2k..2k + 8 lie in the row (above).
            *dst = unsafe { _mm256_loadu_ps(row.as_ptr().add(2 * k)) };
        }
        let t = zc_buffers::simd::transpose8x8_ps(r);
        for (j, v) in t.into_iter().enumerate() {
            let dst = if j % 2 == 0 { &mut *zr } else { &mut *zi };
            // SAFETY: row k + j/2 < m of (m + 1) rows of LANES floats (checked above).
            unsafe { _mm256_storeu_ps(dst.as_mut_ptr().add((k + j / 2) * LANES), v) };
        }
        k += 4;
    }
    for k in full..m {
        for (l, row) in rows.iter().enumerate() {
            zr[k * LANES + l] = row[2 * k];
            zi[k * LANES + l] = row[2 * k + 1];
        }
    }
    Generic::<true>::wrap(m, zr, zi);
}

#[target_feature(enable = "avx2,fma")]
pub(crate) fn lane_fft(plan: &LaneFft, xr: &mut [f32], xi: &mut [f32], yr: &mut [f32], yi: &mut [f32]) {
    run_stages(plan, xr, xi, yr, yi, |st, sr, si, dr, di| {
        let all = vf::covered::<Y>(st);
        if all > 0 {
            // SAFETY: this function runs only where AVX2 and FMA are present (its callers' contract).
            unsafe { radix_stage::<Y>(st, 0..all, sr, si, dr, di) }
        } else {
            generic_stage(st, sr, si, dr, di)
        }
    })
}

#[target_feature(enable = "avx2,fma")]
pub(crate) fn power(zr: &[f32], zi: &[f32], m: usize, k0: usize, twc: &[f32], tws: &[f32], pow: &mut [f32]) {
    Generic::<true>::power(zr, zi, m, k0, twc, tws, pow)
}

#[target_feature(enable = "avx2,fma")]
pub(crate) fn project(filters: &MelFilterbank, pow: &[f32], k0: usize, mel: &mut [f32]) {
    Generic::<true>::project(filters, pow, k0, mel)
}

#[target_feature(enable = "avx2,fma")]
pub(crate) fn log_max(mel: &mut [f32], max: &mut [f32; LANES]) {
    // SAFETY: this function runs only where AVX2 and FMA are present (its callers' contract).
    let done = unsafe { vf::log_max::<Y>(mel, max) };
    // rows are whole registers: nothing is left, but stay total
    Generic::<true>::log_max(mel.get_mut(done..).unwrap_or_default(), max);
}

#[target_feature(enable = "avx2,fma")]
pub(crate) fn all_finite(v: &[f32]) -> bool {
    Generic::<true>::all_finite(v)
}

#[target_feature(enable = "avx2,fma")]
pub(crate) fn all_zero(v: &[f32]) -> bool {
    Generic::<true>::all_zero(v)
}

#[target_feature(enable = "avx2,fma")]
pub(crate) fn nonzero_len(v: &[f32]) -> usize {
    Generic::<true>::nonzero_len(v)
}

#[target_feature(enable = "avx2,fma")]
pub(crate) fn normalise(v: &mut [f32], floor: f32) {
    Generic::<true>::normalise(v, floor)
}
