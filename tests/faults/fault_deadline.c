/* Row 9: deadlines that pass while requests wait in the queue. One worker
 * (ref.threads=1) serves a model heavy enough that a burst of requests with
 * a deadline 1 s away, all of it fitting the queue, cannot all be computed
 * in time, beside a constant
 * load without deadlines. Every request is answered; those whose deadline
 * passed are answered `expired` without outputs; the worker's counters show
 * requests expiring at batch time (kfleet_queue_expired_total) and that the
 * backend computed exactly the rows of the `ok` answers
 * (kfleet_computed_rows_total): nothing expired was computed. */
#include "tests/faults/faults.h"
#include "tests/faults/kt_probe.h"
#include "tests/faults/kt_row.h"

#include "schema/resp.h"

#include <inttypes.h>

#define BURST 1000
#define BURST_ROWS 8 /* 8000 rows, 4 × queue.max_rows: seconds of work for one thread */
#define DEADLINE_MS 1000

int fault_deadline(const char *worker_bin)
{
    static struct kt_row row;
    kt_row_begin(&row, "9", "deadlines pass while queued", "deadline", worker_bin, 2, NULL);
    struct kt_env *e = row.e;

    /* 8 -> 2048 -> 2048 -> 4: about 4 million multiply-adds a row. */
    struct kt_spec s = kt_env_spec(e, "v1", 1);
    s.n_layers = 3;
    s.widths[0] = 2048;
    s.widths[1] = 2048;
    s.widths[2] = 4;
    s.chunk_size = 1 << 20;
    struct kt_version v1;
    kt_version_build(&s, &e->trusted, &v1);
    kt_version_publish(e->os, &v1);
    kt_env_announce(e, &v1, 1, NULL, &e->trusted);
    /* A queue smaller than the burst: the worker pauses its partitions
     * mid-burst and resumes them as it drains, and nothing may be lost or
     * answered twice for it (the backpressure path, under a checked load). */
    const char *extra[] = {"ref.threads=1", "max_batch_rows=64", "queue.max_rows=2048", NULL};
    kt_env_worker_start(e, 0, extra);

    struct kt_load_opts lo = {.rate = 20};
    struct kt_load *load = kt_row_load(&row, &lo, &v1);
    kt_row_fault_begins(&row, load, 3000);
    struct kt_load_opts bo = {
        .max = BURST, .rows = BURST_ROWS, .deadline_ms = DEADLINE_MS, .id_prefix = "D"};
    struct kt_load *burst = kt_load_new(e, &bo);
    kt_load_expect(burst, &v1);
    kt_load_start(burst);
    int64_t burst_lost = kt_load_drain(burst, 120);
    struct kt_load_stats st, bs;
    int64_t lost = kt_row_drain(&row, load, 3000, 60, &st);
    kt_load_stats(burst, &bs);

    size_t cap = 1 << 20;
    char *metrics = malloc(cap);
    KT_ASSERT(metrics);
    int code = kt_http_get(e->workers[0].port, "/metrics", metrics, cap);
    char label[160];
    snprintf(label, sizeof(label), "model=\"%s\"", e->model);
    double q_expired = kt_probe_metric(metrics, "kfleet_queue_expired_total", label);
    double computed = kt_probe_metric(metrics, "kfleet_computed_rows_total", label);
    double pauses = kt_probe_metric(metrics, "kfleet_intake_pauses_total", NULL);
    bool has_computed = strstr(metrics, "kfleet_computed_rows_total") != NULL;
    free(metrics);
    printf("burst: %" PRId64 " ok, %" PRId64 " expired, %" PRId64 " errors; load: %" PRId64
           " ok; kfleet_queue_expired_total %.0f, kfleet_computed_rows_total %.0f\n",
           bs.ok, bs.expired, bs.errors, st.ok, q_expired, computed);

    kt_row_check(&row, code == 200, "/metrics answers (%d)", code);
    kt_row_check(&row, burst_lost == 0 && bs.lost == 0 && lost == 0 && st.lost == 0,
                 "every request answered (%" PRId64 " of %" PRId64 " burst, %" PRId64 " of %" PRId64
                 " load lost)",
                 bs.lost, bs.sent, st.lost, st.sent);
    kt_row_check(&row, bs.expired > 0 && bs.ok + bs.expired == bs.answered,
                 "burst answered ok or expired, some expired (%" PRId64 " ok, %" PRId64
                 " expired, %" PRId64 " other)",
                 bs.ok, bs.expired, bs.answered - bs.ok - bs.expired);
    kt_row_check(&row, kt_load_code_count(burst, "expired") == bs.expired,
                 "every expired answer has error code 'expired'");
    kt_row_check(&row, pauses >= 1,
                 "the burst filled the queue (queue.max_rows=2048): intake paused %.0f time(s)",
                 pauses);
    kt_row_check(&row, q_expired >= 1,
                 "kfleet_queue_expired_total counts requests that expired in the queue (%.0f)",
                 q_expired);
    kt_row_check(&row, has_computed && computed == (double)(bs.rows_ok + st.rows_ok),
                 "kfleet_computed_rows_total (%.0f) equals the rows of the ok answers (%" PRId64
                 "): nothing expired was computed",
                 computed, bs.rows_ok + st.rows_ok);
    kt_row_check(&row, st.wrong == 0 && bs.wrong == 0 && st.errors == 0,
                 "every ok answer right (%" PRId64 " wrong), no errors in the load (%" PRId64 ")",
                 st.wrong + bs.wrong, st.errors);
    kt_row_stop_workers(&row);

    char what[400], recover[96], a[32];
    snprintf(what, sizeof(what),
             "1 worker (ref.threads=1, ~4 M MACs a row, queue.max_rows 2048), %d req/s without "
             "deadline; a burst of %d requests of %d rows with deadline_ms = send + %d ms: %" PRId64
             " ok, %" PRId64 " expired (%.0f at batch time), computed rows = ok rows (%.0f); "
             "intake paused %.0f time(s)",
             lo.rate, BURST, BURST_ROWS, DEADLINE_MS, bs.ok, bs.expired, q_expired, computed,
             pauses);
    snprintf(recover, sizeof(recover), "burst answered in %s (its p99)",
             kt_row_secs(bs.p99_all_s, a, sizeof(a)));
    st.duplicated += bs.duplicated;
    st.lost += bs.lost;
    st.sent += bs.sent;
    kt_load_free(burst);
    kt_load_free(load);
    kt_version_fini(&v1);
    return kt_row_finish(&row, what, &st, recover);
}
