"""zc: zero-copy building blocks for audio and ML pipelines.

Submodules: :mod:`zc.buffers` (pool, ledger, allocation counting, DLPack),
:mod:`zc.mel` (Whisper log-mel), :mod:`zc.hv16` (2048-bit hypervectors),
:mod:`zc.volterra` (Volterra series).
"""

from .errors import (
    CopyRequiredError,
    DTypeError,
    FileFormatError,
    ReadOnlyError,
    ShapeError,
    ZcError,
    ZcOSError,
    ZcRuntimeError,
    ZcValueError,
)
from ._zc import __version__
from . import buffers, hv16, mel, volterra

from . import errors as _errors

__all__ = ["__version__", "buffers", "mel", "hv16", "volterra", *_errors.__all__]
