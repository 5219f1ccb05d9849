/* The serving path: requests in, batches out, responses back, offsets
 * committed only behind delivered answers (ARCHITECTURE §4 "Serve loop").
 *
 * A request's record lives from its poll to the delivery report of its last
 * message (response, and DLQ copy for invalid ones). Its offset settles in
 * the offset tracker then, and only a settled prefix of a partition is ever
 * committed: a crash re-delivers what was in flight (at-least-once), a clean
 * stop answers everything before it commits (no duplicates).
 *
 * Every record settles, whatever it says: an answer that cannot be produced
 * or delivered is replaced by a small error answer on the responses topic
 * and a DLQ copy carrying the reason (docs/reliability.md). Only the worker's
 * own faults (a DLQ copy that cannot be written: the broker is gone) stop it. */
#include "worker/serve.h"

#include "common/kf_clock.h"
#include "common/kf_err.h"
#include "common/kf_log.h"
#include "kernels/kern_dtype.h"
#include "schema/model_map.h"
#include "schema/req.h"
#include "schema/resp.h"
#include "worker/lag_gauges.h"
#include "worker/loader.h"
#include "worker/offtrack.h"
#include "worker/reply_to.h"
#include "worker/serve_txn.h"
#if KFLEET_TEST_HOOKS
#include "worker/test_fault.h"
#endif

#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdatomic.h>
#include <string.h>

/* librdkafka 2.0.2's main thread sleeps until its next timer or op, up to
 * 1 s, and only sends the group heartbeat when it wakes: a member without
 * traffic (nothing to commit) may learn of a rebalance up to a second late,
 * whatever heartbeat.interval.ms says. The statistics timer is the one
 * timer an application sets, so it runs at half the heartbeat interval;
 * the lag gauges it feeds are refreshed once a second. */
#define SERVE_STATS_INTERVAL_MS 100
/* Records taken in per main-loop turn when they are already fetched: one per
 * turn capped intake at one agent step, status check and producer poll per
 * request (issue 17). Bounded, so that a burst still leaves the turn to the
 * agent and the commits every few milliseconds. */
#define SERVE_POLL_BURST 256
#define SERVE_LAG_REFRESH_US (1000 * 1000LL)
/* A full queue first holds intake by not polling the request consumer (what
 * librdkafka prefetched stays queued); only a hold this long pauses the
 * partitions, so that rebalance events are served again (issue 17:
 * librdkafka 2.0.2 delivered nothing for ~0.8 s after each resume, so a
 * sustained backlog ran in waves at 0.05 of the echo). */
#define SERVE_HOLD_PAUSE_US (1000 * 1000LL)
/* exactly_once: a second fencing this soon after the last is another instance's. */
#define SERVE_TXN_REFENCE_US (60 * 1000000LL)

struct serve {
    const struct worker_config *cfg;
    struct kern_backend *backend;
    model_set *models;
    struct worker_metrics *m;
    struct req_limits limits;
    struct reply_to_policy reply_to;
    kio_producer *producer; /* the answers (transactional with exactly_once) */
    kio_producer *events;   /* the control log's events: producer, or its own with exactly_once */
    kio_consumer *requests;
    offtrack *offsets;
    int64_t last_commit_us;
    bool commit_owed; /* stored offsets a held or failed commit left behind */
    /* Backpressure: what is taken in and not settled, against
     * queue.max_rows / queue.max_bytes. */
    int64_t inflight_rows, inflight_bytes;
    bool held;                     /* the queue is full: no record is taken in (flow_control) */
    int64_t held_since_us;         /* when the hold began */
    bool paused;                   /* held too long: the request partitions are paused too */
    struct serve_out *failed_outs; /* delivery failures, handled outside the callback */
    pthread_mutex_t failed_lock;   /* failed_outs: pushed from any thread with exactly_once */
    struct serve_txn txn;          /* exactly_once: the open transaction */
    bool txn_dirty;                /* exactly_once: requests taken in since the last commit */
    bool closing;                  /* serve_close: no new transaction after the last */
    int64_t txn_recovered_us;      /* exactly_once: when a fenced producer was last replaced */
    struct lag_gauges lag;
    int64_t last_poll_us;
    unsigned joins; /* subscriptions so far: the second is a rejoin (hand-off) */

    atomic_bool fatal, joined, rebalanced;
    atomic_int assigned;
    atomic_uint assign_rounds; /* rebalance rounds that ended with an assignment, empty too */
    atomic_int_fast64_t last_round_us; /* kf_clock_mono_us() of the last rebalance event */
    int64_t last_lag_us;               /* the lag gauges' last refresh */
    atomic_int_fast64_t max_poll_gap_us;
    atomic_uint_fast64_t answered, errors, dlq_count, expired;
};

/* One message produced for a record: its delivery report comes back with
 * this as the opaque, so a failure knows what failed. */
enum serve_out_kind {
    OUT_ANSWER, /* the answer (or an error answer) */
    OUT_DLQ,    /* the dead-letter copy */
};

struct serve_out {
    struct serve_rec *r;
    enum serve_out_kind kind;
    int err; /* a failed delivery, waiting in s->failed_outs */
    char errstr[160];
    struct serve_out *next;
};

struct serve_rec {
    struct serve *s;
    kio_msg *msg; /* owned; rq borrows from it (msgpack) */
    struct req rq;
    kf_buf json_store; /* owned: what rq points into when the request is JSON */
    bool json;         /* a JSON request: it is answered in JSON */
    bool json_b64;     /* its data was base64: so is its answer's */
    char model[CTL_NAME_CAP];
    int32_t partition;
    int64_t offset;
    int64_t received_us;
    int64_t rows, bytes;     /* counted in the worker's backpressure totals */
    struct served_model *sm; /* set once the model is known */
    float *input_f32;        /* owned, when the request's dtype is not f32 */
    char pin[CTL_NAME_CAP];  /* the request's version, NUL-terminated, or "" */
    struct batch_item item;
    atomic_int pending; /* messages produced whose delivery report is outstanding */
    bool reply_default; /* answer on topic.responses, not reply_to */
    bool answer_failed; /* an answer already failed: error answers go no further */
    bool dlq_bare;      /* the DLQ copy without the request's bytes (too large) */
};

static void serve_drain(struct serve *s);
static void serve_commit(struct serve *s, bool sync);
static void serve_settle_all(struct serve *s, const char *why);
static void serve_txn_end(struct serve *s);
static kio_producer *producer_new(struct serve *s, bool transactional, char *errstr,
                                  size_t errstr_size);

static void rec_free(struct serve_rec *r)
{
    r->s->inflight_rows -= r->rows;
    r->s->inflight_bytes -= r->bytes;
    kio_msg_free(r->msg);
    kf_buf_fini(&r->json_store);
    free(r->input_f32);
    free(r);
}

/* The last delivery of a record settles its offset (main thread). */
static void rec_settle(struct serve_rec *r)
{
    if (atomic_fetch_sub(&r->pending, 1) != 1)
        return;
    /* -ENOENT: the partition was revoked or lost meanwhile; nothing to commit. */
    offtrack_settle(r->s->offsets, r->partition, r->offset);
    rec_free(r);
}

static void push_failed(struct serve *s, struct serve_out *o)
{
    pthread_mutex_lock(&s->failed_lock);
    o->next = s->failed_outs;
    s->failed_outs = o;
    pthread_mutex_unlock(&s->failed_lock);
}

/* A failed delivery: queued for serve_handle_failures(), outside librdkafka's
 * callback, where producing again may block and poll. */
static void on_delivery(void *opaque, const struct kio_delivery *dr)
{
    struct serve *s = opaque;
    struct serve_out *o = dr->opaque;
    if (!o)
        return; /* control events carry no record */
    if (!dr->err) {
        rec_settle(o->r);
        free(o);
        return;
    }
    KF_LOG_W("serve", "partition %d offset %" PRId64 ": delivery to %s failed: %s", o->r->partition,
             o->r->offset, dr->topic, dr->errstr);
    o->err = dr->err;
    snprintf(o->errstr, sizeof(o->errstr), "delivery to %s failed: %s", dr->topic, dr->errstr);
    push_failed(s, o);
}

static const char *status_label(enum resp_status st)
{
    return resp_status2str(st);
}

/* Metric label of a request's model: a model this worker serves, or one
 * shared value for every other name, so requests cannot grow the series
 * without bound. */
#define UNKNOWN_MODEL_LABEL "_unknown"

static const char *model_label(const struct serve_rec *r)
{
    return r->sm ? r->model : UNKNOWN_MODEL_LABEL;
}

static void out_failed(struct serve *s, struct serve_out *o, int err, const char *why);

/* Produce one message for @p o (any thread but inside a delivery callback).
 * The record's pending count must already include it. */
static void produce(struct serve *s, struct serve_rec *r, enum serve_out_kind kind,
                    const char *topic, kf_buf *value, const struct kio_header *headers,
                    size_t nheaders)
{
    struct serve_out *o = calloc(1, sizeof(*o));
    if (!o) {
        /* Not produced, so never settled: stop, and a peer re-reads it. */
        KF_LOG_E("serve", "out of memory producing an answer; stopping");
        kf_buf_fini(value);
        atomic_store(&s->fatal, true);
        return;
    }
    o->r = r;
    o->kind = kind;
    size_t len;
    uint8_t *bytes = kf_buf_steal(value, &len);
    struct kio_out_msg m = {
        .topic = topic,
        .partition = KIO_PARTITION_ANY,
        .key = r->msg->key,
        .value = bytes,
        .value_len = len,
        .headers = headers,
        .header_count = nheaders,
        .opaque = o,
    };
    int err = kio_producer_send(s->producer, &m, KIO_SEND_FREE | KIO_SEND_BLOCK);
    if (err) {
        free(bytes);
        char why[200];
        snprintf(why, sizeof(why), "cannot produce to %s: %s", topic, kf_strerror(err));
        KF_LOG_W("serve", "partition %d offset %" PRId64 ": %s", r->partition, r->offset, why);
        if (s->cfg->exactly_once) {
            /* Settled on the main thread, with the transaction (out_failed). */
            o->err = err;
            snprintf(o->errstr, sizeof(o->errstr), "%s", why);
            push_failed(s, o);
            return;
        }
        out_failed(s, o, err, why);
        free(o);
    }
}

static void send_dlq(struct serve *s, struct serve_rec *r, const char *code, const char *reason)
{
    char part[16], off[24];
    snprintf(part, sizeof(part), "%d", r->partition);
    snprintf(off, sizeof(off), "%" PRId64, r->offset);
    struct kio_header h[] = {
        KIO_HEADER_STR("kfleet-error", reason),
        KIO_HEADER_STR("kfleet-error-code", code),
        KIO_HEADER_STR("kfleet-source-partition", part),
        KIO_HEADER_STR("kfleet-source-offset", off),
        KIO_HEADER_STR("kfleet-worker", s->cfg->id),
    };
    kf_buf v;
    kf_buf_init(&v);
    if (!r->dlq_bare && r->msg->value.len &&
        kf_buf_append(&v, r->msg->value.ptr, r->msg->value.len)) {
        KF_LOG_W("serve", "out of memory for a DLQ copy: sending its headers only");
        r->dlq_bare = true;
    }
    atomic_fetch_add(&s->dlq_count, 1);
    metric_inc(metrics_series(s->m->dlq, (const char *const[]){code}), 1);
    produce(s, r, OUT_DLQ, s->cfg->topic_dlq, &v, h, sizeof(h) / sizeof(h[0]));
}

static const char *reply_topic(struct serve *s, const struct serve_rec *r, char *buf, size_t size)
{
    if (!r->rq.reply_to.len || r->reply_default)
        return s->cfg->topic_responses;
    snprintf(buf, size, "%.*s", (int)r->rq.reply_to.len, (const char *)r->rq.reply_to.ptr);
    return buf;
}

/* Encode and produce a response. @p v NULL: no version computed. */
static void send_response(struct serve *s, struct serve_rec *r, enum resp_status st,
                          const char *code, const char *message, const float *outputs,
                          size_t out_width, const struct slot_version *v,
                          const struct batch_timing *t, int64_t queue_us)
{
    struct resp rs = {
        .v = REQ_VERSION,
        .id = r->rq.id,
        .model = {(const uint8_t *)r->model, strlen(r->model)},
        .version = {(const uint8_t *)(v ? v->version : ""), v ? strlen(v->version) : 0},
        .status = st,
        .worker = {(const uint8_t *)s->cfg->id, strlen(s->cfg->id)},
    };
    if (st == RESP_OK) {
        rs.rows = r->rq.inputs.rows;
        rs.cols = out_width;
        rs.outputs = (kf_bytes){(const uint8_t *)outputs, rs.rows * rs.cols * sizeof(float)};
    } else {
        rs.err_code = (kf_bytes){(const uint8_t *)code, strlen(code)};
        rs.err_message = (kf_bytes){(const uint8_t *)message, strlen(message)};
    }
    if (t) {
        rs.has_timing = true;
        rs.queue_us = (uint64_t)(queue_us > 0 ? queue_us : 0);
        rs.batch_rows = t->batch_rows;
        rs.compute_us = (uint64_t)t->compute_us;
    }
    kf_buf value;
    kf_buf_init(&value);
    int err = r->json ? resp_encode_json(&rs, r->json_b64, &value) : resp_encode(&rs, &value);
    if (err) {
        /* Only a bug or OOM gets here: the DLQ copy stands in for the answer. */
        KF_LOG_E("serve", "cannot encode a response: %s", kf_strerror(err));
        kf_buf_fini(&value);
        r->answer_failed = true;
        send_dlq(s, r, "internal", "the worker could not encode the answer");
        return;
    }
    char part[16], off[24], topic[256];
    snprintf(part, sizeof(part), "%d", r->partition);
    snprintf(off, sizeof(off), "%" PRId64, r->offset);
    struct kio_header h[] = {
        KIO_HEADER_STR("kfleet-model", r->model),
        KIO_HEADER_STR("kfleet-version", v ? v->version : ""),
        KIO_HEADER_STR("kfleet-manifest-sha256", v ? v->manifest_sha256 : ""),
        KIO_HEADER_STR("kfleet-worker", s->cfg->id),
        KIO_HEADER_STR("kfleet-source-partition", part),
        KIO_HEADER_STR("kfleet-source-offset", off),
    };
    metric_inc(
        metrics_series(s->m->requests, (const char *const[]){model_label(r), v ? v->version : "",
                                                             status_label(st)}),
        1);
    if (st == RESP_OK)
        atomic_fetch_add(&s->answered, 1);
    else if (st == RESP_EXPIRED)
        atomic_fetch_add(&s->expired, 1);
    else
        atomic_fetch_add(&s->errors, 1);
    produce(s, r, OUT_ANSWER, reply_topic(s, r, topic, sizeof(topic)), &value, h,
            sizeof(h) / sizeof(h[0]));
}

/* Message @p o of a record could not be produced or delivered (any thread
 * but a delivery callback; the record's pending count still includes it).
 * An answer is replaced by an error answer on topic.responses plus a DLQ copy
 * with the reason; an error answer that fails as well by the DLQ copy alone;
 * a DLQ copy too large for the broker by one without the request's bytes.
 * A DLQ copy that cannot be written at all is the worker's own fault (its
 * broker is gone for longer than message.timeout.ms): it stops, the record
 * unsettled, and a peer re-reads it. */
static void out_failed(struct serve *s, struct serve_out *o, int err, const char *why)
{
    struct serve_rec *r = o->r;
    if (s->cfg->exactly_once) {
        /* Inside a transaction a failed message dooms it: it aborts, and
         * the request comes again. When the failure is the request's own (its
         * reply_to topic does not exist, it is too large), it is answered
         * with the reason then; a broker's or producer's (timeout, fenced,
         * purged) changes nothing about how it is answered. */
        bool its_own = err == -ENOENT || err == -EMSGSIZE;
        if (its_own)
            serve_txn_poison(&s->txn, r->partition, r->offset, why);
        else
            serve_txn_doom(&s->txn);
        rec_settle(r);
        return;
    }
    if (o->kind == OUT_ANSWER) {
        const char *code = err == -EMSGSIZE ? "too_large" : "delivery_failed";
        if (!r->answer_failed) {
            r->answer_failed = true;
            r->reply_default = true;
            atomic_fetch_add(&r->pending, 1);
            send_response(s, r, RESP_ERROR, code, why, NULL, 0, NULL, NULL, 0);
        }
        send_dlq(s, r, code, why);
        return;
    }
    if (err == -EMSGSIZE && !r->dlq_bare) {
        r->dlq_bare = true;
        send_dlq(s, r, "too_large", why);
        return;
    }
    KF_LOG_E("serve", "partition %d offset %" PRId64 ": cannot dead-letter it (%s); stopping",
             r->partition, r->offset, why);
    atomic_store(&s->fatal, true);
}

/* Main thread, outside librdkafka's callbacks: the failed deliveries. */
static void handle_failed_outs(struct serve *s)
{
    for (;;) {
        pthread_mutex_lock(&s->failed_lock);
        struct serve_out *o = s->failed_outs;
        if (o)
            s->failed_outs = o->next;
        pthread_mutex_unlock(&s->failed_lock);
        if (!o)
            return;
        out_failed(s, o, o->err, o->errstr);
        free(o);
    }
}

/* An invalid request: an error response when it can be addressed (id and
 * model decoded), and a DLQ copy always. */
static void reject(struct serve *s, struct serve_rec *r, const char *code, const char *message)
{
    bool addressable = r->rq.id.len > 0;
    atomic_store(&r->pending, addressable ? 2 : 1);
    KF_LOG_D("serve", "partition %d offset %" PRId64 ": %s: %s", r->partition, r->offset, code,
             message);
    if (addressable)
        send_response(s, r, RESP_ERROR, code, message, NULL, 0, NULL, NULL, 0);
    send_dlq(s, r, code, message);
}

#if KFLEET_TEST_HOOKS
/* A slowed version (test_fault.h) answers its batch late: now, after the hold. */
static int64_t test_fault_hold(const struct slot_version *v, int err, const struct batch_timing *t,
                               int64_t now)
{
    int64_t hold = !err && v && t ? worker_test_fault_delay_us(v->version, t->compute_us) : 0;
    if (!hold)
        return now;
    kf_sleep_ms((hold + 999) / 1000);
    return kf_clock_mono_us();
}
#endif

/* Inference thread: a batch finished or could not run. */
static void on_batch_done(void *ctx, struct batch_item **items, size_t n, const float *outputs,
                          size_t output_width, const struct slot_version *v, int err,
                          const struct batch_timing *t)
{
    struct serve *s = ctx;
    size_t row = 0;
    int64_t now = kf_clock_mono_us();
    if (!err && v)
        metric_observe(metrics_series(s->m->batch_rows, (const char *const[]){v->version}),
                       (double)t->batch_rows);
#if KFLEET_TEST_HOOKS
    now = test_fault_hold(v, err, t, now);
#endif
    /* Once a record's last message is produced, the main thread may settle
     * and free it at any moment (its delivery report): every read of the
     * record happens before its send. */
    for (size_t i = 0; i < n; i++) {
        struct serve_rec *r = items[i]->opaque;
        size_t rows = r->item.rows;
        int64_t queue_us = now - r->item.enqueued_us - (t ? t->compute_us : 0);
        int64_t latency_us = now - r->received_us;
        if (err == -ETIME) {
            /* Its deadline passed while it waited: answered, not computed. */
            metric_inc(metrics_series(s->m->queue_expired, (const char *const[]){r->model}), 1);
            atomic_store(&r->pending, 1);
            send_response(s, r, RESP_EXPIRED, "expired", "deadline_ms passed while queued", NULL, 0,
                          NULL, NULL, 0);
#if KFLEET_TEST_HOOKS
        } else if (!err && worker_test_fault_error(v->version)) {
            health_record(&r->sm->health, latency_us, true);
            atomic_store(&r->pending, 1);
            send_response(s, r, RESP_ERROR, "test_fault", "KFLEET_TEST_FAULT: injected error", NULL,
                          0, v, NULL, 0);
#endif
        } else if (!err) {
            const float *out = outputs + row * output_width;
            bool finite = true;
            for (size_t k = 0; k < rows * output_width && finite; k++)
                finite = isfinite(out[k]);
            health_record(&r->sm->health, latency_us, !finite);
            metric_inc(metrics_series(s->m->computed_rows, (const char *const[]){r->model}),
                       (double)rows);
            metric_observe(
                metrics_series(s->m->latency, (const char *const[]){r->model, v->version}),
                (double)latency_us / 1e6);
            atomic_store(&r->pending, 1);
            send_response(s, r, RESP_OK, NULL, NULL, out, output_width, v, t, queue_us);
        } else if (err == -EINVAL && v) {
            /* A version that rejects the traffic it gets is unhealthy for it
             * (a canary whose input width changed fails its bake). */
            health_record(&r->sm->health, latency_us, true);
            char msg[256];
            snprintf(msg, sizeof(msg), "inputs.shape: %zu columns, model %s version %s takes %zu",
                     r->item.width, r->model, v->version, v->input_width);
            reject(s, r, "bad_shape", msg);
        } else if (err == -ENOENT) {
            char msg[256];
            if (r->rq.version.len)
                snprintf(msg, sizeof(msg),
                         "version %.*s of %s is not the live version on this worker",
                         (int)r->rq.version.len, (const char *)r->rq.version.ptr, r->model);
            else
                snprintf(msg, sizeof(msg), "model %s has no version loaded on this worker yet",
                         r->model);
            atomic_store(&r->pending, 1);
            send_response(s, r, RESP_ERROR, r->rq.version.len ? "unknown_version" : "unavailable",
                          msg, NULL, 0, NULL, NULL, 0);
        } else {
            /* A backend error: answer, then stop this worker (ARCHITECTURE §6:
             * drain, leave, exit non-zero for the supervisor). */
            char msg[256];
            snprintf(msg, sizeof(msg), "backend error: %s", kf_strerror(err));
            health_record(&r->sm->health, latency_us, true);
            atomic_store(&r->pending, 1);
            send_response(s, r, RESP_ERROR, "internal", msg, NULL, 0, v, NULL, 0);
            if (kern_err_is_fatal(err))
                atomic_store(&s->fatal, true);
        }
        row += rows;
    }
}

/* Inference thread: run through the backend, in pieces of the handle's max_rows. */
static int run_batch(void *ctx, struct slot_version *v, const float *in, size_t rows, float *out)
{
    struct serve *s = ctx;
    struct kern_weights *kw = loader_weights(v);
    uint32_t max = kern_weights_max_rows(kw);
    for (size_t done = 0; done < rows;) {
        uint32_t n = (uint32_t)(rows - done < max ? rows - done : max);
        int err = kern_forward(s->backend, kw, in + done * v->input_width, n,
                               out + done * v->output_width);
        if (err)
            return err;
        done += n;
    }
    return 0;
}

static void dispatch(struct serve *s, kio_msg *msg)
{
    struct serve_rec *r = calloc(1, sizeof(*r));
    if (!r) {
        /* Not taken in: the offset is not tracked, so nothing after it commits
         * until a restart re-reads it. */
        KF_LOG_E("serve", "out of memory; stopping");
        kio_msg_free(msg);
        atomic_store(&s->fatal, true);
        return;
    }
    r->s = s;
    r->msg = msg;
    kf_buf_init(&r->json_store);
    r->partition = msg->partition;
    r->offset = msg->offset;
    r->received_us = kf_clock_mono_us();
    if (offtrack_begin(s->offsets, r->partition, r->offset)) {
        KF_LOG_W("serve", "partition %d offset %" PRId64 " out of order; dropped (re-read later)",
                 r->partition, r->offset);
        rec_free(r);
        return;
    }
    r->bytes = (int64_t)msg->value.len;
    s->inflight_bytes += r->bytes;

    char errstr[256];
    int err;
    /* A JSON request (docs/schema.md): decoded into the record's own store,
     * which lives as long as the record, and answered in JSON. */
    r->json = req_is_json(msg->value.ptr, msg->value.len);
    if (r->json) {
        err = req_decode_json(msg->value.ptr, msg->value.len, &s->limits, &r->rq, &r->json_store,
                              &r->json_b64, errstr, sizeof(errstr));
        r->bytes += (int64_t)r->json_store.cap;
        s->inflight_bytes += (int64_t)r->json_store.cap;
    } else {
        err =
            req_decode(msg->value.ptr, msg->value.len, &s->limits, &r->rq, errstr, sizeof(errstr));
    }
    if (r->rq.model.len)
        snprintf(r->model, sizeof(r->model), "%.*s", (int)r->rq.model.len,
                 (const char *)r->rq.model.ptr);
    /* reply_to is checked whatever else failed: a request that fails
     * validation after naming one is still answered on topic.responses. */
    char why[256];
    bool reply_ok =
        !r->rq.reply_to.len || reply_to_allowed(&s->reply_to, r->rq.reply_to, why, sizeof(why));
    r->reply_default = !reply_ok;
    s->txn_dirty = true;
    char poisoned[160];
    if (s->cfg->exactly_once &&
        serve_txn_take_poison(&s->txn, r->partition, r->offset, poisoned, sizeof(poisoned))) {
        /* Its answer failed in an aborted transaction: what at-least-once
         * would have sent in its place (out_failed), now. */
        if (!r->rq.model.len)
            memset(&r->rq, 0, sizeof(r->rq));
        r->reply_default = r->answer_failed = true;
        reject(s, r, "delivery_failed", poisoned);
        return;
    }
    if (err) {
        if (!r->rq.model.len)
            memset(&r->rq, 0, sizeof(r->rq)); /* not addressable: DLQ only */
        reject(s, r, req_err_code(err), errstr);
        return;
    }
    if (!reply_ok) {
        reject(s, r, "bad_reply_to", why);
        return;
    }

    struct served_model *sm = model_set_find(s->models, r->model);
    if (!sm || !sm->batcher) {
        snprintf(errstr, sizeof(errstr), "model: '%s' is not served by this fleet", r->model);
        reject(s, r, "unknown_model", errstr);
        return;
    }
    r->sm = sm;
    r->rows = (int64_t)r->rq.inputs.rows;
    s->inflight_rows += r->rows;
    if (r->rq.has_deadline && r->rq.deadline_ms < kf_clock_wall_ms()) {
        atomic_store(&r->pending, 1);
        send_response(s, r, RESP_EXPIRED, "expired", "deadline_ms passed before compute", NULL, 0,
                      NULL, NULL, 0);
        return;
    }

    const struct req_tensor *in = &r->rq.inputs;
    const float *rows = (const float *)in->data.ptr;
    if (in->dtype != SCHEMA_DTYPE_F32) {
        enum kern_dtype kdt;
        size_t n = in->rows * in->cols;
        r->input_f32 = malloc(n * sizeof(float));
        r->bytes += (int64_t)(n * sizeof(float));
        s->inflight_bytes += (int64_t)(n * sizeof(float));
        if (model_map_dtype(in->dtype, &kdt) || !r->input_f32 ||
            kern_to_f32(kdt, in->data.ptr, r->input_f32, n)) {
            reject(s, r, "internal", "cannot convert inputs to f32");
            return;
        }
        rows = r->input_f32;
    }
    /* f32 data is used in place: the batcher only memcpy()s it, so the
     * missing alignment guarantee of msgpack bin data does not matter. */
    snprintf(r->pin, sizeof(r->pin), "%.*s", (int)r->rq.version.len,
             (const char *)r->rq.version.ptr);
    r->item = (struct batch_item){
        .input = rows,
        .rows = in->rows,
        .width = in->cols,
        .pin_version = r->pin[0] ? r->pin : NULL,
        .deadline_ms = r->rq.has_deadline ? (int64_t)r->rq.deadline_ms : 0,
        .opaque = r,
    };
    err = batcher_submit(sm->batcher, &r->item);
    if (err)
        reject(s, r, "internal", "worker is shutting down");
}

/* Backpressure: while the records taken in and not yet settled exceed
 * queue.max_rows or queue.max_bytes, intake is held: serve_poll takes no
 * record and waits on the deliveries that settle the queue instead.
 * librdkafka keeps prefetching meanwhile, up to queued.max.messages.kbytes,
 * so memory stays bounded and the next record is at hand the moment there is
 * room. A hold that lasts SERVE_HOLD_PAUSE_US (compute stuck, the broker
 * refusing answers) also pauses every assigned partition, so that the
 * consumer can be polled for rebalance events without taking records;
 * librdkafka drops what it prefetched for a paused partition and fetches
 * again from the next offset on resume, so nothing is skipped. The pause
 * ends once the queue is down to half. */
static bool over_limit(const struct serve *s)
{
    return s->inflight_rows >= s->cfg->queue_max_rows ||
           s->inflight_bytes >= s->cfg->queue_max_bytes;
}

static void set_paused(struct serve *s, bool pause, const kio_tplist *only)
{
    kio_tplist *parts = NULL;
    if (only)
        parts = kio_tplist_copy(only);
    else if (kio_consumer_assignment(s->requests, &parts))
        parts = NULL;
    if (parts && parts->count) {
        int err = pause ? kio_consumer_pause(s->requests, parts)
                        : kio_consumer_resume(s->requests, parts);
        if (err)
            KF_LOG_W("serve", "%s: %s", pause ? "pause" : "resume", kf_strerror(err));
    }
    kio_tplist_free(parts);
}

static void flow_control(struct serve *s)
{
    int64_t now = kf_clock_mono_us();
    if (!s->held && over_limit(s)) {
        KF_LOG_D("serve", "queue full (%" PRId64 " rows, %" PRId64 " bytes): holding intake",
                 s->inflight_rows, s->inflight_bytes);
        s->held = true;
        s->held_since_us = now;
        metric_set(metrics_series(s->m->paused, NULL), 1);
        metric_inc(metrics_series(s->m->pauses, NULL), 1);
    } else if (s->held && !s->paused && now - s->held_since_us >= SERVE_HOLD_PAUSE_US) {
        KF_LOG_I("serve",
                 "queue full for %lld ms (%" PRId64 " rows, %" PRId64 " bytes): pausing intake",
                 (long long)((now - s->held_since_us) / 1000), s->inflight_rows, s->inflight_bytes);
        set_paused(s, true, NULL);
        s->paused = true;
    } else if (s->held && !s->paused && !over_limit(s)) {
        s->held = false;
        metric_set(metrics_series(s->m->paused, NULL), 0);
    } else if (s->paused && s->inflight_rows <= s->cfg->queue_max_rows / 2 &&
               s->inflight_bytes <= s->cfg->queue_max_bytes / 2) {
        KF_LOG_I("serve", "queue drained: resuming intake");
        set_paused(s, false, NULL);
        s->paused = s->held = false;
        metric_set(metrics_series(s->m->paused, NULL), 0);
    }
}

/* Rebalance (main thread, inside kio_consumer_poll). */
static void on_rebalance(void *opaque, kio_consumer *kc, enum kio_rebalance ev,
                         const kio_tplist *parts)
{
    struct serve *s = opaque;
    (void)kc;
    atomic_store(&s->last_round_us, kf_clock_mono_us());
    if (parts->count)
        KF_LOG_I("serve", "%s %zu partition(s)", kio_rebalance2str(ev), parts->count);
    if (ev == KIO_REBALANCE_ASSIGNED) {
        atomic_fetch_add(&s->assign_rounds, 1);
        if (!parts->count)
            return; /* a round that gave this member nothing new */
        atomic_store(&s->rebalanced, true);
        atomic_fetch_add(&s->assigned, (int)parts->count);
        if (s->paused)
            set_paused(s, true, parts); /* new partitions start paused while full */
        return;
    }
    if (ev == KIO_REBALANCE_REVOKED) {
        /* Finish what was taken from these partitions, then commit it, before
         * a peer starts reading them: no loss, no duplicate. */
        serve_settle_all(s, "revoke");
    } else if (s->cfg->exactly_once) {
        /* Lost: the group gave them away already, so the open transaction
         * cannot commit their offsets; it aborts at the next commit, and
         * what it held for the partitions kept is read again. */
        serve_txn_doom(&s->txn);
    }
    for (size_t i = 0; i < parts->count; i++)
        offtrack_forget(s->offsets, parts->elems[i].partition);
    atomic_fetch_sub(&s->assigned, (int)parts->count);
}

static void serve_commit(struct serve *s, bool sync)
{
    kio_tplist *assigned = NULL;
    if (kio_consumer_assignment(s->requests, &assigned) || !assigned)
        return;
    int stored = 0;
    for (size_t i = 0; i < assigned->count; i++) {
        int32_t p = assigned->elems[i].partition;
        int64_t off = offtrack_committable(s->offsets, p);
        if (off < 0)
            continue;
        if (!kio_consumer_store(s->requests, s->cfg->topic_requests, p, off)) {
            offtrack_committed(s->offsets, p, off);
            stored++;
        }
    }
    kio_tplist_free(assigned);
    if (stored || sync || s->commit_owed) {
        /* -EAGAIN: held while the group finishes a rebalance (kio_consumer.h);
         * what was stored goes with the next commit. */
        int err = kio_consumer_commit(s->requests, !sync);
        s->commit_owed = err != 0;
        if (err && sync)
            KF_LOG_W("serve", "commit failed: %s", kf_strerror(err));
    }
    s->last_commit_us = kf_clock_mono_us();
}

/* Exactly-once: commit the open transaction (everything in it answered and
 * acknowledged: call after serve_drain) and open the next. */
/* The transactional producer was fenced. Its own transaction outliving
 * transaction.timeout.ms (the broker away longer) is the common cause: the
 * broker aborted it and moved the epoch on, so a new producer with the same
 * id goes on from the committed offsets. Fenced twice within a minute means
 * another live worker has this id: stop, rather than take turns fencing. */
static int txn_recover(struct serve *s)
{
    int64_t now = kf_clock_mono_us();
    if (s->txn_recovered_us && now - s->txn_recovered_us < SERVE_TXN_REFENCE_US) {
        KF_LOG_E("serve",
                 "exactly-once: fenced again within %lld s: another worker has the id "
                 "%s; stopping",
                 SERVE_TXN_REFENCE_US / 1000000, s->cfg->id);
        return -ENOTRECOVERABLE;
    }
    s->txn_recovered_us = now;
    KF_LOG_W("serve", "exactly-once: producer fenced; going on with a new one from the "
                      "committed offsets");
    /* What the old producer still holds fails with it: settled, not answered. */
    kio_producer_free(s->producer);
    handle_failed_outs(s);
    char errstr[512];
    s->producer = producer_new(s, true, errstr, sizeof(errstr));
    if (!s->producer) {
        KF_LOG_E("serve", "exactly-once: %s; stopping", errstr);
        return -ENOTRECOVERABLE;
    }
    return serve_txn_restart(&s->txn, s->producer);
}

static void serve_txn_end(struct serve *s)
{
    int err = serve_txn_commit(&s->txn, s->closing);
    if (err == -ENOTRECOVERABLE && !s->closing)
        err = txn_recover(s) ? -ENOTRECOVERABLE : -ECANCELED;
    metric_inc(
        metrics_series(s->m->transactions, (const char *const[]){err ? "aborted" : "committed"}),
        1);
    s->txn_dirty = false;
    if (err == -ENOTRECOVERABLE)
        atomic_store(&s->fatal, true);
}

/* Drain, deliver, commit synchronously, with each step's time in the log:
 * the hand-off's and the revoke's cost (docs/worker.md "Leaving the group"). */
static void serve_settle_all(struct serve *s, const char *why)
{
    size_t n = offtrack_inflight_total(s->offsets);
    int64_t t0 = kf_clock_mono_us();
    serve_drain(s);
    int64_t t1 = kf_clock_mono_us();
    if (s->cfg->exactly_once)
        serve_txn_end(s);
    else
        serve_commit(s, true);
    int64_t t2 = kf_clock_mono_us();
    KF_LOG_I("serve", "%s: %zu in flight answered and delivered in %.1f ms, committed in %.1f ms",
             why, n, (t1 - t0) / 1e3, (t2 - t1) / 1e3);
}

/* Finish every batch and deliver every answer: their reports settle the
 * offsets, and a failed one produces its replacement here. */
static void serve_drain(struct serve *s)
{
    model_set_drain(s->models);
    for (;;) {
        handle_failed_outs(s);
        if (!offtrack_inflight_total(s->offsets) || atomic_load(&s->fatal))
            break;
        if (kio_producer_outq_len(s->producer) > 0)
            kio_producer_flush(s->producer, 100);
        else if (!s->failed_outs)
            break;
    }
    kio_producer_poll(s->producer, 0);
    handle_failed_outs(s);
}

/* Main thread, inside kio_consumer_poll of the request consumer, once per
 * statistics interval: kfleet_consumer_lag of the partitions owned here, as
 * librdkafka's statistics give it (no admin API in the worker process: it
 * can abort the process when brokers go away, issue 12). */
static void on_stats(void *opaque, const char *json, size_t len)
{
    struct serve *s = opaque;
    int64_t now = kf_clock_mono_us();
    if (now - s->last_lag_us < SERVE_LAG_REFRESH_US)
        return;
    s->last_lag_us = now;
    kio_tplist *mine = NULL;
    if (kio_consumer_assignment(s->requests, &mine))
        return;
    lag_gauges_update(&s->lag, mine, json, len);
    kio_tplist_free(mine);
}

/* @p transactional: the answers' producer with exactly_once. Its
 * transactional.id names the group and the worker: a restarted worker fences
 * its previous instance's open transaction (aborting it) at start; two live
 * workers with one id fence each other (docs/delivery.md). */
static kio_producer *producer_new(struct serve *s, bool transactional, char *errstr,
                                  size_t errstr_size)
{
    char txn_id[512];
    snprintf(txn_id, sizeof(txn_id), "kfleet-%s-%s", s->cfg->group_id, s->cfg->id);
    /* An answer to a reply_to topic that does not exist fails after this long
     * (librdkafka's default is 30 s), and its record settles through the DLQ.
     * A transaction left open by a stopped worker blocks read_committed
     * readers of the partitions it wrote until the broker aborts it: after
     * transaction.timeout.ms (librdkafka's default is 60 s). */
    const char *props[] = {
        "topic.metadata.propagation.max.ms",
        "10000",
        transactional ? "transactional.id" : NULL,
        txn_id,
        "transaction.timeout.ms",
        "10000",
        NULL,
    };
    struct kio_opts o = {
        .brokers = s->cfg->brokers,
        .client_id = s->cfg->id,
        .props = props,
        .conf = s->cfg->conf,
        .opaque = s,
    };
    return kio_producer_new(&o, on_delivery, errstr, errstr_size);
}

static kio_consumer *consumer_new(struct serve *s, char *errstr, size_t errstr_size)
{
    /* Group timing for crash recovery (docs/operations.md): a worker that
     * dies without leaving is noticed after session.timeout.ms, so its
     * partitions move within seconds rather than librdkafka's 45 s default.
     * 6 s is the broker's default group.min.session.timeout.ms.
     * The prefetch queue is memory outside queue.max_bytes, and sized to
     * hold more than a second of the worker's intake: librdkafka 2.0.2 stops
     * fetching when it is full and looks again only when its broker thread
     * next wakes, up to a second later (#2879; fetch.queue.backoff.ms exists
     * from 2.3 only), so a smaller queue ran dry under a backlog and the
     * worker waited (issue 17: 16 MiB gave 0.31-0.42 of the echo, 64 MiB
     * 0.87). The message count is high enough that the bytes bind first for
     * any request over ~130 bytes. */
    static const char *const props[] = {
        "session.timeout.ms",
        "6000",
        "heartbeat.interval.ms",
        "200",
        "enable.auto.commit",
        "false",
        "queued.max.messages.kbytes",
        "65536",
        "queued.min.messages",
        "500000",
        NULL,
    };
    struct kio_opts o = {
        .brokers = s->cfg->brokers,
        .client_id = s->cfg->id,
        .props = props,
        .conf = s->cfg->conf,
        .opaque = s,
        /* The member's client id is the worker id, so the group's membership
         * names workers (blue/green cutover, departed workers). */
        .stats_cb = on_stats,
        .stats_interval_ms = SERVE_STATS_INTERVAL_MS,
    };
    struct kio_consumer_opts co = {
        .group_id = s->cfg->group_id,
        .rebalance_cb = on_rebalance,
    };
    return kio_consumer_new(&o, &co, errstr, errstr_size);
}

serve *serve_new(const struct worker_config *cfg, struct kern_backend *backend, model_set *models,
                 struct worker_metrics *m, char *errstr, size_t errstr_size)
{
    struct serve *s = calloc(1, sizeof(*s));
    if (!s) {
        kf_errf(errstr, errstr_size, "out of memory");
        return NULL;
    }
    pthread_mutex_init(&s->failed_lock, NULL);
    s->cfg = cfg;
    s->backend = backend;
    s->models = models;
    s->m = m;
    req_limits_default(&s->limits);
    s->limits.max_rows = cfg->limit_rows;
    s->limits.max_cols = cfg->limit_cols;
    s->limits.max_bytes = cfg->limit_bytes;
    s->reply_to = (struct reply_to_policy){
        .responses = cfg->topic_responses,
        .prefix = cfg->reply_to_prefix,
        .forbidden = {cfg->topic_requests, cfg->topic_dlq, cfg->topic_control},
    };
    s->lag =
        (struct lag_gauges){.family = m->lag, .group = cfg->group_id, .topic = cfg->topic_requests};
    s->offsets = offtrack_new();
    if (!s->offsets) {
        kf_errf(errstr, errstr_size, "out of memory");
        serve_free(s);
        return NULL;
    }
    s->producer = producer_new(s, cfg->exactly_once, errstr, errstr_size);
    s->events = s->producer && cfg->exactly_once ? producer_new(s, false, errstr, errstr_size)
                                                 : s->producer;
    s->requests = s->events ? consumer_new(s, errstr, errstr_size) : NULL;
    if (!s->requests) {
        serve_free(s);
        return NULL;
    }
    if (cfg->exactly_once && serve_txn_start(&s->txn, s->producer, s->requests, s->offsets,
                                             cfg->topic_requests, errstr, errstr_size)) {
        serve_free(s);
        return NULL;
    }
    return s;
}

void serve_free(serve *s)
{
    if (!s)
        return;
    kio_consumer_free(s->requests);
    if (s->events != s->producer)
        kio_producer_free(s->events);
    kio_producer_free(s->producer);
    serve_txn_fini(&s->txn);
    while (s->failed_outs) {
        struct serve_out *o = s->failed_outs;
        s->failed_outs = o->next;
        free(o);
    }
    lag_gauges_fini(&s->lag);
    offtrack_free(s->offsets);
    pthread_mutex_destroy(&s->failed_lock);
    free(s);
}

kio_producer *serve_producer(serve *s)
{
    return s->events;
}

void serve_batching(serve *s, struct batcher_conf *bc)
{
    *bc = (struct batcher_conf){
        .max_batch_rows = s->cfg->max_batch_rows,
        .max_delay_us = s->cfg->max_delay_us,
        .run = run_batch,
        .done = on_batch_done,
        .ctx = s,
    };
}

int serve_join(serve *s)
{
    const char *topics[] = {s->cfg->topic_requests};
    int err = kio_consumer_subscribe(s->requests, topics, 1);
    if (err) {
        KF_LOG_W("serve", "subscribe to %s: %s", s->cfg->topic_requests, kf_strerror(err));
        return err;
    }
    atomic_store(&s->joined, true);
    KF_LOG_I("serve", "%s %s group %s on %s", s->cfg->id, s->joins++ ? "rejoined" : "joined",
             s->cfg->group_id, s->cfg->topic_requests);
    return 0;
}

int serve_leave(serve *s)
{
    /* Everything taken in is answered, delivered and committed while this
     * member is still a settled part of the group, before the rebalance
     * starts: nothing is polled meanwhile, so nothing new comes in, and the
     * revoke that follows the unsubscribe finds nothing to do. The peers see
     * the LeaveGroup as soon as it can go out. */
    serve_settle_all(s, "leaving");
    atomic_store(&s->joined, false);
    int err = kio_consumer_unsubscribe(s->requests);
    if (err)
        KF_LOG_W("serve", "unsubscribe from %s: %s", s->cfg->topic_requests, kf_strerror(err));
    return err;
}

int serve_assignment(serve *s, kio_tplist **out)
{
    return kio_consumer_assignment(s->requests, out);
}

void serve_poll(serve *s, int timeout_ms)
{
    /* The gap is measured between entries into the poll, so a revoke that
     * drains inside the previous poll counts against it. */
    int64_t now = kf_clock_mono_us();
    if (s->last_poll_us && now - s->last_poll_us > atomic_load(&s->max_poll_gap_us)) {
        atomic_store(&s->max_poll_gap_us, now - s->last_poll_us);
        metric_set(metrics_series(s->m->poll_gap, NULL), (double)(now - s->last_poll_us) / 1e6);
    }
    s->last_poll_us = now;
    kio_msg *msg = NULL;
    int err = 0;
    if (s->held && !s->paused)
        kio_producer_poll(s->producer, timeout_ms); /* the deliveries that make room */
    else
        err = kio_consumer_poll(s->requests, timeout_ms, &msg);
    /* The first record waits up to timeout_ms; the ones already fetched
     * behind it are taken in this turn, until the queue is full. */
    for (int n = 1; msg; n++) {
        dispatch(s, msg);
        msg = NULL;
        if (n == SERVE_POLL_BURST || over_limit(s) || atomic_load(&s->fatal))
            break;
        err = kio_consumer_poll(s->requests, 0, &msg);
    }
    if (err && kio_err_is_fatal(err)) {
        KF_LOG_E("serve", "request consumer: %s", kf_strerror(err));
        atomic_store(&s->fatal, true);
    }
    kio_producer_poll(s->producer, 0);
    handle_failed_outs(s);
    flow_control(s);
    if (s->cfg->exactly_once) {
        /* The answers become visible at the commit: every commit interval,
         * if anything was taken in (or the transaction must abort). */
        if ((s->txn_dirty || atomic_load(&s->txn.doomed)) &&
            kf_clock_mono_us() - s->txn.last_commit_us >= s->cfg->commit_interval_us) {
            int64_t t0 = kf_clock_mono_us();
            serve_drain(s);
            serve_txn_end(s);
            metric_observe(metrics_series(s->m->txn_seconds, NULL),
                           (double)(kf_clock_mono_us() - t0) / 1e6);
        }
    } else if (kf_clock_mono_us() - s->last_commit_us > 200000) {
        serve_commit(s, false);
    }
}

void serve_close(serve *s)
{
    atomic_store(&s->joined, false);
    s->closing = true;
    serve_drain(s);
    if (s->cfg->exactly_once)
        serve_txn_end(s);
    else
        serve_commit(s, true);
    /* close runs the revoke callback (nothing left in flight) and leaves the group */
    kio_consumer_close(s->requests, 30000);
}

struct serve_stats serve_stats(serve *s)
{
    return (struct serve_stats){
        .joined = atomic_load(&s->joined),
        .rebalanced = atomic_load(&s->rebalanced),
        .fatal = atomic_load(&s->fatal),
        .assigned = atomic_load(&s->assigned),
        .assign_rounds = atomic_load(&s->assign_rounds),
        .last_round_us = atomic_load(&s->last_round_us),
        .answered = atomic_load(&s->answered),
        .errors = atomic_load(&s->errors),
        .expired = atomic_load(&s->expired),
        .dlq = atomic_load(&s->dlq_count),
        .max_poll_gap_us = atomic_load(&s->max_poll_gap_us),
    };
}

size_t serve_inflight(serve *s)
{
    return offtrack_inflight_total(s->offsets);
}
