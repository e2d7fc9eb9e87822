"""zc.hv16: 2048-bit hypervectors as packed uint8[..., 256] arrays."""
import os

import numpy as np
import numpy.typing as npt

DIM: int
BYTES: int

U8 = npt.NDArray[np.uint8]

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
    def append(self, vectors: U8) -> int: ...
    def search(
        self, queries: U8, k: int, out: tuple[npt.NDArray[np.int32], npt.NDArray[np.int64]] | None = None
    ) -> tuple[npt.NDArray[np.int32], npt.NDArray[np.int64]]:
        """Exact top-k: (distances int32[m, k], indices int64[m, k]), FAISS's convention."""
    def verify(self) -> None: ...

def empty(n: int) -> U8:
    """Zeroed 64-byte-aligned uint8[n, 256] (zero-copy input everywhere)."""
def random(n: int, seed: int = 0) -> U8: ...
def bind(a: U8, b: U8, out: U8 | None = None) -> U8: ...
def permute(a: U8, k: int, out: U8 | None = None) -> U8: ...
def bundle(vectors: U8) -> U8: ...
def hamming(a: U8, b: U8) -> npt.NDArray[np.int32]: ...
