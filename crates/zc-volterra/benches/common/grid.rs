//! The kernel and signal of the issue-17 grid, shared by the criterion bench
//! (`benches/volterra.rs`) and the probe the peer script drives
//! (`examples/grid_probe.rs`), so both time the same cells (the peer script
//! `benches/py_volterra_peer.py` writes the same formulas in numpy).

use zc_volterra::{Kernel, Sample, VolterraError};

/// The kernel of the grid: orders `1..=orders` of `n` decaying taps, with
/// the full H2 (the same formula as the peer script) when asked.
pub fn grid_kernel(n: usize, orders: usize, full_h2: bool) -> Result<Kernel, VolterraError> {
    let taps = |c: f64, r: f64| {
        (0..n)
            .map(|i| c * r.signum().powi(i as i32) * r.abs().powf(i as f64 / n as f64 * 8.0))
            .collect::<Vec<f64>>()
    };
    let mut all = vec![
        taps(1.0, 0.5),
        taps(0.1, -0.5),
        taps(0.01, 0.4),
        taps(0.001, -0.3),
        taps(5e-4, 0.6),
    ];
    all.truncate(orders);
    if full_h2 && orders >= 2 {
        all[1] = Vec::new();
    }
    let k = Kernel::from_taps(&all)?;
    if full_h2 {
        let d = |i: usize| 0.5f64.powf(8.0 * i as f64 / n as f64);
        let u = |a: usize, b: usize| {
            let (lo, hi) = (a.min(b) as u64, a.max(b) as u64);
            let mut h = (lo * 2_654_435_761 + hi * 40_503 + 12_345) & 0xFFFF_FFFF;
            h ^= h >> 13;
            h = (h * 0x5BD1_E995) & 0xFFFF_FFFF;
            h ^= h >> 15;
            h as f64 / f64::from(u32::MAX) * 2.0 - 1.0
        };
        let mut h2 = vec![0.0; n * n];
        for i in 0..n {
            for j in 0..n {
                h2[i * n + j] = 0.05 * d(i) * d(j) * u(i, j);
            }
        }
        return k.with_full_h2(n, &h2);
    }
    Ok(k)
}

/// The signal of the grid: a sine plus xorshift noise, deterministic.
pub fn signal<T: Sample>(len: usize) -> Vec<T> {
    let mut s = 0x2545_F491_4F6C_DD1Du64;
    (0..len)
        .map(|n| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            let noise = (s >> 11) as f64 / (1u64 << 53) as f64 - 0.5;
            T::of_f64(0.4 * (n as f64 * 0.0654).sin() + 0.1 * noise)
        })
        .collect()
}
