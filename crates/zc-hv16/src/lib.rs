//! # zc-hv16
//!
//! 2048-bit binary hypervectors (binary spatter codes) for the zc workspace:
//! bind = XOR, bundle = bitwise majority, permute = rotation, similarity =
//! Hamming distance — with run-time-selected SIMD kernels, a memory-mapped
//! on-disk store read with zero copies, exact top-k / range / cleanup search
//! into caller buffers, and an item memory of named symbols.
//!
//! ```
//! use zc_hv16::{HV16, Bundler, Hit, search};
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
//! search::top_k_into(&db, &db[42].flip(0.1, 7), &mut hits)?;
//! assert_eq!(hits[0].index, 42);
//! assert_eq!(hits[0].distance, 205);
//! # Ok::<(), zc_hv16::HvError>(())
//! ```
//!
//! Modules: [`hv`] (the vector type), [`bundle`](mod@bundle), [`level`] (scalar
//! encoders), [`kernels`] (SIMD levels), [`search`], [`store`] ([`HvStore`]),
//! [`item_memory`] ([`ItemMemory`]).

pub mod bundle;
pub mod error;
pub mod hv;
pub mod item_memory;
pub mod kernels;
pub mod level;
pub mod search;
pub mod store;

pub use bundle::{Bundler, bundle};
pub use error::{HvError, Result};
pub use hv::{BYTES, DIM, GENERATOR_SPLITMIX64_V1, HV16, WORDS};
pub use item_memory::ItemMemory;
pub use kernels::{Kernel, Level};
pub use level::LevelEncoder;
pub use search::Hit;
pub use store::{HvStore, OpenOptions};
