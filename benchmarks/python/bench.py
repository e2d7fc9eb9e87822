"""zc from Python vs what Python users run today, in one process, alternating.

Usage: python benchmarks/python/bench.py [--quick] [--mel-only] [--gib 1]

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
import itertools
import os
import pathlib
import platform
import shutil
import statistics
import subprocess
import tempfile
import time

# one BLAS/OpenMP thread for numpy and torch (set before they load); pin the
# process too: taskset -c 1 python benchmarks/python/bench.py
os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402

import zc  # noqa: E402
from zc import buffers, hv16, mel  # noqa: E402


def timeit(fn, reps):
    return statistics.median(samples(fn, reps))


def samples(fn, reps):
    """Seconds of each of `reps` calls of `fn`."""
    ts = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t)
    return ts


def alternate(fns, rounds, reps):
    """Median of per-round medians, rounds alternating between the contenders."""
    res = {k: [] for k in fns}
    for _ in range(rounds):
        for k, f in fns.items():
            res[k].append(timeit(f, reps))
    return {k: statistics.median(v) for k, v in res.items()}


def alternate_stats(fns, rounds, reps):
    """(min, median) over every call, rounds alternating between the contenders.

    A contender is a callable, or `("samples", f)` where `f(reps)` returns a
    list of seconds it timed itself (an external process, for instance).
    """
    res = {k: [] for k in fns}
    for _ in range(rounds):
        for k, f in fns.items():
            if isinstance(f, tuple):
                res[k].extend(f[1](reps))
            else:
                res[k].extend(samples(f, reps))
    return {k: (min(v), statistics.median(v)) for k, v in res.items()}


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
    """A table row; a time is seconds, or (min, median) seconds."""
    rows.append((name, zc_t, peer, peer_t))


def fmt_ms(t):
    if isinstance(t, tuple):
        return " / ".join(f"{x * 1e3:.3f}" for x in t)
    return f"{t * 1e3:.3f}"


def fmt_ratio(peer_t, zc_t):
    if not peer_t:
        return "-"
    if isinstance(peer_t, tuple) and isinstance(zc_t, tuple):
        return " / ".join(f"{p / z:.2f}x" for p, z in zip(peer_t, zc_t))
    med = lambda t: t[1] if isinstance(t, tuple) else t  # noqa: E731
    return f"{med(peer_t) / med(zc_t):.2f}x"


REPO = pathlib.Path(__file__).resolve().parents[2]
RUST_PROBE = REPO / "target" / "release" / "examples" / "mel_overhead_probe"


def rust_probe_samples(path, n_mels, reps, plans):
    """Seconds of `reps` calls of `compute_into_slice_with_scratch` timed by the
    Rust probe (crates/zc-mel/examples/mel_overhead_probe.rs) on the samples in
    `path`, cycling over `plans` plans; the child inherits this process's CPU
    affinity (taskset)."""
    cmd = [str(RUST_PROBE), path, str(n_mels), str(reps), str(plans)]
    r = subprocess.run(cmd, capture_output=True, text=True, check=True)
    line = next(x for x in r.stdout.splitlines() if x.startswith("times_s:"))
    return [float(x) for x in line.split()[1:]]


def cycling(calls):
    """One callable that runs `calls` in turn, one per call."""
    it = itertools.cycle(calls)
    return lambda: next(it)()


def bench_mel(args, rounds, reps, rows, notes):
    """zc.mel against openai-whisper (torch, 1 thread) and numpy, then the
    binding's overhead against the same call timed in Rust.

    Peers take what their users pass: whisper.log_mel_spectrogram gets the
    float32 numpy array (it wraps it with torch.from_numpy, no copy) and
    builds its filterbank once (lru_cache, warmed before timing); zc gets a
    warm MelSpectrogram plan and out=; the numpy peer uses zc's filterbank
    (a constant, not timed).
    """
    rng = np.random.default_rng(0)
    audio30 = (0.1 * rng.standard_normal(480_000)).astype(np.float32)
    audio5 = np.ascontiguousarray(audio30[: 5 * 16_000])
    whisper = None
    try:
        import torch
        import whisper

        torch.set_num_threads(1)
        notes.append(f"whisper peer: openai-whisper {getattr(whisper, '__version__', '?')}, torch {torch.__version__}, "
                     f"torch threads {torch.get_num_threads()}")
    except ImportError as e:
        notes.append(f"openai-whisper/torch not importable ({e.name}): whisper peer skipped")
    for secs, n_mels, audio in ((30, 80, audio30), (30, 128, audio30), (5, 80, audio5)):
        plan = mel.MelSpectrogram(n_mels)
        out = np.empty(plan.output_shape(audio.size), np.float32)
        filters = plan.filters()
        got = plan(audio, out=out).copy()
        diff = float(np.abs(numpy_log_mel(audio, filters) - got).max())
        assert diff < 1e-3, f"numpy peer disagrees ({diff})"
        fns = {
            "zc": lambda plan=plan, audio=audio, out=out: plan(audio, out=out),
            "numpy": lambda audio=audio, filters=filters: numpy_log_mel(audio, filters),
        }
        if whisper is not None:
            ref = whisper.log_mel_spectrogram(audio, n_mels).numpy()
            wd = float(np.abs(ref - got).max()) if ref.shape == got.shape else float("inf")
            notes.append(f"whisper vs zc, {secs} s / {n_mels} mels: shapes {ref.shape} / {got.shape}, "
                         f"max |diff| {wd:.2e} ({'< 5e-5' if wd < 5e-5 else 'NOT < 5e-5'})")
            fns["whisper"] = lambda audio=audio, n_mels=n_mels: whisper.log_mel_spectrogram(audio, n_mels)
        t = alternate_stats(fns, rounds, reps)
        name = f"log_mel {secs} s, {n_mels} mels, 1 thread (zc: plan, out=)"
        if "whisper" in t:
            row(rows, name, t["zc"], "whisper.log_mel_spectrogram (torch)", t["whisper"])
        row(rows, name, t["zc"], "numpy (rfft STFT, same filterbank)", t["numpy"])
        notes.append(f"numpy peer vs zc, {secs} s / {n_mels} mels: max |diff| {diff:.2e}")

    # ---- binding overhead: the same call through Python and in Rust.
    # Where a plan's tables, scratch and output lie in memory moves the
    # kernel by a few percent, so both sides cycle over K independently
    # built plans (own scratch, own output) and compare like with like.
    k_plans = 4
    plan = mel.MelSpectrogram(80)
    out30 = np.empty((80, 3000), np.float32)
    plan(audio30, out=out30)  # warm: the plan's first call makes its scratch
    with buffers.count_allocations() as a:
        plan(audio30, out=out30)
    notes.append(f"binding heap traffic per plan(audio, out=) call: {a.allocations} Rust allocations, "
                 f"{a.bytes_allocated} bytes, {a.kernel_allocations} in the kernel")
    if not RUST_PROBE.exists():
        notes.append(f"{RUST_PROBE} not built (cargo build --release -p zc-mel --example mel_overhead_probe): "
                     "binding overhead vs Rust skipped")
        return
    d = tempfile.mkdtemp()
    # 0.1 s (10 frames): the kernel is a few microseconds, so the difference is
    # the fixed cost of a call through Python
    clips = ((30, audio30), (1, np.ascontiguousarray(audio30[:16_000])), (0.1, np.ascontiguousarray(audio30[:1_600])))
    for secs, audio in clips:
        path = os.path.join(d, f"audio{secs}.f32")
        audio.tofile(path)
        plans = [(mel.MelSpectrogram(80), np.empty((80, audio.size // 160), np.float32)) for _ in range(k_plans)]
        for p, o in plans:
            p(audio, out=o)
        outs = [np.empty((80, audio.size // 160), np.float32) for _ in range(k_plans)]
        for o in outs:
            mel.log_mel(audio, out=o)
        # short rounds, many of them: the contenders see the same load
        n = {30: 2 * reps, 1: 20 * reps}.get(secs, 100 * reps)
        n -= n % k_plans
        t = alternate_stats(
            {
                "rust": ("samples", lambda k, path=path: rust_probe_samples(path, 80, k, k_plans)),
                "plan": cycling([lambda p=p, o=o, audio=audio: p(audio, out=o) for p, o in plans]),
                "log_mel": cycling([lambda o=o, audio=audio: mel.log_mel(audio, out=o) for o in outs]),
            },
            4 * rounds,
            n,
        )
        rs = t["rust"]
        for key, label in (("plan", "MelSpectrogram(80)(audio, out=)"), ("log_mel", "log_mel(audio, out=)")):
            ps = t[key]
            row(rows, f"binding: {secs} s, 80 mels, Python {label}", ps, "Rust compute_into_slice_with_scratch", rs)
            notes.append(f"binding overhead, {secs} s, {label}: min {1e6 * (ps[0] - rs[0]):+.1f} us "
                         f"({100 * (ps[0] / rs[0] - 1):+.2f}%), median {1e6 * (ps[1] - rs[1]):+.1f} us "
                         f"({100 * (ps[1] / rs[1] - 1):+.2f}%) over {4 * rounds} x {n} calls each, "
                         f"{k_plans} plans per side (log_mel: one cached plan, {k_plans} outputs)")
    shutil.rmtree(d, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--mel-only", action="store_true", help="only the log-mel section")
    ap.add_argument("--gib", type=float, default=None, help="hv16 store size in GiB (default 1/16; --quick 1/64)")
    args = ap.parse_args()
    rounds, reps = (3, 3) if args.quick else (5, 5)
    rows, notes = [], []
    bench_mel(args, rounds, reps, rows, notes)
    if args.mel_only:
        report(rows, notes)
        return

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

    notes.append(f"binding fixed cost (upper bound): search of a 16-vector store {t_tiny * 1e6:.1f} us")
    report(rows, notes)


def report(rows, notes):
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs "
          f"(affinity {sorted(os.sched_getaffinity(0))}), load {os.getloadavg()[0]:.2f}, "
          f"Python {platform.python_version()}, numpy {np.__version__}, zc {zc.__version__}; "
          f"{datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC")
    print()
    print("| case | zc (ms) | peer | peer (ms) | zc speed-up |")
    print("|---|---:|---|---:|---:|")
    for name, zt, peer, pt in rows:
        print(f"| {name} | {fmt_ms(zt)} | {peer} | {fmt_ms(pt) if pt else 'not installed'} | {fmt_ratio(pt, zt)} |")
    print()
    print("(min / median where two figures are given; speed-up = peer / zc)")
    for s in notes:
        print("note:", s)


if __name__ == "__main__":
    main()
