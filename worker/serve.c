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
#include "worker/worker_impl.h"

#include "common/kf_clock.h"
#include "common/kf_err.h"
#include "common/kf_log.h"
#include "kernels/kern_dtype.h"
#include "schema/resp.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One message produced for a record: its delivery report comes back with
 * this as the opaque, so a failure knows what failed. */
enum serve_out_kind {
    OUT_ANSWER, /* the answer (or an error answer) */
    OUT_DLQ,    /* the dead-letter copy */
};

struct serve_out {
    struct serve_rec *r;
    enum serve_out_kind kind;
    int err; /* a failed delivery, waiting in w->failed_outs */
    char errstr[160];
    struct serve_out *next;
};

struct serve_rec {
    struct worker *w;
    kio_msg *msg; /* owned; rq borrows from it */
    struct req rq;
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

static void rec_free(struct serve_rec *r)
{
    r->w->inflight_rows -= r->rows;
    r->w->inflight_bytes -= r->bytes;
    kio_msg_free(r->msg);
    free(r->input_f32);
    free(r);
}

/* The last delivery of a record settles its offset (main thread). */
static void rec_settle(struct serve_rec *r)
{
    if (atomic_fetch_sub(&r->pending, 1) != 1)
        return;
    /* -ENOENT: the partition was revoked or lost meanwhile; nothing to commit. */
    offtrack_settle(r->w->offsets, r->partition, r->offset);
    rec_free(r);
}

/* A failed delivery: queued for serve_handle_failures(), outside librdkafka's
 * callback, where producing again may block and poll. */
static void on_delivery(void *opaque, const struct kio_delivery *dr)
{
    struct worker *w = opaque;
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
    o->next = w->failed_outs;
    w->failed_outs = o;
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

static void out_failed(struct worker *w, struct serve_out *o, int err, const char *why);

/* Produce one message for @p o (any thread but inside a delivery callback).
 * The record's pending count must already include it. */
static void produce(struct worker *w, struct serve_rec *r, enum serve_out_kind kind,
                    const char *topic, kf_buf *value, const struct kio_header *headers,
                    size_t nheaders)
{
    struct serve_out *o = calloc(1, sizeof(*o));
    if (!o) {
        /* Not produced, so never settled: stop, and a peer re-reads it. */
        KF_LOG_E("serve", "out of memory producing an answer; stopping");
        kf_buf_fini(value);
        atomic_store(&w->fatal, true);
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
    int err = kio_producer_send(w->producer, &m, KIO_SEND_FREE | KIO_SEND_BLOCK);
    if (err) {
        free(bytes);
        char why[200];
        snprintf(why, sizeof(why), "cannot produce to %s: %s", topic, kf_strerror(err));
        KF_LOG_W("serve", "partition %d offset %" PRId64 ": %s", r->partition, r->offset, why);
        out_failed(w, o, err, why);
        free(o);
    }
}

static void send_dlq(struct worker *w, struct serve_rec *r, const char *code, const char *reason)
{
    char part[16], off[24];
    snprintf(part, sizeof(part), "%d", r->partition);
    snprintf(off, sizeof(off), "%" PRId64, r->offset);
    struct kio_header h[] = {
        KIO_HEADER_STR("kfleet-error", reason),
        KIO_HEADER_STR("kfleet-error-code", code),
        KIO_HEADER_STR("kfleet-source-partition", part),
        KIO_HEADER_STR("kfleet-source-offset", off),
        KIO_HEADER_STR("kfleet-worker", w->id),
    };
    kf_buf v;
    kf_buf_init(&v);
    if (!r->dlq_bare && r->msg->value.len &&
        kf_buf_append(&v, r->msg->value.ptr, r->msg->value.len)) {
        KF_LOG_W("serve", "out of memory for a DLQ copy: sending its headers only");
        r->dlq_bare = true;
    }
    atomic_fetch_add(&w->dlq_count, 1);
    metric_inc(metrics_series(w->m.dlq, (const char *const[]){code}), 1);
    produce(w, r, OUT_DLQ, w->topic_dlq, &v, h, sizeof(h) / sizeof(h[0]));
}

static const char *reply_topic(struct worker *w, const struct serve_rec *r, char *buf, size_t size)
{
    if (!r->rq.reply_to.len || r->reply_default)
        return w->topic_responses;
    snprintf(buf, size, "%.*s", (int)r->rq.reply_to.len, (const char *)r->rq.reply_to.ptr);
    return buf;
}

/* Encode and produce a response. @p v NULL: no version computed. */
static void send_response(struct worker *w, struct serve_rec *r, enum resp_status st,
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
        .worker = {(const uint8_t *)w->id, strlen(w->id)},
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
    int err = resp_encode(&rs, &value);
    if (err) {
        /* Only a bug or OOM gets here: the DLQ copy stands in for the answer. */
        KF_LOG_E("serve", "cannot encode a response: %s", kf_strerror(err));
        kf_buf_fini(&value);
        r->answer_failed = true;
        send_dlq(w, r, "internal", "the worker could not encode the answer");
        return;
    }
    char part[16], off[24], topic[256];
    snprintf(part, sizeof(part), "%d", r->partition);
    snprintf(off, sizeof(off), "%" PRId64, r->offset);
    struct kio_header h[] = {
        KIO_HEADER_STR("kfleet-model", r->model),
        KIO_HEADER_STR("kfleet-version", v ? v->version : ""),
        KIO_HEADER_STR("kfleet-manifest-sha256", v ? v->manifest_sha256 : ""),
        KIO_HEADER_STR("kfleet-worker", w->id),
        KIO_HEADER_STR("kfleet-source-partition", part),
        KIO_HEADER_STR("kfleet-source-offset", off),
    };
    metric_inc(
        metrics_series(w->m.requests, (const char *const[]){model_label(r), v ? v->version : "",
                                                            status_label(st)}),
        1);
    if (st == RESP_OK)
        atomic_fetch_add(&w->answered, 1);
    else if (st == RESP_EXPIRED)
        atomic_fetch_add(&w->expired, 1);
    else
        atomic_fetch_add(&w->errors, 1);
    produce(w, r, OUT_ANSWER, reply_topic(w, r, topic, sizeof(topic)), &value, h,
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
static void out_failed(struct worker *w, struct serve_out *o, int err, const char *why)
{
    struct serve_rec *r = o->r;
    if (o->kind == OUT_ANSWER) {
        const char *code = err == -EMSGSIZE ? "too_large" : "delivery_failed";
        if (!r->answer_failed) {
            r->answer_failed = true;
            r->reply_default = true;
            atomic_fetch_add(&r->pending, 1);
            send_response(w, r, RESP_ERROR, code, why, NULL, 0, NULL, NULL, 0);
        }
        send_dlq(w, r, code, why);
        return;
    }
    if (err == -EMSGSIZE && !r->dlq_bare) {
        r->dlq_bare = true;
        send_dlq(w, r, "too_large", why);
        return;
    }
    KF_LOG_E("serve", "partition %d offset %" PRId64 ": cannot dead-letter it (%s); stopping",
             r->partition, r->offset, why);
    atomic_store(&w->fatal, true);
}

/* Main thread, outside librdkafka's callbacks: the failed deliveries. */
static void handle_failed_outs(struct worker *w)
{
    while (w->failed_outs) {
        struct serve_out *o = w->failed_outs;
        w->failed_outs = o->next;
        out_failed(w, o, o->err, o->errstr);
        free(o);
    }
}

/* An invalid request: an error response when it can be addressed (id and
 * model decoded), and a DLQ copy always. */
static void reject(struct worker *w, struct serve_rec *r, const char *code, const char *message)
{
    bool addressable = r->rq.id.len > 0;
    atomic_store(&r->pending, addressable ? 2 : 1);
    KF_LOG_D("serve", "partition %d offset %" PRId64 ": %s: %s", r->partition, r->offset, code,
             message);
    if (addressable)
        send_response(w, r, RESP_ERROR, code, message, NULL, 0, NULL, NULL, 0);
    send_dlq(w, r, code, message);
}

/* Inference thread: a batch finished or could not run. */
static void on_batch_done(void *ctx, struct batch_item **items, size_t n, const float *outputs,
                          size_t output_width, const struct slot_version *v, int err,
                          const struct batch_timing *t)
{
    struct worker *w = ctx;
    size_t row = 0;
    int64_t now = kf_clock_mono_us();
    if (!err && v)
        metric_observe(metrics_series(w->m.batch_rows, (const char *const[]){v->version}),
                       (double)t->batch_rows);
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
            metric_inc(metrics_series(w->m.queue_expired, (const char *const[]){r->model}), 1);
            atomic_store(&r->pending, 1);
            send_response(w, r, RESP_EXPIRED, "expired", "deadline_ms passed while queued", NULL, 0,
                          NULL, NULL, 0);
        } else if (!err) {
            const float *out = outputs + row * output_width;
            bool finite = true;
            for (size_t k = 0; k < rows * output_width && finite; k++)
                finite = isfinite(out[k]);
            agent_health_record(r->sm, latency_us, !finite);
            metric_inc(metrics_series(w->m.computed_rows, (const char *const[]){r->model}),
                       (double)rows);
            metric_observe(
                metrics_series(w->m.latency, (const char *const[]){r->model, v->version}),
                (double)latency_us / 1e6);
            atomic_store(&r->pending, 1);
            send_response(w, r, RESP_OK, NULL, NULL, out, output_width, v, t, queue_us);
        } else if (err == -EINVAL && v) {
            /* A version that rejects the traffic it gets is unhealthy for it
             * (a canary whose input width changed fails its bake). */
            agent_health_record(r->sm, latency_us, true);
            char msg[256];
            snprintf(msg, sizeof(msg), "inputs.shape: %zu columns, model %s version %s takes %zu",
                     r->item.width, r->model, v->version, v->input_width);
            reject(w, r, "bad_shape", msg);
        } else if (err == -ENOENT) {
            char msg[256];
            if (r->rq.version.len)
                snprintf(msg, sizeof(msg), "version %.*s of %s is not resident on this worker",
                         (int)r->rq.version.len, (const char *)r->rq.version.ptr, r->model);
            else
                snprintf(msg, sizeof(msg), "model %s has no version loaded on this worker yet",
                         r->model);
            atomic_store(&r->pending, 1);
            send_response(w, r, RESP_ERROR, r->rq.version.len ? "unknown_version" : "unavailable",
                          msg, NULL, 0, NULL, NULL, 0);
        } else {
            /* A backend error: answer, then stop this worker (ARCHITECTURE §6:
             * drain, leave, exit non-zero for the supervisor). */
            char msg[256];
            snprintf(msg, sizeof(msg), "backend error: %s", kf_strerror(err));
            agent_health_record(r->sm, latency_us, true);
            atomic_store(&r->pending, 1);
            send_response(w, r, RESP_ERROR, "internal", msg, NULL, 0, v, NULL, 0);
            if (kern_err_is_fatal(err))
                atomic_store(&w->fatal, true);
        }
        row += rows;
    }
}

/* Inference thread: run through the backend, in pieces of the handle's max_rows. */
static int run_batch(void *ctx, struct slot_version *v, const float *in, size_t rows, float *out)
{
    struct worker *w = ctx;
    struct kern_weights *kw = loader_weights(v);
    uint32_t max = kern_weights_max_rows(kw);
    for (size_t done = 0; done < rows;) {
        uint32_t n = (uint32_t)(rows - done < max ? rows - done : max);
        int err = kern_forward(w->backend, kw, in + done * v->input_width, n,
                               out + done * v->output_width);
        if (err)
            return err;
        done += n;
    }
    return 0;
}

static int to_kern_dtype(enum schema_dtype dt, enum kern_dtype *out)
{
    switch (dt) {
    case SCHEMA_DTYPE_F32: *out = KERN_DTYPE_F32; return 0;
    case SCHEMA_DTYPE_F16: *out = KERN_DTYPE_F16; return 0;
    case SCHEMA_DTYPE_BF16: *out = KERN_DTYPE_BF16; return 0;
    }
    return -EINVAL;
}

static void dispatch(struct worker *w, kio_msg *msg)
{
    struct serve_rec *r = calloc(1, sizeof(*r));
    if (!r) {
        /* Not taken in: the offset is not tracked, so nothing after it commits
         * until a restart re-reads it. */
        KF_LOG_E("serve", "out of memory; stopping");
        kio_msg_free(msg);
        atomic_store(&w->fatal, true);
        return;
    }
    r->w = w;
    r->msg = msg;
    r->partition = msg->partition;
    r->offset = msg->offset;
    r->received_us = kf_clock_mono_us();
    if (offtrack_begin(w->offsets, r->partition, r->offset)) {
        KF_LOG_W("serve", "partition %d offset %" PRId64 " out of order; dropped (re-read later)",
                 r->partition, r->offset);
        rec_free(r);
        return;
    }
    r->bytes = (int64_t)msg->value.len;
    w->inflight_bytes += r->bytes;

    char errstr[256];
    int err =
        req_decode(msg->value.ptr, msg->value.len, &w->limits, &r->rq, errstr, sizeof(errstr));
    if (r->rq.model.len)
        snprintf(r->model, sizeof(r->model), "%.*s", (int)r->rq.model.len,
                 (const char *)r->rq.model.ptr);
    /* reply_to is checked whatever else failed: a request that fails
     * validation after naming one is still answered on topic.responses. */
    char why[256];
    bool reply_ok =
        !r->rq.reply_to.len || reply_to_allowed(&w->reply_to, r->rq.reply_to, why, sizeof(why));
    r->reply_default = !reply_ok;
    if (err) {
        if (!r->rq.model.len)
            memset(&r->rq, 0, sizeof(r->rq)); /* not addressable: DLQ only */
        reject(w, r, req_err_code(err), errstr);
        return;
    }
    if (!reply_ok) {
        reject(w, r, "bad_reply_to", why);
        return;
    }

    struct served_model *sm = agent_model_get(w, r->model, false);
    if (!sm || !sm->batcher) {
        snprintf(errstr, sizeof(errstr), "model: '%s' is not served by this fleet", r->model);
        reject(w, r, "unknown_model", errstr);
        return;
    }
    r->sm = sm;
    r->rows = (int64_t)r->rq.inputs.rows;
    w->inflight_rows += r->rows;
    if (r->rq.has_deadline && r->rq.deadline_ms < kf_clock_wall_ms()) {
        atomic_store(&r->pending, 1);
        send_response(w, r, RESP_EXPIRED, "expired", "deadline_ms passed before compute", NULL, 0,
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
        w->inflight_bytes += (int64_t)(n * sizeof(float));
        if (to_kern_dtype(in->dtype, &kdt) || !r->input_f32 ||
            kern_to_f32(kdt, in->data.ptr, r->input_f32, n)) {
            reject(w, r, "internal", "cannot convert inputs to f32");
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
        reject(w, r, "internal", "worker is shutting down");
}

/* Backpressure: pause every assigned partition while the records taken in
 * and not yet settled exceed queue.max_rows or queue.max_bytes, resume once
 * they are down to half. librdkafka drops what it prefetched for a paused
 * partition and fetches again from the next offset on resume, so nothing is
 * skipped and memory stays bounded by the queue plus its fetch queue
 * (queued.max.messages.kbytes). */
static bool over_limit(const struct worker *w)
{
    return w->inflight_rows >= w->max_rows || w->inflight_bytes >= w->max_bytes;
}

static void set_paused(struct worker *w, bool pause, const kio_tplist *only)
{
    kio_tplist *parts = NULL;
    if (only)
        parts = kio_tplist_copy(only);
    else if (kio_consumer_assignment(w->requests, &parts))
        parts = NULL;
    if (parts && parts->count) {
        int err = pause ? kio_consumer_pause(w->requests, parts)
                        : kio_consumer_resume(w->requests, parts);
        if (err)
            KF_LOG_W("serve", "%s: %s", pause ? "pause" : "resume", kf_strerror(err));
    }
    kio_tplist_free(parts);
}

static void flow_control(struct worker *w)
{
    if (!w->paused && over_limit(w)) {
        KF_LOG_I("serve", "queue full (%" PRId64 " rows, %" PRId64 " bytes): pausing intake",
                 w->inflight_rows, w->inflight_bytes);
        set_paused(w, true, NULL);
        w->paused = true;
        metric_set(metrics_series(w->m.paused, NULL), 1);
        metric_inc(metrics_series(w->m.pauses, NULL), 1);
    } else if (w->paused && w->inflight_rows <= w->max_rows / 2 &&
               w->inflight_bytes <= w->max_bytes / 2) {
        KF_LOG_D("serve", "queue drained: resuming intake");
        set_paused(w, false, NULL);
        w->paused = false;
        metric_set(metrics_series(w->m.paused, NULL), 0);
    }
}

/* Rebalance (main thread, inside kio_consumer_poll). */
static void on_rebalance(void *opaque, kio_consumer *kc, enum kio_rebalance ev,
                         const kio_tplist *parts)
{
    struct worker *w = opaque;
    (void)kc;
    KF_LOG_I("serve", "%s %zu partition(s)", kio_rebalance2str(ev), parts->count);
    if (ev == KIO_REBALANCE_ASSIGNED) {
        atomic_store(&w->rebalanced, true);
        atomic_fetch_add(&w->assigned, (int)parts->count);
        if (w->paused)
            set_paused(w, true, parts); /* new partitions start paused while full */
        return;
    }
    if (ev == KIO_REBALANCE_REVOKED) {
        /* Finish what was taken from these partitions, then commit it, before
         * a peer starts reading them: no loss, no duplicate. */
        serve_drain(w);
        serve_commit(w, true);
    }
    for (size_t i = 0; i < parts->count; i++)
        offtrack_forget(w->offsets, parts->elems[i].partition);
    atomic_fetch_sub(&w->assigned, (int)parts->count);
}

void serve_commit(struct worker *w, bool sync)
{
    kio_tplist *assigned = NULL;
    if (kio_consumer_assignment(w->requests, &assigned) || !assigned)
        return;
    int stored = 0;
    for (size_t i = 0; i < assigned->count; i++) {
        int32_t p = assigned->elems[i].partition;
        int64_t off = offtrack_committable(w->offsets, p);
        if (off < 0)
            continue;
        if (!kio_consumer_store(w->requests, w->topic_requests, p, off)) {
            offtrack_committed(w->offsets, p, off);
            stored++;
        }
    }
    kio_tplist_free(assigned);
    if (stored || sync) {
        int err = kio_consumer_commit(w->requests, !sync);
        if (err && sync)
            KF_LOG_W("serve", "commit failed: %s", kf_strerror(err));
    }
    w->last_commit_us = kf_clock_mono_us();
}

void serve_drain(struct worker *w)
{
    for (size_t i = 0; i < w->n_models; i++)
        if (w->models[i].batcher)
            batcher_drain(w->models[i].batcher);
    /* Every response is queued now; their reports settle the offsets, and a
     * failed one produces its replacement here. */
    for (;;) {
        handle_failed_outs(w);
        if (!offtrack_inflight_total(w->offsets) || atomic_load(&w->fatal))
            break;
        if (kio_producer_outq_len(w->producer) > 0)
            kio_producer_flush(w->producer, 100);
        else if (!w->failed_outs)
            break;
    }
    kio_producer_poll(w->producer, 0);
    handle_failed_outs(w);
}

int serve_start(struct worker *w, char *errstr, size_t errstr_size)
{
    w->offsets = offtrack_new();
    if (!w->offsets)
        return -ENOMEM;
    w->max_rows = kf_conf_int(w->conf, "queue.max_rows");
    w->max_bytes = kf_conf_int(w->conf, "queue.max_bytes");
    /* Group timing for crash recovery (docs/operations.md): a worker that
     * dies without leaving is noticed after session.timeout.ms, so its
     * partitions move within seconds rather than librdkafka's 45 s default.
     * 6 s is the broker's default group.min.session.timeout.ms. The prefetch
     * queue is bounded too: it is memory outside queue.max_bytes. */
    static const char *const props[] = {
        "session.timeout.ms",
        "6000",
        "heartbeat.interval.ms",
        "1500",
        "queued.max.messages.kbytes",
        "16384",
        NULL,
    };
    struct kio_opts o = {
        .brokers = kf_conf_str(w->conf, "brokers"),
        .client_id = w->id,
        .props = props,
        .conf = w->conf,
        .opaque = w,
        /* A worker's id doubles as its group instance hint in the member's
         * client id, so the group's membership names workers (bluegreen). */
        /* kfleet_consumer_lag comes from the statistics (worker_lag_stats). */
        .stats_cb = worker_lag_stats,
        .stats_interval_ms = 5000,
    };
    struct kio_consumer_opts co = {
        .group_id = kf_conf_str(w->conf, "group.id"),
        .rebalance_cb = on_rebalance,
    };
    w->requests = kio_consumer_new(&o, &co, errstr, errstr_size);
    return w->requests ? 0 : -EINVAL;
}

int serve_join(struct worker *w)
{
    const char *topics[] = {w->topic_requests};
    int err = kio_consumer_subscribe(w->requests, topics, 1);
    if (err) {
        KF_LOG_W("serve", "subscribe to %s: %s", w->topic_requests, kf_strerror(err));
        return err;
    }
    atomic_store(&w->joined, true);
    KF_LOG_I("serve", "%s joined group %s on %s", w->id, kf_conf_str(w->conf, "group.id"),
             w->topic_requests);
    return 0;
}

int serve_producer_start(struct worker *w, char *errstr, size_t errstr_size)
{
    w->reply_to = (struct reply_to_policy){
        .responses = w->topic_responses,
        .prefix = kf_conf_str(w->conf, "reply_to.prefix"),
        .forbidden = {w->topic_requests, w->topic_dlq, w->topic_control},
    };
    /* An answer to a reply_to topic that does not exist fails after this long
     * (librdkafka's default is 30 s), and its record settles through the DLQ. */
    static const char *const props[] = {"topic.metadata.propagation.max.ms", "10000", NULL};
    struct kio_opts o = {
        .brokers = kf_conf_str(w->conf, "brokers"),
        .client_id = w->id,
        .props = props,
        .conf = w->conf,
        .opaque = w,
    };
    w->producer = kio_producer_new(&o, on_delivery, errstr, errstr_size);
    return w->producer ? 0 : -EINVAL;
}

struct batcher *serve_batcher_new(struct worker *w, model_slot *slot)
{
    struct batcher_conf bc = {
        .max_batch_rows = (size_t)kf_conf_int(w->conf, "max_batch_rows"),
        .max_delay_us = kf_conf_int(w->conf, "max_delay_us"),
        .run = run_batch,
        .done = on_batch_done,
        .ctx = w,
    };
    return batcher_new(slot, &bc);
}

void serve_poll(struct worker *w, int timeout_ms)
{
    kio_msg *msg = NULL;
    int err = kio_consumer_poll(w->requests, timeout_ms, &msg);
    if (err && kio_err_is_fatal(err)) {
        KF_LOG_E("serve", "request consumer: %s", kf_strerror(err));
        atomic_store(&w->fatal, true);
    }
    if (msg)
        dispatch(w, msg);
    kio_producer_poll(w->producer, 0);
    handle_failed_outs(w);
    flow_control(w);
    if (kf_clock_mono_us() - w->last_commit_us > 200000)
        serve_commit(w, false);
}

void serve_stop(struct worker *w)
{
    if (w->requests) {
        serve_drain(w);
        serve_commit(w, true);
        /* close runs the revoke callback (nothing left in flight) and leaves the group */
        kio_consumer_close(w->requests, 30000);
    }
}
