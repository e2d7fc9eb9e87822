//! AVX-512 VPOPCNTDQ: `vpxorq` + `vpopcntq` on four `zmm` per vector
//! ([`SimdLevel::Avx512Vpopcnt`](zc_buffers::SimdLevel::Avx512Vpopcnt)).

use std::arch::x86_64::*;

use crate::hv::HV16;
use crate::kernels::{MAX_TILE, TILE_ROWS, lane_thresholds};

/// Per-lane popcount sums of `a ^ b` (8 u64 lanes).
#[target_feature(enable = "avx512f,avx512vpopcntdq")]
#[inline]
fn lane_counts(a: &[__m512i; 4], b: &HV16) -> __m512i {
    let p = b.words.as_ptr().cast::<__m512i>();
    // SAFETY: `HV16` is 256 bytes aligned to 64: four aligned 64-byte chunks.
    let (b0, b1, b2, b3) = unsafe {
        (
            _mm512_load_si512(p),
            _mm512_load_si512(p.add(1)),
            _mm512_load_si512(p.add(2)),
            _mm512_load_si512(p.add(3)),
        )
    };
    let c0 = _mm512_popcnt_epi64(_mm512_xor_si512(a[0], b0));
    let c1 = _mm512_popcnt_epi64(_mm512_xor_si512(a[1], b1));
    let c2 = _mm512_popcnt_epi64(_mm512_xor_si512(a[2], b2));
    let c3 = _mm512_popcnt_epi64(_mm512_xor_si512(a[3], b3));
    _mm512_add_epi64(_mm512_add_epi64(c0, c1), _mm512_add_epi64(c2, c3))
}

#[target_feature(enable = "avx512f")]
#[inline]
fn load(v: &HV16) -> [__m512i; 4] {
    let p = v.words.as_ptr().cast::<__m512i>();
    // SAFETY: four aligned 64-byte chunks of a 256-byte, 64-aligned vector.
    unsafe {
        [
            _mm512_load_si512(p),
            _mm512_load_si512(p.add(1)),
            _mm512_load_si512(p.add(2)),
            _mm512_load_si512(p.add(3)),
        ]
    }
}

#[target_feature(enable = "avx512f,avx512vpopcntdq")]
#[inline]
pub(crate) fn dist(a: &HV16, b: &HV16) -> u32 {
    _mm512_reduce_add_epi64(lane_counts(&load(a), b)) as u32
}

/// How far ahead of the current 8-vector block (2 KiB) to prefetch: two pages
/// measured best (`examples/scan_probe.rs`: 90% of read bandwidth at 0, 91% at
/// 4 KiB, 95% at 8 KiB).
const PREFETCH_AHEAD: usize = 8192;

/// Horizontal sums of 8 accumulators at once: lane j of the result is
/// the sum of the 8 lanes of `v[j]`.
#[target_feature(enable = "avx512f")]
#[inline]
fn reduce8(v: &[__m512i; 8]) -> __m512i {
    // Stage 1: pairs (0,1),(2,3),… — interleave 64-bit lanes and add.
    let a0 = _mm512_add_epi64(_mm512_unpacklo_epi64(v[0], v[1]), _mm512_unpackhi_epi64(v[0], v[1]));
    let a1 = _mm512_add_epi64(_mm512_unpacklo_epi64(v[2], v[3]), _mm512_unpackhi_epi64(v[2], v[3]));
    let a2 = _mm512_add_epi64(_mm512_unpacklo_epi64(v[4], v[5]), _mm512_unpackhi_epi64(v[4], v[5]));
    let a3 = _mm512_add_epi64(_mm512_unpacklo_epi64(v[6], v[7]), _mm512_unpackhi_epi64(v[6], v[7]));
    // a0 blocks: [s0(0:1) s1(0:1)] [s0(2:3) s1(2:3)] [s0(4:5) s1(4:5)] [s0(6:7) s1(6:7)]
    // Stage 2: add 128-bit blocks pairwise (shuffle_i64x2 picks blocks 0,2 | 1,3).
    let b0 = _mm512_add_epi64(
        _mm512_shuffle_i64x2::<0b10_00_10_00>(a0, a1),
        _mm512_shuffle_i64x2::<0b11_01_11_01>(a0, a1),
    );
    let b1 = _mm512_add_epi64(
        _mm512_shuffle_i64x2::<0b10_00_10_00>(a2, a3),
        _mm512_shuffle_i64x2::<0b11_01_11_01>(a2, a3),
    );
    // b0 blocks: [s0(0..3) s1(0..3)] [s0(4..7) s1(4..7)] [s2(0..3) s3(0..3)] [s2(4..7) s3(4..7)]
    // Result blocks: [s0 s1] [s2 s3] [s4 s5] [s6 s7].
    _mm512_add_epi64(
        _mm512_shuffle_i64x2::<0b10_00_10_00>(b0, b1),
        _mm512_shuffle_i64x2::<0b11_01_11_01>(b0, b1),
    )
}

#[target_feature(enable = "avx512f,avx512vpopcntdq")]
pub(crate) fn distances(q: &HV16, db: &[HV16], out: &mut [u32]) {
    let qa = load(q);
    let n = db.len().min(out.len());
    let (db, out) = (&db[..n], &mut out[..n]);
    let mut blocks = db.chunks_exact(8);
    let mut outs = out.chunks_exact_mut(8);
    for (vs, os) in (&mut blocks).zip(&mut outs) {
        // The hardware prefetcher stops at page boundaries; touch the
        // next page early. A prefetch never faults, even past the end
        // of the mapping (`wrapping_add` keeps the pointer math defined).
        _mm_prefetch::<_MM_HINT_T0>(vs.as_ptr().cast::<i8>().wrapping_add(PREFETCH_AHEAD));
        let mut acc = [_mm512_setzero_si512(); 8];
        for (a, v) in acc.iter_mut().zip(vs) {
            *a = lane_counts(&qa, v);
        }
        let sums = _mm512_cvtepi64_epi32(reduce8(&acc));
        // SAFETY: `os` has exactly 8 u32 = 32 bytes; unaligned store.
        unsafe { _mm256_storeu_si256(os.as_mut_ptr().cast::<__m256i>(), sums) };
    }
    for (o, v) in outs.into_remainder().iter_mut().zip(blocks.remainder()) {
        *o = _mm512_reduce_add_epi64(lane_counts(&qa, v)) as u32;
    }
}

/// See [`crate::kernels::tile_block`]: the database vector is loaded once
/// into four `zmm` registers and compared with each query of the tile (one
/// accumulator of eight `u64` lane counts per query), the accumulators are
/// reduced together ([`reduce8`]) and compared with the thresholds in one
/// `vpcmpuq`.
#[target_feature(enable = "avx512f,avx512vpopcntdq")]
pub(crate) fn tile_block<const Q: usize>(
    qs: &[HV16; Q],
    db: &[HV16],
    thr: &[u32; MAX_TILE],
    dist: &mut [[u32; MAX_TILE]; TILE_ROWS],
) -> u64 {
    let lanes = lane_thresholds::<Q>(thr);
    // SAFETY: `lanes` is 8 u32 = 32 bytes; unaligned load.
    let limit = _mm512_cvtepu32_epi64(unsafe { _mm256_loadu_si256(lanes.as_ptr().cast::<__m256i>()) });
    let mut mask = 0u64;
    for (i, (v, row)) in db.iter().zip(dist.iter_mut()).enumerate() {
        let va = load(v);
        let mut acc = [_mm512_setzero_si512(); 8];
        for (a, q) in acc.iter_mut().zip(qs) {
            *a = lane_counts(&va, q);
        }
        let sums = reduce8(&acc);
        // SAFETY: `row` is 8 u32 = 32 bytes; unaligned store.
        unsafe { _mm256_storeu_si256(row.as_mut_ptr().cast::<__m256i>(), _mm512_cvtepi64_epi32(sums)) };
        let below = _mm512_cmplt_epu64_mask(sums, limit);
        mask |= u64::from(below != 0) << i;
    }
    mask
}

#[target_feature(enable = "avx512f")]
pub(crate) fn xor_all(db: &[HV16]) -> HV16 {
    let mut acc = [_mm512_setzero_si512(); 4];
    for v in db {
        let x = load(v);
        for i in 0..4 {
            acc[i] = _mm512_xor_si512(acc[i], x[i]);
        }
    }
    let mut out = HV16::zero();
    let po = out.words.as_mut_ptr().cast::<__m512i>();
    for (i, a) in acc.iter().enumerate() {
        // SAFETY: chunk i < 4 of an aligned 256-byte vector we own.
        unsafe { _mm512_store_si512(po.add(i), *a) };
    }
    out
}
