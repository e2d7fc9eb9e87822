//! Plans and states: a [`VolterraPlan`] is the immutable, prepared form of a
//! kernel for one engine (taps, kernel spectra, FFT plans, the SIMD level),
//! `Send + Sync` and shareable in an [`Arc`](std::sync::Arc) across threads;
//! a [`VolterraState`] is one stream's history and working memory, made by
//! the plan ([`VolterraPlan::make_state`]) and passed to every call, as
//! rustfft's `process_with_scratch` takes its scratch. The
//! [`Processor`](crate::Processor) is the convenience that owns one plan and one state.

use std::sync::atomic::{AtomicU64, Ordering};

use zc_buffers::ndarray::ArrayViewMut1;
use zc_buffers::{HostBufferMut, IntoOutput, SimdLevel, output_prefix};

use crate::engine::direct::DirectEngine;
use crate::engine::fft::FftEngine;
use crate::engine::partitioned::PartitionedEngine;
use crate::engine::{Engine, EngineState, Input, Lanes};
use crate::error::{Result, VolterraError};
use crate::kernel::Kernel;
use crate::processor::{EngineKind, ProcessorBuilder, ProcessorConfig};
use crate::sample::Sample;

/// Source of plan ids: every plan gets its own, every state records its
/// plan's.
static NEXT_PLAN_ID: AtomicU64 = AtomicU64::new(1);

/// A kernel prepared for one engine: immutable after it is built, `Send +
/// Sync`, shareable across threads (wrap it in an
/// [`Arc`](std::sync::Arc)). Each stream processed with it has its own
/// [`VolterraState`] ([`VolterraPlan::make_state`]).
///
/// Built by [`ProcessorBuilder::build_plan`] (the same settings and checks
/// as a [`Processor`](crate::Processor)) or [`VolterraPlan::new`]. Output of
/// a plan with a state is bit-identical to a [`Processor`](crate::Processor)
/// built with the same settings.
///
/// ```
/// use zc_volterra::{Kernel, VolterraPlan};
///
/// let k = Kernel::from_taps([vec![1.0, 0.5, 0.25], vec![0.1, 0.05]])?;
/// // one plan, borrowed by three scoped threads (or held in an `Arc`)
/// let plan = VolterraPlan::<f32>::new(&k, 256)?;
/// let x: Vec<f32> = (0..1000).map(|n| (n as f32 * 0.05).sin()).collect();
/// let outputs = std::thread::scope(|s| {
///     let jobs: Vec<_> = (0..3)
///         .map(|_| {
///             s.spawn(|| -> zc_volterra::Result<Vec<f32>> {
///                 let mut state = plan.make_state()?; // one per stream: allocates
///                 let mut y = vec![0.0f32; x.len()];
///                 plan.process_into_slice_with_state(&x, &mut y, &mut state)?; // allocates nothing
///                 Ok(y)
///             })
///         })
///         .collect();
///     jobs.into_iter()
///         .map(|j| j.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
///         .collect::<zc_volterra::Result<Vec<_>>>()
/// })?;
/// assert!(outputs.iter().all(|y| y == &outputs[0]));
/// # Ok::<(), zc_volterra::VolterraError>(())
/// ```
pub struct VolterraPlan<T: Sample> {
    id: u64,
    engine: Engine<T>,
    kind: EngineKind,
    level: SimdLevel,
    config: ProcessorConfig,
    memory: usize,
}

/// One stream's history and working memory for a [`VolterraPlan`]: made by
/// [`VolterraPlan::make_state`] (allocates), then passed to every call of
/// that plan (which allocates nothing). A state belongs to the plan that
/// made it: another plan refuses it with [`VolterraError::ForeignState`].
pub struct VolterraState<T: Sample> {
    plan: u64,
    engine: EngineState<T>,
}

impl<T: Sample> std::fmt::Debug for VolterraPlan<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VolterraPlan")
            .field("id", &self.id)
            .field("engine", &self.kind)
            .field("simd", &self.level)
            .field("memory", &self.memory)
            .field("config", &self.config)
            .finish()
    }
}

impl<T: Sample> std::fmt::Debug for VolterraState<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VolterraState")
            .field("plan", &self.plan)
            .field("bytes", &self.bytes())
            .finish()
    }
}

impl<T: Sample> VolterraState<T> {
    /// The id of the plan that made this state.
    pub fn plan_id(&self) -> u64 {
        self.plan
    }

    /// Clear all history (as if freshly made).
    pub fn reset(&mut self) {
        self.engine.reset();
    }

    /// Bytes of history and working memory held.
    pub fn bytes(&self) -> usize {
        self.engine.heap_bytes()
    }
}

impl<T: Sample> VolterraPlan<T> {
    /// Shorthand for `Processor::builder(kernel).max_block(max_block).build_plan()`
    /// (see [`ProcessorBuilder::build_plan`]).
    pub fn new(kernel: &Kernel, max_block: usize) -> Result<Self> {
        crate::Processor::<T>::builder(kernel).max_block(max_block).build_plan()
    }

    /// A builder with the defaults (the same as [`Processor::builder`](crate::Processor::builder));
    /// finish it with [`ProcessorBuilder::build_plan`].
    pub fn builder(kernel: &Kernel) -> ProcessorBuilder<'_, T> {
        crate::Processor::<T>::builder(kernel)
    }

    /// Validate `config`, choose the engine and prepare it.
    pub(crate) fn build(kernel: &Kernel, config: ProcessorConfig) -> Result<Self> {
        let level = config.validate()?;
        let lanes = Lanes::<T>::new(kernel);
        let memory = lanes.memory();
        let kind = config.choose(&lanes)?;
        let engine = match kind {
            EngineKind::Fft => Engine::Fft(FftEngine::new(&lanes, config.max_block, level)?),
            EngineKind::Partitioned => {
                Engine::Partitioned(PartitionedEngine::new(&lanes, config.partition_for(), level)?)
            }
            EngineKind::Direct | EngineKind::Auto => {
                Engine::Direct(DirectEngine::new(&lanes, config.max_block, level)?)
            }
        };
        Ok(VolterraPlan {
            id: NEXT_PLAN_ID.fetch_add(1, Ordering::Relaxed),
            engine,
            kind,
            level,
            config,
            memory,
        })
    }

    /// This plan's id (unique in the process); its states record it.
    pub fn id(&self) -> u64 {
        self.id
    }

    /// The settings the plan was built with.
    pub fn config(&self) -> &ProcessorConfig {
        &self.config
    }

    /// The largest block an engine runs in one piece.
    pub fn max_block(&self) -> usize {
        self.config.max_block
    }

    /// The engine in use (never `Auto`).
    pub fn engine_kind(&self) -> EngineKind {
        self.kind
    }

    /// The SIMD level of the plan's kernels.
    pub fn simd_level(&self) -> SimdLevel {
        self.level
    }

    /// Kernel memory in samples (the longest FIR).
    pub fn memory(&self) -> usize {
        self.memory
    }

    /// Processing latency in samples: always 0.
    pub fn latency(&self) -> usize {
        0
    }

    /// Bytes of the plan's own prepared data (taps, kernel spectra; the FFT
    /// library's plans come on top), shared by every state.
    pub fn plan_bytes(&self) -> usize {
        self.engine.heap_bytes()
    }

    /// Bytes one [`VolterraState`] of this plan holds.
    pub fn state_bytes(&self) -> usize {
        self.make_state().map_or(0, |s| s.bytes())
    }

    /// A zeroed state for one stream (allocates; make one per stream and
    /// reuse it). Errors: [`zc_buffers::BufferError::AllocFailed`] inside
    /// [`VolterraError::Buffer`].
    pub fn make_state(&self) -> Result<VolterraState<T>> {
        Ok(VolterraState {
            plan: self.id,
            engine: self.engine.make_state()?,
        })
    }

    /// The state's plan must be this one.
    fn check(&self, state: &VolterraState<T>) -> Result<()> {
        if state.plan == self.id {
            Ok(())
        } else {
            Err(VolterraError::ForeignState {
                plan: self.id,
                state_plan: state.plan,
            })
        }
    }

    /// Run the engine on a checked state.
    pub(crate) fn run(&self, state: &mut VolterraState<T>, input: Input<'_, T>, io: &mut [T]) -> Result<()> {
        self.check(state)?;
        match self.engine.run(&mut state.engine, input, io)? {
            true => Ok(()),
            // unreachable: a state made by this plan has its engine's kind
            false => Err(VolterraError::ForeignState {
                plan: self.id,
                state_plan: state.plan,
            }),
        }
    }

    /// Process `input` (any length) into the first `input.len()` samples of
    /// `out`, continuing the stream held in `state`; returns `input.len()`.
    /// `out` may be longer; shorter is
    /// [`BufferError::OutputTooSmall`](zc_buffers::BufferError::OutputTooSmall),
    /// a state of another plan [`VolterraError::ForeignState`], both with
    /// nothing written and the state unchanged. Zero allocations.
    pub fn process_into_slice_with_state(
        &self,
        input: &[T],
        out: &mut [T],
        state: &mut VolterraState<T>,
    ) -> Result<usize> {
        self.check(state)?;
        let out = output_prefix(out, input.len())?;
        self.run(state, Input::Slice(input), out)?;
        Ok(input.len())
    }

    /// [`VolterraPlan::process_into_slice_with_state`] into any host buffer
    /// (viewed as `[T]`, length and alignment checked).
    pub fn process_into_with_state<B: HostBufferMut>(
        &self,
        input: &[T],
        out: &mut B,
        state: &mut VolterraState<T>,
    ) -> Result<usize> {
        self.process_into_slice_with_state(input, out.into_output()?, state)
    }

    /// [`VolterraPlan::process_into_slice_with_state`] into a contiguous
    /// `ndarray` view.
    pub fn process_into_view_with_state(
        &self,
        input: &[T],
        out: ArrayViewMut1<'_, T>,
        state: &mut VolterraState<T>,
    ) -> Result<usize> {
        self.process_into_slice_with_state(input, view_slice(out)?, state)
    }

    /// Process `io` (any length) in place, continuing the stream in `state`.
    /// Zero allocations.
    pub fn process_in_place_with_state(&self, io: &mut [T], state: &mut VolterraState<T>) -> Result<()> {
        self.run(state, Input::InPlace, io)
    }
}

/// A contiguous view as a slice, without allocating on success.
pub(crate) fn view_slice<T: Sample>(out: ArrayViewMut1<'_, T>) -> Result<&mut [T]> {
    // `IntoOutput` for views records shape and strides for its error
    // before it knows whether there is one (two small allocations); the
    // hot path checks the layout first and allocates nothing.
    let out = if out.is_standard_layout() {
        out.into_slice()
    } else {
        Some(out.into_output()?)
    };
    Ok(out.ok_or(zc_buffers::BufferError::NotContiguous {
        shape: Vec::new(),
        strides: Vec::new(),
    })?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send_sync<X: Send + Sync>() {}

    #[test]
    fn plans_and_states_cross_threads() {
        assert_send_sync::<VolterraPlan<f32>>();
        assert_send_sync::<VolterraPlan<f64>>();
        assert_send_sync::<VolterraState<f64>>();
    }
}
