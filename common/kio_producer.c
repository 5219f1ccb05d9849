/* The idempotent producer. The ownership rule — one delivery report per
 * accepted message, even at shutdown — rests on librdkafka's own guarantee
 * that dr_msg_cb fires once per message, plus close(): whatever flush could
 * not deliver is purged, and purged messages get their reports too. */
#include "common/kio_producer.h"

#include "common/kf_err.h"
#include "common/kf_log.h"
#include "common/kio_impl.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define MOD "kio"

/* The producer this thread last polled: a blocking send may serve delivery
 * reports only on the thread that polls (reports must not run anywhere else). */
static _Thread_local const kio_producer *tls_polled;

struct kio_producer {
    struct kio_common c; /* first: it is librdkafka's opaque */
    kio_dr_cb *dr_cb;
    atomic_bool closed;
    atomic_bool polled; /* some thread has polled (or flushed) */
    atomic_uint_fast64_t sent, delivered, failed;
};

/* Defaults a user may still override through props or kafka.*. */
static const char *const producer_defaults[] = {
    "enable.idempotence",
    "true",
    /* Route keys as the Java client does, so mixed-language producers agree. */
    "partitioner",
    "murmur2_random",
    "linger.ms",
    "5",
    NULL,
};

static void dr_msg_cb(rd_kafka_t *rk, const rd_kafka_message_t *rkm, void *opaque)
{
    kio_producer *kp = opaque;
    int err = kio_err_from_rd(rkm->err);
    rd_kafka_timestamp_type_t tstype;
    struct kio_delivery dr = {
        .err = err,
        .errstr = err ? rd_kafka_err2str(rkm->err) : "",
        .topic = rd_kafka_topic_name(rkm->rkt),
        .partition = rkm->partition,
        .offset = err ? KIO_OFFSET_INVALID : rkm->offset,
        .timestamp_ms = rd_kafka_message_timestamp(rkm, &tstype),
        .key = {rkm->key, rkm->key ? rkm->key_len : 0},
        .value = {rkm->payload, rkm->payload ? rkm->len : 0},
        .opaque = rkm->_private,
        .possibly_persisted =
            err && rd_kafka_message_status(rkm) == RD_KAFKA_MSG_STATUS_POSSIBLY_PERSISTED,
    };
    (void)rk;
    atomic_fetch_add(err ? &kp->failed : &kp->delivered, 1);
    if (kp->dr_cb)
        kp->dr_cb(kp->c.opaque, &dr);
    else if (err)
        KF_LOG_W(MOD, "delivery to %s [%d] failed: %s", dr.topic, dr.partition, dr.errstr);
}

kio_producer *kio_producer_new(const struct kio_opts *opts, kio_dr_cb *dr_cb, char *errstr,
                               size_t errstr_size)
{
    if (!opts) {
        kf_errf(errstr, errstr_size, "kio_producer_new: no options");
        return NULL;
    }
    kio_producer *kp = calloc(1, sizeof(*kp));
    if (!kp) {
        kf_errf(errstr, errstr_size, "out of memory");
        return NULL;
    }
    kio_common_init(&kp->c, opts);
    kp->dr_cb = dr_cb;
    rd_kafka_conf_t *conf = kio_conf_build(opts, &kp->c, producer_defaults, errstr, errstr_size);
    if (!conf)
        goto fail;
    rd_kafka_conf_set_dr_msg_cb(conf, dr_msg_cb);
    char why[512];
    kp->c.rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, why, sizeof(why));
    if (!kp->c.rk) {
        kf_errf(errstr, errstr_size, "producer: %s", why);
        rd_kafka_conf_destroy(conf); /* rd_kafka_new owns conf only on success */
        goto fail;
    }
    conf = NULL; /* now owned by rk */
    return kp;
fail:
    free(kp);
    return NULL;
}

static int send_flags(int flags, int *msgflags)
{
    int own = flags & (KIO_SEND_COPY | KIO_SEND_FREE | KIO_SEND_BORROW);
    if (flags & ~(KIO_SEND_COPY | KIO_SEND_FREE | KIO_SEND_BORROW | KIO_SEND_BLOCK))
        return -EINVAL;
    switch (own) {
    case KIO_SEND_COPY: *msgflags = RD_KAFKA_MSG_F_COPY; return 0;
    case KIO_SEND_FREE: *msgflags = RD_KAFKA_MSG_F_FREE; return 0;
    case KIO_SEND_BORROW: *msgflags = 0; return 0;
    default: return -EINVAL;
    }
}

int kio_producer_send(kio_producer *kp, const struct kio_out_msg *m, int flags)
{
    int msgflags;
    if (!kp || !m || !m->topic || !*m->topic || send_flags(flags, &msgflags))
        return -EINVAL;
    if (m->header_count && !m->headers)
        return -EINVAL;
    if (atomic_load(&kp->closed))
        return -ECANCELED;

    rd_kafka_headers_t *hdrs = NULL;
    if (m->header_count) {
        hdrs = rd_kafka_headers_new(m->header_count);
        for (size_t i = 0; i < m->header_count; i++) {
            const struct kio_header *h = &m->headers[i];
            if (!h->name) {
                rd_kafka_headers_destroy(hdrs);
                return -EINVAL;
            }
            rd_kafka_header_add(hdrs, h->name, -1, h->value.ptr, (ssize_t)h->value.len);
        }
    }

    /* Off the polling thread, let librdkafka wait for queue space itself:
     * the poller's reports make room and wake it. */
    bool serve_here = tls_polled == kp || !atomic_load(&kp->polled);
    if ((flags & KIO_SEND_BLOCK) && !serve_here)
        msgflags |= RD_KAFKA_MSG_F_BLOCK;

    rd_kafka_vu_t vu[8];
    size_t n = 0;
    vu[n].vtype = RD_KAFKA_VTYPE_TOPIC;
    vu[n++].u.cstr = m->topic;
    vu[n].vtype = RD_KAFKA_VTYPE_PARTITION;
    vu[n++].u.i32 = m->partition < 0 ? RD_KAFKA_PARTITION_UA : m->partition;
    vu[n].vtype = RD_KAFKA_VTYPE_VALUE;
    vu[n].u.mem.ptr = m->value;
    vu[n++].u.mem.size = m->value ? m->value_len : 0;
    vu[n].vtype = RD_KAFKA_VTYPE_KEY;
    vu[n].u.mem.ptr = (void *)m->key.ptr; /* librdkafka copies keys; it does not write them */
    vu[n++].u.mem.size = m->key.ptr ? m->key.len : 0;
    vu[n].vtype = RD_KAFKA_VTYPE_OPAQUE;
    vu[n++].u.ptr = m->opaque;
    vu[n].vtype = RD_KAFKA_VTYPE_MSGFLAGS;
    vu[n++].u.i = msgflags;
    if (m->timestamp_ms > 0) {
        vu[n].vtype = RD_KAFKA_VTYPE_TIMESTAMP;
        vu[n++].u.i64 = m->timestamp_ms;
    }
    if (hdrs) {
        vu[n].vtype = RD_KAFKA_VTYPE_HEADERS;
        vu[n++].u.headers = hdrs;
    }

    int err;
    for (;;) {
        rd_kafka_error_t *error = rd_kafka_produceva(kp->c.rk, vu, n);
        if (!error) {
            err = 0;
            break;
        }
        rd_kafka_resp_err_t code = rd_kafka_error_code(error);
        err = kio_err_from_error(error);
        rd_kafka_error_destroy(error);
        if (code == RD_KAFKA_RESP_ERR__QUEUE_FULL && (flags & KIO_SEND_BLOCK) && serve_here &&
            !atomic_load(&kp->closed)) {
            /* Serving reports is what frees queue space. */
            rd_kafka_poll(kp->c.rk, 10);
            continue;
        }
        break;
    }
    if (err) {
        /* On failure neither the headers nor (with F_FREE) the value were
         * taken: librdkafka 2.0.2's produceva() detaches an application's
         * VTYPE_HEADERS list from the message before destroying it (its
         * double free, librdkafka #4627, is on the VTYPE_HEADER path, which
         * kio does not use). rd_kafka_headers_destroy() does not accept NULL:
         * a message without headers has nothing to free. */
        if (hdrs)
            rd_kafka_headers_destroy(hdrs);
        return err;
    }
    atomic_fetch_add(&kp->sent, 1);
    return 0;
}

int kio_producer_poll(kio_producer *kp, int timeout_ms)
{
    if (!kp)
        return 0;
    tls_polled = kp;
    atomic_store(&kp->polled, true);
    return rd_kafka_poll(kp->c.rk, timeout_ms);
}

int kio_producer_flush(kio_producer *kp, int timeout_ms)
{
    if (!kp)
        return -EINVAL;
    tls_polled = kp;
    atomic_store(&kp->polled, true);
    rd_kafka_resp_err_t err = rd_kafka_flush(kp->c.rk, timeout_ms);
    return err == RD_KAFKA_RESP_ERR_NO_ERROR ? 0 : kio_err_from_rd(err);
}

int kio_producer_outq_len(kio_producer *kp)
{
    return kp ? rd_kafka_outq_len(kp->c.rk) : 0;
}

int kio_producer_fatal_error(kio_producer *kp, char *errstr, size_t errstr_size)
{
    char why[512];
    if (!kp)
        return -EINVAL;
    rd_kafka_resp_err_t err = rd_kafka_fatal_error(kp->c.rk, why, sizeof(why));
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR)
        return 0;
    kf_errf(errstr, errstr_size, "%s: %s", rd_kafka_err2name(err), why);
    return -ENOTRECOVERABLE;
}

void kio_producer_counts(kio_producer *kp, struct kio_producer_counts *out)
{
    *out = (struct kio_producer_counts){0};
    if (!kp)
        return;
    out->sent = atomic_load(&kp->sent);
    out->delivered = atomic_load(&kp->delivered);
    out->failed = atomic_load(&kp->failed);
}

int kio_producer_close(kio_producer *kp, int timeout_ms)
{
    if (!kp)
        return 0;
    atomic_store(&kp->closed, true);
    if (timeout_ms < 0)
        timeout_ms = KIO_DEFAULT_TIMEOUT_MS;
    if (rd_kafka_flush(kp->c.rk, timeout_ms) == RD_KAFKA_RESP_ERR_NO_ERROR)
        return 0;
    int left = rd_kafka_outq_len(kp->c.rk);
    KF_LOG_W(MOD, "%s: %d message(s) not delivered within %d ms: purging them",
             rd_kafka_name(kp->c.rk), left, timeout_ms);
    rd_kafka_purge(kp->c.rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    /* Purged messages come back as delivery reports; serve them all so every
     * payload is settled before the caller frees what the opaques point to.
     * In-flight purges need a moment for the broker thread to hand them back. */
    for (int i = 0; i < 500 && rd_kafka_outq_len(kp->c.rk) > 0; i++)
        rd_kafka_poll(kp->c.rk, 10);
    return -ETIMEDOUT;
}

void kio_producer_free(kio_producer *kp)
{
    if (!kp)
        return;
    if (!atomic_load(&kp->closed))
        kio_producer_close(kp, -1);
    rd_kafka_destroy(kp->c.rk);
    free(kp);
}
