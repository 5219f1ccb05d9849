/* kfleetctl trace --partition P --offset O: who answered the request at
 * (requests topic, P, O), with which weights, and how that worker came to run
 * them.
 *
 * Three reads: the request itself (its id, model and reply_to); every answer
 * to it — responses carry kfleet-source-partition/-offset headers, so the
 * response topic (or the request's reply_to) and the DLQ are scanned for them
 * from the start (a full read: trace is a forensic tool, not a hot path); and
 * the control log, for the model.published that announced the answering
 * version (its manifest hash and signing key) and the worker's events for it.
 * More than one answer is possible (a rebalance can redeliver): all are shown. */
#include "ops/kfleetctl/ctl.h"

#include "common/kf_err.h"
#include "common/kio_admin.h"
#include "common/kio_consumer.h"
#include "schema/json_impl.h"
#include "schema/req.h"
#include "schema/resp.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#define MAX_ANSWERS 16

struct answer {
    char topic[250];
    int32_t partition;
    int64_t offset, ts_ms;
    char model[CTL_NAME_CAP], version[CTL_NAME_CAP], worker[CTL_NAME_CAP];
    char sha256[65], status[32], error[256];
};

struct trace {
    const struct ctl_opts *o;
    struct answer answers[MAX_ANSWERS];
    size_t n_answers;
};

/* A JSON answer: its status and error, read with jansson. */
static void answer_from_json(const kio_msg *m, struct answer *a)
{
    json_error_t je;
    json_t *j = json_loadb((const char *)m->value.ptr, m->value.len, 0, &je);
    const char *st = json_string_value(json_object_get(j, "status"));
    if (!st) {
        snprintf(a->status, sizeof(a->status), "undecodable");
        snprintf(a->error, sizeof(a->error), "JSON answer: %s", j ? "no status" : je.text);
        json_decref(j);
        return;
    }
    snprintf(a->status, sizeof(a->status), "%s", st);
    json_t *e = json_object_get(j, "error");
    const char *code = json_string_value(json_object_get(e, "code"));
    const char *msg = json_string_value(json_object_get(e, "message"));
    if (strcmp(st, "ok"))
        snprintf(a->error, sizeof(a->error), "%s: %s", code ? code : "?", msg ? msg : "");
    json_decref(j);
}

static void header_str(const kio_msg *m, const char *name, char *out, size_t size)
{
    kf_bytes v = {0};
    out[0] = '\0';
    if (!kio_msg_header(m, name, &v))
        snprintf(out, size, "%.*s", (int)v.len, (const char *)v.ptr);
}

static bool is_answer(const struct ctl_opts *o, const kio_msg *m)
{
    char part[24], off[24];
    header_str(m, "kfleet-source-partition", part, sizeof(part));
    header_str(m, "kfleet-source-offset", off, sizeof(off));
    return part[0] && off[0] && strtoll(part, NULL, 10) == o->partition &&
           strtoll(off, NULL, 10) == o->offset;
}

static void record_answer(struct trace *t, const kio_msg *m, bool dlq)
{
    if (t->n_answers == MAX_ANSWERS)
        return;
    struct answer *a = &t->answers[t->n_answers++];
    snprintf(a->topic, sizeof(a->topic), "%s", m->topic);
    a->partition = m->partition, a->offset = m->offset, a->ts_ms = m->timestamp_ms;
    header_str(m, "kfleet-model", a->model, sizeof(a->model));
    header_str(m, "kfleet-version", a->version, sizeof(a->version));
    header_str(m, "kfleet-worker", a->worker, sizeof(a->worker));
    header_str(m, "kfleet-manifest-sha256", a->sha256, sizeof(a->sha256));
    if (dlq) {
        snprintf(a->status, sizeof(a->status), "dlq");
        header_str(m, "kfleet-error", a->error, sizeof(a->error));
        return;
    }
    if (req_is_json(m->value.ptr, m->value.len)) {
        answer_from_json(m, a); /* the answer to a JSON request (docs/schema.md §2a) */
        return;
    }
    struct resp rs;
    char why[256];
    if (resp_decode(m->value.ptr, m->value.len, &rs, why, sizeof(why))) {
        snprintf(a->status, sizeof(a->status), "undecodable");
        snprintf(a->error, sizeof(a->error), "%s", why);
        return;
    }
    snprintf(a->status, sizeof(a->status), "%s", resp_status2str(rs.status));
    if (rs.status != RESP_OK)
        snprintf(a->error, sizeof(a->error), "%.*s: %.*s", (int)rs.err_code.len,
                 (const char *)rs.err_code.ptr, (int)rs.err_message.len,
                 (const char *)rs.err_message.ptr);
}

/* Read every partition of @p topic from its start to its current end. */
static int scan(struct trace *t, kio_admin *ka, const char *topic, bool dlq)
{
    const struct ctl_opts *o = t->o;
    char err[512] = "";
    int parts = kio_admin_topic_partitions(ka, topic, o->timeout_ms, err, sizeof(err));
    if (parts < 0) {
        fprintf(stderr, "kfleetctl: topic %s: %s\n", topic, err[0] ? err : kf_strerror(parts));
        return parts;
    }
    int64_t *high = calloc((size_t)parts, sizeof(*high)),
            *pos = calloc((size_t)parts, sizeof(*pos));
    kio_tplist *l = kio_tplist_new((size_t)parts);
    int e = high && pos && l ? 0 : -ENOMEM;
    int left = 0;
    for (int p = 0; !e && p < parts; p++) {
        int64_t low;
        e = kio_admin_watermarks(ka, topic, p, &low, &high[p], o->timeout_ms);
        pos[p] = low;
        if (!e && low < high[p]) {
            kio_tplist_add(l, topic, p, low); /* not BEGINNING: docs/common.md */
            left++;
        }
    }
    struct kio_opts ko = ctl_kio_opts(o);
    /* The end of a partition is where librdkafka says it is (partition EOF),
     * not the high watermark alone: an exactly-once topic ends in a
     * transaction marker that is never delivered as a record. */
    struct kio_consumer_opts co = {.partition_eof = true};
    kio_consumer *kc = !e && left ? kio_consumer_new(&ko, &co, err, sizeof(err)) : NULL;
    int64_t wl, wh; /* the leaders into this consumer's metadata before the assign */
    if (kc)
        kio_consumer_watermarks(kc, topic, 0, &wl, &wh, o->timeout_ms);
    if (!e && left && (!kc || kio_consumer_assign(kc, l)))
        e = -EIO;
    int idle_ms = 0;
    while (!e && left > 0) {
        kio_msg *m = NULL;
        if (kio_consumer_poll(kc, 500, &m) || !m) {
            kio_msg_free(m);
            if ((idle_ms += 500) >= o->timeout_ms)
                e = -ETIMEDOUT;
            continue;
        }
        idle_ms = 0;
        int p = m->partition;
        if (p >= 0 && p < parts && pos[p] < high[p]) {
            pos[p] = m->eof ? high[p] : m->offset + 1;
            if (pos[p] >= high[p])
                left--;
            if (!m->eof && is_answer(o, m))
                record_answer(t, m, dlq);
        }
        kio_msg_free(m);
    }
    if (e)
        fprintf(stderr, "kfleetctl: reading %s: %s\n", topic, err[0] ? err : kf_strerror(e));
    kio_consumer_free(kc);
    kio_tplist_free(l);
    free(high);
    free(pos);
    return e;
}

/* The request at (requests topic, P, O); prints it, returns its reply_to in @p reply_to. */
static int show_request(const struct ctl_opts *o, char *reply_to, size_t size)
{
    char err[512] = "";
    struct kio_opts ko = ctl_kio_opts(o);
    kio_consumer *kc = kio_consumer_new(&ko, NULL, err, sizeof(err));
    kio_tplist *l = kio_tplist_new(1);
    kio_tplist_add(l, o->t_requests, o->partition, o->offset);
    int e = kc ? kio_consumer_assign(kc, l) : -EINVAL;
    kio_tplist_free(l);
    kio_msg *m = NULL;
    for (int waited = 0; !e && !m && waited < o->timeout_ms; waited += 500)
        if (kio_consumer_poll(kc, 500, &m))
            kio_msg_free(m), m = NULL;
    if (!m || m->offset != o->offset) {
        fprintf(stderr, "kfleetctl: no request at %s partition %d offset %" PRId64 "%s%s\n",
                o->t_requests, o->partition, o->offset, err[0] ? ": " : "", err);
        kio_msg_free(m);
        kio_consumer_free(kc);
        return 1;
    }
    char ts[40], why[256];
    ctl_time_str(m->timestamp_ms, ts, sizeof(ts));
    struct req rq;
    kf_buf store; /* a JSON request's decoded fields */
    kf_buf_init(&store);
    bool json = req_is_json(m->value.ptr, m->value.len);
    printf("request  %s[%d]@%" PRId64 "  %s%s\n", o->t_requests, o->partition, o->offset, ts,
           json ? "  (JSON)" : "");
    if (json
            ? req_decode_json(m->value.ptr, m->value.len, NULL, &rq, &store, NULL, why, sizeof(why))
            : req_decode(m->value.ptr, m->value.len, NULL, &rq, why, sizeof(why))) {
        if (rq.id.len) /* decoded far enough to be answered */
            printf("         id %.*s  model %.*s  invalid: %s\n", (int)rq.id.len,
                   (const char *)rq.id.ptr, (int)rq.model.len, (const char *)rq.model.ptr, why);
        else
            printf("         undecodable: %s\n", why);
    } else {
        printf("         id %.*s  model %.*s  rows %" PRIu64 "%s%.*s\n", (int)rq.id.len,
               (const char *)rq.id.ptr, (int)rq.model.len, (const char *)rq.model.ptr,
               rq.inputs.rows, rq.version.len ? "  pinned to " : "", (int)rq.version.len,
               (const char *)rq.version.ptr);
        if (rq.reply_to.len)
            snprintf(reply_to, size, "%.*s", (int)rq.reply_to.len, (const char *)rq.reply_to.ptr);
    }
    kf_buf_fini(&store);
    kio_msg_free(m);
    kio_consumer_free(kc);
    return 0;
}

/* Control-log events that explain one answer. */
struct provenance {
    char published[512], loaded[512];
};

static void explain(const struct ctl_record *r, const struct answer *a, struct provenance *p)
{
    const struct ctl_event *ev = &r->ev;
    if (strcmp(ev->model, a->model) || strcmp(ev->version, a->version))
        return;
    char ts[40];
    ctl_time_str(r->msg->timestamp_ms, ts, sizeof(ts));
    if (ev->type == CTL_MODEL_PUBLISHED && r->res.verdict == FLEET_APPLIED) {
        snprintf(p->published, sizeof(p->published),
                 "published #%" PRId64 " %s, seq %" PRIu64
                 ", manifest %s/%s sha256 %s, signature %s",
                 r->msg->offset, ts, ev->seq, ev->manifest.bucket, ev->manifest.key,
                 ev->manifest.sha256, ctl_sig_verdict2str(r->sig));
        if (a->sha256[0] && strcmp(a->sha256, ev->manifest.sha256))
            snprintf(p->published + strlen(p->published),
                     sizeof(p->published) - strlen(p->published),
                     "  [MISMATCH: the answer says %s]", a->sha256);
    }
    bool by_worker = !strcmp(ev->worker, a->worker) && r->msg->timestamp_ms <= a->ts_ms;
    if (by_worker && (ev->type == CTL_ROLLOUT_DONE || ev->type == CTL_WORKER_JOINED))
        snprintf(p->loaded, sizeof(p->loaded), "%s #%" PRId64 " %s", ctl_type2str(ev->type),
                 r->msg->offset, ts);
}

/* One pass over the control log explains every answer. */
struct explained {
    const struct trace *t;
    struct provenance p[MAX_ANSWERS];
};

static int on_control(void *opaque, const struct ctl_record *r, const fleet_state *fs)
{
    (void)fs;
    struct explained *x = opaque;
    for (size_t i = 0; !r->malformed && i < x->t->n_answers; i++)
        explain(r, &x->t->answers[i], &x->p[i]);
    return 0;
}

static void show_answer(const struct answer *a, const struct provenance *p)
{
    char ts[40];
    ctl_time_str(a->ts_ms, ts, sizeof(ts));
    printf("answer   %s[%d]@%" PRId64 "  %s  %s%s%s\n", a->topic, a->partition, a->offset, ts,
           a->status, a->error[0] ? ": " : "", a->error);
    printf("         model %s  version %s  worker %s\n", a->model[0] ? a->model : "-",
           a->version[0] ? a->version : "-", a->worker[0] ? a->worker : "-");
    if (!a->version[0])
        return;
    printf("         weights: manifest sha256 %s\n", a->sha256[0] ? a->sha256 : "-");
    if (!p) /* the control log could not be read; ctl_replay said why */
        return;
    printf("         %s\n", p->published[0] ? p->published
                                            : "NOT announced on the control log (no "
                                              "accepted model.published for it)");
    if (p->loaded[0])
        printf("         %s began running it: %s\n", a->worker, p->loaded);
}

int ctl_cmd_trace(const struct ctl_opts *o)
{
    if (o->partition < 0 || o->offset < 0) {
        fprintf(stderr, "kfleetctl: trace needs --partition P --offset O\n");
        return 2;
    }
    char reply_to[250] = "";
    if (show_request(o, reply_to, sizeof(reply_to)))
        return 1;
    char err[512] = "";
    struct kio_opts ko = ctl_kio_opts(o);
    kio_admin *ka = kio_admin_new(&ko, err, sizeof(err));
    crypto_keyring *kr = ctl_keyring(o);
    struct trace *t = calloc(1, sizeof(*t));
    int e = ka && kr && t ? 0 : -EINVAL;
    if (t)
        t->o = o;
    if (!e)
        e = scan(t, ka, reply_to[0] ? reply_to : o->t_responses, false);
    if (!e)
        e = scan(t, ka, o->t_dlq, true);
    if (!e && !t->n_answers)
        printf("answer   none yet on %s or %s\n", reply_to[0] ? reply_to : o->t_responses,
               o->t_dlq);
    struct explained *x = !e && t->n_answers ? calloc(1, sizeof(*x)) : NULL;
    fleet_state *fs = x ? ctl_fleet_new(o, kr) : NULL;
    bool have = false;
    if (fs) {
        x->t = t;
        have = !ctl_replay(o, kr, fs, on_control, x);
    }
    for (size_t i = 0; !e && i < t->n_answers; i++)
        show_answer(&t->answers[i], have ? &x->p[i] : NULL);
    fleet_state_free(fs);
    free(x);
    if (!ka)
        fprintf(stderr, "kfleetctl: %s\n", err);
    free(t);
    crypto_keyring_free(kr);
    kio_admin_free(ka);
    return e ? 1 : 0;
}
