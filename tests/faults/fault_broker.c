/* Rows 6, 7 and 12: a broker goes away mid-traffic and comes back.
 *   6 (broker)  the devstack's single broker stopped (SIGTERM) for 15 s under
 *               three workers at 200 req/s, then started again;
 *   7 (leader)  on the 3-broker KRaft cluster (`ops/devstack up --cluster`,
 *               RF 3, min.insync.replicas=2, acks=all), the broker leading
 *               request partition 0 is SIGKILLed for 15 s, then started again;
 *  12 (broker_eos) row 6 with -X delivery=exactly_once (issue 15), read as a
 *               read-committed reader sees it: no duplicate either.
 * Nothing is lost, no worker exits, and serving resumes by itself: requests
 * sent once the broker is back are answered promptly again. */
#include "tests/faults/faults.h"
#include "tests/faults/kt_row.h"
#include "tests/faults/kt_stack.h"

#include "common/kf_clock.h"

#include <inttypes.h>

#define WORKERS 3
#define OUTAGE_MS 15000
#define SETTLE_S 30.0     /* how long the load goes on after the broker is back, at most */
#define RESUMED_P99_S 5.0 /* "serving resumed": the last requests answered, none stuck */

struct outage {
    int node; /* 0: the single broker; 1..3: a cluster node */
    bool kill;
    int rate;
    const char *what;  /* how the broker went, for the table */
    bool check_resume; /* row 6's "serving resumes by itself" (row 7 reports it) */
    bool exactly_once; /* -X delivery=exactly_once, and no duplicate */
};

static int broker_outage(struct kt_row *row, const struct outage *o)
{
    struct kt_version v1;
    const char *eos[] = {KT_DELIVERY_EXACTLY_ONCE, NULL};
    kt_row_fleet(row, &v1, 0, WORKERS, o->exactly_once ? eos : NULL);
    struct kt_load_opts lo = {.rate = o->rate};
    struct kt_load *load = kt_row_load(row, &lo, &v1);
    int64_t t_stop = kt_row_fault_begins(row, load, 5000);
    int stop_rc = kt_stack_broker(o->node, false, o->kill);
    kt_row_sleep(row, OUTAGE_MS);
    int start_rc = kt_stack_broker(o->node, true, false);
    int64_t t_back = kf_clock_mono_us(); /* start-broker returns once it answers */
    printf("broker %d %s at 0 s, back at %.1f s\n", o->node, o->kill ? "killed" : "stopped",
           (double)(t_back - t_stop) / 1e6);
    /* Keep the load on until the latencies are back to normal (or SETTLE_S):
     * 5 s without a slow answer, and nothing sent more than 2 s ago still
     * unanswered (a backlog still draining would answer slowly later). */
    double since_back = 0;
    for (int64_t until = t_back + (int64_t)(SETTLE_S * 1e6); kf_clock_mono_us() < until;) {
        kt_row_sleep(row, 1000);
        int64_t now = kf_clock_mono_us();
        since_back = kt_load_recovery_s(load, t_back, 1.0);
        int64_t sent_old = 0, answered_old = 0;
        double p99_old, max_old;
        kt_load_window(load, t_stop, now - 2 * 1000000ll, &sent_old, &answered_old, &p99_old,
                       &max_old);
        if (now - t_back > 10 * 1000000ll && (double)(now - t_back) / 1e6 > since_back + 5 &&
            answered_old == sent_old)
            break;
    }
    int64_t t_normal = kf_clock_mono_us();
    struct kt_load_stats st;
    /* Workers that died cannot answer what is left: do not wait two minutes for them. */
    int64_t lost = kt_row_drain(row, load, 5000, kt_row_reap(row) < WORKERS ? 120 : 10, &st);
    double p99_after, max_after;
    int64_t sent_after, answered_after;
    kt_load_window(load, t_normal - 5 * 1000000ll, INT64_MAX, &sent_after, &answered_after,
                   &p99_after, &max_after);
    double recovered_s = kt_load_recovery_s(load, t_stop, 1.0),
           back_s = (double)(t_back - t_stop) / 1e6;

    kt_row_check(row, stop_rc == 0 && start_rc == 0,
                 "ops/devstack stop-broker and start-broker "
                 "(%d, %d)",
                 stop_rc, start_rc);
    kt_row_check_load(row, load, lost, &st, "the load");
    if (o->exactly_once)
        kt_row_check(row, st.duplicated == 0, "exactly once: %" PRId64 " duplicates (0)",
                     st.duplicated);
    bool resumed = sent_after > 0 && answered_after == sent_after && p99_after < RESUMED_P99_S;
    printf("%s: %" PRId64 " of the %" PRId64 " requests of the last 10 s answered, p99 %.0f ms; "
           "the last answer slower than 1 s came %.1f s after the broker went\n",
           resumed ? "serving resumed" : "serving did not resume", answered_after, sent_after,
           p99_after * 1e3, recovered_s);
    if (o->check_resume)
        kt_row_check(row, resumed,
                     "serving resumed by itself (every request of the last 10 s "
                     "answered, p99 %.0f ms < %.0f s)",
                     p99_after * 1e3, RESUMED_P99_S);
    kt_row_stop_workers(row);

    char what[400], recover[160];
    snprintf(what, sizeof(what),
             "%d workers, %d req/s%s; %s for %d s, then started again; max latency %.1f s", WORKERS,
             o->rate, o->exactly_once ? ", delivery=exactly_once, read-committed reader" : "",
             o->what, OUTAGE_MS / 1000, st.max_all_s);
    snprintf(recover, sizeof(recover),
             "broker back after %.1f s; last answer slower than 1 s %.1f s after it went; p99 of "
             "the last 10 s %.0f ms",
             back_s, recovered_s, p99_after * 1e3);
    kt_load_free(load);
    kt_version_fini(&v1);
    return kt_row_finish(row, what, &st, recover);
}

/* Rows 6 and 12: the devstack's single broker restarted. */
static int single_broker_restart(const char *worker_bin, const char *key, const char *fault,
                                 const char *tag, bool exactly_once)
{
    static struct kt_row row;
    kt_row_begin(&row, key, fault, tag, worker_bin, 6, NULL);
    struct outage o = {.node = 0,
                       .rate = 200,
                       .what = "the only broker stopped (SIGTERM)",
                       .check_resume = true,
                       .exactly_once = exactly_once};
    return broker_outage(&row, &o);
}

int fault_broker(const char *worker_bin)
{
    return single_broker_restart(worker_bin, "6", "broker restart (single broker)", "broker",
                                 false);
}

int fault_broker_eos(const char *worker_bin)
{
    return single_broker_restart(worker_bin, "12", "broker restart (single broker), exactly once",
                                 "broker_eos", true);
}

int fault_leader(const char *worker_bin)
{
    static struct kt_row row;
    struct kt_env_opts eo = {.brokers = kt_service_env("KFLEET_CLUSTER_BROKERS"), .replication = 3};
    kt_row_begin(&row, "7", "partition leader's broker killed (3-broker cluster)", "leader",
                 worker_bin, 6, &eo);
    int leader = kt_stack_leader_of(row.e->t_req, 0);
    KT_ASSERT_MSG(leader >= 1 && leader <= 3, "no leader for %s/0 (%d)", row.e->t_req, leader);
    char what[128];
    snprintf(what, sizeof(what),
             "node %d, leader of request partition 0, SIGKILLed (RF 3, min.insync.replicas=2)",
             leader);
    struct outage o = {.node = leader, .kill = true, .rate = 150, .what = what};
    return broker_outage(&row, &o);
}
