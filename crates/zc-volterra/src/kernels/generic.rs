//! The portable FIR kernel: register-blocked groups written so the compiler
//! vectorises them for whatever the compile target guarantees (SSE2 on
//! x86-64, NEON on aarch64). The AVX2 kernel instantiates the same body with
//! wider groups and fused multiply-add.

use realfft::num_complex::Complex;

use crate::sample::Sample;

/// `y[n] += Σ_k h[k]·x[n + k]`, portable. Lengths: `x.len() + 1 >=
/// y.len() + h.len()` (the engines' invariant; slicing panics otherwise).
pub(crate) fn fir<T: Sample>(h: &[T], x: &[T], y: &mut [T]) {
    if size_of::<T>() == 4 {
        fir_body::<T, 32, false>(h, x, y)
    } else {
        fir_body::<T, 16, false>(h, x, y)
    }
}

#[inline(always)]
fn madd<T: Sample, const FMA: bool>(a: T, b: T, c: T) -> T {
    if FMA { a.mul_add(b, c) } else { c + a * b }
}

/// The one FIR body every level instantiates: groups of `W` outputs, then
/// groups of 8 (short blocks), then single outputs. Per output the taps are
/// summed in ascending order in every instantiation.
#[inline(always)]
pub(crate) fn fir_body<T: Sample, const W: usize, const FMA: bool>(h: &[T], x: &[T], y: &mut [T]) {
    let base = fir_groups::<T, W, FMA>(h, x, y, 0);
    let base = fir_groups::<T, 8, FMA>(h, x, y, base);
    let taps = h.len();
    for i in base..y.len() {
        let mut acc = T::zero();
        for (&hk, &xv) in h.iter().zip(&x[i..i + taps]) {
            acc = madd::<T, FMA>(hk, xv, acc);
        }
        y[i] = y[i] + acc;
    }
}

/// Outputs `base..` in groups of `W` (register-blocked); returns where the
/// groups stopped.
#[inline(always)]
fn fir_groups<T: Sample, const W: usize, const FMA: bool>(h: &[T], x: &[T], y: &mut [T], mut base: usize) -> usize {
    let taps = h.len();
    while base + W <= y.len() {
        let mut acc = [T::zero(); W];
        let xs = &x[base..base + W + taps - 1];
        for (k, &hk) in h.iter().enumerate() {
            if let Some(w) = xs.get(k..k + W) {
                for j in 0..W {
                    acc[j] = madd::<T, FMA>(hk, w[j], acc[j]);
                }
            }
        }
        for (o, a) in y[base..base + W].iter_mut().zip(acc) {
            *o = *o + a;
        }
        base += W;
    }
    base
}

/// Rows per group of the row-form full H2 ([`rows`]): the same at every
/// level, so the plan's tap layout and its memory estimate do not depend on
/// the level. Two rows share each load of the signal (12 of the 16 ymm
/// registers hold accumulators at `Avx2`).
pub(crate) const ROWS: usize = 2;

/// The row-form FIR of a group of `rows` rows, portable:
///
/// `y[n] += Σ_{r<rows} x[n + K − 1 − r] · Σ_{k<K} h[k·rows + r]·x[n + k]`,
///
/// `K = h.len() / rows` taps per row, interleaved (the `rows` taps of one
/// `k` adjacent). Every row reads the same signal, so one load of `x` feeds
/// all rows. Contract (upheld by the Direct engine by construction):
/// `1 <= rows <= ROWS`, `h.len() == K·rows`, `K >= rows`,
/// `x.len() + 1 >= y.len() + K` (slicing panics otherwise).
pub(crate) fn rows<T: Sample>(h: &[T], rows: usize, x: &[T], y: &mut [T]) {
    if size_of::<T>() == 4 {
        rows_by::<T, 24, false>(h, rows, x, y)
    } else {
        rows_by::<T, 12, false>(h, rows, x, y)
    }
}

/// [`rows`] with groups of `W` outputs: the row count made a constant.
#[inline(always)]
pub(crate) fn rows_by<T: Sample, const W: usize, const FMA: bool>(h: &[T], rows: usize, x: &[T], y: &mut [T]) {
    const _: () = assert!(ROWS == 2, "rows_by instantiates 1..=ROWS rows");
    match rows {
        1 => rows_body::<T, 1, W, FMA>(h, x, y),
        _ => rows_body::<T, 2, W, FMA>(h, x, y),
    }
}

/// The one row-form body every level instantiates: groups of `W` outputs,
/// then of 8, then single outputs, all through the same code, so the
/// operations per output (taps ascending per row, then rows ascending into
/// `y`) are the same wherever the output falls in a block.
#[inline(always)]
pub(crate) fn rows_body<T: Sample, const R: usize, const W: usize, const FMA: bool>(h: &[T], x: &[T], y: &mut [T]) {
    let base = rows_groups::<T, R, W, FMA>(h, x, y, 0);
    let base = rows_groups::<T, R, 8, FMA>(h, x, y, base);
    rows_groups::<T, R, 1, FMA>(h, x, y, base);
}

/// Outputs `base..` in groups of `W` (`R × W` accumulators); returns where
/// the groups stopped.
#[inline(always)]
fn rows_groups<T: Sample, const R: usize, const W: usize, const FMA: bool>(
    h: &[T],
    x: &[T],
    y: &mut [T],
    mut base: usize,
) -> usize {
    let taps = h.len() / R;
    while base + W <= y.len() {
        let mut acc = [[T::zero(); W]; R];
        let xs = &x[base..base + W + taps - 1];
        for (w, hk) in xs.windows(W).zip(h.chunks_exact(R)) {
            if let (Ok(w), Ok(hk)) = (<&[T; W]>::try_from(w), <&[T; R]>::try_from(hk)) {
                // one load of x per output, used by every row
                for j in 0..W {
                    let xv = w[j];
                    for r in 0..R {
                        acc[r][j] = madd::<T, FMA>(hk[r], xv, acc[r][j]);
                    }
                }
            }
        }
        let ys = &mut y[base..base + W];
        for (r, a) in acc.iter().enumerate() {
            let e = &xs[taps - 1 - r..taps - 1 - r + W];
            for j in 0..W {
                ys[j] = madd::<T, FMA>(e[j], a[j], ys[j]);
            }
        }
        base += W;
    }
    base
}

/// `acc[i] += x[i]·h[i]` over complex spectra (the frequency-domain
/// multiply-accumulate of the FFT engines), portable. Lengths: the shortest
/// of the three.
pub(crate) fn cmac<T: Sample>(acc: &mut [Complex<T>], x: &[Complex<T>], h: &[Complex<T>]) {
    for ((a, &xv), &hv) in acc.iter_mut().zip(x).zip(h) {
        a.re = a.re + (xv.re * hv.re - xv.im * hv.im);
        a.im = a.im + (xv.re * hv.im + xv.im * hv.re);
    }
}
