/* End to end through the real kfleet-worker binary, the real broker and
 * S3Proxy (issue 6). Versions are built and announced as publish-model does
 * (signed chunks, manifest, signature, signed model.published), with the
 * store's fixtures; this program plays the producers and consumers.
 *
 *   it_worker KFLEET_WORKER PUBLISH_MODEL KFLEET_MAKE_MODEL
 *
 * Sections (each prints what it checked):
 *   serve     20 000 requests over 8 partitions: every id answered, outputs
 *             equal the reference backend's, provenance headers present
 *   bad       undecodable and invalid records: DLQ + error responses account
 *             for each; the worker keeps serving
 *   swap      v2 pushed with the real publish-model while requests flow: per
 *             partition, no old version after the new one; rollout.done with timings
 *   kill      SIGKILL under load, restart: nothing lost (duplicates counted);
 *             SIGTERM under load, restart: nothing lost, no duplicate
 *   cache     S3 unreachable, warm cache: a restarted worker serves the target
 *   metrics   /metrics passes promtool, its lag equals kio's group lag
 */
#include "common/kf_clock.h"
#include "kernels/kern_backend.h"
#include "schema/ctl_event.h"
#include "schema/req.h"
#include "schema/resp.h"
#include "tests/worker/kt_e2e.h"
#include "tests/worker/kt_push.h"
#include "worker/loader.h"
#include "worker/store.h"

#include <inttypes.h>
#include <math.h>

#define IN_W 8
#define OUT_W 4
#define PARTS 8

static struct kt_env env;
static const char *brokers;
static char *t_req, *t_ctl, *group, *model;
static int http_port;
static const char *publish_bin, *make_model_bin;

/* v2 through the real CLI: same architecture as the fixture's v1, new weights. */
static void push_v2(void)
{
    char weights[400];
    snprintf(weights, sizeof(weights), "%s/v2.safetensors", env.dir);
    char *mk[] = {(char *)make_model_bin,
                  "-o",
                  weights,
                  "--input",
                  "8",
                  "--layers",
                  "16,4",
                  "--act",
                  "relu",
                  "--softmax",
                  "--seed",
                  "2",
                  NULL};
    KT_ASSERT_INT_EQ(kt_run(mk, NULL, 60), 0);
    free(kt_push(&env, publish_bin, "v2", weights, NULL));
}
static kio_producer *prod;
static kio_consumer *resp_cons, *dlq_cons;
static struct kern_backend *ref;
static struct kt_version versions[2];
static struct slot_version *ref_versions[2];

/* ------------------------------------------------------------ fixtures */

static void start_worker(const char *extra)
{
    const char *props[] = {extra ? extra : "max_delay_us=1000", NULL};
    kt_env_worker_start(&env, 0, props);
    http_port = env.workers[0].port;
}

static void stop_worker(int sig, int want_rc)
{
    int rc = kt_env_worker_stop(&env, 0, sig);
    if (want_rc >= 0)
        KT_ASSERT_MSG(rc == want_rc, "worker exited %d after signal %d, expected %d", rc, sig,
                      want_rc);
}

/* Version @p idx (v1, v2): built, uploaded, announced; and loaded on the
 * reference backend here, to check the worker's answers against. */
static void make_version(int idx, uint64_t seq)
{
    char name[8];
    snprintf(name, sizeof(name), "v%d", idx + 1);
    kt_env_version(&env, name, (uint64_t)idx + 1, 0, NULL, &versions[idx]);
    struct store_version *sv = kt_store_version(&versions[idx]);
    char err[512];
    KT_ASSERT_MSG(!loader_load(ref, sv, 64, &ref_versions[idx], NULL, NULL, err, sizeof(err)), "%s",
                  err);
    store_version_free(sv);
    kt_env_announce(&env, &versions[idx], seq, NULL, &env.trusted);
}

/* The reference answer for one row. */
static struct kern_weights *ref_weights(int idx)
{
    return ref_versions[idx] ? loader_weights(ref_versions[idx]) : NULL;
}

/* ------------------------------------------------------------ traffic */

struct sent {
    float in[IN_W];
    int answers;
    char version[32];
    int32_t src_part;
    int64_t src_off;
    int status;
};

static struct sent *sent;
static int n_sent;

static void send_request(int i, int32_t part, const char *model_name, int cols, int rows)
{
    char id[64];
    snprintf(id, sizeof(id), "r%d", i);
    float data[IN_W * 2];
    for (int k = 0; k < IN_W; k++)
        sent[i].in[k] = data[k] = (float)sin(i * 0.37 + k) * 2.0f;
    struct req rq = {
        .v = 1,
        .id = {(const uint8_t *)id, strlen(id)},
        .model = {(const uint8_t *)model_name, strlen(model_name)},
        .inputs = {SCHEMA_DTYPE_F32,
                   (uint64_t)rows,
                   (uint64_t)cols,
                   {(const uint8_t *)data, (size_t)(rows * cols) * 4}},
    };
    kf_buf v;
    kf_buf_init(&v);
    KT_ASSERT_INT_EQ(req_encode(&rq, &v), 0);
    struct kio_out_msg m = {.topic = t_req,
                            .partition = part,
                            .key = {(const uint8_t *)id, strlen(id)},
                            .value = v.ptr,
                            .value_len = v.len};
    KT_ASSERT_INT_EQ(kio_producer_send(prod, &m, KIO_SEND_COPY | KIO_SEND_BLOCK), 0);
    kf_buf_fini(&v);
    kio_producer_poll(prod, 0);
}

static void send_raw(const void *bytes, size_t len)
{
    struct kio_out_msg m = {
        .topic = t_req, .partition = 0, .value = (void *)bytes, .value_len = len};
    KT_ASSERT_INT_EQ(kio_producer_send(prod, &m, KIO_SEND_COPY | KIO_SEND_BLOCK), 0);
}

static int64_t header_int(const kio_msg *m, const char *name)
{
    kf_bytes b;
    KT_ASSERT_MSG(!kio_msg_header(m, name, &b), "response without header %s", name);
    char s[32];
    snprintf(s, sizeof(s), "%.*s", (int)b.len, (const char *)b.ptr);
    return strtoll(s, NULL, 10);
}

/* Read responses until ids [from, to) are all answered or @p timeout_s passes.
 * Returns how many are still missing. */
static int collect(int from, int to, int timeout_s, int ref_idx)
{
    int64_t deadline = kf_clock_mono_us() + (int64_t)timeout_s * 1000000;
    int missing = to - from;
    for (int i = from; i < to; i++)
        if (sent[i].answers)
            missing--;
    while (missing > 0 && kf_clock_mono_us() < deadline) {
        kio_msg *m = NULL;
        kio_consumer_poll(resp_cons, 200, &m);
        if (!m)
            continue;
        struct resp rs;
        char err[256];
        KT_ASSERT_MSG(!resp_decode(m->value.ptr, m->value.len, &rs, err, sizeof(err)), "%s", err);
        int i = -1;
        if (rs.id.len > 1 && rs.id.ptr[0] == 'r')
            i = atoi((const char *)rs.id.ptr + 1);
        if (i >= 0 && i < n_sent) {
            struct sent *s = &sent[i];
            if (!s->answers && i >= from && i < to)
                missing--;
            s->answers++;
            s->status = (int)rs.status;
            snprintf(s->version, sizeof(s->version), "%.*s", (int)rs.version.len,
                     (const char *)rs.version.ptr);
            const char *prov[] = {"kfleet-model", "kfleet-version", "kfleet-manifest-sha256",
                                  "kfleet-worker"};
            kf_bytes hb;
            /* Every answer names its provenance; an error computed by no
             * version leaves the version and digest empty. */
            for (int k = 0; k < 4; k++)
                KT_ASSERT_MSG(!kio_msg_header(m, prov[k], &hb) &&
                                  (hb.len || (rs.status != RESP_OK && (k == 1 || k == 2))),
                              "response r%d lacks %s", i, prov[k]);
            s->src_part = (int32_t)header_int(m, "kfleet-source-partition");
            s->src_off = header_int(m, "kfleet-source-offset");
            if (rs.status == RESP_OK && ref_idx >= 0 && ref_weights(ref_idx)) {
                KT_ASSERT(rs.rows == 1 && rs.cols == OUT_W);
                float want[OUT_W], got[OUT_W];
                KT_ASSERT(!kern_forward(ref, ref_weights(ref_idx), s->in, 1, want));
                memcpy(got, rs.outputs.ptr, sizeof(got));
                for (int k = 0; k < OUT_W; k++)
                    KT_ASSERT_MSG(fabsf(got[k] - want[k]) <= 1e-5f + 1e-4f * fabsf(want[k]),
                                  "r%d[%d]: %g, reference %g", i, k, (double)got[k],
                                  (double)want[k]);
            }
        }
        kio_msg_free(m);
    }
    return missing;
}

/* ------------------------------------------------------------ sections */

static void section_serve(void)
{
    enum { N = 20000 };
    for (int i = 0; i < N; i++)
        send_request(n_sent++, i % PARTS, model, IN_W, 1);
    kio_producer_flush(prod, 30000);
    int missing = collect(0, N, 120, 0);
    KT_ASSERT_MSG(missing == 0, "%d of %d requests unanswered", missing, N);
    for (int i = 0; i < N; i++) {
        KT_ASSERT_INT_EQ(sent[i].status, RESP_OK);
        KT_ASSERT_STR_EQ(sent[i].version, "v1");
    }
    printf("serve: %d requests over %d partitions answered, outputs = reference\n", N, PARTS);
}

/* Wait for a /status snapshot that counts at least @p answered OK answers
 * (taken after them) and at least @p dlq_min DLQ copies (its counters are read
 * one by one: a snapshot may straddle); that snapshot's "dlq". Fails after
 * @p timeout_s with the last one. */
static long long dlq_total_once_answered(long long answered, long long dlq_min, int timeout_s)
{
    static char body[65536];
    int64_t deadline = kf_clock_mono_us() + (int64_t)timeout_s * 1000000;
    long long got = -1, dlq = -1;
    for (;;) {
        body[0] = '\0';
        if (kt_http_get(http_port, "/status", body, sizeof(body)) == 200) {
            const char *a = strstr(body, "\"answered\":"), *d = strstr(body, "\"dlq\":");
            got = a ? strtoll(a + 11, NULL, 10) : -1;
            dlq = d ? strtoll(d + 6, NULL, 10) : -1;
            if (got >= answered && dlq >= dlq_min)
                return dlq;
        }
        KT_ASSERT_MSG(kf_clock_mono_us() < deadline,
                      "/status counts %lld OK answers and %lld DLQ copies after %d s, expected "
                      "%lld and %lld: %s",
                      got, dlq, timeout_s, answered, dlq_min, body);
        kf_sleep_ms(100);
    }
}

static void section_bad(void)
{
    int base = n_sent;
    long long base_ok = 0; /* OK answers so far: every one of serve's */
    for (int i = 0; i < base; i++)
        base_ok += sent[i].answers && sent[i].status == RESP_OK;
    /* 1. random bytes  2. truncated msgpack: not addressable, DLQ only */
    uint8_t junk[64];
    for (size_t k = 0; k < sizeof(junk); k++)
        junk[k] = (uint8_t)(k * 97 + 13);
    send_raw(junk, sizeof(junk));
    struct req rq = {.v = 1,
                     .id = {(const uint8_t *)"trunc", 5},
                     .model = {(const uint8_t *)model, strlen(model)},
                     .inputs = {SCHEMA_DTYPE_F32, 1, IN_W, {(const uint8_t *)junk, IN_W * 4}}};
    kf_buf v;
    kf_buf_init(&v);
    KT_ASSERT_INT_EQ(req_encode(&rq, &v), 0);
    send_raw(v.ptr, v.len / 2);
    kf_buf_fini(&v);
    /* 3. wrong width  4. oversize (rows above limits.max_rows)  5. unknown model:
     * addressable: an error response each, and a DLQ copy */
    n_sent++;
    send_request(base + 0, 0, model, 5, 1);
    n_sent++;
    static float big[5000 * IN_W];
    (void)big;
    {
        char id[16] = "r";
        snprintf(id, sizeof(id), "r%d", base + 1);
        struct req o = {
            .v = 1,
            .id = {(const uint8_t *)id, strlen(id)},
            .model = {(const uint8_t *)model, strlen(model)},
            .inputs = {SCHEMA_DTYPE_F32, 5000, IN_W, {(const uint8_t *)big, sizeof(big)}}};
        kf_buf_init(&v);
        KT_ASSERT_INT_EQ(req_encode(&o, &v), 0);
        send_raw(v.ptr, v.len);
        kf_buf_fini(&v);
    }
    n_sent++;
    send_request(base + 2, 0, "no-such-model", IN_W, 1);
    /* 6. wrong dtype: a request whose dtype string is unknown */
    {
        static const uint8_t bad_dtype[] = {
            0x84, 0xa1, 'v', 0x01, 0xa2, 'i',  'd',  0xa5, 'd', 't',  'y',  'p',  'e',  0xa5,
            'm',  'o',  'd', 'e',  'l',  0xa7, 'i',  't',  'm', 'o',  'd',  'e',  'l',  0xa6,
            'i',  'n',  'p', 'u',  't',  's',  0x83, 0xa5, 'd', 't',  'y',  'p',  'e',  0xa3,
            'f',  '6',  '4', 0xa5, 's',  'h',  'a',  'p',  'e', 0x92, 0x01, 0x01, 0xa4, 'd',
            'a',  't',  'a', 0xc4, 0x08, 0,    0,    0,    0,   0,    0,    0,    0};
        send_raw(bad_dtype, sizeof(bad_dtype));
    }
    /* and a good one after all of it */
    n_sent++;
    send_request(base + 3, 0, model, IN_W, 1);
    kio_producer_flush(prod, 30000);
    KT_ASSERT_INT_EQ(collect(base, base + 4, 60, 0), 0);
    KT_ASSERT_INT_EQ(sent[base + 0].status, RESP_ERROR);
    KT_ASSERT_INT_EQ(sent[base + 1].status, RESP_ERROR);
    KT_ASSERT_INT_EQ(sent[base + 2].status, RESP_ERROR);
    KT_ASSERT_INT_EQ(sent[base + 3].status, RESP_OK);
    /* Six bad records, six DLQ copies, each with its reason. */
    int dlq = 0;
    int64_t deadline = kf_clock_mono_us() + 30 * 1000000;
    while (dlq < 6 && kf_clock_mono_us() < deadline) {
        kio_msg *m = NULL;
        kio_consumer_poll(dlq_cons, 200, &m);
        if (!m)
            continue;
        kf_bytes why;
        KT_ASSERT(!kio_msg_header(m, "kfleet-error", &why) && why.len > 0);
        header_int(m, "kfleet-source-offset");
        dlq++;
        kio_msg_free(m);
    }
    KT_ASSERT_MSG(dlq == 6, "DLQ holds %d records, expected 6", dlq);
    /* No seventh is on its way: the worker took partition 0 in order, so once
     * it has counted the good answer after them it has decided every bad
     * record, and its DLQ counter (bumped before each DLQ produce) is final. */
    long long dlq_count = dlq_total_once_answered(base_ok + 1, 6, 60);
    KT_ASSERT_MSG(dlq_count == 6, "the worker sent %lld records to the DLQ, expected 6", dlq_count);
    printf("bad: 6 bad records -> 6 DLQ copies, 3 error responses (+1 for the dtype), "
           "and the next request answered\n");
}

static void section_swap(void)
{
    int base = n_sent;
    enum { N = 6000 };
    for (int i = 0; i < N / 2; i++)
        send_request(n_sent++, i % PARTS, model, IN_W, 1);
    kio_producer_flush(prod, 30000);
    push_v2();
    /* Half of the rest while the worker prepares v2, the other half once
     * /status shows it active, so both sides of the flip are exercised. */
    for (int i = 0; i < N / 4; i++)
        send_request(n_sent++, i % PARTS, model, IN_W, 1);
    if (!kt_env_wait_active(&env, 1, "v2", 60)) {
        char seen[512];
        kt_env_worker_status(&env, 0, seen, sizeof(seen), NULL, 0);
        KT_FAIL("the worker did not activate v2 within 60 s: %s", seen);
    }
    for (int i = 0; i < N / 4; i++)
        send_request(n_sent++, i % PARTS, model, IN_W, 1);
    kio_producer_flush(prod, 30000);
    KT_ASSERT_INT_EQ(collect(base, base + N, 120, -1), 0);
    /* Per source partition, in offset order: v1 ... v1 v2 ... v2. */
    int64_t first_v2[PARTS];
    for (int p = 0; p < PARTS; p++)
        first_v2[p] = INT64_MAX;
    int old = 0, new = 0;
    for (int i = base; i < base + N; i++) {
        KT_ASSERT_INT_EQ(sent[i].status, RESP_OK);
        if (!strcmp(sent[i].version, "v2") && sent[i].src_off < first_v2[sent[i].src_part])
            first_v2[sent[i].src_part] = sent[i].src_off;
    }
    for (int i = base; i < base + N; i++) {
        if (!strcmp(sent[i].version, "v1")) {
            old++;
            KT_ASSERT_MSG(sent[i].src_off < first_v2[sent[i].src_part],
                          "r%d answered by v1 after v2 on partition %d", i, sent[i].src_part);
        } else {
            KT_ASSERT_STR_EQ(sent[i].version, "v2");
            new ++;
        }
    }
    KT_ASSERT_MSG(new > 0, "no response came from v2");
    /* the worker reported the swap with its timings */
    kio_consumer *ctl = kt_env_reader(&env, t_ctl, 1);
    bool done = false;
    int64_t deadline = kf_clock_mono_us() + 30 * 1000000;
    while (!done && kf_clock_mono_us() < deadline) {
        kio_msg *m = NULL;
        kio_consumer_poll(ctl, 200, &m);
        if (!m)
            continue;
        struct ctl_event ev;
        char err[256];
        if (!ctl_event_decode(m->value.ptr, m->value.len, &ev, err, sizeof(err)) &&
            ev.type == CTL_ROLLOUT_DONE && !strcmp(ev.version, "v2")) {
            KT_ASSERT(ev.timings.load_us > 0);
            KT_ASSERT(ev.timings.fetch_us > 0);
            printf("swap: rollout.done v2: fetch %" PRIu64 " us, verify %" PRIu64
                   " us, load %" PRIu64 " us, warmup %" PRIu64 " us, flip %" PRIu64 " us\n",
                   ev.timings.fetch_us, ev.timings.verify_us, ev.timings.load_us,
                   ev.timings.warmup_us, ev.timings.flip_us);
            done = true;
        }
        kio_msg_free(m);
    }
    kio_consumer_free(ctl);
    KT_ASSERT_MSG(done, "no rollout.done for v2 on the control topic");
    printf("swap: %d answers by v1 then %d by v2, never v1 after v2 on a partition\n", old, new);
}

static void section_kill(int sig)
{
    int base = n_sent;
    enum { N = 6000 };
    for (int i = 0; i < N; i++)
        send_request(n_sent++, i % PARTS, model, IN_W, 1);
    kio_producer_flush(prod, 30000);
    /* Let some be answered, then stop the worker mid-stream. */
    KT_ASSERT_MSG(collect(base, base + 500, 60, -1) == 0,
                  "%s: the first 500 requests were not answered in 60 s", strsignal(sig));
    stop_worker(sig, sig == SIGTERM ? 0 : -1);
    start_worker(NULL);
    int missing = collect(base, base + N, 120, -1);
    int dups = 0;
    for (int i = base; i < base + N; i++)
        dups += sent[i].answers > 1 ? sent[i].answers - 1 : 0;
    KT_ASSERT_MSG(missing == 0, "%s: %d requests lost", strsignal(sig), missing);
    if (sig == SIGTERM)
        KT_ASSERT_MSG(dups == 0, "SIGTERM: %d duplicate answers", dups);
    printf("kill: %s under load: 0 lost, %d duplicates\n", sig == SIGTERM ? "SIGTERM" : "SIGKILL",
           dups);
}

static void section_cache(void)
{
    stop_worker(SIGTERM, 0);
    start_worker("s3.endpoint=127.0.0.1:19099"); /* nothing listens there */
    int base = n_sent;
    for (int i = 0; i < 50; i++)
        send_request(n_sent++, i % PARTS, model, IN_W, 1);
    kio_producer_flush(prod, 30000);
    KT_ASSERT_INT_EQ(collect(base, base + 50, 60, -1), 0);
    for (int i = base; i < base + 50; i++)
        KT_ASSERT_STR_EQ(sent[i].version, "v2");
    printf("cache: S3 unreachable, the restarted worker serves v2 from its cache\n");
}

/* Whether /metrics shows, for every partition, the lag the group's
 * coordinator gives (kfleetctl lag's query); the first missing line in @p why. */
static bool lag_matches(kio_admin *ka, char *body, size_t size, char *why, size_t why_size)
{
    char err[256];
    struct kio_partition_lag *lag;
    size_t n;
    KT_ASSERT(!kio_admin_group_lag(ka, group, t_req, &lag, &n, 10000, err, sizeof(err)));
    KT_ASSERT_INT_EQ(kt_http_get(http_port, "/metrics", body, size), 200);
    bool all = true;
    for (size_t i = 0; all && i < n; i++) {
        snprintf(why, why_size,
                 "kfleet_consumer_lag{group=\"%s\",topic=\"%s\",partition=\"%d\"} %" PRId64 "\n",
                 group, t_req, lag[i].partition, lag[i].lag);
        all = strstr(body, why) != NULL;
    }
    free(lag);
    return all;
}

static void section_metrics(void)
{
    static char body[1 << 20];
    /* The worker's lag gauge comes from its consumer's statistics, every 5 s.
     * It owns every partition and the group committed on each, so once a
     * statistics round has passed since the last commit the numbers agree. */
    char err[256], missing[512];
    struct kio_opts o = {.brokers = brokers};
    kio_admin *ka = kio_admin_new(&o, err, sizeof(err));
    KT_ASSERT_MSG(ka, "%s", err);
    int64_t until = kf_clock_mono_us() + 20000000;
    bool match;
    while (!(match = lag_matches(ka, body, sizeof(body), missing, sizeof(missing))) &&
           kf_clock_mono_us() < until)
        kf_sleep_ms(500);
    kio_admin_free(ka);
    KT_ASSERT_MSG(match, "/metrics lacks: %s", missing);
    printf("metrics: kfleet_consumer_lag (statistics) equals the coordinator's lag\n");
    char path[300];
    snprintf(path, sizeof(path), "%s/metrics.txt", env.dir);
    FILE *f = fopen(path, "w");
    fputs(body, f);
    fclose(f);
    if (!system("command -v promtool >/dev/null 2>&1")) {
        char cmd[400];
        snprintf(cmd, sizeof(cmd), "promtool check metrics < %s", path);
        KT_ASSERT_MSG(system(cmd) == 0, "promtool rejects /metrics (%s)", path);
        printf("metrics: promtool check metrics accepts /metrics\n");
    } else {
        KT_ASSERT(strstr(body, "# TYPE kfleet_requests_total counter"));
        printf("metrics: promtool not installed; checked the TYPE lines only\n");
    }
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: %s KFLEET_WORKER PUBLISH_MODEL KFLEET_MAKE_MODEL\n", argv[0]);
        return KF_TEST_HARD_ERROR;
    }
    kt_env_init(&env, "worker", argv[1], PARTS);
    publish_bin = argv[2];
    make_model_bin = argv[3];
    brokers = env.brokers;
    t_req = env.t_req;
    t_ctl = env.t_ctl;
    group = env.group;
    model = env.model;
    prod = env.prod;
    resp_cons = env.resp;
    printf("# topics *.%s, logs in %s\n", env.sfx, env.dir);
    sent = calloc(100000, sizeof(*sent));

    char err[256];
    ref = kern_backend_new("ref", &(struct kern_backend_config){.threads = 1}, err, sizeof(err));
    KT_ASSERT_MSG(ref, "%s", err);
    dlq_cons = kt_env_reader(&env, env.t_dlq, 1);
    make_version(0, 1);
    start_worker(NULL);

    KT_RUN(section_serve);
    KT_RUN(section_bad);
    KT_RUN(section_swap);
    section_kill(SIGKILL);
    section_kill(SIGTERM);
    KT_RUN(section_cache);
    KT_RUN(section_metrics);

    stop_worker(SIGTERM, 0);
    kio_consumer_free(dlq_cons);
    for (int i = 0; i < 2; i++) {
        loader_version_free(ref_versions[i]);
        kt_version_fini(&versions[i]);
    }
    kern_backend_free(ref);
    free(sent);
    kt_env_fini(&env);
    return 0;
}
