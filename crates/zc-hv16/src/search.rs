//! Exact search over any `&[HV16]` — a store mapping, a `Vec`, a pool buffer.
//!
//! Results go into caller buffers; after the caller has its buffers, a
//! single-threaded search allocates nothing (the tests prove it with a
//! counting allocator). Distances are computed [`CHUNK`] vectors at a time
//! into a stack buffer by the active [`Kernel`], then selected.
//!
//! Ordering: hits are sorted by `(distance, index)`; among equal distances
//! the lower index wins, so results are deterministic and equal a full sort.
//! Every function here is also a method of [`Kernel`] to pin a kernel level.

use crate::error::{HvError, Result};
use crate::hv::HV16;
use crate::kernels::{Kernel, MAX_TILE};

/// Vectors per distance block (the stack buffer holds `CHUNK` × 8 `u32`).
pub const CHUNK: usize = 256;

/// One search result. Orders by distance, then index.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Hit {
    /// Hamming distance to the query (0..=2048).
    pub distance: u32,
    /// Position of the vector in the searched slice.
    pub index: usize,
}

/// Inserts `h` into the sorted prefix `buf[..*len]` keeping the best `buf.len()`.
#[inline]
fn push(buf: &mut [Hit], len: &mut usize, h: Hit) {
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

fn check_k(n: usize, k: usize) -> Result<()> {
    if n == 0 {
        return Err(HvError::Empty);
    }
    if k == 0 || k > n {
        return Err(HvError::InvalidK { k, n });
    }
    Ok(())
}

impl Kernel {
    /// The `out.len()` nearest vectors to `query`, nearest first.
    /// Errors: empty `db` ([`HvError::Empty`]); `out.len()` 0 or above `db.len()` ([`HvError::InvalidK`]).
    pub fn top_k_into(self, db: &[HV16], query: &HV16, out: &mut [Hit]) -> Result<()> {
        check_k(db.len(), out.len())?;
        self.scan_top_k(db, query, out, 0);
        Ok(())
    }

    /// Selects into `out` (assumed empty, `1 <= out.len() <= db.len()`); indices offset by `base`.
    fn scan_top_k(self, db: &[HV16], query: &HV16, out: &mut [Hit], base: usize) {
        let mut dist = [0u32; CHUNK];
        let mut len = 0;
        let mut thr = threshold(out, len);
        for (ci, chunk) in db.chunks(CHUNK).enumerate() {
            let d = &mut dist[..chunk.len()];
            self.distances_raw(query, chunk, d);
            let start = base + ci * CHUNK;
            for (j, &dj) in d.iter().enumerate() {
                if dj < thr {
                    push(
                        out,
                        &mut len,
                        Hit {
                            distance: dj,
                            index: start + j,
                        },
                    );
                    thr = threshold(out, len);
                }
            }
        }
    }

    /// Top-k for many queries in one pass per tile of 8: `db` is read once per
    /// tile and each vector is compared with all the tile's queries while it is
    /// in registers. `out.len()` must be `queries.len() * k`; the hits of query
    /// `q` are `out[q*k..(q+1)*k]`, nearest first.
    pub fn top_k_batch_into(self, db: &[HV16], queries: &[HV16], k: usize, out: &mut [Hit]) -> Result<()> {
        check_k(db.len(), k)?;
        let expected = queries.len().saturating_mul(k);
        if out.len() != expected {
            return Err(HvError::OutputLength {
                expected,
                actual: out.len(),
            });
        }
        let mut dist = [0u32; CHUNK * MAX_TILE];
        for (tile, tile_out) in queries.chunks(MAX_TILE).zip(out.chunks_mut(MAX_TILE * k)) {
            let nq = tile.len();
            let mut lens = [0usize; MAX_TILE];
            let mut thrs = [u32::MAX; MAX_TILE];
            for (ci, chunk) in db.chunks(CHUNK).enumerate() {
                let d = &mut dist[..chunk.len() * nq];
                self.tile_raw(tile, chunk, d, nq, 0);
                let start = ci * CHUNK;
                for (qi, buf) in tile_out.chunks_mut(k).enumerate() {
                    let (len, thr) = (&mut lens[qi], &mut thrs[qi]);
                    for (j, row) in d.chunks_exact(nq).enumerate() {
                        let dj = row[qi];
                        if dj < *thr {
                            push(
                                buf,
                                len,
                                Hit {
                                    distance: dj,
                                    index: start + j,
                                },
                            );
                            *thr = threshold(buf, *len);
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// Top-k with the database split over `threads` threads (scoped threads,
    /// one per part). Allocates one `k`-hit buffer per thread per call; use it
    /// for single large scans, [`Kernel::top_k_into`] in allocation-free loops.
    pub fn top_k_par_into(self, db: &[HV16], query: &HV16, out: &mut [Hit], threads: usize) -> Result<()> {
        check_k(db.len(), out.len())?;
        if threads == 0 {
            return Err(HvError::ZeroThreads);
        }
        let k = out.len();
        let part = db.len().div_ceil(threads).max(CHUNK);
        if part >= db.len() {
            self.scan_top_k(db, query, out, 0);
            return Ok(());
        }
        let parts: Vec<Vec<Hit>> = std::thread::scope(|s| {
            let handles: Vec<_> = db
                .chunks(part)
                .enumerate()
                .map(|(p, slice)| {
                    s.spawn(move || {
                        let mut buf = vec![Hit::default(); k.min(slice.len())];
                        self.scan_top_k(slice, query, &mut buf, p * part);
                        buf
                    })
                })
                .collect();
            // A worker can only fail by panicking, which the kernels never do;
            // a failed join drops that part rather than re-panicking.
            handles.into_iter().filter_map(|h| h.join().ok()).collect()
        });
        let mut len = 0;
        for h in parts.iter().flatten() {
            push(out, &mut len, *h);
        }
        Ok(())
    }

    /// Every vector within `radius` of `query`, in index order. Writes the
    /// first `out.len()` matches and returns the total number of matches
    /// (which may exceed `out.len()`).
    pub fn range_into(self, db: &[HV16], query: &HV16, radius: u32, out: &mut [Hit]) -> Result<usize> {
        if db.is_empty() {
            return Err(HvError::Empty);
        }
        let mut dist = [0u32; CHUNK];
        let mut total = 0usize;
        for (ci, chunk) in db.chunks(CHUNK).enumerate() {
            let d = &mut dist[..chunk.len()];
            self.distances_raw(query, chunk, d);
            for (j, &dj) in d.iter().enumerate() {
                if dj <= radius {
                    if let Some(slot) = out.get_mut(total) {
                        *slot = Hit {
                            distance: dj,
                            index: ci * CHUNK + j,
                        };
                    }
                    total += 1;
                }
            }
        }
        Ok(total)
    }

    /// The nearest vector (lowest index among equals).
    pub fn cleanup(self, db: &[HV16], query: &HV16) -> Result<Hit> {
        let mut out = [Hit::default()];
        self.top_k_into(db, query, &mut out)?;
        Ok(out[0])
    }
}

/// [`Kernel::top_k_into`] with the active kernel.
pub fn top_k_into(db: &[HV16], query: &HV16, out: &mut [Hit]) -> Result<()> {
    Kernel::active().top_k_into(db, query, out)
}

/// The `k` nearest vectors in a new `Vec` (convenience; allocates the result).
pub fn top_k(db: &[HV16], query: &HV16, k: usize) -> Result<Vec<Hit>> {
    check_k(db.len(), k)?;
    let mut out = vec![Hit::default(); k];
    Kernel::active().top_k_into(db, query, &mut out)?;
    Ok(out)
}

/// [`Kernel::top_k_batch_into`] with the active kernel.
pub fn top_k_batch_into(db: &[HV16], queries: &[HV16], k: usize, out: &mut [Hit]) -> Result<()> {
    Kernel::active().top_k_batch_into(db, queries, k, out)
}

/// [`Kernel::top_k_par_into`] with the active kernel.
pub fn top_k_par_into(db: &[HV16], query: &HV16, out: &mut [Hit], threads: usize) -> Result<()> {
    Kernel::active().top_k_par_into(db, query, out, threads)
}

/// [`Kernel::range_into`] with the active kernel.
pub fn range_into(db: &[HV16], query: &HV16, radius: u32, out: &mut [Hit]) -> Result<usize> {
    Kernel::active().range_into(db, query, radius, out)
}

/// Every vector within `radius`, in index order, in a new `Vec`.
pub fn range(db: &[HV16], query: &HV16, radius: u32) -> Result<Vec<Hit>> {
    let kernel = Kernel::active();
    let total = kernel.range_into(db, query, radius, &mut [])?;
    let mut out = vec![Hit::default(); total];
    kernel.range_into(db, query, radius, &mut out)?;
    Ok(out)
}

/// [`Kernel::cleanup`] with the active kernel.
pub fn cleanup(db: &[HV16], query: &HV16) -> Result<Hit> {
    Kernel::active().cleanup(db, query)
}
