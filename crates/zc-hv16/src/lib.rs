//! # zc-hv16
//!
//! 2048-bit binary hypervectors (binary spatter codes) for the zc workspace:
//! bind = XOR, bundle = bitwise majority, permute = rotation, similarity =
//! Hamming distance — with run-time-selected SIMD kernels, a memory-mapped
//! on-disk store read with zero copies, exact top-k / range / cleanup search
//! into caller buffers, and an item memory of named symbols.
//!
//! ```
//! use zc_hv16::{Bundler, HV16, Hamming, Hit};
//! let (a, b, c) = (HV16::random(1), HV16::random(2), HV16::random(3));
//! let bound = a.bind(&b);
//! assert_eq!(bound.unbind(&b), a);
//! let mut bundler = Bundler::new();
//! for v in [&a, &b, &c] { bundler.add(v); }
//! let s = bundler.finish();
//! assert!(s.similarity(&a) > 0.7);
//!
//! let db: Vec<HV16> = (0..100).map(HV16::random).collect();
//! let mut hits = [Hit::default(); 3];
//! Hamming::detect().top_k_into_slice(&db[42].flip(0.1, 7), &db, 3, &mut hits)?;
//! assert_eq!(hits[0].index, 42);
//! assert_eq!(hits[0].distance, 205);
//! # Ok::<(), zc_hv16::HvError>(())
//! ```
//!
//! Every item lives at the crate root, except the on-disk format details in
//! [`format`](mod@format). The main types: [`HV16`] (the vector), [`Bundler`],
//! [`LevelEncoder`] (scalars as level hypervectors), [`Hamming`] (distances
//! and search at one SIMD level, a [`zc_buffers::SimdLevel`]), [`HvStore`],
//! [`ItemMemory`], [`HvError`]; sharded stores: [`ShardManifest`],
//! [`ShardSet`], [`ShardWriter`], [`merge_top_k_into_slice`], [`ShardError`].

mod bundle;
mod error;
pub mod format;
mod hamming;
mod hv;
mod item_memory;
mod kernels;
mod level;
mod search;
mod shard;
mod store;

pub use bundle::{Bundler, TIE_BREAK_SEED, bundle, bundle_with_tiebreak};
pub use error::{HvError, NamesProblem, Result};
pub use hamming::Hamming;
pub use hv::{BYTES, DIM, GENERATOR_SPLITMIX64_V1, HV16, WORDS, fnv1a64, splitmix64};
pub use item_memory::{Cleaned, ItemMemory};
pub use kernels::MAX_TILE;
pub use level::LevelEncoder;
pub use search::{CHUNK, Hit};
pub use shard::{
    MANIFEST_FORMAT, MANIFEST_VERSION, ManifestProblem, PAD_HIT, Partial, ShardEntry, ShardError, ShardManifest,
    ShardSet, ShardWriter, merge_top_k, merge_top_k_into, merge_top_k_into_slice, merge_top_k_into_view, split_store,
};
pub use store::{Durability, HvStore, OpenOptions};

#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
