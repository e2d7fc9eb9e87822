//! Hamming-distance kernels, one module per architecture and instruction set
//! (the memchr layout): [`generic`] is portable Rust, `x86_64/{popcnt, avx2,
//! avx512}` carry `#[target_feature]`. The dispatchers here take the
//! [`SimdLevel`] a [`crate::Hamming`] was built with; they are `unsafe`
//! because they run instructions that level implies.
//!
//! | level            | needs                        | inner loop                                     |
//! |------------------|------------------------------|------------------------------------------------|
//! | `avx512-vpopcnt` | AVX-512F + AVX-512 VPOPCNTDQ | `vpxorq` + `vpopcntq` on four `zmm` per vector |
//! | `avx2`           | AVX2                         | nibble-LUT popcount (`vpshufb` + `vpsadbw`)    |
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

/// For a tile of queries: `out[i * stride + offset + q] = dist(tile[q], db[i])`
/// for every `i` whose row `out[i*stride..]` is long enough. Tiles longer than
/// [`MAX_TILE`] are processed [`MAX_TILE`] queries at a time.
///
/// # Safety
/// As [`dist`].
#[inline]
pub(crate) unsafe fn tile(level: SimdLevel, tile: &[HV16], db: &[HV16], out: &mut [u32], stride: usize, offset: usize) {
    macro_rules! dispatch {
        ($q:literal) => {{
            let qs: &[HV16; $q] = match tile.try_into() {
                Ok(q) => q,
                Err(_) => return, // ok: unreachable, matched on tile.len()
            };
            match level {
                #[cfg(target_arch = "x86_64")]
                // SAFETY: the caller guarantees POPCNT.
                SimdLevel::Popcnt => unsafe { x86_64::popcnt::tile::<$q>(qs, db, out, stride, offset) },
                #[cfg(target_arch = "x86_64")]
                // SAFETY: the caller guarantees AVX2.
                SimdLevel::Avx2 => unsafe { x86_64::avx2::tile::<$q>(qs, db, out, stride, offset) },
                #[cfg(target_arch = "x86_64")]
                // SAFETY: the caller guarantees AVX-512F and VPOPCNTDQ.
                SimdLevel::Avx512Vpopcnt => unsafe { x86_64::avx512::tile::<$q>(qs, db, out, stride, offset) },
                _ => generic::tile::<$q>(qs, db, out, stride, offset),
            }
        }};
    }
    match tile.len() {
        0 => {}
        1 => dispatch!(1),
        2 => dispatch!(2),
        3 => dispatch!(3),
        4 => dispatch!(4),
        5 => dispatch!(5),
        6 => dispatch!(6),
        7 => dispatch!(7),
        8 => dispatch!(8),
        _ => {
            for (t, sub) in tile.chunks(MAX_TILE).enumerate() {
                // SAFETY: same level, forwarded from our caller.
                unsafe { self::tile(level, sub, db, out, stride, offset + t * MAX_TILE) };
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
