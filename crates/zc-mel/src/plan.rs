//! The log-mel plan: built once, shared freely, run on caller-owned memory.

use std::sync::Arc;

use ndarray::{Array2, ArrayViewMut2, ArrayViewMut3};
use zc_buffers::ledger;
use zc_buffers::parallel::resolve_threads;
use zc_buffers::{HostBufferMut, HostBufferMutExt, SimdLevel};

use crate::config::{Layout, MelConfig, MelShape};
use crate::engine::Engine;
#[cfg(doc)]
use crate::error::MelError;
use crate::error::Result;
use crate::exec::Exec;
use crate::filters::MelFilterbank;
use crate::kernels;
use crate::scratch::MelScratch;
use crate::write::{slice_view, view_corner};

/// A Whisper log-mel spectrogram plan.
///
/// Built once ([`MelSpectrogram::new`] or [`MelSpectrogram::builder`]): it
/// plans the FFT, builds the window and the sparse mel filterbank and
/// chooses the SIMD level. The plan is immutable, `Send + Sync` and cheap
/// to clone (the tables are shared), so one plan can serve many threads
/// from an `Arc`; each thread brings its own [`MelScratch`]
/// ([`make_scratch`](Self::make_scratch)), as with rustfft's
/// `process_with_scratch`. For single-threaded use, [`MelProcessor`](crate::MelProcessor)
/// owns a plan and its scratch.
///
/// Every compute call comes in the workspace's three output forms with the
/// same return type, [`MelShape`]:
///
/// | output | with caller scratch (no allocation) | allocating a scratch per call |
/// |---|---|---|
/// | any [`HostBufferMut`] (pool guard, [`AlignedBuf`](zc_buffers::AlignedBuf), mapping) | [`compute_into_with_scratch`](Self::compute_into_with_scratch) | [`compute_into`](Self::compute_into) |
/// | `&mut [f32]` | [`compute_into_slice_with_scratch`](Self::compute_into_slice_with_scratch) | [`compute_into_slice`](Self::compute_into_slice) |
/// | `ndarray` view | [`compute_into_view_with_scratch`](Self::compute_into_view_with_scratch) | [`compute_into_view`](Self::compute_into_view) |
///
/// The output is row-major in the plan's [`Layout`]. A buffer or slice
/// may be **larger** than the result: the spectrogram is written to its
/// prefix ([`output_len`](Self::output_len) values) and the returned shape
/// says how to read it, so one pooled buffer sized for the longest clip
/// serves every shorter one. Too small is
/// [`BufferError::OutputTooSmall`](zc_buffers::BufferError::OutputTooSmall)
/// with nothing written. Padding and trimming are virtual: the samples are
/// read in place, never copied into a padded signal, and frames that lie
/// entirely in zero padding skip the FFT (their value, `log10(1e-10)`, is
/// known).
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
/// Threads ([`MelSpectrogramBuilder::threads`]): a long clip's frames, or a
/// batch's clips, are split over that many workers — the calling thread
/// and jobs on zc's worker pool ([`zc_buffers::parallel`], `0` = every
/// core) — with output identical to one thread; a threaded call allocates
/// its bookkeeping and one scratch per extra worker, a one-thread call with
/// caller scratch allocates nothing.
#[derive(Clone)]
pub struct MelSpectrogram {
    config: MelConfig,
    engine: Arc<Engine>,
    level: SimdLevel,
    threads: usize,
    layout: Layout,
}

/// Options of a [`MelSpectrogram`], validated by [`build`](Self::build).
#[derive(Clone)]
pub struct MelSpectrogramBuilder {
    config: MelConfig,
    /// The tables of the plan this builder came from (same configuration).
    engine: Option<Arc<Engine>>,
    layout: Layout,
    threads: usize,
    simd: Option<SimdLevel>,
}

impl std::fmt::Debug for MelSpectrogramBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MelSpectrogramBuilder")
            .field("config", &self.config)
            .field("layout", &self.layout)
            .field("threads", &self.threads)
            .field("simd", &self.simd)
            .finish()
    }
}

impl MelSpectrogramBuilder {
    /// Memory layout of the output (default [`Layout::MelMajor`]).
    pub fn layout(mut self, layout: Layout) -> Self {
        self.layout = layout;
        self
    }

    /// Threads per call: a long clip's frames, or a batch's clips, are
    /// split over them (default 1; `0` means every core,
    /// [`zc_buffers::parallel::resolve_threads`]).
    pub fn threads(mut self, threads: usize) -> Self {
        self.threads = threads;
        self
    }

    /// Force a SIMD level (default: the best this CPU has among zc-mel's
    /// levels, capped by `ZC_SIMD`). Checked by [`build`](Self::build):
    /// a level the CPU lacks is
    /// [`BufferError::SimdUnavailable`](zc_buffers::BufferError::SimdUnavailable).
    /// A level zc-mel has no kernels for runs the highest one below it
    /// (`Popcnt` → `Portable`, `Avx512Vpopcnt` → `Avx512`);
    /// [`MelSpectrogram::simd_level`] reports the one that runs.
    pub fn simd(mut self, level: SimdLevel) -> Self {
        self.simd = Some(level);
        self
    }

    /// Validate the options and build the plan (the FFT plan, window and
    /// filterbank are computed here unless this builder came from
    /// [`MelSpectrogram::to_builder`] with the configuration unchanged).
    pub fn build(self) -> Result<MelSpectrogram> {
        let level = match self.simd {
            Some(l) => kernels::effective(l.require()?),
            None => SimdLevel::best_of(&kernels::LEVELS),
        };
        let engine = match self.engine {
            Some(e) => e,
            None => {
                let e = Engine::new(&self.config)?;
                ledger::record_alloc((e.window.len() + e.twc.len() * 2) * 4);
                Arc::new(e)
            }
        };
        Ok(MelSpectrogram {
            config: self.config,
            engine,
            level,
            threads: resolve_threads(self.threads),
            layout: self.layout,
        })
    }
}

impl std::fmt::Debug for MelSpectrogram {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MelSpectrogram")
            .field("config", &self.config)
            .field("layout", &self.layout)
            .field("simd_level", &self.level)
            .field("threads", &self.threads)
            .field("filter_weights", &self.engine.filters.nonzero_weights())
            .finish()
    }
}

impl MelSpectrogram {
    /// Plan a spectrogram for `config` (validated) with the defaults: the
    /// fastest kernels this CPU supports, one thread, [`Layout::MelMajor`].
    pub fn new(config: MelConfig) -> Result<Self> {
        Self::builder(config).build()
    }

    /// Options for a plan of `config`: layout, threads, SIMD level.
    pub fn builder(config: MelConfig) -> MelSpectrogramBuilder {
        MelSpectrogramBuilder {
            config,
            engine: None,
            layout: Layout::default(),
            threads: 1,
            simd: None,
        }
    }

    /// A builder holding this plan's options and tables: another layout,
    /// thread count or SIMD level without planning again.
    pub fn to_builder(&self) -> MelSpectrogramBuilder {
        MelSpectrogramBuilder {
            config: self.config.clone(),
            engine: Some(Arc::clone(&self.engine)),
            layout: self.layout,
            threads: self.threads,
            simd: Some(self.level),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &MelConfig {
        &self.config
    }

    /// The mel filterbank.
    pub fn filters(&self) -> &MelFilterbank {
        &self.engine.filters
    }

    /// The SIMD level the kernels run at.
    pub fn simd_level(&self) -> SimdLevel {
        self.level
    }

    /// Threads per call (resolved: never 0).
    pub fn threads(&self) -> usize {
        self.threads
    }

    /// The output layout.
    pub fn layout(&self) -> Layout {
        self.layout
    }

    /// Frames produced for `n_samples` input samples (see [`MelConfig::n_frames`]).
    pub fn n_frames(&self, n_samples: usize) -> Result<usize> {
        self.config.n_frames(n_samples)
    }

    /// The shape of the output for `n_samples` samples in the plan's layout.
    pub fn output_shape(&self, n_samples: usize) -> Result<MelShape> {
        self.config.output_shape(n_samples, self.layout)
    }

    /// `f32` values of output for `n_samples` samples: the least a slice
    /// given to [`compute_into_slice`](Self::compute_into_slice) holds.
    pub fn output_len(&self, n_samples: usize) -> Result<usize> {
        self.config.output_len(n_samples)
    }

    /// Bytes of `f32` output for `n_samples` samples: the least a buffer
    /// given to [`compute_into`](Self::compute_into) holds.
    pub fn output_bytes(&self, n_samples: usize) -> Result<usize> {
        self.config.output_bytes(n_samples)
    }

    /// Bytes of working memory one [`MelScratch`] for this plan holds.
    pub fn scratch_bytes(&self) -> usize {
        MelScratch::bytes_for(self.engine.geometry())
    }

    /// Working memory for one thread running this plan (allocates
    /// [`scratch_bytes`](Self::scratch_bytes), recorded in the ledger).
    pub fn make_scratch(&self) -> MelScratch {
        let s = MelScratch::new(self.engine.geometry());
        ledger::record_alloc(s.bytes());
        s
    }

    pub(crate) fn exec(&self) -> Exec<'_> {
        Exec {
            config: &self.config,
            engine: &self.engine,
            level: self.level,
            threads: self.threads,
            layout: self.layout,
        }
    }

    pub(crate) fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Compute into the prefix of an `f32` slice, row-major in the plan's
    /// layout, using `scratch`. Returns the shape written. The slice may be
    /// longer than [`output_len`](Self::output_len) (the rest is
    /// untouched); shorter is `OutputTooSmall`. Allocates nothing on one
    /// thread.
    pub fn compute_into_slice_with_scratch(
        &self,
        audio: &[f32],
        out: &mut [f32],
        scratch: &mut MelScratch,
    ) -> Result<MelShape> {
        let shape = self.output_shape(audio.len())?;
        let view = slice_view(out, shape.n_mels, shape.n_frames, self.layout)?;
        let exec = self.exec();
        exec.check_scratch(scratch)?;
        let real = exec.real_part(audio);
        exec.clip(real, audio.len(), view, scratch)?;
        Ok(shape)
    }

    /// [`compute_into_slice_with_scratch`](Self::compute_into_slice_with_scratch)
    /// into any writable host buffer (4-byte aligned, at least
    /// [`output_bytes`](Self::output_bytes) long; a prefix is written).
    pub fn compute_into_with_scratch<B: HostBufferMut + ?Sized>(
        &self,
        audio: &[f32],
        out: &mut B,
        scratch: &mut MelScratch,
    ) -> Result<MelShape> {
        self.compute_into_slice_with_scratch(audio, out.as_slice_mut::<f32>()?, scratch)
    }

    /// Compute into a 2-D `ndarray` view of any strides, using `scratch`.
    ///
    /// The view is indexed in the plan's layout (`(n_mels, n_frames)` for
    /// [`Layout::MelMajor`], `(n_frames, n_mels)` for
    /// [`Layout::FrameMajor`]). A view larger than the result in either
    /// dimension receives it in its top-left corner
    /// (`out.slice(s![..rows, ..cols])` with `(rows, cols)` =
    /// [`MelShape::dims`]), the rest untouched — so a `(80, 3000)` tensor
    /// takes a shorter clip in its first columns. Smaller in either
    /// dimension is [`MelError::ViewTooSmall`], nothing written.
    pub fn compute_into_view_with_scratch(
        &self,
        audio: &[f32],
        out: ArrayViewMut2<'_, f32>,
        scratch: &mut MelScratch,
    ) -> Result<MelShape> {
        let shape = self.output_shape(audio.len())?;
        let mel_major = view_corner(out, shape)?;
        let exec = self.exec();
        exec.check_scratch(scratch)?;
        let real = exec.real_part(audio);
        exec.clip(real, audio.len(), mel_major, scratch)?;
        Ok(shape)
    }

    /// [`compute_into_with_scratch`](Self::compute_into_with_scratch) with a
    /// scratch made for this call (allocates it, like rustfft's `process`).
    pub fn compute_into<B: HostBufferMut + ?Sized>(&self, audio: &[f32], out: &mut B) -> Result<MelShape> {
        self.compute_into_with_scratch(audio, out, &mut self.make_scratch())
    }

    /// [`compute_into_slice_with_scratch`](Self::compute_into_slice_with_scratch)
    /// with a scratch made for this call.
    pub fn compute_into_slice(&self, audio: &[f32], out: &mut [f32]) -> Result<MelShape> {
        self.compute_into_slice_with_scratch(audio, out, &mut self.make_scratch())
    }

    /// [`compute_into_view_with_scratch`](Self::compute_into_view_with_scratch)
    /// with a scratch made for this call.
    pub fn compute_into_view(&self, audio: &[f32], out: ArrayViewMut2<'_, f32>) -> Result<MelShape> {
        self.compute_into_view_with_scratch(audio, out, &mut self.make_scratch())
    }

    /// Compute into a new `ndarray` of [`MelShape::dims`] (allocates the
    /// output and a scratch; the output is recorded in the ledger).
    pub fn compute(&self, audio: &[f32]) -> Result<Array2<f32>> {
        let shape = self.output_shape(audio.len())?;
        let mut out = Array2::zeros(shape.dims());
        ledger::record_alloc(shape.len() * 4);
        self.compute_into_view(audio, out.view_mut())?;
        Ok(out)
    }

    /// Compute a batch of independent clips, `clips[i]` into the prefix of
    /// `outs[i]` (each at least [`output_len`](Self::output_len) of its own
    /// clip), using `scratch` on the calling thread. The clamp maximum
    /// follows [`MelConfig::normalization`]: `Global` takes it over the
    /// whole batch (as Whisper does for a batched tensor), `PerItem` per
    /// clip, `Fixed` from the caller. With more than one
    /// [thread](MelSpectrogramBuilder::threads) the clips are spread over
    /// the threads. Everything is validated before anything is written;
    /// errors name the clip ([`MelError::BatchItem`]). Each clip's shape is
    /// [`output_shape`](Self::output_shape) of its length.
    pub fn compute_batch_into_slices(
        &self,
        clips: &[&[f32]],
        outs: &mut [&mut [f32]],
        scratch: &mut MelScratch,
    ) -> Result<()> {
        self.exec().batch(
            clips,
            outs,
            |o, sh| slice_view(o, sh.n_mels, sh.n_frames, sh.layout),
            scratch,
        )
    }

    /// [`compute_batch_into_slices`](Self::compute_batch_into_slices) into
    /// host buffers (pool guards, [`AlignedBuf`](zc_buffers::AlignedBuf)s, …).
    pub fn compute_batch_into<B: HostBufferMut + Send>(
        &self,
        clips: &[&[f32]],
        outs: &mut [B],
        scratch: &mut MelScratch,
    ) -> Result<()> {
        self.exec().batch(
            clips,
            outs,
            |o, sh| slice_view(o.as_slice_mut::<f32>()?, sh.n_mels, sh.n_frames, sh.layout),
            scratch,
        )
    }

    /// [`compute_batch_into_slices`](Self::compute_batch_into_slices) into
    /// a 3-D view `(batch, rows, cols)` of any strides: clip `i` goes to
    /// `out[i]`, indexed in the plan's layout, which may be larger than the
    /// clip's shape in either dimension (the result fills its top-left
    /// corner, as for [`compute_into_view`](Self::compute_into_view)) — so
    /// one `(batch, 80, 3000)` tensor takes clips of any length up to 30 s.
    /// `out` must hold exactly `clips.len()` items ([`MelError::BatchSize`]).
    /// Allocates one view handle per clip.
    pub fn compute_batch_into_view(
        &self,
        clips: &[&[f32]],
        mut out: ArrayViewMut3<'_, f32>,
        scratch: &mut MelScratch,
    ) -> Result<()> {
        let mut items: Vec<ArrayViewMut2<'_, f32>> = out.outer_iter_mut().collect();
        self.exec()
            .batch(clips, &mut items, |o, sh| view_corner(o.view_mut(), sh), scratch)
    }
}
