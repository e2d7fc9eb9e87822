"""The zc exception hierarchy. Every error carries the Rust error's message."""


class ZcError(Exception):
    """Base class of every error raised by zc."""


class ZcValueError(ZcError, ValueError):
    """A bad argument value (configuration, NaN input, k out of range, ...)."""


class ShapeError(ZcValueError):
    """An array or buffer of the wrong shape or length."""


class DTypeError(ZcValueError):
    """An array of the wrong element type (zc never converts implicitly)."""


class CopyRequiredError(ZcValueError):
    """Memory zc cannot read or write in place (non-contiguous, misaligned).

    zc never copies silently; make the copy yourself (``np.ascontiguousarray``)
    if that is what you want.
    """


class ReadOnlyError(ZcValueError):
    """An ``out=`` array that may not be written."""


class ZcOSError(ZcError, OSError):
    """A file could not be opened, mapped, read or written."""


class FileFormatError(ZcOSError):
    """A file whose content is not valid for the reader (corrupt WAV, store, NPZ)."""


class ZcRuntimeError(ZcError, RuntimeError):
    """An internal failure (a worker panicked) or an object busy elsewhere."""


__all__ = [
    "ZcError",
    "ZcValueError",
    "ShapeError",
    "DTypeError",
    "CopyRequiredError",
    "ReadOnlyError",
    "ZcOSError",
    "FileFormatError",
    "ZcRuntimeError",
]
