//! [`ShardWriter`] (rolling appends) and [`split_store`].

use std::path::{Path, PathBuf};

use super::error::ShardError;
use super::manifest::{ShardEntry, ShardManifest, manifest_dir};
use super::set::{check_shard, open_shard};
use crate::error::{HvError, io_err};
use crate::format::data_crc32c;
use crate::hv::HV16;
use crate::store::{Durability, HvStore, OpenOptions};

/// The file name of shard `i`: `shard-00000.hv`, `shard-00001.hv`, ….
pub(crate) fn shard_file(i: usize) -> String {
    format!("shard-{i:05}.hv")
}

/// Appends vectors to a sharded store, rolling over to a new shard file
/// (`shard-NNNNN.hv` next to the manifest) when the current one holds
/// `max_vectors_per_shard`.
///
/// # Crash safety
///
/// The manifest is the commit record. It is rewritten atomically
/// ([`ShardManifest::save`]) after each shard is sealed (the shard is
/// synced first, whatever the [`Durability`]) and at the end of every
/// [`ShardWriter::append`], recording each shard's count and data
/// checksum. A crash leaves the old or the new manifest, and shard stores
/// that are themselves crash-consistent ([`HvStore`]). Reopening with
/// [`ShardWriter::open_rw`] continues from the manifest: the last shard is
/// reopened for appending, and vectors it committed after the manifest was
/// last written (an append that did not return) are kept once the
/// manifest's checksum of its first `count` vectors still matches — check
/// [`ShardWriter::len`] to see where to resume. A shard file created after
/// the last manifest write is not in the manifest and is overwritten. Until
/// a writer reconciles it, such a set fails [`ShardSet::open`](super::ShardSet::open)
/// with [`ShardError::CountMismatch`].
///
/// Each shard store holds its writer lock while it is being appended to,
/// so two writers on one sharded store fail with [`HvError::Locked`]
/// (wrapped in [`ShardError::Shard`]) on the shard they share.
#[derive(Debug)]
pub struct ShardWriter {
    manifest_path: PathBuf,
    dir: PathBuf,
    manifest: ShardManifest,
    max: usize,
    /// The last shard, open for appending while it has room.
    current: Option<HvStore>,
    durability: Durability,
}

impl ShardWriter {
    /// Starts a new, empty sharded store whose manifest is `manifest`
    /// (its directory is created if needed; an existing manifest there is
    /// replaced). Shards hold at most `max_vectors_per_shard` vectors.
    pub fn create(
        manifest: impl AsRef<Path>,
        max_vectors_per_shard: usize,
        generator: impl Into<String>,
    ) -> Result<ShardWriter, ShardError> {
        if max_vectors_per_shard == 0 {
            return Err(ShardError::ZeroShardSize);
        }
        let manifest_path = manifest.as_ref().to_path_buf();
        let dir = manifest_dir(&manifest_path);
        std::fs::create_dir_all(&dir).map_err(io_err("create directory", &dir))?;
        let m = ShardManifest::new(generator);
        m.save(&manifest_path)?;
        Ok(ShardWriter {
            manifest_path,
            dir,
            manifest: m,
            max: max_vectors_per_shard,
            current: None,
            durability: Durability::Sync,
        })
    }

    /// Continues the sharded store of `manifest`, whose generator must be
    /// `generator` ([`ShardError::GeneratorMismatch`] otherwise). Every
    /// shard is opened and checked as [`ShardSet::open`](super::ShardSet::open)
    /// does (a damaged set is not extended); the last one is reopened for
    /// appending when it has room (see [crash safety](ShardWriter#crash-safety)).
    pub fn open_rw(
        manifest: impl AsRef<Path>,
        max_vectors_per_shard: usize,
        generator: &str,
    ) -> Result<ShardWriter, ShardError> {
        if max_vectors_per_shard == 0 {
            return Err(ShardError::ZeroShardSize);
        }
        let manifest_path = manifest.as_ref().to_path_buf();
        let mut m = ShardManifest::load(&manifest_path)?;
        if m.generator != generator {
            return Err(ShardError::GeneratorMismatch {
                path: manifest_path,
                found: m.generator,
                expected: generator.to_owned(),
            });
        }
        let dir = manifest_dir(&manifest_path);
        let last = m.shards.len().checked_sub(1);
        let mut current = None;
        for (index, entry) in m.shards.iter().enumerate() {
            if Some(index) != last {
                open_shard(&dir, index, entry, OpenOptions::new())?;
            }
        }
        let mut reconciled = false;
        if let Some(index) = last {
            let path = dir.join(&m.shards[index].file);
            let store = HvStore::open_rw(&path).map_err(ShardError::shard(index, &path))?;
            let entry = &mut m.shards[index];
            if (store.len() as u64) > entry.count {
                adopt_tail(index, entry, &store)?;
                reconciled = true;
            }
            check_shard(index, entry, &store)?;
            if store.len() < max_vectors_per_shard {
                current = Some(store);
            }
        }
        if reconciled {
            m.renumber();
            m.save(&manifest_path)?;
        }
        Ok(ShardWriter {
            manifest_path,
            dir,
            manifest: m,
            max: max_vectors_per_shard,
            current,
            durability: Durability::Sync,
        })
    }

    /// Sets the durability of shard appends (default [`Durability::Sync`]).
    /// Sealing a shard and [`ShardWriter::finish`] sync regardless.
    pub fn set_durability(&mut self, durability: Durability) {
        self.durability = durability;
        if let Some(s) = &mut self.current {
            s.set_durability(durability);
        }
    }

    /// Vectors in the sharded store.
    pub fn len(&self) -> usize {
        self.manifest.total as usize // ok: validated to fit usize
    }

    /// Whether the sharded store holds no vectors.
    pub fn is_empty(&self) -> bool {
        self.manifest.total == 0
    }

    /// The manifest as last written.
    pub fn manifest(&self) -> &ShardManifest {
        &self.manifest
    }

    /// The manifest's path.
    pub fn manifest_path(&self) -> &Path {
        &self.manifest_path
    }

    /// The shard size limit.
    pub fn max_vectors_per_shard(&self) -> usize {
        self.max
    }

    /// Appends `vs` in global order, filling the current shard and starting
    /// new ones as needed; returns the global index of the first. The
    /// manifest is rewritten after each sealed shard and at the end.
    pub fn append(&mut self, vs: &[HV16]) -> Result<usize, ShardError> {
        let first = self.len();
        first.checked_add(vs.len()).ok_or(HvError::TooLarge {
            path: self.manifest_path.clone(),
            count: u64::MAX,
        })?;
        let mut rest = vs;
        while !rest.is_empty() {
            let index = self.open_current()?;
            let Some(store) = self.current.as_mut() else { break };
            let room = self.max.saturating_sub(store.len());
            let (now, later) = rest.split_at(room.min(rest.len()));
            store.append(now).map_err(ShardError::shard(index, store.path()))?;
            let entry = &mut self.manifest.shards[index];
            entry.count = store.len() as u64;
            entry.checksum = Some(ShardEntry::checksum_of(store));
            self.manifest.renumber();
            rest = later;
            if store.len() >= self.max {
                store.flush().map_err(ShardError::shard(index, store.path()))?;
                self.current = None;
                self.manifest.save(&self.manifest_path)?;
            }
        }
        if self.current.is_some() {
            self.manifest.save(&self.manifest_path)?;
        }
        Ok(first)
    }

    /// The index of the open shard, creating a new one when none is open.
    fn open_current(&mut self) -> Result<usize, ShardError> {
        let index = self.manifest.shards.len();
        if self.current.is_some() {
            return Ok(index - 1); // ok: a current shard is in the manifest
        }
        let file = shard_file(index);
        let path = self.dir.join(&file);
        let mut store = HvStore::create(&path).map_err(ShardError::shard(index, &path))?;
        store.set_durability(self.durability);
        self.manifest.shards.push(ShardEntry {
            file,
            count: 0,
            offset: self.manifest.total,
            checksum: Some(ShardEntry::checksum_of(&store)),
        });
        self.current = Some(store);
        Ok(index)
    }

    /// Syncs the open shard and rewrites the manifest; returns it.
    pub fn finish(mut self) -> Result<ShardManifest, ShardError> {
        if let Some(store) = self.current.take() {
            let index = self.manifest.shards.len().saturating_sub(1);
            store.flush().map_err(ShardError::shard(index, store.path()))?;
        }
        self.manifest.save(&self.manifest_path)?;
        Ok(self.manifest)
    }
}

/// Keeps the vectors a crashed writer committed to the last shard after its
/// last manifest write, when the manifest's checksum of the first `count`
/// still matches (version-2 stores; version-1 checksums are not prefix
/// checkable and are trusted to the store's own verification).
fn adopt_tail(index: usize, entry: &mut ShardEntry, store: &HvStore) -> Result<(), ShardError> {
    if let (Some(expected), 2) = (entry.checksum, store.header().version) {
        let prefix = store.vectors().get(..entry.count as usize).unwrap_or(&[]); // ok: count < len
        let found = u64::from(data_crc32c(0, prefix));
        if found != expected {
            return Err(ShardError::ChecksumMismatch {
                index,
                path: store.path().to_path_buf(),
                found,
                expected,
            });
        }
    }
    entry.count = store.len() as u64;
    entry.checksum = Some(ShardEntry::checksum_of(store));
    Ok(())
}

/// Splits `store` into a new sharded store at `manifest`: shards of at most
/// `max_vectors_per_shard` in the manifest's directory, global index `g`
/// of the result = index `g` of `store`. Shards are synced as they are
/// sealed. Returns the manifest.
pub fn split_store(
    store: &HvStore,
    manifest: impl AsRef<Path>,
    max_vectors_per_shard: usize,
    generator: impl Into<String>,
) -> Result<ShardManifest, ShardError> {
    let mut w = ShardWriter::create(manifest, max_vectors_per_shard, generator)?;
    w.set_durability(Durability::NoSync);
    for chunk in store.vectors().chunks(max_vectors_per_shard) {
        w.append(chunk)?;
    }
    w.finish()
}
