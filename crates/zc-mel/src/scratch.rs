//! Per-thread working memory of the engine, owned by the caller.

use rustfft::num_complex::Complex32;

use crate::kernels::LANES;

/// Working memory for one thread running a [`MelSpectrogram`](crate::MelSpectrogram)
/// plan: made by [`MelSpectrogram::make_scratch`](crate::MelSpectrogram::make_scratch)
/// (which allocates [`MelSpectrogram::scratch_bytes`](crate::MelSpectrogram::scratch_bytes)
/// bytes once) and lent to the `…_with_scratch` calls, which then allocate
/// nothing. A scratch fits every plan with the same geometry (`n_fft`,
/// `n_mels` and filterbank span) whatever its layout, threads or SIMD
/// level; another plan's scratch is refused with
/// [`MelError::ScratchMismatch`](crate::MelError::ScratchMismatch).
/// Its contents between calls are meaningless.
#[derive(Clone)]
pub struct MelScratch {
    pub(crate) geometry: Geometry,
    /// One frame assembled from reflect / zero padding; on the lane-FFT
    /// path one per lane plus an all-zero one read by silent lanes.
    pub(crate) frame: Vec<f32>,
    /// `LANES` packed half-length complex frames (the rustfft path's FFT
    /// input; empty on the lane-FFT path, which windows straight into `zr`, `zi`).
    pub(crate) fft: Vec<Complex32>,
    /// Their spectra, plus an all-zero chunk read by silent lanes (rustfft
    /// path; empty on the lane-FFT path).
    pub(crate) spec: Vec<Complex32>,
    pub(crate) fft_scratch: Vec<Complex32>,
    /// Transposed spectra, `(n_fft/2 + 1, LANES)`.
    pub(crate) zr: Vec<f32>,
    pub(crate) zi: Vec<f32>,
    /// The lane FFT's other ping-pong buffers, `(n_fft/2 + 1, LANES)`
    /// (empty on the rustfft path).
    pub(crate) yr: Vec<f32>,
    pub(crate) yi: Vec<f32>,
    /// Power rows `(k1 - k0, LANES)`.
    pub(crate) pow: Vec<f32>,
    /// Log-mel `(n_mels, LANES)`.
    pub(crate) mel: Vec<f32>,
}

/// What a scratch's sizes depend on (the engine reports its own,
/// [`Engine::geometry`](crate::engine::Engine::geometry)): a scratch fits an
/// engine with the same one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Geometry {
    pub(crate) n_fft: usize,
    pub(crate) n_mels: usize,
    /// FFT bins any mel band uses (`k1 - k0`).
    pub(crate) bins: usize,
    /// Whether the lane-parallel FFT runs (else rustfft).
    pub(crate) lane: bool,
    /// rustfft's out-of-place scratch length (rustfft path).
    pub(crate) fft_scratch: usize,
}

/// Lengths of a scratch's buffers for an engine (`f32` ones, then `Complex32` ones).
struct Sizes {
    frame: usize,
    zr: usize,
    y: usize,
    pow: usize,
    mel: usize,
    fft: usize,
    spec: usize,
    fft_scratch: usize,
}

impl Sizes {
    /// The sizes for `g` (bounded: `n_fft <= 2^20` and `n_mels <= 4096` are
    /// validated before an engine exists).
    fn of(g: &Geometry) -> Self {
        let m = g.n_fft / 2;
        let (fft, spec, fft_scratch, y) = if g.lane {
            (0, 0, 0, (m + 1) * LANES)
        } else {
            (m * LANES, m * (LANES + 1), g.fft_scratch, 0)
        };
        Self {
            frame: if g.lane { g.n_fft * (LANES + 1) } else { g.n_fft },
            zr: (m + 1) * LANES,
            y,
            pow: g.bins * LANES,
            mel: g.n_mels * LANES,
            fft,
            spec,
            fft_scratch,
        }
    }

    fn bytes(&self) -> usize {
        (self.frame + 2 * self.zr + 2 * self.y + self.pow + self.mel) * 4
            + (self.fft + self.spec + self.fft_scratch) * 8
    }
}

impl MelScratch {
    pub(crate) fn new(geometry: Geometry) -> Self {
        let n = Sizes::of(&geometry);
        let zero = Complex32::new(0.0, 0.0);
        Self {
            geometry,
            frame: vec![0.0; n.frame],
            fft: vec![zero; n.fft],
            spec: vec![zero; n.spec],
            fft_scratch: vec![zero; n.fft_scratch],
            zr: vec![0.0; n.zr],
            zi: vec![0.0; n.zr],
            yr: vec![0.0; n.y],
            yi: vec![0.0; n.y],
            pow: vec![0.0; n.pow],
            mel: vec![0.0; n.mel],
        }
    }

    /// Bytes a scratch of `geometry` holds, without making one.
    pub(crate) fn bytes_for(geometry: Geometry) -> usize {
        Sizes::of(&geometry).bytes()
    }

    /// Bytes of working memory this scratch holds.
    pub fn bytes(&self) -> usize {
        (self.frame.len()
            + self.zr.len()
            + self.zi.len()
            + self.yr.len()
            + self.yi.len()
            + self.pow.len()
            + self.mel.len())
            * 4
            + (self.fft.len() + self.spec.len() + self.fft_scratch.len()) * 8
    }
}

impl std::fmt::Debug for MelScratch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MelScratch")
            .field("n_fft", &self.geometry.n_fft)
            .field("n_mels", &self.geometry.n_mels)
            .field("bytes", &self.bytes())
            .finish()
    }
}
