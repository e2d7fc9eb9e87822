//! Times opening a store with and without the data verification pass, and the
//! checksums' throughput; driven by `benches/open_cost.py` (which also evicts
//! the file from the page cache for cold opens and times FAISS's index load).
//!
//! ```text
//! open_probe STORE open-verify   [REPEAT]   # seconds per HvStore::open
//! open_probe STORE open-noverify [REPEAT]   # seconds per OpenOptions::new().verify(false).open
//! open_probe STORE checksums     [REPEAT]   # GB/s of CRC-32C (v2) and the v1 lane checksum
//! ```
//!
//! Prints one JSON object per line.

use std::time::Instant;

use zc_hv16::format::{data_checksum, data_crc32c};
use zc_hv16::{HV16, HvStore, OpenOptions};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let usage = "usage: open_probe STORE open-verify|open-noverify|checksums [REPEAT]";
    let path = args.next().ok_or(usage)?;
    let mode = args.next().ok_or(usage)?;
    let repeat: usize = args.next().map(|r| r.parse()).transpose()?.unwrap_or(1);
    match mode.as_str() {
        "open-verify" | "open-noverify" => {
            let opts = OpenOptions::new().verify(mode == "open-verify");
            for _ in 0..repeat {
                let t = Instant::now();
                let store = HvStore::open_with(&path, opts)?;
                let s = t.elapsed().as_secs_f64();
                println!(
                    "{{\"mode\":\"{mode}\",\"seconds\":{s:.6},\"vectors\":{},\"version\":{}}}",
                    store.len(),
                    store.header().version
                );
            }
        }
        "checksums" => {
            let store = HvStore::open_with(&path, OpenOptions::new().verify(false))?;
            let vs = store.vectors();
            let bytes = HV16::as_bytes(vs).len() as f64;
            let mut sink = 0u64;
            for _ in 0..repeat {
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
                println!(
                    "{{\"mode\":\"checksums\",\"crc32c_gbps\":{:.2},\"v1_lanes_gbps\":{:.2},\"xor_read_gbps\":{:.2}}}",
                    bytes / crc / 1e9,
                    bytes / lanes / 1e9,
                    bytes / read / 1e9
                );
            }
            std::hint::black_box(sink);
        }
        _ => return Err(usage.into()),
    }
    Ok(())
}
