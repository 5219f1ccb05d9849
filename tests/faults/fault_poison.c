/* Row 1: poison reply_to. Two workers under a constant load get requests
 * whose reply_to the fleet must not honour: a prefix-valid topic that does
 * not exist (auto-creation off), the fleet's own control, requests and DLQ
 * topics (inside the allowed prefix, so only the never-rule refuses them), a
 * topic outside the prefix, and a name that fails validation in a request
 * that also fails validation (an unknown dtype). Also one valid reply_to,
 * which must be honoured. No worker exits; each poison is dead-lettered with
 * its reason; nothing reaches the control topic; nothing else is lost; every
 * record is settled (the group's committed offsets reach the end).
 * The same test runs in the ASan+UBSan build (ops/test). */
#include "tests/faults/faults.h"
#include "tests/faults/kt_probe.h"
#include "tests/faults/kt_row.h"

#include "common/kf_clock.h"
#include "schema/ctl_event.h"
#include "schema/req.h"
#include "schema/resp.h"

#include <inttypes.h>

#define WORKERS 2
#define ROUNDS 3

enum expect { EXPECT_REFUSED, EXPECT_UNDELIVERABLE, EXPECT_INVALID, EXPECT_HONOURED };

struct poison {
    const char *what;
    char reply_to[160];
    bool bad_dtype; /* hand-encoded: dtype "f64" */
    enum expect expect;
};

/* Just enough msgpack for a request req_encode would refuse to write. */
static void mp_str(kf_buf *b, const char *s)
{
    size_t n = strlen(s);
    uint8_t h[2] = {0xd9, (uint8_t)n};
    if (n < 32)
        kf_buf_append(b, &(uint8_t){(uint8_t)(0xa0 | n)}, 1);
    else
        kf_buf_append(b, h, 2);
    kf_buf_append(b, s, n);
}

static void encode_bad_dtype(kf_buf *b, const char *id, const char *model, const char *reply_to)
{
    kf_buf_append(b, &(uint8_t){0x85}, 1); /* map of 5 */
    mp_str(b, "v");
    kf_buf_append(b, &(uint8_t){0x01}, 1);
    mp_str(b, "id");
    mp_str(b, id);
    mp_str(b, "model");
    mp_str(b, model);
    mp_str(b, "reply_to");
    mp_str(b, reply_to);
    mp_str(b, "inputs");
    kf_buf_append(b, &(uint8_t){0x83}, 1);
    mp_str(b, "dtype");
    mp_str(b, "f64");
    mp_str(b, "shape");
    kf_buf_append(b, (uint8_t[]){0x92, 0x01, 0x08}, 3);
    mp_str(b, "data");
    kf_buf_append(b, (uint8_t[]){0xc4, 64}, 2);
    uint8_t zeros[64] = {0};
    kf_buf_append(b, zeros, sizeof(zeros));
}

static void send_poison(struct kt_row *row, const struct poison *p, const char *id, int32_t part)
{
    struct kt_env *e = row->e;
    kf_buf v;
    kf_buf_init(&v);
    if (p->bad_dtype) {
        encode_bad_dtype(&v, id, e->model, p->reply_to);
    } else {
        kt_load_request(&v, id, e->model, 0, 1, 8, p->reply_to, 0);
    }
    kt_row_send(row, id, part, &v);
    kf_buf_fini(&v);
}

static bool topic_exists(struct kt_env *e, const char *topic)
{
    /* DescribeConfigs: unlike a metadata request it cannot auto-create the topic. */
    char err[256], value[64];
    struct kio_opts o = {.brokers = e->brokers};
    kio_admin *ka = kio_admin_new(&o, err, sizeof(err));
    KT_ASSERT_MSG(ka, "%s", err);
    int rc = kio_admin_topic_config(ka, topic, "cleanup.policy", value, sizeof(value), 10000, err,
                                    sizeof(err));
    kio_admin_free(ka);
    return rc != -ENOENT;
}

static void create_topic(struct kt_env *e, const char *topic)
{
    char err[256];
    struct kio_opts o = {.brokers = e->brokers};
    kio_admin *ka = kio_admin_new(&o, err, sizeof(err));
    struct kio_topic_spec spec = {topic, 1, 1, NULL};
    KT_ASSERT_MSG(ka && !kio_admin_topics_create(ka, &spec, 1, true, 30000, err, sizeof(err)), "%s",
                  err);
    kio_admin_free(ka);
}

/* Records of a topic that are not control events (a msgpack answer, say). */
static int not_control(void *opaque, const kio_msg *m)
{
    struct ctl_event ev;
    char err[256];
    if (ctl_event_decode(m->value.ptr, m->value.len, &ev, err, sizeof(err))) {
        (*(int *)opaque)++;
        printf("control topic offset %" PRId64 " is not a control event: %s\n", m->offset, err);
    }
    return 0;
}

static int count_records(void *opaque, const kio_msg *m)
{
    (void)m;
    (*(int64_t *)opaque)++;
    return 0;
}

struct found {
    const char *id;
    bool ok;
};

static int find_ok_answer(void *opaque, const kio_msg *m)
{
    struct found *f = opaque;
    struct resp rs;
    char err[256];
    if (!resp_decode(m->value.ptr, m->value.len, &rs, err, sizeof(err)) &&
        rs.id.len == strlen(f->id) && !memcmp(rs.id.ptr, f->id, rs.id.len))
        f->ok = rs.status == RESP_OK;
    return f->ok;
}

int fault_poison(const char *worker_bin)
{
    static struct kt_row row;
    kt_row_begin(&row, "1", "poison `reply_to`", "poison", worker_bin, 4, NULL);
    struct kt_env *e = row.e;

    struct poison ps[] = {
        {"a prefix-valid topic that does not exist", "", false, EXPECT_UNDELIVERABLE},
        {"the fleet's control topic", "", false, EXPECT_REFUSED},
        {"the requests topic", "", false, EXPECT_REFUSED},
        {"the DLQ topic", "", false, EXPECT_REFUSED},
        {"a topic outside the prefix", "", false, EXPECT_REFUSED},
        {"an invalid name, unknown dtype", "no such/topic", true, EXPECT_INVALID},
        {"a valid reply topic", "", false, EXPECT_HONOURED},
    };
    enum { N_POISON = sizeof(ps) / sizeof(ps[0]) };
    char nosuch[160], good[160];
    snprintf(nosuch, sizeof(nosuch), "e2e.replies.nosuch-%s", e->sfx);
    snprintf(good, sizeof(good), "e2e.replies.ok-%s", e->sfx);
    snprintf(ps[0].reply_to, sizeof(ps[0].reply_to), "%s", nosuch);
    snprintf(ps[1].reply_to, sizeof(ps[1].reply_to), "%s", e->t_ctl);
    snprintf(ps[2].reply_to, sizeof(ps[2].reply_to), "%s", e->t_req);
    snprintf(ps[3].reply_to, sizeof(ps[3].reply_to), "%s", e->t_dlq);
    snprintf(ps[4].reply_to, sizeof(ps[4].reply_to), "other.replies.%s", e->sfx);
    snprintf(ps[6].reply_to, sizeof(ps[6].reply_to), "%s", good);
    create_topic(e, good);
    KT_ASSERT_MSG(!topic_exists(e, nosuch), "%s exists before the test", nosuch);

    struct kt_version v1;
    /* The prefix "e2e." covers every topic of this fleet, so refusing the
     * control, requests and DLQ topics is the never-rule's doing, not the
     * prefix's. The producer may not create topics (the broker would), and
     * gives up on an unknown topic after 3 s instead of librdkafka's 30. */
    const char *extra[] = {"reply_to.prefix=e2e.", "kafka.allow.auto.create.topics=false",
                           "kafka.topic.metadata.propagation.max.ms=3000", NULL};
    kt_row_fleet(&row, &v1, 0, WORKERS, extra);

    struct kt_load_opts lo = {.rate = 100, .keep_others = true};
    struct kt_load *load = kt_row_load(&row, &lo, &v1);
    kt_row_fault_begins(&row, load, 3000);
    for (int round = 0; round < ROUNDS; round++) {
        for (int k = 0; k < N_POISON; k++) {
            char id[32];
            snprintf(id, sizeof(id), "P%d-%d", round, k);
            send_poison(&row, &ps[k], id, (round * N_POISON + k) % e->partitions);
        }
        kt_row_sleep(&row, 3000);
    }
    struct kt_load_stats st;
    int64_t lost = kt_row_drain(&row, load, 5000, 60, &st); /* undeliverable: given up after 3 s */
    kt_row_check_settled(&row, 20);

    struct kt_dlq_rec *dlq = NULL;
    size_t n_dlq = kt_probe_dlq(e, &dlq);
    int dead_lettered = 0, refused_answers = 0;
    for (int round = 0; round < ROUNDS; round++)
        for (int k = 0; k < N_POISON; k++) {
            char id[32];
            snprintf(id, sizeof(id), "P%d-%d", round, k);
            const struct kt_dlq_rec *d = kt_probe_dlq_find(dlq, n_dlq, id);
            struct kt_other ans;
            bool answered = kt_load_other(load, id, &ans);
            if (ps[k].expect == EXPECT_HONOURED) {
                struct found f = {id, false};
                kt_probe_topic_scan(e, good, find_ok_answer, &f, 30);
                kt_row_check(&row, f.ok && !d, "%s (%s): answered ok on %s, not dead-lettered", id,
                             ps[k].what, good);
                continue;
            }
            bool code_ok =
                d && (ps[k].expect == EXPECT_REFUSED ? !strcmp(d->code, "bad_reply_to")
                      : ps[k].expect == EXPECT_INVALID
                          ? !strcmp(d->code, "invalid_request") || !strcmp(d->code, "bad_reply_to")
                          : d->code[0] != '\0');
            kt_row_check(&row, code_ok && d->reason[0] && d->partition >= 0 && d->offset >= 0,
                         "%s (%s): dead-lettered with code '%s', reason '%s', source %d@%" PRId64,
                         id, ps[k].what, d ? d->code : "(none)", d ? d->reason : "",
                         d ? d->partition : -1, d ? d->offset : (int64_t)-1);
            dead_lettered += d != NULL;
            if (ps[k].expect == EXPECT_REFUSED) {
                kt_row_check(
                    &row, answered && ans.status == RESP_ERROR && !strcmp(ans.code, "bad_reply_to"),
                    "%s: answered on the responses topic with error bad_reply_to "
                    "(got %s)",
                    id, answered ? ans.code : "no answer");
                refused_answers += answered;
            }
        }
    int not_ctl = 0;
    kt_probe_topic_scan(e, e->t_ctl, not_control, &not_ctl, 30);
    kt_row_check(&row, not_ctl == 0, "nothing but control events on the control topic (%d other)",
                 not_ctl);
    int64_t req_records = 0;
    kt_probe_topic_scan(e, e->t_req, count_records, &req_records, 60);
    kt_row_check(&row, req_records == st.sent + ROUNDS * N_POISON,
                 "nothing but requests on the requests topic (%" PRId64 " records, %" PRId64
                 " sent)",
                 req_records, st.sent + ROUNDS * N_POISON);
    int unlabelled = 0;
    for (size_t i = 0; i < n_dlq; i++)
        unlabelled += !dlq[i].code[0] || !dlq[i].reason[0];
    kt_row_check(&row, unlabelled == 0,
                 "every DLQ record carries kfleet-error and kfleet-error-code (%d of %zu do not)",
                 unlabelled, n_dlq);
    kt_row_check(&row, !topic_exists(e, nosuch), "%s was not created", nosuch);
    kt_row_check_load(&row, load, lost, &st, "the other requests");
    kt_row_stop_workers(&row);
    free(dlq);

    char what[400];
    snprintf(what, sizeof(what),
             "%d workers, %d req/s; %d rounds of %d poison requests (reply_to: a missing topic "
             "with auto-create off, the control/requests/DLQ topics inside the allowed prefix, a "
             "topic outside it, an invalid name with an unknown dtype; one valid): %d "
             "dead-lettered, %d answered bad_reply_to",
             WORKERS, lo.rate, ROUNDS, N_POISON, dead_lettered, refused_answers);
    kt_load_free(load);
    kt_version_fini(&v1);
    return kt_row_finish(&row, what, &st, NULL);
}
