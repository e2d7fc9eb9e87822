//! Searches allocate nothing per query once the caller holds its buffers.

use zc_buffers::testing::{CountingAllocator, count_allocs};
use zc_hv16::kernels::{Kernel, Level};
use zc_hv16::search::Hit;
use zc_hv16::{Bundler, HV16, HvStore};

#[global_allocator]
static A: CountingAllocator = CountingAllocator::new();

#[test]
fn search_hot_path_allocates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.hv16");
    let mut st = HvStore::create(&path).unwrap();
    st.set_durable(false);
    st.append(&(0..700).map(HV16::random).collect::<Vec<_>>()).unwrap();
    drop(st);
    let store = HvStore::open(&path).unwrap();
    let db = store.vectors();
    let queries: Vec<HV16> = (0..11).map(|i| db[i * 3].flip(0.05, i as u64)).collect();
    let mut hits = vec![Hit::default(); 10];
    let mut batch = vec![Hit::default(); 11 * 10];
    let mut range = vec![Hit::default(); 64];
    let mut dists = vec![0u32; db.len()];
    let _ = zc_hv16::kernels::active_level(); // first call reads the environment
    for level in Level::available() {
        let k = Kernel::new(level).unwrap();
        let ((), stats) = count_allocs(|| {
            for q in &queries {
                k.top_k_into(db, q, &mut hits).unwrap();
                k.range_into(db, q, 200, &mut range).unwrap();
                k.cleanup(db, q).unwrap();
                k.distances(q, db, &mut dists).unwrap();
            }
            k.top_k_batch_into(db, &queries, 10, &mut batch).unwrap();
            let mut b = Bundler::new();
            b.add(&queries[0]);
            b.finish();
            queries[0].bind(&queries[1]).permute(5).hamming(&queries[2]);
        })
        .unwrap();
        assert_eq!(stats.heap_calls(), 0, "level {level}: {stats:?}");
        assert_eq!(hits[0].index, 30, "level {level}");
        assert_eq!(batch[0].index, 0);
    }
    // the free functions (active kernel) too
    let ((), stats) = count_allocs(|| {
        zc_hv16::search::top_k_into(db, &queries[1], &mut hits).unwrap();
    })
    .unwrap();
    assert_eq!(stats.heap_calls(), 0);
}
