#!/usr/bin/env bash
# CI for the Python package: fresh virtualenv, release wheel, pytest.
# Needs only the Rust toolchain, Python >= 3.11 and pip (network to PyPI).
# Usage: crates/zc-py/ci.sh            (from anywhere in the repository)
#        PYTHON=python3.12 crates/zc-py/ci.sh
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
python="${PYTHON:-python3}"
venv="$(mktemp -d "${TMPDIR:-/tmp}/zc-py-ci.XXXXXX")"
dist="$venv/dist"
trap 'rm -rf "$venv"' EXIT

start=$(date +%s)
"$python" -m venv "$venv/env"
# shellcheck disable=SC1091
source "$venv/env/bin/activate"
python -m pip install -q --upgrade pip
python -m pip install -q "maturin>=1.7,<2" "numpy>=1.23" pytest
maturin build --release -m "$here/Cargo.toml" -o "$dist"
python -m pip install -q "$dist"/zc-*.whl
cd "$repo"
python -m pytest "$here/tests" -q
echo "zc-py ci: OK in $(( $(date +%s) - start )) s"
# ZC_CI_RAY=1: then zc.ray's suite (local cluster) in the same virtualenv.
if [ "${ZC_CI_RAY:-0}" = 1 ]; then
    python -m pip install -q "ray[data]>=2.40"
    VENV="$venv/env" "$here/ci_ray.sh"
fi
