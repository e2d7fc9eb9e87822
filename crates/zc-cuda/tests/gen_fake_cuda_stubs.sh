#!/usr/bin/env bash
# Regenerate fake_cuda_stubs.h: every driver entry point that cudarc's
# bindings know and fake_cuda.c does not implement becomes a stub returning
# CUDA_ERROR_NOT_SUPPORTED with a log line. Run after updating cudarc or
# implementing another entry point in fake_cuda.c.
set -euo pipefail
cd "$(dirname "$0")"
ver=$(cargo metadata --format-version 1 --manifest-path ../Cargo.toml |
    sed -n 's/.*"name":"cudarc","version":"\([^"]*\)".*/\1/p' | head -n1)
sys=$(ls -d "${CARGO_HOME:-$HOME/.cargo}"/registry/src/*/cudarc-"$ver"/src/driver/sys/mod.rs | head -n1)
all=$(grep -oE '^pub unsafe fn cu[A-Za-z0-9_]+' "$sys" | sed 's/pub unsafe fn //' | sort -u)
impl=$(grep -oE '^CUresult cu[A-Za-z0-9_]+\(' fake_cuda.c | sed -E 's/CUresult (.*)\(/\1/' | sort -u)
{
    echo "/* Generated from cudarc $ver (src/driver/sys/mod.rs) by gen_fake_cuda_stubs.sh:"
    echo " * every driver entry point it binds that fake_cuda.c does not implement. */"
    comm -23 <(echo "$all") <(echo "$impl") | sed 's/.*/FAKE_STUB(&)/'
} > fake_cuda_stubs.h
