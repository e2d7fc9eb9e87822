//! zc-volterra benches (single thread):
//!
//! * `throughput`: 10 s of 48 kHz audio (480 000 samples, f64 like
//!   py-volterra), block 512, N = 64/256/512, orders 1..3 and 1..5, each
//!   engine and `Auto`, with a `memcpy` of the same samples in the same
//!   group (the floor: reading the input and writing the output);
//!   `throughput_f32`: the same cells in f32. `full_h2`: orders 1..3 with a
//!   full-rank H2 at N = 64, f64 and f32, each engine and `Auto`.
//! * `naive_vs_direct`: a per-sample, per-order loop with `powi` against the
//!   Direct engine at N = 256, orders 1..3.
//! * `crossover`: Direct vs Fft vs Partitioned over kernel memory N and block
//!   size (f64, orders 1..3) — the table behind `EngineKind::Auto`.
//!
//! `cargo bench -p zc-volterra --bench volterra -- --warm-up-time 1 --measurement-time 2`

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use zc_volterra::naive::naive_process;
use zc_volterra::{EngineKind, Kernel, Processor, Sample};

mod common;
use common::grid::{grid_kernel, signal};

fn kernel(n: usize, orders: usize) -> Kernel {
    grid_kernel(n, orders, false).expect("kernel")
}

fn stream<T: Sample>(p: &mut Processor<T>, x: &[T], y: &mut [T], block: usize) {
    for (xi, yi) in x.chunks(block).zip(y.chunks_mut(block)) {
        p.process_into_slice(xi, yi).expect("process");
    }
}

const ENGINES: [EngineKind; 3] = [EngineKind::Direct, EngineKind::Fft, EngineKind::Partitioned];

/// One throughput group (orders 1..3 and 1..5, N = 64/256/512, every
/// engine, block 512) for sample type `T`.
fn throughput_for<T: Sample>(c: &mut Criterion, group: &str) {
    let len = 480_000;
    let block = 512;
    let x = signal::<T>(len);
    let mut y = vec![T::default(); len];
    let mut g = c.benchmark_group(group);
    g.sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(2));
    g.throughput(Throughput::Elements(len as u64));
    g.bench_function("memcpy", |b| b.iter(|| y.copy_from_slice(black_box(&x))));
    for n in [64, 256, 512] {
        for orders in [3, 5] {
            let k = kernel(n, orders);
            for engine in ENGINES.into_iter().chain([EngineKind::Auto]) {
                let mut p = Processor::<T>::builder(&k)
                    .max_block(block)
                    .engine(engine)
                    .build()
                    .expect("prepare");
                let id = BenchmarkId::new(format!("{engine:?}"), format!("N{n}_o1-{orders}"));
                g.bench_function(id, |b| b.iter(|| stream(&mut p, black_box(&x), &mut y, block)));
            }
        }
    }
    g.finish();
}

fn throughput(c: &mut Criterion) {
    throughput_for::<f64>(c, "throughput");
    throughput_for::<f32>(c, "throughput_f32");
}

/// Orders 1..3 with a full-rank symmetric H2 (the grid's formula).
fn full_h2_kernel(n: usize) -> Kernel {
    grid_kernel(n, 3, true).expect("full-H2 kernel")
}

fn full_h2_for<T: Sample>(c: &mut Criterion, group: &str) {
    let len = 96_000;
    let block = 512;
    let x = signal::<T>(len);
    let mut y = vec![T::default(); len];
    let mut g = c.benchmark_group(group);
    g.sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(2));
    g.throughput(Throughput::Elements(len as u64));
    g.bench_function("memcpy", |b| b.iter(|| y.copy_from_slice(black_box(&x))));
    let k = full_h2_kernel(64);
    for engine in ENGINES.into_iter().chain([EngineKind::Auto]) {
        let mut p = Processor::<T>::builder(&k)
            .max_block(block)
            .engine(engine)
            .build()
            .expect("prepare");
        let id = BenchmarkId::new(format!("{engine:?}"), "N64_o1-3_fullH2");
        g.bench_function(id, |b| b.iter(|| stream(&mut p, black_box(&x), &mut y, block)));
    }
    g.finish();
}

fn full_h2(c: &mut Criterion) {
    full_h2_for::<f64>(c, "full_h2");
    full_h2_for::<f32>(c, "full_h2_f32");
}

fn naive_vs_direct(c: &mut Criterion) {
    let len = 48_000;
    let x = signal::<f64>(len);
    let mut y = vec![0.0; len];
    let k = kernel(256, 3);
    let mut g = c.benchmark_group("naive_vs_direct");
    g.sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(2));
    g.throughput(Throughput::Elements(len as u64));
    g.bench_function("naive_N256_o1-3", |b| {
        b.iter(|| naive_process(&k, black_box(&x), &mut y).expect("naive"))
    });
    let mut p = Processor::<f64>::builder(&k)
        .max_block(512)
        .engine(EngineKind::Direct)
        .build()
        .expect("p");
    g.bench_function("direct_N256_o1-3", |b| {
        b.iter(|| stream(&mut p, black_box(&x), &mut y, 512))
    });
    g.finish();
}

fn crossover(c: &mut Criterion) {
    let len = 16_384;
    let x = signal::<f64>(len);
    let mut y = vec![0.0; len];
    let mut g = c.benchmark_group("crossover");
    g.sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(1));
    g.throughput(Throughput::Elements(len as u64));
    for n in [16, 64, 128, 256, 1024, 4096] {
        let k = kernel(n, 3);
        for block in [16, 64, 256, 1024] {
            for engine in ENGINES {
                let mut p = Processor::<f64>::builder(&k)
                    .max_block(block)
                    .engine(engine)
                    .build()
                    .expect("prepare");
                let id = BenchmarkId::new(format!("{engine:?}"), format!("N{n}_B{block}"));
                g.bench_function(id, |b| b.iter(|| stream(&mut p, black_box(&x), &mut y, block)));
            }
        }
    }
    g.finish();
}

criterion_group!(benches, throughput, full_h2, naive_vs_direct, crossover);
criterion_main!(benches);
