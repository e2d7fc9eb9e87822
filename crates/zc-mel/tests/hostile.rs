//! Crafted input never panics: each case here was a panic, a division by
//! zero or a silent misread in 0.1, and is now a typed error or a defined
//! result (issue: soundness under hostile input).

use std::path::{Path, PathBuf};

use zc_mel::{Layout, MelConfig, MelError, Padding, WavFile};

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

/// A canonical 44-byte-header WAV: `tag`, `channels`, `rate`, `bits`,
/// `block_align`, with `data_size` written as given (it may lie) and `body`.
fn wav(tag: u16, channels: u16, rate: u32, bits: u16, block_align: u16, data_size: u32, body: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    v.extend_from_slice(b"RIFF");
    v.extend_from_slice(&(36u32.wrapping_add(data_size)).to_le_bytes());
    v.extend_from_slice(b"WAVEfmt ");
    v.extend_from_slice(&16u32.to_le_bytes());
    v.extend_from_slice(&tag.to_le_bytes());
    v.extend_from_slice(&channels.to_le_bytes());
    v.extend_from_slice(&rate.to_le_bytes());
    v.extend_from_slice(&(rate * u32::from(block_align)).to_le_bytes());
    v.extend_from_slice(&block_align.to_le_bytes());
    v.extend_from_slice(&bits.to_le_bytes());
    v.extend_from_slice(b"data");
    v.extend_from_slice(&data_size.to_le_bytes());
    v.extend_from_slice(body);
    v
}

fn i16s(v: &[i16]) -> Vec<u8> {
    v.iter().flat_map(|s| s.to_le_bytes()).collect()
}

#[cfg(feature = "resample")]
#[test]
fn an_infinite_sample_is_an_error_not_a_panic_in_the_resampler() {
    // 0.1: rubato panicked ("Imaginary part of first value was non-zero")
    let bytes = hex("524946462800000057415645666d74201000000003000100401f0000007d00000400200064617461040000000000807f");
    let dir = tempfile::tempdir().unwrap();
    let wav = WavFile::open(write(dir.path(), "inf.wav", &bytes)).unwrap();
    assert_eq!((wav.info().sample_rate, wav.info().num_samples()), (8000, 1));
    let n = wav.info().num_samples_at(16_000);
    let mut buf = zc_buffers::AlignedBuf::zeroed(n * 4).unwrap();
    zc_buffers::HostBufferMutExt::as_slice_mut::<f32>(&mut buf)
        .unwrap()
        .fill(7.0);
    let err = wav.decode_resampled_into(&mut buf).unwrap_err();
    let out = zc_buffers::HostBufferExt::as_slice::<f32>(&buf).unwrap();
    assert!(
        matches!(err, MelError::NonFiniteSample { index: 0, value } if value == f32::INFINITY),
        "{err}"
    );
    assert!(out.iter().all(|&v| v == 7.0), "output untouched on error");

    let mut r = zc_mel::Resampler::new(44_100).unwrap();
    for bad in [f32::NAN, f32::NEG_INFINITY] {
        let mut x = vec![0.1f32; 5000];
        x[4321] = bad;
        let mut y = vec![7.0f32; r.output_len(x.len())];
        let err = r.process_into_slice(&x, &mut y).unwrap_err();
        assert!(matches!(err, MelError::NonFiniteSample { index: 4321, .. }), "{err}");
        assert!(y.iter().all(|&v| v == 7.0));
    }
}

#[cfg(feature = "resample")]
mod resampler_stays_finite {
    use proptest::prelude::*;

    fn finite() -> impl Strategy<Value = f32> {
        prop_oneof![
            4 => -1.0f32..1.0,
            1 => prop_oneof![Just(f32::MAX), Just(-f32::MAX), Just(f32::MIN_POSITIVE), Just(0.0)],
            1 => (-1.0f32..1.0).prop_map(|v| v * f32::MAX),
            1 => any::<f32>().prop_filter("finite", |v| v.is_finite()),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]
        /// Every finite input gives finite output, near `f32::MAX` included
        /// (0.1: the FFT overflowed to Inf, then NaN, and rubato panicked).
        #[test]
        fn for_every_finite_input(
            rate in prop::sample::select(vec![8_000u32, 22_050, 44_100, 48_000]),
            x in prop::collection::vec(finite(), 1..3000),
        ) {
            let mut r = zc_mel::Resampler::new(rate).unwrap();
            let mut y = vec![0.0f32; r.output_len(x.len())];
            r.process_into_slice(&x, &mut y).unwrap();
            prop_assert!(y.iter().all(|v| v.is_finite()));
        }
    }

    /// Scaling is exact: a loud clip resamples to the same samples as a
    /// quiet one times the same power of two.
    #[test]
    fn scaling_for_loud_clips_is_exact() {
        let quiet: Vec<f32> = (0..4000).map(|i| ((i as f32) * 0.031).sin() * 0.5).collect();
        let loud: Vec<f32> = quiet.iter().map(|v| v * 2f32.powi(120)).collect();
        let mut r = zc_mel::Resampler::new(48_000).unwrap();
        let mut a = vec![0.0f32; r.output_len(quiet.len())];
        let mut b = a.clone();
        r.process_into_slice(&quiet, &mut a).unwrap();
        r.process_into_slice(&loud, &mut b).unwrap();
        for (x, y) in a.iter().zip(&b) {
            let rel = (y / 2f32.powi(120) - x).abs();
            assert!(rel <= 1e-6, "{x} vs {}", y / 2f32.powi(120));
        }
    }
}

#[test]
fn public_config_fields_are_validated_by_every_sizing_helper() {
    let mut c = MelConfig::whisper(80);
    c.hop_length = 0; // 0.1: division by zero in n_frames
    assert!(matches!(c.n_frames(16_000), Err(MelError::InvalidConfig { .. })));
    assert!(matches!(c.output_bytes(16_000), Err(MelError::InvalidConfig { .. })));
    assert!(matches!(
        c.output_shape(16_000, Layout::MelMajor),
        Err(MelError::InvalidConfig { .. })
    ));
    let mut c = MelConfig::whisper(80);
    c.n_fft = 0;
    assert!(matches!(c.n_frames(16_000), Err(MelError::InvalidConfig { .. })));
    let mut c = MelConfig::whisper(80);
    c.hop_length = usize::MAX; // min_samples saturates instead of wrapping
    assert!(matches!(c.n_frames(16_000), Err(MelError::TooShort { .. })));
}

#[test]
fn padded_lengths_near_usize_max_are_errors_not_wraps() {
    // 0.1: `len + 2*half` overflowed (a panic in debug, a wrap in release)
    for padding in [Padding::PadOrTrim(usize::MAX), Padding::PadOrTrim(usize::MAX - 100)] {
        let c = MelConfig::whisper(80).padding(padding);
        assert!(
            matches!(c.n_frames(16_000), Err(MelError::InvalidConfig { .. })),
            "{padding:?}"
        );
        assert!(c.output_bytes(16_000).is_err());
    }
    let c = MelConfig::whisper(80).padding(Padding::Append(usize::MAX - 10));
    assert!(matches!(c.n_frames(16_000), Err(MelError::InvalidConfig { .. })));
    // large but representable: a count, and output_bytes reports the overflow
    let c = MelConfig::whisper(128).padding(Padding::PadOrTrim(usize::MAX / 2));
    assert_eq!(c.n_frames(1).unwrap(), usize::MAX / 2 / 160);
    assert!(matches!(c.output_bytes(1), Err(MelError::InvalidConfig { .. })));
}

#[test]
fn block_align_must_match_the_format() {
    let dir = tempfile::tempdir().unwrap();
    let body = i16s(&[1, -1, 2, -2]);
    // 16-bit stereo needs 4; 0.1 decoded 0 and 1 without error
    for bad in [0u16, 1, 2, 8] {
        let p = write(dir.path(), "ba.wav", &wav(1, 2, 16_000, 16, bad, 8, &body));
        let err = WavFile::open(&p).unwrap_err();
        assert!(matches!(err, MelError::InvalidWav { offset: 32, .. }), "{bad}: {err}");
        assert!(err.to_string().contains("ba.wav"), "the error names the file: {err}");
    }
    let p = write(dir.path(), "ok.wav", &wav(1, 2, 16_000, 16, 4, 8, &body));
    assert_eq!(WavFile::open(&p).unwrap().info().num_samples(), 2);
}

#[test]
fn streamed_wavs_are_read_to_the_end_in_whole_frames() {
    // ffmpeg and sox writing to a pipe leave 0xFFFFFFFF as the data size
    let dir = tempfile::tempdir().unwrap();
    let mut body = i16s(&[100, -100, 200, -200, 300, -300]);
    body.push(7); // a partial frame at the end is dropped
    let p = write(dir.path(), "pipe.wav", &wav(1, 2, 16_000, 16, 4, u32::MAX, &body));
    let w = WavFile::open(&p).unwrap();
    assert_eq!((w.info().num_samples(), w.info().data_len), (3, 12));
    let mut out = vec![0.0f32; 3];
    w.decode_into_slice(&mut out).unwrap();
    assert_eq!(out, [0.0, 0.0, 0.0], "stereo averaged: each frame is x and -x");
    // a real size that the file does not hold is still a truncation error
    let p = write(dir.path(), "short.wav", &wav(1, 1, 16_000, 16, 2, 1000, &i16s(&[1, 2])));
    assert!(matches!(WavFile::open(&p).unwrap_err(), MelError::Truncated { .. }));
}

#[test]
fn rf64_files_are_read_with_their_64_bit_data_size() {
    let dir = tempfile::tempdir().unwrap();
    let samples: Vec<i16> = (0..50).map(|i| i * 100).collect();
    let body = i16s(&samples);
    let mut v = Vec::new();
    v.extend_from_slice(b"RF64");
    v.extend_from_slice(&u32::MAX.to_le_bytes());
    v.extend_from_slice(b"WAVEds64");
    v.extend_from_slice(&28u32.to_le_bytes());
    v.extend_from_slice(&(u64::MAX).to_le_bytes()); // riff size (unused)
    v.extend_from_slice(&(body.len() as u64).to_le_bytes()); // data size
    v.extend_from_slice(&(samples.len() as u64).to_le_bytes()); // sample count
    v.extend_from_slice(&0u32.to_le_bytes()); // table length
    let canon = wav(1, 1, 16_000, 16, 2, u32::MAX, &body);
    v.extend_from_slice(&canon[12..]); // fmt + data (size 0xFFFFFFFF) + body
    v.extend_from_slice(b"LIST\x04\x00\x00\x00abcd"); // a trailing chunk is not data
    let p = write(dir.path(), "rf64.wav", &v);
    let w = WavFile::open(&p).unwrap();
    assert_eq!(w.info().num_samples(), 50);
    let mut out = vec![0.0f32; 50];
    w.decode_into_slice(&mut out).unwrap();
    assert_eq!(out[49], 4900.0 / 32768.0);
    // RF64 without ds64 is refused
    let mut bad = canon.clone();
    bad[0..4].copy_from_slice(b"RF64");
    assert!(matches!(
        WavFile::open(write(dir.path(), "bad.wav", &bad)).unwrap_err(),
        MelError::InvalidWav { .. }
    ));
}
