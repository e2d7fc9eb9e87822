//! Algebra laws, golden vectors and constructors of `HV16`.

use proptest::prelude::*;
use zc_hv16::{Bundler, DIM, HV16, HvError, LevelEncoder, bundle};
use zc_hv16::{fnv1a64, splitmix64};

fn hv() -> impl Strategy<Value = HV16> {
    any::<u64>().prop_map(HV16::random)
}

/// Frozen outputs of `HV16::random` (cross-checked with an independent Python
/// SplitMix64): first, second and last word, popcount, FNV-1a of the LE bytes.
#[test]
fn golden_random_vectors() {
    let golden: [(u64, u64, u64, u64, u32, u64); 4] = [
        (
            0,
            0xe220a8397b1dcdaf,
            0x6e789e6aa1b965f4,
            0x377d35dea8e40225,
            1003,
            0xd9592a864cf6dc08,
        ),
        (
            1,
            0x910a2dec89025cc1,
            0xbeeb8da1658eec67,
            0x962b1967c90789ba,
            1037,
            0x1facc0f462c6232e,
        ),
        (
            42,
            0xbdd732262feb6e95,
            0x28efe333b266f103,
            0xd72c1692509d2c5e,
            1051,
            0x58ec3940bf8dab7a,
        ),
        (
            0xDEADBEEF,
            0x4adfb90f68c9eb9b,
            0xde586a3141a10922,
            0xba770fc50b85cb64,
            1033,
            0xeb59a582134903bd,
        ),
    ];
    for (seed, w0, w1, w31, ones, hash) in golden {
        let v = HV16::random(seed);
        assert_eq!(v.words[0], w0, "seed {seed}");
        assert_eq!(v.words[1], w1, "seed {seed}");
        assert_eq!(v.words[31], w31, "seed {seed}");
        assert_eq!(v.count_ones(), ones, "seed {seed}");
        assert_eq!(fnv1a64(&v.to_le_bytes()), hash, "seed {seed}");
    }
    let mut s = 0;
    assert_eq!(splitmix64(&mut s), 0xe220a8397b1dcdaf);
    let k = HV16::from_key(b"apple");
    assert_eq!(k.words[0], 0x60488ffcc096aff0);
    assert_eq!(k.words[31], 0xf6941db01a8ced50);
}

#[test]
fn bit_layout_is_word_then_bit_little_endian() {
    let mut v = HV16::zero();
    v.set_bit(0, true);
    v.set_bit(65, true);
    v.set_bit(2047, true);
    assert_eq!(v.words[0], 1);
    assert_eq!(v.words[1], 2);
    assert_eq!(v.words[31], 1 << 63);
    let b = v.to_le_bytes();
    assert_eq!(b[0], 1);
    assert_eq!(b[8], 2);
    assert_eq!(b[255], 0x80);
    assert_eq!(HV16::from_le_bytes(&b), v);
    assert!(v.bit(65) && !v.bit(64));
    assert_eq!(std::mem::size_of::<HV16>(), 256);
    assert_eq!(std::mem::align_of::<HV16>(), 64);
}

#[test]
fn constants() {
    assert_eq!(HV16::zero().count_ones(), 0);
    assert_eq!(HV16::ones().count_ones(), 2048);
    assert_eq!(HV16::zero().hamming(&HV16::ones()), 2048);
    assert_eq!(HV16::random(5).invert(), HV16::random(5).bind(&HV16::ones()));
    assert_eq!(HV16::random(5).similarity(&HV16::random(5).invert()), 0.0);
}

#[test]
fn random_vectors_are_near_half_apart() {
    let vs: Vec<HV16> = (0..64).map(HV16::random).collect();
    let mut total = 0u64;
    let mut pairs = 0u64;
    for i in 0..vs.len() {
        for j in i + 1..vs.len() {
            let d = vs[i].hamming(&vs[j]);
            // 2048 fair coins: sd ≈ 22.6; 8 sd is far beyond any seed here.
            assert!((1024 - 180..=1024 + 180).contains(&d), "{i} {j} {d}");
            total += u64::from(d);
            pairs += 1;
        }
    }
    let mean = total as f64 / pairs as f64;
    assert!((mean - 1024.0).abs() < 8.0, "mean {mean}");
    let sim = vs[0].similarity(&vs[1]);
    assert!((sim - 0.5).abs() < 0.09);
}

#[test]
fn misaligned_and_ragged_byte_slices_are_errors() {
    let buf = zc_buffers::AlignedBuf::zeroed(4 * 256 + 64).unwrap();
    assert_eq!(HV16::cast_slice(&buf[..512]).unwrap().len(), 2);
    assert!(matches!(
        HV16::cast_slice(&buf[8..8 + 512]),
        Err(HvError::Buffer(zc_buffers::BufferError::Misaligned { .. }))
    ));
    assert!(matches!(
        HV16::cast_slice(&buf[..300]),
        Err(HvError::Buffer(zc_buffers::BufferError::LengthNotMultiple { .. }))
    ));
}

#[test]
fn thermometer_and_levels() {
    assert_eq!(HV16::thermometer(0, 5).unwrap(), HV16::zero());
    assert_eq!(HV16::thermometer(4, 5).unwrap(), HV16::ones());
    assert_eq!(HV16::thermometer(2, 5).unwrap().count_ones(), 1024);
    let n = 9;
    let lv: Vec<HV16> = (0..n).map(|i| HV16::level(i, n, 77).unwrap()).collect();
    assert_eq!(lv[0], HV16::random(77));
    for i in 0..n {
        for j in 0..n {
            // exactly |i - j| * 128 bits apart (1024 / 8 per step)
            assert_eq!(lv[i].hamming(&lv[j]) as usize, i.abs_diff(j) * 128, "{i} {j}");
        }
    }
    assert!(matches!(HV16::level(3, 3, 0), Err(HvError::LevelOutOfRange { .. })));
    assert!(matches!(HV16::level(0, 1, 0), Err(HvError::LevelOutOfRange { .. })));
    assert!(HV16::thermometer(5, 5).is_err());
}

#[test]
fn level_encoder() {
    let enc = LevelEncoder::new(11, -1.0, 1.0, 3).unwrap();
    assert_eq!(enc.n_levels(), 11);
    assert_eq!(enc.index(-1.0).unwrap(), 0);
    assert_eq!(enc.index(1.0).unwrap(), 10);
    assert_eq!(enc.index(0.0).unwrap(), 5);
    assert_eq!(enc.index(-50.0).unwrap(), 0);
    assert_eq!(enc.index(f64::INFINITY).unwrap(), 10);
    assert!(matches!(enc.index(f64::NAN), Err(HvError::NotANumber)));
    assert_eq!(enc.encode(0.19).unwrap(), &enc.levels()[6]);
    let near = enc.encode(0.0).unwrap().hamming(enc.encode(0.2).unwrap());
    let far = enc.encode(-1.0).unwrap().hamming(enc.encode(1.0).unwrap());
    assert!(near < far);
    assert_eq!(far, 1024);
    assert!(matches!(
        LevelEncoder::new(11, 1.0, 1.0, 0),
        Err(HvError::InvalidRange { .. })
    ));
    assert!(matches!(
        LevelEncoder::new(11, f64::NAN, 1.0, 0),
        Err(HvError::InvalidRange { .. })
    ));
    assert!(matches!(
        LevelEncoder::new(1, 0.0, 1.0, 0),
        Err(HvError::LevelOutOfRange { .. })
    ));
}

#[test]
fn flip_distance_is_exact() {
    let v = HV16::random(9);
    assert_eq!(v.flip(0.1, 1).hamming(&v), 205);
    assert_eq!(v.flip(0.0, 1), v);
    assert_eq!(v.flip(1.0, 1), v.invert());
    assert_eq!(v.flip(f64::NAN, 1), v);
    assert_eq!(v.flip(7.0, 1), v.invert());
    assert_eq!(v.flip_bits(5000, 2), v.invert());
    assert_ne!(v.flip(0.1, 1), v.flip(0.1, 2));
    assert_eq!(v.flip(0.1, 1), v.flip(0.1, 1));
}

#[test]
fn bundle_ties_are_deterministic_and_use_the_tie_vector() {
    let (a, b) = (HV16::random(1), HV16::random(2));
    let tie = HV16::random(99);
    let mut bd = Bundler::new();
    bd.add(&a);
    bd.add(&b);
    let out = bd.finish_with_tiebreak(&tie);
    for i in 0..DIM {
        let expect = if a.bit(i) == b.bit(i) { a.bit(i) } else { tie.bit(i) };
        assert_eq!(out.bit(i), expect, "bit {i}");
    }
    assert_eq!(bd.finish(), bd.clone().finish());
    assert_eq!(bundle(&[]), Bundler::new().finish());
    assert_eq!(bd.weight(), 2);
}

#[test]
fn bundle_is_similar_to_its_members() {
    let vs: Vec<HV16> = (0..7).map(HV16::random).collect();
    let s = bundle(&vs);
    for v in &vs {
        assert!(s.similarity(v) > 0.6, "{}", s.similarity(v));
    }
    assert!(s.similarity(&HV16::random(1000)) < 0.6);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn bind_is_self_inverse_and_commutative(a in hv(), b in hv()) {
        prop_assert_eq!(a.bind(&b).bind(&b), a);
        prop_assert_eq!(a.bind(&b), b.bind(&a));
        prop_assert_eq!(a.unbind(&b), a.bind(&b));
        let mut c = a;
        c.bind_assign(&b);
        let mut d = HV16::zero();
        a.bind_into(&b, &mut d);
        prop_assert_eq!(c, d);
        c.unbind_assign(&b);
        prop_assert_eq!(c, a);
        // binding preserves distances
        let k = HV16::random(7);
        prop_assert_eq!(a.bind(&k).hamming(&b.bind(&k)), a.hamming(&b));
    }

    #[test]
    fn permute_inverse_and_bit_mapping(a in hv(), k in 0usize..5000) {
        let p = a.permute(k);
        prop_assert_eq!(p.inverse_permute(k), a);
        prop_assert_eq!(p.count_ones(), a.count_ones());
        for i in [0usize, 1, 63, 64, 1000, 2047] {
            prop_assert_eq!(p.bit((i + k) % DIM), a.bit(i));
        }
        prop_assert_eq!(a.permute(k).permute(3), a.permute(k + 3));
        prop_assert_eq!(a.permute(DIM), a);
    }

    #[test]
    fn invert_and_hamming(a in hv(), b in hv()) {
        prop_assert_eq!(a.invert().invert(), a);
        prop_assert_eq!(a.hamming(&b), a.bind(&b).count_ones());
        prop_assert_eq!(a.hamming(&b.invert()), 2048 - a.hamming(&b));
        prop_assert_eq!(a.hamming(&a), 0);
    }

    #[test]
    fn bundle_of_three_is_bitwise_majority(a in hv(), b in hv(), c in hv()) {
        let m = HV16::majority3(&a, &b, &c);
        prop_assert_eq!(bundle(&[a, b, c]), m);
        // sub undoes add; weights count as repeated adds
        let mut bd = Bundler::new();
        bd.add(&a);
        bd.add(&b);
        bd.add(&c);
        bd.add(&HV16::random(5));
        bd.sub(&HV16::random(5));
        prop_assert_eq!(bd.finish(), m);
        let mut w = Bundler::new();
        w.add_weighted(&a, 3);
        w.add(&b);
        w.add(&c);
        prop_assert_eq!(w.finish(), a);
    }
}

/// Reference bundler: i64 counters, saturated to i32 after every step.
fn reference_counts(ops: &[(u64, i32)]) -> Vec<i32> {
    let mut c = vec![0i64; zc_hv16::DIM];
    for &(seed, w) in ops {
        let v = HV16::random(seed);
        for (i, ci) in c.iter_mut().enumerate() {
            let d = if v.bit(i) {
                i64::from(w)
            } else {
                i64::from(w.saturating_neg())
            };
            *ci = (*ci + d).clamp(i64::from(i32::MIN), i64::from(i32::MAX));
        }
    }
    c.into_iter().map(|x| x as i32).collect()
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(48))]

    /// The vectorised fast path and the saturating path agree with a plain
    /// reference for small weights and for weights that force saturation.
    #[test]
    fn bundler_counts_match_reference(
        ops in proptest::collection::vec((0u64..1000, proptest::prop_oneof![-3i32..=3, proptest::prelude::Just(i32::MAX / 2), proptest::prelude::Just(i32::MIN)]), 1..12)
    ) {
        let mut b = zc_hv16::Bundler::new();
        for &(seed, w) in &ops {
            b.add_weighted(&HV16::random(seed), w);
        }
        proptest::prop_assert_eq!(&b.counts()[..], &reference_counts(&ops)[..]);
    }
}
