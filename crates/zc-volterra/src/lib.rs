//! # zc-volterra
//!
//! Allocation-free Volterra series (memory polynomial) engines for nonlinear
//! audio models: tube stages, loudspeakers, microphones, power amplifiers.
//!
//! Model: `y[n] = Σ_{p=1..5} Σ_i h_p[i]·x[n−i]^p` (diagonal kernels, each
//! order with its own length) plus an optional full symmetric second-order
//! kernel `Σ_i Σ_j H2[i][j]·x[n−i]·x[n−j]`; zero initial history; `f32` or
//! `f64` samples.
//!
//! * [`Kernel`]: per-order taps, polynomial coefficients, full H2, serde and
//!   the py-volterra NPZ layout ([`npz`]).
//! * [`Processor`]: build once ([`Processor::builder`], or
//!   [`Processor::prepare`]), then process inputs of any length with zero
//!   allocations: [`Processor::process_into`] (any zc host buffer),
//!   [`Processor::process_into_slice`], [`Processor::process_into_view`]
//!   (outputs may be longer; the samples written are returned) and
//!   [`Processor::process_in_place`]; `reset`, `latency`, allocation-free
//!   kernel swaps ([`PreparedKernel`]).
//! * Engines ([`EngineKind`]): `Direct`, `Fft` (block-sized real
//!   overlap-save), `Partitioned` (uniformly partitioned, zero latency) and
//!   `Auto` from a measured crossover table ([`auto_engine`]) within a memory
//!   cap ([`ProcessorBuilder::memory_cap`]; the memory of each engine is
//!   documented on [`EngineKind`]). The full H2 is exact in every engine
//!   (eigen-decomposed into squared FIR branches). FIR kernels per
//!   [`SimdLevel`] ([`SIMD_LEVELS`]).
//! * [`analysis`]: closed-form harmonics of a memoryless kernel, measured
//!   harmonic levels and THD.
//! * [`identify`]: ridge least-squares fit of a memory polynomial.
//!
//! ```
//! use zc_volterra::{Kernel, Processor};
//! // A "nonlinear microphone stage": short decaying memories, orders 1..3.
//! let h = |c: f64, r: f64, n: usize| (0..n).map(|i| c * r.powi(i as i32)).collect::<Vec<_>>();
//! let kernel = Kernel::from_taps([h(1.0, 0.5, 16), h(0.05, -0.4, 8), h(0.01, 0.3, 4)])?;
//! let mut proc = Processor::<f32>::prepare(&kernel, 256)?;
//! let x = vec![0.1f32; 1000]; // longer than max_block: fine
//! let mut y = vec![0.0f32; 1000];
//! proc.process_into_slice(&x, &mut y)?; // zero allocations
//! assert!((y[0] - (0.1 + 0.05 * 0.01 + 0.01 * 0.001)).abs() < 1e-6);
//! # Ok::<(), zc_volterra::VolterraError>(())
//! ```

mod alloc;
pub mod analysis;
mod engine;
pub mod error;
pub mod identify;
pub mod kernel;
mod kernels;
pub mod naive;
pub mod npz;
pub mod plan;
pub mod processor;
pub mod sample;

pub use error::{AnalysisError, IdentifyError, NpzError, Result, VolterraError};
pub use kernel::{H2Branch, Kernel, MAX_ORDER};
pub use kernels::SIMD_LEVELS;
pub use plan::{VolterraPlan, VolterraState};
pub use processor::{
    DEFAULT_MAX_BLOCK, DEFAULT_MEMORY_CAP, EngineKind, PreparedKernel, Processor, ProcessorBuilder, ProcessorConfig,
    auto_engine, auto_engine_full_h2, default_partition,
};
pub use sample::Sample;
/// The CPU feature levels (shared by every zc crate).
pub use zc_buffers::SimdLevel;

#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
