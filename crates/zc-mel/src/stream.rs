//! Streaming log-mel: feed samples in chunks of any size, get each frame as
//! soon as its window is complete.

use ndarray::ArrayViewMut2;
use zc_buffers::ledger::{self, CopyKind};
use zc_buffers::{HostBufferMut, HostBufferMutExt};

use crate::config::{MelConfig, Normalization, Padding};
use crate::error::{MelError, Result};
use crate::kernels::{LANES, normalise_one};
use crate::spectrogram::{MelSpectrogram, Signal, check_finite};

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
/// skip the FFT). Frames are written frame-major (`n_mels` values each).
///
/// The clamp needs the maximum before the end of the signal, so the
/// configuration must use [`Normalization::Fixed`]; the concatenated
/// output is then bit-identical to [`MelSpectrogram::compute_into_slice`]
/// with the same configuration in [`Layout::FrameMajor`](crate::Layout::FrameMajor).
///
/// The stream keeps a window of `n_fft + 32 · hop` samples, allocated at
/// construction; `push` and `finish` allocate nothing. Incoming samples are
/// copied into that window once (recorded in the ledger as
/// [`CopyKind::Other`]). Bad input (non-finite samples, a too-small output
/// slice) is rejected before any state changes or output is written.
#[derive(Clone, Debug)]
pub struct MelStream {
    plan: MelSpectrogram,
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

    /// A stream that uses `plan` (its kernel level; threads are not used).
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
        Ok(Self {
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

    /// Frames that [`push_into_slice`](Self::push_into_slice)ing `n` more samples will emit.
    pub fn frames_for_push(&self, n: usize) -> usize {
        let end = self.real_end(self.received.saturating_add(n));
        self.ready(end).saturating_sub(self.next)
    }

    /// Frames that [`finish_into_slice`](Self::finish_into_slice) will emit now (an error if the
    /// signal is too short for any frame).
    pub fn frames_for_finish(&self) -> Result<usize> {
        Ok(self.config().n_frames(self.received)?.saturating_sub(self.next))
    }

    /// [`push_into_slice`](Self::push_into_slice) into any writable host
    /// buffer (a pool guard, an `AlignedBuf`) viewed as `f32`.
    pub fn push_into<B: HostBufferMut + ?Sized>(&mut self, chunk: &[f32], out: &mut B) -> Result<usize> {
        self.push_into_slice(chunk, out.as_slice_mut::<f32>()?)
    }

    /// [`push_into_slice`](Self::push_into_slice) into a frame-major
    /// `(frames, n_mels)` view in standard layout (`NotContiguous` otherwise).
    pub fn push_into_view(&mut self, chunk: &[f32], out: ArrayViewMut2<'_, f32>) -> Result<usize> {
        self.push_into_slice(chunk, frame_major_slice(out, self.n_mels())?)
    }

    /// [`finish_into_slice`](Self::finish_into_slice) into any writable
    /// host buffer viewed as `f32`.
    pub fn finish_into<B: HostBufferMut + ?Sized>(&mut self, out: &mut B) -> Result<usize> {
        self.finish_into_slice(out.as_slice_mut::<f32>()?)
    }

    /// [`finish_into_slice`](Self::finish_into_slice) into a frame-major
    /// `(frames, n_mels)` view in standard layout.
    pub fn finish_into_view(&mut self, out: ArrayViewMut2<'_, f32>) -> Result<usize> {
        let n_mels = self.n_mels();
        self.finish_into_slice(frame_major_slice(out, n_mels)?)
    }

    /// Feed `chunk`; write every frame completed by it to `out`
    /// (frame-major, `n_mels` values per frame; `out` must hold at least
    /// [`frames_for_push`](Self::frames_for_push)`(chunk.len()) * n_mels`
    /// values). Returns the number of frames written.
    pub fn push_into_slice(&mut self, chunk: &[f32], out: &mut [f32]) -> Result<usize> {
        let frames = self.frames_for_push(chunk.len());
        let n_mels = self.n_mels();
        let needed = frames.saturating_mul(n_mels);
        zc_buffers::output_prefix(out, needed)?;
        let start = self.real_end(self.received);
        let end = self.real_end(self.received + chunk.len());
        let kept = &chunk[..end - start];
        check_finite(self.plan.kernel_level(), kept, self.received)?;
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
            let floor = self.floor;
            emit(&mut self.plan, &mut self.next, floor, &sig, n, first, out);
            self.compact();
        }
        // samples cut off by PadOrTrim are accepted and ignored
        self.received += chunk.len() - kept.len();
        Ok(self.next - first)
    }

    /// The signal has ended: write the remaining frames (those reaching
    /// into the end reflection or the padding) to `out` (at least
    /// [`frames_for_finish`](Self::frames_for_finish)`() * n_mels` values)
    /// and reset the stream for the next signal. Returns the number of
    /// frames written. Too short a signal gives [`MelError::TooShort`]
    /// (and leaves the stream as it was).
    pub fn finish_into_slice(&mut self, out: &mut [f32]) -> Result<usize> {
        let frames = self.frames_for_finish()?;
        let needed = frames.saturating_mul(self.n_mels());
        zc_buffers::output_prefix(out, needed)?;
        let len = self
            .config()
            .padding
            .effective_len(self.received)
            .ok_or(MelError::TooShort {
                samples: usize::MAX,
                needed: self.config().min_samples(),
            })?;
        let buf = std::mem::take(&mut self.buf);
        let sig = Signal {
            data: &buf[..self.filled],
            offset: self.base,
            real_end: self.base + self.filled,
            len,
        };
        let first = self.next;
        let floor = self.floor;
        emit(&mut self.plan, &mut self.next, floor, &sig, frames, first, out);
        self.buf = buf;
        self.reset();
        Ok(frames)
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
/// normalised, frame-major, after frame `first` of `out`.
fn emit(
    plan: &mut MelSpectrogram,
    next: &mut usize,
    floor: f32,
    sig: &Signal<'_>,
    n: usize,
    first: usize,
    out: &mut [f32],
) {
    if n == 0 {
        return;
    }
    let n_mels = plan.config().n_mels;
    plan.raw_frames(sig, *next, n, |t, nb, block| {
        for l in 0..nb {
            let row = (t + l - first) * n_mels;
            if let Some(dst) = out.get_mut(row..row + n_mels) {
                for (d, src) in dst.iter_mut().zip(block.chunks_exact(LANES)) {
                    *d = normalise_one(src[l], floor);
                }
            }
        }
    });
    *next += n;
}

/// The memory of a `(frames, n_mels)` view in standard layout.
fn frame_major_slice(out: ArrayViewMut2<'_, f32>, n_mels: usize) -> Result<&mut [f32]> {
    if out.ncols() != n_mels {
        return Err(MelError::ShapeMismatch {
            expected: (out.nrows(), n_mels),
            actual: out.dim(),
        });
    }
    Ok(zc_buffers::IntoOutput::into_output(out)?)
}
