//! The workspace's one thread policy, used by every batch API in zc.
//!
//! * A thread count of `0` means "every core the process may use"
//!   ([`std::thread::available_parallelism`]); any other count is used as
//!   given, capped at the number of work items.
//! * A worker that panics never yields a partial result that looks
//!   complete: the call returns [`BufferError::WorkerPanicked`] (and the
//!   output is documented as unspecified), never `Ok`.
//! * One thread runs inline on the caller's thread: no job, no allocation.
//!   With `n` workers the caller is worker 0 and the other `n - 1` run as
//!   jobs on zc's own [rayon] thread pool (`zc-worker-N`, one thread per
//!   core but one, built on first use; the global rayon pool and its
//!   settings are left to the application): no thread is spawned per call
//!   (a spawn and join cost 22–63 µs on the 2-vCPU development VM, a large
//!   part of a 30 s mel spectrogram's whole 2-thread gain). At most the
//!   pool's threads and the caller run at once; the work (chunks, steps,
//!   the ranges of `map_ranges`) is claimed dynamically by those that run,
//!   so a count above the cores costs no waiting. In a child process forked
//!   after the pool was built (Python's `multiprocessing`, a PyTorch
//!   `DataLoader`), where the pool's threads do not exist, workers are
//!   spawned per call instead.
//! * Work that must happen in order (check every input, then compute, then
//!   normalise with a global maximum) runs in [`Phases`] on one set of
//!   threads ([`for_each_step_phased`]).

mod phases;

pub use phases::{Phases, Step};

use std::any::Any;
use std::ops::Range;
use std::sync::{Mutex, OnceLock};

use crate::error::BufferError;

/// Resolves a requested thread count: `0` → the cores this process may use
/// (1 if that cannot be determined), otherwise `requested`.
pub fn resolve_threads(requested: usize) -> usize {
    if requested == 0 {
        std::thread::available_parallelism().map_or(1, |n| n.get())
    } else {
        requested
    }
}

/// The message of a panic payload (`&str` or `String`), or a placeholder.
pub fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "non-string panic payload".to_owned()
    }
}

/// Splits `0..n` into `parts` contiguous ranges whose lengths differ by at
/// most one (the first ones longer). `parts` is clamped to `1..=max(n, 1)`.
pub fn split_even(n: usize, parts: usize) -> impl Iterator<Item = Range<usize>> {
    let parts = parts.clamp(1, n.max(1));
    let base = n / parts;
    let extra = n % parts;
    (0..parts).map(move |i| {
        let start = i * base + i.min(extra);
        let len = base + usize::from(i < extra);
        start..start + len
    })
}

/// Runs `f(chunk_index, chunk)` over `data` split into chunks of
/// `chunk_len` elements (the last may be shorter) on up to `threads`
/// workers ([`resolve_threads`] policy), handing out chunks dynamically so
/// uneven work balances. Returns the first error `f` returned (the other
/// workers stop taking chunks), or [`BufferError::WorkerPanicked`] if a
/// worker panicked. With one worker, or one chunk, everything runs inline.
///
/// `chunk_len == 0` is treated as one chunk holding all of `data`.
///
/// ```
/// let mut v = vec![0u32; 1000];
/// zc_buffers::parallel::for_each_chunk_mut(0, &mut v, 100, |i, c| {
///     c.fill(i as u32);
///     Ok::<(), zc_buffers::BufferError>(())
/// })?;
/// assert_eq!(v[999], 9);
/// # Ok::<(), zc_buffers::BufferError>(())
/// ```
pub fn for_each_chunk_mut<T, E, F>(threads: usize, data: &mut [T], chunk_len: usize, f: F) -> Result<(), E>
where
    T: Send,
    E: From<BufferError> + Send,
    F: Fn(usize, &mut [T]) -> Result<(), E> + Sync,
{
    let chunk_len = if chunk_len == 0 { data.len().max(1) } else { chunk_len };
    let n_chunks = data.len().div_ceil(chunk_len);
    let workers = resolve_threads(threads).min(n_chunks).min(max_workers());
    if workers <= 1 {
        for (i, c) in data.chunks_mut(chunk_len).enumerate() {
            f(i, c)?;
        }
        return Ok(());
    }
    // Each chunk is claimed exactly once (a one-phase `Phases`); the disjoint
    // `&mut` slices wait in per-chunk slots (handing jobs to the pool
    // allocates anyway, so one small Vec per call costs nothing measurable).
    let chunks: Vec<std::sync::Mutex<Option<&mut [T]>>> = data
        .chunks_mut(chunk_len)
        .map(|c| std::sync::Mutex::new(Some(c)))
        .collect();
    let phases = phases_for([n_chunks])?;
    let (chunks, phases, f) = (&chunks, &phases, &f);
    let work = move || {
        phases.work(|step| {
            let chunk = chunks.get(step.index).and_then(|slot| slot.lock().ok()?.take());
            chunk.map_or(Ok(()), |c| f(step.index, c))
        })
    };
    first_error(fan_out(workers, |_| work()))
}

/// Runs `f(step)` for every step of `steps.len()` phases (phase `p` has
/// `steps[p]` steps) on up to `threads` workers ([`resolve_threads`]
/// policy; the caller is worker 0): steps are claimed dynamically, and no
/// step of a phase begins before every step of the earlier phases has
/// completed, with its writes visible (see [`Phases`]). Returns the first
/// error `f` returned (no further step begins after it), or
/// [`BufferError::WorkerPanicked`] if a worker panicked. With one worker
/// everything runs inline, phase by phase. More than `isize::MAX` steps is
/// [`BufferError::Overflow`].
///
/// A step must not itself run parallel work of this module: a worker
/// waiting at a phase boundary keeps its pool thread, which the nested
/// work could be waiting for.
///
/// ```
/// use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
/// // phase 0: 8 partial sums; phase 1: 8 steps that each need the total
/// let data: Vec<u64> = (1..=800).collect();
/// let partial: Vec<AtomicU64> = (0..8).map(|_| AtomicU64::new(0)).collect();
/// let scaled: Vec<AtomicU64> = (0..8).map(|_| AtomicU64::new(0)).collect();
/// zc_buffers::parallel::for_each_step_phased(2, [8, 8], |s| {
///     let chunk = &data[s.index * 100..(s.index + 1) * 100];
///     if s.phase == 0 {
///         partial[s.index].store(chunk.iter().sum(), Relaxed);
///     } else {
///         let total: u64 = partial.iter().map(|p| p.load(Relaxed)).sum();
///         scaled[s.index].store(chunk[0] * 1000 / total, Relaxed);
///     }
///     Ok::<(), zc_buffers::BufferError>(())
/// })?;
/// assert_eq!(scaled[7].load(Relaxed), 701 * 1000 / 320_400);
/// # Ok::<(), zc_buffers::BufferError>(())
/// ```
pub fn for_each_step_phased<E, F, const P: usize>(threads: usize, steps: [usize; P], f: F) -> Result<(), E>
where
    E: From<BufferError> + Send,
    F: Fn(Step) -> Result<(), E> + Sync,
{
    let phases = phases_for(steps)?;
    let widest = steps.iter().copied().max().unwrap_or(0);
    let workers = resolve_threads(threads).min(widest).min(max_workers()).max(1);
    if workers <= 1 {
        return phases.work(&f);
    }
    let (phases, f) = (&phases, &f);
    first_error(fan_out(workers, |_| phases.work(f)))
}

/// zc's worker pool: built on first use with one thread fewer than the
/// cores the process may use (the caller is always a worker; a thread per
/// core left an idle pool thread searching for work beside two busy
/// workers on 2 vCPUs: a 2-thread 64-query hv16 search took 17 % longer),
/// named `zc-worker-N`, and tagged with the process that built it. `None`
/// where it could not be built, or in a child forked after it was built
/// (fork copies only the calling thread, so its threads do not exist there
/// and a job handed to it would never run).
fn pool() -> Option<&'static rayon::ThreadPool> {
    static POOL: OnceLock<Option<(u32, rayon::ThreadPool)>> = OnceLock::new();
    let built = POOL.get_or_init(|| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(resolve_threads(0).saturating_sub(1).max(1))
            .thread_name(|i| format!("zc-worker-{i}"))
            .build()
            .ok()
            .map(|pool| (std::process::id(), pool))
    });
    built
        .as_ref()
        .filter(|(pid, _)| *pid == std::process::id())
        .map(|(_, pool)| pool)
}

/// [`Phases::new`], or [`BufferError::Overflow`] for more than
/// `isize::MAX` steps.
fn phases_for<E: From<BufferError>, const P: usize>(steps: [usize; P]) -> Result<Phases<P>, E> {
    Phases::new(steps).ok_or_else(|| {
        E::from(BufferError::Overflow {
            shape: steps.to_vec(),
            strides: Vec::new(),
        })
    })
}

/// The most workers that run at once: the caller and the pool's threads
/// (unbounded where workers are spawned per call).
fn max_workers() -> usize {
    pool().map_or(usize::MAX, |p| p.current_num_threads().saturating_add(1))
}

/// Runs `f(worker)` for workers `0..workers`: worker 0 on the calling
/// thread, the others as jobs on zc's pool ([`pool`]; threads spawned for
/// this call where there is none). Returns every worker's result in worker
/// order; a panic is [`BufferError::WorkerPanicked`] naming the worker.
fn fan_out<R, E>(workers: usize, f: impl Fn(usize) -> Result<R, E> + Sync) -> Vec<Result<R, E>>
where
    R: Send,
    E: From<BufferError> + Send,
{
    let f = &f;
    let slots: Vec<Mutex<Option<Result<R, E>>>> = (1..workers).map(|_| Mutex::new(None)).collect();
    let job = |worker: usize, slot: &Mutex<Option<Result<R, E>>>| {
        let r = caught(worker, || f(worker));
        if let Ok(mut g) = slot.lock() {
            *g = Some(r);
        }
    };
    let mut out = Vec::with_capacity(workers);
    match pool() {
        Some(pool) => pool.in_place_scope(|s| {
            for (worker, slot) in (1..).zip(&slots) {
                s.spawn(move |_| job(worker, slot));
            }
            out.push(caught(0, || f(0)));
        }),
        None => std::thread::scope(|s| {
            for (worker, slot) in (1..).zip(&slots) {
                s.spawn(move || job(worker, slot));
            }
            out.push(caught(0, || f(0)));
        }),
    }
    // every job has run when the scope returns; a slot is empty only if
    // its lock was poisoned, which nothing holding it can do (no panic)
    out.extend((1..).zip(slots).map(|(worker, slot)| {
        slot.into_inner().ok().flatten().unwrap_or_else(|| {
            Err(E::from(BufferError::WorkerPanicked {
                worker,
                message: "the worker's result was lost".to_owned(),
            }))
        })
    }));
    out
}

/// The first error of `results` in order, else `Ok`.
fn first_error<E>(results: Vec<Result<(), E>>) -> Result<(), E> {
    results.into_iter().collect()
}

/// Runs `f` for `worker`, its panic becoming [`BufferError::WorkerPanicked`].
fn caught<R, E: From<BufferError>>(worker: usize, f: impl FnOnce() -> Result<R, E>) -> Result<R, E> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).unwrap_or_else(|payload| {
        Err(E::from(BufferError::WorkerPanicked {
            worker,
            message: panic_message(payload.as_ref()),
        }))
    })
}

/// Runs `f(part, range)` for `0..n` split evenly ([`split_even`]) into up
/// to `threads` parts and returns each part's result in range order — the
/// map step of a map/reduce (a top-k search merges the per-range results).
/// The parts are claimed dynamically by at most one worker per core (the
/// caller and the pool), so asking for more parts than cores costs no
/// waiting on a busy pool thread. A panicking part is
/// [`BufferError::WorkerPanicked`] (`worker` = the part); the first error in
/// range order wins. One part runs inline.
pub fn map_ranges<R, E, F>(threads: usize, n: usize, f: F) -> Result<Vec<R>, E>
where
    R: Send,
    E: From<BufferError> + Send,
    F: Fn(usize, Range<usize>) -> Result<R, E> + Sync,
{
    let parts = resolve_threads(threads).min(n.max(1));
    if parts <= 1 {
        return Ok(vec![f(0, 0..n)?]);
    }
    let ranges: Vec<Range<usize>> = split_even(n, parts).collect();
    let slots: Vec<Mutex<Option<Result<R, E>>>> = ranges.iter().map(|_| Mutex::new(None)).collect();
    let phases = phases_for([ranges.len()])?;
    let (ranges, slots, phases, f) = (&ranges, &slots, &phases, &f);
    // E needs no `From<BufferError>` round trip here: each part's result,
    // error or panic, is kept in its slot (an error does not stop the
    // other parts)
    let run = fan_out(ranges.len().min(max_workers()), |_| {
        phases.work(|step| {
            let range = ranges.get(step.index).cloned().unwrap_or(n..n);
            let r = caught(step.index, || f(step.index, range));
            if let Some(Ok(mut g)) = slots.get(step.index).map(Mutex::lock) {
                *g = Some(r);
            }
            Ok::<(), E>(())
        })
    });
    first_error(run)?;
    let mut out = Vec::with_capacity(ranges.len());
    for (part, slot) in slots.iter().enumerate() {
        // every part is claimed and run once (a one-phase `Phases` never
        // stops here, its steps return `Ok`)
        match slot.lock().ok().and_then(|mut g| g.take()) {
            Some(r) => out.push(r?),
            None => {
                return Err(E::from(BufferError::WorkerPanicked {
                    worker: part,
                    message: "the part did not run".to_owned(),
                }));
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_threads_means_all_cores() {
        assert!(resolve_threads(0) >= 1);
        assert_eq!(resolve_threads(3), 3);
    }

    #[test]
    fn split_even_covers_exactly_once() {
        for n in 0..40 {
            for parts in 0..10 {
                let rs: Vec<_> = split_even(n, parts).collect();
                assert_eq!(rs.first().map(|r| r.start), Some(0));
                assert_eq!(rs.last().map(|r| r.end), Some(n));
                assert!(rs.windows(2).all(|w| w[0].end == w[1].start));
                let (lo, hi) = (rs.iter().map(|r| r.len()).min(), rs.iter().map(|r| r.len()).max());
                assert!(hi.zip(lo).is_some_and(|(h, l)| h - l <= 1));
            }
        }
    }

    #[test]
    fn chunks_each_visited_once_with_any_thread_count() {
        for threads in [0, 1, 2, 7] {
            let mut v = vec![0u32; 1003];
            for_each_chunk_mut(threads, &mut v, 10, |i, c| {
                for x in c.iter_mut() {
                    *x += 1 + i as u32;
                }
                Ok::<(), BufferError>(())
            })
            .unwrap();
            for (j, x) in v.iter().enumerate() {
                assert_eq!(*x, 1 + (j / 10) as u32);
            }
        }
    }

    #[test]
    fn a_panicking_worker_is_an_error_not_a_partial_result() {
        let mut v = vec![0u8; 64];
        let r = for_each_chunk_mut(4, &mut v, 8, |i, _| {
            if i == 5 {
                panic!("chunk five");
            }
            Ok::<(), BufferError>(())
        });
        match r {
            Err(BufferError::WorkerPanicked { message, .. }) => assert_eq!(message, "chunk five"),
            other => panic!("expected WorkerPanicked, got {other:?}"),
        }
        let r = map_ranges(3, 30, |w, r| {
            if w == 2 {
                panic!("{}", format!("range {r:?}"));
            }
            Ok::<usize, BufferError>(r.len())
        });
        match r {
            Err(BufferError::WorkerPanicked { worker: 2, message }) => assert_eq!(message, "range 20..30"),
            other => panic!("expected WorkerPanicked, got {other:?}"),
        }
    }

    /// The caller is a worker: a panic on the calling thread is reported
    /// like a pool thread's, after the other workers finished. (The caller
    /// claims the first part at once; the pool thread wakes later.)
    #[test]
    fn a_panic_on_the_calling_thread_is_an_error_too() {
        use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
        let caller = std::thread::current().id();
        let on_caller = AtomicUsize::new(0);
        let r = map_ranges(2, 10, |_, _| {
            if std::thread::current().id() == caller {
                on_caller.fetch_add(1, Relaxed);
                panic!("on the caller");
            }
            Ok::<(), BufferError>(())
        });
        assert!(on_caller.load(Relaxed) >= 1, "the caller ran no part");
        match r {
            Err(BufferError::WorkerPanicked { message, .. }) => assert_eq!(message, "on the caller"),
            other => panic!("expected WorkerPanicked, got {other:?}"),
        }
        let mut v = vec![0u8; 4];
        let r = for_each_chunk_mut(2, &mut v, 1, |_, _| -> Result<(), BufferError> { panic!("everywhere") });
        assert!(matches!(r, Err(BufferError::WorkerPanicked { ref message, .. }) if message == "everywhere"));
    }

    /// More parts than cores: every part runs once, results in range order,
    /// and no more workers run at once than the pool's threads and the
    /// caller.
    #[test]
    fn more_parts_than_cores_are_claimed_by_the_workers_that_run() {
        use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
        let (now, most) = (AtomicUsize::new(0), AtomicUsize::new(0));
        let parts = map_ranges(16, 1600, |w, r| {
            let at_once = now.fetch_add(1, SeqCst) + 1;
            most.fetch_max(at_once, SeqCst);
            std::thread::sleep(std::time::Duration::from_millis(2));
            now.fetch_sub(1, SeqCst);
            Ok::<_, BufferError>((w, r))
        })
        .unwrap();
        assert_eq!(parts.len(), 16);
        for (i, (w, r)) in parts.iter().enumerate() {
            assert_eq!((*w, r.clone()), (i, i * 100..(i + 1) * 100));
        }
        assert!(most.load(SeqCst) <= max_workers(), "{} at once", most.load(SeqCst));
    }

    #[test]
    fn errors_propagate_and_results_keep_range_order() {
        let r = for_each_chunk_mut(2, &mut [0u8; 10], 1, |i, _| {
            if i == 3 {
                Err(BufferError::LengthMismatch { expected: 1, actual: 2 })
            } else {
                Ok(())
            }
        });
        assert!(matches!(r, Err(BufferError::LengthMismatch { .. })));
        let lens = map_ranges(4, 10, |_, r| Ok::<_, BufferError>(r)).unwrap();
        assert_eq!(lens, vec![0..3, 3..6, 6..8, 8..10]);
        assert_eq!(map_ranges(0, 0, |_, r| Ok::<_, BufferError>(r.len())).unwrap(), vec![0]);
    }

    /// Every step runs once, and every step of a phase sees every step of
    /// the earlier phases completed — with any thread count, with phases
    /// of 0, 1 and many steps.
    #[test]
    fn phases_run_in_order_each_step_once() {
        use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
        let steps = [5, 0, 1, 37, 3];
        for threads in [0, 1, 2, 3, 7] {
            let runs: Vec<Vec<AtomicUsize>> = steps
                .iter()
                .map(|&n| (0..n).map(|_| AtomicUsize::new(0)).collect())
                .collect();
            for_each_step_phased(threads, steps, |s| {
                for earlier in &runs[..s.phase] {
                    assert!(
                        earlier.iter().all(|r| r.load(Relaxed) == 1),
                        "phase {} began early",
                        s.phase
                    );
                }
                runs[s.phase][s.index].fetch_add(1, Relaxed);
                Ok::<(), BufferError>(())
            })
            .unwrap();
            assert!(runs.iter().flatten().all(|r| r.load(Relaxed) == 1));
        }
    }

    /// An error or a panic in a phase ends the run: no step of a later
    /// phase begins, nobody waits forever, the error is returned.
    #[test]
    fn an_error_or_panic_stops_every_phase_after_it() {
        use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
        for threads in [1, 2, 4] {
            let later = AtomicUsize::new(0);
            let r = for_each_step_phased(threads, [16, 16], |s| {
                if s.phase == 1 {
                    later.fetch_add(1, Relaxed);
                } else if s.index == 9 {
                    return Err(BufferError::LengthMismatch { expected: 9, actual: 0 });
                }
                Ok(())
            });
            assert!(
                matches!(r, Err(BufferError::LengthMismatch { expected: 9, .. })),
                "{r:?}"
            );
            assert_eq!(later.load(Relaxed), 0);

            let run = || {
                for_each_step_phased(threads, [16, 16], |s| {
                    if s.phase == 1 {
                        later.fetch_add(1, Relaxed);
                    } else if s.index == 3 {
                        panic!("step three");
                    }
                    Ok::<(), BufferError>(())
                })
            };
            if threads == 1 {
                // inline: the panic is the caller's own and unwinds to it
                assert!(std::panic::catch_unwind(std::panic::AssertUnwindSafe(run)).is_err());
            } else {
                let r = run();
                assert!(
                    matches!(r, Err(BufferError::WorkerPanicked { ref message, .. }) if message == "step three"),
                    "{r:?}"
                );
            }
            assert_eq!(later.load(Relaxed), 0);
        }
    }

    #[test]
    fn too_many_steps_is_an_error_not_a_wrap() {
        let r = for_each_step_phased(2, [usize::MAX / 2, usize::MAX / 2], |_| Ok::<(), BufferError>(()));
        assert!(matches!(r, Err(BufferError::Overflow { .. })), "{r:?}");
        assert!(Phases::new([isize::MAX as usize]).is_some());
        assert!(Phases::new([isize::MAX as usize, 1]).is_none());
        assert_eq!(Phases::new([3, 0, 4]).map(|p| p.total()), Some(7));
    }
}
