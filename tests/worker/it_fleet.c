/* Fleet rollouts over the control log, three real workers under load (issue 7).
 *
 *   it_fleet KFLEET_WORKER SCENARIO [KFLEETCTL]
 *
 * Scenarios (one meson test each, every one on its own topics and group):
 *   inplace    rolling, max_unavailable=1, in place: 0 lost, 0 unowned time,
 *              never more than one granted active claim at any log prefix
 *   handoff    the same with hand-off forced: 0 lost, duplicates bounded by
 *              one batch per transition, partitions leave and rejoin each
 *              worker, per-partition unowned time reported
 *   canary     canary of 1 that stays healthy: auto-promotes and completes
 *   bluegreen  all three flip at the cutover (spread reported); a signed
 *              rollback flips them all back
 *   refuse     a replayed old model.published and an unsigned rollout.command
 *              change nothing
 *   kill       a worker SIGKILLed while it holds a granted claim: its lease
 *              expires, the others finish, restarted it runs the new version
 *   canaryfail a canary that fails its bake (v2 takes 9 columns, the traffic
 *              has 8: every answer is an error): the rollout halts, auto-rollback
 *              returns every worker to v1, nothing is lost
 */
#include "common/kf_clock.h"
#include "schema/fleet.h"
#include "tests/worker/kt_ctl.h"
#include "tests/worker/kt_e2e.h"

#include <inttypes.h>

#define WORKERS 3

static struct kt_env env;
static const char *kfleetctl_bin; /* given: the scenarios that roll back also check kfleetctl */

/* Fold the whole control log with the reducer; check at every prefix that
 * no more than @p k claims are granted and active for the model. */
struct fold {
    fleet_state *fs;
    size_t max_active;
    int done_events, handoff_done, cutovers;
    uint64_t unowned_us_total, unowned_max;
    int64_t flip_ms[WORKERS + 1];
    int n_flips;
};

static int fold_cb(void *opaque, const struct ctl_event *ev, int64_t offset, int64_t ts_ms)
{
    struct fold *f = opaque;
    struct fleet_record rec = {.ev = ev, .offset = offset, .ts_ms = ts_ms, .sig = CTL_SIG_OK};
    KT_ASSERT_INT_EQ(fleet_state_feed(f->fs, &rec, NULL), 0);
    struct fleet_model_info mi;
    if (!fleet_model_get(f->fs, env.model, &mi) && mi.active_claims > f->max_active)
        f->max_active = mi.active_claims;
    if (ev->type == CTL_ROLLOUT_DONE) {
        f->done_events++;
        if (ev->mode == CTL_MODE_HANDOFF) {
            f->handoff_done++;
            f->unowned_us_total += ev->timings.unowned_us;
            if (ev->timings.unowned_us > f->unowned_max)
                f->unowned_max = ev->timings.unowned_us;
        }
        if (ev->mode == CTL_MODE_CUTOVER && f->n_flips <= WORKERS)
            f->flip_ms[f->n_flips++] = ts_ms;
    }
    if (ev->type == CTL_ROLLOUT_CUTOVER)
        f->cutovers++;
    return 0;
}

static void fold_log(struct fold *f)
{
    struct fleet_opts o;
    fleet_opts_default(&o);
    o.require_signatures = false; /* every publisher event here is signed by the trusted key */
    f->fs = fleet_state_new(&o);
    KT_ASSERT(f->fs);
    kt_env_control_scan(&env, fold_cb, f, 60);
}

/* Keep requests flowing until every worker runs @p version. */
static void load_until_active(const char *version, int timeout_s)
{
    int64_t deadline = kf_clock_mono_us() + (int64_t)timeout_s * 1000000;
    while (!kt_env_wait_active(&env, WORKERS, version, 0)) {
        KT_ASSERT_MSG(kf_clock_mono_us() < deadline, "not all workers run %s after %d s", version,
                      timeout_s);
        kt_env_send(&env, 100);
        kf_sleep_ms(100);
    }
}

static void start_fleet(const char *const *extra)
{
    for (int i = 0; i < WORKERS; i++)
        kt_env_worker_start(&env, i, extra);
}

static struct kt_version v1, v2;

static void publish_v1_v2(void)
{
    kt_env_version(&env, "v1", 1, 0, NULL, &v1);
    kt_env_version(&env, "v2", 2, 0, NULL, &v2);
    kt_env_announce(&env, &v1, 1, NULL, &env.trusted);
}

static void rolling(const char *mode)
{
    char swap[64];
    snprintf(swap, sizeof(swap), "swap_mode=%s", mode);
    const char *extra[] = {swap, "max_batch_rows=32", NULL};
    publish_v1_v2();
    start_fleet(extra);
    kt_env_send(&env, 1000);
    KT_ASSERT_INT_EQ(kt_env_collect(&env, 0, 1000, 60), 0);
    int before = env.n_sent;
    struct ctl_strategy st;
    ctl_strategy_default(&st);
    st.max_unavailable = 1;
    kt_env_announce(&env, &v2, 2, &st, &env.trusted);
    load_until_active("v2", 120);
    kt_env_send(&env, 500);
    int missing = kt_env_collect(&env, 0, env.n_sent, 120);
    int dups = kt_env_duplicates(&env, 0, env.n_sent);
    KT_ASSERT_MSG(missing == 0, "%s: %d of %d requests lost", mode, missing, env.n_sent);
    struct fold f = {0};
    fold_log(&f);
    KT_ASSERT_MSG(f.max_active <= 1, "%s: %zu granted active claims at once", mode, f.max_active);
    struct fleet_model_info mi;
    KT_ASSERT(!fleet_model_get(f.fs, env.model, &mi));
    printf("%s: %d requests (%d during the rollout), 0 lost, %d duplicates; "
           "at most %zu granted active claim; phase %s\n",
           mode, env.n_sent, env.n_sent - before, dups, f.max_active, fleet_phase2str(mi.phase));
    if (!strcmp(mode, "handoff")) {
        KT_ASSERT_MSG(f.handoff_done == WORKERS, "%d hand-off swaps, expected %d", f.handoff_done,
                      WORKERS);
        /* One in-flight batch per transition at most (32 rows each). */
        KT_ASSERT_MSG(dups <= WORKERS * 32, "%d duplicates", dups);
        for (int i = 0; i < WORKERS; i++) {
            char cmd[512];
            snprintf(cmd, sizeof(cmd), "grep -q 'revoked' %s && grep -q 'rejoined' %s",
                     env.workers[i].log, env.workers[i].log);
            KT_ASSERT_MSG(system(cmd) == 0, "w%d: no revoke/rejoin in its log", i);
        }
        printf("handoff: partitions left and rejoined each worker; unowned time per hand-off: "
               "mean %.1f ms, max %.1f ms\n",
               (double)f.unowned_us_total / WORKERS / 1e3, (double)f.unowned_max / 1e3);
    } else {
        KT_ASSERT_MSG(dups == 0, "inplace: %d duplicates", dups);
        KT_ASSERT_INT_EQ(f.handoff_done, 0);
    }
    fleet_state_free(f.fs);
}

static void scenario_canary(void)
{
    const char *extra[] = {"max_batch_rows=32", NULL};
    publish_v1_v2();
    start_fleet(extra);
    kt_env_send(&env, 500);
    KT_ASSERT_INT_EQ(kt_env_collect(&env, 0, 500, 60), 0);
    struct ctl_strategy st;
    ctl_strategy_default(&st);
    st.kind = CTL_STRATEGY_CANARY;
    st.canary_workers = 1;
    st.bake_s = 3;
    st.max_p99_ratio = 1000; /* latency on a shared 2-core box is not the point here */
    kt_env_announce(&env, &v2, 2, &st, &env.trusted);
    load_until_active("v2", 120);
    kt_env_send(&env, 200);
    KT_ASSERT_INT_EQ(kt_env_collect(&env, 0, env.n_sent, 60), 0);
    struct fold f = {0};
    fold_log(&f);
    struct fleet_model_info mi;
    KT_ASSERT(!fleet_model_get(f.fs, env.model, &mi));
    KT_ASSERT_MSG(mi.n_healthy >= 1, "no rollout.healthy in the log");
    for (int t = 0; t < 50 && mi.phase != FLEET_COMPLETE; t++) {
        fleet_state_free(f.fs);
        memset(&f, 0, sizeof(f));
        kf_sleep_ms(200);
        fold_log(&f);
        fleet_model_get(f.fs, env.model, &mi);
    }
    KT_ASSERT_MSG(mi.phase == FLEET_COMPLETE, "canary ended in phase %s",
                  fleet_phase2str(mi.phase));
    printf("canary: healthy after the bake, promoted, complete; %d requests, 0 lost\n", env.n_sent);
    fleet_state_free(f.fs);
}

static void scenario_bluegreen(void)
{
    const char *extra[] = {"max_batch_rows=32", NULL};
    publish_v1_v2();
    start_fleet(extra);
    kt_env_send(&env, 500);
    KT_ASSERT_INT_EQ(kt_env_collect(&env, 0, 500, 60), 0);
    struct ctl_strategy st;
    ctl_strategy_default(&st);
    st.kind = CTL_STRATEGY_BLUEGREEN;
    kt_env_announce(&env, &v2, 2, &st, &env.trusted);
    load_until_active("v2", 120);
    struct fold f = {0};
    fold_log(&f);
    KT_ASSERT_MSG(f.cutovers >= 1, "no rollout.cutover in the log");
    KT_ASSERT_MSG(f.n_flips >= WORKERS, "%d flips at the cutover, expected %d", f.n_flips, WORKERS);
    int64_t lo = f.flip_ms[0], hi = f.flip_ms[0];
    for (int i = 1; i < f.n_flips && i < WORKERS; i++) {
        lo = f.flip_ms[i] < lo ? f.flip_ms[i] : lo;
        hi = f.flip_ms[i] > hi ? f.flip_ms[i] : hi;
    }
    printf("bluegreen: %d workers flipped at the cutover; spread between the first and the last "
           "flip (log append times): %" PRId64 " ms\n",
           WORKERS, hi - lo);
    fleet_state_free(f.fs);
    kt_env_command(&env, CTL_ACTION_ROLLBACK, "v1", &env.trusted);
    load_until_active("v1", 120);
    KT_ASSERT_INT_EQ(kt_env_collect(&env, 0, env.n_sent, 60), 0);
    printf("bluegreen: a signed rollback flipped all %d back to v1; %d requests, 0 lost\n", WORKERS,
           env.n_sent);
    if (kfleetctl_bin) {
        kt_ctl_status(&env, kfleetctl_bin, WORKERS, "v1");
        kt_ctl_trace(&env, kfleetctl_bin);
        kt_ctl_audit(&env, kfleetctl_bin, "operator: rollback");
    }
}

static void scenario_refuse(void)
{
    const char *extra[] = {"max_batch_rows=32", NULL};
    publish_v1_v2();
    kt_env_announce(&env, &v2, 2, NULL, &env.trusted);
    start_fleet(extra);
    KT_ASSERT(kt_env_wait_active(&env, WORKERS, "v2", 60));
    /* The old announcement again (seq 1 < 2), and an unsigned rollback. */
    kt_env_announce(&env, &v1, 1, NULL, &env.trusted);
    kt_env_command(&env, CTL_ACTION_ROLLBACK, "v1", NULL);
    kf_sleep_ms(3000);
    kt_env_send(&env, 300);
    KT_ASSERT_INT_EQ(kt_env_collect(&env, 0, env.n_sent, 60), 0);
    for (int i = 0; i < env.n_sent; i++)
        KT_ASSERT_STR_EQ(env.answers[i].version, "v2");
    int logged = 0;
    for (int i = 0; i < WORKERS; i++) {
        char cmd[512];
        snprintf(cmd, sizeof(cmd), "grep -q 'rollout.command event is unsigned' %s",
                 env.workers[i].log);
        logged += system(cmd) == 0;
    }
    KT_ASSERT_MSG(logged == WORKERS, "%d of %d workers logged the unsigned command", logged,
                  WORKERS);
    printf("refuse: replayed seq 1 and an unsigned rollback changed nothing; all answers by v2; "
           "every worker logged the unsigned command\n");
}

/* Fold the log and find worker @p worker's claim; its status, or -1. */
static int claim_status(const char *worker, bool *granted)
{
    struct fold f = {0};
    fold_log(&f);
    struct fleet_model_info mi;
    int st = -1;
    if (!fleet_model_get(f.fs, env.model, &mi))
        for (size_t i = 0; i < mi.n_claims; i++)
            if (!strcmp(mi.claims[i].worker, worker) && mi.claims[i].granted) {
                st = (int)mi.claims[i].status;
                *granted = true;
            }
    fleet_state_free(f.fs);
    return st;
}

static void scenario_kill(void)
{
    publish_v1_v2();
    const char *slow[] = {"max_batch_rows=32", "rollout.swap_delay_ms=600000", NULL};
    const char *normal[] = {"max_batch_rows=32", NULL};
    kt_env_worker_start(&env, 0, slow);
    kt_env_worker_start(&env, 1, normal);
    kt_env_worker_start(&env, 2, normal);
    kt_env_send(&env, 300);
    KT_ASSERT_INT_EQ(kt_env_collect(&env, 0, 300, 60), 0);
    struct ctl_strategy st;
    ctl_strategy_default(&st);
    st.lease_s = 5;
    kt_env_announce(&env, &v2, 2, &st, &env.trusted);
    /* w0 claims, is granted, and sits on it (the drill delay): kill it there. */
    bool granted = false;
    for (int t = 0; t < 600 && !granted; t++) {
        kt_env_send(&env, 20);
        if (claim_status("w0", &granted) < 0)
            kf_sleep_ms(100);
    }
    KT_ASSERT_MSG(granted, "w0's claim was never granted");
    KT_ASSERT_INT_EQ(kt_env_worker_stop(&env, 0, SIGKILL), 128 + SIGKILL);
    printf("kill: w0 SIGKILLed holding a granted claim\n");
    int st_w0 = FLEET_CLAIM_ACTIVE;
    for (int t = 0; t < 300 && st_w0 == FLEET_CLAIM_ACTIVE; t++) {
        kt_env_send(&env, 20);
        kf_sleep_ms(100);
        st_w0 = claim_status("w0", &granted);
    }
    KT_ASSERT_MSG(st_w0 == FLEET_CLAIM_EXPIRED, "w0's claim is %s, not expired",
                  fleet_claim_status2str((enum fleet_claim_status)st_w0));
    printf("kill: its lease expired (rollout.expire appended by a peer)\n");
    /* the other two finish */
    static char body[65536];
    for (int i = 1; i < WORKERS; i++) {
        bool ok = false;
        for (int t = 0; t < 600 && !ok; t++) {
            ok = kt_http_get(env.workers[i].port, "/status", body, sizeof(body)) == 200 &&
                 strstr(body, "\"active\":\"v2\"");
            if (!ok) {
                kt_env_send(&env, 10);
                kf_sleep_ms(100);
            }
        }
        KT_ASSERT_MSG(ok, "w%d does not run v2", i);
    }
    kt_env_worker_start(&env, 0, normal);
    load_until_active("v2", 120);
    int missing = kt_env_collect(&env, 0, env.n_sent, 120);
    KT_ASSERT_MSG(missing == 0, "%d requests lost", missing);
    printf("kill: w1 and w2 finished; w0 restarted runs v2; %d requests, 0 lost, %d duplicates\n",
           env.n_sent, kt_env_duplicates(&env, 0, env.n_sent));
}

static void scenario_canaryfail(void)
{
    const char *extra[] = {"max_batch_rows=32", NULL};
    kt_env_version(&env, "v1", 1, 0, NULL, &v1);
    kt_env_version_w(&env, "v2", 2, 9, &v2);
    kt_env_announce(&env, &v1, 1, NULL, &env.trusted);
    start_fleet(extra);
    kt_env_send(&env, 300);
    KT_ASSERT_INT_EQ(kt_env_collect(&env, 0, 300, 60), 0);
    struct ctl_strategy st;
    ctl_strategy_default(&st);
    st.kind = CTL_STRATEGY_CANARY;
    st.canary_workers = 1;
    st.bake_s = 3;
    st.auto_rollback = true;
    kt_env_announce(&env, &v2, 2, &st, &env.trusted);
    enum fleet_phase phase = FLEET_CANARY;
    char target[CTL_NAME_CAP] = "";
    for (int t = 0; t < 300; t++) {
        kt_env_send(&env, 20);
        kf_sleep_ms(100);
        struct fold f = {0};
        fold_log(&f);
        struct fleet_model_info mi;
        if (!fleet_model_get(f.fs, env.model, &mi)) {
            phase = mi.phase;
            snprintf(target, sizeof(target), "%s", mi.target); /* mi dies with f.fs */
        }
        fleet_state_free(f.fs);
        if (!strcmp(target, "v1") && t > 10)
            break;
    }
    KT_ASSERT_MSG(!strcmp(target, "v1") || phase == FLEET_ROLLED_BACK,
                  "after the failed canary the target is %s (phase %s)", target,
                  fleet_phase2str(phase));
    load_until_active("v1", 120);
    int missing = kt_env_collect(&env, 0, env.n_sent, 120);
    KT_ASSERT_MSG(missing == 0, "%d requests lost", missing);
    int errors = 0;
    for (int i = 0; i < env.n_sent; i++)
        errors += env.answers[i].status != 0;
    printf("canaryfail: the canary failed its bake (%d error answers from it), the rollout "
           "rolled back, all %d workers run v1; %d requests, 0 lost\n",
           errors, WORKERS, env.n_sent);
    if (kfleetctl_bin)
        kt_ctl_audit(&env, kfleetctl_bin, "-> rolled_back");
}

int main(int argc, char **argv)
{
    if (argc < 3)
        return KF_TEST_HARD_ERROR;
    const char *scenario = argv[2];
    kfleetctl_bin = argc > 3 ? argv[3] : NULL;
    kt_env_init(&env, scenario, argv[1], 6);
    printf("# %s: topics *.%s, logs in %s\n", scenario, env.sfx, env.dir);
    fflush(stdout);
    if (!strcmp(scenario, "inplace") || !strcmp(scenario, "handoff"))
        rolling(scenario);
    else if (!strcmp(scenario, "canary"))
        scenario_canary();
    else if (!strcmp(scenario, "bluegreen"))
        scenario_bluegreen();
    else if (!strcmp(scenario, "refuse"))
        scenario_refuse();
    else if (!strcmp(scenario, "kill"))
        scenario_kill();
    else if (!strcmp(scenario, "canaryfail"))
        scenario_canaryfail();
    else
        return KF_TEST_HARD_ERROR;
    kt_version_fini(&v1);
    kt_version_fini(&v2);
    kt_env_fini(&env);
    return 0;
}
