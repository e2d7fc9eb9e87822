//! Inner loops of the log-mel engine, organised by architecture.
//!
//! Frames are processed [`LANES`] at a time with one SIMD lane per frame:
//! after the FFT the spectra are transposed to `(bin, lane)` rows so the
//! real-FFT post-processing, the power spectrum, the sparse mel projection
//! and the logarithm are plain lane-wise loops. Every kernel exists at
//! three [`SimdLevel`]s ([`LEVELS`]):
//!
//! * [`generic`]: [`SimdLevel::Portable`], plain Rust auto-vectorised for
//!   the compile target, no fused multiply-add: the reference;
//! * [`x86_64::avx2`]: [`SimdLevel::Avx2`] (AVX2 + FMA, 256-bit);
//! * [`x86_64::avx512`]: [`SimdLevel::Avx512`] (512-bit FFT stages and
//!   logarithm, bit-identical to AVX2).
//!
//! The plan picks the level once ([`SimdLevel::best_of`]`(&LEVELS)`) and
//! every call dispatches on it. The portable and SIMD levels differ by
//! float rounding only (FMA), which the tests below bound kernel by kernel
//! against the generic ones.

use rustfft::num_complex::Complex32;

use zc_buffers::SimdLevel;

use crate::filters::MelFilterbank;
use generic::Generic;

pub(crate) mod generic;
#[cfg(target_arch = "x86_64")]
pub(crate) mod x86_64;

/// The levels zc-mel has kernels for, lowest first. A plan forced to a
/// level in between (`Popcnt`) runs the highest of these below it.
pub(crate) const LEVELS: [SimdLevel; 3] = [SimdLevel::Portable, SimdLevel::Avx2, SimdLevel::Avx512];

/// The level among [`LEVELS`] that runs for `level`: the highest one not above it.
pub(crate) fn effective(level: SimdLevel) -> SimdLevel {
    LEVELS
        .into_iter()
        .filter(|l| *l <= level)
        .max()
        .unwrap_or(SimdLevel::Portable)
}

/// Frames processed together: one SIMD lane per frame.
pub(crate) const LANES: usize = 8;

/// Floor applied to mel power before `log10` (Whisper: `clamp(min=1e-10)`).
pub(crate) const POWER_FLOOR: f32 = 1e-10;

/// One radix-`radix` pass of [`LaneFft`] (Stockham autosort, decimation
/// in frequency): `len`-point sub-transforms, `stride` rows apart.
struct Stage {
    radix: usize,
    len: usize,
    stride: usize,
    /// `exp(-2πi·p·k / len)` for `p in 0..len / radix`, `k in 1..radix`,
    /// at index `p · (radix - 1) + k - 1`.
    twr: Vec<f32>,
    twi: Vec<f32>,
}

/// A complex FFT of `m` points run on [`LANES`] frames at once, one SIMD
/// lane per frame: the data are `(m, LANES)` rows of real and imaginary
/// parts, so every butterfly is a lane-wise vector operation. Only for
/// `m` whose prime factors are 2, 3 and 5 (Whisper: 200 = 8·5·5).
pub(crate) struct LaneFft {
    m: usize,
    stages: Vec<Stage>,
}

impl LaneFft {
    /// The plan for `m` points, or `None` when `m` has a prime factor above 5.
    pub(crate) fn new(m: usize) -> Option<Self> {
        if m == 0 {
            return None;
        }
        let mut radices = Vec::new();
        let mut rest = m;
        for r in [8, 4, 2, 3, 5] {
            while rest.is_multiple_of(r) {
                radices.push(r);
                rest /= r;
            }
        }
        if rest != 1 {
            return None;
        }
        let mut stages = Vec::with_capacity(radices.len());
        let (mut len, mut stride) = (m, 1);
        for radix in radices {
            let np = len / radix;
            let mut twr = Vec::with_capacity(np * (radix - 1));
            let mut twi = Vec::with_capacity(np * (radix - 1));
            for p in 0..np {
                for k in 1..radix {
                    let a = -2.0 * std::f64::consts::PI * ((p * k) % len) as f64 / len as f64;
                    twr.push(a.cos() as f32);
                    twi.push(a.sin() as f32);
                }
            }
            stages.push(Stage {
                radix,
                len,
                stride,
                twr,
                twi,
            });
            len = np;
            stride *= radix;
        }
        Some(Self { m, stages })
    }

    /// Whether the transform ends in the second buffer pair given to
    /// [`lane_fft`] rather than the first: the input then goes in the second.
    pub(crate) fn odd(&self) -> bool {
        self.stages.len() % 2 == 1
    }
}

/// Run the stages of `plan` over the ping-pong buffers, each with `stage(st, src_re, src_im, dst_re, dst_im)`.
#[inline(always)]
fn run_stages(
    plan: &LaneFft,
    xr: &mut [f32],
    xi: &mut [f32],
    yr: &mut [f32],
    yi: &mut [f32],
    mut stage: impl FnMut(&Stage, &[f32], &[f32], &mut [f32], &mut [f32]),
) {
    let n = plan.m * LANES;
    if xr.len() < n || xi.len() < n || yr.len() < n || yi.len() < n {
        return;
    }
    let mut bufs = [(xr, xi), (yr, yi)];
    for (i, st) in plan.stages.iter().enumerate() {
        let [(ar, ai), (br, bi)] = &mut bufs;
        let (src, dst) = if i % 2 == 0 {
            ((ar, ai), (br, bi))
        } else {
            ((br, bi), (ar, ai))
        };
        stage(st, src.0, src.1, dst.0, dst.1);
    }
}

/// Dispatch one kernel on `level`. A plan only ever holds a level that
/// [`SimdLevel::is_available`] confirmed (`best_of` at construction,
/// `require` when forced), which is what makes the calls into the `avx2`
/// and `avx512` modules sound.
macro_rules! dispatch {
    ($level:expr, $name:ident($($arg:expr),*)) => {{
        match $level {
            #[cfg(target_arch = "x86_64")]
            SimdLevel::Avx512 | SimdLevel::Avx512Vpopcnt => {
                // SAFETY: a plan only holds Avx512 (or above) when the CPU
                // reported AVX-512F/BW/DQ/VL on top of AVX2 and FMA
                // (SimdLevel::is_available).
                unsafe { x86_64::avx512::$name($($arg),*) }
            }
            #[cfg(target_arch = "x86_64")]
            SimdLevel::Avx2 => {
                // SAFETY: a plan only holds Avx2 when the CPU reported
                // AVX2, FMA, BMI2 and POPCNT (SimdLevel::is_available), so
                // the target-feature function runs on a CPU that has them.
                unsafe { x86_64::avx2::$name($($arg),*) }
            }
            _ => Generic::<false>::$name($($arg),*),
        }
    }};
}

/// Window `src` (`n_fft` samples) into `dst` (`n_fft / 2` complex values).
pub(crate) fn window(level: SimdLevel, src: &[f32], w: &[f32], dst: &mut [Complex32]) {
    let dst = complex_as_f32_mut(dst);
    dispatch!(level, window(src, w, dst))
}

/// Transpose `LANES` spectra into lane rows (see [`Generic::gather`]).
pub(crate) fn gather(
    level: SimdLevel,
    fft: &[Complex32],
    slots: &[usize; LANES],
    m: usize,
    zr: &mut [f32],
    zi: &mut [f32],
) {
    dispatch!(level, gather(fft, slots, m, zr, zi))
}

/// The lane-parallel FFT of `(m, LANES)` rows (see [`LaneFft`]): the data
/// go in `xr`, `xi` and come out there for an even number of stages, in
/// `yr`, `yi` for an odd one ([`LaneFft::odd`]).
pub(crate) fn lane_fft(
    level: SimdLevel,
    plan: &LaneFft,
    xr: &mut [f32],
    xi: &mut [f32],
    yr: &mut [f32],
    yi: &mut [f32],
) {
    dispatch!(level, lane_fft(plan, xr, xi, yr, yi))
}

/// Window `LANES` frames and transpose them into `(m, LANES)` lane rows
/// of real (even samples) and imaginary (odd samples) parts.
pub(crate) fn window_gather(
    level: SimdLevel,
    rows: &[&[f32]; LANES],
    window: &[f32],
    m: usize,
    zr: &mut [f32],
    zi: &mut [f32],
) {
    dispatch!(level, window_gather(rows, window, m, zr, zi))
}

/// Repeat row 0 of the `(m + 1, LANES)` rows `zr`, `zi` as row `m`.
pub(crate) fn wrap(m: usize, zr: &mut [f32], zi: &mut [f32]) {
    Generic::<false>::wrap(m, zr, zi)
}

/// Complex values as interleaved `f32` pairs.
pub(crate) fn complex_as_f32(c: &[Complex32]) -> &[f32] {
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
    level: SimdLevel,
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
pub(crate) fn project(level: SimdLevel, filters: &MelFilterbank, pow: &[f32], k0: usize, mel: &mut [f32]) {
    dispatch!(level, project(filters, pow, k0, mel))
}

/// Floored `log10` in place with running lane maxima.
pub(crate) fn log_max(level: SimdLevel, mel: &mut [f32], max: &mut [f32; LANES]) {
    dispatch!(level, log_max(mel, max))
}

/// `log10(x)` of one positive, normal `x` exactly as [`log_max`] computes
/// it on `level` (for values filled in without running the kernels).
pub(crate) fn log10_one(level: SimdLevel, x: f32) -> f32 {
    let mut row = [x; LANES];
    let mut max = [f32::NEG_INFINITY; LANES];
    log_max(level, &mut row, &mut max);
    row[0]
}

/// Whether every value of `v` is finite.
pub(crate) fn all_finite(level: SimdLevel, v: &[f32]) -> bool {
    dispatch!(level, all_finite(v))
}

/// Whether every value of `v` is `±0.0` (a frame of digital silence).
pub(crate) fn all_zero(level: SimdLevel, v: &[f32]) -> bool {
    dispatch!(level, all_zero(v))
}

/// The length of `v` without its trailing `±0.0` values.
pub(crate) fn nonzero_len(level: SimdLevel, v: &[f32]) -> usize {
    dispatch!(level, nonzero_len(v))
}

/// `(max(v, floor) + 4) / 4` in place.
pub(crate) fn normalise(level: SimdLevel, v: &mut [f32], floor: f32) {
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

    use generic::log10_lane;

    fn levels() -> impl Iterator<Item = SimdLevel> {
        LEVELS.into_iter().filter(|l| l.is_available())
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
    fn effective_levels_are_implemented_and_not_above() {
        assert_eq!(effective(SimdLevel::Portable), SimdLevel::Portable);
        assert_eq!(effective(SimdLevel::Popcnt), SimdLevel::Portable);
        assert_eq!(effective(SimdLevel::Avx2), SimdLevel::Avx2);
        assert_eq!(effective(SimdLevel::Avx512), SimdLevel::Avx512);
        assert_eq!(effective(SimdLevel::Avx512Vpopcnt), SimdLevel::Avx512);
        assert!(effective(SimdLevel::best_of(&LEVELS)).is_available());
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(32))]

        /// The logarithm agrees with the portable one and with f64 at every
        /// level (FMA changes the last bits only); the maxima are the
        /// maxima of the values; `log10_one` is the kernel's own value.
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
                for ((g, w), x) in got.iter().zip(&want).zip(&base) {
                    let exact = f64::from(x.max(POWER_FLOOR)).log10();
                    prop_assert!((g - w).abs() <= 2.5e-7 * w.abs().max(1.0), "{:?}: {} vs {}", level, g, w);
                    prop_assert!((f64::from(*g) - exact).abs() <= 3e-7 * exact.abs().max(1.0), "{:?}: {} vs {}", level, g, exact);
                }
                for (l, m) in max.iter().enumerate() {
                    let lane_max = got.iter().skip(l).step_by(LANES).fold(f32::NEG_INFINITY, |a, &b| a.max(b));
                    prop_assert_eq!(*m, lane_max);
                }
                prop_assert_eq!(log10_one(level, base[5].max(POWER_FLOOR)), got[5]);
            }
        }

        /// The finiteness scan finds a NaN or an infinity anywhere, at every level.
        #[test]
        fn all_finite_levels_agree(
            v in proptest::collection::vec(-1e30f32..1e30, 0..300),
            at in 0usize..300,
            bad in prop_oneof![Just(f32::NAN), Just(f32::INFINITY), Just(f32::NEG_INFINITY), Just(f32::MAX)],
        ) {
            let mut v = v;
            if let Some(x) = v.get_mut(at) {
                *x = bad;
            }
            let want = v.iter().all(|x| x.is_finite());
            for level in levels() {
                prop_assert_eq!(all_finite(level, &v), want, "{:?}", level);
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

        /// The lane FFT matches rustfft on every lane, at every level and for
        /// every radix (2, 3, 4, 5, 8 and their mixes).
        #[test]
        fn lane_fft_matches_rustfft(
            mi in 0usize..12,
            z in proptest::collection::vec(-1f32..1.0, 2 * 240 * LANES),
        ) {
            let m = [1, 2, 3, 4, 5, 8, 12, 30, 40, 45, 200, 240][mi];
            let plan = LaneFft::new(m).unwrap();
            let (re, im) = z.split_at(240 * LANES);
            let fft = rustfft::FftPlanner::<f32>::new().plan_fft_forward(m);
            let mut want: Vec<Vec<Complex32>> = (0..LANES)
                .map(|l| (0..m).map(|j| Complex32::new(re[j * LANES + l], im[j * LANES + l])).collect())
                .collect();
            for w in &mut want {
                fft.process(w);
            }
            for level in levels() {
                let mut a = (re[..m * LANES].to_vec(), im[..m * LANES].to_vec());
                let mut b = (vec![0f32; m * LANES], vec![0f32; m * LANES]);
                lane_fft(level, &plan, &mut a.0, &mut a.1, &mut b.0, &mut b.1);
                let (gr, gi) = if plan.odd() { &b } else { &a };
                for (l, w) in want.iter().enumerate() {
                    for (k, c) in w.iter().enumerate() {
                        let (r, i) = (gr[k * LANES + l], gi[k * LANES + l]);
                        prop_assert!((r - c.re).abs() <= 2e-5 * m as f32 && (i - c.im).abs() <= 2e-5 * m as f32,
                            "{:?} m {} lane {} bin {}: {} {} vs {}", level, m, l, k, r, i, c);
                    }
                }
            }
        }

        /// Windowing into lane rows is exact at every level, tails included.
        #[test]
        fn window_gather_levels_agree(x in proptest::collection::vec(-1f32..1.0, 404 * LANES)) {
            let m = 202; // not a multiple of 4: exercises the tail
            let w: Vec<f32> = (0..2 * m).map(|i| (i as f32 * 0.01).sin()).collect();
            let frames: Vec<&[f32]> = x.chunks_exact(2 * m).collect();
            let rows: [&[f32]; LANES] = std::array::from_fn(|l| frames[l]);
            let mut want = (vec![0f32; m * LANES], vec![0f32; m * LANES]);
            Generic::<false>::window_gather(&rows, &w, m, &mut want.0, &mut want.1);
            prop_assert_eq!(want.0[5 * LANES + 3], rows[3][10] * w[10]);
            prop_assert_eq!(want.1[201 * LANES + 7], rows[7][403] * w[403]);
            for level in levels() {
                let mut got = (vec![7f32; m * LANES], vec![7f32; m * LANES]);
                window_gather(level, &rows, &w, m, &mut got.0, &mut got.1);
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

        /// Zero detection agrees with a plain scan at every level: any
        /// length, a non-zero value (or none) anywhere, zeros of either sign.
        #[test]
        fn zero_scans_agree(len in 0usize..200, at in 0usize..200, neg in any::<bool>(), v in -1f32..1.0) {
            let z = if neg { -0.0f32 } else { 0.0 };
            let mut x = vec![z; len];
            if at < len && v != 0.0 {
                x[at] = v;
            }
            let want_zero = x.iter().all(|v| *v == 0.0);
            let want_len = x.iter().rposition(|v| *v != 0.0).map_or(0, |i| i + 1);
            prop_assert_eq!(Generic::<false>::all_zero(&x), want_zero);
            prop_assert_eq!(Generic::<false>::nonzero_len(&x), want_len);
            for level in levels() {
                prop_assert_eq!(all_zero(level, &x), want_zero);
                prop_assert_eq!(nonzero_len(level, &x), want_len);
            }
        }
    }
}
