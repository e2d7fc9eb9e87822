//! Work in phases: the steps of each phase are claimed dynamically by
//! whichever worker is free, and no step of a phase begins before every
//! step of the phases before it has completed. One set of workers runs all
//! phases (one fan-out per call instead of one per phase), and a worker
//! that reaches a phase boundary early spins briefly instead of being
//! joined and started again.
//!
//! The protocol (the same code runs under loom, see `tests/loom_phases.rs`):
//! steps are numbered across all phases in order; `next` hands them out
//! (`fetch_add`), so every step of phase `p` is claimed before any step of
//! `p + 1`; `done` counts completed steps (`fetch_add`, release), and the
//! claimer of a step of phase `p` waits until `done` reaches the number of
//! steps before `p` (acquire), which — since no step of a later phase starts
//! early — means exactly "every earlier step has completed", and makes
//! their writes visible. `stop` ends the run for everybody on an error or a
//! panic (set by a guard during unwinding), so no worker waits forever for
//! a step that will never complete.

use crate::sync::{AtomicBool, AtomicUsize, spin_loop, yield_now};
use std::sync::atomic::Ordering::{AcqRel, Acquire, Relaxed};

/// One step of a phased run: step `index` of phase `phase`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Step {
    /// The phase (`0..P`).
    pub phase: usize,
    /// The step within the phase (`0..steps[phase]`).
    pub index: usize,
}

/// The shared state of a phased run over `P` phases: hand it to every
/// worker and call [`work`](Self::work) on each (see
/// [`for_each_step_phased`](super::for_each_step_phased), which does this
/// with the caller and rayon's pool). Usable from any threads.
#[derive(Debug)]
pub struct Phases<const P: usize> {
    /// `ends[p]`: steps in phases `0..=p`.
    ends: [usize; P],
    next: AtomicUsize,
    done: AtomicUsize,
    stop: AtomicBool,
}

/// Sets `stop` if dropped while its thread unwinds (a step panicked).
struct StopOnUnwind<'a>(&'a AtomicBool);

impl Drop for StopOnUnwind<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.0.store(true, Relaxed);
        }
    }
}

impl<const P: usize> Phases<P> {
    /// A run whose phase `p` has `steps[p]` steps. `None` if the total
    /// exceeds `isize::MAX` (so that claiming past the end, once per
    /// worker, cannot wrap the counter).
    pub fn new(steps: [usize; P]) -> Option<Self> {
        let mut ends = [0usize; P];
        let mut total = 0usize;
        for (end, &n) in ends.iter_mut().zip(&steps) {
            total = total.checked_add(n).filter(|&t| t <= isize::MAX as usize)?;
            *end = total;
        }
        Some(Self {
            ends,
            next: AtomicUsize::new(0),
            done: AtomicUsize::new(0),
            stop: AtomicBool::new(false),
        })
    }

    /// Steps in every phase together.
    pub fn total(&self) -> usize {
        self.ends.last().copied().unwrap_or(0)
    }

    /// Whether the run was stopped (a step returned an error or panicked).
    pub fn stopped(&self) -> bool {
        self.stop.load(Relaxed)
    }

    /// Runs steps on the calling thread until none is left or the run is
    /// stopped: claims the next step, waits until every step of the earlier
    /// phases has completed, runs `f`. The first error `f` returns stops
    /// the run (other workers take no further step) and is returned; a
    /// panic in `f` stops the run as it unwinds.
    pub fn work<E>(&self, f: impl Fn(Step) -> Result<(), E>) -> Result<(), E> {
        let _guard = StopOnUnwind(&self.stop);
        loop {
            if self.stop.load(Relaxed) {
                return Ok(());
            }
            let i = self.next.fetch_add(1, Relaxed);
            let Some(phase) = self.ends.iter().position(|&end| i < end) else {
                return Ok(());
            };
            let start = phase
                .checked_sub(1)
                .and_then(|p| self.ends.get(p))
                .copied()
                .unwrap_or(0);
            if !self.wait_done(start) {
                return Ok(());
            }
            if let Err(e) = f(Step {
                phase,
                index: i - start,
            }) {
                self.stop.store(true, Relaxed);
                return Err(e);
            }
            self.done.fetch_add(1, AcqRel);
        }
    }

    /// Waits until `n` steps have completed (true) or the run is stopped
    /// (false).
    fn wait_done(&self, n: usize) -> bool {
        let mut spins = 0u32;
        loop {
            if self.done.load(Acquire) >= n {
                return true;
            }
            if self.stop.load(Relaxed) {
                return false;
            }
            if cfg!(loom) {
                yield_now();
                continue;
            }
            spins = spins.saturating_add(1);
            if spins < 256 {
                spin_loop();
            } else {
                // the worker we wait for may be descheduled (more threads
                // than cores)
                yield_now();
            }
        }
    }
}
