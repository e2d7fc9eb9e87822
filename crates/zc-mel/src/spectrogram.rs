//! The log-mel plan: built once, run many times on caller-owned memory.

use std::sync::Arc;

use ndarray::{Array2, ArrayView2, ArrayViewMut2, ShapeBuilder, s};
use realfft::num_complex::Complex32;
use realfft::{RealFftPlanner, RealToComplex};
use zc_buffers::{HostBufferMut, HostBufferMutExt, ledger};

use crate::config::{Layout, MelConfig};
use crate::error::{MelError, Result};
use crate::filters::MelFilterbank;

/// Floor applied to mel power before `log10` (Whisper: `clamp(min=1e-10)`).
const POWER_FLOOR: f32 = 1e-10;

/// A Whisper log-mel spectrogram plan.
///
/// [`MelSpectrogram::new`] plans the FFT, builds the window and the mel
/// filterbank and allocates all scratch once; the `compute_*` methods then
/// write straight into caller-owned memory (any [`HostBufferMut`] — a pool
/// guard, an [`AlignedBuf`](zc_buffers::AlignedBuf), a writable mapping —
/// an `f32` slice or an `ndarray` view, in either [`Layout`]) and perform
/// **no heap allocation**. Padding and trimming are virtual: the samples are
/// read in place, never copied into a padded signal.
///
/// Semantics follow `whisper.audio.log_mel_spectrogram`: centred STFT with
/// reflect padding of `n_fft/2` each side, periodic Hann window, power
/// spectrum, last frame dropped, Slaney mel filters, `log10(max(x, 1e-10))`,
/// clamp to (global max − `top_db`), `(x + 4) / 4`.
///
/// NaN/Inf policy: inputs containing a non-finite sample are rejected with
/// [`MelError::NonFiniteSample`] before anything is written.
///
/// `Clone` is cheap apart from the small scratch (the FFT plan and the
/// filterbank are shared); clone one plan per worker thread.
#[derive(Clone)]
pub struct MelSpectrogram {
    config: MelConfig,
    fft: Arc<dyn RealToComplex<f32>>,
    filters: Arc<MelFilterbank>,
    window: Arc<[f32]>,
    frame: Vec<f32>,
    spectrum: Vec<Complex32>,
    fft_scratch: Vec<Complex32>,
    power: Vec<f32>,
    mel: Vec<f32>,
    /// `(n_mels, BLOCK)` staging for log-mel columns, written out a block
    /// at a time so mel-major rows are filled in contiguous runs.
    block: Vec<f32>,
}

/// Frames staged per block before they are written to the output.
const BLOCK: usize = 16;

impl std::fmt::Debug for MelSpectrogram {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MelSpectrogram")
            .field("config", &self.config)
            .field("filter_weights", &self.filters.nonzero_weights())
            .finish()
    }
}

/// The signal as the STFT sees it: the caller's samples, truncated or
/// followed by virtual zeros up to `len`.
#[derive(Clone, Copy)]
struct Signal<'a> {
    real: &'a [f32],
    len: usize,
}

impl Signal<'_> {
    /// Sample at index `j` of the reflect-padded signal (`j` relative to the
    /// unpadded start, `-half <= j < len + half`, `len > half`).
    #[inline]
    fn reflect(&self, j: isize) -> f32 {
        let len = self.len as isize;
        let i = if j < 0 {
            -j
        } else if j >= len {
            2 * (len - 1) - j
        } else {
            j
        };
        // i is in 0..len by the precondition; indices past the real samples are virtual zeros.
        self.real.get(i as usize).copied().unwrap_or(0.0)
    }
}

impl MelSpectrogram {
    /// Plan a spectrogram for `config` (validated).
    pub fn new(config: MelConfig) -> Result<Self> {
        let filters = MelFilterbank::new(&config)?;
        let n = config.n_fft;
        let fft = RealFftPlanner::<f32>::new().plan_fft_forward(n);
        // periodic Hann, computed in f64 (torch.hann_window(n, periodic=True))
        let window: Arc<[f32]> = (0..n)
            .map(|k| (0.5 - 0.5 * (2.0 * std::f64::consts::PI * k as f64 / n as f64).cos()) as f32)
            .collect();
        let scratch_len = fft.get_scratch_len();
        let bytes = n * 4 + config.n_bins() * 12 + scratch_len * 8 + config.n_mels * 4 * (1 + BLOCK);
        ledger::record_alloc(bytes);
        Ok(Self {
            frame: vec![0.0; n],
            spectrum: vec![Complex32::new(0.0, 0.0); config.n_bins()],
            fft_scratch: vec![Complex32::new(0.0, 0.0); scratch_len],
            power: vec![0.0; config.n_bins()],
            mel: vec![0.0; config.n_mels],
            block: vec![0.0; config.n_mels * BLOCK],
            filters: Arc::new(filters),
            window,
            fft,
            config,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &MelConfig {
        &self.config
    }

    /// The mel filterbank.
    pub fn filters(&self) -> &MelFilterbank {
        &self.filters
    }

    /// Frames produced for `n_samples` input samples (see [`MelConfig::n_frames`]).
    pub fn n_frames(&self, n_samples: usize) -> Result<usize> {
        self.config.n_frames(n_samples)
    }

    /// `(rows, cols)` of the output for `n_samples` samples in `layout`.
    pub fn output_shape(&self, n_samples: usize, layout: Layout) -> Result<(usize, usize)> {
        self.config.output_shape(n_samples, layout)
    }

    /// Bytes of `f32` output for `n_samples` samples: the size of the buffer
    /// to take from a pool for [`compute_into`](Self::compute_into).
    pub fn output_bytes(&self, n_samples: usize) -> Result<usize> {
        self.config.output_bytes(n_samples)
    }

    /// Compute into any writable host buffer holding exactly
    /// [`output_bytes`](Self::output_bytes) bytes of 4-byte-aligned memory,
    /// as a row-major `f32` matrix in `layout`. Returns `(rows, cols)`.
    pub fn compute_into<B: HostBufferMut + ?Sized>(
        &mut self,
        samples: &[f32],
        out: &mut B,
        layout: Layout,
    ) -> Result<(usize, usize)> {
        let slice = out.as_slice_mut::<f32>()?;
        self.compute_into_slice(samples, slice, layout)
    }

    /// Compute into an `f32` slice of exactly `n_mels * n_frames` values,
    /// row-major in `layout`. Returns `(rows, cols)`.
    pub fn compute_into_slice(&mut self, samples: &[f32], out: &mut [f32], layout: Layout) -> Result<(usize, usize)> {
        let n_frames = self.n_frames(samples.len())?;
        let (rows, cols) = layout.shape(self.config.n_mels, n_frames);
        let expected = rows * cols;
        if out.len() != expected {
            return Err(MelError::OutputSize {
                expected,
                actual: out.len(),
                rows,
                cols,
            });
        }
        let strides = match layout {
            Layout::MelMajor => (n_frames, 1),
            Layout::FrameMajor => (1, self.config.n_mels),
        };
        let view = ArrayViewMut2::from_shape((self.config.n_mels, n_frames).strides(strides), out).map_err(|_| {
            MelError::OutputSize {
                expected,
                actual: expected,
                rows,
                cols,
            }
        })?;
        self.run(samples, view)?;
        Ok((rows, cols))
    }

    /// Compute into a 2-D view of any strides whose shape is the output
    /// shape in `layout` (`(n_mels, n_frames)` for [`Layout::MelMajor`],
    /// `(n_frames, n_mels)` for [`Layout::FrameMajor`]).
    pub fn compute_into_view(&mut self, samples: &[f32], out: ArrayViewMut2<'_, f32>, layout: Layout) -> Result<()> {
        let n_frames = self.n_frames(samples.len())?;
        let expected = layout.shape(self.config.n_mels, n_frames);
        if out.dim() != expected {
            return Err(MelError::ShapeMismatch {
                expected,
                actual: out.dim(),
            });
        }
        let mel_major = match layout {
            Layout::MelMajor => out,
            Layout::FrameMajor => out.reversed_axes(),
        };
        self.run(samples, mel_major)
    }

    /// Compute into a new `ndarray` (allocates the output; recorded in the ledger).
    pub fn compute(&mut self, samples: &[f32], layout: Layout) -> Result<Array2<f32>> {
        let shape = self.output_shape(samples.len(), layout)?;
        let mut out = Array2::zeros(shape);
        ledger::record_alloc(out.len() * 4);
        self.compute_into_view(samples, out.view_mut(), layout)?;
        Ok(out)
    }

    /// The engine: `out` is `(n_mels, n_frames)` with any strides, already
    /// checked against the configuration.
    fn run(&mut self, samples: &[f32], mut out: ArrayViewMut2<'_, f32>) -> Result<()> {
        let len = self.config.padding.effective_len(samples.len()).unwrap_or(usize::MAX); // ok: n_frames succeeded, so no overflow
        let real = &samples[..samples.len().min(len)];
        // branch-free scan first (vectorises); locate the culprit only on failure
        if !real.iter().fold(true, |ok, v| ok & v.is_finite())
            && let Some((index, &value)) = real.iter().enumerate().find(|(_, v)| !v.is_finite())
        {
            return Err(MelError::NonFiniteSample { index, value });
        }
        let sig = Signal { real, len };
        let n_fft = self.config.n_fft;
        let half = n_fft / 2;
        let hop = self.config.hop_length;
        let n_frames = out.ncols();

        let mut max = f32::NEG_INFINITY;
        for t in 0..n_frames {
            let start = t * hop; // in padded coordinates; original index = start - half
            if start >= half && start - half + n_fft <= real.len() {
                let src = &real[start - half..start - half + n_fft];
                for ((d, &s), &w) in self.frame.iter_mut().zip(src).zip(self.window.iter()) {
                    *d = s * w;
                }
            } else {
                for (i, (d, &w)) in self.frame.iter_mut().zip(self.window.iter()).enumerate() {
                    *d = sig.reflect(start as isize - half as isize + i as isize) * w;
                }
            }
            self.fft
                .process_with_scratch(&mut self.frame, &mut self.spectrum, &mut self.fft_scratch)
                .map_err(|e| MelError::Fft { message: e.to_string() })?;
            for (p, c) in self.power.iter_mut().zip(&self.spectrum) {
                *p = c.re * c.re + c.im * c.im;
            }
            self.filters.apply(&self.power, &mut self.mel);
            let j = t % BLOCK;
            for (o, &m) in self.block[j..].iter_mut().step_by(BLOCK).zip(&self.mel) {
                // inputs are finite, so plain comparisons (no NaN handling) suffice
                // ln · log10(e): glibc's logf is about twice as fast as log10f (≤ 2 ulp apart)
                let v = if m > POWER_FLOOR { m } else { POWER_FLOOR }.ln() * std::f32::consts::LOG10_E;
                max = if v > max { v } else { max };
                *o = v;
            }
            if j == BLOCK - 1 || t == n_frames - 1 {
                let t0 = t - j;
                let staged = ArrayView2::from_shape((self.config.n_mels, BLOCK), &self.block[..]).map_err(|_| {
                    MelError::InvalidConfig {
                        reason: "staging block size",
                    }
                })?;
                out.slice_mut(s![.., t0..=t]).assign(&staged.slice(s![.., ..=j]));
            }
        }
        let floor = max - self.config.top_db;
        out.map_inplace(|v| *v = (v.max(floor) + 4.0) / 4.0);
        Ok(())
    }
}
