#!/bin/sh
# Runs one libFuzzer target for FUZZ_SECONDS (default 60) over a copy of its
# seed corpus (libFuzzer writes new inputs into its first directory; the
# source tree stays untouched). Crash reproducers land in fuzz-artifacts/
# under the directory meson runs the test in.
# Usage: run_libfuzzer.sh TARGET SEED_DIR...
set -eu
target=$1
shift
name=$(basename "$target")
work=$(mktemp -d "${TMPDIR:-/tmp}/kfleet-$name.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir -p fuzz-artifacts
for d in "$@"; do
    cp -R "$d"/. "$work"/ 2>/dev/null || true
done
exec "$target" -max_total_time="${FUZZ_SECONDS:-60}" -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="fuzz-artifacts/$name-" "$work"
