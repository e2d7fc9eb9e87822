//! The three engines (Direct, Fft, Partitioned) behind one internal enum.
//!
//! Every engine is split into an immutable plan (taps, kernel spectra, FFT
//! plans, SIMD level; `Send + Sync`) and a per-stream state (history and
//! work buffers) made by the plan. Built once for a maximum block size, an
//! engine processes blocks of any length without allocating: a block longer
//! than the engine's working size (its *chunk*, at most the maximum block) is
//! run in chunks, with the state carried across exactly as between calls.
//! Input is read before output is written, so every engine also works in
//! place. Each engine can say how many bytes of state it would need before it
//! is built (`estimate`) and how many it holds (`heap_bytes`); a test checks
//! the two agree.

pub(crate) mod direct;
pub(crate) mod fft;
pub(crate) mod partitioned;

use crate::kernel::Kernel;
use crate::sample::Sample;

/// A kernel converted to the sample type: diagonal lanes and H2 branches.
pub(crate) struct Lanes<T> {
    /// `(power p, taps h_p in natural order)`, one per present order.
    pub diag: Vec<(u32, Vec<T>)>,
    /// `(λ, eigenvector taps)` of the full H2.
    pub branches: Vec<(T, Vec<T>)>,
    /// The full H2 by lag diagonals, for the Direct engine: `lags[d][i] =
    /// (d == 0 ? 1 : 2)·H2[i][i + d]` (trailing zeros trimmed; an all-zero
    /// lag is empty), so that `Σ_ij H2[i][j] x[n−i] x[n−j] =
    /// Σ_d Σ_i lags[d][i] · x[n−i] x[n−i−d]`.
    pub lags: Vec<Vec<T>>,
}

impl<T: Sample> Lanes<T> {
    pub fn new(kernel: &Kernel) -> Self {
        let conv = |v: &[f64]| v.iter().map(|&t| T::of_f64(t)).collect::<Vec<T>>();
        let diag = (1..=crate::kernel::MAX_ORDER)
            .filter(|&p| !kernel.taps(p).is_empty())
            .map(|p| (p as u32, conv(kernel.taps(p))))
            .collect();
        let branches = kernel
            .h2_branches()
            .into_iter()
            .map(|b| (T::of_f64(b.lambda), conv(&b.taps)))
            .collect();
        let lags = kernel.full_h2().map_or_else(Vec::new, |(n, m)| {
            (0..n)
                .map(|d| {
                    let scale = if d == 0 { 1.0 } else { 2.0 };
                    let mut taps: Vec<T> = (0..n - d).map(|i| T::of_f64(scale * m[i * n + i + d])).collect();
                    while taps.last().is_some_and(|v| v.is_zero()) {
                        taps.pop();
                    }
                    taps
                })
                .collect()
        });
        Lanes { diag, branches, lags }
    }

    /// Taps per lag of the full H2 (see [`Lanes::lags`]).
    pub fn lag_lens(&self) -> Vec<usize> {
        self.lags.iter().map(Vec::len).collect()
    }

    /// Lengths: `(power, taps)` per diagonal lane and taps per branch.
    pub fn lens(&self) -> (Vec<(u32, usize)>, Vec<usize>) {
        (
            self.diag.iter().map(|(p, h)| (*p, h.len())).collect(),
            self.branches.iter().map(|(_, v)| v.len()).collect(),
        )
    }

    /// The longest FIR (diagonal lane or branch), at least 1.
    pub fn memory(&self) -> usize {
        self.diag
            .iter()
            .map(|(_, h)| h.len())
            .chain(self.branches.iter().map(|(_, v)| v.len()))
            .chain(
                self.lags
                    .iter()
                    .enumerate()
                    .map(|(d, t)| if t.is_empty() { 0 } else { t.len() + d }),
            )
            .max()
            .unwrap_or(1)
            .max(1) // ok: unwrap_or never panics
    }
}

/// Bytes of state, summed with checked arithmetic (`None`: overflowed).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Bytes(Option<usize>);

impl Bytes {
    pub fn zero() -> Self {
        Bytes(Some(0))
    }

    /// Add `count` values of `elem` bytes each.
    pub fn add(self, count: usize, elem: usize) -> Self {
        Bytes(
            self.0
                .and_then(|b| count.checked_mul(elem).and_then(|c| b.checked_add(c))),
        )
    }

    pub fn plus(self, other: Bytes) -> Self {
        Bytes(self.0.zip(other.0).and_then(|(a, b)| a.checked_add(b)))
    }

    /// The total, `usize::MAX` when it overflowed.
    pub fn get(self) -> usize {
        self.0.unwrap_or(usize::MAX)
    }
}

/// `x^p` for `p` in 1..=5.
#[inline(always)]
pub(crate) fn pow<T: Sample>(x: T, p: u32) -> T {
    match p {
        1 => x,
        2 => x * x,
        3 => x * x * x,
        4 => {
            let s = x * x;
            s * s
        }
        _ => {
            let s = x * x;
            s * s * x
        }
    }
}

/// Where an engine reads its input from: a separate slice, or the output
/// slice itself (in place).
#[derive(Clone, Copy)]
pub(crate) enum Input<'a, T> {
    /// Separate input of the same length as the output.
    Slice(&'a [T]),
    /// The output buffer holds the input.
    InPlace,
}

/// One of the engines (immutable).
pub(crate) enum Engine<T: Sample> {
    Direct(direct::DirectEngine<T>),
    Fft(fft::FftEngine<T>),
    Partitioned(partitioned::PartitionedEngine<T>),
}

/// The per-stream state of one of the engines.
pub(crate) enum EngineState<T: Sample> {
    Direct(direct::DirectState<T>),
    Fft(fft::FftState<T>),
    Partitioned(partitioned::PartitionedState<T>),
}

impl<T: Sample> Engine<T> {
    /// A zeroed state for this engine (allocates).
    pub fn make_state(&self) -> crate::Result<EngineState<T>> {
        Ok(match self {
            Engine::Direct(e) => EngineState::Direct(e.make_state()?),
            Engine::Fft(e) => EngineState::Fft(e.make_state()?),
            Engine::Partitioned(e) => EngineState::Partitioned(e.make_state()?),
        })
    }

    /// Process a block of any length. `st` must have been made by this
    /// engine (the plan checks its id); a state of another kind leaves `io`
    /// untouched and is reported as `false`.
    pub fn run(&self, st: &mut EngineState<T>, input: Input<'_, T>, io: &mut [T]) -> crate::Result<bool> {
        match (self, st) {
            (Engine::Direct(e), EngineState::Direct(s)) => {
                e.run(s, input, io);
                Ok(true)
            }
            (Engine::Fft(e), EngineState::Fft(s)) => e.run(s, input, io).map(|()| true),
            (Engine::Partitioned(e), EngineState::Partitioned(s)) => e.run(s, input, io).map(|()| true),
            _ => Ok(false),
        }
    }

    /// Bytes of the plan (taps and kernel spectra; not the FFT library's
    /// plans).
    pub fn heap_bytes(&self) -> usize {
        match self {
            Engine::Direct(e) => e.heap_bytes(),
            Engine::Fft(e) => e.heap_bytes(),
            Engine::Partitioned(e) => e.heap_bytes(),
        }
    }
}

impl<T: Sample> EngineState<T> {
    /// Clear all history.
    pub fn reset(&mut self) {
        match self {
            EngineState::Direct(s) => s.reset(),
            EngineState::Fft(s) => s.reset(),
            EngineState::Partitioned(s) => s.reset(),
        }
    }

    /// Bytes of the state's buffers.
    pub fn heap_bytes(&self) -> usize {
        match self {
            EngineState::Direct(s) => s.heap_bytes(),
            EngineState::Fft(s) => s.heap_bytes(),
            EngineState::Partitioned(s) => s.heap_bytes(),
        }
    }
}

/// Bytes of a slice's elements.
pub(crate) fn bytes_of<T>(v: &[T]) -> usize {
    std::mem::size_of_val(v)
}
