//! Every available SIMD level against the portable kernel; the output forms.

use proptest::prelude::*;
use zc_buffers::ndarray::Array2;
use zc_buffers::{AlignedBuf, BufferError, HostBufferExt, SimdLevel};
use zc_hv16::{HV16, Hamming, HvError, MAX_TILE};

fn reference(a: &HV16, b: &HV16) -> u32 {
    a.words.iter().zip(&b.words).map(|(x, y)| (x ^ y).count_ones()).sum()
}

/// Vectors with structure the random ones lack: runs of zeros, all ones.
fn hv_any() -> impl Strategy<Value = HV16> {
    prop_oneof![
        any::<u64>().prop_map(HV16::random),
        Just(HV16::zero()),
        Just(HV16::ones()),
        (any::<u64>(), 0usize..2048).prop_map(|(s, n)| HV16::zero().flip_bits(n, s)),
    ]
}

#[test]
fn levels_are_the_workspace_simd_levels() {
    assert_eq!(Hamming::portable().simd_level(), SimdLevel::Portable);
    let best = Hamming::detect();
    assert!(best.simd_level().is_available());
    assert!(Hamming::LEVELS.contains(&best.simd_level()));
    assert!(Hamming::available().any(|h| h == best));
    for l in SimdLevel::ALL {
        let ok = Hamming::LEVELS.contains(&l) && l.is_available();
        match Hamming::new(l) {
            Ok(h) => {
                assert!(ok, "{l}");
                assert_eq!(h.simd_level(), l);
            }
            Err(HvError::Buffer(BufferError::SimdUnavailable { level })) => {
                assert!(!ok, "{l}");
                assert_eq!(level, l);
            }
            Err(e) => panic!("{l}: unexpected {e}"),
        }
    }
    // plain AVX-512 without VPOPCNTDQ has no kernel here, even where the CPU has it
    assert!(Hamming::new(SimdLevel::Avx512).is_err());
    eprintln!(
        "available: {:?}, detected {}",
        Hamming::available().map(|h| h.simd_level()).collect::<Vec<_>>(),
        best.simd_level()
    );
}

#[test]
fn outputs_too_small_are_refused_and_larger_ones_get_a_prefix() {
    let db: Vec<HV16> = (0..5).map(HV16::random).collect();
    let h = Hamming::detect();
    let mut out = vec![7u32; 4];
    assert!(matches!(
        h.distances_into_slice(&db[0], &db, &mut out),
        Err(HvError::Buffer(BufferError::OutputTooSmall {
            needed: 5,
            actual: 4,
            ..
        }))
    ));
    assert_eq!(out, [7; 4], "nothing written");
    assert!(matches!(
        h.distances_batch_into_slice(&db[..2], &db, &mut out),
        Err(HvError::Buffer(BufferError::OutputTooSmall {
            needed: 10,
            actual: 4,
            ..
        }))
    ));
    let mut big = vec![7u32; 8];
    assert_eq!(h.distances_into_slice(&db[1], &db, &mut big).unwrap(), 5);
    assert_eq!(big[1], 0);
    assert_eq!(&big[5..], &[7, 7, 7]);
}

#[test]
fn three_output_forms_agree() {
    let db: Vec<HV16> = (0..37).map(HV16::random).collect();
    let qs: Vec<HV16> = (0..3).map(|i| db[i * 10].flip_bits(9, i as u64)).collect();
    for h in Hamming::available() {
        let mut want = vec![0u32; 37 * 3];
        assert_eq!(h.distances_batch_into_slice(&qs, &db, &mut want).unwrap(), 111);
        // a host buffer larger than the result
        let mut buf = AlignedBuf::zeroed(4 * 200).unwrap();
        assert_eq!(h.distances_batch_into(&qs, &db, &mut buf).unwrap(), 111);
        assert_eq!(&buf.as_slice::<u32>().unwrap()[..111], &want[..]);
        // a db.len() × queries.len() array view
        let mut a = Array2::<u32>::zeros((37, 3));
        assert_eq!(h.distances_batch_into_view(&qs, &db, a.view_mut()).unwrap(), 111);
        assert_eq!(a.as_slice().unwrap(), &want[..]);
        assert_eq!(a[[20, 2]], 9);
        // single query
        let mut one = Array2::<u32>::zeros((1, 37));
        assert_eq!(h.distances_into_view(&qs[1], &db, one.view_mut()).unwrap(), 37);
        let mut buf = AlignedBuf::zeroed(4 * 37).unwrap();
        assert_eq!(h.distances_into(&qs[1], &db, &mut buf).unwrap(), 37);
        for i in 0..37 {
            assert_eq!(one[[0, i]], want[i * 3 + 1]);
            assert_eq!(buf.as_slice::<u32>().unwrap()[i], want[i * 3 + 1]);
        }
        // a strided view is refused
        let mut wide = Array2::<u32>::zeros((37, 6));
        let strided = wide.slice_mut(zc_buffers::ndarray::s![.., ..3]);
        assert!(matches!(
            h.distances_batch_into_view(&qs, &db, strided),
            Err(HvError::Buffer(BufferError::NotContiguous { .. }))
        ));
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn hamming_every_level_equals_portable(a in hv_any(), b in hv_any()) {
        let want = reference(&a, &b);
        prop_assert_eq!(a.hamming(&b), want);
        for h in Hamming::available() {
            prop_assert_eq!(h.hamming(&a, &b), want, "level {}", h.simd_level());
        }
    }

    #[test]
    fn distances_and_tiles_every_level_equal_portable(
        seed in any::<u64>(),
        n in 0usize..40,
        nq in 1usize..(2 * MAX_TILE + 3),
    ) {
        let db: Vec<HV16> = (0..n as u64).map(|i| HV16::random(seed ^ i).flip_bits(i as usize * 37, i)).collect();
        let qs: Vec<HV16> = (0..nq as u64).map(|i| HV16::random(seed.wrapping_add(1000 + i))).collect();
        let portable = Hamming::portable();
        let mut want = vec![0u32; n];
        portable.distances_into_slice(&qs[0], &db, &mut want).unwrap();
        for (w, v) in want.iter().zip(&db) {
            prop_assert_eq!(*w, reference(&qs[0], v));
        }
        let mut want_multi = vec![0u32; n * nq];
        portable.distances_batch_into_slice(&qs, &db, &mut want_multi).unwrap();
        for i in 0..n {
            for q in 0..nq {
                prop_assert_eq!(want_multi[i * nq + q], reference(&qs[q], &db[i]));
            }
        }
        for h in Hamming::available() {
            let mut got = vec![u32::MAX; n];
            h.distances_into_slice(&qs[0], &db, &mut got).unwrap();
            prop_assert_eq!(&got, &want, "level {}", h.simd_level());
            let mut got_multi = vec![u32::MAX; n * nq];
            h.distances_batch_into_slice(&qs, &db, &mut got_multi).unwrap();
            prop_assert_eq!(&got_multi, &want_multi, "level {}", h.simd_level());
            prop_assert_eq!(h.xor_all(&db), portable.xor_all(&db), "level {}", h.simd_level());
        }
    }
}
