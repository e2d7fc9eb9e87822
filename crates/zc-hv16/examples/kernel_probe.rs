//! The compute limit of the tiled kernels, apart from the memory read: every
//! available SIMD level runs `distances_batch_into_slice` and
//! `top_k_batch_into_slice` (top-10) for 8 queries over a database that stays
//! in the L2 cache (2048 vectors, 512 KiB), many times; prints nanoseconds per
//! query × vector pair (minimum over passes) and the rate in pair-bytes/s, one
//! JSON object per level. On so small a database a top-10 still replaces
//! hits often (about `k ln(n/k)` times per query), so its figure includes
//! more selection work than a scan of millions of vectors does.
//!
//! ```text
//! taskset -c 1 target/release/examples/kernel_probe --passes 7
//! ```
//!
//! Uses only the public API, so the same source times any release.

use std::time::Instant;

use clap::Parser;
use serde_json::json;
use zc_hv16::{HV16, Hamming, Hit};

/// Tiled top-10 over a cache-resident database, per SIMD level.
#[derive(Debug, Parser)]
struct Cli {
    /// Passes (the minimum is reported).
    #[arg(long, default_value_t = 7)]
    passes: usize,
    /// Database vectors (the default stays in L2).
    #[arg(long, default_value_t = 2048)]
    vectors: usize,
    /// Queries per batch.
    #[arg(long, default_value_t = 8)]
    queries: usize,
    /// Searches per pass.
    #[arg(long, default_value_t = 100)]
    repeat: usize,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let cli = Cli::parse();
    let db: Vec<HV16> = (0..cli.vectors as u64).map(HV16::random).collect();
    let queries: Vec<HV16> = (0..cli.queries)
        .map(|i| db[(i * 37) % db.len()].flip(0.1, i as u64))
        .collect();
    let mut hits = vec![Hit::default(); cli.queries * 10];
    let mut dists = vec![0u32; cli.queries * cli.vectors];
    let pairs = (cli.vectors * cli.queries * cli.repeat) as f64;
    for h in Hamming::available() {
        let (mut best_d, mut best_k) = (f64::MAX, f64::MAX);
        for _ in 0..cli.passes.max(1) {
            let t = Instant::now();
            for _ in 0..cli.repeat {
                h.distances_batch_into_slice(std::hint::black_box(&queries), &db, &mut dists)?;
            }
            best_d = best_d.min(t.elapsed().as_secs_f64());
            let t = Instant::now();
            for _ in 0..cli.repeat {
                h.top_k_batch_into_slice(std::hint::black_box(&queries), &db, 10, &mut hits)?;
            }
            best_k = best_k.min(t.elapsed().as_secs_f64());
        }
        let line = json!({
            "simd": h.simd_level().name(),
            "vectors": cli.vectors,
            "queries": cli.queries,
            "distances_ns_per_pair": best_d / pairs * 1e9,
            "top10_ns_per_pair": best_k / pairs * 1e9,
            "distances_pair_gbps": pairs * 256.0 / best_d / 1e9,
        });
        println!("{line}");
    }
    Ok(())
}
