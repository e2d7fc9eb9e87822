//! Direct (time-domain) engine: the powers `x^p` of each new block are
//! computed once into per-power history buffers, then every order is a
//! contiguous register-blocked FIR over its buffer.
//!
//! Split as every engine is: [`DirectEngine`] is the immutable plan (taps,
//! buffer layout, SIMD level), [`DirectState`] the per-stream history.

use zc_buffers::SimdLevel;

use super::{Bytes, Input, Lanes, bytes_of, pow};
use crate::alloc::filled;
use crate::error::Result;
use crate::kernels::fir;
use crate::sample::Sample;

/// The Direct engine's working size: a longer maximum block is run in chunks
/// of this many samples (the power buffers hold `memory − 1 + chunk`
/// samples; larger chunks are no faster).
pub(crate) const DIRECT_CHUNK: usize = 4096;

/// The span (`taps + lag`) of each non-empty lag of a full H2.
fn lag_spans(lags: &[usize]) -> impl Iterator<Item = usize> + '_ {
    lags.iter().enumerate().filter(|(_, n)| **n > 0).map(|(d, &n)| n + d)
}

/// `(power, history)` of every power buffer the time-domain FIRs need:
/// diagonal lanes `(power, taps)`, branches and lags of the full H2 (all
/// power 1).
fn power_hists(diag: &[(u32, usize)], branches: &[usize], lags: &[usize]) -> Vec<(u32, usize)> {
    let mut out: Vec<(u32, usize)> = Vec::new();
    let lanes = diag
        .iter()
        .filter(|(_, n)| *n > 0)
        .copied()
        .chain(branches.iter().map(|&n| (1, n)))
        .chain(lag_spans(lags).map(|n| (1, n)));
    for (p, n) in lanes {
        let h = n.saturating_sub(1);
        match out.iter_mut().find(|(q, _)| *q == p) {
            Some(e) => e.1 = e.1.max(h),
            None => out.push((p, h)),
        }
    }
    out
}

/// Time-domain FIR machinery over power buffers; used whole by the Direct
/// engine and for the head partition of the partitioned engine. Immutable:
/// the history lives in a [`CoreState`].
pub(crate) struct DirectCore<T> {
    level: SimdLevel,
    /// `(power, history)` of each power buffer.
    pows: Vec<(u32, usize)>,
    max_chunk: usize,
    /// `(buffer index, reversed taps)`.
    diag: Vec<(usize, Vec<T>)>,
    /// Reversed branch taps (all read the power-1 buffer `x_buf`).
    branches: Vec<Vec<T>>,
    /// Reversed taps of each lag `d` of the full H2 (see `Lanes::lags`),
    /// run over the products `x[t]·x[t−d]` (read from `x_buf`).
    lags: Vec<Vec<T>>,
    /// Longest `taps − 1` of the lags (the product buffer's history).
    lag_hist: usize,
    x_buf: usize,
}

/// The history of a [`DirectCore`]: per power, `[hist samples | up to
/// max_chunk new samples]`.
pub(crate) struct CoreState<T> {
    bufs: Vec<Vec<T>>,
    /// Products `x[t]·x[t−d]` of one lag (empty without lags).
    prod: Vec<T>,
}

impl<T: Sample> CoreState<T> {
    pub fn heap_bytes(&self) -> usize {
        self.bufs.iter().map(|b| bytes_of(b)).sum::<usize>() + bytes_of(&self.prod)
    }

    pub fn reset(&mut self) {
        for b in &mut self.bufs {
            b.fill(T::zero());
        }
    }
}

impl<T: Sample> DirectCore<T> {
    /// `diag`: `(power, natural-order taps)`; `branches`: natural-order
    /// taps; `lags`: the full H2 by lags (natural order, see `Lanes::lags`).
    pub fn new(
        diag: &[(u32, Vec<T>)],
        branches: &[Vec<T>],
        lags: &[Vec<T>],
        max_chunk: usize,
        level: SimdLevel,
    ) -> Self {
        let mut pows: Vec<(u32, usize)> = Vec::new();
        let need = |p: u32, len: usize, pows: &mut Vec<(u32, usize)>| -> usize {
            if let Some(i) = pows.iter().position(|b| b.0 == p) {
                pows[i].1 = pows[i].1.max(len.saturating_sub(1));
                i
            } else {
                pows.push((p, len.saturating_sub(1)));
                pows.len() - 1
            }
        };
        let diag: Vec<(usize, Vec<T>)> = diag
            .iter()
            .filter(|(_, h)| !h.is_empty())
            .map(|(p, h)| (need(*p, h.len(), &mut pows), h.iter().rev().copied().collect()))
            .collect();
        let mut x_buf = 0;
        for b in branches {
            x_buf = need(1, b.len(), &mut pows);
        }
        let lag_lens: Vec<usize> = lags.iter().map(Vec::len).collect();
        for span in lag_spans(&lag_lens) {
            x_buf = need(1, span, &mut pows);
        }
        let branches = branches.iter().map(|h| h.iter().rev().copied().collect()).collect();
        DirectCore {
            level,
            pows,
            max_chunk,
            diag,
            branches,
            lags: lags.iter().map(|h| h.iter().rev().copied().collect()).collect(),
            lag_hist: lag_lens.iter().max().map_or(0, |n| n.saturating_sub(1)),
            x_buf,
        }
    }

    /// A zeroed history for this core (allocates).
    pub fn make_state(&self) -> Result<CoreState<T>> {
        let bufs = self
            .pows
            .iter()
            .map(|&(_, hist)| filled(hist.saturating_add(self.max_chunk), T::zero()))
            .collect::<Result<_>>()?;
        let prod = if self.lags.iter().any(|l| !l.is_empty()) {
            filled(self.lag_hist.saturating_add(self.max_chunk), T::zero())?
        } else {
            Vec::new()
        };
        Ok(CoreState { bufs, prod })
    }

    /// Bytes a core for these lanes (`(power, taps)`), branch and lag
    /// lengths holds with chunks of `max_chunk` samples of `elem` bytes (taps
    /// and one state).
    pub fn estimate(diag: &[(u32, usize)], branches: &[usize], lags: &[usize], max_chunk: usize, elem: usize) -> Bytes {
        let mut b = Bytes::zero();
        for (_, hist) in power_hists(diag, branches, lags) {
            b = b.add(hist.saturating_add(max_chunk), elem);
        }
        for &n in lags {
            b = b.add(n, elem);
        }
        if let Some(longest) = lags.iter().copied().filter(|&n| n > 0).max() {
            b = b.add((longest - 1).saturating_add(max_chunk), elem);
        }
        for &(_, n) in diag {
            b = b.add(n, elem);
        }
        for &n in branches {
            b = b.add(n, elem);
        }
        b
    }

    /// Bytes of the taps.
    pub fn heap_bytes(&self) -> usize {
        let diag: usize = self.diag.iter().map(|(_, h)| bytes_of(h)).sum();
        let br: usize = self.branches.iter().map(|h| bytes_of(h)).sum();
        let lags: usize = self.lags.iter().map(|h| bytes_of(h)).sum();
        diag + br + lags
    }

    /// Store `x^p` of the new samples (`x.len() <= max_chunk`).
    pub fn ingest(&self, st: &mut CoreState<T>, x: &[T]) {
        for (b, &(p, hist)) in st.bufs.iter_mut().zip(&self.pows) {
            for (d, &s) in b[hist..hist + x.len()].iter_mut().zip(x) {
                *d = pow(s, p);
            }
        }
    }

    /// `y = Σ_lanes FIR` over the `y.len()` ingested samples (overwrites `y`).
    pub fn diag_into(&self, st: &CoreState<T>, y: &mut [T]) {
        y.fill(T::zero());
        for (bi, h) in &self.diag {
            let hist = self.pows[*bi].1;
            let start = hist + 1 - h.len();
            fir(h, &st.bufs[*bi][start..hist + y.len()], y, self.level);
        }
    }

    /// `y += Σ_d FIR_d(x[t]·x[t−d])`: the full H2 by lags over the
    /// `y.len()` ingested samples.
    pub fn lags_into(&self, st: &mut CoreState<T>, y: &mut [T]) {
        let hist = self.pows.get(self.x_buf).map_or(0, |p| p.1);
        let Some(x) = st.bufs.get(self.x_buf) else { return };
        for (d, h) in self.lags.iter().enumerate() {
            if h.is_empty() {
                continue;
            }
            // products at buffer positions start .. hist + m
            let start = hist + 1 - h.len();
            let len = h.len() - 1 + y.len();
            let q = &mut st.prod[..len];
            for ((o, &a), &b) in q
                .iter_mut()
                .zip(&x[start..start + len])
                .zip(&x[start - d..start - d + len])
            {
                *o = a * b;
            }
            fir(h, q, y, self.level);
        }
    }

    /// Linear output of branch `k` over the ingested samples (overwrites `z`).
    pub fn branch_into(&self, st: &CoreState<T>, k: usize, z: &mut [T]) {
        z.fill(T::zero());
        if let Some(h) = self.branches.get(k) {
            let hist = self.pows[self.x_buf].1;
            let start = hist + 1 - h.len();
            fir(h, &st.bufs[self.x_buf][start..hist + z.len()], z, self.level);
        }
    }

    /// Drop the oldest `m` samples after a chunk of `m` was processed.
    pub fn advance(&self, st: &mut CoreState<T>, m: usize) {
        for (b, &(_, hist)) in st.bufs.iter_mut().zip(&self.pows) {
            b.copy_within(m..m + hist, 0);
        }
    }
}

/// The Direct engine (immutable plan).
pub(crate) struct DirectEngine<T> {
    core: DirectCore<T>,
    chunk: usize,
}

/// The Direct engine's per-stream state.
pub(crate) struct DirectState<T> {
    core: CoreState<T>,
}

impl<T: Sample> DirectState<T> {
    pub fn heap_bytes(&self) -> usize {
        self.core.heap_bytes()
    }

    pub fn reset(&mut self) {
        self.core.reset();
    }
}

impl<T: Sample> DirectEngine<T> {
    /// The working size for a maximum block.
    pub fn chunk(max_block: usize) -> usize {
        max_block.clamp(1, DIRECT_CHUNK)
    }

    /// Bytes of plan + one state for `plan` at `max_block`.
    /// The full H2 runs by lag diagonals (`N(N+1)/2` multiply-adds per
    /// sample, half of the `N` eigen-branches' `N²`).
    pub fn estimate(plan: &Lanes<T>, max_block: usize) -> Bytes {
        let (diag, _) = plan.lens();
        let chunk = Self::chunk(max_block);
        let s = size_of::<T>();
        DirectCore::<T>::estimate(&diag, &[], &plan.lag_lens(), chunk, s)
    }

    pub fn new(plan: &Lanes<T>, max_block: usize, level: SimdLevel) -> Self {
        let chunk = Self::chunk(max_block);
        DirectEngine {
            core: DirectCore::new(&plan.diag, &[], &plan.lags, chunk, level),
            chunk,
        }
    }

    pub fn make_state(&self) -> Result<DirectState<T>> {
        Ok(DirectState {
            core: self.core.make_state()?,
        })
    }

    /// Bytes of the plan (taps).
    pub fn heap_bytes(&self) -> usize {
        self.core.heap_bytes()
    }

    /// Any length: chunks of at most `self.chunk`.
    pub fn run(&self, st: &mut DirectState<T>, input: Input<'_, T>, io: &mut [T]) {
        let mut off = 0;
        while off < io.len() {
            let c = (io.len() - off).min(self.chunk);
            let sub = match input {
                Input::Slice(x) => Input::Slice(&x[off..off + c]),
                Input::InPlace => Input::InPlace,
            };
            self.run_chunk(st, sub, &mut io[off..off + c]);
            off += c;
        }
    }

    fn run_chunk(&self, st: &mut DirectState<T>, input: Input<'_, T>, io: &mut [T]) {
        let m = io.len();
        match input {
            Input::Slice(x) => self.core.ingest(&mut st.core, x),
            Input::InPlace => self.core.ingest(&mut st.core, io),
        }
        self.core.diag_into(&st.core, io);
        self.core.lags_into(&mut st.core, io);
        self.core.advance(&mut st.core, m);
    }
}
