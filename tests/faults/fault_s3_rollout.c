/* Row 8: an S3 outage during a rolling update. Three workers serve v1; S3
 * stops (ops/devstack stop-s3) and v2 is announced (rolling). While S3 is
 * away the old version keeps serving, nobody gives up on v2 (no
 * rollout.failed) and the rollout waits; when S3 is back (start-s3) the
 * rollout completes by itself. Nothing is lost, every answer checked against
 * the version that computed it. */
#include "tests/faults/faults.h"
#include "tests/faults/kt_row.h"
#include "tests/faults/kt_stack.h"

#include "common/kf_clock.h"

#include <inttypes.h>

#define WORKERS 3
#define OUTAGE_MS 15000
#define COMPLETE_MAX_S 60.0

struct log_count {
    int failed, done_v2;
};

static int count_events(void *opaque, const struct ctl_event *ev, int64_t offset, int64_t ts_ms)
{
    (void)offset;
    (void)ts_ms;
    struct log_count *c = opaque;
    c->failed += ev->type == CTL_ROLLOUT_FAILED;
    c->done_v2 += ev->type == CTL_ROLLOUT_DONE && !strcmp(ev->version, "v2");
    return 0;
}

int fault_s3_rollout(const char *worker_bin)
{
    static struct kt_row row;
    kt_row_begin(&row, "8", "S3 outage during a rolling update", "s3roll", worker_bin, 6, NULL);
    struct kt_env *e = row.e;
    struct kt_version v1, v2;
    kt_env_version(e, "v2", 2, 0, NULL, &v2);
    kt_row_fleet(&row, &v1, 0, WORKERS, NULL);
    struct kt_load_opts lo = {.rate = 150};
    struct kt_load *load = kt_load_new(e, &lo);
    kt_load_expect(load, &v1);
    kt_load_expect(load, &v2);
    kt_load_start(load);
    kt_load_warm(load, 0.5, 30);
    kt_row_fault_begins(&row, load, 3000);
    int stop_rc = kt_stack_s3(false);
    int64_t t_close = kf_clock_mono_us();
    kt_env_announce(e, &v2, 2, NULL, &e->trusted);
    int probes = 0, all_v1 = 0;
    while (kf_clock_mono_us() - t_close < OUTAGE_MS * 1000ll) {
        kt_row_sleep(&row, 500);
        probes++;
        all_v1 += kt_env_wait_active(e, WORKERS, "v1", 0);
    }
    struct log_count during = {0};
    kt_env_control_scan(e, count_events, &during, 30);
    int64_t v2_during = kt_load_version_count(load, "v2", t_close, kf_clock_mono_us());
    printf("S3 down for %d s: all workers on v1 in %d of %d probes; %d rollout.failed, %d "
           "rollout.done for v2; %" PRId64 " answers by v2\n",
           OUTAGE_MS / 1000, all_v1, probes, during.failed, during.done_v2, v2_during);

    /* Timed from running start-s3 (it returns once S3 answers: seconds later). */
    int64_t t_open = kf_clock_mono_us();
    int start_rc = kt_stack_s3(true);
    double s3_s = (double)(kf_clock_mono_us() - t_open) / 1e6;
    bool complete = false;
    while (!complete && kf_clock_mono_us() - t_open < (int64_t)(COMPLETE_MAX_S * 1e6) + 30000000)
        complete = kt_env_wait_active(e, WORKERS, "v2", 1);
    double complete_s = (double)(kf_clock_mono_us() - t_open) / 1e6;
    printf("start-s3: S3 answered after %.1f s, every worker on v2 after %.1f s\n", s3_s,
           complete_s);
    struct kt_load_stats st;
    int64_t lost = kt_row_drain(&row, load, 5000, 60, &st);
    struct log_count after = {0};
    kt_env_control_scan(e, count_events, &after, 30);
    int64_t v1_all = kt_load_version_count(load, "v1", 0, INT64_MAX),
            v2_all = kt_load_version_count(load, "v2", 0, INT64_MAX);

    kt_row_check(&row, stop_rc == 0 && start_rc == 0, "ops/devstack stop-s3 and start-s3 (%d, %d)",
                 stop_rc, start_rc);
    kt_row_check(&row, all_v1 == probes && v2_during == 0,
                 "the old version kept serving during the outage (all on v1 in %d of %d probes, "
                 "%" PRId64 " answers by v2)",
                 all_v1, probes, v2_during);
    kt_row_check(&row, during.failed == 0 && during.done_v2 == 0,
                 "the rollout waited: no rollout.failed (%d), no worker on v2 (%d)", during.failed,
                 during.done_v2);
    kt_row_check(&row, complete && complete_s <= COMPLETE_MAX_S,
                 "the rollout completed %.1f s after start-s3 ran (<= %.0f s)", complete_s,
                 COMPLETE_MAX_S);
    kt_row_check(&row, after.failed == 0, "no rollout.failed at all (%d)", after.failed);
    kt_row_check_load(&row, load, lost, &st, "the load");
    kt_row_stop_workers(&row);

    char what[400], recover[128];
    snprintf(what, sizeof(what),
             "%d workers, %d req/s; S3 stopped, v2 announced (rolling), S3 started %d s later: "
             "all on v1 in %d of %d probes meanwhile, %d rollout.failed; %" PRId64
             " answers by v1, %" PRId64 " by v2",
             WORKERS, lo.rate, OUTAGE_MS / 1000, all_v1, probes, during.failed, v1_all, v2_all);
    snprintf(recover, sizeof(recover),
             "start-s3 run, S3 answering after %.1f s; rollout complete %.1f s after it", s3_s,
             complete_s);
    kt_load_free(load);
    kt_version_fini(&v1);
    kt_version_fini(&v2);
    return kt_row_finish(&row, what, &st, recover);
}
