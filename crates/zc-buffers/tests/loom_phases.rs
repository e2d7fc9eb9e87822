//! Model checks of the phased-work protocol (`zc_buffers::parallel::Phases`,
//! which also hands out `for_each_chunk_mut`'s chunks) with loom: every
//! interleaving (up to a preemption bound) of 2–3 workers claiming steps,
//! waiting at phase boundaries and stopping on an error, over the code that
//! ships (its atomics come from `crate::sync`, loom's in this build).
//!
//! What is checked: every step runs exactly once; a step of phase 1 reads
//! what the steps of phase 0 wrote with plain (non-atomic) writes, and loom
//! reports a data race if the boundary did not order them; an error in
//! phase 0 ends every worker (loom reports a deadlock or an endless spin)
//! and no step of phase 1 runs.
//!
//! Run: `RUSTFLAGS="--cfg loom" cargo test -p zc-buffers --test loom_phases --release`
//! (`.ci/run` does). Under a plain `cargo test` this file is empty.
#![cfg(loom)]

use loom::cell::UnsafeCell;
use loom::sync::Arc;
use loom::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use loom::thread;

use zc_buffers::parallel::{Phases, Step};

#[path = "common/loom_model.rs"]
mod loom_model;
use loom_model::model;

/// Plain cells written in phase 0 and read in phase 1; the counters record
/// how often each step ran.
struct Shared {
    phases: Phases<2>,
    written: [UnsafeCell<usize>; 2],
    sum: UnsafeCell<usize>,
    runs: [AtomicUsize; 3],
}

// SAFETY: the cells are what the model checks — loom tracks every access
// and fails the test on any pair not ordered by happens-before.
unsafe impl Sync for Shared {}
// SAFETY: as above; nothing in `Shared` is tied to a thread.
unsafe impl Send for Shared {}

impl Shared {
    fn new() -> Self {
        Self {
            phases: Phases::new([2, 1]).unwrap(),
            written: [UnsafeCell::new(0), UnsafeCell::new(0)],
            sum: UnsafeCell::new(0),
            runs: [AtomicUsize::new(0), AtomicUsize::new(0), AtomicUsize::new(0)],
        }
    }

    /// Phase 0 writes `10 + index` into its cell; phase 1 sums both cells.
    /// `fail`: step 1 of phase 0 returns an error instead.
    fn step(&self, s: Step, fail: bool) -> Result<(), &'static str> {
        self.runs[s.phase * 2 + s.index].fetch_add(1, SeqCst);
        match (s.phase, s.index) {
            (0, 1) if fail => Err("failed"),
            (0, i) => {
                // SAFETY: step (0, i) is claimed once; nothing else touches
                // cell `i` before phase 1 (checked by loom).
                self.written[i].with_mut(|p| unsafe { *p = 10 + i });
                Ok(())
            }
            _ => {
                // SAFETY: phase 1 begins after both phase-0 writes
                // completed (the property under test).
                let a = self.written[0].with(|p| unsafe { *p });
                // SAFETY: as above.
                let b = self.written[1].with(|p| unsafe { *p });
                // SAFETY: phase 1 has one step, run once.
                self.sum.with_mut(|p| unsafe { *p = a + b });
                Ok(())
            }
        }
    }
}

/// The caller and one spawned thread work the same run (`fail`: see
/// [`Shared::step`]); their results and the shared state after both.
fn two_workers(fail: bool) -> (Result<(), &'static str>, Result<(), &'static str>, Arc<Shared>) {
    let shared = Arc::new(Shared::new());
    let other = shared.clone();
    let t = thread::spawn(move || other.phases.work(|s| other.step(s, fail)));
    let mine = shared.phases.work(|s| shared.step(s, fail));
    (mine, t.join().unwrap(), shared)
}

/// Two workers: each step once, phase 1 sees both writes of phase 0.
#[test]
fn two_workers_order_the_phases() {
    model(|| {
        let (mine, theirs, shared) = two_workers(false);
        assert_eq!((mine, theirs), (Ok(()), Ok(())));
        assert!(shared.runs.iter().all(|r| r.load(SeqCst) == 1));
        // SAFETY: every worker is joined.
        assert_eq!(shared.sum.with(|p| unsafe { *p }), 21);
    });
}

/// An error in phase 0 stops both workers: exactly one reports it, phase 1
/// never runs, nobody waits forever.
#[test]
fn an_error_stops_every_worker() {
    model(|| {
        let (mine, theirs, shared) = two_workers(true);
        assert_eq!(usize::from(mine.is_err()) + usize::from(theirs.is_err()), 1);
        assert!(shared.phases.stopped());
        assert_eq!(shared.runs[2].load(SeqCst), 0);
        assert_eq!(shared.runs[1].load(SeqCst), 1);
    });
}

/// Three workers over one phase of two steps (the `for_each_chunk_mut`
/// shape): each step exactly once, every worker returns.
#[test]
fn three_workers_claim_each_step_once() {
    model(|| {
        let phases = Arc::new(Phases::new([2]).unwrap());
        let runs = Arc::new([AtomicUsize::new(0), AtomicUsize::new(0)]);
        let spawn = || {
            let (phases, runs) = (phases.clone(), runs.clone());
            thread::spawn(move || {
                phases.work(|s| {
                    runs[s.index].fetch_add(1, SeqCst);
                    Ok::<(), ()>(())
                })
            })
        };
        let (a, b) = (spawn(), spawn());
        phases
            .work(|s| {
                runs[s.index].fetch_add(1, SeqCst);
                Ok::<(), ()>(())
            })
            .unwrap();
        a.join().unwrap().unwrap();
        b.join().unwrap().unwrap();
        assert!(runs.iter().all(|r| r.load(SeqCst) == 1));
    });
}
