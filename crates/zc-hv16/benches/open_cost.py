#!/usr/bin/env python3
"""Cost of verifying a 1 GiB store on open, against FAISS's index load.

Builds (once) a store of 4 194 304 random 2048-bit vectors (1 GiB of data)
with the `hvstore` example, an IndexBinaryFlat of the same vectors with
FAISS, and times, page cache warm and cold:

  * `HvStore::open` (verifies: CRC-32C over the committed data),
  * `OpenOptions::new().verify(false).open` (header + mapping only),
  * `faiss.read_index_binary` (reads the whole index into memory),

plus the throughput of CRC-32C, of the version-1 lane checksum and of a plain
read of the mapping. Cold runs evict the file with
`posix_fadvise(POSIX_FADV_DONTNEED)` after an fsync (clean pages are dropped;
no root needed) and are one open each, in a fresh process.

    python3 -m venv /tmp/venv-faiss && /tmp/venv-faiss/bin/pip install faiss-cpu numpy
    /tmp/venv-faiss/bin/python crates/zc-hv16/benches/open_cost.py [WORKDIR]

WORKDIR defaults to /tmp/zc-hv16-open-cost (needs ~2.2 GiB free). Prints a
JSON summary; run from the repository root.
"""

import json
import os
import statistics
import subprocess
import sys
import time

import faiss
import numpy as np

N = 4_194_304
DIM_BITS = 2048
REPEAT_WARM = 7
REPEAT_COLD = 3


def cargo_example(name):
    subprocess.run(
        ["cargo", "build", "--release", "-q", "-p", "zc-hv16", "--example", name],
        check=True,
    )
    target = os.environ.get("CARGO_TARGET_DIR", "target")
    return os.path.join(target, "release", "examples", name)


def evict(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


def probe(exe, store, mode, repeat):
    out = subprocess.run([exe, store, mode, str(repeat)], check=True, capture_output=True, text=True)
    return [json.loads(line) for line in out.stdout.splitlines()]


FAISS_LOAD = (
    "import faiss, sys, time\n"
    "t = time.perf_counter(); ix = faiss.read_index_binary(sys.argv[1]);"
    " print(time.perf_counter() - t, ix.ntotal)\n"
)


def faiss_load(index_path):
    # a fresh interpreter per load, as a cold open is one per process
    out = subprocess.run([sys.executable, "-c", FAISS_LOAD, index_path], check=True, capture_output=True, text=True)
    secs, ntotal = out.stdout.split()
    assert int(ntotal) == N
    return float(secs)


def stats(xs):
    return {"min": min(xs), "median": statistics.median(xs), "runs": len(xs)}


def main():
    work = sys.argv[1] if len(sys.argv) > 1 else "/tmp/zc-hv16-open-cost"
    os.makedirs(work, exist_ok=True)
    store = os.path.join(work, "s.hv16")
    index = os.path.join(work, "s.faissbin")
    hvstore = cargo_example("hvstore")
    open_probe = cargo_example("open_probe")

    if not os.path.exists(store):
        subprocess.run([hvstore, "build", store, "--random", str(N), "--seed", "1"], check=True)
    if not os.path.exists(index):
        x = np.memmap(store, dtype=np.uint8, mode="r", offset=4096, shape=(N, DIM_BITS // 8))
        ix = faiss.IndexBinaryFlat(DIM_BITS)
        ix.add(np.ascontiguousarray(x))
        faiss.write_index_binary(ix, index)
        del ix, x

    result = {
        "store_bytes": os.path.getsize(store),
        "faiss_index_bytes": os.path.getsize(index),
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "cpu": next(
            (l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?"
        ),
        "cores": os.cpu_count(),
    }

    # warm: touch everything once first
    probe(open_probe, store, "open-verify", 1)
    faiss_load(index)
    result["warm"] = {
        "hvstore_open_verify_s": stats([r["seconds"] for r in probe(open_probe, store, "open-verify", REPEAT_WARM)]),
        "hvstore_open_noverify_s": stats(
            [r["seconds"] for r in probe(open_probe, store, "open-noverify", REPEAT_WARM)]
        ),
        "faiss_read_index_binary_s": stats([faiss_load(index) for _ in range(REPEAT_WARM)]),
    }
    checks = probe(open_probe, store, "checksums", 5)
    result["throughput_gbps_max"] = {
        k: max(c[k] for c in checks) for k in ("crc32c_gbps", "v1_lanes_gbps", "xor_read_gbps")
    }

    cold = {"hvstore_open_verify_s": [], "hvstore_open_noverify_s": [], "faiss_read_index_binary_s": []}
    for _ in range(REPEAT_COLD):
        evict(store)
        cold["hvstore_open_verify_s"].append(probe(open_probe, store, "open-verify", 1)[0]["seconds"])
        evict(store)
        cold["hvstore_open_noverify_s"].append(probe(open_probe, store, "open-noverify", 1)[0]["seconds"])
        evict(index)
        cold["faiss_read_index_binary_s"].append(faiss_load(index))
    result["cold"] = {k: stats(v) for k, v in cold.items()}
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
