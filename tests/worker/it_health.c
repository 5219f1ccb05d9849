/* Every strategy guards itself (issue 16): three real workers under a
 * constant, checked load (kt_load: 300 req/s before, during and after, every
 * answer checked by id and by numbers); a version that passes its golden
 * check but misbehaves on live traffic (the test-build fault hook,
 * KFLEET_TEST_FAULT, worker/test_fault.h).
 *
 *   it_health KFLEET_WORKER SCENARIO KFLEETCTL
 *
 *   rolling    max_unavailable=1. v2 answers 20 % of its requests with an
 *              error; then v3 answers 5x slower. Each time the first swapped
 *              worker's health window breaks (errors, then p99), the fleet
 *              rolls back to v1 on its own; at most one worker ever ran each
 *              bad version (its rollout.done in the log); 0 lost; no wrong
 *              answer; kfleetctl status names the reason and the figures
 *   bluegreen  v2 answers 5x slower after the cutover: a worker's window
 *              breaks, every worker flips back to v1 at that offset; no worker
 *              reads the store or loads anything for it (its counters); 0 lost
 *   stall      the only slot holder (w0, its swap held back by
 *              rollout.swap_delay_ms) SIGSTOPped, lease 600 s, stall_s 3: the
 *              peers' kfleet_rollout_stalled is 1, kfleetctl status says
 *              stalled and names the holder; SIGCONT, the rollout completes
 *              and the stall clears
 */
#include "common/kf_clock.h"
#include "schema/fleet.h"
#include "tests/faults/kt_load.h"
#include "tests/faults/kt_probe.h"
#include "tests/worker/kt_ctl.h"
#include "tests/worker/kt_e2e.h"

#include <inttypes.h>

#define WORKERS 3
#define RATE 300       /* requests per second */
#define BEFORE_MS 5000 /* of the warm load before a publication */
#define HEALTH_S 6     /* the health window of the bad versions */
#define FAULTS "v2:errors=0.2,v3:slow=5"

static struct kt_env env;
static const char *scenario;
static const char *kfleetctl_bin;
static struct kt_version v1, v2, v3;

/* ---- the control log, folded by the test's own reducer ---- */

struct fold {
    fleet_state *fs;
    /* workers whose rollout.done named the version (bit i: worker w<i>) */
    unsigned ran_v2, ran_v3;
    unsigned flips_back; /* rollout.done(cutover) for v1 after the failure */
    bool failed_seen;
};

static int worker_bit(const char *id)
{
    return id[0] == 'w' && id[1] >= '0' && id[1] < '0' + WORKERS && !id[2] ? 1 << (id[1] - '0') : 0;
}

static int fold_cb(void *opaque, const struct ctl_event *ev, int64_t offset, int64_t ts_ms)
{
    struct fold *f = opaque;
    struct fleet_record rec = {.ev = ev, .offset = offset, .ts_ms = ts_ms, .sig = CTL_SIG_OK};
    KT_ASSERT_INT_EQ(fleet_state_feed(f->fs, &rec, NULL), 0);
    if (ev->type == CTL_ROLLOUT_FAILED && ev->stage == CTL_STAGE_HEALTH)
        f->failed_seen = true;
    if (ev->type != CTL_ROLLOUT_DONE)
        return 0;
    if (!strcmp(ev->version, "v2"))
        f->ran_v2 |= (unsigned)worker_bit(ev->worker);
    if (!strcmp(ev->version, "v3"))
        f->ran_v3 |= (unsigned)worker_bit(ev->worker);
    if (f->failed_seen && ev->mode == CTL_MODE_CUTOVER && !strcmp(ev->version, "v1"))
        f->flips_back |= (unsigned)worker_bit(ev->worker);
    return 0;
}

static void quiet(void *opaque, enum kf_log_level level, const char *line)
{
}

static void fold_log(struct fold *f)
{
    memset(f, 0, sizeof(*f));
    struct fleet_opts o;
    fleet_opts_default(&o);
    o.require_signatures = false; /* every operator event here is signed by the trusted key */
    o.log = quiet;                /* the workers log their own folds */
    f->fs = fleet_state_new(&o);
    KT_ASSERT(f->fs);
    kt_env_control_scan(&env, fold_cb, f, 60);
}

typedef bool fold_pred(const struct fold *f, const struct fleet_model_info *mi, const void *arg);

/* Fold the log again and again until @p done holds (@p f keeps that fold). */
static void fold_until(struct fold *f, fold_pred *done, const void *arg, const char *what,
                       int timeout_s)
{
    int64_t deadline = kf_clock_mono_us() + (int64_t)timeout_s * 1000000;
    for (;;) {
        fold_log(f);
        struct fleet_model_info mi;
        bool known = !fleet_model_get(f->fs, env.model, &mi);
        if (known && done(f, &mi, arg))
            return;
        if (kf_clock_mono_us() >= deadline) {
            char seen[2048];
            kt_env_status_lines(&env, WORKERS, seen, sizeof(seen));
            KT_FAIL("%s: not %s after %d s: phase %s, target %s, halt reason '%s'; workers: %s",
                    scenario, what, timeout_s, known ? fleet_phase2str(mi.phase) : "(no model)",
                    known ? mi.target : "", known ? mi.halt_reason : "", seen);
        }
        fleet_state_free(f->fs);
        kf_sleep_ms(200);
    }
}

/* Rolled back to v1 away from the version named by @p arg. */
static bool rolled_back_from(const struct fold *f, const struct fleet_model_info *mi,
                             const void *arg)
{
    return mi->phase == FLEET_ROLLED_BACK && !strcmp(mi->target, "v1") &&
           strstr(mi->halt_reason, (const char *)arg);
}

static bool phase_is(const struct fold *f, const struct fleet_model_info *mi, const void *phase)
{
    return mi->phase == *(const enum fleet_phase *)phase;
}

/* ---- the fleet and its load ---- */

static void start_fleet(const char *const *extra)
{
    kt_env_version(&env, "v1", 1, 0, NULL, &v1);
    kt_env_version(&env, "v2", 2, 0, NULL, &v2);
    kt_env_version(&env, "v3", 3, 0, NULL, &v3);
    kt_env_announce(&env, &v1, 1, NULL, &env.trusted);
    /* the workers inherit it: v2 and v3 misbehave on live traffic */
    KT_ASSERT(!setenv("KFLEET_TEST_FAULT", FAULTS, 1));
    for (int i = 0; i < WORKERS; i++)
        kt_env_worker_start(&env, i, extra);
}

static struct kt_load *load_begin(void)
{
    struct kt_load *load = kt_load_new(&env, &(struct kt_load_opts){.rate = RATE});
    kt_load_expect(load, &v1);
    kt_load_expect(load, &v2);
    kt_load_expect(load, &v3);
    kt_load_start(load);
    if (!kt_load_warm(load, 0.5, 30))
        printf("%s: the load did not settle under 0.5 s in its first 30 s\n", scenario);
    kf_sleep_ms(BEFORE_MS);
    kt_load_phase(load, KT_PHASE_DURING);
    return load;
}

static void wait_all_on(const char *version, int timeout_s)
{
    if (!kt_env_wait_active(&env, WORKERS, version, timeout_s)) {
        char seen[2048];
        kt_env_status_lines(&env, WORKERS, seen, sizeof(seen));
        KT_FAIL("%s: not every worker runs %s after %d s: %s", scenario, version, timeout_s, seen);
    }
}

/* Stop the load, wait for every answer: nothing lost, nothing wrong, the
 * only errors the injected ones (code test_fault). */
static void load_end(struct kt_load *load)
{
    kt_load_phase(load, KT_PHASE_AFTER);
    kf_sleep_ms(2000);
    int64_t missing = kt_load_drain(load, 120);
    struct kt_load_stats st;
    kt_load_stats(load, &st);
    char codes[200];
    kt_load_codes(load, codes, sizeof(codes));
    int64_t injected = kt_load_code_count(load, "test_fault");
    printf("%s: %" PRId64 " requests sent, %" PRId64 " lost, %" PRId64 " wrong, %" PRId64
           " duplicates, %" PRId64 " errors%s%s (injected by the bad version: %" PRId64 ")\n",
           scenario, st.sent, st.lost, st.wrong, st.duplicated, st.errors, codes[0] ? ": " : "",
           codes, injected);
    KT_ASSERT_MSG(missing == 0 && st.lost == 0, "%s: %" PRId64 " of %" PRId64 " requests lost",
                  scenario, st.lost + missing, st.sent);
    KT_ASSERT_MSG(st.wrong == 0, "%s: %" PRId64 " wrong answers", scenario, st.wrong);
    KT_ASSERT_MSG(st.errors == injected, "%s: %" PRId64 " errors not injected by the fault hook",
                  scenario, st.errors - injected);
    kt_load_free(load);
}

static struct ctl_strategy strategy(enum ctl_strategy_kind kind)
{
    struct ctl_strategy st;
    ctl_strategy_default(&st); /* the real thresholds: 1 % errors, p99 1.5x */
    st.kind = kind;
    st.max_unavailable = 1;
    st.health_s = HEALTH_S;
    return st;
}

/* kfleetctl status names why the rollout rolled back, with the figures. */
static void check_status_reason(const char *bad, const char *figure)
{
    char *text = kt_ctl_status_text(&env, kfleetctl_bin);
    const char *at = strstr(text, "rolled back:");
    char line[1024] = "", want[64];
    if (at)
        snprintf(line, sizeof(line), "%.*s", (int)strcspn(at, "\n"), at);
    snprintf(want, sizeof(want), " %s at health", bad);
    KT_ASSERT_MSG(strstr(line, want) && strstr(line, figure),
                  "%s: kfleetctl status does not say why %s rolled back (want '%s'):\n%s", scenario,
                  bad, figure, text);
    printf("%s: kfleetctl status: %s\n", scenario, line);
    free(text);
}

/* One bad version through a rolling update: it must come back by itself. */
static void rolling_bad(const char *bad, const char *figure, uint64_t seq,
                        const struct kt_version *v)
{
    struct ctl_strategy st = strategy(CTL_STRATEGY_ROLLING);
    int64_t t0 = kf_clock_mono_us();
    kt_env_announce(&env, v, seq, &st, &env.trusted);
    struct fold f;
    fold_until(&f, rolled_back_from, bad, "rolled back to v1", 180);
    unsigned ran = !strcmp(bad, "v2") ? f.ran_v2 : f.ran_v3;
    int n_ran = __builtin_popcount(ran);
    struct fleet_model_info mi;
    KT_ASSERT(!fleet_model_get(f.fs, env.model, &mi));
    printf("%s: %s rolled back %.1f s after its publication; workers that ran it: %d "
           "(max_unavailable 1); the reason: %s\n",
           scenario, bad, (double)(kf_clock_mono_us() - t0) / 1e6, n_ran, mi.halt_reason);
    KT_ASSERT_MSG(n_ran <= 1, "%s: %d workers ran %s, max_unavailable is 1", scenario, n_ran, bad);
    KT_ASSERT_MSG(n_ran == 1, "%s: no worker ran %s: the health window was never tested", scenario,
                  bad);
    fleet_state_free(f.fs);
    wait_all_on("v1", 120);
    check_status_reason(bad, figure);
}

static void scenario_rolling(void)
{
    const char *extra[] = {"max_batch_rows=32", NULL};
    start_fleet(extra);
    struct kt_load *load = load_begin();
    rolling_bad("v2", "error rate", 2, &v2);
    kf_sleep_ms(3000); /* v1's latencies again before the next window's baseline */
    rolling_bad("v3", "p99", 3, &v3);
    kf_sleep_ms(3000);
    load_end(load);
}

/* Sum of counter @p name over the fleet's /metrics. */
static double fleet_counter(const char *name)
{
    static char body[1 << 20];
    double sum = 0;
    for (int i = 0; i < WORKERS; i++) {
        KT_ASSERT_INT_EQ(kt_http_get(env.workers[i].port, "/metrics", body, sizeof(body)), 200);
        sum += kt_probe_metric(body, name, NULL);
    }
    return sum;
}

static bool all_flipped_back(const struct fold *f, const struct fleet_model_info *mi,
                             const void *arg)
{
    return mi->phase == FLEET_ROLLED_BACK && __builtin_popcount(f->flips_back) == WORKERS;
}

static void scenario_bluegreen(void)
{
    const char *extra[] = {"max_batch_rows=32", NULL};
    start_fleet(extra);
    struct kt_load *load = load_begin();
    struct ctl_strategy st = strategy(CTL_STRATEGY_BLUEGREEN);
    kt_env_announce(&env, &v3, 3, &st, &env.trusted); /* v3: 5x slower */
    /* staged, cut over: every worker serves v3; then the windows judge it */
    struct fold f;
    fold_until(&f, phase_is, &(enum fleet_phase){FLEET_COMPLETE}, "cut over", 120);
    fleet_state_free(f.fs);
    double before =
        fleet_counter("kfleet_store_reads_total") + fleet_counter("kfleet_model_loads_total");
    int64_t t0 = kf_clock_mono_us();
    fold_until(&f, all_flipped_back, NULL, "flipped back to v1 on every worker", 120);
    struct fleet_model_info mi;
    KT_ASSERT(!fleet_model_get(f.fs, env.model, &mi));
    printf("%s: v3 cut over, then a health window broke: every worker flipped back to v1 "
           "(%.1f s after the cutover was folded here); the reason: %s\n",
           scenario, (double)(kf_clock_mono_us() - t0) / 1e6, mi.halt_reason);
    KT_ASSERT_MSG(strstr(mi.halt_reason, "at health") && strstr(mi.halt_reason, "p99"),
                  "%s: the reason does not name the health window's p99: %s", scenario,
                  mi.halt_reason);
    fleet_state_free(f.fs);
    wait_all_on("v1", 60);
    double after =
        fleet_counter("kfleet_store_reads_total") + fleet_counter("kfleet_model_loads_total");
    KT_ASSERT_MSG(after == before, "%s: the flip back read the store or loaded: %.0f -> %.0f",
                  scenario, before, after);
    check_status_reason("v3", "p99");
    kf_sleep_ms(3000);
    load_end(load);
}

static double stalled_gauge(int i)
{
    static char body[1 << 20];
    KT_ASSERT_INT_EQ(kt_http_get(env.workers[i].port, "/metrics", body, sizeof(body)), 200);
    return kt_probe_metric(body, "kfleet_rollout_stalled", "model=");
}

static bool w0_holds_slot(const struct fold *f, const struct fleet_model_info *mi, const void *a)
{
    for (size_t i = 0; i < mi->n_claims; i++)
        if (!strcmp(mi->claims[i].worker, "w0") && mi->claims[i].status == FLEET_CLAIM_ACTIVE)
            return true;
    return false;
}

static void scenario_stall(void)
{
    const char *held[] = {"max_batch_rows=32", "rollout.swap_delay_ms=4000", NULL};
    const char *normal[] = {"max_batch_rows=32", NULL};
    kt_env_version(&env, "v1", 1, 0, NULL, &v1);
    kt_env_version(&env, "v2", 2, 0, NULL, &v2);
    kt_env_announce(&env, &v1, 1, NULL, &env.trusted);
    kt_env_worker_start(&env, 0, held);
    kt_env_worker_start(&env, 1, normal);
    kt_env_worker_start(&env, 2, normal);
    struct kt_load *load = kt_load_new(&env, &(struct kt_load_opts){.rate = RATE});
    kt_load_expect(load, &v1);
    kt_load_expect(load, &v2);
    kt_load_start(load);
    kt_load_warm(load, 0.5, 30);
    struct ctl_strategy st;
    kt_strategy_default(&st);
    st.lease_s = 600;
    st.stall_s = 3;
    kt_env_announce(&env, &v2, 2, &st, &env.trusted);
    struct fold f;
    /* w0 claims, is granted, and holds its swap back: stop it there */
    fold_until(&f, w0_holds_slot, NULL, "w0 holding a granted claim", 120);
    fleet_state_free(f.fs);
    KT_ASSERT(!kill(env.workers[0].pid, SIGSTOP));
    printf("%s: w0 SIGSTOPped holding the only slot (lease 600 s, stall_s 3)\n", scenario);
    int64_t deadline = kf_clock_mono_us() + 60 * 1000000LL;
    while (stalled_gauge(1) != 1 || stalled_gauge(2) != 1) {
        KT_ASSERT_MSG(kf_clock_mono_us() < deadline,
                      "%s: kfleet_rollout_stalled not 1 on w1 and w2 after 60 s", scenario);
        kf_sleep_ms(500);
    }
    char *text = kt_ctl_status_text(&env, kfleetctl_bin);
    const char *line = strstr(text, "stalled:");
    KT_ASSERT_MSG(line && strstr(line, "w0"), "%s: kfleetctl status does not say stalled:\n%s",
                  scenario, text);
    const char *end = strchr(line, '\n');
    printf("%s: kfleet_rollout_stalled 1 on w1 and w2; kfleetctl status: %.*s\n", scenario,
           (int)(end ? end - line : 200), line);
    free(text);
    KT_ASSERT(!kill(env.workers[0].pid, SIGCONT));
    wait_all_on("v2", 180);
    fold_until(&f, phase_is, &(enum fleet_phase){FLEET_COMPLETE}, "complete", 120);
    fleet_state_free(f.fs);
    KT_ASSERT_MSG(stalled_gauge(1) == 0 || (kf_sleep_ms(2000), stalled_gauge(1) == 0),
                  "%s: still stalled after the rollout completed", scenario);
    printf("%s: w0 resumed (SIGCONT): the rollout completed, the stall cleared\n", scenario);
    load_end(load);
}

int main(int argc, char **argv)
{
    if (argc < 4)
        return KF_TEST_HARD_ERROR;
    setvbuf(stdout, NULL, _IOLBF, 0);
    scenario = argv[2];
    kfleetctl_bin = argv[3];
    kt_env_init(&env, scenario, argv[1], 6);
    printf("# health %s: topics *.%s, logs in %s\n", scenario, env.sfx, env.dir);
    if (!strcmp(scenario, "rolling"))
        scenario_rolling();
    else if (!strcmp(scenario, "bluegreen"))
        scenario_bluegreen();
    else if (!strcmp(scenario, "stall"))
        scenario_stall();
    else
        return KF_TEST_HARD_ERROR;
    kt_version_fini(&v1);
    kt_version_fini(&v2);
    kt_version_fini(&v3);
    kt_env_fini(&env);
    return 0;
}
