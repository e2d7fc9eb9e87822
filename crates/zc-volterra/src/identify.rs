//! Identification: fit a memory polynomial from input/output recordings.
//!
//! The model `y[n] = Σ_p Σ_{i<N_p} h_p[i]·x[n−i]^p` is linear in its taps,
//! so the fit is a closed-form ridge least-squares problem
//! `(ΦᵀΦ + λI)·θ = Φᵀy`, solved with a Cholesky factorisation of the normal
//! equations (zero history before the first sample, like the processor).

use crate::alloc::filled;
use crate::error::{IdentifyError, Result, VolterraError};
use crate::kernel::{Kernel, MAX_ORDER};

/// The result of [`identify`].
#[derive(Clone, Debug)]
pub struct Identified {
    /// The fitted kernel (orders with length 0 absent).
    pub kernel: Kernel,
    /// Normalised mean-squared error of the fit on the training data:
    /// `Σ(y − ŷ)² / Σ y²`.
    pub nmse: f64,
}

impl Identified {
    /// NMSE in dB (`10·log10(nmse)`).
    pub fn nmse_db(&self) -> f64 {
        10.0 * self.nmse.log10()
    }
}

/// Fit a memory polynomial with `lengths[p − 1]` taps for order `p` (0 or a
/// missing entry: order absent) to the recording `x → y`, with ridge
/// parameter `ridge >= 0` (added to the diagonal of `ΦᵀΦ`).
///
/// Errors: different lengths (`BufferError::LengthMismatch`, in bytes), no taps requested, fewer samples than
/// unknowns, a negative/non-finite ridge, non-finite data, or a singular
/// system (e.g. an all-zero input with `ridge = 0`).
pub fn identify(x: &[f64], y: &[f64], lengths: &[usize], ridge: f64) -> Result<Identified> {
    if x.len() != y.len() {
        // zc-buffers' shared variant counts bytes
        return Err(VolterraError::Buffer(zc_buffers::BufferError::LengthMismatch {
            expected: size_of_val(x),
            actual: size_of_val(y),
        }));
    }
    if lengths.len() > MAX_ORDER {
        return Err(VolterraError::BadOrder { order: lengths.len() });
    }
    if !(ridge >= 0.0 && ridge.is_finite()) {
        return Err(VolterraError::Identification(IdentifyError::BadRidge { ridge }));
    }
    for (signal, v) in [("x", x), ("y", y)] {
        if let Some(index) = v.iter().position(|s| !s.is_finite()) {
            return Err(VolterraError::Identification(IdentifyError::NonFiniteSample {
                signal,
                index,
            }));
        }
    }
    // The number of unknowns, checked before anything is sized by it: the
    // recording must hold at least that many samples, which bounds every
    // allocation below by the caller's own data (m·m is still fallible).
    let m = lengths
        .iter()
        .try_fold(0usize, |acc, &n| acc.checked_add(n))
        .ok_or(VolterraError::SizeLimit {
            what: "identification unknowns",
            requested: usize::MAX,
            limit: x.len(),
        })?;
    if m == 0 {
        return Err(VolterraError::EmptyKernel);
    }
    if x.len() < m {
        return Err(VolterraError::Identification(IdentifyError::TooFewSamples {
            samples: x.len(),
            unknowns: m,
        }));
    }
    // Column layout: order p, lag i → offsets[p-1] + i.
    let cols: Vec<(i32, usize)> = lengths
        .iter()
        .enumerate()
        .flat_map(|(p, &n)| (0..n).map(move |i| (p as i32 + 1, i)))
        .collect();
    let mut g = filled(
        m.checked_mul(m).ok_or(VolterraError::SizeLimit {
            what: "identification unknowns",
            requested: m,
            limit: 1 << (usize::BITS / 2),
        })?,
        0.0,
    )?;
    let mut b = filled(m, 0.0)?;
    let mut phi = filled(m, 0.0)?;
    for n in 0..x.len() {
        for (c, &(p, i)) in cols.iter().enumerate() {
            phi[c] = if i <= n { x[n - i].powi(p) } else { 0.0 };
        }
        for r in 0..m {
            let pr = phi[r];
            if pr == 0.0 {
                continue;
            }
            b[r] += pr * y[n];
            for (gv, &pc) in g[r * m..r * m + r + 1].iter_mut().zip(&phi[..=r]) {
                *gv += pr * pc;
            }
        }
    }
    for r in 0..m {
        g[r * m + r] += ridge;
        for c in 0..r {
            g[c * m + r] = g[r * m + c];
        }
    }
    let theta = cholesky_solve(&mut g, m, &b)?;
    let mut taps: [Vec<f64>; MAX_ORDER] = Default::default();
    for (&(p, _), &t) in cols.iter().zip(&theta) {
        taps[p as usize - 1].push(t);
    }
    let kernel = Kernel::new(taps, None)?;
    let mut yhat = filled(x.len(), 0.0)?;
    kernel.reference_output(x, &mut yhat)?;
    let err: f64 = y.iter().zip(&yhat).map(|(a, b)| (a - b) * (a - b)).sum();
    let pow: f64 = y.iter().map(|a| a * a).sum();
    let nmse = if pow > 0.0 { err / pow } else { err };
    Ok(Identified { kernel, nmse })
}

/// Solve `A·x = b` for symmetric positive definite `A` (`m × m`, row-major,
/// overwritten by its Cholesky factor).
fn cholesky_solve(a: &mut [f64], m: usize, b: &[f64]) -> Result<Vec<f64>> {
    for j in 0..m {
        let mut d = a[j * m + j];
        for k in 0..j {
            d -= a[j * m + k] * a[j * m + k];
        }
        if d.is_nan() || d <= 0.0 || d.is_infinite() {
            return Err(VolterraError::Identification(IdentifyError::Singular { pivot: j }));
        }
        let d = d.sqrt();
        a[j * m + j] = d;
        for i in (j + 1)..m {
            let mut s = a[i * m + j];
            for k in 0..j {
                s -= a[i * m + k] * a[j * m + k];
            }
            a[i * m + j] = s / d;
        }
    }
    let mut z = b.to_vec();
    for i in 0..m {
        for k in 0..i {
            z[i] -= a[i * m + k] * z[k];
        }
        z[i] /= a[i * m + i];
    }
    for i in (0..m).rev() {
        for k in (i + 1)..m {
            z[i] -= a[k * m + i] * z[k];
        }
        z[i] /= a[i * m + i];
    }
    Ok(z)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cholesky_small() {
        let mut a = vec![4.0, 2.0, 2.0, 3.0];
        let x = cholesky_solve(&mut a, 2, &[2.0, 1.0]).unwrap();
        assert!((4.0 * x[0] + 2.0 * x[1] - 2.0).abs() < 1e-14 && (2.0 * x[0] + 3.0 * x[1] - 1.0).abs() < 1e-14);
        let mut s = vec![1.0, 1.0, 1.0, 1.0];
        assert!(cholesky_solve(&mut s, 2, &[1.0, 1.0]).is_err());
    }

    #[test]
    fn bad_arguments() {
        assert!(identify(&[1.0; 4], &[1.0; 3], &[1], 0.0).is_err());
        assert!(identify(&[1.0; 4], &[1.0; 4], &[], 0.0).is_err());
        assert!(identify(&[1.0; 4], &[1.0; 4], &[8], 0.0).is_err());
        assert!(identify(&[1.0; 4], &[1.0; 4], &[1], -1.0).is_err());
        assert!(identify(&[0.0; 4], &[1.0; 4], &[2], 0.0).is_err());
        assert!(identify(&[f64::NAN; 4], &[1.0; 4], &[1], 0.0).is_err());
    }
}
