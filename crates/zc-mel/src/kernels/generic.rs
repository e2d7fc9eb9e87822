//! The portable kernels: plain Rust over rows of [`LANES`] frames,
//! auto-vectorised for the compile target. `Generic<false>` (no fused
//! multiply-add) is the [`SimdLevel::Portable`](zc_buffers::SimdLevel)
//! level and the reference every other level is tested against;
//! `Generic<true>` supplies the x86 levels' kernels that have no
//! hand-written form (compiled inside their `target_feature` functions).

use rustfft::num_complex::Complex32;

use super::{LANES, LaneFft, POWER_FLOOR, Stage};
use crate::filters::MelFilterbank;
/// cephes `logf` polynomial, highest degree first (cephes' digits kept).
#[allow(clippy::excessive_precision)]
pub(super) const LOG_P: [f32; 9] = [
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
pub(super) const LOG_Q1: f32 = -2.121_944_4e-4;
#[allow(clippy::excessive_precision)]
pub(super) const LOG_Q2: f32 = 0.693_359_375;

/// `log10(x)` for positive, normal `x` (cephes `logf`: exponent/mantissa
/// split, mantissa folded into `[√½, √2)`, degree-9 polynomial; about
/// 2 ulp), without FMA so every level gives the same bits.
#[inline(always)]
pub(super) fn log10_lane(x: f32) -> f32 {
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

/// One row of [`LANES`] values.
type V = [f32; LANES];

/// The kernels, generic over whether fused multiply-add may be used.
pub(super) struct Generic<const FMA: bool>;

impl<const FMA: bool> Generic<FMA> {
    #[inline(always)]
    pub(super) fn madd(a: f32, b: f32, c: f32) -> f32 {
        if FMA { a.mul_add(b, c) } else { a * b + c }
    }

    /// `a + b` lane-wise.
    #[inline(always)]
    pub(super) fn add(a: V, b: V) -> V {
        let mut r = [0f32; LANES];
        for l in 0..LANES {
            r[l] = a[l] + b[l];
        }
        r
    }

    /// `a - b` lane-wise.
    #[inline(always)]
    pub(super) fn sub(a: V, b: V) -> V {
        let mut r = [0f32; LANES];
        for l in 0..LANES {
            r[l] = a[l] - b[l];
        }
        r
    }

    /// `k · a` lane-wise.
    #[inline(always)]
    pub(super) fn scale(k: f32, a: V) -> V {
        let mut r = [0f32; LANES];
        for l in 0..LANES {
            r[l] = k * a[l];
        }
        r
    }

    /// `k · a + c` lane-wise.
    #[inline(always)]
    pub(super) fn fma(k: f32, a: V, c: V) -> V {
        let mut r = [0f32; LANES];
        for l in 0..LANES {
            r[l] = Self::madd(k, a[l], c[l]);
        }
        r
    }

    /// `(ar + i·ai)·(wr + i·wi)` lane-wise.
    #[inline(always)]
    pub(super) fn cmul(ar: V, ai: V, wr: f32, wi: f32) -> (V, V) {
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
    pub(super) fn lane_fft(plan: &LaneFft, xr: &mut [f32], xi: &mut [f32], yr: &mut [f32], yi: &mut [f32]) {
        super::run_stages(plan, xr, xi, yr, yi, |st, src_r, src_i, dst_r, dst_i| {
            let (sr, _) = src_r.as_chunks::<LANES>();
            let (si, _) = src_i.as_chunks::<LANES>();
            let (dr, _) = dst_r.as_chunks_mut::<LANES>();
            let (di, _) = dst_i.as_chunks_mut::<LANES>();
            match st.radix {
                2 => Self::stage::<2>(st, sr, si, dr, di),
                3 => Self::stage::<3>(st, sr, si, dr, di),
                8 => Self::stage::<8>(st, sr, si, dr, di),
                4 => Self::stage::<4>(st, sr, si, dr, di),
                _ => Self::stage::<5>(st, sr, si, dr, di),
            }
        })
    }

    /// One radix-`R` Stockham pass: `y[R·p + k] = w^{pk} · DFT_R(x[p + j·np])[k]`
    /// on every one of the `stride` rows of each group.
    #[inline(always)]
    pub(super) fn stage<const R: usize>(st: &Stage, xr: &[V], xi: &[V], yr: &mut [V], yi: &mut [V]) {
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
    pub(super) fn dft4(ar: [V; 4], ai: [V; 4]) -> ([V; 4], [V; 4]) {
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
    pub(super) fn butterfly<const R: usize>(ar: &[V; R], ai: &[V; R], w: (&[f32], &[f32])) -> ([V; R], [V; R]) {
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
    pub(super) fn window(src: &[f32], window: &[f32], dst: &mut [f32]) {
        for (d, (s, w)) in dst.iter_mut().zip(src.iter().zip(window)) {
            *d = s * w;
        }
    }

    /// Transpose `LANES` half-length spectra (chunk `slots[l]` of `fft`,
    /// `m` values each) into `(m + 1, LANES)` rows `zr`, `zi`; row `m`
    /// repeats row 0.
    #[inline(always)]
    pub(super) fn gather(fft: &[Complex32], slots: &[usize; LANES], m: usize, zr: &mut [f32], zi: &mut [f32]) {
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
    pub(super) fn window_gather(rows: &[&[f32]; LANES], window: &[f32], m: usize, zr: &mut [f32], zi: &mut [f32]) {
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
    pub(super) fn wrap(m: usize, zr: &mut [f32], zi: &mut [f32]) {
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
    pub(super) fn power(zr: &[f32], zi: &[f32], m: usize, k0: usize, twc: &[f32], tws: &[f32], pow: &mut [f32]) {
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
    pub(super) fn project(filters: &MelFilterbank, pow: &[f32], k0: usize, mel: &mut [f32]) {
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
    pub(super) fn log_max(mel: &mut [f32], max: &mut [f32; LANES]) {
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
    pub(super) fn all_finite(v: &[f32]) -> bool {
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

    /// Whether every value of `v` is `±0.0`, stopping at the first block of
    /// 16 that holds another value (audio is rarely zero, so this usually
    /// reads one block).
    #[inline(always)]
    pub(super) fn all_zero(v: &[f32]) -> bool {
        const W: usize = 16;
        let (chunks, tail) = v.as_chunks::<W>();
        for c in chunks {
            let mut acc = 0u32;
            for x in c {
                // the sign bit shifted out: -0.0 counts as zero
                acc |= x.to_bits() << 1;
            }
            if acc != 0 {
                return false;
            }
        }
        tail.iter().all(|x| x.to_bits() << 1 == 0)
    }

    /// The length of `v` without its trailing `±0.0` values (the index after
    /// the last other value), reading backwards in blocks of 16 and stopping
    /// at the first block that holds another value.
    #[inline(always)]
    pub(super) fn nonzero_len(v: &[f32]) -> usize {
        const W: usize = 16;
        let (head, chunks) = v.as_rchunks::<W>();
        let mut end = v.len();
        for c in chunks.iter().rev() {
            let mut acc = 0u32;
            for x in c {
                acc |= x.to_bits() << 1;
            }
            if acc != 0 {
                let last = c.iter().rposition(|x| x.to_bits() << 1 != 0).unwrap_or(0);
                return end - W + last + 1;
            }
            end -= W;
        }
        head.iter().rposition(|x| x.to_bits() << 1 != 0).map_or(0, |i| i + 1)
    }

    /// Whisper's `(max(v, floor) + 4) / 4` in place.
    #[inline(always)]
    pub(super) fn normalise(v: &mut [f32], floor: f32) {
        for x in v {
            *x = (if *x > floor { *x } else { floor } + 4.0) / 4.0;
        }
    }
}
