/* Folding the control log: a consumer without a group, assigned to partition
 * 0 from the beginning, read up to the high watermark — the same fold every
 * worker does at start-up (worker/control.c). */
#include "publisher/pub_control.h"

#include "common/kf_text.h"
#include "common/kf_clock.h"
#include "common/kf_err.h"
#include "common/kf_log.h"
#include "common/kio_admin.h"
#include "common/kio_consumer.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

struct pub_log {
    struct pub_ctx *pc; /* borrowed */
    const char *topic;  /* borrowed from the conf */
    const crypto_keyring *kr;
    kio_consumer *kc;
    kio_admin *ka;
    fleet_state *fs;
    int64_t pos;
    int timeout_ms;
    struct pub_record *rec;
    size_t n_rec, cap_rec;
    size_t undecodable;
};

/* The reducer explains every transition; a CLI user asked for none of that
 * unless -v. */
static void fleet_log(void *opaque, enum kf_log_level level, const char *line)
{
    struct pub_log *lg = opaque;
    char clean[2048];
    kf_log(lg->pc->verbose > 1 ? level : KF_LOG_DEBUG, "fleet", "%s",
           kf_text_clean(line, clean, sizeof(clean)));
}

static int reach_err(struct pub_log *lg, int err, const char *what, char *errstr,
                     size_t errstr_size)
{
    const char *brokers = lg->pc->cfg.brokers;
    if (err == -ENOENT)
        kf_errf(errstr, errstr_size,
                "control topic %s does not exist on %s (create it: kfleetctl topics create, "
                "or ops/devstack up)",
                lg->topic, brokers);
    else {
        char detail[300];
        kf_errf(errstr, errstr_size, "cannot %s control topic %s on Kafka at %s: %s%s", what,
                lg->topic, brokers, kf_strerror(err),
                pub_kafka_detail(lg->pc, detail, sizeof(detail)));
    }
    return err;
}

int pub_log_open(struct pub_ctx *pc, pub_log **out, char *errstr, size_t errstr_size)
{
    *out = NULL;
    struct pub_log *lg = calloc(1, sizeof(*lg));
    if (!lg)
        return -ENOMEM;
    lg->pc = pc;
    lg->topic = pc->cfg.topic_control;
    lg->timeout_ms = pc->cfg.control_timeout_ms;
    /* The keys: trusted_keys, else the signing key's public half (every
     * command that writes has one). A fold with keys requires signatures as
     * the workers' does, so nobody without a trusted key can move a seq or a
     * phase the publisher decides from (a forged unsigned seq of INT64_MAX
     * used to block every later push of the model). A reader with no key at
     * all (ls without --key or --pub) cannot check a signature: it takes a
     * well-formed one as good and says the result is unverified; unsigned
     * events stay ignored, as every worker ignores them. */
    char ignore[8];
    lg->kr = pub_ctx_keyring(pc, ignore, sizeof(ignore));
    struct fleet_opts fo;
    fleet_opts_default(&fo);
    fo.require_signatures = true;
    fo.log = fleet_log;
    fo.log_opaque = lg;
    const char *props[8];
    struct kio_opts ko = pub_kio_opts(pc, NULL, props, 8);
    char msg[512];
    int err = 0;
    if (!(lg->fs = fleet_state_new(&fo))) {
        err = -ENOMEM;
        goto fail;
    }
    if (!(lg->ka = kio_admin_new(&ko, msg, sizeof(msg))) ||
        !(lg->kc = kio_consumer_new(&ko, NULL, msg, sizeof(msg)))) {
        kf_errf(errstr, errstr_size, "Kafka client: %s", msg);
        err = -EINVAL;
        goto fail;
    }
    int parts = kio_admin_topic_partitions(lg->ka, lg->topic, lg->timeout_ms, msg, sizeof(msg));
    if (parts < 0) {
        err = reach_err(lg, parts, "read", errstr, errstr_size);
        goto fail;
    }
    if (parts != 1)
        KF_LOG_W("publish", "control topic %s has %d partitions; only partition 0 is read",
                 lg->topic, parts);
    /* The consumer's own watermark query first (it fetches the partition's
     * leader into this consumer's metadata), then the absolute low
     * watermark, not BEGINNING: librdkafka 2.0.2 resolves a logical offset on
     * a timer that fires 500 ms after an assign made before the leader was
     * known, and with no leader known an absolute offset waits for the 1 s
     * metadata refresh — half a second or a second of every push, ls and
     * operator command (issue 17; docs/common.md). */
    int64_t low = 0, high = 0;
    if ((err = kio_consumer_watermarks(lg->kc, lg->topic, 0, &low, &high, lg->timeout_ms))) {
        err = reach_err(lg, err, "read", errstr, errstr_size);
        goto fail;
    }
    kio_tplist *tp = kio_tplist_new(1);
    if (!tp || kio_tplist_add(tp, lg->topic, 0, low)) {
        kio_tplist_free(tp);
        err = -ENOMEM;
        goto fail;
    }
    err = kio_consumer_assign(lg->kc, tp);
    kio_tplist_free(tp);
    if (err) {
        kf_errf(errstr, errstr_size, "assign %s: %s", lg->topic, kf_strerror(err));
        goto fail;
    }
    *out = lg;
    return 0;
fail:
    pub_log_free(lg);
    return err;
}

void pub_log_free(pub_log *lg)
{
    if (!lg)
        return;
    if (lg->kc)
        kio_consumer_close(lg->kc, 5000);
    kio_consumer_free(lg->kc);
    kio_admin_free(lg->ka);
    fleet_state_free(lg->fs);
    free(lg->rec);
    free(lg);
}

static int keep(struct pub_log *lg, const struct pub_record *r)
{
    if (lg->n_rec == lg->cap_rec) {
        size_t cap = lg->cap_rec ? 2 * lg->cap_rec : 16;
        struct pub_record *n = realloc(lg->rec, cap * sizeof(*n));
        if (!n)
            return -ENOMEM;
        lg->rec = n;
        lg->cap_rec = cap;
    }
    lg->rec[lg->n_rec++] = *r;
    return 0;
}

static int feed(struct pub_log *lg, const kio_msg *msg)
{
    struct pub_record r = {.offset = msg->offset, .ts_ms = msg->timestamp_ms};
    char why[512];
    if (!msg->value.len ||
        ctl_event_decode(msg->value.ptr, msg->value.len, &r.ev, why, sizeof(why))) {
        lg->undecodable++;
        KF_LOG_D("publish", "%s offset %" PRId64 ": skipped", lg->topic, msg->offset);
        return 0;
    }
    kf_bytes sig = {0};
    bool has_sig = !kio_msg_header(msg, CTL_SIG_HEADER, &sig);
    r.sig = ctl_sig_verify(has_sig ? sig.ptr : NULL, sig.len, msg->value.ptr, msg->value.len,
                           lg->kr, r.key_id);
    enum ctl_sig_verdict fed = !lg->kr && r.sig == CTL_SIG_UNKNOWN_KEY ? CTL_SIG_OK : r.sig;
    struct fleet_record fr = {
        .ev = &r.ev, .offset = msg->offset, .ts_ms = msg->timestamp_ms, .sig = fed};
    int err = fleet_state_feed(lg->fs, &fr, &r.res);
    if (err)
        return err;
    return ctl_type_needs_signature(r.ev.type) ? keep(lg, &r) : 0;
}

int pub_log_catch_up(pub_log *lg, int64_t until, char *errstr, size_t errstr_size)
{
    if (until < 0) {
        int64_t low = 0, high = 0;
        int err = kio_admin_watermarks(lg->ka, lg->topic, 0, &low, &high, lg->timeout_ms);
        if (err)
            return reach_err(lg, err, "read the end of", errstr, errstr_size);
        until = high;
        KF_LOG_D("publish", "%s: high watermark %" PRId64 ", reading from %" PRId64, lg->topic,
                 high, lg->pos);
    }
    int64_t deadline = kf_clock_mono_us() + (int64_t)lg->timeout_ms * 1000;
    while (lg->pos < until) {
        if (kf_clock_mono_us() > deadline) {
            char detail[300];
            kf_errf(errstr, errstr_size,
                    "control topic %s: read up to offset %" PRId64 " of %" PRId64 " in %d ms%s",
                    lg->topic, lg->pos, until, lg->timeout_ms,
                    pub_kafka_detail(lg->pc, detail, sizeof(detail)));
            return -ETIMEDOUT;
        }
        if (pub_stopped(lg->pc))
            return -ECANCELED;
        kio_msg *msg = NULL;
        int err = kio_consumer_poll(lg->kc, 200, &msg);
        if (err && kio_err_is_fatal(err)) {
            kf_errf(errstr, errstr_size, "control topic %s: %s", lg->topic, kf_strerror(err));
            return err;
        }
        if (!msg)
            continue;
        if (msg->offset >= lg->pos) {
            lg->pos = msg->offset + 1;
            err = feed(lg, msg);
        }
        kio_msg_free(msg);
        if (err) {
            kf_errf(errstr, errstr_size, "control log: %s", kf_strerror(err));
            return err;
        }
    }
    return 0;
}

int64_t pub_log_position(const pub_log *lg)
{
    return lg->pos;
}

fleet_state *pub_log_state(pub_log *lg)
{
    return lg->fs;
}

size_t pub_log_records(const pub_log *lg, const struct pub_record **out)
{
    *out = lg->rec;
    return lg->n_rec;
}

const struct pub_record *pub_log_record_at(const pub_log *lg, int64_t offset)
{
    for (size_t i = lg->n_rec; i-- > 0;)
        if (lg->rec[i].offset == offset)
            return &lg->rec[i];
    return NULL;
}

bool pub_log_verified(const pub_log *lg)
{
    return lg->kr != NULL;
}

size_t pub_log_undecodable(const pub_log *lg)
{
    return lg->undecodable;
}
