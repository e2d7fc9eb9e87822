//! Every available kernel level against the portable scalar kernel.

use proptest::prelude::*;
use zc_hv16::kernels::{self, Kernel, Level, MAX_TILE};
use zc_hv16::{HV16, HvError};

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
fn levels_report_and_parse() {
    assert!(Level::Scalar.is_available());
    assert!(Level::best().is_available());
    assert!(Level::available().any(|l| l == Level::best()));
    for l in Level::ALL {
        assert_eq!(l.name().parse::<Level>().unwrap(), l);
        assert_eq!(Kernel::new(l).is_ok(), l.is_available());
        if !l.is_available() {
            assert!(matches!(Kernel::new(l), Err(HvError::LevelUnavailable { .. })));
            assert!(kernels::force_level(Some(l)).is_err());
        }
    }
    assert!(matches!("neon9".parse::<Level>(), Err(HvError::UnknownLevel { .. })));
    eprintln!(
        "available levels: {:?}, best {}",
        Level::available().collect::<Vec<_>>(),
        Level::best()
    );
}

#[test]
fn forcing_a_level_changes_the_active_kernel() {
    // Only this test touches the process-wide setting, and every level gives
    // the same answers, so other tests running meanwhile are unaffected.
    let (a, b) = (HV16::random(1), HV16::random(2));
    for l in Level::available() {
        kernels::force_level(Some(l)).unwrap();
        assert_eq!(kernels::active_level(), l);
        assert_eq!(a.hamming(&b), reference(&a, &b));
    }
    kernels::force_level(None).unwrap();
    assert!(kernels::active_level().is_available());
}

#[test]
fn output_length_is_checked() {
    let db: Vec<HV16> = (0..5).map(HV16::random).collect();
    let k = Kernel::active();
    let mut out = vec![0u32; 4];
    assert!(matches!(
        k.distances(&db[0], &db, &mut out),
        Err(HvError::OutputLength { expected: 5, actual: 4 })
    ));
    assert!(matches!(
        k.distances_multi(&db[..2], &db, &mut out),
        Err(HvError::OutputLength {
            expected: 10,
            actual: 4
        })
    ));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn hamming_every_level_equals_scalar(a in hv_any(), b in hv_any()) {
        let want = reference(&a, &b);
        for l in Level::available() {
            prop_assert_eq!(Kernel::new(l).unwrap().hamming(&a, &b), want, "level {}", l);
        }
    }

    #[test]
    fn distances_and_tiles_every_level_equal_scalar(
        seed in any::<u64>(),
        n in 0usize..40,
        nq in 1usize..(2 * MAX_TILE + 3),
    ) {
        let db: Vec<HV16> = (0..n as u64).map(|i| HV16::random(seed ^ i).flip_bits(i as usize * 37, i)).collect();
        let qs: Vec<HV16> = (0..nq as u64).map(|i| HV16::random(seed.wrapping_add(1000 + i))).collect();
        let scalar = Kernel::scalar();
        let mut want = vec![0u32; n];
        scalar.distances(&qs[0], &db, &mut want).unwrap();
        for (w, v) in want.iter().zip(&db) {
            prop_assert_eq!(*w, reference(&qs[0], v));
        }
        let mut want_multi = vec![0u32; n * nq];
        scalar.distances_multi(&qs, &db, &mut want_multi).unwrap();
        for i in 0..n {
            for q in 0..nq {
                prop_assert_eq!(want_multi[i * nq + q], reference(&qs[q], &db[i]));
            }
        }
        for l in Level::available() {
            let k = Kernel::new(l).unwrap();
            let mut got = vec![u32::MAX; n];
            k.distances(&qs[0], &db, &mut got).unwrap();
            prop_assert_eq!(&got, &want, "level {}", l);
            let mut got_multi = vec![u32::MAX; n * nq];
            k.distances_multi(&qs, &db, &mut got_multi).unwrap();
            prop_assert_eq!(&got_multi, &want_multi, "level {}", l);
            prop_assert_eq!(k.xor_all(&db), scalar.xor_all(&db), "level {}", l);
        }
    }
}
