//! Sharded stores: one logical set of vectors split over several
//! [`HvStore`](crate::HvStore) files, described by a JSON manifest.
//!
//! - [`ShardManifest`]: the manifest (format version, generator id,
//!   dimension, and per shard: file relative to the manifest, vector count,
//!   global index of its first vector, data checksum). Saved atomically.
//! - [`ShardSet`]: every shard opened read-only and checked against the
//!   manifest; [`ShardSet::search`] is exact top-k over all of them, equal to
//!   one store holding every vector (ties included).
//! - [`merge_top_k_into_slice`]: the deterministic `(distance, global
//!   index)` merge of per-shard partial results, into caller memory.
//! - [`ShardWriter`] (rolling appends) and [`split_store`] (one store into
//!   shards).
//!
//! Global index `g` is vector `g - offset` of the shard whose
//! `offset <= g < offset + count`; offsets are contiguous from 0.

mod error;
mod manifest;
mod merge;
mod set;
mod writer;

pub use error::{ManifestProblem, ShardError};
pub use manifest::{MANIFEST_FORMAT, MANIFEST_VERSION, ShardEntry, ShardManifest};
pub use merge::{PAD_HIT, Partial, merge_top_k, merge_top_k_into, merge_top_k_into_slice, merge_top_k_into_view};
pub use set::ShardSet;
pub use writer::{ShardWriter, split_store};
