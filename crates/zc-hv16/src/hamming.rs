//! [`Hamming`]: Hamming distances, top-k, range and cleanup search at one SIMD
//! level.

use zc_buffers::ndarray::{ArrayViewMut, Dimension};
use zc_buffers::{BufferError, HostBufferMut, IntoOutput, SimdLevel};

use crate::error::{HvError, Result};
use crate::hv::HV16;
use crate::kernels;
use crate::search::{self, Hit};

/// Computes Hamming distances and searches at one SIMD level, checked
/// available when the handle is built, so every method is safe. `Copy`, one
/// byte: build it once (a plan) and share it across threads.
///
/// Search runs on any `&[HV16]` — an [`HvStore`](crate::HvStore) mapping, a
/// `Vec`, a pool buffer — and writes into caller memory. Every compute call
/// comes in three forms with one return type: `…_into(&mut impl
/// HostBufferMut)`, `…_into_slice(&mut [T])` and `…_into_view(ArrayViewMut)`.
/// Arguments go queries, then database, then parameters, then the output. An
/// output larger than the result gets the result in its prefix and the call
/// returns how many elements it wrote; a smaller one is
/// [`BufferError::OutputTooSmall`] and nothing is written. After the caller
/// has its buffers, a single-threaded call allocates nothing.
///
/// ```
/// use zc_hv16::{HV16, Hamming, Hit};
/// let db: Vec<HV16> = (0..1000).map(HV16::random).collect();
/// let h = Hamming::detect();
/// let mut hits = [Hit::default(); 3];
/// let n = h.top_k_into_slice(&db[42].flip(0.1, 7), &db, 3, &mut hits)?;
/// assert_eq!((n, hits[0].index, hits[0].distance), (3, 42, 205));
///
/// // Pin a level (errors if this CPU cannot run it):
/// let portable = Hamming::new(zc_buffers::SimdLevel::Portable)?;
/// let mut d = vec![0u32; db.len()];
/// assert_eq!(portable.distances_into_slice(&db[0], &db, &mut d)?, 1000);
/// assert_eq!(d[0], 0);
/// # Ok::<(), zc_hv16::HvError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Hamming {
    level: SimdLevel,
}

impl Default for Hamming {
    /// [`Hamming::detect`].
    fn default() -> Self {
        Self::detect()
    }
}

impl Hamming {
    /// The levels this crate has a kernel for, lowest first: `portable`,
    /// `popcnt`, `avx2`, `avx512-vpopcnt` (AVX-512F + VPOPCNTDQ).
    pub const LEVELS: [SimdLevel; 4] = kernels::LEVELS;

    /// A handle at `level`. Errors with [`BufferError::SimdUnavailable`] if
    /// this CPU cannot run it or the crate has no kernel for it (plain
    /// `avx512` without VPOPCNTDQ has none; use `avx2`).
    pub fn new(level: SimdLevel) -> Result<Hamming> {
        if !Self::LEVELS.contains(&level) {
            return Err(BufferError::SimdUnavailable { level }.into());
        }
        Ok(Hamming {
            level: level.require()?,
        })
    }

    /// The fastest level this CPU runs, capped by the `ZC_SIMD` environment
    /// variable ([`SimdLevel::best_of`]).
    pub fn detect() -> Hamming {
        Hamming {
            level: SimdLevel::best_of(&Self::LEVELS),
        }
    }

    /// The portable kernel (every CPU).
    pub const fn portable() -> Hamming {
        Hamming {
            level: SimdLevel::Portable,
        }
    }

    /// A handle for every level this CPU runs, lowest first (tests and
    /// benches compare them).
    pub fn available() -> impl Iterator<Item = Hamming> {
        Self::LEVELS.into_iter().filter_map(|l| Hamming::new(l).ok())
    }

    /// The handle's level.
    pub fn simd_level(&self) -> SimdLevel {
        self.level
    }

    /// Hamming distance between two vectors.
    #[inline]
    pub fn hamming(&self, a: &HV16, b: &HV16) -> u32 {
        // SAFETY: `self.level` is one of LEVELS and was checked available at construction.
        unsafe { kernels::dist(self.level, a, b) }
    }

    /// XOR of all vectors (the zero vector for an empty slice). It reads the
    /// data once at full width, so benches use it as the memory-read baseline.
    pub fn xor_all(&self, db: &[HV16]) -> HV16 {
        // SAFETY: as in `hamming`.
        unsafe { kernels::xor_all(self.level, db) }
    }

    /// `out[i] = hamming(query, db[i])` for `i < min(out.len(), db.len())`.
    #[inline]
    pub(crate) fn distances_raw(&self, query: &HV16, db: &[HV16], out: &mut [u32]) {
        // SAFETY: as in `hamming`.
        unsafe { kernels::distances(self.level, query, db, out) }
    }

    /// See [`kernels::tile`].
    #[inline]
    pub(crate) fn tile_raw(&self, tile: &[HV16], db: &[HV16], out: &mut [u32], stride: usize, offset: usize) {
        // SAFETY: as in `hamming`.
        unsafe { kernels::tile(self.level, tile, db, out, stride, offset) }
    }

    /// See [`kernels::tile_block`].
    #[inline]
    pub(crate) fn tile_block_raw(
        &self,
        tile: &[HV16],
        db: &[HV16],
        thr: &[u32; kernels::MAX_TILE],
        dist: &mut [[u32; kernels::MAX_TILE]; kernels::TILE_ROWS],
    ) -> u64 {
        // SAFETY: as in `hamming`.
        unsafe { kernels::tile_block(self.level, tile, db, thr, dist) }
    }

    // ---- distances -------------------------------------------------------

    /// Distances from `query` to every vector: `out[i] = hamming(query,
    /// db[i])` for `i < db.len()`. Returns `db.len()`.
    pub fn distances_into_slice(&self, query: &HV16, db: &[HV16], out: &mut [u32]) -> Result<usize> {
        let out = search::prefix(out, db.len())?;
        self.distances_raw(query, db, out);
        Ok(db.len())
    }

    /// [`Hamming::distances_into_slice`] into a host buffer viewed as `[u32]`.
    pub fn distances_into<B: HostBufferMut>(&self, query: &HV16, db: &[HV16], out: &mut B) -> Result<usize> {
        self.distances_into_slice(query, db, out.into_output()?)
    }

    /// [`Hamming::distances_into_slice`] into a standard-layout array view.
    pub fn distances_into_view<D: Dimension>(
        &self,
        query: &HV16,
        db: &[HV16],
        out: ArrayViewMut<'_, u32, D>,
    ) -> Result<usize> {
        self.distances_into_slice(query, db, out.into_output()?)
    }

    /// Distances from every query to every vector, reading `db` once per
    /// tile of up to [`MAX_TILE`](crate::MAX_TILE) queries:
    /// `out[i * queries.len() + q] = hamming(queries[q], db[i])` (row `i` of
    /// a `db.len() × queries.len()` matrix). Returns `db.len() * queries.len()`.
    pub fn distances_batch_into_slice(&self, queries: &[HV16], db: &[HV16], out: &mut [u32]) -> Result<usize> {
        let nq = queries.len();
        let needed = nq.checked_mul(db.len()).ok_or(BufferError::OutputTooSmall {
            type_name: std::any::type_name::<u32>(),
            needed: usize::MAX,
            actual: out.len(),
        })?;
        let out = search::prefix(out, needed)?;
        for (t, tile) in queries.chunks(kernels::MAX_TILE).enumerate() {
            self.tile_raw(tile, db, out, nq, t * kernels::MAX_TILE);
        }
        Ok(needed)
    }

    /// [`Hamming::distances_batch_into_slice`] into a host buffer.
    pub fn distances_batch_into<B: HostBufferMut>(&self, queries: &[HV16], db: &[HV16], out: &mut B) -> Result<usize> {
        self.distances_batch_into_slice(queries, db, out.into_output()?)
    }

    /// [`Hamming::distances_batch_into_slice`] into a standard-layout array
    /// view (e.g. `db.len() × queries.len()`).
    pub fn distances_batch_into_view<D: Dimension>(
        &self,
        queries: &[HV16],
        db: &[HV16],
        out: ArrayViewMut<'_, u32, D>,
    ) -> Result<usize> {
        self.distances_batch_into_slice(queries, db, out.into_output()?)
    }

    // ---- top-k -----------------------------------------------------------

    /// The `k` nearest vectors to `query`, nearest first, into `out[..k]`.
    /// Returns `k`. Errors: empty `db` ([`HvError::Empty`]); `k` 0 or above
    /// `db.len()` ([`HvError::InvalidK`]); `out` shorter than `k`.
    pub fn top_k_into_slice(&self, query: &HV16, db: &[HV16], k: usize, out: &mut [Hit]) -> Result<usize> {
        search::check_k(db.len(), k)?;
        let out = search::prefix(out, k)?;
        let h = *self;
        search::scan_top_k(|q, d, o| h.distances_raw(q, d, o), query, db, out, 0);
        Ok(k)
    }

    /// [`Hamming::top_k_into_slice`] into a host buffer viewed as `[Hit]`.
    pub fn top_k_into<B: HostBufferMut>(&self, query: &HV16, db: &[HV16], k: usize, out: &mut B) -> Result<usize> {
        self.top_k_into_slice(query, db, k, out.into_output()?)
    }

    /// [`Hamming::top_k_into_slice`] into a standard-layout array view.
    pub fn top_k_into_view<D: Dimension>(
        &self,
        query: &HV16,
        db: &[HV16],
        k: usize,
        out: ArrayViewMut<'_, Hit, D>,
    ) -> Result<usize> {
        self.top_k_into_slice(query, db, k, out.into_output()?)
    }

    /// The `k` nearest vectors in a new `Vec` (allocates the result).
    pub fn top_k(&self, query: &HV16, db: &[HV16], k: usize) -> Result<Vec<Hit>> {
        search::check_k(db.len(), k)?;
        let mut out = search::hit_vec(k)?;
        self.top_k_into_slice(query, db, k, &mut out)?;
        Ok(out)
    }

    /// Top-k for many queries in one pass per tile of
    /// [`MAX_TILE`](crate::MAX_TILE): `db` is read once per tile and each
    /// vector is compared with all the tile's queries while it is in
    /// registers; a vector whose distances are all at or above each query's
    /// current k-th best is rejected by one vector compare and never reaches
    /// the selection. The hits of query `q` are `out[q*k..(q+1)*k]`, nearest
    /// first, the same as `queries.len()` calls of
    /// [`Hamming::top_k_into_slice`]. Returns `queries.len() * k`.
    pub fn top_k_batch_into_slice(&self, queries: &[HV16], db: &[HV16], k: usize, out: &mut [Hit]) -> Result<usize> {
        search::check_k(db.len(), k)?;
        let needed = queries
            .len()
            .checked_mul(k)
            .ok_or(HvError::InvalidK { k, n: db.len() })?;
        let out = search::prefix(out, needed)?;
        let h = *self;
        search::scan_top_k_batch(|t, d, th, o| h.tile_block_raw(t, d, th, o), queries, db, k, out);
        Ok(needed)
    }

    /// [`Hamming::top_k_batch_into_slice`] into a host buffer.
    pub fn top_k_batch_into<B: HostBufferMut>(
        &self,
        queries: &[HV16],
        db: &[HV16],
        k: usize,
        out: &mut B,
    ) -> Result<usize> {
        self.top_k_batch_into_slice(queries, db, k, out.into_output()?)
    }

    /// [`Hamming::top_k_batch_into_slice`] into a standard-layout array view
    /// (e.g. `queries.len() × k`).
    pub fn top_k_batch_into_view<D: Dimension>(
        &self,
        queries: &[HV16],
        db: &[HV16],
        k: usize,
        out: ArrayViewMut<'_, Hit, D>,
    ) -> Result<usize> {
        self.top_k_batch_into_slice(queries, db, k, out.into_output()?)
    }

    /// [`Hamming::top_k_batch_into_slice`] with the tiles of
    /// [`MAX_TILE`](crate::MAX_TILE) queries spread over `threads` threads
    /// (`0` = every core, the [`zc_buffers::parallel`] policy): each worker
    /// scans the whole of `db` for its tiles, writing their rows of `out`
    /// directly, so the result is identical to the one-thread call and
    /// nothing is allocated beyond the threads themselves. A batch of one
    /// tile runs on the caller's thread. A worker that panics is
    /// [`BufferError::WorkerPanicked`](zc_buffers::BufferError::WorkerPanicked)
    /// and `out` is unspecified: never a partial result reported as `Ok`.
    pub fn top_k_batch_par_into_slice(
        &self,
        queries: &[HV16],
        db: &[HV16],
        k: usize,
        threads: usize,
        out: &mut [Hit],
    ) -> Result<usize> {
        search::check_k(db.len(), k)?;
        let tile_hits = crate::MAX_TILE
            .checked_mul(k)
            .ok_or(HvError::InvalidK { k, n: db.len() })?;
        let needed = queries
            .len()
            .checked_mul(k)
            .ok_or(HvError::InvalidK { k, n: db.len() })?;
        let out = search::prefix(out, needed)?;
        let h = *self;
        zc_buffers::parallel::for_each_chunk_mut(threads, out, tile_hits, |tile, rows| {
            let first = tile.saturating_mul(crate::MAX_TILE);
            let tile_queries = queries.get(first..).unwrap_or_default();
            search::scan_top_k_batch(|t, d, th, o| h.tile_block_raw(t, d, th, o), tile_queries, db, k, rows);
            Ok::<(), HvError>(())
        })?;
        Ok(needed)
    }

    /// [`Hamming::top_k_batch_par_into_slice`] into a host buffer.
    pub fn top_k_batch_par_into<B: HostBufferMut>(
        &self,
        queries: &[HV16],
        db: &[HV16],
        k: usize,
        threads: usize,
        out: &mut B,
    ) -> Result<usize> {
        self.top_k_batch_par_into_slice(queries, db, k, threads, out.into_output()?)
    }

    /// [`Hamming::top_k_batch_par_into_slice`] into a standard-layout array view.
    pub fn top_k_batch_par_into_view<D: Dimension>(
        &self,
        queries: &[HV16],
        db: &[HV16],
        k: usize,
        threads: usize,
        out: ArrayViewMut<'_, Hit, D>,
    ) -> Result<usize> {
        self.top_k_batch_par_into_slice(queries, db, k, threads, out.into_output()?)
    }

    /// [`Hamming::top_k_into_slice`] with `db` split over `threads` threads
    /// (`0` = every core, the [`zc_buffers::parallel`] policy; parts are at
    /// least [`CHUNK`](crate::CHUNK) vectors, so small scans run on the
    /// caller's thread). Allocates one `k`-hit buffer per worker per call;
    /// use it for single large scans, [`Hamming::top_k_into_slice`] in
    /// allocation-free loops. A worker that panics is
    /// [`BufferError::WorkerPanicked`] and `out` is left as it was: never a
    /// partial result.
    pub fn top_k_par_into_slice(
        &self,
        query: &HV16,
        db: &[HV16],
        k: usize,
        threads: usize,
        out: &mut [Hit],
    ) -> Result<usize> {
        search::check_k(db.len(), k)?;
        let out = search::prefix(out, k)?;
        let h = *self;
        search::par_top_k(|q, d, o| h.distances_raw(q, d, o), query, db, threads, out)?;
        Ok(k)
    }

    /// [`Hamming::top_k_par_into_slice`] into a host buffer.
    pub fn top_k_par_into<B: HostBufferMut>(
        &self,
        query: &HV16,
        db: &[HV16],
        k: usize,
        threads: usize,
        out: &mut B,
    ) -> Result<usize> {
        self.top_k_par_into_slice(query, db, k, threads, out.into_output()?)
    }

    /// [`Hamming::top_k_par_into_slice`] into a standard-layout array view.
    pub fn top_k_par_into_view<D: Dimension>(
        &self,
        query: &HV16,
        db: &[HV16],
        k: usize,
        threads: usize,
        out: ArrayViewMut<'_, Hit, D>,
    ) -> Result<usize> {
        self.top_k_par_into_slice(query, db, k, threads, out.into_output()?)
    }

    // ---- range and cleanup -----------------------------------------------

    /// Every vector within `radius` of `query`, in index order. The number
    /// of matches is not known before the scan, so this one call differs
    /// from the prefix rule: it writes the first `min(out.len(), total)`
    /// matches and returns `total`, which may exceed `out.len()` (call again
    /// with a larger output, or use [`Hamming::range`]).
    pub fn range_into_slice(&self, query: &HV16, db: &[HV16], radius: u32, out: &mut [Hit]) -> Result<usize> {
        if db.is_empty() {
            return Err(HvError::Empty);
        }
        let h = *self;
        Ok(search::scan_range(
            |q, d, o| h.distances_raw(q, d, o),
            query,
            db,
            radius,
            out,
        ))
    }

    /// [`Hamming::range_into_slice`] into a host buffer.
    pub fn range_into<B: HostBufferMut>(&self, query: &HV16, db: &[HV16], radius: u32, out: &mut B) -> Result<usize> {
        self.range_into_slice(query, db, radius, out.into_output()?)
    }

    /// [`Hamming::range_into_slice`] into a standard-layout array view.
    pub fn range_into_view<D: Dimension>(
        &self,
        query: &HV16,
        db: &[HV16],
        radius: u32,
        out: ArrayViewMut<'_, Hit, D>,
    ) -> Result<usize> {
        self.range_into_slice(query, db, radius, out.into_output()?)
    }

    /// Every vector within `radius`, in index order, in a new `Vec` (two
    /// scans: count, then fill).
    pub fn range(&self, query: &HV16, db: &[HV16], radius: u32) -> Result<Vec<Hit>> {
        let total = self.range_into_slice(query, db, radius, &mut [])?;
        let mut out = search::hit_vec(total)?;
        self.range_into_slice(query, db, radius, &mut out)?;
        Ok(out)
    }

    /// The nearest vector (lowest index among equals).
    pub fn cleanup(&self, query: &HV16, db: &[HV16]) -> Result<Hit> {
        let mut out = [Hit::default()];
        self.top_k_into_slice(query, db, 1, &mut out)?;
        Ok(out[0])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::search::CHUNK;
    use crate::search::tests::PANIC_QUERY;

    /// Before 0.2 a panicked worker's hits were dropped and the merge of the
    /// others returned `Ok`: a wrong top-k that looked complete.
    #[test]
    fn a_panicking_worker_is_an_error_and_out_is_untouched() {
        let db: Vec<HV16> = (0..4 * CHUNK as u64).map(HV16::random).collect();
        let h = Hamming::detect();
        let mut out = [Hit::new(7, 7); 5];
        let r = h.top_k_par_into_slice(&PANIC_QUERY, &db, 5, 4, &mut out);
        match r {
            Err(HvError::Buffer(BufferError::WorkerPanicked { worker: 1, message })) => {
                assert_eq!(message, "injected worker failure");
            }
            other => panic!("expected WorkerPanicked, got {other:?}"),
        }
        assert_eq!(out, [Hit::new(7, 7); 5], "no partial result written");
        // The same with 3 threads.
        let r = h.top_k_par_into_slice(&PANIC_QUERY, &db, 5, 3, &mut out);
        assert!(matches!(r, Err(HvError::Buffer(BufferError::WorkerPanicked { .. }))));
        // Any other query searches normally with the same thread count.
        let q = db[700].flip_bits(5, 1);
        assert_eq!(h.top_k_par_into_slice(&q, &db, 5, 4, &mut out).unwrap(), 5);
        assert_eq!(out[0], Hit::new(5, 700));
    }

    #[test]
    fn zero_threads_means_every_core() {
        let db: Vec<HV16> = (0..3000).map(|i| HV16::random(i % 700)).collect();
        let q = HV16::random(3);
        let h = Hamming::detect();
        let mut serial = [Hit::default(); 25];
        let mut all = [Hit::default(); 25];
        h.top_k_into_slice(&q, &db, 25, &mut serial).unwrap();
        assert_eq!(h.top_k_par_into_slice(&q, &db, 25, 0, &mut all).unwrap(), 25);
        assert_eq!(serial, all);
    }
}
