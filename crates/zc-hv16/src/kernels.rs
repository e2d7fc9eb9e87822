//! Hamming-distance kernels, selected at run time.
//!
//! | level    | needs                                  | inner loop                                   |
//! |----------|----------------------------------------|----------------------------------------------|
//! | `avx512` | AVX-512F + AVX-512 VPOPCNTDQ (+ rustc ≥ 1.89) | `vpxorq` + `vpopcntq` on four `zmm` per vector |
//! | `avx2`   | AVX2                                    | nibble-LUT popcount (`vpshufb` + `vpsadbw`)  |
//! | `popcnt` | POPCNT                                  | `popcnt` per 64-bit word                     |
//! | `scalar` | nothing                                 | portable `u64::count_ones` (SWAR)            |
//!
//! [`Level::best`] is the fastest level this CPU runs. [`active_level`] is
//! what the crate uses: the level forced with [`force_level`], else the one
//! named by the environment variable `ZC_HV16_LEVEL` (read once; `scalar`,
//! `popcnt`, `avx2`, `avx512`; ignored if unavailable), else [`Level::best`].
//! A [`Kernel`] pins one level explicitly (tests compare every level against
//! `scalar`; benches time each one).
//!
//! No NEON level yet: on non-x86 targets `popcnt`/`avx2`/`avx512` are
//! unavailable and `scalar` (which LLVM lowers to `cnt` on aarch64) is used.

use std::fmt;
use std::str::FromStr;
use std::sync::atomic::{AtomicU8, Ordering::Relaxed};

use crate::error::{HvError, Result};
use crate::hv::{HV16, WORDS};

/// Queries processed together by one pass of a tiled kernel.
pub const MAX_TILE: usize = 8;

/// A kernel implementation level.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Level {
    /// Portable Rust, no target features.
    Scalar,
    /// x86 `popcnt` instruction on 64-bit words.
    Popcnt,
    /// AVX2 nibble-table popcount.
    Avx2,
    /// AVX-512 VPOPCNTDQ.
    Avx512,
}

impl Level {
    /// Every level, slowest first.
    pub const ALL: [Level; 4] = [Level::Scalar, Level::Popcnt, Level::Avx2, Level::Avx512];

    /// Lower-case name (`scalar`, `popcnt`, `avx2`, `avx512`).
    pub fn name(self) -> &'static str {
        match self {
            Level::Scalar => "scalar",
            Level::Popcnt => "popcnt",
            Level::Avx2 => "avx2",
            Level::Avx512 => "avx512",
        }
    }

    /// Whether this CPU (and this build) can run the level.
    pub fn is_available(self) -> bool {
        match self {
            Level::Scalar => true,
            #[cfg(target_arch = "x86_64")]
            Level::Popcnt => std::arch::is_x86_feature_detected!("popcnt"),
            #[cfg(target_arch = "x86_64")]
            Level::Avx2 => std::arch::is_x86_feature_detected!("avx2"),
            #[cfg(target_arch = "x86_64")]
            Level::Avx512 => {
                std::arch::is_x86_feature_detected!("avx512f") && std::arch::is_x86_feature_detected!("avx512vpopcntdq")
            }
            #[allow(unreachable_patterns)]
            _ => false,
        }
    }

    /// The fastest available level.
    pub fn best() -> Level {
        Level::ALL
            .iter()
            .rev()
            .copied()
            .find(|l| l.is_available())
            .unwrap_or(Level::Scalar)
    }

    /// The available levels, slowest first.
    pub fn available() -> impl Iterator<Item = Level> {
        Level::ALL.into_iter().filter(|l| l.is_available())
    }

    fn code(self) -> u8 {
        self as u8 + 1
    }

    fn from_code(c: u8) -> Option<Level> {
        Level::ALL.get(usize::from(c).checked_sub(1)?).copied()
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Level {
    type Err = HvError;
    fn from_str(s: &str) -> Result<Level> {
        match s.trim().to_ascii_lowercase().as_str() {
            "scalar" => Ok(Level::Scalar),
            "popcnt" => Ok(Level::Popcnt),
            "avx2" => Ok(Level::Avx2),
            "avx512" | "avx512vpopcntdq" => Ok(Level::Avx512),
            _ => Err(HvError::UnknownLevel { name: s.to_string() }),
        }
    }
}

/// 0 = not yet decided; otherwise `Level::code`.
static ACTIVE: AtomicU8 = AtomicU8::new(0);

/// The level the crate's free functions use (see the module docs).
#[inline]
pub fn active_level() -> Level {
    match Level::from_code(ACTIVE.load(Relaxed)) {
        Some(l) => l,
        None => {
            let l = std::env::var("ZC_HV16_LEVEL")
                .ok()
                .and_then(|v| v.parse::<Level>().ok())
                .filter(|l| l.is_available())
                .unwrap_or_else(Level::best);
            ACTIVE.store(l.code(), Relaxed);
            l
        }
    }
}

/// Forces every free function of the crate to use `level` (process-wide), or
/// returns to automatic selection with `None`. Errors if the level cannot run here.
pub fn force_level(level: Option<Level>) -> Result<()> {
    match level {
        Some(l) if !l.is_available() => Err(HvError::LevelUnavailable { level: l }),
        Some(l) => {
            ACTIVE.store(l.code(), Relaxed);
            Ok(())
        }
        None => {
            ACTIVE.store(0, Relaxed);
            Ok(())
        }
    }
}

/// Hamming distance with the active level.
#[inline]
pub fn hamming(a: &HV16, b: &HV16) -> u32 {
    Kernel::active().hamming(a, b)
}

/// A handle on one kernel level, checked available at construction, so its
/// methods are safe to call. `Copy`, one byte; build it once and reuse it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Kernel {
    level: Level,
}

impl Kernel {
    /// A kernel at `level`; errors if this CPU or build cannot run it.
    pub fn new(level: Level) -> Result<Kernel> {
        if level.is_available() {
            Ok(Kernel { level })
        } else {
            Err(HvError::LevelUnavailable { level })
        }
    }

    /// The portable kernel (always available).
    pub const fn scalar() -> Kernel {
        Kernel { level: Level::Scalar }
    }

    /// The kernel at [`active_level`].
    #[inline]
    pub fn active() -> Kernel {
        Kernel { level: active_level() }
    }

    /// Its level.
    pub fn level(self) -> Level {
        self.level
    }

    /// Hamming distance between two vectors.
    #[inline]
    pub fn hamming(self, a: &HV16, b: &HV16) -> u32 {
        match self.level {
            #[cfg(target_arch = "x86_64")]
            // SAFETY: a `Kernel` holds `Popcnt` only after `is_available` confirmed the CPU feature.
            Level::Popcnt => unsafe { x86::popcnt_dist(a, b) },
            #[cfg(target_arch = "x86_64")]
            // SAFETY: AVX2 confirmed at construction.
            Level::Avx2 => unsafe { x86::avx2_dist(a, b) },
            #[cfg(target_arch = "x86_64")]
            // SAFETY: AVX-512F and VPOPCNTDQ confirmed at construction.
            Level::Avx512 => unsafe { x86::avx512_dist(a, b) },
            _ => scalar_dist(a, b),
        }
    }

    /// Distances from `query` to every vector of `db`: `out[i] = hamming(query, db[i])`.
    /// `out.len()` must equal `db.len()`.
    pub fn distances(self, query: &HV16, db: &[HV16], out: &mut [u32]) -> Result<()> {
        if out.len() != db.len() {
            return Err(HvError::OutputLength {
                expected: db.len(),
                actual: out.len(),
            });
        }
        self.distances_raw(query, db, out);
        Ok(())
    }

    /// Distances from every query to every vector, reading `db` once per tile
    /// of up to [`MAX_TILE`] queries: `out[i * queries.len() + q] = hamming(queries[q], db[i])`.
    pub fn distances_multi(self, queries: &[HV16], db: &[HV16], out: &mut [u32]) -> Result<()> {
        let expected = queries.len().saturating_mul(db.len());
        if out.len() != expected {
            return Err(HvError::OutputLength {
                expected,
                actual: out.len(),
            });
        }
        let nq = queries.len();
        for (t, tile) in queries.chunks(MAX_TILE).enumerate() {
            self.tile_raw(tile, db, out, nq, t * MAX_TILE);
        }
        Ok(())
    }

    /// XOR of all vectors (the zero vector for an empty slice). It reads the
    /// data once at full width, so benches use it as the memory-read baseline.
    pub fn xor_all(self, db: &[HV16]) -> HV16 {
        match self.level {
            #[cfg(target_arch = "x86_64")]
            // SAFETY: AVX-512F confirmed at construction.
            Level::Avx512 => unsafe { x86::avx512_xor_all(db) },
            #[cfg(target_arch = "x86_64")]
            // SAFETY: AVX2 confirmed at construction.
            Level::Avx2 => unsafe { x86::avx2_xor_all(db) },
            _ => scalar_xor_all(db),
        }
    }

    /// `out[i] = hamming(query, db[i])` for `i < min(out.len(), db.len())`.
    #[inline]
    pub(crate) fn distances_raw(self, query: &HV16, db: &[HV16], out: &mut [u32]) {
        match self.level {
            #[cfg(target_arch = "x86_64")]
            // SAFETY: POPCNT confirmed at construction.
            Level::Popcnt => unsafe { x86::popcnt_distances(query, db, out) },
            #[cfg(target_arch = "x86_64")]
            // SAFETY: AVX2 confirmed at construction.
            Level::Avx2 => unsafe { x86::avx2_distances(query, db, out) },
            #[cfg(target_arch = "x86_64")]
            // SAFETY: AVX-512F and VPOPCNTDQ confirmed at construction.
            Level::Avx512 => unsafe { x86::avx512_distances(query, db, out) },
            _ => scalar_distances(query, db, out),
        }
    }

    /// For a tile of 1..=8 queries: `out[i * stride + offset + q] = hamming(tile[q], db[i])`
    /// for every `i` whose row `out[i*stride..]` is long enough. Larger tiles
    /// are processed 8 queries at a time.
    #[inline]
    pub(crate) fn tile_raw(self, tile: &[HV16], db: &[HV16], out: &mut [u32], stride: usize, offset: usize) {
        macro_rules! dispatch {
            ($q:literal) => {{
                let qs: &[HV16; $q] = match tile.try_into() {
                    Ok(q) => q,
                    Err(_) => return, // ok: unreachable, matched on tile.len()
                };
                match self.level {
                    #[cfg(target_arch = "x86_64")]
                    // SAFETY: POPCNT confirmed at construction.
                    Level::Popcnt => unsafe { x86::popcnt_tile::<$q>(qs, db, out, stride, offset) },
                    #[cfg(target_arch = "x86_64")]
                    // SAFETY: AVX2 confirmed at construction.
                    Level::Avx2 => unsafe { x86::avx2_tile::<$q>(qs, db, out, stride, offset) },
                    #[cfg(target_arch = "x86_64")]
                    // SAFETY: AVX-512F and VPOPCNTDQ confirmed at construction.
                    Level::Avx512 => unsafe { x86::avx512_tile::<$q>(qs, db, out, stride, offset) },
                    _ => scalar_tile::<$q>(qs, db, out, stride, offset),
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
                    self.tile_raw(sub, db, out, stride, offset + t * MAX_TILE);
                }
            }
        }
    }
}

#[inline(always)]
fn scalar_dist(a: &HV16, b: &HV16) -> u32 {
    let mut d = 0;
    for i in 0..WORDS {
        d += (a.words[i] ^ b.words[i]).count_ones();
    }
    d
}

fn scalar_distances(q: &HV16, db: &[HV16], out: &mut [u32]) {
    for (o, v) in out.iter_mut().zip(db) {
        *o = scalar_dist(q, v);
    }
}

fn scalar_tile<const Q: usize>(qs: &[HV16; Q], db: &[HV16], out: &mut [u32], stride: usize, offset: usize) {
    for (v, row) in db.iter().zip(out.chunks_mut(stride)) {
        if let Some(dst) = row.get_mut(offset..offset + Q) {
            for (o, q) in dst.iter_mut().zip(qs) {
                *o = scalar_dist(q, v);
            }
        }
    }
}

fn scalar_xor_all(db: &[HV16]) -> HV16 {
    let mut acc = HV16::zero();
    for v in db {
        acc.bind_assign(v);
    }
    acc
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::{HV16, WORDS};
    use std::arch::x86_64::*;

    macro_rules! loops {
        ($feat:literal, $dist:ident, $distances:ident, $tile:ident) => {
            #[target_feature(enable = $feat)]
            pub(super) fn $distances(q: &HV16, db: &[HV16], out: &mut [u32]) {
                for (o, v) in out.iter_mut().zip(db) {
                    *o = $dist(q, v);
                }
            }

            #[target_feature(enable = $feat)]
            pub(super) fn $tile<const Q: usize>(
                qs: &[HV16; Q],
                db: &[HV16],
                out: &mut [u32],
                stride: usize,
                offset: usize,
            ) {
                for (v, row) in db.iter().zip(out.chunks_mut(stride)) {
                    if let Some(dst) = row.get_mut(offset..offset + Q) {
                        for (o, q) in dst.iter_mut().zip(qs) {
                            *o = $dist(q, v);
                        }
                    }
                }
            }
        };
    }

    #[target_feature(enable = "popcnt")]
    #[inline]
    pub(super) fn popcnt_dist(a: &HV16, b: &HV16) -> u32 {
        let mut d = 0;
        for i in 0..WORDS {
            d += (a.words[i] ^ b.words[i]).count_ones();
        }
        d
    }
    loops!("popcnt", popcnt_dist, popcnt_distances, popcnt_tile);

    #[target_feature(enable = "avx2")]
    #[inline]
    pub(super) fn avx2_dist(a: &HV16, b: &HV16) -> u32 {
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
    loops!("avx2", avx2_dist, avx2_distances, avx2_tile);

    #[target_feature(enable = "avx2")]
    pub(super) fn avx2_xor_all(db: &[HV16]) -> HV16 {
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

    pub(super) use avx512::*;

    mod avx512 {
        use super::super::HV16;
        use std::arch::x86_64::*;

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
        pub(in super::super) fn avx512_dist(a: &HV16, b: &HV16) -> u32 {
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
        pub(in super::super) fn avx512_distances(q: &HV16, db: &[HV16], out: &mut [u32]) {
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

        #[target_feature(enable = "avx512f,avx512vpopcntdq")]
        pub(in super::super) fn avx512_tile<const Q: usize>(
            qs: &[HV16; Q],
            db: &[HV16],
            out: &mut [u32],
            stride: usize,
            offset: usize,
        ) {
            let mut acc = [_mm512_setzero_si512(); 8];
            for (v, row) in db.iter().zip(out.chunks_mut(stride)) {
                let va = load(v);
                for (a, q) in acc.iter_mut().zip(qs) {
                    *a = lane_counts(&va, q);
                }
                let sums = reduce8(&acc);
                let mut tmp = [0u64; 8];
                // SAFETY: `tmp` is 64 bytes; unaligned store.
                unsafe { _mm512_storeu_si512(tmp.as_mut_ptr().cast::<__m512i>(), sums) };
                if let Some(dst) = row.get_mut(offset..offset + Q) {
                    for (o, s) in dst.iter_mut().zip(tmp) {
                        *o = s as u32;
                    }
                }
            }
        }

        #[target_feature(enable = "avx512f")]
        pub(in super::super) fn avx512_xor_all(db: &[HV16]) -> HV16 {
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
    }
}
