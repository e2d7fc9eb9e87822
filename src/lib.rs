//! # zc — zero-copy building blocks for audio and ML pipelines
//!
//! A facade over the zc crates (the pattern of `symphonia`): each crate is
//! re-exported as a module, behind a feature of the same name (all on by
//! default; the hardware crates load their runtimes at run time, so they build
//! on any machine).
//!
//! | module | crate | what it does |
//! |---|---|---|
//! | [`buffers`] | `zc-buffers` | the `Buffer` trait, aligned buffers, pool, arena, mmap, views, copy ledger, DLPack/bytes/Arrow |
//! | `mel` | `zc-mel` | Whisper-exact log-mel into the caller's buffer, streaming, WAV loading |
//! | `hv16` | `zc-hv16` | 2048-bit hypervectors, SIMD kernels, mmap store, top-k search |
//! | `volterra` | `zc-volterra` | allocation-free Volterra engines, streaming, identification |
//! | `cuda` | `zc-cuda` | pinned / device / managed / registered CUDA buffers (cudarc, dynamic loading) |
//! | `npu` | `zc-npu` | AMD XDNA NPU buffer objects through XRT, loaded at run time |
//!
//! Non-default features: `arrow` (Arrow interop in `zc::buffers::interop`) and
//! `testing` (the counting allocator, `zc::buffers::testing`, for a
//! downstream crate's tests that prove a path allocates nothing).
//!
//! Run the whole pipeline with `cargo run --release --example pipeline`.
//! How the crates are built and the conventions they share:
//! `ARCHITECTURE.md` in the repository.
//!
//! ```
//! # #[cfg(feature = "mel")] {
//! use zc::buffers::{Pool, HostBufferExt, ledger};
//! use zc::mel::{Layout, MelConfig, MelSpectrogram, Padding};
//!
//! let mel = MelSpectrogram::builder(MelConfig::whisper(80).padding(Padding::WHISPER_30S))
//!     .layout(Layout::FrameMajor)
//!     .build()?;
//! let pool = Pool::builder().name("mel").build()?;
//! let audio: Vec<f32> = (0..16_000).map(|i| (i as f32 * 0.05).sin() * 0.1).collect();
//! let (frames, report) = ledger::scope(|| -> Result<_, Box<dyn std::error::Error>> {
//!     let mut out = pool.acquire(mel.output_bytes(audio.len())?)?;   // pool buffer
//!     mel.compute_into(&audio, &mut out)?;                             // written in place, frame-major
//!     Ok(out)
//! });
//! let frames = frames?;
//! assert_eq!(report.bytes_copied, 0);
//! let view = frames.view2::<f32>(3000, 80)?;                           // ndarray view, same bytes
//! assert_eq!(view.dim(), (3000, 80));
//! # }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub use zc_buffers as buffers;

/// The root README's Rust snippet, compiled and run as a doc-test.
#[cfg(all(doctest, feature = "mel"))]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
#[cfg(feature = "cuda")]
pub use zc_cuda as cuda;
#[cfg(feature = "hv16")]
pub use zc_hv16 as hv16;
#[cfg(feature = "mel")]
pub use zc_mel as mel;
#[cfg(feature = "npu")]
pub use zc_npu as npu;
#[cfg(feature = "volterra")]
pub use zc_volterra as volterra;
