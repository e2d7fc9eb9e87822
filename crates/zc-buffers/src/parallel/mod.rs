//! The workspace's one thread policy, used by every batch API in zc.
//!
//! * A thread count of `0` means "every core the process may use"
//!   ([`std::thread::available_parallelism`]); any other count is used as
//!   given, capped at the number of work items.
//! * A worker that panics never yields a partial result that looks
//!   complete: the call returns [`BufferError::WorkerPanicked`] (and the
//!   output is documented as unspecified), never `Ok`.
//! * One thread runs inline on the caller's thread: no spawn, no allocation.
//!   With `n` workers, `n - 1` threads are spawned and the caller is the
//!   `n`th (worker 0).
//! * Work that must happen in order (check every input, then compute, then
//!   normalise with a global maximum) runs in [`Phases`] on one set of
//!   threads ([`for_each_step_phased`]).

mod phases;

pub use phases::{Phases, Step};

use std::any::Any;
use std::ops::Range;

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
/// `chunk_len` elements (the last may be shorter) on up to `threads` scoped
/// threads ([`resolve_threads`] policy), handing out chunks dynamically so
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
    let workers = resolve_threads(threads).min(n_chunks);
    if workers <= 1 {
        for (i, c) in data.chunks_mut(chunk_len).enumerate() {
            f(i, c)?;
        }
        return Ok(());
    }
    // Each chunk is claimed exactly once (a one-phase `Phases`); the disjoint
    // `&mut` slices wait in per-chunk slots (spawning threads allocates
    // anyway, so one small Vec per call costs nothing measurable).
    let chunks: Vec<std::sync::Mutex<Option<&mut [T]>>> = data
        .chunks_mut(chunk_len)
        .map(|c| std::sync::Mutex::new(Some(c)))
        .collect();
    let Some(phases) = Phases::new([n_chunks]) else {
        return Err(E::from(BufferError::Overflow {
            shape: vec![n_chunks],
            strides: Vec::new(),
        }));
    };
    let (chunks, phases, f) = (&chunks, &phases, &f);
    let work = move || {
        phases.work(|step| {
            let chunk = chunks.get(step.index).and_then(|slot| slot.lock().ok()?.take());
            chunk.map_or(Ok(()), |c| f(step.index, c))
        })
    };
    fan_out(workers, work)
}

/// Runs `f(step)` for every step of `steps.len()` phases (phase `p` has
/// `steps[p]` steps) on up to `threads` scoped threads ([`resolve_threads`]
/// policy; the caller is worker 0): steps are claimed dynamically, and no
/// step of a phase begins before every step of the earlier phases has
/// completed, with its writes visible (see [`Phases`]). Returns the first
/// error `f` returned (no further step begins after it), or
/// [`BufferError::WorkerPanicked`] if a worker panicked. With one worker
/// everything runs inline, phase by phase. More than `isize::MAX` steps is
/// [`BufferError::Overflow`].
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
    let Some(phases) = Phases::new(steps) else {
        return Err(E::from(BufferError::Overflow {
            shape: steps.to_vec(),
            strides: Vec::new(),
        }));
    };
    let widest = steps.iter().copied().max().unwrap_or(0);
    let workers = resolve_threads(threads).min(widest).max(1);
    if workers <= 1 {
        return phases.work(&f);
    }
    let (phases, f) = (&phases, &f);
    fan_out(workers, move || phases.work(f))
}

/// Runs `work` on `workers` threads: `workers - 1` scoped spawns, and the
/// caller as worker 0 (one spawn and one context switch fewer per call).
/// Returns the caller's error first, then the spawned workers' in order; a
/// panic is [`BufferError::WorkerPanicked`].
fn fan_out<E>(workers: usize, work: impl Fn() -> Result<(), E> + Sync) -> Result<(), E>
where
    E: From<BufferError> + Send,
{
    let work = &work;
    std::thread::scope(|s| {
        let handles: Vec<_> = (1..workers).map(|_| s.spawn(work)).collect();
        let mut first = on_caller(work);
        for (worker, h) in (1..).zip(handles) {
            let r = match h.join() {
                Ok(r) => r,
                Err(payload) => Err(E::from(BufferError::WorkerPanicked {
                    worker,
                    message: panic_message(payload.as_ref()),
                })),
            };
            if first.is_ok() {
                first = r;
            }
        }
        first
    })
}

/// Runs worker 0 on the calling thread; its panic becomes
/// [`BufferError::WorkerPanicked`] like a spawned worker's (the scope's
/// other threads are still joined by the caller).
fn on_caller<R, E: From<BufferError>>(f: impl FnOnce() -> Result<R, E>) -> Result<R, E> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).unwrap_or_else(|payload| {
        Err(E::from(BufferError::WorkerPanicked {
            worker: 0,
            message: panic_message(payload.as_ref()),
        }))
    })
}

/// Runs `f(worker, range)` for `0..n` split evenly ([`split_even`]) over
/// up to `threads` scoped threads and returns each worker's result in range
/// order — the map step of a map/reduce (a top-k search merges the
/// per-range results). A panicking worker is
/// [`BufferError::WorkerPanicked`]; the first error in range order wins.
/// One worker runs inline.
pub fn map_ranges<R, E, F>(threads: usize, n: usize, f: F) -> Result<Vec<R>, E>
where
    R: Send,
    E: From<BufferError> + Send,
    F: Fn(usize, Range<usize>) -> Result<R, E> + Sync,
{
    let workers = resolve_threads(threads).min(n.max(1));
    if workers <= 1 {
        return Ok(vec![f(0, 0..n)?]);
    }
    let f = &f;
    std::thread::scope(|s| {
        let mut ranges = split_even(n, workers);
        let mine = ranges.next().unwrap_or(0..0);
        // workers - 1 spawned threads; the caller takes the first range
        let handles: Vec<_> = (1..).zip(ranges).map(|(w, r)| s.spawn(move || f(w, r))).collect();
        let mut out = Vec::with_capacity(workers);
        let mut first: Option<E> = None;
        match on_caller(|| f(0, mine)) {
            Ok(r) => out.push(r),
            Err(e) => first = Some(e),
        }
        for (worker, h) in (1..).zip(handles) {
            match h.join() {
                Ok(Ok(r)) => out.push(r),
                Ok(Err(e)) => {
                    first.get_or_insert(e);
                }
                Err(payload) => {
                    first.get_or_insert(E::from(BufferError::WorkerPanicked {
                        worker,
                        message: panic_message(payload.as_ref()),
                    }));
                }
            }
        }
        match first {
            Some(e) => Err(e),
            None => Ok(out),
        }
    })
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

    /// The caller runs worker 0: its panic is reported like a spawned
    /// worker's, after the other workers are joined.
    #[test]
    fn a_panic_on_the_calling_thread_is_an_error_too() {
        let caller = std::thread::current().id();
        let r = map_ranges(2, 10, |w, _| {
            if w == 0 {
                assert_eq!(std::thread::current().id(), caller);
                panic!("worker zero");
            }
            assert_ne!(std::thread::current().id(), caller);
            Ok::<(), BufferError>(())
        });
        match r {
            Err(BufferError::WorkerPanicked { worker: 0, message }) => assert_eq!(message, "worker zero"),
            other => panic!("expected WorkerPanicked from worker 0, got {other:?}"),
        }
        let mut v = vec![0u8; 4];
        let r = for_each_chunk_mut(2, &mut v, 1, |_, _| -> Result<(), BufferError> { panic!("everywhere") });
        assert!(matches!(r, Err(BufferError::WorkerPanicked { ref message, .. }) if message == "everywhere"));
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
