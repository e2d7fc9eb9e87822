//! The Rust side of the Python binding-overhead comparison: times
//! `compute_into_slice_with_scratch` (warm plan, caller scratch and output,
//! one thread) on the same samples the Python benchmark passes to
//! `zc.mel.MelSpectrogram(n_mels)(audio, out=out)`, and prints every
//! repetition's seconds on one line so `benchmarks/python/bench.py` can
//! alternate it with the Python call and take the same statistics.
//!
//! Where a plan's tables, scratch and output happen to lie in memory moves
//! the kernel's time by a few percent (measured: up to ~5 % between plans
//! built the same way in one process), so both sides cycle over `PLANS`
//! independently built plans, each with its own scratch and output, and the
//! comparison is between the same kind of spread.
//!
//! ```text
//! cargo build --release -p zc-mel --example mel_overhead_probe
//! target/release/examples/mel_overhead_probe SAMPLES.f32 [N_MELS [REPS [PLANS]]]
//! ```
//!
//! `SAMPLES.f32` is raw little-endian float32 mono 16 kHz audio
//! (`numpy.ndarray.tofile`). Output: `times_s: t1 t2 ...`.

use clap::Parser;
use zc_mel::{MelConfig, MelSpectrogram};

/// Times `compute_into_slice_with_scratch` per call on the samples in a file.
#[derive(Parser)]
#[command(about)]
struct Args {
    /// Raw little-endian f32 samples.
    path: std::path::PathBuf,
    /// Mel bands.
    #[arg(default_value_t = 80)]
    n_mels: usize,
    /// Calls per plan.
    #[arg(default_value_t = 20)]
    reps: usize,
    /// Independently built plans cycled over.
    #[arg(default_value_t = 4)]
    plans: usize,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let Args {
        path,
        n_mels,
        reps,
        plans: n_plans,
    } = Args::parse();
    let n_plans = n_plans.max(1);
    let bytes = std::fs::read(&path)?;
    let x: Vec<f32> = bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    let mut plans = Vec::with_capacity(n_plans);
    for _ in 0..n_plans {
        let mel = MelSpectrogram::builder(MelConfig::whisper(n_mels)).build()?;
        let scratch = mel.make_scratch();
        let out = vec![0f32; mel.output_len(x.len())?];
        plans.push((mel, scratch, out));
    }
    // warm: first-touch of output and scratch pages, caches
    for (mel, scratch, out) in &mut plans {
        mel.compute_into_slice_with_scratch(&x, out, scratch)?;
    }
    let mut times = Vec::with_capacity(reps);
    for i in 0..reps {
        let (mel, scratch, out) = &mut plans[i % n_plans];
        let t = std::time::Instant::now();
        mel.compute_into_slice_with_scratch(&x, out, scratch)?;
        times.push(t.elapsed().as_secs_f64());
    }
    let line: Vec<String> = times.iter().map(|t| format!("{t:.9}")).collect();
    println!("times_s: {}", line.join(" "));
    Ok(())
}
