//! A child process forked after zc's worker pool was built (Python's
//! `multiprocessing`, a PyTorch `DataLoader`) has none of the pool's
//! threads: a job handed to the pool would never run and the call would
//! hang. There, `parallel` must spawn its workers per call instead.
//!
//! One test in its own binary: the process holds only the test thread and
//! the idle pool threads when it forks.
#![cfg(unix)]

use zc_buffers::BufferError;
use zc_buffers::parallel::{for_each_chunk_mut, for_each_step_phased, map_ranges};

/// Every entry point with 2 workers; panics on a wrong result.
fn exercise() {
    let mut v = vec![0u32; 1000];
    for_each_chunk_mut(2, &mut v, 100, |i, c| {
        c.fill(i as u32);
        Ok::<(), BufferError>(())
    })
    .unwrap();
    assert_eq!(v[999], 9);
    let sums = map_ranges(2, 100, |_, r| Ok::<usize, BufferError>(r.sum())).unwrap();
    assert_eq!(sums.iter().sum::<usize>(), 4950);
    let seen = std::sync::atomic::AtomicUsize::new(0);
    for_each_step_phased(2, [8, 8], |_| {
        seen.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Ok::<(), BufferError>(())
    })
    .unwrap();
    assert_eq!(seen.into_inner(), 16);
}

#[test]
fn a_forked_child_runs_parallel_work_without_the_parents_pool() {
    // build the pool (and use it) in the parent
    exercise();
    // SAFETY: fork in a process whose other threads are the idle pool
    // threads; the child runs the same code then leaves with `_exit`
    // (no destructors or atexit handlers of the parent's state).
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork failed");
    if pid == 0 {
        // SAFETY: `alarm` only arms a timer: a hang kills the child with
        // SIGALRM, which the parent reports.
        unsafe { libc::alarm(30) };
        let ok = std::panic::catch_unwind(exercise).is_ok();
        // SAFETY: `_exit` ends the child at once.
        unsafe { libc::_exit(if ok { 0 } else { 1 }) };
    }
    let mut status = 0;
    // SAFETY: waits for the child forked above; `status` is a valid out-pointer.
    let waited = unsafe { libc::waitpid(pid, &mut status, 0) };
    assert_eq!(waited, pid);
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "the forked child failed or hung (wait status {status:#x})"
    );
    // and the parent's pool still works
    exercise();
}
