//! The FIR inner kernel shared by the time-domain engines, organised by
//! architecture: [`generic`] (portable) and `x86_64::{avx2, avx512}`,
//! chosen by a [`SimdLevel`] that the engine holds.
//!
//! `y[n] += Σ_k h[k]·x[n + k]` for `n < y.len()` (taps stored reversed by the
//! engines, so this is a causal convolution over a history buffer). Outputs
//! are computed in register-blocked groups: for every tap, a broadcast of
//! `h[k]` times a contiguous run of `x`, accumulated per output lane — no
//! horizontal reductions, so the compiler vectorises it and the summation
//! order per output is the same at every level (taps in ascending order;
//! the x86-64 levels fuse the multiply-add, so results differ from the
//! portable ones by rounding only).

pub(crate) mod generic;
#[cfg(target_arch = "x86_64")]
pub(crate) mod x86_64;

use std::any::TypeId;

use realfft::num_complex::Complex;
use zc_buffers::SimdLevel;

use crate::sample::Sample;

/// The levels zc-volterra has a FIR kernel for, lowest first.
pub const SIMD_LEVELS: &[SimdLevel] = &[SimdLevel::Portable, SimdLevel::Avx2, SimdLevel::Avx512];

/// The kernel level an engine uses: a level the caller forced (checked by
/// the builder), or the best implemented level this CPU has (capped by
/// `ZC_SIMD`).
pub(crate) fn resolve(forced: Option<SimdLevel>) -> SimdLevel {
    forced.unwrap_or_else(|| SimdLevel::best_of(SIMD_LEVELS))
}

/// `y[n] += Σ_k h[k]·x[n + k]` at `level`.
///
/// Contract (upheld by every engine by construction): `level` is one of
/// [`SIMD_LEVELS`] and available on this CPU, `h` is non-empty and
/// `x.len() + 1 >= y.len() + h.len()`.
#[inline]
pub(crate) fn fir<T: Sample>(h: &[T], x: &[T], y: &mut [T], level: SimdLevel) {
    match level {
        #[cfg(target_arch = "x86_64")]
        SimdLevel::Avx512 => {
            // SAFETY: engines hold a level from `resolve` — `best_of`, which
            // only returns available levels, or a forced level the builder
            // checked with `require()` — and `Avx512` implies the AVX-512
            // F/BW/DQ/VL and FMA features `avx512::fir` is compiled for.
            unsafe { x86_64::avx512::fir(h, x, y) }
        }
        #[cfg(target_arch = "x86_64")]
        SimdLevel::Avx2 => {
            // SAFETY: as above; `SimdLevel::Avx2` implies AVX2 and FMA.
            unsafe { x86_64::avx2::fir(h, x, y) }
        }
        _ => generic::fir(h, x, y),
    }
}

/// The row-form FIR of a group of `rows` rows at `level` (the full H2 of
/// the Direct engine; see [`generic::rows`] for the formula):
/// `y[n] += Σ_r x[n + K − 1 − r] · Σ_k h[k·rows + r]·x[n + k]`.
///
/// Contract (upheld by the Direct engine by construction): as for [`fir`]
/// for `level`, and `1 <= rows <= generic::ROWS`, `h.len() == K·rows`,
/// `K >= rows`, `x.len() + 1 >= y.len() + K`.
#[inline]
pub(crate) fn rows<T: Sample>(h: &[T], rows: usize, x: &[T], y: &mut [T], level: SimdLevel) {
    match level {
        #[cfg(target_arch = "x86_64")]
        SimdLevel::Avx512 => {
            // SAFETY: as in `fir`: the level is available on this CPU and
            // implies the features `avx512::rows` is compiled for.
            unsafe { x86_64::avx512::rows(h, rows, x, y) }
        }
        #[cfg(target_arch = "x86_64")]
        SimdLevel::Avx2 => {
            // SAFETY: as in `fir`; `SimdLevel::Avx2` implies AVX2 and FMA.
            unsafe { x86_64::avx2::rows(h, rows, x, y) }
        }
        _ => generic::rows(h, rows, x, y),
    }
}

/// `acc[i] += x[i]·h[i]` over complex spectra at `level` (the
/// frequency-domain multiply-accumulate of the Fft and Partitioned engines);
/// the shortest of the three lengths.
///
/// `Avx2` and `Avx512` run the AVX2 intrinsics kernel (AVX-512 implies AVX2
/// and FMA; there is no separate 512-bit version). Contract as for [`fir`]:
/// `level` is available on this CPU.
#[inline]
pub(crate) fn cmac<T: Sample>(acc: &mut [Complex<T>], x: &[Complex<T>], h: &[Complex<T>], level: SimdLevel) {
    #[cfg(target_arch = "x86_64")]
    if matches!(level, SimdLevel::Avx2 | SimdLevel::Avx512) {
        if TypeId::of::<T>() == TypeId::of::<f64>() {
            // SAFETY: T is f64, so the slices have exactly this type; the
            // level was checked available (see `fir`) and implies AVX2+FMA.
            unsafe {
                let acc = std::slice::from_raw_parts_mut(acc.as_mut_ptr().cast::<Complex<f64>>(), acc.len());
                let x = std::slice::from_raw_parts(x.as_ptr().cast::<Complex<f64>>(), x.len());
                let h = std::slice::from_raw_parts(h.as_ptr().cast::<Complex<f64>>(), h.len());
                x86_64::avx2::cmac_f64(acc, x, h);
            }
            return;
        }
        if TypeId::of::<T>() == TypeId::of::<f32>() {
            // SAFETY: T is f32; as above.
            unsafe {
                let acc = std::slice::from_raw_parts_mut(acc.as_mut_ptr().cast::<Complex<f32>>(), acc.len());
                let x = std::slice::from_raw_parts(x.as_ptr().cast::<Complex<f32>>(), x.len());
                let h = std::slice::from_raw_parts(h.as_ptr().cast::<Complex<f32>>(), h.len());
                x86_64::avx2::cmac_f32(acc, x, h);
            }
            return;
        }
    }
    let _ = level;
    generic::cmac(acc, x, h)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn reference(h: &[f64], x: &[f64], y0: f64, n: usize) -> Vec<f64> {
        (0..n)
            .map(|i| y0 + (0..h.len()).map(|k| h[k] * x[i + k]).sum::<f64>())
            .collect()
    }

    /// Every implemented level this CPU has, and the portable one.
    fn levels() -> Vec<SimdLevel> {
        SIMD_LEVELS.iter().copied().filter(|l| l.is_available()).collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(96))]

        /// Every available level agrees with the generic kernel (to FMA
        /// rounding) for any tap count and output length, f64 and f32.
        #[test]
        fn every_level_matches_generic(
            h in prop::collection::vec(-1.0f64..1.0, 1..80),
            n in 0usize..300,
            seed in any::<u64>(),
            y0 in -1.0f64..1.0,
        ) {
            let mut s = seed | 1;
            let x: Vec<f64> = (0..n + h.len() - 1)
                .map(|_| {
                    s ^= s << 13;
                    s ^= s >> 7;
                    s ^= s << 17;
                    (s >> 11) as f64 / (1u64 << 53) as f64 - 0.5
                })
                .collect();
            let want = reference(&h, &x, y0, n);
            let mut generic64 = vec![y0; n];
            generic::fir(&h, &x, &mut generic64);
            let hf: Vec<f32> = h.iter().map(|&v| v as f32).collect();
            let xf: Vec<f32> = x.iter().map(|&v| v as f32).collect();
            let mut generic32 = vec![y0 as f32; n];
            generic::fir(&hf, &xf, &mut generic32);
            for i in 0..n {
                prop_assert!((generic64[i] - want[i]).abs() < 1e-12);
            }
            for level in levels() {
                let mut y = vec![y0; n];
                fir(&h, &x, &mut y, level);
                for i in 0..n {
                    prop_assert!((y[i] - generic64[i]).abs() < 1e-12, "{} f64 i={}", level, i);
                }
                let mut yf = vec![y0 as f32; n];
                fir(&hf, &xf, &mut yf, level);
                for i in 0..n {
                    prop_assert!((yf[i] - generic32[i]).abs() < 1e-4, "{} f32 i={}", level, i);
                }
            }
        }
    }

    /// `y0 + Σ_r x[i + K − 1 − r]·Σ_k h[k·rows + r]·x[i + k]`, summed plainly.
    fn rows_reference(h: &[f64], rows: usize, x: &[f64], y0: f64, n: usize) -> Vec<f64> {
        let taps = h.len() / rows;
        (0..n)
            .map(|i| {
                y0 + (0..rows)
                    .map(|r| x[i + taps - 1 - r] * (0..taps).map(|k| h[k * rows + r] * x[i + k]).sum::<f64>())
                    .sum::<f64>()
            })
            .collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(96))]

        /// The row-form kernel of the full H2: the generic one equals the
        /// plain double sum, and every available level agrees with the
        /// generic one (to FMA rounding), for every row count, tap count
        /// and output length (register groups, groups of 8 and single
        /// outputs), f64 and f32.
        #[test]
        fn rows_every_level_matches_generic_and_naive(
            rows in 1usize..=generic::ROWS,
            extra in 0usize..70,
            hv in prop::collection::vec(-1.0f64..1.0, 140),
            n in 0usize..300,
            seed in any::<u64>(),
            y0 in -1.0f64..1.0,
        ) {
            let taps = rows + extra;
            let h: Vec<f64> = (0..taps * rows).map(|i| hv[i % hv.len()] * if i % 7 == 3 { 0.0 } else { 1.0 }).collect();
            let mut s = seed | 1;
            let x: Vec<f64> = (0..n + taps - 1)
                .map(|_| {
                    s ^= s << 13;
                    s ^= s >> 7;
                    s ^= s << 17;
                    (s >> 11) as f64 / (1u64 << 53) as f64 - 0.5
                })
                .collect();
            let want = rows_reference(&h, rows, &x, y0, n);
            let mut generic64 = vec![y0; n];
            generic::rows(&h, rows, &x, &mut generic64);
            for i in 0..n {
                prop_assert!((generic64[i] - want[i]).abs() < 1e-12, "generic i={}", i);
            }
            let hf: Vec<f32> = h.iter().map(|&v| v as f32).collect();
            let xf: Vec<f32> = x.iter().map(|&v| v as f32).collect();
            let mut generic32 = vec![y0 as f32; n];
            generic::rows(&hf, rows, &xf, &mut generic32);
            for i in 0..n {
                prop_assert!((f64::from(generic32[i]) - want[i]).abs() < 1e-4, "generic f32 i={}", i);
            }
            for level in levels() {
                let mut y = vec![y0; n];
                super::rows(&h, rows, &x, &mut y, level);
                for i in 0..n {
                    prop_assert!((y[i] - generic64[i]).abs() < 1e-12, "{} f64 i={}", level, i);
                }
                let mut yf = vec![y0 as f32; n];
                super::rows(&hf, rows, &xf, &mut yf, level);
                for i in 0..n {
                    prop_assert!((yf[i] - generic32[i]).abs() < 1e-4, "{} f32 i={}", level, i);
                }
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// The complex multiply-accumulate agrees with the portable one at
        /// every available level, any length (odd tails included).
        #[test]
        fn cmac_every_level_matches_generic(
            v in prop::collection::vec((-1.0f64..1.0, -1.0f64..1.0, -1.0f64..1.0, -1.0f64..1.0, -1.0f64..1.0, -1.0f64..1.0), 0..70),
        ) {
            let c = |r: f64, i: f64| Complex::new(r, i);
            let a0: Vec<Complex<f64>> = v.iter().map(|t| c(t.0, t.1)).collect();
            let x: Vec<Complex<f64>> = v.iter().map(|t| c(t.2, t.3)).collect();
            let h: Vec<Complex<f64>> = v.iter().map(|t| c(t.4, t.5)).collect();
            let f = |z: &[Complex<f64>]| z.iter().map(|z| Complex::new(z.re as f32, z.im as f32)).collect::<Vec<_>>();
            let (a0f, xf, hf) = (f(&a0), f(&x), f(&h));
            let mut want = a0.clone();
            generic::cmac(&mut want, &x, &h);
            let mut wantf = a0f.clone();
            generic::cmac(&mut wantf, &xf, &hf);
            for level in levels() {
                let mut got = a0.clone();
                cmac(&mut got, &x, &h, level);
                for (g, w) in got.iter().zip(&want) {
                    prop_assert!((g - w).norm() < 1e-14, "{} f64", level);
                }
                let mut gotf = a0f.clone();
                cmac(&mut gotf, &xf, &hf, level);
                for (g, w) in gotf.iter().zip(&wantf) {
                    prop_assert!((g - w).norm() < 1e-5, "{} f32", level);
                }
            }
        }
    }

    #[test]
    fn resolve_picks_an_available_implemented_level() {
        let l = resolve(None);
        assert!(l.is_available() && SIMD_LEVELS.contains(&l));
        assert_eq!(resolve(Some(SimdLevel::Portable)), SimdLevel::Portable);
    }
}
