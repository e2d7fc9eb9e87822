//! WAV decoding: every supported sample format and channel count against
//! files written by `hound`, and clear errors for bad files.

use std::path::{Path, PathBuf};

use zc_buffers::AlignedBuf;
use zc_mel::{MelError, SampleFormat, WavFile, load_wav_into};

fn write_int(dir: &Path, name: &str, bits: u16, channels: u16, rate: u32, frames: &[Vec<i32>]) -> PathBuf {
    let path = dir.join(name);
    let spec = hound::WavSpec {
        channels,
        sample_rate: rate,
        bits_per_sample: bits,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(&path, spec).unwrap();
    for f in frames {
        for &s in f {
            match bits {
                8 => w.write_sample(s as i8).unwrap(),
                16 => w.write_sample(s as i16).unwrap(),
                _ => w.write_sample(s).unwrap(),
            }
        }
    }
    w.finalize().unwrap();
    path
}

fn decode(path: &Path) -> (zc_mel::WavInfo, Vec<f32>) {
    let wav = WavFile::open(path).unwrap();
    let mut out = vec![0f32; wav.info().num_samples()];
    assert_eq!(wav.decode_into_slice(&mut out).unwrap(), out.len());
    (wav.info().clone(), out)
}

#[test]
fn integer_pcm_formats_scale_by_full_scale() {
    let dir = tempfile::tempdir().unwrap();
    for (bits, fmt, full) in [
        (8u16, SampleFormat::U8, 128.0f64),
        (16, SampleFormat::I16, 32768.0),
        (24, SampleFormat::I24, 8_388_608.0),
        (32, SampleFormat::I32, 2_147_483_648.0),
    ] {
        let max = full as i64 - 1;
        let vals: Vec<i32> = [-(full as i64), -max / 3, -1, 0, 1, max / 2, max]
            .iter()
            .map(|&v| v as i32)
            .collect();
        let frames: Vec<Vec<i32>> = vals.iter().map(|&v| vec![v]).collect();
        let path = write_int(dir.path(), &format!("i{bits}.wav"), bits, 1, 16_000, &frames);
        let (info, out) = decode(&path);
        assert_eq!(info.format, fmt);
        assert_eq!(
            (info.channels, info.sample_rate, info.num_samples()),
            (1, 16_000, vals.len())
        );
        for (o, v) in out.iter().zip(&vals) {
            assert_eq!(*o, (f64::from(*v) / full) as f32, "{bits} bits, value {v}");
        }
        assert!(matches!(
            WavFile::open(&path).unwrap().samples_f32(),
            Err(MelError::NotZeroCopy { .. })
        ));
    }
}

#[test]
fn stereo_is_averaged_to_mono() {
    let dir = tempfile::tempdir().unwrap();
    let frames: Vec<Vec<i32>> = (0..100).map(|i| vec![i * 100, -i * 50]).collect();
    let path = write_int(dir.path(), "stereo.wav", 16, 2, 16_000, &frames);
    let (info, out) = decode(&path);
    assert_eq!((info.channels, info.num_samples(), info.frame_bytes()), (2, 100, 4));
    for (i, o) in out.iter().enumerate() {
        let want = ((i as f64 * 100.0 - i as f64 * 50.0) / 32768.0 / 2.0) as f32;
        assert_eq!(*o, want);
    }
    // samples() decodes once into an owned buffer
    let wav = WavFile::open(&path).unwrap();
    let s = wav.samples().unwrap();
    assert!(!s.is_zero_copy());
    assert_eq!(&s[..], &out[..]);
}

#[test]
fn float_formats_decode() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("f32.wav");
    let spec = hound::WavSpec {
        channels: 2,
        sample_rate: 16_000,
        bits_per_sample: 32,
        sample_format: hound::SampleFormat::Float,
    };
    let mut w = hound::WavWriter::create(&path, spec).unwrap();
    for i in 0..64 {
        w.write_sample(i as f32 / 64.0).unwrap();
        w.write_sample(-0.25f32).unwrap();
    }
    w.finalize().unwrap();
    let (info, out) = decode(&path);
    assert_eq!((info.format, info.channels), (SampleFormat::F32, 2));
    for (i, o) in out.iter().enumerate() {
        assert_eq!(*o, ((f64::from(i as f32 / 64.0) - 0.25) / 2.0) as f32);
    }

    // 64-bit float (hound cannot write it): hand-made header
    let path = dir.path().join("f64.wav");
    let vals = [0.5f64, -0.125, 1e-3];
    let mut b = Vec::new();
    b.extend_from_slice(b"RIFF");
    b.extend_from_slice(&(4u32 + 24 + 8 + 24).to_le_bytes());
    b.extend_from_slice(b"WAVEfmt ");
    b.extend_from_slice(&16u32.to_le_bytes());
    for v in [3u16, 1] {
        b.extend_from_slice(&v.to_le_bytes());
    }
    b.extend_from_slice(&16_000u32.to_le_bytes());
    b.extend_from_slice(&128_000u32.to_le_bytes());
    for v in [8u16, 64] {
        b.extend_from_slice(&v.to_le_bytes());
    }
    b.extend_from_slice(b"data");
    b.extend_from_slice(&24u32.to_le_bytes());
    for v in vals {
        b.extend_from_slice(&v.to_le_bytes());
    }
    std::fs::write(&path, &b).unwrap();
    let (info, out) = decode(&path);
    assert_eq!(info.format, SampleFormat::F64);
    assert_eq!(out, vals.map(|v| v as f32));
}

#[test]
fn load_wav_into_checks_rate_and_size() {
    let dir = tempfile::tempdir().unwrap();
    let frames: Vec<Vec<i32>> = (0..50).map(|i| vec![i]).collect();
    let p44 = write_int(dir.path(), "44k.wav", 16, 1, 44_100, &frames);
    let mut out = AlignedBuf::zeroed(200).unwrap();
    match load_wav_into(&p44, &mut out) {
        Err(MelError::SampleRate {
            expected: 16_000,
            actual: 44_100,
            ..
        }) => {}
        other => panic!("expected SampleRate error, got {other:?}"),
    }
    let p16 = write_int(dir.path(), "16k.wav", 16, 1, 16_000, &frames);
    let mut small = AlignedBuf::zeroed(196).unwrap();
    assert!(matches!(
        load_wav_into(&p16, &mut small),
        Err(MelError::Buffer(zc_buffers::BufferError::OutputTooSmall {
            needed: 50,
            actual: 49,
            ..
        }))
    ));
    assert!(small.iter().all(|&b| b == 0), "output touched on error");
    assert_eq!(load_wav_into(&p16, &mut out).unwrap(), 50);
}

#[test]
fn corrupt_files_give_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let frames: Vec<Vec<i32>> = (0..100).map(|i| vec![i]).collect();
    let good = std::fs::read(write_int(dir.path(), "good.wav", 16, 1, 16_000, &frames)).unwrap();
    let write = |name: &str, bytes: &[u8]| {
        let p = dir.path().join(name);
        std::fs::write(&p, bytes).unwrap();
        p
    };

    // truncated: the data chunk claims 200 bytes, 150 remain
    let p = write("trunc.wav", &good[..good.len() - 50]);
    match WavFile::open(&p) {
        Err(MelError::Truncated {
            declared: 200,
            available: 150,
            offset: 44,
            ..
        }) => {}
        other => panic!("expected Truncated, got {other:?}"),
    }
    // not RIFF
    let p = write("text.wav", b"hello, this is not a wav file at all");
    assert!(matches!(WavFile::open(&p), Err(MelError::InvalidWav { offset: 0, .. })));
    // empty file
    let p = write("empty.wav", b"");
    assert!(matches!(WavFile::open(&p), Err(MelError::Buffer(_))));
    // missing file
    assert!(matches!(
        WavFile::open(dir.path().join("nope.wav")),
        Err(MelError::Buffer(_))
    ));
    // unsupported format tag (ADPCM = 2)
    let mut adpcm = good.clone();
    adpcm[20] = 2;
    let p = write("adpcm.wav", &adpcm);
    assert!(matches!(
        WavFile::open(&p),
        Err(MelError::UnsupportedFormat { format_tag: 2, .. })
    ));
    // ragged data: 199 bytes of 16-bit samples
    let mut ragged = good[..good.len() - 1].to_vec();
    ragged[40..44].copy_from_slice(&199u32.to_le_bytes());
    let p = write("ragged.wav", &ragged);
    assert!(matches!(
        WavFile::open(&p),
        Err(MelError::RaggedData {
            data_len: 199,
            frame_bytes: 2,
            ..
        })
    ));
    // no data chunk
    let p = write("nodata.wav", &good[..36]);
    assert!(matches!(WavFile::open(&p), Err(MelError::InvalidWav { .. })));
    // error messages name the file
    let e = WavFile::open(dir.path().join("trunc.wav")).unwrap_err().to_string();
    assert!(e.contains("trunc.wav") && e.contains("truncated"), "{e}");
}

#[test]
fn speech_fixture_header() {
    let wav = WavFile::open(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/speech_16k.wav")).unwrap();
    let info = wav.info();
    assert_eq!(
        (info.sample_rate, info.channels, info.format),
        (16_000, 1, SampleFormat::I16)
    );
    assert_eq!(info.num_samples(), 122_931);
    assert!((info.duration_secs() - 7.683_187_5).abs() < 1e-9);
    assert_eq!(wav.data_bytes().len(), 122_931 * 2);
}
