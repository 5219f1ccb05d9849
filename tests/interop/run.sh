#!/usr/bin/env bash
# The interop suite (issue 18): clients no one on the project wrote send requests built from
# docs/schema.md to a real kfleet-worker on the devstack, read the answers, and check the
# numbers against a forward pass of their own (never kfleet's code) and the provenance headers.
#
#   run.sh python|java|kcat KFLEET_WORKER PUBLISH_MODEL KFLEET_MAKE_MODEL KFLEETCTL
#
# Each client gets a fleet of its own: four fresh topics, a release key, a model made by
# kfleet-make-model (a dtype and activation per client, so that each reference covers other
# numerics), `publish-model push`, one enrolled worker. Then:
#   python  tests/interop/client.py: python3-confluent-kafka + python3-msgpack (Debian)
#   java    tests/interop/InteropClient.java run as a single-file program on kafka-clients and
#           msgpack-core from Maven Central (tests/interop/pom.xml); its worker answers
#           exactly-once (delivery=exactly_once), which Java readers must read_committed
#   kcat    tests/interop/kcat.sh: JSON requests with `kcat -P`, answers with `kcat -C`
# Exit 77 (skip) without the devstack's env or without the client's tools, unless
# KFLEET_REQUIRE_SERVICES=1 (CI), where either fails the test.
set -euo pipefail
client=$1 worker=$2 pub=$3 mkmodel=$4 ctl=$5
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)

skip() {
    if [[ ${KFLEET_REQUIRE_SERVICES:-0} == 1 ]]; then
        echo "FAIL: $* (KFLEET_REQUIRE_SERVICES=1: CI must have it; ops/install-deps installs it)" >&2
        exit 99
    fi
    echo "$*; skipping"
    exit 77
}
fail() {
    echo "FAIL: $*" >&2
    exit 1
}

[[ -n ${KFLEET_BROKERS:-} && -n ${KFLEET_S3_ENDPOINT:-} ]] ||
    skip "KFLEET_BROKERS / KFLEET_S3_ENDPOINT not set (eval \"\$(ops/devstack env)\")"

# --- the client's tools -------------------------------------------------------
case $client in
python)
    # Debian's python3-confluent-kafka and python3-msgpack live in /usr/bin/python3's
    # dist-packages; a python3 earlier on PATH (pyenv, a venv) may not see them.
    py=
    for p in /usr/bin/python3 python3; do
        if "$p" -c 'import confluent_kafka, msgpack' 2>/dev/null; then py=$p && break; fi
    done
    [[ -n $py ]] || skip "no python3 with confluent_kafka and msgpack (python3-confluent-kafka, python3-msgpack)"
    spec=(--input 24 --layers 32,16,6 --dtype f16 --act gelu --softmax)
    ;;
java)
    command -v java >/dev/null || skip "no java"
    jars=${KFLEET_DEVSTACK_DIR:-$repo/.devstack}/jars/interop-java
    if [[ ! -f $jars/.complete ]]; then
        command -v mvn >/dev/null || skip "no mvn to resolve kafka-clients and msgpack-core"
        echo "# resolving the Java client's jars from Maven Central (once): $jars"
        rm -rf "$jars"
        mvn -q -B -f "$here/pom.xml" dependency:copy-dependencies -DincludeScope=runtime \
            -DoutputDirectory="$jars" >&2 || skip "could not resolve tests/interop/pom.xml's jars"
        touch "$jars/.complete"
    fi
    spec=(--input 20 --layers 24,5 --dtype bf16 --act tanh --softmax)
    worker_props=(-X delivery=exactly_once)
    ;;
kcat)
    command -v kcat >/dev/null || skip "no kcat (apt-get install kcat)"
    py=
    for p in /usr/bin/python3 python3; do
        if command -v "$p" >/dev/null; then py=$p && break; fi
    done
    [[ -n $py ]] || skip "no python3 for the kcat client's reference forward pass"
    spec=(--input 4 --layers 8,3 --dtype f32 --act relu)
    ;;
*) fail "unknown client '$client' (python, java or kcat)" ;;
esac

# --- a fleet of the client's own -----------------------------------------------
sfx=interop-$client-$$-$(date +%s)
work=$(mktemp -d "${TMPDIR:-/tmp}/kfleet-$client.XXXXXX")
wpid=
cleanup() {
    if [[ -n $wpid ]]; then
        kill "$wpid" 2>/dev/null || true
        wait "$wpid" 2>/dev/null || true
    fi
    if [[ ${failed:-1} == 0 ]]; then rm -rf "$work"; else echo "# files kept in $work"; fi
}
trap cleanup EXIT
failed=1
# every kfleet program reads these (KFLEET_<property>); the client gets them as arguments
export KFLEET_TOPIC_REQUESTS=$sfx.requests KFLEET_TOPIC_RESPONSES=$sfx.responses
export KFLEET_TOPIC_DLQ=$sfx.dlq KFLEET_TOPIC_CONTROL=$sfx.control KFLEET_GROUP_ID=$sfx
model=$sfx wid=$sfx-w0
"$ctl" topics create --partitions 2 >/dev/null || fail "kfleetctl topics create"
"$pub" keygen -o "$work/release" >/dev/null 2>&1
"$pub" keygen -o "$work/w0" >/dev/null 2>&1
"$mkmodel" -o "$work/model.safetensors" "${spec[@]}" --seed "$$" >/dev/null
"$pub" push --model "$model" --version v1 --weights "$work/model.safetensors" \
    --key "$work/release.key" --no-progress >"$work/push.txt" || fail "publish-model push"
# "  manifest: s3://…/manifest.json (N bytes, sha256 HEX)": what kfleet-manifest-sha256 says
sha=$(sed -n 's/^ *manifest: .*sha256 \([0-9a-f]\{64\}\)).*/\1/p' "$work/push.txt")
[[ -n $sha ]] || fail "no manifest sha256 in publish-model's summary: $(cat "$work/push.txt")"
"$pub" enroll --worker "$wid" --worker-pub "$work/w0.pub" --key "$work/release.key" \
    --reason interop >/dev/null || fail "publish-model enroll"
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$worker" -i "$wid" -m "$model" -X trusted_keys="$work/release.pub" -X worker.key="$work/w0.key" \
    -X cache.dir="$work/cache" -X http.port="$port" ${worker_props[@]+"${worker_props[@]}"} \
    >"$work/worker.log" 2>&1 &
wpid=$!
for _ in $(seq 1 600); do
    curl -sf "http://127.0.0.1:$port/readyz" >/dev/null && break
    kill -0 "$wpid" 2>/dev/null || fail "the worker exited: $(tail -5 "$work/worker.log")"
    sleep 0.1
done
curl -sf "http://127.0.0.1:$port/readyz" >/dev/null || fail "the worker is not ready after 60 s"
echo "# $client: model $model v1 (${spec[*]}), worker $wid ready ${worker_props[*]+"${worker_props[*]}"}"

# --- the client --------------------------------------------------------------
args=(--brokers "$KFLEET_BROKERS" --requests "$KFLEET_TOPIC_REQUESTS"
    --responses "$KFLEET_TOPIC_RESPONSES" --model "$model" --version v1 --worker "$wid"
    --weights "$work/model.safetensors" --manifest-sha256 "$sha")
rc=0
case $client in
python) "$py" "$here/client.py" "${args[@]}" || rc=$? ;;
java) java -cp "$jars/*" "$here/InteropClient.java" "${args[@]}" || rc=$? ;;
kcat) "$here/kcat.sh" "$py" "${args[@]}" || rc=$? ;;
esac
if [[ $rc != 0 ]]; then
    echo "# the worker's log:" && tail -20 "$work/worker.log"
    exit "$rc"
fi
failed=0
