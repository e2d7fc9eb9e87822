//! Typed and strided views: bad input is an error, views equal copies, and
//! `transpose_into` equals a naive transpose.

use ndarray::{Array2, ArrayView2, Ix2, IxDyn, ShapeBuilder};
use proptest::prelude::*;
use zc_buffers::{
    AlignedBuf, BufferError, HostBuffer, HostBufferExt, HostBufferMutExt, is_c_contiguous, ledger, transpose_into,
};
use zc_buffers::{c_strides, view, view_mut};

fn filled(n_f32: usize) -> AlignedBuf {
    let mut b = AlignedBuf::zeroed(n_f32 * 4).unwrap();
    for (i, x) in b.as_slice_mut::<f32>().unwrap().iter_mut().enumerate() {
        *x = i as f32;
    }
    b
}

#[test]
fn misaligned_typed_view_is_an_error() {
    let b = AlignedBuf::zeroed(64).unwrap();
    let err = zc_buffers::cast_slice::<f32>(&b.as_bytes()[1..9]).unwrap_err();
    assert!(matches!(err, BufferError::Misaligned { required: 4, .. }), "{err}");
    let err = zc_buffers::cast_slice::<f64>(&b.as_bytes()[4..12]).unwrap_err();
    assert!(
        matches!(
            err,
            BufferError::Misaligned {
                required: 8,
                actual: 4,
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn ragged_length_is_an_error() {
    let b = AlignedBuf::zeroed(10).unwrap();
    let err = b.as_slice::<f32>().unwrap_err();
    assert!(
        matches!(
            err,
            BufferError::LengthNotMultiple {
                len: 10,
                elem_size: 4,
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn zero_length_buffers_give_empty_views() {
    let mut b = AlignedBuf::zeroed(0).unwrap();
    assert_eq!(b.as_slice::<f64>().unwrap().len(), 0);
    assert_eq!(b.as_slice_mut::<u32>().unwrap().len(), 0);
    let v = b.view::<f32, _>((0, 5), (5, 1)).unwrap();
    assert_eq!(v.dim(), (0, 5));
    // a non-empty view of an empty buffer is out of bounds
    let err = b.view::<f32, _>((1, 1), (1, 1)).unwrap_err();
    assert!(matches!(
        err,
        BufferError::OutOfBounds {
            needed: 1,
            available: 0,
            ..
        }
    ));
}

#[test]
fn out_of_bounds_strides_are_an_error() {
    let b = filled(12);
    // 3x4 with row stride 5 reaches (2*5 + 3) + 1 = 14 > 12
    let err = b.view::<f32, _>((3, 4), (5, 1)).unwrap_err();
    match err {
        BufferError::OutOfBounds { needed, available, .. } => {
            assert_eq!((needed, available), (14, 12));
        }
        e => panic!("unexpected {e}"),
    }
    // exactly in bounds works
    let v = b.view::<f32, _>((3, 4), (4, 1)).unwrap();
    assert_eq!(v[[2, 3]], 11.0);
}

#[test]
fn overflowing_shapes_are_an_error() {
    let b = filled(4);
    let err = b.view::<f32, _>((usize::MAX, 2), (1, 1)).unwrap_err();
    assert!(matches!(err, BufferError::Overflow { .. }), "{err}");
    let err = b.view::<f32, _>((2, 2), (usize::MAX, 1)).unwrap_err();
    assert!(matches!(err, BufferError::Overflow { .. }), "{err}");
    // Shape errors come first, whatever the address: the same answer for an
    // aligned and a misaligned buffer (0.1 checked alignment first, so the
    // result depended on where the allocator put the bytes).
    let aligned = AlignedBuf::zeroed(64).unwrap();
    for offset in [0, 1, 2, 3] {
        let bytes = &aligned.as_bytes()[offset..offset + 16];
        let err = view::<f32, _>(bytes, IxDyn(&[2, 2]), IxDyn(&[1])).unwrap_err();
        assert!(
            matches!(err, BufferError::RankMismatch { .. }),
            "offset {offset}: {err}"
        );
        let err = view::<f32, _>(bytes, Ix2(usize::MAX, 2), Ix2(1, 1)).unwrap_err();
        assert!(matches!(err, BufferError::Overflow { .. }), "offset {offset}: {err}");
    }
    // then the address
    let err = view::<f32, _>(&aligned.as_bytes()[1..17], Ix2(2, 2), Ix2(2, 1)).unwrap_err();
    assert!(matches!(err, BufferError::Misaligned { .. }), "{err}");
}

#[test]
fn aliasing_mutable_views_are_refused_but_shared_ones_allowed() {
    let mut b = filled(16);
    // broadcasting (stride 0) is fine for reading
    let v = b.view::<f32, _>((4, 4), (0, 1)).unwrap();
    assert_eq!(v[[3, 2]], 2.0);
    let err = b.view_mut::<f32, _>((4, 4), (0, 1)).unwrap_err();
    assert!(matches!(err, BufferError::Aliasing { .. }), "{err}");
    let err = b.view_mut::<f32, _>((4, 4), (2, 1)).unwrap_err();
    assert!(matches!(err, BufferError::Aliasing { .. }), "{err}");
    // transposed strides do not alias
    let mut m = b.view_mut::<f32, _>((4, 4), (1, 4)).unwrap();
    m[[1, 0]] = -1.0;
    assert_eq!(b.as_slice::<f32>().unwrap()[1], -1.0);
}

#[test]
fn misaligned_ndarray_view_is_an_error() {
    let b = filled(8);
    let bytes = &b.as_bytes()[2..];
    let err = view::<f32, _>(bytes, Ix2(1, 1), Ix2(1, 1)).unwrap_err();
    assert!(matches!(err, BufferError::Misaligned { .. }));
}

#[test]
fn contiguity_helper() {
    assert!(is_c_contiguous(&[80, 3000], &[3000, 1]));
    assert!(!is_c_contiguous(&[80, 3000], &[1, 80]));
    assert!(is_c_contiguous(&[1, 5], &[99, 1]));
    assert!(is_c_contiguous(&[0, 5], &[7, 7]));
    assert_eq!(c_strides(&[2, 3, 4]), vec![12, 4, 1]);
}

#[test]
fn transpose_shape_mismatch_leaves_dst_untouched() {
    let src = Array2::<f32>::ones((3, 5));
    let mut dst = Array2::<f32>::from_elem((3, 5), 7.0);
    let err = transpose_into(src.view(), dst.view_mut()).unwrap_err();
    assert!(matches!(err, BufferError::ShapeMismatch { .. }));
    assert!(dst.iter().all(|&x| x == 7.0));
}

#[test]
fn transpose_records_exactly_one_copy() {
    // Miri interprets ~1000x slower: a smaller matrix with the same tiling
    let (rows, cols) = if cfg!(miri) { (16, 44) } else { (80, 3000) };
    let src = Array2::from_shape_fn((rows, cols), |(m, t)| (m * cols + t) as f32);
    let mut dst = Array2::<f32>::zeros((cols, rows));
    let (r, report) = ledger::scope(|| transpose_into(src.view(), dst.view_mut()));
    r.unwrap();
    assert_eq!(report.copies, 1);
    assert_eq!(report.bytes_copied, (rows * cols * 4) as u64);
    assert_eq!(report.copies_of(zc_buffers::ledger::CopyKind::Transpose), 1);
    assert_eq!(dst, src.t());
}

fn check_transpose<T: bytemuck::Pod + PartialEq + std::fmt::Debug>(src: ArrayView2<'_, T>) {
    let (r, c) = src.dim();
    let zero = T::zeroed();
    // row-major destination
    let mut dst = Array2::from_elem((c, r), zero);
    transpose_into(src, dst.view_mut()).unwrap();
    assert_eq!(dst.view(), src.t());
    // column-major destination (exercises the generic strided path)
    let mut dst_f = Array2::from_elem((c, r).f(), zero);
    transpose_into(src, dst_f.view_mut()).unwrap();
    assert_eq!(dst_f.view(), src.t());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn transpose_equals_naive_f32(r in 0usize..70, c in 0usize..70) {
        let a = Array2::from_shape_fn((r, c), |(i, j)| (i * 1000 + j) as f32);
        check_transpose(a.view());
        // a non-contiguous source: every other column of a wider array
        let wide = Array2::from_shape_fn((r, 2 * c), |(i, j)| (i * 1000 + j) as f32);
        check_transpose(wide.slice(ndarray::s![.., ..;2]));
    }

    #[test]
    fn transpose_equals_naive_across_column_chunks(r in 0usize..40, c in 500usize..1100, pad in 0usize..9) {
        // Wide sources cross the AVX2 kernel's 512-column chunks; a padded
        // source row stride and an offset start exercise unaligned rows.
        let wide = Array2::from_shape_fn((r, c + pad), |(i, j)| (i * 10_000 + j) as f32);
        check_transpose(wide.slice(ndarray::s![.., pad.min(1)..c + pad.min(1)]));
    }

    #[test]
    fn transpose_equals_naive_other_sizes(r in 0usize..40, c in 0usize..40) {
        check_transpose(Array2::from_shape_fn((r, c), |(i, j)| (i * 100 + j) as u8).view());
        check_transpose(Array2::from_shape_fn((r, c), |(i, j)| (i * 100 + j) as f64).view());
        check_transpose(Array2::from_shape_fn((r, c), |(i, j)| (i * 100 + j) as u16).view());
    }

    #[test]
    fn strided_views_equal_element_copies(
        rows in 1usize..12, cols in 1usize..12, pad in 0usize..5, col_step in 1usize..3,
    ) {
        let row_stride = cols * col_step + pad;
        let n = rows * row_stride;
        let b = filled(n);
        let v = b.view::<f32, _>((rows, cols), (row_stride, col_step)).unwrap();
        let data = b.as_slice::<f32>().unwrap();
        for i in 0..rows {
            for j in 0..cols {
                prop_assert_eq!(v[[i, j]], data[i * row_stride + j * col_step]);
            }
        }
        // and through the dynamic-rank path
        let d = view::<f32, _>(b.as_bytes(), IxDyn(&[rows, cols]), IxDyn(&[row_stride, col_step])).unwrap();
        prop_assert_eq!(d.into_dimensionality::<Ix2>().unwrap(), v);
    }

    #[test]
    fn mutable_views_write_where_copies_say(rows in 1usize..10, cols in 1usize..10) {
        let mut b = AlignedBuf::zeroed(rows * cols * 8).unwrap();
        {
            let bytes = zc_buffers::HostBufferMut::as_bytes_mut(&mut b);
            let mut v = view_mut::<f64, _>(bytes, Ix2(cols, rows), Ix2(1, cols)).unwrap(); // column-major view
            for i in 0..cols { for j in 0..rows { v[[i, j]] = (i * 100 + j) as f64; } }
        }
        let flat = b.as_slice::<f64>().unwrap();
        for i in 0..cols { for j in 0..rows {
            prop_assert_eq!(flat[j * cols + i], (i * 100 + j) as f64);
        }}
    }
}

#[test]
fn strides_beyond_isize_are_refused_even_for_empty_or_unit_axes() {
    let b = filled(16);
    for (shape, strides) in [
        ((1, 4), (usize::MAX, 1)),
        ((0, 4), (usize::MAX, 1)),
        ((2, 2), (1, 1 << 63)),
    ] {
        let r = b.view::<f32, _>(shape, strides);
        assert!(
            matches!(r, Err(BufferError::Overflow { .. })),
            "{shape:?} {strides:?}: {r:?}"
        );
    }
    // a huge but representable stride on an empty view addresses nothing
    let empty = b.view::<f32, _>((0, 4), (1, 1 << 62)).unwrap();
    assert_eq!(empty.len(), 0);
}

#[test]
fn transpose_of_byte_aligned_four_byte_elements_takes_the_safe_path() {
    // [u8; 4] is 4 bytes with alignment 1: the AVX2 u32 kernel must not see it
    let bytes = vec![7u8; 4 * 81 + 1];
    let src = view::<[u8; 4], _>(&bytes[1..], Ix2(9, 9), Ix2(9, 1)).unwrap();
    let mut dst = Array2::from_elem((9, 9), [0u8; 4]);
    transpose_into(src, dst.view_mut()).unwrap();
    assert_eq!(dst.view(), src.t());
}
