//! Side-by-side: zc-mel (into a caller buffer) against the `mel_spec` crate
//! in the same run, on the 30 s chirp fixture: 80 and 128 mels, one thread
//! and all threads, both layouts, each kernel level below the detected one
//! (AVX2, portable), `padding=480000`,
//! and `pad_or_trim` of a 5 s clip (silent frames skip the FFT). Only
//! ratios measured in one run are meaningful on a shared machine.
//!
//! Needs the `bench-peers` feature (it builds the peer crate):
//! `cargo bench -p zc-mel --features bench-peers --bench mel`.

use criterion::{Criterion, criterion_group, criterion_main};
use mel_spec::prelude::{BatchLogMelConfig, BatchLogMelSpectrogram, Spectrogram};
use std::hint::black_box;
use zc_buffers::AlignedBuf;
use zc_mel::{Layout, MelConfig, MelSpectrogram, MelStream, Normalization, Padding, SimdLevel, WavFile};

fn chirp() -> Vec<f32> {
    let bytes = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/chirp_30s.f32")).unwrap();
    bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect()
}

fn zc(
    c: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    name: &str,
    x: &[f32],
    mel: MelSpectrogram,
    layout: Layout,
) {
    let mel = mel.to_builder().layout(layout).build().unwrap();
    let mut scratch = mel.make_scratch();
    let mut out = AlignedBuf::zeroed(mel.output_bytes(x.len()).unwrap()).unwrap();
    c.bench_function(name, |b| {
        b.iter(|| {
            mel.compute_into_with_scratch(black_box(x), &mut out, &mut scratch)
                .unwrap()
        })
    });
}

fn bench(c: &mut Criterion) {
    let x = chirp();
    let all = std::thread::available_parallelism().map_or(1, |n| n.get());
    for n_mels in [80usize, 128] {
        let mut g = c.benchmark_group(format!("log_mel_30s_{n_mels}"));
        let plan = || MelSpectrogram::new(MelConfig::whisper(n_mels)).unwrap();
        zc(&mut g, "zc-mel 1 thread mel-major", &x, plan(), Layout::MelMajor);
        zc(&mut g, "zc-mel 1 thread frame-major", &x, plan(), Layout::FrameMajor);
        zc(
            &mut g,
            &format!("zc-mel {all} threads mel-major"),
            &x,
            plan().to_builder().threads(all).build().unwrap(),
            Layout::MelMajor,
        );
        // the levels below the detected one, side by side
        let best = plan().simd_level();
        for level in [SimdLevel::Avx2, SimdLevel::Portable] {
            if level != best && level.is_available() && (n_mels == 80 || level != SimdLevel::Portable) {
                let p = plan().to_builder().simd(level).build().unwrap();
                zc(
                    &mut g,
                    &format!("zc-mel 1 thread {level} kernels"),
                    &x,
                    p,
                    Layout::MelMajor,
                );
            }
        }
        if n_mels == 80 {
            let pad = MelSpectrogram::new(MelConfig::whisper(80).padding(Padding::Append(480_000))).unwrap();
            zc(
                &mut g,
                "zc-mel padding=480000 (60 s, half silent)",
                &x,
                pad,
                Layout::MelMajor,
            );
            let five = &x[..80_000];
            let pot = MelSpectrogram::new(MelConfig::whisper(80).padding(Padding::WHISPER_30S)).unwrap();
            zc(
                &mut g,
                "zc-mel pad_or_trim of 5 s to 30 s (FFT skipping)",
                five,
                pot,
                Layout::MelMajor,
            );
            let mut stream = MelStream::new(MelConfig::whisper(80).normalization(Normalization::Fixed(1.0))).unwrap();
            let mut frames = vec![0f32; 3000 * 80];
            g.bench_function("zc-mel MelStream, 1600-sample chunks", |b| {
                b.iter(|| {
                    let mut at = 0;
                    for chunk in x.chunks(1600) {
                        at += stream
                            .push_into_slice(black_box(chunk), &mut frames[at * 80..])
                            .unwrap()
                            .n_frames;
                    }
                    stream.finish_into_slice(&mut frames[at * 80..]).unwrap()
                })
            });
        }
        let batch = BatchLogMelSpectrogram::new(BatchLogMelConfig {
            n_fft: 400,
            win_length: 400,
            hop_length: 160,
            n_mels,
            ..BatchLogMelConfig::default()
        })
        .unwrap();
        let mut scratch = batch.scratch();
        g.bench_function("mel_spec BatchLogMelSpectrogram (with scratch)", |b| {
            b.iter(|| batch.compute_flat_with_scratch(black_box(&x), &mut scratch).unwrap())
        });
        if n_mels == 80 {
            g.bench_function("mel_spec Spectrogram::compute_mel_spectrogram_cpu", |b| {
                b.iter(|| Spectrogram::compute_mel_spectrogram_cpu(black_box(&x), 400, 160, 80, 16_000.0))
            });
        }
        g.finish();
    }

    let mut g = c.benchmark_group("batch_8x5s_80");
    let clips: Vec<&[f32]> = x.chunks(80_000).take(6).chain(x.chunks(40_000).take(2)).collect();
    // one entry when only one core is available (taskset -c 1): ids must be unique
    for threads in if all > 1 { vec![1, all] } else { vec![1] } {
        let mel = MelSpectrogram::builder(
            MelConfig::whisper(80)
                .padding(Padding::WHISPER_30S)
                .normalization(Normalization::PerItem),
        )
        .threads(threads)
        .build()
        .unwrap();
        let mut scratch = mel.make_scratch();
        let mut outs: Vec<Vec<f32>> = clips.iter().map(|_| vec![0f32; 80 * 3000]).collect();
        g.bench_function(format!("zc-mel batch, per-item max, {threads} threads"), |b| {
            b.iter(|| {
                let mut o: Vec<&mut [f32]> = outs.iter_mut().map(|v| v.as_mut_slice()).collect();
                mel.compute_batch_into_slices(&clips, &mut o, &mut scratch).unwrap()
            })
        });
    }
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
