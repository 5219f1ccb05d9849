#!/usr/bin/env bash
# bench/publish — publish-model push of a large model, as ratios to baselines
# measured in the same run:
#   upload:  push's upload stage / raw parallel s3io PUTs of the same bytes
#   hashing: push's chunk hashing / (openssl speed -evp sha256, one core, × threads)
#   bench/publish/run.sh [BUILD_DIR]    (needs ops/devstack up; PUBLISH_MB, default 1024)
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build=$(cd "${1:-$repo/build}" && pwd)
cd "$repo"
eval "$(ops/devstack env)"
mb=${PUBLISH_MB:-1024}
tmp=$(mktemp -d /tmp/kfleet-bench-publish-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
sfx=$$-$(date +%s)
# width w, 2 square layers of f32: 2·w²·4 bytes ≈ mb MiB
w=$(awk -v mb="$mb" 'BEGIN { printf "%d", sqrt(mb * 1048576 / 8) }')
"$build/ops/kfleet-make-model" -o "$tmp/m.safetensors" --input "$w" --layers "$w,$w" \
    --seed "$$" 2>/dev/null # fresh bytes: nothing deduplicated
"$build/publisher/publish-model" keygen -o "$tmp/k" >/dev/null
bytes=$(stat -c %s "$tmp/m.safetensors")

# baseline 1: raw parallel PUTs of the same bytes in the same chunk size
raw=$("$build/bench/publish/bench-s3-put" "$tmp/m.safetensors" 67108864 8)
# the push (a fresh model name on the devstack control topic)
out=$("$build/publisher/publish-model" push -b "$KFLEET_BROKERS" \
    --model "bench-$sfx" --version v1 --weights "$tmp/m.safetensors" --key "$tmp/k.key" 2>&1 >/dev/null || true)
# baseline 2: openssl's sha256 on one core, 16 KiB blocks
ossl=$(openssl speed -evp sha256 -bytes 16384 -seconds 2 2>/dev/null | awk '/^sha256/ { print $2 }' | tr -d k)
cores=$(nproc)
up_ms=$(sed -nE 's/.*upload ([0-9]+) ms.*/\1/p' <<<"$out")
hash_ms=$(sed -nE 's/.*hash ([0-9]+) ms.*/\1/p' <<<"$out")
raw_ms=$(sed -nE 's/.*in ([0-9]+) ms.*/\1/p' <<<"$raw")
echo "$out"
echo "raw: $raw"
awk -v b="$bytes" -v up="$up_ms" -v raw="$raw_ms" -v h="$hash_ms" -v o="$ossl" -v c="$cores" 'BEGIN {
    mib = b / 1048576
    printf "\n| %.0f MiB model | MiB/s | baseline MiB/s | ratio |\n|---|---|---|---|\n", mib
    printf "| upload (push) vs raw parallel s3io PUTs | %.0f | %.0f | %.2f |\n", mib / (up / 1000), mib / (raw / 1000), raw / up
    hb = o * 1000 / 1048576 * c
    printf "| chunk hashing vs openssl sha256 x %d cores | %.0f | %.0f | %.2f |\n", c, mib / (h / 1000), hb, (mib / (h / 1000)) / hb
}'
