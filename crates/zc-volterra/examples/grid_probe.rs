//! Throughput probe for the issue-17 grid, driven by
//! `benches/py_volterra_peer.py` (which alternates it with py-volterra):
//! one cell per run, one JSON line out.
//!
//! ```sh
//! cargo run --release -p zc-volterra --example grid_probe -- \
//!     --dtype f64 --n 64 --orders 3 [--full-h2] [--engine auto|direct|fft|partitioned] \
//!     [--block 512] [--len 480000] [--reps 7]
//! ```
//!
//! The kernel and signal are the ones of `benches/volterra.rs` and of the
//! peer script (decaying taps, a sine plus noise); `--full-h2` replaces the
//! diagonal h2 by a full-rank symmetric `H2[i][j] = 0.05·d_i·d_j·u(i, j)`
//! (`d_i = 0.5^(8i/N)`, `u` a hashed sign pattern in [-1, 1]).
//! Prints `{"ms_s_best": …, "ms_s_median": …, "engine": …}` (MS/s of the
//! fastest and median repetition, each repetition the whole signal streamed
//! in blocks).

use std::time::Instant;

use clap::{Parser, ValueEnum};
use zc_volterra::{EngineKind, Processor, Sample};

#[path = "../benches/common/grid.rs"]
mod grid;
use grid::{grid_kernel, signal};

/// One cell of the issue-17 grid, as one JSON line.
#[derive(Parser)]
#[command(about)]
struct Args {
    /// Sample type.
    #[arg(long, value_enum, default_value_t = Dtype::F64)]
    dtype: Dtype,
    /// Memory length N.
    #[arg(long, default_value_t = 64)]
    n: usize,
    /// Highest order (orders 1..=this).
    #[arg(long, default_value_t = 3)]
    orders: usize,
    /// Block size streamed.
    #[arg(long, default_value_t = 512)]
    block: usize,
    /// Signal length in samples.
    #[arg(long, default_value_t = 480_000)]
    len: usize,
    /// Repetitions (best and median reported).
    #[arg(long, default_value_t = 7)]
    reps: usize,
    /// A full-rank symmetric h2 instead of the diagonal one.
    #[arg(long)]
    full_h2: bool,
    /// Engine (`auto` lets the builder choose).
    #[arg(long, value_enum, default_value_t = Engine::Auto)]
    engine: Engine,
}

#[derive(Clone, Copy, ValueEnum)]
enum Dtype {
    F32,
    F64,
}

#[derive(Clone, Copy, ValueEnum)]
enum Engine {
    Auto,
    Direct,
    Fft,
    Partitioned,
}

fn run<T: Sample>(args: &Args) -> Result<(), Box<dyn std::error::Error>> {
    let (n, orders, block, len, full) = (args.n, args.orders, args.block.max(1), args.len, args.full_h2);
    let reps = args.reps.max(1);
    let engine = match args.engine {
        Engine::Auto => EngineKind::Auto,
        Engine::Direct => EngineKind::Direct,
        Engine::Fft => EngineKind::Fft,
        Engine::Partitioned => EngineKind::Partitioned,
    };
    let k = grid_kernel(n, orders, full)?;
    let t0 = Instant::now();
    let mut p = Processor::<T>::builder(&k).max_block(block).engine(engine).build()?;
    let prepare_s = t0.elapsed().as_secs_f64();
    let x = signal::<T>(len);
    let mut y = vec![T::zero(); len];
    let mut times = Vec::with_capacity(reps);
    for _ in 0..reps {
        p.reset();
        let t = Instant::now();
        for (xi, yi) in x.chunks(block).zip(y.chunks_mut(block)) {
            p.process_into_slice(xi, yi)?;
        }
        times.push(t.elapsed().as_secs_f64());
        std::hint::black_box(&y);
    }
    times.sort_by(f64::total_cmp);
    let ms = |t: f64| len as f64 / t / 1e6;
    println!(
        "{{\"ms_s_best\": {:.3}, \"ms_s_median\": {:.3}, \"engine\": \"{:?}\", \"simd\": \"{}\", \"prepare_s\": {:.4}, \"checksum\": {:e}}}",
        ms(times[0]),
        ms(times[times.len() / 2]),
        p.engine_kind(),
        p.simd_level(),
        prepare_s,
        y.iter().map(|v| v.as_f64()).sum::<f64>()
    );
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    match args.dtype {
        Dtype::F32 => run::<f32>(&args),
        Dtype::F64 => run::<f64>(&args),
    }
}
