"""zc from Python vs what Python users run today, in one process, alternating.

Usage: python benchmarks/python/bench.py [--quick] [--gib 1]

``--gib`` sizes the hv16 store (default 1/16 GiB = 262 144 vectors; ``--gib 1``
is the 4 194 304-vector table in crates/zc-py/README.md). The FAISS peer is
``IndexBinaryFlat`` with one OpenMP thread; its index build (``add``, a copy
of the vectors into the index) and zc's open (map + checksum pass) are timed,
with the process RSS after each (zc's mapped pages count as RssFile, FAISS's
copy as RssAnon).

Peers that are not importable are skipped with a message (openai-whisper +
torch, faiss). The numpy log-mel peer is written here: reflect-padded STFT
with numpy.fft.rfft, periodic Hann, power, mel projection with the same
Slaney filterbank matrix (taken from zc: the matrix is a constant, its
construction is not timed), log10, clamp to max-8, (x+4)/4.
"""

import argparse
import datetime
import os
import platform
import shutil
import statistics
import tempfile
import time

import numpy as np

import zc
from zc import hv16, mel


def timeit(fn, reps):
    ts = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t)
    return statistics.median(ts)


def alternate(fns, rounds, reps):
    """Median of per-round medians, rounds alternating between the contenders."""
    res = {k: [] for k in fns}
    for _ in range(rounds):
        for k, f in fns.items():
            res[k].append(timeit(f, reps))
    return {k: statistics.median(v) for k, v in res.items()}


def numpy_log_mel(audio, filters, n_fft=400, hop=160):
    window = (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n_fft) / n_fft)).astype(np.float32)
    x = np.pad(audio, n_fft // 2, mode="reflect")
    frames = np.lib.stride_tricks.sliding_window_view(x, n_fft)[::hop][:-1]
    spec = np.fft.rfft(frames * window, axis=1)
    power = (spec.real**2 + spec.imag**2).astype(np.float32)
    m = filters @ power.T
    log = np.log10(np.maximum(m, 1e-10))
    log = np.maximum(log, log.max() - 8.0)
    return (log + 4.0) / 4.0


def rss():
    """(VmRSS, RssAnon, RssFile) of this process in bytes (Linux), or None."""
    try:
        with open("/proc/self/status") as f:
            kv = dict(line.split(":", 1) for line in f if ":" in line)
        return tuple(int(kv[k].split()[0]) * 1024 for k in ("VmRSS", "RssAnon", "RssFile"))
    except (OSError, KeyError, ValueError):
        return None


def fmt_rss(r):
    if r is None:
        return "n/a"
    return "{:.0f} MiB (anon {:.0f}, file {:.0f})".format(*(x / 2**20 for x in r))


def row(rows, name, zc_t, peer, peer_t):
    rows.append((name, zc_t, peer, peer_t))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--gib", type=float, default=None, help="hv16 store size in GiB (default 1/16; --quick 1/64)")
    args = ap.parse_args()
    rounds, reps = (3, 3) if args.quick else (5, 5)
    rows, notes = [], []
    rng = np.random.default_rng(0)

    # ---- log-mel, 30 s, 1 thread
    audio = (0.1 * rng.standard_normal(480_000)).astype(np.float32)
    plan = mel.MelSpectrogram(80)
    out = np.empty((80, 3000), np.float32)
    filters = plan.filters()
    ref = numpy_log_mel(audio, filters)
    assert np.abs(ref - mel.log_mel(audio)).max() < 1e-3, "numpy peer disagrees"
    fns = {
        "zc": lambda: plan(audio, out=out),
        "numpy": lambda: numpy_log_mel(audio, filters),
    }
    try:
        import torch
        import whisper

        torch.set_num_threads(1)
        ta = torch.from_numpy(audio)
        fns["whisper"] = lambda: whisper.log_mel_spectrogram(ta)
    except ImportError as e:
        notes.append(f"openai-whisper/torch not installed ({e.name}): whisper peer skipped")
    t = alternate(fns, rounds, reps)
    row(rows, "log_mel 30 s, 80 mels, 1 thread (out=)", t["zc"], "numpy (rfft)", t["numpy"])
    if "whisper" in t:
        row(rows, "log_mel 30 s, 80 mels, 1 thread (out=)", t["zc"], "whisper (torch)", t["whisper"])
    # fixed per-call cost of the binding: a 1 s clip
    short = np.ascontiguousarray(audio[:16000])
    out_s = np.empty((80, 100), np.float32)
    t_short = alternate({"zc": lambda: plan(short, out=out_s)}, rounds, reps * 20)["zc"]

    # ---- hv16 search
    gib = args.gib if args.gib is not None else (1 / 64 if args.quick else 1 / 16)
    n = max(1024, int(gib * (1 << 22)))  # 2**22 vectors = 1 GiB
    d = tempfile.mkdtemp()
    path = os.path.join(d, "bench.hv")
    t0 = time.perf_counter()
    w = hv16.HvStore.create(path)
    chunk = 1 << 16
    for i in range(0, n, chunk):
        w.append(hv16.random(min(chunk, n - i), seed=i))
    del w
    build = time.perf_counter() - t0
    rss0 = rss()
    t0 = time.perf_counter()
    store = hv16.HvStore(path)
    open_t = time.perf_counter() - t0
    rss1 = rss()
    notes.append(f"hv16 store: {n} vectors ({n * 256 / 2**20:.0f} MiB), created in {build:.2f} s (page cache warm after)")
    notes.append(f"zc HvStore open (map + CRC-32C verify): {open_t:.3f} s; RSS {fmt_rss(rss0)} -> {fmt_rss(rss1)}")
    faiss = None
    try:
        import faiss

        faiss.omp_set_num_threads(1)
        t0 = time.perf_counter()
        index = faiss.IndexBinaryFlat(2048)
        index.add(store.vectors)
        notes.append(f"faiss IndexBinaryFlat add (copies the vectors): {time.perf_counter() - t0:.3f} s; RSS -> {fmt_rss(rss())}")
        q = hv16.random(8, seed=7)
        fd, fi = index.search(q, 10)
        zd, zi = store.search(q, 10)
        assert np.array_equal(fd, zd), "faiss and zc disagree on distances"
        notes.append(f"faiss and zc indices equal on 8 queries: {np.array_equal(fi, zi)} (FAISS does not promise index order among ties)")
    except ImportError:
        notes.append("faiss not installed: search peer skipped")
    for m in (1, 8, 64):
        q = hv16.random(m, seed=10**9)
        D = np.empty((m, 10), np.int32)
        I = np.empty((m, 10), np.int64)
        fns = {"zc": lambda q=q, D=D, I=I: store.search(q, 10, out=(D, I))}
        if faiss is not None:
            fns["faiss"] = lambda q=q: index.search(q, 10)
        t = alternate(fns, rounds, max(1, reps // 2))
        row(rows, f"hv16 top-10, {m} queries, {n * 256 / 2**20:.0f} MiB, 1 thread", t["zc"], "faiss IndexBinaryFlat" if faiss else "-", t.get("faiss"))
    tiny = hv16.HvStore.create(os.path.join(d, "tiny.hv"))
    tiny.append(hv16.random(16, seed=1))
    q1 = hv16.random(1, seed=2)
    D1, I1 = np.empty((1, 1), np.int32), np.empty((1, 1), np.int64)
    t_tiny = alternate({"zc": lambda: tiny.search(q1, 1, out=(D1, I1))}, rounds, reps * 50)["zc"]
    shutil.rmtree(d, ignore_errors=True)  # the store (up to --gib) stays mapped until exit

    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
          f"Python {platform.python_version()}, numpy {np.__version__}, zc {zc.__version__}; "
          f"{datetime.date.today()}")
    print()
    print("| case | zc (ms) | peer | peer (ms) | zc speed-up |")
    print("|---|---:|---|---:|---:|")
    for name, zt, peer, pt in rows:
        ratio = f"{pt / zt:.2f}x" if pt else "-"
        ps = f"{pt * 1e3:.3f}" if pt else "not installed"
        print(f"| {name} | {zt * 1e3:.3f} | {peer} | {ps} | {ratio} |")
    print()
    print(f"binding fixed cost (upper bound): log_mel of a 1 s clip with out= {t_short * 1e6:.1f} us; "
          f"search of a 16-vector store {t_tiny * 1e6:.1f} us")
    for s in notes:
        print("note:", s)


if __name__ == "__main__":
    main()
