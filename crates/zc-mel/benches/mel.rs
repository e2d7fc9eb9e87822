//! Side-by-side: zc-mel (into a caller buffer, both layouts) against the
//! `mel_spec` crate on the 30 s chirp fixture, 80 mels. Only ratios measured
//! in one run are meaningful on a shared machine.

use criterion::{Criterion, criterion_group, criterion_main};
use mel_spec::prelude::{BatchLogMelConfig, BatchLogMelSpectrogram, Spectrogram};
use std::hint::black_box;
use zc_buffers::AlignedBuf;
use zc_mel::{Layout, MelConfig, MelSpectrogram, WavFile};

fn chirp() -> Vec<f32> {
    let bytes = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/chirp_30s.f32")).unwrap();
    bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect()
}

fn bench(c: &mut Criterion) {
    let x = chirp();
    let mut g = c.benchmark_group("log_mel_30s_80");

    let mut mel = MelSpectrogram::new(MelConfig::whisper(80)).unwrap();
    let mut out = AlignedBuf::zeroed(mel.output_bytes(x.len()).unwrap()).unwrap();
    g.bench_function("zc-mel compute_into mel-major", |b| {
        b.iter(|| mel.compute_into(black_box(&x), &mut out, Layout::MelMajor).unwrap())
    });
    g.bench_function("zc-mel compute_into frame-major", |b| {
        b.iter(|| mel.compute_into(black_box(&x), &mut out, Layout::FrameMajor).unwrap())
    });

    let batch = BatchLogMelSpectrogram::new(BatchLogMelConfig {
        n_fft: 400,
        win_length: 400,
        hop_length: 160,
        n_mels: 80,
        ..BatchLogMelConfig::default()
    })
    .unwrap();
    let mut scratch = batch.scratch();
    g.bench_function("mel_spec BatchLogMelSpectrogram (with scratch)", |b| {
        b.iter(|| batch.compute_flat_with_scratch(black_box(&x), &mut scratch).unwrap())
    });
    g.bench_function("mel_spec Spectrogram::compute_mel_spectrogram_cpu", |b| {
        b.iter(|| Spectrogram::compute_mel_spectrogram_cpu(black_box(&x), 400, 160, 80, 16_000.0))
    });
    g.finish();

    let mut g = c.benchmark_group("wav_speech_7.7s");
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/speech_16k.wav");
    let wav = WavFile::open(path).unwrap();
    let mut pcm = AlignedBuf::zeroed(wav.info().decoded_bytes()).unwrap();
    g.bench_function("zc-mel decode_into (i16 -> f32)", |b| {
        b.iter(|| wav.decode_into(&mut pcm).unwrap())
    });
    g.bench_function("hound read + collect (i16 -> f32)", |b| {
        b.iter(|| {
            let mut r = hound::WavReader::open(path).unwrap();
            r.samples::<i16>()
                .map(|s| f32::from(s.unwrap()) / 32768.0)
                .collect::<Vec<f32>>()
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
