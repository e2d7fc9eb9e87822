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
                ledger::record_copy(zc_buffers::ledger::CopyKind::Other, 8);
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

/// The ledger's allocation figures equal what the allocator saw: a pool miss
/// is one heap allocation of the class size (0.1 recorded it twice, once in
/// the pool and once in `AlignedBuf`), a hit is none, trims and detaches
/// free without allocating, and `into_bytes` hands the buffer over without
/// a buffer-sized allocation.
#[test]
fn ledger_allocations_equal_the_allocators() {
    let pool = Pool::builder().cap_bytes(64 << 20).build().unwrap();
    // a ledger scope allocates its own counters: count inside it
    let check = |what: &str, f: &dyn Fn()| {
        let (((), stats), report) = ledger::scope(|| count_allocs(f).unwrap());
        assert_eq!(report.allocations, stats.allocations, "{what}: {report:?} vs {stats:?}");
        assert_eq!(
            report.bytes_allocated, stats.bytes_allocated,
            "{what}: {report:?} vs {stats:?}"
        );
        assert_eq!(stats.reallocations, 0, "{what}");
        (report, stats)
    };
    // misses: 1 MiB and 4 KiB classes, one allocation each
    let (r, _) = check("misses", &|| {
        let a = pool.acquire(1 << 20).unwrap();
        let b = pool.acquire(4000).unwrap();
        drop((a, b));
    });
    assert_eq!((r.allocations, r.bytes_allocated), (2, (1 << 20) + 4096));
    // hits: nothing
    let (r, _) = check("hits", &|| {
        for _ in 0..10 {
            drop(pool.acquire(1 << 20).unwrap());
            drop(pool.acquire(4000).unwrap());
        }
    });
    assert_eq!(r.allocations, 0);
    // trim frees both idle buffers, then a miss again
    let (r, s) = check("trim + miss", &|| {
        assert_eq!(pool.trim(), (1 << 20) + 4096);
        drop(pool.acquire(1 << 20).unwrap());
    });
    assert_eq!((r.allocations, s.deallocations), (1, 2));
    // detach takes the buffer off the books without allocating
    let (r, s) = check("detach", &|| drop(pool.acquire(1 << 20).unwrap().detach()));
    assert_eq!((r.allocations, s.deallocations), (0, 1));
    // into_bytes: a hit, then only the small shared owner record of `Bytes`
    drop(pool.acquire(1 << 20).unwrap());
    let ((bytes, stats), report) =
        ledger::scope(|| count_allocs(|| pool.acquire(1 << 20).unwrap().into_bytes()).unwrap());
    assert_eq!(report.allocations, 0);
    assert!(stats.bytes_allocated < 256, "no buffer-sized allocation: {stats:?}");
    assert_eq!(bytes.len(), 1 << 20);
    drop(bytes);
    assert_eq!(pool.stats().in_use, 0);
}
