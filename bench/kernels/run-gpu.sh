#!/usr/bin/env bash
# bench/kernels/run-gpu.sh — everything the kernels need checked on a lent GPU machine, in one
# call (docs/kernels.md, "On a GPU machine"), writing full results under $OUT and a short table last:
#   1. the device and toolkit                                   → $OUT/device.txt
#   2. cuBLAS into the toolkit if it lacks it (ops/install-cublas.sh links the Python one)
#   3. kernels-only test build, warnings as errors: -Dservices=disabled -Dcuda=enabled
#      -Dtest_hooks=true (the gpu tests and the GPU benchmark drive kcu_testing.h)
#                                                               → $OUT/build.log
#   4. meson test --suite unit --suite gpu --suite headers       → $OUT/test.log, testlog.txt
#   5. compute-sanitizer memcheck over both gpu tests, racecheck over the kernels' test
#                                                               → $OUT/sanitizer.log
#   6. bench_kernels --gpu (the full grid)                      → $OUT/bench.md
#
# usage: bash bench/kernels/run-gpu.sh [--seed N] [--no-sanitize] [--no-bench] [--quick]
# Each step has its own time limit so that the whole fits one 10-minute device call; a step
# that fails is reported and the later ones still run. Exit status: 0 when every step passed.
set -uo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$repo"
out=${OUT:-$repo/build-gpu-results} # build*/ is ignored
mkdir -p "$out"
build=${BUILD_DIR:-build-gpu}

seed="" sanitize=1 bench=1 quick=""
while (($#)); do
    case $1 in
    --seed) seed=$2; shift ;;
    --no-sanitize) sanitize=0 ;;
    --no-bench) bench=0 ;;
    --quick) quick=--quick ;;
    *) echo "usage: $0 [--seed N] [--no-sanitize] [--no-bench] [--quick]" >&2; exit 2 ;;
    esac
    shift
done
[[ -n $seed ]] || seed=$(( (RANDOM << 30) ^ (RANDOM << 15) ^ RANDOM ))

status=0
summary=()
step() { printf '\n=== %s\n' "$*"; }
result() { # name rc
    if [[ $2 -eq 0 ]]; then summary+=("ok      $1"); else summary+=("FAILED  $1 (exit $2)"); status=1; fi
}

# meson and ninja come as pip packages there; the torch venv may not be on PATH.
for d in /opt/torch/.venv/bin "$HOME/.local/bin"; do
    [[ -d $d ]] && PATH=$PATH:$d
done
export PATH

step "device"
{
    date -u
    nvidia-smi || true
    nvcc --version || /usr/local/cuda/bin/nvcc --version || true
    gcc --version | head -n1
    meson --version
} >"$out/device.txt" 2>&1
cat "$out/device.txt"

step "cuBLAS"
bash ops/install-cublas.sh "$repo/.deps" 2>&1 | tee -a "$out/device.txt"

step "build (kernels only, --werror)"
rm -rf "$build"
timeout 300 bash -c "meson setup '$build' --werror -Dservices=disabled -Dcuda=enabled -Dtest_hooks=true &&
    meson compile -C '$build'" >"$out/build.log" 2>&1
rc=$?
tail -n 20 "$out/build.log"
result "build" $rc
if [[ $rc -ne 0 ]]; then
    printf '%s\n' "${summary[@]}"
    exit 1
fi

step "tests: unit, gpu, headers (seed $seed)"
timeout 240 meson test -C "$build" --suite unit --suite gpu --suite headers --print-errorlogs \
    --test-args "--seed $seed" >"$out/test.log" 2>&1
rc=$?
grep -E '^ *[0-9]+/[0-9]+ |^(Ok|Fail|Skipped|Timeout):' "$out/test.log"
# A skipped gpu test on a GPU machine is a failure: the device was not usable.
if grep -qE 'gpu / .* SKIP' "$out/test.log"; then
    echo "gpu tests skipped on a GPU machine" >&2
    rc=1
fi
result "tests (seed $seed)" $rc
# Every test's own output (errors per case, the run path's allocation counts).
cp "$build/meson-logs/testlog.txt" "$out/testlog.txt" 2>/dev/null
grep -E '^# (cuda backend|run path)' "$out/testlog.txt" || true

if ((sanitize)); then
    cs=$(command -v compute-sanitizer || ls /usr/local/cuda/bin/compute-sanitizer \
        /usr/local/cuda/compute-sanitizer/compute-sanitizer /opt/nvidia/*/compute-sanitizer 2>/dev/null |
        head -n1)
    step "compute-sanitizer (${cs:-not found})"
    if [[ -z $cs ]]; then
        result "compute-sanitizer (not found)" 1
    else
        : >"$out/sanitizer.log"
        for t in kcu_ops kcu_backend; do
            timeout 150 "$cs" --tool memcheck --error-exitcode 3 \
                "$build/tests/kernels/test_$t" --seed "$seed" >>"$out/sanitizer.log" 2>&1
            rc=$?
            tail -n 3 "$out/sanitizer.log"
            result "memcheck test_$t" $rc
        done
        timeout 120 "$cs" --tool racecheck --error-exitcode 3 \
            "$build/tests/kernels/test_kcu_ops" --seed "$seed" >>"$out/sanitizer.log" 2>&1
        rc=$?
        tail -n 3 "$out/sanitizer.log"
        result "racecheck test_kcu_ops" $rc
    fi
fi

if ((bench)); then
    step "benchmark"
    timeout 240 "$build/bench/kernels/bench_kernels" --gpu $quick --out "$out/bench.md" \
        >"$out/bench.log" 2>&1
    rc=$?
    result "bench_kernels" $rc
fi

step "summary"
printf '%s\n' "${summary[@]}"
[[ -f $out/bench.md ]] && cat "$out/bench.md"
exit $status
