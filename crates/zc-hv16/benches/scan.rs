//! Scan throughput over a 1 GiB file-mapped store: one query and 8 queries,
//! every kernel level, the `simsimd` hamming kernel over the same data, and a
//! plain sequential read of the same mapping (the memory-bandwidth limit),
//! all in one run so the ratios are side by side.
//!
//! Group `scan_1gib`: the read baselines (`xor_all`, a sum of `u64` words on
//! one thread and on two), then the scans; group `batch_1gib`: the same
//! 1-thread read next to top-10 for tiles of 8 and batches of 64 queries
//! (issue 17: a tile within 1.5x of the read, 64 queries against FAISS
//! `IndexBinaryFlat`, whose figure comes from `benches/faiss_peer.py`), and
//! the 2-thread read next to the 2-thread single-query scan.
//!
//! The store is built once in `CARGO_TARGET_TMPDIR` (reused by later runs).
//! `ZC_HV16_SCAN_MIB` changes its size (default 1024); `ZC_HV16_SCAN_STORE=PATH`
//! uses an existing store instead (e.g. the one `batch_probe` reads).
//!
//! `cargo bench -p zc-hv16 --bench scan -- --warm-up-time 1 --measurement-time 3`

use std::hint::black_box;
use std::time::Instant;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use simsimd::BinarySimilarity;
use zc_hv16::{Durability, GENERATOR_SPLITMIX64_V1, HV16, Hamming, Hit, HvStore};

/// Sum of every `u64` word: the cheapest full read of the data.
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
fn sum_par(db: &[HV16], threads: usize) -> u64 {
    let parts = zc_buffers::parallel::map_ranges(threads, db.len(), |_, r| {
        Ok::<_, zc_buffers::BufferError>(sum_words(db.get(r).unwrap_or(&[])))
    })
    .expect("read workers");
    parts.iter().fold(0, |a, b| a.wrapping_add(*b))
}

fn store() -> HvStore {
    if let Some(p) = std::env::var_os("ZC_HV16_SCAN_STORE") {
        return HvStore::open(p).expect("open ZC_HV16_SCAN_STORE");
    }
    let mib: usize = std::env::var("ZC_HV16_SCAN_MIB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1024);
    let n = mib * 4096; // 4096 vectors per MiB
    let path = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("zc-hv16-scan-{mib}mib.hv16"));
    if let Ok(s) = HvStore::open(&path)
        && s.len() == n
    {
        return s;
    }
    let t = Instant::now();
    let mut s = HvStore::create_with_generator(&path, GENERATOR_SPLITMIX64_V1).expect("create bench store");
    s.set_durability(Durability::NoSync);
    s.reserve(n).expect("reserve");
    let mut buf = Vec::with_capacity(1 << 16);
    for start in (0..n).step_by(1 << 16) {
        buf.clear();
        buf.extend((start..(start + (1 << 16)).min(n)).map(|i| HV16::random(i as u64)));
        s.append(&buf).expect("append");
    }
    s.flush().expect("flush");
    drop(s);
    eprintln!("built {} ({n} vectors) in {:.1?}", path.display(), t.elapsed());
    HvStore::open(&path).expect("open bench store")
}

fn scan(c: &mut Criterion) {
    let store = store();
    let db = store.vectors();
    let bytes = std::mem::size_of_val(db) as u64;
    let best = Hamming::detect();
    eprintln!(
        "{} vectors, {} bytes, best level {}",
        db.len(),
        bytes,
        best.simd_level()
    );
    let q = db[db.len() / 3].flip(0.2, 1);
    let queries: Vec<HV16> = (0..8).map(|i| db[i * 1000 + 7].flip(0.1, i as u64)).collect();
    let mut hits = vec![Hit::default(); 10];
    let mut hits8 = vec![Hit::default(); 80];
    let mut dists = vec![0u32; db.len()];

    let mut g = c.benchmark_group("scan_1gib");
    g.sample_size(10);
    g.throughput(Throughput::Bytes(bytes));
    g.bench_function("read_baseline_xor_all", |b| {
        b.iter(|| black_box(best.xor_all(black_box(db))))
    });
    g.bench_function("read_baseline_sum_1thread", |b| {
        b.iter(|| black_box(sum_words(black_box(db))))
    });
    g.bench_function("read_baseline_sum_2threads", |b| {
        b.iter(|| black_box(sum_par(black_box(db), 2)))
    });
    for k in Hamming::available().collect::<Vec<_>>().into_iter().rev() {
        g.bench_function(format!("top10_1q/{}", k.simd_level()), |b| {
            b.iter(|| {
                k.top_k_into_slice(black_box(&q), db, 10, &mut hits).expect("search");
                black_box(&hits);
            })
        });
    }
    g.bench_function("distances_1q/best", |b| {
        b.iter(|| {
            best.distances_into_slice(black_box(&q), db, &mut dists)
                .expect("distances");
            black_box(&dists);
        })
    });
    let qb: &[u8] = HV16::as_bytes(std::slice::from_ref(&q));
    g.bench_function("distances_1q/simsimd", |b| {
        b.iter(|| {
            for (o, v) in dists.iter_mut().zip(db) {
                let vb: &[u8] = HV16::as_bytes(std::slice::from_ref(v));
                *o = u8::hamming(qb, vb).unwrap_or(f64::NAN) as u32;
            }
            black_box(&dists);
        })
    });
    g.bench_function("top10_8q_tiled/best", |b| {
        b.iter(|| {
            best.top_k_batch_into_slice(black_box(&queries), db, 10, &mut hits8)
                .expect("batch");
            black_box(&hits8);
        })
    });
    g.bench_function("top10_1q_2threads/best", |b| {
        b.iter(|| {
            best.top_k_par_into_slice(black_box(&q), db, 10, 2, &mut hits)
                .expect("par");
            black_box(&hits);
        })
    });
    g.finish();
    // (a filter may have skipped the searches: check only what ran)
    if hits[0] != Hit::default() {
        assert_eq!(hits[0].index, db.len() / 3);
    }

    let step = db.len() / 64;
    let queries64: Vec<HV16> = (0..64).map(|i| db[i * step + 7].flip(0.1, i as u64)).collect();
    let mut hits64 = vec![Hit::default(); 64 * 10];
    let mut g = c.benchmark_group("batch_1gib");
    g.sample_size(10);
    g.throughput(Throughput::Bytes(bytes));
    g.bench_function("read_baseline_sum_1thread", |b| {
        b.iter(|| black_box(sum_words(black_box(db))))
    });
    g.bench_function("top10_8q_tile/best", |b| {
        b.iter(|| {
            best.top_k_batch_into_slice(black_box(&queries64[..8]), db, 10, &mut hits8)
                .expect("batch");
            black_box(&hits8);
        })
    });
    g.bench_function("top10_64q/best", |b| {
        b.iter(|| {
            best.top_k_batch_into_slice(black_box(&queries64), db, 10, &mut hits64)
                .expect("batch");
            black_box(&hits64);
        })
    });
    g.bench_function("read_baseline_sum_2threads", |b| {
        b.iter(|| black_box(sum_par(black_box(db), 2)))
    });
    g.bench_function("top10_1q_2threads/best", |b| {
        b.iter(|| {
            best.top_k_par_into_slice(black_box(&q), db, 10, 2, &mut hits)
                .expect("par");
            black_box(&hits);
        })
    });
    g.finish();
    if hits64[0] != Hit::default() {
        assert_eq!(hits64[10 * 5].index, 5 * step + 7);
    }
}

criterion_group!(benches, scan);
criterion_main!(benches);
