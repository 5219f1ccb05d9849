#!/usr/bin/env bash
# The devstack's secure mode (issue 14): every program through SASL_SSL with the
# user of its role, and the broker's ACLs refusing what a role may not do.
#
#   refused   the producer role writing to the control topic: the broker
#             refuses (TopicAuthorizationFailed); so it does the dashboard's;
#             the producer cannot see the control log; a wrong password is
#             refused at authentication
#   flow      the quickstart's mission: publish-model push (publisher role) of
#             v1, three kfleet-worker (worker role), kfleet-client load
#             (producer role) while v2 rolls out one worker at a time, every
#             worker on v2, no request lost, and kfleetctl audit (dashboard role)
#             shows the signed timeline with nothing flagged. Models come from
#             the secure mode's S3 over HTTPS.
#
#   test_secure.sh KFLEET_WORKER PUBLISH_MODEL KFLEET_CLIENT KFLEETCTL KFLEET_MAKE_MODEL
# Needs `ops/devstack up --secure` and its env (eval "$(ops/devstack env --secure)");
# exits 77 without it.
set -euo pipefail
worker=$1 pub=$2 client=$3 ctl=$4 mkmodel=$5

if [[ -z ${KFLEET_SECURE_DIR:-} || ! -f ${KFLEET_SECURE_DIR}/roles/worker.conf ]]; then
    echo "KFLEET_SECURE_DIR is not set: ops/devstack up --secure; eval \"\$(ops/devstack env --secure)\"; skipping"
    exit 77
fi
conf() { echo "$KFLEET_SECURE_DIR/roles/$1.conf"; }
control=${KFLEET_TOPIC_CONTROL:-kfleet.control}

work=$(mktemp -d "${TMPDIR:-/tmp}/kfleet-secure.XXXXXX")
pids=()
cleanup() {
    local p
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
    if [[ ${failed:-1} == 0 ]]; then rm -rf "$work"; else echo "# files kept in $work"; fi
}
trap cleanup EXIT
failed=1
fail() {
    echo "FAIL: $*" >&2
    exit 1
}
t0=$SECONDS
lap() { echo "# $1 in $((SECONDS - t0)) s"; }

# --- refused -----------------------------------------------------------------
echo "# refused: the producer role writes to $control"
if "$client" -F "$(conf producer)" --requests "$control" -m refused -c 4 -n 1 -t 3 \
    >"$work/refused.out" 2>"$work/refused.err"; then
    fail "the producer's write to $control was answered"
fi
cat "$work/refused.err"
grep -q "kfleet.control.*Topic authorization failed" "$work/refused.err" ||
    fail "no TopicAuthorizationFailed for the producer's write to $control"
echo "ok refused: producer -> $control: Topic authorization failed"

echo "# refused: the dashboard role writes to $control"
if "$client" -F "$(conf dashboard)" --requests "$control" -m refused -c 4 -n 1 -t 3 \
    >/dev/null 2>"$work/refused-dash.err"; then
    fail "the dashboard's write to $control was answered"
fi
grep -q "Topic authorization failed" "$work/refused-dash.err" ||
    fail "no TopicAuthorizationFailed for the dashboard's write: $(cat "$work/refused-dash.err")"
echo "ok refused: dashboard -> $control: Topic authorization failed"

echo "# refused: the producer role reads the control log"
if "$ctl" -F "$(conf producer)" --timeout-ms 5000 audit >/dev/null 2>"$work/refused-read.err"; then
    fail "the producer read the control log"
fi
cat "$work/refused-read.err"
echo "ok refused: producer cannot read $control"

echo "# refused: a wrong password"
if "$ctl" -F "$(conf dashboard)" -X kafka.sasl.password=wrong --timeout-ms 5000 audit \
    >/dev/null 2>"$work/refused-auth.err"; then
    fail "a wrong password was let in"
fi
echo "ok refused: wrong password ($(grep -o -m1 'Authentication failed[^:]*' "$work/refused-auth.err" || echo "no answer"))"
lap "refused"

# --- flow --------------------------------------------------------------------
seed=$(date +%s)
model=secure-$seed-$$
"$pub" keygen -o "$work/release" >/dev/null
"$mkmodel" -o "$work/v1.safetensors" --input 64 --layers 128,10 --softmax --seed "$seed" >/dev/null
"$mkmodel" -o "$work/v2.safetensors" --input 64 --layers 128,10 --softmax --seed "$((seed + 1))" \
    >/dev/null
# The secure mode's control topic outlives one run (ops/test starts it fresh):
# the audit covers this run's events only, whatever earlier runs left there.
flow_start=$(date -u -d "-1 second" +%Y-%m-%dT%H:%M:%SZ)
echo "# flow: model $model; publish v1 as publisher"
"$pub" -F "$(conf publisher)" push --model "$model" --version v1 \
    --weights "$work/v1.safetensors" --key "$work/release.key" --no-progress
lap "v1 published"

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
ports=()
# each worker's own key, enrolled by the release key (as publisher), all before
# the first worker starts: staggered joins would rebalance under the load
for i in 0 1 2; do
    "$pub" keygen -o "$work/w$i" >/dev/null
    "$pub" -F "$(conf publisher)" enroll --worker "secure-w$i-$$" --worker-pub "$work/w$i.pub" \
        --key "$work/release.key" --reason "secure test" >/dev/null || fail "enroll worker $i"
done
for i in 0 1 2; do
    ports[i]=$(free_port)
    "$worker" -c "$(conf worker)" -i "secure-w$i-$$" -m "$model" \
        -X trusted_keys="$work/release.pub" -X worker.key="$work/w$i.key" -X cache.dir="$work/cache-$i" \
        -X http.port="${ports[i]}" >"$work/w$i.log" 2>&1 &
    pids+=($!)
done
for i in 0 1 2; do
    for _ in $(seq 1 90); do
        curl -sf "http://127.0.0.1:${ports[i]}/readyz" >/dev/null && break
        kill -0 "${pids[i]}" 2>/dev/null || fail "worker $i exited: $(tail -5 "$work/w$i.log")"
        sleep 1
    done
    curl -sf "http://127.0.0.1:${ports[i]}/readyz" >/dev/null || fail "worker $i not ready in 90 s"
done
lap "three workers ready on v1"

echo "# a steady stream as producer: 100 requests/s for 20 s; v2 rolls out meanwhile"
"$client" -F "$(conf producer)" --model "$model" --cols 64 --count 2000 --rate 100 --timeout 90 \
    -q >"$work/client.txt" 2>"$work/client.err" &
client_pid=$!
sleep 4
"$pub" -F "$(conf publisher)" push --model "$model" --version v2 \
    --weights "$work/v2.safetensors" --key "$work/release.key" --no-progress \
    --strategy rolling --max-unavailable 1 --health-window 2
lap "v2 published"
client_rc=0
wait "$client_pid" || client_rc=$?
cat "$work/client.txt"
lap "load done"
[[ $client_rc == 0 ]] || fail "kfleet-client: exit $client_rc: $(tail -3 "$work/client.err")"
grep -q " missing 0 duplicates 0 " "$work/client.txt" || fail "requests lost or duplicated"
grep -q " error 0 expired 0 " "$work/client.txt" || fail "requests answered with errors"

for i in 0 1 2; do
    for _ in $(seq 1 60); do
        curl -sf "http://127.0.0.1:${ports[i]}/status" | grep -q '"active": *"v2"' && break
        sleep 1
    done
    curl -sf "http://127.0.0.1:${ports[i]}/status" | grep -q '"active": *"v2"' ||
        fail "worker $i is not on v2: $(curl -sf "http://127.0.0.1:${ports[i]}/status")"
done
echo "ok flow: every worker runs v2"
lap "rollout done"

echo "# audit as dashboard"
"$ctl" -F "$(conf dashboard)" --trusted-keys "$work/release.pub" audit --from "$flow_start" --model "$model" \
    | tee "$work/audit.txt" || fail "kfleetctl audit: exit $? (flagged events?)"
grep -q "v2" "$work/audit.txt" || fail "the audit does not show v2"
"$ctl" -F "$(conf dashboard)" --trusted-keys "$work/release.pub" status --model "$model"
"$ctl" -F "$(conf dashboard)" lag | tail -2
echo "ok flow: audit through SASL_SSL, nothing flagged"
lap "secure test"
failed=0
