//! The frame engine: the immutable part of a plan (FFT, window, sparse
//! filterbank, twiddles) and the loop that turns frames of a [`Signal`]
//! into raw `log10` mel values, a block of [`LANES`] frames at a time.

use std::sync::Arc;

use rustfft::{Fft, FftPlanner};
use zc_buffers::SimdLevel;

use crate::config::MelConfig;
use crate::error::{MelError, Result};
use crate::filters::MelFilterbank;
use crate::kernels::{self, LANES, LaneFft, POWER_FLOOR};
use crate::scratch::{Geometry, MelScratch};
use crate::signal::Signal;

/// The immutable part of a plan, shared by clones and worker threads.
pub(crate) struct Engine {
    pub(crate) n_fft: usize,
    pub(crate) hop: usize,
    pub(crate) n_mels: usize,
    pub(crate) fft: Arc<dyn Fft<f32>>,
    /// The lane-parallel FFT when `n_fft / 2` has no prime factor above 5
    /// (then `fft` is unused), at every kernel level.
    pub(crate) lane: Option<LaneFft>,
    pub(crate) filters: MelFilterbank,
    pub(crate) window: Vec<f32>,
    /// First and one-past-last FFT bin any mel band uses.
    pub(crate) k0: usize,
    pub(crate) k1: usize,
    /// `cos`, `-sin` of `2πk / n_fft` for `k in 0..=n_fft/4`.
    pub(crate) twc: Vec<f32>,
    pub(crate) tws: Vec<f32>,
}

impl Engine {
    pub(crate) fn new(config: &MelConfig) -> Result<Self> {
        let filters = MelFilterbank::new(config)?;
        let n = config.n_fft;
        let m = n / 2;
        let fft = FftPlanner::<f32>::new().plan_fft_forward(m);
        let lane = LaneFft::new(m);
        // periodic Hann, computed in f64 (torch.hann_window(n, periodic=True))
        let window = (0..n)
            .map(|k| (0.5 - 0.5 * (2.0 * std::f64::consts::PI * k as f64 / n as f64).cos()) as f32)
            .collect();
        let mut k0 = m + 1;
        let mut k1 = 0;
        for b in 0..filters.n_mels() {
            if let Some((start, w)) = filters.band(b)
                && !w.is_empty()
            {
                k0 = k0.min(start);
                k1 = k1.max(start + w.len());
            }
        }
        if k1 <= k0 {
            (k0, k1) = (0, 1);
        }
        let angle = |k: usize| 2.0 * std::f64::consts::PI * k as f64 / n as f64;
        let twc = (0..=m / 2).map(|k| angle(k).cos() as f32).collect();
        let tws = (0..=m / 2).map(|k| -angle(k).sin() as f32).collect();
        Ok(Self {
            n_fft: n,
            hop: config.hop_length,
            n_mels: config.n_mels,
            fft,
            lane,
            filters,
            window,
            k0,
            k1,
            twc,
            tws,
        })
    }

    /// The sizes a [`MelScratch`] for this engine has.
    pub(crate) fn geometry(&self) -> Geometry {
        Geometry {
            n_fft: self.n_fft,
            n_mels: self.n_mels,
            bins: self.k1 - self.k0,
            lane: self.lane.is_some(),
            fft_scratch: if self.lane.is_some() {
                0
            } else {
                self.fft.get_outofplace_scratch_len()
            },
        }
    }

    /// Raw `log10` mel values of frames `t0..t0 + n` of `sig`, handed to
    /// `sink(first_frame, frames, block)` a block of up to [`LANES`] frames
    /// at a time (`block` is `(n_mels, LANES)`). Returns the largest value.
    pub(crate) fn frames(
        &self,
        level: SimdLevel,
        s: &mut MelScratch,
        sig: &Signal<'_>,
        t0: usize,
        n: usize,
        mut sink: impl FnMut(usize, usize, &[f32]),
    ) -> f32 {
        let m = self.n_fft / 2;
        let half = (self.n_fft / 2) as isize;
        let mut max = [f32::NEG_INFINITY; LANES];
        // log10(1e-10) as the kernels compute it: the value of a silent frame
        let floor_log = kernels::log10_one(level, POWER_FLOOR);
        let mut t = t0;
        while t < t0 + n {
            let nb = LANES.min(t0 + n - t);
            if let Some(lane) = &self.lane {
                self.lane_block(level, lane, s, sig, t, nb, floor_log, &mut max);
                sink(t, nb, &s.mel);
                t += nb;
                continue;
            }
            // silent lanes read the all-zero chunk after the LANES frame chunks
            let mut slots = [LANES; LANES];
            let mut active = 0;
            for (l, slot) in slots.iter_mut().enumerate().take(nb) {
                let start = ((t + l) * self.hop) as isize - half;
                if self.is_silent(level, sig, start) {
                    continue;
                }
                let dst = &mut s.fft[active * m..(active + 1) * m];
                if let Some(src) = sig.contiguous(start, self.n_fft) {
                    kernels::window(level, src, &self.window, dst);
                } else {
                    for (i, v) in s.frame.iter_mut().enumerate() {
                        *v = sig.at(start + i as isize);
                    }
                    kernels::window(level, &s.frame, &self.window, dst);
                }
                *slot = active;
                active += 1;
            }
            if active == 0 {
                // every frame of the block is silent: power 0, log10(1e-10)
                s.mel.fill(floor_log);
                for v in &mut max {
                    *v = v.max(floor_log);
                }
            } else {
                self.fft.process_outofplace_with_scratch(
                    &mut s.fft[..active * m],
                    &mut s.spec[..active * m],
                    &mut s.fft_scratch,
                );
                kernels::gather(level, &s.spec, &slots, m, &mut s.zr, &mut s.zi);
                self.power_log(level, s, &mut max);
            }
            sink(t, nb, &s.mel);
            t += nb;
        }
        max.into_iter().fold(f32::NEG_INFINITY, f32::max)
    }

    /// One block of `nb` frames from `t` on the lane-FFT path: window and
    /// transpose straight from the signal, FFT all lanes at once, then
    /// [`Self::power_log`].
    #[allow(clippy::too_many_arguments)]
    fn lane_block(
        &self,
        level: SimdLevel,
        lane: &LaneFft,
        s: &mut MelScratch,
        sig: &Signal<'_>,
        t: usize,
        nb: usize,
        floor_log: f32,
        max: &mut [f32; LANES],
    ) {
        let n = self.n_fft;
        let m = n / 2;
        let half = m as isize;
        // per lane: Some(Ok(start)) contiguous, Some(Err(chunk)) assembled in s.frame, None silent
        let mut kinds = [None; LANES];
        for (l, kind) in kinds.iter_mut().enumerate().take(nb) {
            let start = ((t + l) * self.hop) as isize - half;
            if self.is_silent(level, sig, start) {
                continue;
            }
            if sig.contiguous(start, n).is_some() {
                *kind = Some(Ok(start));
            } else {
                let dst = s.frame.get_mut(l * n..(l + 1) * n).unwrap_or_default();
                for (i, v) in dst.iter_mut().enumerate() {
                    *v = sig.at(start + i as isize);
                }
                *kind = Some(Err(l));
            }
        }
        if kinds.iter().all(Option::is_none) {
            // every frame of the block is silent: power 0, log10(1e-10)
            s.mel.fill(floor_log);
            for v in max.iter_mut() {
                *v = v.max(floor_log);
            }
            return;
        }
        // the chunk after the LANES frame chunks stays zero: silent lanes read it
        let zero = s.frame.get(LANES * n..(LANES + 1) * n).unwrap_or_default();
        let rows: [&[f32]; LANES] = kinds.map(|k| match k {
            Some(Ok(start)) => sig.contiguous(start, n).unwrap_or(zero),
            Some(Err(l)) => s.frame.get(l * n..(l + 1) * n).unwrap_or(zero),
            None => zero,
        });
        // the input goes where an odd number of stages starts so the
        // spectrum always ends in zr, zi
        let (a, b) = (&mut s.zr, &mut s.zi);
        let (c, d) = (&mut s.yr, &mut s.yi);
        let (xr, xi, yr, yi) = if lane.odd() { (c, d, a, b) } else { (a, b, c, d) };
        kernels::window_gather(level, &rows, &self.window, m, xr, xi);
        kernels::lane_fft(level, lane, xr, xi, yr, yi);
        kernels::wrap(m, &mut s.zr, &mut s.zi);
        self.power_log(level, s, max);
    }

    /// Whether the frame at `start` is all zeros: virtual padding, or a
    /// run of `±0.0` in the caller's own samples. Its power is then 0 and
    /// its value `log10(1e-10)` whether or not the FFT runs (the FFT of
    /// zeros is exactly zero), so it is skipped like virtual padding.
    #[inline]
    fn is_silent(&self, level: SimdLevel, sig: &Signal<'_>, start: isize) -> bool {
        sig.is_silent(start, self.n_fft)
            || sig.contiguous(start, self.n_fft).is_some_and(|frame| {
                // one inline compare rejects almost every frame of real
                // audio before the (out-of-line) full scan
                frame.first().is_some_and(|v| *v == 0.0) && kernels::all_zero(level, frame)
            })
    }

    /// Power spectrum, mel projection and `log10` of the transposed spectra in `s.zr`, `s.zi`.
    fn power_log(&self, level: SimdLevel, s: &mut MelScratch, max: &mut [f32; LANES]) {
        let m = self.n_fft / 2;
        kernels::power(level, &s.zr, &s.zi, m, self.k0, &self.twc, &self.tws, &mut s.pow);
        kernels::project(level, &self.filters, &s.pow, self.k0, &mut s.mel);
        kernels::log_max(level, &mut s.mel, max);
    }
}

/// The first non-finite sample, as an error (indices shifted by `base`).
pub(crate) fn check_finite(level: SimdLevel, samples: &[f32], base: usize) -> Result<()> {
    // branch-free scan first (vectorised); locate the culprit only on failure
    if !kernels::all_finite(level, samples)
        && let Some((index, &value)) = samples.iter().enumerate().find(|(_, v)| !v.is_finite())
    {
        return Err(MelError::NonFiniteSample {
            index: base + index,
            value,
        });
    }
    Ok(())
}
