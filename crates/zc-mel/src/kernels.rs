//! Inner loops of the log-mel engine.
//!
//! Frames are processed [`LANES`] at a time with one SIMD lane per frame:
//! after the FFT the spectra are transposed to `(bin, lane)` rows so the
//! real-FFT post-processing, the power spectrum, the sparse mel projection
//! and the logarithm are plain lane-wise loops. Every kernel exists in a
//! portable version ([`KernelLevel::Scalar`], auto-vectorised for the
//! baseline target, no fused multiply-add), an AVX2 + FMA version
//! ([`KernelLevel::Avx2Fma`]) and an AVX-512 one ([`KernelLevel::Avx512`],
//! bit-identical to AVX2), the fastest available selected at run time.
//! The portable and SIMD levels differ by float rounding only (FMA), which
//! the tests bound kernel by kernel.

use rustfft::num_complex::Complex32;

use crate::filters::MelFilterbank;
use zc_buffers::SimdLevel;

/// Frames processed together: one SIMD lane per frame.
pub const LANES: usize = 8;

/// Floor applied to mel power before `log10` (Whisper: `clamp(min=1e-10)`).
pub(crate) const POWER_FLOOR: f32 = 1e-10;

/// Which implementation of the inner loops runs: zc-mel's three kernel
/// sets, selected through the workspace's [`SimdLevel`] (the public API
/// speaks only `SimdLevel`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum KernelLevel {
    /// Portable Rust (vectorised by the compiler for the baseline target), no FMA.
    Scalar,
    /// x86-64 AVX2 + FMA, eight frames per 256-bit register.
    Avx2Fma,
    /// x86-64 AVX-512 (F + VL): the FFT stages and the logarithm run on
    /// 512-bit registers (two rows of eight frames each), the other kernels
    /// are the [`KernelLevel::Avx2Fma`] ones. Output is bit-identical to
    /// `Avx2Fma`.
    Avx512,
}

/// The SIMD levels zc-mel has kernels for (others run the next lower one).
pub const SIMD_LEVELS: [SimdLevel; 3] = [SimdLevel::Portable, SimdLevel::Avx2, SimdLevel::Avx512];

impl KernelLevel {
    /// The fastest level this CPU supports (capped by `ZC_SIMD`).
    pub(crate) fn detect() -> Self {
        Self::from_simd(SimdLevel::best_of(&SIMD_LEVELS))
    }

    /// The kernels for a workspace level: the highest zc-mel has at or
    /// below it (`Popcnt` runs the portable kernels, `Avx512Vpopcnt` the
    /// AVX-512 ones).
    pub(crate) fn from_simd(level: SimdLevel) -> Self {
        if level >= SimdLevel::Avx512 {
            KernelLevel::Avx512
        } else if level >= SimdLevel::Avx2 {
            KernelLevel::Avx2Fma
        } else {
            KernelLevel::Scalar
        }
    }

    /// The workspace level these kernels need.
    pub(crate) fn to_simd(self) -> SimdLevel {
        match self {
            KernelLevel::Scalar => SimdLevel::Portable,
            KernelLevel::Avx2Fma => SimdLevel::Avx2,
            KernelLevel::Avx512 => SimdLevel::Avx512,
        }
    }

    /// Whether this CPU can run the level.
    #[cfg(test)]
    pub(crate) fn is_available(self) -> bool {
        self.to_simd().is_available()
    }
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

/// One row of [`LANES`] values.
type V = [f32; LANES];

/// The kernels, generic over whether fused multiply-add may be used.
struct Generic<const FMA: bool>;

impl<const FMA: bool> Generic<FMA> {
    #[inline(always)]
    fn madd(a: f32, b: f32, c: f32) -> f32 {
        if FMA { a.mul_add(b, c) } else { a * b + c }
    }

    /// `a + b` lane-wise.
    #[inline(always)]
    fn add(a: V, b: V) -> V {
        let mut r = [0f32; LANES];
        for l in 0..LANES {
            r[l] = a[l] + b[l];
        }
        r
    }

    /// `a - b` lane-wise.
    #[inline(always)]
    fn sub(a: V, b: V) -> V {
        let mut r = [0f32; LANES];
        for l in 0..LANES {
            r[l] = a[l] - b[l];
        }
        r
    }

    /// `k · a` lane-wise.
    #[inline(always)]
    fn scale(k: f32, a: V) -> V {
        let mut r = [0f32; LANES];
        for l in 0..LANES {
            r[l] = k * a[l];
        }
        r
    }

    /// `k · a + c` lane-wise.
    #[inline(always)]
    fn fma(k: f32, a: V, c: V) -> V {
        let mut r = [0f32; LANES];
        for l in 0..LANES {
            r[l] = Self::madd(k, a[l], c[l]);
        }
        r
    }

    /// `(ar + i·ai)·(wr + i·wi)` lane-wise.
    #[inline(always)]
    fn cmul(ar: V, ai: V, wr: f32, wi: f32) -> (V, V) {
        let mut r = [0f32; LANES];
        let mut i = [0f32; LANES];
        for l in 0..LANES {
            r[l] = Self::madd(ar[l], wr, -(ai[l] * wi));
            i[l] = Self::madd(ar[l], wi, ai[l] * wr);
        }
        (r, i)
    }

    /// The [`LaneFft`] of the `(m, LANES)` rows `xr`, `xi`, using `yr`,
    /// `yi` as the other half of the ping-pong; the result lands in `xr`,
    /// `xi` for an even number of stages, in `yr`, `yi` for an odd one.
    #[inline(always)]
    fn lane_fft(plan: &LaneFft, xr: &mut [f32], xi: &mut [f32], yr: &mut [f32], yi: &mut [f32]) {
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
            let (sr, _) = src.0.as_chunks::<LANES>();
            let (si, _) = src.1.as_chunks::<LANES>();
            let (dr, _) = dst.0.as_chunks_mut::<LANES>();
            let (di, _) = dst.1.as_chunks_mut::<LANES>();
            match st.radix {
                2 => Self::stage::<2>(st, sr, si, dr, di),
                3 => Self::stage::<3>(st, sr, si, dr, di),
                8 => Self::stage::<8>(st, sr, si, dr, di),
                4 => Self::stage::<4>(st, sr, si, dr, di),
                _ => Self::stage::<5>(st, sr, si, dr, di),
            }
        }
    }

    /// One radix-`R` Stockham pass: `y[R·p + k] = w^{pk} · DFT_R(x[p + j·np])[k]`
    /// on every one of the `stride` rows of each group.
    #[inline(always)]
    fn stage<const R: usize>(st: &Stage, xr: &[V], xi: &[V], yr: &mut [V], yi: &mut [V]) {
        let (s, np) = (st.stride, st.len / R);
        if xr.len() < np * R * s || xi.len() < np * R * s || yr.len() < np * R * s || yi.len() < np * R * s {
            return;
        }
        for p in 0..np {
            // the twiddles of p = 0 are all 1 (the whole last stage): none given
            let t = if p == 0 { 0..0 } else { p * (R - 1)..(p + 1) * (R - 1) };
            let w = (
                st.twr.get(t.clone()).unwrap_or_default(),
                st.twi.get(t).unwrap_or_default(),
            );
            for q in 0..s {
                let mut ar = [[0f32; LANES]; R];
                let mut ai = [[0f32; LANES]; R];
                for j in 0..R {
                    ar[j] = xr[(p + j * np) * s + q];
                    ai[j] = xi[(p + j * np) * s + q];
                }
                let (or, oi) = Self::butterfly::<R>(&ar, &ai, w);
                for k in 0..R {
                    yr[(R * p + k) * s + q] = or[k];
                    yi[(R * p + k) * s + q] = oi[k];
                }
            }
        }
    }

    /// The 4-point DFT of `a`.
    #[inline(always)]
    fn dft4(ar: [V; 4], ai: [V; 4]) -> ([V; 4], [V; 4]) {
        let (s02r, s02i) = (Self::add(ar[0], ar[2]), Self::add(ai[0], ai[2]));
        let (d02r, d02i) = (Self::sub(ar[0], ar[2]), Self::sub(ai[0], ai[2]));
        let (s13r, s13i) = (Self::add(ar[1], ar[3]), Self::add(ai[1], ai[3]));
        let (d13r, d13i) = (Self::sub(ar[1], ar[3]), Self::sub(ai[1], ai[3]));
        (
            [
                Self::add(s02r, s13r),
                Self::add(d02r, d13i),
                Self::sub(s02r, s13r),
                Self::sub(d02r, d13i),
            ],
            [
                Self::add(s02i, s13i),
                Self::sub(d02i, d13r),
                Self::sub(s02i, s13i),
                Self::add(d02i, d13r),
            ],
        )
    }

    /// `DFT_R(a)[k] · w[k - 1]` for `k ≥ 1`, `DFT_R(a)[0]` for `k = 0`.
    #[inline(always)]
    fn butterfly<const R: usize>(ar: &[V; R], ai: &[V; R], w: (&[f32], &[f32])) -> ([V; R], [V; R]) {
        let mut or = [[0f32; LANES]; R];
        let mut oi = [[0f32; LANES]; R];
        let mut put = |k: usize, r: V, i: V| {
            let t = k.wrapping_sub(1);
            let (r, i) = match (w.0.get(t), w.1.get(t)) {
                (Some(&wr), Some(&wi)) => Self::cmul(r, i, wr, wi),
                _ => (r, i),
            };
            or[k] = r;
            oi[k] = i;
        };
        match R {
            2 => {
                put(0, Self::add(ar[0], ar[1]), Self::add(ai[0], ai[1]));
                put(1, Self::sub(ar[0], ar[1]), Self::sub(ai[0], ai[1]));
            }
            3 => {
                const S3: f32 = 0.866_025_4;
                let (tr, ti) = (Self::add(ar[1], ar[2]), Self::add(ai[1], ai[2]));
                put(0, Self::add(ar[0], tr), Self::add(ai[0], ti));
                let (br, bi) = (Self::fma(-0.5, tr, ar[0]), Self::fma(-0.5, ti, ai[0]));
                let (dr, di) = (
                    Self::scale(S3, Self::sub(ar[1], ar[2])),
                    Self::scale(S3, Self::sub(ai[1], ai[2])),
                );
                // X1 = b - i·d, X2 = b + i·d
                put(1, Self::add(br, di), Self::sub(bi, dr));
                put(2, Self::sub(br, di), Self::add(bi, dr));
            }
            4 => {
                let (s02r, s02i) = (Self::add(ar[0], ar[2]), Self::add(ai[0], ai[2]));
                let (d02r, d02i) = (Self::sub(ar[0], ar[2]), Self::sub(ai[0], ai[2]));
                let (s13r, s13i) = (Self::add(ar[1], ar[3]), Self::add(ai[1], ai[3]));
                let (d13r, d13i) = (Self::sub(ar[1], ar[3]), Self::sub(ai[1], ai[3]));
                // X1 = d02 - i·d13, X2 = s02 - s13, X3 = d02 + i·d13
                put(0, Self::add(s02r, s13r), Self::add(s02i, s13i));
                put(1, Self::add(d02r, d13i), Self::sub(d02i, d13r));
                put(2, Self::sub(s02r, s13r), Self::sub(s02i, s13i));
                put(3, Self::sub(d02r, d13i), Self::add(d02i, d13r));
            }
            5 => {
                // cos and sin of 2π/5 and 4π/5
                const C1: f32 = 0.309_017;
                const C2: f32 = -0.809_017;
                const S1: f32 = 0.951_056_5;
                const S2: f32 = 0.587_785_24;
                let (t1r, t1i) = (Self::add(ar[1], ar[4]), Self::add(ai[1], ai[4]));
                let (t2r, t2i) = (Self::add(ar[2], ar[3]), Self::add(ai[2], ai[3]));
                let (t3r, t3i) = (Self::sub(ar[1], ar[4]), Self::sub(ai[1], ai[4]));
                let (t4r, t4i) = (Self::sub(ar[2], ar[3]), Self::sub(ai[2], ai[3]));
                put(
                    0,
                    Self::add(ar[0], Self::add(t1r, t2r)),
                    Self::add(ai[0], Self::add(t1i, t2i)),
                );
                let b1r = Self::fma(C1, t1r, Self::fma(C2, t2r, ar[0]));
                let b1i = Self::fma(C1, t1i, Self::fma(C2, t2i, ai[0]));
                let b2r = Self::fma(C2, t1r, Self::fma(C1, t2r, ar[0]));
                let b2i = Self::fma(C2, t1i, Self::fma(C1, t2i, ai[0]));
                let d1r = Self::fma(S1, t3r, Self::scale(S2, t4r));
                let d1i = Self::fma(S1, t3i, Self::scale(S2, t4i));
                let d2r = Self::fma(S2, t3r, Self::scale(-S1, t4r));
                let d2i = Self::fma(S2, t3i, Self::scale(-S1, t4i));
                // X1 = b1 - i·d1, X4 = b1 + i·d1, X2 = b2 - i·d2, X3 = b2 + i·d2
                put(1, Self::add(b1r, d1i), Self::sub(b1i, d1r));
                put(2, Self::add(b2r, d2i), Self::sub(b2i, d2r));
                put(3, Self::sub(b2r, d2i), Self::add(b2i, d2r));
                put(4, Self::sub(b1r, d1i), Self::add(b1i, d1r));
            }
            8 => {
                const H: f32 = std::f32::consts::FRAC_1_SQRT_2;
                let (er, ei) = Self::dft4([ar[0], ar[2], ar[4], ar[6]], [ai[0], ai[2], ai[4], ai[6]]);
                let (or_, oi_) = Self::dft4([ar[1], ar[3], ar[5], ar[7]], [ai[1], ai[3], ai[5], ai[7]]);
                // W8^k · O[k]: 1, (1 - i)/√2, -i, -(1 + i)/√2
                let o = [
                    (or_[0], oi_[0]),
                    (
                        Self::scale(H, Self::add(or_[1], oi_[1])),
                        Self::scale(H, Self::sub(oi_[1], or_[1])),
                    ),
                    (oi_[2], Self::scale(-1.0, or_[2])),
                    (
                        Self::scale(H, Self::sub(oi_[3], or_[3])),
                        Self::scale(-H, Self::add(or_[3], oi_[3])),
                    ),
                ];
                for (k, (r, i)) in o.into_iter().enumerate() {
                    put(k, Self::add(er[k], r), Self::add(ei[k], i));
                    put(k + 4, Self::sub(er[k], r), Self::sub(ei[k], i));
                }
            }
            _ => {}
        }
        (or, oi)
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

    /// Window `LANES` frames (`rows[l]`, `2m` samples each) and transpose
    /// them into `(m, LANES)` rows of real (even samples) and imaginary
    /// (odd samples) parts.
    #[inline(always)]
    fn window_gather(rows: &[&[f32]; LANES], window: &[f32], m: usize, zr: &mut [f32], zi: &mut [f32]) {
        let (zr_rows, _) = zr.as_chunks_mut::<LANES>();
        let (zi_rows, _) = zi.as_chunks_mut::<LANES>();
        let (w, _) = window.as_chunks::<2>();
        for (l, row) in rows.iter().enumerate() {
            let (src, _) = row.as_chunks::<2>();
            for (((s, w), r), i) in src
                .iter()
                .zip(w)
                .zip(zr_rows.iter_mut())
                .zip(zi_rows.iter_mut())
                .take(m)
            {
                r[l] = s[0] * w[0];
                i[l] = s[1] * w[1];
            }
        }
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

    /// Whether every value is finite: `v - v` is 0 for a finite `v` and NaN
    /// for ±∞ or NaN, and NaN sticks in the sum. 32 independent sums keep
    /// the loop free of dependency chains and let it vectorise.
    #[inline(always)]
    fn all_finite(v: &[f32]) -> bool {
        const W: usize = 32;
        let (chunks, tail) = v.as_chunks::<W>();
        let mut acc = [0f32; W];
        for c in chunks {
            for i in 0..W {
                // x - x: 0 or NaN, never folded to 0 (IEEE semantics)
                #[allow(clippy::eq_op)]
                let d = c[i] - c[i];
                acc[i] += d;
            }
        }
        acc.iter().all(|a| *a == 0.0) && tail.iter().all(|x| x.is_finite())
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
mod vf;

/// Run the stages of `plan` over the ping-pong buffers, each with `stage(st, src_re, src_im, dst_re, dst_im)`.
#[cfg(target_arch = "x86_64")]
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

/// [`vf::stage`] for the stage's radix, columns `ps`.
///
/// # Safety
/// As for [`vf::Vf`].
#[cfg(target_arch = "x86_64")]
#[inline(always)]
unsafe fn radix_stage<V: vf::Vf>(
    st: &Stage,
    ps: std::ops::Range<usize>,
    xr: &[f32],
    xi: &[f32],
    yr: &mut [f32],
    yi: &mut [f32],
) {
    // SAFETY: the caller's contract.
    unsafe {
        match st.radix {
            2 => vf::stage::<V, 2>(st, ps, xr, xi, yr, yi),
            4 => vf::stage::<V, 4>(st, ps, xr, xi, yr, yi),
            5 => vf::stage::<V, 5>(st, ps, xr, xi, yr, yi),
            _ => vf::stage::<V, 8>(st, ps, xr, xi, yr, yi),
        }
    }
}

/// The portable stage (with FMA) for the radices [`vf::stage`] does not
/// take (3).
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn generic_stage(st: &Stage, xr: &[f32], xi: &[f32], yr: &mut [f32], yi: &mut [f32]) {
    let (sr, _) = xr.as_chunks::<LANES>();
    let (si, _) = xi.as_chunks::<LANES>();
    let (dr, _) = yr.as_chunks_mut::<LANES>();
    let (di, _) = yi.as_chunks_mut::<LANES>();
    match st.radix {
        2 => Generic::<true>::stage::<2>(st, sr, si, dr, di),
        3 => Generic::<true>::stage::<3>(st, sr, si, dr, di),
        4 => Generic::<true>::stage::<4>(st, sr, si, dr, di),
        5 => Generic::<true>::stage::<5>(st, sr, si, dr, di),
        _ => Generic::<true>::stage::<8>(st, sr, si, dr, di),
    }
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use super::vf::{self, Y};
    use super::*;
    use std::arch::x86_64::*;

    #[target_feature(enable = "avx2,fma")]
    pub(super) fn window(src: &[f32], window: &[f32], dst: &mut [f32]) {
        Generic::<true>::window(src, window, dst)
    }

    #[target_feature(enable = "avx2,fma")]
    pub(super) fn window_gather(rows: &[&[f32]; LANES], window: &[f32], m: usize, zr: &mut [f32], zi: &mut [f32]) {
        if rows.iter().any(|r| r.len() < 2 * m) || window.len() < 2 * m || zr.len() < m * LANES || zi.len() < m * LANES
        {
            return Generic::<true>::window_gather(rows, window, m, zr, zi);
        }
        let full = m / 4 * 4;
        let mut k = 0;
        while k < full {
            // SAFETY: k + 4 <= m, so floats 2k..2k + 8 lie in every row and the window (2m floats, checked).
            let w = unsafe { _mm256_loadu_ps(window.as_ptr().add(2 * k)) };
            // A plain loop, not `rows.map(..)`: `array::map` is a generic
            // function compiled without AVX2, and when it is not inlined
            // every __m256 crosses a non-AVX call boundary (30% of the whole
            // spectrogram, measured).
            let mut r = [_mm256_setzero_ps(); LANES];
            for (dst, row) in r.iter_mut().zip(rows.iter()) {
                // SAFETY: as above.
                *dst = _mm256_mul_ps(unsafe { _mm256_loadu_ps(row.as_ptr().add(2 * k)) }, w);
            }
            let t = zc_buffers::simd::transpose8x8_ps(r);
            for (j, v) in t.into_iter().enumerate() {
                let dst = if j % 2 == 0 { &mut *zr } else { &mut *zi };
                // SAFETY: row k + j/2 < m of m rows of LANES floats (checked above).
                unsafe { _mm256_storeu_ps(dst.as_mut_ptr().add((k + j / 2) * LANES), v) };
            }
            k += 4;
        }
        for k in full..m {
            for (l, row) in rows.iter().enumerate() {
                zr[k * LANES + l] = row[2 * k] * window[2 * k];
                zi[k * LANES + l] = row[2 * k + 1] * window[2 * k + 1];
            }
        }
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
            // k + 4 <= m, so floats 2k..2k + 8 lie in every row (2m floats);
            // a plain loop rather than `rows.map(..)` (see window_gather).
            let mut r = [_mm256_setzero_ps(); LANES];
            for (dst, row) in r.iter_mut().zip(rows.iter()) {
                // SAFETY: floats 2k..2k + 8 lie in the row (above).
                *dst = unsafe { _mm256_loadu_ps(row.as_ptr().add(2 * k)) };
            }
            let t = zc_buffers::simd::transpose8x8_ps(r);
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

    #[target_feature(enable = "avx2,fma")]
    pub(super) fn lane_fft(plan: &LaneFft, xr: &mut [f32], xi: &mut [f32], yr: &mut [f32], yi: &mut [f32]) {
        run_stages(plan, xr, xi, yr, yi, |st, sr, si, dr, di| {
            let all = vf::covered::<Y>(st);
            if all > 0 {
                // SAFETY: this function runs only where AVX2 and FMA are present (its callers' contract).
                unsafe { radix_stage::<Y>(st, 0..all, sr, si, dr, di) }
            } else {
                generic_stage(st, sr, si, dr, di)
            }
        })
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
        // SAFETY: this function runs only where AVX2 and FMA are present (its callers' contract).
        let done = unsafe { vf::log_max::<Y>(mel, max) };
        // rows are whole registers: nothing is left, but stay total
        Generic::<true>::log_max(mel.get_mut(done..).unwrap_or_default(), max);
    }

    #[target_feature(enable = "avx2,fma")]
    pub(super) fn all_finite(v: &[f32]) -> bool {
        Generic::<true>::all_finite(v)
    }

    #[target_feature(enable = "avx2,fma")]
    pub(super) fn normalise(v: &mut [f32], floor: f32) {
        Generic::<true>::normalise(v, floor)
    }
}

/// The AVX-512 level: 512-bit FFT stages and logarithm, the finiteness scan
/// and normalisation compiled for AVX-512; the other kernels are the AVX2
/// ones.
#[cfg(target_arch = "x86_64")]
mod avx512 {
    use super::vf::{self, Y, Z};
    use super::*;

    // no 512-bit versions of these: the AVX2 kernels themselves (the level
    // implies AVX2 and FMA, so dispatching to them is sound)
    pub(super) use super::avx2::{gather, power, project, window, window_gather};

    #[target_feature(enable = "avx2,fma,avx512f,avx512vl")]
    pub(super) fn lane_fft(plan: &LaneFft, xr: &mut [f32], xi: &mut [f32], yr: &mut [f32], yi: &mut [f32]) {
        run_stages(plan, xr, xi, yr, yi, |st, sr, si, dr, di| {
            let (wide, all) = (vf::covered::<Z>(st), vf::covered::<Y>(st));
            if all > 0 {
                // SAFETY: this function runs only where AVX-512F/VL, AVX2
                // and FMA are present (its callers' contract).
                unsafe {
                    radix_stage::<Z>(st, 0..wide, sr, si, dr, di);
                    // a last unpaired column (stride 1, odd count)
                    radix_stage::<Y>(st, wide..all, sr, si, dr, di);
                }
            } else {
                generic_stage(st, sr, si, dr, di)
            }
        })
    }

    #[target_feature(enable = "avx2,fma,avx512f,avx512vl")]
    pub(super) fn log_max(mel: &mut [f32], max: &mut [f32; LANES]) {
        // SAFETY: this function runs only where AVX-512F/VL, AVX2 and FMA
        // are present (its callers' contract).
        let done = unsafe { vf::log_max::<Z>(mel, max) };
        let rest = mel.get_mut(done..).unwrap_or_default();
        // SAFETY: as above.
        let done = unsafe { vf::log_max::<Y>(rest, max) };
        Generic::<true>::log_max(rest.get_mut(done..).unwrap_or_default(), max);
    }

    #[target_feature(enable = "avx2,fma,avx512f,avx512vl")]
    pub(super) fn all_finite(v: &[f32]) -> bool {
        Generic::<true>::all_finite(v)
    }

    #[target_feature(enable = "avx2,fma,avx512f,avx512vl")]
    pub(super) fn normalise(v: &mut [f32], floor: f32) {
        Generic::<true>::normalise(v, floor)
    }
}

/// Dispatch one kernel on `level`. `level` is only ever `Avx2Fma` or
/// `Avx512` after [`KernelLevel::is_available`] said so (checked where a
/// plan's level is set), which is what makes the calls into the `avx2` and
/// `avx512` modules sound.
macro_rules! dispatch {
    ($level:expr, $name:ident($($arg:expr),*)) => {{
        match $level {
            #[cfg(target_arch = "x86_64")]
            KernelLevel::Avx512 => {
                // SAFETY: a plan only holds Avx512 when the CPU reported
                // AVX-512F/VL, AVX2 and FMA (KernelLevel::is_available).
                unsafe { avx512::$name($($arg),*) }
            }
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

/// The lane-parallel FFT of `(m, LANES)` rows (see [`LaneFft`]): the data
/// go in `xr`, `xi` and come out there for an even number of stages, in
/// `yr`, `yi` for an odd one ([`LaneFft::odd`]).
pub(crate) fn lane_fft(
    level: KernelLevel,
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
    level: KernelLevel,
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

/// `log10(x)` of one positive, normal `x` exactly as [`log_max`] computes
/// it on `level` (for values filled in without running the kernels).
pub(crate) fn log10_one(level: KernelLevel, x: f32) -> f32 {
    let mut row = [x; LANES];
    let mut max = [f32::NEG_INFINITY; LANES];
    log_max(level, &mut row, &mut max);
    row[0]
}

/// Whether every value of `v` is finite.
pub(crate) fn all_finite(level: KernelLevel, v: &[f32]) -> bool {
    dispatch!(level, all_finite(v))
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
        [KernelLevel::Scalar, KernelLevel::Avx2Fma, KernelLevel::Avx512]
            .into_iter()
            .filter(|l| l.is_available())
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
    }
}
