//! Real overlap-save FFT engine sized to each block.
//!
//! For a block of `m` samples the segment is `[history (H) | block (m)]`
//! zero-padded to the smallest power of two `L >= H + m`, up to the most
//! efficient size for the kernel length, least `L·log2 L / (L − H)` (plans
//! and kernel spectra for every `L` up to that size are made in `prepare`,
//! so a short block uses a short FFT; a longer block is cut into segments of
//! the most efficient size rather than padded to one huge FFT, and the
//! engine's memory does not grow with the block size beyond a few such
//! segments). Each present power is
//! transformed once, multiplied by its order's spectrum and summed in the
//! frequency domain: one inverse FFT per block for all diagonal orders. Each
//! full-H2 branch filters the order-1 spectrum, is inverse transformed and
//! squared in the time domain.

use std::sync::Arc;

use realfft::num_complex::Complex;
use realfft::{ComplexToReal, RealFftPlanner, RealToComplex};
use zc_buffers::SimdLevel;

use super::{Bytes, Input, Lanes, bytes_of, pow};
use crate::alloc::filled;
use crate::error::{Result, VolterraError};
use crate::kernels::cmac;
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

/// The FFT engine (immutable plan: FFT plans, kernel spectra, geometry).
pub(crate) struct FftEngine<T: Sample> {
    hist: usize,
    /// Index into `sizes` of the most efficient FFT size for this kernel
    /// (the largest planned).
    best: usize,
    /// Working chunk: longer blocks are run in chunks of this size.
    chunk: usize,
    sizes: Vec<SizePlan<T>>,
    /// Distinct powers and, per diagonal lane, its power index.
    powers: Vec<u32>,
    lane_power: Vec<usize>,
    lambdas: Vec<T>,
    /// FFT library scratch length (the largest of the planned sizes).
    scratch_len: usize,
    /// Level of the spectral multiply-accumulate.
    level: SimdLevel,
}

/// The FFT engine's per-stream state: input history and work buffers.
pub(crate) struct FftState<T: Sample> {
    xbuf: Vec<T>,
    time: Vec<T>,
    spec: Vec<Complex<T>>,
    acc: Vec<Complex<T>>,
    x1: Vec<Complex<T>>,
    tmp: Vec<Complex<T>>,
    scratch: Vec<Complex<T>>,
}

/// The error of a forward transform of length `len`.
pub(crate) fn fwd_err(len: usize) -> impl FnOnce(realfft::FftError) -> VolterraError {
    move |source| VolterraError::Fft {
        direction: "forward",
        len,
        source,
    }
}

/// The error of an inverse transform of length `len`.
pub(crate) fn inv_err(len: usize) -> impl FnOnce(realfft::FftError) -> VolterraError {
    move |source| VolterraError::Fft {
        direction: "inverse",
        len,
        source,
    }
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
    fwd.process_with_scratch(&mut t, &mut out, scratch)
        .map_err(fwd_err(fwd.len()))?;
    Ok(out)
}

/// FFT sizes `lmin..=lmax` for a history and maximum block, and the index of
/// the most efficient one: least FFT work per output sample,
/// `L·log2(L) / (L − hist)`. Sizes above it are never used (a longer block
/// is cut into segments of the best size), so they are not planned.
fn size_range(hist: usize, max_block: usize) -> (usize, usize) {
    let lmin = (hist + 1).next_power_of_two().max(2);
    let lmax = hist.saturating_add(max_block).next_power_of_two().max(2);
    let cost = |l: usize| (l as f64) * (l as f64).log2() / (l - hist) as f64;
    let mut best = lmin;
    let mut l = lmin;
    while l <= lmax {
        if cost(l) < cost(best) {
            best = l;
        }
        match l.checked_mul(2) {
            Some(n) => l = n,
            None => break,
        }
    }
    (lmin, best)
}

/// Full segments of the best size per working chunk: a longer maximum block
/// is run in chunks of this many segments (bit-identical output, since the
/// segmentation is the same).
const FFT_CHUNK_SEGMENTS: usize = 4;

impl<T: Sample> FftEngine<T> {
    /// `(smallest FFT size, best FFT size, working chunk)` for `plan` at
    /// `max_block`.
    fn geometry(plan: &Lanes<T>, max_block: usize) -> (usize, usize, usize) {
        let hist = plan.memory() - 1;
        let (lmin, lbest) = size_range(hist, max_block);
        let chunk = max_block.min((lbest - hist).saturating_mul(FFT_CHUNK_SEGMENTS)).max(1);
        (lmin, lbest, chunk)
    }

    /// Bytes of state for `plan` at `max_block` (see [`FftEngine::heap_bytes`]);
    /// the FFT library's scratch is counted as `L/2` complex values, an upper
    /// bound for power-of-two sizes.
    pub fn estimate(plan: &Lanes<T>, max_block: usize) -> Bytes {
        let (lmin, lbest, chunk) = Self::geometry(plan, max_block);
        let hist = plan.memory() - 1;
        let (s, c) = (size_of::<T>(), 2 * size_of::<T>());
        let firs = plan.diag.len() + plan.branches.len();
        let nb = lbest / 2 + 1;
        let mut b = Bytes::zero()
            .add(hist.saturating_add(chunk), s)
            .add(lbest, s)
            .add(nb.saturating_mul(4), c)
            .add(lbest / 2, c)
            .add(plan.branches.len(), s);
        let mut l = lmin;
        while l <= lbest {
            b = b.add(firs.saturating_mul(l / 2 + 1), c);
            l *= 2;
        }
        b
    }

    pub fn new(plan: &Lanes<T>, max_block: usize, level: SimdLevel) -> Result<Self> {
        let hist = plan.memory() - 1;
        let (lmin, lbest, chunk) = Self::geometry(plan, max_block);
        let mut planner = RealFftPlanner::<T>::new();
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
        while l <= lbest {
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
        let best = sizes.len().saturating_sub(1);
        Ok(FftEngine {
            hist,
            best,
            chunk,
            sizes,
            powers,
            lane_power,
            lambdas: plan.branches.iter().map(|(l, _)| *l).collect(),
            scratch_len,
            level,
        })
    }

    /// The largest planned FFT size.
    fn lbest(&self) -> usize {
        self.sizes.get(self.best).map_or(2, |sp| sp.l)
    }

    /// A zeroed state for this plan (allocates).
    pub fn make_state(&self) -> Result<FftState<T>> {
        let lbest = self.lbest();
        let zc = Complex::new(T::zero(), T::zero());
        Ok(FftState {
            xbuf: filled(self.hist + self.chunk, T::zero())?,
            time: filled(lbest, T::zero())?,
            spec: filled(lbest / 2 + 1, zc)?,
            acc: filled(lbest / 2 + 1, zc)?,
            x1: filled(lbest / 2 + 1, zc)?,
            tmp: filled(lbest / 2 + 1, zc)?,
            scratch: filled(self.scratch_len, zc)?,
        })
    }

    /// Bytes of the plan (kernel spectra, eigenvalues; not the FFT
    /// library's plans).
    pub fn heap_bytes(&self) -> usize {
        let spectra: usize = self
            .sizes
            .iter()
            .map(|sp| {
                sp.diag.iter().map(|v| bytes_of(v)).sum::<usize>()
                    + sp.branch.iter().map(|v| bytes_of(v)).sum::<usize>()
            })
            .sum();
        spectra + bytes_of(&self.lambdas)
    }

    /// Any length: chunks of at most `self.chunk` (whole best-size segments).
    pub fn run(&self, st: &mut FftState<T>, input: Input<'_, T>, io: &mut [T]) -> Result<()> {
        let mut off = 0;
        while off < io.len() {
            let c = (io.len() - off).min(self.chunk);
            let sub = match input {
                Input::Slice(x) => Input::Slice(&x[off..off + c]),
                Input::InPlace => Input::InPlace,
            };
            self.run_chunk(st, sub, &mut io[off..off + c])?;
            off += c;
        }
        Ok(())
    }

    fn run_chunk(&self, st: &mut FftState<T>, input: Input<'_, T>, io: &mut [T]) -> Result<()> {
        let m = io.len();
        let h = self.hist;
        match input {
            Input::Slice(x) => st.xbuf[h..h + m].copy_from_slice(x),
            Input::InPlace => st.xbuf[h..h + m].copy_from_slice(io),
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
            self.segment(st, idx, s, &mut io[s..s + c])?;
            s += c;
        }
        st.xbuf.copy_within(m..m + h, 0);
        Ok(())
    }

    /// Outputs for block positions `s..s + out.len()` with FFT size index
    /// `idx` (`hist + out.len() <= L`).
    fn segment(&self, st: &mut FftState<T>, idx: usize, s: usize, out: &mut [T]) -> Result<()> {
        let h = self.hist;
        let q = h + out.len();
        let sp = &self.sizes[idx];
        let (l, nb) = (sp.l, sp.l / 2 + 1);
        let xseg = &st.xbuf[s..s + q];
        let zero = Complex::new(T::zero(), T::zero());
        let need_x1 = !self.lambdas.is_empty();
        let mut have_x1 = false;
        let acc = &mut st.acc[..nb];
        acc.fill(zero);
        for (pi, &p) in self.powers.iter().enumerate() {
            let t = &mut st.time[..l];
            for (d, &v) in t[..q].iter_mut().zip(xseg) {
                *d = pow(v, p);
            }
            t[q..].fill(T::zero());
            let spec = &mut st.spec[..nb];
            sp.fwd
                .process_with_scratch(t, spec, &mut st.scratch)
                .map_err(fwd_err(l))?;
            if p == 1 && need_x1 {
                st.x1[..nb].copy_from_slice(spec);
                have_x1 = true;
            }
            for (lane, _) in self.lane_power.iter().enumerate().filter(|&(_, &lp)| lp == pi) {
                cmac(acc, spec, &sp.diag[lane], self.level);
            }
        }
        if self.powers.is_empty() {
            out.fill(T::zero());
        } else {
            acc[0].im = T::zero();
            acc[nb - 1].im = T::zero();
            let t = &mut st.time[..l];
            sp.inv
                .process_with_scratch(acc, t, &mut st.scratch)
                .map_err(inv_err(l))?;
            out.copy_from_slice(&t[h..q]);
        }
        if need_x1 {
            if !have_x1 {
                let t = &mut st.time[..l];
                t[..q].copy_from_slice(xseg);
                t[q..].fill(T::zero());
                sp.fwd
                    .process_with_scratch(t, &mut st.x1[..nb], &mut st.scratch)
                    .map_err(fwd_err(l))?;
            }
            for (b, &lambda) in self.lambdas.iter().enumerate() {
                let tmp = &mut st.tmp[..nb];
                tmp.fill(zero);
                cmac(tmp, &st.x1[..nb], &sp.branch[b], self.level);
                tmp[0].im = T::zero();
                tmp[nb - 1].im = T::zero();
                let t = &mut st.time[..l];
                sp.inv
                    .process_with_scratch(tmp, t, &mut st.scratch)
                    .map_err(inv_err(l))?;
                for (o, &z) in out.iter_mut().zip(&t[h..q]) {
                    *o = *o + lambda * z * z;
                }
            }
        }
        Ok(())
    }
}

impl<T: Sample> FftState<T> {
    /// Bytes of the state's buffers.
    pub fn heap_bytes(&self) -> usize {
        bytes_of(&self.xbuf)
            + bytes_of(&self.time)
            + bytes_of(&self.spec)
            + bytes_of(&self.acc)
            + bytes_of(&self.x1)
            + bytes_of(&self.tmp)
            + bytes_of(&self.scratch)
    }

    pub fn reset(&mut self) {
        self.xbuf.fill(T::zero());
    }
}
