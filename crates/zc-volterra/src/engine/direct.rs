//! Direct (time-domain) engine: the powers `x^p` of each new block are
//! computed once into per-power history buffers, then every order is a
//! contiguous register-blocked FIR over its buffer.

use zc_buffers::SimdLevel;

use super::{Bytes, Input, Plan, bytes_of, pow};
use crate::alloc::filled;
use crate::error::Result;
use crate::kernels::fir;
use crate::sample::Sample;

/// The Direct engine's working size: a longer maximum block is run in chunks
/// of this many samples (the power buffers hold `memory − 1 + chunk`
/// samples; larger chunks are no faster).
pub(crate) const DIRECT_CHUNK: usize = 4096;

/// `(power, history)` of every power buffer the time-domain FIRs need:
/// diagonal lanes `(power, taps)` and branches (all power 1).
fn power_hists(diag: &[(u32, usize)], branches: &[usize]) -> Vec<(u32, usize)> {
    let mut out: Vec<(u32, usize)> = Vec::new();
    let lanes = diag
        .iter()
        .filter(|(_, n)| *n > 0)
        .copied()
        .chain(branches.iter().map(|&n| (1, n)));
    for (p, n) in lanes {
        let h = n.saturating_sub(1);
        match out.iter_mut().find(|(q, _)| *q == p) {
            Some(e) => e.1 = e.1.max(h),
            None => out.push((p, h)),
        }
    }
    out
}

/// History of `x^p`: `[hist samples | up to max_chunk new samples]`.
struct PowBuf<T> {
    p: u32,
    hist: usize,
    data: Vec<T>,
}

/// Time-domain FIR machinery over power buffers; used whole by the Direct
/// engine and for the head partition of the partitioned engine.
pub(crate) struct DirectCore<T> {
    level: SimdLevel,
    bufs: Vec<PowBuf<T>>,
    /// `(buffer index, reversed taps)`.
    diag: Vec<(usize, Vec<T>)>,
    /// Reversed branch taps (all read the power-1 buffer `x_buf`).
    branches: Vec<Vec<T>>,
    x_buf: usize,
}

impl<T: Sample> DirectCore<T> {
    /// `diag`: `(power, natural-order taps)`; `branches`: natural-order taps.
    pub fn new(diag: &[(u32, Vec<T>)], branches: &[Vec<T>], max_chunk: usize, level: SimdLevel) -> Result<Self> {
        let mut bufs: Vec<PowBuf<T>> = Vec::new();
        let need = |p: u32, len: usize, bufs: &mut Vec<PowBuf<T>>| -> usize {
            if let Some(i) = bufs.iter().position(|b| b.p == p) {
                bufs[i].hist = bufs[i].hist.max(len.saturating_sub(1));
                i
            } else {
                bufs.push(PowBuf {
                    p,
                    hist: len.saturating_sub(1),
                    data: Vec::new(),
                });
                bufs.len() - 1
            }
        };
        let diag: Vec<(usize, Vec<T>)> = diag
            .iter()
            .filter(|(_, h)| !h.is_empty())
            .map(|(p, h)| (need(*p, h.len(), &mut bufs), h.iter().rev().copied().collect()))
            .collect();
        let mut x_buf = 0;
        for b in branches {
            x_buf = need(1, b.len(), &mut bufs);
        }
        let branches = branches.iter().map(|h| h.iter().rev().copied().collect()).collect();
        for b in &mut bufs {
            b.data = filled(b.hist.saturating_add(max_chunk), T::zero())?;
        }
        Ok(DirectCore {
            level,
            bufs,
            diag,
            branches,
            x_buf,
        })
    }

    /// Bytes a core for these lanes (`(power, taps)`) and branch lengths
    /// holds with chunks of `max_chunk` samples of `elem` bytes.
    pub fn estimate(diag: &[(u32, usize)], branches: &[usize], max_chunk: usize, elem: usize) -> Bytes {
        let mut b = Bytes::zero();
        for (_, hist) in power_hists(diag, branches) {
            b = b.add(hist.saturating_add(max_chunk), elem);
        }
        for &(_, n) in diag {
            b = b.add(n, elem);
        }
        for &n in branches {
            b = b.add(n, elem);
        }
        b
    }

    pub fn heap_bytes(&self) -> usize {
        let bufs: usize = self.bufs.iter().map(|b| bytes_of(&b.data)).sum();
        let diag: usize = self.diag.iter().map(|(_, h)| bytes_of(h)).sum();
        let br: usize = self.branches.iter().map(|h| bytes_of(h)).sum();
        bufs + diag + br
    }

    /// Store `x^p` of the new samples (`x.len() <= max_chunk`).
    pub fn ingest(&mut self, x: &[T]) {
        for b in &mut self.bufs {
            let p = b.p;
            for (d, &s) in b.data[b.hist..b.hist + x.len()].iter_mut().zip(x) {
                *d = pow(s, p);
            }
        }
    }

    /// `y = Σ_lanes FIR` over the `y.len()` ingested samples (overwrites `y`).
    pub fn diag_into(&self, y: &mut [T]) {
        y.fill(T::zero());
        for (bi, h) in &self.diag {
            let b = &self.bufs[*bi];
            let start = b.hist + 1 - h.len();
            fir(h, &b.data[start..b.hist + y.len()], y, self.level);
        }
    }

    /// Linear output of branch `k` over the ingested samples (overwrites `z`).
    pub fn branch_into(&self, k: usize, z: &mut [T]) {
        z.fill(T::zero());
        if let Some(h) = self.branches.get(k) {
            let b = &self.bufs[self.x_buf];
            let start = b.hist + 1 - h.len();
            fir(h, &b.data[start..b.hist + z.len()], z, self.level);
        }
    }

    /// Drop the oldest `m` samples after a chunk of `m` was processed.
    pub fn advance(&mut self, m: usize) {
        for b in &mut self.bufs {
            b.data.copy_within(m..m + b.hist, 0);
        }
    }

    pub fn reset(&mut self) {
        for b in &mut self.bufs {
            b.data.fill(T::zero());
        }
    }
}

/// The Direct engine.
pub(crate) struct DirectEngine<T> {
    core: DirectCore<T>,
    chunk: usize,
    lambdas: Vec<T>,
    z: Vec<T>,
}

impl<T: Sample> DirectEngine<T> {
    /// The working size for a maximum block.
    pub fn chunk(max_block: usize) -> usize {
        max_block.clamp(1, DIRECT_CHUNK)
    }

    /// Bytes of state for `plan` at `max_block` (see [`DirectEngine::heap_bytes`]).
    pub fn estimate(plan: &Plan<T>, max_block: usize) -> Bytes {
        let (diag, br) = plan.lens();
        let chunk = Self::chunk(max_block);
        let s = size_of::<T>();
        let z = if br.is_empty() { 0 } else { chunk };
        DirectCore::<T>::estimate(&diag, &br, chunk, s)
            .add(br.len(), s)
            .add(z, s)
    }

    pub fn new(plan: &Plan<T>, max_block: usize, level: SimdLevel) -> Result<Self> {
        let chunk = Self::chunk(max_block);
        let br: Vec<Vec<T>> = plan.branches.iter().map(|(_, v)| v.clone()).collect();
        Ok(DirectEngine {
            core: DirectCore::new(&plan.diag, &br, chunk, level)?,
            chunk,
            lambdas: plan.branches.iter().map(|(l, _)| *l).collect(),
            z: filled(if br.is_empty() { 0 } else { chunk }, T::zero())?,
        })
    }

    pub fn heap_bytes(&self) -> usize {
        self.core.heap_bytes() + bytes_of(&self.lambdas) + bytes_of(&self.z)
    }

    /// Any length: chunks of at most `self.chunk`.
    pub fn run(&mut self, input: Input<'_, T>, io: &mut [T]) {
        let mut off = 0;
        while off < io.len() {
            let c = (io.len() - off).min(self.chunk);
            let sub = match input {
                Input::Slice(x) => Input::Slice(&x[off..off + c]),
                Input::InPlace => Input::InPlace,
            };
            self.run_chunk(sub, &mut io[off..off + c]);
            off += c;
        }
    }

    fn run_chunk(&mut self, input: Input<'_, T>, io: &mut [T]) {
        let m = io.len();
        match input {
            Input::Slice(x) => self.core.ingest(x),
            Input::InPlace => self.core.ingest(io),
        }
        self.core.diag_into(io);
        for (k, &lambda) in self.lambdas.iter().enumerate() {
            let z = &mut self.z[..m];
            self.core.branch_into(k, z);
            for (o, &zv) in io.iter_mut().zip(z.iter()) {
                *o = *o + lambda * zv * zv;
            }
        }
        self.core.advance(m);
    }

    pub fn reset(&mut self) {
        self.core.reset();
    }
}
