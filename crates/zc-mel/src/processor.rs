//! A plan with its own scratch, for one thread.

use ndarray::{Array2, ArrayViewMut2, ArrayViewMut3};
use zc_buffers::HostBufferMut;

use crate::config::{MelConfig, MelShape};
use crate::error::Result;
use crate::plan::MelSpectrogram;
use crate::scratch::MelScratch;

/// A [`MelSpectrogram`] plan together with the [`MelScratch`] it runs on:
/// the convenience type for one thread. Its `compute_*` calls take
/// `&mut self` and allocate nothing after construction (on one thread);
/// the plan itself stays shareable ([`plan`](Self::plan)).
///
/// ```
/// use zc_mel::{Layout, MelConfig, MelProcessor, MelSpectrogram};
///
/// let plan = MelSpectrogram::builder(MelConfig::whisper(80)).layout(Layout::FrameMajor).build()?;
/// let mut mel = MelProcessor::new(plan);
/// let audio = vec![0.1f32; 16_000];
/// let mut out = vec![0f32; mel.plan().output_len(audio.len())?];
/// let shape = mel.compute_into_slice(&audio, &mut out)?;
/// assert_eq!(shape.dims(), (100, 80));
/// # Ok::<(), zc_mel::MelError>(())
/// ```
#[derive(Clone, Debug)]
pub struct MelProcessor {
    plan: MelSpectrogram,
    scratch: MelScratch,
}

impl MelProcessor {
    /// The plan with a scratch made for it (the plan is cheap to clone:
    /// pass `plan.clone()` to keep using it elsewhere).
    pub fn new(plan: MelSpectrogram) -> Self {
        let scratch = plan.make_scratch();
        Self { plan, scratch }
    }

    /// [`MelSpectrogram::new`] then [`MelProcessor::new`].
    pub fn from_config(config: MelConfig) -> Result<Self> {
        Ok(Self::new(MelSpectrogram::new(config)?))
    }

    /// The plan.
    pub fn plan(&self) -> &MelSpectrogram {
        &self.plan
    }

    /// The plan and the scratch, taken apart.
    pub fn into_parts(self) -> (MelSpectrogram, MelScratch) {
        (self.plan, self.scratch)
    }

    /// [`MelSpectrogram::compute_into_with_scratch`] with the own scratch.
    pub fn compute_into<B: HostBufferMut + ?Sized>(&mut self, audio: &[f32], out: &mut B) -> Result<MelShape> {
        self.plan.compute_into_with_scratch(audio, out, &mut self.scratch)
    }

    /// [`MelSpectrogram::compute_into_slice_with_scratch`] with the own scratch.
    pub fn compute_into_slice(&mut self, audio: &[f32], out: &mut [f32]) -> Result<MelShape> {
        self.plan.compute_into_slice_with_scratch(audio, out, &mut self.scratch)
    }

    /// [`MelSpectrogram::compute_into_view_with_scratch`] with the own scratch.
    pub fn compute_into_view(&mut self, audio: &[f32], out: ArrayViewMut2<'_, f32>) -> Result<MelShape> {
        self.plan.compute_into_view_with_scratch(audio, out, &mut self.scratch)
    }

    /// Compute into a new `ndarray` (allocates the output).
    pub fn compute(&mut self, audio: &[f32]) -> Result<Array2<f32>> {
        let shape = self.plan.output_shape(audio.len())?;
        let mut out = Array2::zeros(shape.dims());
        zc_buffers::ledger::record_alloc(shape.len() * 4);
        self.compute_into_view(audio, out.view_mut())?;
        Ok(out)
    }

    /// [`MelSpectrogram::compute_batch_into_slices`] with the own scratch.
    pub fn compute_batch_into_slices(&mut self, clips: &[&[f32]], outs: &mut [&mut [f32]]) -> Result<()> {
        self.plan.compute_batch_into_slices(clips, outs, &mut self.scratch)
    }

    /// [`MelSpectrogram::compute_batch_into_view`] with the own scratch.
    pub fn compute_batch_into_view(&mut self, clips: &[&[f32]], out: ArrayViewMut3<'_, f32>) -> Result<()> {
        self.plan.compute_batch_into_view(clips, out, &mut self.scratch)
    }

    /// [`MelSpectrogram::compute_batch_into`] with the own scratch.
    pub fn compute_batch_into<B: HostBufferMut + Send>(&mut self, clips: &[&[f32]], outs: &mut [B]) -> Result<()> {
        self.plan.compute_batch_into(clips, outs, &mut self.scratch)
    }
}
