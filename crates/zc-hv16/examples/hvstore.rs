//! `hvstore`: build, extend, inspect and search a zc-hv16 store from the shell.
//!
//! ```text
//! cargo run --release -p zc-hv16 --example hvstore -- build  STORE --random N --seed S [--no-fsync]
//! cargo run --release -p zc-hv16 --example hvstore -- append STORE --random N --seed S [--no-fsync]
//! cargo run --release -p zc-hv16 --example hvstore -- info   STORE [--no-verify]
//! cargo run --release -p zc-hv16 --example hvstore -- search STORE --query-seed Q [--flip P] --k K
//!                                                           [--threads T] [--simd portable|popcnt|avx2|avx512-vpopcnt]
//!                                                           [--no-verify]
//! ```
//!
//! Every open verifies the data checksum unless `--no-verify` is given.
//! `build`/`append` sync each batch to disk (data, then header); `--no-fsync`
//! ([`Durability::NoSync`]) skips that (faster; after a machine crash the
//! store may fail verification and have to be rebuilt). The store is locked
//! while `build`/`append` run: a second writer gets an error, readers are not
//! blocked.
//!
//! `build`/`append` write vector `i` as `HV16::random(S + i)`. `search` builds
//! the query `HV16::random(Q).flip(P, Q)` and prints one JSON line per hit,
//! nearest first: `{"index":I,"distance":D}`. `--threads 0` uses every core.
//! `build`, `append` and `info` print one JSON object describing the store
//! (a path that is not UTF-8 is printed with U+FFFD in place of the invalid
//! bytes). Output goes through `serde_json`, so any path is valid JSON.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use clap::{Parser, Subcommand};
use serde_json::json;
use zc_buffers::SimdLevel;
use zc_hv16::{Durability, GENERATOR_SPLITMIX64_V1, HV16, Hamming, Hit, HvStore, OpenOptions};

type BoxResult<T> = Result<T, Box<dyn std::error::Error>>;

/// Build, extend, inspect and search a zc-hv16 store.
#[derive(Debug, Parser)]
#[command(name = "hvstore")]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create (or truncate) STORE with N random vectors.
    Build(Fill),
    /// Append N random vectors to an existing STORE.
    Append(Fill),
    /// Print the store's header as JSON.
    Info {
        /// The store file.
        store: PathBuf,
        /// Skip the data checksum pass.
        #[arg(long)]
        no_verify: bool,
    },
    /// Print the K nearest vectors to a seeded query, one JSON line each.
    Search {
        /// The store file.
        store: PathBuf,
        /// Seed of the query vector.
        #[arg(long)]
        query_seed: u64,
        /// Fraction of the query's bits to flip (noise).
        #[arg(long, default_value_t = 0.0)]
        flip: f64,
        /// Number of hits.
        #[arg(long)]
        k: usize,
        /// Worker threads (0 = every core).
        #[arg(long, default_value_t = 1)]
        threads: usize,
        /// Force a SIMD level (default: the best this CPU runs).
        #[arg(long)]
        simd: Option<SimdLevel>,
        /// Skip the data checksum pass.
        #[arg(long)]
        no_verify: bool,
    },
}

/// Arguments of `build` and `append`.
#[derive(Debug, clap::Args)]
pub struct Fill {
    /// The store file.
    pub store: PathBuf,
    /// Number of random vectors to write.
    #[arg(long)]
    pub random: u64,
    /// Vector i is HV16::random(seed + i).
    #[arg(long)]
    pub seed: u64,
    /// Do not sync each batch to disk.
    #[arg(long)]
    pub no_fsync: bool,
}

fn fill(store: &mut HvStore, n: u64, seed: u64, durability: Durability) -> BoxResult<()> {
    const BATCH: u64 = 1 << 16;
    store.set_durability(durability);
    store.reserve(usize::try_from(n)?)?;
    let mut buf = Vec::with_capacity(BATCH as usize);
    let mut i = 0;
    while i < n {
        let end = (i + BATCH).min(n);
        buf.clear();
        buf.extend((i..end).map(|j| HV16::random(seed.wrapping_add(j))));
        store.append(&buf)?;
        i = end;
    }
    store.flush()?;
    Ok(())
}

/// The JSON description of a store that `build`, `append` and `info` print.
pub fn info(store: &HvStore) -> serde_json::Value {
    let h = store.header();
    let checksum = if h.version == zc_hv16::format::VERSION_1 {
        zc_hv16::format::fold_lanes(h.data_lanes)
    } else {
        u64::from(h.data_crc32c)
    };
    json!({
        "path": path_string(store.path()),
        "count": h.count,
        "version": h.version,
        "dimension": h.dimension,
        "generator": h.generator,
        "data_checksum": format!("{checksum:016x}"),
    })
}

fn path_string(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

/// Runs one command, writing its JSON to `out` and its timings to stderr.
pub fn run(cli: Cli, out: &mut impl Write) -> BoxResult<()> {
    match cli.command {
        Command::Build(f) => {
            let t = Instant::now();
            let mut store = HvStore::create_with_generator(&f.store, GENERATOR_SPLITMIX64_V1)?;
            write_fill(&mut store, &f, "build", t, out)?;
        }
        Command::Append(f) => {
            let t = Instant::now();
            let mut store = HvStore::open_rw(&f.store)?;
            write_fill(&mut store, &f, "append", t, out)?;
        }
        Command::Info { store, no_verify } => {
            let t = Instant::now();
            let store = HvStore::open_with(&store, OpenOptions::new().verify(!no_verify))?;
            if !no_verify {
                eprintln!("data checksum ok ({:.2?} to open and verify)", t.elapsed());
            }
            writeln!(out, "{}", info(&store))?;
        }
        Command::Search {
            store,
            query_seed,
            flip,
            k,
            threads,
            simd,
            no_verify,
        } => {
            let kernel = match simd {
                Some(l) => Hamming::new(l)?,
                None => Hamming::detect(),
            };
            let store = HvStore::open_with(&store, OpenOptions::new().verify(!no_verify))?;
            let query = HV16::random(query_seed).flip(flip, query_seed);
            let mut hits = vec![Hit::default(); k];
            let t = Instant::now();
            kernel.top_k_par_into_slice(&query, store.vectors(), k, threads, &mut hits)?;
            let dt = t.elapsed();
            for h in &hits {
                writeln!(out, "{}", json!({ "index": h.index, "distance": h.distance }))?;
            }
            let gb = (store.len() * 256) as f64 / 1e9;
            eprintln!(
                "searched {} vectors with {} in {:.2?} ({:.2} GB/s)",
                store.len(),
                kernel.simd_level(),
                dt,
                gb / dt.as_secs_f64()
            );
        }
    }
    Ok(())
}

fn write_fill(store: &mut HvStore, f: &Fill, cmd: &str, t: Instant, out: &mut impl Write) -> BoxResult<()> {
    let durability = if f.no_fsync {
        Durability::NoSync
    } else {
        Durability::Sync
    };
    fill(store, f.random, f.seed, durability)?;
    store.shrink_to_fit()?;
    eprintln!("{cmd}: {} vectors in {:.2?}", f.random, t.elapsed());
    writeln!(out, "{}", info(store))?;
    Ok(())
}

#[allow(dead_code)] // `tests/cli.rs` includes this file for `run` and `info`
fn main() -> ExitCode {
    match run(Cli::parse(), &mut std::io::stdout().lock()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("hvstore: {e}");
            ExitCode::from(2)
        }
    }
}
