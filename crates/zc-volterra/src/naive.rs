//! The loop-based reference: per sample, per order, `x.powi(p)` inside the
//! tap loop. Exists to measure what the Direct engine gains over it (bench
//! `naive_vs_direct`) and as an independent check in tests.

use crate::engine::Lanes;
use crate::error::Result;
use crate::kernel::Kernel;
use crate::sample::Sample;

/// Apply `kernel` to the whole signal `x` (zero history) the naive way,
/// into the first `x.len()` values of `out` (which may be longer); returns
/// `x.len()`. Allocation-free apart from converting the taps once. Errors
/// with [`BufferError::OutputTooSmall`](zc_buffers::BufferError::OutputTooSmall),
/// writing nothing, when `out` is shorter than `x`.
pub fn naive_process<T: Sample>(kernel: &Kernel, x: &[T], out: &mut [T]) -> Result<usize> {
    let y = zc_buffers::output_prefix(out, x.len())?;
    let plan = Lanes::<T>::new(kernel);
    for (n, out) in y.iter_mut().enumerate() {
        let mut acc = T::zero();
        for (p, h) in &plan.diag {
            for (i, &t) in h.iter().enumerate().take(n + 1) {
                acc = acc + t * x[n - i].powi(*p as i32);
            }
        }
        for (lambda, v) in &plan.branches {
            let mut z = T::zero();
            for (i, &t) in v.iter().enumerate().take(n + 1) {
                z = z + t * x[n - i];
            }
            acc = acc + *lambda * z * z;
        }
        *out = acc;
    }
    Ok(x.len())
}
