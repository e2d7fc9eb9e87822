//! `NpuPool` (the zc-buffers pool over a BO backend) and `NpuPools` (one pool
//! per memory group) against the fake XRT: reuse, zeroing, caps, trimming,
//! guards across threads.

mod support;

use std::time::Duration;

use support::{device, fake};
use zc_buffers::ledger;
use zc_buffers::{
    Buffer, BufferError, HostBuffer, HostBufferMutExt, PoolBackend, PoolBuilder, Residency, SizeClasses, SyncDirection,
};
use zc_npu::{BoBackend, BoFlags, NpuError, NpuPool, NpuPools};

fn allocs(lines: &[String]) -> usize {
    lines.iter().filter(|l| l.starts_with("alloc bo=")).count()
}

#[test]
fn a_returned_bo_is_reused_without_a_new_allocation() {
    let dev = device();
    let pool: NpuPool = dev.pool_builder(0).cap_bytes(16 << 20).build().expect("pool");
    assert_eq!(pool.name(), "npu0-group0");
    let first_ptr;
    {
        let mut bo = pool.acquire(100_000).expect("acquire");
        assert_eq!(bo.len(), 100_000);
        assert!(bo.capacity() >= 100_000);
        assert_eq!(bo.residency(), Residency::NpuBufferObject);
        assert_eq!(bo.align(), 4096);
        first_ptr = bo.host_ptr();
        bo.as_slice_mut::<f32>().expect("slice").fill(1.0);
        bo.sync(SyncDirection::ToDevice, 0..100_000).expect("sync");
    }
    let (bo, report) = ledger::scope(|| pool.acquire(100_000).expect("reacquire"));
    assert_eq!(report.copies, 0);
    assert_eq!(report.allocations, 0, "a hit allocates nothing");
    assert_eq!(bo.host_ptr(), first_ptr);
    let stats = pool.stats();
    assert_eq!((stats.hits, stats.misses), (1, 1));
    let log = fake().log(&dev);
    assert_eq!(allocs(&log), 1, "{log:?}");
    assert!(!log.iter().any(|l| l.starts_with("free")), "{log:?}");
    drop(bo);
    assert_eq!(pool.trim(), pool.class_sizes().find(|&s| s >= 100_000).expect("class"));
    assert_eq!(fake().live_bos(&dev), 0);
    assert!(fake().log(&dev).last().is_some_and(|l| l == "free bo=1"));
}

#[test]
fn the_pool_syncs_only_within_the_requested_length() {
    let dev = device();
    let pool = dev.pool_builder(0).build().expect("pool");
    let mut bo = pool.acquire(1000).expect("acquire");
    assert!(bo.capacity() >= 4096);
    let e = bo.sync(SyncDirection::ToDevice, 0..1001).unwrap_err();
    assert!(matches!(
        e,
        BufferError::RangeOutOfBounds {
            end: 1001,
            len: 1000,
            ..
        }
    ));
    bo.sync(SyncDirection::ToDevice, 500..1000).expect("in range");
    assert_eq!(
        fake().log(&dev).last().map(String::as_str),
        Some("sync bo=1 dir=to_device size=500 offset=500")
    );
    // The NpuBuffer underneath is reachable for BO-specific calls.
    assert!(!bo.inner().as_raw().is_null());
    assert_eq!(bo.inner().flags(), BoFlags::HOST_ONLY);
}

#[test]
fn zero_on_release_scrubs_the_next_holders_view() {
    let dev = device();
    let pool = dev.pool_builder(0).zero_on_release(true).build().expect("pool");
    {
        let mut bo = pool.acquire(8192).expect("acquire");
        bo.as_slice_mut::<u8>().expect("slice").fill(0xEE);
    }
    let bo = pool.acquire(8192).expect("reacquire");
    assert_eq!(pool.stats().hits, 1);
    assert!(bo.as_bytes().iter().all(|&b| b == 0));
}

#[test]
fn the_cap_and_size_limits_are_enforced() {
    let dev = device();
    let pool = dev
        .pool_builder(2)
        .cap_bytes(64 * 1024)
        .size_classes(SizeClasses::Exact(vec![32 * 1024]))
        .build()
        .expect("pool");
    let a = pool.acquire(32 * 1024).expect("a");
    let b = pool.acquire(32 * 1024).expect("b");
    assert!(matches!(pool.try_acquire(1), Err(BufferError::PoolExhausted { .. })));
    assert!(matches!(
        pool.acquire(40 * 1024),
        Err(BufferError::RequestTooLarge { .. })
    ));
    drop(a);
    let c = pool
        .acquire_timeout(32 * 1024, Duration::from_millis(10))
        .expect("after a release");
    drop((b, c));
    let log = fake().log(&dev);
    assert!(
        log.iter()
            .all(|l| !l.starts_with("alloc bo=") || l.ends_with("group=2")),
        "{log:?}"
    );
    assert_eq!(allocs(&log), 2);
}

#[test]
fn prefill_allocates_up_front() {
    let dev = device();
    let pool = dev.pool_builder(0).prefill(4096, 3).build().expect("pool");
    assert_eq!(allocs(&fake().log(&dev)), 3);
    let guards: Vec<_> = (0..3).map(|_| pool.acquire(4096).expect("hit")).collect();
    assert_eq!(pool.stats().hits, 3);
    assert_eq!(allocs(&fake().log(&dev)), 3);
    drop(guards);
}

#[test]
fn an_xrt_failure_in_the_pool_is_a_backend_error_and_releases_the_reservation() {
    let dev = device();
    let pool = dev.pool_builder(0).cap_bytes(8192).build().expect("pool");
    fake().fail_next(&dev, "alloc", 12);
    match pool.acquire(8192) {
        Err(BufferError::Backend { backend, message }) => {
            assert_eq!(backend, "xrt");
            assert!(message.contains("xrtBOAlloc"), "{message}");
        }
        other => panic!("expected a backend error, got {other:?}"),
    }
    // The failed allocation does not count against the cap.
    let bo = pool.acquire(8192).expect("acquire after the failure");
    assert_eq!(pool.stats().held_bytes, 8192);
    drop(bo);
}

#[test]
fn pools_per_memory_group_and_kind() {
    let dev = device();
    let pools = NpuPools::new(&dev).cap_bytes(1 << 20).zero_on_release(true);
    let a = pools.acquire(3, 4096).expect("group 3");
    let b = pools.acquire(4, 4096).expect("group 4");
    let i = pools.acquire_with(1, BoFlags::CACHEABLE, 512).expect("instructions");
    assert_eq!(a.inner().group(), 3);
    assert_eq!(b.inner().group(), 4);
    assert_eq!(i.inner().flags(), BoFlags::CACHEABLE);
    drop((a, b, i));
    // Same group and kind: the same pool, so a hit.
    let p3 = pools.pool(3, BoFlags::HOST_ONLY).expect("pool");
    let again = pools.acquire(3, 4096).expect("group 3 again");
    assert_eq!(p3.stats().hits, 1);
    drop(again);
    assert!(matches!(
        pools.acquire_with(0, BoFlags::DEVICE_ONLY, 64),
        Err(NpuError::UnsupportedFlags { .. })
    ));
    assert!(matches!(
        pools.acquire(0, 2 << 20),
        Err(NpuError::Buffer(ref m)) if matches!(**m, zc_buffers::BufferError::RequestTooLarge { .. })
    ));
    let log = fake().log(&dev);
    assert!(
        log.contains(&"alloc bo=1 size=4096 flags=0x20000000 group=3".to_string()),
        "{log:?}"
    );
    assert!(
        log.contains(&"alloc bo=2 size=4096 flags=0x20000000 group=4".to_string()),
        "{log:?}"
    );
    assert!(
        log.contains(&"alloc bo=3 size=4096 flags=0x1000000 group=1".to_string()),
        "{log:?}"
    );
    assert_eq!(pools.trim(), 3 * 4096);
    assert_eq!(fake().live_bos(&dev), 0);
}

#[test]
fn the_backend_validates_flags_and_zeroes() {
    let dev = device();
    assert!(matches!(
        BoBackend::new(&dev, BoFlags::P2P, 0),
        Err(NpuError::UnsupportedFlags { .. })
    ));
    let backend = BoBackend::new(&dev, BoFlags::CACHEABLE, 5).expect("backend");
    assert_eq!(
        (backend.flags(), backend.group(), backend.align()),
        (BoFlags::CACHEABLE, 5, 4096)
    );
    assert_eq!(backend.device().index(), 0);
    let mut bo = backend.allocate(4096).expect("allocate");
    assert!(bo.as_bytes().iter().all(|&b| b == 0));
    bo.as_slice_mut::<u8>().expect("slice").fill(1);
    backend.zero(&mut bo, 100).expect("zero");
    assert!(bo.as_bytes()[..100].iter().all(|&b| b == 0));
    assert!(bo.as_bytes()[100..].iter().all(|&b| b == 1));
    backend.zero(&mut bo, usize::MAX).expect("zero clamps");
    assert!(bo.as_bytes().iter().all(|&b| b == 0));
    let pool = PoolBuilder::with_backend(backend).build().expect("pool");
    assert!(matches!(pool.acquire(0).map(|g| g.len()), Ok(0)));
}

#[test]
fn guards_work_across_threads() {
    let dev = device();
    let pool = dev.pool_builder(0).cap_bytes(1 << 20).build().expect("pool");
    std::thread::scope(|s| {
        for t in 0..4u8 {
            let pool = pool.clone();
            s.spawn(move || {
                for _ in 0..20 {
                    let mut bo = pool.acquire(16 * 1024).expect("acquire");
                    bo.as_slice_mut::<u8>().expect("slice").fill(t);
                    bo.sync(SyncDirection::ToDevice, 0..bo.len()).expect("sync");
                    assert!(bo.as_bytes().iter().all(|&b| b == t));
                }
            });
        }
    });
    let stats = pool.stats();
    assert_eq!(stats.hits + stats.misses, 80);
    assert!(stats.misses <= 4, "{stats:?}");
    assert_eq!(stats.in_use, 0);
}
