//! Running a plan: one clip on the calling thread or split by frames over
//! worker threads, and batches of clips spread over workers. Every fan-out
//! goes through [`zc_buffers::parallel`] (thread policy, worker panics).

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use ndarray::{ArrayViewMut2, Axis, s};
use zc_buffers::SimdLevel;
use zc_buffers::ledger::{self, Ledger};
use zc_buffers::parallel;

use crate::config::{Layout, MelConfig, MelShape, Normalization};
use crate::engine::{Engine, check_finite};
use crate::error::{MelError, Result};
use crate::kernels::{self, LANES};
use crate::scratch::MelScratch;
use crate::signal::Signal;
use crate::write::{clamp_floor, normalise_view, write_block};

/// Test hooks: a worker panics on the part starting at this frame / on
/// this batch chunk (never in non-test builds).
#[cfg(test)]
pub(crate) static PANIC_AT_FRAME: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(usize::MAX);
#[cfg(test)]
pub(crate) static PANIC_AT_CHUNK: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(usize::MAX);

/// Frames per thread below which splitting does not pay.
const MIN_FRAMES_PER_THREAD: usize = 64;

/// Frames below which a part is not split further (about 12 µs of work).
const MIN_PART: usize = 32;

/// Sample chunks of the finiteness check per thread, and their least length.
const SCANS_PER_THREAD: usize = 4;
const MIN_SCAN: usize = 16_384;

/// Row ranges of the normalisation pass per thread (mel-major output).
const ROW_STEPS_PER_THREAD: usize = 4;

/// Everything a run needs from a plan, borrowed.
#[derive(Clone, Copy)]
pub(crate) struct Exec<'a> {
    pub(crate) config: &'a MelConfig,
    pub(crate) engine: &'a Engine,
    pub(crate) level: SimdLevel,
    pub(crate) threads: usize,
    pub(crate) layout: Layout,
}

/// The caller's scratch, lent to whichever worker takes it first; the
/// others make their own (a threaded call allocates anyway).
struct Lender<'s> {
    caller: Mutex<Option<&'s mut MelScratch>>,
    /// Scratches made during this call, reused by later parts.
    made: Mutex<Vec<MelScratch>>,
}

impl<'s> Lender<'s> {
    fn new(scratch: &'s mut MelScratch) -> Self {
        Self {
            caller: Mutex::new(Some(scratch)),
            made: Mutex::new(Vec::new()),
        }
    }

    /// Run `f` with the caller's scratch if it is free, else with one made
    /// earlier in this call, else with a new one (so a call makes at most
    /// one scratch per extra worker, however many parts it has).
    fn with<R>(&self, engine: &Engine, f: impl FnOnce(&mut MelScratch) -> R) -> R {
        let lent = self.caller.lock().ok().and_then(|mut g| g.take());
        if let Some(s) = lent {
            let r = f(&mut *s);
            if let Ok(mut g) = self.caller.lock() {
                *g = Some(s);
            }
            return r;
        }
        let mut own = match self.made.lock().ok().and_then(|mut g| g.pop()) {
            Some(s) => s,
            None => {
                let s = MelScratch::new(engine.geometry());
                ledger::record_alloc(s.bytes());
                s
            }
        };
        let r = f(&mut own);
        if let Ok(mut g) = self.made.lock() {
            g.push(own);
        }
        r
    }
}

/// Run `f` under `ledger` (if any), so what a worker thread records lands
/// where the caller is looking.
fn with_ledger<R>(ledger: &Option<Ledger>, f: impl FnOnce() -> R) -> R {
    match ledger {
        Some(l) => l.enter(f),
        None => f(),
    }
}

/// One part of a clip: frames `t0..t0 + view.ncols()`.
struct Part<'v> {
    t0: usize,
    view: ArrayViewMut2<'v, f32>,
}

/// Frame counts of the parts a clip of `n_frames` is split into for
/// `workers`: each part takes `1 / (2 · workers)` of the frames left
/// (rounded up to whole lanes, at least [`MIN_PART`]), so parts shrink
/// toward the end and the workers finish close together however late one
/// of them started.
fn part_lens(n_frames: usize, workers: usize) -> impl Iterator<Item = usize> {
    let mut left = n_frames;
    std::iter::from_fn(move || {
        let take = left
            .div_ceil(2 * workers.max(1))
            .next_multiple_of(LANES)
            .max(MIN_PART)
            .min(left);
        left -= take;
        (take > 0).then_some(take)
    })
}

impl Exec<'_> {
    /// Refuse a scratch made for a plan of another geometry.
    pub(crate) fn check_scratch(&self, scratch: &MelScratch) -> Result<()> {
        let want = self.engine.geometry();
        if scratch.geometry != want {
            return Err(MelError::ScratchMismatch {
                expected: (want.n_fft, want.n_mels),
                actual: (scratch.geometry.n_fft, scratch.geometry.n_mels),
            });
        }
        Ok(())
    }

    /// The samples the STFT reads (trimmed by `PadOrTrim`).
    pub(crate) fn real_part<'a>(&self, samples: &'a [f32]) -> &'a [f32] {
        let len = self.config.padding.effective_len(samples.len()).unwrap_or(usize::MAX);
        &samples[..samples.len().min(len)]
    }

    /// [`real_part`](Self::real_part), rejecting non-finite samples.
    pub(crate) fn checked_real<'a>(&self, samples: &'a [f32]) -> Result<&'a [f32]> {
        let real = self.real_part(samples);
        check_finite(self.level, real, 0)?;
        Ok(real)
    }

    /// The signal of one clip. Trailing zeros of the caller's samples end
    /// the real part early: the frames that read only them are then silent
    /// like virtual padding (the same values, without the FFT).
    fn signal<'a>(&self, real: &'a [f32], n_samples: usize) -> Signal<'a> {
        self.signal_ending(real, n_samples, kernels::nonzero_len(self.level, real))
    }

    /// [`signal`](Self::signal) with the end of the non-zero samples known.
    fn signal_ending<'a>(&self, real: &'a [f32], n_samples: usize, real_end: usize) -> Signal<'a> {
        Signal {
            data: real,
            offset: 0,
            real_end,
            len: self.config.padding.effective_len(n_samples).unwrap_or(usize::MAX), // ok: n_frames succeeded
        }
    }

    /// Raw log10 values of one clip into `out` (`(n_mels, n_frames)`) on
    /// the calling thread; returns the maximum.
    fn raw_single(
        &self,
        scratch: &mut MelScratch,
        real: &[f32],
        n_samples: usize,
        out: &mut ArrayViewMut2<'_, f32>,
    ) -> f32 {
        let sig = self.signal(real, n_samples);
        let n_frames = out.ncols();
        self.engine
            .frames(self.level, scratch, &sig, 0, n_frames, |t, nb, block| {
                write_block(out, t, nb, block)
            })
    }

    /// One clip: `out` is `(n_mels, n_frames)` with any strides, already
    /// checked against the configuration; `real` is the unchecked real part
    /// ([`real_part`](Self::real_part)): a non-finite sample is
    /// [`MelError::NonFiniteSample`] (the first one) before anything is
    /// written. Split over the plan's threads when the clip is long enough.
    pub(crate) fn clip(
        &self,
        real: &[f32],
        n_samples: usize,
        mut out: ArrayViewMut2<'_, f32>,
        scratch: &mut MelScratch,
    ) -> Result<()> {
        let n_frames = out.ncols();
        let (level, top_db, norm) = (self.level, self.config.top_db, self.config.normalization);
        let workers = if self.threads <= 1 {
            1
        } else {
            parallel::resolve_threads(self.threads).min(n_frames / MIN_FRAMES_PER_THREAD)
        };
        if workers <= 1 {
            check_finite(level, real, 0)?;
            let max = self.raw_single(scratch, real, n_samples, &mut out);
            normalise_view(level, &mut out, clamp_floor(norm, max, top_db));
            return Ok(());
        }
        // Three phases on one set of workers (the caller and pool jobs), each
        // split into steps that whoever is free claims: 0 checks the samples
        // (finiteness, where the trailing zeros begin), 1 computes the
        // frames part by part, 2 normalises with the clip's maximum. The
        // caller starts at once while the other workers wake; a worker
        // waits at a phase boundary by spinning.
        //
        // Mel-major output is normalised by whole rows (contiguous memory,
        // full cache lines) rather than the parts' short row pieces.
        let n_mels = out.nrows();
        let row_steps = if out.strides()[1] == 1 && n_mels > 1 {
            n_mels.min(workers * ROW_STEPS_PER_THREAD)
        } else {
            0
        };
        let mut parts = Vec::new();
        let mut rest = out;
        let mut t0 = 0;
        for take in part_lens(n_frames, workers) {
            let (part, r) = rest.split_at(Axis(1), take);
            rest = r;
            parts.push(Mutex::new(Part { t0, view: part }));
            t0 += take;
        }
        let scan_len = real.len().div_ceil(workers * SCANS_PER_THREAD).max(MIN_SCAN);
        let scans = real.len().div_ceil(scan_len);
        let real_end = AtomicUsize::new(0);
        let max = Mutex::new(f32::NEG_INFINITY);
        let ledger = Ledger::current();
        let lender = Lender::new(scratch);
        let engine = self.engine;
        let rows_per_step = n_mels.div_ceil(row_steps.max(1));
        let norm_steps = if row_steps > 0 {
            n_mels.div_ceil(rows_per_step)
        } else {
            parts.len()
        };
        let run = parallel::for_each_step_phased(workers, [scans, parts.len(), norm_steps], |step| {
            match step.phase {
                0 => {
                    let start = step.index * scan_len;
                    let chunk = real.get(start..real.len().min(start + scan_len)).unwrap_or_default();
                    check_finite(level, chunk, start)?;
                    let nonzero = kernels::nonzero_len(level, chunk);
                    if nonzero > 0 {
                        real_end.fetch_max(start + nonzero, Ordering::Relaxed);
                    }
                }
                1 => {
                    let Some(Ok(mut p)) = parts.get(step.index).map(Mutex::lock) else {
                        return Ok(());
                    };
                    #[cfg(test)]
                    if p.t0 == PANIC_AT_FRAME.load(Ordering::Relaxed) {
                        panic!("injected panic at frame {}", p.t0);
                    }
                    // phase 0 is complete (the boundary orders its writes)
                    let sig = self.signal_ending(real, n_samples, real_end.load(Ordering::Relaxed));
                    let (t0, n) = (p.t0, p.view.ncols());
                    let view = &mut p.view;
                    let m = with_ledger(&ledger, || {
                        lender.with(engine, |s| {
                            engine.frames(level, s, &sig, t0, n, |t, nb, block| {
                                write_block(view, t - t0, nb, block)
                            })
                        })
                    });
                    if let Ok(mut g) = max.lock() {
                        *g = g.max(m);
                    }
                }
                _ => {
                    let floor = clamp_floor(norm, max.lock().map_or(f32::NEG_INFINITY, |g| *g), top_db);
                    if row_steps == 0 {
                        if let Some(Ok(mut p)) = parts.get(step.index).map(Mutex::lock) {
                            normalise_view(level, &mut p.view, floor);
                        }
                        return Ok(());
                    }
                    // rows r0..r1 across every part, starting at a different
                    // part per step so that workers rarely wait on a lock
                    let r0 = step.index * rows_per_step;
                    let r1 = n_mels.min(r0 + rows_per_step);
                    let first = step.index * parts.len() / norm_steps;
                    for i in (first..parts.len()).chain(0..first) {
                        if let Some(Ok(mut p)) = parts.get(i).map(Mutex::lock) {
                            normalise_view(level, &mut p.view.slice_mut(s![r0..r1, ..]), floor);
                        }
                    }
                }
            }
            Ok::<(), MelError>(())
        });
        match run {
            // workers check chunks in any order: report the first culprit
            Err(e @ MelError::NonFiniteSample { .. }) => check_finite(level, real, 0).and(Err(e)),
            r => r,
        }
    }

    /// A batch: `clips[i]` into the `(n_mels, n_frames)` mel-major view
    /// `get(&mut outs[i], shape)` gives for the clip's shape (it checks the
    /// output's size). Everything is validated before anything is written.
    pub(crate) fn batch<O: Send>(
        &self,
        clips: &[&[f32]],
        outs: &mut [O],
        get: impl Fn(&mut O, MelShape) -> Result<ArrayViewMut2<'_, f32>> + Sync,
        scratch: &mut MelScratch,
    ) -> Result<()> {
        if clips.len() != outs.len() {
            return Err(MelError::BatchSize {
                clips: clips.len(),
                outputs: outs.len(),
            });
        }
        self.check_scratch(scratch)?;
        let item = |i: usize| {
            move |e: MelError| MelError::BatchItem {
                item: i,
                source: Box::new(e),
            }
        };
        let (layout, level) = (self.layout, self.level);
        let shape = |clip: &[f32]| self.config.output_shape(clip.len(), layout);
        for (i, (clip, out)) in clips.iter().zip(outs.iter_mut()).enumerate() {
            self.config.output_len(clip.len()).map_err(item(i))?;
            get(out, shape(clip).map_err(item(i))?).map_err(item(i))?;
            self.checked_real(clip).map_err(item(i))?;
        }
        let (norm, top_db) = (self.config.normalization, self.config.top_db);
        // one clip: raw values, normalised now unless the batch shares a maximum
        let per_clip = |s: &mut MelScratch, clip: &[f32], out: &mut O| -> f32 {
            let Ok(mut view) = shape(clip).and_then(|sh| get(out, sh)) else {
                return f32::NEG_INFINITY; // ok: validated above
            };
            let max = self.raw_single(s, self.real_part(clip), clip.len(), &mut view);
            if norm != Normalization::Global {
                normalise_view(level, &mut view, clamp_floor(norm, max, top_db));
            }
            max
        };
        let workers = parallel::resolve_threads(self.threads).min(clips.len()).max(1);
        let max = if workers <= 1 {
            let mut max = f32::NEG_INFINITY;
            for (clip, out) in clips.iter().zip(outs.iter_mut()) {
                max = max.max(per_clip(scratch, clip, out));
            }
            max
        } else {
            let ledger = Ledger::current();
            let lender = Lender::new(scratch);
            let max = Mutex::new(f32::NEG_INFINITY);
            // one clip at a time, claimed by whoever is free (clips of any
            // lengths balance)
            parallel::for_each_chunk_mut(workers, outs, 1, |ci, chunk| {
                #[cfg(test)]
                if ci == PANIC_AT_CHUNK.load(Ordering::Relaxed) {
                    panic!("injected panic in chunk {ci}");
                }
                let m = with_ledger(&ledger, || {
                    lender.with(self.engine, |s| {
                        let mut m = f32::NEG_INFINITY;
                        for (clip, out) in clips.get(ci..).unwrap_or_default().iter().zip(chunk.iter_mut()) {
                            m = m.max(per_clip(s, clip, out));
                        }
                        m
                    })
                });
                if let Ok(mut g) = max.lock() {
                    *g = g.max(m);
                }
                Ok::<(), MelError>(())
            })?;
            max.into_inner().unwrap_or(f32::NEG_INFINITY)
        };
        if norm == Normalization::Global {
            let floor = clamp_floor(norm, max, top_db);
            parallel::for_each_chunk_mut(workers, outs, 1, |ci, chunk| {
                for (clip, out) in clips.get(ci..).unwrap_or_default().iter().zip(chunk.iter_mut()) {
                    if let Ok(mut view) = shape(clip).and_then(|sh| get(out, sh)) {
                        normalise_view(level, &mut view, floor);
                    }
                }
                Ok::<(), MelError>(())
            })?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::Ordering;

    use zc_buffers::BufferError;

    use super::{PANIC_AT_CHUNK, PANIC_AT_FRAME};
    use crate::{MelConfig, MelError, MelSpectrogram};

    fn audio(n: usize) -> Vec<f32> {
        (0..n).map(|i| (i as f32 * 0.01).sin() * 0.2).collect()
    }

    /// A panicking worker is `BufferError::WorkerPanicked`, never `Ok`
    /// with a partial result; the plan works again afterwards.
    #[test]
    fn a_worker_panic_is_an_error() {
        let plan = MelSpectrogram::builder(MelConfig::whisper(80))
            .threads(2)
            .build()
            .unwrap();
        let x = audio(48_000); // 300 frames, parts at 0, 80, 136, 184, ...
        let third: usize = super::part_lens(300, 2).take(2).sum();
        assert_eq!(third, 136);
        let mut out = vec![0f32; plan.output_len(x.len()).unwrap()];
        PANIC_AT_FRAME.store(third, Ordering::Relaxed);
        let r = plan.compute_into_slice(&x, &mut out);
        PANIC_AT_FRAME.store(usize::MAX, Ordering::Relaxed);
        match r {
            Err(MelError::Buffer(BufferError::WorkerPanicked { message, .. })) => {
                assert_eq!(message, "injected panic at frame 136")
            }
            other => panic!("expected WorkerPanicked, got {other:?}"),
        }
        assert!(plan.compute_into_slice(&x, &mut out).is_ok());

        let clips: Vec<Vec<f32>> = (0..4).map(|i| audio(4_000 + 100 * i)).collect();
        let refs: Vec<&[f32]> = clips.iter().map(|c| c.as_slice()).collect();
        let mut outs: Vec<Vec<f32>> = clips
            .iter()
            .map(|c| vec![0f32; plan.output_len(c.len()).unwrap()])
            .collect();
        let mut o: Vec<&mut [f32]> = outs.iter_mut().map(|v| v.as_mut_slice()).collect();
        let mut scratch = plan.make_scratch();
        PANIC_AT_CHUNK.store(1, Ordering::Relaxed);
        let r = plan.compute_batch_into_slices(&refs, &mut o, &mut scratch);
        PANIC_AT_CHUNK.store(usize::MAX, Ordering::Relaxed);
        assert!(
            matches!(r, Err(MelError::Buffer(BufferError::WorkerPanicked { ref message, .. })) if message == "injected panic in chunk 1"),
            "{r:?}"
        );
        assert!(plan.compute_batch_into_slices(&refs, &mut o, &mut scratch).is_ok());
    }

    /// Parts cover the clip exactly, in whole lanes but the last, shrinking.
    #[test]
    fn parts_cover_every_frame_and_shrink() {
        for workers in 1..5 {
            for n in [0, 1, 31, 64, 300, 3000, 3001, 100_000] {
                let lens: Vec<usize> = super::part_lens(n, workers).collect();
                assert_eq!(lens.iter().sum::<usize>(), n);
                assert!(lens.iter().all(|&l| l > 0));
                let (last, whole) = lens.split_last().map_or((0, &[][..]), |(l, w)| (*l, w));
                assert!(whole.iter().all(|l| l % crate::kernels::LANES == 0), "{lens:?}");
                assert!(whole.windows(2).all(|w| w[0] >= w[1]), "{lens:?}");
                assert!(last <= n);
            }
        }
        assert_eq!(super::part_lens(3000, 2).count(), 15);
    }

    /// The threaded clip against one thread, bit for bit: mel-major (rows
    /// normalised across parts) and frame-major outputs, a slice and the
    /// corner of a larger array, a clip whose loudest part comes last; and
    /// non-finite samples: the first one is reported, the output untouched.
    #[test]
    #[cfg_attr(
        miri,
        ignore = "minutes of interpretation; the threaded path runs under Miri in a_worker_panic_is_an_error"
    )]
    fn threaded_clip_matches_one_thread_and_checks_first() {
        use crate::Layout;
        use ndarray::{Array2, s};
        let mut x = audio(16_000 * 7 + 123);
        let n = x.len();
        for (i, v) in x[n - 16_000..].iter_mut().enumerate() {
            *v = 0.9 * (i as f32 * 0.3).sin(); // the maximum is in the last part
        }
        for layout in [Layout::MelMajor, Layout::FrameMajor] {
            let one = MelSpectrogram::builder(MelConfig::whisper(80))
                .layout(layout)
                .build()
                .unwrap();
            let want = one.compute(&x).unwrap();
            for threads in [2, 3, 5] {
                let plan = one.to_builder().threads(threads).build().unwrap();
                let mut out = vec![7f32; plan.output_len(n).unwrap()];
                plan.compute_into_slice(&x, &mut out).unwrap();
                assert_eq!(out, want.iter().copied().collect::<Vec<_>>(), "{layout:?} {threads}");
                let (r, c) = want.dim();
                let mut big = Array2::<f32>::from_elem((r + 3, c + 5), 7.0);
                plan.compute_into_view(&x, big.view_mut()).unwrap();
                assert_eq!(big.slice(s![..r, ..c]), want, "{layout:?} {threads} view");
                assert!(
                    big.slice(s![r.., ..])
                        .iter()
                        .chain(big.slice(s![.., c..]))
                        .all(|&v| v == 7.0)
                );

                let mut bad = x.clone();
                bad[n - 10] = f32::INFINITY;
                bad[40_000] = f32::NAN;
                let mut out = vec![7f32; plan.output_len(n).unwrap()];
                match plan.compute_into_slice(&bad, &mut out) {
                    Err(MelError::NonFiniteSample { index: 40_000, value }) => assert!(value.is_nan()),
                    other => panic!("expected the first non-finite sample, got {other:?}"),
                }
                assert!(out.iter().all(|&v| v == 7.0), "output touched");
            }
        }
    }
}
