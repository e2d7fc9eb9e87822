//! Writing engine blocks into the caller's output, and Whisper's
//! normalisation of what was written.

use ndarray::{ArrayViewMut2, Axis, ShapeBuilder, s};
use zc_buffers::SimdLevel;

use crate::config::{Layout, MelShape, Normalization};
use crate::error::{MelError, Result};
use crate::kernels::{self, LANES};

/// Write a block of `nb` frames (`(n_mels, LANES)`) into columns
/// `c0..c0 + nb` of a `(n_mels, frames)` view with any strides.
#[inline]
pub(crate) fn write_block(out: &mut ArrayViewMut2<'_, f32>, c0: usize, nb: usize, block: &[f32]) {
    let (rows, cols) = out.dim();
    if c0 + nb > cols || block.len() < rows * LANES {
        return;
    }
    let (s0, s1) = (out.strides()[0], out.strides()[1]);
    if s1 == 1 && nb == LANES {
        // rows contiguous along frames (mel-major): eight-value runs
        for (m, src) in block.chunks_exact(LANES).take(rows).enumerate() {
            let mut row = out.row_mut(m);
            if let Some(dst) = row.as_slice_mut().and_then(|r| r.get_mut(c0..c0 + LANES)) {
                dst.copy_from_slice(src);
            }
        }
        return;
    }
    let ptr = out.as_mut_ptr();
    for (m, src) in block.chunks_exact(LANES).take(rows).enumerate() {
        for (l, &v) in src.iter().take(nb).enumerate() {
            let offset = m as isize * s0 + (c0 + l) as isize * s1;
            // SAFETY: m < rows and c0 + l < cols (checked above), so the
            // offset addresses element [m, c0 + l] of the view, which the
            // view borrows mutably and exclusively.
            unsafe { *ptr.offset(offset) = v };
        }
    }
}

/// Apply Whisper's clamp and scaling to every value of a view.
pub(crate) fn normalise_view(level: SimdLevel, out: &mut ArrayViewMut2<'_, f32>, floor: f32) {
    if let Some(slice) = out.as_slice_memory_order_mut() {
        kernels::normalise(level, slice, floor);
    } else {
        for mut lane in out.lanes_mut(Axis(1)) {
            match lane.as_slice_mut() {
                Some(s) => kernels::normalise(level, s, floor),
                None => lane.map_inplace(|v| *v = kernels::normalise_one(*v, floor)),
            }
        }
    }
}

/// The largest value of the computed output: reduce per normalisation.
pub(crate) fn clamp_floor(norm: Normalization, computed_max: f32, top_db: f32) -> f32 {
    match norm {
        Normalization::Fixed(m) => m - top_db,
        Normalization::Global | Normalization::PerItem => computed_max - top_db,
    }
}

/// A `(n_mels, n_frames)` view of the prefix of a row-major slice in
/// `layout`; [`OutputTooSmall`](zc_buffers::BufferError::OutputTooSmall)
/// when the slice cannot hold it.
pub(crate) fn slice_view(
    out: &mut [f32],
    n_mels: usize,
    n_frames: usize,
    layout: Layout,
) -> Result<ArrayViewMut2<'_, f32>> {
    let overflow = || MelError::InvalidConfig {
        reason: "output size overflows usize",
    };
    let needed = n_mels.checked_mul(n_frames).ok_or_else(overflow)?;
    let out = zc_buffers::output_prefix(out, needed)?;
    let strides = match layout {
        Layout::MelMajor => (n_frames, 1),
        Layout::FrameMajor => (1, n_mels),
    };
    ArrayViewMut2::from_shape((n_mels, n_frames).strides(strides), out).map_err(|_| overflow())
}

/// The `(n_mels, n_frames)` mel-major view of the top-left `shape.dims()`
/// corner of a view indexed in `shape.layout` (any strides), or
/// [`MelError::ViewTooSmall`].
pub(crate) fn view_corner(out: ArrayViewMut2<'_, f32>, shape: MelShape) -> Result<ArrayViewMut2<'_, f32>> {
    let (rows, cols) = shape.dims();
    if out.nrows() < rows || out.ncols() < cols {
        return Err(MelError::ViewTooSmall {
            needed: (rows, cols),
            actual: out.dim(),
        });
    }
    let out = out.slice_move(s![..rows, ..cols]);
    Ok(match shape.layout {
        Layout::MelMajor => out,
        Layout::FrameMajor => out.reversed_axes(),
    })
}
