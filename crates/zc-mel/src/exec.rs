//! Running a plan: one clip on the calling thread or split by frames over
//! worker threads, and batches of clips spread over workers. Every fan-out
//! goes through [`zc_buffers::parallel`] (thread policy, worker panics).

use std::sync::Mutex;

use ndarray::{ArrayViewMut2, Axis};
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

/// Parts a clip is split into per thread.
const PARTS_PER_THREAD: usize = 4;

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

/// One worker's share of a clip: frames `t0..t0 + view.ncols()`.
struct Part<'v> {
    t0: usize,
    view: ArrayViewMut2<'v, f32>,
    max: f32,
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
    fn real_part<'a>(&self, samples: &'a [f32]) -> &'a [f32] {
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
        Signal {
            data: real,
            offset: 0,
            real_end: kernels::nonzero_len(self.level, real),
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
    /// checked against the configuration, `real` checked for finiteness.
    /// Split by frames over the plan's threads when the clip is long enough.
    pub(crate) fn clip(
        &self,
        real: &[f32],
        n_samples: usize,
        mut out: ArrayViewMut2<'_, f32>,
        scratch: &mut MelScratch,
    ) -> Result<()> {
        let n_frames = out.ncols();
        // a few parts per thread, claimed dynamically: the caller starts at
        // once while the other workers are being spawned, and whoever is
        // ahead takes the next part
        let parts = if self.threads <= 1 {
            1
        } else {
            (self.threads * PARTS_PER_THREAD)
                .min(n_frames / MIN_FRAMES_PER_THREAD)
                .max(1)
        };
        let (level, top_db, norm) = (self.level, self.config.top_db, self.config.normalization);
        if parts <= 1 {
            let max = self.raw_single(scratch, real, n_samples, &mut out);
            normalise_view(level, &mut out, clamp_floor(norm, max, top_db));
            return Ok(());
        }
        let sig = self.signal(real, n_samples);
        let per = n_frames.div_ceil(parts).next_multiple_of(LANES);
        let mut split = Vec::with_capacity(parts);
        let mut rest = out;
        let mut t0 = 0;
        while rest.ncols() > 0 {
            let take = per.min(rest.ncols());
            let (part, r) = rest.split_at(Axis(1), take);
            rest = r;
            split.push(Part {
                t0,
                view: part,
                max: f32::NEG_INFINITY,
            });
            t0 += take;
        }
        let ledger = Ledger::current();
        let lender = Lender::new(scratch);
        let engine = self.engine;
        parallel::for_each_chunk_mut(self.threads, &mut split, 1, |_, parts| {
            with_ledger(&ledger, || {
                for p in parts.iter_mut() {
                    #[cfg(test)]
                    if p.t0 == PANIC_AT_FRAME.load(std::sync::atomic::Ordering::Relaxed) {
                        panic!("injected panic at frame {}", p.t0);
                    }
                    let (t0, n) = (p.t0, p.view.ncols());
                    let view = &mut p.view;
                    p.max = lender.with(engine, |s| {
                        engine.frames(level, s, &sig, t0, n, |t, nb, block| {
                            write_block(view, t - t0, nb, block)
                        })
                    });
                }
            });
            Ok::<(), MelError>(())
        })?;
        let max = split.iter().fold(f32::NEG_INFINITY, |m, p| m.max(p.max));
        let floor = clamp_floor(norm, max, top_db);
        // on the caller: the pass is ~2.5 % of the clip, less than a second
        // thread spawn and join cost here (22 µs minimum, 63 µs mean)
        for p in &mut split {
            normalise_view(level, &mut p.view, floor);
        }
        Ok(())
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
        let per = clips.len().div_ceil(workers).max(1);
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
            parallel::for_each_chunk_mut(workers, outs, per, |ci, chunk| {
                #[cfg(test)]
                if ci == PANIC_AT_CHUNK.load(std::sync::atomic::Ordering::Relaxed) {
                    panic!("injected panic in chunk {ci}");
                }
                let m = with_ledger(&ledger, || {
                    lender.with(self.engine, |s| {
                        let mut m = f32::NEG_INFINITY;
                        let cs = clips.get(ci * per..).unwrap_or_default();
                        for (clip, out) in cs.iter().zip(chunk.iter_mut()) {
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
            for (clip, out) in clips.iter().zip(outs.iter_mut()) {
                if let Ok(mut view) = shape(clip).and_then(|sh| get(out, sh)) {
                    normalise_view(level, &mut view, floor);
                }
            }
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
        let x = audio(48_000); // 300 frames: 4 parts (64 frames at least), at frames 0, 80, 160, 240
        let mut out = vec![0f32; plan.output_len(x.len()).unwrap()];
        PANIC_AT_FRAME.store(160, Ordering::Relaxed);
        let r = plan.compute_into_slice(&x, &mut out);
        PANIC_AT_FRAME.store(usize::MAX, Ordering::Relaxed);
        match r {
            Err(MelError::Buffer(BufferError::WorkerPanicked { message, .. })) => {
                assert_eq!(message, "injected panic at frame 160")
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
}
