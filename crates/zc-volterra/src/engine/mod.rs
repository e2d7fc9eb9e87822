//! The three engines (Direct, Fft, Partitioned) behind one internal enum.
//!
//! Every engine is built once for a maximum block size, owns all its buffers,
//! and then processes blocks of any length up to that maximum without
//! allocating. Input is read before output is written, so every engine also
//! works in place.

pub(crate) mod direct;
pub(crate) mod fft;
pub(crate) mod partitioned;

use crate::kernel::Kernel;
use crate::sample::Sample;

/// A kernel converted to the sample type: diagonal lanes and H2 branches.
pub(crate) struct Plan<T> {
    /// `(power p, taps h_p in natural order)`, one per present order.
    pub diag: Vec<(u32, Vec<T>)>,
    /// `(λ, eigenvector taps)` of the full H2.
    pub branches: Vec<(T, Vec<T>)>,
}

impl<T: Sample> Plan<T> {
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
        Plan { diag, branches }
    }

    /// The longest FIR (diagonal lane or branch), at least 1.
    pub fn memory(&self) -> usize {
        self.diag
            .iter()
            .map(|(_, h)| h.len())
            .chain(self.branches.iter().map(|(_, v)| v.len()))
            .max()
            .unwrap_or(1)
            .max(1) // ok: unwrap_or never panics
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

/// One of the engines.
pub(crate) enum Engine<T: Sample> {
    Direct(direct::DirectEngine<T>),
    Fft(fft::FftEngine<T>),
    Partitioned(partitioned::PartitionedEngine<T>),
}

impl<T: Sample> Engine<T> {
    /// Process one block (`io.len() <= max_block`, checked by the caller).
    pub fn run(&mut self, input: Input<'_, T>, io: &mut [T]) -> crate::Result<()> {
        match self {
            Engine::Direct(e) => {
                e.run(input, io);
                Ok(())
            }
            Engine::Fft(e) => e.run(input, io),
            Engine::Partitioned(e) => e.run(input, io),
        }
    }

    pub fn reset(&mut self) {
        match self {
            Engine::Direct(e) => e.reset(),
            Engine::Fft(e) => e.reset(),
            Engine::Partitioned(e) => e.reset(),
        }
    }
}
