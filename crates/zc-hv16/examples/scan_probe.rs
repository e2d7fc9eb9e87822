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

use std::time::Instant;

use zc_hv16::{HV16, Hamming, Hit, HvStore};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args().nth(1).ok_or("usage: scan_probe STORE")?;
    let store = HvStore::open(&path)?;
    let db = store.vectors();
    let bytes = std::mem::size_of_val(db) as f64;
    let kernel = Hamming::detect();
    let query = HV16::random(5);
    let mut hits = [Hit::default(); 10];
    let (mut read, mut scan) = (f64::MAX, f64::MAX);
    for _ in 0..8 {
        let t = Instant::now();
        std::hint::black_box(kernel.xor_all(db));
        read = read.min(t.elapsed().as_secs_f64());
        let t = Instant::now();
        kernel.top_k_into_slice(&query, db, 10, &mut hits)?;
        scan = scan.min(t.elapsed().as_secs_f64());
    }
    println!(
        "{} vectors ({:.2} GB), kernel {}: read {:.2} GB/s, top-10 {:.2} GB/s = {:.0}% of read",
        db.len(),
        bytes / 1e9,
        kernel.simd_level().name(),
        bytes / read / 1e9,
        bytes / scan / 1e9,
        100.0 * read / scan
    );
    Ok(())
}
