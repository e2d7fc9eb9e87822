//! Output targets, layouts, padding modes, bad input (caller data left
//! untouched) and property tests of the log-mel invariants.

use ndarray::{Array2, ShapeBuilder};
mod common;
use common::Relayout;

use common::noise;
use proptest::prelude::*;
use zc_buffers::{AlignedBuf, BufferError, HostBufferExt, Pool, SimdLevel};
use zc_mel::{Layout, MelConfig, MelError, MelProcessor, MelShape, MelSpectrogram, Padding};

fn plan(n_mels: usize, padding: Padding) -> MelSpectrogram {
    MelSpectrogram::new(MelConfig::whisper(n_mels).padding(padding)).unwrap()
}

#[test]
fn all_targets_agree() {
    let x = noise(4_000, 1, 0.2);
    let mel = plan(80, Padding::None);
    let reference = mel.lay(Layout::MelMajor).compute(&x).unwrap();
    assert_eq!(reference.dim(), (80, 25));

    // frame-major == transpose of mel-major
    let frames = mel.lay(Layout::FrameMajor).compute(&x).unwrap();
    assert_eq!(frames, reference.t());

    // a pool guard, viewed afterwards
    let pool = Pool::builder().name("t").build().unwrap();
    let mut pooled = pool.acquire(mel.output_bytes(x.len()).unwrap()).unwrap();
    assert_eq!(
        mel.lay(Layout::MelMajor).compute_into(&x, &mut pooled).unwrap().dims(),
        (80, 25)
    );
    assert_eq!(pooled.view2::<f32>(80, 25).unwrap(), reference);

    // a column-major (Fortran) array: arbitrary strides
    let mut f = Array2::<f32>::zeros((80, 25).f());
    mel.lay(Layout::MelMajor).compute_into_view(&x, f.view_mut()).unwrap();
    assert_eq!(f, reference);

    // a strided sub-view of a larger array
    let mut big = Array2::<f32>::from_elem((50, 160), 7.0);
    {
        let sub = big.slice_mut(ndarray::s![..25, ..;2]);
        mel.lay(Layout::FrameMajor).compute_into_view(&x, sub).unwrap();
    }
    assert_eq!(big.slice(ndarray::s![..25, ..;2]), reference.t());
    assert!(big.slice(ndarray::s![25.., ..]).iter().all(|&v| v == 7.0));
    assert!(big.slice(ndarray::s![..25, 1..;2]).iter().all(|&v| v == 7.0));
}

#[test]
fn padding_modes_relate() {
    let x = noise(3_000, 2, 0.1);
    let plain = plan(80, Padding::None).lay(Layout::MelMajor).compute(&x).unwrap();
    let same_len = plan(80, Padding::PadOrTrim(3_000))
        .lay(Layout::MelMajor)
        .compute(&x)
        .unwrap();
    let append0 = plan(80, Padding::Append(0)).lay(Layout::MelMajor).compute(&x).unwrap();
    assert_eq!(plain, same_len);
    assert_eq!(plain, append0);
    // virtual zero padding == explicit zero padding
    let mut padded = x.clone();
    padded.resize(5_000, 0.0);
    let explicit = plan(80, Padding::None).lay(Layout::MelMajor).compute(&padded).unwrap();
    assert_eq!(
        plan(80, Padding::PadOrTrim(5_000))
            .lay(Layout::MelMajor)
            .compute(&x)
            .unwrap(),
        explicit
    );
    assert_eq!(
        plan(80, Padding::Append(2_000))
            .lay(Layout::MelMajor)
            .compute(&x)
            .unwrap(),
        explicit
    );
    // virtual trim == slicing
    let trimmed = plan(80, Padding::PadOrTrim(1_000))
        .lay(Layout::MelMajor)
        .compute(&x)
        .unwrap();
    assert_eq!(
        trimmed,
        plan(80, Padding::None)
            .lay(Layout::MelMajor)
            .compute(&x[..1_000])
            .unwrap()
    );
}

#[test]
fn silence_is_minus_one_and_a_half() {
    let mel = plan(80, Padding::WHISPER_30S);
    let out = mel.lay(Layout::MelMajor).compute(&[0.0; 10]).unwrap();
    assert_eq!(out.dim(), (80, 3000));
    // log10(1e-10) = -10 everywhere; (-10 + 4) / 4
    assert!(out.iter().all(|&v| (v + 1.5).abs() < 1e-6));
}

#[test]
fn bad_input_leaves_output_untouched() {
    let x = noise(2_000, 3, 0.3);
    let mel = plan(80, Padding::None);
    let bytes = mel.output_bytes(x.len()).unwrap();
    assert_eq!(bytes, 80 * 12 * 4);

    // wrong-sized buffer
    let mut small = AlignedBuf::zeroed(bytes - 4).unwrap();
    small.fill(0xAB);
    match mel.lay(Layout::MelMajor).compute_into(&x, &mut small) {
        Err(MelError::Buffer(BufferError::OutputTooSmall {
            needed: 960,
            actual: 959,
            ..
        })) => {}
        other => panic!("{other:?}"),
    }
    assert!(small.iter().all(|&b| b == 0xAB));

    // NaN / Inf samples
    let mut out = AlignedBuf::zeroed(bytes).unwrap();
    out.fill(0xCD);
    for bad in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
        let mut y = x.clone();
        y[1234] = bad;
        match mel.lay(Layout::MelMajor).compute_into(&y, &mut out) {
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
            .lay(Layout::MelMajor)
            .compute(&y)
            .is_ok()
    );

    // too short for reflect padding
    assert!(matches!(
        mel.lay(Layout::MelMajor).compute(&x[..200]),
        Err(MelError::TooShort {
            samples: 200,
            needed: 201
        })
    ));
    assert!(mel.lay(Layout::MelMajor).compute(&[]).is_err());

    // misaligned memory (a byte slice starting at an odd address)
    let mut raw = vec![0u8; bytes + 1];
    let odd = if (raw.as_ptr() as usize).is_multiple_of(2) {
        &mut raw[1..]
    } else {
        &mut raw[..bytes]
    };
    odd.fill(0x11);
    assert!(matches!(
        mel.lay(Layout::MelMajor).compute_into(&x, odd),
        Err(MelError::Buffer(zc_buffers::BufferError::Misaligned { .. }))
    ));
    assert!(odd.iter().all(|&b| b == 0x11));

    // view too small in one dimension (mel-major shape passed as frame-major)
    let mut arr = Array2::<f32>::from_elem((80, 12), 3.0);
    match mel.lay(Layout::FrameMajor).compute_into_view(&x, arr.view_mut()) {
        Err(MelError::ViewTooSmall {
            needed: (12, 80),
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
    let a = plan(128, Padding::None);
    let b = a.clone();
    let ra = a.lay(Layout::FrameMajor).compute(&x).unwrap();
    let rb = std::thread::spawn(move || b.lay(Layout::FrameMajor).compute(&x).unwrap())
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
        let mel = plan(n_mels, Padding::None);
        let m = mel.lay(Layout::MelMajor).compute(&x).unwrap();
        let f = mel.lay(Layout::FrameMajor).compute(&x).unwrap();
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
        let mel = plan(80, Padding::None);
        let a = mel.lay(Layout::MelMajor).compute(&x).unwrap();
        let b = mel.lay(Layout::MelMajor).compute(&y).unwrap();
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
        let a = plan(80, Padding::PadOrTrim(target)).lay(Layout::MelMajor).compute(&x).unwrap();
        let b = plan(80, Padding::None).lay(Layout::MelMajor).compute(&explicit).unwrap();
        prop_assert_eq!(a, b);
    }
}

#[test]
fn larger_outputs_get_the_prefix_in_all_three_forms() {
    let long = noise(8_000, 5, 0.2);
    let short = &long[..3_000];
    for layout in [Layout::MelMajor, Layout::FrameMajor] {
        let mel = plan(80, Padding::None).lay(layout);
        let want = mel.compute(short).unwrap();
        let shape = MelShape {
            n_mels: 80,
            n_frames: 18,
            layout,
        };
        assert_eq!(want.dim(), shape.dims());
        let mut scratch = mel.make_scratch();

        // a pooled buffer sized for the longer clip serves the shorter one
        let pool = Pool::builder().name("t").build().unwrap();
        let mut pooled = pool.acquire(mel.output_bytes(long.len()).unwrap()).unwrap();
        pooled.fill(0x7F);
        assert_eq!(
            mel.compute_into_with_scratch(short, &mut pooled, &mut scratch).unwrap(),
            shape
        );
        let all = pooled.as_slice::<f32>().unwrap();
        assert_eq!(&all[..shape.len()], want.as_slice().unwrap());
        assert!(all[shape.len()..].iter().all(|v| v.to_bits() == 0x7F7F_7F7F));

        let mut slice = vec![9.0f32; mel.output_len(long.len()).unwrap()];
        assert_eq!(
            mel.compute_into_slice_with_scratch(short, &mut slice, &mut scratch)
                .unwrap(),
            shape
        );
        assert_eq!(&slice[..shape.len()], want.as_slice().unwrap());
        assert!(slice[shape.len()..].iter().all(|&v| v == 9.0));

        // a larger 2-D view takes the result in its top-left corner
        let (rows, cols) = shape.dims();
        let mut big = Array2::<f32>::from_elem((rows + 3, cols + 40), 5.0);
        assert_eq!(
            mel.compute_into_view_with_scratch(short, big.view_mut(), &mut scratch)
                .unwrap(),
            shape
        );
        assert_eq!(big.slice(ndarray::s![..rows, ..cols]), want);
        assert!(big.slice(ndarray::s![rows.., ..]).iter().all(|&v| v == 5.0));
        assert!(big.slice(ndarray::s![.., cols..]).iter().all(|&v| v == 5.0));

        // one value too few: refused, untouched
        let mut tight = vec![4.0f32; shape.len() - 1];
        assert!(matches!(
            mel.compute_into_slice(short, &mut tight),
            Err(MelError::Buffer(BufferError::OutputTooSmall { needed, actual, .. }))
                if needed == shape.len() && actual == shape.len() - 1
        ));
        assert!(tight.iter().all(|&v| v == 4.0));
    }
}

#[test]
fn one_plan_shared_across_threads_gives_identical_results() {
    fn shareable<T: Send + Sync>() {}
    shareable::<MelSpectrogram>();
    let plan = std::sync::Arc::new(
        MelSpectrogram::builder(MelConfig::whisper(80).padding(Padding::WHISPER_30S))
            .layout(Layout::FrameMajor)
            .build()
            .unwrap(),
    );
    let clips: Vec<Vec<f32>> = (0..4).map(|i| noise(20_000 + 1_000 * i, i as u64, 0.3)).collect();
    let want: Vec<Vec<f32>> = clips
        .iter()
        .map(|c| plan.compute(c).unwrap().into_raw_vec_and_offset().0)
        .collect();
    let got: Vec<Vec<Vec<f32>>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..4)
            .map(|_| {
                let plan = std::sync::Arc::clone(&plan);
                let clips = &clips;
                s.spawn(move || {
                    let mut scratch = plan.make_scratch();
                    clips
                        .iter()
                        .map(|c| {
                            let mut out = vec![0f32; plan.output_len(c.len()).unwrap()];
                            plan.compute_into_slice_with_scratch(c, &mut out, &mut scratch).unwrap();
                            out
                        })
                        .collect()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for per_thread in got {
        for (g, w) in per_thread.iter().zip(&want) {
            assert!(g.iter().zip(w).all(|(a, b)| a.to_bits() == b.to_bits()));
        }
    }
}

#[test]
fn a_scratch_from_another_geometry_is_refused() {
    let x = noise(4_000, 1, 0.2);
    let mel80 = plan(80, Padding::None);
    let mel128 = plan(128, Padding::None);
    let mut wrong = mel128.make_scratch();
    assert_eq!(wrong.bytes(), mel128.scratch_bytes());
    assert!(mel80.scratch_bytes() < mel128.scratch_bytes());
    let mut out = vec![2.0f32; mel80.output_len(x.len()).unwrap()];
    assert!(matches!(
        mel80.compute_into_slice_with_scratch(&x, &mut out, &mut wrong),
        Err(MelError::ScratchMismatch {
            expected: (400, 80),
            actual: (400, 128)
        })
    ));
    assert!(out.iter().all(|&v| v == 2.0));
    // the same geometry with another layout, thread count or level fits
    let other = mel80
        .to_builder()
        .layout(Layout::FrameMajor)
        .threads(3)
        .build()
        .unwrap();
    let mut scratch = other.make_scratch();
    assert!(
        mel80
            .compute_into_slice_with_scratch(&x, &mut out, &mut scratch)
            .is_ok()
    );
}

#[test]
fn simd_levels_are_forced_through_the_builder() {
    let x = noise(4_000, 8, 0.2);
    let base = plan(80, Padding::None);
    assert!(base.simd_level().is_available());
    for level in SimdLevel::ALL {
        match base.to_builder().simd(level).build() {
            Ok(p) => {
                assert!(level.is_available());
                assert!(p.simd_level() <= level && p.simd_level().is_available());
                assert_eq!(p.compute(&x).unwrap().dim(), (80, 25));
            }
            Err(e) => {
                assert!(!level.is_available());
                assert!(matches!(e, MelError::Buffer(BufferError::SimdUnavailable { level: l }) if l == level));
            }
        }
    }
    assert_eq!(
        base.to_builder()
            .simd(SimdLevel::Popcnt)
            .build()
            .map(|p| p.simd_level())
            .ok(),
        SimdLevel::Popcnt.is_available().then_some(SimdLevel::Portable)
    );
}

#[test]
fn zero_threads_means_every_core_and_threads_do_not_change_the_result() {
    let x = noise(48_000, 2, 0.2);
    let one = plan(80, Padding::None);
    let all = one.to_builder().threads(0).build().unwrap();
    assert_eq!(
        all.threads(),
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    let four = one.to_builder().threads(4).build().unwrap();
    assert_eq!(four.compute(&x).unwrap(), one.compute(&x).unwrap());
    let mut p = MelProcessor::new(four.lay(Layout::FrameMajor));
    assert_eq!(p.compute(&x).unwrap(), one.compute(&x).unwrap().t());
}

#[test]
fn batches_take_slices_buffers_and_one_larger_3d_view_alike() {
    let clips = [noise(20_000, 1, 0.5), noise(7_000, 2, 0.01), noise(33_000, 3, 0.05)];
    let refs: Vec<&[f32]> = clips.iter().map(|c| c.as_slice()).collect();
    for layout in [Layout::MelMajor, Layout::FrameMajor] {
        for threads in [1, 2] {
            let mel = MelSpectrogram::builder(MelConfig::whisper(80))
                .layout(layout)
                .threads(threads)
                .build()
                .unwrap();
            let mut scratch = mel.make_scratch();
            let mut slices: Vec<Vec<f32>> = clips
                .iter()
                .map(|c| vec![0f32; mel.output_len(c.len()).unwrap()])
                .collect();
            let mut o: Vec<&mut [f32]> = slices.iter_mut().map(|v| v.as_mut_slice()).collect();
            mel.compute_batch_into_slices(&refs, &mut o, &mut scratch).unwrap();

            let mut bufs: Vec<AlignedBuf> = clips
                .iter()
                .map(|c| AlignedBuf::zeroed(mel.output_bytes(c.len()).unwrap() + 64).unwrap())
                .collect();
            mel.compute_batch_into(&refs, &mut bufs, &mut scratch).unwrap();

            // one tensor, larger than every clip in both dimensions
            let longest = mel.output_shape(33_000).unwrap().dims();
            let mut tensor = ndarray::Array3::<f32>::from_elem((3, longest.0 + 2, longest.1 + 2), 9.0);
            mel.compute_batch_into_view(&refs, tensor.view_mut(), &mut scratch)
                .unwrap();

            for (i, (c, want)) in clips.iter().zip(&slices).enumerate() {
                let shape = mel.output_shape(c.len()).unwrap();
                assert_eq!(&bufs[i].as_slice::<f32>().unwrap()[..shape.len()], &want[..]);
                let (r, k) = shape.dims();
                let item = tensor.index_axis(ndarray::Axis(0), i);
                let corner = item.slice(ndarray::s![..r, ..k]).to_owned();
                assert_eq!(corner.as_slice().unwrap(), &want[..]);
                assert!(item.slice(ndarray::s![r.., ..]).iter().all(|&v| v == 9.0));
                assert!(item.slice(ndarray::s![.., k..]).iter().all(|&v| v == 9.0));
            }
            // a tensor with the wrong item count, or items too small: refused, untouched
            let mut two = ndarray::Array3::<f32>::zeros((2, longest.0, longest.1));
            assert!(matches!(
                mel.compute_batch_into_view(&refs, two.view_mut(), &mut scratch),
                Err(MelError::BatchSize { clips: 3, outputs: 2 })
            ));
            let mut small = ndarray::Array3::<f32>::from_elem((3, 10, 10), 1.0);
            assert!(matches!(
                mel.compute_batch_into_view(&refs, small.view_mut(), &mut scratch),
                Err(MelError::BatchItem { item: 0, .. })
            ));
            assert!(small.iter().all(|&v| v == 1.0));
        }
    }
}
