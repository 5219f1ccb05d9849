/* The control topic: read from the start into the fleet-state reducer, and
 * append this worker's own events (ARCHITECTURE §5). The log is the only
 * coordination: every worker folds the same events in the same order and
 * reaches the same decisions. */
#include "worker/worker_impl.h"

#include "common/kf_clock.h"
#include "common/kf_err.h"
#include "common/kf_log.h"
#include "schema/ctl_sig.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

static void fleet_log(void *opaque, enum kf_log_level level, const char *line)
{
    kf_log(level, "fleet", "%s", line);
}

int control_start(struct worker *w, char *errstr, size_t errstr_size)
{
    struct fleet_opts fo;
    fleet_opts_default(&fo);
    fo.log = fleet_log;
    w->fleet = fleet_state_new(&fo);
    if (!w->fleet)
        return -ENOMEM;
    struct kio_opts o = {
        .brokers = kf_conf_str(w->conf, "brokers"),
        .client_id = w->id,
        .conf = w->conf,
        .opaque = w,
    };
    w->control = kio_consumer_new(&o, NULL, errstr, errstr_size);
    if (!w->control)
        return -EINVAL;
    kio_tplist *parts = kio_tplist_new(1);
    if (!parts)
        return -ENOMEM;
    kio_tplist_add(parts, w->topic_control, 0, KIO_OFFSET_BEGINNING);
    int err = kio_consumer_assign(w->control, parts);
    kio_tplist_free(parts);
    if (err) {
        kf_errf(errstr, errstr_size, "assign %s: %s", w->topic_control, kf_strerror(err));
        return err;
    }
    /* Where the log ends now, asked on the control consumer's own connection:
     * the worker process makes no admin-API requests (docs/worker.md). */
    int64_t low = 0;
    err = kio_consumer_watermarks(w->control, w->topic_control, 0, &low, &w->control_end, 15000);
    if (err) {
        kf_errf(errstr, errstr_size,
                "control topic %s: %s (is the broker up and the topic created?)", w->topic_control,
                kf_strerror(err));
        return err;
    }
    return 0;
}

/* Decode, check the signature, fold. A record that does not decode is
 * logged and skipped: one bad event must not stop the fleet. */
static void feed(struct worker *w, const kio_msg *msg)
{
    struct ctl_event ev;
    char errstr[512];
    int err = ctl_event_decode(msg->value.ptr, msg->value.len, &ev, errstr, sizeof(errstr));
    if (err) {
        KF_LOG_W("control", "offset %" PRId64 ": skipped: %s", msg->offset, errstr);
        return;
    }
    kf_bytes sig = {0};
    bool has_sig = !kio_msg_header(msg, "kfleet-sig", &sig);
    struct fleet_record rec = {
        .ev = &ev,
        .offset = msg->offset,
        .ts_ms = msg->timestamp_ms,
        .sig = ctl_sig_verify(has_sig ? sig.ptr : NULL, sig.len, msg->value.ptr, msg->value.len,
                              w->keyring, NULL),
    };
    if (ctl_type_needs_signature(ev.type) && rec.sig != CTL_SIG_OK)
        KF_LOG_W("control", "offset %" PRId64 ": %s event is %s; ignored", msg->offset,
                 ctl_type2str(ev.type), ctl_sig_verdict2str(rec.sig));
    struct fleet_result res;
    err = fleet_state_feed(w->fleet, &rec, &res);
    if (err)
        KF_LOG_W("control", "offset %" PRId64 ": reducer: %s", msg->offset, kf_strerror(err));
}

int control_poll(struct worker *w, int timeout_ms)
{
    int n = 0;
    for (;;) {
        kio_msg *msg = NULL;
        int err = kio_consumer_poll(w->control, n ? 0 : timeout_ms, &msg);
        if (err && kio_err_is_fatal(err)) {
            KF_LOG_E("control", "control consumer: %s", kf_strerror(err));
            atomic_store(&w->fatal, true);
        }
        if (!msg)
            return n;
        /* Skipped records count too: control_pos is where reading stands. */
        w->control_pos = msg->offset + 1;
        if (msg->value.len)
            feed(w, msg);
        kio_msg_free(msg);
        n++;
    }
}

int control_catch_up(struct worker *w, char *errstr, size_t errstr_size)
{
    int64_t deadline = kf_clock_mono_us() + 60 * 1000000LL;
    while (w->control_pos < w->control_end) {
        if (kf_clock_mono_us() > deadline) {
            kf_errf(errstr, errstr_size,
                    "control log: read up to offset %" PRId64 " of %" PRId64 " in 60 s",
                    w->control_pos, w->control_end);
            return -ETIMEDOUT;
        }
        if (atomic_load(&w->stop))
            return -ECANCELED;
        control_poll(w, 500);
    }
    KF_LOG_I("control", "folded the control log up to offset %" PRId64 " (%zu models)",
             w->control_pos, fleet_model_count(w->fleet));
    return 0;
}

int control_emit(struct worker *w, const struct ctl_event *ev)
{
    static atomic_uint_fast64_t counter;
    struct ctl_event e = *ev;
    if (!e.event_id[0])
        snprintf(e.event_id, sizeof(e.event_id), "%.80s-%" PRId64 "-%" PRIuFAST64, w->id,
                 kf_clock_wall_ms(), atomic_fetch_add(&counter, 1));
    kf_buf value;
    kf_buf_init(&value);
    char errstr[256];
    int err = ctl_event_encode(&e, &value, errstr, sizeof(errstr));
    if (err) {
        KF_LOG_E("control", "cannot encode %s: %s", ctl_type2str(e.type), errstr);
        kf_buf_fini(&value);
        return err;
    }
    size_t len;
    uint8_t *bytes = kf_buf_steal(&value, &len);
    struct kio_out_msg m = {
        .topic = w->topic_control,
        .partition = 0,
        .key = {(const uint8_t *)e.model, strlen(e.model)},
        .value = bytes,
        .value_len = len,
    };
    err = kio_producer_send(w->producer, &m, KIO_SEND_FREE | KIO_SEND_BLOCK);
    if (err) {
        free(bytes);
        KF_LOG_E("control", "cannot append %s: %s", ctl_type2str(e.type), kf_strerror(err));
        return err;
    }
    KF_LOG_I("control", "appended %s model=%s version=%s", ctl_type2str(e.type), e.model,
             e.version);
    return 0;
}

void control_stop(struct worker *w)
{
    if (w->control)
        kio_consumer_close(w->control, 5000);
}
