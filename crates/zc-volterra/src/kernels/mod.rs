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

    #[test]
    fn resolve_picks_an_available_implemented_level() {
        let l = resolve(None);
        assert!(l.is_available() && SIMD_LEVELS.contains(&l));
        assert_eq!(resolve(Some(SimdLevel::Portable)), SimdLevel::Portable);
    }
}
