"""zc.volterra from Python vs py-volterra and vs the same cell in Rust.

Usage (py-volterra is not on PyPI: put its source tree on PYTHONPATH; build
the Rust probe first):

    cargo build --release -p zc-volterra --example grid_probe
    NUMBA_NUM_THREADS=1 PYTHONPATH=/path/to/py-volterra taskset -c 1 \\
        python benchmarks/python/bench_volterra.py [--rounds 3] [--quick]

For each cell (N, orders, diagonal or full H2, dtype; block 512, 10 s of
48 kHz audio) three contenders alternate round by round in this one process:
``zc.volterra.Processor(kernel, 512, dtype).process(x, out=y)`` (the
binding: the whole signal in one call, blocks of 512 inside, Auto engine),
the Rust probe ``grid_probe`` on the same cell (Auto; a subprocess, its own
best of ``--reps``), and py-volterra's fastest engine that computes the
whole kernel (engines are screened and checked against a numpy reference by
the helpers of crates/zc-volterra/benches/py_volterra_peer.py, which this
script imports). Reports MS/s (best over rounds) and the ratios
zc-Python / py-volterra and zc-Python / zc-Rust.
"""

import argparse
import contextlib
import importlib.util
import io
import os
import pathlib
import platform
import time

import numpy as np

REPO = pathlib.Path(__file__).resolve().parents[2]
PEER = REPO / "crates" / "zc-volterra" / "benches" / "py_volterra_peer.py"
PROBE = REPO / "target" / "release" / "examples" / "grid_probe"


def load_peer():
    spec = importlib.util.spec_from_file_location("py_volterra_peer", PEER)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="N = 64, orders 1..3 only")
    args = ap.parse_args()
    os.environ.setdefault("NUMBA_NUM_THREADS", "1")

    from zc import volterra as zv

    peer = load_peer()
    try:
        from volterra import VolterraProcessorFull
    except ImportError:
        VolterraProcessorFull = None
        print("py-volterra not importable (not on PyPI; put its source on PYTHONPATH): its rows are skipped")
    have_probe = PROBE.exists()
    if not have_probe:
        print(f"{PROBE} missing (cargo build --release -p zc-volterra --example grid_probe): Rust rows skipped")

    block, length = 512, 480_000
    x64 = peer.signal(length)
    cells = [(64, 3, False), (64, 3, True)]
    if not args.quick:
        cells += [(64, 5, False), (256, 3, False), (512, 3, False)]
    rows = []
    for n, orders, full in cells:
        diag, h2 = peer.grid_kernel_arrays(n, orders, full)
        kw = {f"h{p}": np.ascontiguousarray(h) for p, h in enumerate(diag, start=1) if not (p == 2 and full)}
        if h2 is not None:
            kw["h2"] = np.ascontiguousarray(h2)
        kernel = zv.Kernel(**kw)
        py_proc = None
        if VolterraProcessorFull is not None:
            k = peer.py_kernel(n, orders, full)
            best = None
            for name, make in peer.py_engines(k).items():
                try:
                    with contextlib.redirect_stdout(io.StringIO()):
                        proc = VolterraProcessorFull(k, engine=make())
                        peer.time_py(proc, x64[:2048], block)  # warm-up (JIT)
                        t, y = peer.time_py(proc, x64[:24_576], block)
                    want = peer.reference(x64[:2048], n, orders, full)
                    if not np.allclose(y[:2048], want, rtol=1e-6, atol=1e-9 * np.abs(want).max()):
                        continue  # an engine that skips part of the kernel
                    if best is None or t < best[0]:
                        best = (t, name, proc)
                except Exception:  # noqa: BLE001 - an engine that cannot run this kernel
                    continue
            if best is not None:
                py_proc = best[1:]
        for dtype in ("float64", "float32"):
            x = x64.astype(dtype)
            y = np.empty_like(x)
            zp = zv.Processor(kernel, block, dtype)
            zp.process(x, out=y)  # warm
            if dtype == "float64":
                want = peer.reference(x64[:4096], n, orders, full)
                assert np.allclose(y[:4096], want, rtol=1e-9, atol=1e-12 * np.abs(want).max()), "zc disagrees with numpy"
            best = {"zc-python": float("inf"), "py-volterra": float("inf"), "zc-rust": float("inf")}
            for _ in range(args.rounds):
                zp.reset()
                t = time.perf_counter()
                zp.process(x, out=y)
                best["zc-python"] = min(best["zc-python"], time.perf_counter() - t)
                if py_proc is not None and dtype == "float64":  # py-volterra computes in float64 only
                    with contextlib.redirect_stdout(io.StringIO()):
                        t, _ = peer.time_py(py_proc[1], x64, block)
                    best["py-volterra"] = min(best["py-volterra"], t)
                if have_probe:
                    r = peer.probe(str(PROBE), "f64" if dtype == "float64" else "f32", n, orders, full, "auto",
                                   block, length, args.reps)
                    best["zc-rust"] = min(best["zc-rust"], length / (r["ms_s_best"] * 1e6))
            if best["py-volterra"] == float("inf") and py_proc is not None:
                best["py-volterra"] = rows[-1][4] if rows and rows[-1][:3] == (n, orders, full) else float("inf")
            rows.append((n, orders, full, dtype, best["py-volterra"], best["zc-python"], best["zc-rust"],
                         py_proc[0] if py_proc else "-"))
            print(".", end="", flush=True)
    print()
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs (affinity {sorted(os.sched_getaffinity(0))}), "
          f"load {os.getloadavg()[0]:.2f}; block {block}, {length} samples, best of {args.rounds} rounds")
    print()
    print("| cell | dtype | zc Python (MS/s) | zc Rust (MS/s) | py-volterra best (MS/s, engine) | zc Python / py-volterra | zc Python / Rust |")
    print("|---|---|---:|---:|---:|---:|---:|")
    ms = lambda t: length / t / 1e6 if t != float("inf") else float("nan")  # noqa: E731
    for n, orders, full, dtype, tp, tz, tr, eng in rows:
        cell = f"N={n}, orders 1..{orders}" + (", full H2" if full else "")
        peer_col = f"{ms(tp):.2f} ({eng}, float64)" if tp != float("inf") else "not installed"
        ratio = f"{tp / tz:.1f}x" if tp != float("inf") else "-"
        rust = f"{ms(tr):.2f}" if tr != float("inf") else "-"
        rr = f"{tr / tz:.3f}" if tr != float("inf") else "-"
        print(f"| {cell} | {dtype} | {ms(tz):.2f} | {rust} | {peer_col} | {ratio} | {rr} |")


if __name__ == "__main__":
    main()
