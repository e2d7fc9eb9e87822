//! The buffer pool: reuse, caps, waits, zeroing, statistics, detaching, and
//! that one buffer is never handed to two holders.

use std::collections::HashSet;
use std::sync::{Arc, Barrier, Mutex};
use std::thread;
use std::time::{Duration, Instant};

mod common;

use common::DropCounted;
use proptest::prelude::*;
use zc_buffers::{Buffer, BufferError, HostBuffer, HostBufferMutExt, Pool, Residency, SizeClasses, ledger};

fn pool(cap: usize) -> Pool {
    Pool::builder().name("test").cap_bytes(cap).build().unwrap()
}

#[test]
fn released_buffers_are_reused() {
    let p = pool(64 << 20);
    let first = {
        let g = p.acquire(960_000).unwrap();
        assert_eq!(g.len(), 960_000);
        assert!(g.capacity() >= 960_000);
        assert_eq!(g.align(), 64);
        assert_eq!(g.residency(), Residency::Heap);
        g.host_ptr().unwrap()
    };
    let g = p.acquire(1_000_000).unwrap(); // same size class (1 MiB)
    assert_eq!(g.host_ptr().unwrap(), first);
    let s = p.stats();
    assert_eq!((s.hits, s.misses, s.in_use), (1, 1, 1));
    assert_eq!(s.in_use_bytes, g.capacity());
    drop(g);
    let s = p.stats();
    assert_eq!((s.in_use, s.in_use_bytes), (0, 0));
    assert_eq!(s.idle_bytes, s.held_bytes);
    assert!(s.high_water_bytes >= 960_000);
}

#[test]
fn guards_expose_only_the_requested_length() {
    let p = pool(1 << 20);
    let mut g = p.acquire(10).unwrap();
    assert_eq!(g.as_bytes().len(), 10);
    assert_eq!(g.requested_len(), 10);
    assert!(g.as_slice_mut::<u8>().unwrap().len() == 10);
    assert!(g.capacity() >= 4096);
}

#[test]
fn fresh_buffers_are_zeroed_and_zero_on_release_scrubs() {
    let p = Pool::builder()
        .cap_bytes(1 << 20)
        .zero_on_release(true)
        .build()
        .unwrap();
    {
        let mut g = p.acquire(1000).unwrap();
        assert!(g.iter().all(|&b| b == 0));
        g.fill(0xAB);
    }
    let g = p.acquire(1000).unwrap();
    assert_eq!(p.stats().hits, 1);
    assert!(g.iter().all(|&b| b == 0), "data leaked to the next holder");

    // without zeroing the bytes survive (and that is documented)
    let p = pool(1 << 20);
    {
        let mut g = p.acquire(1000).unwrap();
        g.fill(0xCD);
    }
    assert!(p.acquire(1000).unwrap().iter().all(|&b| b == 0xCD));
}

#[test]
fn a_request_over_the_cap_is_refused() {
    let p = pool(1 << 20);
    let err = p.acquire(2 << 20).unwrap_err();
    assert!(
        matches!(err, BufferError::RequestTooLarge { requested, .. } if requested == 2 << 20),
        "{err}"
    );
    let exact = Pool::builder()
        .size_classes(SizeClasses::Exact(vec![1000, 5000]))
        .build()
        .unwrap();
    assert_eq!(exact.acquire(4000).unwrap().capacity(), 5056); // rounded to the 64-byte alignment
    assert!(matches!(exact.acquire(5057), Err(BufferError::RequestTooLarge { .. })));
}

#[test]
fn exhaustion_is_an_error_and_eviction_makes_room() {
    let p = pool(3 * 4096);
    let a = p.try_acquire(4096).unwrap();
    let b = p.try_acquire(4096).unwrap();
    let c = p.try_acquire(4096).unwrap();
    let err = p.try_acquire(4096).unwrap_err();
    assert!(
        matches!(
            err,
            BufferError::PoolExhausted {
                in_use: 12288,
                cap: 12288,
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(p.stats().exhausted, 1);
    drop((a, b));
    // two idle 4 KiB buffers are evicted to make room for an 8 KiB one
    let big = p.try_acquire(8192).unwrap();
    let s = p.stats();
    assert_eq!(s.evictions, 2);
    assert!(s.held_bytes <= 3 * 4096);
    drop((big, c));
}

#[test]
fn acquire_timeout_times_out_then_succeeds_when_a_buffer_returns() {
    let p = pool(4096);
    let g = p.acquire(4096).unwrap();
    let t0 = Instant::now();
    let err = p.acquire_timeout(4096, Duration::from_millis(30)).unwrap_err();
    assert!(t0.elapsed() >= Duration::from_millis(30));
    assert!(matches!(err, BufferError::PoolExhausted { waited, .. } if waited >= Duration::from_millis(30)));

    let p2 = p.clone();
    let waiter = thread::spawn(move || {
        p2.acquire_timeout(4096, Duration::from_secs(10))
            .map(|g| g.as_ptr() as usize)
    });
    thread::sleep(Duration::from_millis(20));
    let ptr = g.as_ptr() as usize;
    drop(g);
    assert_eq!(waiter.join().unwrap().unwrap(), ptr);
}

#[test]
fn default_wait_applies_to_acquire() {
    let p = Pool::builder()
        .cap_bytes(4096)
        .wait(Some(Duration::from_millis(10)))
        .build()
        .unwrap();
    let _g = p.acquire(4096).unwrap();
    assert!(
        matches!(p.acquire(4096), Err(BufferError::PoolExhausted { waited, .. }) if waited >= Duration::from_millis(10))
    );
}

#[test]
fn trim_and_detach() {
    let p = pool(1 << 20);
    drop((p.acquire(4096).unwrap(), p.acquire(8192).unwrap()));
    let idle = p.stats().idle_bytes;
    assert!(idle >= 12288);
    assert_eq!(p.trim(), idle);
    assert_eq!(p.stats().held_bytes, 0);

    let g = p.acquire(4096).unwrap();
    let cap = g.capacity();
    let owned = g.detach();
    assert_eq!(owned.len(), cap);
    let s = p.stats();
    assert_eq!((s.in_use, s.held_bytes), (0, 0));
}

#[test]
fn prefill_makes_first_requests_hits() {
    let p = Pool::builder().prefill(960_000, 2).build().unwrap();
    let (a, b) = (p.acquire(960_000).unwrap(), p.acquire(960_000).unwrap());
    let s = p.stats();
    assert_eq!((s.hits, s.misses), (2, 0));
    drop((a, b));
}

#[test]
fn into_bytes_is_zero_copy_and_returns_on_last_drop() {
    let p = pool(1 << 20);
    let mut g = p.acquire(5).unwrap();
    g.copy_from_slice(b"hello");
    let ptr = g.as_ptr();
    let ((bytes, clone), report) = ledger::scope(|| {
        let b = g.into_bytes();
        let c = b.slice(1..3);
        (b, c)
    });
    assert_eq!(report.copies, 0);
    assert_eq!(bytes.as_ptr(), ptr);
    assert_eq!(&clone[..], b"el");
    drop(bytes);
    assert_eq!(p.stats().in_use, 1, "a slice still holds the buffer");
    drop(clone);
    assert_eq!(p.stats().in_use, 0);
}

#[test]
fn many_threads_never_share_a_buffer() {
    const THREADS: usize = 16;
    const ROUNDS: usize = 300;
    let p = Pool::builder()
        .cap_bytes(8 * 8192)
        .wait(Some(Duration::from_secs(30)))
        .build()
        .unwrap();
    let live: Arc<Mutex<HashSet<usize>>> = Arc::default();
    let barrier = Arc::new(Barrier::new(THREADS));
    let handles: Vec<_> = (0..THREADS)
        .map(|t| {
            let (p, live, barrier) = (p.clone(), live.clone(), barrier.clone());
            thread::spawn(move || {
                barrier.wait();
                for r in 0..ROUNDS {
                    let len = if (t + r) % 3 == 0 { 8000 } else { 4000 };
                    let mut g = p.acquire(len).unwrap();
                    let addr = g.as_ptr() as usize;
                    assert!(live.lock().unwrap().insert(addr), "buffer {addr:#x} handed out twice");
                    let tag = (t * 31 + r) as u8;
                    g.fill(tag);
                    thread::yield_now();
                    assert!(g.iter().all(|&b| b == tag), "another holder wrote into my buffer");
                    assert!(live.lock().unwrap().remove(&addr));
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    let s = p.stats();
    assert_eq!(s.in_use, 0);
    assert!(s.held_bytes <= 8 * 8192);
    assert_eq!(s.hits + s.misses, (THREADS * ROUNDS) as u64);
}

#[derive(Debug, Clone)]
enum Op {
    Acquire(usize),
    Release(usize),
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Against a model: live guards never share memory, the cap is never
    /// exceeded, and accounting returns to zero.
    #[test]
    fn pool_matches_model(ops in proptest::collection::vec(
        prop_oneof![(1usize..20_000).prop_map(Op::Acquire), (0usize..8).prop_map(Op::Release)], 1..60)
    ) {
        let cap = 64 * 1024;
        let p = pool(cap);
        let mut live: Vec<zc_buffers::Pooled> = Vec::new();
        for op in ops {
            match op {
                Op::Acquire(n) => match p.try_acquire(n) {
                    Ok(g) => {
                        let (s, e) = (g.as_ptr() as usize, g.as_ptr() as usize + g.capacity());
                        for o in &live {
                            let (os, oe) = (o.as_ptr() as usize, o.as_ptr() as usize + o.capacity());
                            prop_assert!(e <= os || oe <= s, "overlapping guards");
                        }
                        live.push(g);
                    }
                    Err(BufferError::PoolExhausted { .. }) => {
                        let used: usize = live.iter().map(|g| g.capacity()).sum();
                        prop_assert!(used + p.class_sizes().find(|&c| c >= n).unwrap() > cap);
                    }
                    Err(e) => prop_assert!(false, "unexpected error {e}"),
                },
                Op::Release(i) => {
                    if !live.is_empty() {
                        live.swap_remove(i % live.len());
                    }
                }
            }
            let s = p.stats();
            prop_assert!(s.held_bytes <= cap);
            prop_assert_eq!(s.in_use, live.len());
            prop_assert_eq!(s.in_use_bytes, live.iter().map(|g| g.capacity()).sum::<usize>());
        }
        live.clear();
        prop_assert_eq!(p.stats().in_use_bytes, 0);
    }
}

/// A backend whose buffers count their drops, to check that every buffer is
/// freed exactly once however the pool and its guards go away.
#[derive(Clone)]
struct Counting {
    drops: Arc<std::sync::atomic::AtomicUsize>,
}

impl zc_buffers::PoolBackend for Counting {
    type Buf = DropCounted;
    fn allocate(&self, capacity: usize) -> zc_buffers::Result<DropCounted> {
        Ok(DropCounted {
            buf: zc_buffers::AlignedBuf::zeroed(capacity)?,
            drops: self.drops.clone(),
        })
    }
    fn zero(&self, _buf: &mut DropCounted, _len: usize) -> zc_buffers::Result<()> {
        Ok(())
    }
    fn align(&self) -> usize {
        64
    }
}

fn counting_pool() -> (Pool<Counting>, Arc<std::sync::atomic::AtomicUsize>) {
    let drops = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let pool = zc_buffers::PoolBuilder::with_backend(Counting { drops: drops.clone() })
        .cap_bytes(1 << 20)
        .build()
        .unwrap();
    (pool, drops)
}

#[test]
fn dropping_the_pool_with_no_guards_frees_idle_buffers() {
    let (pool, drops) = counting_pool();
    drop((pool.acquire(100).unwrap(), pool.acquire(10_000).unwrap()));
    assert_eq!(drops.load(std::sync::atomic::Ordering::SeqCst), 0);
    drop(pool);
    assert_eq!(drops.load(std::sync::atomic::Ordering::SeqCst), 2);
}

#[test]
fn guards_outlive_the_pool_and_the_last_one_frees_everything() {
    use std::sync::atomic::Ordering::SeqCst;
    let (pool, drops) = counting_pool();
    let idle = pool.acquire(50_000).unwrap();
    let guards: Vec<_> = (0..6).map(|i| pool.acquire(1000 * (i + 1)).unwrap()).collect();
    let detached = pool.acquire(300).unwrap();
    let bytes = pool.acquire(200).unwrap().into_bytes();
    drop(idle); // back to the free list before the pool goes
    drop(pool); // orphaned: 8 still out
    assert_eq!(drops.load(SeqCst), 0);
    let kept = detached.detach(); // leaves the pool for good
    let handles: Vec<_> = guards
        .into_iter()
        .map(|mut g| {
            thread::spawn(move || {
                g[0] = 7; // still valid memory
                drop(g);
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    assert_eq!(
        drops.load(SeqCst),
        0,
        "returned buffers wait in the free lists: the Bytes is still out"
    );
    drop(bytes); // the last guard: frees the state and every idle buffer
    assert_eq!(drops.load(SeqCst), 8, "6 returned + 1 idle + the Bytes' buffer");
    drop(kept);
    assert_eq!(drops.load(SeqCst), 9, "the detached buffer is freed by its own drop");
}

/// A guard returning (or detaching) on one thread while the last pool handle
/// drops on another must never touch freed state (found by review with
/// AddressSanitizer; run under valgrind here).
#[test]
fn returning_while_the_last_handle_drops() {
    for round in 0..200 {
        let pool = Pool::builder().cap_bytes(1 << 20).build().unwrap();
        let g = pool.acquire(4096).unwrap();
        let barrier = Arc::new(Barrier::new(2));
        let b2 = barrier.clone();
        let h = thread::spawn(move || {
            b2.wait();
            if round % 2 == 0 {
                drop(g.detach());
            } else {
                drop(g);
            }
        });
        barrier.wait();
        drop(pool);
        h.join().unwrap();
    }
}

#[test]
fn absurd_size_classes_are_an_error_not_a_hang() {
    let r = Pool::builder()
        .size_classes(SizeClasses::Geometric {
            min: usize::MAX / 2 + 2,
            steps: 4,
        })
        .build();
    assert!(matches!(r, Err(BufferError::TooLarge { .. })));
}

/// Stress: 8 threads mix waits with timeouts, `into_bytes` handed to another
/// thread, detaches and plain returns under a small cap, each tagging its
/// buffer and re-checking the tag after a yield; the main thread drops its
/// handle half-way, so the last returns happen on an orphaned pool. Every
/// buffer the backend made is freed exactly once, after the last guard.
#[test]
fn stress_eight_threads_with_timeouts_bytes_and_the_last_handle_leaving() {
    use std::sync::atomic::Ordering::SeqCst;
    const THREADS: usize = 8;
    let rounds: usize = if cfg!(miri) { 6 } else { 400 };
    let drops = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let allocs = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    #[derive(Clone)]
    struct Tracked {
        drops: Arc<std::sync::atomic::AtomicUsize>,
        allocs: Arc<std::sync::atomic::AtomicUsize>,
    }
    impl zc_buffers::PoolBackend for Tracked {
        type Buf = DropCounted;
        fn allocate(&self, capacity: usize) -> zc_buffers::Result<DropCounted> {
            self.allocs.fetch_add(1, SeqCst);
            Ok(DropCounted {
                buf: zc_buffers::AlignedBuf::zeroed(capacity)?,
                drops: self.drops.clone(),
            })
        }
        fn zero(&self, buf: &mut DropCounted, len: usize) -> zc_buffers::Result<()> {
            use zc_buffers::HostBufferMut;
            buf.as_bytes_mut()[..len].fill(0);
            Ok(())
        }
        fn align(&self) -> usize {
            64
        }
    }
    let pool = zc_buffers::PoolBuilder::with_backend(Tracked {
        drops: drops.clone(),
        allocs: allocs.clone(),
    })
    .cap_bytes(6 * 8192)
    .zero_on_release(true)
    .build()
    .unwrap();
    let barrier = Arc::new(Barrier::new(THREADS + 1));
    let (tx, rx) = std::sync::mpsc::channel::<bytes::Bytes>();
    let checker = thread::spawn(move || {
        let mut n = 0usize;
        for b in rx {
            let tag = b[0];
            thread::yield_now();
            assert!(
                b.iter().all(|&x| x == tag),
                "a Bytes' buffer was written by someone else"
            );
            n += 1;
        }
        n
    });
    let handles: Vec<_> = (0..THREADS)
        .map(|t| {
            let (p, barrier, tx) = (pool.clone(), barrier.clone(), tx.clone());
            thread::spawn(move || {
                barrier.wait();
                let mut timeouts = 0usize;
                for r in 0..rounds {
                    let len = if (t + r) % 3 == 0 { 8000 } else { 3000 };
                    let mut g = match p.acquire_timeout(len, Duration::from_millis(if r % 5 == 0 { 0 } else { 200 })) {
                        Ok(g) => g,
                        Err(BufferError::PoolExhausted { .. }) => {
                            timeouts += 1;
                            continue;
                        }
                        Err(e) => panic!("{e}"),
                    };
                    assert!(
                        g.iter().all(|&b| b == 0),
                        "zero_on_release: a previous holder's bytes leaked"
                    );
                    let tag = (1 + t * 31 + r) as u8 | 1;
                    g.fill(tag);
                    thread::yield_now();
                    assert!(g.iter().all(|&b| b == tag), "another holder wrote into my buffer");
                    match r % 7 {
                        0 => tx.send(g.into_bytes()).unwrap(),
                        3 => drop(g.detach()),
                        _ => drop(g),
                    }
                }
                timeouts
            })
        })
        .collect();
    drop(tx);
    barrier.wait();
    drop(pool); // the workers' clones and guards keep the state alive
    let timeouts: usize = handles.into_iter().map(|h| h.join().unwrap()).sum();
    let sent = checker.join().unwrap();
    assert!(sent > 0);
    assert!(timeouts < THREADS * rounds, "some acquires succeeded");
    assert_eq!(
        drops.load(SeqCst),
        allocs.load(SeqCst),
        "every buffer freed exactly once (idle ones with the last guard)"
    );
}

#[test]
fn builder_chains_are_infallible_and_build_validates() {
    let err = Pool::builder()
        .align(48)
        .name("odd")
        .cap_bytes(1 << 20)
        .build()
        .unwrap_err();
    assert!(
        matches!(err, zc_buffers::BufferError::InvalidAlignment { align: 48 }),
        "{err}"
    );
    let pool = Pool::builder().align(4096).name("dma").build().unwrap();
    assert_eq!(pool.acquire(100).unwrap().as_bytes().as_ptr() as usize % 4096, 0);
}
