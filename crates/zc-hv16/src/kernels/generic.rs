//! The portable kernel: `u64::count_ones` per word (SWAR on baseline x86-64,
//! `cnt` on aarch64). The reference every other level is tested against.

use super::{MAX_TILE, TILE_ROWS, lane_thresholds};
use crate::hv::{HV16, WORDS};

/// Hamming distance.
#[inline(always)]
pub(crate) fn dist(a: &HV16, b: &HV16) -> u32 {
    let mut d = 0;
    for i in 0..WORDS {
        d += (a.words[i] ^ b.words[i]).count_ones();
    }
    d
}

/// `out[i] = dist(q, db[i])` for `i < min(out.len(), db.len())`.
pub(crate) fn distances(q: &HV16, db: &[HV16], out: &mut [u32]) {
    for (o, v) in out.iter_mut().zip(db) {
        *o = dist(q, v);
    }
}

/// See [`super::tile_block`]: the portable reference for the tiled kernels.
pub(crate) fn tile_block<const Q: usize>(
    qs: &[HV16; Q],
    db: &[HV16],
    thr: &[u32; MAX_TILE],
    dist: &mut [[u32; MAX_TILE]; TILE_ROWS],
) -> u64 {
    tile_block_by::<Q>(qs, db, thr, dist, self::dist)
}

/// The one-pair-at-a-time tile with `d` as the distance: the portable
/// kernel, and (inlined into its `target_feature` wrapper) the `popcnt` one.
#[inline(always)]
pub(crate) fn tile_block_by<const Q: usize>(
    qs: &[HV16; Q],
    db: &[HV16],
    thr: &[u32; MAX_TILE],
    dist: &mut [[u32; MAX_TILE]; TILE_ROWS],
    d: impl Fn(&HV16, &HV16) -> u32,
) -> u64 {
    let t = lane_thresholds::<Q>(thr);
    let mut mask = 0u64;
    for (i, (v, row)) in db.iter().zip(dist.iter_mut()).enumerate() {
        let mut hit = false;
        for ((o, q), t) in row.iter_mut().zip(qs).zip(t) {
            *o = d(q, v);
            hit |= *o < t;
        }
        mask |= u64::from(hit) << i;
    }
    mask
}

/// XOR of all vectors.
pub(crate) fn xor_all(db: &[HV16]) -> HV16 {
    let mut acc = HV16::zero();
    for v in db {
        acc.bind_assign(v);
    }
    acc
}
