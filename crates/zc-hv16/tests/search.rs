//! Search results against a brute-force reference, for every kernel level.

use proptest::prelude::*;
use zc_hv16::kernels::{Kernel, Level};
use zc_hv16::search::{self, Hit};
use zc_hv16::{HV16, HvError};

/// All hits sorted by (distance, index).
fn brute(db: &[HV16], q: &HV16) -> Vec<Hit> {
    let mut all: Vec<Hit> = db
        .iter()
        .enumerate()
        .map(|(index, v)| Hit {
            distance: q.bind(v).count_ones(),
            index,
        })
        .collect();
    all.sort();
    all
}

/// A database with many near-duplicates and exact ties.
fn db_strategy() -> impl Strategy<Value = (Vec<HV16>, u64)> {
    (1usize..600, any::<u64>()).prop_map(|(n, seed)| {
        let base = HV16::random(seed);
        let db = (0..n as u64)
            .map(|i| match i % 4 {
                0 => HV16::random(seed ^ (i * 7919)),
                1 => base.flip_bits((i % 50) as usize, i),
                2 => base.flip_bits(10, i % 3), // exact duplicates -> ties
                _ => base.flip_bits((i % 300) as usize, i + 1),
            })
            .collect();
        (db, seed)
    })
}

#[test]
fn errors_for_bad_k_and_empty_input() {
    let db: Vec<HV16> = (0..10).map(HV16::random).collect();
    let q = HV16::random(1);
    assert!(matches!(
        search::top_k_into(&[], &q, &mut [Hit::default()]),
        Err(HvError::Empty)
    ));
    assert!(matches!(
        search::top_k_into(&db, &q, &mut []),
        Err(HvError::InvalidK { k: 0, n: 10 })
    ));
    assert!(matches!(
        search::top_k(&db, &q, 11),
        Err(HvError::InvalidK { k: 11, n: 10 })
    ));
    assert!(matches!(search::cleanup(&[], &q), Err(HvError::Empty)));
    assert!(matches!(search::range(&[], &q, 3), Err(HvError::Empty)));
    let mut out = vec![Hit::default(); 3];
    assert!(matches!(
        search::top_k_batch_into(&db, &[q, q], 2, &mut out),
        Err(HvError::OutputLength { expected: 4, actual: 3 })
    ));
    assert!(matches!(
        search::top_k_batch_into(&db, &[q], 0, &mut []),
        Err(HvError::InvalidK { .. })
    ));
    assert!(matches!(
        search::top_k_par_into(&db, &q, &mut out, 0),
        Err(HvError::ZeroThreads)
    ));
    // no queries: nothing to do
    search::top_k_batch_into(&db, &[], 2, &mut []).unwrap();
}

#[test]
fn cleanup_finds_noisy_member_at_the_exact_distance() {
    let db: Vec<HV16> = (0..1000).map(HV16::random).collect();
    for (i, p) in [(0usize, 0.0), (17, 0.1), (999, 0.3)] {
        let hit = search::cleanup(&db, &db[i].flip(p, 5)).unwrap();
        assert_eq!(hit.index, i);
        assert_eq!(hit.distance, (p * 2048.0_f64).round() as u32);
    }
}

#[test]
fn parallel_scan_over_many_parts_matches_serial() {
    let db: Vec<HV16> = (0..3000).map(|i| HV16::random(i % 700)).collect(); // many ties
    let q = HV16::random(3);
    let want = brute(&db, &q);
    for threads in [1, 2, 3, 7] {
        let mut out = vec![Hit::default(); 25];
        search::top_k_par_into(&db, &q, &mut out, threads).unwrap();
        assert_eq!(&out[..], &want[..25], "threads {threads}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    #[test]
    fn top_k_matches_brute_force((db, seed) in db_strategy(), k_frac in 0.0f64..1.0) {
        let q = HV16::random(seed).flip_bits(3, seed);
        let want = brute(&db, &q);
        let k = 1 + ((db.len() - 1) as f64 * k_frac * k_frac) as usize;
        for l in Level::available() {
            let kern = Kernel::new(l).unwrap();
            let mut out = vec![Hit::default(); k];
            kern.top_k_into(&db, &q, &mut out).unwrap();
            prop_assert_eq!(&out[..], &want[..k], "level {}", l);
            prop_assert_eq!(kern.cleanup(&db, &q).unwrap(), want[0]);
            let mut par = vec![Hit::default(); k];
            kern.top_k_par_into(&db, &q, &mut par, 2).unwrap();
            prop_assert_eq!(&par[..], &want[..k]);
        }
    }

    #[test]
    fn batch_matches_single_queries((db, seed) in db_strategy(), nq in 1usize..20, k in 1usize..8) {
        let k = k.min(db.len());
        let qs: Vec<HV16> = (0..nq as u64).map(|i| HV16::random(seed).flip_bits(i as usize * 3, i)).collect();
        for l in Level::available() {
            let kern = Kernel::new(l).unwrap();
            let mut out = vec![Hit::default(); nq * k];
            kern.top_k_batch_into(&db, &qs, k, &mut out).unwrap();
            for (qi, q) in qs.iter().enumerate() {
                let want = brute(&db, q);
                prop_assert_eq!(&out[qi * k..(qi + 1) * k], &want[..k], "level {} query {}", l, qi);
            }
        }
    }

    #[test]
    fn range_matches_brute_force((db, seed) in db_strategy(), radius in 0u32..1100, cap in 0usize..50) {
        let q = HV16::random(seed);
        let mut want: Vec<Hit> = brute(&db, &q).into_iter().filter(|h| h.distance <= radius).collect();
        want.sort_by_key(|h| h.index);
        for l in Level::available() {
            let kern = Kernel::new(l).unwrap();
            let mut out = vec![Hit::default(); cap];
            let total = kern.range_into(&db, &q, radius, &mut out).unwrap();
            prop_assert_eq!(total, want.len());
            let shown = cap.min(total);
            prop_assert_eq!(&out[..shown], &want[..shown]);
        }
        prop_assert_eq!(search::range(&db, &q, radius).unwrap(), want);
    }
}
