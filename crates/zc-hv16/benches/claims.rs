//! The copy-overhead claims of the hypervector zero-copy plan, measured:
//! copy vs bind, 1000 similarities with and without cloning, arena vs malloc
//! for 1000 vectors, `Box` vs stack. Inputs are generated outside the timed
//! regions.
//!
//! `cargo bench -p zc-hv16 --bench claims -- --warm-up-time 1 --measurement-time 3`

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use zc_buffers::Arena;
use zc_hv16::{HV16, Hamming};

fn claims(c: &mut Criterion) {
    let a = HV16::random(1);
    let b = HV16::random(2);
    let db: Vec<HV16> = (0..1000).map(|i| HV16::random(100 + i)).collect();
    let kernel = Hamming::detect();
    eprintln!("kernel level: {}", kernel.simd_level());

    // 1. copy of one 256-byte vector vs bind (claimed 2 µs vs 10 ns)
    let mut g = c.benchmark_group("copy_vs_bind");
    g.bench_function("copy_stack_256B", |bch| bch.iter(|| black_box(*black_box(&a))));
    g.bench_function("copy_heap_box_256B", |bch| {
        bch.iter(|| black_box(Box::new(*black_box(&a))))
    });
    g.bench_function("copy_heap_vec_256B", |bch| {
        bch.iter(|| black_box(black_box(&a).words.to_vec()))
    });
    let mut out = HV16::zero();
    g.bench_function("bind_into", |bch| {
        bch.iter(|| {
            black_box(&a).bind_into(black_box(&b), &mut out);
            black_box(&out);
        })
    });
    g.bench_function("bind_by_value", |bch| {
        bch.iter(|| black_box(black_box(&a).bind(black_box(&b))))
    });
    g.finish();

    // 2. 1000 similarities with and without cloning (claimed 167x)
    let q = HV16::random(7);
    let mut g = c.benchmark_group("similarities_1000");
    g.bench_function("with_clone_box", |bch| {
        bch.iter(|| {
            let mut s = 0u32;
            for v in black_box(&db) {
                let owned = Box::new(*v);
                s += kernel.hamming(&q, &owned);
            }
            black_box(s)
        })
    });
    g.bench_function("without_clone", |bch| {
        bch.iter(|| {
            let mut s = 0u32;
            for v in black_box(&db) {
                s += kernel.hamming(&q, v);
            }
            black_box(s)
        })
    });
    let mut dists = vec![0u32; db.len()];
    g.bench_function("without_clone_kernel_distances", |bch| {
        bch.iter(|| {
            kernel.distances_into_slice(&q, black_box(&db), &mut dists).ok();
            black_box(&dists);
        })
    });
    g.finish();

    // 3. arena vs malloc for 1000 vectors (claimed 100x)
    let mut g = c.benchmark_group("alloc_1000_vectors");
    let mut boxes: Vec<Box<HV16>> = Vec::with_capacity(1000);
    g.bench_function("malloc_box_each", |bch| {
        bch.iter(|| {
            for v in &db {
                boxes.push(Box::new(*v));
            }
            black_box(&boxes);
            boxes.clear();
        })
    });
    let mut arena = Arena::with_capacity(1000 * 256 + 4096).unwrap();
    g.bench_function("arena_each", |bch| {
        bch.iter(|| {
            for v in &db {
                black_box(arena.alloc(*v).ok());
            }
            arena.reset();
        })
    });
    g.bench_function("arena_one_slice", |bch| {
        bch.iter(|| {
            black_box(arena.alloc_slice_copy(&db).ok());
            arena.reset();
        })
    });
    g.bench_function("malloc_one_vec", |bch| bch.iter(|| black_box(db.to_vec())));
    g.finish();

    // 4. Box vs stack (claimed 50x)
    let mut g = c.benchmark_group("box_vs_stack");
    g.bench_function("box_bind", |bch| {
        bch.iter(|| black_box(Box::new(black_box(&a).bind(black_box(&b)))))
    });
    g.bench_function("stack_bind", |bch| {
        bch.iter(|| black_box(black_box(&a).bind(black_box(&b))))
    });
    g.finish();
}

criterion_group!(benches, claims);
criterion_main!(benches);
