//! Resampling to 16 kHz (feature `resample`, on by default).

use std::fmt;

use rubato::Resampler as _;
use rubato::audioadapter_buffers::direct::InterleavedSlice;
use zc_buffers::HostBufferMut;
use zc_buffers::HostBufferMutExt;
use zc_buffers::ledger::{self, CopyKind};

use crate::config::SAMPLE_RATE;
use crate::error::{MelError, Result};

/// Lowest input rate a [`Resampler`] accepts, in Hz.
pub const MIN_INPUT_RATE: u32 = 1_000;
/// Highest input rate a [`Resampler`] accepts, in Hz (the FFT block of a rate
/// with no common factor with 16 000 is as long as the rate itself).
pub const MAX_INPUT_RATE: u32 = 768_000;

/// Minimum FFT block length in input samples (rounded up to an even number
/// of `rate / gcd` periods; also the input per rubato call).
const CHUNK: usize = 2_048;

fn gcd(mut a: u32, mut b: u32) -> u32 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// Samples that `n` samples at `from` Hz become at `to` Hz:
/// `round(n · to / from)`, halves rounded up, computed exactly. Returns 0
/// when `from` is 0.
pub fn resampled_len(n: usize, from: u32, to: u32) -> usize {
    if from == 0 {
        return 0;
    }
    let num = n as u128 * u128::from(to) + u128::from(from / 2);
    usize::try_from(num / u128::from(from)).unwrap_or(usize::MAX) // ok: saturates on absurd sizes
}

/// A resampling plan from one input rate to 16 kHz. See the
///
/// A [`Resampler`] is a plan built once for one input rate → [`SAMPLE_RATE`]
/// (16 kHz): rubato's synchronous FFT resampler (`rubato::Fft`, one channel,
/// fixed input chunks of 2 048 samples, one sub-chunk, squared
/// Blackman–Harris window), its input/output scratch and one output chunk of
/// our own. [`Resampler::process_into`] then resamples a whole clip into
/// caller-owned memory and **allocates nothing**: the FFT plans, scratch and
/// overlap buffers are reused and reset on every call.
///
/// # Output length
///
/// `n` input samples at `rate` Hz give exactly
/// [`resampled_len`]`(n, rate, 16_000)` = `round(n · 16000 / rate)` samples,
/// rounding halves up (computed exactly in integers:
/// `(n · 16000 + rate / 2) / rate`). Output sample `j` is the band-limited
/// input at time `j / 16000` s, so sample 0 is aligned with input sample 0
/// (the resampler's delay is trimmed) and the signal before the first and
/// after the last sample is taken as silence.
///
/// # Quality
///
/// The anti-aliasing / interpolation filter is a windowed sinc (squared
/// Blackman–Harris) as long as one FFT block — at least 2 048 input samples,
/// an even number of `rate / gcd(rate, 16000)` periods so the filter delay is
/// a whole number of output samples and is trimmed exactly — applied by FFT
/// convolution with overlap-add in `f32`. The cutoff is rubato's fit for that
/// length and window, ≈ 0.98–0.99 of the lower Nyquist frequency (7.84 kHz
/// from 48 kHz, 7.89 kHz from 44.1 kHz). Measured (tests): a 1 kHz tone from
/// 8 / 22.05 / 44.1 / 48 / 96 kHz matches the ideal 16 kHz tone sample by
/// sample within ≈ 1e-6 (amplitude 0.5), tones at 8.2–12 kHz leave less than
/// 1e-5. This is "high quality" at a modest cost (an FFT of twice the block
/// per block), and fixed-ratio FFT resampling is rubato's recommended
/// synchronous path. Rates sharing few factors with 16 000 (e.g. 44 101 Hz)
/// need a block of `2 · rate / gcd` samples: planning costs more (tens of MB
/// for rates near [`MAX_INPUT_RATE`]) but the result is as good.
///
/// # Ledger
///
/// Each call records one [`CopyKind::Convert`] of the bytes written (a 16 kHz
/// input is a plain copy, recorded as [`CopyKind::Other`]).
pub struct Resampler {
    input_rate: u32,
    engine: Option<Engine>,
}

/// The rubato state used for rates other than 16 kHz.
struct Engine {
    fft: rubato::Fft<f32>,
    /// One output chunk of rubato (`output_frames_max` samples).
    chunk_out: Vec<f32>,
    /// One input chunk, scaled down (`input_frames_max` samples): used only
    /// for clips whose peak is so large that the FFT could overflow.
    chunk_in: Vec<f32>,
}

/// Clips whose peak magnitude exceeds this are resampled at a power-of-two
/// scale (exact) and scaled back: an FFT block sums thousands of products,
/// and a sum of values near `f32::MAX` overflows to infinity and then NaN
/// (which made rubato panic in 0.1).
const SCALE_ABOVE: f32 = 1.0e18;

impl fmt::Debug for Resampler {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Resampler");
        d.field("input_rate", &self.input_rate)
            .field("output_rate", &SAMPLE_RATE);
        if let Some(e) = &self.engine {
            d.field("fft_size_in", &e.fft.fft_size_in())
                .field("fft_size_out", &e.fft.fft_size_out())
                .field("cutoff", &e.fft.cutoff());
        }
        d.finish()
    }
}

impl Resampler {
    /// Plan resampling from `input_rate` Hz to 16 kHz. All memory is allocated
    /// here. A 16 kHz input needs no plan: [`process_into`](Self::process_into)
    /// then copies the samples unchanged.
    ///
    /// Fails with [`MelError::InvalidSampleRate`] for a rate outside
    /// [`MIN_INPUT_RATE`]`..=`[`MAX_INPUT_RATE`] (0 included).
    pub fn new(input_rate: u32) -> Result<Self> {
        if !(MIN_INPUT_RATE..=MAX_INPUT_RATE).contains(&input_rate) {
            return Err(MelError::InvalidSampleRate {
                rate: input_rate,
                min: MIN_INPUT_RATE,
                max: MAX_INPUT_RATE,
            });
        }
        if input_rate == SAMPLE_RATE {
            return Ok(Self {
                input_rate,
                engine: None,
            });
        }
        // An even number of `rate/g : 16000/g` blocks per FFT block makes both
        // FFT block lengths even, so the filter's delay (half a block) is a
        // whole number of output samples and can be trimmed exactly.
        let g = gcd(input_rate, SAMPLE_RATE);
        let pair = 2 * (input_rate / g) as usize;
        let chunk = CHUNK.div_ceil(pair) * pair;
        let fft = rubato::Fft::<f32>::new_custom(
            input_rate as usize,
            SAMPLE_RATE as usize,
            chunk,
            1,
            1,
            rubato::WindowFunction::BlackmanHarris2,
            rubato::FixedSync::Input,
        )
        .map_err(|e| MelError::Resample { message: e.to_string() })?;
        let chunk_out = vec![0.0; fft.output_frames_max()];
        let chunk_in = vec![0.0; fft.input_frames_max()];
        Ok(Self {
            input_rate,
            engine: Some(Engine {
                fft,
                chunk_out,
                chunk_in,
            }),
        })
    }

    /// The input rate in Hz.
    pub fn input_rate(&self) -> u32 {
        self.input_rate
    }

    /// The output rate in Hz (always [`SAMPLE_RATE`], 16 kHz).
    pub fn output_rate(&self) -> u32 {
        SAMPLE_RATE
    }

    /// True for a 16 kHz input: samples are copied unchanged.
    pub fn is_passthrough(&self) -> bool {
        self.engine.is_none()
    }

    /// Output samples for `n` input samples: `round(n · 16000 / input_rate)`
    /// (see [`resampled_len`]).
    pub fn output_len(&self, n: usize) -> usize {
        resampled_len(n, self.input_rate, SAMPLE_RATE)
    }

    /// Bytes of `f32` output for `n` input samples.
    pub fn output_bytes(&self, n: usize) -> usize {
        self.output_len(n) * 4
    }

    /// Resample `input` into the prefix of `out`, which must be 4-byte
    /// aligned and hold at least [`output_bytes`](Self::output_bytes)`(input.len())` bytes.
    /// Returns the number of samples written. Allocates nothing.
    pub fn process_into<B: HostBufferMut + ?Sized>(&mut self, input: &[f32], out: &mut B) -> Result<usize> {
        self.process_into_slice(input, out.as_slice_mut::<f32>()?)
    }

    /// [`process_into`](Self::process_into) for an `f32` slice of at least
    /// [`output_len`](Self::output_len)`(input.len())` values (a prefix is
    /// written; fewer is `OutputTooSmall`).
    ///
    /// Bad input, same policy as the mel front end: a NaN or infinite sample
    /// is [`MelError::NonFiniteSample`] (index into `input`) and `out` is left
    /// untouched. Every finite input gives finite output: a clip with
    /// samples near `f32::MAX` is resampled at an exact power-of-two scale
    /// and scaled back, saturating at `±f32::MAX` where the band-limited
    /// signal overshoots it.
    pub fn process_into_slice(&mut self, input: &[f32], out: &mut [f32]) -> Result<usize> {
        let n_out = self.output_len(input.len());
        let out = zc_buffers::output_prefix(out, n_out)?;
        let mut peak = 0.0f32;
        for (index, &value) in input.iter().enumerate() {
            if !value.is_finite() {
                return Err(MelError::NonFiniteSample { index, value });
            }
            peak = peak.max(value.abs());
        }
        let Some(engine) = self.engine.as_mut() else {
            ledger::copy_slice(out, input, CopyKind::Other)?;
            return Ok(n_out);
        };
        // 2^-e brings the peak to at most 4 exactly (a normal power of two
        // changes no mantissa: e ≤ 126); 2^e, in f64, brings it back.
        let scale = (peak > SCALE_ABOVE).then(|| {
            let e = (peak.log2().ceil() as i32).min(126);
            (2f32.powi(-e), 2f64.powi(e))
        });
        engine.run(input, out, scale)?;
        ledger::record_copy(CopyKind::Convert, n_out * 4);
        Ok(n_out)
    }
}

impl Engine {
    /// Resample the whole of `input` into `out` (already sized), trimming the
    /// filter delay and feeding silence past the end until `out` is full.
    ///
    /// `scale`: `(down, up)` powers of two for clips whose peak could overflow
    /// the FFT: each input chunk is scaled down into `chunk_in` and the output
    /// scaled back up, saturating at `±f32::MAX`.
    fn run(&mut self, input: &[f32], out: &mut [f32], scale: Option<(f32, f64)>) -> Result<()> {
        let err = |message: String| MelError::Resample { message };
        let Engine {
            fft,
            chunk_out,
            chunk_in,
        } = self;
        fft.reset();
        let mut to_skip = fft.output_delay();
        let out_frames = chunk_out.len();
        let mut written = 0usize;
        let mut consumed = 0usize;
        while written < out.len() {
            let left = input.len() - consumed;
            let part = left.min(fft.input_frames_next());
            // The unscaled path reads the caller's samples in place.
            let (src, offset): (&[f32], usize) = match scale {
                None => (input, consumed),
                Some((down, _)) => {
                    let n = part.min(chunk_in.len());
                    for (d, &s) in chunk_in[..n].iter_mut().zip(&input[consumed..consumed + n]) {
                        *d = s * down;
                    }
                    (&chunk_in[..n], 0)
                }
            };
            let input_adapter = InterleavedSlice::new(src, 1, src.len()).map_err(|e| err(e.to_string()))?;
            let indexing = rubato::Indexing {
                input_offset: offset,
                output_offset: 0,
                partial_len: Some(part),
                active_channels_mask: None,
            };
            let mut out_adapter =
                InterleavedSlice::new_mut(&mut chunk_out[..], 1, out_frames).map_err(|e| err(e.to_string()))?;
            let (n_in, n_new) = fft
                .process_into_buffer(&input_adapter, &mut out_adapter, Some(&indexing))
                .map_err(|e| err(e.to_string()))?;
            consumed += n_in.min(left);
            let skip = to_skip.min(n_new);
            to_skip -= skip;
            let fresh = &chunk_out[skip..n_new];
            let take = fresh.len().min(out.len() - written);
            let dst = &mut out[written..written + take];
            match scale {
                None => dst.copy_from_slice(&fresh[..take]),
                Some((_, up)) => {
                    for (d, &s) in dst.iter_mut().zip(&fresh[..take]) {
                        *d = (f64::from(s) * up).clamp(-f64::from(f32::MAX), f64::from(f32::MAX)) as f32;
                    }
                }
            }
            written += take;
        }
        Ok(())
    }
}
