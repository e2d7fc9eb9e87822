//! Real overlap-save FFT engine sized to each block.
//!
//! For a block of `m` samples the segment is `[history (H) | block (m)]`
//! zero-padded to the smallest power of two `L >= H + m` (plans and kernel
//! spectra for every such `L` up to the prepared maximum are made in
//! `prepare`, so a short block uses a short FFT; a long block is cut into
//! segments of the most efficient size for the kernel length, least
//! `L·log2 L / (L − H)`, rather than padded to one huge FFT). Each present power is
//! transformed once, multiplied by its order's spectrum and summed in the
//! frequency domain: one inverse FFT per block for all diagonal orders. Each
//! full-H2 branch filters the order-1 spectrum, is inverse transformed and
//! squared in the time domain.

use std::sync::Arc;

use realfft::num_complex::Complex;
use realfft::{ComplexToReal, RealFftPlanner, RealToComplex};

use super::{Input, Plan, pow};
use crate::alloc::filled;
use crate::error::{Result, VolterraError};
use crate::sample::Sample;

struct SizePlan<T: Sample> {
    l: usize,
    fwd: Arc<dyn RealToComplex<T>>,
    inv: Arc<dyn ComplexToReal<T>>,
    /// Spectrum per diagonal lane (scaled by 1/L).
    diag: Vec<Vec<Complex<T>>>,
    /// Spectrum per branch (scaled by 1/L).
    branch: Vec<Vec<Complex<T>>>,
}

pub(crate) struct FftEngine<T: Sample> {
    hist: usize,
    /// Index into `sizes` of the most efficient FFT size for this kernel.
    best: usize,
    xbuf: Vec<T>,
    sizes: Vec<SizePlan<T>>,
    /// Distinct powers and, per diagonal lane, its power index.
    powers: Vec<u32>,
    lane_power: Vec<usize>,
    lambdas: Vec<T>,
    time: Vec<T>,
    spec: Vec<Complex<T>>,
    acc: Vec<Complex<T>>,
    x1: Vec<Complex<T>>,
    tmp: Vec<Complex<T>>,
    scratch: Vec<Complex<T>>,
}

pub(crate) fn fft_err(e: realfft::FftError) -> VolterraError {
    VolterraError::Fft(e.to_string())
}

/// Real spectrum of `taps` zero-padded to `fwd.len()`, scaled by `scale`.
pub(crate) fn spectrum<T: Sample>(
    fwd: &Arc<dyn RealToComplex<T>>,
    taps: &[T],
    scale: T,
    scratch: &mut [Complex<T>],
) -> Result<Vec<Complex<T>>> {
    let mut t = fwd.make_input_vec();
    for (d, &s) in t.iter_mut().zip(taps) {
        *d = s * scale;
    }
    let mut out = fwd.make_output_vec();
    fwd.process_with_scratch(&mut t, &mut out, scratch).map_err(fft_err)?;
    Ok(out)
}

impl<T: Sample> FftEngine<T> {
    pub fn new(plan: &Plan<T>, max_block: usize) -> Result<Self> {
        let hist = plan.memory() - 1;
        let mut planner = RealFftPlanner::<T>::new();
        let lmin = (hist + 1).next_power_of_two().max(2);
        let lmax = (hist + max_block).next_power_of_two().max(2);
        let mut powers: Vec<u32> = Vec::new();
        let lane_power = plan
            .diag
            .iter()
            .map(|(p, _)| match powers.iter().position(|q| q == p) {
                Some(i) => i,
                None => {
                    powers.push(*p);
                    powers.len() - 1
                }
            })
            .collect();
        let mut sizes = Vec::new();
        let mut scratch_len = 0;
        let mut l = lmin;
        while l <= lmax {
            let fwd = planner.plan_fft_forward(l);
            let inv = planner.plan_fft_inverse(l);
            scratch_len = scratch_len.max(fwd.get_scratch_len()).max(inv.get_scratch_len());
            let mut scratch = filled(fwd.get_scratch_len(), Complex::new(T::zero(), T::zero()))?;
            let scale = T::one() / T::of_f64(l as f64);
            let diag = plan
                .diag
                .iter()
                .map(|(_, h)| spectrum(&fwd, h, scale, &mut scratch))
                .collect::<Result<_>>()?;
            let branch = plan
                .branches
                .iter()
                .map(|(_, v)| spectrum(&fwd, v, scale, &mut scratch))
                .collect::<Result<_>>()?;
            sizes.push(SizePlan {
                l,
                fwd,
                inv,
                diag,
                branch,
            });
            l *= 2;
        }
        // The most efficient segment size: least FFT work per output sample,
        // L·log2(L) / (L − hist).
        let cost = |l: usize| (l as f64) * (l as f64).log2() / (l - hist) as f64;
        let best = (0..sizes.len())
            .min_by(|&a, &b| cost(sizes[a].l).total_cmp(&cost(sizes[b].l)))
            .unwrap_or(0); // ok: unwrap_or never panics
        let zc = Complex::new(T::zero(), T::zero());
        Ok(FftEngine {
            hist,
            best,
            xbuf: filled(hist + max_block, T::zero())?,
            sizes,
            powers,
            lane_power,
            lambdas: plan.branches.iter().map(|(l, _)| *l).collect(),
            time: filled(lmax, T::zero())?,
            spec: filled(lmax / 2 + 1, zc)?,
            acc: filled(lmax / 2 + 1, zc)?,
            x1: filled(lmax / 2 + 1, zc)?,
            tmp: filled(lmax / 2 + 1, zc)?,
            scratch: filled(scratch_len, zc)?,
        })
    }

    pub fn run(&mut self, input: Input<'_, T>, io: &mut [T]) -> Result<()> {
        let m = io.len();
        let h = self.hist;
        if h + m > self.xbuf.len() {
            return Err(VolterraError::BlockTooLarge {
                len: m,
                max: self.xbuf.len() - h,
            });
        }
        match input {
            Input::Slice(x) => self.xbuf[h..h + m].copy_from_slice(x),
            Input::InPlace => self.xbuf[h..h + m].copy_from_slice(io),
        }
        // Segments: the smallest FFT that holds the rest of the block, but
        // never larger than the most efficient size for this kernel length.
        let mut s = 0;
        while s < m {
            let rem = m - s;
            let idx = match self.sizes.iter().position(|sp| sp.l >= h + rem) {
                Some(i) if i <= self.best => i,
                _ => self.best,
            };
            let c = rem.min(self.sizes[idx].l - h);
            self.segment(idx, s, &mut io[s..s + c])?;
            s += c;
        }
        self.xbuf.copy_within(m..m + h, 0);
        Ok(())
    }

    /// Outputs for block positions `s..s + out.len()` with FFT size index
    /// `idx` (`hist + out.len() <= L`).
    fn segment(&mut self, idx: usize, s: usize, out: &mut [T]) -> Result<()> {
        let h = self.hist;
        let q = h + out.len();
        let sp = &self.sizes[idx];
        let (l, nb) = (sp.l, sp.l / 2 + 1);
        let xseg = &self.xbuf[s..s + q];
        let zero = Complex::new(T::zero(), T::zero());
        let need_x1 = !self.lambdas.is_empty();
        let mut have_x1 = false;
        let acc = &mut self.acc[..nb];
        acc.fill(zero);
        for (pi, &p) in self.powers.iter().enumerate() {
            let t = &mut self.time[..l];
            for (d, &v) in t[..q].iter_mut().zip(xseg) {
                *d = pow(v, p);
            }
            t[q..].fill(T::zero());
            let spec = &mut self.spec[..nb];
            sp.fwd
                .process_with_scratch(t, spec, &mut self.scratch)
                .map_err(fft_err)?;
            if p == 1 && need_x1 {
                self.x1[..nb].copy_from_slice(spec);
                have_x1 = true;
            }
            for (lane, _) in self.lane_power.iter().enumerate().filter(|&(_, &lp)| lp == pi) {
                for ((a, &sv), &k) in acc.iter_mut().zip(spec.iter()).zip(&sp.diag[lane]) {
                    *a = *a + sv * k;
                }
            }
        }
        if self.powers.is_empty() {
            out.fill(T::zero());
        } else {
            acc[0].im = T::zero();
            acc[nb - 1].im = T::zero();
            let t = &mut self.time[..l];
            sp.inv
                .process_with_scratch(acc, t, &mut self.scratch)
                .map_err(fft_err)?;
            out.copy_from_slice(&t[h..q]);
        }
        if need_x1 {
            if !have_x1 {
                let t = &mut self.time[..l];
                t[..q].copy_from_slice(xseg);
                t[q..].fill(T::zero());
                sp.fwd
                    .process_with_scratch(t, &mut self.x1[..nb], &mut self.scratch)
                    .map_err(fft_err)?;
            }
            for (b, &lambda) in self.lambdas.iter().enumerate() {
                let tmp = &mut self.tmp[..nb];
                for ((d, &sv), &k) in tmp.iter_mut().zip(&self.x1[..nb]).zip(&sp.branch[b]) {
                    *d = sv * k;
                }
                tmp[0].im = T::zero();
                tmp[nb - 1].im = T::zero();
                let t = &mut self.time[..l];
                sp.inv
                    .process_with_scratch(tmp, t, &mut self.scratch)
                    .map_err(fft_err)?;
                for (o, &z) in out.iter_mut().zip(&t[h..q]) {
                    *o = *o + lambda * z * z;
                }
            }
        }
        Ok(())
    }

    pub fn reset(&mut self) {
        self.xbuf.fill(T::zero());
    }
}
