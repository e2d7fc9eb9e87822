//! Helpers shared by zc-mel's integration tests.

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
