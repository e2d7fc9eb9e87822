"""Sharded 2048-bit hypervector stores and exact sharded search on Ray.

Shard manifest (JSON, shard paths relative to the manifest's directory)::

    {"format": "zc-hv16-shards", "version": 1, "generator": "<id>", "dim": 2048,
     "total": N, "shards": [{"file": "shard-00000.hv", "count": n0, "offset": 0}, ...]}

``offset`` is the global index of a shard's first vector (offsets are contiguous:
each is the sum of the counts before it). ``generator`` names how the vectors
were made (codebook, seed, model), so queries from another generator are not
mixed in by mistake; zc does not interpret it.

- :func:`build_shards` splits one :class:`zc.hv16.HvStore` into shards of at most
  ``max_vectors``; :class:`ShardWriter` appends and rolls over to a new shard at
  the limit (and continues an existing sharded store).
- :class:`ShardedSearch` starts one Ray actor per shard; each opens its shard
  with ``zc.hv16.HvStore(path)`` (read-only, checksums verified, mapped: zero
  copies), queries are broadcast in batches through the object store, and the
  per-shard top-k are merged on the driver by (distance, global index) — exactly
  what one store holding every vector returns, ties included.
- A missing, corrupt or miscounted shard raises :class:`ShardError` naming the shard.
"""

from __future__ import annotations

import json
import os
from typing import Sequence

import numpy as np

FORMAT = "zc-hv16-shards"
VERSION = 1
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


def _shard_name(i: int) -> str:
    return f"shard-{i:05d}.hv"


def write_manifest(path: str | os.PathLike, shards: Sequence[dict], generator: str) -> dict:
    """Write a manifest atomically; ``shards`` = ``[{"file", "count"}]`` (offsets are computed)."""
    out, off = [], 0
    for s in shards:
        out.append({"file": os.fspath(s["file"]), "count": int(s["count"]), "offset": off})
        off += int(s["count"])
    doc = {"format": FORMAT, "version": VERSION, "generator": str(generator), "dim": DIM, "total": off, "shards": out}
    path = os.fspath(path)
    tmp = f"{path}.{os.getpid()}.tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    return doc


def read_manifest(path: str | os.PathLike) -> dict:
    """The manifest with each shard's ``path`` resolved (relative to the manifest) and checked
    for consistency (format, contiguous offsets, total). Shard files are not opened."""
    path = os.path.abspath(os.fspath(path))
    try:
        with open(path, "r", encoding="utf-8") as f:
            doc = json.load(f)
    except (OSError, json.JSONDecodeError) as e:
        raise ShardError(f"shard manifest {path}: {e}") from e
    if doc.get("format") != FORMAT or doc.get("version") != VERSION or doc.get("dim") != DIM:
        raise ShardError(f"shard manifest {path}: not a {FORMAT} v{VERSION} manifest for {DIM}-bit vectors")
    base = os.path.dirname(path)
    off = 0
    for i, s in enumerate(doc["shards"]):
        if s["offset"] != off or s["count"] < 0:
            raise ShardError(f"shard {i} ({s['file']}) in {path}: offset {s['offset']} != {off} or negative count")
        s["path"] = os.path.join(base, s["file"])
        off += s["count"]
    if doc["total"] != off:
        raise ShardError(f"shard manifest {path}: total {doc['total']} != sum of counts {off}")
    doc["manifest"] = path
    return doc


def _open_shard(i: int, s: dict):
    from zc import hv16

    try:
        store = hv16.HvStore(s["path"])  # read-only, checksums verified
    except Exception as e:
        raise ShardError(f"shard {i} ({s['path']}): {type(e).__name__}: {e}") from e
    if len(store) != s["count"]:
        raise ShardError(f"shard {i} ({s['path']}): holds {len(store)} vectors, the manifest says {s['count']}")
    return store


def verify_shards(manifest: str | os.PathLike) -> dict:
    """Open every shard locally (checksums verified, counts checked); returns the manifest."""
    doc = read_manifest(manifest)
    for i, s in enumerate(doc["shards"]):
        _open_shard(i, s)
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
    from zc import hv16

    src = hv16.HvStore(source)
    with ShardWriter(out_dir, max_vectors, generator=generator, manifest_name=manifest_name) as w:
        vec = src.vectors  # read-only view of the mapping; slices stay 64-byte aligned
        for start in range(0, len(src), max_vectors):
            w.append(vec[start : start + max_vectors])
        return w.manifest_path


class ShardWriter:
    """Append vectors to a sharded store, rolling over to a new shard at ``max_vectors``.

    Opening a directory that already holds the manifest continues it (the last
    shard is reopened for appending; ``generator`` must match). The manifest is
    rewritten atomically after every :meth:`append`.
    """

    def __init__(
        self, out_dir: str | os.PathLike, max_vectors: int, *, generator: str = "", manifest_name: str = "shards.json"
    ):
        from zc import hv16

        if max_vectors < 1:
            raise ValueError("max_vectors must be >= 1")
        self._hv16 = hv16
        self.out_dir = os.path.abspath(os.fspath(out_dir))
        os.makedirs(self.out_dir, exist_ok=True)
        self.max_vectors = int(max_vectors)
        self.manifest_path = os.path.join(self.out_dir, manifest_name)
        self.generator = generator
        self.shards: list[dict] = []
        self._store = None
        if os.path.exists(self.manifest_path):
            doc = read_manifest(self.manifest_path)
            if doc["generator"] != generator:
                raise ValueError(f"{self.manifest_path} holds generator {doc['generator']!r}, not {generator!r}")
            self.shards = [{"file": s["file"], "count": s["count"]} for s in doc["shards"]]
            for i, s in enumerate(doc["shards"]):
                _open_shard(i, s)  # refuse to extend a damaged sharded store
            if self.shards and self.shards[-1]["count"] < self.max_vectors:
                self._store = hv16.HvStore.open_rw(os.path.join(self.out_dir, self.shards[-1]["file"]))
        else:
            write_manifest(self.manifest_path, [], generator)

    def __len__(self) -> int:
        return sum(s["count"] for s in self.shards)

    def append(self, vectors: np.ndarray) -> int:
        """Append ``uint8[n, 256]``; returns the global index of the first one."""
        vectors = np.asarray(vectors)
        if vectors.ndim != 2 or vectors.shape[1] != BYTES or vectors.dtype != np.uint8:
            raise ValueError(f"expected uint8[n, {BYTES}], got {vectors.dtype}{list(vectors.shape)}")
        first = len(self)
        pos = 0
        while pos < len(vectors):
            if self._store is None:
                name = _shard_name(len(self.shards))
                self._store = self._hv16.HvStore.create(os.path.join(self.out_dir, name))
                self.shards.append({"file": name, "count": 0})
            room = self.max_vectors - self.shards[-1]["count"]
            take = min(room, len(vectors) - pos)
            self._store.append(vectors[pos : pos + take])
            self.shards[-1]["count"] += take
            pos += take
            if self.shards[-1]["count"] >= self.max_vectors:
                self._store = None  # closes (flushes) the full shard
        write_manifest(self.manifest_path, self.shards, self.generator)
        return first

    def close(self) -> None:
        self._store = None
        write_manifest(self.manifest_path, self.shards, self.generator)

    def __enter__(self) -> "ShardWriter":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def merge_top_k(distances: Sequence[np.ndarray], indices: Sequence[np.ndarray], k: int) -> tuple[np.ndarray, np.ndarray]:
    """Merge per-shard ``(int32[m, k_s], int64[m, k_s])`` (global indices) into the top ``k``
    by (distance, global index): deterministic and equal to one store's exact top-k."""
    d = np.concatenate(distances, axis=1)
    i = np.concatenate(indices, axis=1)
    order = np.lexsort((i, d), axis=1)[:, :k]
    return np.take_along_axis(d, order, 1), np.take_along_axis(i, order, 1)


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
