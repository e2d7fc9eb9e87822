//! Direct (time-domain) engine: the powers `x^p` of each new block are
//! computed once into per-power history buffers, then every order is a
//! contiguous register-blocked FIR over its buffer; a full H2 runs in row
//! form (`y[t] = Σ_i x[t−i]·u_i[t−i]`, each `u_i` an FIR of the signal,
//! rows in pairs that share every load of the signal).
//!
//! Split as every engine is: [`DirectEngine`] is the immutable plan (taps,
//! buffer layout, SIMD level), [`DirectState`] the per-stream history.

use zc_buffers::SimdLevel;

use super::{Bytes, Input, Lanes, bytes_of, pow};
use crate::alloc::filled;
use crate::error::Result;
use crate::kernels::generic::ROWS;
use crate::kernels::{fir, rows};
use crate::sample::Sample;

/// The Direct engine's working size: a longer maximum block is run in chunks
/// of this many samples (the power buffers hold `memory − 1 + chunk`
/// samples; larger chunks are no faster).
pub(crate) const DIRECT_CHUNK: usize = 4096;

/// The span (`taps + lag`) of each non-empty lag of a full H2.
fn lag_spans(lags: &[usize]) -> impl Iterator<Item = usize> + '_ {
    lags.iter().enumerate().filter(|(_, n)| **n > 0).map(|(d, &n)| n + d)
}

/// `(first row, rows, taps)` of each row group of the full H2 in row form,
/// from the lengths of its lags (see [`Lanes::lags`]).
///
/// Row `i` holds the coefficients of `x[t−i]·x[t−i−k]` for every lag `k`
/// (`g_i[k] = lags[k][i]`): `y[t] = Σ_i x[t−i]·u_i[t−i]` with `u_i[s] =
/// Σ_k g_i[k]·x[s−k]`. Row `i` is non-empty exactly when some lag is longer
/// than `i`, so the rows are `0..longest lag`, grouped `ROWS` at a time; a
/// group's taps run over the signal offsets `first..first + taps` (row `r`
/// of the group starts `r` offsets late, padded with zero taps), so that
/// every row of a group reads the same samples.
fn row_groups(lags: &[usize]) -> Vec<(usize, usize, usize)> {
    let n_rows = lags.iter().copied().max().unwrap_or(0);
    let row_end = |i: usize| lags.iter().rposition(|&l| l > i).map_or(0, |d| i + d + 1);
    let mut out = Vec::new();
    let mut first = 0;
    while first < n_rows {
        let rows = ROWS.min(n_rows - first);
        let end = (first..first + rows).map(row_end).max().unwrap_or(first + 1);
        out.push((first, rows, end - first));
        first += rows;
    }
    out
}

/// One row group of the full H2 (see [`row_groups`]).
struct RowGroup<T> {
    /// Offset of the group's first tap (its first row's index).
    first: usize,
    /// Rows in the group, `1..=ROWS`.
    rows: usize,
    /// Taps per row, interleaved and reversed: `h[k·rows + r]` is row `r`'s
    /// coefficient at signal offset `first + taps − 1 − k`.
    h: Vec<T>,
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
    /// The full H2 in row groups (see [`row_groups`]), run over `x_buf`.
    groups: Vec<RowGroup<T>>,
    x_buf: usize,
}

/// The history of a [`DirectCore`]: per power, `[hist samples | up to
/// max_chunk new samples]`.
pub(crate) struct CoreState<T> {
    bufs: Vec<Vec<T>>,
}

impl<T: Sample> CoreState<T> {
    pub fn heap_bytes(&self) -> usize {
        self.bufs.iter().map(|b| bytes_of(b)).sum::<usize>()
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
    ) -> Result<Self> {
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
        let mut groups = Vec::new();
        for (first, rows, taps) in row_groups(&lag_lens) {
            let mut h = filled(taps.saturating_mul(rows), T::zero())?;
            for (k, hk) in h.chunks_exact_mut(rows).enumerate() {
                let offset = first + taps - 1 - k;
                for (r, v) in hk.iter_mut().enumerate() {
                    // row `first + r`, lag `offset − first − r`
                    let tap = (offset - first)
                        .checked_sub(r)
                        .and_then(|d| lags.get(d))
                        .and_then(|lag| lag.get(first + r));
                    *v = tap.copied().unwrap_or_else(T::zero);
                }
            }
            groups.push(RowGroup { first, rows, h });
        }
        Ok(DirectCore {
            level,
            pows,
            max_chunk,
            diag,
            branches,
            groups,
            x_buf,
        })
    }

    /// A zeroed history for this core (allocates).
    pub fn make_state(&self) -> Result<CoreState<T>> {
        let bufs = self
            .pows
            .iter()
            .map(|&(_, hist)| filled(hist.saturating_add(self.max_chunk), T::zero()))
            .collect::<Result<_>>()?;
        Ok(CoreState { bufs })
    }

    /// Bytes a core for these lanes (`(power, taps)`), branch and lag
    /// lengths holds with chunks of `max_chunk` samples of `elem` bytes (taps
    /// and one state).
    pub fn estimate(diag: &[(u32, usize)], branches: &[usize], lags: &[usize], max_chunk: usize, elem: usize) -> Bytes {
        let mut b = Bytes::zero();
        for (_, hist) in power_hists(diag, branches, lags) {
            b = b.add(hist.saturating_add(max_chunk), elem);
        }
        for (_, rows, taps) in row_groups(lags) {
            b = b.add(rows.saturating_mul(taps), elem);
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
        let rows: usize = self.groups.iter().map(|g| bytes_of(&g.h)).sum();
        diag + br + rows
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

    /// `y[t] += Σ_i x[t−i]·u_i[t−i]`: the full H2 in row form (see
    /// [`row_groups`]) over the `y.len()` ingested samples.
    pub fn h2_into(&self, st: &CoreState<T>, y: &mut [T]) {
        let hist = self.pows.get(self.x_buf).map_or(0, |p| p.1);
        let Some(x) = st.bufs.get(self.x_buf) else { return };
        for g in &self.groups {
            let taps = g.h.len() / g.rows;
            // signal offsets first .. first + taps back from each output
            let start = hist + 1 - (g.first + taps);
            rows(&g.h, g.rows, &x[start..hist + y.len()], y, self.level);
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
    /// The full H2 runs in row form (`N(N+1)/2` multiply-adds per sample
    /// plus one zero tap per row pair and one per row for the products,
    /// about half of the `N` eigen-branches' `N²`).
    pub fn estimate(plan: &Lanes<T>, max_block: usize) -> Bytes {
        let (diag, _) = plan.lens();
        let chunk = Self::chunk(max_block);
        let s = size_of::<T>();
        DirectCore::<T>::estimate(&diag, &[], &plan.lag_lens(), chunk, s)
    }

    pub fn new(plan: &Lanes<T>, max_block: usize, level: SimdLevel) -> Result<Self> {
        let chunk = Self::chunk(max_block);
        Ok(DirectEngine {
            core: DirectCore::new(&plan.diag, &[], &plan.lags, chunk, level)?,
            chunk,
        })
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
        self.core.h2_into(&st.core, io);
        self.core.advance(&mut st.core, m);
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::kernels::SIMD_LEVELS;

    /// `y[t] = Σ_d Σ_i lags[d][i]·x[t−i]·x[t−i−d]` (zero history), summed
    /// plainly.
    fn naive(lags: &[Vec<f64>], x: &[f64]) -> Vec<f64> {
        let at = |t: usize, back: usize| t.checked_sub(back).map_or(0.0, |s| x[s]);
        (0..x.len())
            .map(|t| {
                lags.iter()
                    .enumerate()
                    .map(|(d, lag)| {
                        lag.iter()
                            .enumerate()
                            .map(|(i, c)| c * at(t, i) * at(t, i + d))
                            .sum::<f64>()
                    })
                    .sum()
            })
            .collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]

        /// The full H2 in row form equals the double sum over its lags, at
        /// every available level, streamed in chunks of any length (so
        /// every row group, odd row counts, lags of any length — empty ones
        /// included — and chunk boundaries are covered); the memory
        /// estimate is exact.
        #[test]
        fn row_form_matches_the_lag_double_sum(
            n in 1usize..70,
            lens in prop::collection::vec(0.0f64..=1.0, 70),
            taps in prop::collection::vec(-0.5f64..0.5, 70 * 70),
            x in prop::collection::vec(-1.0f64..1.0, 1..300),
            chunks in prop::collection::vec(1usize..200, 1..5),
        ) {
            let lags: Vec<Vec<f64>> = (0..n)
                .map(|d| {
                    let len = ((n - d) as f64 * lens[d]).round() as usize;
                    taps[d * 70..d * 70 + len].to_vec()
                })
                .collect();
            let want = naive(&lags, &x);
            let max_chunk = chunks.iter().copied().max().unwrap_or(1);
            let lag_lens: Vec<usize> = lags.iter().map(Vec::len).collect();
            for level in SIMD_LEVELS.iter().copied().filter(|l| l.is_available()) {
                let core = DirectCore::new(&[], &[], &lags, max_chunk, level).expect("core");
                let mut st = core.make_state().expect("state");
                let est = DirectCore::<f64>::estimate(&[], &[], &lag_lens, max_chunk, 8).get();
                prop_assert_eq!(est, core.heap_bytes() + st.heap_bytes());
                let mut y = vec![0.0; x.len()];
                let (mut off, mut c) = (0, 0);
                while off < x.len() {
                    let m = chunks[c % chunks.len()].min(x.len() - off);
                    core.ingest(&mut st, &x[off..off + m]);
                    core.h2_into(&st, &mut y[off..off + m]);
                    core.advance(&mut st, m);
                    off += m;
                    c += 1;
                }
                for t in 0..x.len() {
                    prop_assert!((y[t] - want[t]).abs() < 1e-10, "{} t={}: {} vs {}", level, t, y[t], want[t]);
                }
            }
        }
    }

    #[test]
    fn row_groups_pair_the_rows_of_a_full_h2() {
        // N = 5: rows 0..5 of lengths 5, 4, 3, 2, 1, all ending at offset 5.
        assert_eq!(row_groups(&[5, 4, 3, 2, 1]), vec![(0, 2, 5), (2, 2, 3), (4, 1, 1)]);
        // A band of two lags: rows 0..3 end at i + 2, row 3 (lag 0 only)
        // at 4.
        assert_eq!(row_groups(&[4, 3]), vec![(0, 2, 3), (2, 2, 2)]);
        assert_eq!(row_groups(&[0, 0]), vec![]);
        assert_eq!(row_groups(&[]), vec![]);
    }
}
