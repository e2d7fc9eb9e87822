//! [`merge_top_k_into_slice`]: the exact merge of per-shard top-k results.

use zc_buffers::ndarray::{ArrayViewMut, Dimension};
use zc_buffers::{BufferError, HostBufferMut, IntoOutput};

use crate::error::{HvError, Result};
use crate::search::Hit;

/// What fills the slots of a merged row that has fewer than `k` hits
/// (`k` above the number of vectors the parts cover): distance `u32::MAX`,
/// index `usize::MAX`. The Python binding writes these as FAISS does,
/// distance `i32::MAX` and index `-1`. Merge inputs equal to it are skipped,
/// so merged results can be merged again.
pub const PAD_HIT: Hit = Hit::new(u32::MAX, usize::MAX);

/// One shard's partial result for a batch of queries: the hits of query `q`
/// are `hits[q * per_query..(q + 1) * per_query]` (any order; a top-k
/// output is sorted, which the merge does not need), with indices local to
/// the shard; `offset` (the shard's global offset, 0 when the indices are
/// already global) is added to each.
#[derive(Clone, Copy, Debug)]
pub struct Partial<'a> {
    /// The hits, `queries * per_query` of them.
    pub hits: &'a [Hit],
    /// Hits per query (may differ between parts, e.g. `min(k, shard len)`).
    pub per_query: usize,
    /// Added to every index.
    pub offset: usize,
}

impl<'a> Partial<'a> {
    /// A partial result of `per_query` hits per query, indices offset by `offset`.
    pub const fn new(hits: &'a [Hit], per_query: usize, offset: usize) -> Partial<'a> {
        Partial {
            hits,
            per_query,
            offset,
        }
    }
}

/// Merges per-shard partial results into the `k` best hits per query by
/// `(distance, global index)` — the order of every top-k in this crate, so
/// merging each shard's exact top-`min(k, len)` gives exactly what one store
/// holding every vector returns, ties included, whatever the order of
/// `parts`. Query `q`'s hits are written to `out[q * k..(q + 1) * k]`,
/// nearest first; a row with fewer than `k` hits in all parts ends in
/// [`PAD_HIT`]s. Returns `queries * k`.
///
/// Allocates nothing. Errors: `k == 0` ([`HvError::InvalidK`]); a part
/// whose `hits.len()` is not `queries * per_query`
/// ([`BufferError::LengthMismatch`]); `out` shorter than `queries * k`
/// ([`BufferError::OutputTooSmall`]); an index plus offset that overflows
/// `usize` ([`HvError::IndexOutOfRange`]). Nothing is written on error.
pub fn merge_top_k_into_slice(parts: &[Partial<'_>], queries: usize, k: usize, out: &mut [Hit]) -> Result<usize> {
    let mut available = 0usize;
    for p in parts {
        let expected = queries.checked_mul(p.per_query).ok_or(BufferError::LengthMismatch {
            expected: usize::MAX,
            actual: p.hits.len(),
        })?;
        if p.hits.len() != expected {
            return Err(BufferError::LengthMismatch {
                expected,
                actual: p.hits.len(),
            }
            .into());
        }
        if let Some(bad) = p
            .hits
            .iter()
            .find(|h| **h != PAD_HIT && h.index.checked_add(p.offset).is_none())
        {
            return Err(HvError::IndexOutOfRange {
                index: bad.index,
                len: usize::MAX - p.offset,
            });
        }
        available = available.saturating_add(p.per_query);
    }
    if k == 0 {
        return Err(HvError::InvalidK { k, n: available });
    }
    let needed = queries.checked_mul(k).ok_or(HvError::InvalidK { k, n: available })?;
    let out = zc_buffers::output_prefix(out, needed)?;
    for (q, row) in out.chunks_exact_mut(k).enumerate() {
        let mut len = 0;
        for p in parts {
            let start = q * p.per_query; // ok: q < queries, checked above
            for h in &p.hits[start..start + p.per_query] {
                if *h != PAD_HIT {
                    insert(row, &mut len, Hit::new(h.distance, h.index + p.offset)); // ok: checked above
                }
            }
        }
        row[len..].fill(PAD_HIT);
    }
    Ok(needed)
}

/// [`merge_top_k_into_slice`] into a host buffer viewed as `[Hit]`.
pub fn merge_top_k_into<B: HostBufferMut>(
    parts: &[Partial<'_>],
    queries: usize,
    k: usize,
    out: &mut B,
) -> Result<usize> {
    merge_top_k_into_slice(parts, queries, k, out.into_output()?)
}

/// [`merge_top_k_into_slice`] into a standard-layout array view.
pub fn merge_top_k_into_view<D: Dimension>(
    parts: &[Partial<'_>],
    queries: usize,
    k: usize,
    out: ArrayViewMut<'_, Hit, D>,
) -> Result<usize> {
    merge_top_k_into_slice(parts, queries, k, out.into_output()?)
}

/// [`merge_top_k_into_slice`] into a new `Vec` of `queries * k` hits
/// (allocates the result).
pub fn merge_top_k(parts: &[Partial<'_>], queries: usize, k: usize) -> Result<Vec<Hit>> {
    let n = queries.checked_mul(k).ok_or(HvError::InvalidK { k, n: 0 })?;
    let mut v = Vec::new();
    v.try_reserve_exact(n).map_err(|_| crate::error::alloc_err::<Hit>(n))?;
    v.resize(n, PAD_HIT);
    merge_top_k_into_slice(parts, queries, k, &mut v)?;
    Ok(v)
}

/// Inserts `h` into the sorted prefix `row[..*len]`, keeping the best `row.len()`.
#[inline]
fn insert(row: &mut [Hit], len: &mut usize, h: Hit) {
    let k = row.len();
    if *len < k {
        let p = row[..*len].partition_point(|x| *x < h);
        row.copy_within(p..*len, p + 1);
        row[p] = h;
        *len += 1;
    } else if h < row[k - 1] {
        let p = row[..k - 1].partition_point(|x| *x < h);
        row.copy_within(p..k - 1, p + 1);
        row[p] = h;
    }
}
