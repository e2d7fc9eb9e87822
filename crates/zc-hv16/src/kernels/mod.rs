//! Hamming-distance kernels, one module per architecture and instruction set
//! (the memchr layout): [`generic`] is portable Rust, `x86_64/{popcnt, avx2,
//! avx512}` carry `#[target_feature]`. The dispatchers here take the
//! [`SimdLevel`] a [`crate::Hamming`] was built with; they are `unsafe`
//! because they run instructions that level implies.
//!
//! Two shapes: one query streamed against the database (`distances`, bound by
//! the memory read), and a register-blocked tile (`tile_block`) that compares
//! each database vector with up to [`MAX_TILE`] queries while it is in
//! registers, keeps one accumulator per query, reduces all of them at once
//! and tests the distances against per-query thresholds in one compare, so a
//! batched search (bound by the popcounts) touches its heaps only for
//! candidates.
//!
//! | level            | needs                        | inner loop                                     |
//! |------------------|------------------------------|------------------------------------------------|
//! | `avx512-vpopcnt` | AVX-512F + AVX-512 VPOPCNTDQ | `vpxorq` + `vpopcntq` on four `zmm` per vector |
//! | `avx2`           | AVX2                         | nibble-LUT popcount; tiles: carry-save first   |
//! | `popcnt`         | POPCNT                       | `popcnt` per 64-bit word                       |
//! | `portable`       | nothing                      | `u64::count_ones` (SWAR; `cnt` on aarch64)     |

use zc_buffers::SimdLevel;

use crate::hv::HV16;

pub(crate) mod generic;
#[cfg(target_arch = "x86_64")]
pub(crate) mod x86_64;

/// Queries processed together by one pass of a tiled kernel.
pub const MAX_TILE: usize = 8;

/// The levels this crate has a kernel for, lowest first.
pub(crate) const LEVELS: [SimdLevel; 4] = [
    SimdLevel::Portable,
    SimdLevel::Popcnt,
    SimdLevel::Avx2,
    SimdLevel::Avx512Vpopcnt,
];

/// Hamming distance at `level`.
///
/// # Safety
/// `level` is one of [`LEVELS`] and this CPU has its features.
#[inline]
pub(crate) unsafe fn dist(level: SimdLevel, a: &HV16, b: &HV16) -> u32 {
    match level {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: the caller guarantees POPCNT.
        SimdLevel::Popcnt => unsafe { x86_64::popcnt::dist(a, b) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: the caller guarantees AVX2.
        SimdLevel::Avx2 => unsafe { x86_64::avx2::dist(a, b) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: the caller guarantees AVX-512F and VPOPCNTDQ.
        SimdLevel::Avx512Vpopcnt => unsafe { x86_64::avx512::dist(a, b) },
        _ => generic::dist(a, b),
    }
}

/// `out[i] = dist(query, db[i])` for `i < min(out.len(), db.len())`.
///
/// # Safety
/// As [`dist`].
#[inline]
pub(crate) unsafe fn distances(level: SimdLevel, query: &HV16, db: &[HV16], out: &mut [u32]) {
    match level {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: the caller guarantees POPCNT.
        SimdLevel::Popcnt => unsafe { x86_64::popcnt::distances(query, db, out) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: the caller guarantees AVX2.
        SimdLevel::Avx2 => unsafe { x86_64::avx2::distances(query, db, out) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: the caller guarantees AVX-512F and VPOPCNTDQ.
        SimdLevel::Avx512Vpopcnt => unsafe { x86_64::avx512::distances(query, db, out) },
        _ => generic::distances(query, db, out),
    }
}

/// Database vectors per [`tile_block`] call: one bit each in its candidate mask.
pub(crate) const TILE_ROWS: usize = 64;

/// One block of a tiled scan: the distances of up to [`TILE_ROWS`] database
/// vectors to a tile of up to [`MAX_TILE`] queries, kept in registers while
/// each vector is read once, plus a candidate mask.
///
/// For `i < min(db.len(), TILE_ROWS)` and `q < tile.len()`:
/// `dist[i][q] = hamming(tile[q], db[i])` (lanes `q >= tile.len()` are
/// unspecified), and bit `i` of the result is set iff some `q < tile.len()`
/// has `dist[i][q] < thr[q]`. A search passes each query's current k-th best
/// distance as `thr`, so it visits only the rows that can enter a result.
/// Tiles longer than [`MAX_TILE`] use their first [`MAX_TILE`] queries.
///
/// # Safety
/// As [`dist`].
#[inline]
pub(crate) unsafe fn tile_block(
    level: SimdLevel,
    tile: &[HV16],
    db: &[HV16],
    thr: &[u32; MAX_TILE],
    dist: &mut [[u32; MAX_TILE]; TILE_ROWS],
) -> u64 {
    macro_rules! dispatch {
        ($q:literal) => {{
            let qs: &[HV16; $q] = match tile.get(..$q).and_then(|t| t.try_into().ok()) {
                Some(q) => q,
                None => return 0, // ok: unreachable, matched on tile.len()
            };
            match level {
                #[cfg(target_arch = "x86_64")]
                // SAFETY: the caller guarantees POPCNT.
                SimdLevel::Popcnt => unsafe { x86_64::popcnt::tile_block::<$q>(qs, db, thr, dist) },
                #[cfg(target_arch = "x86_64")]
                // SAFETY: the caller guarantees AVX2.
                SimdLevel::Avx2 => unsafe { x86_64::avx2::tile_block::<$q>(qs, db, thr, dist) },
                #[cfg(target_arch = "x86_64")]
                // SAFETY: the caller guarantees AVX-512F and VPOPCNTDQ.
                SimdLevel::Avx512Vpopcnt => unsafe { x86_64::avx512::tile_block::<$q>(qs, db, thr, dist) },
                _ => generic::tile_block::<$q>(qs, db, thr, dist),
            }
        }};
    }
    match tile.len() {
        0 => 0,
        1 => dispatch!(1),
        2 => dispatch!(2),
        3 => dispatch!(3),
        4 => dispatch!(4),
        5 => dispatch!(5),
        6 => dispatch!(6),
        7 => dispatch!(7),
        _ => dispatch!(8),
    }
}

/// The thresholds a level kernel compares with: `thr[q]` capped at `DIM + 1`
/// (every distance is below it, and it fits an `i32` lane) for `q < Q`, `0`
/// (nothing is below it) for the unused lanes.
#[inline(always)]
pub(crate) fn lane_thresholds<const Q: usize>(thr: &[u32; MAX_TILE]) -> [u32; MAX_TILE] {
    let mut t = [0u32; MAX_TILE];
    for (o, &x) in t.iter_mut().zip(thr).take(Q) {
        *o = x.min(crate::hv::DIM as u32 + 1);
    }
    t
}

/// For a tile of queries: `out[i * stride + offset + q] = dist(tile[q], db[i])`
/// for every `i` whose row `out[i*stride..]` is long enough, through
/// [`tile_block`]. Tiles longer than [`MAX_TILE`] are processed [`MAX_TILE`]
/// queries at a time.
///
/// # Safety
/// As [`dist`].
pub(crate) unsafe fn tile(level: SimdLevel, tile: &[HV16], db: &[HV16], out: &mut [u32], stride: usize, offset: usize) {
    let mut block = [[0u32; MAX_TILE]; TILE_ROWS];
    for (t, sub) in tile.chunks(MAX_TILE).enumerate() {
        let off = offset + t * MAX_TILE;
        let nq = sub.len();
        for (vs, rows) in db
            .chunks(TILE_ROWS)
            .zip(out.chunks_mut(stride.saturating_mul(TILE_ROWS).max(1)))
        {
            // SAFETY: same level, forwarded from our caller.
            unsafe { tile_block(level, sub, vs, &[0; MAX_TILE], &mut block) };
            for (row, d) in rows.chunks_mut(stride.max(1)).zip(&block) {
                if let (Some(dst), Some(src)) = (row.get_mut(off..off + nq), d.get(..nq)) {
                    dst.copy_from_slice(src);
                }
            }
        }
    }
}

/// XOR of all vectors (the zero vector for an empty slice).
///
/// # Safety
/// As [`dist`].
pub(crate) unsafe fn xor_all(level: SimdLevel, db: &[HV16]) -> HV16 {
    match level {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: the caller guarantees AVX-512F (implied by the VPOPCNTDQ level).
        SimdLevel::Avx512Vpopcnt => unsafe { x86_64::avx512::xor_all(db) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: the caller guarantees AVX2.
        SimdLevel::Avx2 => unsafe { x86_64::avx2::xor_all(db) },
        _ => generic::xor_all(db),
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn levels() -> impl Iterator<Item = SimdLevel> {
        LEVELS.into_iter().filter(|l| l.is_available())
    }

    /// Random, identical and complementary vectors: distances 0, 2048 and
    /// everything between, so thresholds meet equal distances.
    fn vectors(seed: u64, n: usize) -> Vec<HV16> {
        (0..n as u64)
            .map(|i| match i % 5 {
                0 => HV16::random(seed ^ i),
                1 => HV16::zero(),
                2 => HV16::ones(),
                3 => HV16::random(seed).flip_bits((i as usize * 13) % 2049, i),
                _ => HV16::random(seed),
            })
            .collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// Distances and the candidate mask of every level equal the
        /// portable kernel's, for every tile width, block length and
        /// threshold (including 0, equal-to-distance and above 2048).
        #[test]
        fn tile_block_every_level_equals_portable(
            seed in any::<u64>(),
            n in 0usize..=TILE_ROWS,
            nq in 1usize..=MAX_TILE,
            thr in proptest::array::uniform8(prop_oneof![Just(0u32), 0u32..2100, Just(u32::MAX)]),
        ) {
            let db = vectors(seed, n);
            let qs = vectors(seed.rotate_left(17), nq);
            let mut want = [[0u32; MAX_TILE]; TILE_ROWS];
            // SAFETY: the portable level runs everywhere.
            let want_mask = unsafe { tile_block(SimdLevel::Portable, &qs, &db, &thr, &mut want) };
            for (i, v) in db.iter().enumerate() {
                let mut hit = false;
                for (q, qv) in qs.iter().enumerate() {
                    let d = generic::dist(qv, v);
                    prop_assert_eq!(want[i][q], d);
                    hit |= d < thr[q];
                }
                prop_assert_eq!(want_mask >> i & 1 == 1, hit, "row {}", i);
            }
            if n < TILE_ROWS {
                prop_assert_eq!(want_mask >> n, 0, "no bits past the block");
            }
            for level in levels() {
                let mut got = [[u32::MAX; MAX_TILE]; TILE_ROWS];
                // SAFETY: `levels` yields only levels this CPU runs.
                let mask = unsafe { tile_block(level, &qs, &db, &thr, &mut got) };
                prop_assert_eq!(mask, want_mask, "level {}", level);
                for i in 0..n {
                    prop_assert_eq!(&got[i][..nq], &want[i][..nq], "level {} row {}", level, i);
                }
            }
        }
    }

    #[test]
    fn tile_block_of_an_empty_tile_or_block_is_empty() {
        let db = vectors(1, 3);
        let mut d = [[0u32; MAX_TILE]; TILE_ROWS];
        for level in levels() {
            // SAFETY: `levels` yields only levels this CPU runs.
            unsafe {
                assert_eq!(tile_block(level, &[], &db, &[u32::MAX; MAX_TILE], &mut d), 0);
                assert_eq!(tile_block(level, &db, &[], &[u32::MAX; MAX_TILE], &mut d), 0);
            }
        }
    }
}
