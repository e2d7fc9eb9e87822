//! # zc — zero-copy building blocks for audio and ML pipelines
//!
//! A facade over the zc crates (the pattern of `symphonia`): each crate is
//! re-exported as a module.
//!
//! * [`buffers`]: the `Buffer` trait, aligned buffers, pool, arena, mmap,
//!   views, the copy ledger, interop.

pub use zc_buffers as buffers;
