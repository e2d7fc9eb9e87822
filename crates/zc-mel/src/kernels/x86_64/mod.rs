//! The x86-64 kernels: [`avx2`] (AVX2 + FMA, 256-bit) and [`avx512`]
//! (AVX-512, 512-bit FFT stages and logarithm), both written once over
//! the register width in [`vf`] where they are hand-written, and
//! compiled from the portable kernels inside `target_feature` functions
//! elsewhere.

use super::generic::Generic;
use super::{LANES, Stage, run_stages};

pub(super) mod avx2;
pub(super) mod avx512;
mod vf;

/// [`vf::stage`] for the stage's radix, columns `ps`.
///
/// # Safety
/// As for [`vf::Vf`].
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
