//! Minimum-of-runs scan throughput over a store file: a plain sequential
//! read of the mapping (XOR of every vector, the memory-bandwidth limit)
//! against a single-query top-10 scan, alternated in one run. On a shared,
//! loaded machine the minimum over several passes approximates the
//! uncontended figure better than a mean; it complements `benches/scan.rs`.
//!
//! ```text
//! cargo run --release -p zc-hv16 --example hvstore -- build /tmp/s.hv16 --random 4194304 --seed 1
//! cargo run --release -p zc-hv16 --example scan_probe -- /tmp/s.hv16
//! ```

use std::path::PathBuf;
use std::time::Instant;

use clap::Parser;
use serde_json::json;
use zc_hv16::{HV16, Hamming, Hit, HvStore};

/// Read bandwidth vs top-10 scan throughput over a store (one JSON line).
#[derive(Debug, Parser)]
struct Cli {
    /// The store file.
    store: PathBuf,
    /// Passes (the minimum time is reported).
    #[arg(long, default_value_t = 8)]
    passes: usize,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let cli = Cli::parse();
    let store = HvStore::open(&cli.store)?;
    let db = store.vectors();
    let bytes = std::mem::size_of_val(db) as f64;
    let kernel = Hamming::detect();
    let query = HV16::random(5);
    let mut hits = [Hit::default(); 10];
    let (mut read, mut scan) = (f64::MAX, f64::MAX);
    for _ in 0..cli.passes.max(1) {
        let t = Instant::now();
        std::hint::black_box(kernel.xor_all(db));
        read = read.min(t.elapsed().as_secs_f64());
        let t = Instant::now();
        kernel.top_k_into_slice(&query, db, 10, &mut hits)?;
        scan = scan.min(t.elapsed().as_secs_f64());
    }
    let line = json!({
        "vectors": db.len(),
        "gigabytes": bytes / 1e9,
        "simd": kernel.simd_level().name(),
        "read_gbps": bytes / read / 1e9,
        "top10_gbps": bytes / scan / 1e9,
        "top10_percent_of_read": 100.0 * read / scan,
    });
    println!("{line}");
    Ok(())
}
