//! Identification recovers a known memory polynomial from noise-driven data.

use zc_volterra::identify::identify;
use zc_volterra::{Kernel, Processor};

/// Deterministic uniform noise in [-a, a] (xorshift).
fn noise(n: usize, a: f64, mut s: u64) -> Vec<f64> {
    (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            a * ((s >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0)
        })
        .collect()
}

#[test]
fn recovers_known_kernel_from_noise() {
    let taps = |c: f64, r: f64, n: usize| (0..n).map(|i| c * r.powi(i as i32)).collect::<Vec<f64>>();
    let truth = Kernel::from_taps([taps(1.0, 0.6, 6), taps(0.2, -0.5, 4), taps(0.05, 0.3, 3)]).expect("kernel");
    let x = noise(3000, 0.8, 0x9E37_79B9_7F4A_7C15);
    let mut y = x.clone();
    let mut p = Processor::<f64>::prepare(&truth, 256).expect("prepare");
    for c in y.chunks_mut(256) {
        p.process_in_place(c).expect("process");
    }
    // Noise-free: exact recovery.
    let fit = identify(&x, &y, &[6, 4, 3], 0.0).expect("fit");
    for order in 1..=3 {
        for (a, b) in fit.kernel.taps(order).iter().zip(truth.taps(order)) {
            assert!((a - b).abs() < 1e-9, "order {order}: {a} vs {b}");
        }
    }
    assert!(fit.nmse < 1e-20, "nmse {}", fit.nmse);
    let exact_nmse = fit.nmse;

    // With measurement noise at -60 dB, a small ridge: close, and NMSE near
    // the noise floor.
    let e = noise(3000, 1e-3, 12345);
    let yn: Vec<f64> = y.iter().zip(&e).map(|(a, b)| a + b).collect();
    let fit = identify(&x, &yn, &[6, 4, 3], 1e-6).expect("fit");
    for order in 1..=3 {
        for (a, b) in fit.kernel.taps(order).iter().zip(truth.taps(order)) {
            assert!((a - b).abs() < 5e-3, "order {order}: {a} vs {b}");
        }
    }
    assert!(
        fit.nmse_db() < -50.0 && fit.nmse_db() > -80.0,
        "nmse {} dB",
        fit.nmse_db()
    );

    // Under-modelled (order 3 missing): a worse fit.
    let poor = identify(&x, &y, &[6, 4], 0.0).expect("fit");
    assert!(
        poor.nmse > 1e-7 && poor.nmse > 1e6 * exact_nmse,
        "under-modelled nmse {}",
        poor.nmse
    );
}
