//! Exact copy figures from the zc-buffers ledger: the mel front end copies
//! nothing; WAV loading copies exactly what it says.

mod common;
use common::Relayout;

use std::io::Write;

use zc_buffers::ledger::{self, CopyKind};
use zc_buffers::{AlignedBuf, Pool};
use zc_mel::{Layout, MelConfig, MelSpectrogram, Padding, WavFile};

fn write_f32_wav(path: &std::path::Path, samples: &[f32], extra_chunk: &[u8]) {
    let mut f = std::fs::File::create(path).unwrap();
    let data_len = (samples.len() * 4) as u32;
    let extra = if extra_chunk.is_empty() {
        0
    } else {
        8 + extra_chunk.len() as u32
    };
    f.write_all(b"RIFF").unwrap();
    f.write_all(&(4 + 24 + extra + 8 + data_len).to_le_bytes()).unwrap();
    f.write_all(b"WAVE").unwrap();
    f.write_all(b"fmt ").unwrap();
    f.write_all(&16u32.to_le_bytes()).unwrap();
    for v in [3u16, 1] {
        f.write_all(&v.to_le_bytes()).unwrap();
    }
    f.write_all(&16_000u32.to_le_bytes()).unwrap();
    f.write_all(&64_000u32.to_le_bytes()).unwrap();
    for v in [4u16, 32] {
        f.write_all(&v.to_le_bytes()).unwrap();
    }
    if !extra_chunk.is_empty() {
        f.write_all(b"LIST").unwrap();
        f.write_all(&(extra_chunk.len() as u32).to_le_bytes()).unwrap();
        f.write_all(extra_chunk).unwrap();
    }
    f.write_all(b"data").unwrap();
    f.write_all(&data_len.to_le_bytes()).unwrap();
    for s in samples {
        f.write_all(&s.to_le_bytes()).unwrap();
    }
}

fn tone(n: usize) -> Vec<f32> {
    (0..n).map(|i| (i as f32 * 0.07).sin() * 0.25).collect()
}

#[test]
fn mel_into_pool_buffer_copies_nothing() {
    let audio = tone(20_000);
    let pool = Pool::builder().name("mel").build().unwrap();
    let mel = MelSpectrogram::new(MelConfig::whisper(80).padding(Padding::WHISPER_30S)).unwrap();
    let mut out = pool.acquire(mel.output_bytes(audio.len()).unwrap()).unwrap();
    let (r, report) = ledger::scope(|| mel.lay(Layout::FrameMajor).compute_into(&audio, &mut out));
    assert_eq!(r.unwrap().dims(), (3000, 80));
    assert_eq!(report.copies, 0, "{report}");
    assert_eq!(report.bytes_copied, 0);
}

#[test]
fn mono_f32_wav_is_mapped_without_copy() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tone.wav");
    let audio = tone(16_000);
    write_f32_wav(&path, &audio, &[]);
    let ((), report) = ledger::scope(|| {
        let wav = WavFile::open(&path).unwrap().expect_sample_rate(16_000).unwrap();
        let s = wav.samples().unwrap();
        assert!(s.is_zero_copy());
        assert_eq!(&s[..], &audio[..]);
        let direct = wav.samples_f32().unwrap();
        assert_eq!(direct.as_ptr(), s.as_ptr());
        // mel straight off the mapping
        let mel = MelSpectrogram::new(MelConfig::whisper(80)).unwrap();
        let mut out = AlignedBuf::zeroed(mel.output_bytes(s.len()).unwrap()).unwrap();
        mel.lay(Layout::MelMajor).compute_into(&s, &mut out).unwrap();
    });
    assert_eq!(report.copies, 0, "{report}");
}

#[test]
fn misaligned_f32_payload_is_realigned_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("odd.wav");
    let audio = tone(1_000);
    // a 2-byte LIST chunk puts the payload at offset 54 (not a multiple of 4)
    write_f32_wav(&path, &audio, b"ab");
    let wav = WavFile::open(&path).unwrap();
    assert_eq!(wav.info().data_offset, 54);
    assert!(matches!(wav.samples_f32(), Err(zc_mel::MelError::NotZeroCopy { .. })));
    let (s, report) = ledger::scope(|| wav.samples().unwrap());
    assert!(!s.is_zero_copy());
    assert_eq!(&s[..], &audio[..]);
    assert_eq!(report.copies, 1);
    assert_eq!(report.copies_of(CopyKind::Realign), 1);
    assert_eq!(report.bytes_of(CopyKind::Realign), 4_000);
}

#[test]
fn i16_wav_decode_records_one_conversion() {
    let wav = WavFile::open(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/speech_16k.wav")).unwrap();
    assert_eq!(wav.info().format, zc_mel::SampleFormat::I16);
    let pool = Pool::builder().name("pcm").build().unwrap();
    let mut buf = pool.acquire(wav.info().decoded_bytes()).unwrap();
    let (n, report) = ledger::scope(|| wav.decode_into(&mut buf));
    assert_eq!(n.unwrap(), 122_931);
    assert_eq!(report.copies, 1);
    assert_eq!(report.copies_of(CopyKind::Convert), 1);
    assert_eq!(report.bytes_of(CopyKind::Convert), 122_931 * 4);
    // and samples() on the same file: one conversion into a fresh buffer
    let (s, report) = ledger::scope(|| wav.samples().unwrap());
    assert_eq!(s.len(), 122_931);
    assert_eq!(report.bytes_of(CopyKind::Convert), 122_931 * 4);
    assert_eq!(report.copies, 1);
}

#[test]
fn decoding_mono_f32_into_a_buffer_is_one_plain_copy() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tone.wav");
    write_f32_wav(&path, &tone(500), &[]);
    let mut out = AlignedBuf::zeroed(2_000).unwrap();
    let (n, report) = ledger::scope(|| zc_mel::load_wav_into(&path, &mut out));
    assert_eq!(n.unwrap(), 500);
    assert_eq!(
        (report.copies_of(CopyKind::Other), report.bytes_of(CopyKind::Other)),
        (1, 2_000)
    );
    assert_eq!(report.copies, 1);
}

/// sox's float WAV layout: an 18-byte `fmt ` chunk (with `cbSize`) and a
/// `fact` chunk put the data at byte 58, which is not 4-byte aligned.
fn write_sox_style_f32_wav(path: &std::path::Path, samples: &[f32]) {
    let data_len = (samples.len() * 4) as u32;
    let mut b = Vec::new();
    b.extend_from_slice(b"RIFF");
    b.extend_from_slice(&(4 + 26 + 12 + 8 + data_len).to_le_bytes());
    b.extend_from_slice(b"WAVEfmt ");
    b.extend_from_slice(&18u32.to_le_bytes());
    for v in [3u16, 1] {
        b.extend_from_slice(&v.to_le_bytes());
    }
    b.extend_from_slice(&16_000u32.to_le_bytes());
    b.extend_from_slice(&64_000u32.to_le_bytes());
    for v in [4u16, 32, 0] {
        b.extend_from_slice(&v.to_le_bytes());
    }
    b.extend_from_slice(b"fact");
    b.extend_from_slice(&4u32.to_le_bytes());
    b.extend_from_slice(&(samples.len() as u32).to_le_bytes());
    b.extend_from_slice(b"data");
    b.extend_from_slice(&data_len.to_le_bytes());
    for s in samples {
        b.extend_from_slice(&s.to_le_bytes());
    }
    std::fs::write(path, b).unwrap();
}

/// The README's claim, both ways: a 16 kHz mono float WAV is read in place
/// with 0 copies when its data starts 4-byte aligned (the canonical 44-byte
/// header), and with exactly one realign copy when it does not (sox's
/// layout, data at byte 58).
#[test]
fn float_wav_is_zero_copy_exactly_when_its_data_is_aligned() {
    let dir = tempfile::tempdir().unwrap();
    let audio = tone(3_000);
    let canonical = dir.path().join("canonical.wav");
    write_f32_wav(&canonical, &audio, &[]);
    let sox = dir.path().join("sox.wav");
    write_sox_style_f32_wav(&sox, &audio);
    let mel = MelSpectrogram::new(MelConfig::whisper(80)).unwrap();
    let mut want = None;
    for (path, offset, copies) in [(&canonical, 44, 0), (&sox, 58, 1)] {
        let wav = WavFile::open(path).unwrap();
        assert_eq!(wav.info().data_offset, offset);
        assert_eq!(wav.samples_f32().is_ok(), copies == 0);
        let (out, report) = ledger::scope(|| {
            let s = wav.samples().unwrap();
            assert_eq!(s.is_zero_copy(), copies == 0);
            let mut out = AlignedBuf::zeroed(mel.output_bytes(s.len()).unwrap()).unwrap();
            mel.compute_into(&s, &mut out).unwrap();
            out
        });
        assert_eq!(report.copies, copies, "{report}");
        assert_eq!(report.copies_of(CopyKind::Realign), copies);
        assert_eq!(report.bytes_of(CopyKind::Realign), copies * 12_000);
        let out = zc_buffers::HostBufferExt::as_slice::<f32>(&out).unwrap().to_vec();
        assert_eq!(want.get_or_insert_with(|| out.clone()), &out);
    }
}
