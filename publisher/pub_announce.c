/* Appending a signed event: the value bytes are what is signed, the
 * signature rides in the kfleet-sig header, and the call returns only after
 * the broker acknowledged (acks=all, idempotent) or the time ran out. */
#include "publisher/pub_control.h"

#include "common/kf_clock.h"
#include "common/kf_err.h"
#include "common/kf_log.h"
#include "common/kio_producer.h"

#include <errno.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void pub_event_id(char out[CTL_NAME_CAP], const char *what)
{
    static atomic_uint counter;
    char host[64] = "host";
    if (gethostname(host, sizeof(host)) == 0)
        host[sizeof(host) - 1] = '\0';
    for (char *c = host; *c; c++)
        if (*c <= 0x20 || *c >= 0x7f)
            *c = '_';
    snprintf(out, CTL_NAME_CAP, "%.24s-%.40s-%d-%" PRId64 "-%u", what, host, (int)getpid(),
             kf_clock_wall_ms(), atomic_fetch_add(&counter, 1));
}

struct delivery {
    bool reported;
    int err;
    int64_t offset;
    bool possibly_persisted;
    char errstr[256];
};

static void on_delivery(void *opaque, const struct kio_delivery *dr)
{
    struct delivery *d = dr->opaque;
    (void)opaque;
    d->reported = true;
    d->err = dr->err;
    d->offset = dr->offset;
    d->possibly_persisted = dr->possibly_persisted;
    snprintf(d->errstr, sizeof(d->errstr), "%s", dr->errstr ? dr->errstr : "");
}

int pub_announce(struct pub_ctx *pc, const struct crypto_ed25519_key *signer,
                 const struct ctl_event *ev, int64_t *offset, char *errstr, size_t errstr_size)
{
    *offset = -1;
    const char *topic = pc->cfg.topic_control;
    int timeout_ms = pc->cfg.control_timeout_ms;
    kf_buf value, sig;
    kf_buf_init(&value);
    kf_buf_init(&sig);
    kio_producer *kp = NULL;
    char msg[512];
    int err = ctl_event_encode(ev, &value, msg, sizeof(msg));
    if (err) {
        kf_errf(errstr, errstr_size, "%s event: %s", ctl_type2str(ev->type), msg);
        goto out;
    }
    if (signer && (err = ctl_sig_sign(signer, value.ptr, value.len, &sig))) {
        kf_errf(errstr, errstr_size, "signing the %s event: %s", ctl_type2str(ev->type),
                kf_strerror(err));
        goto out;
    }
    /* A broker that is down must not hold the CLI for librdkafka's default
     * five minutes: the message times out with the control timeout. */
    char tmo[24];
    snprintf(tmo, sizeof(tmo), "%d", timeout_ms);
    const char *props[] = {"message.timeout.ms", tmo, NULL}, *buf[8];
    struct kio_opts ko = pub_kio_opts(pc, props, buf, 8);
    kp = kio_producer_new(&ko, on_delivery, msg, sizeof(msg));
    if (!kp) {
        kf_errf(errstr, errstr_size, "Kafka producer: %s", msg);
        err = -EINVAL;
        goto out;
    }
    struct delivery d = {0};
    char sig_str[CTL_SIG_HEADER_LEN + 1];
    snprintf(sig_str, sizeof(sig_str), "%.*s", (int)sig.len, sig.ptr ? (char *)sig.ptr : "");
    struct kio_header h = KIO_HEADER_STR(CTL_SIG_HEADER, sig_str);
    struct kio_out_msg m = {
        .topic = topic,
        .partition = 0,
        .key = {(const uint8_t *)ev->model, strlen(ev->model)},
        .value = value.ptr,
        .value_len = value.len,
        .headers = signer ? &h : NULL,
        .header_count = signer ? 1 : 0,
        .opaque = &d,
    };
    if ((err = kio_producer_send(kp, &m, KIO_SEND_COPY))) {
        kf_errf(errstr, errstr_size, "cannot send to control topic %s: %s", topic,
                kf_strerror(err));
        goto out;
    }
    KF_LOG_D("publish", "%s: sent, waiting for the delivery report", ctl_type2str(ev->type));
    kio_producer_flush(kp, timeout_ms + 5000);
    KF_LOG_D("publish", "%s: flushed", ctl_type2str(ev->type));
    kio_producer_close(kp, 0); /* purges what is left: its report comes now */
    KF_LOG_D("publish", "%s: producer closed", ctl_type2str(ev->type));
    if (!d.reported || d.err) {
        err = d.reported ? d.err : -ETIMEDOUT;
        char detail[300];
        kf_errf(errstr, errstr_size, "the %s event was not delivered to %s on %s: %s%s%s",
                ctl_type2str(ev->type), topic, pc->cfg.brokers,
                d.errstr[0] ? d.errstr : kf_strerror(err),
                pub_kafka_detail(pc, detail, sizeof(detail)),
                d.possibly_persisted ? "; it may nevertheless have been written: check with "
                                       "publish-model ls"
                                     : "");
        goto out;
    }
    *offset = d.offset;
out:
    kio_producer_free(kp);
    kf_buf_fini(&value);
    kf_buf_fini(&sig);
    return err;
}

int pub_announce_and_fold(struct pub_ctx *pc, const struct crypto_ed25519_key *signer,
                          const struct ctl_event *ev, int64_t *offset, pub_log **lg,
                          const struct pub_record **rec, char *errstr, size_t errstr_size)
{
    *lg = NULL;
    *rec = NULL;
    int err = pub_announce(pc, signer, ev, offset, errstr, errstr_size);
    if (!err)
        err = pub_log_open(pc, lg, errstr, errstr_size);
    if (!err)
        err = pub_log_catch_up(*lg, *offset + 1, errstr, errstr_size);
    if (err)
        return err;
    *rec = pub_log_record_at(*lg, *offset);
    if (!*rec) {
        kf_errf(errstr, errstr_size, "offset %" PRId64 " is not our event", *offset);
        return -EIO;
    }
    return 0;
}
