/* The control topic: read from the start into the fleet-state reducer, and
 * append this worker's own events (ARCHITECTURE §5). The log is the only
 * coordination: every worker folds the same events in the same order and
 * reaches the same decisions.
 *
 * The fold runs on its own thread, in batches under the fleet lock, so that
 * a flood of control events (or a long log at start-up) never holds up the
 * thread that polls the request consumer: that thread only ever try-locks
 * the fleet state and skips a turn of rollout work when the fold holds it. */
#include "worker/control.h"

#include "common/kf_clock.h"
#include "common/kf_err.h"
#include "common/kf_log.h"
#include "schema/ctl_sig.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

struct control {
    const struct worker_config *cfg;
    kio_producer *producer;
    crypto_keyring *keyring;
    const struct crypto_ed25519_key *signer;
    kio_consumer *consumer;
    fleet_state *fleet; /* under lock */
    int64_t end;        /* high watermark read at start-up */
    pthread_mutex_t lock;
    pthread_t thread;
    bool thread_started;
    atomic_bool stop;
    atomic_int error;            /* a fatal consumer error, for the main loop */
    atomic_int_fast64_t pos;     /* next offset to read */
    atomic_int_fast64_t read_us; /* when the fold thread last read a record */
};

/* Records folded under one hold of the lock: the agent waits at most this
 * many events' fold for its turn. */
#define CONTROL_FOLD_BATCH 512
/* Start-up gives up on a control log that stops yielding records for this
 * long; a long log that keeps coming is read to its end, however long. */
#define CONTROL_STALL_US (60 * 1000000LL)
/* The fold thread's nice value, relative to the serving threads' 0. */
#define CONTROL_FOLD_NICE 10

static void fleet_log(void *opaque, enum kf_log_level level, const char *line)
{
    kf_log(level, "fleet", "%s", line);
}

/* Behind serving when the cores are busy, as the fold thread is: librdkafka's
 * threads (its main thread, and one per broker that fetches and decodes the
 * control log) are started by rd_kafka_new and, on Linux, inherit the nice
 * value of the thread that starts them. So a short-lived thread at the fold's
 * nice value makes the control consumer. */
struct niced_new {
    const struct kio_opts *opts;
    kio_consumer *kc;
    char *errstr;
    size_t errstr_size;
};

static void *niced_new_thread(void *arg)
{
    struct niced_new *nn = arg;
    if (setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), CONTROL_FOLD_NICE))
        KF_LOG_D("control", "control consumer keeps the worker's priority: %s",
                 kf_strerror(-errno));
    nn->kc = kio_consumer_new(nn->opts, NULL, nn->errstr, nn->errstr_size);
    return NULL;
}

static kio_consumer *consumer_new_niced(const struct kio_opts *o, char *errstr, size_t errstr_size)
{
    struct niced_new nn = {.opts = o, .errstr = errstr, .errstr_size = errstr_size};
    pthread_t t;
    if (pthread_create(&t, NULL, niced_new_thread, &nn))
        return kio_consumer_new(o, NULL, errstr, errstr_size);
    pthread_join(t, NULL);
    return nn.kc;
}

control *control_new(const struct worker_config *cfg, kio_producer *producer,
                     crypto_keyring *keyring, const struct crypto_ed25519_key *signer, char *errstr,
                     size_t errstr_size)
{
    control *c = calloc(1, sizeof(*c));
    if (!c) {
        kf_errf(errstr, errstr_size, "out of memory");
        return NULL;
    }
    pthread_mutex_init(&c->lock, NULL);
    c->cfg = cfg;
    c->producer = producer;
    c->keyring = keyring;
    c->signer = signer;
    struct fleet_opts fo;
    fleet_opts_default(&fo);
    fo.log = fleet_log;
    fo.root_keys = keyring;
    fo.require_worker_signatures = cfg->require_worker_signatures;
    c->fleet = fleet_state_new(&fo);
    struct kio_opts o = {
        .brokers = cfg->brokers,
        .client_id = cfg->id,
        .conf = cfg->conf,
        .opaque = c,
    };
    c->consumer = c->fleet ? consumer_new_niced(&o, errstr, errstr_size) : NULL;
    kio_tplist *parts = kio_tplist_new(1);
    if (!c->consumer || !parts) {
        if (!c->fleet || !parts)
            kf_errf(errstr, errstr_size, "out of memory");
        kio_tplist_free(parts);
        control_free(c);
        return NULL;
    }
    /* Where the log ends now, asked on the control consumer's own connection:
     * the worker process makes no admin-API requests (docs/worker.md). Asked
     * before the assign, it also puts the partition's leader in this
     * consumer's metadata, and the assign starts at the absolute low
     * watermark: librdkafka 2.0.2 resolves BEGINNING on a timer that fires
     * 500 ms after an assign made before the leader was known (issue 17,
     * docs/common.md): half a second of every worker start. */
    int64_t low = 0;
    int err = kio_consumer_watermarks(c->consumer, cfg->topic_control, 0, &low, &c->end, 15000);
    if (err) {
        kf_errf(errstr, errstr_size,
                "control topic %s: %s (is the broker up and the topic created?)",
                cfg->topic_control, kf_strerror(err));
        kio_tplist_free(parts);
        control_free(c);
        return NULL;
    }
    kio_tplist_add(parts, cfg->topic_control, 0, low);
    err = kio_consumer_assign(c->consumer, parts);
    kio_tplist_free(parts);
    if (err) {
        kf_errf(errstr, errstr_size, "assign %s: %s", cfg->topic_control, kf_strerror(err));
        control_free(c);
        return NULL;
    }
    return c;
}

void control_free(control *c)
{
    if (!c)
        return;
    atomic_store(&c->stop, true);
    if (c->thread_started)
        pthread_join(c->thread, NULL);
    if (c->consumer)
        kio_consumer_close(c->consumer, 5000);
    kio_consumer_free(c->consumer);
    fleet_state_free(c->fleet);
    pthread_mutex_destroy(&c->lock);
    free(c);
}

fleet_state *control_fleet(control *c)
{
    return c->fleet;
}

fleet_state *control_lock(control *c)
{
    pthread_mutex_lock(&c->lock);
    return c->fleet;
}

fleet_state *control_trylock(control *c)
{
    return pthread_mutex_trylock(&c->lock) ? NULL : c->fleet;
}

void control_unlock(control *c)
{
    pthread_mutex_unlock(&c->lock);
}

int64_t control_offset(control *c)
{
    return atomic_load(&c->pos);
}

int control_error(control *c)
{
    return atomic_load(&c->error);
}

/* Decode, check the signature, fold. A record that does not decode is
 * logged and skipped: one bad event must not stop the fleet. */
static void feed(control *c, const kio_msg *msg)
{
    struct ctl_event ev;
    char errstr[512];
    int err = ctl_event_decode(msg->value.ptr, msg->value.len, &ev, errstr, sizeof(errstr));
    if (err) {
        KF_LOG_W("control", "offset %" PRId64 ": skipped: %s", msg->offset, errstr);
        return;
    }
    /* The reducer judges the signature itself, against the keys valid at
     * this offset (release keys, enrolled worker keys, revocations:
     * docs/security.md); forgeries and replays change nothing. */
    kf_bytes sig = {0};
    bool has_sig = !kio_msg_header(msg, CTL_SIG_HEADER, &sig);
    struct fleet_record rec = {
        .ev = &ev,
        .offset = msg->offset,
        .ts_ms = msg->timestamp_ms,
        .value = msg->value.ptr,
        .value_len = msg->value.len,
        .sig_header = has_sig ? sig.ptr : NULL,
        .sig_header_len = has_sig ? sig.len : 0,
    };
    struct fleet_result res;
    err = fleet_state_feed(c->fleet, &rec, &res);
    if (err)
        KF_LOG_W("control", "offset %" PRId64 ": reducer: %s", msg->offset, kf_strerror(err));
    else if (ctl_type_needs_signature(ev.type) && res.auth != FLEET_AUTH_OK)
        KF_LOG_W("control", "offset %" PRId64 ": %s event is %s; ignored", msg->offset,
                 ctl_type2str(ev.type), has_sig ? fleet_auth2str(res.auth) : "unsigned");
}

/* The fold thread: poll, then fold what came in batches under the lock. */
static void *fold_thread(void *arg)
{
    control *c = arg;
    /* Behind serving when the cores are busy (a flood of control events):
     * on Linux a thread has its own nice value. The fold is far faster than
     * any append rate, so it catches up once the cores are free again. */
    if (setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), CONTROL_FOLD_NICE))
        KF_LOG_D("control", "fold thread keeps the worker's priority: %s", kf_strerror(-errno));
    kio_msg *batch[CONTROL_FOLD_BATCH];
    while (!atomic_load(&c->stop)) {
        size_t n = 0;
        while (n < CONTROL_FOLD_BATCH) {
            kio_msg *msg = NULL;
            int err = kio_consumer_poll(c->consumer, n ? 0 : 100, &msg);
            if (err && kio_err_is_fatal(err)) {
                KF_LOG_E("control", "control consumer: %s", kf_strerror(err));
                atomic_store(&c->error, err);
            }
            if (!msg)
                break;
            batch[n++] = msg;
        }
        if (!n)
            continue;
        pthread_mutex_lock(&c->lock);
        for (size_t i = 0; i < n; i++)
            if (batch[i]->value.len)
                feed(c, batch[i]);
        pthread_mutex_unlock(&c->lock);
        /* Skipped records count too: pos is where reading stands. */
        atomic_store(&c->pos, batch[n - 1]->offset + 1);
        atomic_store(&c->read_us, kf_clock_mono_us());
        for (size_t i = 0; i < n; i++)
            kio_msg_free(batch[i]);
    }
    return NULL;
}

int control_start(control *c, char *errstr, size_t errstr_size)
{
    atomic_store(&c->read_us, kf_clock_mono_us());
    if (pthread_create(&c->thread, NULL, fold_thread, c)) {
        kf_errf(errstr, errstr_size, "cannot start the control log's thread");
        return -EAGAIN;
    }
    c->thread_started = true;
    return 0;
}

int control_catch_up(control *c, const atomic_bool *stop, char *errstr, size_t errstr_size)
{
    int64_t t0 = kf_clock_mono_us(), next_log = t0 + 5000000;
    while (atomic_load(&c->pos) < c->end) {
        int64_t now = kf_clock_mono_us();
        if (now - atomic_load(&c->read_us) > CONTROL_STALL_US) {
            kf_errf(errstr, errstr_size,
                    "control log: no record for %lld s at offset %" PRId64 " of %" PRId64,
                    CONTROL_STALL_US / 1000000, atomic_load(&c->pos), c->end);
            return -ETIMEDOUT;
        }
        if (atomic_load(&c->error)) {
            kf_errf(errstr, errstr_size, "control log: %s", kf_strerror(atomic_load(&c->error)));
            return atomic_load(&c->error);
        }
        if (stop && atomic_load(stop))
            return -ECANCELED;
        if (now >= next_log) {
            KF_LOG_I("control", "folding the control log: offset %" PRId64 " of %" PRId64,
                     atomic_load(&c->pos), c->end);
            next_log = now + 5000000;
        }
        kf_sleep_ms(10);
    }
    fleet_state *fleet = control_lock(c);
    size_t models = fleet_model_count(fleet);
    control_unlock(c);
    KF_LOG_I("control", "folded the control log up to offset %" PRId64 " (%zu models) in %.1f s",
             atomic_load(&c->pos), models, (kf_clock_mono_us() - t0) / 1e6);
    return 0;
}

int control_emit(control *c, const struct ctl_event *ev)
{
    static atomic_uint_fast64_t counter;
    struct ctl_event e = *ev;
    if (!e.event_id[0])
        snprintf(e.event_id, sizeof(e.event_id), "%.80s-%" PRId64 "-%" PRIuFAST64, c->cfg->id,
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
    /* The signature covers the exact value bytes (schema/ctl_sig.h). */
    char sig[CTL_SIG_HEADER_LEN + 1] = "";
    if (c->signer) {
        kf_buf hdr;
        kf_buf_init(&hdr);
        err = ctl_sig_sign(c->signer, value.ptr, value.len, &hdr);
        if (!err)
            snprintf(sig, sizeof(sig), "%.*s", (int)hdr.len, (const char *)hdr.ptr);
        kf_buf_fini(&hdr);
        if (err) {
            KF_LOG_E("control", "cannot sign %s: %s", ctl_type2str(e.type), kf_strerror(err));
            kf_buf_fini(&value);
            return err;
        }
    }
    struct kio_header h = KIO_HEADER_STR(CTL_SIG_HEADER, sig);
    size_t len;
    uint8_t *bytes = kf_buf_steal(&value, &len);
    struct kio_out_msg m = {
        .topic = c->cfg->topic_control,
        .partition = 0,
        .key = {(const uint8_t *)e.model, strlen(e.model)},
        .value = bytes,
        .value_len = len,
        .headers = c->signer ? &h : NULL,
        .header_count = c->signer ? 1 : 0,
    };
    err = kio_producer_send(c->producer, &m, KIO_SEND_FREE | KIO_SEND_BLOCK);
    if (err) {
        free(bytes);
        KF_LOG_E("control", "cannot append %s: %s", ctl_type2str(e.type), kf_strerror(err));
        return err;
    }
    KF_LOG_I("control", "appended %s model=%s version=%s", ctl_type2str(e.type), e.model,
             e.version);
    return 0;
}
