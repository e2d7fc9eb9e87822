//! The streaming [`Processor`]: prepare once, then process blocks of any size
//! up to the prepared maximum with zero allocations; swap kernels without
//! allocating on the processing thread.

use zc_buffers::{HostBufferMut, HostBufferMutExt};

use crate::alloc::filled;
use crate::engine::direct::DirectEngine;
use crate::engine::fft::FftEngine;
use crate::engine::partitioned::PartitionedEngine;
use crate::engine::{Engine, Input, Plan};
use crate::error::{Result, VolterraError};
use crate::kernel::Kernel;
use crate::sample::Sample;
use crate::simd::SimdLevel;

/// Which engine evaluates the model. All give the same output (to rounding).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum EngineKind {
    /// Pick from the measured crossover table ([`auto_engine`]).
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

/// Default partition size of the partitioned engine for a maximum block.
pub fn default_partition(max_block: usize) -> usize {
    max_block.next_power_of_two().clamp(32, 256)
}

/// How to prepare a [`Processor`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProcessorConfig {
    /// The largest block `process` will accept.
    pub max_block: usize,
    /// The engine (default [`EngineKind::Auto`]).
    pub engine: EngineKind,
    /// Partition size for [`EngineKind::Partitioned`] (default:
    /// [`default_partition`]).
    pub partition: Option<usize>,
    /// Input history kept for kernel swaps: a swapped-in kernel may have a
    /// memory of up to `max(history, memory of the prepared kernel)` samples.
    pub history: usize,
}

/// The largest `max_block`, `history` and `partition` a processor may be
/// prepared with (2^24 samples: 6.3 minutes at 44.1 kHz in one block).
/// Larger values are [`VolterraError::SizeLimit`]; within the limit every
/// buffer is allocated fallibly (an allocation the system refuses is
/// [`zc_buffers::BufferError::AllocFailed`], never an abort). To run a
/// longer signal, process it in blocks.
pub const MAX_PREPARED_SAMPLES: usize = 1 << 24;

impl ProcessorConfig {
    fn check_limits(&self) -> Result<()> {
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
        Ok(())
    }

    /// Defaults for a maximum block size.
    pub fn new(max_block: usize) -> Self {
        ProcessorConfig {
            max_block,
            engine: EngineKind::Auto,
            partition: None,
            history: 0,
        }
    }

    /// Choose the engine.
    pub fn engine(mut self, engine: EngineKind) -> Self {
        self.engine = engine;
        self
    }

    /// Choose the partition size of the partitioned engine.
    pub fn partition(mut self, p: usize) -> Self {
        self.partition = Some(p);
        self
    }

    /// Keep this much input history for kernel swaps.
    pub fn history(mut self, samples: usize) -> Self {
        self.history = samples;
        self
    }
}

/// A kernel prepared for a processor (all buffers and FFT plans allocated).
/// Build it off the processing thread, then [`Processor::swap_kernel`].
pub struct PreparedKernel<T: Sample> {
    engine: Engine<T>,
    kind: EngineKind,
    max_block: usize,
    memory: usize,
}

impl<T: Sample> std::fmt::Debug for PreparedKernel<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PreparedKernel")
            .field("kind", &self.kind)
            .field("max_block", &self.max_block)
            .field("memory", &self.memory)
            .finish()
    }
}

impl<T: Sample> PreparedKernel<T> {
    /// Prepare `kernel` for blocks of up to `config.max_block` samples.
    pub fn new(kernel: &Kernel, config: &ProcessorConfig) -> Result<Self> {
        if config.max_block == 0 {
            return Err(VolterraError::ZeroBlock);
        }
        config.check_limits()?;
        let plan = Plan::<T>::new(kernel);
        let memory = plan.memory();
        let kind = match config.engine {
            EngineKind::Auto => auto_engine(memory, config.max_block),
            k => k,
        };
        let level = SimdLevel::detect();
        let engine = match kind {
            EngineKind::Fft => Engine::Fft(FftEngine::new(&plan, config.max_block)?),
            EngineKind::Partitioned => {
                let p = config.partition.unwrap_or_else(|| default_partition(config.max_block));
                Engine::Partitioned(PartitionedEngine::new(&plan, p, level)?)
            }
            EngineKind::Direct | EngineKind::Auto => Engine::Direct(DirectEngine::new(&plan, config.max_block, level)?),
        };
        Ok(PreparedKernel {
            engine,
            kind,
            max_block: config.max_block,
            memory,
        })
    }

    /// The engine actually used (never `Auto`).
    pub fn engine_kind(&self) -> EngineKind {
        self.kind
    }

    /// Kernel memory in samples.
    pub fn memory(&self) -> usize {
        self.memory
    }
}

/// A streaming Volterra processor for sample type `T` (`f32` or `f64`).
///
/// Zero initial history; output length = input length; every engine has zero
/// latency. Non-finite input samples are not checked (that would cost a pass
/// per block): a NaN/Inf propagates into the output for the kernel's memory
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
    /// Prepare `kernel` for blocks of up to `max_block` samples with the
    /// [`EngineKind::Auto`] engine. Allocates everything the processor will
    /// ever need.
    pub fn prepare(kernel: &Kernel, max_block: usize) -> Result<Self> {
        Self::with_config(kernel, ProcessorConfig::new(max_block))
    }

    /// Prepare with an explicit configuration.
    pub fn with_config(kernel: &Kernel, config: ProcessorConfig) -> Result<Self> {
        let current = PreparedKernel::new(kernel, &config)?;
        let cap = config.history.max(current.memory.saturating_sub(1));
        Ok(Processor {
            current,
            config,
            ring: filled(cap, T::zero())?,
            ring_pos: 0,
            ring_filled: 0,
            scratch: filled(config.max_block, T::zero())?,
        })
    }

    /// The configuration this processor was prepared with.
    pub fn config(&self) -> &ProcessorConfig {
        &self.config
    }

    /// The largest accepted block.
    pub fn max_block(&self) -> usize {
        self.config.max_block
    }

    /// The engine in use.
    pub fn engine_kind(&self) -> EngineKind {
        self.current.kind
    }

    /// Processing latency in samples: always 0 (every engine is exact and
    /// causal at any block size).
    pub fn latency(&self) -> usize {
        0
    }

    /// Clear all history (as if freshly prepared).
    pub fn reset(&mut self) {
        self.current.engine.reset();
        self.ring.fill(T::zero());
        self.ring_pos = 0;
        self.ring_filled = 0;
    }

    fn check_len(&self, len: usize) -> Result<()> {
        if len > self.config.max_block {
            return Err(VolterraError::BlockTooLarge {
                len,
                max: self.config.max_block,
            });
        }
        Ok(())
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

    /// Process one block: `output[n]` = model output for `input[n]`, with the
    /// history of previous blocks. Errors (without touching state or
    /// `output`) when the lengths differ or exceed the prepared maximum.
    pub fn process(&mut self, input: &[T], output: &mut [T]) -> Result<()> {
        if input.len() != output.len() {
            return Err(VolterraError::LengthMismatch {
                input: input.len(),
                output: output.len(),
            });
        }
        self.check_len(input.len())?;
        self.record(input);
        self.current.engine.run(Input::Slice(input), output)
    }

    /// Process one block in place (`io` holds the input, receives the output).
    pub fn process_in_place(&mut self, io: &mut [T]) -> Result<()> {
        self.check_len(io.len())?;
        self.record(io);
        self.current.engine.run(Input::InPlace, io)
    }

    /// Process a whole zc buffer (e.g. a pool buffer) in place, in blocks of
    /// at most `max_block` samples. Errors if the buffer is not a valid
    /// `&mut [T]` view (length or alignment).
    pub fn process_buffer<B: HostBufferMut + ?Sized>(&mut self, buf: &mut B) -> Result<()> {
        let samples = buf.as_slice_mut::<T>()?;
        for chunk in samples.chunks_mut(self.config.max_block) {
            self.process_in_place(chunk)?;
        }
        Ok(())
    }

    /// Prepare another kernel with this processor's configuration (allocates;
    /// call it off the processing thread, then [`Processor::swap_kernel`]).
    pub fn prepare_kernel(&self, kernel: &Kernel) -> Result<PreparedKernel<T>> {
        PreparedKernel::new(kernel, &self.config)
    }

    /// Swap in a prepared kernel without allocating. The new kernel continues
    /// the stream: its state is rebuilt from the recorded input history, so
    /// the output is exactly what the new kernel would have produced had it
    /// run from the start on the last `memory` samples. On return `next`
    /// holds the previous kernel (drop it off the processing thread).
    ///
    /// Errors, changing nothing, when `next` was prepared for another block
    /// size or its memory exceeds the recorded history
    /// (`ProcessorConfig::history`).
    pub fn swap_kernel(&mut self, next: &mut PreparedKernel<T>) -> Result<()> {
        if next.max_block != self.config.max_block {
            return Err(VolterraError::SwapMismatch {
                what: "max_block",
                actual: next.max_block,
                allowed: self.config.max_block,
            });
        }
        if next.memory - 1 > self.ring.len() {
            return Err(VolterraError::SwapMismatch {
                what: "kernel memory - 1",
                actual: next.memory - 1,
                allowed: self.ring.len(),
            });
        }
        next.engine.reset();
        let need = (next.memory - 1).min(self.ring_filled);
        let cap = self.ring.len();
        let mut start = (self.ring_pos + cap - need) % cap.max(1);
        let mut left = need;
        while left > 0 {
            let c = left.min(cap - start).min(self.config.max_block);
            let out = &mut self.scratch[..c];
            next.engine.run(Input::Slice(&self.ring[start..start + c]), out)?;
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
        assert_eq!(default_partition(1), 32);
        assert_eq!(default_partition(100), 128);
        assert_eq!(default_partition(4096), 256);
    }
}
