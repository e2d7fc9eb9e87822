//! Times named inserts into an item memory: one batch of N
//! ([`ItemMemory::extend`], one flush per file) against single
//! [`ItemMemory::insert`] calls (three flushes each), both with
//! [`Durability::Sync`], and the batch again with [`Durability::NoSync`].
//! Prints one JSON object.
//!
//! ```text
//! cargo run --release -p zc-hv16 --example batch_insert -- --dir /tmp --n 100000 --singles 200
//! ```
//!
//! The singles are timed on `--singles` inserts and reported per insert
//! (100 000 of them took 622 s on the README machine before 0.2).

use std::path::PathBuf;
use std::time::Instant;

use clap::Parser;
use serde_json::json;
use zc_hv16::{Durability, HV16, ItemMemory};

/// Batch vs single named inserts.
#[derive(Debug, Parser)]
struct Cli {
    /// Directory for the scratch item memories (on the disk to measure).
    #[arg(long, default_value = ".")]
    dir: PathBuf,
    /// Names in the batch.
    #[arg(long, default_value_t = 100_000)]
    n: u64,
    /// Single inserts to time.
    #[arg(long, default_value_t = 200)]
    singles: u64,
}

fn batch(path: &std::path::Path, n: u64, durability: Durability) -> Result<f64, Box<dyn std::error::Error>> {
    let items: Vec<(String, HV16)> = (0..n).map(|i| (format!("symbol-{i}"), HV16::random(i))).collect();
    let t = Instant::now();
    let mut im = ItemMemory::create(path)?;
    im.set_durability(durability);
    im.extend(items)?;
    im.flush()?;
    drop(im);
    let s = t.elapsed().as_secs_f64();
    let im = ItemMemory::open(path)?;
    assert_eq!(im.len() as u64, n);
    Ok(s)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let cli = Cli::parse();
    let dir = tempfile::tempdir_in(&cli.dir)?;
    let sync_s = batch(&dir.path().join("batch-sync.hv16"), cli.n, Durability::Sync)?;
    let nosync_s = batch(&dir.path().join("batch-nosync.hv16"), cli.n, Durability::NoSync)?;
    let mut im = ItemMemory::create(dir.path().join("singles.hv16"))?;
    let t = Instant::now();
    for i in 0..cli.singles {
        im.insert(&format!("symbol-{i}"), &HV16::random(i))?;
    }
    let single_s = t.elapsed().as_secs_f64() / cli.singles.max(1) as f64;
    let line = json!({
        "n": cli.n,
        "batch_sync_seconds": sync_s,
        "batch_nosync_seconds": nosync_s,
        "single_insert_sync_seconds": single_s,
        "singles_timed": cli.singles,
        "n_single_inserts_extrapolated_seconds": single_s * cli.n as f64,
    });
    println!("{line}");
    Ok(())
}
