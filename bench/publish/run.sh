#!/usr/bin/env bash
# bench/publish — publish-model push of a large model, as ratios to baselines
# measured in the same run:
#   upload:  push's upload stage (HEADs + PUTs) / raw parallel s3io PUTs of the
#            same bytes, same chunk size, same requests in flight (bench-s3-put)
#   hashing: push's chunk hashing / (openssl speed -evp sha256, one core, × the
#            threads that hash: min(hash threads, chunks))
#   bench/publish/run.sh [BUILD_DIR]    (needs ops/devstack up)
# PUBLISH_MB (default 1024), PUBLISH_CHUNK (bytes, default 67108864 = chunk.size),
# PUBLISH_PARALLEL (default 8 = upload.parallel), PUBLISH_HASH_THREADS (default
# nproc = hash.threads=0). They are passed to the push explicitly, so a KFLEET_*
# variable in the environment cannot make the push differ from its baselines.
# The pushed version (bench-<pid>-<time>/v1) stays on the devstack: its chunks
# are referenced by an announced version.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build=$(cd "${1:-$repo/build}" && pwd)
cd "$repo"
eval "$(ops/devstack env)"
mb=${PUBLISH_MB:-1024}
chunk=${PUBLISH_CHUNK:-67108864}
par=${PUBLISH_PARALLEL:-8}
threads=${PUBLISH_HASH_THREADS:-$(nproc)}
tmp=$(mktemp -d /tmp/kfleet-bench-publish-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
sfx=$$-$(date +%s)
# width w, 2 square layers of f32: 2·w²·4 bytes ≈ mb MiB
w=$(awk -v mb="$mb" 'BEGIN { printf "%d", sqrt(mb * 1048576 / 8) }')
"$build/ops/kfleet-make-model" -o "$tmp/m.safetensors" --input "$w" --layers "$w,$w" \
    --seed "$$" 2>/dev/null # fresh bytes: nothing deduplicated
"$build/publisher/publish-model" keygen -o "$tmp/k" >/dev/null

# baseline 1: raw parallel PUTs of the same bytes in the same chunk size
raw=$("$build/bench/publish/bench-s3-put" "$tmp/m.safetensors" "$chunk" "$par")
# the push (a fresh model name on the devstack control topic); the summary is
# on stdout, diagnostics on stderr
if ! out=$("$build/publisher/publish-model" push --no-progress -b "$KFLEET_BROKERS" \
    --model "bench-$sfx" --version v1 --weights "$tmp/m.safetensors" --key "$tmp/k.key" \
    --chunk-size "$chunk" -X upload.parallel="$par" -X hash.threads="$threads" 2>"$tmp/push.err"); then
    echo "bench/publish: publish-model push failed:" >&2
    cat "$tmp/push.err" >&2
    exit 1
fi
# baseline 2: openssl's sha256 on one core, 16 KiB blocks (1000s of bytes/s)
ossl=$(openssl speed -evp sha256 -bytes 16384 -seconds 2 2>/dev/null | awk '/^sha256/ { print $2 }' | tr -d k)

# "  stages:   read 0.001 s, golden 1.252 s, hash 0.351 s, log ..., upload 1.795 s, ..."
stage() { sed -nE "s/^  stages:.*[ ,]$1 ([0-9.]+) s[,;].*/\1/p" <<<"$out"; }
up_s=$(stage upload)
hash_s=$(stage hash)
# "  bytes:    N uploaded, M already present"; "  chunks:   N total (...), ..."
up_bytes=$(sed -nE 's/^  bytes: +([0-9]+) uploaded, ([0-9]+) already present.*/\1/p' <<<"$out")
present=$(sed -nE 's/^  bytes: +([0-9]+) uploaded, ([0-9]+) already present.*/\2/p' <<<"$out")
n_chunks=$(sed -nE 's/^  chunks: +([0-9]+) total.*/\1/p' <<<"$out")
# "put N bytes in M us: X MiB/s"
raw_bytes=$(sed -nE 's/^put ([0-9]+) bytes in ([0-9]+) us.*/\1/p' <<<"$raw")
raw_us=$(sed -nE 's/^put ([0-9]+) bytes in ([0-9]+) us.*/\2/p' <<<"$raw")
for v in up_s hash_s up_bytes present n_chunks raw_bytes raw_us ossl; do
    if [[ -z ${!v} ]]; then
        echo "bench/publish: could not read $v from the output:" >&2
        printf '%s\n%s\n' "$out" "$raw" >&2
        exit 1
    fi
done
echo "$out"
echo "raw: $raw"
echo "openssl speed -evp sha256 -bytes 16384: ${ossl}k bytes/s on one core"
awk -v ub="$up_bytes" -v pb="$present" -v up="$up_s" -v rb="$raw_bytes" -v rus="$raw_us" \
    -v h="$hash_s" -v o="$ossl" -v t="$threads" -v n="$n_chunks" -v chunk="$chunk" -v par="$par" 'BEGIN {
    blob = (ub + pb) / 1048576        # every byte of the blob is hashed
    if (t > n) t = n                  # a thread hashes whole chunks
    u = ub / 1048576 / up
    r = rb / 1048576 / (rus / 1e6)
    hs = blob / h
    hb = o * 1000 / 1048576 * t
    printf "\n| %.0f MiB model, %d chunks of %d MiB, %d in flight | MiB/s | baseline MiB/s | ratio |\n", blob, n, chunk / 1048576, par
    printf "|---|---|---|---|\n"
    printf "| upload (push) vs raw parallel s3io PUTs | %.0f | %.0f | %.2f |\n", u, r, u / r
    printf "| chunk hashing vs openssl sha256 x %d threads | %.0f | %.0f | %.2f |\n", t, hs, hb, hs / hb
}'
