#!/usr/bin/env bash
# bench/serve — requests/s and p50/p99 end to end through one kfleet-worker
# (tiny model, reference backend), as a ratio to a raw consume-and-produce
# echo through the same broker (the Kafka floor), both measured in this run.
#   bench/serve/run.sh [BUILD_DIR]      (needs: ops/devstack up)
# Then the same worker with delivery=exactly_once (Kafka transactions; the
# client reads committed) as a ratio to at-least-once, same run.
# SERVE_REQUESTS (default 200000: a burst of 20000 lasts ~0.15 s and measures
# mostly the start of the fetch) requests each, SERVE_COMMIT_INTERVAL_MS the
# exactly-once commit interval (default 50, the worker's), SERVE_WORKER_PROPS more
# worker options ("-X k=v ..."); prints a Markdown table.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build=$(cd "${1:-$repo/build}" && pwd)
cd "$repo"
. bench/lib.sh
eval "$(ops/devstack env)"
n=${SERVE_REQUESTS:-200000}
sfx=$$-$(date +%s)
tmp=$(mktemp -d /tmp/kfleet-bench-serve-XXXXXX)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$tmp"' EXIT

for t in req resp xreq xresp ereq eresp; do bench_topic "bench.$t.$sfx" 8; done
bench_control_topic "bench.ctl.$sfx"

"$build/publisher/publish-model" keygen -o "$tmp/k" >/dev/null
"$build/ops/kfleet-make-model" -o "$tmp/m.safetensors" --input 64 --layers 64,10 --softmax 2>/dev/null
# the push summary is on stdout (kept out of the table); on a failure stderr says why
"$build/publisher/publish-model" push -b "$KFLEET_BROKERS" --control-topic "bench.ctl.$sfx" \
    --model bench --version "v$sfx" --weights "$tmp/m.safetensors" --key "$tmp/k.key" \
    >"$tmp/push.out" 2>&1 || { cat "$tmp/push.out" >&2; exit 1; }

client() { # requests-topic responses-topic count
    "$build/ops/kfleet-client" -b "$KFLEET_BROKERS" --model bench --cols 64 --count "$3" \
        --requests "$1" --responses "$2" --timeout 120 -q
}
port=$((19060 + $$ % 10))
bench_enroll bench-worker "bench.ctl.$sfx" "$tmp/k.key" "$tmp"
# One worker at a time, on topics and a group of its own: delivery=$1
# (docs/delivery.md); prints the client's summary of $n requests.
run_worker() { # delivery requests-topic responses-topic
    "$build/worker/kfleet-worker" -b "$KFLEET_BROKERS" -i bench-worker --backend=ref \
        -X worker.key="$tmp/bench-worker.key" -X topic.requests="$2" -X topic.responses="$3" \
        -X topic.control="bench.ctl.$sfx" -X group.id="bench-$1-$sfx" -X trusted_keys="$tmp/k.pub" \
        -X cache.dir="$tmp/cache" -X http.port=$port -X delivery="$1" -X delivery.commit_interval_ms="${SERVE_COMMIT_INTERVAL_MS:-50}" -X log_level=warn ${SERVE_WORKER_PROPS:-} \
        2>>"$tmp/worker.log" &
    local worker=$!
    for _ in $(seq 1 90); do curl -sf "http://127.0.0.1:$port/readyz" >/dev/null && break; sleep 1; done
    client "$2" "$3" 1000 >/dev/null # warm-up
    client "$2" "$3" "$n"
    kill -TERM $worker && wait $worker || true
}
w=$(run_worker at_least_once "bench.req.$sfx" "bench.resp.$sfx")
x=$(run_worker exactly_once "bench.xreq.$sfx" "bench.xresp.$sfx")

"$build/bench/serve/kafka-echo" "$KFLEET_BROKERS" "bench.ereq.$sfx" "bench.eresp.$sfx" \
    "echo-$sfx" 600 2>/dev/null &
echo_pid=$!
sleep 3
client "bench.ereq.$sfx" "bench.eresp.$sfx" 1000 >/dev/null # warm-up
e=$(client "bench.ereq.$sfx" "bench.eresp.$sfx" "$n")
kill -TERM $echo_pid && wait $echo_pid || true

field() { # line n: 1 = req/s, 2 = p50, 3 = p99
    awk -v n="$2" '{ for (i = 1; i <= NF; i++) { if ($i == "req/s,") r = $(i - 1); if ($i == "p50") a = $(i + 1); if ($i == "p99") b = $(i + 1) } }
        END { print (n == 1 ? r : n == 2 ? a : b) }' <<<"$1"
}
wr=$(field "$w" 1) w50=$(field "$w" 2) w99=$(field "$w" 3)
xr=$(field "$x" 1) x50=$(field "$x" 2) x99=$(field "$x" 3)
er=$(field "$e" 1) e50=$(field "$e" 2) e99=$(field "$e" 3)
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }'; }
echo "worker, at-least-once: $w"
echo "worker, exactly-once:  $x"
echo "echo:   $e"
echo
echo "| $n requests, 1 row × 64 cols | req/s | p50 ms | p99 ms |"
echo "|---|---|---|---|"
echo "| kfleet-worker (ref backend, 64→64→10) | $wr | $w50 | $w99 |"
echo "| raw consume-and-produce echo (floor) | $er | $e50 | $e99 |"
echo "| ratio worker / echo | $(ratio "$wr" "$er") | $(ratio "$w50" "$e50") | $(ratio "$w99" "$e99") |"
echo "| kfleet-worker, delivery=exactly_once (read_committed reader) | $xr | $x50 | $x99 |"
echo "| ratio exactly-once / at-least-once | $(ratio "$xr" "$wr") | $(ratio "$x50" "$w50") | $(ratio "$x99" "$w99") |"
