//! AVX2 nibble-table popcount: `vpshufb` + `vpsadbw`
//! ([`SimdLevel::Avx2`](zc_buffers::SimdLevel::Avx2)).

use std::arch::x86_64::*;

use crate::hv::HV16;

/// Hamming distance.
#[target_feature(enable = "avx2")]
#[inline]
pub(crate) fn dist(a: &HV16, b: &HV16) -> u32 {
    let lut = _mm256_setr_epi8(
        0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4, 0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4,
    );
    let low = _mm256_set1_epi8(0x0f);
    let pa = a.words.as_ptr().cast::<__m256i>();
    let pb = b.words.as_ptr().cast::<__m256i>();
    let mut bytes = _mm256_setzero_si256();
    for i in 0..8 {
        // SAFETY: `HV16` is 256 bytes aligned to 64, so chunk i (< 8) of 32
        // bytes is in bounds and 32-byte aligned.
        let x = unsafe { _mm256_xor_si256(_mm256_load_si256(pa.add(i)), _mm256_load_si256(pb.add(i))) };
        let lo = _mm256_and_si256(x, low);
        let hi = _mm256_and_si256(_mm256_srli_epi16(x, 4), low);
        // Per byte at most 8 per chunk, 64 over 8 chunks: fits u8.
        bytes = _mm256_add_epi8(bytes, _mm256_shuffle_epi8(lut, lo));
        bytes = _mm256_add_epi8(bytes, _mm256_shuffle_epi8(lut, hi));
    }
    let s = _mm256_sad_epu8(bytes, _mm256_setzero_si256());
    let s = _mm_add_epi64(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1));
    (_mm_cvtsi128_si64(s) + _mm_extract_epi64(s, 1)) as u32
}

super::loops!("avx2", dist);

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
