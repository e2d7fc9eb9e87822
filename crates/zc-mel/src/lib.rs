//! # zc-mel
//!
//! A Whisper-exact log-mel front end for the zc workspace.
//!
//! * [`MelPlan`]: an immutable plan (FFT, window, sparse Slaney
//!   filterbank), `Send + Sync`, shareable in an `Arc` across threads, run
//!   on caller-owned scratch ([`MelPlan::make_scratch`]);
//!   [`MelSpectrogram`] is the convenience form that owns its scratch.
//!   `compute_into` / `compute_into_slice` / `compute_into_view` write the
//!   log-mel matrix into caller-owned memory — any
//!   [`zc_buffers::HostBufferMut`], an `f32` slice or an `ndarray` view,
//!   larger than needed if convenient (the prefix is written) — mel-major
//!   or frame-major, with **no heap allocation and no copy** of the input.
//!   Frames lying entirely in zero padding skip the FFT; the kernels run
//!   eight frames at a time, one per SIMD lane, at the workspace's
//!   [`zc_buffers::SimdLevel`] (`Avx512`, `Avx2` or `Portable`, detected at
//!   run time, [`SIMD_LEVELS`]); long clips and batches can be split across
//!   threads with identical output (`threads(0)`: every core).
//! * [`MelStream`]: chunks of any size in, frames out as soon as their
//!   window is complete; bit-identical to the offline result under
//!   [`Normalization::Fixed`].
//! * [`Normalization`]: the clamp maximum per call / per batch item /
//!   supplied by the caller.
//! * [`MelConfig`], [`Padding`], [`Layout`]: Whisper's definition
//!   (`MelConfig::whisper(80)` / `(128)`), `pad_or_trim` to 30 s, output
//!   shape and byte size for sizing a pool buffer.
//! * [`wav`]: WAV files mapped in place (mono 32-bit float at a 4-byte
//!   aligned offset: zero copy) or
//!   decoded once into a caller buffer (any PCM / float, downmixed),
//!   every copy recorded in the [`zc_buffers::ledger`].
//! * [`resample`] (feature `resample`, default on): a `Resampler` plan from
//!   any rate to 16 kHz (rubato's FFT resampler) writing into caller memory
//!   without allocating, and `WavFile::decode_resampled_into`.
//!
//! ```
//! use zc_mel::{Layout, MelConfig, MelSpectrogram, Padding};
//! use zc_buffers::{Pool, HostBufferExt};
//!
//! let mut mel = MelSpectrogram::new(MelConfig::whisper(80).with_padding(Padding::WHISPER_30S))?;
//! let audio: Vec<f32> = (0..16_000).map(|i| (i as f32 * 0.05).sin() * 0.1).collect();
//! let pool = Pool::builder().name("mel").build()?;
//! let mut out = pool.acquire(mel.output_bytes(audio.len())?)?;
//! let (rows, cols) = mel.compute_into(&audio, &mut out, Layout::FrameMajor)?;
//! assert_eq!((rows, cols), (3000, 80));
//! let frames = out.view2::<f32>(rows, cols)?;
//! assert!(frames.iter().all(|v| v.is_finite()));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod config;
mod error;
mod filters;
mod kernels;
#[cfg(feature = "resample")]
pub mod resample;
mod spectrogram;
mod stream;
pub mod wav;

pub use config::{HOP_LENGTH, Layout, MelConfig, N_FFT, N_FRAMES, N_SAMPLES, Normalization, Padding, SAMPLE_RATE};
pub use error::{MelError, Result};
pub use filters::{MelFilterbank, hz_to_mel, mel_to_hz};
pub use kernels::{LANES, SIMD_LEVELS};
#[cfg(feature = "resample")]
pub use resample::{MAX_INPUT_RATE, MIN_INPUT_RATE, Resampler, resampled_len};
pub use spectrogram::{MelPlan, MelScratch, MelSpectrogram};
pub use stream::MelStream;
pub use wav::{SampleFormat, Samples, WavFile, WavInfo, load_wav_into};

/// The README's code blocks, compiled (and, unless marked `no_run`, run)
/// as doc-tests so that every snippet a user copies works as written.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
