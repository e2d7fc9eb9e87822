//! The claims ledger: each copy/allocation claim from the design notes behind
//! zc, measured on the real code with criterion, side by side with its naive
//! counterpart in the same run.
//!
//! ```text
//! cargo bench --bench claims                 # claims 1, 2, 3, 5 (this file)
//! cargo bench -p zc-hv16 --bench claims      # claim 4 (hypervector copies)
//! cargo run --release --example claims_report   # the markdown table
//! ```
//!
//! Group names are read by `examples/claims_report.rs`; keep them in sync.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use ndarray::Array2;
use zc::buffers::{HostBufferExt, HostBufferMutExt, Pool, transpose_into};
use zc::mel::{Layout, MelConfig, MelSpectrogram};
use zc::volterra::{EngineKind, Kernel, Processor, naive};

/// The per-request buffers of the Whisper pipeline the allocation claim is
/// about: audio 960 KB, FFT buffer 9.6 MB, mel 960 KB, encoder output 960 KB.
const REQUEST: [usize; 4] = [960_000, 9_600_000, 960_000, 960_000];

fn touch(v: &mut [u8]) {
    for i in (0..v.len()).step_by(4096) {
        v[i] = 1;
    }
}

fn chirp(n: usize) -> Vec<f32> {
    (0..n)
        .map(|i| {
            let t = i as f32 / 16_000.0;
            0.5 * (2.0 * std::f32::consts::PI * (100.0 + 120.0 * t) * t).sin()
        })
        .collect()
}

/// Claim 1: `.T` + `ascontiguousarray` of an (80, 3000) f32 mel "costs ~1 ms";
/// writing the transposed layout directly saves that copy.
fn claim1_transpose(c: &mut Criterion) {
    let mut g = c.benchmark_group("claim1_transpose");
    let mel = Array2::from_shape_fn((80, 3000), |(m, t)| (m * 3000 + t) as f32);
    g.bench_function("numpy_style_T_ascontiguous", |b| {
        b.iter(|| black_box(black_box(&mel).t().as_standard_layout().into_owned()))
    });
    let pool = Pool::builder().build().unwrap();
    let mut out = pool.acquire(80 * 3000 * 4).unwrap();
    g.bench_function("transpose_into_pool_buffer", |b| {
        b.iter(|| {
            let dst = out.view2_mut::<f32>(3000, 80).unwrap();
            transpose_into(black_box(&mel).view(), dst).unwrap();
        })
    });
    // the whole front end: mel-major then a transposing copy, vs frame-major written directly
    let audio = chirp(480_000);
    let plan = MelSpectrogram::new(MelConfig::whisper(80)).unwrap();
    let frame_major = plan.to_builder().layout(Layout::FrameMajor).build().unwrap();
    let mut scratch = plan.make_scratch();
    let mut mel_major = pool.acquire(plan.output_bytes(audio.len()).unwrap()).unwrap();
    g.bench_function("mel_major_then_transpose_copy", |b| {
        b.iter(|| {
            plan.compute_into_with_scratch(black_box(&audio), &mut mel_major, &mut scratch)
                .unwrap();
            let src = mel_major.view2::<f32>(80, 3000).unwrap();
            black_box(src.t().as_standard_layout().into_owned());
        })
    });
    g.bench_function("frame_major_direct", |b| {
        b.iter(|| {
            frame_major
                .compute_into_with_scratch(black_box(&audio), &mut out, &mut scratch)
                .unwrap();
            black_box(out.as_slice::<f32>().unwrap()[0]);
        })
    });
    g.finish();
}

/// Claim 2: allocation costs "~50 µs per MB"; a buffer pool removes 60–80% of
/// per-request allocation overhead. Each side touches every page, as a
/// request that then fills its buffers would.
fn claim2_alloc(c: &mut Criterion) {
    let mut g = c.benchmark_group("claim2_alloc");
    g.bench_function("fresh_zeroed_1MB_touched", |b| {
        b.iter(|| {
            let mut v = vec![0u8; black_box(1 << 20)];
            touch(&mut v);
            black_box(v.as_ptr());
        })
    });
    g.bench_function("request_fresh_allocations", |b| {
        b.iter(|| {
            for n in REQUEST {
                let mut v = vec![0u8; black_box(n)];
                touch(&mut v);
                black_box(v.as_ptr());
            }
        })
    });
    let pool = Pool::builder().cap_bytes(64 << 20).build().unwrap();
    g.bench_function("request_pool_buffers", |b| {
        b.iter(|| {
            let mut held = [None, None, None, None];
            for (slot, n) in held.iter_mut().zip(REQUEST) {
                let mut guard = pool.acquire(black_box(n)).unwrap();
                touch(&mut guard);
                *slot = Some(guard);
            }
            black_box(&held);
        })
    });
    g.finish();
}

/// Claim 3: a 30 s Whisper log-mel "takes 10–15 ms" on the CPU.
fn claim3_mel(c: &mut Criterion) {
    let mut g = c.benchmark_group("claim3_mel_30s");
    let audio = chirp(480_000);
    let plan = MelSpectrogram::new(MelConfig::whisper(80)).unwrap();
    let mut scratch = plan.make_scratch();
    let mut out = vec![0f32; 80 * 3000];
    g.bench_function("zc_mel_80_single_thread", |b| {
        b.iter(|| {
            plan.compute_into_slice_with_scratch(black_box(&audio), &mut out, &mut scratch)
                .unwrap()
        })
    });
    g.finish();
}

/// Claim 5: a vectorised Volterra engine is "5–10× faster than loop-based"
/// at N = 256 (orders 1..3, blocks of 512, 1 s of 48 kHz audio).
fn claim5_volterra(c: &mut Criterion) {
    let mut g = c.benchmark_group("claim5_volterra_n256");
    let taps = |scale: f64, n: usize| {
        (0..n)
            .map(|i| scale * 0.98f64.powi(i as i32) / n as f64)
            .collect::<Vec<_>>()
    };
    let kernel = Kernel::from_taps([taps(1.0, 256), taps(0.1, 256), taps(0.01, 256)]).unwrap();
    let x: Vec<f32> = chirp(48_000).iter().map(|v| v * 0.8).collect();
    let mut y = vec![0f32; x.len()];
    g.bench_function("naive_loop", |b| {
        b.iter(|| naive::naive_process(&kernel, black_box(&x), &mut y).unwrap())
    });
    let mut direct = Processor::<f32>::builder(&kernel)
        .max_block(512)
        .engine(EngineKind::Direct)
        .build()
        .unwrap();
    g.bench_function("direct_engine", |b| {
        b.iter(|| {
            direct.reset();
            for (i, o) in x.chunks(512).zip(y.chunks_mut(512)) {
                direct.process_into_slice(black_box(i), o).unwrap();
            }
        })
    });
    g.finish();
}

criterion_group! {
    name = claims;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(20);
    targets = claim1_transpose, claim2_alloc, claim3_mel, claim5_volterra
}
criterion_main!(claims);
