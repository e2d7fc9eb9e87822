#!/usr/bin/env bash
# CI for zc.ray: fresh virtualenv, release wheel, ray[data], the Ray tests
# (local 2-CPU cluster, no dashboard, usage statistics off). Separate from
# ci.sh so the base package CI stays free of Ray (~650 MB installed).
# Usage: crates/zc-py/ci_ray.sh        VENV=/path/to/venv reuses a venv that
#        already has the zc wheel and ray installed (nothing is built then).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
python="${PYTHON:-python3}"
export RAY_USAGE_STATS_ENABLED=0
start=$(date +%s)
if [ -n "${VENV:-}" ]; then
    # shellcheck disable=SC1091
    source "$VENV/bin/activate"
else
    tmp="$(mktemp -d "${TMPDIR:-/tmp}/zc-ray-ci.XXXXXX")"
    trap 'rm -rf "$tmp"' EXIT
    "$python" -m venv "$tmp/env"
    # shellcheck disable=SC1091
    source "$tmp/env/bin/activate"
    python -m pip install -q --upgrade pip
    python -m pip install -q "maturin>=1.7,<2" "numpy>=1.23" pytest "ray[data]>=2.40"
    maturin build --release -m "$here/Cargo.toml" -o "$tmp/dist"
    python -m pip install -q "$tmp/dist"/zc-*.whl
fi
cd "$repo"
python -m pytest "$here"/tests/test_ray*.py -q -p no:cacheprovider
echo "zc-py ray ci: OK in $(( $(date +%s) - start )) s"
