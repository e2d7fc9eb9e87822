//! Volterra kernels: per-order diagonal taps plus an optional full symmetric
//! second-order kernel.
//!
//! Model: `y[n] = Σ_p Σ_i h_p[i]·x[n−i]^p` for `p = 1..=5` (each order with
//! its own length `N_p`; an empty tap vector means "order absent"), plus
//! `y2[n] = Σ_i Σ_j H2[i][j]·x[n−i]·x[n−j]` when a full H2 is present.
//! Taps are stored in `f64`; processors convert them to their sample type.

use serde::{Deserialize, Serialize};

use crate::error::{Result, VolterraError};

/// The highest supported diagonal order.
pub const MAX_ORDER: usize = 5;

/// A validated Volterra kernel (see the module docs for the model).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "KernelRepr", into = "KernelRepr")]
pub struct Kernel {
    diag: [Vec<f64>; MAX_ORDER],
    full_h2: Option<FullH2>,
}

/// A full symmetric second-order kernel, `n × n`, row-major.
#[derive(Clone, Debug, PartialEq)]
struct FullH2 {
    n: usize,
    m: Vec<f64>,
}

/// One branch of the eigen-decomposed full H2: `λ · (v ∗ x)[n]²`.
#[derive(Clone, Debug, PartialEq)]
pub struct H2Branch {
    /// Eigenvalue `λ`.
    pub lambda: f64,
    /// FIR taps (the eigenvector `v`, natural order `v[0]` = newest sample).
    pub taps: Vec<f64>,
}

fn check_finite(what: &'static str, v: &[f64]) -> Result<()> {
    match v.iter().position(|t| !t.is_finite()) {
        Some(index) => Err(VolterraError::NonFinite { what, index }),
        None => Ok(()),
    }
}

const ORDER_NAMES: [&str; MAX_ORDER] = ["h1", "h2", "h3", "h4", "h5"];

impl Kernel {
    /// A kernel from per-order diagonal taps: `taps[0]` = h1, `taps[1]` = h2
    /// (diagonal), … up to h5. An empty vector means the order is absent; each
    /// order may have its own length.
    ///
    /// Errors: more than five orders, a non-finite tap, or no taps at all.
    pub fn from_taps<I, V>(taps: I) -> Result<Self>
    where
        I: IntoIterator<Item = V>,
        V: AsRef<[f64]>,
    {
        let mut diag: [Vec<f64>; MAX_ORDER] = Default::default();
        for (i, t) in taps.into_iter().enumerate() {
            if i >= MAX_ORDER {
                return Err(VolterraError::BadOrder { order: i + 1 });
            }
            diag[i] = t.as_ref().to_vec();
        }
        Self::new(diag, None)
    }

    /// A memoryless polynomial `y = a1·x + a2·x² + … + a5·x⁵` (`coeffs[0]` =
    /// a1). Zero coefficients leave their order absent.
    pub fn from_polynomial(coeffs: &[f64]) -> Result<Self> {
        if coeffs.len() > MAX_ORDER {
            return Err(VolterraError::BadOrder { order: coeffs.len() });
        }
        let mut diag: [Vec<f64>; MAX_ORDER] = Default::default();
        for (i, &a) in coeffs.iter().enumerate() {
            if a != 0.0 {
                diag[i] = vec![a];
            }
        }
        Self::new(diag, None)
    }

    /// A kernel with a linear part `h1` and a full symmetric second-order
    /// kernel `h2` (`n × n`, row-major).
    pub fn from_full_h2(h1: &[f64], n: usize, h2: &[f64]) -> Result<Self> {
        Self::from_taps([h1])
            .or_else(|e| match e {
                VolterraError::EmptyKernel => Ok(Kernel {
                    diag: Default::default(),
                    full_h2: None,
                }),
                e => Err(e),
            })?
            .with_full_h2(n, h2)
    }

    /// Add (or replace) the full symmetric H2 (`n × n`, row-major). It is
    /// summed with any diagonal h2 taps. Errors on a wrong size, a non-finite
    /// value or an asymmetric matrix (relative tolerance 1e-12); the stored
    /// matrix is exactly symmetrised.
    pub fn with_full_h2(mut self, n: usize, h2: &[f64]) -> Result<Self> {
        if n == 0 || n.checked_mul(n) != Some(h2.len()) {
            return Err(VolterraError::H2Shape { n, len: h2.len() });
        }
        check_finite("full h2", h2)?;
        let mut m = h2.to_vec();
        for i in 0..n {
            for j in (i + 1)..n {
                let (a, b) = (h2[i * n + j], h2[j * n + i]);
                if (a - b).abs() > 1e-12 * a.abs().max(b.abs()).max(f64::MIN_POSITIVE) {
                    return Err(VolterraError::H2NotSymmetric { i, j, a, b });
                }
                let s = 0.5 * (a + b);
                m[i * n + j] = s;
                m[j * n + i] = s;
            }
        }
        self.full_h2 = Some(FullH2 { n, m });
        Self::validate(self)
    }

    /// General constructor: diagonal taps per order plus an optional full H2
    /// given as `(n, row-major values)`.
    pub fn new(diag: [Vec<f64>; MAX_ORDER], full_h2: Option<(usize, Vec<f64>)>) -> Result<Self> {
        let k = Kernel { diag, full_h2: None };
        match full_h2 {
            Some((n, m)) => k.with_full_h2(n, &m),
            None => Self::validate(k),
        }
    }

    fn validate(k: Kernel) -> Result<Self> {
        for (p, t) in k.diag.iter().enumerate() {
            check_finite(ORDER_NAMES[p], t)?;
        }
        if k.diag.iter().all(Vec::is_empty) && k.full_h2.is_none() {
            return Err(VolterraError::EmptyKernel);
        }
        Ok(k)
    }

    /// Diagonal taps of order `p` (1..=5); empty when the order is absent.
    pub fn taps(&self, p: usize) -> &[f64] {
        match p.checked_sub(1).and_then(|i| self.diag.get(i)) {
            Some(v) => v,
            None => &[],
        }
    }

    /// The full H2 as `(n, row-major values)`, if present.
    pub fn full_h2(&self) -> Option<(usize, &[f64])> {
        self.full_h2.as_ref().map(|h| (h.n, h.m.as_slice()))
    }

    /// Highest order present (1..=5).
    pub fn max_order(&self) -> usize {
        let d = self.diag.iter().rposition(|v| !v.is_empty()).map_or(0, |i| i + 1);
        if self.full_h2.is_some() { d.max(2) } else { d }
    }

    /// Memory length: the longest order (and H2 side), at least 1.
    pub fn memory(&self) -> usize {
        let d = self.diag.iter().map(Vec::len).max().unwrap_or(0); // ok: the array is never empty
        d.max(self.full_h2.as_ref().map_or(0, |h| h.n)).max(1)
    }

    /// Whether every order (and the full H2) uses only the current sample.
    pub fn is_memoryless(&self) -> bool {
        let diag_ok = self.diag.iter().all(|v| v.iter().skip(1).all(|&t| t == 0.0));
        let h2_ok = self
            .full_h2
            .as_ref()
            .is_none_or(|h| h.m.iter().skip(1).all(|&t| t == 0.0));
        diag_ok && h2_ok
    }

    /// Coefficients `a1..a5` of a memoryless kernel (the full H2's `[0][0]`
    /// adds to `a2`). Errors if the kernel has memory.
    pub fn polynomial_coeffs(&self) -> Result<[f64; MAX_ORDER]> {
        if !self.is_memoryless() {
            return Err(VolterraError::NotMemoryless("some tap beyond index 0 is non-zero"));
        }
        let mut a = [0.0; MAX_ORDER];
        for (p, v) in self.diag.iter().enumerate() {
            a[p] = v.first().copied().unwrap_or(0.0);
        }
        if let Some(h) = &self.full_h2 {
            a[1] += h.m[0]; // ok: n >= 1 is validated, so m has at least one value
        }
        Ok(a)
    }

    /// Evaluate the model directly from the definition (f64, per sample,
    /// zero history) into the first `x.len()` values of `out` (which may be
    /// longer); returns `x.len()`. A slow reference used by tests;
    /// allocation-free. Errors with
    /// [`BufferError::OutputTooSmall`](zc_buffers::BufferError::OutputTooSmall),
    /// writing nothing, when `out` is shorter than `x`.
    pub fn reference_output(&self, x: &[f64], out: &mut [f64]) -> Result<usize> {
        let y = zc_buffers::output_prefix(out, x.len())?;
        for (n, out) in y.iter_mut().enumerate() {
            let mut acc = 0.0;
            for (p, h) in self.diag.iter().enumerate() {
                for (i, &t) in h.iter().enumerate().take(n + 1) {
                    acc += t * x[n - i].powi(p as i32 + 1);
                }
            }
            if let Some(h) = &self.full_h2 {
                for i in 0..h.n.min(n + 1) {
                    for j in 0..h.n.min(n + 1) {
                        acc += h.m[i * h.n + j] * x[n - i] * x[n - j];
                    }
                }
            }
            *out = acc;
        }
        Ok(x.len())
    }

    /// Eigen-decompose the full H2 into branches `Σ_k λ_k (v_k ∗ x)²`
    /// (cyclic Jacobi; exact up to rounding). Branches with
    /// `|λ| ≤ 1e-15·max|λ|` contribute below rounding and are dropped.
    pub fn h2_branches(&self) -> Vec<H2Branch> {
        let Some(h) = &self.full_h2 else { return Vec::new() };
        let (vals, vecs) = jacobi_eigen(h.n, &h.m);
        let max = vals.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        let mut out = Vec::new();
        for (k, &lambda) in vals.iter().enumerate() {
            if max > 0.0 && lambda.abs() > 1e-15 * max {
                let mut taps: Vec<f64> = (0..h.n).map(|i| vecs[i * h.n + k]).collect();
                while taps.len() > 1 && taps.last() == Some(&0.0) {
                    taps.pop();
                }
                out.push(H2Branch { lambda, taps });
            }
        }
        out
    }
}

/// Cyclic Jacobi eigen-decomposition of a symmetric `n × n` matrix.
/// Returns (eigenvalues, eigenvectors as columns of a row-major matrix).
fn jacobi_eigen(n: usize, m: &[f64]) -> (Vec<f64>, Vec<f64>) {
    let mut a = m.to_vec();
    let mut v = vec![0.0; n * n];
    for i in 0..n {
        v[i * n + i] = 1.0;
    }
    for _sweep in 0..100 {
        let off: f64 = (0..n)
            .flat_map(|i| (0..n).filter(move |&j| j != i).map(move |j| (i, j)))
            .map(|(i, j)| a[i * n + j] * a[i * n + j])
            .sum();
        let total: f64 = a.iter().map(|x| x * x).sum();
        if off <= 1e-32 * total || off == 0.0 {
            break;
        }
        for p in 0..n {
            for q in (p + 1)..n {
                let apq = a[p * n + q];
                if apq == 0.0 {
                    continue;
                }
                let (app, aqq) = (a[p * n + p], a[q * n + q]);
                let theta = (aqq - app) / (2.0 * apq);
                let t = theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt());
                let t = if theta == 0.0 { 1.0 } else { t };
                let c = 1.0 / (t * t + 1.0).sqrt();
                let s = t * c;
                for k in 0..n {
                    let (akp, akq) = (a[k * n + p], a[k * n + q]);
                    a[k * n + p] = c * akp - s * akq;
                    a[k * n + q] = s * akp + c * akq;
                }
                for k in 0..n {
                    let (apk, aqk) = (a[p * n + k], a[q * n + k]);
                    a[p * n + k] = c * apk - s * aqk;
                    a[q * n + k] = s * apk + c * aqk;
                }
                for k in 0..n {
                    let (vkp, vkq) = (v[k * n + p], v[k * n + q]);
                    v[k * n + p] = c * vkp - s * vkq;
                    v[k * n + q] = s * vkp + c * vkq;
                }
            }
        }
    }
    ((0..n).map(|i| a[i * n + i]).collect(), v)
}

/// The serde form: `{"h1": [...], "h2": [...], ..., "h2_full": [[...], ...]}`.
#[derive(Serialize, Deserialize)]
struct KernelRepr {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    h1: Vec<f64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    h2: Vec<f64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    h3: Vec<f64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    h4: Vec<f64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    h5: Vec<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    h2_full: Option<Vec<Vec<f64>>>,
}

impl TryFrom<KernelRepr> for Kernel {
    type Error = VolterraError;
    fn try_from(r: KernelRepr) -> Result<Self> {
        let full = match r.h2_full {
            None => None,
            Some(rows) => {
                let n = rows.len();
                let flat: Vec<f64> = rows.into_iter().flatten().collect();
                Some((n, flat))
            }
        };
        Kernel::new([r.h1, r.h2, r.h3, r.h4, r.h5], full)
    }
}

impl From<Kernel> for KernelRepr {
    fn from(k: Kernel) -> Self {
        let [h1, h2, h3, h4, h5] = k.diag;
        let h2_full = k.full_h2.map(|h| h.m.chunks(h.n).map(<[f64]>::to_vec).collect());
        KernelRepr {
            h1,
            h2,
            h3,
            h4,
            h5,
            h2_full,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_errors() {
        assert!(matches!(
            Kernel::from_taps(Vec::<Vec<f64>>::new()),
            Err(VolterraError::EmptyKernel)
        ));
        assert!(matches!(
            Kernel::from_taps([vec![], vec![]]),
            Err(VolterraError::EmptyKernel)
        ));
        assert!(matches!(
            Kernel::from_taps([[1.0]; 6]),
            Err(VolterraError::BadOrder { order: 6 })
        ));
        assert!(matches!(
            Kernel::from_taps([vec![1.0, f64::NAN]]),
            Err(VolterraError::NonFinite { index: 1, .. })
        ));
        assert!(matches!(
            Kernel::from_full_h2(&[1.0], 2, &[1.0; 3]),
            Err(VolterraError::H2Shape { .. })
        ));
        assert!(matches!(
            Kernel::from_full_h2(&[1.0], 2, &[1.0, 0.5, 0.4, 1.0]),
            Err(VolterraError::H2NotSymmetric { .. })
        ));
        assert!(matches!(
            Kernel::from_polynomial(&[0.0, 0.0]),
            Err(VolterraError::EmptyKernel)
        ));
    }

    #[test]
    fn eigen_branches_reconstruct_h2() {
        let n = 5;
        let m: Vec<f64> = (0..n * n)
            .map(|k| {
                let (i, j) = (k / n, k % n);
                0.1 * 0.5f64.powi((i + j) as i32) * if i == j { 1.0 } else { 0.5 } + 0.01 * (i * j) as f64
            })
            .collect();
        let k = Kernel::from_full_h2(&[], n, &m).unwrap();
        let br = k.h2_branches();
        for i in 0..n {
            for j in 0..n {
                let r: f64 = br
                    .iter()
                    .map(|b| b.lambda * b.taps.get(i).unwrap_or(&0.0) * b.taps.get(j).unwrap_or(&0.0))
                    .sum();
                assert!((r - m[i * n + j]).abs() < 1e-15, "{i} {j} {r} {}", m[i * n + j]);
            }
        }
    }

    #[test]
    fn accessors_and_serde() {
        let k = Kernel::from_taps([vec![1.0, 0.5], vec![], vec![0.1]])
            .unwrap()
            .with_full_h2(2, &[0.1, 0.2, 0.2, 0.3])
            .unwrap();
        assert_eq!(k.max_order(), 3);
        assert_eq!(k.memory(), 2);
        assert_eq!(k.taps(3), &[0.1]);
        assert!(k.taps(0).is_empty() && k.taps(9).is_empty());
        assert!(!k.is_memoryless());
        let s = serde_json::to_string(&k).unwrap();
        let back: Kernel = serde_json::from_str(&s).unwrap();
        assert_eq!(back, k);
        assert!(serde_json::from_str::<Kernel>("{}").is_err());
        let p = Kernel::from_polynomial(&[1.0, 0.1, 0.01]).unwrap();
        assert_eq!(p.polynomial_coeffs().unwrap(), [1.0, 0.1, 0.01, 0.0, 0.0]);
        assert!(k.polynomial_coeffs().is_err());
    }
}
