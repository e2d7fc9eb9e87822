//! The FIR inner kernel shared by the time-domain engines, with a run-time
//! selected AVX2+FMA path and a portable fallback.
//!
//! `y[n] += Σ_k h[k]·x[n + k]` for `n < y.len()` (taps stored reversed by the
//! engines, so this is a causal convolution over a history buffer). Outputs
//! are computed in register-blocked groups: for every tap, a broadcast of
//! `h[k]` times a contiguous run of `x`, accumulated per output lane — no
//! horizontal reductions, so the compiler vectorises it and the summation
//! order per output is the same in every path (taps in ascending order).

use crate::sample::Sample;

/// Which instruction-set path the FIR kernel uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SimdLevel {
    /// Portable code (whatever the compile target offers; SSE2 on x86-64).
    Scalar,
    /// AVX2 with fused multiply-add, selected at run time.
    Avx2Fma,
}

impl SimdLevel {
    /// The best level this CPU supports.
    pub fn detect() -> SimdLevel {
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
                return SimdLevel::Avx2Fma;
            }
        }
        SimdLevel::Scalar
    }

    /// Whether this CPU can run `self`.
    pub fn is_supported(self) -> bool {
        match self {
            SimdLevel::Scalar => true,
            SimdLevel::Avx2Fma => SimdLevel::detect() == SimdLevel::Avx2Fma,
        }
    }
}

/// `y[n] += Σ_k h[k]·x[n + k]`. Does nothing (returns `false`) when
/// `x.len() < y.len() + h.len() − 1`, when `h` is empty, or when `level` is not
/// supported by this CPU; returns `true` when it ran.
pub fn fir_accumulate<T: Sample>(h: &[T], x: &[T], y: &mut [T], level: SimdLevel) -> bool {
    if h.is_empty() || x.len() + 1 < y.len() + h.len() || !level.is_supported() {
        return false;
    }
    fir_dispatch(h, x, y, level);
    true
}

/// Unchecked-support variant used by the engines (they hold a detected
/// level). Lengths must satisfy `x.len() + 1 >= y.len() + h.len()`; slicing
/// panics are impossible under that contract, which every engine upholds by
/// construction.
#[inline]
pub(crate) fn fir_dispatch<T: Sample>(h: &[T], x: &[T], y: &mut [T], level: SimdLevel) {
    match level {
        #[cfg(target_arch = "x86_64")]
        SimdLevel::Avx2Fma => {
            // SAFETY: `SimdLevel::Avx2Fma` is only ever produced by `detect()`
            // after `is_x86_feature_detected!("avx2")` and `("fma")` both held
            // (engines store the detected level; `fir_accumulate` re-checks),
            // so the target features the callee is compiled for are present.
            unsafe { fir_avx2_fma(h, x, y) }
        }
        _ => fir_portable(h, x, y),
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
/// # Safety
/// The CPU must support AVX2 and FMA.
unsafe fn fir_avx2_fma<T: Sample>(h: &[T], x: &[T], y: &mut [T]) {
    if size_of::<T>() == 4 {
        fir_body::<T, 64, true>(h, x, y)
    } else {
        fir_body::<T, 32, true>(h, x, y)
    }
}

fn fir_portable<T: Sample>(h: &[T], x: &[T], y: &mut [T]) {
    if size_of::<T>() == 4 {
        fir_body::<T, 32, false>(h, x, y)
    } else {
        fir_body::<T, 16, false>(h, x, y)
    }
}

#[inline(always)]
fn madd<T: Sample, const FMA: bool>(a: T, b: T, c: T) -> T {
    if FMA { a.mul_add(b, c) } else { c + a * b }
}

#[inline(always)]
fn fir_body<T: Sample, const W: usize, const FMA: bool>(h: &[T], x: &[T], y: &mut [T]) {
    // Wide groups, then 8-wide groups (short blocks), then single outputs.
    let base = fir_groups::<T, W, FMA>(h, x, y, 0);
    let base = fir_groups::<T, 8, FMA>(h, x, y, base);
    let taps = h.len();
    for i in base..y.len() {
        let mut acc = T::zero();
        for (&hk, &xv) in h.iter().zip(&x[i..i + taps]) {
            acc = madd::<T, FMA>(hk, xv, acc);
        }
        y[i] = y[i] + acc;
    }
}

/// Outputs `base..` in groups of `W` (register-blocked); returns where the
/// groups stopped.
#[inline(always)]
fn fir_groups<T: Sample, const W: usize, const FMA: bool>(h: &[T], x: &[T], y: &mut [T], mut base: usize) -> usize {
    let taps = h.len();
    while base + W <= y.len() {
        let mut acc = [T::zero(); W];
        let xs = &x[base..base + W + taps - 1];
        for (k, &hk) in h.iter().enumerate() {
            if let Some(w) = xs.get(k..k + W) {
                for j in 0..W {
                    acc[j] = madd::<T, FMA>(hk, w[j], acc[j]);
                }
            }
        }
        for (o, a) in y[base..base + W].iter_mut().zip(acc) {
            *o = *o + a;
        }
        base += W;
    }
    base
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_agree_with_reference() {
        for &(taps, n) in &[(1usize, 1usize), (3, 70), (9, 45), (17, 129), (64, 33), (5, 0)] {
            let h: Vec<f64> = (0..taps).map(|k| 0.9f64.powi(k as i32) - 0.3).collect();
            let x: Vec<f64> = (0..n + taps - 1)
                .map(|i| ((i * 7919) % 97) as f64 / 97.0 - 0.5)
                .collect();
            let mut want = vec![0.25; n];
            for i in 0..n {
                want[i] += (0..taps).map(|k| h[k] * x[i + k]).sum::<f64>();
            }
            for level in [SimdLevel::Scalar, SimdLevel::Avx2Fma] {
                let mut y = vec![0.25; n];
                if fir_accumulate(&h, &x, &mut y, level) {
                    for i in 0..n {
                        assert!((y[i] - want[i]).abs() < 1e-13, "{level:?} {taps} {n} {i}");
                    }
                }
                let hf: Vec<f32> = h.iter().map(|&v| v as f32).collect();
                let xf: Vec<f32> = x.iter().map(|&v| v as f32).collect();
                let mut yf = vec![0.25f32; n];
                if fir_accumulate(&hf, &xf, &mut yf, level) {
                    for i in 0..n {
                        assert!(
                            (f64::from(yf[i]) - want[i]).abs() < 1e-4,
                            "{level:?} f32 {taps} {n} {i}"
                        );
                    }
                }
            }
        }
        assert!(!fir_accumulate::<f64>(&[], &[1.0], &mut [0.0], SimdLevel::Scalar));
        assert!(!fir_accumulate::<f64>(
            &[1.0, 2.0],
            &[1.0],
            &mut [0.0],
            SimdLevel::Scalar
        ));
    }
}
