//! The Slaney mel filterbank (librosa `filters.mel` defaults: `htk=False`,
//! `norm="slaney"`), stored sparsely: each band keeps only its run of
//! non-zero weights.

use ndarray::Array2;

use crate::config::MelConfig;
use crate::error::Result;

const F_SP: f64 = 200.0 / 3.0;
const MIN_LOG_HZ: f64 = 1000.0;

fn logstep() -> f64 {
    6.4f64.ln() / 27.0
}

/// Hz → mel on the Slaney scale (linear below 1 kHz, logarithmic above).
pub fn hz_to_mel(f: f64) -> f64 {
    let min_log_mel = MIN_LOG_HZ / F_SP;
    if f >= MIN_LOG_HZ {
        min_log_mel + (f.max(1e-30) / MIN_LOG_HZ).ln() / logstep()
    } else {
        f / F_SP
    }
}

/// Mel → Hz on the Slaney scale (inverse of [`hz_to_mel`]).
pub fn mel_to_hz(m: f64) -> f64 {
    let min_log_mel = MIN_LOG_HZ / F_SP;
    if m >= min_log_mel {
        MIN_LOG_HZ * (logstep() * (m - min_log_mel)).exp()
    } else {
        F_SP * m
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Band {
    /// First FFT bin with a non-zero weight.
    start: usize,
    /// Offset of the band's first weight in `weights`.
    offset: usize,
    /// Number of weights.
    len: usize,
}

/// A Slaney-normalised triangular mel filterbank of shape `(n_mels, n_fft/2 + 1)`.
///
/// Weights are computed in `f64` and rounded exactly as
/// `whisper/assets/mel_filters.npz` was made (triangles rounded to `f32`,
/// multiplied by the `f64` area normalisation, rounded again), so they are
/// bit-identical to Whisper's stored filters.
#[derive(Clone, Debug, PartialEq)]
pub struct MelFilterbank {
    n_mels: usize,
    n_bins: usize,
    bands: Vec<Band>,
    weights: Vec<f32>,
}

impl MelFilterbank {
    /// Build the filterbank for `config` (validated first).
    pub fn new(config: &MelConfig) -> Result<Self> {
        config.validate()?;
        let n_mels = config.n_mels;
        let n_bins = config.n_bins();
        let sr = f64::from(config.sample_rate);
        let bin_hz = sr / config.n_fft as f64;

        // np.linspace(hz_to_mel(fmin), hz_to_mel(fmax), n_mels + 2), then back to Hz.
        let (m0, m1) = (hz_to_mel(config.f_min), hz_to_mel(config.f_max_hz()));
        let n_pts = n_mels + 2;
        let step = (m1 - m0) / (n_pts - 1) as f64;
        let hz: Vec<f64> = (0..n_pts)
            .map(|i| if i == n_pts - 1 { m1 } else { i as f64 * step + m0 })
            .map(mel_to_hz)
            .collect();

        let mut bands = Vec::with_capacity(n_mels);
        let mut weights = Vec::new();
        for m in 0..n_mels {
            let (lo, mid, hi) = (hz[m], hz[m + 1], hz[m + 2]);
            let (d_lo, d_hi) = (mid - lo, hi - mid);
            let enorm = 2.0 / (hi - lo);
            let offset = weights.len();
            let mut start = None;
            for k in 0..n_bins {
                let f = k as f64 * bin_hz;
                let lower = -(lo - f) / d_lo;
                let upper = (hi - f) / d_hi;
                let tri = 0f64.max(lower.min(upper)) as f32;
                let w = (f64::from(tri) * enorm) as f32;
                if w != 0.0 {
                    let s = *start.get_or_insert(k);
                    // keep interior zeros (cannot occur for a triangle, but stay exact)
                    weights.resize(offset + (k - s), 0.0);
                    weights.push(w);
                }
            }
            let start = start.unwrap_or(0);
            bands.push(Band {
                start,
                offset,
                len: weights.len() - offset,
            });
        }
        Ok(Self {
            n_mels,
            n_bins,
            bands,
            weights,
        })
    }

    /// Number of mel bands.
    pub fn n_mels(&self) -> usize {
        self.n_mels
    }

    /// Number of FFT bins each band spans.
    pub fn n_bins(&self) -> usize {
        self.n_bins
    }

    /// Stored (non-zero run) weights in all bands.
    pub fn nonzero_weights(&self) -> usize {
        self.weights.len()
    }

    /// Band `m` as `(first_bin, weights)`; `None` when `m >= n_mels`.
    pub fn band(&self, m: usize) -> Option<(usize, &[f32])> {
        let b = self.bands.get(m)?;
        Some((b.start, &self.weights[b.offset..b.offset + b.len]))
    }

    /// The dense `(n_mels, n_bins)` matrix (allocates; for inspection and tests).
    pub fn to_dense(&self) -> Array2<f32> {
        let mut d = Array2::zeros((self.n_mels, self.n_bins));
        for (m, b) in self.bands.iter().enumerate() {
            for (i, &w) in self.weights[b.offset..b.offset + b.len].iter().enumerate() {
                d[[m, b.start + i]] = w;
            }
        }
        d
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slaney_scale_round_trips() {
        for f in [0.0, 100.0, 999.0, 1000.0, 1000.5, 4000.0, 8000.0] {
            assert!((mel_to_hz(hz_to_mel(f)) - f).abs() < 1e-9, "{f}");
        }
        assert!((hz_to_mel(1000.0) - 15.0).abs() < 1e-12);
        assert!((hz_to_mel(8000.0) - 45.245_640_471_924_965).abs() < 1e-12);
    }

    #[test]
    fn bands_cover_their_triangles() {
        let fb = MelFilterbank::new(&MelConfig::whisper(80)).unwrap();
        assert_eq!((fb.n_mels(), fb.n_bins()), (80, 201));
        let dense = fb.to_dense();
        for m in 0..80 {
            let (start, w) = fb.band(m).unwrap();
            assert!(!w.is_empty(), "band {m} is empty");
            assert!(w.iter().all(|&x| x > 0.0));
            assert_eq!(dense.row(m).iter().filter(|&&x| x != 0.0).count(), w.len());
            assert_eq!(dense[[m, start]], w[0]);
        }
        assert!(fb.band(80).is_none());
        assert!(fb.nonzero_weights() < 80 * 201 / 4);
    }
}
