//! Times opening a store with and without the data verification pass, and the
//! checksums' throughput; driven by `benches/open_cost.py` (which also evicts
//! the file from the page cache for cold opens and times FAISS's index load).
//!
//! ```text
//! open_probe STORE open-verify   [REPEAT]   # seconds per HvStore::open
//! open_probe STORE open-noverify [REPEAT]   # seconds per HvStore::open_with(.., OpenOptions::new().verify(false))
//! open_probe STORE checksums     [REPEAT]   # GB/s of CRC-32C (v2) and the v1 lane checksum
//! ```
//!
//! Prints one JSON object per line.

use std::path::PathBuf;
use std::time::Instant;

use clap::{Parser, ValueEnum};
use serde_json::json;
use zc_hv16::format::{data_checksum, data_crc32c};
use zc_hv16::{HV16, HvStore, OpenOptions};

/// Open-cost and checksum-throughput probe.
#[derive(Debug, Parser)]
struct Cli {
    /// The store file.
    store: PathBuf,
    /// What to time.
    mode: Mode,
    /// How many times.
    #[arg(default_value_t = 1)]
    repeat: usize,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Mode {
    OpenVerify,
    OpenNoverify,
    Checksums,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let cli = Cli::parse();
    match cli.mode {
        Mode::OpenVerify | Mode::OpenNoverify => {
            let verify = cli.mode == Mode::OpenVerify;
            let mode = if verify { "open-verify" } else { "open-noverify" };
            for _ in 0..cli.repeat {
                let t = Instant::now();
                let store = HvStore::open_with(&cli.store, OpenOptions::new().verify(verify))?;
                let s = t.elapsed().as_secs_f64();
                let line = json!({
                    "mode": mode,
                    "seconds": s,
                    "vectors": store.len(),
                    "version": store.header().version,
                });
                println!("{line}");
            }
        }
        Mode::Checksums => {
            let store = HvStore::open_with(&cli.store, OpenOptions::new().verify(false))?;
            let vs = store.vectors();
            let bytes = HV16::as_bytes(vs).len() as f64;
            let mut sink = 0u64;
            for _ in 0..cli.repeat {
                let t = Instant::now();
                sink ^= u64::from(data_crc32c(0, vs));
                let crc = t.elapsed().as_secs_f64();
                let t = Instant::now();
                sink ^= data_checksum([1, 2, 3, 4], vs)[0];
                let lanes = t.elapsed().as_secs_f64();
                let t = Instant::now();
                let mut x = HV16::zero();
                for v in vs {
                    x.bind_assign(v);
                }
                sink ^= x.words[0];
                let read = t.elapsed().as_secs_f64();
                let line = json!({
                    "mode": "checksums",
                    "crc32c_gbps": bytes / crc / 1e9,
                    "v1_lanes_gbps": bytes / lanes / 1e9,
                    "xor_read_gbps": bytes / read / 1e9,
                });
                println!("{line}");
            }
            std::hint::black_box(sink);
        }
    }
    Ok(())
}
