#!/usr/bin/env bash
# Soundness checks that need more than `cargo test` on stable:
#
#   loom   the pool's and the phased-work protocols, model-checked (stable Rust; CI runs it too)
#   miri   Miri over zc-buffers (pool, views, arena, ledger, DLPack, bytes/Arrow
#          interop; not mmap, which Miri cannot run) and the portable and SIMD
#          kernels of zc-hv16 and zc-mel that Miri can interpret; the
#          parallel runners and zc-mel's threaded clip under Tree Borrows
#   tsan   ThreadSanitizer over the pool tests and the parallel runners (nightly, -Zbuild-std)
#   fuzz   every cargo-fuzz target in fuzz/ for N minutes each (nightly, cargo-fuzz)
#
# Usage: scripts/check.sh [--minutes N] [loom] [miri] [tsan] [fuzz]
#   (no step named: all four; --minutes: fuzzing time per target, default 10)
# A step whose toolchain or component is missing is skipped with the reason
# printed, and the script goes on; any step that runs and fails makes the
# script exit non-zero. Install what is missing with:
#   rustup toolchain install nightly --component miri rust-src
#   cargo install cargo-fuzz --locked
set -uo pipefail
cd "$(dirname "$0")/.."

minutes=10
steps=()
while [ $# -gt 0 ]; do
    case "$1" in
        --minutes) minutes="$2"; shift 2 ;;
        loom|miri|tsan|fuzz) steps+=("$1"); shift ;;
        -h|--help) sed -n '2,19p' "$0"; exit 0 ;;
        *) echo "unknown argument: $1" >&2; exit 2 ;;
    esac
done
[ ${#steps[@]} -eq 0 ] && steps=(loom miri tsan fuzz)

failed=()
summary=()
note() { summary+=("$1"); echo "== $1"; }
run() { # name, command...
    local name="$1"; shift
    local t0=$SECONDS
    if "$@"; then note "$name: ok ($((SECONDS - t0)) s)"; else note "$name: FAILED ($((SECONDS - t0)) s)"; failed+=("$name"); fi
}
have_nightly() { cargo +nightly --version >/dev/null 2>&1; }
host=$(rustc -vV | sed -n 's/^host: //p')

for step in "${steps[@]}"; do
    case "$step" in
    loom)
        run "loom (zc-buffers pool and phased-work models)" env RUSTFLAGS="--cfg loom" CARGO_TARGET_DIR=target/loom \
            cargo test -p zc-buffers --test loom_pool --test loom_phases --release
        ;;
    miri)
        if ! have_nightly; then note "miri: skipped (no nightly toolchain)"; continue; fi
        if ! cargo +nightly miri --version >/dev/null 2>&1; then
            note "miri: skipped (nightly has no miri component: rustup +nightly component add miri rust-src)"; continue
        fi
        cargo +nightly miri setup >/dev/null 2>&1
        export MIRIFLAGS="${MIRIFLAGS:--Zmiri-disable-isolation}"
        # property tests: a handful of cases each (Miri runs ~1000x slower)
        export PROPTEST_CASES="${PROPTEST_CASES:-4}"
        # zc-buffers: everything but file mappings (Miri has no mmap), with
        # AVX2 enabled so the SIMD transpose is interpreted too. The long
        # randomized and 16-thread tests are skipped (loom covers the
        # protocol; the 8-thread stress test runs with fewer rounds).
        simd="-Ctarget-feature=+avx2,+fma,+popcnt,+bmi2"
        run "miri zc-buffers (pool, views, transpose, arena, ledger, interop)" env RUSTFLAGS="$simd" \
            cargo +nightly miri test -p zc-buffers --lib --tests -- \
            --skip mmap --skip many_threads --skip pool_matches_model --skip strided_views_equal \
            --skip mutable_views_write --skip transpose_equals_naive --skip parallel:: --skip forked
        # The parallel runners hand work to rayon, whose crossbeam-epoch is
        # not Stacked-Borrows clean (crossbeam-rs/crossbeam#545, #1181; its
        # own CI uses Tree Borrows), and whose pool threads outlive `main`.
        tb="$MIRIFLAGS -Zmiri-tree-borrows -Zmiri-permissive-provenance -Zmiri-ignore-leaks"
        run "miri zc-buffers parallel (Tree Borrows)" env MIRIFLAGS="$tb" \
            cargo +nightly miri test -p zc-buffers --lib parallel
        # The SIMD kernels: Miri answers runtime feature detection from the
        # target features, so enabling AVX2/FMA/POPCNT has it interpret the
        # AVX2 kernels too (it has no AVX-512). The heaviest property test
        # (distance tiles) is skipped; the rest compare every level to scalar.
        run "miri zc-hv16 kernels (scalar, POPCNT, AVX2 vs scalar)" env RUSTFLAGS="$simd" \
            cargo +nightly miri test -p zc-hv16 --test kernels -- --skip distances_and_tiles
        # lane_fft_matches_rustfft is skipped: its reference, rustfft 6.4's
        # AVX Butterfly5, reads a Complex<f32> through `_mm_load1_pd` (an f64
        # read, which Miri reports as UB when the buffer is only 4-aligned).
        # zc-mel's own FFT is what the other tests check.
        run "miri zc-mel unit tests (kernels, filters, config)" env RUSTFLAGS="$simd" \
            cargo +nightly miri test -p zc-mel --lib -- --skip lane_fft_matches_rustfft --skip exec::
        run "miri zc-mel threaded clip (Tree Borrows)" env MIRIFLAGS="$tb" \
            cargo +nightly miri test -p zc-mel --lib exec::
        ;;
    tsan)
        if ! have_nightly; then note "tsan: skipped (no nightly toolchain)"; continue; fi
        if [ ! -d "$(rustc +nightly --print sysroot)/lib/rustlib/src/rust/library" ]; then
            note "tsan: skipped (nightly has no rust-src: rustup +nightly component add rust-src)"; continue
        fi
        run "tsan zc-buffers pool tests" env RUSTFLAGS="-Zsanitizer=thread" RUSTDOCFLAGS="-Zsanitizer=thread" \
            TSAN_OPTIONS="halt_on_error=1" CARGO_TARGET_DIR=target/tsan \
            cargo +nightly test -Zbuild-std --target "$host" -p zc-buffers --test pool
        run "tsan zc-buffers parallel runners" env RUSTFLAGS="-Zsanitizer=thread" RUSTDOCFLAGS="-Zsanitizer=thread" \
            TSAN_OPTIONS="halt_on_error=1" CARGO_TARGET_DIR=target/tsan \
            cargo +nightly test -Zbuild-std --target "$host" -p zc-buffers --lib parallel
        ;;
    fuzz)
        if ! have_nightly; then note "fuzz: skipped (no nightly toolchain)"; continue; fi
        if ! cargo fuzz --help >/dev/null 2>&1; then note "fuzz: skipped (cargo-fuzz missing: cargo install cargo-fuzz --locked)"; continue; fi
        for target in $(sed -n 's/^name = "\(.*\)"$/\1/p' fuzz/Cargo.toml | grep -v '^zc-fuzz$'); do
            mkdir -p "fuzz/corpus/$target" "fuzz/artifacts/$target"
            log="target/fuzz-$target.log"
            mkdir -p target
            t0=$SECONDS
            # new corpus entries go to a scratch dir; the committed corpus is only read
            scratch=$(mktemp -d)
            if cargo +nightly fuzz run "$target" "$scratch" "fuzz/corpus/$target" -- \
                -max_total_time=$((minutes * 60)) -rss_limit_mb=4096 -timeout=30 >"$log" 2>&1; then
                execs=$(sed -n 's/^Done \([0-9]*\) runs.*/\1/p' "$log" | tail -1)
                note "fuzz $target: ok, $((SECONDS - t0)) s, ${execs:-?} executions, no crash (log: $log)"
            else
                note "fuzz $target: CRASH or build failure after $((SECONDS - t0)) s (log: $log; inputs in fuzz/artifacts/$target)"
                failed+=("fuzz $target")
            fi
            rm -rf "$scratch"
        done
        ;;
    esac
done

echo
echo "summary:"
printf '  %s\n' "${summary[@]}"
if [ ${#failed[@]} -gt 0 ]; then
    echo "failed: ${failed[*]}"
    exit 1
fi
