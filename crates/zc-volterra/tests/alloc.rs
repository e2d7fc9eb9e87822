//! After `build`, processing performs zero heap allocations: 1000 blocks of
//! mixed sizes on every engine (with a full H2), in place and out of place,
//! inputs longer than `max_block`, an output-too-small error, and a kernel
//! swap.

use zc_buffers::testing::{CountingAllocator, count_allocs};
use zc_volterra::{EngineKind, Kernel, Processor};

#[global_allocator]
static ALLOC: CountingAllocator = CountingAllocator::new();

fn kernels() -> (Kernel, Kernel) {
    let t = |c: f64, r: f64, n: usize| (0..n).map(|i| c * r.powi(i as i32)).collect::<Vec<f64>>();
    let h2: Vec<f64> = (0..36).map(|k| 0.01 * 0.5f64.powi(k / 6 + k % 6)).collect();
    let a = Kernel::from_taps([
        t(1.0, 0.7, 40),
        t(0.1, -0.5, 20),
        t(0.01, 0.5, 8),
        t(0.001, 0.5, 4),
        t(1e-4, 0.5, 2),
    ])
    .and_then(|k| k.with_full_h2(6, &h2))
    .expect("kernel a");
    let b = Kernel::from_taps([t(0.8, 0.6, 33), vec![], t(0.02, 0.4, 5)]).expect("kernel b");
    (a, b)
}

#[test]
fn zero_allocations_after_prepare() {
    let (a, b) = kernels();
    let sizes = [1usize, 7, 64, 13, 128, 3, 100, 45];
    for engine in [
        EngineKind::Direct,
        EngineKind::Fft,
        EngineKind::Partitioned,
        EngineKind::Auto,
    ] {
        for f32_path in [false, true] {
            let x: Vec<f64> = (0..1000).map(|n| (n as f64 * 0.1).sin() * 0.5).collect();
            let xf: Vec<f32> = x.iter().map(|&v| v as f32).collect();
            let mut y = vec![0.0f64; 1000];
            let mut yf = vec![0.0f32; 1000];
            let mut pd = Processor::<f64>::builder(&a)
                .max_block(128)
                .engine(engine)
                .partition(16)
                .history(64)
                .build()
                .expect("prepare");
            let mut pf = Processor::<f32>::builder(&a)
                .max_block(128)
                .engine(engine)
                .partition(16)
                .history(64)
                .build()
                .expect("prepare");
            let mut next_d = pd.prepare_kernel(&b).expect("prepare b");
            let mut next_f = pf.prepare_kernel(&b).expect("prepare b");
            let mut short = vec![0.0f32; 2];
            let ((), stats) = count_allocs(|| {
                for i in 0..1000 {
                    let m = sizes[i % sizes.len()];
                    if f32_path {
                        if i % 2 == 0 {
                            pf.process_into_slice(&xf[..m], &mut yf).expect("process");
                        } else {
                            pf.process_in_place(&mut yf[..m]).expect("process");
                        }
                        if i == 500 {
                            pf.swap_kernel(&mut next_f).expect("swap");
                            assert!(pf.process_into_slice(&xf[..3], &mut short).is_err());
                            // longer than max_block: internal blocks
                            pf.process_in_place(&mut yf[..1000]).expect("long");
                        }
                    } else {
                        if i % 2 == 0 {
                            pd.process_into_slice(&x[..m], &mut y).expect("process");
                        } else {
                            pd.process_in_place(&mut y[..m]).expect("process");
                        }
                        if i == 500 {
                            pd.swap_kernel(&mut next_d).expect("swap");
                            pd.process_into_slice(&x, &mut y).expect("long");
                        }
                    }
                }
                pd.reset();
                pf.reset();
            })
            .expect("counting allocator installed");
            assert_eq!(stats.heap_calls(), 0, "{engine:?} f32={f32_path}: {stats:?}");
            assert!(yf.iter().all(|v| v.is_finite()) && y.iter().all(|v| v.is_finite()));
        }
    }
}

/// The three output forms allocate nothing either (a host buffer, a slice, a
/// contiguous ndarray view), on inputs longer than `max_block`.
#[test]
fn output_forms_allocate_nothing() {
    use zc_buffers::AlignedBuf;
    use zc_buffers::ndarray::Array1;
    let (a, _) = kernels();
    let x: Vec<f32> = (0..700).map(|n| (n as f32 * 0.1).sin() * 0.5).collect();
    let mut p = Processor::<f32>::prepare(&a, 64).expect("prepare");
    let mut buf = AlignedBuf::zeroed(800 * 4).expect("buf");
    let mut arr = Array1::<f32>::zeros(700);
    let mut y = vec![0.0f32; 700];
    let (n, stats) = count_allocs(|| {
        let mut n = 0;
        for _ in 0..50 {
            n += p.process_into(&x, &mut buf).expect("buffer");
            n += p.process_into_slice(&x, &mut y).expect("slice");
            n += p.process_into_view(&x, arr.view_mut()).expect("view");
        }
        n
    })
    .expect("counting allocator installed");
    assert_eq!(n, 50 * 3 * 700);
    assert_eq!(stats.heap_calls(), 0, "{stats:?}");
}
