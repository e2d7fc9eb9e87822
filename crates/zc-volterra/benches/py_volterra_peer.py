"""zc-volterra vs py-volterra on the issue-17 grid, one thread, alternating.

Usage (py-volterra is not on PyPI: put its source tree on PYTHONPATH):

    NUMBA_NUM_THREADS=1 PYTHONPATH=/path/to/py-volterra taskset -c 1 \
        python crates/zc-volterra/benches/py_volterra_peer.py \
        --probe target/release/examples/grid_probe [--rounds 3] [--quick]

Grid: N in {64, 256, 512} x orders {1..3, 1..5} x {f32, f64}, plus orders
1..3 with a full (N x N) H2 at N = 64; block 512, 10 s of 48 kHz audio.
py-volterra side: every engine it ships (NumPy, Numba, vectorised, FFT,
FFT+Numba) through its VolterraProcessorFull(kernel, engine=...).process(x,
512), screened on 24 576 samples; those within 1.5x of the fastest run the
full signal and the best of them per cell is the peer (an engine that fails
on a cell is skipped). py-volterra computes in float64 only, so the f32 cells compare zc
f32 with py-volterra f64. zc side: the Rust probe (examples/grid_probe.rs),
every engine and Auto, in a subprocess, alternated with the py-volterra
timings round by round. The same kernel formula and signal on both sides
(checked: outputs agree to 1e-9 relative in f64).

Reports MS/s (best and median over rounds) and ratio = zc best engine /
py-volterra best engine (best-vs-best and median-vs-median).
"""

import argparse
import contextlib
import io
import json
import os
import statistics
import subprocess
import time

import numpy as np


def grid_kernel_arrays(n, orders, full_h2):
    i = np.arange(n, dtype=np.float64)

    def taps(c, r):
        return c * np.sign(r) ** i * np.abs(r) ** (i / n * 8.0)

    diag = [taps(1.0, 0.5), taps(0.1, -0.5), taps(0.01, 0.4), taps(0.001, -0.3), taps(5e-4, 0.6)][:orders]
    h2 = None
    if full_h2:
        h2 = full_h2_matrix(n)
    elif orders >= 2:
        h2 = diag[1]
    return diag, h2


def full_h2_matrix(n):
    """Full-rank symmetric H2 (the formula of grid_probe.rs): decaying
    envelope times a deterministic pseudo-random symmetric sign pattern."""
    i = np.arange(n, dtype=np.float64)
    d = 0.5 ** (8.0 * i / n)
    m = np.empty((n, n))
    for a in range(n):
        for b in range(n):
            lo, hi = min(a, b), max(a, b)
            h = (lo * 2654435761 + hi * 40503 + 12345) & 0xFFFFFFFF
            h ^= h >> 13
            h = (h * 0x5BD1E995) & 0xFFFFFFFF
            h ^= h >> 15
            m[a, b] = (h / 0xFFFFFFFF) * 2.0 - 1.0
    return 0.05 * np.outer(d, d) * m


def reference(x, n, orders, full_h2):
    """The model computed directly (numpy, zero history): the check that a
    py-volterra engine computes the whole kernel (its FFT engines skip a
    full H2 silently, so they are excluded from full-H2 cells)."""
    diag, h2 = grid_kernel_arrays(n, orders, full_h2)
    y = np.zeros(len(x))
    for p, h in enumerate(diag, start=1):
        if p == 2 and full_h2:
            continue
        y += np.convolve(x**p, h)[: len(x)]
    if full_h2:
        xp = np.concatenate([np.zeros(n - 1), x])
        for t in range(len(x)):
            w = xp[t : t + n][::-1]  # x[t], x[t-1], ...
            y[t] += w @ h2 @ w
    return y


def signal(length):
    s = 0x2545F4914F6CDD1D
    mask = (1 << 64) - 1
    out = np.empty(length)
    for k in range(length):
        s ^= (s << 13) & mask
        s ^= s >> 7
        s ^= (s << 17) & mask
        noise = (s >> 11) / float(1 << 53) - 0.5
        out[k] = 0.4 * np.sin(k * 0.0654) + 0.1 * noise
    return out


def py_engines(kernel):
    import volterra.engines_diagonal as ed
    import volterra.engines_fft as ef
    import volterra.engines_optimized as eo
    import volterra.engines_vectorized as ev

    makers = {
        "numpy": lambda: ed.DiagonalNumpyEngine(),
        "vectorized": lambda: ev.VectorizedEngine(max_block_size=4096),
        "optimized": lambda: eo.OptimizedDiagonalEngine(),
        "fft": lambda: ef.FFTOptimizedEngine(kernel, fft_threshold=128, max_block_size=4096),
    }
    if getattr(ed, "NUMBA_AVAILABLE", False):
        makers["numba"] = lambda: ed.DiagonalNumbaEngine()
        makers["optimized_numba"] = lambda: eo.OptimizedNumbaEngine()
        makers["fft_numba"] = lambda: ef.FFTOptimizedNumbaEngine(kernel, fft_threshold=128, max_block_size=4096)
    return makers


def py_kernel(n, orders, full_h2):
    from volterra import VolterraKernelFull

    diag, h2 = grid_kernel_arrays(n, orders, full_h2)
    kw = {"h1": diag[0]}
    if h2 is not None:
        kw["h2"] = h2
        kw["h2_is_diagonal"] = not full_h2
    for p, name in [(3, "h3_diagonal"), (4, "h4_diagonal"), (5, "h5_diagonal")]:
        if orders >= p:
            kw[name] = diag[p - 1]
    return VolterraKernelFull(**kw)


def time_py(proc, x, block):
    t = time.perf_counter()
    y = proc.process(x, block_size=block)
    return time.perf_counter() - t, y


def probe(path, dtype, n, orders, full, engine, block, length, reps):
    cmd = [path, "--dtype", dtype, "--n", str(n), "--orders", str(orders), "--engine", engine,
           "--block", str(block), "--len", str(length), "--reps", str(reps)]
    if full:
        cmd.append("--full-h2")
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--probe", required=True)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="N = 64 cells only")
    ap.add_argument("--full-only", action="store_true", help="only the full-H2 cells")
    ap.add_argument("--json", help="write the raw results here")
    args = ap.parse_args()

    from volterra import VolterraProcessorFull

    block, length = 512, 480_000
    x = signal(length)
    cells = []
    for n in ([] if args.full_only else [64] if args.quick else [64, 256, 512]):
        for orders in (3, 5):
            for dtype in ("f64", "f32"):
                cells.append((n, orders, False, dtype))
    for dtype in ("f64", "f32"):
        cells.append((64, 3, True, dtype))

    py_cache = {}
    results = []
    for n, orders, full, dtype in cells:
        key = (n, orders, full)
        if key not in py_cache:
            k = py_kernel(n, orders, full)
            screen = {}
            for name, make in py_engines(k).items():
                try:
                    with contextlib.redirect_stdout(io.StringIO()):
                        proc = VolterraProcessorFull(k, engine=make())
                        time_py(proc, x[:2048], block)  # warm-up (JIT)
                        t, y = time_py(proc, x[:24_576], block)  # screening run
                    want = reference(x[:2048], n, orders, full)
                    if not np.allclose(y[:2048], want, rtol=1e-6, atol=1e-9 * np.abs(want).max()):
                        print(f"  py-volterra {name} excluded for N={n} o1-{orders} full={full}: wrong output")
                        continue
                    screen[name] = (t, proc)
                except Exception as e:  # an engine that cannot run this kernel
                    print(f"  py-volterra {name} skipped for N={n} o1-{orders} full={full}: {type(e).__name__}")
            # the full signal only for engines within 1.5x of the fastest on the screen
            fastest = min(t for t, _ in screen.values())
            procs = {name: proc for name, (t, proc) in screen.items() if t <= 1.5 * fastest}
            print(f"  py-volterra screen N={n} o1-{orders} full={full}: "
                  + ", ".join(f"{nm} {24_576 / t / 1e6:.2f}" for nm, (t, _) in sorted(screen.items())), flush=True)
            py_cache[key] = {"procs": procs, "times": {name: [] for name in procs}}
        zc_runs = {e: [] for e in ("auto", "direct", "fft", "partitioned")}
        for _ in range(args.rounds):
            for name, proc in py_cache[key]["procs"].items():
                ts = []
                for _ in range(args.reps):
                    with contextlib.redirect_stdout(io.StringIO()):
                        t, _ = time_py(proc, x, block)
                    ts.append(t)
                py_cache[key]["times"][name].append(min(ts))
            for e in zc_runs:
                zc_runs[e].append(probe(args.probe, dtype, n, orders, full, e, block, length, args.reps))
        py_best = {name: length / min(ts) / 1e6 for name, ts in py_cache[key]["times"].items() if ts}
        py_med = {name: length / statistics.median(ts) / 1e6 for name, ts in py_cache[key]["times"].items() if ts}
        zc_best = {e: max(r["ms_s_best"] for r in rs) for e, rs in zc_runs.items()}
        zc_med = {e: statistics.median(r["ms_s_median"] for r in rs) for e, rs in zc_runs.items()}
        auto_engine = zc_runs["auto"][0]["engine"]
        pb, pm = max(py_best.values()), max(py_med.values())
        engines = ("direct", "fft", "partitioned")
        zb, zm = max(zc_best[e] for e in engines), max(zc_med[e] for e in engines)
        res = {
            "n": n, "orders": orders, "full_h2": full, "dtype": dtype,
            "py_best_engine": max(py_best, key=py_best.get), "py_best": pb, "py_median": pm,
            "zc_best": zc_best, "zc_median": zc_med, "auto_picks": auto_engine,
            "ratio_best": zb / pb, "ratio_median": zm / pm,
            "auto_vs_best_engine_median": zc_med["auto"] / zm,
        }
        results.append(res)
        print(
            f"N={n:4} o1-{orders} {'fullH2' if full else 'diag  '} {dtype}: "
            f"py {res['py_best_engine']} {pb:7.2f} (med {pm:7.2f}) | zc D {zc_best['direct']:7.2f} "
            f"F {zc_best['fft']:7.2f} P {zc_best['partitioned']:7.2f} Auto({auto_engine}) {zc_best['auto']:7.2f} "
            f"| ratio {res['ratio_best']:5.1f}x (medians {res['ratio_median']:5.1f}x) "
            f"| Auto/best median {res['auto_vs_best_engine_median']:.2f}",
            flush=True,
        )
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"load": os.getloadavg(), "results": results}, f, indent=1)


if __name__ == "__main__":
    main()
