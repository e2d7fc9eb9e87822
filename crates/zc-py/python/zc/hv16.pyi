"""zc.hv16: 2048-bit hypervectors as packed uint8[..., 256] arrays."""
import os
from typing import Any, Mapping, Sequence

import numpy as np
import numpy.typing as npt

DIM: int
BYTES: int

U8 = npt.NDArray[np.uint8]
I32 = npt.NDArray[np.int32]
I64 = npt.NDArray[np.int64]

class HvStore:
    def __init__(self, path: str | os.PathLike[str], *, verify: bool = True) -> None:
        """Open read-only (checksums verified, vectors mapped in place)."""
    @staticmethod
    def create(path: str | os.PathLike[str]) -> HvStore: ...
    @staticmethod
    def open_rw(path: str | os.PathLike[str]) -> HvStore: ...
    def __len__(self) -> int: ...
    @property
    def writable(self) -> bool: ...
    @property
    def vectors(self) -> U8:
        """Read-only uint8[n, 256] view of the mapping; keeps the store alive."""
    def append(self, vectors: U8) -> int:
        """Append uint8[n, 256] (or one uint8[256]); returns the index of the first. Writable stores only."""
    def search(
        self, queries: U8, k: int, out: tuple[I32, I64] | None = None, *, threads: int = 1
    ) -> tuple[I32, I64]:
        """Exact top-k: (distances int32[m, k], indices int64[m, k]), FAISS's convention."""
    def range_search(self, queries: U8, radius: int) -> tuple[I64, I32, I64]:
        """Every vector with distance <= radius (inclusive): (lims int64[m+1], distances int32, indices int64),
        FAISS's range_search layout, index order within a query. FAISS's binary radius is strict: pass radius - 1."""
    def verify(self) -> None: ...

class ItemMemory:
    """Named vectors: a store plus a .names sidecar."""
    def __init__(self, path: str | os.PathLike[str], *, verify: bool = True) -> None:
        """Open read-only (checksums verified)."""
    @staticmethod
    def create(path: str | os.PathLike[str]) -> ItemMemory: ...
    @staticmethod
    def open_rw(path: str | os.PathLike[str]) -> ItemMemory: ...
    def __len__(self) -> int: ...
    def __contains__(self, name: str) -> bool: ...
    @property
    def writable(self) -> bool: ...
    def insert(self, name: str, vector: U8) -> int: ...
    def extend(self, names: Sequence[str], vectors: U8) -> int:
        """Insert a batch, all or nothing; returns the index of the first."""
    def get(self, name: str) -> U8 | None:
        """A copy of the named vector (uint8[256]), or None."""
    def index_of(self, name: str) -> int | None: ...
    def name(self, index: int) -> str | None: ...
    def search(self, queries: U8, k: int) -> tuple[I32, I64, list[list[str]]]:
        """Exact top-k: (distances int32[m, k], indices int64[m, k], names per row)."""

class ShardManifest:
    """A sharded store's JSON manifest (format zc-hv16-shards, version 2; version 1 loads)."""
    def __init__(self, shards: Sequence[Mapping[str, object]] = ..., generator: str = "") -> None:
        """From [{"file", "count", "checksum"?}]; offsets and total are computed."""
    @staticmethod
    def load(path: str | os.PathLike[str]) -> ShardManifest: ...
    def save(self, path: str | os.PathLike[str]) -> None:
        """Atomic: temporary file, fsync, rename, directory fsync."""
    @property
    def version(self) -> int: ...
    @property
    def generator(self) -> str: ...
    @property
    def dim(self) -> int: ...
    @property
    def bytes_per_vector(self) -> int: ...
    @property
    def total(self) -> int: ...
    @property
    def shards(self) -> list[dict[str, Any]]:
        """[{"file", "count", "offset", "checksum"}] (checksum may be None)."""
    def locate(self, g: int) -> tuple[int, int] | None: ...
    def __len__(self) -> int: ...

class ShardSet:
    """Every shard of a manifest, opened read-only and checked; errors name the shard."""
    def __init__(self, manifest: str | os.PathLike[str], *, verify: bool = True) -> None: ...
    def __len__(self) -> int: ...
    @property
    def num_shards(self) -> int: ...
    @property
    def manifest(self) -> ShardManifest: ...
    @property
    def paths(self) -> list[str]: ...
    def search(
        self, queries: U8, k: int, out: tuple[I32, I64] | None = None, *, threads: int = 1
    ) -> tuple[I32, I64]:
        """Exact top-k over all shards (global indices, equal to one store); k > len pads with 2**31-1 / -1."""

class ShardWriter:
    """Rolling appends to a sharded store; the manifest is rewritten atomically after each append."""
    @staticmethod
    def create(
        manifest: str | os.PathLike[str], max_vectors_per_shard: int, generator: str = "", *, sync: bool = True
    ) -> ShardWriter: ...
    @staticmethod
    def open_rw(
        manifest: str | os.PathLike[str], max_vectors_per_shard: int, generator: str = "", *, sync: bool = True
    ) -> ShardWriter: ...
    def append(self, vectors: U8) -> int:
        """Returns the global index of the first vector."""
    def __len__(self) -> int: ...
    @property
    def manifest(self) -> ShardManifest: ...
    @property
    def manifest_path(self) -> str: ...
    def finish(self) -> ShardManifest: ...
    def __enter__(self) -> ShardWriter: ...
    def __exit__(self, *exc: object) -> None: ...

def merge_top_k(
    distances: Sequence[I32], indices: Sequence[I64], k: int, out: tuple[I32, I64] | None = None
) -> tuple[I32, I64]:
    """Merge per-shard (int32[m, k_s], int64[m, k_s]) by (distance, global index); pads with 2**31-1 / -1."""
def split_store(
    source: str | os.PathLike[str] | HvStore, manifest: str | os.PathLike[str], max_vectors_per_shard: int, generator: str = ""
) -> ShardManifest: ...

def empty(n: int) -> U8:
    """Zeroed 64-byte-aligned uint8[n, 256] (zero-copy input everywhere)."""
def random(n: int, seed: int = 0) -> U8: ...
def bind(a: U8, b: U8, out: U8 | None = None) -> U8: ...
def permute(a: U8, k: int, out: U8 | None = None) -> U8: ...
def bundle(vectors: U8) -> U8: ...
def hamming(a: U8, b: U8) -> npt.NDArray[np.int32]: ...
