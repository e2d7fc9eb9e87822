//! Output targets, layouts, padding modes, bad input (caller data left
//! untouched) and property tests of the log-mel invariants.

use ndarray::{Array2, ShapeBuilder};
mod common;

use common::noise;
use proptest::prelude::*;
use zc_buffers::{AlignedBuf, HostBufferExt, Pool};
use zc_mel::{Layout, MelConfig, MelError, MelSpectrogram, Padding};

fn plan(n_mels: usize, padding: Padding) -> MelSpectrogram {
    MelSpectrogram::new(MelConfig::whisper(n_mels).with_padding(padding)).unwrap()
}

#[test]
fn all_targets_agree() {
    let x = noise(4_000, 1, 0.2);
    let mut mel = plan(80, Padding::None);
    let reference = mel.compute(&x, Layout::MelMajor).unwrap();
    assert_eq!(reference.dim(), (80, 25));

    // frame-major == transpose of mel-major
    let frames = mel.compute(&x, Layout::FrameMajor).unwrap();
    assert_eq!(frames, reference.t());

    // a pool guard, viewed afterwards
    let pool = Pool::builder().name("t").build().unwrap();
    let mut pooled = pool.acquire(mel.output_bytes(x.len()).unwrap()).unwrap();
    assert_eq!(mel.compute_into(&x, &mut pooled, Layout::MelMajor).unwrap(), (80, 25));
    assert_eq!(pooled.view2::<f32>(80, 25).unwrap(), reference);

    // a column-major (Fortran) array: arbitrary strides
    let mut f = Array2::<f32>::zeros((80, 25).f());
    mel.compute_into_view(&x, f.view_mut(), Layout::MelMajor).unwrap();
    assert_eq!(f, reference);

    // a strided sub-view of a larger array
    let mut big = Array2::<f32>::from_elem((50, 160), 7.0);
    {
        let sub = big.slice_mut(ndarray::s![..25, ..;2]);
        mel.compute_into_view(&x, sub, Layout::FrameMajor).unwrap();
    }
    assert_eq!(big.slice(ndarray::s![..25, ..;2]), reference.t());
    assert!(big.slice(ndarray::s![25.., ..]).iter().all(|&v| v == 7.0));
    assert!(big.slice(ndarray::s![..25, 1..;2]).iter().all(|&v| v == 7.0));
}

#[test]
fn padding_modes_relate() {
    let x = noise(3_000, 2, 0.1);
    let plain = plan(80, Padding::None).compute(&x, Layout::MelMajor).unwrap();
    let same_len = plan(80, Padding::PadOrTrim(3_000))
        .compute(&x, Layout::MelMajor)
        .unwrap();
    let append0 = plan(80, Padding::Append(0)).compute(&x, Layout::MelMajor).unwrap();
    assert_eq!(plain, same_len);
    assert_eq!(plain, append0);
    // virtual zero padding == explicit zero padding
    let mut padded = x.clone();
    padded.resize(5_000, 0.0);
    let explicit = plan(80, Padding::None).compute(&padded, Layout::MelMajor).unwrap();
    assert_eq!(
        plan(80, Padding::PadOrTrim(5_000))
            .compute(&x, Layout::MelMajor)
            .unwrap(),
        explicit
    );
    assert_eq!(
        plan(80, Padding::Append(2_000)).compute(&x, Layout::MelMajor).unwrap(),
        explicit
    );
    // virtual trim == slicing
    let trimmed = plan(80, Padding::PadOrTrim(1_000))
        .compute(&x, Layout::MelMajor)
        .unwrap();
    assert_eq!(
        trimmed,
        plan(80, Padding::None).compute(&x[..1_000], Layout::MelMajor).unwrap()
    );
}

#[test]
fn silence_is_minus_one_and_a_half() {
    let mut mel = plan(80, Padding::WHISPER_30S);
    let out = mel.compute(&[0.0; 10], Layout::MelMajor).unwrap();
    assert_eq!(out.dim(), (80, 3000));
    // log10(1e-10) = -10 everywhere; (-10 + 4) / 4
    assert!(out.iter().all(|&v| (v + 1.5).abs() < 1e-6));
}

#[test]
fn bad_input_leaves_output_untouched() {
    let x = noise(2_000, 3, 0.3);
    let mut mel = plan(80, Padding::None);
    let bytes = mel.output_bytes(x.len()).unwrap();
    assert_eq!(bytes, 80 * 12 * 4);

    // too small a buffer: the shared error, nothing written
    let mut small = AlignedBuf::zeroed(bytes - 4).unwrap();
    small.fill(0xAB);
    match mel.compute_into(&x, &mut small, Layout::MelMajor) {
        Err(MelError::Buffer(zc_buffers::BufferError::OutputTooSmall {
            needed: 960,
            actual: 959,
            ..
        })) => {}
        other => panic!("{other:?}"),
    }
    assert!(small.iter().all(|&b| b == 0xAB));

    // a larger buffer (a pooled one from a longer clip) gets the prefix,
    // and the rest is untouched
    let mut exact = AlignedBuf::zeroed(bytes).unwrap();
    assert_eq!(mel.compute_into(&x, &mut exact, Layout::MelMajor).unwrap(), (80, 12));
    let mut big = AlignedBuf::zeroed(bytes * 3).unwrap();
    big.fill(0xEE);
    assert_eq!(mel.compute_into(&x, &mut big, Layout::FrameMajor).unwrap(), (12, 80));
    assert!(big[bytes..].iter().all(|&b| b == 0xEE));
    let mut again = AlignedBuf::zeroed(bytes).unwrap();
    mel.compute_into(&x, &mut again, Layout::FrameMajor).unwrap();
    assert_eq!(&big[..bytes], &again[..]);
    // and a larger view gets the top-left block
    let mut view = ndarray::Array2::<f32>::from_elem((100, 20), 7.0);
    assert_eq!(
        mel.compute_into_view(&x, view.view_mut(), Layout::MelMajor).unwrap(),
        (80, 12)
    );
    let direct = mel.compute(&x, Layout::MelMajor).unwrap();
    assert_eq!(view.slice(ndarray::s![..80, ..12]), direct);
    assert_eq!(view[[99, 19]], 7.0);
    assert_eq!(view[[0, 12]], 7.0);

    // NaN / Inf samples
    let mut out = AlignedBuf::zeroed(bytes).unwrap();
    out.fill(0xCD);
    for bad in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
        let mut y = x.clone();
        y[1234] = bad;
        match mel.compute_into(&y, &mut out, Layout::MelMajor) {
            Err(MelError::NonFiniteSample { index: 1234, .. }) => {}
            other => panic!("{other:?}"),
        }
        assert!(out.iter().all(|&b| b == 0xCD));
    }
    // a NaN beyond a pad_or_trim cut is never read, so it is accepted
    let mut y = x.clone();
    y[1_999] = f32::NAN;
    assert!(
        plan(80, Padding::PadOrTrim(1_500))
            .compute(&y, Layout::MelMajor)
            .is_ok()
    );

    // too short for reflect padding
    assert!(matches!(
        mel.compute(&x[..200], Layout::MelMajor),
        Err(MelError::TooShort {
            samples: 200,
            needed: 201
        })
    ));
    assert!(mel.compute(&[], Layout::MelMajor).is_err());

    // misaligned memory (a byte slice starting at an odd address)
    let mut raw = vec![0u8; bytes + 1];
    let odd = if (raw.as_ptr() as usize).is_multiple_of(2) {
        &mut raw[1..]
    } else {
        &mut raw[..bytes]
    };
    odd.fill(0x11);
    assert!(matches!(
        mel.compute_into(&x, odd, Layout::MelMajor),
        Err(MelError::Buffer(zc_buffers::BufferError::Misaligned { .. }))
    ));
    assert!(odd.iter().all(|&b| b == 0x11));

    // view of the wrong shape (mel-major shape passed as frame-major)
    let mut arr = Array2::<f32>::from_elem((80, 12), 3.0);
    match mel.compute_into_view(&x, arr.view_mut(), Layout::FrameMajor) {
        Err(MelError::ShapeMismatch {
            expected: (12, 80),
            actual: (80, 12),
        }) => {}
        other => panic!("{other:?}"),
    }
    assert!(arr.iter().all(|&v| v == 3.0));

    // invalid configuration
    let cfg = MelConfig {
        hop_length: 0,
        ..MelConfig::whisper(80)
    };
    assert!(matches!(MelSpectrogram::new(cfg), Err(MelError::InvalidConfig { .. })));
}

#[test]
fn clones_share_the_plan_and_agree() {
    let x = noise(5_000, 4, 0.05);
    let mut a = plan(128, Padding::None);
    let mut b = a.clone();
    let ra = a.compute(&x, Layout::FrameMajor).unwrap();
    let rb = std::thread::spawn(move || b.compute(&x, Layout::FrameMajor).unwrap())
        .join()
        .unwrap();
    assert_eq!(ra, rb);
    assert_eq!(a.filters().n_mels(), 128);
    assert!(format!("{a:?}").contains("MelSpectrogram"));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// Output stays within Whisper's clamp window: max - min <= top_db / 4,
    /// every value finite, and the layouts are exact transposes.
    #[test]
    fn dynamic_range_and_layouts(len in 201usize..6_000, seed in any::<u64>(), amp in 1e-4f32..2.0, n_mels in prop_oneof![Just(80usize), Just(128)]) {
        let x = noise(len, seed, amp);
        let mut mel = plan(n_mels, Padding::None);
        let m = mel.compute(&x, Layout::MelMajor).unwrap();
        let f = mel.compute(&x, Layout::FrameMajor).unwrap();
        prop_assert_eq!(m.dim(), (n_mels, len / 160));
        prop_assert_eq!(&f, &m.t());
        let max = m.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let min = m.iter().copied().fold(f32::INFINITY, f32::min);
        prop_assert!(m.iter().all(|v| v.is_finite()));
        prop_assert!(max - min <= 2.0 + 1e-5, "range {}", max - min);
    }

    /// Scaling the signal by 10 scales power by 100: every value moves by
    /// log10(100) / 4 = 0.5 (the clamp is relative to the maximum; only the
    /// absolute 1e-10 power floor stays put).
    #[test]
    fn gain_shifts_by_half(len in 400usize..4_000, seed in any::<u64>()) {
        let x = noise(len, seed, 0.05);
        let y: Vec<f32> = x.iter().map(|v| v * 10.0).collect();
        let mut mel = plan(80, Padding::None);
        let a = mel.compute(&x, Layout::MelMajor).unwrap();
        let b = mel.compute(&y, Layout::MelMajor).unwrap();
        for (p, q) in a.iter().zip(b.iter()) {
            // values at the absolute 1e-10 power floor (-1.5) cannot move
            if *p > -1.49 {
                prop_assert!((q - p - 0.5).abs() < 2e-4, "{} -> {}", p, q);
            }
        }
    }

    /// Virtual padding equals explicit zero padding for any length.
    #[test]
    fn virtual_padding_matches_explicit(len in 201usize..3_000, target in 201usize..3_000, seed in any::<u64>()) {
        let x = noise(len, seed, 0.3);
        let mut explicit = x.clone();
        explicit.resize(target, 0.0);
        let a = plan(80, Padding::PadOrTrim(target)).compute(&x, Layout::MelMajor).unwrap();
        let b = plan(80, Padding::None).compute(&explicit, Layout::MelMajor).unwrap();
        prop_assert_eq!(a, b);
    }
}

#[test]
fn one_shared_plan_serves_many_threads_with_their_own_scratch() {
    use std::sync::Arc;
    let x = noise(48_000, 5, 0.3);
    let mut single = plan(80, Padding::WHISPER_30S);
    let want = single.compute(&x, Layout::FrameMajor).unwrap();
    // a plan that itself fans out over 2 threads, shared by 3 callers
    let shared: Arc<zc_mel::MelPlan> = Arc::new(
        zc_mel::MelPlan::new(MelConfig::whisper(80).with_padding(Padding::WHISPER_30S))
            .unwrap()
            .threads(2),
    );
    fn is_send_sync<T: Send + Sync>(_: &T) {}
    is_send_sync(&*shared);
    let outs: Vec<Vec<f32>> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..3)
            .map(|_| {
                let (plan, x) = (Arc::clone(&shared), &x);
                s.spawn(move || {
                    let mut scratch = plan.make_scratch();
                    let mut out = vec![0f32; 80 * 3000 + 17]; // larger than needed
                    for _ in 0..3 {
                        let shape = plan
                            .compute_into_slice_with_scratch(x, &mut out, Layout::FrameMajor, &mut scratch)
                            .unwrap();
                        assert_eq!(shape, (3000, 80));
                    }
                    out.truncate(80 * 3000);
                    out
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for out in &outs {
        assert!(out.iter().zip(want.iter()).all(|(a, b)| a.to_bits() == b.to_bits()));
    }
}
