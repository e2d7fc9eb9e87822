//! The counting allocator proves the steady state allocates nothing: pool
//! acquire/release, ledger recording, views, and transpose_into.

use zc_buffers::testing::{CountingAllocator, count_allocs};
use zc_buffers::{HostBufferExt, HostBufferMutExt, Pool, ledger, transpose_into};

#[global_allocator]
static ALLOC: CountingAllocator = CountingAllocator::new();

#[test]
fn pool_steady_state_allocates_nothing() {
    let pool = Pool::builder().cap_bytes(64 << 20).build().unwrap();
    // warm up each size used below
    for len in [4096, 960_000, 9_600_000] {
        drop(pool.acquire(len).unwrap());
    }
    let ((), stats) = count_allocs(|| {
        for _ in 0..1000 {
            for len in [4096, 960_000, 9_600_000] {
                let mut g = pool.acquire(len).unwrap();
                g[0] = 1;
            }
        }
    })
    .unwrap();
    assert_eq!(stats.heap_calls(), 0, "{stats:?}");
    assert_eq!(stats.deallocations, 0);
}

#[test]
fn counting_allocator_sees_allocations() {
    let (v, stats) = count_allocs(|| vec![1u8; 100]).unwrap();
    assert_eq!(stats.allocations, 1);
    assert_eq!(stats.bytes_allocated, 100);
    drop(v);
}

#[test]
fn views_transpose_and_ledger_records_allocate_nothing() {
    let pool = Pool::builder().build().unwrap();
    let mut a = pool.acquire(80 * 3000 * 4).unwrap();
    let mut b = pool.acquire(80 * 3000 * 4).unwrap();
    a.as_slice_mut::<f32>().unwrap().fill(2.0);
    let l = ledger::Ledger::new();
    l.enter(|| ()); // first use of this thread's scope stack may allocate; warm it
    let (res, stats) = count_allocs(|| {
        l.enter(|| {
            let src = a.view2::<f32>(80, 3000).unwrap();
            let dst = b.view2_mut::<f32>(3000, 80).unwrap();
            transpose_into(src, dst)
        })
    })
    .unwrap();
    res.unwrap();
    assert_eq!(stats.heap_calls(), 0, "{stats:?}");
    let ((), stats) = l.enter(|| {
        count_allocs(|| {
            for _ in 0..100 {
                ledger::record_copy(zc_buffers::CopyKind::Other, 8);
            }
        })
        .unwrap()
    });
    assert_eq!(stats.heap_calls(), 0);
    assert_eq!(l.report().copies, 101);
}

#[test]
fn dlpack_export_allocates_once_and_copies_nothing() {
    use zc_buffers::interop::dlpack::{DataType, DlpackTensor};
    let pool = Pool::builder().build().unwrap();
    let guard = pool.acquire(3000 * 80 * 4).unwrap();
    // (the ledger scope itself allocates its counters, so count inside it)
    let ((t, stats), report) = ledger::scope(|| {
        count_allocs(|| DlpackTensor::new(guard, DataType::F32, &[3000, 80], None, 0).unwrap()).unwrap()
    });
    // the one DLManagedTensorVersioned (+ shape/strides inline) the protocol needs
    assert_eq!(stats.allocations, 1, "{stats:?}");
    assert_eq!(report.copies, 0);
    drop(t);
    assert_eq!(pool.stats().in_use, 0, "the deleter returned the guard to its pool");
}
