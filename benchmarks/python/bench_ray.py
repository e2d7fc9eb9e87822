"""zc.ray figures (a benchmark, not a test): corpus log-mel throughput with 1 and 2
Ray workers vs one local process, sharded hv16 search QPS with 1 and 2 actors vs
one local HvStore, and Ray's fixed overhead vs plain local calls.

Usage: python benchmarks/python/bench_ray.py [--files 48] [--seconds 30] [--vectors 262144 | --gib 1] [--hv16-only]

``--hv16-only`` runs just the sharded-search part (64 MiB store by default: well
under 2 minutes); ``--gib 1`` sizes the store at 1 GiB (4 194 304 vectors).
Needs the zc wheel and ray[data] in the same environment. Prints a markdown table.
"""

import argparse
import os
import platform
import shutil
import statistics
import struct
import tempfile
import time

os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")

import numpy as np

from zc import hv16, mel


def write_wav(path, x, rate=16000):
    data = np.asarray(x, "<f4").tobytes()
    fmt = struct.pack("<IHHIIHH", 16, 3, 1, rate, rate * 4, 4, 32)
    with open(path, "wb") as f:
        f.write(b"RIFF" + struct.pack("<I", 36 + len(data)) + b"WAVE" + b"fmt " + fmt)
        f.write(b"data" + struct.pack("<I", len(data)) + data)


def med(f, reps):
    ts = []
    for _ in range(reps):
        t = time.perf_counter()
        f()
        ts.append(time.perf_counter() - t)
    return statistics.median(ts)


def bench_hv16(a, tmp, rows, ray, rhv):
    """Sharded search: one local HvStore vs zc.hv16.ShardSet (in process) vs ShardedSearch (Ray actors)."""
    store = os.path.join(tmp, "all.hv")
    w_ = hv16.HvStore.create(store)
    for i in range(0, a.vectors, 65536):
        w_.append(hv16.random(min(65536, a.vectors - i), seed=i))
    del w_
    single = hv16.HvStore(store)
    q = hv16.random(a.queries, seed=1)
    single.search(q, 10)
    mib = a.vectors * 256 / 2**20
    reps = 5 if a.vectors <= 1 << 20 else 3
    t = med(lambda: single.search(q, 10), reps)
    rows.append((f"hv16 top-10, {a.queries} queries, {mib:.0f} MiB, local HvStore", t, f"{a.queries / t:.0f} QPS", ""))
    for shards in (1, 2):
        man = rhv.build_shards(store, os.path.join(tmp, f"sh{shards}"), -(-a.vectors // shards))
        sset = hv16.ShardSet(man)
        for threads in sorted({1, shards}):
            d, i = sset.search(q, 10, threads=threads)
            sd, si = single.search(q, 10)
            assert np.array_equal(d, sd) and np.array_equal(i, si)
            t = med(lambda: sset.search(q, 10, threads=threads), reps)
            rows.append((f"hv16 top-10, {a.queries} queries, zc.hv16.ShardSet, {shards} shard(s), {threads} thread(s)", t, f"{a.queries / t:.0f} QPS", ""))
        del sset
        with rhv.ShardedSearch(man, num_cpus=1, batch_size=a.queries) as ss:
            d, i = ss.search(q, 10)
            assert np.array_equal(d, sd) and np.array_equal(i, si)
            t = med(lambda: ss.search(q, 10), reps)
        rows.append((f"hv16 top-10, {a.queries} queries, ShardedSearch, {shards} actor(s)", t, f"{a.queries / t:.0f} QPS", ""))
    # fixed overhead: tiny store, one query
    tiny = os.path.join(tmp, "tiny.hv")
    w_ = hv16.HvStore.create(tiny)
    w_.append(hv16.random(16, seed=3))
    del w_
    ts = hv16.HvStore(tiny)
    q1 = hv16.random(1, seed=4)
    t_l = med(lambda: ts.search(q1, 1), 200)
    man = rhv.build_shards(tiny, os.path.join(tmp, "tinysh"), 16)
    with rhv.ShardedSearch(man) as ss:
        ss.search(q1, 1)
        t_r = med(lambda: ss.search(q1, 1), 50)
    rows.append(("overhead: 1 query, 16-vector store, local search", t_l, "", ""))
    rows.append(("overhead: 1 query, 16-vector store, ShardedSearch (1 actor round trip)", t_r, "", ""))
    ray.shutdown()


def report(a, rows):
    print(f"\n{platform.machine()}, {os.cpu_count()} CPUs visible, ray cluster num_cpus={a.cpus}, "
          f"{time.strftime('%Y-%m-%d')}, corpus {a.files} x {a.seconds:g} s\n")
    print("| case | time (s) | throughput | real-time factor |")
    print("|---|---:|---:|---:|")
    for name, t, thr, rtf in rows:
        print(f"| {name} | {t:.4f} | {thr} | {rtf} |")




def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--files", type=int, default=48)
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--vectors", type=int, default=262144)
    ap.add_argument("--queries", type=int, default=64)
    ap.add_argument("--cpus", type=int, default=2)
    ap.add_argument("--gib", type=float, default=None, help="hv16 store size in GiB (overrides --vectors)")
    ap.add_argument("--hv16-only", action="store_true", help="only the sharded-search rows")
    a = ap.parse_args()
    if a.gib is not None:
        a.vectors = max(1024, int(a.gib * (1 << 22)))
    rows = []
    tmp = tempfile.mkdtemp(prefix="zc-bench-ray-")
    if a.hv16_only:
        try:
            import ray

            from zc.ray import hv16 as rhv

            ray.init(num_cpus=a.cpus, include_dashboard=False, log_to_driver=False)
            bench_hv16(a, tmp, rows, ray, rhv)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        report(a, rows)
        return
    try:
        rng = np.random.default_rng(0)
        files = []
        n = int(a.seconds * 16000)
        for i in range(a.files):
            p = os.path.join(tmp, "in", f"c{i:04d}.wav")
            os.makedirs(os.path.dirname(p), exist_ok=True)
            write_wav(p, (rng.standard_normal(n) * 0.1).astype(np.float32))
            files.append(p)
        hours = a.files * a.seconds / 3600

        # one local process, the same work (load_wav mapped, plan writes into a preallocated array)
        plan = mel.MelSpectrogram(80)

        def local():
            for p in files:
                x = mel.load_wav(p)
                out = np.empty(plan.output_shape(x.size, "frames"), np.float32)
                plan(x, layout="frames", out=out)

        local()
        t = med(local, 3)
        rows.append(("log-mel corpus, local loop, compute only (no output written), 1 process", t, f"{hours / t:.3f} h/s", f"RTF {t / (hours * 3600):.2e}"))

        import ray

        from zc.ray import hv16 as rhv
        from zc.ray import mel as rmel

        # the same worker code without Ray: MelBatch called in this process (shards written, msync'ed)
        def local_batches():
            out = os.path.join(tmp, "local")
            shutil.rmtree(out, ignore_errors=True)
            os.makedirs(out)
            b = rmel.MelBatch(80, out)
            for j in range(0, len(files), 4):
                b({"path": np.array(files[j : j + 4], dtype=object)})

        t = med(local_batches, 3)
        rows.append(("log-mel corpus, MelBatch in-process (writes shards), 1 process", t, f"{hours / t:.3f} h/s", f"RTF {t / (hours * 3600):.2e}"))
        shutil.rmtree(os.path.join(tmp, "local"))

        t0 = time.perf_counter()
        ray.init(num_cpus=a.cpus, include_dashboard=False, log_to_driver=False)
        rows.append(("ray.init (local cluster start)", time.perf_counter() - t0, "", ""))
        for w in (1, 2):
            out = os.path.join(tmp, f"out{w}")
            s = rmel.extract(files, out, num_workers=w, files_per_shard=4, progress=False)
            assert s.ok == a.files
            shutil.rmtree(out)
            s = rmel.extract(files, out, num_workers=w, files_per_shard=4, progress=False)  # second run: warm
            rows.append(
                (f"log-mel corpus, zc.ray.mel.extract, {w} worker(s)", s.wall_seconds,
                 f"{s.hours_per_second:.3f} h/s", f"RTF {s.real_time_factor:.2e}")
            )
        # fixed cost of a Ray Data job: one 1 s file
        write_wav(os.path.join(tmp, "one.wav"), np.zeros(16000, np.float32))
        one = os.path.join(tmp, "one.wav")
        t_local1 = med(lambda: mel.log_mel(mel.load_wav(one)), 20)
        t_ray1 = med(lambda: (shutil.rmtree(os.path.join(tmp, "o1"), ignore_errors=True),
                              rmel.extract([one], os.path.join(tmp, "o1"), num_workers=1, progress=False)), 3)
        rows.append(("overhead: 1 s file, local log_mel(load_wav)", t_local1, "", ""))
        rows.append(("overhead: 1 s file, extract() job (Ray Data start, actor, manifest)", t_ray1, "", ""))

        bench_hv16(a, tmp, rows, ray, rhv)
        ray.shutdown()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    report(a, rows)


if __name__ == "__main__":
    main()
