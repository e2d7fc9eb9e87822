//! The x86 kernels written once over the register width: [`Y`] is a
//! 256-bit AVX2 + FMA register (one row of [`LANES`] frames), [`Z`] a
//! 512-bit AVX-512F register (two adjacent rows). The FFT stages and the
//! logarithm are generic over [`Vf`]; the `avx2` and `avx512` modules
//! instantiate them inside functions compiled for their features, where
//! every helper below inlines into plain vector instructions.
//!
//! Both widths run the same operations in the same order, so the AVX2 and
//! AVX-512 levels give bit-identical results (tested).

use crate::kernels::generic::{LOG_P, LOG_Q1, LOG_Q2};
use crate::kernels::{LANES, POWER_FLOOR, Stage};
use std::arch::x86_64::*;

/// A vector of [`Vf::W`] `f32`.
///
/// # Safety
/// Every method may only run on a CPU with the implementing type's
/// features (AVX2 and FMA for [`Y`], AVX-512F for [`Z`]); pointers must be
/// valid for `W` floats. The generic kernels below carry the same contract.
pub(super) trait Vf: Copy {
    /// Floats per register.
    const W: usize;
    unsafe fn load(p: *const f32) -> Self;
    unsafe fn store(self, p: *mut f32);
    unsafe fn splat(x: f32) -> Self;
    unsafe fn add(self, b: Self) -> Self;
    unsafe fn sub(self, b: Self) -> Self;
    unsafe fn mul(self, b: Self) -> Self;
    /// `self · b + c`, one rounding.
    unsafe fn fmadd(self, b: Self, c: Self) -> Self;
    /// `self · b − c`, one rounding.
    unsafe fn fmsub(self, b: Self, c: Self) -> Self;
    /// `self > b ? self : b` lane-wise (x86 `max` semantics).
    unsafe fn max(self, b: Self) -> Self;
    /// `x = 2^e · m` with `m` folded into `[√½, √2)`: returns `(e, m − 1)`,
    /// both exact, for positive normal `x` (cephes `logf`'s reduction).
    unsafe fn log_split(self) -> (Self, Self);
    /// `max[l] = max(max[l], every lane l of self)` over the rows it holds.
    unsafe fn max_into(self, max: &mut [f32; LANES]);
    /// Row 0 all `a`, row 1 (if the register has two) all `b`.
    unsafe fn splat_rows(a: f32, b: f32) -> Self;
    /// Row 0 to `lo`, row 1 (if the register has two) to `hi`
    /// (each valid for [`LANES`] floats).
    unsafe fn store_rows(self, lo: *mut f32, hi: *mut f32);
    /// `self` with its row 0 taken from `row0` (all of `row0` for one row).
    unsafe fn with_row0(self, row0: Self) -> Self;
}

/// One AVX2 register: one row of [`LANES`] frames.
#[derive(Clone, Copy)]
pub(super) struct Y(__m256);

// SAFETY (every unsafe block in this impl): the trait's contract, that the
// CPU has AVX2 and FMA and that pointers are valid for 8 floats, is the
// precondition of each intrinsic called.
impl Vf for Y {
    const W: usize = 8;
    #[inline(always)]
    unsafe fn load(p: *const f32) -> Self {
        // SAFETY: see the impl.
        unsafe { Y(_mm256_loadu_ps(p)) }
    }
    #[inline(always)]
    unsafe fn store(self, p: *mut f32) {
        // SAFETY: see the impl.
        unsafe { _mm256_storeu_ps(p, self.0) }
    }
    #[inline(always)]
    unsafe fn splat(x: f32) -> Self {
        // SAFETY: see the impl.
        unsafe { Y(_mm256_set1_ps(x)) }
    }
    #[inline(always)]
    unsafe fn add(self, b: Self) -> Self {
        // SAFETY: see the impl.
        unsafe { Y(_mm256_add_ps(self.0, b.0)) }
    }
    #[inline(always)]
    unsafe fn sub(self, b: Self) -> Self {
        // SAFETY: see the impl.
        unsafe { Y(_mm256_sub_ps(self.0, b.0)) }
    }
    #[inline(always)]
    unsafe fn mul(self, b: Self) -> Self {
        // SAFETY: see the impl.
        unsafe { Y(_mm256_mul_ps(self.0, b.0)) }
    }
    #[inline(always)]
    unsafe fn fmadd(self, b: Self, c: Self) -> Self {
        // SAFETY: see the impl.
        unsafe { Y(_mm256_fmadd_ps(self.0, b.0, c.0)) }
    }
    #[inline(always)]
    unsafe fn fmsub(self, b: Self, c: Self) -> Self {
        // SAFETY: see the impl.
        unsafe { Y(_mm256_fmsub_ps(self.0, b.0, c.0)) }
    }
    #[inline(always)]
    unsafe fn max(self, b: Self) -> Self {
        // SAFETY: see the impl.
        unsafe { Y(_mm256_max_ps(self.0, b.0)) }
    }
    #[inline(always)]
    unsafe fn log_split(self) -> (Self, Self) {
        // SAFETY: see the impl.
        unsafe {
            let bits = _mm256_castps_si256(self.0);
            // positive input: the sign bit is clear, no mask needed
            let e = _mm256_sub_epi32(_mm256_srli_epi32::<23>(bits), _mm256_set1_epi32(126));
            let mant = _mm256_castsi256_ps(_mm256_or_si256(
                _mm256_and_si256(bits, _mm256_set1_epi32(0x007f_ffff)),
                _mm256_set1_epi32(0x3f00_0000),
            ));
            let small = _mm256_cmp_ps::<_CMP_LT_OQ>(mant, _mm256_set1_ps(std::f32::consts::FRAC_1_SQRT_2));
            // the mask is -1 where small: e - 1 there, and mant doubled
            let ef = _mm256_cvtepi32_ps(_mm256_add_epi32(e, _mm256_castps_si256(small)));
            let f = _mm256_sub_ps(_mm256_add_ps(mant, _mm256_and_ps(mant, small)), _mm256_set1_ps(1.0));
            (Y(ef), Y(f))
        }
    }
    #[inline(always)]
    unsafe fn max_into(self, max: &mut [f32; LANES]) {
        // SAFETY: see the impl; max holds 8 floats.
        unsafe { _mm256_storeu_ps(max.as_mut_ptr(), _mm256_max_ps(self.0, _mm256_loadu_ps(max.as_ptr()))) }
    }
    #[inline(always)]
    unsafe fn splat_rows(a: f32, _: f32) -> Self {
        // SAFETY: see the impl.
        unsafe { Self::splat(a) }
    }
    #[inline(always)]
    unsafe fn store_rows(self, lo: *mut f32, _: *mut f32) {
        // SAFETY: see the impl.
        unsafe { self.store(lo) }
    }
    #[inline(always)]
    unsafe fn with_row0(self, row0: Self) -> Self {
        row0
    }
}

/// One AVX-512 register: two adjacent rows of [`LANES`] frames.
#[derive(Clone, Copy)]
pub(super) struct Z(__m512);

// SAFETY (every unsafe block in this impl): the trait's contract, that the
// CPU has AVX-512F (and AVX2 for `max_into`) and that pointers are valid
// for 16 floats, is the precondition of each intrinsic called.
impl Vf for Z {
    const W: usize = 16;
    #[inline(always)]
    unsafe fn load(p: *const f32) -> Self {
        // SAFETY: see the impl.
        unsafe { Z(_mm512_loadu_ps(p)) }
    }
    #[inline(always)]
    unsafe fn store(self, p: *mut f32) {
        // SAFETY: see the impl.
        unsafe { _mm512_storeu_ps(p, self.0) }
    }
    #[inline(always)]
    unsafe fn splat(x: f32) -> Self {
        // SAFETY: see the impl.
        unsafe { Z(_mm512_set1_ps(x)) }
    }
    #[inline(always)]
    unsafe fn add(self, b: Self) -> Self {
        // SAFETY: see the impl.
        unsafe { Z(_mm512_add_ps(self.0, b.0)) }
    }
    #[inline(always)]
    unsafe fn sub(self, b: Self) -> Self {
        // SAFETY: see the impl.
        unsafe { Z(_mm512_sub_ps(self.0, b.0)) }
    }
    #[inline(always)]
    unsafe fn mul(self, b: Self) -> Self {
        // SAFETY: see the impl.
        unsafe { Z(_mm512_mul_ps(self.0, b.0)) }
    }
    #[inline(always)]
    unsafe fn fmadd(self, b: Self, c: Self) -> Self {
        // SAFETY: see the impl.
        unsafe { Z(_mm512_fmadd_ps(self.0, b.0, c.0)) }
    }
    #[inline(always)]
    unsafe fn fmsub(self, b: Self, c: Self) -> Self {
        // SAFETY: see the impl.
        unsafe { Z(_mm512_fmsub_ps(self.0, b.0, c.0)) }
    }
    #[inline(always)]
    unsafe fn max(self, b: Self) -> Self {
        // SAFETY: see the impl.
        unsafe { Z(_mm512_max_ps(self.0, b.0)) }
    }
    #[inline(always)]
    unsafe fn log_split(self) -> (Self, Self) {
        // SAFETY: see the impl.
        unsafe {
            let bits = _mm512_castps_si512(self.0);
            let e = _mm512_sub_epi32(_mm512_srli_epi32::<23>(bits), _mm512_set1_epi32(126));
            let mant = _mm512_castsi512_ps(_mm512_or_si512(
                _mm512_and_si512(bits, _mm512_set1_epi32(0x007f_ffff)),
                _mm512_set1_epi32(0x3f00_0000),
            ));
            let small = _mm512_cmp_ps_mask::<_CMP_LT_OQ>(mant, _mm512_set1_ps(std::f32::consts::FRAC_1_SQRT_2));
            let ef = _mm512_cvtepi32_ps(_mm512_mask_sub_epi32(e, small, e, _mm512_set1_epi32(1)));
            let f = _mm512_sub_ps(_mm512_mask_add_ps(mant, small, mant, mant), _mm512_set1_ps(1.0));
            (Z(ef), Z(f))
        }
    }
    #[inline(always)]
    unsafe fn max_into(self, max: &mut [f32; LANES]) {
        // SAFETY: see the impl; the two halves are the two rows.
        unsafe {
            let lo = _mm512_castps512_ps256(self.0);
            let hi = _mm256_castpd_ps(_mm512_extractf64x4_pd::<1>(_mm512_castps_pd(self.0)));
            Y(_mm256_max_ps(lo, hi)).max_into(max)
        }
    }
    #[inline(always)]
    unsafe fn splat_rows(a: f32, b: f32) -> Self {
        // SAFETY: see the impl.
        unsafe {
            let hi = _mm256_castps_pd(_mm256_set1_ps(b));
            Z(_mm512_castpd_ps(_mm512_insertf64x4::<1>(
                _mm512_castps_pd(_mm512_set1_ps(a)),
                hi,
            )))
        }
    }
    #[inline(always)]
    unsafe fn store_rows(self, lo: *mut f32, hi: *mut f32) {
        // SAFETY: see the impl.
        unsafe {
            _mm256_storeu_ps(lo, _mm512_castps512_ps256(self.0));
            _mm256_storeu_ps(
                hi,
                _mm256_castpd_ps(_mm512_extractf64x4_pd::<1>(_mm512_castps_pd(self.0))),
            );
        }
    }
    #[inline(always)]
    unsafe fn with_row0(self, row0: Self) -> Self {
        // SAFETY: see the impl. Mask bits 0..8 (row 0) pick `row0`.
        unsafe { Z(_mm512_mask_blend_ps(0x00ff, self.0, row0.0)) }
    }
}

/// `(ar + i·ai)·(wr + i·wi)`.
///
/// # Safety
/// As for [`Vf`].
#[inline(always)]
unsafe fn cmul<V: Vf>(ar: V, ai: V, wr: V, wi: V) -> (V, V) {
    // SAFETY: the caller's contract.
    unsafe { (ar.fmsub(wr, ai.mul(wi)), ar.fmadd(wi, ai.mul(wr))) }
}

/// The 4-point DFT of `a`.
///
/// # Safety
/// As for [`Vf`].
#[inline(always)]
unsafe fn dft4<V: Vf>(ar: [V; 4], ai: [V; 4]) -> ([V; 4], [V; 4]) {
    // SAFETY: the caller's contract.
    unsafe {
        let (s02r, s02i) = (ar[0].add(ar[2]), ai[0].add(ai[2]));
        let (d02r, d02i) = (ar[0].sub(ar[2]), ai[0].sub(ai[2]));
        let (s13r, s13i) = (ar[1].add(ar[3]), ai[1].add(ai[3]));
        let (d13r, d13i) = (ar[1].sub(ar[3]), ai[1].sub(ai[3]));
        // X1 = d02 - i·d13, X2 = s02 - s13, X3 = d02 + i·d13
        (
            [s02r.add(s13r), d02r.add(d13i), s02r.sub(s13r), d02r.sub(d13i)],
            [s02i.add(s13i), d02i.sub(d13r), s02i.sub(s13i), d02i.add(d13r)],
        )
    }
}

/// How many of the stage's `np = len / radix` butterfly columns `p`
/// [`stage`] can run with `V` (from `p = 0`): all when a register's rows
/// (`V::W / LANES`) fit in a group of `stride` rows; for `stride` 1, the
/// columns that pair up (a register then holds columns `p` and `p + 1`);
/// none for radix 3.
pub(super) fn covered<V: Vf>(st: &Stage) -> usize {
    let (rows, np) = (V::W / LANES, st.len / st.radix.max(1));
    if !matches!(st.radix, 2 | 4 | 5 | 8) {
        0
    } else if st.stride.is_multiple_of(rows) {
        np
    } else if st.stride == 1 {
        np - np % rows
    } else {
        0
    }
}

/// Columns `ps` of one radix-`R` Stockham pass (see `Generic::stage`) on
/// `(m, LANES)` rows, `V::W / LANES` rows per register. Does nothing
/// unless `ps` lies within [`covered`] (in pair mode, with both ends even)
/// and every slice holds the transform.
///
/// # Safety
/// As for [`Vf`] (the CPU part; the slices are checked here).
#[inline(always)]
pub(super) unsafe fn stage<V: Vf, const R: usize>(
    st: &Stage,
    ps: std::ops::Range<usize>,
    xr: &[f32],
    xi: &[f32],
    yr: &mut [f32],
    yi: &mut [f32],
) {
    let (s, np) = (st.stride, st.len / R);
    let n = np * R * s * LANES;
    let nt = np * (R - 1);
    if R != st.radix
        || ps.end > covered::<V>(st)
        || xr.len() < n
        || xi.len() < n
        || yr.len() < n
        || yi.len() < n
        || st.twr.len() < nt
        || st.twi.len() < nt
    {
        return;
    }
    // a register spans rows q.. of a group, or (stride 1) columns p, p + 1
    let rows = V::W / LANES;
    let (q_step, p_step) = if s.is_multiple_of(rows) { (rows, 1) } else { (1, rows) };
    if !ps.start.is_multiple_of(p_step) || !ps.end.is_multiple_of(p_step) {
        return;
    }
    let (twr, twi) = (st.twr.as_ptr(), st.twi.as_ptr());
    let (xr, xi, yr, yi) = (xr.as_ptr(), xi.as_ptr(), yr.as_mut_ptr(), yi.as_mut_ptr());
    // SAFETY: the CPU part is the caller's contract. With q_step = rows,
    // every load and store addresses `rows` whole rows starting at a row
    // index below R·np·s whose group of s rows it does not leave (s is a
    // multiple of rows); with p_step = rows (s = 1), loads read rows
    // p + j·np .. p + j·np + rows and stores write single rows, p + rows <=
    // covered <= np. Either way every access stays inside the n floats each
    // slice holds (checked), and twiddle indices stay below np·(R - 1)
    // (checked).
    unsafe {
        let splat = |x: f32| V::splat(x);
        for p in ps.step_by(p_step) {
            for q in (0..s).step_by(q_step) {
                let mut ar = [splat(0.0); R];
                let mut ai = [splat(0.0); R];
                for j in 0..R {
                    let at = ((p + j * np) * s + q) * LANES;
                    ar[j] = V::load(xr.add(at));
                    ai[j] = V::load(xi.add(at));
                }
                let mut or = [splat(0.0); R];
                let mut oi = [splat(0.0); R];
                match R {
                    2 => {
                        (or[0], oi[0]) = (ar[0].add(ar[1]), ai[0].add(ai[1]));
                        (or[1], oi[1]) = (ar[0].sub(ar[1]), ai[0].sub(ai[1]));
                    }
                    4 => {
                        let (r, i) = dft4([ar[0], ar[1], ar[2], ar[3]], [ai[0], ai[1], ai[2], ai[3]]);
                        or[..4].copy_from_slice(&r);
                        oi[..4].copy_from_slice(&i);
                    }
                    8 => {
                        let h = splat(std::f32::consts::FRAC_1_SQRT_2);
                        let zero = splat(0.0);
                        let (er, ei) = dft4([ar[0], ar[2], ar[4], ar[6]], [ai[0], ai[2], ai[4], ai[6]]);
                        let (o_r, o_i) = dft4([ar[1], ar[3], ar[5], ar[7]], [ai[1], ai[3], ai[5], ai[7]]);
                        // W8^k · O[k]: 1, (1 - i)/√2, -i, -(1 + i)/√2
                        let o = [
                            (o_r[0], o_i[0]),
                            (h.mul(o_r[1].add(o_i[1])), h.mul(o_i[1].sub(o_r[1]))),
                            (o_i[2], zero.sub(o_r[2])),
                            (h.mul(o_i[3].sub(o_r[3])), h.mul(zero.sub(o_r[3].add(o_i[3])))),
                        ];
                        for (k, (r, i)) in o.into_iter().enumerate() {
                            (or[k], oi[k]) = (er[k].add(r), ei[k].add(i));
                            (or[k + 4], oi[k + 4]) = (er[k].sub(r), ei[k].sub(i));
                        }
                    }
                    _ => {
                        // cos and sin of 2π/5 and 4π/5
                        let (c1, c2) = (splat(0.309_017), splat(-0.809_017));
                        let (s1, s2) = (splat(0.951_056_5), splat(0.587_785_24));
                        let (t1r, t1i) = (ar[1].add(ar[4]), ai[1].add(ai[4]));
                        let (t2r, t2i) = (ar[2].add(ar[3]), ai[2].add(ai[3]));
                        let (t3r, t3i) = (ar[1].sub(ar[4]), ai[1].sub(ai[4]));
                        let (t4r, t4i) = (ar[2].sub(ar[3]), ai[2].sub(ai[3]));
                        (or[0], oi[0]) = (ar[0].add(t1r.add(t2r)), ai[0].add(t1i.add(t2i)));
                        let b1r = c1.fmadd(t1r, c2.fmadd(t2r, ar[0]));
                        let b1i = c1.fmadd(t1i, c2.fmadd(t2i, ai[0]));
                        let b2r = c2.fmadd(t1r, c1.fmadd(t2r, ar[0]));
                        let b2i = c2.fmadd(t1i, c1.fmadd(t2i, ai[0]));
                        let d1r = s1.fmadd(t3r, s2.mul(t4r));
                        let d1i = s1.fmadd(t3i, s2.mul(t4i));
                        let d2r = s2.fmsub(t3r, s1.mul(t4r));
                        let d2i = s2.fmsub(t3i, s1.mul(t4i));
                        // X1 = b1 - i·d1, X4 = b1 + i·d1, X2 = b2 - i·d2, X3 = b2 + i·d2
                        (or[1], oi[1]) = (b1r.add(d1i), b1i.sub(d1r));
                        (or[2], oi[2]) = (b2r.add(d2i), b2i.sub(d2r));
                        (or[3], oi[3]) = (b2r.sub(d2i), b2i.add(d2r));
                        (or[4], oi[4]) = (b1r.sub(d1i), b1i.add(d1r));
                    }
                }
                for k in 0..R {
                    let at = ((R * p + k) * s + q) * LANES;
                    if p_step == 1 {
                        // the twiddles of p = 0 are all 1 (the whole last stage)
                        let (r, i) = if k == 0 || p == 0 {
                            (or[k], oi[k])
                        } else {
                            let t = p * (R - 1) + k - 1;
                            cmul(or[k], oi[k], splat(*twr.add(t)), splat(*twi.add(t)))
                        };
                        r.store(yr.add(at));
                        i.store(yi.add(at));
                    } else {
                        // columns p and p + 1: their own twiddles, rows R apart
                        let (r, i) = if k == 0 {
                            (or[k], oi[k])
                        } else {
                            let t = p * (R - 1) + k - 1;
                            let u = t + R - 1;
                            let wr = V::splat_rows(*twr.add(t), *twr.add(u));
                            let wi = V::splat_rows(*twi.add(t), *twi.add(u));
                            let (r, i) = cmul(or[k], oi[k], wr, wi);
                            if p == 0 {
                                // column 0 is not multiplied at all, as on the
                                // one-row path: ·(1, -0) differs for ±∞ (NaN)
                                (r.with_row0(or[k]), i.with_row0(oi[k]))
                            } else {
                                (r, i)
                            }
                        };
                        let next = R * LANES;
                        r.store_rows(yr.add(at), yr.add(at + next));
                        i.store_rows(yi.add(at), yi.add(at + next));
                    }
                }
            }
        }
    }
}

/// `log10(x)` for positive normal `x`: [`log10_lane`](crate::kernels::generic::log10_lane)'s reduction
/// and polynomial with fused multiply-adds (within 2.5e-7 of it, tested).
///
/// # Safety
/// As for [`Vf`].
#[inline(always)]
pub(super) unsafe fn log10<V: Vf>(x: V) -> V {
    // SAFETY: the caller's contract.
    unsafe {
        let (ef, f) = x.log_split();
        let z = f.mul(f);
        let mut y = V::splat(LOG_P[0]);
        for &p in &LOG_P[1..] {
            y = y.fmadd(f, V::splat(p));
        }
        // ln = f - z/2 + f·z·P(f) + e·ln2 (ln2 split in two parts)
        y = y.mul(f).mul(z);
        y = V::splat(LOG_Q1).fmadd(ef, y);
        y = V::splat(-0.5).fmadd(z, y);
        let ln = V::splat(LOG_Q2).fmadd(ef, f.add(y));
        ln.mul(V::splat(std::f32::consts::LOG10_E))
    }
}

/// `v = log10(max(v, 1e-10))` over the leading whole registers of `mel`
/// (rows of [`LANES`]); `max` takes the lane maxima. Returns how many
/// floats it processed (the rest is less than one register).
///
/// # Safety
/// As for [`Vf`] (the CPU part).
#[inline(always)]
pub(super) unsafe fn log_max<V: Vf>(mel: &mut [f32], max: &mut [f32; LANES]) -> usize {
    let n = mel.len() / V::W * V::W;
    let p = mel.as_mut_ptr();
    // SAFETY: the CPU part is the caller's contract; every access covers
    // floats i..i + W with i + W <= n <= mel.len().
    unsafe {
        let floor = V::splat(POWER_FLOOR);
        let mut mx = V::splat(f32::NEG_INFINITY);
        let mut i = 0;
        // two registers per step: two independent polynomial chains in flight
        while i + 2 * V::W <= n {
            // maxps(a, b) = a > b ? a : b, the portable select exactly
            let v0 = log10(V::load(p.add(i)).max(floor));
            let v1 = log10(V::load(p.add(i + V::W)).max(floor));
            mx = v1.max(v0.max(mx));
            v0.store(p.add(i));
            v1.store(p.add(i + V::W));
            i += 2 * V::W;
        }
        if i < n {
            let v = log10(V::load(p.add(i)).max(floor));
            mx = v.max(mx);
            v.store(p.add(i));
        }
        mx.max_into(max);
    }
    n
}
