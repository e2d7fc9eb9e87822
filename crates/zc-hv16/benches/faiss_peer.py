#!/usr/bin/env python3
"""Exact top-10 for 64 queries over a 1 GiB store: zc against FAISS
`IndexBinaryFlat`, alternated in one run, one thread each (issue 17, row 1).

FAISS gets an `IndexBinaryFlat(2048)` holding the same vectors (copied into
its memory from the store's mapping) and `omp_set_num_threads(1)`; zc runs
the `batch_probe` example in a child process (one pass per round, so the two
alternate). Run the script under `taskset -c 1` so both use the same core.
The queries come from the probe (`--queries-out`); before timing, FAISS's
top-10 distances for all 64 queries are checked equal to zc's (indices may
differ among equal distances: zc returns the lowest index first, FAISS's
heap does not promise an order among ties).

    python3 -m venv /work/venv-hvperf && /work/venv-hvperf/bin/pip install faiss-cpu numpy
    cargo build --release -p zc-hv16 --example batch_probe --example hvstore
    target/release/examples/hvstore build /tmp/s.hv16 --random 4194304 --seed 1 --no-fsync
    taskset -c 1 /work/venv-hvperf/bin/python crates/zc-hv16/benches/faiss_peer.py /tmp/s.hv16 \
        [--rounds 5] [--probe target/release/examples/batch_probe] [--other OLD_PROBE]

`--other` alternates a second probe binary too (e.g. one built from an older
commit) so a before/after comparison sees the same load. Prints JSON: per
contender the minimum and median seconds of the 64-query search, the read
of the same data measured by the probe in the same rounds, and the ratios.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import faiss
import numpy as np

HEADER = 4096
BYTES = 256


def probe(binary, store, only, extra=()):
    out = subprocess.run(
        [binary, store, "--passes", "1", "--only", only, *extra],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return json.loads(out)


def summary(times):
    return {"min_s": min(times), "median_s": statistics.median(times), "runs": len(times)}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("store")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--probe", default="target/release/examples/batch_probe")
    ap.add_argument("--other", help="a second probe binary to alternate with")
    args = ap.parse_args()

    faiss.omp_set_num_threads(1)
    size = os.path.getsize(args.store)
    n = (size - HEADER) // BYTES
    data = np.memmap(args.store, dtype=np.uint8, mode="r", offset=HEADER, shape=(n, BYTES))
    t = time.perf_counter()
    index = faiss.IndexBinaryFlat(BYTES * 8)
    index.add(np.ascontiguousarray(data))
    load_s = time.perf_counter() - t

    with tempfile.TemporaryDirectory() as tmp:
        qpath = os.path.join(tmp, "queries.bin")
        first = probe(args.probe, args.store, "top10-64q", ["--queries-out", qpath, "--hits"])
        queries = np.fromfile(qpath, dtype=np.uint8).reshape(-1, BYTES)
    if first["vectors"] != n:
        sys.exit(f"probe saw {first['vectors']} vectors, the file holds {n}")
    dist, idx = index.search(queries, 10)
    for q, hits in enumerate(first["hits64"]):
        zc_d = [d for d, _ in hits]
        if zc_d != [int(x) for x in dist[q]]:
            sys.exit(f"query {q}: zc distances {zc_d} != faiss {dist[q].tolist()}")
    same_index = sum(
        int(hits[j][1]) == int(idx[q][j]) for q, hits in enumerate(first["hits64"]) for j in range(10)
    )

    contenders = {"zc": args.probe}
    if args.other:
        contenders["other"] = args.other
    times = {"faiss": []}
    reads = []
    for name in contenders:
        times[name] = []
        times[name + "_tile8"] = []
    for _ in range(args.rounds):
        t = time.perf_counter()
        index.search(queries, 10)
        times["faiss"].append(time.perf_counter() - t)
        for name, binary in contenders.items():
            r = probe(binary, args.store, "read1,top10-8q,top10-64q")
            times[name].append(r["top10-64q"]["min_s"])
            times[name + "_tile8"].append(r["top10-8q"]["min_s"])
            reads.append(r["read1"]["min_s"])

    res = {
        "vectors": n,
        "faiss_version": faiss.__version__,
        "faiss_add_s": load_s,
        "distances_equal_to_faiss": True,
        "same_index_as_faiss_of_640": same_index,
        "read1_s": summary(reads),
        "top10_64q": {k: summary(v) for k, v in times.items() if not k.endswith("_tile8")},
        "top10_8q": {k[: -len("_tile8")]: summary(v) for k, v in times.items() if k.endswith("_tile8")},
    }
    f_min = min(times["faiss"])
    f_med = statistics.median(times["faiss"])
    res["faiss_over"] = {
        name: {"min": f_min / min(times[name]), "median": f_med / statistics.median(times[name])}
        for name in contenders
    }
    print(json.dumps(res, indent=1))


if __name__ == "__main__":
    main()
