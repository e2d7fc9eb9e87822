//! `popcnt` on each 64-bit word ([`SimdLevel::Popcnt`](zc_buffers::SimdLevel::Popcnt)).

use crate::hv::{HV16, WORDS};

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
