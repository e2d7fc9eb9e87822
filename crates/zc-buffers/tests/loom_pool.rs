//! Model checks of the pool's concurrency protocol with loom: every
//! interleaving (up to a preemption bound) of 2–3 threads acquiring,
//! returning, converting to `Bytes`, detaching, trimming, waiting for a full
//! pool and dropping the last handle, over the same code that ships (the
//! pool's primitives come from `crate::sync`, which is loom's in this build).
//!
//! Run: `RUSTFLAGS="--cfg loom" cargo test -p zc-buffers --test loom_pool --release`
//! (`.ci/run` does, with its own target directory). Under a plain
//! `cargo test` this file is empty.
#![cfg(loom)]

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};

use loom::sync::Arc;
use loom::thread;
mod common;
#[path = "common/loom_model.rs"]
mod loom_model;

use common::DropCounted;
use loom_model::model;
use zc_buffers::{AlignedBuf, Buffer, HostBuffer, HostBufferMut, Pool, PoolBackend, PoolBuilder};

struct Counting {
    allocs: std::sync::Arc<AtomicUsize>,
    drops: std::sync::Arc<AtomicUsize>,
}

impl PoolBackend for Counting {
    type Buf = DropCounted;
    fn allocate(&self, capacity: usize) -> zc_buffers::Result<DropCounted> {
        self.allocs.fetch_add(1, SeqCst);
        Ok(DropCounted {
            buf: AlignedBuf::zeroed(capacity)?,
            drops: self.drops.clone(),
        })
    }
    fn zero(&self, buf: &mut DropCounted, len: usize) -> zc_buffers::Result<()> {
        buf.as_bytes_mut()[..len].fill(0);
        Ok(())
    }
    fn align(&self) -> usize {
        64
    }
}

/// A pool over `Counting` with room for `cap_buffers` 4 KiB buffers, and
/// its alloc and drop counters.
fn counting_pool(cap_buffers: usize) -> (Pool<Counting>, std::sync::Arc<AtomicUsize>, std::sync::Arc<AtomicUsize>) {
    let allocs = std::sync::Arc::new(AtomicUsize::new(0));
    let drops = std::sync::Arc::new(AtomicUsize::new(0));
    let pool = PoolBuilder::with_backend(Counting {
        allocs: allocs.clone(),
        drops: drops.clone(),
    })
    .cap_bytes(cap_buffers * 4096)
    .size_classes(zc_buffers::SizeClasses::Exact(vec![4096]))
    .build()
    .unwrap();
    (pool, allocs, drops)
}

/// The use-after-free of 0.1: a guard returns (or detaches) on one thread
/// while the last handle drops on another. Whoever goes last frees the state
/// and the idle buffer exactly once; nobody touches it after.
#[test]
fn return_races_the_last_handle() {
    for detach in [false, true] {
        model(move || {
            let (pool, allocs, drops) = counting_pool(2);
            let g = pool.acquire(100).unwrap();
            let t = thread::spawn(move || {
                if detach {
                    drop(g.detach());
                } else {
                    drop(g);
                }
            });
            drop(pool);
            t.join().unwrap();
            assert_eq!(allocs.load(SeqCst), 1);
            assert_eq!(drops.load(SeqCst), 1, "the one buffer is freed exactly once");
        });
    }
}

/// Two threads acquire and return through the same class: no buffer is
/// ever held by two guards (each writes its tag, yields, and re-reads it),
/// the books balance, and every buffer is freed once.
#[test]
fn two_holders_never_share_a_buffer() {
    model(|| {
        let (pool, allocs, drops) = counting_pool(2);
        let p2 = pool.clone();
        let other = thread::spawn(move || {
            let mut g = p2.acquire(64).unwrap();
            g.as_bytes_mut().fill(2);
            thread::yield_now();
            assert!(g.as_bytes().iter().all(|&b| b == 2), "a buffer was handed out twice");
        });
        {
            let mut g = pool.acquire(64).unwrap();
            g.as_bytes_mut().fill(1);
            thread::yield_now();
            assert!(g.as_bytes().iter().all(|&b| b == 1), "a buffer was handed out twice");
        }
        other.join().unwrap();
        let s = pool.stats();
        assert_eq!(s.in_use, 0);
        assert_eq!(s.hits + s.misses, 2);
        assert_eq!(s.misses as usize, allocs.load(SeqCst));
        assert_eq!(s.held_bytes, s.idle_bytes);
        drop(pool);
        assert_eq!(
            drops.load(SeqCst),
            allocs.load(SeqCst),
            "every buffer freed exactly once"
        );
    });
}

/// `trim` races a return: the books balance (what trim reports is what was
/// freed; what is left idle is still held), nothing is freed twice.
#[test]
fn trim_races_a_return() {
    model(|| {
        let (pool, allocs, drops) = counting_pool(2);
        drop(pool.acquire(64).unwrap()); // one idle
        let g = pool.acquire(64).unwrap(); // a hit: the same buffer, now out
        let g2 = pool.acquire(64).unwrap(); // a miss
        drop(g);
        let t = thread::spawn(move || drop(g2));
        let trimmed = pool.trim();
        t.join().unwrap();
        let s = pool.stats();
        assert_eq!(allocs.load(SeqCst), 2);
        assert_eq!(drops.load(SeqCst) * 4096, trimmed, "trim freed what it reports");
        assert_eq!(s.in_use, 0);
        assert_eq!(s.held_bytes + trimmed, 2 * 4096);
        drop(pool);
        assert_eq!(drops.load(SeqCst), 2);
    });
}

/// A guard turned into `Bytes`, cloned onto another thread, outlives the
/// last handle: the buffer goes back (and the state is freed) when the last
/// clone drops, on whichever thread that is.
#[test]
fn bytes_clones_outlive_the_pool() {
    model(|| {
        let (pool, allocs, drops) = counting_pool(1);
        let mut g = pool.acquire(8).unwrap();
        g.as_bytes_mut().copy_from_slice(b"zerocopy");
        let bytes = g.into_bytes();
        let clone = bytes.clone();
        let t = thread::spawn(move || {
            assert_eq!(&clone[..], b"zerocopy");
        });
        drop(pool);
        drop(bytes);
        t.join().unwrap();
        assert_eq!(allocs.load(SeqCst), 1);
        assert_eq!(drops.load(SeqCst), 1);
    });
}

/// A waiter on a full pool is always woken by a return (loom's condition
/// variable never times out, so a lost wake-up is a deadlock the model
/// reports), and gets the very buffer that came back.
#[test]
fn a_return_always_wakes_a_waiter() {
    model(|| {
        let (pool, allocs, _drops) = counting_pool(1);
        let held = pool.acquire(4096).unwrap();
        let p2 = pool.clone();
        let t = thread::spawn(move || {
            let g = p2.acquire_timeout(4096, std::time::Duration::from_secs(3600)).unwrap();
            assert_eq!(g.len(), 4096);
        });
        drop(held);
        t.join().unwrap();
        assert_eq!(allocs.load(SeqCst), 1, "the waiter reused the returned buffer");
        assert_eq!(pool.stats().in_use, 0);
    });
}

/// A waiter for one class is woken by a return to another class, whose
/// idle buffer it then evicts to make room under the cap.
#[test]
fn a_return_to_another_class_wakes_a_waiter() {
    model(|| {
        let allocs = std::sync::Arc::new(AtomicUsize::new(0));
        let drops = std::sync::Arc::new(AtomicUsize::new(0));
        let pool = PoolBuilder::with_backend(Counting {
            allocs: allocs.clone(),
            drops: drops.clone(),
        })
        .cap_bytes(8192)
        .size_classes(zc_buffers::SizeClasses::Exact(vec![4096, 8192]))
        .build()
        .unwrap();
        let big = pool.acquire(8192).unwrap();
        let p2 = pool.clone();
        let t = thread::spawn(move || {
            let g = p2.acquire_timeout(4096, std::time::Duration::from_secs(3600)).unwrap();
            assert_eq!(g.capacity(), 4096);
        });
        drop(big);
        t.join().unwrap();
        let s = pool.stats();
        assert_eq!((s.in_use, s.evictions), (0, 1));
        assert_eq!(allocs.load(SeqCst), 2);
        assert_eq!(drops.load(SeqCst), 1, "the 8 KiB buffer was evicted");
        assert_eq!(s.held_bytes, 4096);
    });
}

/// Three threads: two return guards (one detaches) while the third drops
/// the last handle.
#[test]
fn three_threads_return_detach_and_drop_the_pool() {
    model(|| {
        let (pool, allocs, drops) = counting_pool(2);
        let a = pool.acquire(10).unwrap();
        let b = pool.acquire(20).unwrap();
        let ta = thread::spawn(move || drop(a));
        let tb = thread::spawn(move || {
            let kept = b.detach();
            assert_eq!(kept.len(), 4096);
        });
        let tp = thread::spawn(move || drop(pool));
        ta.join().unwrap();
        tb.join().unwrap();
        tp.join().unwrap();
        assert_eq!(allocs.load(SeqCst), 2);
        assert_eq!(drops.load(SeqCst), 2);
    });
}

/// The shared state is one loom `Arc`: loom itself fails a model that leaks
/// it, so a pool with idle buffers that is dropped on another thread than
/// the one that filled it frees everything.
#[test]
fn the_state_is_freed_on_any_thread() {
    model(|| {
        let (pool, _allocs, drops) = counting_pool(2);
        drop((pool.acquire(1).unwrap(), pool.acquire(2).unwrap()));
        let shared = Arc::new(pool);
        let s2 = shared.clone();
        let t = thread::spawn(move || drop(s2));
        drop(shared);
        t.join().unwrap();
        assert_eq!(drops.load(SeqCst), 2);
    });
}
