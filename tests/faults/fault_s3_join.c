/* Row 4: a worker started with S3 unreachable (ops/devstack stop-s3) and an
 * empty cache, beside two healthy ones under a constant load (they loaded
 * their model before the outage and need no S3 to serve). While it cannot
 * load its model it owns no partitions (the group's coordinator and its own
 * /status agree), is not ready, and no request is answered `internal`; once
 * S3 is back (start-s3) it loads, joins and serves within 30 s. */
#include "tests/faults/faults.h"
#include "tests/faults/kt_probe.h"
#include "tests/faults/kt_row.h"
#include "tests/faults/kt_stack.h"

#include "common/kf_clock.h"

#include <inttypes.h>

#define OUTAGE_MS 15000
#define JOIN_MAX_S 30.0

int fault_s3_join(const char *worker_bin)
{
    static struct kt_row row;
    kt_row_begin(&row, "4", "worker starts with S3 unreachable", "s3join", worker_bin, 6, NULL);
    struct kt_env *e = row.e;
    struct kt_version v1;
    kt_row_fleet(&row, &v1, 1, 3, NULL); /* w0 comes later */
    struct kt_load_opts lo = {.rate = 150};
    struct kt_load *load = kt_row_load(&row, &lo, &v1);
    kt_row_fault_begins(&row, load, 3000);
    int stop_rc = kt_stack_s3(false);
    int64_t t_start = kf_clock_mono_us();
    kt_env_worker_spawn(e, 0, NULL);
    int owned_max = 0, status_max = 0, probes = 0, ready = 0;
    while (kf_clock_mono_us() - t_start < OUTAGE_MS * 1000ll) {
        kt_row_sleep(&row, 250);
        int owned = kt_probe_owned(e, 0), said = kt_probe_partitions(e, 0);
        owned_max = owned > owned_max ? owned : owned_max;
        status_max = said > status_max ? said : status_max;
        ready += kt_http_get(e->workers[0].port, "/readyz", NULL, 0) == 200;
        probes++;
    }
    int64_t internal_before = kt_load_code_count(load, "internal");
    printf("S3 down for %d s: w0 owned at most %d partition(s) (its /status: %d), ready in %d of "
           "%d probes\n",
           OUTAGE_MS / 1000, owned_max, status_max, ready, probes);

    /* Timed from running start-s3 (it returns once S3 answers: seconds later). */
    int64_t t_open = kf_clock_mono_us();
    int start_rc = kt_stack_s3(true);
    double s3_s = (double)(kf_clock_mono_us() - t_open) / 1e6;
    int64_t t_owned = 0, t_served = 0;
    while (!t_served && kf_clock_mono_us() - t_open < 60 * 1000000ll) {
        kt_row_sleep(&row, 250);
        if (!t_owned && kt_probe_owned(e, 0) > 0)
            t_owned = kf_clock_mono_us();
        t_served = kt_load_first_answer_by(load, 0, t_open);
    }
    for (int t = 0; t < 40 && t_served && !t_owned; t++) { /* the coordinator may lag the answers */
        if (kt_probe_owned(e, 0) > 0)
            t_owned = kf_clock_mono_us();
        else
            kt_row_sleep(&row, 250);
    }
    double join_s = t_owned ? (double)(t_owned - t_open) / 1e6 : -1;
    double serve_s = t_served ? (double)(t_served - t_open) / 1e6 : -1;
    printf("start-s3: S3 answered after %.1f s; w0 owns partitions %.1f s, answers %.1f s after "
           "start-s3 ran\n",
           s3_s, join_s, serve_s);
    kt_row_sleep(&row, 5000);
    struct kt_load_stats st;
    int64_t lost = kt_row_drain(&row, load, 3000, 60, &st);

    kt_row_check(&row, stop_rc == 0 && start_rc == 0, "ops/devstack stop-s3 and start-s3 (%d, %d)",
                 stop_rc, start_rc);
    kt_row_check(&row, owned_max == 0 && status_max <= 0,
                 "w0 owned no partitions while S3 was unreachable (group: %d, /status: %d)",
                 owned_max, status_max);
    kt_row_check(&row, ready == 0, "w0 was not ready while S3 was unreachable (%d of %d probes)",
                 ready, probes);
    kt_row_check(&row, internal_before == 0 && kt_load_code_count(load, "internal") == 0,
                 "no `internal` answers (%" PRId64 ")", kt_load_code_count(load, "internal"));
    kt_row_check(&row, t_served && serve_s <= JOIN_MAX_S,
                 "w0 joined and served within %.0f s of S3's return (owned after %.1f s, first "
                 "answer after %.1f s)",
                 JOIN_MAX_S, join_s, serve_s);
    kt_row_check_load(&row, load, lost, &st, "the load");
    kt_row_stop_workers(&row);

    char what[400], recover[128];
    snprintf(what, sizeof(what),
             "2 healthy workers, %d req/s; S3 stopped, w0 started with an empty cache; for %d s "
             "it owned %d partitions, was ready in %d of %d probes; "
             "%" PRId64 " `internal` answers",
             lo.rate, OUTAGE_MS / 1000, owned_max, ready, probes,
             kt_load_code_count(load, "internal"));
    snprintf(recover, sizeof(recover),
             "start-s3 run, S3 answering after %.1f s; w0 answers requests %.1f s after it", s3_s,
             serve_s);
    kt_load_free(load);
    kt_version_fini(&v1);
    return kt_row_finish(&row, what, &st, recover);
}
