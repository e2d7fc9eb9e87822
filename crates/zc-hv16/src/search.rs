//! Exact top-k, range and cleanup selection over distances computed by a
//! kernel the caller passes in (a closure over a
//! [`Hamming`](crate::Hamming) handle, so this module does not depend on
//! it); the public entry points are methods of `Hamming`.
//!
//! Distances are computed [`CHUNK`] vectors at a time into a stack buffer,
//! then selected, so a single-threaded search allocates nothing. Batched
//! searches take blocks of `TILE_ROWS` vectors × a tile of queries from the
//! kernel with a mask of the rows that beat some query's running threshold
//! (its current k-th best distance); the other rows never reach a heap.
//!
//! Ordering: hits are sorted by `(distance, index)`; among equal distances
//! the lower index wins, so results are deterministic and equal a full sort.

use bytemuck::{Pod, Zeroable};

use crate::error::{HvError, Result};
use crate::hv::HV16;
use crate::kernels::{MAX_TILE, TILE_ROWS};

/// Vectors per distance block (the stack buffer holds `CHUNK` × 8 `u32`).
pub const CHUNK: usize = 256;

/// One search result. Orders by distance, then index.
///
/// `Pod` (16 bytes on 64-bit targets, no padding), so a hit array can live in
/// any zc host buffer: the `…_into` search forms write into one.
#[derive(Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Pod, Zeroable)]
#[repr(C)]
pub struct Hit {
    /// Hamming distance to the query (0..=2048).
    pub distance: u32,
    /// Always 0 in hits this crate writes; makes the layout padding-free.
    reserved: u32,
    /// Position of the vector in the searched slice.
    pub index: usize,
}

const _: () = assert!(std::mem::size_of::<Hit>() == 8 + std::mem::size_of::<usize>());

impl Hit {
    /// A hit on vector `index` at `distance`.
    pub const fn new(distance: u32, index: usize) -> Hit {
        Hit {
            distance,
            reserved: 0,
            index,
        }
    }
}

impl std::fmt::Debug for Hit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hit")
            .field("distance", &self.distance)
            .field("index", &self.index)
            .finish()
    }
}

/// Inserts `h` into the sorted prefix `buf[..*len]` keeping the best `buf.len()`.
#[inline]
pub(crate) fn push(buf: &mut [Hit], len: &mut usize, h: Hit) {
    let k = buf.len();
    if *len < k {
        let p = buf[..*len].partition_point(|x| *x < h);
        buf.copy_within(p..*len, p + 1);
        buf[p] = h;
        *len += 1;
    } else if k > 0 && h < buf[k - 1] {
        let p = buf[..k - 1].partition_point(|x| *x < h);
        buf.copy_within(p..k - 1, p + 1);
        buf[p] = h;
    }
}

/// Distances strictly below this can enter; scanning in index order makes a
/// strict test equal to the `(distance, index)` order.
#[inline]
fn threshold(buf: &[Hit], len: usize) -> u32 {
    match buf.last() {
        Some(w) if len == buf.len() => w.distance,
        _ => u32::MAX,
    }
}

/// `n` vectors searched for `k` hits: [`HvError::Empty`] or [`HvError::InvalidK`].
pub(crate) fn check_k(n: usize, k: usize) -> Result<()> {
    if n == 0 {
        return Err(HvError::Empty);
    }
    if k == 0 || k > n {
        return Err(HvError::InvalidK { k, n });
    }
    Ok(())
}

/// The first `needed` elements of `out`, or [`BufferError::OutputTooSmall`].
pub(crate) fn prefix<T: Pod>(out: &mut [T], needed: usize) -> Result<&mut [T]> {
    Ok(zc_buffers::output_prefix(out, needed)?)
}

/// Selects the `out.len()` nearest of `db` into `out` (`1 <= out.len() <= db.len()`);
/// indices are offset by `base`.
pub(crate) fn scan_top_k(
    distances: impl Fn(&HV16, &[HV16], &mut [u32]),
    query: &HV16,
    db: &[HV16],
    out: &mut [Hit],
    base: usize,
) {
    let mut dist = [0u32; CHUNK];
    let mut len = 0;
    let mut thr = threshold(out, len);
    for (ci, chunk) in db.chunks(CHUNK).enumerate() {
        let d = &mut dist[..chunk.len()];
        distances(query, chunk, d);
        let start = base + ci * CHUNK;
        for (j, &dj) in d.iter().enumerate() {
            if dj < thr {
                push(out, &mut len, Hit::new(dj, start + j));
                thr = threshold(out, len);
            }
        }
    }
}

/// Top-k of every query, one pass over `db` per tile of [`MAX_TILE`] queries;
/// `out.len() == queries.len() * k`. `tile_block` is
/// [`kernels::tile_block`](crate::kernels::tile_block) at some level: it
/// returns the distances of a block of [`TILE_ROWS`] vectors and a mask of
/// the rows where some query's distance is below its running threshold (its
/// current k-th best), so only those rows are visited here.
pub(crate) fn scan_top_k_batch(
    tile_block: impl Fn(&[HV16], &[HV16], &[u32; MAX_TILE], &mut [[u32; MAX_TILE]; TILE_ROWS]) -> u64,
    queries: &[HV16],
    db: &[HV16],
    k: usize,
    out: &mut [Hit],
) {
    let mut dist = [[0u32; MAX_TILE]; TILE_ROWS];
    for (tile, tile_out) in queries.chunks(MAX_TILE).zip(out.chunks_mut(MAX_TILE * k)) {
        let mut lens = [0usize; MAX_TILE];
        let mut thrs = [u32::MAX; MAX_TILE];
        for (bi, block) in db.chunks(TILE_ROWS).enumerate() {
            let mut rows = tile_block(tile, block, &thrs, &mut dist);
            let start = bi * TILE_ROWS;
            while rows != 0 {
                let j = rows.trailing_zeros() as usize;
                rows &= rows - 1;
                let Some(row) = dist.get(j) else { break }; // ok: j < 64 = TILE_ROWS
                for (((buf, &dj), len), thr) in tile_out.chunks_mut(k).zip(row).zip(&mut lens).zip(&mut thrs) {
                    if dj < *thr {
                        push(buf, len, Hit::new(dj, start + j));
                        *thr = threshold(buf, *len);
                    }
                }
            }
        }
    }
}

/// Top-k with `db` split over `threads` workers ([`zc_buffers::parallel`]
/// policy: 0 = every core), merged into `out` only when every worker
/// succeeded. Parts are at least [`CHUNK`] vectors.
pub(crate) fn par_top_k(
    distances: impl Fn(&HV16, &[HV16], &mut [u32]) + Sync,
    query: &HV16,
    db: &[HV16],
    threads: usize,
    out: &mut [Hit],
) -> Result<()> {
    let k = out.len();
    let workers = zc_buffers::parallel::resolve_threads(threads).min(db.len().div_ceil(CHUNK).max(1));
    if workers <= 1 {
        scan_top_k(&distances, query, db, out, 0);
        return Ok(());
    }
    let parts = zc_buffers::parallel::map_ranges(workers, db.len(), |_worker, range| {
        let part = db.get(range.clone()).unwrap_or(&[]); // ok: split_even ranges lie in 0..db.len()
        #[cfg(test)]
        tests::maybe_panic(query, _worker);
        let mut buf = hit_vec(k.min(part.len()))?;
        if !buf.is_empty() {
            scan_top_k(&distances, query, part, &mut buf, range.start);
        }
        Ok::<_, HvError>(buf)
    })?;
    let mut len = 0;
    for hit in parts.iter().flatten() {
        push(out, &mut len, *hit);
    }
    Ok(())
}

/// Every vector within `radius` of `query`, in index order: writes the first
/// `out.len()` and returns how many there are.
pub(crate) fn scan_range(
    distances: impl Fn(&HV16, &[HV16], &mut [u32]),
    query: &HV16,
    db: &[HV16],
    radius: u32,
    out: &mut [Hit],
) -> usize {
    let mut dist = [0u32; CHUNK];
    let mut total = 0usize;
    for (ci, chunk) in db.chunks(CHUNK).enumerate() {
        let d = &mut dist[..chunk.len()];
        distances(query, chunk, d);
        for (j, &dj) in d.iter().enumerate() {
            if dj <= radius {
                if let Some(slot) = out.get_mut(total) {
                    *slot = Hit::new(dj, ci * CHUNK + j);
                }
                total += 1;
            }
        }
    }
    total
}

/// Allocation for a result of `n` hits, refused with an error rather than an abort.
pub(crate) fn hit_vec(n: usize) -> Result<Vec<Hit>> {
    let mut v = Vec::new();
    v.try_reserve_exact(n).map_err(|_| crate::error::alloc_err::<Hit>(n))?;
    v.resize(n, Hit::default());
    Ok(v)
}

/// Test builds only: a query that makes worker 1 of a parallel search panic,
/// so a test can check that the panic becomes an error (see `hamming.rs`).
#[cfg(test)]
pub(crate) mod tests {
    use crate::hv::{HV16, WORDS};

    /// The query that triggers the panic.
    pub(crate) const PANIC_QUERY: HV16 = HV16 {
        words: [0x0BAD_F00D_DEAD_BEEF; WORDS],
    };

    pub(crate) fn maybe_panic(query: &HV16, worker: usize) {
        if *query == PANIC_QUERY && worker == 1 {
            panic!("injected worker failure");
        }
    }
}
