//! # zc-mel
//!
//! A Whisper-exact log-mel front end for the zc workspace.
//!
//! * [`MelSpectrogram`]: an immutable plan (FFT, window, sparse Slaney
//!   filterbank, SIMD level, layout, threads) made once, `Send + Sync`,
//!   shareable across threads; each thread brings a [`MelScratch`]. Every
//!   compute call writes the log-mel matrix into caller-owned memory — any
//!   [`zc_buffers::HostBufferMut`], an `f32` slice or an `ndarray` view —
//!   mel-major or frame-major, and returns its [`MelShape`]; an output
//!   larger than needed gets the result in its prefix. With caller scratch
//!   on one thread: **no heap allocation and no copy** of the input.
//!   Frames lying entirely in zero padding skip the FFT; the kernels run
//!   eight frames at a time, one per SIMD lane (AVX-512 or AVX2+FMA
//!   detected at run time, portable fallback, see [`SimdLevel`]); long
//!   clips and batches can be split across threads with identical output.
//! * [`MelProcessor`]: a plan with its own scratch, for one thread.
//! * [`MelStream`]: chunks of any size in, frames out as soon as their
//!   window is complete; bit-identical to the offline result under
//!   [`Normalization::Fixed`].
//! * [`Normalization`]: the clamp maximum per call / per batch item /
//!   supplied by the caller.
//! * [`MelConfig`], [`Padding`], [`Layout`]: Whisper's definition
//!   (`MelConfig::whisper(80)` / `(128)`), `pad_or_trim` to 30 s, output
//!   shape and size for sizing a pool buffer.
//! * [`WavFile`]: WAV files mapped in place (mono 32-bit float with
//!   4-byte-aligned data: zero copy) or decoded once into a caller buffer
//!   (any PCM / float, downmixed), every copy recorded in the
//!   [`zc_buffers::ledger`].
//! * `Resampler` (feature `resample`, default on): a plan from any rate to
//!   16 kHz (rubato's FFT resampler) writing into caller memory without
//!   allocating, and `WavFile::decode_resampled_into`.
//!
//! ```
//! use zc_buffers::{HostBufferExt, Pool};
//! use zc_mel::{Layout, MelConfig, MelSpectrogram, Padding};
//!
//! let mel = MelSpectrogram::builder(MelConfig::whisper(80).padding(Padding::WHISPER_30S))
//!     .layout(Layout::FrameMajor)
//!     .build()?;
//! let audio: Vec<f32> = (0..16_000).map(|i| (i as f32 * 0.05).sin() * 0.1).collect();
//! let pool = Pool::builder().name("mel").build()?;
//! let mut out = pool.acquire(mel.output_bytes(audio.len())?)?;
//! let mut scratch = mel.make_scratch();
//! let shape = mel.compute_into_with_scratch(&audio, &mut out, &mut scratch)?;
//! assert_eq!(shape.dims(), (3000, 80));
//! let (rows, cols) = shape.dims();
//! let frames = out.view2::<f32>(rows, cols)?;
//! assert!(frames.iter().all(|v| v.is_finite()));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod config;
mod engine;
mod error;
mod exec;
mod filters;
mod kernels;
mod plan;
mod processor;
#[cfg(feature = "resample")]
mod resample;
mod scratch;
mod signal;
mod stream;
mod wav;
mod write;

pub use config::{
    HOP_LENGTH, Layout, MelConfig, MelShape, N_FFT, N_FRAMES, N_SAMPLES, Normalization, Padding, SAMPLE_RATE,
};
pub use error::{MelError, Result};
pub use filters::{MelFilterbank, hz_to_mel, mel_to_hz};
pub use plan::{MelSpectrogram, MelSpectrogramBuilder};
pub use processor::MelProcessor;
#[cfg(feature = "resample")]
pub use resample::{MAX_INPUT_RATE, MIN_INPUT_RATE, Resampler, resampled_len};
pub use scratch::MelScratch;
pub use stream::MelStream;
pub use wav::{SampleFormat, Samples, WavFile, WavInfo, load_wav_into};
/// The README's Rust snippets, compiled (and, where they need no file, run) as doc-tests.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;

/// The SIMD levels (re-exported from the core): see [`MelSpectrogramBuilder::simd`].
pub use zc_buffers::SimdLevel;
