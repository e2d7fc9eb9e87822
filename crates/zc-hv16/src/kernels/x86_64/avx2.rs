//! AVX2: carry-save adders + nibble-table popcount (`vpshufb` + `vpsadbw`)
//! ([`SimdLevel::Avx2`](zc_buffers::SimdLevel::Avx2)).
//!
//! A distance is the popcount of eight 32-byte words `x[i] = a[i] ^ b[i]`.
//! The single-query [`dist`] takes eight nibble-table popcounts. The tile
//! kernel first folds the eight words with four carry-save adders
//! (Harley–Seal) into four — ones, ones, twos, fours — whose popcounts are
//! taken with tables pre-multiplied by their weight, so the per-byte counts
//! still add with `vpaddb` (at most 64 per byte) and one `vpsadbw` per pair
//! finishes: about 55 vector instructions per pair instead of about 70. On
//! Zen 3 the two measured the same speed (the README's issue-17 section);
//! the tile's gain there is the fused threshold test.

use std::arch::x86_64::*;

use crate::hv::HV16;
use crate::kernels::{MAX_TILE, TILE_ROWS, lane_thresholds};

/// The popcount tables and the nibble mask, built once per call.
#[derive(Clone, Copy)]
struct Tables {
    /// `popcount(i)` for a nibble `i`, in both 128-bit lanes.
    one: __m256i,
    /// `2 * popcount(i)`.
    two: __m256i,
    /// `4 * popcount(i)`.
    four: __m256i,
    /// `0x0f` in every byte.
    low: __m256i,
}

#[target_feature(enable = "avx2")]
#[inline]
fn tables() -> Tables {
    let one = _mm256_setr_epi8(
        0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4, 0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4,
    );
    let two = _mm256_add_epi8(one, one);
    Tables {
        one,
        two,
        four: _mm256_add_epi8(two, two),
        low: _mm256_set1_epi8(0x0f),
    }
}

/// Per-byte popcount of `x`, each count multiplied by the weight `lut` holds.
#[target_feature(enable = "avx2")]
#[inline]
fn weighted_count(x: __m256i, lut: __m256i, low: __m256i) -> __m256i {
    let lo = _mm256_and_si256(x, low);
    let hi = _mm256_and_si256(_mm256_srli_epi16(x, 4), low);
    _mm256_add_epi8(_mm256_shuffle_epi8(lut, lo), _mm256_shuffle_epi8(lut, hi))
}

/// Carry-save adder: `(a ^ b ^ c, majority(a, b, c))`, the sum and carry bits.
#[target_feature(enable = "avx2")]
#[inline]
fn csa(a: __m256i, b: __m256i, c: __m256i) -> (__m256i, __m256i) {
    let u = _mm256_xor_si256(a, b);
    let carry = _mm256_or_si256(_mm256_and_si256(a, b), _mm256_and_si256(u, c));
    (_mm256_xor_si256(u, c), carry)
}

/// Per-byte counts of `popcount(a ^ b)` (32 bytes, each at most 64; their
/// sum is the distance).
#[target_feature(enable = "avx2")]
#[inline]
fn pair_bytes(a: &HV16, b: &HV16, t: Tables) -> __m256i {
    let pa = a.words.as_ptr().cast::<__m256i>();
    let pb = b.words.as_ptr().cast::<__m256i>();
    // SAFETY: `HV16` is 256 bytes aligned to 64, so chunk i < 8 of 32 bytes
    // is in bounds and 32-byte aligned, in both vectors.
    let x = |i: usize| unsafe { _mm256_xor_si256(_mm256_load_si256(pa.add(i)), _mm256_load_si256(pb.add(i))) };
    let (ones, twos_a) = csa(x(0), x(1), x(2));
    let (ones, twos_b) = csa(ones, x(3), x(4));
    let (ones, twos_c) = csa(ones, x(5), x(6));
    let (twos, fours) = csa(twos_a, twos_b, twos_c);
    // 8 + 8 + 2 * 8 + 4 * 8 = 64 at most per byte.
    _mm256_add_epi8(
        _mm256_add_epi8(weighted_count(ones, t.one, t.low), weighted_count(x(7), t.one, t.low)),
        _mm256_add_epi8(weighted_count(twos, t.two, t.low), weighted_count(fours, t.four, t.low)),
    )
}

/// Hamming distance: eight nibble-table popcounts added per byte (at most
/// 64), one `vpsadbw`. The single-query scan is bound by the memory read,
/// not by these instructions, so it keeps the short dependency chains of
/// 0.2's kernel; the carry-save form is for the compute-bound tiles.
#[target_feature(enable = "avx2")]
#[inline]
pub(crate) fn dist(a: &HV16, b: &HV16) -> u32 {
    let t = tables();
    let pa = a.words.as_ptr().cast::<__m256i>();
    let pb = b.words.as_ptr().cast::<__m256i>();
    let mut bytes = _mm256_setzero_si256();
    for i in 0..8 {
        // SAFETY: `HV16` is 256 bytes aligned to 64, so chunk i (< 8) of 32
        // bytes is in bounds and 32-byte aligned.
        let x = unsafe { _mm256_xor_si256(_mm256_load_si256(pa.add(i)), _mm256_load_si256(pb.add(i))) };
        bytes = _mm256_add_epi8(bytes, weighted_count(x, t.one, t.low));
    }
    let s = _mm256_sad_epu8(bytes, _mm256_setzero_si256());
    let s = _mm_add_epi64(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1));
    (_mm_cvtsi128_si64(s) + _mm_extract_epi64(s, 1)) as u32
}

super::loops!("avx2", dist);

/// The sums of the 32 bytes of each of eight accumulators, as eight `u32`
/// lanes (lane `j` from `acc[j]`): one `vpsadbw` each, then the four 64-bit
/// partial sums of two accumulators share a lane pair and are added across.
#[target_feature(enable = "avx2")]
#[inline]
fn reduce8(acc: &[__m256i; MAX_TILE]) -> __m256i {
    let z = _mm256_setzero_si256();
    let s = |j: usize| _mm256_sad_epu8(acc[j], z);
    // Each 64-bit lane of a sad is below 2^11: two fit one lane as u32s.
    let p01 = _mm256_or_si256(s(0), _mm256_slli_epi64(s(1), 32));
    let p23 = _mm256_or_si256(s(2), _mm256_slli_epi64(s(3), 32));
    let p45 = _mm256_or_si256(s(4), _mm256_slli_epi64(s(5), 32));
    let p67 = _mm256_or_si256(s(6), _mm256_slli_epi64(s(7), 32));
    // [d0 d1 d2 d3 | d0' d1' d2' d3'] (primes: the upper 128-bit half's partials)
    let a = _mm256_add_epi32(_mm256_unpacklo_epi64(p01, p23), _mm256_unpackhi_epi64(p01, p23));
    let b = _mm256_add_epi32(_mm256_unpacklo_epi64(p45, p67), _mm256_unpackhi_epi64(p45, p67));
    _mm256_add_epi32(
        _mm256_permute2x128_si256::<0x20>(a, b),
        _mm256_permute2x128_si256::<0x31>(a, b),
    )
}

/// See [`crate::kernels::tile_block`]: one accumulator per query in a `ymm`
/// register, all reduced at once per database vector, and one signed compare
/// (distances and thresholds are at most 2049) against the thresholds.
#[target_feature(enable = "avx2")]
pub(crate) fn tile_block<const Q: usize>(
    qs: &[HV16; Q],
    db: &[HV16],
    thr: &[u32; MAX_TILE],
    dist: &mut [[u32; MAX_TILE]; TILE_ROWS],
) -> u64 {
    let t = tables();
    let lanes = lane_thresholds::<Q>(thr);
    // SAFETY: `lanes` is 8 u32 = 32 bytes; unaligned load.
    let limit = unsafe { _mm256_loadu_si256(lanes.as_ptr().cast::<__m256i>()) };
    let mut mask = 0u64;
    for (i, (v, row)) in db.iter().zip(dist.iter_mut()).enumerate() {
        let mut acc = [_mm256_setzero_si256(); MAX_TILE];
        for (a, q) in acc.iter_mut().zip(qs) {
            *a = pair_bytes(v, q, t);
        }
        let d = reduce8(&acc);
        // SAFETY: `row` is 8 u32 = 32 bytes; unaligned store.
        unsafe { _mm256_storeu_si256(row.as_mut_ptr().cast::<__m256i>(), d) };
        let below = _mm256_movemask_ps(_mm256_castsi256_ps(_mm256_cmpgt_epi32(limit, d)));
        mask |= u64::from(below != 0) << i;
    }
    mask
}

/// XOR of all vectors, eight `ymm` accumulators.
#[target_feature(enable = "avx2")]
pub(crate) fn xor_all(db: &[HV16]) -> HV16 {
    let mut acc = [_mm256_setzero_si256(); 8];
    for v in db {
        let p = v.words.as_ptr().cast::<__m256i>();
        for (i, a) in acc.iter_mut().enumerate() {
            // SAFETY: chunk i < 8 of an aligned 256-byte vector.
            *a = _mm256_xor_si256(*a, unsafe { _mm256_load_si256(p.add(i)) });
        }
    }
    let mut out = HV16::zero();
    let po = out.words.as_mut_ptr().cast::<__m256i>();
    for (i, a) in acc.iter().enumerate() {
        // SAFETY: chunk i < 8 of an aligned 256-byte vector we own.
        unsafe { _mm256_store_si256(po.add(i), *a) };
    }
    out
}
