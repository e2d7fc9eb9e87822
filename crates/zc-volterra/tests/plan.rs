//! Plans are shareable: one [`VolterraPlan`] in an `Arc`, used by three
//! threads each with its own [`VolterraState`], gives bit-identical output to
//! three separate processors; a state of another plan is a typed error; and
//! processing with caller state allocates nothing.

use std::sync::Arc;

use zc_buffers::testing::{CountingAllocator, count_allocs};
use zc_volterra::{EngineKind, Kernel, Processor, VolterraError, VolterraPlan};

#[global_allocator]
static ALLOC: CountingAllocator = CountingAllocator::new();

fn kernel() -> Kernel {
    let t = |c: f64, r: f64, n: usize| (0..n).map(|i| c * r.powi(i as i32)).collect::<Vec<f64>>();
    let h2: Vec<f64> = (0..64).map(|k| 0.01 * 0.6f64.powi(k / 8 + k % 8)).collect();
    Kernel::from_taps([t(1.0, 0.8, 70), t(0.1, -0.5, 24), t(0.01, 0.5, 9)])
        .and_then(|k| k.with_full_h2(8, &h2))
        .expect("kernel")
}

/// A different signal per stream.
fn signal(stream: usize, n: usize) -> Vec<f64> {
    (0..n)
        .map(|i| ((i as f64) * (0.05 + 0.03 * stream as f64)).sin() * 0.6)
        .collect()
}

/// Block sizes that cross the engines' chunk and partition boundaries.
const BLOCKS: [usize; 7] = [1, 17, 64, 5, 300, 33, 128];

fn run_processor(mut p: Processor<f64>, x: &[f64]) -> Vec<f64> {
    let mut y = vec![0.0; x.len()];
    let (mut off, mut i) = (0, 0);
    while off < x.len() {
        let m = BLOCKS[i % BLOCKS.len()].min(x.len() - off);
        p.process_into_slice(&x[off..off + m], &mut y[off..]).expect("process");
        off += m;
        i += 1;
    }
    y
}

#[test]
fn one_plan_three_threads_matches_three_processors() {
    let k = kernel();
    for engine in [EngineKind::Direct, EngineKind::Fft, EngineKind::Partitioned] {
        let build = || {
            Processor::<f64>::builder(&k)
                .max_block(128)
                .engine(engine)
                .partition(32)
        };
        let plan = Arc::new(build().build_plan().expect("plan"));
        assert_eq!(plan.engine_kind(), engine);
        let inputs: Vec<Vec<f64>> = (0..3).map(|s| signal(s, 3000)).collect();
        let shared: Vec<Vec<f64>> = std::thread::scope(|scope| {
            let jobs: Vec<_> = inputs
                .iter()
                .map(|x| {
                    let plan = Arc::clone(&plan);
                    scope.spawn(move || {
                        let mut state = plan.make_state().expect("state");
                        let mut y = vec![0.0; x.len()];
                        let (mut off, mut i) = (0, 0);
                        while off < x.len() {
                            let m = BLOCKS[i % BLOCKS.len()].min(x.len() - off);
                            if i % 2 == 0 {
                                plan.process_into_slice_with_state(&x[off..off + m], &mut y[off..], &mut state)
                                    .expect("process");
                            } else {
                                y[off..off + m].copy_from_slice(&x[off..off + m]);
                                plan.process_in_place_with_state(&mut y[off..off + m], &mut state)
                                    .expect("in place");
                            }
                            off += m;
                            i += 1;
                        }
                        y
                    })
                })
                .collect();
            jobs.into_iter().map(|j| j.join().expect("thread")).collect()
        });
        for (x, got) in inputs.iter().zip(&shared) {
            let want = run_processor(build().build().expect("processor"), x);
            // bit-identical, not merely close
            let same = want.iter().zip(got).all(|(a, b)| a.to_bits() == b.to_bits());
            assert!(same, "{engine:?}: shared plan differs from a processor");
        }
        assert_ne!(shared[0], shared[1], "streams are independent");
    }
}

#[test]
fn processor_plan_is_shareable_and_state_resets() {
    let k = kernel();
    let mut p = Processor::<f32>::prepare(&k, 64).expect("processor");
    let plan = Arc::clone(p.plan());
    let x: Vec<f32> = signal(0, 500).iter().map(|&v| v as f32).collect();
    let mut a = vec![0.0f32; 500];
    let mut b = vec![0.0f32; 500];
    p.process_into_slice(&x, &mut a).expect("processor");
    let mut st = plan.make_state().expect("state");
    assert_eq!(st.plan_id(), plan.id());
    plan.process_into_slice_with_state(&x, &mut b, &mut st).expect("plan");
    assert_eq!(a, b);
    st.reset();
    let mut c = vec![0.0f32; 500];
    plan.process_into_slice_with_state(&x, &mut c, &mut st).expect("again");
    assert_eq!(b, c, "reset state starts the stream again");
    assert!(st.bytes() > 0 && plan.plan_bytes() > 0);
    assert_eq!(plan.state_bytes(), st.bytes());
}

#[test]
fn a_foreign_state_is_a_typed_error_and_changes_nothing() {
    let k = kernel();
    let a = VolterraPlan::<f64>::new(&k, 64).expect("a");
    let b = VolterraPlan::<f64>::new(&k, 64).expect("b");
    let mut sb = b.make_state().expect("state");
    let x = signal(1, 100);
    let mut y = vec![7.0; 100];
    let r = a.process_into_slice_with_state(&x, &mut y, &mut sb);
    match r {
        Err(VolterraError::ForeignState { plan, state_plan }) => {
            assert_eq!((plan, state_plan), (a.id(), b.id()));
        }
        other => panic!("{other:?}"),
    }
    assert!(y.iter().all(|&v| v == 7.0), "nothing written");
    let mut io = x.clone();
    assert!(matches!(
        a.process_in_place_with_state(&mut io, &mut sb),
        Err(VolterraError::ForeignState { .. })
    ));
    assert_eq!(io, x, "nothing written in place either");
    // b's state is untouched: its first output is the fresh-state output
    let mut from_b = vec![0.0; 100];
    b.process_into_slice_with_state(&x, &mut from_b, &mut sb)
        .expect("own state");
    let mut fresh = vec![0.0; 100];
    b.process_into_slice_with_state(&x, &mut fresh, &mut b.make_state().expect("state"))
        .expect("fresh");
    assert_eq!(from_b, fresh);
}

#[test]
fn processing_with_caller_state_allocates_nothing() {
    use zc_buffers::AlignedBuf;
    use zc_buffers::ndarray::Array1;
    let k = kernel();
    for engine in [EngineKind::Direct, EngineKind::Fft, EngineKind::Partitioned] {
        let plan = VolterraPlan::<f32>::builder(&k)
            .max_block(128)
            .engine(engine)
            .partition(16)
            .build_plan()
            .expect("plan");
        let mut st = plan.make_state().expect("state");
        let x: Vec<f32> = signal(2, 700).iter().map(|&v| v as f32).collect();
        let mut buf = AlignedBuf::zeroed(800 * 4).expect("buf");
        let mut arr = Array1::<f32>::zeros(700);
        let mut y = vec![0.0f32; 700];
        let mut short = vec![0.0f32; 3];
        let (n, stats) = count_allocs(|| {
            let mut n = 0;
            for i in 0..40 {
                let m = BLOCKS[i % BLOCKS.len()];
                n += plan
                    .process_into_slice_with_state(&x[..m], &mut y, &mut st)
                    .expect("slice");
                plan.process_in_place_with_state(&mut y[..m], &mut st)
                    .expect("in place");
                n += plan.process_into_with_state(&x, &mut buf, &mut st).expect("buffer");
                n += plan
                    .process_into_view_with_state(&x, arr.view_mut(), &mut st)
                    .expect("view");
                assert!(plan.process_into_slice_with_state(&x, &mut short, &mut st).is_err());
            }
            st.reset();
            n
        })
        .expect("counting allocator installed");
        assert!(n > 0);
        assert_eq!(stats.heap_calls(), 0, "{engine:?}: {stats:?}");
        assert!(y.iter().all(|v| v.is_finite()));
    }
}
