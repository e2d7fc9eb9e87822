//! Fuzz body for zc-volterra's NPZ reader (py-volterra layout): any bytes
//! give a typed error or a kernel that can be prepared, run, written and
//! read back; never a panic, an abort or UB. Shared by
//! `fuzz/fuzz_targets/npz.rs` and `crates/zc-volterra/tests/fuzz_replay.rs`.

use std::io::Cursor;

use zc_volterra::{EngineKind, Processor, npz};

/// Kernels longer than this are read and written but not run (an N×N full
/// H2 is eigendecomposed in O(N³); deflate makes a large N cheap to state).
const RUN_MAX_MEMORY: usize = 96;

pub fn run(data: &[u8]) {
    let Ok(kernel) = npz::read_npz(Cursor::new(data)) else {
        return;
    };
    // a kernel that was read can be written and read back
    let mut out = Cursor::new(Vec::new());
    npz::write_npz(&kernel, &mut out).expect("a kernel that was read can be written");
    let again = npz::read_npz(Cursor::new(out.into_inner())).expect("what was written reads back");
    assert_eq!(again.memory(), kernel.memory(), "memory survives a round trip");
    if kernel.memory() > RUN_MAX_MEMORY {
        return;
    }
    let x: Vec<f64> = (0..97).map(|i| ((i * 37 % 23) as f64 - 11.0) / 11.0).collect();
    let mut reference: Option<Vec<f64>> = None;
    for engine in [EngineKind::Direct, EngineKind::Fft, EngineKind::Partitioned] {
        let mut p = Processor::<f64>::builder(&kernel)
            .max_block(32)
            .engine(engine)
            .build()
            .expect("a valid kernel prepares at a small block size");
        let mut y = vec![0.0; x.len()];
        // longer than max_block: run in blocks internally
        p.process_into_slice(&x, &mut y).expect("any length");
        match &reference {
            None => reference = Some(y),
            Some(r) => {
                let scale = r.iter().fold(1.0f64, |m, v| m.max(v.abs()));
                for (a, b) in r.iter().zip(&y) {
                    // engines agree (FFT rounding aside); huge taps may overflow alike
                    if a.is_finite() && b.is_finite() {
                        assert!(
                            (a - b).abs() <= 1e-6 * scale,
                            "{engine:?} disagrees with Direct: {a} vs {b}"
                        );
                    }
                }
            }
        }
    }
}
