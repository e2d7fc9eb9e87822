//! Typed and strided views over host buffers, and layout helpers.
//!
//! All views are checked: a misaligned address, a length that is not a
//! multiple of the element size, strides that reach past the end, shapes
//! that overflow, or a mutable view whose strides alias are a
//! [`BufferError`], never a panic or UB. Strides are in **elements** and
//! non-negative.
//!
//! ```
//! use zc_buffers::{AlignedBuf, HostBufferExt, HostBufferMutExt};
//! let mut buf = AlignedBuf::zeroed(80 * 3000 * 4)?;
//! // an (80, 3000) mel-major f32 matrix, written through a 2-D view
//! let mut mel = buf.view_mut::<f32, _>((80, 3000), (3000, 1))?;
//! mel[[2, 10]] = 1.0;
//! // the same bytes seen frame-major through transposed strides: no copy
//! let frames = buf.view::<f32, _>((3000, 80), (1, 3000))?;
//! assert_eq!(frames[[10, 2]], 1.0);
//! # Ok::<(), zc_buffers::BufferError>(())
//! ```

use bytemuck::Pod;
use ndarray::{ArrayView, ArrayView2, ArrayViewMut, ArrayViewMut2, Dimension, IntoDimension, ShapeBuilder};

use crate::buffer::{HostBuffer, HostBufferMut};
use crate::error::{BufferError, Result, addr_alignment};
use crate::ledger::{self, CopyKind};

/// A non-zero-sized `T` at an address aligned for it; returns size_of::<T>().
fn check_elem<T: Pod>(ptr: *const u8) -> Result<usize> {
    let size = std::mem::size_of::<T>();
    let type_name = std::any::type_name::<T>();
    if size == 0 {
        return Err(BufferError::ZeroSizedType { type_name });
    }
    let align = std::mem::align_of::<T>();
    let addr = ptr as usize;
    if !addr.is_multiple_of(align) {
        return Err(BufferError::Misaligned {
            what: type_name,
            required: align,
            actual: addr_alignment(addr),
            addr,
        });
    }
    Ok(size)
}

fn check_cast<T: Pod>(ptr: *const u8, len: usize) -> Result<()> {
    let size = check_elem::<T>(ptr)?;
    let type_name = std::any::type_name::<T>();
    if !len.is_multiple_of(size) {
        return Err(BufferError::LengthNotMultiple {
            type_name,
            len,
            elem_size: size,
        });
    }
    Ok(())
}

/// View bytes as `&[T]`: fails on misalignment or a ragged length.
pub fn cast_slice<T: Pod>(bytes: &[u8]) -> Result<&[T]> {
    check_cast::<T>(bytes.as_ptr(), bytes.len())?;
    // SAFETY: alignment and length were checked; T: Pod accepts any bytes.
    Ok(unsafe { std::slice::from_raw_parts(bytes.as_ptr().cast::<T>(), bytes.len() / std::mem::size_of::<T>()) })
}

/// View bytes as `&mut [T]`: fails on misalignment or a ragged length.
pub fn cast_slice_mut<T: Pod>(bytes: &mut [u8]) -> Result<&mut [T]> {
    check_cast::<T>(bytes.as_ptr(), bytes.len())?;
    let n = bytes.len() / std::mem::size_of::<T>();
    // SAFETY: as cast_slice; the unique borrow is transferred to the result.
    Ok(unsafe { std::slice::from_raw_parts_mut(bytes.as_mut_ptr().cast::<T>(), n) })
}

/// Number of elements a strided view reaches (max offset + 1; 0 when empty).
fn reach(shape: &[usize], strides: &[usize]) -> Result<usize> {
    let overflow = || BufferError::Overflow {
        shape: shape.to_vec(),
        strides: strides.to_vec(),
    };
    if shape.len() != strides.len() {
        return Err(BufferError::RankMismatch {
            shape_ndim: shape.len(),
            strides_ndim: strides.len(),
        });
    }
    // ndarray reads strides as isize; larger ones would be negative.
    if strides.iter().any(|&st| st > isize::MAX as usize) {
        return Err(overflow());
    }
    let mut count: usize = 1;
    for &s in shape {
        count = count.checked_mul(s).ok_or_else(overflow)?;
    }
    if count > isize::MAX as usize {
        return Err(overflow());
    }
    if count == 0 {
        return Ok(0);
    }
    let mut max = 0usize;
    for (&n, &st) in shape.iter().zip(strides) {
        let step = (n - 1).checked_mul(st).ok_or_else(overflow)?;
        max = max.checked_add(step).ok_or_else(overflow)?;
    }
    max.checked_add(1).ok_or_else(overflow)
}

/// Elements a shape/stride pair reaches (max offset + 1; 0 when empty),
/// with overflow checked.
pub(crate) fn reach_elems(shape: &[usize], strides: &[usize]) -> Result<usize> {
    reach(shape, strides)
}

/// Fail unless a shape/stride pair stays within `available` elements.
pub(crate) fn check_reach(shape: &[usize], strides: &[usize], available: usize) -> Result<()> {
    let needed = reach(shape, strides)?;
    if needed > available {
        return Err(BufferError::OutOfBounds {
            shape: shape.to_vec(),
            strides: strides.to_vec(),
            needed,
            available,
        });
    }
    Ok(())
}

/// True when no two in-bounds indices map to the same element: axes sorted by
/// stride each step over the full extent of the smaller ones.
fn is_unaliased(shape: &[usize], strides: &[usize]) -> bool {
    if shape.contains(&0) {
        return true;
    }
    // Up to 8 axes on the stack (no allocation on the hot path); more axes
    // take a heap Vec.
    let mut stack = [(0usize, 0usize); 8];
    let mut heap;
    let axes: &mut [(usize, usize)] = if shape.len() <= stack.len() {
        let mut k = 0;
        for (&n, &s) in shape.iter().zip(strides) {
            if n > 1 {
                stack[k] = (s, n);
                k += 1;
            }
        }
        &mut stack[..k]
    } else {
        heap = shape
            .iter()
            .zip(strides)
            .filter(|(n, _)| **n > 1)
            .map(|(&n, &s)| (s, n))
            .collect::<Vec<_>>();
        &mut heap
    };
    axes.sort_unstable();
    let mut extent = 1usize; // elements spanned by the smaller-stride axes
    for &(s, n) in axes.iter() {
        if s < extent {
            return false;
        }
        extent = match (n - 1).checked_mul(s).and_then(|v| v.checked_add(extent)) {
            Some(v) => v,
            None => return false,
        };
    }
    true
}

/// Checks in a fixed order, so the error a caller gets never depends on where
/// the allocator put the memory: shape and strides first (rank, overflow),
/// then the element type and the address, then the reach against the length.
fn check_view<T: Pod>(ptr: *const u8, len: usize, shape: &[usize], strides: &[usize]) -> Result<()> {
    reach(shape, strides)?;
    let size = check_elem::<T>(ptr)?;
    check_reach(shape, strides, len / size)
}

/// The whole elements of `bytes` as `&[T]` (a ragged tail is ignored).
fn whole_elements<T: Pod>(bytes: &[u8]) -> Result<&[T]> {
    let size = check_elem::<T>(bytes.as_ptr())?;
    cast_slice(&bytes[..bytes.len() / size * size])
}

fn whole_elements_mut<T: Pod>(bytes: &mut [u8]) -> Result<&mut [T]> {
    let size = check_elem::<T>(bytes.as_ptr())?;
    let n = bytes.len() / size * size;
    cast_slice_mut(&mut bytes[..n])
}

/// An empty view has no elements, so its strides address nothing; ndarray
/// still bounds them, so empty views get zero strides.
fn effective_strides<D: Dimension>(shape: &D, strides: &D) -> D {
    if shape.slice().contains(&0) {
        D::zeros(shape.ndim())
    } else {
        strides.clone()
    }
}

fn shape_error(shape: &[usize], strides: &[usize]) -> BufferError {
    BufferError::Overflow {
        shape: shape.to_vec(),
        strides: strides.to_vec(),
    }
}

/// An N-D view of `bytes` as elements of `T` with the given shape and strides
/// (in elements). The checks above give the precise error; ndarray's own
/// validating constructor then builds the view, so no invariant of ndarray
/// rests on this crate's arithmetic alone.
pub fn view<'a, T: Pod, D: Dimension>(bytes: &'a [u8], shape: D, strides: D) -> Result<ArrayView<'a, T, D>> {
    check_view::<T>(bytes.as_ptr(), bytes.len(), shape.slice(), strides.slice())?;
    let elems = whole_elements::<T>(bytes)?;
    ArrayView::from_shape(shape.clone().strides(effective_strides(&shape, &strides)), elems)
        .map_err(|_| shape_error(shape.slice(), strides.slice()))
}

/// A mutable N-D view; additionally fails when the strides alias.
pub fn view_mut<'a, T: Pod, D: Dimension>(bytes: &'a mut [u8], shape: D, strides: D) -> Result<ArrayViewMut<'a, T, D>> {
    check_view::<T>(bytes.as_ptr(), bytes.len(), shape.slice(), strides.slice())?;
    if !is_unaliased(shape.slice(), strides.slice()) {
        return Err(BufferError::Aliasing {
            shape: shape.slice().to_vec(),
            strides: strides.slice().to_vec(),
        });
    }
    let elems = whole_elements_mut::<T>(bytes)?;
    ArrayViewMut::from_shape(shape.clone().strides(effective_strides(&shape, &strides)), elems)
        .map_err(|_| shape_error(shape.slice(), strides.slice()))
}

/// Row-major (C) strides, in elements, for `shape`.
pub fn c_strides(shape: &[usize]) -> Vec<usize> {
    let mut strides = vec![0; shape.len()];
    let mut acc = 1usize;
    for i in (0..shape.len()).rev() {
        strides[i] = acc;
        acc = acc.saturating_mul(shape[i]);
    }
    strides
}

/// True when `shape`/`strides` describe a row-major contiguous array
/// (axes of length 1 may carry any stride).
pub fn is_c_contiguous(shape: &[usize], strides: &[usize]) -> bool {
    if shape.len() != strides.len() {
        return false;
    }
    if shape.contains(&0) {
        return true;
    }
    let mut acc = 1usize;
    for i in (0..shape.len()).rev() {
        if shape[i] != 1 && strides[i] != acc {
            return false;
        }
        acc = acc.saturating_mul(shape[i]);
    }
    true
}

/// Typed and N-D views on any [`HostBuffer`] (blanket-implemented).
pub trait HostBufferExt: HostBuffer {
    /// All bytes as `&[T]`.
    fn as_slice<T: Pod>(&self) -> Result<&[T]> {
        cast_slice(self.as_bytes())
    }
    /// An N-D view with explicit shape and strides (elements).
    fn view<T: Pod, D: IntoDimension>(&self, shape: D, strides: D) -> Result<ArrayView<'_, T, D::Dim>> {
        view(self.as_bytes(), shape.into_dimension(), strides.into_dimension())
    }
    /// A row-major 2-D view of the first `rows * cols` elements.
    fn view2<T: Pod>(&self, rows: usize, cols: usize) -> Result<ArrayView2<'_, T>> {
        view(self.as_bytes(), ndarray::Ix2(rows, cols), ndarray::Ix2(cols, 1))
    }
}
impl<B: HostBuffer + ?Sized> HostBufferExt for B {}

/// Mutable typed and N-D views on any [`HostBufferMut`] (blanket-implemented).
pub trait HostBufferMutExt: HostBufferMut {
    /// All bytes as `&mut [T]`.
    fn as_slice_mut<T: Pod>(&mut self) -> Result<&mut [T]> {
        cast_slice_mut(self.as_bytes_mut())
    }
    /// A mutable N-D view with explicit shape and strides (elements).
    fn view_mut<T: Pod, D: IntoDimension>(&mut self, shape: D, strides: D) -> Result<ArrayViewMut<'_, T, D::Dim>> {
        view_mut(self.as_bytes_mut(), shape.into_dimension(), strides.into_dimension())
    }
    /// A mutable row-major 2-D view of the first `rows * cols` elements.
    fn view2_mut<T: Pod>(&mut self, rows: usize, cols: usize) -> Result<ArrayViewMut2<'_, T>> {
        view_mut(self.as_bytes_mut(), ndarray::Ix2(rows, cols), ndarray::Ix2(cols, 1))
    }
}
impl<B: HostBufferMut + ?Sized> HostBufferMutExt for B {}

// ---- transpose ------------------------------------------------------------

const TILE: usize = 32;

/// Write `src` (shape `(r, c)`) into `dst` (shape `(c, r)`) transposed, in
/// cache-sized tiles: the one copy that turns a mel-major matrix into a
/// frame-major one (instead of `.T` followed by a contiguous copy). Any
/// strides are accepted; row-major 4-byte elements take an AVX2 8×8 kernel
/// where the CPU has it. Recorded in the ledger as one
/// [`CopyKind::Transpose`] of `r * c * size_of::<T>()` bytes. On a shape
/// mismatch `dst` is untouched.
///
/// ```
/// use ndarray::Array2;
/// let src = Array2::from_shape_fn((80, 3000), |(m, t)| (m * 3000 + t) as f32);
/// let mut dst = Array2::<f32>::zeros((3000, 80));
/// zc_buffers::transpose_into(src.view(), dst.view_mut())?;
/// assert_eq!(dst, src.t());
/// # Ok::<(), zc_buffers::BufferError>(())
/// ```
pub fn transpose_into<T: Pod>(src: ArrayView2<'_, T>, mut dst: ArrayViewMut2<'_, T>) -> Result<()> {
    let (r, c) = src.dim();
    if dst.dim() != (c, r) {
        return Err(BufferError::ShapeMismatch {
            expected: vec![c, r],
            actual: vec![dst.dim().0, dst.dim().1],
        });
    }
    if r == 0 || c == 0 {
        return Ok(());
    }
    let ss = src.strides();
    let ds = dst.strides();
    // ndarray strides of views we accept are non-negative only when made by
    // us; handle general (possibly negative) strides through isize math.
    let (s0, s1, d0, d1) = (ss[0], ss[1], ds[0], ds[1]);
    let sp = src.as_ptr();
    let dp = dst.as_mut_ptr();

    #[cfg(target_arch = "x86_64")]
    {
        if std::mem::size_of::<T>() == 4
            && std::mem::align_of::<T>() >= 4
            && s1 == 1
            && d1 == 1
            && s0 >= 0
            && d0 >= 0
            && std::arch::is_x86_feature_detected!("avx2")
        {
            // SAFETY: AVX2 is present; strides describe valid in-bounds views
            // of r×c and c×r 4-byte elements (ndarray invariants); the two
            // views cannot overlap (dst is uniquely borrowed).
            unsafe { transpose_4b_avx2(sp.cast::<u32>(), s0 as usize, dp.cast::<u32>(), d0 as usize, r, c) };
            ledger::record_copy(CopyKind::Transpose, r * c * std::mem::size_of::<T>());
            return Ok(());
        }
    }

    for i0 in (0..r).step_by(TILE) {
        for j0 in (0..c).step_by(TILE) {
            for i in i0..(i0 + TILE).min(r) {
                for j in j0..(j0 + TILE).min(c) {
                    // SAFETY: i < r, j < c: both offsets address elements of
                    // the views (ndarray's stride invariants).
                    unsafe {
                        *dp.offset(j as isize * d0 + i as isize * d1) = *sp.offset(i as isize * s0 + j as isize * s1);
                    }
                }
            }
        }
    }
    ledger::record_copy(CopyKind::Transpose, r * c * std::mem::size_of::<T>());
    Ok(())
}

/// # Safety
/// AVX2 available; `src` valid for reading `r` rows of `c` u32 at row stride
/// `ss`; `dst` valid for writing `c` rows of `r` u32 at row stride `ds`; no
/// overlap.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn transpose_4b_avx2(src: *const u32, ss: usize, dst: *mut u32, ds: usize, r: usize, c: usize) {
    use std::arch::x86_64::*;
    // Strips of 16 source rows: every 8×8 tile pair writes 64 contiguous
    // bytes (a whole cache line when the destination is 64-byte aligned) to
    // each of 8 destination rows, and the source is read as 16 sequential
    // streams, which the hardware prefetchers follow. Columns go in chunks
    // so the destination lines being filled stay in L1/L2.
    const CHUNK: usize = 512;
    let r16 = r / 16 * 16;
    let r8 = r / 8 * 8;
    let c8 = c / 8 * 8;
    let tile = |i: usize, j: usize| {
        // SAFETY: callers pass i + 8 <= r8 and j + 8 <= c8, so the 8 loads
        // of 8 elements from rows i..i+8 and the 8 stores of 8 elements into
        // rows j..j+8 are in bounds.
        unsafe {
            let rows: [__m256; 8] = std::array::from_fn(|k| _mm256_loadu_ps(src.add((i + k) * ss + j) as *const f32));
            let cols = crate::simd::transpose8x8_ps(rows);
            for (k, v) in cols.into_iter().enumerate() {
                _mm256_storeu_ps(dst.add((j + k) * ds + i) as *mut f32, v);
            }
        }
    };
    for j0 in (0..c8).step_by(CHUNK) {
        let j1 = (j0 + CHUNK).min(c8);
        for i in (0..r16).step_by(16) {
            for j in (j0..j1).step_by(8) {
                tile(i, j);
                tile(i + 8, j);
            }
        }
        for i in (r16..r8).step_by(8) {
            for j in (j0..j1).step_by(8) {
                tile(i, j);
            }
        }
    }
    // Edges: rows r8..r (all columns) and columns c8..c (rows 0..r8).
    for i in 0..r {
        let j_start = if i < r8 { c8 } else { 0 };
        for j in j_start..c {
            // SAFETY: i < r, j < c.
            unsafe { *dst.add(j * ds + i) = *src.add(i * ss + j) };
        }
    }
}
