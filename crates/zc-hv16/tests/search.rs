//! Search results against a brute-force reference, for every kernel level.

use proptest::prelude::*;
use zc_buffers::ndarray::Array2;
use zc_buffers::{AlignedBuf, BufferError, HostBufferExt};
use zc_hv16::{HV16, Hamming, Hit, HvError};

/// All hits sorted by (distance, index).
fn brute(db: &[HV16], q: &HV16) -> Vec<Hit> {
    let mut all: Vec<Hit> = db
        .iter()
        .enumerate()
        .map(|(index, v)| Hit::new(q.bind(v).count_ones(), index))
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
    let h = Hamming::detect();
    assert!(matches!(
        h.top_k_into_slice(&q, &[], 1, &mut [Hit::default()]),
        Err(HvError::Empty)
    ));
    assert!(matches!(
        h.top_k_into_slice(&q, &db, 0, &mut []),
        Err(HvError::InvalidK { k: 0, n: 10 })
    ));
    assert!(matches!(h.top_k(&q, &db, 11), Err(HvError::InvalidK { k: 11, n: 10 })));
    assert!(matches!(h.cleanup(&q, &[]), Err(HvError::Empty)));
    assert!(matches!(h.range(&q, &[], 3), Err(HvError::Empty)));
    let mut out = vec![Hit::new(9, 9); 3];
    assert!(matches!(
        h.top_k_batch_into_slice(&[q, q], &db, 2, &mut out),
        Err(HvError::Buffer(BufferError::OutputTooSmall {
            needed: 4,
            actual: 3,
            ..
        }))
    ));
    assert!(matches!(
        h.top_k_into_slice(&q, &db, 4, &mut out),
        Err(HvError::Buffer(BufferError::OutputTooSmall { needed: 4, .. }))
    ));
    assert!(matches!(
        h.top_k_par_into_slice(&q, &db, 4, 2, &mut out),
        Err(HvError::Buffer(BufferError::OutputTooSmall { needed: 4, .. }))
    ));
    assert_eq!(out, [Hit::new(9, 9); 3], "nothing written");
    assert!(matches!(
        h.top_k_batch_into_slice(&[q], &db, 0, &mut []),
        Err(HvError::InvalidK { .. })
    ));
    // no queries: nothing to do
    assert_eq!(h.top_k_batch_into_slice(&[], &db, 2, &mut []).unwrap(), 0);
}

#[test]
fn cleanup_finds_noisy_member_at_the_exact_distance() {
    let db: Vec<HV16> = (0..1000).map(HV16::random).collect();
    for (i, p) in [(0usize, 0.0), (17, 0.1), (999, 0.3)] {
        let hit = Hamming::detect().cleanup(&db[i].flip(p, 5), &db).unwrap();
        assert_eq!(hit.index, i);
        assert_eq!(hit.distance, (p * 2048.0_f64).round() as u32);
    }
}

#[test]
fn parallel_scan_over_many_parts_matches_serial() {
    let db: Vec<HV16> = (0..3000).map(|i| HV16::random(i % 700)).collect(); // many ties
    let q = HV16::random(3);
    let want = brute(&db, &q);
    for threads in [0, 1, 2, 3, 7] {
        let mut out = vec![Hit::default(); 25];
        let n = Hamming::detect()
            .top_k_par_into_slice(&q, &db, 25, threads, &mut out)
            .unwrap();
        assert_eq!(n, 25);
        assert_eq!(&out[..], &want[..25], "threads {threads}");
    }
}

/// Query tiles spread over threads give exactly the one-thread batch and
/// the per-query brute force, whatever the thread count (1 tile: inline).
#[test]
fn parallel_batch_over_query_tiles_matches_serial() {
    let db: Vec<HV16> = (0..2500).map(|i| HV16::random(i % 500)).collect(); // many ties
    let k = 7;
    for m in [1, 8, 9, 37] {
        let queries: Vec<HV16> = (0..m).map(|i| HV16::random(10_000 + i as u64)).collect();
        let mut want = Vec::new();
        for q in &queries {
            want.extend_from_slice(&brute(&db, q)[..k]);
        }
        let h = Hamming::detect();
        let mut one = vec![Hit::default(); m * k];
        h.top_k_batch_into_slice(&queries, &db, k, &mut one).unwrap();
        assert_eq!(one, want, "{m} queries, one thread");
        for threads in [0, 1, 2, 3, 7] {
            let mut out = vec![Hit::default(); m * k + 3];
            let n = h
                .top_k_batch_par_into_slice(&queries, &db, k, threads, &mut out)
                .unwrap();
            assert_eq!(n, m * k);
            assert_eq!(&out[..n], &want[..], "{m} queries, {threads} threads");
            assert_eq!(out[n..], [Hit::default(); 3]); // a larger output: only the prefix
        }
    }
    let mut small = vec![Hit::default(); 10];
    assert!(matches!(
        Hamming::detect().top_k_batch_par_into_slice(&[HV16::random(1); 2], &db, 7, 2, &mut small),
        Err(HvError::Buffer(BufferError::OutputTooSmall { .. }))
    ));
}

#[test]
fn top_k_output_forms_agree_and_larger_outputs_get_a_prefix() {
    let db: Vec<HV16> = (0..500).map(|i| HV16::random(i % 97)).collect();
    let qs: Vec<HV16> = (0..3).map(|i| HV16::random(i).flip_bits(40, i)).collect();
    let want: Vec<Vec<Hit>> = qs.iter().map(|q| brute(&db, q)).collect();
    for h in Hamming::available() {
        // slice larger than k: prefix written, the rest untouched
        let mut big = vec![Hit::new(1, 1); 12];
        assert_eq!(h.top_k_into_slice(&qs[0], &db, 10, &mut big).unwrap(), 10);
        assert_eq!(&big[..10], &want[0][..10]);
        assert_eq!(&big[10..], &[Hit::new(1, 1); 2]);
        // host buffer
        let mut buf = AlignedBuf::zeroed(16 * std::mem::size_of::<Hit>()).unwrap();
        assert_eq!(h.top_k_into(&qs[0], &db, 10, &mut buf).unwrap(), 10);
        assert_eq!(&buf.as_slice::<Hit>().unwrap()[..10], &want[0][..10]);
        assert_eq!(h.top_k_par_into(&qs[0], &db, 10, 2, &mut buf).unwrap(), 10);
        assert_eq!(&buf.as_slice::<Hit>().unwrap()[..10], &want[0][..10]);
        // array view, queries × k
        let mut a = Array2::<Hit>::default((3, 5));
        assert_eq!(h.top_k_batch_into_view(&qs, &db, 5, a.view_mut()).unwrap(), 15);
        for (qi, row) in a.rows().into_iter().enumerate() {
            assert_eq!(row.to_vec(), want[qi][..5].to_vec(), "query {qi}");
        }
        let mut one = Array2::<Hit>::default((1, 5));
        assert_eq!(h.top_k_into_view(&qs[2], &db, 5, one.view_mut()).unwrap(), 5);
        assert_eq!(one.as_slice().unwrap(), &want[2][..5]);
        let mut buf = AlignedBuf::zeroed(15 * std::mem::size_of::<Hit>()).unwrap();
        assert_eq!(h.top_k_batch_into(&qs, &db, 5, &mut buf).unwrap(), 15);
        assert_eq!(buf.as_slice::<Hit>().unwrap(), a.as_slice().unwrap());
        // range forms
        let mut r = Array2::<Hit>::default((1, 400));
        let total = h.range_into_view(&qs[1], &db, 1000, r.view_mut()).unwrap();
        assert_eq!(
            r.as_slice().unwrap()[..total.min(400)],
            h.range(&qs[1], &db, 1000).unwrap()[..total.min(400)]
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    #[test]
    fn top_k_matches_brute_force((db, seed) in db_strategy(), k_frac in 0.0f64..1.0) {
        let q = HV16::random(seed).flip_bits(3, seed);
        let want = brute(&db, &q);
        let k = 1 + ((db.len() - 1) as f64 * k_frac * k_frac) as usize;
        for h in Hamming::available() {
            let l = h.simd_level();
            let mut out = vec![Hit::default(); k];
            h.top_k_into_slice(&q, &db, k, &mut out).unwrap();
            prop_assert_eq!(&out[..], &want[..k], "level {}", l);
            prop_assert_eq!(h.top_k(&q, &db, k).unwrap(), out.clone());
            prop_assert_eq!(h.cleanup(&q, &db).unwrap(), want[0]);
            let mut par = vec![Hit::default(); k];
            h.top_k_par_into_slice(&q, &db, k, 2, &mut par).unwrap();
            prop_assert_eq!(&par[..], &want[..k]);
        }
    }

    #[test]
    fn batch_matches_single_queries((db, seed) in db_strategy(), nq in 1usize..20, k in 1usize..8) {
        let k = k.min(db.len());
        let qs: Vec<HV16> = (0..nq as u64).map(|i| HV16::random(seed).flip_bits(i as usize * 3, i)).collect();
        for h in Hamming::available() {
            let l = h.simd_level();
            let mut out = vec![Hit::default(); nq * k];
            h.top_k_batch_into_slice(&qs, &db, k, &mut out).unwrap();
            for (qi, q) in qs.iter().enumerate() {
                let want = brute(&db, q);
                prop_assert_eq!(&out[qi * k..(qi + 1) * k], &want[..k], "level {} query {}", l, qi);
            }
        }
    }

    /// Batches across many 64-vector blocks with `k` up to past a block,
    /// partial tiles and tie-heavy data: the running thresholds reject rows
    /// only when no query's result can change (equal distances keep the lower
    /// index, as in a full sort).
    #[test]
    fn batch_thresholds_keep_exact_order(
        seed in any::<u64>(),
        blocks in 1usize..6,
        extra in 0usize..3,
        nq in 1usize..19,
        k in 1usize..80,
    ) {
        let n = blocks * 64 + extra - 1;
        let base = HV16::random(seed);
        let db: Vec<HV16> = (0..n as u64)
            .map(|i| match i % 3 {
                0 => base.flip_bits((i % 7) as usize, i % 2), // few distinct distances, many ties
                1 => HV16::random(seed ^ i),
                _ => base.flip_bits(((n as u64 - i) % 40) as usize, 9),
            })
            .collect();
        let k = k.min(n);
        let qs: Vec<HV16> = (0..nq as u64).map(|i| base.flip_bits(i as usize, i + 3)).collect();
        for h in Hamming::available() {
            let mut out = vec![Hit::default(); nq * k];
            h.top_k_batch_into_slice(&qs, &db, k, &mut out).unwrap();
            for (qi, q) in qs.iter().enumerate() {
                let want = brute(&db, q);
                prop_assert_eq!(&out[qi * k..(qi + 1) * k], &want[..k], "level {} query {}", h.simd_level(), qi);
            }
        }
    }

    #[test]
    fn range_matches_brute_force((db, seed) in db_strategy(), radius in 0u32..1100, cap in 0usize..50) {
        let q = HV16::random(seed);
        let mut want: Vec<Hit> = brute(&db, &q).into_iter().filter(|h| h.distance <= radius).collect();
        want.sort_by_key(|h| h.index);
        for h in Hamming::available() {
            let mut out = vec![Hit::default(); cap];
            let total = h.range_into_slice(&q, &db, radius, &mut out).unwrap();
            prop_assert_eq!(total, want.len());
            let shown = cap.min(total);
            prop_assert_eq!(&out[..shown], &want[..shown]);
        }
        prop_assert_eq!(Hamming::detect().range(&q, &db, radius).unwrap(), want);
    }
}
