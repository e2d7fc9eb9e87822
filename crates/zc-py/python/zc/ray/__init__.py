"""zc.ray: zc as the kernel inside Ray jobs (pure Python; Ray is imported only when used).

- :mod:`zc.ray.mel` — corpus-scale Whisper log-mel extraction with Ray Data
  (``extract``; CLI ``python -m zc.ray.mel``), sharded ``.npy`` + a JSON-lines manifest, resumable.
- :mod:`zc.ray.hv16` — sharded hypervector stores (a JSON shard manifest, ``build_shards``,
  ``ShardWriter``) and ``ShardedSearch``: one Ray actor per shard, exact merged top-k.

``import zc`` does not import this package; ``import zc.ray`` does not import Ray either.
"""

from __future__ import annotations

__all__ = ["mel", "hv16", "init"]


def init(address: str | None = None, *, num_cpus: int | None = None, **kwargs):
    """Connect to (``address``) or start a local Ray cluster unless one is already up.

    A local cluster started here has no dashboard. Returns the ``ray`` module.
    """
    import ray

    if not ray.is_initialized():
        if address is None:
            kwargs.setdefault("include_dashboard", False)
            if num_cpus is not None:
                kwargs["num_cpus"] = num_cpus
        kwargs.setdefault("log_to_driver", True)
        ray.init(address=address, **kwargs)
    return ray


def __getattr__(name: str):
    if name in ("mel", "hv16"):
        import importlib

        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(name)
