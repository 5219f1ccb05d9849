#!/usr/bin/env bash
# bench/rollout/compare.sh — the rolling update of bench/rollout/run.sh with
# at-least-once workers, then with exactly-once workers (Kafka transactions,
# the client reads committed), same rate and swap mode, in this run; prints
# both tables and exactly-once / at-least-once for p50 and p99 before and
# during the rollout (issue 15: users choose with these).
#   bench/rollout/compare.sh [BUILD_DIR]     (needs ops/devstack up)
# ROLLOUT_RATE and ROLLOUT_SWAP_MODE as for run.sh.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
alo=$(ROLLOUT_DELIVERY=at_least_once "$here/run.sh" "$@" | grep '^|')
eos=$(ROLLOUT_DELIVERY=exactly_once "$here/run.sh" "$@" | grep '^|')
printf '%s\n\n%s\n\n' "$alo" "$eos"
# a "| name | a / b |" row's numbers
cell() { grep -F "| $2 |" <<<"$1" | awk -F'|' '{ print $3 }' | tr -d ' '; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }'; }
echo "| exactly-once / at-least-once, same run | before | during |"
echo "|---|---|---|"
for q in p50 p99; do
    IFS=/ read -r ab ad <<<"$(cell "$alo" "$q before / during (ms)")"
    IFS=/ read -r eb ed <<<"$(cell "$eos" "$q before / during (ms)")"
    echo "| $q | $(ratio "$eb" "$ab") | $(ratio "$ed" "$ad") |"
done
echo
echo "| during the rollout | at-least-once | exactly-once |"
echo "|---|---|---|"
for k in "lost (must be 0)" duplicates; do
    echo "| $k | $(cell "$alo" "$k") | $(cell "$eos" "$k") |"
done
