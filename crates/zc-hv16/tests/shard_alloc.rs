//! Merging per-shard results into caller memory allocates nothing.

use zc_buffers::testing::{CountingAllocator, count_allocs};
use zc_hv16::{HV16, Hamming, Hit, Partial, merge_top_k_into_slice};

#[global_allocator]
static A: CountingAllocator = CountingAllocator::new();

#[test]
fn merge_into_caller_memory_allocates_nothing() {
    let db: Vec<HV16> = (0..600).map(HV16::random).collect();
    let queries: Vec<HV16> = (0..5).map(|i| db[i * 100].flip(0.1, i as u64)).collect();
    let h = Hamming::detect();
    let (k, parts_n) = (10, 3);
    let mut partial = vec![vec![Hit::default(); queries.len() * k]; parts_n];
    for (p, buf) in partial.iter_mut().enumerate() {
        h.top_k_batch_into_slice(&queries, &db[p * 200..(p + 1) * 200], k, buf)
            .unwrap();
    }
    let parts: Vec<Partial<'_>> = partial
        .iter()
        .enumerate()
        .map(|(p, b)| Partial::new(b, k, p * 200))
        .collect();
    let mut out = vec![Hit::default(); queries.len() * k];
    let mut whole = vec![Hit::default(); queries.len() * k];
    h.top_k_batch_into_slice(&queries, &db, k, &mut whole).unwrap();
    let (n, stats) = count_allocs(|| merge_top_k_into_slice(&parts, queries.len(), k, &mut out).unwrap()).unwrap();
    assert_eq!(n, queries.len() * k);
    assert_eq!(stats.heap_calls(), 0, "{stats:?}");
    assert_eq!(out, whole);
    assert_eq!(out[0].index, 0);
}
