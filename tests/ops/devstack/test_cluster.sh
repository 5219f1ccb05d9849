#!/usr/bin/env bash
# The devstack's cluster mode and its broker fault controls (issue 12):
#   up --cluster (twice) -> topics have RF 3 and min.insync.replicas=2 ->
#   produce with acks=all and consume -> SIGKILL the node that leads the
#   partition (stop-broker N --kill) -> another node leads, and acks=all still
#   succeeds on the two left -> every record reads back once -> start-broker N
#   (it rejoins the ISR) -> down --cluster leaves none of its processes.
# A cluster that was already up is left up (with every node started again).
# Exit 77 without Java (99 with KFLEET_REQUIRE_SERVICES=1).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../../.." && pwd)
devstack=$repo/ops/devstack

say() { printf 'test_cluster: %s\n' "$*" >&2; }
fail() {
    say "FAIL: $*"
    exit 1
}
if ! command -v java >/dev/null; then
    [[ ${KFLEET_REQUIRE_SERVICES:-0} == 1 ]] && {
        say "no java, and KFLEET_REQUIRE_SERVICES=1"
        exit 99
    }
    say "SKIP: no java"
    exit 77
fi

eval "$("$devstack" env)"
eval "$("$devstack" env --cluster)"
B=$KFLEET_CLUSTER_BROKERS
TOPIC=kfleet.devstack.selftest.$$
errs=$(mktemp)
tools_log4j=$KFLEET_DEVSTACK_DIR/kafka/tools-log4j.properties
tool() { # class args...
    local cls=$1
    shift
    timeout 180 java -Xmx256m -Dlog4j.configuration="file:$tools_log4j" \
        -cp "$KFLEET_KAFKA_CLASSPATH" "$cls" "$@"
}

was_up=0
"$devstack" status --cluster >/dev/null 2>&1 && was_up=1
victim=""
cleanup() {
    if ((was_up)); then
        [[ -n $victim ]] && "$devstack" start-broker "$victim" || true
        tool org.apache.kafka.tools.TopicCommand --bootstrap-server "$B" --delete \
            --topic "$TOPIC" >/dev/null 2>&1 || true
    else
        "$devstack" down --cluster || true
    fi
    rm -f "$errs"
}
trap cleanup EXIT

t0=$SECONDS
"$devstack" up --cluster || fail "up --cluster"
say "up --cluster: $((SECONDS - t0))s"
"$devstack" up --cluster || fail "up --cluster a second time"
"$devstack" status --cluster || fail "status --cluster after up"
pids=$(cat "$KFLEET_DEVSTACK_DIR"/cluster/*.pid)

desc=$(tool org.apache.kafka.tools.TopicCommand --bootstrap-server "$B" --describe \
    --topic "$KFLEET_TOPIC_REQUESTS")
grep -q 'PartitionCount: 8.*ReplicationFactor: 3.*min.insync.replicas=2' <<<"$desc" ||
    fail "kfleet.requests is not 8 partitions, RF 3, min.insync.replicas=2: $desc"
tool org.apache.kafka.tools.TopicCommand --bootstrap-server "$B" --describe \
    --topic "$KFLEET_TOPIC_CONTROL" | grep -q 'ReplicationFactor: 3.*retention.ms=-1' ||
    fail "kfleet.control is not RF 3 with retention.ms=-1"

tool org.apache.kafka.tools.TopicCommand --bootstrap-server "$B" --create --if-not-exists \
    --topic "$TOPIC" --partitions 1 --replication-factor 3 >/dev/null || fail "create $TOPIC"

produce() { # tag count: acks=all, one synchronous send at a time
    local tag=$1 n=$2
    # ConsoleProducer lingers 1 s per send unless told otherwise.
    seq 1 "$n" | sed "s/^/$tag-/" |
        tool kafka.tools.ConsoleProducer --bootstrap-server "$B" --topic "$TOPIC" --sync \
            --producer-property acks=all --producer-property enable.idempotence=true \
            --producer-property linger.ms=0 2>"$errs" || {
        tail -n 20 "$errs" >&2
        return 1
    }
}
consume_all() { # count
    tool org.apache.kafka.tools.consumer.ConsoleConsumer --bootstrap-server "$B" \
        --topic "$TOPIC" --partition 0 --offset earliest --max-messages "$1" \
        --timeout-ms 30000 2>/dev/null || true
}

run=r$$
produce "$run-a" 100 || fail "acks=all produce with 3 nodes"
leader=$("$devstack" leader-of "$TOPIC" 0 --cluster) || fail "leader-of"
say "$TOPIC/0 is led by node $leader; killing it"
victim=$leader
"$devstack" stop-broker "$leader" --kill || fail "stop-broker $leader --kill"
"$devstack" status --cluster >/dev/null && fail "status --cluster says all up with node $leader killed"

t1=$SECONDS
produce "$run-b" 100 || fail "acks=all produce with node $leader down"
say "100 acks=all records on the two nodes left in $((SECONDS - t1))s"
now=$("$devstack" leader-of "$TOPIC" 0 --cluster) || fail "leader-of after the kill"
[[ $now != "$leader" ]] || fail "node $leader still leads after it was killed"
say "node $now leads now"

got=$(consume_all 200 | sort)
want=$( (seq 1 100 | sed "s/^/$run-a-/" && seq 1 100 | sed "s/^/$run-b-/") | sort)
[[ $got == "$want" ]] ||
    fail "read back $(wc -l <<<"$got") records of this run, want the 200 sent exactly once"

t2=$SECONDS
"$devstack" start-broker "$leader" || fail "start-broker $leader"
say "start-broker $leader: $((SECONDS - t2))s"
victim=""
"$devstack" status --cluster || fail "status --cluster after start-broker"
for _ in $(seq 1 60); do
    isr=$(tool org.apache.kafka.tools.TopicCommand --bootstrap-server "$B" --describe \
        --topic "$TOPIC" | sed -n 's/.*Isr: \([0-9,]*\).*/\1/p')
    [[ $(tr ',' '\n' <<<"$isr" | grep -c .) -eq 3 ]] && break
    sleep 1
done
[[ $(tr ',' '\n' <<<"$isr" | grep -c .) -eq 3 ]] || fail "node $leader did not rejoin the ISR ($isr)"
produce "$run-c" 10 || fail "acks=all produce after the restart"
say "node $leader is back in the ISR ($isr)"
tool org.apache.kafka.tools.TopicCommand --bootstrap-server "$B" --delete --topic "$TOPIC" >/dev/null ||
    fail "delete $TOPIC"

if ((was_up)); then
    say "the cluster was up before this test: left up"
    exit 0
fi
pids="$pids $(cat "$KFLEET_DEVSTACK_DIR"/cluster/*.pid)"
trap - EXIT
"$devstack" down --cluster || fail "down --cluster"
for p in $pids; do
    kill -0 "$p" 2>/dev/null && fail "cluster process $p still running after down --cluster"
done
[[ -z $(ls "$KFLEET_DEVSTACK_DIR"/cluster/*.pid 2>/dev/null) ]] || fail "pid files left after down"
"$devstack" status >/dev/null || fail "down --cluster touched the default devstack"
say "ok"
