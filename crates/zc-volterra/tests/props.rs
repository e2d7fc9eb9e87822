//! Property tests: any block partition equals one-shot processing for every
//! engine (including N = 1 and blocks shorter than N), all engines agree with
//! each other and with the naive definition, in place equals out of place.

use proptest::prelude::*;
use zc_volterra::naive::naive_process;
use zc_volterra::{EngineKind, Kernel, Processor, ProcessorBuilder, Sample};

fn kernel_strategy() -> impl Strategy<Value = Kernel> {
    let order = prop::collection::vec(-0.5f64..0.5, 0..=12);
    let h2 = prop::option::of((1usize..=6).prop_flat_map(|n| (Just(n), prop::collection::vec(-0.3f64..0.3, n * n))));
    (prop::collection::vec(order, 1..=5), h2).prop_filter_map("non-empty kernel", |(orders, h2)| {
        let mut k = Kernel::from_taps(orders).ok();
        if let Some((n, m)) = h2 {
            // Symmetrise.
            let s: Vec<f64> = (0..n * n).map(|k| 0.5 * (m[k] + m[(k % n) * n + k / n])).collect();
            k = match k {
                Some(k) => k.with_full_h2(n, &s).ok(),
                None => Kernel::from_full_h2(&[], n, &s).ok(),
            };
        }
        k
    })
}

/// (engine, partition) combinations under test.
type Cfg = (EngineKind, Option<usize>);

fn engines() -> Vec<Cfg> {
    vec![
        (EngineKind::Direct, None),
        (EngineKind::Fft, None),
        (EngineKind::Auto, None),
        (EngineKind::Partitioned, Some(1)),
        (EngineKind::Partitioned, Some(2)),
        (EngineKind::Partitioned, Some(4)),
        (EngineKind::Partitioned, Some(16)),
    ]
}

fn builder<T: Sample>(kernel: &Kernel, (engine, partition): Cfg, max_block: usize) -> ProcessorBuilder<'_, T> {
    let b = Processor::<T>::builder(kernel).max_block(max_block).engine(engine);
    match partition {
        Some(p) => b.partition(p),
        None => b,
    }
}

fn run(kernel: &Kernel, cfg: Cfg, x: &[f64], blocks: &[usize], in_place: bool) -> Vec<f64> {
    let max = blocks.iter().copied().max().unwrap_or(1).max(1);
    let mut p = builder::<f64>(kernel, cfg, max).build().expect("prepare");
    let mut y = vec![0.0; x.len()];
    let mut off = 0;
    let mut i = 0;
    while off < x.len() {
        let b = blocks[i % blocks.len()].min(x.len() - off);
        if in_place {
            y[off..off + b].copy_from_slice(&x[off..off + b]);
            p.process_in_place(&mut y[off..off + b]).expect("process");
        } else {
            p.process_into_slice(&x[off..off + b], &mut y[off..off + b])
                .expect("process");
        }
        off += b;
        i += 1;
    }
    y
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    #[test]
    fn partitions_and_engines_agree(
        kernel in kernel_strategy(),
        x in prop::collection::vec(-1.0f64..1.0, 1..80),
        blocks in prop::collection::vec(1usize..20, 1..6),
        in_place in any::<bool>(),
    ) {
        let mut want = vec![0.0; x.len()];
        naive_process(&kernel, &x, &mut want).expect("naive");
        let mut reference = vec![0.0; x.len()];
        kernel.reference_output(&x, &mut reference).expect("reference");
        let scale = reference.iter().fold(1.0f64, |m, v| m.max(v.abs()));
        for (a, b) in want.iter().zip(&reference) {
            prop_assert!((a - b).abs() <= 1e-12 * scale);
        }
        for cfg in engines() {
            let one_shot = run(&kernel, cfg, &x, &[x.len()], false);
            let streamed = run(&kernel, cfg, &x, &blocks, in_place);
            for n in 0..x.len() {
                prop_assert!((one_shot[n] - streamed[n]).abs() <= 1e-12 * scale,
                    "{:?} n={} {} vs {}", cfg, n, one_shot[n], streamed[n]);
                prop_assert!((streamed[n] - reference[n]).abs() <= 1e-12 * scale,
                    "{:?} n={} {} vs ref {}", cfg, n, streamed[n], reference[n]);
            }
        }
    }

    #[test]
    fn f32_engines_agree(
        kernel in kernel_strategy(),
        x in prop::collection::vec(-1.0f32..1.0, 1..64),
        blocks in prop::collection::vec(1usize..16, 1..4),
    ) {
        let xd: Vec<f64> = x.iter().map(|&v| f64::from(v)).collect();
        let mut reference = vec![0.0; x.len()];
        kernel.reference_output(&xd, &mut reference).expect("reference");
        let scale = reference.iter().fold(1.0f64, |m, v| m.max(v.abs()));
        for cfg in engines() {
            let max = blocks.iter().copied().max().unwrap_or(1);
            let mut p = builder::<f32>(&kernel, cfg, max).build().expect("prepare");
            let mut y = x.clone();
            let mut off = 0;
            for &b in blocks.iter().cycle() {
                if off >= y.len() { break; }
                let b = b.min(y.len() - off);
                p.process_in_place(&mut y[off..off + b]).expect("process");
                off += b;
            }
            for n in 0..x.len() {
                prop_assert!((f64::from(y[n]) - reference[n]).abs() <= 2e-5 * scale, "{:?} n={}", cfg, n);
            }
        }
    }
}

#[test]
fn memoryless_n1_single_sample_blocks() {
    let k = Kernel::from_polynomial(&[0.5, 0.25, 0.125, 0.0, 0.03125]).expect("kernel");
    for cfg in engines() {
        let x = [0.5, -1.0, 0.25];
        let y = run(&k, cfg, &x, &[1], false);
        for (xv, yv) in x.iter().zip(&y) {
            let want = 0.5 * xv + 0.25 * xv * xv + 0.125 * xv.powi(3) + 0.03125 * xv.powi(5);
            assert!((yv - want).abs() < 1e-15, "{cfg:?}");
        }
    }
}

#[test]
fn errors_leave_state_untouched() {
    use zc_buffers::BufferError;
    use zc_volterra::VolterraError;
    let k = Kernel::from_taps([vec![1.0, 0.5]]).expect("kernel");
    let mut p = Processor::<f64>::prepare(&k, 4).expect("prepare");
    let mut y = [0.0; 4];
    p.process_into_slice(&[1.0, 0.0, 0.0, 0.0], &mut y).expect("ok");
    assert_eq!(y, [1.0, 0.5, 0.0, 0.0]);
    let mut small = [7.0; 2];
    assert!(matches!(
        p.process_into_slice(&[1.0; 3], &mut small),
        Err(VolterraError::Buffer(BufferError::OutputTooSmall {
            needed: 3,
            actual: 2,
            ..
        }))
    ));
    assert_eq!(small, [7.0; 2]);
    assert!(matches!(
        Processor::<f64>::prepare(&k, 0),
        Err(VolterraError::ZeroBlock)
    ));
    // History continues as if the failed calls never happened.
    let mut y = [1.0, 0.0];
    p.process_in_place(&mut y).expect("ok");
    assert_eq!(y, [1.0, 0.5]);
    assert_eq!(p.latency(), 0);
    p.reset();
    let mut y = [0.0, 1.0];
    p.process_in_place(&mut y).expect("ok");
    assert_eq!(y, [0.0, 1.0]);
}

#[test]
fn kernel_swap_continues_the_stream() {
    let a = Kernel::from_taps([vec![1.0, 0.5, 0.25], vec![0.1, 0.05]]).expect("a");
    let b = Kernel::from_taps([vec![0.5, -0.25, 0.125, 0.0625], vec![], vec![0.02]]).expect("b");
    let x: Vec<f64> = (0..40).map(|n| (n as f64 * 0.37).sin()).collect();
    for engine in [EngineKind::Direct, EngineKind::Fft, EngineKind::Partitioned] {
        let mut p = Processor::<f64>::builder(&a)
            .max_block(8)
            .engine(engine)
            .history(16)
            .partition(2)
            .build()
            .expect("prepare");
        let mut next = p.prepare_kernel(&b).expect("prepare b");
        let mut y = x.clone();
        for c in y[..20].chunks_mut(7) {
            p.process_in_place(c).expect("process");
        }
        p.swap_kernel(&mut next).expect("swap");
        for c in y[20..].chunks_mut(5) {
            p.process_in_place(c).expect("process");
        }
        let mut ya = vec![0.0; 40];
        let mut yb = vec![0.0; 40];
        a.reference_output(&x, &mut ya).expect("ref");
        b.reference_output(&x, &mut yb).expect("ref");
        for n in 0..40 {
            let want = if n < 20 { ya[n] } else { yb[n] };
            assert!((y[n] - want).abs() < 1e-12, "{engine:?} n={n}: {} vs {want}", y[n]);
        }
        // Too long for the history, or another block size: refused.
        let long = Kernel::from_taps([vec![1.0; 40]]).expect("long");
        let mut l = p.prepare_kernel(&long).expect("prepare");
        assert!(p.swap_kernel(&mut l).is_err());
        let mut other = Processor::<f64>::prepare(&a, 16)
            .expect("p")
            .prepare_kernel(&a)
            .expect("k");
        assert!(p.swap_kernel(&mut other).is_err());
    }
}

#[test]
fn process_into_pool_buffer_is_zero_copy() {
    use zc_buffers::{HostBufferExt, Pool};
    let k = Kernel::from_polynomial(&[2.0]).expect("kernel");
    let pool = Pool::builder()
        .name("volterra")
        .cap_bytes(1 << 20)
        .build()
        .expect("pool");
    let mut buf = pool.acquire(1000 * 4).expect("buffer");
    let x = vec![0.25f32; 1000];
    let mut p = Processor::<f32>::prepare(&k, 128).expect("prepare");
    let (n, report) = zc_buffers::ledger::scope(|| p.process_into(&x, &mut buf).expect("process"));
    assert_eq!(n, 1000);
    assert!(report.is_zero_copy());
    assert!(buf.as_slice::<f32>().expect("view").iter().all(|&v| v == 0.5));
}
