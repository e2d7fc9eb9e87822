//! Prepare time and memory of a processor for one long signal (4 M samples,
//! f32, a realistic microphone kernel: N = 256, orders 1..3), per engine,
//! with `max_block` = the whole signal (or the second argument).
//!
//! `cargo run --release -p zc-volterra --example prepare_memory -- [auto|direct|fft|partitioned] [max_block]`

use std::time::Instant;

use clap::{Parser, ValueEnum};
use zc_buffers::testing::{CountingAllocator, count_allocs};
use zc_volterra::{EngineKind, Kernel, Processor};

#[global_allocator]
static ALLOC: CountingAllocator = CountingAllocator::new();

/// Prepare time and memory of a processor for a 4 M-sample signal.
#[derive(Parser)]
#[command(about)]
struct Args {
    /// Engine (`auto`: let `Processor::prepare` choose under its memory cap).
    #[arg(value_enum, default_value_t = Engine::Auto)]
    engine: Engine,
    /// Largest block prepared (default: the whole signal).
    max_block: Option<usize>,
}

#[derive(Clone, Copy, ValueEnum)]
enum Engine {
    Auto,
    Direct,
    Fft,
    Partitioned,
}

fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let len = 4 << 20;
    let args = Args::parse();
    let engine = match args.engine {
        Engine::Auto => None,
        Engine::Direct => Some(EngineKind::Direct),
        Engine::Fft => Some(EngineKind::Fft),
        Engine::Partitioned => Some(EngineKind::Partitioned),
    };
    let max_block = args.max_block.unwrap_or(len);
    let t = |c: f64, r: f64, n: usize| {
        (0..n)
            .map(|i| c * r.signum().powi(i as i32) * r.abs().powf(i as f64 / 32.0))
            .collect::<Vec<f64>>()
    };
    let k = Kernel::from_taps([t(1.0, 0.5, 256), t(0.1, -0.5, 128), t(0.01, 0.4, 64)])?;
    let x: Vec<f32> = (0..len).map(|n| (n as f32 * 0.01).sin() * 0.5).collect();
    let mut y = vec![0.0f32; len];
    let before = peak_rss_kib();
    let t0 = Instant::now();
    let (p, stats) = count_allocs(|| match engine {
        None => Processor::<f32>::prepare(&k, max_block),
        Some(e) => Processor::<f32>::builder(&k).max_block(max_block).engine(e).build(),
    })?;
    let mut p = p?;
    let prep = t0.elapsed();
    let after = peak_rss_kib();
    let t1 = Instant::now();
    p.process_into_slice(&x, &mut y)?;
    let run = t1.elapsed();
    println!(
        "engine {:?}: prepare {:.3} s, {} bytes allocated in prepare ({} bytes of state), peak RSS +{} KiB; process {:.3} s (y[100] = {})",
        p.engine_kind(),
        prep.as_secs_f64(),
        stats.bytes_allocated,
        p.memory_bytes(),
        after.saturating_sub(before),
        run.as_secs_f64(),
        y[100]
    );
    Ok(())
}
