/* Row 3: a backlog of 200 000 requests (4 × 256 f32 each, 820 MB on the
 * wire) waits on the request topic before one worker (ref.threads=1, the
 * shipped queue bounds) starts. Its peak resident set (VmHWM) stays under
 * the configured queue bound plus librdkafka's prefetch bound plus the model
 * plus a fixed overhead; the lag
 * drains to 0; every request is answered, and every answer's numbers are
 * checked. The fixed overhead is measured, not assumed: the peak RSS of the
 * same worker after 200 requests, before the backlog (code, libraries,
 * librdkafka's prefetch and buffers, thread stacks and arenas).
 * $KFLEET_FAULTS_BACKLOG changes the count (a quicker local run). */
#include "tests/faults/faults.h"
#include "tests/faults/kt_probe.h"
#include "tests/faults/kt_row.h"

#include "common/kf_clock.h"

#include <inttypes.h>

#define WIDTH 256
#define ROWS 4
#define QUEUE_MAX_BYTES (64 << 20) /* the shipped queue.max_bytes */
/* The request consumer's queued.max.messages.kbytes (worker/serve.c): what
 * librdkafka may hold prefetched while the worker's own queue is full. */
#define PREFETCH_MAX_BYTES (64 << 20)
#define WARMUP 200

int fault_backlog(const char *worker_bin)
{
    static struct kt_row row;
    kt_row_begin(&row, "3", "backlog in front of one worker", "backlog", worker_bin, 4, NULL);
    struct kt_env *e = row.e;
    const char *env_n = getenv("KFLEET_FAULTS_BACKLOG");
    int64_t n = env_n && atoll(env_n) > 0 ? atoll(env_n) : 200000;

    struct kt_spec s = kt_env_spec(e, "v1", 1);
    s.input_width = WIDTH;
    s.chunk_size = 1 << 16;
    struct kt_version v1;
    kt_version_build(&s, &e->trusted, &v1);
    kt_version_publish(e->os, &v1);
    kt_env_announce(e, &v1, 1, NULL, &e->trusted);

    /* The fixed overhead: a worker's peak RSS after a few requests. */
    const char *extra[] = {"ref.threads=1", NULL};
    kt_env_worker_start(e, 1, extra);
    struct kt_load_opts wo = {.max = WARMUP, .rows = ROWS, .width = WIDTH, .id_prefix = "A"};
    struct kt_load *warm = kt_load_new(e, &wo);
    kt_load_expect(warm, &v1);
    kt_load_start(warm);
    int64_t warm_lost = kt_load_drain(warm, 60);
    long base_kib = kt_probe_hwm_kib(e->workers[1].pid);
    kt_load_free(warm);
    kt_row_stop_workers(&row); /* leaves the group, commits */
    printf("fixed overhead: a worker's peak RSS after %d requests is %ld MiB\n", WARMUP,
           base_kib >> 10);

    /* The backlog: every request acknowledged by the broker before the worker starts. */
    struct kt_load_opts lo = {.max = n, .rows = ROWS, .width = WIDTH};
    struct kt_load *load = kt_load_new(e, &lo);
    kt_load_expect(load, &v1);
    kt_load_phase(load, KT_PHASE_DURING);
    int64_t t0 = kf_clock_mono_us();
    kt_load_start(load);
    kt_load_stop(load);
    kt_load_flush(load, 600);
    double fill_s = (double)(kf_clock_mono_us() - t0) / 1e6;
    int64_t backlog = kt_probe_uncommitted(e);
    printf("backlog: %" PRId64 " requests on the topic in %.1f s\n", backlog, fill_s);

    int64_t t1 = kf_clock_mono_us();
    kt_env_worker_start(e, 0, extra);
    pid_t pid = e->workers[0].pid;
    size_t cap = 1 << 20;
    char *metrics = malloc(cap);
    KT_ASSERT(metrics);
    int samples = 0, paused = 0;
    long rss_max = 0;
    int64_t lag = backlog;
    struct kt_load_stats st;
    /* Until every request is answered (or 6 minutes pass), sample the worker. */
    for (int64_t deadline = t1 + 360 * 1000000ll; kf_clock_mono_us() < deadline;) {
        kt_row_sleep(&row, 1000);
        kt_load_stats(load, &st);
        if (e->workers[0].pid <= 0 || st.answered >= st.sent)
            break;
        if (kt_http_get(e->workers[0].port, "/metrics", metrics, cap) == 200) {
            samples++;
            paused += kt_probe_metric(metrics, "kfleet_intake_paused", NULL) > 0;
        }
        long hwm = kt_probe_hwm_kib(pid);
        rss_max = hwm > rss_max ? hwm : rss_max;
        if (samples % 10 == 0)
            printf("  %.0f s: %" PRId64 " answered, VmHWM %ld MiB\n",
                   (double)(kf_clock_mono_us() - t1) / 1e6, st.answered, hwm >> 10);
    }
    double drain_s = (double)(kf_clock_mono_us() - t1) / 1e6;
    for (int t = 0; t < 50 && (lag = kt_probe_uncommitted(e)) != 0; t++)
        kt_row_sleep(&row, 200);
    long hwm = kt_probe_hwm_kib(pid);
    rss_max = hwm > rss_max ? hwm : rss_max;
    char resident[32] = "0";
    if (kt_http_get(e->workers[0].port, "/status", metrics, cap) == 200) {
        const char *p = strstr(metrics, "\"resident_bytes\":");
        if (p)
            snprintf(resident, sizeof(resident), "%ld", atol(p + strlen("\"resident_bytes\":")));
    }
    free(metrics);
    int64_t lost = kt_load_drain(load, 30);
    kt_load_stats(load, &st);
    kt_row_reap(&row);

    long bound_kib = base_kib + ((QUEUE_MAX_BYTES + PREFETCH_MAX_BYTES + atol(resident)) >> 10);
    printf("backlog drained in %.1f s; peak RSS %ld MiB (bound %ld MiB: queue %d MiB + prefetch %d "
           "MiB + model %s bytes + %ld MiB measured); intake held in %d of %d samples\n",
           drain_s, rss_max >> 10, bound_kib >> 10, QUEUE_MAX_BYTES >> 20, PREFETCH_MAX_BYTES >> 20,
           resident, base_kib >> 10, paused, samples);
    kt_row_check(&row, warm_lost == 0 && base_kib > 0,
                 "the overhead was measured (%ld MiB; %" PRId64 " of %d warm-up requests lost)",
                 base_kib >> 10, warm_lost, WARMUP);
    kt_row_check(&row, backlog == n,
                 "the backlog is on the topic before the worker starts (%" PRId64 " of %" PRId64
                 ")",
                 backlog, n);
    kt_row_check(&row, rss_max > 0 && rss_max <= bound_kib,
                 "peak RSS %ld MiB within queue.max_bytes + prefetch + model + overhead (%ld MiB)",
                 rss_max >> 10, bound_kib >> 10);
    kt_row_check(&row, lag == 0, "the lag drains to 0 (%" PRId64 ")", lag);
    kt_row_check_load(&row, load, lost, &st, "the backlog");
    kt_row_stop_workers(&row);

    char what[512], recover[96];
    snprintf(what, sizeof(what),
             "%" PRId64 " requests of %d × %d f32 (%.0f MB) produced in %.0f s, then 1 worker "
             "(ref.threads=1, queue.max_rows 8192, queue.max_bytes 64 MiB): peak RSS %ld MiB, "
             "bound %ld MiB = 64 MiB queue + 64 MiB prefetch + model + %ld MiB (the same worker's "
             "peak after %d requests); was 958 MB before the queue bound; intake held in %d of %d "
             "one-second samples",
             n, ROWS, WIDTH, (double)n * ROWS * WIDTH * 4 / 1e6, fill_s, rss_max >> 10,
             bound_kib >> 10, base_kib >> 10, WARMUP, paused, samples);
    snprintf(recover, sizeof(recover), "backlog drained in %.0f s (%.0f req/s)", drain_s,
             (double)st.answered / drain_s);
    kt_load_free(load);
    kt_version_fini(&v1);
    return kt_row_finish(&row, what, &st, recover);
}
