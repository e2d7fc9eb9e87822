#!/usr/bin/env bash
# zc-cuda on a real NVIDIA GPU, from a machine that may have none.
#
#   scripts/gpu-check.sh build   here (Rust toolchain, C compiler): build the
#                                zc-cuda test binaries in release
#                                (cargo test -p zc-cuda --release --no-run),
#                                the upload_bench example and the simulated
#                                driver, and copy them into gpu-bundle/
#   gpu-bundle/gpu-check.sh run  there (NVIDIA driver, no Rust needed): run
#                                the GPU tests against the real driver, the
#                                H2D/D2H bandwidth table (pageable, pinned,
#                                registered in place; 1 MB, 960 KB, 64 MB),
#                                upload_bench, and PyTorch's pinned copies of
#                                the same sizes where torch is installed;
#                                everything also goes to gpu-bundle/results.txt
#   scripts/gpu-check.sh         both, here (a machine with Rust and a GPU)
#
# GPU_CHECK_PROFILE=dev builds debug binaries instead (a quick dry run of
# the bundling). gpu-bundle/ is added to .git/info/exclude. Without a GPU, `run` still runs
# the tests (against the bundled simulator) and says the figures are missing.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
mode=${1:-all}

build() {
    local root bundle
    root=$(cd "$here/.." && pwd)
    bundle="$root/gpu-bundle"
    cd "$root"
    local common
    common=$(git rev-parse --git-common-dir 2>/dev/null || true)
    if [ -n "$common" ]; then
        mkdir -p "$common/info"
        grep -qxF 'gpu-bundle/' "$common/info/exclude" 2>/dev/null || echo 'gpu-bundle/' >>"$common/info/exclude"
    fi
    rm -rf "$bundle"
    mkdir -p "$bundle/tests" "$bundle/fake-cuda"
    local profile=${GPU_CHECK_PROFILE:-release} flag=--release outdir=release
    if [ "$profile" = dev ]; then flag= outdir=debug; fi
    echo "== building zc-cuda test binaries ($profile)"
    cargo test -p zc-cuda $flag --no-run --message-format=json-render-diagnostics |
        sed -n 's/.*"executable":"\([^"]*\)".*/\1/p' >"$bundle/.executables"
    while read -r exe; do
        case "$exe" in */deps/*) ;; *) continue ;; esac # test binaries, not examples
        name=$(basename "$exe")
        cp "$exe" "$bundle/tests/${name%-*}"
    done <"$bundle/.executables"
    rm "$bundle/.executables"
    echo "== building upload_bench ($profile)"
    cargo build -p zc-cuda $flag --example upload_bench
    cp "${CARGO_TARGET_DIR:-target}/$outdir/examples/upload_bench" "$bundle/"
    echo "== building the simulated driver"
    "${CC:-cc}" -shared -fPIC -O1 -pthread -Wall -Wextra -Werror \
        -o "$bundle/fake-cuda/libcuda.so" crates/zc-cuda/tests/fake_cuda.c
    cp "$bundle/fake-cuda/libcuda.so" "$bundle/fake-cuda/libcuda.so.1"
    cp "$here/gpu-check.sh" "$bundle/gpu-check.sh"
    echo "bundle: $bundle ($(ls "$bundle/tests" | tr '\n' ' '))"
}

run() {
    local bundle=$1
    cd "$bundle"
    exec > >(tee results.txt) 2>&1
    echo "== $(date -u +%FT%TZ) on $(uname -n)"
    if command -v nvidia-smi >/dev/null; then
        nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || true
    else
        echo "no nvidia-smi: the tests below run against the simulated driver; no figures"
    fi
    # The simulator tests load the prebuilt simulator instead of compiling it.
    export ZC_FAKE_CUDA_LIB="$bundle/fake-cuda/libcuda.so"
    local failed=0
    for t in tests/*; do
        echo "== $t"
        "./$t" --test-threads=1 || failed=1
    done
    echo "== bandwidth (median of 20 synchronous copies)"
    ./tests/bandwidth --ignored --nocapture --test-threads=1 || failed=1
    echo "== upload_bench"
    ./upload_bench || failed=1
    echo "== PyTorch pinned copies of the same sizes"
    if python3 -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)' 2>/dev/null; then
        python3 - <<'PY' || failed=1
import time, torch
def median(f, iters=20):
    f(); ts = []
    for _ in range(iters):
        s = time.perf_counter(); f(); torch.cuda.synchronize(); ts.append(time.perf_counter() - s)
    return sorted(ts)[iters // 2]
print(f"{'path':<11} {'bytes':>10} {'H2D GB/s':>10} {'D2H GB/s':>10}")
for n in (1 << 20, 80 * 3000 * 4, 64 << 20):
    h = torch.full((n,), 0x5A, dtype=torch.uint8).pin_memory()
    d = torch.empty(n, dtype=torch.uint8, device="cuda")
    h2d = median(lambda: d.copy_(h, non_blocking=True))
    d2h = median(lambda: h.copy_(d, non_blocking=True))
    print(f"{'torch pin':<11} {n:>10} {n / h2d / 1e9:>10.2f} {n / d2h / 1e9:>10.2f}")
PY
    else
        echo "PyTorch with CUDA not installed: no comparison"
    fi
    echo "== results in $bundle/results.txt"
    return $failed
}

case "$mode" in
build) build ;;
run) run "$here" ;;
all)
    build
    run "$(cd "$here/.." && pwd)/gpu-bundle"
    ;;
-h | --help) sed -n '2,24p' "$0" ;;
*)
    echo "usage: $0 [build|run|all]" >&2
    exit 2
    ;;
esac
