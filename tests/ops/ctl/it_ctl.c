/* kfleetctl against the devstack's real Kafka (issue 8).
 *
 *   it_ctl KFLEETCTL lag|topics|cli
 *
 *   lag     a live group member with committed offsets on some partitions and
 *           not others: `kfleetctl lag --json` agrees with Kafka's own
 *           ConsumerGroupCommand (run from the devstack's jars) partition by
 *           partition — committed offset, log-end offset, lag, owning member
 *   topics  `topics create` makes the four topics with the required settings,
 *           is idempotent, and refuses an existing control topic with two
 *           partitions
 *   cli     usage errors exit 2 with a reason, an unreachable broker exits 1
 *           with a reason and does not hang, --watch redraws until SIGTERM
 *   audit   `audit --json` of events whose free text holds UTF-8 ("é", "日本")
 *           and control characters: every line parses with jansson, the
 *           strings come back byte for byte, and UTF-8 is written as it is
 *           (not escaped byte by byte, which corrupted it)
 *   unverified (issue 14) a model.published with a well-formed signature: without
 *           -K `audit` labels it "unverified" (never fine) and exits 3 unless
 *           --allow-unverified, `status` says signatures were not checked; with
 *           -K of its key it is ok and audit exits 0. A reason holding
 *           "\x1b[2J" reaches the human timeline escaped, never as the byte
 *           ESC, and byte for byte in --json
 * (audit, status and trace run after the fleet scenarios: tests/worker/kt_ctl.c.) */
#include "common/kf_clock.h"
#include "common/kio_consumer.h"
#include "common/kio_producer.h"
#include "schema/ctl_event.h"
#include "schema/ctl_sig.h"
#include "tests/common/kio_test_util.h"
#include "tests/lib/kf_test.h"
#include "tests/lib/kt_proc.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { PARTITIONS = 4 };

static const char *ctl_bin;
static char dir[] = "/tmp/kfleet-ctl-XXXXXX";

/* Run kfleetctl with @p args; its output in dir/@p name. */
static int ctl(const char *name, char *const *args, char *path, size_t size)
{
    char *argv[32] = {(char *)ctl_bin, "-b", (char *)kt_brokers()};
    int n = 3;
    for (int i = 0; args[i] && n < 31; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    snprintf(path, size, "%s/%s", dir, name);
    unlink(path);
    return kt_run(argv, path, 60);
}

/* One row of ConsumerGroupCommand --describe. */
struct kafka_row {
    bool seen;
    char current[32], log_end[32], lag[32], consumer[200];
};

static void kafka_describe(const char *group, const char *topic, struct kafka_row *rows)
{
    char path[300], cp[600];
    snprintf(path, sizeof(path), "%s/kafka-describe.txt", dir);
    snprintf(cp, sizeof(cp), "%s", kt_service_env("KFLEET_KAFKA_CLASSPATH"));
    char *argv[] = {"/usr/bin/env",
                    "java",
                    "-Xmx256m",
                    "-cp",
                    cp,
                    "org.apache.kafka.tools.consumer.group.ConsumerGroupCommand",
                    "--bootstrap-server",
                    (char *)kt_brokers(),
                    "--describe",
                    "--group",
                    (char *)group,
                    NULL};
    int rc = kt_run(argv, path, 120);
    char *text = kt_slurp(path);
    KT_ASSERT_MSG(rc == 0, "ConsumerGroupCommand exited %d:\n%s", rc, text);
    for (char *save = NULL, *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
        char g[200], t[200], cur[32], end[32], lag[32], cons[200];
        int p;
        if (sscanf(l, "%199s %199s %d %31s %31s %31s %199s", g, t, &p, cur, end, lag, cons) != 7 ||
            strcmp(g, group) || strcmp(t, topic) || p < 0 || p >= PARTITIONS)
            continue;
        struct kafka_row *r = &rows[p];
        r->seen = true;
        snprintf(r->current, sizeof(r->current), "%s", cur);
        snprintf(r->log_end, sizeof(r->log_end), "%s", end);
        snprintf(r->lag, sizeof(r->lag), "%s", lag);
        snprintf(r->consumer, sizeof(r->consumer), "%s", cons);
    }
    free(text);
}

static void str_of(json_t *v, char *out, size_t size)
{
    if (json_is_integer(v))
        snprintf(out, size, "%lld", (long long)json_integer_value(v));
    else if (json_is_string(v))
        snprintf(out, size, "%s", json_string_value(v));
    else
        snprintf(out, size, "-");
}

static void scenario_lag(void)
{
    char topic[128], group[128], path[300];
    kt_unique_name(topic, sizeof(topic), "ctl-lag");
    kt_unique_name(group, sizeof(group), "ctl-lag-group");
    kt_topic_create(topic, PARTITIONS, NULL);
    kt_track_group(group);
    kt_produce_ids(topic, 0, 400);

    /* A live member that commits 10, 20, 30 on partitions 0-2 and nothing on 3. */
    kio_consumer *kc = kt_group_member(group, topic, "ctl-lag-member");
    kio_tplist *as = NULL;
    for (int i = 0; i < 300 && (!as || as->count < PARTITIONS); i++) {
        kio_tplist_free(as), as = NULL;
        kio_msg *m = NULL;
        kio_consumer_poll(kc, 100, &m);
        kio_msg_free(m);
        kio_consumer_assignment(kc, &as);
    }
    KT_ASSERT_MSG(as && as->count == PARTITIONS, "the member never got its partitions");
    kio_tplist_free(as);
    kio_tplist *offs = kio_tplist_new(3);
    for (int p = 0; p < 3; p++)
        kio_tplist_add(offs, topic, p, 10 * (p + 1));
    KT_ASSERT_INT_EQ(kio_consumer_commit_offsets(kc, offs, false), 0);
    kio_tplist_free(offs);

    int rc =
        ctl("lag.json", (char *[]){"lag", "--json", "-G", group, "--requests-topic", topic, NULL},
            path, sizeof(path));
    char *text = kt_slurp(path);
    KT_ASSERT_MSG(rc == 0, "kfleetctl lag exited %d: %s", rc, text);
    struct kafka_row kafka[PARTITIONS] = {0};
    kafka_describe(group, topic, kafka);

    json_error_t jerr;
    json_t *j = json_loads(text, 0, &jerr);
    KT_ASSERT_MSG(j, "kfleetctl lag --json is not JSON: %s\n%s", jerr.text, text);
    json_t *parts = json_object_get(j, "partitions");
    KT_ASSERT_INT_EQ(json_array_size(parts), PARTITIONS);
    for (size_t i = 0; i < PARTITIONS; i++) {
        json_t *pj = json_array_get(parts, i);
        int p = (int)json_integer_value(json_object_get(pj, "partition"));
        KT_ASSERT_INT_EQ(p, (int)i);
        char cur[32], end[32], lag[32], member[200];
        str_of(json_object_get(pj, "committed"), cur, sizeof(cur));
        str_of(json_object_get(pj, "log_end"), end, sizeof(end));
        str_of(json_object_get(pj, "lag"), lag, sizeof(lag));
        str_of(json_object_get(pj, "member"), member, sizeof(member));
        const struct kafka_row *k = &kafka[p];
        printf("partition %d: kfleetctl %s/%s lag %s %s | kafka %s/%s lag %s %s\n", p, cur, end,
               lag, member, k->current, k->log_end, k->lag, k->consumer);
        KT_ASSERT_MSG(k->seen, "ConsumerGroupCommand did not list partition %d", p);
        KT_ASSERT_STR_EQ(cur, k->current);
        KT_ASSERT_STR_EQ(end, k->log_end);
        KT_ASSERT_STR_EQ(lag, k->lag);
        KT_ASSERT_STR_EQ(member, k->consumer);
    }
    KT_ASSERT_STR_EQ(kafka[3].current, "-"); /* the uncommitted partition, as both show it */
    json_decref(j);
    free(text);

    /* The human table has the same columns as Kafka's. */
    rc = ctl("lag.txt", (char *[]){"lag", "-G", group, "--requests-topic", topic, NULL}, path,
             sizeof(path));
    text = kt_slurp(path);
    KT_ASSERT_INT_EQ(rc, 0);
    KT_ASSERT(strstr(text, "CURRENT-OFFSET") && strstr(text, "LOG-END-OFFSET") &&
              strstr(text, "CONSUMER-ID") && strstr(text, "ctl-lag-member"));
    free(text);
    kio_consumer_close(kc, 10000);
    kio_consumer_free(kc);
}

static void scenario_topics(void)
{
    char base[128], names[4][160], path[300];
    kt_unique_name(base, sizeof(base), "ctl-topics");
    const char *kinds[] = {"req", "resp", "dlq", "ctl"};
    for (int i = 0; i < 4; i++)
        snprintf(names[i], sizeof(names[i]), "%s.%s", base, kinds[i]);
    char *args[] = {"--requests-topic",
                    names[0],
                    "--responses-topic",
                    names[1],
                    "--dlq-topic",
                    names[2],
                    "--control-topic",
                    names[3],
                    "topics",
                    "create",
                    "--partitions",
                    "6",
                    NULL};
    for (int round = 0; round < 2; round++) { /* the second: everything exists already */
        int rc = ctl("topics.txt", args, path, sizeof(path));
        char *text = kt_slurp(path);
        KT_ASSERT_MSG(rc == 0, "topics create (round %d) exited %d: %s", round, rc, text);
        free(text);
    }
    char err[512], v[64];
    KT_ASSERT_INT_EQ(kio_admin_topic_partitions(kt_admin(), names[0], 10000, err, sizeof(err)), 6);
    KT_ASSERT_INT_EQ(kio_admin_topic_partitions(kt_admin(), names[1], 10000, err, sizeof(err)), 6);
    KT_ASSERT_INT_EQ(kio_admin_topic_partitions(kt_admin(), names[3], 10000, err, sizeof(err)), 1);
    KT_ASSERT_INT_EQ(kio_admin_topic_config(kt_admin(), names[3], "retention.ms", v, sizeof(v),
                                            10000, err, sizeof(err)),
                     0);
    KT_ASSERT_STR_EQ(v, "-1");
    KT_ASSERT_INT_EQ(kio_admin_topic_config(kt_admin(), names[3], "message.timestamp.type", v,
                                            sizeof(v), 10000, err, sizeof(err)),
                     0);
    KT_ASSERT_STR_EQ(v, "LogAppendTime");

    /* A control topic someone made with two partitions would break the total order. */
    char bad[160];
    snprintf(bad, sizeof(bad), "%s.badctl", base);
    kt_topic_create(bad, 2, NULL);
    args[7] = bad;
    int rc = ctl("topics-bad.txt", args, path, sizeof(path));
    char *text = kt_slurp(path);
    KT_ASSERT_MSG(rc == 1 && strstr(text, "must have exactly 1"),
                  "a two-partition control topic: exit %d, %s", rc, text);
    printf("topics create: made, idempotent, refuses a bad control topic: %s", text);
    free(text);
}

static void expect(const char *name, char *const *args, int want_rc, const char *want_text)
{
    char path[300];
    int64_t t0 = kf_clock_mono_us();
    int rc = ctl(name, args, path, sizeof(path));
    char *text = kt_slurp(path);
    KT_ASSERT_MSG(rc == want_rc && strstr(text, want_text),
                  "%s: exit %d (want %d), output lacks '%s':\n%s", name, rc, want_rc, want_text,
                  text);
    printf("%-12s exit %d after %.1f s: %s", name, rc, (kf_clock_mono_us() - t0) / 1e6, text);
    free(text);
}

static void scenario_cli(void)
{
    expect("help", (char *[]){"-h", NULL}, 0, "Usage: kfleetctl");
    expect("nocmd", (char *[]){NULL}, 2, "Usage");
    expect("unknown", (char *[]){"frobnicate", NULL}, 2, "unknown command 'frobnicate'");
    expect("badfrom", (char *[]){"audit", "--from", "yesterday", NULL}, 2, "--from wants");
    expect("badpart", (char *[]){"trace", "--partition", "-3", "--offset", "1", NULL}, 2,
           "--partition wants");
    expect("notrace", (char *[]){"trace", NULL}, 2, "needs --partition");
    expect("badX", (char *[]){"-X", "novalue", "lag", NULL}, 2, "-X wants KEY=VALUE");
    expect("badkeys", (char *[]){"-K", "/nonexistent.pub", "audit", NULL}, 1, "trusted keys");
    expect("notopic", (char *[]){"--control-topic", "no.such.topic.kfleet", "audit", NULL}, 1,
           "no.such.topic.kfleet");
    /* Nothing listens on port 9: a reason, exit 1, within the round-trip bound. */
    char *down[] = {(char *)ctl_bin, "-b", "127.0.0.1:9", "--timeout-ms", "2000", "lag", NULL};
    char path[300];
    snprintf(path, sizeof(path), "%s/down.txt", dir);
    int rc = kt_run(down, path, 60);
    char *text = kt_slurp(path);
    KT_ASSERT_MSG(rc == 1 && strstr(text, "kfleetctl: "), "unreachable broker: exit %d, %s", rc,
                  text);
    printf("unreachable  exit 1: %s", text);
    free(text);

    /* --watch redraws until SIGTERM, then exits 0. */
    snprintf(path, sizeof(path), "%s/watch.txt", dir);
    char *watch[] = {
        (char *)ctl_bin, "-b", (char *)kt_brokers(), "lag", "--watch", "--interval", "1", NULL};
    pid_t pid = kt_spawn(watch, path);
    int tables = 0;
    for (int i = 0; i < 300 && tables < 2; i++) {
        kf_sleep_ms(100);
        text = kt_slurp(path);
        tables = 0;
        for (const char *p = text; (p = strstr(p, "LOG-END-OFFSET")); p++)
            tables++;
        free(text);
    }
    kill(pid, SIGTERM);
    rc = kt_wait(pid, 20);
    KT_ASSERT_MSG(tables >= 2 && rc == 0, "--watch: %d tables, exit %d after SIGTERM", tables, rc);
    printf("watch        %d tables, exit 0 on SIGTERM\n", tables);
}

/* Text an operator or a worker may put in an event: accents, CJK, a quote,
 * a backslash, a tab, a newline and the other C0 controls JSON must escape. */
static const char AUDIT_REASON[] =
    "rollback: caf\u00e9 \u65e5\u672c \"q\" \\ tab\tnl\n\x01\x1f end";
static const char AUDIT_HOST[] = "h\u00f4te-\u65e5\u672c";

static void produce_raw(kio_producer *kp, const char *topic, const void *value, size_t len)
{
    struct kio_out_msg m = {
        .topic = topic, .partition = 0, .value = (void *)value, .value_len = len};
    KT_ASSERT_INT_EQ(kio_producer_send(kp, &m, KIO_SEND_COPY | KIO_SEND_BLOCK), 0);
}

static void produce_event(kio_producer *kp, const char *topic, const struct ctl_event *ev)
{
    kf_buf b;
    kf_buf_init(&b);
    char err[256];
    KT_ASSERT_MSG(!ctl_event_encode(ev, &b, err, sizeof(err)), "encode: %s", err);
    produce_raw(kp, topic, b.ptr, b.len);
    kf_buf_fini(&b);
}

/* The string member @p key of @p j, which must be present. */
static const char *jstr(json_t *j, const char *key)
{
    const char *v = json_string_value(json_object_get(j, key));
    KT_ASSERT_MSG(v, "audit --json: no string \"%s\"", key);
    return v;
}

static void scenario_audit(void)
{
    char topic[128], err[512], path[300];
    kt_unique_name(topic, sizeof(topic), "ctl-audit-utf8");
    kt_topic_create(topic, 1, NULL);
    struct kio_opts ko = kt_opts("kfleet-test-ctl-audit");
    kio_producer *kp = kio_producer_new(&ko, NULL, err, sizeof(err));
    KT_ASSERT_MSG(kp, "%s", err);

    struct ctl_event ev;
    ctl_event_init(&ev, CTL_WORKER_JOINED);
    strcpy(ev.event_id, "evt-utf8-1");
    strcpy(ev.worker, "w-utf8");
    strcpy(ev.host, AUDIT_HOST);
    strcpy(ev.backend, "ref");
    strcpy(ev.device, "cpu \u00e9");
    produce_event(kp, topic, &ev);
    ctl_event_init(&ev, CTL_WORKER_LEFT);
    strcpy(ev.event_id, "evt-utf8-2");
    strcpy(ev.worker, "w-utf8");
    strcpy(ev.reason, AUDIT_REASON);
    produce_event(kp, topic, &ev);
    /* Not UTF-8 at all: undecodable, and its line must still be JSON. */
    static const char bad[] = "{\"v\":1,\"type\":\"worker.left\",\"reason\":\"\xff\xfe\"}";
    produce_raw(kp, topic, bad, sizeof(bad) - 1);
    KT_ASSERT_INT_EQ(kio_producer_flush(kp, 30000), 0);
    kio_producer_free(kp);

    int rc = ctl("audit.jsonl", (char *[]){"--control-topic", topic, "audit", "--json", NULL}, path,
                 sizeof(path));
    char *text = kt_slurp(path);
    /* 3: the undecodable event is flagged */
    KT_ASSERT_MSG(rc == 3, "audit --json exited %d:\n%s", rc, text);
    KT_ASSERT_MSG(strstr(text, "\u65e5\u672c") && strstr(text, "caf\u00e9"),
                  "UTF-8 is not written as it is:\n%s", text);
    char want_joined[256];
    snprintf(want_joined, sizeof(want_joined), "w-utf8 joined (ref on cpu \u00e9, %s)", AUDIT_HOST);
    int lines = 0;
    bool joined = false, left = false, malformed = false;
    for (char *save = NULL, *line = strtok_r(text, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save)) {
        json_error_t jerr;
        json_t *j = json_loads(line, 0, &jerr);
        KT_ASSERT_MSG(j, "line %d is not JSON (%s): %s", lines + 1, jerr.text, line);
        const char *type = jstr(j, "type");
        if (!strcmp(type, "worker.joined")) {
            KT_ASSERT_STR_EQ(jstr(j, "text"), want_joined);
            joined = true;
        } else if (!strcmp(type, "worker.left")) {
            KT_ASSERT_STR_EQ(jstr(j, "reason"), AUDIT_REASON);
            char want[700];
            snprintf(want, sizeof(want), "w-utf8 left (%s)", AUDIT_REASON);
            KT_ASSERT_STR_EQ(jstr(j, "text"), want);
            left = true;
        } else if (!strcmp(type, "malformed")) {
            KT_ASSERT_STR_EQ(jstr(j, "flag"), "MALFORMED");
            malformed = true;
        }
        json_decref(j);
        lines++;
    }
    KT_ASSERT_MSG(lines == 3 && joined && left && malformed,
                  "audit --json: %d lines (joined %d, left %d, malformed %d)", lines, joined, left,
                  malformed);
    printf("audit --json: 3 lines, UTF-8 and control characters round-trip exactly\n");
    free(text);
}

static void produce_signed(kio_producer *kp, const char *topic, const struct ctl_event *ev,
                           const struct crypto_ed25519_key *key)
{
    kf_buf b, sig;
    kf_buf_init(&b);
    kf_buf_init(&sig);
    char err[256];
    KT_ASSERT_MSG(!ctl_event_encode(ev, &b, err, sizeof(err)), "encode: %s", err);
    KT_ASSERT(!ctl_sig_sign(key, b.ptr, b.len, &sig));
    struct kio_header h = {.name = CTL_SIG_HEADER, .value = {sig.ptr, sig.len}};
    struct kio_out_msg m = {.topic = topic,
                            .partition = 0,
                            .value = b.ptr,
                            .value_len = b.len,
                            .headers = &h,
                            .header_count = 1};
    KT_ASSERT_INT_EQ(kio_producer_send(kp, &m, KIO_SEND_COPY | KIO_SEND_BLOCK), 0);
    kf_buf_fini(&b);
    kf_buf_fini(&sig);
}

/* Run kfleetctl; its output (stdout and stderr) into @p text (new, free()). */
static int ctl_text(const char *name, char *const *args, char **text)
{
    char path[300];
    int rc = ctl(name, args, path, sizeof(path));
    *text = kt_slurp(path);
    return rc;
}

static void scenario_unverified(void)
{
    char topic[128], err[512], base[300], pub[320];
    kt_unique_name(topic, sizeof(topic), "ctl-unverified");
    kt_topic_create(topic, 1, NULL);
    struct crypto_ed25519_key key;
    KT_ASSERT(!crypto_ed25519_keygen(&key));
    snprintf(base, sizeof(base), "%s/release", dir);
    KT_ASSERT_MSG(!crypto_ed25519_save(&key, base, err, sizeof(err)), "%s", err);
    snprintf(pub, sizeof(pub), "%s.pub", base);

    struct kio_opts ko = kt_opts("kfleet-test-ctl-unverified");
    kio_producer *kp = kio_producer_new(&ko, NULL, err, sizeof(err));
    KT_ASSERT_MSG(kp, "%s", err);
    struct ctl_event ev;
    ctl_event_init(&ev, CTL_MODEL_PUBLISHED);
    strcpy(ev.event_id, "evt-unverified-1");
    strcpy(ev.model, "m-signed");
    strcpy(ev.version, "v1");
    ev.seq = 1;
    strcpy(ev.manifest.bucket, "kfleet");
    strcpy(ev.manifest.key, "models/m-signed/v1/manifest.json");
    memset(ev.manifest.sha256, 'b', 64);
    ev.manifest.size = 100;
    ctl_strategy_default(&ev.strategy);
    produce_signed(kp, topic, &ev, &key);
    ctl_event_init(&ev, CTL_WORKER_LEFT);
    strcpy(ev.event_id, "evt-unverified-2");
    strcpy(ev.worker, "w-esc");
    strcpy(ev.reason, "bye \x1b[2J\x1b[Hclean \xc2\x9b"
                      "31m");
    produce_event(kp, topic, &ev);
    KT_ASSERT_INT_EQ(kio_producer_flush(kp, 30000), 0);
    kio_producer_free(kp);

    /* no -K: unverified, exit 3, and says how to accept that */
    char *text;
    int rc =
        ctl_text("audit-nokey.txt", (char *[]){"--control-topic", topic, "audit", NULL}, &text);
    KT_ASSERT_MSG(rc == 3 && strstr(text, "[unverified]") && strstr(text, "1 unverified") &&
                      strstr(text, "--allow-unverified") && !strstr(text, "[ok]"),
                  "audit without -K: exit %d\n%s", rc, text);
    /* the terminal sees the escape written out, never the byte */
    KT_ASSERT_MSG(!strchr(text, 0x1b) && !strstr(text, "\xc2\x9b") &&
                      strstr(text, "bye \\x1b[2J\\x1b[Hclean \\u009b31m"),
                  "control characters reach the terminal:\n%s", text);
    printf("audit, no -K: exit 3, signed event [unverified], ESC shown as \\x1b:\n%s", text);
    free(text);
    rc = ctl_text("audit-allow.txt",
                  (char *[]){"--control-topic", topic, "audit", "--allow-unverified", NULL}, &text);
    KT_ASSERT_MSG(rc == 0 && strstr(text, "[unverified]"), "audit --allow-unverified: exit %d\n%s",
                  rc, text);
    free(text);
    rc = ctl_text("audit-nokey.jsonl",
                  (char *[]){"--control-topic", topic, "audit", "--json", NULL}, &text);
    KT_ASSERT_MSG(rc == 3, "audit --json without -K: exit %d\n%s", rc, text);
    bool seen = false;
    for (char *save = NULL, *line = strtok_r(text, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save)) {
        json_t *j = json_loads(line, 0, NULL);
        if (!j)
            continue; /* the stderr line */
        if (!strcmp(jstr(j, "type"), "model.published")) {
            KT_ASSERT_STR_EQ(jstr(j, "signature"), "unverified");
            KT_ASSERT_STR_EQ(jstr(j, "flag"), "unverified");
            seen = true;
        } else if (!strcmp(jstr(j, "type"), "worker.left")) {
            KT_ASSERT_STR_EQ(jstr(j, "reason"), ev.reason); /* JSON keeps the bytes */
        }
        json_decref(j);
    }
    KT_ASSERT_MSG(seen, "no model.published line in audit --json");
    free(text);

    /* with its key: ok, exit 0 (the worker.left above is unsigned: it carries
     * the escape text, and this test has no enrolled worker key) */
    rc = ctl_text(
        "audit-key.txt",
        (char *[]){"-K", pub, "--allow-unsigned-workers", "--control-topic", topic, "audit", NULL},
        &text);
    KT_ASSERT_MSG(rc == 0 && !strstr(text, "unverified") && strstr(text, "0 flagged"),
                  "audit -K: exit %d\n%s", rc, text);
    free(text);

    /* status: says so without -K, not with it */
    rc = ctl_text("status-nokey.txt",
                  (char *[]){"--control-topic", topic, "status", "-G", "kfleet-test-none", NULL},
                  &text);
    KT_ASSERT_MSG(rc == 0 && strstr(text, "signatures not checked"), "status without -K:\n%s",
                  text);
    free(text);
    rc = ctl_text(
        "status-nokey.json",
        (char *[]){"--control-topic", topic, "status", "--json", "-G", "kfleet-test-none", NULL},
        &text);
    KT_ASSERT_MSG(rc == 0 && strstr(text, "\"signatures_verified\":false"),
                  "status --json without -K:\n%s", text);
    free(text);
    rc = ctl_text(
        "status-key.txt",
        (char *[]){"-K", pub, "--control-topic", topic, "status", "-G", "kfleet-test-none", NULL},
        &text);
    KT_ASSERT_MSG(rc == 0 && !strstr(text, "signatures not checked") && strstr(text, "m-signed"),
                  "status -K:\n%s", text);
    free(text);
    printf("unverified: audit exit 3 / 0 with --allow-unverified / 0 with -K; status says "
           "\"signatures not checked\" only without -K\n");
}

int main(int argc, char **argv)
{
    if (argc < 3)
        return KF_TEST_HARD_ERROR;
    ctl_bin = argv[1];
    kt_brokers(); /* skips (77) or fails (99) without the devstack */
    KT_ASSERT(mkdtemp(dir));
    if (!strcmp(argv[2], "lag"))
        scenario_lag();
    else if (!strcmp(argv[2], "topics"))
        scenario_topics();
    else if (!strcmp(argv[2], "cli"))
        scenario_cli();
    else if (!strcmp(argv[2], "audit"))
        scenario_audit();
    else if (!strcmp(argv[2], "unverified"))
        scenario_unverified();
    else
        return KF_TEST_HARD_ERROR;
    char cmd[400];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    KT_ASSERT_INT_EQ(system(cmd), 0);
    return 0;
}
