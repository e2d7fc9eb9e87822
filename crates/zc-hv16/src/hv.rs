//! The [`HV16`] vector type: constructors, the binary-spatter-code algebra
//! and the portable random generator.

use std::fmt;

use bytemuck::{Pod, Zeroable};

use crate::error::Result;

/// Bits per vector.
pub const DIM: usize = 2048;
/// 64-bit words per vector.
pub const WORDS: usize = DIM / 64;
/// Bytes per vector.
pub const BYTES: usize = DIM / 8;

/// A 2048-bit binary hypervector: 32 little-endian `u64` words, 64-byte
/// aligned (one AVX-512 register per 512 bits, four cache lines).
///
/// Bit `i` is bit `i % 64` of word `i / 64`; on disk the words are stored
/// little-endian, so bit `i` is bit `i % 8` of byte `i / 8` on every platform.
///
/// The type is [`Pod`]: `&[u8]` of the right alignment and length casts to
/// `&[HV16]` without copying ([`HV16::cast_slice`]).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
#[repr(C, align(64))]
pub struct HV16 {
    /// The 32 words. Kept in native-endian memory; on little-endian hosts this
    /// is the on-disk layout (big-endian hosts are not supported by the store).
    pub words: [u64; WORDS],
}

// SAFETY: `HV16` is `repr(C)` over `[u64; 32]` (256 bytes) with alignment 64;
// 256 is a multiple of 64, so there is no padding, and every bit pattern is a
// valid `[u64; 32]`.
unsafe impl Zeroable for HV16 {}
// SAFETY: see above — no padding, no invalid bit patterns, `Copy + 'static`.
unsafe impl Pod for HV16 {}

const _: () = assert!(std::mem::size_of::<HV16>() == BYTES);
const _: () = assert!(std::mem::align_of::<HV16>() == 64);

impl Default for HV16 {
    fn default() -> Self {
        Self::zero()
    }
}

impl fmt::Debug for HV16 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "HV16({:016x}{:016x}…, ones={})",
            self.words[0],
            self.words[1],
            self.count_ones()
        )
    }
}

/// The SplitMix64 step (Steele, Lea & Flood 2014): `state += 0x9E3779B97F4A7C15`,
/// then the output is mixed with the constants below. Portable and frozen:
/// every vector constructor in this crate is defined in terms of it.
#[inline]
pub fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// FNV-1a 64-bit hash (offset basis `0xcbf29ce484222325`, prime `0x100000001b3`).
#[inline]
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// The id of the generator [`HV16::random`] implements, recorded in store headers.
pub const GENERATOR_SPLITMIX64_V1: u64 = 1;

/// Domain separators so that `random`, `from_key`, `level` and `flip` streams
/// with equal seeds are unrelated.
const KEY_DOMAIN: u64 = 0x6B65_795F_6876_3136; // "key_hv16"
const PERM_DOMAIN: u64 = 0x7065_726D_6876_3136; // "permhv16"

/// Seeded Fisher–Yates shuffle of the bit positions `0..2048`, run front to
/// back from state `s = seed ^ 0x7065726D68763136`: for `i = 0, 1, …` swap
/// position `i` with `i + ((splitmix64(s) as u128 * (2048 - i)) >> 64)`.
/// Only the first `take` positions are drawn (they are final once drawn).
fn shuffled_positions(seed: u64, take: usize, mut f: impl FnMut(usize)) {
    let mut pos = [0u16; DIM];
    for (i, p) in pos.iter_mut().enumerate() {
        *p = i as u16; // ok: i < 2048 fits u16
    }
    let mut s = seed ^ PERM_DOMAIN;
    let take = take.min(DIM);
    for i in 0..take {
        // Pick uniformly from the remaining positions i..DIM.
        let remaining = (DIM - i) as u128;
        let j = i + ((u128::from(splitmix64(&mut s)) * remaining) >> 64) as usize;
        pos.swap(i, j);
        f(usize::from(pos[i]));
    }
}

impl HV16 {
    /// All bits 0.
    pub const fn zero() -> Self {
        HV16 { words: [0; WORDS] }
    }

    /// All bits 1.
    pub const fn ones() -> Self {
        HV16 {
            words: [u64::MAX; WORDS],
        }
    }

    /// A pseudo-random vector: word `i` (0..32) is the `i+1`-th output of
    /// [`splitmix64`] started from state `seed`. This mapping is frozen (golden
    /// vectors in the tests) and identical on every platform.
    pub fn random(seed: u64) -> Self {
        let mut s = seed;
        let mut v = Self::zero();
        for w in &mut v.words {
            *w = splitmix64(&mut s);
        }
        v
    }

    /// A vector derived from a byte key: `random(fnv1a64(key) ^ 0x6B65795F68763136)`.
    /// Equal keys give equal vectors on every platform and in every version.
    pub fn from_key(key: &[u8]) -> Self {
        Self::random(fnv1a64(key) ^ KEY_DOMAIN)
    }

    /// Builds a vector from its 256 on-disk bytes (little-endian words).
    pub fn from_le_bytes(bytes: &[u8; BYTES]) -> Self {
        let mut v = Self::zero();
        for (w, c) in v.words.iter_mut().zip(bytes.chunks_exact(8)) {
            let mut b = [0u8; 8];
            b.copy_from_slice(c);
            *w = u64::from_le_bytes(b);
        }
        v
    }

    /// The 256 on-disk bytes (little-endian words).
    pub fn to_le_bytes(&self) -> [u8; BYTES] {
        let mut out = [0u8; BYTES];
        for (c, w) in out.chunks_exact_mut(8).zip(&self.words) {
            c.copy_from_slice(&w.to_le_bytes());
        }
        out
    }

    /// Casts a byte slice to vectors without copying. Errors (never panics) if
    /// `bytes` is not 64-byte aligned or its length is not a multiple of 256.
    pub fn cast_slice(bytes: &[u8]) -> Result<&[HV16]> {
        Ok(zc_buffers::cast_slice::<HV16>(bytes)?)
    }

    /// Mutable form of [`HV16::cast_slice`].
    pub fn cast_slice_mut(bytes: &mut [u8]) -> Result<&mut [HV16]> {
        Ok(zc_buffers::cast_slice_mut::<HV16>(bytes)?)
    }

    /// The vectors as bytes (zero-copy).
    pub fn as_bytes(vs: &[HV16]) -> &[u8] {
        bytemuck::cast_slice(vs)
    }

    /// Bit `i` (`i` taken modulo 2048).
    #[inline]
    pub fn bit(&self, i: usize) -> bool {
        let i = i % DIM;
        (self.words[i / 64] >> (i % 64)) & 1 == 1
    }

    /// Sets bit `i` (`i` taken modulo 2048) to `on`.
    #[inline]
    pub fn set_bit(&mut self, i: usize, on: bool) {
        let i = i % DIM;
        let m = 1u64 << (i % 64);
        if on {
            self.words[i / 64] |= m;
        } else {
            self.words[i / 64] &= !m;
        }
    }

    /// Flips bit `i` (`i` taken modulo 2048).
    #[inline]
    pub fn toggle_bit(&mut self, i: usize) {
        let i = i % DIM;
        self.words[i / 64] ^= 1u64 << (i % 64);
    }

    /// Number of set bits.
    pub fn count_ones(&self) -> u32 {
        self.words.iter().map(|w| w.count_ones()).sum()
    }

    /// A thermometer code: the first `round(i * 2048 / (n_levels - 1))` bits
    /// set, the rest clear. Level 0 is all zeros, level `n_levels - 1` all
    /// ones; the distance between levels grows linearly with `|i - j|`.
    pub fn thermometer(i: usize, n_levels: usize) -> Result<Self> {
        check_level(i, n_levels)?;
        let set = level_bits(i, n_levels, DIM);
        let mut v = Self::zero();
        for b in 0..set {
            v.words[b / 64] |= 1u64 << (b % 64);
        }
        Ok(v)
    }

    /// A level vector for quantised scalars: `random(seed)` with the first
    /// `round(i * 1024 / (n_levels - 1))` positions of a seeded shuffle of the
    /// bit positions flipped. Level 0 and level `n_levels - 1` are 1024 bits
    /// apart (quasi-orthogonal); levels `i` and `j` are exactly
    /// `|round(i·1024/(n-1)) - round(j·1024/(n-1))|` bits apart.
    pub fn level(i: usize, n_levels: usize, seed: u64) -> Result<Self> {
        check_level(i, n_levels)?;
        let mut v = Self::random(seed);
        shuffled_positions(seed, level_bits(i, n_levels, DIM / 2), |p| v.toggle_bit(p));
        Ok(v)
    }

    /// Noise: a copy with exactly `round(p * 2048)` distinct bits flipped, the
    /// positions drawn by the seeded shuffle used by [`HV16::level`]. `p` is
    /// clamped to `[0, 1]`; NaN counts as 0. The result is at Hamming distance
    /// exactly `round(p * 2048)` from `self`.
    pub fn flip(&self, p: f64, seed: u64) -> Self {
        let p = if p.is_nan() { 0.0 } else { p.clamp(0.0, 1.0) };
        self.flip_bits((p * DIM as f64).round() as usize, seed)
    }

    /// A copy with exactly `min(count, 2048)` distinct bits flipped (seeded).
    pub fn flip_bits(&self, count: usize, seed: u64) -> Self {
        let mut v = *self;
        shuffled_positions(seed, count, |p| v.toggle_bit(p));
        v
    }

    /// Bind (XOR). Self-inverse: `a.bind(&b).bind(&b) == a`.
    #[inline]
    pub fn bind(&self, other: &HV16) -> HV16 {
        let mut out = HV16::zero();
        self.bind_into(other, &mut out);
        out
    }

    /// Bind into a caller's vector.
    #[inline]
    pub fn bind_into(&self, other: &HV16, out: &mut HV16) {
        for ((o, a), b) in out.words.iter_mut().zip(&self.words).zip(&other.words) {
            *o = a ^ b;
        }
    }

    /// Bind in place: `self ^= other`.
    #[inline]
    pub fn bind_assign(&mut self, other: &HV16) {
        for (a, b) in self.words.iter_mut().zip(&other.words) {
            *a ^= b;
        }
    }

    /// Unbind (XOR, identical to [`HV16::bind`] for binary spatter codes).
    #[inline]
    pub fn unbind(&self, other: &HV16) -> HV16 {
        self.bind(other)
    }

    /// Unbind into a caller's vector.
    #[inline]
    pub fn unbind_into(&self, other: &HV16, out: &mut HV16) {
        self.bind_into(other, out)
    }

    /// Unbind in place.
    #[inline]
    pub fn unbind_assign(&mut self, other: &HV16) {
        self.bind_assign(other)
    }

    /// Bitwise complement (distance 2048 from `self`).
    pub fn invert(&self) -> HV16 {
        let mut out = *self;
        out.invert_assign();
        out
    }

    /// Complements in place.
    pub fn invert_assign(&mut self) {
        for w in &mut self.words {
            *w = !*w;
        }
    }

    /// Cyclic rotation by `k` bits towards higher indices: bit `i` of the
    /// result is bit `(i - k) mod 2048` of `self`. `permute(k)` is undone by
    /// [`HV16::inverse_permute`]`(k)`.
    pub fn permute(&self, k: usize) -> HV16 {
        let mut out = HV16::zero();
        self.permute_into(k, &mut out);
        out
    }

    /// [`HV16::permute`] into a caller's vector.
    pub fn permute_into(&self, k: usize, out: &mut HV16) {
        let k = k % DIM;
        let ws = k / 64;
        let bs = k % 64;
        for i in 0..WORDS {
            let lo = self.words[(i + WORDS - ws) % WORDS];
            out.words[i] = if bs == 0 {
                lo
            } else {
                let lower = self.words[(i + 2 * WORDS - ws - 1) % WORDS];
                (lo << bs) | (lower >> (64 - bs))
            };
        }
    }

    /// The inverse of [`HV16::permute`]: rotation by `k` bits towards lower indices.
    pub fn inverse_permute(&self, k: usize) -> HV16 {
        self.permute(DIM - k % DIM)
    }

    /// Hamming distance (number of differing bits), portable code. For
    /// scans use a [`Hamming`](crate::Hamming) handle: it runs the CPU's
    /// SIMD kernels and searches whole slices.
    #[inline]
    pub fn hamming(&self, other: &HV16) -> u32 {
        self.words
            .iter()
            .zip(&other.words)
            .map(|(a, b)| (a ^ b).count_ones())
            .sum()
    }

    /// Normalised similarity `1 - hamming / 2048`: 1 for equal vectors, about
    /// 0.5 for unrelated random ones, 0 for complements.
    #[inline]
    pub fn similarity(&self, other: &HV16) -> f64 {
        1.0 - f64::from(self.hamming(other)) / DIM as f64
    }

    /// Bitwise majority of three vectors (the exact bundle of three).
    pub fn majority3(a: &HV16, b: &HV16, c: &HV16) -> HV16 {
        let mut out = HV16::zero();
        for i in 0..WORDS {
            let (x, y, z) = (a.words[i], b.words[i], c.words[i]);
            out.words[i] = (x & y) | (x & z) | (y & z);
        }
        out
    }
}

fn check_level(i: usize, n_levels: usize) -> Result<()> {
    if n_levels < 2 || i >= n_levels {
        return Err(crate::HvError::LevelOutOfRange { index: i, n_levels });
    }
    Ok(())
}

/// `round(i * span / (n - 1))` in exact integer arithmetic (round half up).
fn level_bits(i: usize, n_levels: usize, span: usize) -> usize {
    let den = (n_levels - 1) as u128;
    ((i as u128 * span as u128 * 2 + den) / (2 * den)) as usize
}
