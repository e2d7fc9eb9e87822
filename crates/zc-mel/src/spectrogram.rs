//! The log-mel plan: built once, run many times on caller-owned memory.

use std::sync::Arc;

use ndarray::{Array2, ArrayViewMut2, Axis, ShapeBuilder};
use rustfft::num_complex::Complex32;
use rustfft::{Fft, FftPlanner};
use zc_buffers::ledger::{self, Ledger};
use zc_buffers::{HostBufferMut, HostBufferMutExt, SimdLevel};

use crate::config::{Layout, MelConfig, Normalization};
use crate::error::{MelError, Result};
use crate::filters::MelFilterbank;
use crate::kernels::{self, KernelLevel, LANES, LaneFft, POWER_FLOOR};

/// The immutable part of a plan, shared by clones and worker threads.
struct Shared {
    n_fft: usize,
    hop: usize,
    n_mels: usize,
    fft: Arc<dyn Fft<f32>>,
    /// The lane-parallel FFT when `n_fft / 2` has no prime factor above 5
    /// (then `fft` is unused), at every kernel level.
    lane: Option<LaneFft>,
    filters: MelFilterbank,
    window: Vec<f32>,
    /// First and one-past-last FFT bin any mel band uses.
    k0: usize,
    k1: usize,
    /// `cos`, `-sin` of `2πk / n_fft` for `k in 0..=n_fft/4`.
    twc: Vec<f32>,
    tws: Vec<f32>,
}

/// Per-thread working memory.
#[derive(Clone)]
struct Scratch {
    /// One frame assembled from reflect / zero padding; on the lane-FFT
    /// path one per lane plus an all-zero one read by silent lanes.
    frame: Vec<f32>,
    /// `LANES` packed half-length complex frames (the rustfft path's FFT
    /// input; empty on the lane-FFT path, which windows straight into `zr`, `zi`).
    fft: Vec<Complex32>,
    /// Their spectra, plus an all-zero chunk read by silent lanes (rustfft
    /// path; empty on the lane-FFT path).
    spec: Vec<Complex32>,
    fft_scratch: Vec<Complex32>,
    /// Transposed spectra, `(n_fft/2 + 1, LANES)`.
    zr: Vec<f32>,
    zi: Vec<f32>,
    /// The lane FFT's other ping-pong buffers, `(n_fft/2 + 1, LANES)`
    /// (empty on the rustfft path).
    yr: Vec<f32>,
    yi: Vec<f32>,
    /// Power rows `(k1 - k0, LANES)`.
    pow: Vec<f32>,
    /// Log-mel `(n_mels, LANES)`.
    mel: Vec<f32>,
}

impl Scratch {
    fn new(shared: &Shared) -> Self {
        let m = shared.n_fft / 2;
        let zero = Complex32::new(0.0, 0.0);
        let lane = shared.lane.is_some();
        let (fft_len, spec_len, scratch_len, y_len) = if lane {
            (0, 0, 0, (m + 1) * LANES)
        } else {
            (m * LANES, m * (LANES + 1), shared.fft.get_outofplace_scratch_len(), 0)
        };
        Self {
            frame: vec![0.0; if lane { shared.n_fft * (LANES + 1) } else { shared.n_fft }],
            fft: vec![zero; fft_len],
            spec: vec![zero; spec_len],
            fft_scratch: vec![zero; scratch_len],
            zr: vec![0.0; (m + 1) * LANES],
            zi: vec![0.0; (m + 1) * LANES],
            yr: vec![0.0; y_len],
            yi: vec![0.0; y_len],
            pow: vec![0.0; (shared.k1 - shared.k0) * LANES],
            mel: vec![0.0; shared.n_mels * LANES],
        }
    }

    fn bytes(&self) -> usize {
        (self.frame.len()
            + self.zr.len()
            + self.zi.len()
            + self.yr.len()
            + self.yi.len()
            + self.pow.len()
            + self.mel.len())
            * 4
            + (self.fft.len() + self.spec.len() + self.fft_scratch.len()) * 8
    }
}

/// The signal as the STFT sees it: samples `offset..real_end` held in
/// `data`, virtual zeros from `real_end` to `len`, reflected at both ends.
#[derive(Clone, Copy)]
pub(crate) struct Signal<'a> {
    pub(crate) data: &'a [f32],
    /// Index (in signal coordinates) of `data[0]`.
    pub(crate) offset: usize,
    /// End of the real samples.
    pub(crate) real_end: usize,
    /// Length of the (zero-padded) signal; reflection happens at `len - 1`.
    pub(crate) len: usize,
}

impl Signal<'_> {
    /// Index into the signal of padded position `j` (`-len < j < 2 len - 1`).
    #[inline]
    fn reflect(&self, j: isize) -> usize {
        let len = self.len as isize;
        let i = if j < 0 {
            -j
        } else if j >= len {
            2 * (len - 1) - j
        } else {
            j
        };
        i.max(0) as usize
    }

    #[inline]
    fn at(&self, j: isize) -> f32 {
        let i = self.reflect(j);
        if i >= self.real_end {
            return 0.0;
        }
        i.checked_sub(self.offset)
            .and_then(|k| self.data.get(k))
            .copied()
            .unwrap_or(0.0)
    }

    /// The `n` samples from position `start` when they are all real and held.
    #[inline]
    fn contiguous(&self, start: isize, n: usize) -> Option<&[f32]> {
        let s = usize::try_from(start).ok()?;
        if s < self.offset || s + n > self.real_end {
            return None;
        }
        self.data.get(s - self.offset..s - self.offset + n)
    }

    /// Whether every sample of the window at `start..start + n` is a
    /// virtual zero (after reflection).
    #[inline]
    fn is_silent(&self, start: isize, n: usize) -> bool {
        let end = start + n as isize - 1;
        // reflect() is piecewise monotone with its minimum 0 at j = 0, so the
        // smallest index read is at an end of the window or 0 inside it
        let mut lo = self.reflect(start).min(self.reflect(end));
        if start <= 0 && end >= 0 {
            lo = 0;
        }
        lo >= self.real_end
    }
}

impl Shared {
    fn new(config: &MelConfig) -> Result<Self> {
        let filters = MelFilterbank::new(config)?;
        let n = config.n_fft;
        let m = n / 2;
        let fft = FftPlanner::<f32>::new().plan_fft_forward(m);
        let lane = LaneFft::new(m);
        // periodic Hann, computed in f64 (torch.hann_window(n, periodic=True))
        let window = (0..n)
            .map(|k| (0.5 - 0.5 * (2.0 * std::f64::consts::PI * k as f64 / n as f64).cos()) as f32)
            .collect();
        let mut k0 = m + 1;
        let mut k1 = 0;
        for b in 0..filters.n_mels() {
            if let Some((start, w)) = filters.band(b)
                && !w.is_empty()
            {
                k0 = k0.min(start);
                k1 = k1.max(start + w.len());
            }
        }
        if k1 <= k0 {
            (k0, k1) = (0, 1);
        }
        let angle = |k: usize| 2.0 * std::f64::consts::PI * k as f64 / n as f64;
        let twc = (0..=m / 2).map(|k| angle(k).cos() as f32).collect();
        let tws = (0..=m / 2).map(|k| -angle(k).sin() as f32).collect();
        Ok(Self {
            n_fft: n,
            hop: config.hop_length,
            n_mels: config.n_mels,
            fft,
            lane,
            filters,
            window,
            k0,
            k1,
            twc,
            tws,
        })
    }

    /// Raw `log10` mel values of frames `t0..t0 + n` of `sig`, handed to
    /// `sink(first_frame, frames, block)` a block of up to [`LANES`] frames
    /// at a time (`block` is `(n_mels, LANES)`). Returns the largest value.
    fn frames(
        &self,
        level: KernelLevel,
        s: &mut Scratch,
        sig: &Signal<'_>,
        t0: usize,
        n: usize,
        mut sink: impl FnMut(usize, usize, &[f32]),
    ) -> f32 {
        let m = self.n_fft / 2;
        let half = (self.n_fft / 2) as isize;
        let mut max = [f32::NEG_INFINITY; LANES];
        // log10(1e-10) as the kernels compute it: the value of a silent frame
        let floor_log = kernels::log10_one(level, POWER_FLOOR);
        let mut t = t0;
        while t < t0 + n {
            let nb = LANES.min(t0 + n - t);
            if let Some(lane) = &self.lane {
                self.lane_block(level, lane, s, sig, t, nb, floor_log, &mut max);
                sink(t, nb, &s.mel);
                t += nb;
                continue;
            }
            // silent lanes read the all-zero chunk after the LANES frame chunks
            let mut slots = [LANES; LANES];
            let mut active = 0;
            for (l, slot) in slots.iter_mut().enumerate().take(nb) {
                let start = ((t + l) * self.hop) as isize - half;
                if sig.is_silent(start, self.n_fft) {
                    continue;
                }
                let dst = &mut s.fft[active * m..(active + 1) * m];
                if let Some(src) = sig.contiguous(start, self.n_fft) {
                    kernels::window(level, src, &self.window, dst);
                } else {
                    for (i, v) in s.frame.iter_mut().enumerate() {
                        *v = sig.at(start + i as isize);
                    }
                    kernels::window(level, &s.frame, &self.window, dst);
                }
                *slot = active;
                active += 1;
            }
            if active == 0 {
                // every frame of the block is silent: power 0, log10(1e-10)
                s.mel.fill(floor_log);
                for v in &mut max {
                    *v = v.max(floor_log);
                }
            } else {
                self.fft.process_outofplace_with_scratch(
                    &mut s.fft[..active * m],
                    &mut s.spec[..active * m],
                    &mut s.fft_scratch,
                );
                kernels::gather(level, &s.spec, &slots, m, &mut s.zr, &mut s.zi);
                self.power_log(level, s, &mut max);
            }
            sink(t, nb, &s.mel);
            t += nb;
        }
        max.into_iter().fold(f32::NEG_INFINITY, f32::max)
    }

    /// One block of `nb` frames from `t` on the lane-FFT path: window and
    /// transpose straight from the signal, FFT all lanes at once, then
    /// [`Self::power_log`].
    #[allow(clippy::too_many_arguments)]
    fn lane_block(
        &self,
        level: KernelLevel,
        lane: &LaneFft,
        s: &mut Scratch,
        sig: &Signal<'_>,
        t: usize,
        nb: usize,
        floor_log: f32,
        max: &mut [f32; LANES],
    ) {
        let n = self.n_fft;
        let m = n / 2;
        let half = m as isize;
        // per lane: Some(Ok(start)) contiguous, Some(Err(chunk)) assembled in s.frame, None silent
        let mut kinds = [None; LANES];
        for (l, kind) in kinds.iter_mut().enumerate().take(nb) {
            let start = ((t + l) * self.hop) as isize - half;
            if sig.is_silent(start, n) {
                continue;
            }
            if sig.contiguous(start, n).is_some() {
                *kind = Some(Ok(start));
            } else {
                let dst = s.frame.get_mut(l * n..(l + 1) * n).unwrap_or_default();
                for (i, v) in dst.iter_mut().enumerate() {
                    *v = sig.at(start + i as isize);
                }
                *kind = Some(Err(l));
            }
        }
        if kinds.iter().all(Option::is_none) {
            // every frame of the block is silent: power 0, log10(1e-10)
            s.mel.fill(floor_log);
            for v in max.iter_mut() {
                *v = v.max(floor_log);
            }
            return;
        }
        // the chunk after the LANES frame chunks stays zero: silent lanes read it
        let zero = s.frame.get(LANES * n..(LANES + 1) * n).unwrap_or_default();
        let rows: [&[f32]; LANES] = kinds.map(|k| match k {
            Some(Ok(start)) => sig.contiguous(start, n).unwrap_or(zero),
            Some(Err(l)) => s.frame.get(l * n..(l + 1) * n).unwrap_or(zero),
            None => zero,
        });
        // the input goes where an odd number of stages starts so the
        // spectrum always ends in zr, zi
        let (a, b) = (&mut s.zr, &mut s.zi);
        let (c, d) = (&mut s.yr, &mut s.yi);
        let (xr, xi, yr, yi) = if lane.odd() { (c, d, a, b) } else { (a, b, c, d) };
        kernels::window_gather(level, &rows, &self.window, m, xr, xi);
        kernels::lane_fft(level, lane, xr, xi, yr, yi);
        kernels::wrap(m, &mut s.zr, &mut s.zi);
        self.power_log(level, s, max);
    }

    /// Power spectrum, mel projection and `log10` of the transposed spectra in `s.zr`, `s.zi`.
    fn power_log(&self, level: KernelLevel, s: &mut Scratch, max: &mut [f32; LANES]) {
        let m = self.n_fft / 2;
        kernels::power(level, &s.zr, &s.zi, m, self.k0, &self.twc, &self.tws, &mut s.pow);
        kernels::project(level, &self.filters, &s.pow, self.k0, &mut s.mel);
        kernels::log_max(level, &mut s.mel, max);
    }
}

/// Write a block of `nb` frames (`(n_mels, LANES)`) into columns
/// `c0..c0 + nb` of a `(n_mels, frames)` view with any strides.
#[inline]
fn write_block(out: &mut ArrayViewMut2<'_, f32>, c0: usize, nb: usize, block: &[f32]) {
    let (rows, cols) = out.dim();
    if c0 + nb > cols || block.len() < rows * LANES {
        return;
    }
    let (s0, s1) = (out.strides()[0], out.strides()[1]);
    if s1 == 1 && nb == LANES {
        // rows contiguous along frames (mel-major): eight-value runs
        for (m, src) in block.chunks_exact(LANES).take(rows).enumerate() {
            let mut row = out.row_mut(m);
            if let Some(dst) = row.as_slice_mut().and_then(|r| r.get_mut(c0..c0 + LANES)) {
                dst.copy_from_slice(src);
            }
        }
        return;
    }
    let ptr = out.as_mut_ptr();
    for (m, src) in block.chunks_exact(LANES).take(rows).enumerate() {
        for (l, &v) in src.iter().take(nb).enumerate() {
            let offset = m as isize * s0 + (c0 + l) as isize * s1;
            // SAFETY: m < rows and c0 + l < cols (checked above), so the
            // offset addresses element [m, c0 + l] of the view, which the
            // view borrows mutably and exclusively.
            unsafe { *ptr.offset(offset) = v };
        }
    }
}

/// Apply Whisper's clamp and scaling to every value of a view.
fn normalise_view(level: KernelLevel, out: &mut ArrayViewMut2<'_, f32>, floor: f32) {
    if let Some(slice) = out.as_slice_memory_order_mut() {
        kernels::normalise(level, slice, floor);
    } else {
        for mut lane in out.lanes_mut(Axis(1)) {
            match lane.as_slice_mut() {
                Some(s) => kernels::normalise(level, s, floor),
                None => lane.map_inplace(|v| *v = kernels::normalise_one(*v, floor)),
            }
        }
    }
}

/// The largest value of the computed output: reduce per normalisation.
fn clamp_floor(norm: Normalization, computed_max: f32, top_db: f32) -> f32 {
    match norm {
        Normalization::Fixed(m) => m - top_db,
        Normalization::Global | Normalization::PerItem => computed_max - top_db,
    }
}

/// Run `f` under `ledger` (if any), so copies made on a worker thread are
/// recorded where the caller is looking.
fn with_ledger<R>(ledger: &Option<Ledger>, f: impl FnOnce() -> R) -> R {
    match ledger {
        Some(l) => l.enter(f),
        None => f(),
    }
}

/// One batch worker's share: its scratch, clips, outputs and the maximum
/// it found.
type BatchJob<'s, 'c, 'o, 'd> = (&'s mut Scratch, &'c [&'c [f32]], &'o mut [&'d mut [f32]], f32);

/// Frames per thread below which splitting does not pay.
const MIN_FRAMES_PER_THREAD: usize = 64;

/// A Whisper log-mel plan that can be shared: immutable after construction
/// (`Send + Sync`; put it in an `Arc` and hand it to every thread), run on
/// caller-owned scratch ([`MelPlan::make_scratch`], one per thread) into
/// caller-owned output, with **no heap allocation** on one thread.
///
/// This is rustfft's split of plan and scratch; [`MelSpectrogram`] is the
/// convenience type that owns one scratch for single-threaded use.
///
/// ```
/// use std::sync::Arc;
/// use zc_mel::{Layout, MelConfig, MelPlan};
///
/// let plan = Arc::new(MelPlan::new(MelConfig::whisper(80))?);
/// let clip: Vec<f32> = (0..16_000).map(|i| (i as f32 * 0.01).sin()).collect();
/// let n = 80 * plan.n_frames(clip.len())?;
/// let results = std::thread::scope(|s| {
///     let handles: Vec<_> = (0..2)
///         .map(|_| {
///             let (plan, clip) = (Arc::clone(&plan), &clip);
///             s.spawn(move || -> zc_mel::Result<Vec<f32>> {
///                 let mut scratch = plan.make_scratch();              // per thread, once
///                 let mut out = vec![0f32; n];
///                 plan.compute_into_slice_with_scratch(clip, &mut out, Layout::MelMajor, &mut scratch)?;
///                 Ok(out)
///             })
///         })
///         .collect();
///     // a panicked thread counts as a failed result here
///     handles.into_iter().map(|h| h.join().ok().and_then(Result::ok)).collect::<Vec<_>>()
/// });
/// assert!(results[0].is_some());
/// assert_eq!(results[0], results[1]);
/// # Ok::<(), zc_mel::MelError>(())
/// ```
#[derive(Clone)]
pub struct MelPlan {
    config: MelConfig,
    shared: Arc<Shared>,
    level: KernelLevel,
    threads: usize,
}

/// Working memory for one caller of a [`MelPlan`] (and its worker threads,
/// when the plan uses several): made once by [`MelPlan::make_scratch`],
/// reused for every call.
#[derive(Clone)]
pub struct MelScratch {
    main: Scratch,
    /// Scratch for worker threads (`threads - 1` of them).
    workers: Vec<Scratch>,
}

impl std::fmt::Debug for MelScratch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MelScratch")
            .field("threads", &(self.workers.len() + 1))
            .field("bytes", &self.bytes())
            .finish()
    }
}

impl MelScratch {
    /// Bytes of working memory held.
    pub fn bytes(&self) -> usize {
        self.main.bytes() + self.workers.iter().map(Scratch::bytes).sum::<usize>()
    }
}

impl std::fmt::Debug for MelPlan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MelPlan")
            .field("config", &self.config)
            .field("simd", &self.simd_level())
            .field("threads", &self.threads)
            .field("filter_weights", &self.shared.filters.nonzero_weights())
            .finish()
    }
}

impl MelPlan {
    /// Plan a spectrogram for `config` (validated), using the fastest
    /// kernels this CPU supports (capped by `ZC_SIMD`) and one thread.
    pub fn new(config: MelConfig) -> Result<Self> {
        let shared = Shared::new(&config)?;
        let table_bytes = (shared.window.len() + shared.twc.len() * 2) * 4;
        ledger::record_alloc(table_bytes);
        Ok(Self {
            config,
            shared: Arc::new(shared),
            level: KernelLevel::detect(),
            threads: 1,
        })
    }

    /// The same plan on another SIMD level (to test or measure the portable
    /// path). zc-mel has kernels for `Portable`, `Avx2` and `Avx512`;
    /// a level the CPU lacks is `BufferError::SimdUnavailable`, one zc-mel
    /// has no kernel for (`Popcnt`, `Avx512Vpopcnt`) runs the next lower one.
    pub fn simd(mut self, level: SimdLevel) -> Result<Self> {
        level.require()?;
        self.level = KernelLevel::from_simd(level);
        Ok(self)
    }

    /// The SIMD level the kernels run at.
    pub fn simd_level(&self) -> SimdLevel {
        self.level.to_simd()
    }

    /// The same plan splitting each long clip (or a batch) over `threads`
    /// threads (`0`: every core, the workspace policy of
    /// [`zc_buffers::parallel::resolve_threads`]). Output is identical to one
    /// thread; scratch made by [`make_scratch`](Self::make_scratch) afterwards
    /// holds the workers' memory.
    pub fn threads(mut self, threads: usize) -> Self {
        self.threads = zc_buffers::parallel::resolve_threads(threads).max(1);
        self
    }

    /// Threads each call uses (at most; fewer when the scratch holds fewer).
    pub fn thread_count(&self) -> usize {
        self.threads
    }

    /// Working memory for one caller (and the plan's worker threads).
    /// Allocates; make it once per thread and reuse it.
    pub fn make_scratch(&self) -> MelScratch {
        let main = Scratch::new(&self.shared);
        let workers = (1..self.threads).map(|_| Scratch::new(&self.shared)).collect();
        let s = MelScratch { main, workers };
        ledger::record_alloc(s.bytes());
        s
    }

    /// Bytes [`make_scratch`](Self::make_scratch) allocates.
    pub fn scratch_bytes(&self) -> usize {
        Scratch::new(&self.shared).bytes() * self.threads
    }

    /// The configuration.
    pub fn config(&self) -> &MelConfig {
        &self.config
    }

    /// The mel filterbank.
    pub fn filters(&self) -> &MelFilterbank {
        &self.shared.filters
    }

    /// Frames produced for `n_samples` input samples (see [`MelConfig::n_frames`]).
    pub fn n_frames(&self, n_samples: usize) -> Result<usize> {
        self.config.n_frames(n_samples)
    }

    /// `(rows, cols)` of the output for `n_samples` samples in `layout`.
    pub fn output_shape(&self, n_samples: usize, layout: Layout) -> Result<(usize, usize)> {
        self.config.output_shape(n_samples, layout)
    }

    /// Bytes of `f32` output for `n_samples` samples: the least a buffer
    /// taken from a pool must hold (a larger one is fine: its prefix is written).
    pub fn output_bytes(&self, n_samples: usize) -> Result<usize> {
        self.config.output_bytes(n_samples)
    }

    /// Compute into any writable host buffer (a pool guard, an
    /// [`AlignedBuf`](zc_buffers::AlignedBuf), a writable mapping) holding at
    /// least [`output_bytes`](Self::output_bytes) of 4-byte-aligned memory:
    /// its prefix receives the row-major `f32` matrix in `layout`. Returns
    /// `(rows, cols)`.
    pub fn compute_into_with_scratch<B: HostBufferMut + ?Sized>(
        &self,
        samples: &[f32],
        out: &mut B,
        layout: Layout,
        scratch: &mut MelScratch,
    ) -> Result<(usize, usize)> {
        let slice = out.as_slice_mut::<f32>()?;
        self.compute_into_slice_with_scratch(samples, slice, layout, scratch)
    }

    /// Compute into an `f32` slice holding at least `n_mels * n_frames`
    /// values; the prefix receives the matrix, row-major in `layout`.
    /// Returns `(rows, cols)`. Too small is `BufferError::OutputTooSmall`
    /// and nothing is written.
    pub fn compute_into_slice_with_scratch(
        &self,
        samples: &[f32],
        out: &mut [f32],
        layout: Layout,
        scratch: &mut MelScratch,
    ) -> Result<(usize, usize)> {
        let n_frames = self.n_frames(samples.len())?;
        let shape = layout.shape(self.config.n_mels, n_frames);
        let view = slice_view(out, self.config.n_mels, n_frames, layout)?;
        let real = self.checked_real(samples)?;
        self.run(scratch, real, samples.len(), view)?;
        Ok(shape)
    }

    /// Compute into a 2-D view of any strides at least as large as the
    /// output shape in `layout` (`(n_mels, n_frames)` for
    /// [`Layout::MelMajor`], `(n_frames, n_mels)` for [`Layout::FrameMajor`]);
    /// its top-left block receives the matrix. Returns `(rows, cols)`.
    pub fn compute_into_view_with_scratch(
        &self,
        samples: &[f32],
        out: ArrayViewMut2<'_, f32>,
        layout: Layout,
        scratch: &mut MelScratch,
    ) -> Result<(usize, usize)> {
        let n_frames = self.n_frames(samples.len())?;
        let expected = layout.shape(self.config.n_mels, n_frames);
        let (rows, cols) = out.dim();
        if rows < expected.0 || cols < expected.1 {
            return Err(MelError::ShapeMismatch {
                expected,
                actual: (rows, cols),
            });
        }
        let block = out.slice_move(ndarray::s![..expected.0, ..expected.1]);
        let mel_major = match layout {
            Layout::MelMajor => block,
            Layout::FrameMajor => block.reversed_axes(),
        };
        let real = self.checked_real(samples)?;
        self.run(scratch, real, samples.len(), mel_major)?;
        Ok(expected)
    }

    /// Compute a batch of independent clips, `clips[i]` into `outs[i]`
    /// (each at least as large as for
    /// [`compute_into_slice_with_scratch`](Self::compute_into_slice_with_scratch)
    /// for its own length). The clamp maximum follows
    /// [`MelConfig::normalization`]: `Global` takes it over the whole batch
    /// (as Whisper does for a batched tensor), `PerItem` per clip, `Fixed`
    /// from the caller. With several threads the clips are spread over them.
    /// Everything is validated before anything is written; errors name the
    /// clip ([`MelError::BatchItem`]).
    pub fn compute_batch_into_slices_with_scratch(
        &self,
        clips: &[&[f32]],
        outs: &mut [&mut [f32]],
        layout: Layout,
        scratch: &mut MelScratch,
    ) -> Result<()> {
        if clips.len() != outs.len() {
            return Err(MelError::BatchSize {
                clips: clips.len(),
                outputs: outs.len(),
            });
        }
        let item = |i: usize| {
            move |e: MelError| MelError::BatchItem {
                item: i,
                source: Box::new(e),
            }
        };
        for (i, (clip, out)) in clips.iter().zip(outs.iter_mut()).enumerate() {
            let n_frames = self.n_frames(clip.len()).map_err(item(i))?;
            slice_view(out, self.config.n_mels, n_frames, layout).map_err(item(i))?;
            self.checked_real(clip).map_err(item(i))?;
        }
        let norm = self.config.normalization;
        let (n_mels, level, top_db) = (self.config.n_mels, self.level, self.config.top_db);
        let per_clip = |scratch: &mut Scratch, clip: &[f32], out: &mut [f32]| -> f32 {
            let n_frames = self.n_frames(clip.len()).unwrap_or(0); // ok: validated above
            let Ok(mut view) = slice_view(out, n_mels, n_frames, layout) else {
                return f32::NEG_INFINITY; // ok: validated above
            };
            let real = self.real_part(clip);
            let max = self.raw_single(scratch, real, clip.len(), &mut view);
            if norm != Normalization::Global {
                normalise_view(level, &mut view, clamp_floor(norm, max, top_db));
            }
            max
        };
        let parts = (scratch.workers.len() + 1).min(self.threads).min(clips.len());
        let max = if parts <= 1 {
            let mut max = f32::NEG_INFINITY;
            for (clip, out) in clips.iter().zip(outs.iter_mut()) {
                max = max.max(per_clip(&mut scratch.main, clip, out));
            }
            max
        } else {
            // One job per worker: its scratch, its share of clips and outputs.
            let per = clips.len().div_ceil(parts);
            let ledger = Ledger::current();
            let mut jobs: Vec<BatchJob<'_, '_, '_, '_>> = std::iter::once(&mut scratch.main)
                .chain(scratch.workers.iter_mut())
                .zip(clips.chunks(per).zip(outs.chunks_mut(per)))
                .map(|(ws, (cs, os))| (ws, cs, os, f32::NEG_INFINITY))
                .collect();
            zc_buffers::parallel::for_each_chunk_mut(jobs.len(), &mut jobs, 1, |_, job| {
                with_ledger(&ledger, || {
                    for (ws, cs, os, max) in job.iter_mut() {
                        for (clip, out) in cs.iter().zip(os.iter_mut()) {
                            *max = max.max(per_clip(ws, clip, out));
                        }
                    }
                });
                Ok::<(), MelError>(())
            })?;
            jobs.iter().fold(f32::NEG_INFINITY, |m, j| m.max(j.3))
        };
        if norm == Normalization::Global {
            let floor = clamp_floor(norm, max, top_db);
            for (clip, out) in clips.iter().zip(outs.iter_mut()) {
                let n_frames = self.n_frames(clip.len()).unwrap_or(0); // ok: validated above
                if let Ok(mut view) = slice_view(out, n_mels, n_frames, layout) {
                    normalise_view(level, &mut view, floor);
                }
            }
        }
        Ok(())
    }

    /// The samples the STFT reads (trimmed by `PadOrTrim`).
    fn real_part<'a>(&self, samples: &'a [f32]) -> &'a [f32] {
        let len = self.config.padding.effective_len(samples.len()).unwrap_or(usize::MAX);
        &samples[..samples.len().min(len)]
    }

    /// [`real_part`](Self::real_part), rejecting non-finite samples.
    fn checked_real<'a>(&self, samples: &'a [f32]) -> Result<&'a [f32]> {
        let real = self.real_part(samples);
        check_finite(self.level, real, 0)?;
        Ok(real)
    }

    pub(crate) fn kernel_level(&self) -> KernelLevel {
        self.level
    }

    fn signal<'a>(&self, real: &'a [f32], n_samples: usize) -> Signal<'a> {
        Signal {
            data: real,
            offset: 0,
            real_end: real.len(),
            len: self.config.padding.effective_len(n_samples).unwrap_or(usize::MAX), // ok: n_frames succeeded
        }
    }

    /// Raw log10 values of one clip into `out` (`(n_mels, n_frames)`) on
    /// the calling thread; returns the maximum.
    fn raw_single(
        &self,
        scratch: &mut Scratch,
        real: &[f32],
        n_samples: usize,
        out: &mut ArrayViewMut2<'_, f32>,
    ) -> f32 {
        let sig = self.signal(real, n_samples);
        let n_frames = out.ncols();
        self.shared
            .frames(self.level, scratch, &sig, 0, n_frames, |t, nb, block| {
                write_block(out, t, nb, block)
            })
    }

    /// The engine: `out` is `(n_mels, n_frames)` with any strides, already
    /// checked against the configuration, `real` checked for finiteness.
    fn run(
        &self,
        scratch: &mut MelScratch,
        real: &[f32],
        n_samples: usize,
        mut out: ArrayViewMut2<'_, f32>,
    ) -> Result<()> {
        let n_frames = out.ncols();
        let parts = (scratch.workers.len() + 1)
            .min(self.threads)
            .min(n_frames / MIN_FRAMES_PER_THREAD)
            .max(1);
        let (level, top_db, norm) = (self.level, self.config.top_db, self.config.normalization);
        if parts <= 1 {
            let max = self.raw_single(&mut scratch.main, real, n_samples, &mut out);
            normalise_view(level, &mut out, clamp_floor(norm, max, top_db));
            return Ok(());
        }
        let sig = self.signal(real, n_samples);
        // Frame ranges are multiples of the lane count, so every worker runs
        // whole SIMD blocks except the last.
        let per = n_frames.div_ceil(parts).next_multiple_of(LANES);
        let ledger = Ledger::current();
        let shared = &*self.shared;
        let mut jobs = Vec::with_capacity(parts);
        let mut rest = out.view_mut();
        let mut t0 = 0;
        for ws in std::iter::once(&mut scratch.main)
            .chain(scratch.workers.iter_mut())
            .take(parts)
        {
            if rest.ncols() == 0 {
                break;
            }
            let take = per.min(rest.ncols());
            let (part, r) = rest.split_at(Axis(1), take);
            rest = r;
            jobs.push((ws, part, t0, f32::NEG_INFINITY));
            t0 += take;
        }
        zc_buffers::parallel::for_each_chunk_mut(jobs.len(), &mut jobs, 1, |_, job| {
            with_ledger(&ledger, || {
                for (ws, part, start, max) in job.iter_mut() {
                    let (start, n) = (*start, part.ncols());
                    *max = shared.frames(level, ws, &sig, start, n, |t, nb, block| {
                        write_block(part, t - start, nb, block)
                    });
                }
            });
            Ok::<(), MelError>(())
        })?;
        let floor = clamp_floor(norm, jobs.iter().fold(f32::NEG_INFINITY, |m, j| m.max(j.3)), top_db);
        zc_buffers::parallel::for_each_chunk_mut(jobs.len(), &mut jobs, 1, |_, job| {
            with_ledger(&ledger, || {
                for (_, part, _, _) in job.iter_mut() {
                    normalise_view(level, part, floor);
                }
            });
            Ok::<(), MelError>(())
        })
    }

    /// Raw `log10` mel values of frames `t0..t0 + n` of a signal held
    /// partly in memory (for streaming), handed to `sink` a block at a
    /// time; returns their maximum.
    pub(crate) fn raw_frames(
        &self,
        scratch: &mut MelScratch,
        sig: &Signal<'_>,
        t0: usize,
        n: usize,
        sink: impl FnMut(usize, usize, &[f32]),
    ) -> f32 {
        self.shared.frames(self.level, &mut scratch.main, sig, t0, n, sink)
    }
}

/// A [`MelPlan`] with its own scratch: the convenience form for one thread
/// (or for a plan that fans out itself, see [`set_threads`](Self::set_threads)).
/// The `compute_*` methods write straight into caller-owned memory (any
/// [`HostBufferMut`] — a pool guard, an [`AlignedBuf`](zc_buffers::AlignedBuf),
/// a writable mapping — an `f32` slice or an `ndarray` view, in either
/// [`Layout`]; larger outputs get the prefix / top-left block) and perform
/// **no heap allocation** on one thread. Padding and trimming are virtual:
/// the samples are read in place, never copied into a padded signal, and
/// frames that lie entirely in zero padding skip the FFT (their value,
/// `log10(1e-10)`, is known).
///
/// Semantics follow `whisper.audio.log_mel_spectrogram`: centred STFT with
/// reflect padding of `n_fft/2` each side, periodic Hann window, power
/// spectrum, last frame dropped, Slaney mel filters, `log10(max(x, 1e-10))`,
/// clamp to (max − `top_db`), `(x + 4) / 4`, with the maximum chosen by
/// [`MelConfig::normalization`].
///
/// Bad input (see also [`MelError`]):
/// * NaN/Inf policy: inputs containing a non-finite sample (within the part
///   that padding/trimming keeps) are rejected with
///   [`MelError::NonFiniteSample`] before anything is written. Finite
///   samples so large that the power spectrum overflows (|x| ≳ 1e17) give
///   finite but meaningless values.
/// * Short input: the centred STFT reflects `n_fft / 2` samples at each
///   edge, which needs more than `n_fft / 2` samples (Whisper: at least 201;
///   numpy/torch refuse fewer). Fewer samples after padding — including
///   empty input — give [`MelError::TooShort`]; `Padding::PadOrTrim` /
///   `Padding::Append` count towards the length, so a short clip padded
///   to 30 s is fine.
///
/// To serve several threads from one plan, share [`MelSpectrogram::plan`]
/// (an `Arc<MelPlan>`) and give each thread its own
/// [`MelPlan::make_scratch`].
#[derive(Clone)]
pub struct MelSpectrogram {
    plan: Arc<MelPlan>,
    scratch: MelScratch,
}

impl std::fmt::Debug for MelSpectrogram {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MelSpectrogram")
            .field("plan", &self.plan)
            .field("scratch", &self.scratch)
            .finish()
    }
}

impl MelSpectrogram {
    /// Plan a spectrogram for `config` (validated) with its scratch, using
    /// the fastest kernels this CPU supports and one thread.
    pub fn new(config: MelConfig) -> Result<Self> {
        Ok(Self::from_plan(Arc::new(MelPlan::new(config)?)))
    }

    /// A convenience wrapper around a shared plan, with fresh scratch.
    pub fn from_plan(plan: Arc<MelPlan>) -> Self {
        let scratch = plan.make_scratch();
        Self { plan, scratch }
    }

    /// The shareable plan.
    pub fn plan(&self) -> &Arc<MelPlan> {
        &self.plan
    }

    /// The configuration.
    pub fn config(&self) -> &MelConfig {
        self.plan.config()
    }

    /// The mel filterbank.
    pub fn filters(&self) -> &MelFilterbank {
        self.plan.filters()
    }

    /// The SIMD level the kernels run at.
    pub fn simd_level(&self) -> SimdLevel {
        self.plan.simd_level()
    }

    /// Run on another SIMD level (see [`MelPlan::simd`]); the error leaves
    /// `self` unchanged.
    pub fn set_simd(&mut self, level: SimdLevel) -> Result<()> {
        let plan = (*self.plan).clone().simd(level)?;
        self.plan = Arc::new(plan);
        Ok(())
    }

    /// Threads used per call (1 by default).
    pub fn threads(&self) -> usize {
        self.plan.thread_count()
    }

    /// Split each long clip's frames (or a batch's clips) across `threads`
    /// threads (`0`: every core). Allocates the workers' scratch now; every
    /// threaded call then spawns scoped threads (the only allocations it
    /// makes) and gives output identical to one thread. The ledger active
    /// on the calling thread is entered on each worker; a worker that
    /// panics makes the call fail with `BufferError::WorkerPanicked`.
    pub fn set_threads(&mut self, threads: usize) {
        let plan = (*self.plan).clone().threads(threads);
        self.plan = Arc::new(plan);
        self.scratch = self.plan.make_scratch();
    }

    /// [`set_threads`](Self::set_threads), builder style.
    pub fn with_threads(mut self, threads: usize) -> Self {
        self.set_threads(threads);
        self
    }

    /// Frames produced for `n_samples` input samples (see [`MelConfig::n_frames`]).
    pub fn n_frames(&self, n_samples: usize) -> Result<usize> {
        self.plan.n_frames(n_samples)
    }

    /// `(rows, cols)` of the output for `n_samples` samples in `layout`.
    pub fn output_shape(&self, n_samples: usize, layout: Layout) -> Result<(usize, usize)> {
        self.plan.output_shape(n_samples, layout)
    }

    /// Bytes of `f32` output for `n_samples` samples: the least a buffer
    /// taken from a pool for [`compute_into`](Self::compute_into) must hold.
    pub fn output_bytes(&self, n_samples: usize) -> Result<usize> {
        self.plan.output_bytes(n_samples)
    }

    /// [`MelPlan::compute_into_with_scratch`] on the own scratch.
    pub fn compute_into<B: HostBufferMut + ?Sized>(
        &mut self,
        samples: &[f32],
        out: &mut B,
        layout: Layout,
    ) -> Result<(usize, usize)> {
        self.plan
            .compute_into_with_scratch(samples, out, layout, &mut self.scratch)
    }

    /// [`MelPlan::compute_into_slice_with_scratch`] on the own scratch.
    pub fn compute_into_slice(&mut self, samples: &[f32], out: &mut [f32], layout: Layout) -> Result<(usize, usize)> {
        self.plan
            .compute_into_slice_with_scratch(samples, out, layout, &mut self.scratch)
    }

    /// [`MelPlan::compute_into_view_with_scratch`] on the own scratch.
    pub fn compute_into_view(
        &mut self,
        samples: &[f32],
        out: ArrayViewMut2<'_, f32>,
        layout: Layout,
    ) -> Result<(usize, usize)> {
        self.plan
            .compute_into_view_with_scratch(samples, out, layout, &mut self.scratch)
    }

    /// Compute into a new `ndarray` (allocates the output; recorded in the ledger).
    pub fn compute(&mut self, samples: &[f32], layout: Layout) -> Result<Array2<f32>> {
        let shape = self.output_shape(samples.len(), layout)?;
        let mut out = Array2::zeros(shape);
        ledger::record_alloc(out.len() * 4);
        self.compute_into_view(samples, out.view_mut(), layout)?;
        Ok(out)
    }

    /// [`MelPlan::compute_batch_into_slices_with_scratch`] on the own scratch.
    pub fn compute_batch_into_slices(
        &mut self,
        clips: &[&[f32]],
        outs: &mut [&mut [f32]],
        layout: Layout,
    ) -> Result<()> {
        self.plan
            .compute_batch_into_slices_with_scratch(clips, outs, layout, &mut self.scratch)
    }

    pub(crate) fn kernel_level(&self) -> KernelLevel {
        self.plan.kernel_level()
    }

    /// Raw `log10` mel values of frames `t0..t0 + n` of a signal held
    /// partly in memory (for streaming); see [`MelPlan::raw_frames`].
    pub(crate) fn raw_frames(
        &mut self,
        sig: &Signal<'_>,
        t0: usize,
        n: usize,
        sink: impl FnMut(usize, usize, &[f32]),
    ) -> f32 {
        self.plan.raw_frames(&mut self.scratch, sig, t0, n, sink)
    }
}

/// The first non-finite sample, as an error (indices shifted by `base`).
pub(crate) fn check_finite(level: KernelLevel, samples: &[f32], base: usize) -> Result<()> {
    // branch-free scan first (vectorised); locate the culprit only on failure
    if !kernels::all_finite(level, samples)
        && let Some((index, &value)) = samples.iter().enumerate().find(|(_, v)| !v.is_finite())
    {
        return Err(MelError::NonFiniteSample {
            index: base + index,
            value,
        });
    }
    Ok(())
}

/// A `(n_mels, n_frames)` view of the prefix of a row-major slice in
/// `layout`; too small is `BufferError::OutputTooSmall`.
fn slice_view(out: &mut [f32], n_mels: usize, n_frames: usize, layout: Layout) -> Result<ArrayViewMut2<'_, f32>> {
    let needed = n_mels.checked_mul(n_frames).ok_or(MelError::InvalidConfig {
        reason: "n_mels * n_frames overflows usize",
    })?;
    let prefix = zc_buffers::output_prefix(out, needed)?;
    let strides = match layout {
        Layout::MelMajor => (n_frames, 1),
        Layout::FrameMajor => (1, n_mels),
    };
    ArrayViewMut2::from_shape((n_mels, n_frames).strides(strides), prefix).map_err(|_| {
        MelError::Buffer(zc_buffers::BufferError::ShapeMismatch {
            expected: vec![n_mels, n_frames],
            actual: vec![needed],
        })
    })
}
