#!/usr/bin/env bash
# publisher_revoke (issue 14, acceptance 5): revoking a release key keeps the
# history it signed and ignores what it signs afterwards. Through the real
# programs on the devstack: v1 pushed with key A; B revokes A; v2 pushed with
# A is ignored (kfleetctl audit flags it revoked_key); v3 pushed with B is the
# target; v1's publication stays valid (not flagged) and the enrolment of a
# worker key signed by A before the revocation stays valid too.
#   test_revoke.sh PUBLISH_MODEL KFLEETCTL KFLEET_MAKE_MODEL
set -uo pipefail
pub=$1 ctl=$2 mk=$3
[[ -n ${KFLEET_BROKERS:-} ]] || { echo "no devstack (eval \"\$(ops/devstack env)\")"; exit 77; }
tmp=$(mktemp -d /tmp/kfleet-revoke-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
sfx=$$-$(date +%s%N)
topic="kfleet.control.revoke-$sfx"
model="revoke-$sfx"
java -Xmx128m -Dlog4j.configuration="file:$KFLEET_DEVSTACK_DIR/kafka/tools-log4j.properties" \
    -cp "$KFLEET_KAFKA_CLASSPATH" org.apache.kafka.tools.TopicCommand \
    --bootstrap-server "$KFLEET_BROKERS" --create --topic "$topic" --partitions 1 \
    --replication-factor 1 --config retention.ms=-1 \
    --config message.timestamp.type=LogAppendTime >/dev/null || fail "create $topic"

"$pub" keygen -o "$tmp/A" >/dev/null && "$pub" keygen -o "$tmp/B" >/dev/null &&
    "$pub" keygen -o "$tmp/w0" >/dev/null || fail keygen
cat "$tmp/A.pub" "$tmp/B.pub" >"$tmp/trusted.pub"
key_a=$(awk '{ print $2 }' "$tmp/A.pub")
[[ -n $key_a ]] || fail "no key id in A.pub: $(cat "$tmp/A.pub")"
for v in 1 2 3; do
    "$mk" -o "$tmp/v$v.safetensors" --input 8 --layers 4 --seed "$v$$" 2>/dev/null || fail make-model
done
p() { "$pub" -b "$KFLEET_BROKERS" --control-topic "$topic" -X trusted_keys="$tmp/trusted.pub" "$@"; }

p push --model "$model" --version v1 --weights "$tmp/v1.safetensors" --key "$tmp/A.key" \
    >"$tmp/push1.out" 2>&1 || fail "push v1: $(cat "$tmp/push1.out")"
p enroll --worker w0 --worker-pub "$tmp/w0.pub" --key "$tmp/A.key" --reason "before" \
    >"$tmp/enroll.out" 2>&1 || fail "enroll: $(cat "$tmp/enroll.out")"
p revoke --key-id "$key_a" --key "$tmp/B.key" --reason "compromised" >"$tmp/revoke.out" 2>&1 ||
    fail "revoke: $(cat "$tmp/revoke.out")"
# A can still sign; what it signs from now on counts for nothing
p push --model "$model" --version v2 --weights "$tmp/v2.safetensors" --key "$tmp/A.key" \
    >"$tmp/push2.out" 2>&1
p push --model "$model" --version v3 --weights "$tmp/v3.safetensors" --key "$tmp/B.key" \
    >"$tmp/push3.out" 2>&1 || fail "push v3 with B: $(cat "$tmp/push3.out")"

c() { "$ctl" -b "$KFLEET_BROKERS" --control-topic "$topic" -K "$tmp/trusted.pub" "$@"; }
c audit --model "$model" >"$tmp/audit.txt" 2>&1
rc=$?
cat "$tmp/audit.txt"
grep "v1 published" "$tmp/audit.txt" | grep -q '\[' && fail "v1 (signed by A before the revocation) is flagged"
grep "enrolled for worker w0" "$tmp/audit.txt" | grep -q '\[' && fail "w0's enrolment (by A, before) is flagged"
if grep -q "v2 published" "$tmp/audit.txt"; then
    grep "v2 published" "$tmp/audit.txt" | grep -q 'revoked_key' ||
        fail "v2 (signed by A after the revocation) is not flagged revoked_key"
fi
((rc == 3)) || [[ $(grep -c "v2 published" "$tmp/audit.txt") == 0 ]] ||
    fail "audit exit $rc with a revoked-key event (want 3)"
c status --model "$model" >"$tmp/status.txt" 2>&1 || fail "status: $(cat "$tmp/status.txt")"
cat "$tmp/status.txt"
grep -q "v3" "$tmp/status.txt" || fail "the target is not v3"
grep -Eq "target[^a-z0-9]*v2|v2.*(target|rolling)" "$tmp/status.txt" && fail "v2 became the target"
echo "ok: v1 and w0's enrolment (A, before the revocation) valid; v2 (A, after) ignored; v3 (B) the target"
