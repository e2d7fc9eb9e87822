//! `hvstore`: build, extend, inspect and search a zc-hv16 store from the shell.
//!
//! ```text
//! cargo run --release -p zc-hv16 --example hvstore -- build  STORE --random N --seed S [--no-fsync]
//! cargo run --release -p zc-hv16 --example hvstore -- append STORE --random N --seed S [--no-fsync]
//! cargo run --release -p zc-hv16 --example hvstore -- info   STORE [--no-verify]
//! cargo run --release -p zc-hv16 --example hvstore -- search STORE --query-seed Q [--flip P] --k K
//!                                                           [--threads T] [--level scalar|popcnt|avx2|avx512]
//!                                                           [--no-verify]
//! ```
//!
//! Every open verifies the data checksum unless `--no-verify` is given.
//! `build`/`append` sync each batch to disk (data, then header); `--no-fsync`
//! skips that (faster; after a machine crash the store may fail verification
//! and have to be rebuilt). The store is locked while `build`/`append` run: a
//! second writer gets an error, readers are not blocked.
//!
//! `build`/`append` write vector `i` as `HV16::random(S + i)`. `search` builds
//! the query `HV16::random(Q).flip(P, Q)` and prints one JSON line per hit,
//! nearest first: `{"index":I,"distance":D}`.

use std::process::ExitCode;
use std::time::Instant;

use zc_buffers::SimdLevel;
use zc_hv16::{Durability, GENERATOR_SPLITMIX64_V1, HV16, Hamming, Hit, HvStore, OpenOptions};

type BoxResult<T> = Result<T, Box<dyn std::error::Error>>;

const USAGE: &str = "usage:
  hvstore build  STORE --random N --seed S [--no-fsync]
  hvstore append STORE --random N --seed S [--no-fsync]
  hvstore info   STORE [--no-verify]
  hvstore search STORE --query-seed Q [--flip P] --k K [--threads T] [--level L] [--no-verify]";

struct Args {
    rest: Vec<String>,
}

impl Args {
    fn value<T: std::str::FromStr>(&self, flag: &str) -> BoxResult<Option<T>>
    where
        T::Err: std::fmt::Display,
    {
        match self.rest.iter().position(|a| a == flag) {
            None => Ok(None),
            Some(i) => {
                let v = self.rest.get(i + 1).ok_or_else(|| format!("{flag} needs a value"))?;
                v.parse::<T>().map(Some).map_err(|e| format!("{flag} {v}: {e}").into())
            }
        }
    }
    fn required<T: std::str::FromStr>(&self, flag: &str) -> BoxResult<T>
    where
        T::Err: std::fmt::Display,
    {
        self.value(flag)?
            .ok_or_else(|| format!("missing {flag}\n{USAGE}").into())
    }
    fn flag(&self, flag: &str) -> bool {
        self.rest.iter().any(|a| a == flag)
    }
}

fn fill(store: &mut HvStore, n: u64, seed: u64, durable: bool) -> BoxResult<()> {
    const BATCH: u64 = 1 << 16;
    store.set_durability(if durable { Durability::Sync } else { Durability::NoSync });
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

fn info(store: &HvStore) -> String {
    let h = store.header();
    format!(
        "{{\"path\":{:?},\"count\":{},\"version\":{},\"dimension\":{},\"generator\":{},\"data_checksum\":\"{:016x}\"}}",
        store.path().display().to_string(),
        h.count,
        h.version,
        h.dimension,
        h.generator,
        if h.version == zc_hv16::format::VERSION_1 {
            zc_hv16::format::fold_lanes(h.data_lanes)
        } else {
            u64::from(h.data_crc32c)
        }
    )
}

fn run() -> BoxResult<()> {
    let mut argv = std::env::args().skip(1);
    let cmd = argv.next().ok_or(USAGE)?;
    let path = argv.next().ok_or(USAGE)?;
    let args = Args { rest: argv.collect() };
    match cmd.as_str() {
        "build" | "append" => {
            let n: u64 = args.required("--random")?;
            let seed: u64 = args.required("--seed")?;
            let t = Instant::now();
            let mut store = if cmd == "build" {
                HvStore::create_with_generator(&path, GENERATOR_SPLITMIX64_V1)?
            } else {
                HvStore::open_rw(&path)?
            };
            fill(&mut store, n, seed, !args.flag("--no-fsync"))?;
            store.shrink_to_fit()?;
            eprintln!("{cmd}: {n} vectors in {:.2?}", t.elapsed());
            println!("{}", info(&store));
        }
        "info" => {
            let verify = !args.flag("--no-verify");
            let t = Instant::now();
            let store = HvStore::open_with(&path, OpenOptions::new().verify(verify))?;
            if verify {
                eprintln!("data checksum ok ({:.2?} to open and verify)", t.elapsed());
            }
            println!("{}", info(&store));
        }
        "search" => {
            let q: u64 = args.required("--query-seed")?;
            let k: usize = args.required("--k")?;
            let p: f64 = args.value("--flip")?.unwrap_or(0.0);
            let threads: usize = args.value("--threads")?.unwrap_or(1);
            let kernel = match args.value::<SimdLevel>("--level")? {
                Some(l) => Hamming::new(l)?,
                None => Hamming::detect(),
            };
            let store = HvStore::open_with(&path, OpenOptions::new().verify(!args.flag("--no-verify")))?;
            let query = HV16::random(q).flip(p, q);
            let mut hits = vec![Hit::default(); k];
            let t = Instant::now();
            kernel.top_k_par_into_slice(&query, store.vectors(), k, threads, &mut hits)?;
            let dt = t.elapsed();
            for h in &hits {
                println!("{{\"index\":{},\"distance\":{}}}", h.index, h.distance);
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
        _ => return Err(format!("unknown command `{cmd}`\n{USAGE}").into()),
    }
    Ok(())
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("hvstore: {e}");
            ExitCode::from(2)
        }
    }
}
