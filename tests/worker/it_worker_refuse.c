/* A running worker refuses bad versions and keeps serving (issue 6, acceptance 3):
 * a tampered chunk, a bad manifest signature, a manifest signed by an unknown
 * key (announced by a trusted one) and a golden-output mismatch each end in
 * rollout.failed with the right stage, while v1 keeps answering.
 *
 *   it_worker_refuse KFLEET_WORKER
 *
 * Versions are built with the store's fixtures and announced with a signed
 * model.published, as publish-model would (tests/worker/kt_e2e.h). */
#include "common/kf_clock.h"
#include "tests/worker/kt_e2e.h"

static struct kt_env env;

/* Wait for this worker's rollout.failed of @p version; its stage and reason. */
struct failed {
    const char *version;
    bool found, accepted;
    struct ctl_event ev;
};

static int find_failed(void *opaque, const struct ctl_event *ev, int64_t offset, int64_t ts)
{
    struct failed *f = opaque;
    if (strcmp(ev->version, f->version))
        return 0;
    f->accepted |= ev->type == CTL_ROLLOUT_DONE;
    if (ev->type == CTL_ROLLOUT_FAILED) {
        f->ev = *ev;
        f->found = true;
    }
    return 0;
}

static struct ctl_event wait_failed(const char *version)
{
    struct failed f = {.version = version};
    for (int t = 0; t < 900 && !f.found; t++) {
        kt_env_control_scan(&env, find_failed, &f, 30);
        KT_ASSERT_MSG(!f.accepted, "the worker accepted %s", version);
        if (!f.found)
            kf_sleep_ms(100);
    }
    KT_ASSERT_MSG(f.found, "no rollout.failed for %s in 90 s", version);
    return f.ev;
}

/* One request; the version that answered it. */
static const char *ask(void)
{
    int i = env.n_sent;
    kt_env_send(&env, 1);
    KT_ASSERT_MSG(kt_env_collect(&env, i, i + 1, 60) == 0, "request q%d not answered", i);
    KT_ASSERT_INT_EQ(env.answers[i].status, 0);
    return env.answers[i].version;
}

int main(int argc, char **argv)
{
    if (argc < 2)
        return KF_TEST_HARD_ERROR;
    kt_env_init(&env, "refuse", argv[1], 2);
    struct kt_version v1;
    kt_env_version(&env, "v1", 1, 0, NULL, &v1);
    kt_env_announce(&env, &v1, 1, NULL, &env.trusted);
    kt_env_worker_start(&env, 0, NULL);
    KT_ASSERT_STR_EQ(ask(), "v1");

    struct {
        const char *version, *what;
        enum ctl_stage want;
    } cases[] = {
        {"v2", "a tampered chunk", CTL_STAGE_VERIFY},
        {"v3", "a bad manifest signature", CTL_STAGE_VERIFY},
        {"v4", "a manifest signed by an unknown key", CTL_STAGE_VERIFY},
        {"v5", "golden outputs that do not reproduce", CTL_STAGE_VALIDATE},
    };
    for (int i = 0; i < 4; i++) {
        struct kt_spec s = kt_env_spec(&env, cases[i].version, 10 + (uint64_t)i);
        s.seq = 2 + (uint64_t)i;
        if (i == 3)
            s.golden_skew = 0.5f;
        struct kt_version v;
        kt_version_build(&s, i == 2 ? &env.stranger : &env.trusted, &v);
        if (i == 1)
            kt_version_bad_sig(&v, &env.trusted);
        kt_version_publish(env.os, &v);
        if (i == 0)
            kt_tamper_chunk(env.os, &v, 0);
        kt_env_announce(&env, &v, 2 + (uint64_t)i, NULL, &env.trusted);
        struct ctl_event ev = wait_failed(cases[i].version);
        KT_ASSERT_MSG(ev.stage == cases[i].want, "%s: stage %s, expected %s (%s)", cases[i].what,
                      ctl_stage2str(ev.stage), ctl_stage2str(cases[i].want), ev.reason);
        KT_ASSERT_STR_EQ(ask(), "v1");
        printf("refused %s (%s): stage %s: %s; v1 still answers\n", cases[i].version, cases[i].what,
               ctl_stage2str(ev.stage), ev.reason);
        kt_version_fini(&v);
    }
    KT_ASSERT_INT_EQ(kt_env_worker_stop(&env, 0, SIGTERM), 0);
    kt_version_fini(&v1);
    kt_env_fini(&env);
    return 0;
}
