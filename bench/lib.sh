# bench/lib.sh — what the benchmark scripts share; source it after setting
# `build` (the build directory). Needs ops/devstack up and its env.

# bench_topic NAME PARTITIONS [CONFIG...]: create a topic on the devstack
# (replication 1), quietly; CONFIG items are key=value topic settings.
bench_topic() {
    local name=$1 parts=$2
    shift 2
    local cfg=()
    for c in "$@"; do cfg+=(--config "$c"); done
    bench_java org.apache.kafka.tools.TopicCommand --bootstrap-server "$KFLEET_BROKERS" --create \
        --if-not-exists --topic "$name" --partitions "$parts" --replication-factor 1 \
        "${cfg[@]}" >/dev/null
}

# bench_control_topic NAME: the control topic's settings (ARCHITECTURE §2).
bench_control_topic() {
    bench_topic "$1" 1 retention.ms=-1 message.timestamp.type=LogAppendTime
}

# bench_java CLASS ARGS...: one of the devstack's Kafka tools.
bench_java() {
    java -Xmx256m -Dlog4j.configuration="file:$KFLEET_DEVSTACK_DIR/kafka/tools-log4j.properties" \
        -cp "$KFLEET_KAFKA_CLASSPATH" "$@"
}

# bench_p99 "CLIENT SUMMARY": the p99 (ms) from kfleet-client's summary line.
bench_p99() { awk '{ for (i = 1; i < NF; i++) if ($i == "p99") print $(i + 1) }' <<<"$1"; }

# bench_num "CLIENT SUMMARY" KEY: the number after KEY (sent, missing, ...).
bench_num() { awk -v k="$2" '{ for (i = 1; i < NF; i++) if ($i == k) print $(i + 1) }' <<<"$1" | tr -d ','; }

# bench_enroll WORKER_ID CONTROL_TOPIC RELEASE_KEY DIR: a key for the worker
# (DIR/WORKER_ID.key), enrolled on the control topic by the release key
# (docs/security.md: workers sign their events and the fleet requires it).
bench_enroll() {
    local id=$1 topic=$2 release=$3 dir=$4
    "$build/publisher/publish-model" keygen -o "$dir/$id" >/dev/null
    "$build/publisher/publish-model" enroll -b "$KFLEET_BROKERS" --control-topic "$topic" \
        --worker "$id" --worker-pub "$dir/$id.pub" --key "$release" --reason bench >/dev/null
}

# bench_pub CONTROL_TOPIC ARGS...: publish-model ARGS on the devstack's control
# topic CONTROL_TOPIC; its summary on stdout, its stderr only on a failure.
bench_pub() {
    local topic=$1
    shift
    local err
    err=$(mktemp)
    "$build/publisher/publish-model" "$@" -b "$KFLEET_BROKERS" --control-topic "$topic" 2>"$err" ||
        { cat "$err" >&2; rm -f "$err"; return 1; }
    rm -f "$err"
}
