//! Criterion bench of host↔device transfers by path (pageable, pinned,
//! registered, managed prefetch) for a mel-sized 960 000-byte buffer and a
//! 256 MiB buffer. Prints a skip line and measures nothing without a GPU.
//!
//! Run on a GPU machine: `cargo bench -p zc-cuda --bench transfers`.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use zc_buffers::{AlignedBuf, PAGE_ALIGN};
use zc_cuda::{CudaDevice, Location, Registered};

const SIZES: [(&str, usize); 2] = [("960KB", 80 * 3000 * 4), ("256MB", 256 << 20)];

fn transfers(c: &mut Criterion) {
    let dev = match zc_cuda::probe().and_then(|_| CudaDevice::new(0)) {
        Ok(d) => d,
        Err(e) => {
            println!("no CUDA driver: skipping the transfer bench ({e})");
            return;
        }
    };
    let stream = dev.stream().clone();
    for (label, n) in SIZES {
        let mut g = c.benchmark_group(format!("transfer_{label}"));
        g.throughput(Throughput::Bytes(n as u64));
        if n > (64 << 20) {
            g.sample_size(10);
        }
        let setup = (|| -> zc_cuda::Result<_> {
            let pageable = AlignedBuf::zeroed(n)?;
            let mut pageable_out = AlignedBuf::zeroed(n)?;
            let pinned = dev.alloc_pinned(n)?;
            let pinned_out = dev.alloc_pinned(n)?;
            let registered = Registered::with_device(&dev, AlignedBuf::zeroed_aligned(n, PAGE_ALIGN)?)?;
            let registered_out = Registered::with_device(&dev, AlignedBuf::zeroed_aligned(n, PAGE_ALIGN)?)?;
            let mut gpu = dev.alloc_zeroed(n)?;
            stream.copy_dtoh(&gpu, &mut pageable_out)?;
            stream.copy_htod(&pageable, &mut gpu)?;
            Ok((
                pageable,
                pageable_out,
                pinned,
                pinned_out,
                registered,
                registered_out,
                gpu,
            ))
        })();
        let Ok((pageable, mut pageable_out, pinned, mut pinned_out, registered, mut registered_out, mut gpu)) = setup
        else {
            println!("transfer_{label}: allocation failed, skipping this size");
            continue;
        };
        g.bench_function("h2d_pageable", |b| {
            b.iter(|| stream.copy_htod(black_box(&pageable), &mut gpu))
        });
        g.bench_function("h2d_pinned", |b| {
            b.iter(|| stream.copy_htod(black_box(&pinned), &mut gpu))
        });
        g.bench_function("h2d_registered", |b| {
            b.iter(|| stream.copy_htod(black_box(&registered), &mut gpu))
        });
        g.bench_function("d2h_pageable", |b| b.iter(|| stream.copy_dtoh(&gpu, &mut pageable_out)));
        g.bench_function("d2h_pinned", |b| b.iter(|| stream.copy_dtoh(&gpu, &mut pinned_out)));
        g.bench_function("d2h_registered", |b| {
            b.iter(|| stream.copy_dtoh(&gpu, &mut registered_out))
        });
        if let Ok(managed) = dev.alloc_managed(n) {
            g.bench_function("managed_prefetch_roundtrip", |b| {
                b.iter(|| {
                    managed.prefetch(Location::Device, &stream)?;
                    managed.prefetch(Location::Host, &stream)?;
                    stream.synchronize()
                })
            });
        }
        g.finish();
    }
}

criterion_group!(benches, transfers);
criterion_main!(benches);
