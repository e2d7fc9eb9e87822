//! `popcnt` on each 64-bit word ([`SimdLevel::Popcnt`](zc_buffers::SimdLevel::Popcnt)).

use crate::hv::{HV16, WORDS};
use crate::kernels::{MAX_TILE, TILE_ROWS, lane_thresholds};

/// Hamming distance.
#[target_feature(enable = "popcnt")]
#[inline]
pub(crate) fn dist(a: &HV16, b: &HV16) -> u32 {
    let mut d = 0;
    for i in 0..WORDS {
        d += (a.words[i] ^ b.words[i]).count_ones();
    }
    d
}

super::loops!("popcnt", dist);

/// See [`crate::kernels::tile_block`]: each database word is read once and
/// XORed with the tile's queries while it is in a register.
#[target_feature(enable = "popcnt")]
pub(crate) fn tile_block<const Q: usize>(
    qs: &[HV16; Q],
    db: &[HV16],
    thr: &[u32; MAX_TILE],
    dist: &mut [[u32; MAX_TILE]; TILE_ROWS],
) -> u64 {
    let t = lane_thresholds::<Q>(thr);
    let mut mask = 0u64;
    for (i, (v, row)) in db.iter().zip(dist.iter_mut()).enumerate() {
        let mut acc = [0u32; Q];
        for w in 0..WORDS {
            let x = v.words[w];
            for (a, q) in acc.iter_mut().zip(qs) {
                *a += (x ^ q.words[w]).count_ones();
            }
        }
        let mut hit = false;
        for ((o, a), t) in row.iter_mut().zip(acc).zip(t) {
            *o = a;
            hit |= a < t;
        }
        mask |= u64::from(hit) << i;
    }
    mask
}
