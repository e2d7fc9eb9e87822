//! The portable kernel: `u64::count_ones` per word (SWAR on baseline x86-64,
//! `cnt` on aarch64). The reference every other level is tested against.

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

/// `out[i * stride + offset + q] = dist(qs[q], db[i])` for every row that is long enough.
pub(crate) fn tile<const Q: usize>(qs: &[HV16; Q], db: &[HV16], out: &mut [u32], stride: usize, offset: usize) {
    for (v, row) in db.iter().zip(out.chunks_mut(stride)) {
        if let Some(dst) = row.get_mut(offset..offset + Q) {
            for (o, q) in dst.iter_mut().zip(qs) {
                *o = dist(q, v);
            }
        }
    }
}

/// XOR of all vectors.
pub(crate) fn xor_all(db: &[HV16]) -> HV16 {
    let mut acc = HV16::zero();
    for v in db {
        acc.bind_assign(v);
    }
    acc
}
