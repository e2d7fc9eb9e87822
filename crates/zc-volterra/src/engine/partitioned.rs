//! Uniformly partitioned overlap-save engine with a time-domain head: zero
//! latency at any block size, for long kernels at small blocks.
//!
//! Every FIR (diagonal lane or H2 branch) of length `N` is cut into
//! partitions of `P` taps. Partition 0 runs in the time domain (the Direct
//! core, so no samples are buffered); partitions `1..` only need input that is
//! at least `P` samples old, so when a segment of `P` input samples completes,
//! its power spectra (FFT size `2P`) enter a frequency-domain delay line and
//! the tail contribution to the *next* `P` outputs is computed at once: one
//! complex multiply-accumulate per partition, all diagonal orders summed in
//! the frequency domain, one inverse FFT (plus one per H2 branch).

use std::sync::Arc;

use realfft::num_complex::Complex;
use realfft::{ComplexToReal, RealFftPlanner, RealToComplex};

use zc_buffers::SimdLevel;

use super::direct::{CoreState, DirectCore};
use super::fft::{fwd_err, inv_err, spectrum};
use super::{Bytes, Input, Lanes, bytes_of, pow};
use crate::alloc::filled;
use crate::error::Result;
use crate::kernels::cmac;
use crate::sample::Sample;

/// Frequency-domain delay line of one power: `k` spectra (the state holds
/// them, [`FdlState`]).
struct Fdl {
    p: u32,
    k: usize,
}

/// The spectra of one delay line: `k` spectra of `nb` bins, `newest` the
/// slot of the latest.
struct FdlState<T> {
    newest: usize,
    data: Vec<Complex<T>>,
}

/// Tail partitions (1..) of one FIR: spectra, partition `j` at `j - 1`.
struct Tail<T> {
    fdl: usize,
    parts: Vec<Vec<Complex<T>>>,
}

/// The partitioned engine (immutable plan: head taps, partition spectra,
/// FFT plans).
pub(crate) struct PartitionedEngine<T: Sample> {
    p: usize,
    head: DirectCore<T>,
    lambdas: Vec<T>,
    fwd: Arc<dyn RealToComplex<T>>,
    inv: Arc<dyn ComplexToReal<T>>,
    fdls: Vec<Fdl>,
    diag_tails: Vec<Tail<T>>,
    /// One per branch (`None`: the branch fits in the head).
    branch_tails: Vec<Option<Tail<T>>>,
    scratch_len: usize,
    /// Level of the spectral multiply-accumulate.
    level: SimdLevel,
}

/// The partitioned engine's per-stream state.
pub(crate) struct PartitionedState<T: Sample> {
    head: CoreState<T>,
    fdls: Vec<FdlState<T>>,
    seg: Vec<T>,
    fill: usize,
    tail_y: Vec<T>,
    tail_z: Vec<Vec<T>>,
    zbuf: Vec<T>,
    time: Vec<T>,
    acc: Vec<Complex<T>>,
    scratch: Vec<Complex<T>>,
}

impl<T: Sample> PartitionedEngine<T> {
    /// Bytes of state for `plan` with partitions of `p` samples (see
    /// [`PartitionedEngine::heap_bytes`]); the FFT library's scratch is
    /// counted as `p` complex values, an upper bound for power-of-two sizes.
    /// Independent of the maximum block.
    pub fn estimate(plan: &Lanes<T>, p: usize) -> Bytes {
        let p = p.max(1).next_power_of_two();
        let nb = p + 1;
        let (s, c) = (size_of::<T>(), 2 * size_of::<T>());
        let (diag, br) = plan.lens();
        let head_diag: Vec<(u32, usize)> = diag.iter().map(|&(q, n)| (q, n.min(p))).collect();
        let head_br: Vec<usize> = br.iter().map(|&n| n.min(p)).collect();
        let mut b = DirectCore::<T>::estimate(&head_diag, &head_br, &[], p, s);
        // delay lines: per power, the most tail partitions of any FIR using it
        let mut fdl: Vec<(u32, usize)> = Vec::new();
        let firs = diag.iter().copied().chain(br.iter().map(|&n| (1, n)));
        for (q, n) in firs {
            let parts = n.div_ceil(p).saturating_sub(1);
            if parts == 0 {
                continue;
            }
            b = b.add(parts.saturating_mul(nb), c);
            match fdl.iter_mut().find(|(r, _)| *r == q) {
                Some(e) => e.1 = e.1.max(parts),
                None => fdl.push((q, parts)),
            }
        }
        for (_, k) in fdl {
            b = b.add(k.saturating_mul(nb), c);
        }
        b.add(br.len(), s) // lambdas
            .add(br.len().saturating_mul(p), s) // tail_z
            .add(2 * p + p + p + 2 * p, s) // seg, tail_y, zbuf, time
            .add(nb + p, c) // acc, scratch bound
    }

    /// Bytes of the plan (head taps, partition spectra, eigenvalues; not
    /// the FFT library's plans).
    pub fn heap_bytes(&self) -> usize {
        let tails: usize = self
            .diag_tails
            .iter()
            .chain(self.branch_tails.iter().flatten())
            .flat_map(|t| t.parts.iter())
            .map(|v| bytes_of(v))
            .sum();
        self.head.heap_bytes() + tails + bytes_of(&self.lambdas)
    }

    /// A zeroed state for this plan (allocates).
    pub fn make_state(&self) -> Result<PartitionedState<T>> {
        let (p, nb) = (self.p, self.p + 1);
        let zc = Complex::new(T::zero(), T::zero());
        let fdls = self
            .fdls
            .iter()
            .map(|f| {
                Ok(FdlState {
                    newest: 0,
                    data: filled(f.k.saturating_mul(nb), zc)?,
                })
            })
            .collect::<Result<_>>()?;
        let tail_z = self
            .lambdas
            .iter()
            .map(|_| filled(p, T::zero()))
            .collect::<Result<_>>()?;
        Ok(PartitionedState {
            head: self.head.make_state()?,
            fdls,
            seg: filled(2 * p, T::zero())?,
            fill: 0,
            tail_y: filled(p, T::zero())?,
            tail_z,
            zbuf: filled(p, T::zero())?,
            time: filled(2 * p, T::zero())?,
            acc: filled(nb, zc)?,
            scratch: filled(self.scratch_len, zc)?,
        })
    }

    /// `p`: partition size (a power of two >= 1).
    pub fn new(plan: &Lanes<T>, p: usize, level: SimdLevel) -> Result<Self> {
        let p = p.max(1).next_power_of_two();
        let mut planner = RealFftPlanner::<T>::new();
        let fwd = planner.plan_fft_forward(2 * p);
        let inv = planner.plan_fft_inverse(2 * p);
        let zc = Complex::new(T::zero(), T::zero());
        let scratch_len = fwd.get_scratch_len().max(inv.get_scratch_len());
        let mut scratch = filled(scratch_len, zc)?;
        let scale = T::one() / T::of_f64((2 * p) as f64);

        let head_diag: Vec<(u32, Vec<T>)> = plan
            .diag
            .iter()
            .map(|(q, h)| (*q, h[..h.len().min(p)].to_vec()))
            .collect();
        let head_br: Vec<Vec<T>> = plan
            .branches
            .iter()
            .map(|(_, v)| v[..v.len().min(p)].to_vec())
            .collect();
        let head = DirectCore::new(&head_diag, &head_br, &[], p, level)?;

        let mut fdls: Vec<Fdl> = Vec::new();
        let make_tail = |power: u32, taps: &[T], fdls: &mut Vec<Fdl>, scratch: &mut [Complex<T>]| {
            let parts = taps.len().div_ceil(p).saturating_sub(1);
            if parts == 0 {
                return Ok::<_, crate::VolterraError>(None);
            }
            let fdl = match fdls.iter().position(|f| f.p == power) {
                Some(i) => {
                    fdls[i].k = fdls[i].k.max(parts);
                    i
                }
                None => {
                    fdls.push(Fdl { p: power, k: parts });
                    fdls.len() - 1
                }
            };
            let parts = (1..=parts)
                .map(|j| spectrum(&fwd, &taps[j * p..taps.len().min((j + 1) * p)], scale, scratch))
                .collect::<Result<Vec<_>>>()?;
            Ok(Some(Tail { fdl, parts }))
        };
        let mut diag_tails = Vec::new();
        for (q, h) in &plan.diag {
            if let Some(t) = make_tail(*q, h, &mut fdls, &mut scratch)? {
                diag_tails.push(t);
            }
        }
        let mut branch_tails = Vec::new();
        for (_, v) in &plan.branches {
            branch_tails.push(make_tail(1, v, &mut fdls, &mut scratch)?);
        }
        Ok(PartitionedEngine {
            p,
            head,
            lambdas: plan.branches.iter().map(|(l, _)| *l).collect(),
            fwd,
            inv,
            fdls,
            diag_tails,
            branch_tails,
            scratch_len,
            level,
        })
    }

    pub fn run(&self, st: &mut PartitionedState<T>, input: Input<'_, T>, io: &mut [T]) -> Result<()> {
        let m = io.len();
        let mut off = 0;
        while off < m {
            let c = (m - off).min(self.p - st.fill);
            let (f, p) = (st.fill, self.p);
            {
                let src = match input {
                    Input::Slice(x) => &x[off..off + c],
                    Input::InPlace => &io[off..off + c],
                };
                self.head.ingest(&mut st.head, src);
                st.seg[p + f..p + f + c].copy_from_slice(src);
            }
            let out = &mut io[off..off + c];
            self.head.diag_into(&st.head, out);
            for (o, &t) in out.iter_mut().zip(&st.tail_y[f..f + c]) {
                *o = *o + t;
            }
            for (b, &lambda) in self.lambdas.iter().enumerate() {
                let z = &mut st.zbuf[..c];
                self.head.branch_into(&st.head, b, z);
                for ((o, &zh), &zt) in out.iter_mut().zip(z.iter()).zip(&st.tail_z[b][f..f + c]) {
                    let zv = zh + zt;
                    *o = *o + lambda * zv * zv;
                }
            }
            self.head.advance(&mut st.head, c);
            st.fill += c;
            off += c;
            if st.fill == p {
                self.segment_done(st)?;
                st.seg.copy_within(p..2 * p, 0);
                st.fill = 0;
            }
        }
        Ok(())
    }

    /// A segment of `P` samples is complete: update the delay lines and
    /// compute the tail contribution to the next `P` outputs.
    fn segment_done(&self, st: &mut PartitionedState<T>) -> Result<()> {
        let p = self.p;
        let nb = p + 1;
        let zero = Complex::new(T::zero(), T::zero());
        for (f, fs) in self.fdls.iter().zip(&mut st.fdls) {
            for (d, &s) in st.time.iter_mut().zip(&st.seg) {
                *d = pow(s, f.p);
            }
            fs.newest = (fs.newest + 1) % f.k;
            let slot = &mut fs.data[fs.newest * nb..(fs.newest + 1) * nb];
            self.fwd
                .process_with_scratch(&mut st.time, slot, &mut st.scratch)
                .map_err(fwd_err(2 * p))?;
        }
        // Σ_j X_{s+1-j} · H_j, X_{s} newest (j = 1).
        let level = self.level;
        let mac = |tail: &Tail<T>, fdls: &[FdlState<T>], acc: &mut [Complex<T>]| {
            let (f, k) = (&fdls[tail.fdl], self.fdls[tail.fdl].k);
            for (j, part) in tail.parts.iter().enumerate() {
                let slot = (f.newest + k - j) % k;
                let x = &f.data[slot * nb..(slot + 1) * nb];
                cmac(acc, x, part, level);
            }
        };
        // the accumulated spectrum back to time; the new tail is its second half
        let (inv, time, scratch) = (&self.inv, &mut st.time, &mut st.scratch);
        let mut to_tail = |acc: &mut [Complex<T>], out: &mut [T]| -> Result<()> {
            acc[0].im = T::zero();
            acc[nb - 1].im = T::zero();
            inv.process_with_scratch(acc, time, scratch).map_err(inv_err(2 * p))?;
            out.copy_from_slice(&time[p..]);
            Ok(())
        };
        if self.diag_tails.is_empty() {
            st.tail_y.fill(T::zero());
        } else {
            st.acc.fill(zero);
            for t in &self.diag_tails {
                mac(t, &st.fdls, &mut st.acc);
            }
            to_tail(&mut st.acc, &mut st.tail_y)?;
        }
        for (b, tail) in self.branch_tails.iter().enumerate() {
            match tail {
                None => st.tail_z[b].fill(T::zero()),
                Some(t) => {
                    st.acc.fill(zero);
                    mac(t, &st.fdls, &mut st.acc);
                    to_tail(&mut st.acc, &mut st.tail_z[b])?;
                }
            }
        }
        Ok(())
    }
}

impl<T: Sample> PartitionedState<T> {
    /// Bytes of the state's buffers.
    pub fn heap_bytes(&self) -> usize {
        let fdls: usize = self.fdls.iter().map(|f| bytes_of(&f.data)).sum();
        let tail_z: usize = self.tail_z.iter().map(|v| bytes_of(v)).sum();
        self.head.heap_bytes()
            + fdls
            + tail_z
            + bytes_of(&self.seg)
            + bytes_of(&self.tail_y)
            + bytes_of(&self.zbuf)
            + bytes_of(&self.time)
            + bytes_of(&self.acc)
            + bytes_of(&self.scratch)
    }

    pub fn reset(&mut self) {
        self.head.reset();
        for f in &mut self.fdls {
            f.data.fill(Complex::new(T::zero(), T::zero()));
            f.newest = 0;
        }
        self.seg.fill(T::zero());
        self.fill = 0;
        self.tail_y.fill(T::zero());
        for z in &mut self.tail_z {
            z.fill(T::zero());
        }
    }
}
