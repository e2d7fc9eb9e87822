//! The streaming [`Processor`]: build once ([`Processor::builder`]), then
//! process inputs of any length with zero allocations (longer than
//! `max_block`: run in blocks internally, state carried across exactly as
//! between calls); swap kernels without allocating on the processing thread.

use std::marker::PhantomData;
use std::sync::Arc;

use zc_buffers::ndarray::ArrayViewMut1;
use zc_buffers::{HostBufferMut, IntoOutput, SimdLevel, output_prefix};

use crate::alloc::filled;
use crate::engine::direct::DirectEngine;
use crate::engine::fft::FftEngine;
use crate::engine::partitioned::PartitionedEngine;
use crate::engine::{Bytes, Input, Lanes};
use crate::error::{Result, VolterraError};
use crate::kernel::Kernel;
use crate::kernels::SIMD_LEVELS;
use crate::plan::{VolterraPlan, VolterraState, view_slice};
use crate::sample::Sample;

/// Which engine evaluates the model. All give the same output (to rounding).
///
/// Memory of each engine's prepared state, with `s` = `size_of::<T>()`,
/// `N_k` the length of FIR `k` (each present diagonal order and each H2
/// eigen-branch), `H` = kernel memory − 1, `F` the number of FIRs and `B` the
/// number of H2 branches (exact, as [`Processor::memory_bytes`] reports; the
/// FFT library's own plans come on top):
///
/// * `Direct`: `s·(Σ_k N_k + Σ_powers (H_p + C))`, chunk
///   `C = min(max_block, 4096)`: the taps and one history buffer per power;
///   with a full H2 of side `n`, `N_k` counts its lag diagonals (`n(n+1)/2`
///   taps in all) instead of branches, plus `s·(n − 1 + C)` of products.
/// * `Fft`: `2s·F·Σ_{L = L_min..L_best} (L/2 + 1)` of kernel spectra, plus
///   `s·(H + C + L_best) + 2s·(2.5·L_best + 4)` of buffers, where `L_best` is
///   the most efficient FFT size for the kernel (about `8·(H+1)`, at most
///   `(H + max_block)` rounded up to a power of two) and
///   `C = min(max_block, 4·(L_best − H))`.
/// * `Partitioned`: `2s·(P+1)·(Σ_k (⌈N_k/P⌉ − 1) + Σ_powers K_p)` of
///   partition spectra and delay lines (`K_p` the most tail partitions of a
///   FIR of that power), plus a Direct head of `P` taps per FIR and `≈ 8P`
///   samples of buffers; independent of `max_block`.
///
/// The processor adds `s·max(history, H)` of input history and
/// `s·min(max_block, max(history, H))` of swap scratch.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum EngineKind {
    /// Pick from the measured crossover table ([`auto_engine`]); if that
    /// engine's state exceeds the memory cap, the next-smallest that fits.
    #[default]
    Auto,
    /// Time domain: powers once per block, register-blocked contiguous FIRs.
    Direct,
    /// Real overlap-save FFT sized to each block; orders summed in the
    /// frequency domain, one inverse FFT per block.
    Fft,
    /// Uniformly partitioned FFT with a time-domain head partition (zero
    /// latency), for long kernels at small blocks.
    Partitioned,
}

/// The crossover table behind [`EngineKind::Auto`]: the engine to use for a
/// kernel memory `n` (longest order / H2 side) and a maximum block size.
///
/// Measured with `cargo bench -p zc-volterra --bench volterra -- crossover`
/// (group `crossover`: f64, orders 1..3, N = 16..4096 × block 16..1024, on an
/// Intel Xeon with AVX-512, 2 shared cores, Linux); the measured table is in
/// the crate README ("Crossover map"). Summary of what it showed:
///
/// * `n <= 64`: Direct wins (or ties) at every block size.
/// * block >= 256 and `n <= 2·block`: the block FFT wins (N=128..1024).
/// * otherwise `n <= 256` with block >= 64: Direct.
/// * otherwise (long kernels, small blocks): Partitioned.
pub fn auto_engine(n: usize, max_block: usize) -> EngineKind {
    if n <= CROSSOVER_DIRECT_MAX_N {
        EngineKind::Direct
    } else if max_block >= CROSSOVER_FFT_MIN_BLOCK && n <= CROSSOVER_FFT_N_PER_BLOCK * max_block {
        EngineKind::Fft
    } else if n <= CROSSOVER_DIRECT_SMALL_BLOCK_MAX_N && max_block >= CROSSOVER_DIRECT_MIN_BLOCK {
        EngineKind::Direct
    } else {
        EngineKind::Partitioned
    }
}

/// The crossover table behind [`EngineKind::Auto`] for a kernel with a full
/// H2 of side `n` (its cost dominates the diagonal orders'): the Direct
/// engine runs it in row form (`n(n+1)/2` multiply-adds per sample), Fft
/// and Partitioned as `rank(H2)` squared FIR branches (one inverse FFT per
/// branch per segment).
///
/// Measured with `examples/grid_probe.rs --full-h2` (f64, full-rank H2, N =
/// 32 … 384, blocks 64 and 512, one pinned core of a 2-core AMD EPYC with
/// AVX2); the table is in the crate README ("Crossover with a full H2"):
///
/// * `n <= 160`: Direct at every measured block size (N = 160, block 512:
///   Direct 1.69 vs Fft 1.39 MS/s, medians of 3 rounds);
/// * blocks >= 256: Fft beyond (N = 192: Fft 1.29 vs Direct 1.00);
/// * smaller blocks: Direct up to `n = 384` (N = 384, block 64: Direct
///   0.23 vs Partitioned 0.21 vs Fft 0.18), Partitioned beyond (not
///   measured with a full H2).
pub fn auto_engine_full_h2(n: usize, max_block: usize) -> EngineKind {
    if n <= CROSSOVER_FULL_H2_DIRECT_MAX_N {
        EngineKind::Direct
    } else if max_block >= CROSSOVER_FFT_MIN_BLOCK {
        EngineKind::Fft
    } else if n <= CROSSOVER_FULL_H2_DIRECT_SMALL_BLOCK_MAX_N {
        EngineKind::Direct
    } else {
        EngineKind::Partitioned
    }
}

/// Full-H2 kernels up to this side run fastest in the Direct engine.
const CROSSOVER_FULL_H2_DIRECT_MAX_N: usize = 160;
/// Below the FFT block size, Direct still wins with a full H2 up to this side.
const CROSSOVER_FULL_H2_DIRECT_SMALL_BLOCK_MAX_N: usize = 384;

/// Kernels up to this memory run fastest in the Direct engine at every
/// measured block size (bench group `crossover`).
const CROSSOVER_DIRECT_MAX_N: usize = 64;
/// The block FFT needs blocks of at least this size to win...
const CROSSOVER_FFT_MIN_BLOCK: usize = 256;
/// ...and a kernel no longer than this many blocks.
const CROSSOVER_FFT_N_PER_BLOCK: usize = 2;
/// Below the FFT region, Direct still wins up to this memory...
const CROSSOVER_DIRECT_SMALL_BLOCK_MAX_N: usize = 256;
/// ...for blocks of at least this size; elsewhere Partitioned wins.
const CROSSOVER_DIRECT_MIN_BLOCK: usize = 64;

/// Auto's table for this kernel: the full-H2 table when it has one.
fn auto_choice<T: Sample>(plan: &Lanes<T>, max_block: usize) -> EngineKind {
    if plan.branches.is_empty() {
        auto_engine(plan.memory(), max_block)
    } else {
        auto_engine_full_h2(plan.memory(), max_block)
    }
}

/// Default partition size of the partitioned engine for a maximum block.
pub fn default_partition(max_block: usize) -> usize {
    max_block.next_power_of_two().clamp(32, 256)
}

/// The largest `max_block`, `history` and `partition` a processor may be
/// built with (2^24 samples). Larger values are
/// [`VolterraError::SizeLimit`]; within the limit every buffer is allocated
/// fallibly (an allocation the system refuses is
/// [`zc_buffers::BufferError::AllocFailed`], never an abort). Inputs of any
/// length are accepted whatever `max_block` is.
pub const MAX_PREPARED_SAMPLES: usize = 1 << 24;

/// The default `max_block` of [`Processor::builder`]: suits offline
/// processing of long signals; a real-time caller sets its block size so
/// that [`EngineKind::Auto`] picks the engine for it.
pub const DEFAULT_MAX_BLOCK: usize = 4096;

/// The default memory cap of [`Processor::builder`]: 64 MiB of prepared
/// state.
pub const DEFAULT_MEMORY_CAP: usize = 64 << 20;

/// The settings a [`Processor`] was built with ([`Processor::config`]); set
/// them with [`ProcessorBuilder`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ProcessorConfig {
    /// The largest block an engine runs in one piece (longer inputs are run
    /// in blocks of this size); also the block size [`EngineKind::Auto`]
    /// chooses for.
    pub max_block: usize,
    /// The engine asked for (default [`EngineKind::Auto`]).
    pub engine: EngineKind,
    /// Partition size for [`EngineKind::Partitioned`] (default:
    /// [`default_partition`]).
    pub partition: Option<usize>,
    /// Input history kept for kernel swaps: a swapped-in kernel may have a
    /// memory of up to `max(history, memory of the prepared kernel)` samples.
    pub history: usize,
    /// The most bytes of prepared state a processor (or a kernel prepared
    /// for it) may hold.
    pub memory_cap: usize,
    /// A forced SIMD level (default: the best of [`SIMD_LEVELS`] the CPU has).
    pub simd: Option<SimdLevel>,
}

impl Default for ProcessorConfig {
    fn default() -> Self {
        ProcessorConfig {
            max_block: DEFAULT_MAX_BLOCK,
            engine: EngineKind::Auto,
            partition: None,
            history: 0,
            memory_cap: DEFAULT_MEMORY_CAP,
            simd: None,
        }
    }
}

impl ProcessorConfig {
    pub(crate) fn validate(&self) -> Result<SimdLevel> {
        if self.max_block == 0 {
            return Err(VolterraError::ZeroBlock);
        }
        let checks = [
            ("max_block", self.max_block),
            ("history", self.history),
            ("partition", self.partition.unwrap_or(0)),
        ];
        for (what, requested) in checks {
            if requested > MAX_PREPARED_SAMPLES {
                return Err(VolterraError::SizeLimit {
                    what,
                    requested,
                    limit: MAX_PREPARED_SAMPLES,
                });
            }
        }
        if let Some(level) = self.simd {
            if !SIMD_LEVELS.contains(&level) {
                return Err(VolterraError::SimdNotImplemented { level });
            }
            level.require()?;
        }
        Ok(crate::kernels::resolve(self.simd))
    }

    pub(crate) fn partition_for(&self) -> usize {
        self.partition.unwrap_or_else(|| default_partition(self.max_block))
    }

    /// Bytes the processor itself holds besides its engine: input history
    /// for swaps and the swap scratch.
    fn processor_bytes(&self, memory: usize, elem: usize) -> Bytes {
        let ring = self.history.max(memory.saturating_sub(1));
        Bytes::zero().add(ring, elem).add(ring.min(self.max_block), elem)
    }

    /// Bytes of prepared state (engine + processor) for `plan` on `kind`.
    fn bytes_for<T: Sample>(&self, plan: &Lanes<T>, kind: EngineKind) -> usize {
        let engine = match kind {
            EngineKind::Fft => FftEngine::estimate(plan, self.max_block),
            EngineKind::Partitioned => PartitionedEngine::estimate(plan, self.partition_for()),
            EngineKind::Direct | EngineKind::Auto => DirectEngine::estimate(plan, self.max_block),
        };
        engine.plus(self.processor_bytes(plan.memory(), size_of::<T>())).get()
    }

    /// The engine to build: the one asked for, or Auto's choice, within the
    /// memory cap.
    pub(crate) fn choose<T: Sample>(&self, plan: &Lanes<T>) -> Result<EngineKind> {
        let cap = self.memory_cap;
        let over = |engine: EngineKind, needed: usize| VolterraError::MemoryCap { engine, needed, cap };
        match self.engine {
            EngineKind::Auto => {
                let preferred = auto_choice(plan, self.max_block);
                let mut all = [EngineKind::Direct, EngineKind::Fft, EngineKind::Partitioned]
                    .map(|k| (k != preferred, self.bytes_for(plan, k), k));
                all.sort_by_key(|&(not_preferred, bytes, _)| (not_preferred, bytes));
                if let Some(&(_, _, k)) = all.iter().find(|(_, b, _)| *b <= cap) {
                    return Ok(k);
                }
                let (_, needed, engine) = all.into_iter().min_by_key(|&(_, b, _)| b).unwrap_or(all[0]); // ok: never empty
                Err(over(engine, needed))
            }
            k => match self.bytes_for(plan, k) {
                b if b <= cap => Ok(k),
                b => Err(over(k, b)),
            },
        }
    }
}

/// Builds a [`Processor`]: every setter is infallible, every check happens
/// in [`ProcessorBuilder::build`].
///
/// ```
/// use zc_volterra::{EngineKind, Kernel, Processor};
/// let k = Kernel::from_taps([vec![1.0, 0.5, 0.25], vec![0.1]])?;
/// let p = Processor::<f32>::builder(&k)
///     .max_block(256)
///     .engine(EngineKind::Direct)
///     .history(64)
///     .memory_cap(1 << 20)
///     .build()?;
/// assert_eq!(p.engine_kind(), EngineKind::Direct);
/// assert!(p.memory_bytes() < 1 << 20);
/// # Ok::<(), zc_volterra::VolterraError>(())
/// ```
#[derive(Debug)]
#[must_use = "a builder does nothing until build() is called"]
pub struct ProcessorBuilder<'k, T: Sample> {
    kernel: &'k Kernel,
    config: ProcessorConfig,
    _sample: PhantomData<fn() -> T>,
}

impl<'k, T: Sample> ProcessorBuilder<'k, T> {
    /// The largest block an engine runs in one piece, and the block size
    /// [`EngineKind::Auto`] chooses for (default [`DEFAULT_MAX_BLOCK`]).
    /// Inputs of any length are accepted either way.
    pub fn max_block(mut self, samples: usize) -> Self {
        self.config.max_block = samples;
        self
    }

    /// The engine (default [`EngineKind::Auto`]).
    pub fn engine(mut self, engine: EngineKind) -> Self {
        self.config.engine = engine;
        self
    }

    /// Partition size of the partitioned engine (rounded up to a power of
    /// two; default [`default_partition`]).
    pub fn partition(mut self, samples: usize) -> Self {
        self.config.partition = Some(samples);
        self
    }

    /// Keep this much input history for kernel swaps.
    pub fn history(mut self, samples: usize) -> Self {
        self.config.history = samples;
        self
    }

    /// The most bytes of prepared state (default [`DEFAULT_MEMORY_CAP`]):
    /// [`EngineKind::Auto`] never picks an engine above it, an explicit
    /// engine above it is [`VolterraError::MemoryCap`].
    pub fn memory_cap(mut self, bytes: usize) -> Self {
        self.config.memory_cap = bytes;
        self
    }

    /// Force the FIR kernels' SIMD level (default: the best of
    /// [`SIMD_LEVELS`] this CPU has, capped by `ZC_SIMD`). `build` refuses a
    /// level the CPU lacks ([`zc_buffers::BufferError::SimdUnavailable`]) or
    /// zc-volterra has no kernel for ([`VolterraError::SimdNotImplemented`]).
    pub fn simd(mut self, level: SimdLevel) -> Self {
        self.config.simd = Some(level);
        self
    }

    /// The settings so far.
    pub fn config(&self) -> &ProcessorConfig {
        &self.config
    }

    /// Bytes of prepared state `build` would allocate with `engine` (for
    /// `Auto`: the crossover table's choice, before the cap is applied).
    pub fn memory_bytes(&self, engine: EngineKind) -> usize {
        let plan = Lanes::<T>::new(self.kernel);
        let kind = match engine {
            EngineKind::Auto => auto_choice(&plan, self.config.max_block),
            k => k,
        };
        self.config.bytes_for(&plan, kind)
    }

    /// Validate the settings and prepare the processor (allocates everything
    /// it will ever need).
    ///
    /// Errors: [`VolterraError::ZeroBlock`], [`VolterraError::SizeLimit`],
    /// [`VolterraError::MemoryCap`], [`VolterraError::SimdNotImplemented`],
    /// [`zc_buffers::BufferError::SimdUnavailable`] and
    /// [`zc_buffers::BufferError::AllocFailed`] (inside
    /// [`VolterraError::Buffer`]).
    pub fn build(self) -> Result<Processor<T>> {
        Processor::from_plan(Arc::new(self.build_plan()?))
    }

    /// Validate the settings and prepare only the plan: the immutable,
    /// shareable part ([`VolterraPlan`]); each stream then needs a
    /// [`VolterraState`] ([`VolterraPlan::make_state`]). The same checks and
    /// errors as [`ProcessorBuilder::build`]; the memory cap bounds the plan
    /// with one state (and the swap history a processor would add).
    pub fn build_plan(self) -> Result<VolterraPlan<T>> {
        VolterraPlan::build(self.kernel, self.config)
    }
}

/// A kernel prepared for a processor: a plan and a state for it (all
/// buffers and FFT plans allocated). Build it off the processing thread with
/// [`Processor::prepare_kernel`], then [`Processor::swap_kernel`].
pub struct PreparedKernel<T: Sample> {
    plan: Arc<VolterraPlan<T>>,
    state: VolterraState<T>,
}

impl<T: Sample> std::fmt::Debug for PreparedKernel<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PreparedKernel")
            .field("plan", &self.plan)
            .field("state", &self.state)
            .finish()
    }
}

impl<T: Sample> PreparedKernel<T> {
    /// A state for `plan`.
    fn new(plan: Arc<VolterraPlan<T>>) -> Result<Self> {
        let state = plan.make_state()?;
        Ok(PreparedKernel { plan, state })
    }

    /// The engine actually used (never `Auto`).
    pub fn engine_kind(&self) -> EngineKind {
        self.plan.engine_kind()
    }

    /// The SIMD level of its FIR kernels.
    pub fn simd_level(&self) -> SimdLevel {
        self.plan.simd_level()
    }

    /// Kernel memory in samples.
    pub fn memory(&self) -> usize {
        self.plan.memory()
    }

    /// The plan (shareable with other threads).
    pub fn plan(&self) -> &Arc<VolterraPlan<T>> {
        &self.plan
    }

    /// Bytes of the engine's prepared state: the plan's data and this
    /// kernel's stream state.
    pub fn memory_bytes(&self) -> usize {
        self.plan.plan_bytes() + self.state.bytes()
    }

    fn run(&mut self, input: Input<'_, T>, io: &mut [T]) -> Result<()> {
        self.plan.run(&mut self.state, input, io)
    }
}

/// A streaming Volterra processor for sample type `T` (`f32` or `f64`): a
/// [`VolterraPlan`] and the [`VolterraState`] of one stream, owned together
/// (plus the input history kernel swaps need).
///
/// Zero initial history; output length = input length, any input length
/// (inputs longer than `max_block` run in blocks of `max_block`, with the
/// result identical to shorter calls); every engine has zero latency.
/// Non-finite input samples are not checked (that would cost a pass per
/// block): a NaN/Inf propagates into the output for the kernel's memory
/// (Direct) or the FFT segment(s) it falls in (Fft/Partitioned) until it
/// leaves the history; [`Processor::reset`] clears it at once.
pub struct Processor<T: Sample> {
    current: PreparedKernel<T>,
    config: ProcessorConfig,
    ring: Vec<T>,
    ring_pos: usize,
    ring_filled: usize,
    scratch: Vec<T>,
}

impl<T: Sample> std::fmt::Debug for Processor<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Processor")
            .field("kernel", &self.current)
            .field("config", &self.config)
            .finish()
    }
}

impl<T: Sample> Processor<T> {
    /// A builder for `kernel` with the defaults ([`DEFAULT_MAX_BLOCK`],
    /// [`EngineKind::Auto`], [`DEFAULT_MEMORY_CAP`], no swap history, the
    /// best SIMD level).
    pub fn builder(kernel: &Kernel) -> ProcessorBuilder<'_, T> {
        ProcessorBuilder {
            kernel,
            config: ProcessorConfig::default(),
            _sample: PhantomData,
        }
    }

    /// Shorthand for `Processor::builder(kernel).max_block(max_block).build()`.
    pub fn prepare(kernel: &Kernel, max_block: usize) -> Result<Self> {
        Self::builder(kernel).max_block(max_block).build()
    }

    /// A processor on a (possibly shared) plan: a fresh state for it and
    /// the swap history its settings ask for (allocates).
    pub fn from_plan(plan: Arc<VolterraPlan<T>>) -> Result<Self> {
        let config = *plan.config();
        let ring_len = config.history.max(plan.memory().saturating_sub(1));
        Ok(Processor {
            current: PreparedKernel::new(plan)?,
            config,
            ring: filled(ring_len, T::zero())?,
            ring_pos: 0,
            ring_filled: 0,
            scratch: filled(ring_len.min(config.max_block), T::zero())?,
        })
    }

    /// The plan in use (clone the `Arc` to run the same kernel on other
    /// threads, each with its own [`VolterraState`]).
    pub fn plan(&self) -> &Arc<VolterraPlan<T>> {
        &self.current.plan
    }

    /// The settings this processor was built with.
    pub fn config(&self) -> &ProcessorConfig {
        &self.config
    }

    /// The largest block an engine runs in one piece.
    pub fn max_block(&self) -> usize {
        self.config.max_block
    }

    /// The engine in use.
    pub fn engine_kind(&self) -> EngineKind {
        self.current.engine_kind()
    }

    /// The SIMD level of the FIR kernels in use.
    pub fn simd_level(&self) -> SimdLevel {
        self.current.simd_level()
    }

    /// Bytes of prepared state: the plan's data, the stream state, and the
    /// swap history and scratch (what the memory cap bounds).
    pub fn memory_bytes(&self) -> usize {
        self.current.memory_bytes() + std::mem::size_of_val(&self.ring[..]) + std::mem::size_of_val(&self.scratch[..])
    }

    /// Processing latency in samples: always 0 (every engine is exact and
    /// causal at any block size).
    pub fn latency(&self) -> usize {
        0
    }

    /// Clear all history (as if freshly prepared).
    pub fn reset(&mut self) {
        self.current.state.reset();
        self.ring.fill(T::zero());
        self.ring_pos = 0;
        self.ring_filled = 0;
    }

    fn record(&mut self, x: &[T]) {
        let cap = self.ring.len();
        if cap == 0 {
            return;
        }
        let x = &x[x.len().saturating_sub(cap)..];
        let first = (cap - self.ring_pos).min(x.len());
        self.ring[self.ring_pos..self.ring_pos + first].copy_from_slice(&x[..first]);
        self.ring[..x.len() - first].copy_from_slice(&x[first..]);
        self.ring_pos = (self.ring_pos + x.len()) % cap;
        self.ring_filled = (self.ring_filled + x.len()).min(cap);
    }

    /// Process `input` (any length) into the first `input.len()` samples of
    /// `out`, continuing the stream; returns `input.len()`. `out` may be
    /// longer than `input`; shorter is
    /// [`BufferError::OutputTooSmall`](zc_buffers::BufferError::OutputTooSmall),
    /// with nothing written and the state unchanged. Zero allocations.
    ///
    /// ```
    /// use zc_volterra::{Kernel, Processor};
    /// let k = Kernel::from_taps([vec![1.0, 0.5]])?;
    /// let mut p = Processor::<f64>::prepare(&k, 2)?;
    /// let mut out = [0.0; 8];
    /// // five samples through a processor prepared for blocks of two
    /// let n = p.process_into_slice(&[1.0, 0.0, 0.0, 2.0, 0.0], &mut out)?;
    /// assert_eq!(&out[..n], &[1.0, 0.5, 0.0, 2.0, 1.0]);
    /// # Ok::<(), zc_volterra::VolterraError>(())
    /// ```
    pub fn process_into_slice(&mut self, input: &[T], out: &mut [T]) -> Result<usize> {
        let out = output_prefix(out, input.len())?;
        self.record(input);
        self.current.run(Input::Slice(input), out)?;
        Ok(input.len())
    }

    /// [`Processor::process_into_slice`] into any host buffer (a pool
    /// buffer, an [`AlignedBuf`](zc_buffers::AlignedBuf), a writable
    /// mapping), viewed as `[T]` (length and alignment checked).
    pub fn process_into<B: HostBufferMut>(&mut self, input: &[T], out: &mut B) -> Result<usize> {
        self.process_into_slice(input, out.into_output()?)
    }

    /// [`Processor::process_into_slice`] into a contiguous `ndarray` view.
    pub fn process_into_view(&mut self, input: &[T], out: ArrayViewMut1<'_, T>) -> Result<usize> {
        self.process_into_slice(input, view_slice(out)?)
    }

    /// Process `io` (any length) in place: it holds the input and receives
    /// the output. Zero allocations.
    pub fn process_in_place(&mut self, io: &mut [T]) -> Result<()> {
        self.record(io);
        self.current.run(Input::InPlace, io)
    }

    /// Prepare another kernel with this processor's settings (allocates;
    /// call it off the processing thread, then [`Processor::swap_kernel`]).
    pub fn prepare_kernel(&self, kernel: &Kernel) -> Result<PreparedKernel<T>> {
        PreparedKernel::new(Arc::new(VolterraPlan::build(kernel, self.config)?))
    }

    /// Swap in a prepared kernel without allocating. The new kernel continues
    /// the stream: its state is rebuilt from the recorded input history, so
    /// the output is exactly what the new kernel would have produced had it
    /// run from the start on the last `memory` samples. On return `next`
    /// holds the previous kernel (drop it off the processing thread).
    ///
    /// Errors, changing nothing, when `next` was prepared for another block
    /// size or its memory exceeds the recorded history
    /// ([`ProcessorBuilder::history`]).
    pub fn swap_kernel(&mut self, next: &mut PreparedKernel<T>) -> Result<()> {
        if next.plan.max_block() != self.config.max_block {
            return Err(VolterraError::SwapMismatch {
                what: "max_block",
                actual: next.plan.max_block(),
                allowed: self.config.max_block,
            });
        }
        let memory = next.plan.memory();
        if memory - 1 > self.ring.len() {
            return Err(VolterraError::SwapMismatch {
                what: "kernel memory - 1",
                actual: memory - 1,
                allowed: self.ring.len(),
            });
        }
        next.state.reset();
        let need = (memory - 1).min(self.ring_filled);
        let cap = self.ring.len();
        let mut start = (self.ring_pos + cap - need) % cap.max(1);
        let mut left = need;
        while left > 0 {
            let c = left.min(cap - start).min(self.scratch.len());
            let out = &mut self.scratch[..c];
            next.run(Input::Slice(&self.ring[start..start + c]), out)?;
            start = (start + c) % cap;
            left -= c;
        }
        std::mem::swap(&mut self.current, next);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auto_follows_the_crossover_table() {
        use EngineKind::{Direct, Fft, Partitioned};
        // (N, block, choice) — the "Auto" column of the README crossover map.
        let table = [
            (16, 16, Direct),
            (64, 1024, Direct),
            (128, 16, Partitioned),
            (128, 64, Direct),
            (128, 256, Fft),
            (256, 64, Direct),
            (256, 512, Fft),
            (512, 512, Fft),
            (1024, 64, Partitioned),
            (1024, 1024, Fft),
            (4096, 256, Partitioned),
            (4096, 1024, Partitioned),
        ];
        for (n, b, want) in table {
            assert_eq!(auto_engine(n, b), want, "N={n} block={b}");
        }
        // the full-H2 table (README "Crossover with a full H2")
        for (n, b, want) in [
            (32, 64, Direct),
            (64, 512, Direct),
            (128, 64, Direct),
            (128, 512, Direct),
            (160, 512, Direct),
            (192, 512, Fft),
            (384, 64, Direct),
            (512, 64, Partitioned),
        ] {
            assert_eq!(auto_engine_full_h2(n, b), want, "full H2 N={n} block={b}");
        }
        assert_eq!(default_partition(1), 32);
        assert_eq!(default_partition(100), 128);
        assert_eq!(default_partition(4096), 256);
    }
}
