#!/usr/bin/env bash
# bench/latency — open-loop latency at fixed request rates (issue 17): the same
# client (kfleet-client --rate: it sends on schedule whatever the answers do)
# against kfleet-worker(s) and against a raw consume-and-produce echo (the
# Kafka floor: bench/serve/kafka-echo) on the same broker, in the same run.
# Rates: 20, 200, 2000 req/s and 50 % of the worker's measured maximum (a
# burst first). Prints p50, p99, p99.9 of each and the ratios to the echo.
#   bench/latency/run.sh [BUILD_DIR]      (needs: ops/devstack up)
# LATENCY_WORKERS (default 1; the issue's table used 3), LATENCY_SECONDS per
# rate (default 10; at least 300 requests each), LATENCY_PROPS: extra -X
# KEY=VALUE words for the worker (to measure a setting's effect).
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build=$(cd "${1:-$repo/build}" && pwd)
cd "$repo"
. bench/lib.sh
eval "$(ops/devstack env)"
workers=${LATENCY_WORKERS:-1}
secs=${LATENCY_SECONDS:-10}
sfx=$$-$(date +%s)
tmp=$(mktemp -d /tmp/kfleet-bench-latency-XXXXXX)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$tmp"' EXIT

for t in req resp ereq eresp; do bench_topic "bench.$t.$sfx" 6; done
bench_control_topic "bench.ctl.$sfx"
"$build/publisher/publish-model" keygen -o "$tmp/k" >/dev/null
"$build/ops/kfleet-make-model" -o "$tmp/m.safetensors" --input 64 --layers 64,10 --softmax 2>/dev/null
"$build/publisher/publish-model" push -b "$KFLEET_BROKERS" --control-topic "bench.ctl.$sfx" \
    --model bench --version "v$sfx" --weights "$tmp/m.safetensors" --key "$tmp/k.key" \
    >"$tmp/push.out" 2>&1 || { cat "$tmp/push.out" >&2; exit 1; }

extra=()
for p in ${LATENCY_PROPS:-}; do extra+=(-X "$p"); done
for i in $(seq 0 $((workers - 1))); do
    bench_enroll "lat-w$i" "bench.ctl.$sfx" "$tmp/k.key" "$tmp"
    port=$((19070 + i))
    "$build/worker/kfleet-worker" -b "$KFLEET_BROKERS" -i "lat-w$i" --backend=ref \
        -X worker.key="$tmp/lat-w$i.key" -X topic.requests="bench.req.$sfx" \
        -X topic.responses="bench.resp.$sfx" -X topic.control="bench.ctl.$sfx" \
        -X group.id="bench-lat-$sfx" -X trusted_keys="$tmp/k.pub" -X cache.dir="$tmp/cache$i" \
        -X http.port=$port -X log_level=warn "${extra[@]}" 2>>"$tmp/worker$i.log" &
    for _ in $(seq 1 90); do curl -sf "http://127.0.0.1:$port/readyz" >/dev/null && break; sleep 1; done
done
"$build/bench/serve/kafka-echo" "$KFLEET_BROKERS" "bench.ereq.$sfx" "bench.eresp.$sfx" \
    "echo-$sfx" 3600 2>/dev/null &
sleep 3

client() { # requests-topic responses-topic count [rate]
    "$build/ops/kfleet-client" -b "$KFLEET_BROKERS" --model bench --cols 64 --count "$3" \
        ${4:+--rate "$4"} --requests "$1" --responses "$2" --timeout 60 -q | head -n 1
}
kfleet() { client "bench.req.$sfx" "bench.resp.$sfx" "$@"; }
echo_() { client "bench.ereq.$sfx" "bench.eresp.$sfx" "$@"; }
num() { awk -v k="$2" '{ for (i = 1; i < NF; i++) if ($i == k) { v = $(i + 1); sub(",", "", v); print v } }' <<<"$1"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }'; }

kfleet 500 >/dev/null # warm-up: consumers joined, connections open
echo_ 500 >/dev/null
burst=$(kfleet 20000)
max=$(awk '{ for (i = 1; i < NF; i++) if ($(i + 1) == "req/s,") print $i }' <<<"$burst")
half=$(awk -v m="$max" 'BEGIN { printf "%d", m / 2 }')
echo "burst of 20000 through kfleet: $burst"

rows=()
for rate in 20 200 2000 "$half"; do
    n=$((rate * secs))
    ((n < 300)) && n=300
    k=$(kfleet "$n" "$rate")
    e=$(echo_ "$n" "$rate")
    echo "rate $rate, kfleet: $k"
    echo "rate $rate, echo:   $e"
    label=$rate
    [[ $rate == "$half" ]] && label="$rate (50 % of $max)"
    row="| $label | $n"
    for q in p50 p99 p99.9; do
        kq=$(num "$k" "$q") eq=$(num "$e" "$q")
        row+=" | $kq / $eq | $(ratio "$kq" "$eq")"
    done
    rows+=("$row | $(num "$k" missing) |")
done
echo
echo "| req/s | requests | p50 ms kfleet / echo | ratio | p99 ms kfleet / echo | ratio | p99.9 ms kfleet / echo | ratio | lost |"
echo "|---|---|---|---|---|---|---|---|---|"
printf '%s\n' "${rows[@]}"
echo
echo "($workers worker(s), reference backend, 1 row x 64 cols, 64->64->10; the echo: one consumer-producer; one client each)"
