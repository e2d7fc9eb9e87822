//! Criterion benches for zc-buffers, each side by side with its naive
//! counterpart or physical limit in the same run:
//!
//! * `pool`: acquire+release of a pooled buffer vs a fresh zeroed allocation
//!   (`vec![0u8; n]`, and the same followed by touching every page, which is
//!   what a request does with it) at 4 KiB, 960 KB and 9.6 MB.
//! * `arena`: 1000 small objects from the arena (+ reset) vs 1000 `Box`es.
//! * `transpose`: `transpose_into` of an (80, 3000) f32 mel vs `memcpy` of the
//!   same bytes, a naive element loop, and ndarray's allocating
//!   `.t().as_standard_layout()` (numpy's `.T` + `ascontiguousarray`).
//! * `mmap`: summing a 64 MiB f32 file through an `MmapBuf` typed view vs
//!   `std::fs::read` into a `Vec` then summing (an integer sum, so both run
//!   at memory speed), and summing an already-open mapping.

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use ndarray::Array2;
use zc_buffers::{Advice, Arena, HostBufferExt, HostBufferMutExt, MmapBufMut, MmapOptions, Pool, transpose_into};

const SIZES: [(usize, &str); 3] = [(4096, "4KiB"), (960_000, "960KB"), (9_600_000, "9.6MB")];

fn touch_pages(v: &mut [u8]) {
    for i in (0..v.len()).step_by(4096) {
        v[i] = 1;
    }
}

fn pool(c: &mut Criterion) {
    let mut g = c.benchmark_group("pool");
    let pool = Pool::builder().cap_bytes(256 << 20).build().unwrap();
    for (n, name) in SIZES {
        drop(pool.acquire(n).unwrap()); // warm: the class holds one buffer
        g.bench_function(BenchmarkId::new("pool_acquire_release", name), |b| {
            b.iter(|| {
                let guard = pool.acquire(black_box(n)).unwrap();
                black_box(guard.as_ptr());
            })
        });
        g.bench_function(BenchmarkId::new("pool_acquire_touch_release", name), |b| {
            b.iter(|| {
                let mut guard = pool.acquire(black_box(n)).unwrap();
                touch_pages(&mut guard);
                black_box(guard.as_ptr());
            })
        });
        g.bench_function(BenchmarkId::new("fresh_zeroed_vec", name), |b| {
            b.iter(|| {
                let v = vec![0u8; black_box(n)];
                black_box(v.as_ptr());
            })
        });
        g.bench_function(BenchmarkId::new("fresh_zeroed_vec_touch", name), |b| {
            b.iter(|| {
                let mut v = vec![0u8; black_box(n)];
                touch_pages(&mut v);
                black_box(v.as_ptr());
            })
        });
    }
    g.finish();
}

#[derive(Clone, Copy)]
#[allow(dead_code)] // the fields are only there to give the object its size
struct Small {
    id: u64,
    vals: [f32; 14],
}

fn arena(c: &mut Criterion) {
    let mut g = c.benchmark_group("arena");
    g.throughput(Throughput::Elements(1000));
    let mut arena = Arena::with_capacity(1 << 20).unwrap();
    g.bench_function("arena_1000_objects_plus_reset", |b| {
        b.iter(|| {
            for i in 0..1000u64 {
                let o = arena.alloc(Small { id: i, vals: [0.0; 14] }).unwrap();
                black_box(o);
            }
            arena.reset();
        })
    });
    let mut boxes: Vec<Box<Small>> = Vec::with_capacity(1000);
    g.bench_function("box_1000_objects_plus_drop", |b| {
        b.iter(|| {
            for i in 0..1000u64 {
                boxes.push(Box::new(Small {
                    id: black_box(i),
                    vals: [0.0; 14],
                }));
            }
            black_box(&boxes);
            boxes.clear();
        })
    });
    g.finish();
}

fn transpose(c: &mut Criterion) {
    let mut g = c.benchmark_group("transpose_80x3000_f32");
    let (m, t) = (80usize, 3000usize);
    g.throughput(Throughput::Bytes((m * t * 4) as u64));
    let pool = Pool::builder().build().unwrap();
    let mut src = pool.acquire(m * t * 4).unwrap();
    for (i, x) in src.as_slice_mut::<f32>().unwrap().iter_mut().enumerate() {
        *x = i as f32;
    }
    let mut dst = pool.acquire(m * t * 4).unwrap();
    g.bench_function("memcpy_same_bytes", |b| {
        b.iter(|| {
            dst.copy_from_slice(black_box(&src));
        })
    });
    g.bench_function("transpose_into", |b| {
        b.iter(|| {
            let s = src.view2::<f32>(m, t).unwrap();
            let d = dst.view2_mut::<f32>(t, m).unwrap();
            transpose_into(black_box(s), d).unwrap();
        })
    });
    // Ordinary `Vec`s: malloc's alignment, and one element (4 B) off it.
    let v_src: Vec<f32> = (0..m * t + 1).map(|i| i as f32).collect();
    let mut v_dst = vec![0f32; m * t + 1];
    for (name, off) in [("transpose_into_vec", 0usize), ("transpose_into_vec_offset_4b", 1)] {
        g.bench_function(name, |b| {
            b.iter(|| {
                let s = ndarray::ArrayView2::from_shape((m, t), &v_src[off..off + m * t]).unwrap();
                let d = ndarray::ArrayViewMut2::from_shape((t, m), &mut v_dst[off..off + m * t]).unwrap();
                transpose_into(black_box(s), d).unwrap();
            })
        });
    }
    g.bench_function("naive_loop", |b| {
        b.iter(|| {
            let s = src.as_slice::<f32>().unwrap();
            let d = dst.as_slice_mut::<f32>().unwrap();
            for i in 0..m {
                for j in 0..t {
                    d[j * m + i] = s[i * t + j];
                }
            }
            black_box(d.as_ptr());
        })
    });
    let owned = Array2::from_shape_vec((m, t), src.as_slice::<f32>().unwrap().to_vec()).unwrap();
    g.bench_function("ndarray_t_as_standard_layout_alloc", |b| {
        b.iter(|| {
            let tr = black_box(&owned).t().as_standard_layout().into_owned();
            black_box(tr.as_ptr());
        })
    });
    g.finish();
}

fn mmap(c: &mut Criterion) {
    let mut g = c.benchmark_group("mmap_64MiB");
    let n = 64usize << 20;
    g.throughput(Throughput::Bytes(n as u64));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("data.f32");
    {
        // SAFETY: the temp file is ours alone while mapped.
        let mut w = unsafe { MmapBufMut::create(&path, n) }.unwrap();
        for (i, x) in w.as_slice_mut::<f32>().unwrap().iter_mut().enumerate() {
            *x = (i % 7) as f32;
        }
        w.flush().unwrap();
    }
    // An integer sum vectorises, so the loop runs at memory speed rather than
    // at the latency of a serial float add.
    let sum = |v: &[u32]| v.iter().fold(0u32, |a, &b| a.wrapping_add(b));
    g.bench_function("mmap_open_view_sum", |b| {
        b.iter(|| {
            let m = MmapOptions::new()
                .advice(Advice::Sequential)
                .populate(true)
                .open(&path)
                .unwrap();
            black_box(sum(m.as_slice::<u32>().unwrap()));
        })
    });
    g.bench_function("read_into_vec_sum", |b| {
        b.iter(|| {
            let bytes = std::fs::read(&path).unwrap();
            let v: &[u32] = bytemuck::cast_slice(&bytes);
            black_box(sum(v));
        })
    });
    let m = MmapOptions::new().open(&path).unwrap();
    g.bench_function("warm_mapping_view_sum", |b| {
        b.iter(|| black_box(sum(m.as_slice::<u32>().unwrap())))
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(20);
    targets = pool, arena, transpose, mmap
}
criterion_main!(benches);
