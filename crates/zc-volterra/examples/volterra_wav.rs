//! Apply a Volterra kernel to a WAV file, block-streamed, and write a 32-bit
//! float WAV, printing the real-time factor.
//!
//! ```text
//! cargo run --release -p zc-volterra --example volterra_wav -- IN.wav OUT.wav \
//!     (--npz MODEL.npz | --poly a1,a2,a3[,a4,a5]) [--block 512] [--engine auto|direct|fft|partitioned]
//! ```
//!
//! Without IN.wav existing, `--demo` writes a 1 kHz test sine to IN.wav first.

use std::path::PathBuf;
use std::time::Instant;

use clap::{Parser, ValueEnum};
use zc_volterra::{EngineKind, Kernel, Processor};

/// Apply a Volterra kernel to a WAV file, block-streamed, into a float WAV.
#[derive(Parser)]
#[command(about)]
struct Args {
    /// WAV file to read (written first with `--demo`).
    input: PathBuf,
    /// 32-bit float WAV to write.
    output: PathBuf,
    /// The kernel from a py-volterra NPZ file.
    #[arg(long, conflicts_with = "poly", required_unless_present = "poly")]
    npz: Option<PathBuf>,
    /// A memoryless polynomial a1,a2[,a3,a4,a5] as the kernel.
    #[arg(long, value_delimiter = ',', allow_negative_numbers = true)]
    poly: Option<Vec<f64>>,
    /// Samples per processed block.
    #[arg(long, default_value_t = 512)]
    block: usize,
    /// Engine (`auto` picks by the kernel's size and the block).
    #[arg(long, value_enum, default_value_t = Engine::Auto)]
    engine: Engine,
    /// Write a 5 s 1 kHz test sine (48 kHz, 16-bit) to INPUT first.
    #[arg(long)]
    demo: bool,
}

#[derive(Clone, Copy, ValueEnum)]
enum Engine {
    Auto,
    Direct,
    Fft,
    Partitioned,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let (input, output, block, demo) = (&args.input, &args.output, args.block, args.demo);
    let engine = match args.engine {
        Engine::Auto => EngineKind::Auto,
        Engine::Direct => EngineKind::Direct,
        Engine::Fft => EngineKind::Fft,
        Engine::Partitioned => EngineKind::Partitioned,
    };
    let kernel = match (&args.npz, &args.poly) {
        (Some(path), _) => zc_volterra::npz::load_npz(path)?,
        (None, Some(c)) => Kernel::from_polynomial(c)?,
        (None, None) => return Err("give --npz or --poly".into()),
    };
    if demo {
        let spec = hound::WavSpec {
            channels: 1,
            sample_rate: 48000,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let mut w = hound::WavWriter::create(input, spec)?;
        for n in 0..48000 * 5 {
            let v = 0.5 * (2.0 * std::f64::consts::PI * 1000.0 * n as f64 / 48000.0).sin();
            w.write_sample((v * 32767.0) as i16)?;
        }
        w.finalize()?;
    }

    let mut reader = hound::WavReader::open(input)?;
    let spec = reader.spec();
    let channels = usize::from(spec.channels);
    let samples: Vec<f32> = match spec.sample_format {
        hound::SampleFormat::Float => reader.samples::<f32>().collect::<Result<_, _>>()?,
        hound::SampleFormat::Int => {
            let scale = 1.0 / (1u64 << (spec.bits_per_sample - 1)) as f32;
            reader
                .samples::<i32>()
                .map(|s| s.map(|v| v as f32 * scale))
                .collect::<Result<_, _>>()?
        }
    };
    let frames = samples.len() / channels;

    // One processor per channel, prepared once.
    let mut procs = (0..channels)
        .map(|_| {
            Processor::<f32>::builder(&kernel)
                .max_block(block)
                .engine(engine)
                .build()
        })
        .collect::<Result<Vec<_>, _>>()?;
    let mut chan = vec![vec![0.0f32; frames]; channels];
    for (f, frame) in samples.chunks_exact(channels).enumerate() {
        for (c, &s) in frame.iter().enumerate() {
            chan[c][f] = s;
        }
    }
    let t0 = Instant::now();
    for (p, data) in procs.iter_mut().zip(chan.iter_mut()) {
        // any length: the processor runs blocks of `block` internally
        p.process_in_place(data)?;
    }
    let dt = t0.elapsed().as_secs_f64();
    let audio_s = frames as f64 / f64::from(spec.sample_rate);

    let out_spec = hound::WavSpec {
        channels: spec.channels,
        sample_rate: spec.sample_rate,
        bits_per_sample: 32,
        sample_format: hound::SampleFormat::Float,
    };
    let mut w = hound::WavWriter::create(output, out_spec)?;
    for f in 0..frames {
        for c in &chan {
            w.write_sample(c[f])?;
        }
    }
    w.finalize()?;
    println!(
        "{frames} frames x {channels} ch, engine {:?}, block {block}: {:.3} ms for {audio_s:.2} s of audio, \
         real-time factor {:.5} ({:.0}x faster than real time)",
        procs.first().map(Processor::engine_kind),
        dt * 1e3,
        dt / audio_s,
        audio_s / dt.max(1e-12)
    );
    Ok(())
}
