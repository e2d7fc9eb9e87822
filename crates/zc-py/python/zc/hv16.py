"""See the type stub hv16.pyi and the docstrings of each name."""

from ._zc import hv16 as _native

globals().update({k: v for k, v in vars(_native).items() if not k.startswith("__")})
__doc__ = _native.__doc__ or __doc__
__all__ = [k for k in vars(_native) if not k.startswith("_")]
del _native
