//! Stream a WAV through [`MelStream`] in small chunks (as audio would
//! arrive from a microphone) and print when each frame comes out, the time
//! each push takes and whether the streamed result equals the offline one.
//!
//! ```text
//! cargo run -p zc-mel --release --example mel_stream -- [input.wav] [chunk_samples]
//! ```
//!
//! Streaming needs a maximum known in advance (`Normalization::Fixed`);
//! here it is 0.5 in log10 units, about right for speech normalised to ±1.

use std::error::Error;
use std::path::PathBuf;
use std::time::Instant;

use clap::Parser;

use zc_mel::{Layout, MelConfig, MelSpectrogram, MelStream, Normalization, SAMPLE_RATE, WavFile};

/// Stream a WAV through `MelStream` in small chunks and compare with the offline result.
#[derive(Parser)]
#[command(about)]
struct Args {
    /// 16 kHz WAV to read (default: the bundled speech fixture).
    #[arg(default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/speech_16k.wav"))]
    input: PathBuf,
    /// Samples per pushed chunk (320 = 20 ms).
    #[arg(default_value_t = 320, value_parser = clap::value_parser!(u64).range(1..))]
    chunk: u64,
}

fn main() -> Result<(), Box<dyn Error>> {
    let args = Args::parse();
    let input = args.input.display().to_string();
    let chunk = usize::try_from(args.chunk)?;
    let wav = WavFile::open(&input)?.expect_sample_rate(SAMPLE_RATE)?;
    let samples = wav.samples()?;
    let config = MelConfig::whisper(80).normalization(Normalization::Fixed(0.5));
    let mut stream = MelStream::new(config.clone())?;
    let n_mels = stream.n_mels();
    let mut out = vec![0f32; stream.frames_for_push(chunk).max(1) * n_mels + n_mels];
    let mut all = Vec::with_capacity(samples.len() / 160 * n_mels);
    let (mut worst, mut total) = (0f64, 0f64);
    println!(
        "{input}: {} samples, chunks of {chunk} ({:.1} ms)",
        samples.len(),
        chunk as f64 / 16.0
    );
    for (i, c) in samples.chunks(chunk).enumerate() {
        let t = Instant::now();
        let n = stream.push_into_slice(c, &mut out)?.n_frames;
        let us = t.elapsed().as_secs_f64() * 1e6;
        (worst, total) = (worst.max(us), total + us);
        all.extend_from_slice(&out[..n * n_mels]);
        if i < 8 || i % 100 == 0 {
            let first = stream.frames_emitted() - n;
            println!(
                "chunk {i:4}: {:6} samples in, {n} frame(s) out (frames {first}..{}), {us:7.1} µs",
                stream.samples_received(),
                stream.frames_emitted()
            );
        }
    }
    let tail = stream.frames_for_finish()?;
    let mut rest = vec![0f32; tail * n_mels];
    let n = stream.finish_into_slice(&mut rest)?.n_frames;
    all.extend_from_slice(&rest);
    let frames = all.len() / n_mels;
    println!("finish: {n} frame(s) that need the end reflection; {frames} frames in all");
    println!(
        "push time: mean {:.1} µs, worst {worst:.1} µs per {:.1} ms of audio",
        total / samples.len().div_ceil(chunk) as f64,
        chunk as f64 / 16.0
    );
    let offline = MelSpectrogram::builder(config)
        .layout(Layout::FrameMajor)
        .build()?
        .compute(&samples)?;
    let same = offline.as_slice().is_some_and(|o| o == all.as_slice());
    println!("streamed == offline (Layout::FrameMajor, same fixed max): {same}");
    if !same {
        return Err("streamed output differs from offline".into());
    }
    Ok(())
}
