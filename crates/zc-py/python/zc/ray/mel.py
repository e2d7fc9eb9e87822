"""Corpus-scale Whisper log-mel extraction on Ray Data.

``extract(inputs, out_dir)`` turns a list or glob of 16 kHz WAV files into
sharded ``.npy`` feature files plus a manifest, resumably:

- Ray Data carries *paths*, never audio bytes: each worker maps its files in
  place with :func:`zc.mel.load_wav`.
- ``map_batches`` runs a callable class holding one :class:`zc.mel.MelSpectrogram`
  plan per worker (built once); each batch of files becomes one shard
  ``shard-<hash>.npy`` of shape ``(total_frames, n_mels)`` float32, which the
  plan writes into directly (``out=`` slices of the memory-mapped shard: no
  intermediate feature array). A shard is written under a temporary name and
  renamed into place, so a shard file either is complete or does not exist.
- ``manifest.jsonl`` (one JSON object a line, appended by the driver as
  batches complete): ``file``, ``status`` (``"ok"`` or ``"failed"``),
  ``error``, ``frames``, ``shard``, ``offset`` (first frame row in the shard),
  ``samples``, ``n_mels``. The features of a file are
  ``np.load(shard, mmap_mode="r")[offset:offset + frames].T`` — bit for bit
  ``zc.mel.log_mel(zc.mel.load_wav(file), n_mels)`` (see :func:`load_features`).
- Files already in the manifest are skipped (failed ones too, unless
  ``retry_failed=True``). A corrupt or truncated file is recorded as failed
  with its error; the job goes on. A worker that dies is restarted by Ray and
  its batch retried; a driver that dies loses nothing already in the manifest.

CLI: ``python -m zc.ray.mel INPUT... --out DIR [--address ray://...] [--n-mels 80|128]``.
"""

from __future__ import annotations

import argparse
import dataclasses
import glob
import hashlib
import json
import os
import sys
import time
import uuid
from typing import Iterable, Sequence

import numpy as np

MANIFEST = "manifest.jsonl"
_GLOB_CHARS = set("*?[")

__all__ = ["extract", "Summary", "expand_inputs", "read_manifest", "load_features", "main", "MANIFEST"]


@dataclasses.dataclass
class Summary:
    """What one :func:`extract` call did (``processed`` = files handled by this call)."""

    files: int  # input files found
    processed: int
    ok: int
    failed: int
    skipped: int  # already in the manifest
    audio_seconds: float  # audio successfully processed by this call
    wall_seconds: float  # the whole call, Ray start-up included
    failures: list[tuple[str, str]] = dataclasses.field(default_factory=list)

    @property
    def audio_hours(self) -> float:
        return self.audio_seconds / 3600.0

    @property
    def real_time_factor(self) -> float:
        """Wall time / audio time (below 1 is faster than real time)."""
        return self.wall_seconds / self.audio_seconds if self.audio_seconds else float("nan")

    @property
    def hours_per_second(self) -> float:
        return self.audio_hours / self.wall_seconds if self.wall_seconds else float("nan")

    def __str__(self) -> str:
        s = (
            f"files: {self.files} ({self.processed} processed: {self.ok} ok, {self.failed} failed; "
            f"{self.skipped} already done)\n"
            f"audio: {self.audio_hours:.4f} h in {self.wall_seconds:.2f} s "
            f"({self.hours_per_second:.4f} h of audio per second, real-time factor {self.real_time_factor:.2e})"
        )
        for f, e in self.failures[:10]:
            s += f"\nfailed: {f}: {e}"
        if len(self.failures) > 10:
            s += f"\n... and {len(self.failures) - 10} more failures (see the manifest)"
        return s


def expand_inputs(inputs: str | os.PathLike | Iterable[str | os.PathLike]) -> list[str]:
    """Absolute paths, sorted and de-duplicated: globs expanded (``**`` recursive),
    directories searched recursively for ``*.wav``, plain paths kept as given."""
    if isinstance(inputs, (str, os.PathLike)):
        inputs = [inputs]
    out: set[str] = set()
    for item in inputs:
        s = os.fspath(item)
        if _GLOB_CHARS & set(s):
            out.update(p for p in glob.glob(s, recursive=True) if not os.path.isdir(p))
        elif os.path.isdir(s):
            out.update(glob.glob(os.path.join(s, "**", "*.wav"), recursive=True))
        else:
            out.add(s)
    return sorted(os.path.abspath(p) for p in out)


def read_manifest(out_dir: str | os.PathLike) -> dict[str, dict]:
    """``file -> record`` (the last record of a file wins; a torn last line is ignored)."""
    path = os.path.join(out_dir, MANIFEST)
    records: dict[str, dict] = {}
    if not os.path.exists(path):
        return records
    with open(path, "r", encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:
                continue  # a line torn by a driver killed mid-write: that file is redone
            records[rec["file"]] = rec
    return records


def load_features(out_dir: str | os.PathLike, file: str | os.PathLike, layout: str = "mel") -> np.ndarray:
    """The features of ``file``: a read-only view of its memory-mapped shard,
    ``(n_mels, frames)`` for ``layout="mel"`` (a transposed view) or ``(frames, n_mels)``."""
    rec = read_manifest(out_dir).get(os.path.abspath(os.fspath(file)))
    if rec is None:
        raise KeyError(f"{file} is not in {os.path.join(out_dir, MANIFEST)}")
    if rec["status"] != "ok":
        raise ValueError(f"{file} failed: {rec['error']}")
    shard = np.load(os.path.join(out_dir, rec["shard"]), mmap_mode="r")
    view = shard[rec["offset"] : rec["offset"] + rec["frames"]]
    return view.T if layout == "mel" else view


class MelBatch:
    """Ray Data callable class: one mel plan per worker; one shard per batch of paths."""

    def __init__(self, n_mels: int, out_dir: str):
        from zc import mel  # the worker imports zc itself

        self._mel = mel
        self.n_mels = n_mels
        self.out_dir = out_dir
        self.plan = mel.MelSpectrogram(n_mels, threads=1)

    def __call__(self, batch: dict) -> dict:
        paths = [str(p) for p in batch["path"]]
        n = len(paths)
        status = ["ok"] * n
        error = [""] * n
        frames = np.zeros(n, np.int64)
        samples = np.zeros(n, np.int64)
        offsets = np.full(n, -1, np.int64)
        audio: list = [None] * n
        for i, p in enumerate(paths):
            try:
                a = self._mel.load_wav(p)  # mapped in place
                audio[i] = a
                samples[i] = a.size
                frames[i] = self.plan.n_frames(a.size)
            except Exception as e:  # corrupt, truncated, missing: recorded, the job goes on
                status[i], error[i] = "failed", f"{type(e).__name__}: {e}"
        ok = [i for i in range(n) if status[i] == "ok"]
        shard = ""
        if ok:
            # deterministic name: a retried batch (worker restarted) replaces its own shard
            h = hashlib.sha1(f"{self.n_mels}\n".encode() + "\n".join(paths[i] for i in ok).encode())
            shard = f"shard-{h.hexdigest()[:20]}.npy"
            total = int(frames[ok].sum())
            tmp = os.path.join(self.out_dir, f".{shard}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
            try:
                if total:
                    arr = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.float32, shape=(total, self.n_mels))
                else:
                    arr = np.zeros((0, self.n_mels), np.float32)
                off = 0
                for i in ok:
                    try:
                        self.plan(audio[i], layout="frames", out=arr[off : off + frames[i]])
                        offsets[i] = off
                    except Exception as e:
                        status[i], error[i] = "failed", f"{type(e).__name__}: {e}"
                    off += int(frames[i])
                if total:
                    arr.flush()
                    del arr
                else:
                    np.save(tmp, arr)
                    os.replace(tmp + ".npy", tmp)
                os.replace(tmp, os.path.join(self.out_dir, shard))
            except BaseException:
                if os.path.exists(tmp):
                    os.unlink(tmp)
                raise
        for i in range(n):
            if status[i] != "ok":
                frames[i] = 0
                offsets[i] = -1
        return {
            "file": np.array(paths, dtype=object),
            "status": np.array(status, dtype=object),
            "error": np.array(error, dtype=object),
            "frames": frames,
            "samples": samples,
            "shard": np.array([shard if s == "ok" else "" for s in status], dtype=object),
            "offset": offsets,
        }


def extract(
    inputs: str | os.PathLike | Sequence[str | os.PathLike],
    out_dir: str | os.PathLike,
    n_mels: int = 80,
    address: str | None = None,
    *,
    num_workers: int | None = None,
    files_per_shard: int = 64,
    retry_failed: bool = False,
    progress: bool = True,
) -> Summary:
    """Write the Whisper log-mel features of every input WAV under ``out_dir`` (see the module doc).

    ``address``: a Ray cluster (``"auto"``, ``"ray://head:10001"``); ``None`` starts a local
    cluster unless Ray is already initialised. ``num_workers``: mel actors (default: the
    cluster's CPUs). ``files_per_shard``: files per batch = per shard file.
    """
    from zc.ray import init

    t0 = time.perf_counter()
    if n_mels not in (80, 128):
        raise ValueError(f"n_mels must be 80 or 128, not {n_mels}")
    if files_per_shard < 1:
        raise ValueError("files_per_shard must be >= 1")
    out_dir = os.path.abspath(os.fspath(out_dir))
    os.makedirs(out_dir, exist_ok=True)
    files = expand_inputs(inputs)
    done = read_manifest(out_dir)
    for rec in done.values():
        if rec["status"] == "ok" and rec["n_mels"] != n_mels:
            raise ValueError(f"{out_dir} holds {rec['n_mels']}-mel features; asked for {n_mels}")
    todo = [
        f for f in files if f not in done or (retry_failed and done[f]["status"] != "ok")
    ]
    summary = Summary(len(files), 0, 0, 0, len(files) - len(todo), 0.0, 0.0)
    if todo:
        ray = init(address)
        import ray.data

        ctx = ray.data.DataContext.get_current()
        ctx.enable_progress_bars = progress
        if num_workers is None:
            num_workers = max(1, int(ray.cluster_resources().get("CPU", 1)))
        num_workers = max(1, min(num_workers, -(-len(todo) // files_per_shard)))
        ds = ray.data.from_items(
            [{"path": f} for f in todo], override_num_blocks=max(1, -(-len(todo) // files_per_shard))
        ).map_batches(
            MelBatch,
            batch_size=files_per_shard,
            batch_format="numpy",
            zero_copy_batch=True,
            compute=ray.data.ActorPoolStrategy(size=num_workers),
            num_cpus=1,
            fn_constructor_kwargs={"n_mels": n_mels, "out_dir": out_dir},
        )
        with open(os.path.join(out_dir, MANIFEST), "a", encoding="utf-8") as man:
            for b in ds.iter_batches(batch_size=None, batch_format="numpy"):
                for j in range(len(b["file"])):
                    rec = {
                        "file": str(b["file"][j]),
                        "status": str(b["status"][j]),
                        "error": str(b["error"][j]) or None,
                        "frames": int(b["frames"][j]),
                        "shard": str(b["shard"][j]) or None,
                        "offset": int(b["offset"][j]),
                        "samples": int(b["samples"][j]),
                        "n_mels": n_mels,
                    }
                    man.write(json.dumps(rec) + "\n")
                    summary.processed += 1
                    if rec["status"] == "ok":
                        summary.ok += 1
                        summary.audio_seconds += rec["samples"] / 16000.0
                    else:
                        summary.failed += 1
                        summary.failures.append((rec["file"], rec["error"]))
                man.flush()
                os.fsync(man.fileno())  # completed output is on disk before the next batch
    summary.wall_seconds = time.perf_counter() - t0
    return summary


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m zc.ray.mel",
        description="Whisper log-mel features of a WAV corpus on Ray (sharded .npy + manifest.jsonl, resumable).",
    )
    ap.add_argument("inputs", nargs="+", metavar="INPUT", help="WAV files, directories or globs ('corpus/**/*.wav')")
    ap.add_argument("--out", required=True, help="output directory (shards and manifest.jsonl)")
    ap.add_argument("--address", default=None, help="Ray cluster address (auto, ray://head:10001); default: local")
    ap.add_argument("--n-mels", type=int, choices=(80, 128), default=80)
    ap.add_argument("--workers", type=int, default=None, help="mel actors (default: the cluster's CPUs)")
    ap.add_argument("--files-per-shard", type=int, default=64)
    ap.add_argument("--retry-failed", action="store_true", help="process files recorded as failed again")
    ap.add_argument("--no-progress", action="store_true")
    a = ap.parse_args(argv)
    s = extract(
        a.inputs,
        a.out,
        n_mels=a.n_mels,
        address=a.address,
        num_workers=a.workers,
        files_per_shard=a.files_per_shard,
        retry_failed=a.retry_failed,
        progress=not a.no_progress,
    )
    print(s)
    return 1 if s.failed else 0


if __name__ == "__main__":
    # run the importable module's main so Ray pickles zc.ray.mel.MelBatch by reference
    from zc.ray.mel import main as _main

    sys.exit(_main())
