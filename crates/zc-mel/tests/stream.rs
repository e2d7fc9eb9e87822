//! Streaming == offline (bit-exact, any chunking), FFT skipping == computing
//! the silent frames, threaded == single-threaded, batches with per-item /
//! global / fixed maxima, and the portable kernels against the SIMD ones.

mod common;
use common::Relayout;

use common::noise;
use proptest::prelude::*;
use zc_buffers::BufferError;
use zc_buffers::ledger::{self, CopyKind};
use zc_mel::{Layout, MelConfig, MelError, MelSpectrogram, MelStream, Normalization, Padding, SimdLevel};

fn offline(cfg: MelConfig, x: &[f32], layout: Layout) -> Vec<f32> {
    let mel = MelSpectrogram::new(cfg).unwrap();
    let mut out = vec![0f32; mel.output_bytes(x.len()).unwrap() / 4];
    mel.lay(layout).compute_into_slice(x, &mut out).unwrap();
    out
}

/// Push `x` in chunks of the given sizes (cycled), then finish.
fn streamed(cfg: MelConfig, x: &[f32], sizes: &[usize]) -> Vec<f32> {
    let mut s = MelStream::new(cfg).unwrap();
    let n_mels = s.n_mels();
    let mut out = Vec::new();
    let mut frame_buf = vec![0f32; 64 * 1024];
    let mut at = 0;
    let mut i = 0;
    while at < x.len() {
        let n = sizes[i % sizes.len()].min(x.len() - at);
        i += 1;
        let expect = s.frames_for_push(n);
        let got = s
            .push_into_slice(&x[at..at + n], &mut frame_buf)
            .map(|f| f.n_frames)
            .unwrap();
        assert_eq!(got, expect);
        out.extend_from_slice(&frame_buf[..got * n_mels]);
        at += n;
    }
    let got = s.finish_into_slice(&mut frame_buf).map(|f| f.n_frames).unwrap();
    out.extend_from_slice(&frame_buf[..got * n_mels]);
    assert_eq!(s.frames_emitted(), 0, "finish resets");
    out
}

#[test]
fn frames_are_emitted_as_soon_as_their_window_is_complete() {
    let cfg = MelConfig::whisper(80).normalization(Normalization::Fixed(0.0));
    let mut s = MelStream::new(cfg).unwrap();
    let mut out = vec![0f32; 80 * 4];
    let x = noise(1000, 1, 0.1);
    // frame 0 reflects x[1..=200]: it needs 201 samples
    assert_eq!(s.push_into_slice(&x[..200], &mut out).map(|f| f.n_frames).unwrap(), 0);
    assert_eq!(
        s.push_into_slice(&x[200..201], &mut out).map(|f| f.n_frames).unwrap(),
        1
    );
    // frame 1 covers x[-40..360]
    assert_eq!(
        s.push_into_slice(&x[201..359], &mut out).map(|f| f.n_frames).unwrap(),
        0
    );
    assert_eq!(
        s.push_into_slice(&x[359..360], &mut out).map(|f| f.n_frames).unwrap(),
        1
    );
    assert_eq!(s.samples_received(), 360);
    // too small an output: rejected, nothing consumed
    let mut tiny = vec![7f32; 10];
    assert!(matches!(
        s.push_into_slice(&x[360..700], &mut tiny).map(|f| f.n_frames),
        Err(MelError::Buffer(BufferError::OutputTooSmall {
            needed: 160,
            actual: 10,
            ..
        }))
    ));
    assert!(tiny.iter().all(|&v| v == 7.0));
    assert_eq!(s.samples_received(), 360);
    // a NaN is rejected with its index into the chunk passed, nothing consumed
    let mut bad = x[360..700].to_vec();
    bad[5] = f32::NAN;
    assert!(matches!(
        s.push_into_slice(&bad, &mut out).map(|f| f.n_frames),
        Err(MelError::NonFiniteSample { index: 5, .. })
    ));
    assert_eq!(s.samples_received(), 360);
    // the three output forms agree; a larger output keeps its tail
    let mut a = s.clone();
    let mut b = s.clone();
    let mut c = s.clone();
    let chunk = &x[360..700];
    let mut slice = vec![6f32; 80 * 4];
    let shape = a.push_into_slice(chunk, &mut slice).unwrap();
    assert_eq!(
        (shape.n_mels, shape.n_frames, shape.layout),
        (80, 2, Layout::FrameMajor)
    );
    assert!(slice[160..].iter().all(|&v| v == 6.0));
    let mut buf = zc_buffers::AlignedBuf::zeroed(80 * 4 * 4).unwrap();
    assert_eq!(b.push_into(chunk, &mut buf).unwrap(), shape);
    assert_eq!(
        &zc_buffers::HostBufferExt::as_slice::<f32>(&buf).unwrap()[..160],
        &slice[..160]
    );
    let mut view = ndarray::Array2::<f32>::from_elem((5, 81), 6.0);
    assert_eq!(c.push_into_view(chunk, view.view_mut()).unwrap(), shape);
    assert_eq!(
        view.slice(ndarray::s![..2, ..80])
            .as_standard_layout()
            .as_slice()
            .unwrap(),
        &slice[..160]
    );
    assert!(view.slice(ndarray::s![2.., ..]).iter().all(|&v| v == 6.0));
    assert!(view.column(80).iter().all(|&v| v == 6.0));
    let mut small = ndarray::Array2::<f32>::zeros((1, 80));
    assert!(matches!(
        s.clone().push_into_view(chunk, small.view_mut()),
        Err(MelError::ViewTooSmall {
            needed: (2, 80),
            actual: (1, 80)
        })
    ));
    let mut rest = vec![0f32; 80 * 8];
    let done = a.finish_into_slice(&mut rest).unwrap();
    assert_eq!(
        b.finish_into(&mut zc_buffers::AlignedBuf::zeroed(80 * 8 * 4).unwrap())
            .unwrap(),
        done
    );
    let mut v = ndarray::Array2::<f32>::zeros((done.n_frames, 80));
    assert_eq!(c.finish_into_view(v.view_mut()).unwrap(), done);
    assert_eq!(v.as_slice().unwrap(), &rest[..done.len()]);
}

#[test]
fn streaming_needs_a_fixed_maximum_and_enough_samples() {
    assert!(matches!(
        MelStream::new(MelConfig::whisper(80)),
        Err(MelError::StreamNormalization)
    ));
    let mut s = MelStream::new(MelConfig::whisper(80).normalization(Normalization::Fixed(1.0))).unwrap();
    let mut out = vec![0f32; 80];
    s.push_into_slice(&[0.1; 150], &mut out).map(|f| f.n_frames).unwrap();
    assert!(matches!(
        s.finish_into_slice(&mut out).map(|f| f.n_frames),
        Err(MelError::TooShort {
            samples: 150,
            needed: 201
        })
    ));
    s.reset();
    assert_eq!(s.samples_received(), 0);
}

#[test]
fn stream_of_the_speech_fixture_equals_offline() {
    let wav = zc_mel::WavFile::open(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/speech_16k.wav")).unwrap();
    let x = wav.samples().unwrap().to_vec();
    let cfg = MelConfig::whisper(80).normalization(Normalization::Fixed(0.5));
    assert_eq!(
        streamed(cfg.clone(), &x, &[160, 1, 4099, 333]),
        offline(cfg.clone(), &x, Layout::FrameMajor)
    );
    let padded = cfg.padding(Padding::Append(16_000));
    assert_eq!(
        streamed(padded.clone(), &x, &[1000]),
        offline(padded, &x, Layout::FrameMajor)
    );
}

#[test]
fn skipping_silent_frames_equals_computing_them() {
    // a 5 s clip padded to 30 s: 2500 of 3000 frames lie entirely in zeros
    let x = noise(80_000, 9, 0.2);
    let skipped = offline(
        MelConfig::whisper(80).padding(Padding::WHISPER_30S),
        &x,
        Layout::MelMajor,
    );
    let mut explicit = x.clone();
    explicit.resize(480_000, 0.0);
    // explicit zeros are real samples: every frame goes through the FFT
    let computed = offline(MelConfig::whisper(80), &explicit, Layout::MelMajor);
    assert_eq!(skipped, computed);
    let appended = offline(
        MelConfig::whisper(80).padding(Padding::Append(400_000)),
        &x,
        Layout::MelMajor,
    );
    assert_eq!(appended, computed);
}

#[test]
fn threads_equal_one_thread_and_share_the_ledger() {
    let x = noise(100_000, 5, 0.3);
    for (n_mels, layout, padding) in [
        (80, Layout::MelMajor, Padding::None),
        (128, Layout::FrameMajor, Padding::WHISPER_30S),
    ] {
        let cfg = MelConfig::whisper(n_mels).padding(padding);
        let one = offline(cfg.clone(), &x, layout);
        for threads in [2, 3, 4] {
            let mel = MelSpectrogram::builder(cfg.clone()).threads(threads).build().unwrap();
            assert_eq!(mel.threads(), threads);
            let mut out = vec![0f32; one.len()];
            let (r, report) = ledger::scope(|| mel.lay(layout).compute_into_slice(&x, &mut out));
            r.unwrap();
            assert_eq!(out, one, "{threads} threads, {n_mels} mels");
            assert_eq!(report.copies, 0);
        }
    }
}

#[test]
fn batches_normalise_per_item_globally_or_fixed() {
    let clips = [noise(20_000, 1, 0.5), noise(7_000, 2, 0.001), noise(33_000, 3, 0.05)];
    let refs: Vec<&[f32]> = clips.iter().map(|c| c.as_slice()).collect();
    for threads in [1, 2, 3] {
        for norm in [
            Normalization::PerItem,
            Normalization::Global,
            Normalization::Fixed(-1.0),
        ] {
            let cfg = MelConfig::whisper(80).normalization(norm);
            let mel = MelSpectrogram::builder(cfg.clone())
                .threads(threads)
                .layout(Layout::FrameMajor)
                .build()
                .unwrap();
            let mut scratch = mel.make_scratch();
            let mut outs: Vec<Vec<f32>> = clips
                .iter()
                .map(|c| vec![0f32; mel.output_bytes(c.len()).unwrap() / 4])
                .collect();
            let mut o: Vec<&mut [f32]> = outs.iter_mut().map(|v| v.as_mut_slice()).collect();
            mel.compute_batch_into_slices(&refs, &mut o, &mut scratch).unwrap();
            match norm {
                Normalization::PerItem | Normalization::Fixed(_) => {
                    for (c, got) in clips.iter().zip(&outs) {
                        assert_eq!(got, &offline(cfg.clone(), c, Layout::FrameMajor));
                    }
                }
                Normalization::Global => {
                    // the quiet clip is clamped against the loud clip's maximum
                    let quiet = offline(cfg.clone(), &clips[1], Layout::FrameMajor);
                    assert_ne!(outs[1], quiet);
                    assert_eq!(outs[0], offline(cfg.clone(), &clips[0], Layout::FrameMajor));
                    let max0 = outs[0].iter().copied().fold(f32::MIN, f32::max);
                    let min1 = outs[1].iter().copied().fold(f32::MAX, f32::min);
                    assert!((max0 - 2.0 - min1).abs() < 1e-6, "{max0} {min1}");
                }
            }
        }
    }
    // a bad clip: named, nothing written
    let mel = MelSpectrogram::new(MelConfig::whisper(80)).unwrap();
    let mut scratch = mel.make_scratch();
    let mut a = vec![3f32; 80 * 125];
    let mut b = vec![3f32; 80];
    let short = [0.0f32; 100];
    let err = mel
        .compute_batch_into_slices(&[&clips[0], &short], &mut [&mut a, &mut b], &mut scratch)
        .unwrap_err();
    assert!(matches!(err, MelError::BatchItem { item: 1, .. }), "{err}");
    assert!(a.iter().all(|&v| v == 3.0));
    assert!(matches!(
        mel.compute_batch_into_slices(&[&clips[0]], &mut [], &mut scratch),
        Err(MelError::BatchSize { clips: 1, outputs: 0 })
    ));
}

#[test]
fn portable_kernels_match_the_simd_ones() {
    let x = noise(30_000, 11, 0.2);
    // 81 mels: an odd row count leaves the AVX-512 log a half-register tail;
    // n_fft 512 (256 = 8·8·4) and 480 (240 = 8·2·3·5) take the other radices
    for (n_fft, n_mels) in [(400, 80), (400, 81), (400, 128), (512, 80), (480, 64)] {
        let config = MelConfig {
            n_fft,
            ..MelConfig::whisper(n_mels)
        };
        let slow = MelSpectrogram::builder(config)
            .simd(SimdLevel::Portable)
            .build()
            .unwrap();
        let want = slow.lay(Layout::MelMajor).compute(&x).unwrap();
        let mut avx2 = None;
        for level in [SimdLevel::Portable, SimdLevel::Avx2, SimdLevel::Avx512]
            .into_iter()
            .filter(|l| l.is_available())
        {
            let fast = slow.to_builder().simd(level).build().unwrap();
            assert_eq!(fast.simd_level(), level);
            let got = fast.lay(Layout::MelMajor).compute(&x).unwrap();
            let worst = got
                .iter()
                .zip(want.iter())
                .map(|(p, q)| (p - q).abs())
                .fold(0f32, f32::max);
            assert!(
                worst < 2e-6,
                "{level:?} vs Portable, n_fft {n_fft}, {n_mels} mels: {worst:e}"
            );
            match level {
                SimdLevel::Avx2 => avx2 = Some(got),
                // the same operations on wider registers: the same bits
                SimdLevel::Avx512 => assert_eq!(Some(&got), avx2.as_ref(), "n_fft {n_fft}, {n_mels} mels"),
                _ => {}
            }
        }
    }
}

/// Finite samples near `f32::MAX` overflow inside the FFT; the AVX-512
/// level must still give the AVX2 level's bits (its first FFT stage pairs
/// columns and must not multiply column 0 by a unit twiddle: ∞·(−0) = NaN).
#[test]
fn avx512_matches_avx2_on_overflowing_input() {
    let levels = [SimdLevel::Avx2, SimdLevel::Avx512];
    if !levels.iter().all(|l| l.is_available()) {
        eprintln!("skipped: this CPU lacks AVX-512 (or the build lacks the level)");
        return;
    }
    let mut inputs = Vec::new();
    let mut x = vec![0f32; 1600];
    (x[690], x[740], x[741]) = (f32::MAX, -0.8 * f32::MAX, 0.9 * f32::MAX);
    inputs.push(x);
    for seed in 0..40u64 {
        let mut x = noise(4_000, seed, 0.2);
        let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        for _ in 0..6 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let at = (state % 4_000) as usize;
            let scale = (state >> 40) as f32 / (1u64 << 24) as f32; // 0..1
            x[at] = if state & 1 == 0 { f32::MAX } else { -f32::MAX } * (0.5 + 0.5 * scale);
        }
        inputs.push(x);
    }
    for (n, x) in inputs.iter().enumerate() {
        let out = levels.map(|level| {
            let mel = MelSpectrogram::builder(MelConfig::whisper(80))
                .simd(level)
                .build()
                .unwrap();
            mel.lay(Layout::MelMajor).compute(x).unwrap()
        });
        let differ = out[0]
            .iter()
            .zip(out[1].iter())
            .filter(|(a, b)| a.to_bits() != b.to_bits())
            .count();
        assert_eq!(differ, 0, "input {n}: {differ} values differ between Avx2 and Avx512");
    }
}

#[test]
fn stream_input_copy_is_recorded() {
    let x = noise(5_000, 4, 0.1);
    let mut s = MelStream::new(MelConfig::whisper(80).normalization(Normalization::Fixed(0.0))).unwrap();
    let mut out = vec![0f32; 80 * 64];
    let (r, report) = ledger::scope(|| s.push_into_slice(&x, &mut out).map(|f| f.n_frames));
    assert_eq!(r.unwrap(), 31);
    assert_eq!(report.copies_of(CopyKind::Other), 1);
    assert_eq!(report.bytes_of(CopyKind::Other), 20_000);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// Any chunking of any signal streams to exactly the offline result.
    #[test]
    fn stream_equals_offline_for_any_chunking(
        len in 201usize..6_000,
        seed in any::<u64>(),
        sizes in proptest::collection::vec(1usize..2_500, 1..6),
        max in -3f32..1.0,
        n_mels in prop_oneof![Just(80usize), Just(128)],
        padding in prop_oneof![Just(Padding::None), (0usize..2_000).prop_map(Padding::Append), (201usize..7_000).prop_map(Padding::PadOrTrim)],
    ) {
        let x = noise(len, seed, 0.3);
        let cfg = MelConfig::whisper(n_mels).padding(padding).normalization(Normalization::Fixed(max));
        prop_assert_eq!(streamed(cfg.clone(), &x, &sizes), offline(cfg, &x, Layout::FrameMajor));
    }
}
