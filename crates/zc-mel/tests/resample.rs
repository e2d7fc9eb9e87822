//! Resampling to 16 kHz (feature `resample`): output length rule, tone
//! fidelity at common rates, anti-aliasing, the 16 kHz pass-through, the WAV
//! convenience feeding the mel front end, the ledger and the error cases.

#![cfg(feature = "resample")]

mod common;
use common::Relayout;

use std::f64::consts::PI;
use std::path::{Path, PathBuf};

use zc_buffers::BufferError;
use zc_buffers::ledger::{self, CopyKind};
use zc_buffers::{AlignedBuf, HostBufferExt};
use zc_mel::{
    Layout, MAX_INPUT_RATE, MIN_INPUT_RATE, MelConfig, MelError, MelSpectrogram, Resampler, SAMPLE_RATE, WavFile,
    resampled_len,
};

fn sine(rate: u32, freq: f64, amp: f64, n: usize) -> Vec<f32> {
    (0..n)
        .map(|i| (amp * (2.0 * PI * freq * i as f64 / f64::from(rate)).sin()) as f32)
        .collect()
}

fn resample(rate: u32, input: &[f32]) -> Vec<f32> {
    let mut r = Resampler::new(rate).unwrap();
    let mut out = vec![f32::NAN; r.output_len(input.len())];
    assert_eq!(r.process_into_slice(input, &mut out).unwrap(), out.len());
    out
}

/// Amplitude of the `freq` component of `x` (16 kHz) by projecting onto sin
/// and cos over a whole number of periods: one DFT bin.
fn tone_amplitude(x: &[f32], freq: f64) -> f64 {
    let (mut s, mut c) = (0.0, 0.0);
    for (i, &v) in x.iter().enumerate() {
        let ph = 2.0 * PI * freq * i as f64 / 16_000.0;
        s += f64::from(v) * ph.sin();
        c += f64::from(v) * ph.cos();
    }
    2.0 * (s * s + c * c).sqrt() / x.len() as f64
}

#[test]
fn output_length_is_rounded_ratio() {
    assert_eq!(resampled_len(44_100, 44_100, 16_000), 16_000);
    assert_eq!(resampled_len(48_000, 48_000, 16_000), 16_000);
    assert_eq!(resampled_len(8_000, 8_000, 16_000), 16_000);
    assert_eq!(resampled_len(1, 44_100, 16_000), 0); // 0.36
    assert_eq!(resampled_len(2, 44_100, 16_000), 1); // 0.73
    assert_eq!(resampled_len(1, 32_000, 16_000), 1); // 0.5 rounds up
    assert_eq!(resampled_len(3, 32_000, 16_000), 2); // 1.5 rounds up
    assert_eq!(resampled_len(7, 16_000, 16_000), 7);
    assert_eq!(resampled_len(5, 0, 16_000), 0);
    assert_eq!(resampled_len(usize::MAX, 1_000, 16_000), usize::MAX);
    for rate in [8_000u32, 11_025, 22_050, 44_100, 48_000, 44_101] {
        let mut r = Resampler::new(rate).unwrap();
        for n in [0usize, 1, 2, 3, 100, 2_047, 2_048, 2_049, 5_001] {
            let want = ((n as f64) * 16_000.0 / f64::from(rate) + 0.5).floor() as usize;
            assert_eq!(r.output_len(n), want, "rate {rate} n {n}");
            let input = sine(rate, 440.0, 0.5, n);
            let mut out = vec![f32::NAN; want];
            assert_eq!(r.process_into_slice(&input, &mut out).unwrap(), want);
            assert!(out.iter().all(|v| v.is_finite()), "rate {rate} n {n}");
        }
    }
}

#[test]
fn sine_keeps_frequency_amplitude_and_phase() {
    for rate in [44_100u32, 48_000, 8_000, 22_050, 96_000, 44_101] {
        let n = rate as usize; // one second
        let out = resample(rate, &sine(rate, 1_000.0, 0.5, n));
        assert_eq!(out.len(), 16_000);
        // away from the edges (where the signal starts/stops abruptly)
        let inner = &out[1_600..14_400]; // 0.8 s = 800 whole periods
        let amp = tone_amplitude(inner, 1_000.0);
        assert!((amp - 0.5).abs() < 0.5e-3, "rate {rate}: amplitude {amp}");
        // frequency by zero crossings: 2 per period
        let crossings = inner.windows(2).filter(|w| (w[0] < 0.0) != (w[1] < 0.0)).count();
        assert!(
            (1_599..=1_601).contains(&crossings),
            "rate {rate}: {crossings} crossings"
        );
        // sample by sample against the ideal 16 kHz tone (checks the delay is trimmed exactly)
        let ideal = sine(16_000, 1_000.0, 0.5, 16_000);
        let err = out[1_600..14_400]
            .iter()
            .zip(&ideal[1_600..14_400])
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        assert!(err < 1e-4, "rate {rate}: max error {err}");
    }
}

#[test]
fn tones_above_8khz_are_removed() {
    for (rate, freq) in [
        (48_000u32, 9_000.0),
        (48_000, 8_200.0),
        (44_100, 8_200.0),
        (44_100, 12_000.0),
    ] {
        let out = resample(rate, &sine(rate, freq, 0.5, rate as usize));
        let peak = out[1_600..14_400].iter().fold(0f32, |m, v| m.max(v.abs()));
        assert!(peak < 1e-5, "{freq} Hz at {rate} Hz leaks with peak {peak}");
    }
    // and 7 kHz (inside the passband) survives
    let out = resample(48_000, &sine(48_000, 7_000.0, 0.5, 48_000));
    let amp = tone_amplitude(&out[1_600..14_400], 7_000.0);
    assert!((amp - 0.5).abs() < 0.01, "7 kHz amplitude {amp}");
}

#[test]
fn sixteen_khz_is_an_exact_pass_through() {
    let input = sine(16_000, 1_000.0, 0.5, 12_345);
    let mut r = Resampler::new(SAMPLE_RATE).unwrap();
    assert!(r.is_passthrough());
    let mut out = vec![0f32; 12_345];
    let (n, report) = ledger::scope(|| r.process_into_slice(&input, &mut out));
    assert_eq!(n.unwrap(), 12_345);
    assert_eq!(out, input);
    assert_eq!(report.copies_of(CopyKind::Other), 1);
    assert_eq!(report.copies_of(CopyKind::Convert), 0);
}

#[test]
fn repeated_calls_give_identical_output_and_one_convert_each() {
    let mut r = Resampler::new(44_100).unwrap();
    assert!(!r.is_passthrough());
    let a = sine(44_100, 1_000.0, 0.5, 10_000);
    let b = sine(44_100, 300.0, 0.2, 30_000);
    let mut out_a = AlignedBuf::zeroed(r.output_bytes(a.len())).unwrap();
    let mut first = vec![0f32; r.output_len(a.len())];
    r.process_into_slice(&a, &mut first).unwrap();
    let mut out_b = vec![0f32; r.output_len(b.len())];
    r.process_into_slice(&b, &mut out_b).unwrap();
    let (n, report) = ledger::scope(|| r.process_into(&a, &mut out_a));
    assert_eq!(n.unwrap(), first.len());
    assert_eq!(out_a.as_slice::<f32>().unwrap(), &first[..]);
    assert_eq!(report.copies_of(CopyKind::Convert), 1);
    assert_eq!(report.bytes_of(CopyKind::Convert), first.len() as u64 * 4);
    assert_eq!(report.copies_of(CopyKind::Other), 0);
}

fn write_i16_wav(dir: &Path, name: &str, rate: u32, channels: u16, mono: &[f32]) -> PathBuf {
    let path = dir.join(name);
    let spec = hound::WavSpec {
        channels,
        sample_rate: rate,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(&path, spec).unwrap();
    for &s in mono {
        for _ in 0..channels {
            w.write_sample((s * 32767.0).round() as i16).unwrap();
        }
    }
    w.finalize().unwrap();
    path
}

#[test]
fn wav_at_48khz_resamples_and_feeds_the_mel_front_end() {
    let dir = tempfile::tempdir().unwrap();
    let audio = sine(48_000, 1_000.0, 0.5, 72_000); // 1.5 s
    let path = write_i16_wav(dir.path(), "tone48k.wav", 48_000, 2, &audio);
    let wav = WavFile::open(&path).unwrap();
    assert_eq!(wav.info().num_samples_at(SAMPLE_RATE), 24_000);
    assert_eq!(wav.info().resampled_bytes(), 96_000);
    let mut samples = AlignedBuf::zeroed(wav.info().resampled_bytes()).unwrap();
    let (n, report) = ledger::scope(|| wav.decode_resampled_into(&mut samples));
    assert_eq!(n.unwrap(), 24_000);
    // decode (i16 stereo -> mono f32) + resample: two conversions
    assert_eq!(report.copies_of(CopyKind::Convert), 2);
    assert_eq!(report.bytes_of(CopyKind::Convert), (72_000 + 24_000) * 4);
    let s = samples.as_slice::<f32>().unwrap();
    assert!((tone_amplitude(&s[1_600..22_400], 1_000.0) - 0.5).abs() < 0.005);

    // same as decoding then resampling with a reused plan
    let mut r = Resampler::new(48_000).unwrap();
    let mut again = vec![0f32; 24_000];
    wav.decode_resampled_into_with(&mut r, &mut again).unwrap();
    assert_eq!(&again[..], s);

    let mel = MelSpectrogram::new(MelConfig::whisper(80)).unwrap();
    let mut out = AlignedBuf::zeroed(mel.output_bytes(s.len()).unwrap()).unwrap();
    let shape = mel.lay(Layout::MelMajor).compute_into(s, &mut out).unwrap();
    assert_eq!(shape.dims(), (80, 150));
    assert!(out.as_slice::<f32>().unwrap().iter().all(|v| v.is_finite()));
}

#[test]
fn wav_at_16khz_is_decoded_without_resampling() {
    let dir = tempfile::tempdir().unwrap();
    let audio = sine(16_000, 1_000.0, 0.5, 5_000);
    let path = write_i16_wav(dir.path(), "tone16k.wav", 16_000, 1, &audio);
    let wav = WavFile::open(&path).unwrap();
    let mut a = vec![0f32; wav.info().num_samples_at(SAMPLE_RATE)];
    let mut b = vec![0f32; wav.info().num_samples()];
    let mut a_buf = AlignedBuf::zeroed(a.len() * 4).unwrap();
    let (n, report) = ledger::scope(|| wav.decode_resampled_into(&mut a_buf));
    assert_eq!(n.unwrap(), 5_000);
    assert_eq!(report.copies_of(CopyKind::Convert), 1); // the i16 decode only
    a.copy_from_slice(a_buf.as_slice::<f32>().unwrap());
    wav.decode_into_slice(&mut b).unwrap();
    assert_eq!(a, b);
}

#[test]
fn resampler_is_send() {
    fn send<T: Send>() {}
    send::<Resampler>();
}

#[test]
fn bad_rates_are_typed_errors() {
    for rate in [0u32, 1, MIN_INPUT_RATE - 1, MAX_INPUT_RATE + 1, u32::MAX] {
        match Resampler::new(rate) {
            Err(MelError::InvalidSampleRate { rate: r, min, max }) => {
                assert_eq!((r, min, max), (rate, MIN_INPUT_RATE, MAX_INPUT_RATE));
            }
            other => panic!("rate {rate}: {other:?}"),
        }
    }
    assert!(Resampler::new(MIN_INPUT_RATE).is_ok());
    let msg = Resampler::new(0).unwrap_err().to_string();
    assert!(msg.contains("0 Hz"), "{msg}");
}

#[test]
fn wrong_sized_output_leaves_it_untouched() {
    for rate in [48_000u32, 16_000] {
        let mut r = Resampler::new(rate).unwrap();
        let input = sine(rate, 1_000.0, 0.5, 4_800);
        let want = r.output_len(input.len());
        for len in [0, want - 1] {
            let mut out = vec![7.0f32; len];
            match r.process_into_slice(&input, &mut out) {
                Err(MelError::Buffer(BufferError::OutputTooSmall { needed, actual, .. })) => {
                    assert_eq!((needed, actual), (want, len))
                }
                other => panic!("{other:?}"),
            }
            assert!(out.iter().all(|&v| v == 7.0));
        }
        // a larger output gets the prefix, the rest untouched
        let mut exact = vec![0f32; want];
        r.process_into_slice(&input, &mut exact).unwrap();
        let mut larger = vec![7.0f32; want + 1];
        assert_eq!(r.process_into_slice(&input, &mut larger).unwrap(), want);
        assert_eq!(&larger[..want], &exact[..]);
        assert_eq!(larger[want], 7.0);
    }
    // WAV convenience: wrong size, and a plan for another rate
    let dir = tempfile::tempdir().unwrap();
    let path = write_i16_wav(dir.path(), "t.wav", 48_000, 1, &sine(48_000, 1_000.0, 0.5, 4_800));
    let wav = WavFile::open(&path).unwrap();
    let mut out = vec![7.0f32; 1_601];
    let mut buf = AlignedBuf::zeroed(1_599 * 4).unwrap();
    assert!(matches!(
        wav.decode_resampled_into(&mut buf),
        Err(MelError::Buffer(BufferError::OutputTooSmall {
            needed: 1_600,
            actual: 1_599,
            ..
        }))
    ));
    assert!(buf.as_slice::<f32>().unwrap().iter().all(|&v| v == 0.0));
    let mut r = Resampler::new(48_000).unwrap();
    assert_eq!(wav.decode_resampled_into_with(&mut r, &mut out).unwrap(), 1_600);
    assert_eq!(out[1_600], 7.0, "only the prefix is written");
    let mut r44 = Resampler::new(44_100).unwrap();
    let mut out = vec![7.0f32; 1_600];
    assert!(matches!(
        wav.decode_resampled_into_with(&mut r44, &mut out),
        Err(MelError::SampleRate {
            expected: 44_100,
            actual: 48_000,
            ..
        })
    ));
    assert!(out.iter().all(|&v| v == 7.0));
}
