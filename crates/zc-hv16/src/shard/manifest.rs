//! [`ShardManifest`]: the JSON description of a sharded store.

use std::collections::HashSet;
use std::io::Write;
use std::path::{Component, Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::error::{ManifestProblem, ShardError};
use crate::error::io_err;
use crate::hv::{BYTES, DIM};
use crate::store::HvStore;

/// The `format` field of every manifest.
pub const MANIFEST_FORMAT: &str = "zc-hv16-shards";

/// The manifest version this build writes. Version 1 (written by
/// `zc.ray.hv16` before 0.2: no `bytes_per_vector`, no checksums) still
/// loads; saving it writes version 2.
pub const MANIFEST_VERSION: u32 = 2;

fn default_bytes() -> u32 {
    BYTES as u32
}

/// One shard of a [`ShardManifest`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardEntry {
    /// The store file, relative to the manifest's directory.
    pub file: String,
    /// Vectors in the shard.
    pub count: u64,
    /// Global index of the shard's first vector (the sum of the counts of
    /// the shards before it).
    pub offset: u64,
    /// The store's data checksum when the manifest was written
    /// ([`ShardEntry::checksum_of`]); checked by [`ShardSet`](super::ShardSet)
    /// when present.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checksum: Option<u64>,
}

impl ShardEntry {
    /// The data checksum of `store` as a manifest records it: the CRC-32C
    /// of a version-2 store, the folded lane checksum of a version-1 store.
    pub fn checksum_of(store: &HvStore) -> u64 {
        let h = store.header();
        if h.version == 1 {
            crate::format::fold_lanes(h.data_lanes)
        } else {
            u64::from(h.data_crc32c)
        }
    }
}

/// A sharded store's manifest (JSON, serde):
///
/// ```json
/// {"format": "zc-hv16-shards", "version": 2, "generator": "codebook-7",
///  "dim": 2048, "bytes_per_vector": 256, "total": 250,
///  "shards": [{"file": "shard-00000.hv", "count": 200, "offset": 0, "checksum": 1234},
///             {"file": "shard-00001.hv", "count": 50, "offset": 200}]}
/// ```
///
/// `generator` is the caller's name for how the vectors were made
/// (codebook, seed, model), so vectors of different origins are not mixed
/// by mistake; this crate compares it, never interprets it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardManifest {
    /// Always [`MANIFEST_FORMAT`].
    pub format: String,
    /// Manifest version (1 or 2).
    pub version: u32,
    /// The generator id (free text).
    pub generator: String,
    /// Bits per vector (2048).
    pub dim: u32,
    /// Bytes per vector (256).
    #[serde(default = "default_bytes")]
    pub bytes_per_vector: u32,
    /// Sum of the shard counts.
    pub total: u64,
    /// The shards in global index order.
    pub shards: Vec<ShardEntry>,
}

impl ShardManifest {
    /// An empty manifest (no shards) for `generator`.
    pub fn new(generator: impl Into<String>) -> ShardManifest {
        ShardManifest {
            format: MANIFEST_FORMAT.to_owned(),
            version: MANIFEST_VERSION,
            generator: generator.into(),
            dim: DIM as u32,
            bytes_per_vector: BYTES as u32,
            total: 0,
            shards: Vec::new(),
        }
    }

    /// Reads and validates a manifest (format, version, dimension,
    /// contiguous offsets, total, relative and distinct files). Shard files
    /// are not opened: [`ShardSet::open`](super::ShardSet::open) does that.
    pub fn load(path: impl AsRef<Path>) -> Result<ShardManifest, ShardError> {
        let path = path.as_ref();
        let text = std::fs::read(path).map_err(io_err("read manifest", path))?;
        let m: ShardManifest = serde_json::from_slice(&text).map_err(|source| ShardError::ManifestParse {
            path: path.to_path_buf(),
            source,
        })?;
        m.validate().map_err(|problem| ShardError::ManifestInvalid {
            path: path.to_path_buf(),
            problem,
        })?;
        Ok(m)
    }

    /// Checks the manifest's consistency (what [`ShardManifest::load`] checks).
    pub fn validate(&self) -> Result<(), ManifestProblem> {
        if self.format != MANIFEST_FORMAT {
            return Err(ManifestProblem::WrongFormat {
                found: self.format.clone(),
                expected: MANIFEST_FORMAT,
            });
        }
        if self.version == 0 || self.version > MANIFEST_VERSION {
            return Err(ManifestProblem::UnsupportedVersion {
                found: self.version,
                supported: MANIFEST_VERSION,
            });
        }
        if self.dim != DIM as u32 || self.bytes_per_vector != BYTES as u32 {
            return Err(ManifestProblem::WrongDimension {
                dim: self.dim,
                bytes_per_vector: self.bytes_per_vector,
            });
        }
        let mut seen = HashSet::with_capacity(self.shards.len());
        let mut sum = 0u64;
        for (index, s) in self.shards.iter().enumerate() {
            if !is_plain_relative(&s.file) {
                return Err(ManifestProblem::BadFile {
                    index,
                    file: s.file.clone(),
                });
            }
            if !seen.insert(s.file.as_str()) {
                return Err(ManifestProblem::DuplicateFile {
                    index,
                    file: s.file.clone(),
                });
            }
            if s.offset != sum {
                return Err(ManifestProblem::OffsetGap {
                    index,
                    file: s.file.clone(),
                    offset: s.offset,
                    expected: sum,
                });
            }
            sum = sum
                .checked_add(s.count)
                .filter(|&n| usize::try_from(n).is_ok())
                .ok_or(ManifestProblem::TooLarge)?;
        }
        if self.total != sum {
            return Err(ManifestProblem::TotalMismatch { total: self.total, sum });
        }
        Ok(())
    }

    /// Writes the manifest atomically: a temporary file in the same
    /// directory, `fsync`, rename over `path`, then `fsync` of the directory
    /// (Unix), so a crash leaves either the old or the new manifest. Always
    /// writes version [`MANIFEST_VERSION`]. Refuses an inconsistent manifest.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<(), ShardError> {
        let path = path.as_ref();
        self.validate().map_err(|problem| ShardError::ManifestInvalid {
            path: path.to_path_buf(),
            problem,
        })?;
        let mut doc = self.clone();
        doc.version = MANIFEST_VERSION;
        let mut text = serde_json::to_vec_pretty(&doc).map_err(|source| ShardError::ManifestParse {
            path: path.to_path_buf(),
            source,
        })?;
        text.push(b'\n');
        let tmp = temp_path(path);
        let write = || -> std::io::Result<()> {
            let mut f = std::fs::File::create(&tmp)?;
            f.write_all(&text)?;
            f.sync_all()
        };
        if let Err(e) = write() {
            let _ = std::fs::remove_file(&tmp); // ok: best effort, the error below is what matters
            return Err(io_err("write manifest", &tmp)(e).into());
        }
        std::fs::rename(&tmp, path).map_err(io_err("rename manifest", path))?;
        sync_dir(path)?;
        Ok(())
    }

    /// The path of shard `index` for a manifest stored at `manifest_path`
    /// (its `file` joined to the manifest's directory).
    pub fn shard_path(&self, manifest_path: &Path, index: usize) -> Option<PathBuf> {
        let s = self.shards.get(index)?;
        Some(manifest_dir(manifest_path).join(&s.file))
    }

    /// The shard holding global index `global` and the index inside it.
    pub fn locate(&self, global: u64) -> Option<(usize, u64)> {
        if global >= self.total {
            return None;
        }
        let i = self.shards.partition_point(|s| s.offset + s.count <= global);
        let s = self.shards.get(i)?;
        Some((i, global - s.offset))
    }

    /// Recomputes `total` and the offsets from the counts (after editing
    /// the shard list by hand).
    pub fn renumber(&mut self) {
        let mut off = 0u64;
        for s in &mut self.shards {
            s.offset = off;
            off = off.saturating_add(s.count);
        }
        self.total = off;
    }
}

/// The directory shard files are relative to.
pub(crate) fn manifest_dir(manifest_path: &Path) -> PathBuf {
    match manifest_path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

fn is_plain_relative(file: &str) -> bool {
    let p = Path::new(file);
    !file.is_empty() && p.components().all(|c| matches!(c, Component::Normal(_)))
}

fn temp_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().map(|n| n.to_os_string()).unwrap_or_default();
    name.push(format!(".{}.tmp", std::process::id()));
    path.with_file_name(name)
}

#[cfg(unix)]
fn sync_dir(path: &Path) -> Result<(), ShardError> {
    let dir = manifest_dir(path);
    let d = std::fs::File::open(&dir).map_err(io_err("open directory", &dir))?;
    d.sync_all().map_err(io_err("fsync directory", &dir))?;
    Ok(())
}

#[cfg(not(unix))]
fn sync_dir(_path: &Path) -> Result<(), ShardError> {
    Ok(())
}
