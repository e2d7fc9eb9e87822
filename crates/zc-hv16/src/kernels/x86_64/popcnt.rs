//! `popcnt` on each 64-bit word ([`SimdLevel::Popcnt`](zc_buffers::SimdLevel::Popcnt)).

use crate::hv::{HV16, WORDS};
use crate::kernels::{MAX_TILE, TILE_ROWS};

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

/// See [`crate::kernels::tile_block`]: one pair at a time (`popcnt` on
/// each word; a register-blocked form that XORs each database word with all
/// the tile's queries measured slower, its accumulators do not stay in
/// registers).
#[target_feature(enable = "popcnt")]
pub(crate) fn tile_block<const Q: usize>(
    qs: &[HV16; Q],
    db: &[HV16],
    thr: &[u32; MAX_TILE],
    dist: &mut [[u32; MAX_TILE]; TILE_ROWS],
) -> u64 {
    crate::kernels::generic::tile_block_by::<Q>(qs, db, thr, dist, |a, b| self::dist(a, b))
}
