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

/// `acc[i] += x[i]·h[i]` over complex spectra (the frequency-domain
/// multiply-accumulate of the FFT engines), portable. Lengths: the shortest
/// of the three.
pub(crate) fn cmac<T: Sample>(acc: &mut [Complex<T>], x: &[Complex<T>], h: &[Complex<T>]) {
    for ((a, &xv), &hv) in acc.iter_mut().zip(x).zip(h) {
        a.re = a.re + (xv.re * hv.re - xv.im * hv.im);
        a.im = a.im + (xv.re * hv.im + xv.im * hv.re);
    }
}
