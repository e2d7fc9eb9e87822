//! `Processor` entry points: any input length (state carried across
//! internal blocks exactly as streaming does), the three output forms plus
//! in place, the memory cap, the forced SIMD level and the builder's checks.

use zc_buffers::ndarray::{Array1, Array2, s};
use zc_buffers::{AlignedBuf, BufferError, HostBufferExt, SimdLevel};
use zc_volterra::naive::naive_process;
use zc_volterra::{EngineKind, Kernel, Processor, SIMD_LEVELS, VolterraError};

fn kernel(n: usize, with_h2: bool) -> Kernel {
    let t = |c: f64, r: f64, len: usize| (0..len).map(|i| c * r.powi(i as i32)).collect::<Vec<f64>>();
    let k = Kernel::from_taps([t(1.0, 0.8, n), t(0.1, -0.6, n / 2 + 1), t(0.02, 0.5, 3)]).expect("kernel");
    if with_h2 {
        let m = 5;
        let h2: Vec<f64> = (0..m * m).map(|k| 0.02 * 0.6f64.powi((k / m + k % m) as i32)).collect();
        k.with_full_h2(m, &h2).expect("h2")
    } else {
        k
    }
}

fn signal(len: usize) -> Vec<f64> {
    (0..len)
        .map(|n| 0.6 * (n as f64 * 0.173).sin() + 0.2 * (n as f64 * 1.31).cos())
        .collect()
}

const ENGINES: [EngineKind; 4] = [
    EngineKind::Direct,
    EngineKind::Fft,
    EngineKind::Partitioned,
    EngineKind::Auto,
];

/// One call with any length equals the naive definition, for lengths around
/// the internal block boundaries, every engine, f64 and f32, in place and
/// out of place; a second call continues the stream.
#[test]
fn any_length_matches_naive_around_block_boundaries() {
    for (n, with_h2) in [(1, false), (7, true), (40, true)] {
        let k = kernel(n, with_h2);
        for max_block in [1usize, 8, 64] {
            let lens = [
                0,
                1,
                max_block.saturating_sub(1),
                max_block,
                max_block + 1,
                3 * max_block + 7,
            ];
            for len in lens {
                // two calls: `len` samples, then 5 more (state carried)
                let x = signal(len + 5);
                let mut want = vec![0.0; x.len()];
                naive_process(&k, &x, &mut want).expect("naive");
                let scale = want.iter().fold(1.0f64, |m, v| m.max(v.abs()));
                for engine in ENGINES {
                    let build = || {
                        Processor::<f64>::builder(&k)
                            .max_block(max_block)
                            .engine(engine)
                            .partition(4)
                            .build()
                            .expect("build")
                    };
                    let mut p = build();
                    let mut y = vec![f64::NAN; x.len() + 3];
                    assert_eq!(p.process_into_slice(&x[..len], &mut y).expect("first"), len);
                    assert_eq!(p.process_into_slice(&x[len..], &mut y[len..]).expect("rest"), 5);
                    let mut q = build();
                    let mut io = x.clone();
                    q.process_in_place(&mut io[..len]).expect("in place");
                    q.process_in_place(&mut io[len..]).expect("in place");
                    for i in 0..x.len() {
                        assert!(
                            (y[i] - want[i]).abs() <= 1e-12 * scale,
                            "N={n} h2={with_h2} B={max_block} len={len} {engine:?} i={i}: {} vs {}",
                            y[i],
                            want[i]
                        );
                        assert_eq!(io[i].to_bits(), y[i].to_bits(), "in place == out of place");
                    }
                    assert!(
                        y[x.len()..].iter().all(|v| v.is_nan()),
                        "nothing written past the result"
                    );

                    let xf: Vec<f32> = x.iter().map(|&v| v as f32).collect();
                    let mut pf = Processor::<f32>::builder(&k)
                        .max_block(max_block)
                        .engine(engine)
                        .build()
                        .expect("build");
                    let mut yf = vec![0.0f32; x.len()];
                    pf.process_into_slice(&xf, &mut yf).expect("f32");
                    for i in 0..x.len() {
                        assert!(
                            (f64::from(yf[i]) - want[i]).abs() <= 2e-5 * scale,
                            "f32 {engine:?} i={i}"
                        );
                    }
                }
            }
        }
    }
}

/// Long inputs on an engine whose internal chunk is smaller than
/// `max_block` (Direct: 4096; Fft: whole best-size segments) agree with
/// block-by-block streaming.
#[test]
fn long_input_equals_streaming() {
    let k = kernel(300, false);
    let x = signal(20_000);
    for engine in [EngineKind::Direct, EngineKind::Fft, EngineKind::Partitioned] {
        let mut one = Processor::<f64>::builder(&k)
            .max_block(1 << 14)
            .engine(engine)
            .build()
            .expect("build");
        let mut y1 = vec![0.0; x.len()];
        one.process_into_slice(&x, &mut y1).expect("one shot");
        let mut streamed = Processor::<f64>::builder(&k)
            .max_block(1 << 14)
            .engine(engine)
            .build()
            .expect("build");
        let mut y2 = vec![0.0; x.len()];
        for (xi, yi) in x.chunks(1000).zip(y2.chunks_mut(1000)) {
            streamed.process_into_slice(xi, yi).expect("block");
        }
        let scale = y1.iter().fold(1.0f64, |m, v| m.max(v.abs()));
        for i in 0..x.len() {
            assert!((y1[i] - y2[i]).abs() <= 1e-12 * scale, "{engine:?} i={i}");
        }
    }
}

#[test]
fn three_output_forms_agree() {
    let k = kernel(16, true);
    let x: Vec<f32> = signal(300).iter().map(|&v| v as f32).collect();
    let fresh = || Processor::<f32>::prepare(&k, 64).expect("prepare");
    let mut want = vec![0.0f32; 300];
    assert_eq!(fresh().process_into_slice(&x, &mut want).expect("slice"), 300);

    // any host buffer, larger than the result
    let mut buf = AlignedBuf::zeroed(400 * 4).expect("buf");
    assert_eq!(fresh().process_into(&x, &mut buf).expect("buffer"), 300);
    assert_eq!(&buf.as_slice::<f32>().expect("view")[..300], &want[..]);

    // a contiguous ndarray view
    let mut arr = Array1::<f32>::zeros(300);
    assert_eq!(fresh().process_into_view(&x, arr.view_mut()).expect("view"), 300);
    assert_eq!(arr.as_slice().expect("contiguous"), &want[..]);

    // a strided view is refused, and so is a short buffer, writing nothing
    let mut m = Array2::<f32>::zeros((300, 2));
    let r = fresh().process_into_view(&x, m.slice_mut(s![.., 0]));
    assert!(
        matches!(r, Err(VolterraError::Buffer(BufferError::NotContiguous { .. }))),
        "{r:?}"
    );
    let mut short = AlignedBuf::zeroed(299 * 4).expect("buf");
    let r = fresh().process_into(&x, &mut short);
    assert!(
        matches!(
            r,
            Err(VolterraError::Buffer(BufferError::OutputTooSmall {
                needed: 300,
                actual: 299,
                ..
            }))
        ),
        "{r:?}"
    );
    assert!(short.as_slice::<f32>().expect("view").iter().all(|&v| v == 0.0));

    // in place
    let mut io = x.clone();
    fresh().process_in_place(&mut io).expect("in place");
    assert_eq!(io, want);
}

#[test]
fn memory_cap_steers_auto_and_refuses_explicit_engines() {
    // the 0.1 trap: one processor sized to a 4 M-sample signal
    let k = kernel(256, false);
    let p = Processor::<f32>::prepare(&k, 4 << 20).expect("prepare");
    assert!(
        p.memory_bytes() <= zc_volterra::DEFAULT_MEMORY_CAP,
        "{}",
        p.memory_bytes()
    );
    assert!(
        p.memory_bytes() < 1 << 20,
        "{} bytes for {:?}",
        p.memory_bytes(),
        p.engine_kind()
    );

    // a long full H2 (many eigen-branches; past the side up to which the
    // table picks Direct): the FFT engine's spectra are large. Diagonal, so
    // that the eigen-decomposition is instant in debug.
    let n = 200;
    let h2: Vec<f64> = (0..n * n)
        .map(|k| {
            if k / n == k % n {
                0.01 * 0.95f64.powi((k / n) as i32)
            } else {
                0.0
            }
        })
        .collect();
    let big = Kernel::from_full_h2(&[1.0], n, &h2).expect("h2");
    let b = Processor::<f64>::builder(&big).max_block(1024);
    let fft = b.memory_bytes(EngineKind::Fft);
    let direct = b.memory_bytes(EngineKind::Direct);
    assert!(direct < fft, "direct {direct} fft {fft}");
    assert_eq!(b.memory_bytes(EngineKind::Auto), fft, "the table picks Fft here");
    let cap = (direct + fft) / 2;
    let p = Processor::<f64>::builder(&big)
        .max_block(1024)
        .memory_cap(cap)
        .build()
        .expect("auto fits");
    assert_ne!(p.engine_kind(), EngineKind::Fft);
    assert!(p.memory_bytes() <= cap);
    let r = Processor::<f64>::builder(&big)
        .max_block(1024)
        .memory_cap(cap)
        .engine(EngineKind::Fft)
        .build();
    assert!(
        matches!(r, Err(VolterraError::MemoryCap { engine: EngineKind::Fft, needed, cap: c }) if needed == fft && c == cap),
        "{r:?}"
    );
    let r = Processor::<f64>::builder(&big).memory_cap(1000).build();
    assert!(
        matches!(r, Err(VolterraError::MemoryCap { needed, cap: 1000, .. }) if needed > 1000),
        "{r:?}"
    );
}

/// The reported bytes are what was estimated before building (the FFT
/// library's scratch is estimated from above, by at most `L/2` values).
#[test]
fn memory_estimates_match_prepared_state() {
    for (n, with_h2) in [(1, false), (40, true), (300, false)] {
        let k = kernel(n, with_h2);
        for max_block in [1, 64, 1000, 1 << 16] {
            for engine in [EngineKind::Direct, EngineKind::Fft, EngineKind::Partitioned] {
                let b = Processor::<f64>::builder(&k)
                    .max_block(max_block)
                    .engine(engine)
                    .history(50);
                let est = b.memory_bytes(engine);
                let p = b.build().expect("build");
                let got = p.memory_bytes();
                assert!(got <= est, "N={n} B={max_block} {engine:?}: {got} > {est}");
                assert!(est - got <= 16 * 4096, "N={n} B={max_block} {engine:?}: {got} vs {est}");
                if engine == EngineKind::Direct {
                    assert_eq!(got, est, "Direct is exact");
                }
            }
        }
    }
}

#[test]
fn simd_level_is_forced_and_checked_in_build() {
    let k = kernel(20, true);
    let x = signal(500);
    let mut want = vec![0.0; 500];
    naive_process(&k, &x, &mut want).expect("naive");
    for &level in SIMD_LEVELS {
        let r = Processor::<f64>::builder(&k)
            .engine(EngineKind::Direct)
            .simd(level)
            .build();
        if !level.is_available() {
            assert!(
                matches!(r, Err(VolterraError::Buffer(BufferError::SimdUnavailable { level: l })) if l == level),
                "{r:?}"
            );
            continue;
        }
        let mut p = r.expect("available level");
        assert_eq!(p.simd_level(), level);
        let mut y = vec![0.0; 500];
        p.process_into_slice(&x, &mut y).expect("process");
        for i in 0..500 {
            assert!((y[i] - want[i]).abs() < 1e-12, "{level} i={i}");
        }
    }
    let r = Processor::<f64>::builder(&k).simd(SimdLevel::Popcnt).build();
    assert!(
        matches!(
            r,
            Err(VolterraError::SimdNotImplemented {
                level: SimdLevel::Popcnt
            })
        ),
        "{r:?}"
    );
    let auto = Processor::<f64>::prepare(&k, 64).expect("prepare");
    assert!(SIMD_LEVELS.contains(&auto.simd_level()) && auto.simd_level().is_available());
}
