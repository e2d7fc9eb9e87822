//! Harmonic analysis: closed-form harmonics of a memoryless kernel driven by
//! a sine, and measured harmonic levels / THD of an output signal.

use crate::error::{AnalysisError, Result, VolterraError};
use crate::kernel::{Kernel, MAX_ORDER};

/// Harmonic content: DC and peak amplitudes of harmonics 1, 2, … .
#[derive(Clone, Debug, PartialEq)]
pub struct Harmonics {
    /// The DC (mean) value.
    pub dc: f64,
    /// Peak amplitude of harmonic `k + 1` at index `k` (index 0 = fundamental).
    pub amplitudes: Vec<f64>,
    /// Total harmonic distortion `sqrt(Σ_{k≥2} A_k²) / A_1` (0 when `A_1` is 0).
    pub thd: f64,
}

impl Harmonics {
    fn new(dc: f64, amplitudes: Vec<f64>) -> Self {
        let a1 = amplitudes.first().copied().unwrap_or(0.0);
        let rest: f64 = amplitudes.iter().skip(1).map(|a| a * a).sum();
        let thd = if a1 > 0.0 { rest.sqrt() / a1 } else { 0.0 };
        Harmonics { dc, amplitudes, thd }
    }

    /// THD in dB (`20·log10(thd)`).
    pub fn thd_db(&self) -> f64 {
        20.0 * self.thd.log10()
    }

    /// Level of harmonic `k` (1-based) relative to the fundamental, in dB.
    pub fn level_db(&self, k: usize) -> Option<f64> {
        let a1 = *self.amplitudes.first()?;
        let ak = *self.amplitudes.get(k.checked_sub(1)?)?;
        Some(20.0 * (ak / a1).log10())
    }
}

fn binom(n: usize, k: usize) -> f64 {
    (0..k).fold(1.0, |acc, i| acc * (n - i) as f64 / (i + 1) as f64)
}

/// Closed-form harmonics of `y = Σ a_p x^p` for `x = A·sin(ωn)`:
/// `sin^p` contributes `2^{1−p}·C(p, (p−k)/2)·A^p·a_p` to harmonic `k`
/// (`k ≡ p mod 2`), all with the same phase `i^{−k}`, and `2^{−p}·C(p, p/2)`
/// to DC for even `p`. `coeffs[0]` = a1 (at most 5).
pub fn predicted_harmonics_poly(coeffs: &[f64], amplitude: f64, count: usize) -> Result<Harmonics> {
    if coeffs.len() > MAX_ORDER {
        return Err(VolterraError::BadOrder { order: coeffs.len() });
    }
    let mut dc = 0.0;
    let mut amps = crate::alloc::filled(count, 0.0)?;
    for (i, &a) in coeffs.iter().enumerate() {
        let p = i + 1;
        let ap = a * amplitude.powi(p as i32);
        if p % 2 == 0 {
            dc += ap * binom(p, p / 2) / 2f64.powi(p as i32);
        }
        for (j, amp) in amps.iter_mut().enumerate() {
            let k = j + 1;
            if k <= p && (p - k) % 2 == 0 {
                *amp += ap * binom(p, (p - k) / 2) / 2f64.powi(p as i32 - 1);
            }
        }
    }
    let amps = amps.into_iter().map(f64::abs).collect();
    Ok(Harmonics::new(dc, amps))
}

/// Closed-form harmonics of a memoryless `kernel` for a sine of peak
/// `amplitude` (see [`predicted_harmonics_poly`]). Errors when the kernel has
/// memory.
pub fn predicted_harmonics(kernel: &Kernel, amplitude: f64, count: usize) -> Result<Harmonics> {
    predicted_harmonics_poly(&kernel.polynomial_coeffs()?, amplitude, count)
}

/// Measure DC, the first `count` harmonic peak amplitudes and THD of
/// `signal` for a fundamental `f0` at `sample_rate`, by single-bin DFTs at
/// `k·f0` (exact when the signal holds a whole number of periods; amplitude =
/// `2·|Σ y[n]·e^{−iωkn}| / L`, DC = mean).
pub fn measure_harmonics(signal: &[f64], sample_rate: f64, f0: f64, count: usize) -> Result<Harmonics> {
    if signal.is_empty() {
        return Err(VolterraError::Analysis(AnalysisError::EmptySignal));
    }
    if !(sample_rate > 0.0 && f0 > 0.0 && f0 < sample_rate / 2.0) {
        return Err(VolterraError::Analysis(AnalysisError::BadFrequency { f0, sample_rate }));
    }
    let l = signal.len() as f64;
    let dc = signal.iter().sum::<f64>() / l;
    let mut amps = crate::alloc::filled(count, 0.0)?;
    for (j, amp) in amps.iter_mut().enumerate() {
        let k = (j + 1) as f64;
        let w = 2.0 * std::f64::consts::PI * f0 * k / sample_rate;
        let (mut re, mut im) = (0.0, 0.0);
        for (n, &y) in signal.iter().enumerate() {
            let (s, c) = (w * n as f64).sin_cos();
            re += y * c;
            im -= y * s;
        }
        *amp = 2.0 * (re * re + im * im).sqrt() / l;
    }
    Ok(Harmonics::new(dc, amps))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closed_form_small_cases() {
        // a1 only: the sine itself.
        let h = predicted_harmonics_poly(&[2.0], 0.5, 3).unwrap();
        assert_eq!(h.amplitudes, vec![1.0, 0.0, 0.0]);
        assert_eq!(h.thd, 0.0);
        // x^5 of a unit sine: (10 sin − 5 sin3 + sin5)/16.
        let h = predicted_harmonics_poly(&[0.0, 0.0, 0.0, 0.0, 1.0], 1.0, 5).unwrap();
        assert_eq!(h.amplitudes, vec![10.0 / 16.0, 0.0, 5.0 / 16.0, 0.0, 1.0 / 16.0]);
        // x^4: DC 3/8, 2nd −1/2, 4th 1/8.
        let h = predicted_harmonics_poly(&[0.0, 0.0, 0.0, 1.0], 1.0, 4).unwrap();
        assert_eq!((h.dc, h.amplitudes.clone()), (3.0 / 8.0, vec![0.0, 0.5, 0.0, 0.125]));
        assert!(h.level_db(2).is_some_and(f64::is_infinite));
        assert!(predicted_harmonics_poly(&[1.0; 6], 1.0, 2).is_err());
        assert!(measure_harmonics(&[], 48000.0, 1000.0, 2).is_err());
        assert!(measure_harmonics(&[1.0], 48000.0, 30000.0, 2).is_err());
    }
}
