//! Golden cases from `tests/data/golden.json` (correctly rounded f64 sums of
//! the definition), every engine, f64 and f32, streamed in the fixture's
//! block sizes.

use serde_json::Value;
use zc_volterra::{EngineKind, Kernel, Processor, Sample};

fn golden() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/golden.json");
    let text = std::fs::read_to_string(path).expect("fixture present");
    serde_json::from_str(&text).expect("valid json")
}

fn vec_of(v: &Value) -> Vec<f64> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|x| x.as_f64().expect("number"))
        .collect()
}

fn kernel_of(case: &Value) -> Kernel {
    let k = &case["kernels"];
    let get = |name: &str| k.get(name).map(vec_of).unwrap_or_default();
    let mut kernel = Kernel::from_taps([
        get("h1"),
        get("h2_diag"),
        get("h3_diag"),
        get("h4_diag"),
        get("h5_diag"),
    ])
    .expect("valid kernel");
    if let Some(h2) = k.get("H2_full_symmetric") {
        let rows: Vec<Vec<f64>> = h2.as_array().expect("rows").iter().map(vec_of).collect();
        let n = rows.len();
        let flat: Vec<f64> = rows.into_iter().flatten().collect();
        kernel = kernel.with_full_h2(n, &flat).expect("valid h2");
    }
    kernel
}

/// (engine, partition) combinations: the partitioned engine with partitions
/// shorter than N so that its frequency-domain tail is exercised.
const ENGINES: [(EngineKind, usize); 6] = [
    (EngineKind::Direct, 0),
    (EngineKind::Fft, 0),
    (EngineKind::Partitioned, 1),
    (EngineKind::Partitioned, 2),
    (EngineKind::Partitioned, 4),
    (EngineKind::Auto, 0),
];

fn run<T: Sample>(kernel: &Kernel, engine: EngineKind, partition: usize, blocks: &[usize], x: &[f64]) -> Vec<f64> {
    let max = *blocks.iter().max().expect("blocks");
    let mut b = Processor::<T>::builder(kernel).max_block(max).engine(engine);
    if partition > 0 {
        b = b.partition(partition);
    }
    let mut p = b.build().expect("prepare");
    let xs: Vec<T> = x.iter().map(|&v| T::of_f64(v)).collect();
    let mut y = vec![T::zero(); x.len()];
    let mut off = 0;
    let mut i = 0;
    while off < x.len() {
        let b = blocks[i % blocks.len()].min(x.len() - off);
        p.process_into_slice(&xs[off..off + b], &mut y[off..off + b])
            .expect("process");
        off += b;
        i += 1;
    }
    y.iter().map(|v| v.as_f64()).collect()
}

#[test]
fn golden_cases_every_engine() {
    let g = golden();
    let cases = g["cases"].as_array().expect("cases");
    let mut checked = 0;
    for case in cases.iter().filter(|c| c.get("expected").is_some()) {
        let name = case["name"].as_str().expect("name");
        let kernel = kernel_of(case);
        let x = vec_of(&case["x"]);
        let want = vec_of(&case["expected"]);
        let blocks: Vec<usize> = vec_of(&case["blocks"]).iter().map(|&b| b as usize).collect();
        let ymax = want.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        for (engine, part) in ENGINES {
            let tol64 = if engine == EngineKind::Direct { 1e-14 } else { 1e-12 };
            let y = run::<f64>(&kernel, engine, part, &blocks, &x);
            for (n, (a, b)) in y.iter().zip(&want).enumerate() {
                assert!((a - b).abs() <= tol64, "{name} {engine:?}/{part} f64 n={n}: {a} vs {b}");
            }
            let y = run::<f32>(&kernel, engine, part, &blocks, &x);
            for (n, (a, b)) in y.iter().zip(&want).enumerate() {
                assert!(
                    (a - b).abs() <= 1e-5 * ymax,
                    "{name} {engine:?}/{part} f32 n={n}: {a} vs {b}"
                );
            }
            checked += 1;
        }
        // The definition evaluated directly agrees too.
        let mut r = vec![0.0; x.len()];
        kernel.reference_output(&x, &mut r).expect("reference");
        for (a, b) in r.iter().zip(&want) {
            assert!((a - b).abs() <= 1e-14, "{name} reference");
        }
    }
    assert_eq!(checked, 3 * ENGINES.len());
}

#[test]
fn golden_harmonics_match_closed_form() {
    let g = golden();
    let case = g["cases"]
        .as_array()
        .expect("cases")
        .iter()
        .find(|c| c.get("theory").is_some())
        .expect("case");
    let theory = &case["theory"];
    let kernel = Kernel::from_polynomial(&[1.0, 0.1, 0.01]).expect("kernel");
    let pred = zc_volterra::analysis::predicted_harmonics(&kernel, 0.5, 5).expect("memoryless");
    assert!((pred.dc - theory["dc"].as_f64().expect("dc")).abs() < 1e-15);
    for (k, key) in ["h1", "h2", "h3", "h4"].iter().enumerate() {
        assert!(
            (pred.amplitudes[k] - theory[*key].as_f64().expect("h")).abs() < 1e-15,
            "{key}"
        );
    }
    // Measured on the processed sine (4800 samples, 100 periods at 48 kHz).
    let x: Vec<f64> = (0..4800)
        .map(|n| 0.5 * (2.0 * std::f64::consts::PI * 1000.0 * n as f64 / 48000.0).sin())
        .collect();
    let mut p = Processor::<f64>::prepare(&kernel, 512).expect("prepare");
    let mut y = x.clone();
    p.process_in_place(&mut y).expect("process");
    let m = zc_volterra::analysis::measure_harmonics(&y, 48000.0, 1000.0, 5).expect("measure");
    assert!((m.dc - pred.dc).abs() < 1e-12);
    for k in 0..5 {
        assert!(
            (m.amplitudes[k] - pred.amplitudes[k]).abs() < 1e-12,
            "harmonic {}",
            k + 1
        );
    }
    let thd = (pred.amplitudes[1..].iter().map(|a| a * a).sum::<f64>()).sqrt() / pred.amplitudes[0];
    assert!((m.thd - thd).abs() < 1e-12);
}
