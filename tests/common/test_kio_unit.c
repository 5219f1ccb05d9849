/* kio without a real broker: the error table, partition lists, property
 * errors, and librdkafka's mock cluster for a produce/consume round trip and
 * for faults a real broker cannot be told to make (all brokers down).
 *
 * This test (kio's own) includes librdkafka's headers, to run the mock
 * cluster and to check the translation table; kio's users never do. */
#include "common/kf_conf.h"
#include "common/kf_clock.h"
#include "common/kf_err.h"
#include "common/kio_admin.h"
#include "common/kio_consumer.h"
#include "common/kio_impl.h"
#include "common/kio_producer.h"
#include "tests/lib/kf_test.h"

#include <librdkafka/rdkafka_mock.h>

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void test_err_table(void)
{
    KT_ASSERT_INT_EQ(kio_err_from_rd(RD_KAFKA_RESP_ERR_NO_ERROR), 0);
    KT_ASSERT_INT_EQ(kio_err_from_rd(RD_KAFKA_RESP_ERR__MSG_TIMED_OUT), -ETIMEDOUT);
    KT_ASSERT_INT_EQ(kio_err_from_rd(RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN), -ECONNREFUSED);
    KT_ASSERT_INT_EQ(kio_err_from_rd(RD_KAFKA_RESP_ERR__TRANSPORT), -ECONNRESET);
    KT_ASSERT_INT_EQ(kio_err_from_rd(RD_KAFKA_RESP_ERR__RESOLVE), -EHOSTUNREACH);
    KT_ASSERT_INT_EQ(kio_err_from_rd(RD_KAFKA_RESP_ERR__QUEUE_FULL), -EAGAIN);
    KT_ASSERT_INT_EQ(kio_err_from_rd(RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION), -EAGAIN);
    KT_ASSERT_INT_EQ(kio_err_from_rd(RD_KAFKA_RESP_ERR_REBALANCE_IN_PROGRESS), -EAGAIN);
    KT_ASSERT_INT_EQ(kio_err_from_rd(RD_KAFKA_RESP_ERR_ILLEGAL_GENERATION), -ESTALE);
    KT_ASSERT_INT_EQ(kio_err_from_rd(RD_KAFKA_RESP_ERR_UNKNOWN_MEMBER_ID), -ESTALE);
    KT_ASSERT_INT_EQ(kio_err_from_rd(RD_KAFKA_RESP_ERR__STATE), -ESTALE);
    KT_ASSERT_INT_EQ(kio_err_from_rd(RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART), -ENOENT);
    KT_ASSERT_INT_EQ(kio_err_from_rd(RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION), -ENOENT);
    KT_ASSERT_INT_EQ(kio_err_from_rd(RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS), -EEXIST);
    KT_ASSERT_INT_EQ(kio_err_from_rd(RD_KAFKA_RESP_ERR_SASL_AUTHENTICATION_FAILED), -EACCES);
    KT_ASSERT_INT_EQ(kio_err_from_rd(RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED), -EACCES);
    KT_ASSERT_INT_EQ(kio_err_from_rd(RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE), -EMSGSIZE);
    KT_ASSERT_INT_EQ(kio_err_from_rd(RD_KAFKA_RESP_ERR_INVALID_CONFIG), -EINVAL);
    KT_ASSERT_INT_EQ(kio_err_from_rd(RD_KAFKA_RESP_ERR__PURGE_QUEUE), -ECANCELED);
    KT_ASSERT_INT_EQ(kio_err_from_rd(RD_KAFKA_RESP_ERR__FATAL), -ENOTRECOVERABLE);
    KT_ASSERT_INT_EQ(kio_err_from_rd(RD_KAFKA_RESP_ERR_PRODUCER_FENCED), -ENOTRECOVERABLE);
    KT_ASSERT_INT_EQ(kio_err_from_rd(RD_KAFKA_RESP_ERR_NON_EMPTY_GROUP), -EBUSY);
    KT_ASSERT_INT_EQ(kio_err_from_rd(RD_KAFKA_RESP_ERR_UNKNOWN), -EIO);
    KT_ASSERT(kio_err_is_fatal(-ENOTRECOVERABLE));
    KT_ASSERT(!kio_err_is_fatal(-ETIMEDOUT));
    /* the classes the caller acts on */
    KT_ASSERT(kf_err_is_retriable(kio_err_from_rd(RD_KAFKA_RESP_ERR__TRANSPORT)));
    KT_ASSERT(kf_err_is_retriable(kio_err_from_rd(RD_KAFKA_RESP_ERR__QUEUE_FULL)));
    KT_ASSERT(!kf_err_is_retriable(kio_err_from_rd(RD_KAFKA_RESP_ERR_UNKNOWN_MEMBER_ID)));
    /* every code librdkafka knows maps to something negative */
    const struct rd_kafka_err_desc *descs;
    size_t n;
    rd_kafka_get_err_descs(&descs, &n);
    for (size_t i = 0; i < n; i++) {
        if (!descs[i].name || descs[i].code == RD_KAFKA_RESP_ERR_NO_ERROR)
            continue;
        KT_ASSERT_MSG(kio_err_from_rd(descs[i].code) < 0, "%s maps to %d", descs[i].name,
                      kio_err_from_rd(descs[i].code));
    }
    KT_ASSERT(strlen(kio_version_str()) > 0);
}

static void test_tplist(void)
{
    kio_tplist *l = kio_tplist_new(0);
    KT_ASSERT(l);
    KT_ASSERT_INT_EQ(kio_tplist_add(l, "b", 1, 10), 0);
    KT_ASSERT_INT_EQ(kio_tplist_add(l, "a", 7, KIO_OFFSET_BEGINNING), 0);
    for (int p = 0; p < 20; p++)
        KT_ASSERT_INT_EQ(kio_tplist_add(l, "b", 21 - p, p), 0);
    KT_ASSERT_INT_EQ(kio_tplist_add(l, NULL, 1, 0), -EINVAL);
    KT_ASSERT_INT_EQ(kio_tplist_add(l, "x", -1, 0), -EINVAL);
    KT_ASSERT_INT_EQ(l->count, 22);
    struct kio_tp *tp = kio_tplist_find(l, "a", 7);
    KT_ASSERT(tp && tp->offset == KIO_OFFSET_BEGINNING && tp->err == 0);
    KT_ASSERT(!kio_tplist_find(l, "a", 8));
    kio_tplist *c = kio_tplist_copy(l);
    KT_ASSERT(c && c->count == l->count);
    kio_tplist_sort(c);
    KT_ASSERT_STR_EQ(c->elems[0].topic, "a");
    for (size_t i = 2; i < c->count; i++)
        KT_ASSERT(c->elems[i - 1].partition < c->elems[i].partition);
    /* the copy owns its own strings */
    kio_tplist_free(l);
    KT_ASSERT_STR_EQ(c->elems[1].topic, "b");
    /* round trip through librdkafka's list */
    rd_kafka_topic_partition_list_t *rl = kio_tplist_to_rd(c);
    KT_ASSERT(rl && rl->cnt == (int)c->count);
    kio_tplist *back = kio_tplist_from_rd(rl);
    KT_ASSERT(back && back->count == c->count);
    for (size_t i = 0; i < c->count; i++) {
        KT_ASSERT_STR_EQ(back->elems[i].topic, c->elems[i].topic);
        KT_ASSERT_INT_EQ(back->elems[i].partition, c->elems[i].partition);
        KT_ASSERT_INT_EQ(back->elems[i].offset, c->elems[i].offset);
    }
    rd_kafka_topic_partition_list_destroy(rl);
    kio_tplist_free(back);
    kio_tplist_free(c);
    kio_tplist_free(NULL);
    KT_ASSERT(kio_tplist_copy(NULL) == NULL);
}

static void test_bad_properties(void)
{
    char err[512] = "";
    const char *const props[] = {"linger.ms", "soon", NULL};
    struct kio_opts o = {.brokers = "127.0.0.1:1", .props = props};
    KT_ASSERT(kio_producer_new(&o, NULL, err, sizeof(err)) == NULL);
    KT_ASSERT_MSG(strstr(err, "linger.ms"), "error names the property: %s", err);

    /* kafka.* from a kf_conf reaches librdkafka, which rejects what it does not know */
    kf_conf *conf = kf_conf_new(NULL, 0, err, sizeof(err));
    KT_ASSERT(conf);
    KT_ASSERT_INT_EQ(kf_conf_set(conf, "kafka.no.such.property", "1", err, sizeof(err)), 0);
    o = (struct kio_opts){.brokers = "127.0.0.1:1", .conf = conf};
    KT_ASSERT(kio_consumer_new(&o, NULL, err, sizeof(err)) == NULL);
    KT_ASSERT_MSG(strstr(err, "kafka.*") && strstr(err, "no.such.property"), "%s", err);
    KT_ASSERT(kio_admin_new(&o, err, sizeof(err)) == NULL);
    kf_conf_free(conf);

    const char *const odd[] = {"linger.ms", NULL};
    o = (struct kio_opts){.brokers = "127.0.0.1:1", .props = odd};
    KT_ASSERT(kio_producer_new(&o, NULL, err, sizeof(err)) == NULL);
    KT_ASSERT(kio_producer_new(NULL, NULL, err, sizeof(err)) == NULL);
    kio_producer_free(NULL);
    kio_consumer_free(NULL);
    kio_admin_free(NULL);
    kio_msg_free(NULL);
}

/* ---- the mock cluster ---- */

static rd_kafka_t *mock_rk;
static rd_kafka_mock_cluster_t *mock;
static const char *mock_brokers;

static void mock_start(int brokers)
{
    char err[256];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "log_level", "3", err, sizeof(err));
    mock_rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
    KT_ASSERT_MSG(mock_rk, "mock host: %s", err);
    mock = rd_kafka_mock_cluster_new(mock_rk, brokers);
    KT_ASSERT(mock);
    mock_brokers = rd_kafka_mock_cluster_bootstraps(mock);
}

static void mock_stop(void)
{
    rd_kafka_mock_cluster_destroy(mock);
    rd_kafka_destroy(mock_rk);
    mock = NULL;
    mock_rk = NULL;
}

struct dr_state {
    int delivered, failed, last_err;
    int borrowed_back; /* BORROW payloads handed back by their report */
    int stats;
    int errors, last_error;
};

static void on_dr(void *opaque, const struct kio_delivery *dr)
{
    struct dr_state *s = opaque;
    if (dr->err) {
        s->failed++;
        s->last_err = dr->err;
        KT_ASSERT(dr->offset == KIO_OFFSET_INVALID);
        KT_ASSERT(dr->errstr && *dr->errstr);
    } else {
        s->delivered++;
        KT_ASSERT(dr->offset >= 0);
    }
    if (dr->opaque == (void *)1) {
        /* a borrowed payload: the report gives it back; free it here */
        KT_ASSERT(dr->value.ptr);
        free((void *)dr->value.ptr);
        s->borrowed_back++;
    }
}

static void on_stats(void *opaque, const char *json, size_t len)
{
    struct dr_state *s = opaque;
    KT_ASSERT(len > 2 && json[0] == '{' && json[len] == '\0');
    s->stats++;
}

static void on_error(void *opaque, int err, bool fatal, const char *reason)
{
    struct dr_state *s = opaque;
    KT_ASSERT(err < 0 && reason);
    KT_ASSERT(!fatal);
    s->errors++;
    s->last_error = err;
}

static void test_mock_roundtrip(void)
{
    enum { N = 300 };
    mock_start(3);
    KT_ASSERT_INT_EQ(rd_kafka_mock_topic_create(mock, "mt", 4, 1), RD_KAFKA_RESP_ERR_NO_ERROR);
    char err[512];
    struct dr_state st = {0};
    struct kio_opts po = {.brokers = mock_brokers,
                          .client_id = "kio-unit",
                          .stats_cb = on_stats,
                          .stats_interval_ms = 100,
                          .opaque = &st};
    kio_producer *kp = kio_producer_new(&po, on_dr, err, sizeof(err));
    KT_ASSERT_MSG(kp, "%s", err);
    int borrowed = 0;
    for (int i = 0; i < N; i++) {
        char key[32], val[64], idx[16];
        snprintf(key, sizeof(key), "key-%d", i);
        snprintf(idx, sizeof(idx), "%d", i);
        int vlen = snprintf(val, sizeof(val), "value-%d", i);
        struct kio_header h[2] = {KIO_HEADER_STR("kfleet-idx", idx),
                                  {.name = "empty", .value = {NULL, 0}}};
        struct kio_out_msg m = {.topic = "mt",
                                .partition = KIO_PARTITION_ANY,
                                .key = {(const uint8_t *)key, strlen(key)},
                                .headers = h,
                                .header_count = 2};
        int flags;
        switch (i % 3) {
        case 0: /* copied */
            m.value = val;
            m.value_len = (size_t)vlen;
            flags = KIO_SEND_COPY;
            break;
        case 1: /* handed over, freed by kio after the report */
            m.value = strdup(val);
            m.value_len = (size_t)vlen;
            flags = KIO_SEND_FREE;
            break;
        default: /* borrowed, handed back in the report */
            m.value = strdup(val);
            m.value_len = (size_t)vlen;
            m.opaque = (void *)1;
            flags = KIO_SEND_BORROW;
            borrowed++;
            break;
        }
        KT_ASSERT_INT_EQ(kio_producer_send(kp, &m, flags | KIO_SEND_BLOCK), 0);
    }
    struct kio_out_msg bad = {.topic = "mt", .value = "x", .value_len = 1};
    KT_ASSERT_INT_EQ(kio_producer_send(kp, &bad, KIO_SEND_COPY | KIO_SEND_FREE), -EINVAL);
    KT_ASSERT_INT_EQ(kio_producer_send(kp, &bad, 0), -EINVAL);
    bad.topic = NULL;
    KT_ASSERT_INT_EQ(kio_producer_send(kp, &bad, KIO_SEND_COPY), -EINVAL);
    KT_ASSERT_INT_EQ(kio_producer_flush(kp, 10000), 0);
    int64_t t0 = kf_clock_mono_us();
    while (st.stats == 0 && kf_clock_mono_us() - t0 < 3000000)
        kio_producer_poll(kp, 50);
    KT_ASSERT_INT_EQ(st.delivered, N);
    KT_ASSERT_INT_EQ(st.failed, 0);
    KT_ASSERT_INT_EQ(st.borrowed_back, borrowed);
    KT_ASSERT_MSG(st.stats > 0, "statistics callback never fired");
    struct kio_producer_counts pc;
    kio_producer_counts(kp, &pc);
    KT_ASSERT_INT_EQ(pc.sent, N);
    KT_ASSERT_INT_EQ(pc.delivered, N);
    KT_ASSERT_INT_EQ(kio_producer_fatal_error(kp, err, sizeof(err)), 0);
    KT_ASSERT_INT_EQ(kio_producer_close(kp, 1000), 0);
    KT_ASSERT_INT_EQ(kio_producer_send(kp, &(struct kio_out_msg){.topic = "mt"}, KIO_SEND_COPY),
                     -ECANCELED);
    kio_producer_free(kp);

    /* consume everything back through a group */
    struct kio_opts co = {.brokers = mock_brokers, .client_id = "kio-unit-c"};
    struct kio_consumer_opts cc = {.group_id = "mock-group"};
    kio_consumer *kc = kio_consumer_new(&co, &cc, err, sizeof(err));
    KT_ASSERT_MSG(kc, "%s", err);
    const char *topics[] = {"mt"};
    KT_ASSERT_INT_EQ(kio_consumer_subscribe(kc, topics, 1), 0);
    char *seen = calloc(N, 1);
    int got = 0;
    t0 = kf_clock_mono_us();
    while (got < N && kf_clock_mono_us() - t0 < 30000000) {
        kio_msg *m = NULL;
        kio_consumer_poll(kc, 200, &m);
        if (!m)
            continue;
        kf_bytes idx;
        KT_ASSERT_INT_EQ(kio_msg_header(m, "kfleet-idx", &idx), 0);
        char num[16] = "";
        KT_ASSERT(idx.len < sizeof(num));
        memcpy(num, idx.ptr, idx.len); /* header bytes are not NUL-terminated */
        int i = atoi(num);
        KT_ASSERT(i >= 0 && i < N && !seen[i]);
        seen[i] = 1;
        got++;
        char want[64];
        snprintf(want, sizeof(want), "key-%d", i);
        KT_ASSERT(m->key.len == strlen(want) && !memcmp(m->key.ptr, want, m->key.len));
        snprintf(want, sizeof(want), "value-%d", i);
        KT_ASSERT(m->value.len == strlen(want) && !memcmp(m->value.ptr, want, m->value.len));
        KT_ASSERT_INT_EQ(m->header_count, 2);
        KT_ASSERT_STR_EQ(m->headers[1].name, "empty");
        KT_ASSERT_INT_EQ(m->headers[1].value.len, 0);
        KT_ASSERT_INT_EQ(kio_msg_header(m, "absent", NULL), -ENOENT);
        KT_ASSERT(m->timestamp_ms > 0 && m->ts_type == KIO_TS_CREATE_TIME);
        KT_ASSERT_INT_EQ(kio_consumer_store_msg(kc, m), 0);
        kio_msg_free(m);
    }
    KT_ASSERT_INT_EQ(got, N);
    free(seen);
    KT_ASSERT_INT_EQ(kio_consumer_commit(kc, false), 0);
    kio_tplist *asg = NULL;
    KT_ASSERT_INT_EQ(kio_consumer_assignment(kc, &asg), 0);
    KT_ASSERT_INT_EQ(asg->count, 4);
    KT_ASSERT_INT_EQ(kio_consumer_committed(kc, asg, 5000), 0);
    int64_t sum = 0;
    for (size_t i = 0; i < asg->count; i++)
        sum += asg->elems[i].offset;
    KT_ASSERT_INT_EQ(sum, N);
    kio_tplist_free(asg);
    KT_ASSERT(kio_consumer_is_cooperative(kc));
    char *mid = kio_consumer_member_id(kc);
    KT_ASSERT(mid && *mid);
    free(mid);
    KT_ASSERT_INT_EQ(kio_consumer_close(kc, 10000), 0);
    KT_ASSERT_INT_EQ(kio_consumer_close(kc, 10000), 0); /* twice is fine */
    kio_consumer_free(kc);
    mock_stop();
}

/* Every broker down: reports fail with -ETIMEDOUT, the error callback sees a
 * retriable connection error, and close settles every payload. */
static void test_mock_brokers_down(void)
{
    mock_start(1);
    KT_ASSERT_INT_EQ(rd_kafka_mock_topic_create(mock, "down", 1, 1), RD_KAFKA_RESP_ERR_NO_ERROR);
    char err[512];
    struct dr_state st = {0};
    const char *const props[] = {"message.timeout.ms", "1500", "reconnect.backoff.max.ms", "200",
                                 NULL};
    struct kio_opts po = {
        .brokers = mock_brokers, .props = props, .error_cb = on_error, .opaque = &st};
    kio_producer *kp = kio_producer_new(&po, on_dr, err, sizeof(err));
    KT_ASSERT_MSG(kp, "%s", err);
    /* one message through first, so the producer knows the topic */
    struct kio_out_msg m = {.topic = "down", .partition = 0, .value = "x", .value_len = 1};
    KT_ASSERT_INT_EQ(kio_producer_send(kp, &m, KIO_SEND_COPY), 0);
    KT_ASSERT_INT_EQ(kio_producer_flush(kp, 5000), 0);
    KT_ASSERT_INT_EQ(st.delivered, 1);

    KT_ASSERT_INT_EQ(rd_kafka_mock_broker_set_down(mock, 1), RD_KAFKA_RESP_ERR_NO_ERROR);
    for (int i = 0; i < 5; i++) {
        m.value = strdup("payload");
        m.value_len = 7;
        KT_ASSERT_INT_EQ(kio_producer_send(kp, &m, KIO_SEND_FREE), 0);
    }
    int64_t t0 = kf_clock_mono_us();
    while (st.failed < 5 && kf_clock_mono_us() - t0 < 10000000)
        kio_producer_poll(kp, 100);
    KT_ASSERT_INT_EQ(st.failed, 5);
    KT_ASSERT_INT_EQ(st.last_err, -ETIMEDOUT);
    KT_ASSERT(kf_err_is_retriable(st.last_err));
    KT_ASSERT_MSG(st.errors > 0, "no error callback while the broker was down");
    KT_ASSERT_MSG(st.last_error == -ECONNREFUSED || st.last_error == -ECONNRESET,
                  "error callback said %d (%s)", st.last_error, kf_strerror(st.last_error));

    /* close with messages still queued: each gets its report, none leak */
    st.failed = 0;
    for (int i = 0; i < 7; i++) {
        m.value = strdup("queued");
        m.value_len = 6;
        m.opaque = NULL;
        KT_ASSERT_INT_EQ(kio_producer_send(kp, &m, KIO_SEND_FREE), 0);
    }
    for (int i = 0; i < 3; i++) {
        m.value = strdup("borrowed");
        m.value_len = 8;
        m.opaque = (void *)1;
        KT_ASSERT_INT_EQ(kio_producer_send(kp, &m, KIO_SEND_BORROW), 0);
    }
    KT_ASSERT_INT_EQ(kio_producer_close(kp, 200), -ETIMEDOUT);
    KT_ASSERT_INT_EQ(st.failed, 10);
    KT_ASSERT_INT_EQ(st.borrowed_back, 3);
    KT_ASSERT(st.last_err == -ECANCELED || st.last_err == -ETIMEDOUT);
    KT_ASSERT_INT_EQ(kio_producer_outq_len(kp), 0);
    kio_producer_free(kp);
    mock_stop();
}

/* librdkafka 2.0.2 crashed when a cooperative-sticky consumer was destroyed
 * after joining but before its first assignment (#4312); kio's close waits. */
static void test_mock_close_before_first_assignment(void)
{
    mock_start(1);
    KT_ASSERT_INT_EQ(rd_kafka_mock_topic_create(mock, "early", 2, 1), RD_KAFKA_RESP_ERR_NO_ERROR);
    char err[512];
    /* KIO_TEST_DEBUG=cgrp shows librdkafka's group state machine */
    const char *const dbg[] = {getenv("KIO_TEST_DEBUG") ? "debug" : NULL, getenv("KIO_TEST_DEBUG"),
                               NULL};
    for (int round = 0; round < 5; round++) {
        struct kio_opts co = {.brokers = mock_brokers, .props = dbg};
        struct kio_consumer_opts cc = {.group_id = "early-group"};
        kio_consumer *kc = kio_consumer_new(&co, &cc, err, sizeof(err));
        KT_ASSERT_MSG(kc, "%s", err);
        const char *topics[] = {"early"};
        KT_ASSERT_INT_EQ(kio_consumer_subscribe(kc, topics, 1), 0);
        kio_msg *m = NULL;
        kio_consumer_poll(kc, round * 20, &m); /* 0..80 ms: somewhere inside the join */
        kio_msg_free(m);
        int64_t t0 = kf_clock_mono_us();
        kio_consumer_free(kc);
        KT_ASSERT_MSG(kf_clock_mono_us() - t0 < 20000000, "close took too long");
    }
    mock_stop();
}

/* A group-less reader: manual assignment from the beginning (the control topic). */
static void test_mock_manual_assign(void)
{
    mock_start(1);
    KT_ASSERT_INT_EQ(rd_kafka_mock_topic_create(mock, "ctl", 1, 1), RD_KAFKA_RESP_ERR_NO_ERROR);
    char err[512];
    struct kio_opts o = {.brokers = mock_brokers};
    kio_producer *kp = kio_producer_new(&o, NULL, err, sizeof(err));
    KT_ASSERT(kp);
    for (int i = 0; i < 10; i++) {
        char v[8];
        snprintf(v, sizeof(v), "e%d", i);
        struct kio_out_msg m = {.topic = "ctl", .value = v, .value_len = strlen(v)};
        KT_ASSERT_INT_EQ(kio_producer_send(kp, &m, KIO_SEND_COPY), 0);
    }
    KT_ASSERT_INT_EQ(kio_producer_flush(kp, 5000), 0);
    kio_producer_free(kp);

    kio_consumer *kc = kio_consumer_new(&o, NULL, err, sizeof(err));
    KT_ASSERT_MSG(kc, "%s", err);
    const char *topics[] = {"ctl"};
    KT_ASSERT_INT_EQ(kio_consumer_subscribe(kc, topics, 1), -EINVAL); /* no group */
    kio_tplist *parts = kio_tplist_new(1);
    kio_tplist_add(parts, "ctl", 0, KIO_OFFSET_BEGINNING);
    KT_ASSERT_INT_EQ(kio_consumer_assign(kc, parts), 0);
    int next = 0;
    int64_t t0 = kf_clock_mono_us();
    while (next < 10 && kf_clock_mono_us() - t0 < 10000000) {
        kio_msg *m = NULL;
        KT_ASSERT_INT_EQ(kio_consumer_poll(kc, 200, &m), 0);
        if (!m)
            continue;
        char want[8];
        snprintf(want, sizeof(want), "e%d", next);
        KT_ASSERT_INT_EQ(m->offset, next);
        KT_ASSERT(m->value.len == strlen(want) && !memcmp(m->value.ptr, want, m->value.len));
        next++;
        kio_msg_free(m);
    }
    KT_ASSERT_INT_EQ(next, 10);
    /* pause/resume a partition we own, and one we do not */
    KT_ASSERT_INT_EQ(kio_consumer_pause(kc, parts), 0);
    KT_ASSERT_INT_EQ(kio_consumer_resume(kc, parts), 0);
    kio_tplist_free(parts);
    KT_ASSERT_INT_EQ(kio_consumer_assign(kc, NULL), 0);
    kio_consumer_free(kc);
    mock_stop();
}

/* The worker's pattern: inference threads send with KIO_SEND_BLOCK into a
 * small queue while only the main thread polls. Reports must run on the main
 * thread only, and nothing may deadlock or be lost. */
struct block_state {
    kio_producer *kp;
    pthread_t main_thread;
    atomic_int delivered;
    atomic_int wrong_thread;
    atomic_int senders_done;
};

static void on_dr_main_only(void *opaque, const struct kio_delivery *dr)
{
    struct block_state *s = opaque;
    if (!pthread_equal(pthread_self(), s->main_thread))
        atomic_fetch_add(&s->wrong_thread, 1);
    KT_ASSERT_MSG(dr->err == 0, "delivery failed: %s", dr->errstr);
    atomic_fetch_add(&s->delivered, 1);
}

static void *sender(void *p)
{
    struct block_state *s = p;
    for (int i = 0; i < 500; i++) {
        char v[16];
        snprintf(v, sizeof(v), "m%d", i);
        struct kio_out_msg m = {.topic = "blk", .value = strdup(v), .value_len = strlen(v)};
        KT_ASSERT_INT_EQ(kio_producer_send(s->kp, &m, KIO_SEND_FREE | KIO_SEND_BLOCK), 0);
    }
    atomic_fetch_add(&s->senders_done, 1);
    return NULL;
}

static void test_mock_block_from_other_threads(void)
{
    mock_start(1);
    KT_ASSERT_INT_EQ(rd_kafka_mock_topic_create(mock, "blk", 2, 1), RD_KAFKA_RESP_ERR_NO_ERROR);
    char err[512];
    struct block_state st = {.main_thread = pthread_self()};
    const char *const props[] = {"queue.buffering.max.messages", "20", "linger.ms", "1", NULL};
    struct kio_opts o = {.brokers = mock_brokers, .props = props, .opaque = &st};
    st.kp = kio_producer_new(&o, on_dr_main_only, err, sizeof(err));
    KT_ASSERT_MSG(st.kp, "%s", err);
    kio_producer_poll(st.kp, 0); /* this thread is the poller */
    pthread_t t[3];
    for (int i = 0; i < 3; i++)
        KT_ASSERT(pthread_create(&t[i], NULL, sender, &st) == 0);
    int64_t t0 = kf_clock_mono_us();
    while (atomic_load(&st.senders_done) < 3 && kf_clock_mono_us() - t0 < 30000000)
        kio_producer_poll(st.kp, 10);
    for (int i = 0; i < 3; i++)
        pthread_join(t[i], NULL);
    KT_ASSERT_INT_EQ(kio_producer_flush(st.kp, 10000), 0);
    KT_ASSERT_INT_EQ(atomic_load(&st.delivered), 1500);
    KT_ASSERT_INT_EQ(atomic_load(&st.wrong_thread), 0);
    /* a blocking send on the polling thread serves reports itself */
    for (int i = 0; i < 100; i++) {
        struct kio_out_msg m = {.topic = "blk", .value = "x", .value_len = 1};
        KT_ASSERT_INT_EQ(kio_producer_send(st.kp, &m, KIO_SEND_COPY | KIO_SEND_BLOCK), 0);
    }
    KT_ASSERT_INT_EQ(kio_producer_flush(st.kp, 10000), 0);
    KT_ASSERT_INT_EQ(atomic_load(&st.delivered), 1600);
    kio_producer_free(st.kp);
    mock_stop();
}

/* Every failing send leaves the caller owning what it passed and frees what
 * kio built (the header list), with or without headers — under ASan this is
 * the check for librdkafka 2.0.2's ownership rules (the worker once crashed
 * in rd_kafka_headers_destroy(NULL) on this path). */
static void test_send_failures_own_nothing(void)
{
    const char *props[] = {"message.max.bytes", "2000", NULL};
    struct kio_opts o = {.brokers = "127.0.0.1:1", .client_id = "kio-unit", .props = props};
    char err[512];
    kio_producer *kp = kio_producer_new(&o, NULL, err, sizeof(err));
    KT_ASSERT_MSG(kp, "%s", err);
    struct kio_header h[] = {KIO_HEADER_STR("a", "1"), KIO_HEADER_STR("b", "")};
    for (int with_headers = 0; with_headers < 2; with_headers++) {
        for (int free_flag = 0; free_flag < 2; free_flag++) {
            size_t len = 10000;
            uint8_t *big = calloc(1, len);
            struct kio_out_msg m = {.topic = "t",
                                    .partition = KIO_PARTITION_ANY,
                                    .value = big,
                                    .value_len = len,
                                    .headers = with_headers ? h : NULL,
                                    .header_count = with_headers ? 2 : 0};
            int rc = kio_producer_send(kp, &m, free_flag ? KIO_SEND_FREE : KIO_SEND_COPY);
            KT_ASSERT_INT_EQ(rc, -EMSGSIZE);
            free(big); /* still ours: a failed send took nothing */
        }
    }
    /* A header without a name is refused before anything is built. */
    struct kio_header bad[] = {KIO_HEADER_STR("a", "1"), {.name = NULL}};
    struct kio_out_msg m = {
        .topic = "t", .value = "x", .value_len = 1, .headers = bad, .header_count = 2};
    KT_ASSERT_INT_EQ(kio_producer_send(kp, &m, KIO_SEND_COPY), -EINVAL);
    kio_producer_close(kp, 0);
    /* After close: refused, nothing leaked. */
    m.headers = h;
    KT_ASSERT_INT_EQ(kio_producer_send(kp, &m, KIO_SEND_COPY), -ECANCELED);
    kio_producer_free(kp);
}

int main(void)
{
    KT_RUN(test_err_table);
    KT_RUN(test_tplist);
    KT_RUN(test_bad_properties);
    KT_RUN(test_send_failures_own_nothing);
    KT_RUN(test_mock_roundtrip);
    KT_RUN(test_mock_brokers_down);
    KT_RUN(test_mock_close_before_first_assignment);
    KT_RUN(test_mock_manual_assign);
    KT_RUN(test_mock_block_from_other_threads);
    return 0;
}
