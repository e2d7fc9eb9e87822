//! Bundling (superposition): per-bit counters and a bitwise majority with a
//! deterministic tie-break.

use crate::hv::{DIM, HV16, WORDS};

/// Seed of the default tie-break vector: bits whose counter is exactly 0 are
/// taken from `HV16::random(TIE_BREAK_SEED)`.
pub const TIE_BREAK_SEED: u64 = 0x7469_6562_7265_616B; // "tiebreak"

/// Per-bit signed counters. [`Bundler::add`] adds +1 to the counter of every
/// set bit and −1 to every clear bit (bipolar counting), so the majority bit is
/// the sign of the counter; a counter of exactly 0 is a tie and is resolved by
/// a tie-break vector — by default `HV16::random(TIE_BREAK_SEED)`, so the
/// result is deterministic and, for an even number of random inputs, unbiased.
///
/// Counters saturate at `i32::MIN`/`i32::MAX`. The struct is 8 KiB inline and
/// allocates nothing.
#[derive(Clone, Debug)]
pub struct Bundler {
    counts: [i32; DIM],
    added: i64,
    /// Σ|w| over every add/sub since the last reset: a bound on |counter|,
    /// so while it stays ≤ i32::MAX plain (vectorised) adds cannot overflow.
    magnitude: u64,
}

/// `SIGNS[b][j]` is +1 when bit j of byte b is set, else −1: one table row
/// turns 8 bits into 8 lane-wise counter deltas.
const SIGNS: [[i32; 8]; 256] = {
    let mut t = [[0i32; 8]; 256];
    let mut b = 0;
    while b < 256 {
        let mut j = 0;
        while j < 8 {
            t[b][j] = if (b >> j) & 1 == 1 { 1 } else { -1 };
            j += 1;
        }
        b += 1;
    }
    t
};

impl Default for Bundler {
    fn default() -> Self {
        Self::new()
    }
}

impl Bundler {
    /// All counters 0.
    pub fn new() -> Self {
        Bundler {
            counts: [0; DIM],
            added: 0,
            magnitude: 0,
        }
    }

    /// Sets every counter back to 0.
    pub fn reset(&mut self) {
        self.counts = [0; DIM];
        self.added = 0;
        self.magnitude = 0;
    }

    /// Net weight added so far (adds minus subs, weighted).
    pub fn weight(&self) -> i64 {
        self.added
    }

    /// The per-bit counters.
    pub fn counts(&self) -> &[i32; DIM] {
        &self.counts
    }

    /// Adds `v` with weight 1.
    pub fn add(&mut self, v: &HV16) {
        self.add_weighted(v, 1);
    }

    /// Removes a previously added `v` (weight −1).
    pub fn sub(&mut self, v: &HV16) {
        self.add_weighted(v, -1);
    }

    /// Adds `v` with an integer weight: counter += `w` for set bits, −`w` for clear bits.
    pub fn add_weighted(&mut self, v: &HV16, w: i32) {
        let w_abs = u64::from(w.unsigned_abs());
        if self.magnitude + w_abs <= i32::MAX as u64 {
            // No counter can leave i32 range: 8 lanes at a time from a table,
            // AVX2-compiled where the CPU has it.
            self.magnitude += w_abs;
            #[cfg(target_arch = "x86_64")]
            if std::arch::is_x86_feature_detected!("avx2") {
                // SAFETY: AVX2 is present (checked just above).
                unsafe { add_weighted_avx2(&mut self.counts, v, w) };
                self.added = self.added.saturating_add(i64::from(w));
                return;
            }
            add_weighted_lanes(&mut self.counts, v, w);
            self.added = self.added.saturating_add(i64::from(w));
            return;
        }
        self.magnitude = self.magnitude.saturating_add(w_abs);
        for (wi, word) in v.words.iter().enumerate() {
            let chunk = &mut self.counts[wi * 64..wi * 64 + 64];
            for (b, c) in chunk.iter_mut().enumerate() {
                let bit = ((word >> b) & 1) as i32;
                // bit 1 -> +w, bit 0 -> -w
                let delta = if bit == 1 { w } else { w.saturating_neg() };
                *c = c.saturating_add(delta);
            }
        }
        self.added = self.added.saturating_add(i64::from(w));
    }

    /// The majority vector, ties from the default tie-break vector.
    pub fn finish(&self) -> HV16 {
        self.finish_with_tiebreak(&HV16::random(TIE_BREAK_SEED))
    }

    /// The majority vector, ties (counter 0) taken from `tie`.
    pub fn finish_with_tiebreak(&self, tie: &HV16) -> HV16 {
        let mut out = HV16::zero();
        self.finish_into(tie, &mut out);
        out
    }

    /// The majority vector into a caller's vector, ties taken from `tie`.
    pub fn finish_into(&self, tie: &HV16, out: &mut HV16) {
        for wi in 0..WORDS {
            let mut pos = 0u64;
            let mut zero = 0u64;
            for (b, &c) in self.counts[wi * 64..wi * 64 + 64].iter().enumerate() {
                pos |= u64::from(c > 0) << b;
                zero |= u64::from(c == 0) << b;
            }
            out.words[wi] = pos | (zero & tie.words[wi]);
        }
    }
}

/// Apply `f(counter, ±1)` lane-wise, 8 bits (one table row) at a time.
#[inline(always)]
fn add_signs(counts: &mut [i32; DIM], v: &HV16, f: impl Fn(i32, i32) -> i32) {
    for (wi, word) in v.words.iter().enumerate() {
        let lanes = &mut counts[wi * 64..wi * 64 + 64];
        for (k, chunk) in lanes.chunks_exact_mut(8).enumerate() {
            let signs = &SIGNS[((word >> (8 * k)) & 0xFF) as usize];
            for (c, &s) in chunk.iter_mut().zip(signs) {
                *c = f(*c, s);
            }
        }
    }
}

/// Counter update without overflow checks (the caller proved none can
/// happen). ±1 — the common case — needs no lane multiply, which baseline
/// x86-64 (SSE2) lacks for 32-bit lanes.
#[inline(always)]
fn add_weighted_lanes(counts: &mut [i32; DIM], v: &HV16, w: i32) {
    match w {
        1 => add_signs(counts, v, |c, s| c + s),
        -1 => add_signs(counts, v, |c, s| c - s),
        _ => add_signs(counts, v, |c, s| c + s * w),
    }
}

/// [`add_weighted_lanes`] compiled for AVX2 (8 lanes per instruction).
///
/// # Safety
/// The CPU must support AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn add_weighted_avx2(counts: &mut [i32; DIM], v: &HV16, w: i32) {
    add_weighted_lanes(counts, v, w)
}

/// Bitwise majority of `vs` with the default tie-break (see [`Bundler`]).
/// An empty slice yields the tie-break vector itself.
pub fn bundle(vs: &[HV16]) -> HV16 {
    let mut b = Bundler::new();
    for v in vs {
        b.add(v);
    }
    b.finish()
}

/// Bitwise majority of `vs`, ties taken from `tie`.
pub fn bundle_with_tiebreak(vs: &[HV16], tie: &HV16) -> HV16 {
    let mut b = Bundler::new();
    for v in vs {
        b.add(v);
    }
    b.finish_with_tiebreak(tie)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The portable lane path and the AVX2 build of it agree (the public
    /// proptests only reach whichever one this CPU selects).
    #[test]
    fn portable_and_avx2_lane_paths_agree() {
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") {
            for (seed, w) in [(1u64, 1i32), (2, -1), (3, 7), (4, -1000), (5, 1 << 20)] {
                let v = HV16::random(seed);
                let mut a = [3i32; DIM];
                let mut b = [3i32; DIM];
                add_weighted_lanes(&mut a, &v, w);
                // SAFETY: AVX2 checked above.
                unsafe { add_weighted_avx2(&mut b, &v, w) };
                assert_eq!(a, b, "seed {seed} weight {w}");
                for (i, &c) in a.iter().enumerate() {
                    assert_eq!(c, 3 + if v.bit(i) { w } else { -w });
                }
            }
        }
    }
}
