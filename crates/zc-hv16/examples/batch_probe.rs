//! Batched exact top-10 against the read bandwidth of the same mapping, in
//! one run (issue 17): every pass times, in turn, a plain read of the data
//! (sum of `u64` words, 1 and 2 threads), top-10 for 1 query (1 and 2
//! threads), a tile of 8 queries and a batch of 64 queries. The minimum and
//! the median over the passes are printed as one JSON object; on a shared,
//! loaded machine the minimum is the better estimate of the uncontended
//! figure, the median says how noisy it was.
//!
//! ```text
//! cargo run --release -p zc-hv16 --example hvstore -- build /tmp/s.hv16 --random 4194304 --seed 1 --no-fsync
//! taskset -c 1 target/release/examples/batch_probe /tmp/s.hv16 --passes 5
//! taskset -c 0,1 target/release/examples/batch_probe /tmp/s.hv16 --only read2,top10-1q-2t
//! ```
//!
//! `--queries-out FILE` writes the 64 queries (raw 256-byte vectors) for the
//! FAISS peer (`benches/faiss_peer.py`), and `--hits` adds the top-10 of
//! every query to the output so the peer can check it got the same distances.
//! It uses only the public API, so the same source times any release.

use std::path::PathBuf;
use std::time::Instant;

use clap::Parser;
use serde_json::{Map, Value, json};
use zc_buffers::parallel;
use zc_hv16::{HV16, Hamming, Hit, HvStore, OpenOptions};

/// Batched top-10 vs read bandwidth over a store (one JSON object).
#[derive(Debug, Parser)]
struct Cli {
    /// The store file.
    store: PathBuf,
    /// Passes (min and median are reported).
    #[arg(long, default_value_t = 5)]
    passes: usize,
    /// Comma-separated subset of: read1, read2, xor, top10-1q, top10-1q-2t, top10-8q, top10-64q, top10-64q-2t.
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
    /// Write the 64 queries here (raw vectors, 256 bytes each).
    #[arg(long)]
    queries_out: Option<PathBuf>,
    /// Print the top-10 of each of the 64 queries.
    #[arg(long)]
    hits: bool,
}

/// Sum of every `u64` word in `part`: the cheapest full read of the data.
fn sum_words(part: &[HV16]) -> u64 {
    let mut acc = [0u64; 8];
    for v in part {
        for (i, w) in v.words.iter().enumerate() {
            acc[i % 8] = acc[i % 8].wrapping_add(*w);
        }
    }
    acc.iter().fold(0, |a, b| a.wrapping_add(*b))
}

/// `sum_words` over `db` split across `threads` threads (the zc policy).
fn sum_par(db: &[HV16], threads: usize) -> Result<u64, zc_buffers::BufferError> {
    let parts = parallel::map_ranges(threads, db.len(), |_, r| {
        Ok::<_, zc_buffers::BufferError>(sum_words(db.get(r).unwrap_or(&[])))
    })?;
    Ok(parts.iter().fold(0, |a, b| a.wrapping_add(*b)))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let cli = Cli::parse();
    let store = HvStore::open_with(&cli.store, OpenOptions::new().verify(false))?;
    let db = store.vectors();
    let n = db.len();
    if n < 64 * 1000 {
        return Err("the probe wants at least 64 000 vectors".into());
    }
    let bytes = std::mem::size_of_val(db) as f64;
    let h = Hamming::detect();
    let step = n / 64;
    let queries: Vec<HV16> = (0..64).map(|i| db[i * step + 7].flip(0.1, i as u64)).collect();
    if let Some(p) = &cli.queries_out {
        std::fs::write(p, HV16::as_bytes(&queries))?;
    }
    let q1 = queries[0];
    let mut hits1 = [Hit::default(); 10];
    let mut hits1p = [Hit::default(); 10];
    let mut hits8 = vec![Hit::default(); 8 * 10];
    let mut hits64 = vec![Hit::default(); 64 * 10];
    let mut hits64p = vec![Hit::default(); 64 * 10];
    let want = |name: &str| cli.only.is_empty() || cli.only.iter().any(|o| o == name);

    type Run<'a> = Box<dyn FnMut() -> Result<(), Box<dyn std::error::Error>> + 'a>;
    let mut runs: Vec<(&str, f64, Run<'_>)> = Vec::new();
    if want("read1") {
        runs.push((
            "read1",
            1.0,
            Box::new(|| {
                std::hint::black_box(sum_words(std::hint::black_box(db)));
                Ok(())
            }),
        ));
    }
    if want("read2") {
        runs.push((
            "read2",
            1.0,
            Box::new(|| {
                std::hint::black_box(sum_par(std::hint::black_box(db), 2)?);
                Ok(())
            }),
        ));
    }
    if want("xor") {
        runs.push((
            "xor",
            1.0,
            Box::new(|| {
                std::hint::black_box(h.xor_all(std::hint::black_box(db)));
                Ok(())
            }),
        ));
    }
    if want("top10-1q") {
        runs.push((
            "top10-1q",
            1.0,
            Box::new(|| {
                h.top_k_into_slice(&q1, db, 10, &mut hits1)?;
                Ok(())
            }),
        ));
    }
    if want("top10-1q-2t") {
        runs.push((
            "top10-1q-2t",
            1.0,
            Box::new(|| {
                h.top_k_par_into_slice(&q1, db, 10, 2, &mut hits1p)?;
                Ok(())
            }),
        ));
    }
    if want("top10-8q") {
        runs.push((
            "top10-8q",
            8.0,
            Box::new(|| {
                h.top_k_batch_into_slice(&queries[..8], db, 10, &mut hits8)?;
                Ok(())
            }),
        ));
    }
    if want("top10-64q") {
        runs.push((
            "top10-64q",
            64.0,
            Box::new(|| {
                h.top_k_batch_into_slice(&queries, db, 10, &mut hits64)?;
                Ok(())
            }),
        ));
    }
    if want("top10-64q-2t") {
        runs.push((
            "top10-64q-2t",
            64.0,
            Box::new(|| {
                h.top_k_batch_par_into_slice(&queries, db, 10, 2, &mut hits64p)?;
                Ok(())
            }),
        ));
    }
    let mut times: Vec<Vec<f64>> = vec![Vec::new(); runs.len()];
    for _ in 0..cli.passes.max(1) {
        for ((_, _, f), t) in runs.iter_mut().zip(&mut times) {
            let start = Instant::now();
            f()?;
            t.push(start.elapsed().as_secs_f64());
        }
    }
    let names: Vec<(&str, f64)> = runs.iter().map(|(n, q, _)| (*n, *q)).collect();
    drop(runs);
    let mut out = Map::new();
    out.insert("vectors".into(), json!(n));
    out.insert("gigabytes".into(), json!(bytes / 1e9));
    out.insert("simd".into(), json!(h.simd_level().name()));
    out.insert("passes".into(), json!(cli.passes.max(1)));
    let mut mins = Map::new();
    for ((name, nq), t) in names.iter().zip(&mut times) {
        t.sort_by(f64::total_cmp);
        let min = t[0];
        let med = t[t.len() / 2];
        mins.insert((*name).into(), json!(min));
        out.insert(
            (*name).into(),
            json!({
                "min_s": min,
                "median_s": med,
                "gbps_min": bytes / min / 1e9,
                "per_query_s_min": min / nq,
            }),
        );
    }
    // The issue's ratios, from the minima of this run.
    let get = |k: &str| mins.get(k).and_then(Value::as_f64);
    let mut ratios = Map::new();
    if let (Some(t8), Some(r)) = (get("top10-8q"), get("read1")) {
        ratios.insert("tile8_over_read1".into(), json!(t8 / r));
    }
    if let (Some(t1), Some(r)) = (get("top10-1q"), get("read1")) {
        ratios.insert("top10_1q_over_read1".into(), json!(t1 / r));
    }
    if let (Some(t2), Some(r)) = (get("top10-1q-2t"), get("read2")) {
        ratios.insert("top10_1q_2t_percent_of_read2".into(), json!(100.0 * r / t2));
    }
    if let (Some(t2), Some(t1)) = (get("top10-64q-2t"), get("top10-64q")) {
        ratios.insert("top10_64q_2t_speedup".into(), json!(t1 / t2));
    }
    out.insert("ratios".into(), Value::Object(ratios));
    if cli.hits && want("top10-64q") {
        let per_query: Vec<Value> = hits64
            .chunks(10)
            .map(|c| json!(c.iter().map(|h| [h.distance as usize, h.index]).collect::<Vec<_>>()))
            .collect();
        out.insert("hits64".into(), Value::Array(per_query));
    }
    println!("{}", Value::Object(out));
    Ok(())
}
