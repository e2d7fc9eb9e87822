"""Sharded 2048-bit hypervector stores and exact sharded search on Ray.

The manifest, its validation, the rolling writer, the split and the
(distance, global index) merge are zc_hv16's, through :mod:`zc.hv16`
(``ShardManifest``, ``ShardWriter``, ``split_store``, ``merge_top_k``,
``ShardSet``); this module adds the Ray actors and keeps its 0.1 API.

Shard manifest (JSON, shard paths relative to the manifest's directory)::

    {"format": "zc-hv16-shards", "version": 2, "generator": "<id>", "dim": 2048,
     "bytes_per_vector": 256, "total": N,
     "shards": [{"file": "shard-00000.hv", "count": n0, "offset": 0, "checksum": c0}, ...]}

``offset`` is the global index of a shard's first vector (offsets are contiguous:
each is the sum of the counts before it); ``checksum`` is the shard store's data
checksum when the manifest was written (checked on open when present). Version-1
manifests (no ``bytes_per_vector``, no checksums; written by zc 0.1) still load.
``generator`` names how the vectors were made (codebook, seed, model), so queries
from another generator are not mixed in by mistake; zc does not interpret it.

- :func:`build_shards` splits one :class:`zc.hv16.HvStore` into shards of at most
  ``max_vectors``; :class:`ShardWriter` appends and rolls over to a new shard at
  the limit (and continues an existing sharded store).
- :class:`ShardedSearch` starts one Ray actor per shard; each opens its shard
  with ``zc.hv16.HvStore(path)`` (read-only, checksums verified, mapped: zero
  copies), queries are broadcast in batches through the object store, and the
  per-shard top-k are merged on the driver by :func:`zc.hv16.merge_top_k` —
  exactly what one store holding every vector returns, ties included.
- A missing, corrupt or miscounted shard raises :class:`ShardError` naming the shard.
"""

from __future__ import annotations

import os
from typing import Sequence

import numpy as np

FORMAT = "zc-hv16-shards"
VERSION = 2
DIM = 2048
BYTES = 256

__all__ = [
    "ShardError",
    "read_manifest",
    "write_manifest",
    "build_shards",
    "ShardWriter",
    "merge_top_k",
    "ShardedSearch",
    "verify_shards",
]


class ShardError(OSError):
    """A shard is missing, corrupt, or does not match its manifest entry (the message names it)."""


def _hv16():
    from zc import hv16

    return hv16


def _shard_error(e: Exception) -> ShardError:
    err = ShardError(f"{type(e).__name__}: {e}")
    err.__cause__ = e
    return err


def _doc(manifest, path: str) -> dict:
    """The 0.1 dict form of a ``zc.hv16.ShardManifest`` stored at ``path``."""
    base = os.path.dirname(path)
    shards = manifest.shards
    for s in shards:
        s["path"] = os.path.join(base, s["file"])
    return {
        "format": FORMAT,
        "version": manifest.version,
        "generator": manifest.generator,
        "dim": manifest.dim,
        "bytes_per_vector": manifest.bytes_per_vector,
        "total": manifest.total,
        "shards": shards,
        "manifest": path,
    }


def write_manifest(path: str | os.PathLike, shards: Sequence[dict], generator: str) -> dict:
    """Write a manifest atomically; ``shards`` = ``[{"file", "count", "checksum"?}]`` (offsets are computed)."""
    hv16 = _hv16()
    path = os.path.abspath(os.fspath(path))
    m = hv16.ShardManifest([{k: v for k, v in s.items() if k in ("file", "count", "checksum")} for s in shards], str(generator))
    m.save(path)
    return _doc(m, path)


def read_manifest(path: str | os.PathLike) -> dict:
    """The manifest with each shard's ``path`` resolved (relative to the manifest) and checked
    for consistency (format, contiguous offsets, total). Shard files are not opened."""
    hv16 = _hv16()
    path = os.path.abspath(os.fspath(path))
    try:
        m = hv16.ShardManifest.load(path)
    except Exception as e:  # zc.ZcError: I/O or an invalid manifest; the message names the shard
        raise _shard_error(e) from e
    return _doc(m, path)


def _open_shard(i: int, s: dict):
    hv16 = _hv16()
    try:
        store = hv16.HvStore(s["path"])  # read-only, checksums verified
    except Exception as e:
        raise ShardError(f"shard {i} ({s['path']}): {type(e).__name__}: {e}") from e
    if len(store) != s["count"]:
        raise ShardError(f"shard {i} ({s['path']}) holds {len(store)} vectors, the manifest says {s['count']}")
    return store


def verify_shards(manifest: str | os.PathLike) -> dict:
    """Open every shard locally (checksums verified, counts and recorded checksums checked);
    returns the manifest."""
    hv16 = _hv16()
    doc = read_manifest(manifest)
    try:
        hv16.ShardSet(doc["manifest"])
    except Exception as e:
        raise _shard_error(e) from e
    return doc


def build_shards(
    source: str | os.PathLike,
    out_dir: str | os.PathLike,
    max_vectors: int,
    *,
    generator: str = "",
    manifest_name: str = "shards.json",
) -> str:
    """Split the store at ``source`` into shards of at most ``max_vectors`` under ``out_dir``;
    returns the manifest path. Global index ``g`` of the source is global index ``g`` of the shards."""
    hv16 = _hv16()
    if max_vectors < 1:
        raise ValueError("max_vectors must be >= 1")
    path = os.path.join(os.path.abspath(os.fspath(out_dir)), manifest_name)
    hv16.split_store(os.fspath(source), path, int(max_vectors), generator)
    return path


class ShardWriter:
    """Append vectors to a sharded store, rolling over to a new shard at ``max_vectors``
    (:class:`zc.hv16.ShardWriter`).

    Opening a directory that already holds the manifest continues it (every shard is
    verified, the last one is reopened for appending; ``generator`` must match). The
    manifest is rewritten atomically after every sealed shard and every :meth:`append`.
    """

    def __init__(
        self, out_dir: str | os.PathLike, max_vectors: int, *, generator: str = "", manifest_name: str = "shards.json"
    ):
        hv16 = _hv16()
        if max_vectors < 1:
            raise ValueError("max_vectors must be >= 1")
        self.out_dir = os.path.abspath(os.fspath(out_dir))
        self.max_vectors = int(max_vectors)
        self.manifest_path = os.path.join(self.out_dir, manifest_name)
        self.generator = generator
        if os.path.exists(self.manifest_path):
            try:
                self._w = hv16.ShardWriter.open_rw(self.manifest_path, self.max_vectors, generator)
            except ValueError:
                raise  # generator mismatch (zc.ZcValueError)
            except Exception as e:  # refuse to extend a damaged sharded store
                raise _shard_error(e) from e
        else:
            self._w = hv16.ShardWriter.create(self.manifest_path, self.max_vectors, generator)

    @property
    def shards(self) -> list[dict]:
        """``[{"file", "count", "offset", "checksum"}]`` as last written."""
        return self._w.manifest.shards

    def __len__(self) -> int:
        return len(self._w)

    def append(self, vectors: np.ndarray) -> int:
        """Append ``uint8[n, 256]``; returns the global index of the first one."""
        return self._w.append(vectors)

    def close(self) -> None:
        self._w.finish()

    def __enter__(self) -> "ShardWriter":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def merge_top_k(distances: Sequence[np.ndarray], indices: Sequence[np.ndarray], k: int) -> tuple[np.ndarray, np.ndarray]:
    """Merge per-shard ``(int32[m, k_s], int64[m, k_s])`` (global indices) into the top ``k``
    by (distance, global index): deterministic and equal to one store's exact top-k
    (:func:`zc.hv16.merge_top_k`; rows short of ``k`` hits are padded with ``2**31 - 1`` / ``-1``)."""
    return _hv16().merge_top_k(list(distances), list(indices), k)


class _ShardActor:
    """One shard, mapped read-only inside a Ray actor."""

    def __init__(self, index: int, shard: dict):
        self.index, self.count, self.offset = index, shard["count"], shard["offset"]
        self.error = None
        try:
            self.store = _open_shard(index, shard)
        except Exception as e:  # reported by ready(), so the driver can name the shard
            self.store = None
            self.error = str(e)

    def ready(self):
        return self.error

    def search(self, queries: np.ndarray, k: int):
        d, i = self.store.search(queries, min(k, self.count))
        i += self.offset  # global indices
        return d, i


class ShardedSearch:
    """Exact top-k over a sharded store: one Ray actor per (non-empty) shard.

    ``address``: a Ray cluster, or ``None`` for a local one (unless Ray is up).
    Each actor opens its shard from the manifest's path, which must be valid on the
    node it lands on (a shared filesystem, or the same files on each node's disk).
    ``num_cpus``: CPUs reserved per actor (Ray's default for actors otherwise).
    """

    def __init__(
        self,
        manifest: str | os.PathLike,
        *,
        address: str | None = None,
        num_cpus: float | None = None,
        batch_size: int = 256,
        max_in_flight: int = 4,
    ):
        from zc.ray import init

        self.manifest = read_manifest(manifest)
        self.generator = self.manifest["generator"]
        self.total = self.manifest["total"]
        self.batch_size = int(batch_size)
        self.max_in_flight = max(1, int(max_in_flight))
        ray = init(address)
        self._ray = ray
        opts = {"max_restarts": 0}
        if num_cpus is not None:
            opts["num_cpus"] = num_cpus
        cls = ray.remote(**opts)(_ShardActor)
        self._shards = [(i, s) for i, s in enumerate(self.manifest["shards"]) if s["count"] > 0]
        self._actors = [cls.remote(i, s) for i, s in self._shards]
        errors = [e for e in ray.get([a.ready.remote() for a in self._actors]) if e]
        if errors:
            self.close()
            raise ShardError("; ".join(errors))

    def __len__(self) -> int:
        return self.total

    @property
    def num_shards(self) -> int:
        return len(self._actors)

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """``(int32[m, k], int64[m, k])`` — the exact top-k of all shards, FAISS's convention."""
        ray = self._ray
        q = np.asarray(queries)
        if q.ndim == 1:
            q = q[None]
        if q.ndim != 2 or q.shape[1] != BYTES or q.dtype != np.uint8:
            raise ValueError(f"queries must be uint8[m, {BYTES}], got {q.dtype}{list(q.shape)}")
        if not 1 <= k <= self.total:
            raise ValueError(f"k = {k} is invalid for {self.total} vectors (need 1 <= k <= n)")
        m = len(q)
        out_d = np.empty((m, k), np.int32)
        out_i = np.empty((m, k), np.int64)
        pending: list = []

        def finish(item):
            start, refs = item
            parts = []
            for (idx, s), r in zip(self._shards, refs):
                try:
                    parts.append(ray.get(r))
                except ray.exceptions.RayError as e:
                    raise ShardError(f"shard {idx} ({s['path']}): {e}") from e
            d, i = merge_top_k([p[0] for p in parts], [p[1] for p in parts], k)
            out_d[start : start + len(d)] = d
            out_i[start : start + len(i)] = i

        for start in range(0, m, self.batch_size):
            ref = ray.put(np.ascontiguousarray(q[start : start + self.batch_size]))
            pending.append((start, [a.search.remote(ref, k) for a in self._actors]))
            if len(pending) >= self.max_in_flight:
                finish(pending.pop(0))
        for item in pending:
            finish(item)
        return out_d, out_i

    def close(self) -> None:
        for a in getattr(self, "_actors", []):
            self._ray.kill(a)
        self._actors = []

    def __enter__(self) -> "ShardedSearch":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
