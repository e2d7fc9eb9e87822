//! Streaming log-mel: feed samples in chunks of any size, get each frame as
//! soon as its window is complete.

use ndarray::{ArrayViewMut2, s};
use zc_buffers::ledger::{self, CopyKind};
use zc_buffers::{HostBufferMut, HostBufferMutExt};

use crate::config::{Layout, MelConfig, MelShape, Normalization, Padding};
use crate::engine::check_finite;
use crate::error::{MelError, Result};
use crate::kernels::{LANES, normalise_one};
use crate::plan::MelSpectrogram;
use crate::scratch::MelScratch;
use crate::signal::Signal;

/// Frames' worth of hops the input window holds beyond one FFT window.
const WINDOW_HOPS: usize = 4 * LANES;

/// A streaming Whisper log-mel spectrogram.
///
/// Samples are pushed in chunks of any size; a frame is emitted as soon as
/// every sample of its `n_fft` window has arrived (frame 0, whose window
/// reflects samples `1..=n_fft/2`, after `n_fft/2 + 1` samples; frame `t`
/// after `t·hop + n_fft/2`). [`finish_into_slice`](Self::finish_into_slice) emits the frames
/// that need the end of the signal (reflect padding at the end, and the
/// zeros of `Padding::Append` / `Padding::PadOrTrim`, whose silent frames
/// skip the FFT). Frames are written frame-major (`n_mels` values each),
/// in the workspace's three output forms: [`push_into`](Self::push_into)
/// (any [`HostBufferMut`]), [`push_into_slice`](Self::push_into_slice),
/// [`push_into_view`](Self::push_into_view) (and the same for `finish`),
/// each returning the [`MelShape`] written (`n_frames` = frames emitted by
/// that call, [`Layout::FrameMajor`]). The output may be larger than the
/// frames a call emits: they fill its prefix (a view's first rows).
///
/// The clamp needs the maximum before the end of the signal, so the
/// configuration must use [`Normalization::Fixed`]; the concatenated
/// output is then bit-identical to [`MelSpectrogram::compute_into_slice`]
/// with the same configuration in [`Layout::FrameMajor`].
///
/// The stream keeps a window of `n_fft + 32 · hop` samples, allocated at
/// construction; pushing and finishing allocate nothing. Incoming samples are
/// copied into that window once (recorded in the ledger as
/// [`CopyKind::Other`]). Bad input (non-finite samples — `index` counts
/// from the start of the chunk passed —, a too-small output) is rejected
/// before any state changes or output is written.
#[derive(Clone, Debug)]
pub struct MelStream {
    plan: MelSpectrogram,
    scratch: MelScratch,
    /// Samples `base..base + filled` of the (trimmed) signal.
    buf: Vec<f32>,
    filled: usize,
    base: usize,
    /// Samples pushed so far (before trimming).
    received: usize,
    /// Next frame to emit.
    next: usize,
    /// `fixed max - top_db`.
    floor: f32,
}

impl MelStream {
    /// A stream for `config`, which must use [`Normalization::Fixed`].
    pub fn new(config: MelConfig) -> Result<Self> {
        Self::from_plan(MelSpectrogram::new(config)?)
    }

    /// A stream that uses `plan` (its SIMD level; its layout and threads
    /// are not used: frames are emitted frame-major on the calling thread).
    /// Plans are cheap to clone: pass `plan.clone()` to keep it.
    pub fn from_plan(plan: MelSpectrogram) -> Result<Self> {
        let config = plan.config();
        let Normalization::Fixed(max) = config.normalization else {
            return Err(MelError::StreamNormalization);
        };
        let floor = max - config.top_db;
        let cap = config
            .hop_length
            .checked_mul(WINDOW_HOPS)
            .and_then(|v| v.checked_add(config.n_fft + 1))
            .ok_or(MelError::InvalidConfig {
                reason: "stream window size overflows usize",
            })?;
        ledger::record_alloc(cap * 4);
        let scratch = plan.make_scratch();
        Ok(Self {
            scratch,
            buf: vec![0.0; cap],
            filled: 0,
            base: 0,
            received: 0,
            next: 0,
            floor,
            plan,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &MelConfig {
        self.plan.config()
    }

    /// Mel bands per frame.
    pub fn n_mels(&self) -> usize {
        self.plan.config().n_mels
    }

    /// Frames emitted since the start (or the last [`reset`](Self::reset)).
    pub fn frames_emitted(&self) -> usize {
        self.next
    }

    /// Samples pushed since the start (or the last reset).
    pub fn samples_received(&self) -> usize {
        self.received
    }

    /// Forget everything pushed so far (allocates nothing).
    pub fn reset(&mut self) {
        self.filled = 0;
        self.base = 0;
        self.received = 0;
        self.next = 0;
    }

    /// End of the real samples (after trimming) when `received` were pushed.
    fn real_end(&self, received: usize) -> usize {
        match self.config().padding {
            Padding::PadOrTrim(n) => received.min(n),
            Padding::None | Padding::Append(_) => received,
        }
    }

    /// Frames whose window is complete within `real_end` real samples.
    fn ready(&self, real_end: usize) -> usize {
        let c = self.config();
        let half = c.n_fft / 2;
        if real_end <= half || real_end < c.n_fft - half {
            return 0;
        }
        (real_end - (c.n_fft - half)) / c.hop_length + 1
    }

    /// Frames that pushing `n` more samples will emit.
    pub fn frames_for_push(&self, n: usize) -> usize {
        let end = self.real_end(self.received.saturating_add(n));
        self.ready(end).saturating_sub(self.next)
    }

    /// Frames that [`finish_into_slice`](Self::finish_into_slice) will emit now (an error if the
    /// signal is too short for any frame).
    pub fn frames_for_finish(&self) -> Result<usize> {
        Ok(self.config().n_frames(self.received)?.saturating_sub(self.next))
    }

    /// The shape of `frames` emitted frames.
    fn shape(&self, frames: usize) -> MelShape {
        MelShape {
            n_mels: self.n_mels(),
            n_frames: frames,
            layout: Layout::FrameMajor,
        }
    }

    /// `(frames, n_mels)` frame-major view of the prefix of `out`.
    fn frames_view<'o>(&self, out: &'o mut [f32], frames: usize) -> Result<ArrayViewMut2<'o, f32>> {
        let n_mels = self.n_mels();
        let needed = frames.checked_mul(n_mels).ok_or(MelError::InvalidConfig {
            reason: "output size overflows usize",
        })?;
        let out = zc_buffers::output_prefix(out, needed)?;
        ArrayViewMut2::from_shape((frames, n_mels), out).map_err(|_| MelError::InvalidConfig {
            reason: "output size overflows usize",
        })
    }

    /// The top-left `(frames, n_mels)` corner of a view, or [`MelError::ViewTooSmall`].
    fn corner<'o>(&self, out: ArrayViewMut2<'o, f32>, frames: usize) -> Result<ArrayViewMut2<'o, f32>> {
        let n_mels = self.n_mels();
        if out.nrows() < frames || out.ncols() < n_mels {
            return Err(MelError::ViewTooSmall {
                needed: (frames, n_mels),
                actual: out.dim(),
            });
        }
        Ok(out.slice_move(s![..frames, ..n_mels]))
    }

    /// Feed `chunk`; write every frame completed by it to the prefix of
    /// `out` (frame-major, `n_mels` values per frame; `out` must hold at
    /// least [`frames_for_push`](Self::frames_for_push)`(chunk.len()) * n_mels`
    /// values, else `OutputTooSmall`). Returns the shape written.
    pub fn push_into_slice(&mut self, chunk: &[f32], out: &mut [f32]) -> Result<MelShape> {
        let frames = self.frames_for_push(chunk.len());
        let view = self.frames_view(out, frames)?;
        self.push_view(chunk, view)
    }

    /// [`push_into_slice`](Self::push_into_slice) into any writable host
    /// buffer (4-byte aligned).
    pub fn push_into<B: HostBufferMut + ?Sized>(&mut self, chunk: &[f32], out: &mut B) -> Result<MelShape> {
        self.push_into_slice(chunk, out.as_slice_mut::<f32>()?)
    }

    /// [`push_into_slice`](Self::push_into_slice) into a `(frames, n_mels)`
    /// view of any strides: the frames fill its first rows (a larger view
    /// keeps the rest untouched; smaller is [`MelError::ViewTooSmall`]).
    pub fn push_into_view(&mut self, chunk: &[f32], out: ArrayViewMut2<'_, f32>) -> Result<MelShape> {
        let frames = self.frames_for_push(chunk.len());
        let view = self.corner(out, frames)?;
        self.push_view(chunk, view)
    }

    /// `out` is exactly `(frames_for_push(chunk.len()), n_mels)`.
    fn push_view(&mut self, chunk: &[f32], mut out: ArrayViewMut2<'_, f32>) -> Result<MelShape> {
        let start = self.real_end(self.received);
        let end = self.real_end(self.received.saturating_add(chunk.len()));
        let kept = chunk.get(..end - start).unwrap_or(chunk);
        check_finite(self.plan.simd_level(), kept, 0)?;
        ledger::record_copy(CopyKind::Other, kept.len() * 4);
        let first = self.next;
        let mut rest = kept;
        while !rest.is_empty() {
            let take = rest.len().min(self.buf.len() - self.filled);
            let (now, later) = rest.split_at(take);
            self.buf[self.filled..self.filled + take].copy_from_slice(now);
            self.filled += take;
            self.received += take;
            rest = later;
            let real_end = self.base + self.filled;
            let n = self.ready(real_end).saturating_sub(self.next);
            let sig = Signal {
                data: &self.buf[..self.filled],
                offset: self.base,
                real_end,
                len: real_end,
            };
            emit(
                &self.plan,
                &mut self.scratch,
                &mut self.next,
                self.floor,
                &sig,
                n,
                first,
                &mut out,
            );
            self.compact();
        }
        // samples cut off by PadOrTrim are accepted and ignored
        self.received += chunk.len() - kept.len();
        Ok(self.shape(self.next - first))
    }

    /// The signal has ended: write the remaining frames (those reaching
    /// into the end reflection or the padding) to the prefix of `out` (at
    /// least [`frames_for_finish`](Self::frames_for_finish)`() * n_mels`
    /// values) and reset the stream for the next signal. Returns the shape
    /// written. Too short a signal gives [`MelError::TooShort`] (and leaves
    /// the stream as it was).
    pub fn finish_into_slice(&mut self, out: &mut [f32]) -> Result<MelShape> {
        let frames = self.frames_for_finish()?;
        let view = self.frames_view(out, frames)?;
        self.finish_view(view)
    }

    /// [`finish_into_slice`](Self::finish_into_slice) into any writable host buffer.
    pub fn finish_into<B: HostBufferMut + ?Sized>(&mut self, out: &mut B) -> Result<MelShape> {
        self.finish_into_slice(out.as_slice_mut::<f32>()?)
    }

    /// [`finish_into_slice`](Self::finish_into_slice) into a
    /// `(frames, n_mels)` view of any strides (first rows, as for
    /// [`push_into_view`](Self::push_into_view)).
    pub fn finish_into_view(&mut self, out: ArrayViewMut2<'_, f32>) -> Result<MelShape> {
        let frames = self.frames_for_finish()?;
        let view = self.corner(out, frames)?;
        self.finish_view(view)
    }

    /// `out` is exactly `(frames_for_finish(), n_mels)`.
    fn finish_view(&mut self, mut out: ArrayViewMut2<'_, f32>) -> Result<MelShape> {
        let frames = out.nrows();
        let len = self
            .config()
            .padding
            .effective_len(self.received)
            .ok_or(MelError::TooShort {
                samples: usize::MAX,
                needed: self.config().min_samples(),
            })?;
        let sig = Signal {
            data: &self.buf[..self.filled],
            offset: self.base,
            real_end: self.base + self.filled,
            len,
        };
        let first = self.next;
        emit(
            &self.plan,
            &mut self.scratch,
            &mut self.next,
            self.floor,
            &sig,
            frames,
            first,
            &mut out,
        );
        self.reset();
        Ok(self.shape(frames))
    }

    /// Drop samples no future frame reads.
    fn compact(&mut self) {
        let half = self.config().n_fft / 2;
        let keep_from = (self.next * self.config().hop_length).saturating_sub(half);
        let drop = keep_from.saturating_sub(self.base).min(self.filled);
        if drop > 0 {
            self.buf.copy_within(drop..self.filled, 0);
            self.filled -= drop;
            self.base += drop;
        }
    }
}

/// Compute `n` frames from `*next` (then advanced), writing them
/// normalised into rows `*next - first ..` of the frame-major `out`.
#[allow(clippy::too_many_arguments)]
fn emit(
    plan: &MelSpectrogram,
    scratch: &mut MelScratch,
    next: &mut usize,
    floor: f32,
    sig: &Signal<'_>,
    n: usize,
    first: usize,
    out: &mut ArrayViewMut2<'_, f32>,
) {
    if n == 0 {
        return;
    }
    let (engine, level) = (plan.engine(), plan.simd_level());
    let n_mels = out.ncols();
    // a block of `nb` frames: frame `t + l` is lane `l` of every row
    let fill = |dst: &mut [f32], block: &[f32], l: usize| {
        for (d, src) in dst.iter_mut().zip(block.chunks_exact(LANES)) {
            *d = normalise_one(src[l], floor);
        }
    };
    match out.as_slice_mut() {
        // contiguous rows (slices, buffers, standard-layout views): index directly
        Some(flat) => engine.frames(level, scratch, sig, *next, n, |t, nb, block| {
            for l in 0..nb {
                let r = t + l - first;
                if let Some(dst) = flat.get_mut(r * n_mels..(r + 1) * n_mels) {
                    fill(dst, block, l);
                }
            }
        }),
        None => engine.frames(level, scratch, sig, *next, n, |t, nb, block| {
            for l in 0..nb {
                let r = t + l - first;
                if r >= out.nrows() {
                    continue;
                }
                let mut row = out.row_mut(r);
                match row.as_slice_mut() {
                    Some(dst) => fill(dst, block, l),
                    None => {
                        for (d, src) in row.iter_mut().zip(block.chunks_exact(LANES)) {
                            *d = normalise_one(src[l], floor);
                        }
                    }
                }
            }
        }),
    };
    *next += n;
}
