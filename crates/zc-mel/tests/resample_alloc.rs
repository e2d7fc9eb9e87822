//! A `Resampler` allocates nothing after construction, for clips of any
//! length (counting global allocator; its own test binary).
#![cfg(feature = "resample")]

use zc_buffers::AlignedBuf;
use zc_buffers::testing::{CountingAllocator, count_allocs};
use zc_mel::Resampler;

#[global_allocator]
static ALLOC: CountingAllocator = CountingAllocator::new();

fn signal(n: usize) -> Vec<f32> {
    (0..n).map(|i| ((i as f32) * 0.0713).sin() * 0.4).collect()
}

#[test]
fn process_allocates_nothing_after_construction() {
    for rate in [44_100u32, 48_000, 8_000, 16_000] {
        let short = signal(1_000);
        let long = signal(3 * rate as usize);
        let (r, stats) = count_allocs(|| Resampler::new(rate)).unwrap();
        let mut r = r.unwrap();
        if rate != 16_000 {
            assert!(stats.heap_calls() > 0);
        }
        let mut out_short = vec![0f32; r.output_len(short.len())];
        let mut out_long = AlignedBuf::zeroed(r.output_bytes(long.len())).unwrap();
        // no warm-up call: the very first call must not allocate either
        let (res, stats) = count_allocs(|| -> zc_mel::Result<usize> {
            let a = r.process_into_slice(&short, &mut out_short)?;
            let b = r.process_into(&long, &mut out_long)?;
            let c = r.process_into_slice(&short, &mut out_short)?;
            Ok(a + b + c)
        })
        .unwrap();
        assert_eq!(res.unwrap(), 2 * r.output_len(1_000) + r.output_len(long.len()));
        assert_eq!(stats.heap_calls(), 0, "rate {rate}: {stats:?}");
    }
}
