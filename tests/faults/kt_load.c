/* Constant load and a checking collector for the fault suite (kt_load.h). */
#include "tests/faults/kt_load.h"

#include "common/kf_clock.h"
#include "kernels/kern_backend.h"
#include "schema/req.h"
#include "schema/resp.h"
#include "worker/loader.h"

#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>

#define MAX_REFS 8
#define MAX_CODES 16

/* One request's ledger entry. sent_us and phase are written by the sender
 * before it publishes n_sent; everything else under the lock. */
struct rec {
    int64_t sent_us;
    int64_t answer_us; /* first answer, as the collector read it */
    uint16_t answers;
    uint8_t phase;
    uint8_t delivered; /* 0 not yet reported, 1 acknowledged, 2 failed */
    uint8_t status;    /* of the first answer */
    uint8_t code;      /* index into codes + 1; 0 none */
    int8_t worker;     /* "w<k>" of the first answer, -1 other */
    uint8_t wrong;
    uint8_t version; /* index into refs + 1 of the first answer; 0 none */
};

struct ref {
    char version[SCHEMA_NAME_MAX + 1];
    struct slot_version *sv;
    uint32_t out_w;
};

struct kt_load {
    struct kt_env *e;
    struct kt_load_opts o;
    char model[SCHEMA_NAME_MAX + 1];
    char prefix[16];
    struct rec *recs;
    int64_t cap;
    _Atomic int64_t n_sent;
    atomic_int phase;
    _Atomic int64_t during_us; /* when the DURING phase began; 0 not yet */
    atomic_bool stop_send, stop_collect;
    pthread_t sender, collector;
    bool sending, collecting;
    kio_producer *prod;
    kio_consumer *resp;
    pthread_mutex_t lock;
    struct kern_backend *be;
    struct ref refs[MAX_REFS];
    int n_refs;
    uint32_t max_out_w;
    char codes[MAX_CODES][32];
    int64_t code_counts[MAX_CODES];
    int n_codes;
    struct kt_other *others;
    size_t n_others, cap_others;
    int64_t wrong_extra; /* undecodable answers, unknown ids */
    int wrong_printed, errors_printed, dups_printed;
};

static uint64_t mix(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

void kt_load_inputs(int64_t i, uint32_t rows, uint32_t width, float *out)
{
    uint64_t s = (uint64_t)i * 0x2545f4914f6cdd1dull + 7;
    for (size_t k = 0; k < (size_t)rows * width; k++)
        out[k] = (float)(mix(&s) >> 40) / (float)(1u << 23) - 1.0f;
}

struct kt_load *kt_load_new(struct kt_env *e, const struct kt_load_opts *opts)
{
    struct kt_load *l = calloc(1, sizeof(*l));
    KT_ASSERT(l);
    l->e = e;
    l->o = *opts;
    if (!l->o.rows)
        l->o.rows = 1;
    if (!l->o.width)
        l->o.width = 8;
    snprintf(l->model, sizeof(l->model), "%s", opts->model ? opts->model : e->model);
    l->o.model = l->model;
    snprintf(l->prefix, sizeof(l->prefix), "%s", opts->id_prefix ? opts->id_prefix : "L");
    l->o.id_prefix = l->prefix;
    l->cap = l->o.max ? l->o.max : l->o.rate ? (int64_t)l->o.rate * 900 : 1 << 20;
    l->recs = calloc((size_t)l->cap, sizeof(*l->recs));
    KT_ASSERT(l->recs);
    pthread_mutex_init(&l->lock, NULL);
    char err[256];
    struct kern_backend_config bc = {.threads = 1};
    l->be = kern_backend_new("ref", &bc, err, sizeof(err));
    KT_ASSERT_MSG(l->be, "reference backend: %s", err);
    return l;
}

void kt_load_expect(struct kt_load *l, const struct kt_version *v)
{
    KT_ASSERT(!l->collecting && l->n_refs < MAX_REFS);
    struct ref *r = &l->refs[l->n_refs++];
    snprintf(r->version, sizeof(r->version), "%s", v->version);
    struct store_version *sv = kt_store_version(v);
    char err[512];
    uint32_t max_rows = l->o.rows > 64 ? l->o.rows : 64;
    KT_ASSERT_MSG(!loader_load(l->be, sv, max_rows, &r->sv, NULL, NULL, err, sizeof(err)),
                  "reference load of %s: %s", v->version, err);
    store_version_free(sv);
    r->out_w = (uint32_t)r->sv->output_width;
    if (r->out_w > l->max_out_w)
        l->max_out_w = r->out_w;
}

/* ------------------------------------------------------------------ sender */

static void on_request_delivery(void *opaque, const struct kio_delivery *dr)
{
    struct kt_load *l = opaque;
    intptr_t i = (intptr_t)dr->opaque - 1;
    if (i < 0 || i >= l->cap)
        return;
    pthread_mutex_lock(&l->lock);
    l->recs[i].delivered = dr->err ? 2 : 1;
    pthread_mutex_unlock(&l->lock);
    if (dr->err)
        fprintf(stderr, "load: request %s%" PRIdPTR " not delivered: %s\n", l->prefix, i,
                dr->errstr);
}

void kt_load_request(kf_buf *out, const char *id, const char *model, int64_t i, uint32_t rows,
                     uint32_t width, const char *reply_to, int64_t deadline_ms)
{
    float *in = malloc((size_t)rows * width * sizeof(float));
    KT_ASSERT(in);
    kt_load_inputs(i, rows, width, in);
    struct req rq = {
        .v = REQ_VERSION,
        .id = {(const uint8_t *)id, strlen(id)},
        .model = {(const uint8_t *)model, strlen(model)},
        .has_deadline = deadline_ms > 0,
        .deadline_ms = deadline_ms,
        .reply_to = {(const uint8_t *)reply_to, reply_to ? strlen(reply_to) : 0},
        .inputs = {SCHEMA_DTYPE_F32, rows, width, {(const uint8_t *)in, (size_t)rows * width * 4}}};
    KT_ASSERT_INT_EQ(req_encode(&rq, out), 0);
    free(in);
}

static void send_one(struct kt_load *l, int64_t i, kf_buf *value)
{
    char id[32], model[32];
    snprintf(id, sizeof(id), "%s%" PRId64, l->prefix, i);
    if (l->o.random_model) {
        uint64_t s = (uint64_t)i;
        snprintf(model, sizeof(model), "zz-%016" PRIx64, mix(&s));
    }
    kf_buf_reset(value);
    kt_load_request(value, id, l->o.random_model ? model : l->model, i, l->o.rows, l->o.width, NULL,
                    l->o.deadline_ms > 0 ? kf_clock_wall_ms() + l->o.deadline_ms : 0);
    l->recs[i].sent_us = kf_clock_mono_us();
    l->recs[i].phase = (uint8_t)atomic_load(&l->phase);
    l->recs[i].worker = -1;
    atomic_store(&l->n_sent, i + 1);
    struct kio_out_msg m = {.topic = l->e->t_req,
                            .partition = (int32_t)(i % l->e->partitions),
                            .key = {(const uint8_t *)id, strlen(id)},
                            .value = value->ptr,
                            .value_len = value->len,
                            .opaque = (void *)(intptr_t)(i + 1)};
    int err = kio_producer_send(l->prod, &m, KIO_SEND_COPY | KIO_SEND_BLOCK);
    if (err) {
        fprintf(stderr, "load: cannot send %s: %d\n", id, err);
        pthread_mutex_lock(&l->lock);
        l->recs[i].delivered = 2;
        pthread_mutex_unlock(&l->lock);
    }
}

static void *sender_main(void *arg)
{
    struct kt_load *l = arg;
    kf_buf value;
    kf_buf_init(&value);
    int64_t start = kf_clock_mono_us(), limit = l->o.max ? l->o.max : l->cap;
    int64_t i = 0;
    /* The first request waits for its delivery: a new producer needs a
     * connection and an idempotence id first (seconds after a broker restart),
     * and the requests of a burst must not spend their deadlines on that. */
    send_one(l, i++, &value);
    for (int t = 0; t < 120 && kio_producer_outq_len(l->prod) > 0; t++)
        kio_producer_flush(l->prod, 500);
    start = kf_clock_mono_us();
    while (!atomic_load(&l->stop_send) && i < limit) {
        int64_t due = l->o.rate ? (kf_clock_mono_us() - start) * l->o.rate / 1000000 + 1 : limit;
        for (int burst = 0; i < due && i < limit && burst < 1000; burst++)
            send_one(l, i++, &value);
        kio_producer_poll(l->prod, l->o.rate ? 1 : 0);
    }
    /* Every request gets its delivery report before the thread ends (the
     * reports are served on this thread). */
    for (int t = 0; t < 240 && kio_producer_outq_len(l->prod) > 0; t++)
        kio_producer_flush(l->prod, 500);
    kf_buf_fini(&value);
    return NULL;
}

/* --------------------------------------------------------------- collector */

static int code_index(struct kt_load *l, const kf_bytes *code)
{
    for (int k = 0; k < l->n_codes; k++)
        if (strlen(l->codes[k]) == code->len && !memcmp(l->codes[k], code->ptr, code->len))
            return k;
    if (l->n_codes == MAX_CODES)
        return MAX_CODES - 1;
    snprintf(l->codes[l->n_codes], sizeof(l->codes[0]), "%.*s", (int)code->len,
             (const char *)code->ptr);
    return l->n_codes++;
}

/* Compare an `ok` answer with the reference forward. Returns a reason when wrong. */
static int ref_index(const struct kt_load *l, kf_bytes version)
{
    for (int k = 0; k < l->n_refs; k++)
        if (strlen(l->refs[k].version) == version.len &&
            !memcmp(l->refs[k].version, version.ptr, version.len))
            return k;
    return -1;
}

static const char *check_numbers(struct kt_load *l, int64_t i, const struct resp *rs, float *in,
                                 float *want, float *got)
{
    int ri = ref_index(l, rs->version);
    const struct ref *r = ri >= 0 ? &l->refs[ri] : NULL;
    if (!r)
        return "a version no test published";
    if (rs->rows != l->o.rows || rs->cols != r->out_w)
        return "outputs of the wrong shape";
    kt_load_inputs(i, l->o.rows, l->o.width, in);
    if (kern_forward(l->be, loader_weights(r->sv), in, l->o.rows, want))
        return "the reference forward failed";
    size_t n = (size_t)l->o.rows * r->out_w;
    memcpy(got, rs->outputs.ptr, n * sizeof(float));
    for (size_t k = 0; k < n; k++)
        if (!(fabsf(got[k] - want[k]) <= 1e-4f + 1e-3f * fabsf(want[k])))
            return "outputs differ from the reference";
    return NULL;
}

static void keep_other(struct kt_load *l, const struct resp *rs)
{
    char id[64];
    snprintf(id, sizeof(id), "%.*s", (int)rs->id.len, (const char *)rs->id.ptr);
    for (size_t k = 0; k < l->n_others; k++)
        if (!strcmp(l->others[k].id, id)) {
            l->others[k].count++;
            return;
        }
    if (l->n_others == l->cap_others) {
        l->cap_others = l->cap_others ? 2 * l->cap_others : 64;
        l->others = realloc(l->others, l->cap_others * sizeof(*l->others));
        KT_ASSERT(l->others);
    }
    struct kt_other *o = &l->others[l->n_others++];
    memset(o, 0, sizeof(*o));
    snprintf(o->id, sizeof(o->id), "%s", id);
    o->status = (int)rs->status;
    snprintf(o->code, sizeof(o->code), "%.*s", (int)rs->err_code.len,
             (const char *)rs->err_code.ptr);
    snprintf(o->worker, sizeof(o->worker), "%.*s", (int)rs->worker.len,
             (const char *)rs->worker.ptr);
    o->at_us = kf_clock_mono_us();
    o->count = 1;
}

static void handle(struct kt_load *l, const kio_msg *m, float *in, float *want, float *got)
{
    struct resp rs;
    char err[256];
    int64_t now = kf_clock_mono_us();
    if (resp_decode(m->value.ptr, m->value.len, &rs, err, sizeof(err))) {
        pthread_mutex_lock(&l->lock);
        if (l->wrong_printed++ < 5)
            fprintf(stderr, "load: undecodable answer at offset %" PRId64 ": %s\n", m->offset, err);
        l->wrong_extra++;
        pthread_mutex_unlock(&l->lock);
        return;
    }
    int64_t i = -1;
    size_t pl = strlen(l->prefix);
    if (rs.id.len > pl && rs.id.len < pl + 19 && !memcmp(rs.id.ptr, l->prefix, pl)) {
        i = 0;
        for (size_t k = pl; k < rs.id.len && i >= 0; k++)
            i = rs.id.ptr[k] >= '0' && rs.id.ptr[k] <= '9' ? i * 10 + (rs.id.ptr[k] - '0') : -1;
    }
    if (i < 0) {
        if (l->o.keep_others) {
            pthread_mutex_lock(&l->lock);
            keep_other(l, &rs);
            pthread_mutex_unlock(&l->lock);
        }
        return;
    }
    const char *why = NULL;
    if (i >= atomic_load(&l->n_sent))
        why = "an id that was never sent";
    else if (rs.status == RESP_OK)
        why = check_numbers(l, i, &rs, in, want, got);
    pthread_mutex_lock(&l->lock);
    if (why && i >= atomic_load(&l->n_sent)) {
        l->wrong_extra++;
    } else {
        struct rec *r = &l->recs[i];
        if (!r->answers++) {
            r->answer_us = now;
            r->status = (uint8_t)rs.status;
            r->code = rs.status != RESP_OK ? (uint8_t)(code_index(l, &rs.err_code) + 1) : 0;
            r->version = (uint8_t)(ref_index(l, rs.version) + 1);
            if (rs.worker.len >= 2 && rs.worker.ptr[0] == 'w' && rs.worker.ptr[1] >= '0' &&
                rs.worker.ptr[1] < '0' + KT_MAX_WORKERS)
                r->worker = (int8_t)(rs.worker.ptr[1] - '0');
        } else if (l->dups_printed < 5) {
            l->dups_printed++;
            fprintf(stderr,
                    "load: %s%" PRId64 " answered again by %.*s (first by w%d, %.1f s earlier)\n",
                    l->prefix, i, (int)rs.worker.len, (const char *)rs.worker.ptr, r->worker,
                    (double)(now - r->answer_us) / 1e6);
        }
        if (why)
            r->wrong = 1;
    }
    if (!why && rs.status == RESP_ERROR && l->errors_printed++ < 5)
        fprintf(stderr, "load: %s%" PRId64 " answered error %.*s by %.*s: %.*s\n", l->prefix, i,
                (int)rs.err_code.len, (const char *)rs.err_code.ptr, (int)rs.worker.len,
                (const char *)rs.worker.ptr, (int)rs.err_message.len,
                (const char *)rs.err_message.ptr);
    if (why && l->wrong_printed++ < 5)
        fprintf(stderr, "load: wrong answer to %s%" PRId64 " (version %.*s, worker %.*s): %s\n",
                l->prefix, i, (int)rs.version.len, (const char *)rs.version.ptr, (int)rs.worker.len,
                (const char *)rs.worker.ptr, why);
    pthread_mutex_unlock(&l->lock);
}

static void *collector_main(void *arg)
{
    struct kt_load *l = arg;
    size_t nin = (size_t)l->o.rows * l->o.width, nout = (size_t)l->o.rows * (l->max_out_w + 1);
    float *in = malloc(nin * sizeof(float)), *want = malloc(nout * sizeof(float)),
          *got = malloc(nout * sizeof(float));
    KT_ASSERT(in && want && got);
    while (!atomic_load(&l->stop_collect)) {
        kio_msg *m = NULL;
        kio_consumer_poll(l->resp, 100, &m);
        if (!m)
            continue;
        handle(l, m, in, want, got);
        kio_msg_free(m);
    }
    free(in);
    free(want);
    free(got);
    return NULL;
}

void kt_load_start(struct kt_load *l)
{
    char err[256];
    struct kio_opts o = {.brokers = l->e->brokers, .client_id = "kt-load", .opaque = l};
    l->prod = kio_producer_new(&o, on_request_delivery, err, sizeof(err));
    KT_ASSERT_MSG(l->prod, "%s", err);
    l->resp = kt_env_reader(l->e, l->e->t_resp, 1);
    KT_ASSERT(!pthread_create(&l->collector, NULL, collector_main, l));
    l->collecting = true;
    KT_ASSERT(!pthread_create(&l->sender, NULL, sender_main, l));
    l->sending = true;
}

void kt_load_phase(struct kt_load *l, enum kt_phase phase)
{
    if (phase == KT_PHASE_DURING)
        atomic_store(&l->during_us, kf_clock_mono_us());
    atomic_store(&l->phase, (int)phase);
}

bool kt_load_warm(struct kt_load *l, double settle_s, int timeout_s)
{
    bool settled = false;
    int64_t deadline = kf_clock_mono_us() + (int64_t)timeout_s * 1000000;
    while (!settled && kf_clock_mono_us() < deadline) {
        kf_sleep_ms(200);
        int64_t n = atomic_load(&l->n_sent), fast = 0, last = 0;
        pthread_mutex_lock(&l->lock);
        /* Settled: the last 20 requests answered were all quick. */
        for (int64_t i = n - 1; i >= 0 && last < 20; i--)
            if (l->recs[i].answers) {
                last++;
                fast += (double)(l->recs[i].answer_us - l->recs[i].sent_us) / 1e6 <= settle_s;
            }
        pthread_mutex_unlock(&l->lock);
        settled = last >= 20 && fast == last;
    }
    kt_load_phase(l, KT_PHASE_BEFORE);
    return settled;
}

void kt_load_stop(struct kt_load *l)
{
    if (!l->sending)
        return;
    if (!l->o.max)
        atomic_store(&l->stop_send, true); /* with a max, the sender ends after it */
    pthread_join(l->sender, NULL);
    l->sending = false;
}

int64_t kt_load_count(struct kt_load *l)
{
    return atomic_load(&l->n_sent);
}

/* Requests sent (acknowledged, or answered before their report was served) and not answered. */
static int64_t unanswered(struct kt_load *l, int64_t *pending)
{
    int64_t n = atomic_load(&l->n_sent), missing = 0;
    *pending = 0;
    pthread_mutex_lock(&l->lock);
    for (int64_t i = 0; i < n; i++) {
        const struct rec *r = &l->recs[i];
        if (r->answers || r->delivered == 2)
            continue;
        if (r->delivered == 1)
            missing++;
        else
            (*pending)++;
    }
    pthread_mutex_unlock(&l->lock);
    return missing;
}

void kt_load_flush(struct kt_load *l, int timeout_s)
{
    int64_t pending = 1;
    for (int t = 0; t < timeout_s * 10 && pending; t++) {
        unanswered(l, &pending);
        if (pending)
            kf_sleep_ms(100);
    }
}

int64_t kt_load_drain(struct kt_load *l, int timeout_s)
{
    kt_load_stop(l);
    int64_t deadline = kf_clock_mono_us() + (int64_t)timeout_s * 1000000, pending = 0, missing;
    while ((missing = unanswered(l, &pending)) + pending > 0 && kf_clock_mono_us() < deadline)
        kf_sleep_ms(100);
    /* A straggler duplicate may still be on its way: give it a moment to be counted. */
    kf_sleep_ms(500);
    return missing + pending;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double pct(double *v, size_t n, double p)
{
    if (!n)
        return 0;
    qsort(v, n, sizeof(double), cmp_double);
    size_t k = (size_t)ceil(p * (double)n) - 1;
    return v[k < n ? k : n - 1];
}

void kt_load_stats(struct kt_load *l, struct kt_load_stats *st)
{
    memset(st, 0, sizeof(*st));
    int64_t n = atomic_load(&l->n_sent);
    double *lat[KT_PHASES], *all = malloc(((size_t)n + 1) * sizeof(double));
    for (int p = 0; p < KT_PHASES; p++)
        KT_ASSERT(lat[p] = malloc(((size_t)n + 1) * sizeof(double)));
    KT_ASSERT(all);
    size_t n_all = 0;
    int64_t during_us = atomic_load(&l->during_us);
    pthread_mutex_lock(&l->lock);
    for (int64_t i = 0; i < n; i++) {
        const struct rec *r = &l->recs[i];
        if (r->delivered == 2 && !r->answers) {
            st->unsent++;
            continue;
        }
        if (r->delivered == 0 && !r->answers)
            continue; /* not acknowledged yet */
        st->sent++;
        st->wrong += r->wrong;
        if (!r->answers) {
            st->lost++;
            continue;
        }
        st->answered++;
        st->duplicated += r->answers - 1;
        st->ok += r->status == RESP_OK;
        st->rows_ok += r->status == RESP_OK ? l->o.rows : 0;
        st->errors += r->status == RESP_ERROR;
        st->expired += r->status == RESP_EXPIRED;
        if (r->worker >= 0)
            st->by_worker[r->worker]++;
        double s = (double)(r->answer_us - r->sent_us) / 1e6;
        /* A request sent before the fault but answered after it began met the fault. */
        int phase = r->phase == KT_PHASE_BEFORE && during_us && r->answer_us > during_us
                        ? KT_PHASE_DURING
                        : r->phase;
        lat[phase][st->n[phase]++] = s;
        all[n_all++] = s;
    }
    st->wrong += l->wrong_extra;
    pthread_mutex_unlock(&l->lock);
    for (int p = 0; p < KT_PHASES; p++) {
        st->p50_s[p] = pct(lat[p], (size_t)st->n[p], 0.50);
        st->p99_s[p] = pct(lat[p], (size_t)st->n[p], 0.99);
        st->max_s[p] = st->n[p] ? lat[p][st->n[p] - 1] : 0;
        free(lat[p]);
    }
    st->p99_all_s = pct(all, n_all, 0.99);
    st->max_all_s = n_all ? all[n_all - 1] : 0;
    free(all);
}

int64_t kt_load_code_count(struct kt_load *l, const char *code)
{
    int64_t n = atomic_load(&l->n_sent), c = 0;
    pthread_mutex_lock(&l->lock);
    for (int64_t i = 0; i < n; i++)
        c += l->recs[i].code && !strcmp(l->codes[l->recs[i].code - 1], code);
    pthread_mutex_unlock(&l->lock);
    return c;
}

void kt_load_codes(struct kt_load *l, char *buf, size_t size)
{
    int64_t n = atomic_load(&l->n_sent);
    int64_t counts[MAX_CODES] = {0};
    pthread_mutex_lock(&l->lock);
    for (int64_t i = 0; i < n; i++)
        if (l->recs[i].code)
            counts[l->recs[i].code - 1]++;
    size_t used = 0;
    buf[0] = '\0';
    for (int k = 0; k < l->n_codes && used < size; k++)
        if (counts[k])
            used += (size_t)snprintf(buf + used, size - used, "%s%s=%" PRId64, used ? " " : "",
                                     l->codes[k], counts[k]);
    pthread_mutex_unlock(&l->lock);
}

double kt_load_recovery_s(struct kt_load *l, int64_t since_us, double slow_s)
{
    int64_t n = atomic_load(&l->n_sent), last = 0;
    pthread_mutex_lock(&l->lock);
    for (int64_t i = 0; i < n; i++) {
        const struct rec *r = &l->recs[i];
        if (r->answers && r->answer_us > since_us &&
            (double)(r->answer_us - r->sent_us) / 1e6 > slow_s && r->answer_us > last)
            last = r->answer_us;
    }
    pthread_mutex_unlock(&l->lock);
    return last ? (double)(last - since_us) / 1e6 : 0;
}

void kt_load_window(struct kt_load *l, int64_t from_us, int64_t to_us, int64_t *sent,
                    int64_t *answered, double *p99_s, double *max_s)
{
    int64_t n = atomic_load(&l->n_sent);
    double *v = malloc(((size_t)n + 1) * sizeof(double));
    KT_ASSERT(v);
    size_t k = 0;
    *sent = 0;
    pthread_mutex_lock(&l->lock);
    for (int64_t i = 0; i < n; i++) {
        const struct rec *r = &l->recs[i];
        if (r->sent_us < from_us || r->sent_us >= to_us || (r->delivered != 1 && !r->answers))
            continue;
        (*sent)++;
        if (r->answers)
            v[k++] = (double)(r->answer_us - r->sent_us) / 1e6;
    }
    pthread_mutex_unlock(&l->lock);
    *answered = (int64_t)k;
    *p99_s = pct(v, k, 0.99);
    *max_s = k ? v[k - 1] : 0;
    free(v);
}

int64_t kt_load_first_answer_by(struct kt_load *l, int worker, int64_t since_us)
{
    int64_t n = atomic_load(&l->n_sent), first = 0;
    pthread_mutex_lock(&l->lock);
    for (int64_t i = 0; i < n; i++) {
        const struct rec *r = &l->recs[i];
        if (r->answers && r->worker == worker && r->sent_us >= since_us &&
            (!first || r->answer_us < first))
            first = r->answer_us;
    }
    pthread_mutex_unlock(&l->lock);
    return first;
}

int64_t kt_load_version_count(struct kt_load *l, const char *version, int64_t from_us,
                              int64_t to_us)
{
    int64_t n = atomic_load(&l->n_sent), c = 0;
    int k = ref_index(l, (kf_bytes){(const uint8_t *)version, strlen(version)});
    pthread_mutex_lock(&l->lock);
    for (int64_t i = 0; k >= 0 && i < n; i++) {
        const struct rec *r = &l->recs[i];
        c += r->version == k + 1 && r->sent_us >= from_us && r->sent_us < to_us;
    }
    pthread_mutex_unlock(&l->lock);
    return c;
}

bool kt_load_other(struct kt_load *l, const char *id, struct kt_other *out)
{
    bool found = false;
    pthread_mutex_lock(&l->lock);
    for (size_t k = 0; k < l->n_others && !found; k++)
        if (!strcmp(l->others[k].id, id)) {
            *out = l->others[k];
            found = true;
        }
    pthread_mutex_unlock(&l->lock);
    return found;
}

void kt_load_free(struct kt_load *l)
{
    if (!l)
        return;
    kt_load_stop(l);
    if (l->collecting) {
        atomic_store(&l->stop_collect, true);
        pthread_join(l->collector, NULL);
    }
    kio_consumer_free(l->resp);
    kio_producer_free(l->prod);
    for (int k = 0; k < l->n_refs; k++)
        loader_version_free(l->refs[k].sv);
    kern_backend_free(l->be);
    pthread_mutex_destroy(&l->lock);
    free(l->others);
    free(l->recs);
    free(l);
}
