//! Searches allocate nothing per query once the caller holds its buffers.

use zc_buffers::testing::{CountingAllocator, count_allocs};
use zc_hv16::{Bundler, Durability, HV16, Hamming, Hit, HvStore, ItemMemory};

#[global_allocator]
static A: CountingAllocator = CountingAllocator::new();

#[test]
fn search_hot_path_allocates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.hv16");
    let mut st = HvStore::create(&path).unwrap();
    st.set_durability(Durability::NoSync);
    st.append(&(0..700).map(HV16::random).collect::<Vec<_>>()).unwrap();
    drop(st);
    let store = HvStore::open(&path).unwrap();
    let db = store.vectors();
    let queries: Vec<HV16> = (0..11).map(|i| db[i * 3].flip(0.05, i as u64)).collect();
    let mut hits = vec![Hit::default(); 10];
    let mut batch = vec![Hit::default(); 11 * 10];
    let mut range = vec![Hit::default(); 64];
    let mut dists = vec![0u32; db.len()];
    let _ = Hamming::detect(); // the first call reads ZC_SIMD
    for k in Hamming::available() {
        let level = k.simd_level();
        let ((), stats) = count_allocs(|| {
            for q in &queries {
                k.top_k_into_slice(q, db, 10, &mut hits).unwrap();
                k.range_into_slice(q, db, 200, &mut range).unwrap();
                k.cleanup(q, db).unwrap();
                k.distances_into_slice(q, db, &mut dists).unwrap();
                // one thread runs inline: no spawn, no allocation
                k.top_k_par_into_slice(q, db, 10, 1, &mut hits).unwrap();
            }
            k.top_k_batch_into_slice(&queries, db, 10, &mut batch).unwrap();
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
    // item memory lookups and cleanup
    let im_path = dir.path().join("im.hv16");
    let mut im = ItemMemory::create(&im_path).unwrap();
    im.set_durability(Durability::NoSync);
    im.extend((0..50u64).map(|i| (format!("s{i}"), HV16::random(i))))
        .unwrap();
    let ((), stats) = count_allocs(|| {
        let c = im.cleanup(&HV16::random(7).flip(0.1, 1)).unwrap();
        assert_eq!(c.name, "s7");
        im.top_k_into_slice(&queries[1], 10, &mut hits).unwrap();
        assert_eq!(im.index_of("s9"), Some(9));
    })
    .unwrap();
    assert_eq!(stats.heap_calls(), 0, "{stats:?}");
}
