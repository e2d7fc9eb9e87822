"""numpy's transpose of the (80, 3000) float32 mel, the peer of zc's
`transpose_into` (run next to `cargo run --release -p zc-buffers --example
transpose_probe`, pinned to the same core: `taskset -c 1 python3 ...`).
Min of 2000 runs after 50 warm-ups, like the probe."""
import time

import numpy as np

a = np.arange(80 * 3000, dtype=np.float32).reshape(80, 3000)
out = np.empty((3000, 80), np.float32)


def best(f, n=2000):
    for _ in range(50):
        f()
    b = float("inf")
    for _ in range(n):
        t = time.perf_counter()
        f()
        b = min(b, time.perf_counter() - t)
    return b


t1 = best(lambda: np.ascontiguousarray(a.T))
t2 = best(lambda: np.copyto(out, a.T))
t3 = best(lambda: a.copy())
print(f"numpy {np.__version__}: ascontiguousarray(a.T) {t1 * 1e6:.1f} us; "
      f"copyto(out, a.T) {t2 * 1e6:.1f} us; a.copy() (memcpy) {t3 * 1e6:.1f} us")
