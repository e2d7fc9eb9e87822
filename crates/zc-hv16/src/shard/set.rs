//! [`ShardSet`]: every shard of a manifest, open read-only, searched as one.

use std::path::{Path, PathBuf};

use zc_buffers::ndarray::{ArrayViewMut, Dimension};
use zc_buffers::{HostBufferMut, IntoOutput};

use super::error::ShardError;
use super::manifest::{ShardEntry, ShardManifest, manifest_dir};
use super::merge::{Partial, merge_top_k_into_slice};
use crate::error::{HvError, alloc_err};
use crate::hamming::Hamming;
use crate::hv::HV16;
use crate::search::Hit;
use crate::store::{HvStore, OpenOptions};

/// A sharded store opened for reading: the manifest and every shard
/// ([`HvStore::open`]: header and data checksum verified, mapped with zero
/// copies), checked against the manifest.
///
/// Search is exact: [`ShardSet::search_into_slice`] returns what
/// [`Hamming::top_k_batch_into_slice`] returns over one store holding every
/// vector in global order, ties by global index included.
#[derive(Debug)]
pub struct ShardSet {
    manifest_path: PathBuf,
    manifest: ShardManifest,
    stores: Vec<HvStore>,
    hamming: Hamming,
}

impl ShardSet {
    /// Loads the manifest at `manifest` and opens every shard read-only
    /// with verification. A shard that is missing or corrupt is
    /// [`ShardError::Shard`], one whose count or recorded checksum differs
    /// is [`ShardError::CountMismatch`] / [`ShardError::ChecksumMismatch`];
    /// each names the shard's position and file.
    pub fn open(manifest: impl AsRef<Path>) -> Result<ShardSet, ShardError> {
        Self::open_with(manifest, OpenOptions::new())
    }

    /// [`ShardSet::open`] with explicit store options (e.g.
    /// `OpenOptions::new().verify(false)` to skip the data pass; counts and
    /// recorded checksums are still compared with the headers). A writable
    /// option is ignored: shards are always opened read-only.
    pub fn open_with(manifest: impl AsRef<Path>, options: OpenOptions) -> Result<ShardSet, ShardError> {
        let manifest_path = manifest.as_ref().to_path_buf();
        let m = ShardManifest::load(&manifest_path)?;
        let dir = manifest_dir(&manifest_path);
        let options = options.write(false);
        let mut stores = Vec::new();
        stores
            .try_reserve_exact(m.shards.len())
            .map_err(|_| alloc_err::<HvStore>(m.shards.len()))?;
        for (index, entry) in m.shards.iter().enumerate() {
            stores.push(open_shard(&dir, index, entry, options)?);
        }
        Ok(ShardSet {
            manifest_path,
            manifest: m,
            stores,
            hamming: Hamming::detect(),
        })
    }

    /// The manifest.
    pub fn manifest(&self) -> &ShardManifest {
        &self.manifest
    }

    /// The manifest's path.
    pub fn manifest_path(&self) -> &Path {
        &self.manifest_path
    }

    /// The shards in global order.
    pub fn shards(&self) -> &[HvStore] {
        &self.stores
    }

    /// Vectors in all shards.
    pub fn len(&self) -> usize {
        self.manifest.total as usize // ok: validated to fit usize on load
    }

    /// Whether the set holds no vectors.
    pub fn is_empty(&self) -> bool {
        self.manifest.total == 0
    }

    /// Vector at global index `global`.
    pub fn get(&self, global: usize) -> Option<&HV16> {
        let (shard, local) = self.manifest.locate(global as u64)?;
        self.stores.get(shard)?.get(local as usize) // ok: local < count, which fits usize
    }

    /// The distance kernel searches use ([`Hamming::detect`] at open).
    pub fn hamming(&self) -> Hamming {
        self.hamming
    }

    /// Searches with `h` (e.g. a forced SIMD level) from now on.
    pub fn set_hamming(&mut self, h: Hamming) {
        self.hamming = h;
    }

    /// Exact top-`k` of every query over all shards: each shard's
    /// top-`min(k, shard len)` ([`Hamming::top_k_batch_into_slice`]), then
    /// [`merge_top_k_into_slice`]. The hits of query `q` are
    /// `out[q * k..(q + 1) * k]` with global indices. Returns
    /// `queries.len() * k`.
    ///
    /// `threads` shards are searched at once ([`zc_buffers::parallel`]
    /// policy: 0 = every core, 1 = this thread). Allocates the per-shard
    /// partial results (`queries.len() × min(k, shard len)` hits per shard)
    /// for the call; the merge itself allocates nothing.
    ///
    /// Errors as [`Hamming::top_k_batch_into_slice`] over one store: no
    /// vectors ([`HvError::Empty`]), `k` 0 or above [`ShardSet::len`]
    /// ([`HvError::InvalidK`] — use the merge directly, or the Python
    /// binding, for FAISS-style padding), `out` too small. Nothing is
    /// written to `out` on error.
    pub fn search_into_slice(
        &self,
        queries: &[HV16],
        k: usize,
        threads: usize,
        out: &mut [Hit],
    ) -> Result<usize, ShardError> {
        let n = self.len();
        if n == 0 {
            return Err(HvError::Empty.into());
        }
        if k == 0 || k > n {
            return Err(HvError::InvalidK { k, n }.into());
        }
        let needed = queries.len().checked_mul(k).ok_or(HvError::InvalidK { k, n })?;
        let out = zc_buffers::output_prefix(out, needed).map_err(HvError::from)?;
        let live: Vec<usize> = (0..self.stores.len()).filter(|&i| !self.stores[i].is_empty()).collect();
        let h = self.hamming;
        let parts = zc_buffers::parallel::map_ranges(threads, live.len(), |_worker, range| {
            let mut mine = Vec::new();
            for &shard in live.get(range).unwrap_or(&[]) {
                let store = &self.stores[shard];
                let ks = k.min(store.len());
                let len = queries
                    .len()
                    .checked_mul(ks)
                    .ok_or(HvError::InvalidK { k: ks, n: store.len() })?;
                let mut hits = Vec::new();
                hits.try_reserve_exact(len).map_err(|_| alloc_err::<Hit>(len))?;
                hits.resize(len, Hit::default());
                h.top_k_batch_into_slice(queries, store.vectors(), ks, &mut hits)
                    .map_err(ShardError::shard(shard, store.path()))?;
                mine.push((shard, ks, hits));
            }
            Ok::<_, ShardError>(mine)
        })?;
        let partials: Vec<Partial<'_>> = parts
            .iter()
            .flatten()
            .map(|(shard, ks, hits)| Partial::new(hits, *ks, self.manifest.shards[*shard].offset as usize))
            .collect();
        Ok(merge_top_k_into_slice(&partials, queries.len(), k, out)?)
    }

    /// [`ShardSet::search_into_slice`] into a host buffer viewed as `[Hit]`.
    pub fn search_into<B: HostBufferMut>(
        &self,
        queries: &[HV16],
        k: usize,
        threads: usize,
        out: &mut B,
    ) -> Result<usize, ShardError> {
        self.search_into_slice(queries, k, threads, out.into_output().map_err(HvError::from)?)
    }

    /// [`ShardSet::search_into_slice`] into a standard-layout array view.
    pub fn search_into_view<D: Dimension>(
        &self,
        queries: &[HV16],
        k: usize,
        threads: usize,
        out: ArrayViewMut<'_, Hit, D>,
    ) -> Result<usize, ShardError> {
        self.search_into_slice(queries, k, threads, out.into_output().map_err(HvError::from)?)
    }

    /// [`ShardSet::search_into_slice`] into a new `Vec` of `queries.len() * k` hits.
    pub fn search(&self, queries: &[HV16], k: usize, threads: usize) -> Result<Vec<Hit>, ShardError> {
        let n = queries
            .len()
            .checked_mul(k)
            .ok_or(HvError::InvalidK { k, n: self.len() })?;
        let mut v = Vec::new();
        v.try_reserve_exact(n).map_err(|_| alloc_err::<Hit>(n))?;
        v.resize(n, Hit::default());
        self.search_into_slice(queries, k, threads, &mut v)?;
        Ok(v)
    }
}

/// Opens shard `index` read-only and checks it against its manifest entry.
pub(crate) fn open_shard(
    dir: &Path,
    index: usize,
    entry: &ShardEntry,
    options: OpenOptions,
) -> Result<HvStore, ShardError> {
    let path = dir.join(&entry.file);
    let store = HvStore::open_with(&path, options).map_err(ShardError::shard(index, &path))?;
    check_shard(index, entry, &store)?;
    Ok(store)
}

/// Count and (when recorded) checksum of `store` against `entry`.
pub(crate) fn check_shard(index: usize, entry: &ShardEntry, store: &HvStore) -> Result<(), ShardError> {
    if store.len() as u64 != entry.count {
        return Err(ShardError::CountMismatch {
            index,
            path: store.path().to_path_buf(),
            found: store.len() as u64,
            expected: entry.count,
        });
    }
    if let Some(expected) = entry.checksum {
        let found = ShardEntry::checksum_of(store);
        if found != expected {
            return Err(ShardError::ChecksumMismatch {
                index,
                path: store.path().to_path_buf(),
                found,
                expected,
            });
        }
    }
    Ok(())
}
