//! Helpers shared by zc-mel's integration tests.
#![allow(dead_code)]

/// Deterministic noise plus a slow sine, `n` samples at amplitude `amp`.
pub fn noise(n: usize, seed: u64, amp: f32) -> Vec<f32> {
    let mut s = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    (0..n)
        .map(|i| {
            s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            let r = ((s >> 40) as f32 / (1u64 << 24) as f32) - 0.5;
            amp * (r + 0.5 * (i as f32 * 0.013).sin())
        })
        .collect()
}

/// The same plan with another output layout (shares the plan's tables).
pub trait Relayout {
    /// `self` with `layout`.
    fn lay(&self, layout: zc_mel::Layout) -> zc_mel::MelSpectrogram;
}

impl Relayout for zc_mel::MelSpectrogram {
    fn lay(&self, layout: zc_mel::Layout) -> zc_mel::MelSpectrogram {
        self.to_builder().layout(layout).build().expect("same options")
    }
}
