//! Inner loops of the log-mel engine.
//!
//! Frames are processed [`LANES`] at a time with one SIMD lane per frame:
//! after the FFT the spectra are transposed to `(bin, lane)` rows so the
//! real-FFT post-processing, the power spectrum, the sparse mel projection
//! and the logarithm are plain lane-wise loops. Every kernel exists in a
//! portable version ([`KernelLevel::Scalar`], auto-vectorised for the
//! baseline target, no fused multiply-add) and an AVX2 + FMA version
//! ([`KernelLevel::Avx2Fma`]) selected at run time. The logarithm uses no
//! FMA, so it is bit-identical at every level; the power spectrum and the
//! projection differ by float rounding only (tested).

use rustfft::num_complex::Complex32;

use crate::filters::MelFilterbank;

/// Frames processed together: one SIMD lane per frame.
pub const LANES: usize = 8;

/// Floor applied to mel power before `log10` (Whisper: `clamp(min=1e-10)`).
pub(crate) const POWER_FLOOR: f32 = 1e-10;

/// Which implementation of the inner loops runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum KernelLevel {
    /// Portable Rust (vectorised by the compiler for the baseline target), no FMA.
    Scalar,
    /// x86-64 AVX2 + FMA, eight frames per 256-bit register.
    Avx2Fma,
}

impl KernelLevel {
    /// Every level, slowest first.
    pub const ALL: [KernelLevel; 2] = [KernelLevel::Scalar, KernelLevel::Avx2Fma];

    /// The fastest level this CPU supports.
    pub fn detect() -> Self {
        if KernelLevel::Avx2Fma.is_available() {
            KernelLevel::Avx2Fma
        } else {
            KernelLevel::Scalar
        }
    }

    /// Whether this CPU can run the level.
    pub fn is_available(self) -> bool {
        match self {
            KernelLevel::Scalar => true,
            KernelLevel::Avx2Fma => avx2_fma_detected(),
        }
    }
}

#[cfg(target_arch = "x86_64")]
fn avx2_fma_detected() -> bool {
    std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
}

#[cfg(not(target_arch = "x86_64"))]
fn avx2_fma_detected() -> bool {
    false
}

/// cephes `logf` polynomial, highest degree first (cephes' digits kept).
#[allow(clippy::excessive_precision)]
const LOG_P: [f32; 9] = [
    7.037_683_6e-2,
    -1.151_461_0e-1,
    1.167_699_9e-1,
    -1.242_014_1e-1,
    1.424_932_3e-1,
    -1.666_805_8e-1,
    2.000_071_5e-1,
    -2.499_999_4e-1,
    3.333_333_1e-1,
];
#[allow(clippy::excessive_precision)]
const LOG_Q1: f32 = -2.121_944_4e-4;
#[allow(clippy::excessive_precision)]
const LOG_Q2: f32 = 0.693_359_375;

/// `log10(x)` for positive, normal `x` (cephes `logf`: exponent/mantissa
/// split, mantissa folded into `[√½, √2)`, degree-9 polynomial; about
/// 2 ulp), without FMA so every level gives the same bits.
#[inline(always)]
pub(crate) fn log10_lane(x: f32) -> f32 {
    const SQRT_HALF: f32 = std::f32::consts::FRAC_1_SQRT_2;
    let bits = x.to_bits();
    // x = mant · 2^e with mant in [0.5, 1)
    let e = ((bits >> 23) & 0xff) as i32 - 126;
    let mant = f32::from_bits((bits & 0x007f_ffff) | 0x3f00_0000);
    let small = mant < SQRT_HALF;
    let e = e - i32::from(small);
    // f = mant - 1 or 2·mant - 1, both exact
    let f = if small { mant + mant } else { mant } - 1.0;
    let z = f * f;
    let mut y = LOG_P[0];
    for &p in &LOG_P[1..] {
        y = y * f + p;
    }
    y = y * f * z;
    let ef = e as f32;
    y += LOG_Q1 * ef;
    y += -0.5 * z;
    let ln = f + y + LOG_Q2 * ef;
    ln * std::f32::consts::LOG10_E
}

/// The kernels, generic over whether fused multiply-add may be used.
struct Generic<const FMA: bool>;

impl<const FMA: bool> Generic<FMA> {
    #[inline(always)]
    fn madd(a: f32, b: f32, c: f32) -> f32 {
        if FMA { a.mul_add(b, c) } else { a * b + c }
    }

    /// Windowed frame (`dst` is the packed complex buffer viewed as `f32`).
    #[inline(always)]
    fn window(src: &[f32], window: &[f32], dst: &mut [f32]) {
        for (d, (s, w)) in dst.iter_mut().zip(src.iter().zip(window)) {
            *d = s * w;
        }
    }

    /// Transpose `LANES` half-length spectra (chunk `slots[l]` of `fft`,
    /// `m` values each) into `(m + 1, LANES)` rows `zr`, `zi`; row `m`
    /// repeats row 0.
    #[inline(always)]
    fn gather(fft: &[Complex32], slots: &[usize; LANES], m: usize, zr: &mut [f32], zi: &mut [f32]) {
        let (zr_rows, _) = zr.as_chunks_mut::<LANES>();
        let (zi_rows, _) = zi.as_chunks_mut::<LANES>();
        for (l, &slot) in slots.iter().enumerate() {
            let src = fft.get(slot * m..slot * m + m).unwrap_or_default();
            for ((c, r), i) in src.iter().zip(zr_rows.iter_mut()).zip(zi_rows.iter_mut()) {
                r[l] = c.re;
                i[l] = c.im;
            }
        }
        Self::wrap(m, zr, zi);
    }

    #[inline(always)]
    fn wrap(m: usize, zr: &mut [f32], zi: &mut [f32]) {
        if zr.len() >= (m + 1) * LANES && zi.len() >= (m + 1) * LANES {
            zr.copy_within(0..LANES, m * LANES);
            zi.copy_within(0..LANES, m * LANES);
        }
    }

    /// Power spectrum `|X[k]|²` for `k in k0..k0 + pow.len() / LANES`
    /// from the transposed half-length spectra `zr`, `zi` (`(m + 1)` rows
    /// of [`LANES`], row `m` a copy of row 0), with twiddles `(cos, -sin)`
    /// of `2πk / 2m` for `k in 0..=m/2` in `twc`, `tws`. Bins `k` and
    /// `m - k` share their even/odd parts: `X[k] = E + W·O` and
    /// `conj(X[m-k]) = E − W·O`, so each pair costs one set of loads.
    #[inline(always)]
    fn power(zr: &[f32], zi: &[f32], m: usize, k0: usize, twc: &[f32], tws: &[f32], pow: &mut [f32]) {
        let (zr, _) = zr.as_chunks::<LANES>();
        let (zi, _) = zi.as_chunks::<LANES>();
        let (pow, _) = pow.as_chunks_mut::<LANES>();
        for (k, (&c, &s)) in twc.iter().zip(tws).enumerate().take(m / 2 + 1) {
            let mk = m - k;
            let (Some(ar), Some(ai), Some(br), Some(bi)) = (zr.get(k), zi.get(k), zr.get(mk), zi.get(mk)) else {
                return;
            };
            let mut lo = [0f32; LANES];
            let mut hi = [0f32; LANES];
            for l in 0..LANES {
                // 2E = Z[k] + conj(Z[m-k]); 2O = -j (Z[k] - conj(Z[m-k]))
                let er = ar[l] + br[l];
                let ei = ai[l] - bi[l];
                let or = ai[l] + bi[l];
                let oi = br[l] - ar[l];
                // W·2O
                let wr = Self::madd(c, or, -(s * oi));
                let wi = Self::madd(c, oi, s * or);
                let (xr, xi) = (er + wr, ei + wi);
                let (yr, yi) = (er - wr, ei - wi);
                lo[l] = 0.25 * Self::madd(xr, xr, xi * xi);
                hi[l] = 0.25 * Self::madd(yr, yr, yi * yi);
            }
            if let Some(p) = k.checked_sub(k0).and_then(|i| pow.get_mut(i)) {
                *p = lo;
            }
            if mk != k
                && let Some(p) = mk.checked_sub(k0).and_then(|i| pow.get_mut(i))
            {
                *p = hi;
            }
        }
    }

    /// `mel[band] = Σ w · pow[bin]` per lane (`pow` rows start at bin `k0`).
    #[inline(always)]
    fn project(filters: &MelFilterbank, pow: &[f32], k0: usize, mel: &mut [f32]) {
        let (pow, _) = pow.as_chunks::<LANES>();
        let (mel, _) = mel.as_chunks_mut::<LANES>();
        for (band, out) in mel.iter_mut().enumerate() {
            // two accumulators halve the dependency chain of short bands
            let mut acc = [[0f32; LANES]; 2];
            if let Some((start, w)) = filters.band(band)
                && let Some(rows) = pow.get(start.saturating_sub(k0)..)
            {
                let (w2, w_tail) = w.as_chunks::<2>();
                let (r2, r_tail) = rows.get(..w.len()).unwrap_or(rows).as_chunks::<2>();
                for (w, p) in w2.iter().zip(r2) {
                    for l in 0..LANES {
                        acc[0][l] = Self::madd(w[0], p[0][l], acc[0][l]);
                        acc[1][l] = Self::madd(w[1], p[1][l], acc[1][l]);
                    }
                }
                for (&w, p) in w_tail.iter().zip(r_tail) {
                    for l in 0..LANES {
                        acc[0][l] = Self::madd(w, p[l], acc[0][l]);
                    }
                }
            }
            for l in 0..LANES {
                out[l] = acc[0][l] + acc[1][l];
            }
        }
    }

    /// `v = log10(max(v, 1e-10))` in place; `max` tracks the lane maxima.
    #[inline(always)]
    fn log_max(mel: &mut [f32], max: &mut [f32; LANES]) {
        let (rows, _) = mel.as_chunks_mut::<LANES>();
        for row in rows {
            for l in 0..LANES {
                let x = if row[l] > POWER_FLOOR { row[l] } else { POWER_FLOOR };
                let v = log10_lane(x);
                max[l] = if v > max[l] { v } else { max[l] };
                row[l] = v;
            }
        }
    }

    /// Whisper's `(max(v, floor) + 4) / 4` in place.
    #[inline(always)]
    fn normalise(v: &mut [f32], floor: f32) {
        for x in v {
            *x = (if *x > floor { *x } else { floor } + 4.0) / 4.0;
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use super::*;
    use std::arch::x86_64::*;

    #[target_feature(enable = "avx2,fma")]
    pub(super) fn window(src: &[f32], window: &[f32], dst: &mut [f32]) {
        Generic::<true>::window(src, window, dst)
    }

    /// 8×8 transpose of `r`.
    #[target_feature(enable = "avx2,fma")]
    fn transpose8(r: [__m256; 8]) -> [__m256; 8] {
        let t0 = _mm256_unpacklo_ps(r[0], r[1]);
        let t1 = _mm256_unpackhi_ps(r[0], r[1]);
        let t2 = _mm256_unpacklo_ps(r[2], r[3]);
        let t3 = _mm256_unpackhi_ps(r[2], r[3]);
        let t4 = _mm256_unpacklo_ps(r[4], r[5]);
        let t5 = _mm256_unpackhi_ps(r[4], r[5]);
        let t6 = _mm256_unpacklo_ps(r[6], r[7]);
        let t7 = _mm256_unpackhi_ps(r[6], r[7]);
        let u0 = _mm256_shuffle_ps::<0x44>(t0, t2);
        let u1 = _mm256_shuffle_ps::<0xEE>(t0, t2);
        let u2 = _mm256_shuffle_ps::<0x44>(t1, t3);
        let u3 = _mm256_shuffle_ps::<0xEE>(t1, t3);
        let u4 = _mm256_shuffle_ps::<0x44>(t4, t6);
        let u5 = _mm256_shuffle_ps::<0xEE>(t4, t6);
        let u6 = _mm256_shuffle_ps::<0x44>(t5, t7);
        let u7 = _mm256_shuffle_ps::<0xEE>(t5, t7);
        [
            _mm256_permute2f128_ps::<0x20>(u0, u4),
            _mm256_permute2f128_ps::<0x20>(u1, u5),
            _mm256_permute2f128_ps::<0x20>(u2, u6),
            _mm256_permute2f128_ps::<0x20>(u3, u7),
            _mm256_permute2f128_ps::<0x31>(u0, u4),
            _mm256_permute2f128_ps::<0x31>(u1, u5),
            _mm256_permute2f128_ps::<0x31>(u2, u6),
            _mm256_permute2f128_ps::<0x31>(u3, u7),
        ]
    }

    #[target_feature(enable = "avx2,fma")]
    pub(super) fn gather(fft: &[Complex32], slots: &[usize; LANES], m: usize, zr: &mut [f32], zi: &mut [f32]) {
        let flat = complex_as_f32(fft);
        let mut rows: [&[f32]; LANES] = [&[]; LANES];
        for (row, &slot) in rows.iter_mut().zip(slots) {
            match flat.get(2 * slot * m..2 * (slot * m + m)) {
                Some(r) => *row = r,
                None => return Generic::<true>::gather(fft, slots, m, zr, zi),
            }
        }
        if zr.len() < (m + 1) * LANES || zi.len() < (m + 1) * LANES {
            return;
        }
        let full = m / 4 * 4;
        let mut k = 0;
        while k < full {
            // SAFETY: k + 4 <= m, so floats 2k..2k + 8 lie in every row (2m floats).
            let r = rows.map(|row| unsafe { _mm256_loadu_ps(row.as_ptr().add(2 * k)) });
            let t = transpose8(r);
            for (j, v) in t.into_iter().enumerate() {
                let dst = if j % 2 == 0 { &mut *zr } else { &mut *zi };
                // SAFETY: row k + j/2 < m of (m + 1) rows of LANES floats (checked above).
                unsafe { _mm256_storeu_ps(dst.as_mut_ptr().add((k + j / 2) * LANES), v) };
            }
            k += 4;
        }
        for k in full..m {
            for (l, row) in rows.iter().enumerate() {
                zr[k * LANES + l] = row[2 * k];
                zi[k * LANES + l] = row[2 * k + 1];
            }
        }
        Generic::<true>::wrap(m, zr, zi);
    }

    /// [`log10_lane`] on eight lanes, operation for operation (bit-identical).
    #[target_feature(enable = "avx2,fma")]
    fn log10_x8(x: __m256) -> __m256 {
        let bits = _mm256_castps_si256(x);
        let e = _mm256_sub_epi32(
            _mm256_and_si256(_mm256_srli_epi32::<23>(bits), _mm256_set1_epi32(0xff)),
            _mm256_set1_epi32(126),
        );
        let mant = _mm256_castsi256_ps(_mm256_or_si256(
            _mm256_and_si256(bits, _mm256_set1_epi32(0x007f_ffff)),
            _mm256_set1_epi32(0x3f00_0000),
        ));
        let small = _mm256_cmp_ps::<_CMP_LT_OQ>(mant, _mm256_set1_ps(std::f32::consts::FRAC_1_SQRT_2));
        // the mask is -1 where small
        let e = _mm256_add_epi32(e, _mm256_castps_si256(small));
        let f = _mm256_sub_ps(
            _mm256_blendv_ps(mant, _mm256_add_ps(mant, mant), small),
            _mm256_set1_ps(1.0),
        );
        let z = _mm256_mul_ps(f, f);
        let mut y = _mm256_set1_ps(LOG_P[0]);
        for &p in &LOG_P[1..] {
            y = _mm256_add_ps(_mm256_mul_ps(y, f), _mm256_set1_ps(p));
        }
        y = _mm256_mul_ps(_mm256_mul_ps(y, f), z);
        let ef = _mm256_cvtepi32_ps(e);
        y = _mm256_add_ps(y, _mm256_mul_ps(_mm256_set1_ps(LOG_Q1), ef));
        y = _mm256_add_ps(y, _mm256_mul_ps(_mm256_set1_ps(-0.5), z));
        let ln = _mm256_add_ps(_mm256_add_ps(f, y), _mm256_mul_ps(_mm256_set1_ps(LOG_Q2), ef));
        _mm256_mul_ps(ln, _mm256_set1_ps(std::f32::consts::LOG10_E))
    }

    #[target_feature(enable = "avx2,fma")]
    pub(super) fn power(zr: &[f32], zi: &[f32], m: usize, k0: usize, twc: &[f32], tws: &[f32], pow: &mut [f32]) {
        Generic::<true>::power(zr, zi, m, k0, twc, tws, pow)
    }

    #[target_feature(enable = "avx2,fma")]
    pub(super) fn project(filters: &MelFilterbank, pow: &[f32], k0: usize, mel: &mut [f32]) {
        Generic::<true>::project(filters, pow, k0, mel)
    }

    #[target_feature(enable = "avx2,fma")]
    pub(super) fn log_max(mel: &mut [f32], max: &mut [f32; LANES]) {
        let (rows, _) = mel.as_chunks_mut::<LANES>();
        let floor = _mm256_set1_ps(POWER_FLOOR);
        // SAFETY: max holds LANES = 8 floats.
        let mut mx = unsafe { _mm256_loadu_ps(max.as_ptr()) };
        for row in rows {
            // SAFETY: row holds LANES = 8 floats.
            let x = unsafe { _mm256_loadu_ps(row.as_ptr()) };
            // maxps(a, b) = a > b ? a : b, the scalar select exactly
            let v = log10_x8(_mm256_max_ps(x, floor));
            mx = _mm256_max_ps(v, mx);
            // SAFETY: as above.
            unsafe { _mm256_storeu_ps(row.as_mut_ptr(), v) };
        }
        // SAFETY: as above.
        unsafe { _mm256_storeu_ps(max.as_mut_ptr(), mx) };
    }

    #[target_feature(enable = "avx2,fma")]
    pub(super) fn normalise(v: &mut [f32], floor: f32) {
        Generic::<true>::normalise(v, floor)
    }
}

/// Dispatch one kernel on `level`. `level` is only ever `Avx2Fma` after
/// [`KernelLevel::is_available`] said so (checked where a plan's level is
/// set), which is what makes the calls into the `avx2` module sound.
macro_rules! dispatch {
    ($level:expr, $name:ident($($arg:expr),*)) => {{
        match $level {
            #[cfg(target_arch = "x86_64")]
            KernelLevel::Avx2Fma => {
                // SAFETY: a plan only holds Avx2Fma when the CPU reported
                // AVX2 and FMA (KernelLevel::is_available), so the
                // target-feature function runs on a CPU that has them.
                unsafe { avx2::$name($($arg),*) }
            }
            _ => Generic::<false>::$name($($arg),*),
        }
    }};
}

/// Window `src` (`n_fft` samples) into `dst` (`n_fft / 2` complex values).
pub(crate) fn window(level: KernelLevel, src: &[f32], w: &[f32], dst: &mut [Complex32]) {
    let dst = complex_as_f32_mut(dst);
    dispatch!(level, window(src, w, dst))
}

/// Transpose `LANES` spectra into lane rows (see [`Generic::gather`]).
pub(crate) fn gather(
    level: KernelLevel,
    fft: &[Complex32],
    slots: &[usize; LANES],
    m: usize,
    zr: &mut [f32],
    zi: &mut [f32],
) {
    dispatch!(level, gather(fft, slots, m, zr, zi))
}

/// Complex values as interleaved `f32` pairs.
fn complex_as_f32(c: &[Complex32]) -> &[f32] {
    // SAFETY: Complex<f32> is #[repr(C)] { re: f32, im: f32 }: 8 bytes,
    // 4-byte aligned, no padding, every bit pattern valid; the new slice
    // covers exactly the same memory with the same lifetime.
    unsafe { std::slice::from_raw_parts(c.as_ptr().cast::<f32>(), c.len() * 2) }
}

/// Mutable form of [`complex_as_f32`].
fn complex_as_f32_mut(c: &mut [Complex32]) -> &mut [f32] {
    // SAFETY: as in complex_as_f32; the exclusive borrow moves to the result.
    unsafe { std::slice::from_raw_parts_mut(c.as_mut_ptr().cast::<f32>(), c.len() * 2) }
}

/// Power spectrum rows from transposed half-length spectra (see the module docs).
#[allow(clippy::too_many_arguments)]
pub(crate) fn power(
    level: KernelLevel,
    zr: &[f32],
    zi: &[f32],
    m: usize,
    k0: usize,
    twc: &[f32],
    tws: &[f32],
    pow: &mut [f32],
) {
    dispatch!(level, power(zr, zi, m, k0, twc, tws, pow))
}

/// Sparse mel projection of `LANES` power spectra.
pub(crate) fn project(level: KernelLevel, filters: &MelFilterbank, pow: &[f32], k0: usize, mel: &mut [f32]) {
    dispatch!(level, project(filters, pow, k0, mel))
}

/// Floored `log10` in place with running lane maxima.
pub(crate) fn log_max(level: KernelLevel, mel: &mut [f32], max: &mut [f32; LANES]) {
    dispatch!(level, log_max(mel, max))
}

/// `(max(v, floor) + 4) / 4` in place.
pub(crate) fn normalise(level: KernelLevel, v: &mut [f32], floor: f32) {
    dispatch!(level, normalise(v, floor))
}

/// Whisper's normalisation of one value (the scalar form of [`normalise`]).
#[inline]
pub(crate) fn normalise_one(v: f32, floor: f32) -> f32 {
    (if v > floor { v } else { floor } + 4.0) / 4.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MelConfig;
    use proptest::prelude::*;

    fn levels() -> impl Iterator<Item = KernelLevel> {
        KernelLevel::ALL.into_iter().filter(|l| l.is_available())
    }

    #[test]
    fn log10_is_accurate() {
        let mut worst = 0f64;
        let mut x = 1e-10f32;
        while x < 1e12 {
            let got = f64::from(log10_lane(x));
            let want = f64::from(x).log10();
            worst = worst.max((got - want).abs() / want.abs().max(1.0));
            x *= 1.000_37;
        }
        assert!(worst < 3e-7, "worst relative error {worst:e}");
        assert_eq!(log10_lane(1.0), 0.0);
    }

    #[test]
    fn detect_is_available() {
        assert!(KernelLevel::detect().is_available());
        assert!(KernelLevel::Scalar.is_available());
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(32))]

        /// The logarithm is bit-identical at every level; the maxima agree.
        #[test]
        fn log_max_levels_agree(v in proptest::collection::vec(0f32..1e6, LANES * 10), scale in -30i32..10) {
            let s = 10f32.powi(scale);
            let base: Vec<f32> = v.iter().map(|x| x * s).collect();
            let mut want = base.clone();
            let mut want_max = [f32::NEG_INFINITY; LANES];
            Generic::<false>::log_max(&mut want, &mut want_max);
            for level in levels() {
                let mut got = base.clone();
                let mut max = [f32::NEG_INFINITY; LANES];
                log_max(level, &mut got, &mut max);
                prop_assert_eq!(&got, &want, "{:?}", level);
                prop_assert_eq!(max, want_max);
            }
        }

        /// Power, projection and normalisation agree across levels to float rounding.
        #[test]
        fn spectral_kernels_agree(z in proptest::collection::vec(-100f32..100.0, 2 * 201 * LANES), floor in -10f32..2.0) {
            let m = 200;
            let (zr, zi) = z.split_at(201 * LANES);
            let mut zr = zr.to_vec();
            let mut zi = zi.to_vec();
            zr.copy_within(0..LANES, m * LANES);
            zi.copy_within(0..LANES, m * LANES);
            let twc: Vec<f32> = (0..=m).map(|k| (std::f64::consts::PI * k as f64 / m as f64).cos() as f32).collect();
            let tws: Vec<f32> = (0..=m).map(|k| -(std::f64::consts::PI * k as f64 / m as f64).sin() as f32).collect();
            let fb = MelFilterbank::new(&MelConfig::whisper(80)).unwrap();
            let mut want_p = vec![0f32; 201 * LANES];
            Generic::<false>::power(&zr, &zi, m, 0, &twc, &tws, &mut want_p);
            let mut want_m = vec![0f32; 80 * LANES];
            Generic::<false>::project(&fb, &want_p, 0, &mut want_m);
            let mut want_n = want_m.clone();
            Generic::<false>::normalise(&mut want_n, floor);
            for level in levels() {
                let mut p = vec![0f32; 201 * LANES];
                power(level, &zr, &zi, m, 0, &twc, &tws, &mut p);
                // FMA rounding differs; cancellation makes the error relative to the largest bin
                let scale = want_p.iter().fold(1f32, |m, v| m.max(v.abs()));
                for (a, b) in p.iter().zip(&want_p) {
                    prop_assert!((a - b).abs() <= 1e-6 * scale + 1e-5 * b.abs(), "{:?} power {} vs {}", level, a, b);
                }
                let mut mel = vec![0f32; 80 * LANES];
                project(level, &fb, &want_p, 0, &mut mel);
                for (a, b) in mel.iter().zip(&want_m) {
                    prop_assert!((a - b).abs() <= 1e-5 * b.abs().max(1e-3), "{:?} mel {} vs {}", level, a, b);
                }
                let mut n = want_m.clone();
                normalise(level, &mut n, floor);
                prop_assert_eq!(&n, &want_n);
                prop_assert_eq!(n[3], normalise_one(want_m[3], floor));
            }
        }

        /// Windowing is exact at every level.
        #[test]
        fn window_levels_agree(x in proptest::collection::vec(-1f32..1.0, 400)) {
            let w: Vec<f32> = (0..400).map(|i| (i as f32 * 0.01).sin()).collect();
            let mut want = vec![Complex32::new(0.0, 0.0); 200];
            Generic::<false>::window(&x, &w, complex_as_f32_mut(&mut want));
            prop_assert_eq!(want[3], Complex32::new(x[6] * w[6], x[7] * w[7]));
            for level in levels() {
                let mut got = vec![Complex32::new(9.0, 9.0); 200];
                window(level, &x, &w, &mut got);
                prop_assert_eq!(&got, &want);
            }
        }

        /// The transpose is exact at every level, zero chunks included.
        #[test]
        fn gather_levels_agree(z in proptest::collection::vec(-1f32..1.0, 2 * 202 * 4), zero in 0usize..LANES) {
            let m = 202; // not a multiple of 4: exercises the tail
            let mut fft: Vec<Complex32> = z.chunks_exact(2).map(|p| Complex32::new(p[0], p[1])).collect();
            fft.resize(5 * m, Complex32::new(0.0, 0.0));
            let mut slots = [0, 1, 2, 3, 0, 2, 1, 3];
            slots[zero] = 4;
            let mut want = (vec![0f32; (m + 1) * LANES], vec![0f32; (m + 1) * LANES]);
            Generic::<false>::gather(&fft, &slots, m, &mut want.0, &mut want.1);
            prop_assert_eq!(want.0[5 * LANES + 1], fft[slots[1] * m + 5].re);
            prop_assert_eq!(want.1[m * LANES + 2], fft[slots[2] * m].im);
            for level in levels() {
                let mut got = (vec![7f32; (m + 1) * LANES], vec![7f32; (m + 1) * LANES]);
                gather(level, &fft, &slots, m, &mut got.0, &mut got.1);
                prop_assert_eq!(&got, &want);
            }
        }
    }
}
