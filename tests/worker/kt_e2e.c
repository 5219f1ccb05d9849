#include "tests/worker/kt_e2e.h"

#include "common/kf_clock.h"
#include "schema/ctl_sig.h"
#include "schema/req.h"
#include "schema/resp.h"

#include <inttypes.h>
#include <jansson.h>

kio_consumer *kt_env_reader(struct kt_env *e, const char *topic, int parts)
{
    char err[256];
    struct kio_opts o = {.brokers = e->brokers};
    kio_consumer *kc = kio_consumer_new(&o, NULL, err, sizeof(err));
    KT_ASSERT_MSG(kc, "%s", err);
    kio_tplist *l = kio_tplist_new((size_t)parts);
    for (int p = 0; p < parts; p++)
        kio_tplist_add(l, topic, p, KIO_OFFSET_BEGINNING);
    KT_ASSERT_INT_EQ(kio_consumer_assign(kc, l), 0);
    kio_tplist_free(l);
    return kc;
}

/* A failing assertion exits: take the workers down with the test. */
static struct kt_env *live_env;

static void kill_workers(void)
{
    for (int i = 0; live_env && i < KT_MAX_WORKERS; i++)
        if (live_env->workers[i].pid > 0)
            kill(live_env->workers[i].pid, SIGKILL);
}

void kt_env_init(struct kt_env *e, const char *tag, const char *worker_bin, int partitions)
{
    kt_env_init_opts(e, tag, worker_bin, partitions, NULL);
}

void kt_env_init_opts(struct kt_env *e, const char *tag, const char *worker_bin, int partitions,
                      const struct kt_env_opts *opts)
{
    static const struct kt_env_opts none;
    if (!opts)
        opts = &none;
    memset(e, 0, sizeof(*e));
    live_env = e;
    atexit(kill_workers);
    e->brokers = opts->brokers ? opts->brokers : kt_service_env("KFLEET_BROKERS");
    e->worker_bin = worker_bin;
    e->partitions = partitions;
    const char *bucket = kt_service_env("KFLEET_S3_BUCKET");
    struct objstore_s3_opts s3 = {.endpoint = kt_service_env("KFLEET_S3_ENDPOINT"),
                                  .access_key = kt_service_env("KFLEET_S3_ACCESS_KEY"),
                                  .secret_key = kt_service_env("KFLEET_S3_SECRET_KEY"),
                                  .https = kt_s3_https(),
                                  .signature_v2 = kt_s3_sigv2(),
                                  .ca_file = kt_s3_ca_file()};
    char url[128], err[512];
    snprintf(e->sfx, sizeof(e->sfx), "%s-%d-%" PRId64, tag, (int)getpid(), kf_clock_wall_ms());
    snprintf(e->t_req, sizeof(e->t_req), "e2e.req.%s", e->sfx);
    snprintf(e->t_resp, sizeof(e->t_resp), "e2e.resp.%s", e->sfx);
    snprintf(e->t_dlq, sizeof(e->t_dlq), "e2e.dlq.%s", e->sfx);
    snprintf(e->t_ctl, sizeof(e->t_ctl), "e2e.ctl.%s", e->sfx);
    snprintf(e->group, sizeof(e->group), "e2e-%s", e->sfx);
    snprintf(e->model, sizeof(e->model), "m-%s", e->sfx);
    snprintf(url, sizeof(url), "s3://%s", bucket);
    e->dir = kt_tmpdir(tag);
    e->os = objstore_new(url, &s3, err, sizeof(err));
    KT_ASSERT_MSG(e->os, "%s", err);

    struct kio_opts o = {.brokers = e->brokers};
    kio_admin *ka = kio_admin_new(&o, err, sizeof(err));
    KT_ASSERT_MSG(ka, "%s", err);
    const char *ctl_cfg[] = {"retention.ms", "-1", "message.timestamp.type", "LogAppendTime", NULL};
    int rf = opts->replication > 0 ? opts->replication : 1;
    struct kio_topic_spec specs[] = {
        {e->t_req, partitions, rf, opts->topic_cfg},
        {e->t_resp, 1, rf, opts->resp_cfg ? opts->resp_cfg : opts->topic_cfg},
        {e->t_dlq, 1, rf, opts->topic_cfg},
        {e->t_ctl, 1, rf, opts->ctl_cfg ? opts->ctl_cfg : ctl_cfg}};
    KT_ASSERT_MSG(!kio_admin_topics_create(ka, specs, 4, true, 30000, err, sizeof(err)), "%s", err);
    kio_admin_free(ka);
    e->prod = kio_producer_new(&o, NULL, err, sizeof(err));
    KT_ASSERT_MSG(e->prod, "%s", err);
    e->resp = kt_env_reader(e, e->t_resp, 1);

    kt_key(&e->trusted, 1);
    kt_key(&e->stranger, 2);
    char base[300];
    snprintf(base, sizeof(base), "%s/trusted", e->dir);
    KT_ASSERT(!crypto_ed25519_save(&e->trusted, base, err, sizeof(err)));
    snprintf(e->trusted_pub, sizeof(e->trusted_pub), "%s.pub", base);
    e->cap = 200000;
    e->answers = calloc((size_t)e->cap, sizeof(*e->answers));
    KT_ASSERT(e->answers);
}

void kt_env_fini(struct kt_env *e)
{
    for (int i = 0; i < KT_MAX_WORKERS; i++)
        if (e->workers[i].pid > 0)
            kt_env_worker_stop(e, i, SIGTERM);
    kio_consumer_free(e->resp);
    kio_producer_free(e->prod);
    objstore_free(e->os);
    kt_rmtree(e->dir);
    free(e->dir);
    free(e->answers);
}

struct kt_spec kt_env_spec(const struct kt_env *e, const char *version, uint64_t seed)
{
    return (struct kt_spec){.model = e->model,
                            .version = version,
                            .input_width = 8,
                            .n_layers = 2,
                            .widths = {16, 4},
                            .dtype = SCHEMA_DTYPE_F32,
                            .act = ARCH_ACT_RELU,
                            .softmax = true,
                            .seed = seed,
                            .chunk_size = 256};
}

void kt_env_version(struct kt_env *e, const char *version, uint64_t seed, float golden_skew,
                    const struct crypto_ed25519_key *key, struct kt_version *out)
{
    struct kt_spec s = kt_env_spec(e, version, seed);
    s.golden_skew = golden_skew;
    kt_version_build(&s, key ? key : &e->trusted, out);
    kt_version_publish(e->os, out);
}

void kt_env_version_w(struct kt_env *e, const char *version, uint64_t seed, uint32_t input_width,
                      struct kt_version *out)
{
    struct kt_spec s = kt_env_spec(e, version, seed);
    s.input_width = input_width;
    kt_version_build(&s, &e->trusted, out);
    kt_version_publish(e->os, out);
}

static void produce_signed(struct kt_env *e, const struct ctl_event *ev,
                           const struct crypto_ed25519_key *signer)
{
    kf_buf value, sig;
    kf_buf_init(&value);
    kf_buf_init(&sig);
    char err[256];
    KT_ASSERT_MSG(!ctl_event_encode(ev, &value, err, sizeof(err)), "%s", err);
    struct kio_header h = {"kfleet-sig", {NULL, 0}};
    if (signer) {
        KT_ASSERT_INT_EQ(ctl_sig_sign(signer, value.ptr, value.len, &sig), 0);
        h.value = (kf_bytes){sig.ptr, sig.len};
    }
    struct kio_out_msg m = {.topic = e->t_ctl,
                            .partition = 0,
                            .value = value.ptr,
                            .value_len = value.len,
                            .headers = &h,
                            .header_count = signer ? 1 : 0};
    KT_ASSERT_INT_EQ(kio_producer_send(e->prod, &m, KIO_SEND_COPY | KIO_SEND_BLOCK), 0);
    KT_ASSERT_INT_EQ(kio_producer_flush(e->prod, 10000), 0);
    kf_buf_fini(&value);
    kf_buf_fini(&sig);
}

void kt_env_append(struct kt_env *e, const struct ctl_event *ev,
                   const struct crypto_ed25519_key *signer)
{
    produce_signed(e, ev, signer);
}

void kt_strategy_default(struct ctl_strategy *st)
{
    ctl_strategy_default(st);
    st->health_s = KT_HEALTH_S;
}

void kt_env_announce(struct kt_env *e, const struct kt_version *v, uint64_t seq,
                     const struct ctl_strategy *st, const struct crypto_ed25519_key *signer)
{
    struct ctl_event ev;
    ctl_event_init(&ev, CTL_MODEL_PUBLISHED);
    snprintf(ev.event_id, sizeof(ev.event_id), "pub-%s-%" PRIu64 "-%" PRId64, v->version, seq,
             kf_clock_wall_ms());
    snprintf(ev.model, sizeof(ev.model), "%s", v->model);
    snprintf(ev.version, sizeof(ev.version), "%s", v->version);
    ev.seq = seq;
    ev.manifest = v->ref;
    if (st)
        ev.strategy = *st;
    else
        kt_strategy_default(&ev.strategy);
    produce_signed(e, &ev, signer);
}

void kt_env_command(struct kt_env *e, enum ctl_action action, const char *version,
                    const struct crypto_ed25519_key *signer)
{
    struct ctl_event ev;
    ctl_event_init(&ev, CTL_ROLLOUT_COMMAND);
    snprintf(ev.event_id, sizeof(ev.event_id), "cmd-%d-%" PRId64, (int)action, kf_clock_wall_ms());
    snprintf(ev.model, sizeof(ev.model), "%s", e->model);
    snprintf(ev.version, sizeof(ev.version), "%s", version ? version : "");
    snprintf(ev.reason, sizeof(ev.reason), "test");
    ev.action = action;
    produce_signed(e, &ev, signer);
}

/* The last line of the log at @p path (at most @p size - 1 bytes of it), or "". */
static void last_line(const char *path, char *out, size_t size)
{
    out[0] = '\0';
    if (access(path, R_OK))
        return;
    char *log = kt_slurp(path);
    size_t len = strlen(log);
    while (len && log[len - 1] == '\n')
        log[--len] = '\0';
    char *nl = strrchr(log, '\n');
    snprintf(out, size, "%s", nl ? nl + 1 : log);
    free(log);
}

void kt_env_worker_start(struct kt_env *e, int i, const char *const *extra)
{
    kt_env_worker_spawn(e, i, extra);
    struct kt_worker *w = &e->workers[i];
    int64_t deadline = kf_clock_mono_us() + 90 * 1000000LL;
    while (kt_http_get(w->port, "/readyz", NULL, 0) != 200) {
        int rc;
        if (kt_env_worker_exited(e, i, &rc)) {
            char line[512];
            last_line(w->log, line, sizeof(line));
            KT_FAIL("%s exited %d before it was ready (see %s): %s", w->id, rc, w->log, line);
        }
        KT_ASSERT_MSG(kf_clock_mono_us() < deadline, "%s not ready after 90 s; see %s", w->id,
                      w->log);
        kf_sleep_ms(100);
    }
}

bool kt_env_worker_exited(struct kt_env *e, int i, int *rc)
{
    struct kt_worker *w = &e->workers[i];
    int status;
    if (w->pid <= 0 || waitpid(w->pid, &status, WNOHANG) != w->pid)
        return false;
    w->pid = 0;
    if (rc)
        *rc = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return true;
}

/* A worker's own key, enrolled by the release key the first time it starts
 * (docs/security.md): the fleets in the tests require worker signatures. */
static void enroll(struct kt_env *e, struct kt_worker *w)
{
    if (w->key[0])
        return;
    struct crypto_ed25519_key k;
    char base[300], err[256];
    snprintf(base, sizeof(base), "%s/%s-key", e->dir, w->id);
    KT_ASSERT_INT_EQ(crypto_ed25519_keygen(&k), 0);
    KT_ASSERT_MSG(crypto_ed25519_save(&k, base, err, sizeof(err)) == 0, "%s", err);
    snprintf(w->key, sizeof(w->key), "%s.key", base);
    struct ctl_event ev;
    ctl_event_init(&ev, CTL_KEY_ENROLLED);
    snprintf(ev.event_id, sizeof(ev.event_id), "enroll-%s-%" PRId64, w->id, kf_clock_wall_ms());
    snprintf(ev.worker, sizeof(ev.worker), "%s", w->id);
    crypto_base64_encode(k.pub, sizeof(k.pub), ev.pubkey);
    snprintf(ev.reason, sizeof(ev.reason), "test fleet");
    produce_signed(e, &ev, &e->trusted);
}

void kt_env_worker_spawn(struct kt_env *e, int i, const char *const *extra)
{
    struct kt_worker *w = &e->workers[i];
    snprintf(w->id, sizeof(w->id), "w%d", i);
    enroll(e, w);
    w->port = kt_free_port();
    snprintf(w->log, sizeof(w->log), "%s/w%d.log", e->dir, i);
    static char a[24][320];
    int n = 0;
    snprintf(a[n++], 320, "topic.requests=%s", e->t_req);
    snprintf(a[n++], 320, "topic.responses=%s", e->t_resp);
    snprintf(a[n++], 320, "topic.dlq=%s", e->t_dlq);
    snprintf(a[n++], 320, "topic.control=%s", e->t_ctl);
    snprintf(a[n++], 320, "group.id=%s", e->group);
    snprintf(a[n++], 320, "trusted_keys=%s", e->trusted_pub);
    snprintf(a[n++], 320, "cache.dir=%s/cache-%s", e->dir, w->id);
    snprintf(a[n++], 320, "s3.endpoint=%s", kt_service_env("KFLEET_S3_ENDPOINT"));
    snprintf(a[n++], 320, "http.port=%d", w->port);
    snprintf(a[n++], 320, "worker.key=%s", w->key);
    for (int k = 0; extra && extra[k] && n < 24; k++)
        snprintf(a[n++], 320, "%s", extra[k]);
    char *argv[64];
    int c = 0;
    argv[c++] = (char *)e->worker_bin;
    argv[c++] = "-b";
    argv[c++] = (char *)e->brokers;
    argv[c++] = "-i";
    argv[c++] = w->id;
    for (int k = 0; k < n; k++) {
        argv[c++] = "-X";
        argv[c++] = a[k];
    }
    argv[c] = NULL;
    w->pid = kt_spawn(argv, w->log);
}

int kt_env_worker_stop(struct kt_env *e, int i, int sig)
{
    struct kt_worker *w = &e->workers[i];
    if (w->pid <= 0)
        return -1;
    kill(w->pid, sig);
    int rc = kt_wait(w->pid, 60);
    w->pid = 0;
    return rc;
}

bool kt_env_wait_active(struct kt_env *e, int n, const char *version, int timeout_s)
{
    int64_t deadline = kf_clock_mono_us() + (int64_t)timeout_s * 1000000;
    for (;;) {
        int ok = 0;
        for (int i = 0; i < n; i++) {
            char active[64] = "";
            if (e->workers[i].pid > 0 &&
                kt_env_worker_status(e, i, NULL, 0, active, sizeof(active)) &&
                !strcmp(active, version))
                ok++;
        }
        if (ok == n)
            return true;
        if (kf_clock_mono_us() >= deadline)
            return false;
        kf_sleep_ms(100);
    }
}

/* The model entry for @p model in a /status document, or NULL (borrowed from @p st). */
static json_t *status_model(json_t *st, const char *model)
{
    size_t k;
    json_t *m;
    json_array_foreach(json_object_get(st, "models"), k, m)
    {
        const char *name = json_string_value(json_object_get(m, "model"));
        if (name && !strcmp(name, model))
            return m;
    }
    return NULL;
}

static const char *field(json_t *o, const char *name)
{
    const char *s = json_string_value(json_object_get(o, name));
    return s ? s : "";
}

bool kt_env_worker_status(struct kt_env *e, int i, char *line, size_t size, char *version_out,
                          size_t version_size)
{
    struct kt_worker *w = &e->workers[i];
    static char body[65536];
    char dummy[8];
    if (!line)
        line = dummy, size = sizeof(dummy);
    if (version_out && version_size)
        version_out[0] = '\0';
    if (w->pid <= 0) {
        snprintf(line, size, "w%d down", i);
        return false;
    }
    int code = kt_http_get(w->port, "/status", body, sizeof(body));
    if (code != 200) {
        snprintf(line, size, "%s /status: %s %d", w->id, code < 0 ? "no answer" : "HTTP", code);
        return false;
    }
    json_error_t jerr;
    json_t *st = json_loads(body, 0, &jerr);
    if (!st) {
        snprintf(line, size, "%s /status is not JSON (%s): %.200s", w->id, jerr.text, body);
        return false;
    }
    json_t *m = status_model(st, e->model);
    snprintf(line, size,
             "%s active=%s standby=%s preparing=%s target=%s phase=%s claim=%s "
             "control_offset=%" JSON_INTEGER_FORMAT,
             w->id, field(m, "active"), field(m, "standby"), field(m, "preparing"),
             field(m, "target"), field(m, "phase"), field(m, "claim"),
             json_integer_value(json_object_get(st, "control_offset")));
    if (version_out && version_size)
        snprintf(version_out, version_size, "%s", field(m, "active"));
    json_decref(st);
    return true;
}

void kt_env_status_lines(struct kt_env *e, int n, char *out, size_t size)
{
    size_t len = 0;
    out[0] = '\0';
    for (int i = 0; i < n && len + 1 < size; i++) {
        char line[512];
        kt_env_worker_status(e, i, line, sizeof(line), NULL, 0);
        int k = snprintf(out + len, size - len, "%s%s", i ? "; " : "", line);
        if (k < 0)
            break;
        len += (size_t)k < size - len ? (size_t)k : size - len - 1;
    }
}

int64_t kt_env_control_end(struct kt_env *e)
{
    char err[256];
    struct kio_opts o = {.brokers = e->brokers};
    kio_admin *ka = kio_admin_new(&o, err, sizeof(err));
    KT_ASSERT_MSG(ka, "%s", err);
    int64_t low = 0, high = 0;
    KT_ASSERT_MSG(!kio_admin_watermarks(ka, e->t_ctl, 0, &low, &high, 10000),
                  "no watermarks for %s", e->t_ctl);
    kio_admin_free(ka);
    return high;
}

/* Worker @p i's /status control_offset; -1 when it does not answer. */
static int64_t control_offset(struct kt_env *e, int i)
{
    static char body[65536];
    if (e->workers[i].pid <= 0 ||
        kt_http_get(e->workers[i].port, "/status", body, sizeof(body)) != 200)
        return -1;
    json_t *st = json_loads(body, 0, NULL);
    json_t *off = json_object_get(st, "control_offset");
    int64_t v = json_is_integer(off) ? (int64_t)json_integer_value(off) : -1;
    json_decref(st);
    return v;
}

void kt_env_wait_control(struct kt_env *e, int n, int64_t offset, int timeout_s)
{
    int64_t deadline = kf_clock_mono_us() + (int64_t)timeout_s * 1000000;
    for (;;) {
        int behind = 0;
        for (int i = 0; i < n; i++)
            if (e->workers[i].pid > 0 && control_offset(e, i) < offset)
                behind++;
        if (!behind)
            return;
        if (kf_clock_mono_us() >= deadline) {
            char seen[2048];
            kt_env_status_lines(e, n, seen, sizeof(seen));
            KT_FAIL("%d workers have not read the control log up to offset %" PRId64
                    " after %d s: %s",
                    behind, offset, timeout_s, seen);
        }
        kf_sleep_ms(100);
    }
}

void kt_env_request_input(int i, float row[KT_REQUEST_COLS])
{
    for (int c = 0; c < KT_REQUEST_COLS; c++)
        row[c] = (float)((i * 7 + c * 3) % 17) / 8.0f - 1.0f;
}

void kt_env_send(struct kt_env *e, int n)
{
    for (int k = 0; k < n && e->n_sent < e->cap; k++) {
        int i = e->n_sent++;
        char id[32];
        snprintf(id, sizeof(id), "q%d", i);
        float data[KT_REQUEST_COLS];
        kt_env_request_input(i, data);
        struct req rq = {
            .v = 1,
            .id = {(const uint8_t *)id, strlen(id)},
            .model = {(const uint8_t *)e->model, strlen(e->model)},
            .inputs = {
                SCHEMA_DTYPE_F32, 1, KT_REQUEST_COLS, {(const uint8_t *)data, sizeof(data)}}};
        kf_buf v;
        kf_buf_init(&v);
        KT_ASSERT_INT_EQ(req_encode(&rq, &v), 0);
        struct kio_out_msg m = {.topic = e->t_req,
                                .partition = i % e->partitions,
                                .key = {(const uint8_t *)id, strlen(id)},
                                .value = v.ptr,
                                .value_len = v.len};
        KT_ASSERT_INT_EQ(kio_producer_send(e->prod, &m, KIO_SEND_COPY | KIO_SEND_BLOCK), 0);
        kf_buf_fini(&v);
        kio_producer_poll(e->prod, 0);
    }
    kio_producer_flush(e->prod, 30000);
}

int kt_env_collect(struct kt_env *e, int from, int to, int timeout_s)
{
    int64_t deadline = kf_clock_mono_us() + (int64_t)timeout_s * 1000000;
    int missing = 0;
    for (int i = from; i < to; i++)
        missing += !e->answers[i].answers;
    while (missing > 0 && kf_clock_mono_us() < deadline) {
        kio_msg *m = NULL;
        kio_consumer_poll(e->resp, 100, &m);
        if (!m)
            continue;
        struct resp rs;
        char err[256];
        if (!resp_decode(m->value.ptr, m->value.len, &rs, err, sizeof(err)) && rs.id.len > 1 &&
            rs.id.ptr[0] == 'q') {
            int i = atoi((const char *)rs.id.ptr + 1);
            if (i >= 0 && i < e->n_sent) {
                struct kt_answer *a = &e->answers[i];
                if (!a->answers && i >= from && i < to)
                    missing--;
                a->answers++;
                a->status = (int)rs.status;
                snprintf(a->version, sizeof(a->version), "%.*s", (int)rs.version.len,
                         (const char *)rs.version.ptr);
                snprintf(a->worker, sizeof(a->worker), "%.*s", (int)rs.worker.len,
                         (const char *)rs.worker.ptr);
                bool keep = rs.status == RESP_OK && rs.rows == 1 && rs.cols <= KT_ANSWER_MAX_COLS;
                a->cols = keep ? (uint32_t)rs.cols : 0;
                if (keep)
                    memcpy(a->outputs, rs.outputs.ptr, (size_t)rs.cols * sizeof(float));
            }
        }
        kio_msg_free(m);
    }
    return missing;
}

int kt_env_duplicates(const struct kt_env *e, int from, int to)
{
    int d = 0;
    for (int i = from; i < to; i++)
        d += e->answers[i].answers > 1 ? e->answers[i].answers - 1 : 0;
    return d;
}

int kt_env_control_scan(struct kt_env *e,
                        int (*cb)(void *opaque, const struct ctl_event *ev, int64_t offset,
                                  int64_t ts_ms),
                        void *opaque, int timeout_s)
{
    char err[256];
    struct kio_opts o = {.brokers = e->brokers};
    kio_admin *ka = kio_admin_new(&o, err, sizeof(err));
    int64_t low = 0, high = 0;
    KT_ASSERT(ka && !kio_admin_watermarks(ka, e->t_ctl, 0, &low, &high, 10000));
    kio_admin_free(ka);
    kio_consumer *kc = kt_env_reader(e, e->t_ctl, 1);
    int n = 0;
    int64_t pos = low, deadline = kf_clock_mono_us() + (int64_t)timeout_s * 1000000;
    while (pos < high && kf_clock_mono_us() < deadline) {
        kio_msg *m = NULL;
        kio_consumer_poll(kc, 100, &m);
        if (!m)
            continue;
        pos = m->offset + 1;
        struct ctl_event ev;
        int stop = 0;
        if (!ctl_event_decode(m->value.ptr, m->value.len, &ev, err, sizeof(err))) {
            n++;
            stop = cb(opaque, &ev, m->offset, m->timestamp_ms);
        }
        kio_msg_free(m);
        if (stop)
            break;
    }
    kio_consumer_free(kc);
    return n;
}
