#!/usr/bin/env bash
# bench/flood — serving latency while the control topic is flooded (issue 14):
# one worker at a constant rate; p99 over 20 s without control traffic, then
# over 20 s during which 100 000 forged events (unsigned claims of phantom
# workers) are appended to the control topic, then 20 s more without (the
# run-to-run noise of p99 on this machine). Prints the p99s, their ratios,
# and how long the worker took to fold the flood (its /status control_offset).
#   bench/flood/run.sh [BUILD_DIR]     (needs ops/devstack up)
# FLOOD_RATE requests/s (default 200), FLOOD_EVENTS (default 100000).
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build=$(cd "${1:-$repo/build}" && pwd)
cd "$repo"
. bench/lib.sh
eval "$(ops/devstack env)"
rate=${FLOOD_RATE:-200}
events=${FLOOD_EVENTS:-100000}
port=19056
sfx=$$-$(date +%s)
tmp=$(mktemp -d /tmp/kfleet-bench-flood-XXXXXX)
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true; rm -rf "$tmp"' EXIT

bench_topic "fl.req.$sfx" 6
bench_topic "fl.resp.$sfx" 6
bench_control_topic "fl.ctl.$sfx"
pub() { bench_pub "fl.ctl.$sfx" "$@"; }
"$build/publisher/publish-model" keygen -o "$tmp/k" >/dev/null
"$build/ops/kfleet-make-model" -o "$tmp/v1.safetensors" --input 64 --layers 256,10 --seed "1$$" \
    2>/dev/null
pub push --model "fl-$sfx" --version v1 --weights "$tmp/v1.safetensors" --key "$tmp/k.key" >/dev/null
bench_enroll fl-w0 "fl.ctl.$sfx" "$tmp/k.key" "$tmp"
"$build/worker/kfleet-worker" -i "fl-w0" -X worker.key="$tmp/fl-w0.key" -X topic.requests="fl.req.$sfx" \
    -X topic.responses="fl.resp.$sfx" -X topic.control="fl.ctl.$sfx" -X group.id="fl-$sfx" \
    -X trusted_keys="$tmp/k.pub" -X cache.dir="$tmp/cache" -X http.port=$port \
    -X log_level=err 2>"$tmp/w.log" &
pids+=($!)
for _ in $(seq 1 90); do curl -sf "http://127.0.0.1:$port/readyz" >/dev/null && break; sleep 1; done

client() { # seconds id
    "$build/ops/kfleet-client" --model "fl-$sfx" --cols 64 --count $(($1 * rate)) --rate "$rate" \
        --requests "fl.req.$sfx" --responses "fl.resp.$sfx" --id-prefix "$2" --timeout 60 -q
}
offset() { curl -sf "http://127.0.0.1:$port/status" | sed -n 's/.*"control_offset":\([0-9]*\).*/\1/p'; }


client 5 warmup >/dev/null
before=$(client 20 before)
off0=$(offset)
client 20 during >"$tmp/during" &
cpid=$!
sleep 3
t0=$(date +%s%N)
# the flood: forged claims of phantom workers for the served version
"$build/bench/flood/flood-append" "$KFLEET_BROKERS" "fl.ctl.$sfx" "fl-$sfx" "$events"
t_appended=$(date +%s%N)
want=$((off0 + events))
while (($(offset) < want)); do
    sleep 0.05
    (($(date +%s%N) - t0 > 300000000000)) && { echo "the worker did not fold the flood in 300 s" >&2; exit 1; }
done
t_folded=$(date +%s%N)
wait $cpid || true
during=$(cat "$tmp/during")
# The same 20 s again without a flood: how much p99 moves between two
# windows on this machine anyway (the noise the ratio has to be read against).
after=$(client 20 after)

echo "before: $before"
echo "during: $during"
echo "after:  $after"
echo
echo "| 1 worker, $rate req/s, $events forged control events appended mid-run | value |"
echo "|---|---|"
b99=$(bench_p99 "$before") d99=$(bench_p99 "$during") a99=$(bench_p99 "$after")
echo "| p99 before / with / after the flood (ms) | $b99 / $d99 / $a99 |"
echo "| p99 with / without (before) | $(awk -v a="$d99" -v b="$b99" 'BEGIN { printf "%.2f", a / b }') |"
echo "| p99 with / mean of before and after | $(awk -v a="$d99" -v b="$b99" -v c="$a99" 'BEGIN { printf "%.2f", 2 * a / (b + c) }') |"
echo "| noise: p99 after / before (no flood in either) | $(awk -v a="$a99" -v b="$b99" 'BEGIN { printf "%.2f", a / b }') |"
echo "| lost during the flood (must be 0) | $(bench_num "$during" missing) |"
echo "| append time, flood-append (librdkafka, ms) | $(((t_appended - t0) / 1000000)) |"
echo "| appended -> folded by the worker (ms) | $(((t_folded - t_appended) / 1000000)) |"
echo "| fold rate, events/s (append start -> folded) | $(awk -v n="$events" -v ns="$((t_folded - t0))" 'BEGIN { printf "%.0f", n / (ns / 1e9) }') |"
