#!/usr/bin/env bash
# bench/rollout — a rolling update of 3 workers under constant load
# (max_unavailable=1): lost (must be 0), duplicates, p99 during the rollout
# over p99 before it (same load, same run), the largest consumer lag seen,
# and the rollout's total time over 3 × one worker's swap time.
#   bench/rollout/run.sh [BUILD_DIR]     (needs ops/devstack up)
# ROLLOUT_RATE requests/s (default 300), ROLLOUT_SWAP_MODE (default inplace),
# ROLLOUT_DELIVERY (at_least_once, the default, or exactly_once: the client
# reads committed), ROLLOUT_COMMIT_INTERVAL_MS (exactly_once's commit interval,
# default 50), ROLLOUT_HEALTH_S (the health window, default 0: the bench times the
# swaps, and a window would add its length per worker to the total). bench/rollout/compare.sh
# runs both deliveries and prints ratios.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build=$(cd "${1:-$repo/build}" && pwd)
cd "$repo"
. bench/lib.sh
eval "$(ops/devstack env)"
rate=${ROLLOUT_RATE:-300}
mode=${ROLLOUT_SWAP_MODE:-inplace}
delivery=${ROLLOUT_DELIVERY:-at_least_once}
# exactly_once: the transaction commit interval (default 50 ms, the worker's)
commit_ms=${ROLLOUT_COMMIT_INTERVAL_MS:-50}
sfx=$$-$(date +%s)
tmp=$(mktemp -d /tmp/kfleet-bench-rollout-XXXXXX)
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true; rm -rf "$tmp"' EXIT

bench_topic "ro.req.$sfx" 6
bench_topic "ro.resp.$sfx" 6
bench_control_topic "ro.ctl.$sfx"
# push (and the operator commands) talk to Kafka and take -b/--control-topic;
# keygen does not (publish-model refuses options a command does not take: exit 2).
# The summary goes to stdout; on a failure stderr says why.
pub() { bench_pub "ro.ctl.$sfx" "$@"; }
"$build/publisher/publish-model" keygen -o "$tmp/k" >/dev/null
for v in 1 2; do
    "$build/ops/kfleet-make-model" -o "$tmp/v$v.safetensors" --input 64 --layers 1024,1024,10 \
        --softmax --seed "$v$$" 2>/dev/null
done
pub push --model "ro-$sfx" --version v1 --weights "$tmp/v1.safetensors" --key "$tmp/k.key"
for i in 0 1 2; do bench_enroll "ro-w$i" "ro.ctl.$sfx" "$tmp/k.key" "$tmp"; done
for i in 0 1 2; do
    port=$((19050 + i))
    "$build/worker/kfleet-worker" -i "ro-w$i" -X worker.key="$tmp/ro-w$i.key" -X topic.requests="ro.req.$sfx" \
        -X topic.responses="ro.resp.$sfx" -X topic.control="ro.ctl.$sfx" -X group.id="ro-$sfx" \
        -X trusted_keys="$tmp/k.pub" -X cache.dir="$tmp/cache$i" -X http.port=$port \
        -X swap_mode="$mode" -X delivery="$delivery" \
        -X delivery.commit_interval_ms="$commit_ms" -X log_level=warn 2>"$tmp/w$i.log" &
    pids+=($!)
done
for i in 0 1 2; do
    for _ in $(seq 1 90); do curl -sf "http://127.0.0.1:$((19050 + i))/readyz" >/dev/null && break; sleep 1; done
done
sleep 5 # let the group settle: the measurement is of the rollout, not of the joins

client() { # seconds id
    "$build/ops/kfleet-client" --model "ro-$sfx" --cols 64 --count $(($1 * rate)) --rate "$rate" \
        --requests "ro.req.$sfx" --responses "ro.resp.$sfx" --id-prefix "$2" --timeout 60 -q
}
lag_max=0
watch_lag() {
    while :; do
        l=$(curl -sf http://127.0.0.1:19050/metrics | awk '/^kfleet_consumer_lag\{/ { s += $2 } END { print s + 0 }')
        [[ ${l:-0} -gt $lag_max ]] && lag_max=$l && echo "$lag_max" >"$tmp/lag"
        sleep 0.5
    done
}
client 5 warmup >/dev/null # the first requests pay for connections and the group's joins
before=$(client 15 before)
watch_lag &
pids+=($!)
client 20 during >"$tmp/during" &
cpid=$!
sleep 4
pub push --model "ro-$sfx" --version v2 --weights "$tmp/v2.safetensors" --key "$tmp/k.key" \
    --strategy rolling --max-unavailable 1 --health-window "${ROLLOUT_HEALTH_S:-0}"
wait $cpid || true
during=$(cat "$tmp/during")
sleep 6 # one more lag refresh after the load
lag_max=$(cat "$tmp/lag" 2>/dev/null || echo 0)
# the longest the main loop of any worker went without polling its request
# consumer (docs/worker.md "Main loop"), over the whole run, swaps included
poll_gap=0
for i in 0 1 2; do
    g=$(curl -sf "http://127.0.0.1:$((19050 + i))/metrics" |
        awk '/^kfleet_request_poll_gap_max_seconds / { printf "%.1f", $2 * 1000 }')
    poll_gap=$(awk -v a="$poll_gap" -v b="${g:-0}" 'BEGIN { print (b > a ? b : a) }')
done

# the rollout, from the control log: publish -> last rollout.done, and each swap's stages
"$build/ops/kfleetctl" --control-topic "ro.ctl.$sfx" --trusted-keys "$tmp/k.pub" audit --json >"$tmp/audit.json"
awk -v mode="$mode" '
    function ms(t,   a, b) { split(substr(t, 12, 12), a, ":"); return (a[1] * 3600 + a[2] * 60 + a[3]) * 1000 }
    /"type":"model.published"/ && /v2 published/ { match($0, /"time":"[^"]*"/); t0 = ms(substr($0, RSTART + 8, 24)) }
    /"type":"rollout.done"/ && / v2 \(/ {
        match($0, /"time":"[^"]*"/); t1 = ms(substr($0, RSTART + 8, 24)); n++
        match($0, /fetch [0-9.]+ ms, load [0-9.]+ ms, flip [0-9.]+ ms, unowned [0-9.]+ ms/)
        split(substr($0, RSTART, RLENGTH), f, " "); swap += f[2] + f[5] + f[8] + f[11]
    }
    END { printf "%d %.1f %.1f\n", n, t1 - t0, n ? swap / n : 0 }' "$tmp/audit.json" >"$tmp/roll"
read -r swaps total one <"$tmp/roll"

echo "before: $before"
echo "during: $during"
echo
echo "| rolling update, 3 workers, max_unavailable=1, $mode, $delivery, $rate req/s | value |"
echo "|---|---|"
echo "| requests during the rollout | $(bench_num "$during" sent) |"
echo "| lost (must be 0) | $(bench_num "$during" missing) |"
echo "| duplicates | $(bench_num "$during" duplicates) |"
echo "| p99 before / during (ms) | $(bench_p99 "$before") / $(bench_p99 "$during") |"
echo "| p50 before / during (ms) | $(bench_num "$before" p50) / $(bench_num "$during" p50) |"
echo "| p99 during / before | $(awk -v a="$(bench_p99 "$during")" -v b="$(bench_p99 "$before")" 'BEGIN { printf "%.2f", a / b }') |"
echo "| largest consumer lag seen (requests, summed over partitions) | $lag_max |"
echo "| longest gap between two polls of the request consumer, any worker (ms) | $poll_gap |"
echo "| workers swapped | $swaps |"
echo "| rollout time, publish -> last done (ms) | $total |"
echo "| one worker's swap (fetch + load + flip + unowned, mean ms) | $one |"
echo "| rollout time / (3 x one swap) | $(awk -v t="$total" -v o="$one" 'BEGIN { printf "%.1f", (o > 0 ? t / (3 * o) : 0) }') |"
