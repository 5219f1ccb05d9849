/* The fleet-state reducer: every (phase, event) pair against the documented
 * table (docs/schema.md), and the canary, blue/green, rollback, lease-expiry,
 * pause and downgrade-refusal scenarios. */
#include "schema/fleet.h"

#include <errno.h>
#include <jansson.h>

#include "tests/lib/kf_test.h"
#include "tests/schema/fleet_testlib.h"

static struct ft T; /* large: keep it off the stack */

#define M "m"

/* ---- the (phase, event) table ---- */

/* Drive a fresh reducer into phase p. Except for idle, the fleet is w1 and w2
 * on v1 (complete); rolling/canary/staging publish v2 (seq 2) on top. */
static void setup(enum fleet_phase p)
{
    ft_fini(&T);
    ft_init(&T);
    if (p == FLEET_IDLE)
        return;
    ft_publish(&T, M, "v1", 1, NULL);
    ft_joined(&T, "w1", M, "v1");
    ft_joined(&T, "w2", M, "v1");
    KT_ASSERT_INT_EQ(ft_phase(&T, M), FLEET_COMPLETE);
    if (p == FLEET_COMPLETE)
        return;
    struct ft_pub pub = {.kind = p == FLEET_CANARY    ? CTL_STRATEGY_CANARY
                                 : p == FLEET_STAGING ? CTL_STRATEGY_BLUEGREEN
                                                      : CTL_STRATEGY_ROLLING};
    ft_publish(&T, M, "v2", 2, &pub);
    if (p == FLEET_PAUSED)
        ft_command(&T, M, CTL_ACTION_PAUSE, NULL, CTL_SIG_OK);
    if (p == FLEET_HALTED)
        ft_command(&T, M, CTL_ACTION_ABORT, NULL, CTL_SIG_OK);
    if (p == FLEET_ROLLED_BACK)
        ft_command(&T, M, CTL_ACTION_ROLLBACK, NULL, CTL_SIG_OK);
    KT_ASSERT_MSG(ft_phase(&T, M) == p, "setup %s: got %s", fleet_phase2str(p),
                  fleet_phase2str(ft_phase(&T, M)));
}

enum ev_kind {
    E_PUB_ROLLING,
    E_PUB_CANARY,
    E_PUB_BLUEGREEN,
    E_PUB_REPLAY,
    E_PROMOTE,
    E_PAUSE,
    E_RESUME,
    E_ABORT,
    E_ROLLBACK,
    E_JOINED,
    E_LEFT,
    E_CLAIM,
    E_STAGED,
    E_CUTOVER,
    E_DONE,
    E_FAILED,
    E_HEALTHY,
    E_EXPIRE,
    E_COUNT
};

static const char *const ev_names[E_COUNT] = {
    "published(rolling)",      "published(canary)",   "published(bluegreen)",
    "published(replay seq 1)", "command promote",     "command pause",
    "command resume",          "command abort",       "command rollback",
    "worker.joined",           "worker.left",         "rollout.claim(v2)",
    "rollout.staged(v2)",      "rollout.cutover(v2)", "rollout.done(v2)",
    "rollout.failed(v2)",      "rollout.healthy(v2)", "rollout.expire(unknown)",
};

static enum fleet_verdict fire(enum ev_kind e)
{
    switch (e) {
    case E_PUB_ROLLING: return ft_publish(&T, M, "v3", 3, NULL);
    case E_PUB_CANARY:
        return ft_publish(&T, M, "v3", 3, &(struct ft_pub){.kind = CTL_STRATEGY_CANARY});
    case E_PUB_BLUEGREEN:
        return ft_publish(&T, M, "v3", 3, &(struct ft_pub){.kind = CTL_STRATEGY_BLUEGREEN});
    case E_PUB_REPLAY: return ft_publish(&T, M, "v0", 1, NULL);
    case E_PROMOTE: return ft_command(&T, M, CTL_ACTION_PROMOTE, NULL, CTL_SIG_OK);
    case E_PAUSE: return ft_command(&T, M, CTL_ACTION_PAUSE, NULL, CTL_SIG_OK);
    case E_RESUME: return ft_command(&T, M, CTL_ACTION_RESUME, NULL, CTL_SIG_OK);
    case E_ABORT: return ft_command(&T, M, CTL_ACTION_ABORT, NULL, CTL_SIG_OK);
    case E_ROLLBACK: return ft_command(&T, M, CTL_ACTION_ROLLBACK, NULL, CTL_SIG_OK);
    case E_JOINED: return ft_joined(&T, "w3", M, "v1");
    case E_LEFT: return ft_left(&T, "w2");
    case E_CLAIM: return ft_claim(&T, "w1", M, "v2", "c-w1");
    case E_STAGED: return ft_staged(&T, "w1", M, "v2");
    case E_CUTOVER: return ft_cutover(&T, M, "v2");
    case E_DONE: return ft_done(&T, "w1", M, "v2", NULL);
    case E_FAILED: return ft_failed(&T, "w1", M, "v2", NULL);
    case E_HEALTHY: return ft_healthy(&T, "w1", M, "v2");
    case E_EXPIRE: return ft_expire(&T, "c-unknown");
    default: KT_FAIL("bad event");
    }
}

#define A FLEET_APPLIED
#define I FLEET_IGNORED
#define X FLEET_INVALID
#define ID FLEET_IDLE
#define RO FLEET_ROLLING
#define CA FLEET_CANARY
#define ST FLEET_STAGING
#define PA FLEET_PAUSED
#define HA FLEET_HALTED
#define RB FLEET_ROLLED_BACK
#define CO FLEET_COMPLETE

struct cell {
    enum fleet_verdict verdict;
    enum fleet_phase next;
    int granted; /* claims only: 1 granted, 0 refused, -1 n/a */
};

/* Expected verdict and phase for every (phase, event). docs/schema.md has the same table. */
static const struct cell table[FLEET_PHASE_COUNT][E_COUNT] = {
    [FLEET_IDLE] = {{A, RO, -1},
                    {A, CA, -1},
                    {A, ST, -1},
                    {A, RO, -1},
                    {I, ID, -1},
                    {I, ID, -1},
                    {I, ID, -1},
                    {I, ID, -1},
                    {I, ID, -1},
                    {A, ID, -1},
                    {I, ID, -1},
                    {I, ID, -1},
                    {I, ID, -1},
                    {I, ID, -1},
                    {I, ID, -1},
                    {I, ID, -1},
                    {I, ID, -1},
                    {I, ID, -1}},
    [FLEET_ROLLING] = {{A, RO, -1},
                       {A, CA, -1},
                       {A, ST, -1},
                       {I, RO, -1},
                       {X, RO, -1},
                       {A, PA, -1},
                       {X, RO, -1},
                       {A, HA, -1},
                       {A, RB, -1},
                       {A, RO, -1},
                       {A, RO, -1},
                       {A, RO, 1},
                       {I, RO, -1},
                       {X, RO, -1},
                       {A, RO, -1},
                       {A, RB, -1},
                       {A, RO, -1},
                       {I, RO, -1}},
    [FLEET_CANARY] = {{A, RO, -1},
                      {A, CA, -1},
                      {A, ST, -1},
                      {I, CA, -1},
                      {A, RO, -1},
                      {A, PA, -1},
                      {X, CA, -1},
                      {A, HA, -1},
                      {A, RB, -1},
                      {A, CA, -1},
                      {A, CA, -1},
                      {A, CA, 1},
                      {I, CA, -1},
                      {X, CA, -1},
                      {A, CA, -1},
                      {A, RB, -1},
                      {A, RO, -1},
                      {I, CA, -1}},
    [FLEET_STAGING] = {{A, RO, -1},
                       {A, CA, -1},
                       {A, ST, -1},
                       {I, ST, -1},
                       {X, ST, -1},
                       {A, PA, -1},
                       {X, ST, -1},
                       {A, HA, -1},
                       {A, RB, -1},
                       {A, ST, -1},
                       {A, ST, -1},
                       {A, ST, 0},
                       {A, ST, -1},
                       {A, CO, -1},
                       {A, ST, -1},
                       {A, RB, -1},
                       {A, ST, -1},
                       {I, ST, -1}},
    [FLEET_PAUSED] = {{A, RO, -1},
                      {A, CA, -1},
                      {A, ST, -1},
                      {I, PA, -1},
                      {X, PA, -1},
                      {X, PA, -1},
                      {A, RO, -1},
                      {A, HA, -1},
                      {A, RB, -1},
                      {A, PA, -1},
                      {A, PA, -1},
                      {A, PA, 0},
                      {I, PA, -1},
                      {X, PA, -1},
                      {A, PA, -1},
                      {A, RB, -1},
                      {A, PA, -1},
                      {I, PA, -1}},
    [FLEET_HALTED] = {{A, RO, -1},
                      {A, CA, -1},
                      {A, ST, -1},
                      {I, HA, -1},
                      {X, HA, -1},
                      {X, HA, -1},
                      {A, RO, -1},
                      {X, HA, -1},
                      {A, RB, -1},
                      {A, HA, -1},
                      {A, HA, -1},
                      {A, HA, 0},
                      {I, HA, -1},
                      {X, HA, -1},
                      {A, HA, -1},
                      {A, HA, -1},
                      {A, HA, -1},
                      {I, HA, -1}},
    [FLEET_ROLLED_BACK] = {{A, RO, -1},
                           {A, CA, -1},
                           {A, ST, -1},
                           {I, RB, -1},
                           {X, RB, -1},
                           {A, PA, -1},
                           {X, RB, -1},
                           {A, HA, -1},
                           {X, RB, -1},
                           {A, RB, -1},
                           {A, RB, -1},
                           {A, RB, 0},
                           {I, RB, -1},
                           {I, RB, -1},
                           {A, RB, -1},
                           {A, RB, -1},
                           {I, RB, -1},
                           {I, RB, -1}},
    [FLEET_COMPLETE] = {{A, RO, -1},
                        {A, CA, -1},
                        {A, ST, -1},
                        {I, CO, -1},
                        {X, CO, -1},
                        {X, CO, -1},
                        {X, CO, -1},
                        {X, CO, -1},
                        {X, CO, -1},
                        {A, CO, -1},
                        {A, CO, -1},
                        {A, CO, 0},
                        {I, CO, -1},
                        {I, CO, -1},
                        {A, CO, -1},
                        {A, CO, -1},
                        {I, CO, -1},
                        {I, CO, -1}},
};

/* A dump without what every fed record moves: the log position, the record
 * count and model M's ignored/invalid tallies (returned in @p tally as
 * ignored, invalid; -1 when M is unknown). New; json_decref it. */
static json_t *dump_untallied(const char *dump, json_int_t tally[2])
{
    json_error_t jerr;
    json_t *j = json_loads(dump, 0, &jerr);
    KT_ASSERT_MSG(j, "the dump is not JSON: %s", jerr.text);
    json_object_del(j, "last_offset");
    json_object_del(j, "records");
    tally[0] = tally[1] = -1;
    size_t i;
    json_t *m;
    json_array_foreach(json_object_get(j, "models"), i, m)
    {
        if (strcmp(json_string_value(json_object_get(m, "model")), M))
            continue;
        tally[0] = json_integer_value(json_object_get(m, "ignored"));
        tally[1] = json_integer_value(json_object_get(m, "invalid"));
        json_object_del(m, "ignored");
        json_object_del(m, "invalid");
    }
    return j;
}

/* An event the reducer does not apply (ignored or invalid) leaves the state
 * as it was, apart from counting itself against the model it names
 * (docs/schema.md: "reported, not applied"). */
static void check_not_applied(int p, int e, enum fleet_verdict v, const char *before)
{
    char *after = ft_dump(T.fs);
    json_int_t tb[2], ta[2];
    json_t *jb = dump_untallied(before, tb), *ja = dump_untallied(after, ta);
    KT_ASSERT_MSG(json_equal(jb, ja),
                  "%s + %s: %s, yet the state changed:\n  before %s\n  after  %s",
                  fleet_phase2str(p), ev_names[e], fleet_verdict2str(v), before, after);
    if (tb[0] >= 0 && !strcmp(T.log[T.n - 1].model, M)) { /* expire, joined, left name none */
        int k = v == FLEET_IGNORED ? 0 : 1;
        KT_ASSERT_MSG(ta[k] == tb[k] + 1 && ta[1 - k] == tb[1 - k],
                      "%s + %s: %s, but M's ignored/invalid went from %lld/%lld to %lld/%lld",
                      fleet_phase2str(p), ev_names[e], fleet_verdict2str(v), (long long)tb[0],
                      (long long)tb[1], (long long)ta[0], (long long)ta[1]);
    }
    json_decref(jb);
    json_decref(ja);
    free(after);
}

static void test_every_phase_event_pair(void)
{
    for (int p = 0; p < FLEET_PHASE_COUNT; p++) {
        for (int e = 0; e < E_COUNT; e++) {
            setup((enum fleet_phase)p);
            char *before = ft_dump(T.fs);
            enum fleet_verdict v = fire((enum ev_kind)e);
            const struct cell *c = &table[p][e];
            enum fleet_phase got = ft_phase(&T, M);
            KT_ASSERT_MSG(v == c->verdict && got == c->next,
                          "%s + %s: expected %s/%s, got %s/%s (%s)", fleet_phase2str(p),
                          ev_names[e], fleet_verdict2str(c->verdict), fleet_phase2str(c->next),
                          fleet_verdict2str(v), fleet_phase2str(got), T.res.reason);
            if (c->granted >= 0)
                KT_ASSERT_MSG(T.res.granted == (c->granted == 1), "%s + claim: granted %d",
                              fleet_phase2str(p), T.res.granted);
            if (v != FLEET_APPLIED)
                check_not_applied(p, e, v, before);
            printf("  %-11s + %-24s -> %-7s %s\n", fleet_phase2str(p), ev_names[e],
                   fleet_verdict2str(v), fleet_phase2str(got));
            free(before);
        }
    }
}

static void test_phase_names_and_table(void)
{
    for (int p = 0; p < FLEET_PHASE_COUNT; p++) {
        KT_ASSERT(strcmp(fleet_phase2str((enum fleet_phase)p), "?"));
        KT_ASSERT(fleet_transition_is_valid((enum fleet_phase)p, (enum fleet_phase)p));
        KT_ASSERT(!fleet_transition_is_valid((enum fleet_phase)p, FLEET_IDLE) || p == FLEET_IDLE);
    }
    KT_ASSERT_STR_EQ(fleet_phase2str(FLEET_ROLLED_BACK), "rolled_back");
    KT_ASSERT_STR_EQ(fleet_phase2str((enum fleet_phase)42), "?");
    KT_ASSERT(!fleet_transition_is_valid(FLEET_CANARY, FLEET_COMPLETE));
    KT_ASSERT(!fleet_transition_is_valid(FLEET_HALTED, FLEET_COMPLETE));
    KT_ASSERT(!fleet_transition_is_valid(FLEET_IDLE, FLEET_COMPLETE));
    KT_ASSERT(fleet_transition_is_valid(FLEET_STAGING, FLEET_COMPLETE));
}

/* ---- scenarios ---- */

static void four_workers_on_v1(void)
{
    ft_fini(&T);
    ft_init(&T);
    ft_publish(&T, M, "v1", 1, NULL);
    ft_joined(&T, "w1", M, "v1");
    ft_joined(&T, "w2", M, "v1");
    ft_joined(&T, "w3", M, "v1");
    ft_joined(&T, "w4", M, "v1");
    KT_ASSERT_INT_EQ(ft_phase(&T, M), FLEET_COMPLETE);
}

static void test_canary(void)
{
    four_workers_on_v1();
    ft_publish(
        &T, M, "v2", 2,
        &(struct ft_pub){.kind = CTL_STRATEGY_CANARY, .canary_workers = 2, .max_unavailable = 3});
    KT_ASSERT_INT_EQ(ft_phase(&T, M), FLEET_CANARY);
    ft_claim(&T, "w1", M, "v2", "c1");
    KT_ASSERT(T.res.granted);
    ft_claim(&T, "w2", M, "v2", "c2");
    KT_ASSERT(T.res.granted);
    ft_claim(&T, "w3", M, "v2", "c3");
    KT_ASSERT(!T.res.granted && strstr(T.res.reason, "canary"));
    struct fleet_plan plan;
    KT_ASSERT_INT_EQ(fleet_plan_worker(T.fs, "w3", M, "v1", &plan), 0);
    KT_ASSERT_INT_EQ(plan.action, FLEET_ACT_WAIT);
    KT_ASSERT_INT_EQ(fleet_plan_worker(T.fs, "w1", M, "v1", &plan), 0);
    KT_ASSERT_INT_EQ(plan.action, FLEET_ACT_SWAP);
    KT_ASSERT_STR_EQ(plan.claim_id, "c1");
    ft_done(&T, "w1", M, "v2", "c1");
    ft_done(&T, "w2", M, "v2", "c2");
    ft_healthy(&T, "w1", M, "v2");
    KT_ASSERT_INT_EQ(ft_phase(&T, M), FLEET_CANARY);
    ft_healthy(&T, "w1", M, "v2"); /* the same worker twice counts once */
    KT_ASSERT_INT_EQ(ft_phase(&T, M), FLEET_CANARY);
    ft_healthy(&T, "w2", M, "v2");
    KT_ASSERT_INT_EQ(ft_phase(&T, M), FLEET_ROLLING);
    ft_claim(&T, "w3", M, "v2", "c4");
    KT_ASSERT(T.res.granted);
    ft_claim(&T, "w4", M, "v2", "c5");
    KT_ASSERT(T.res.granted);
    ft_done(&T, "w3", M, "v2", "c4");
    KT_ASSERT_INT_EQ(ft_phase(&T, M), FLEET_ROLLING);
    ft_done(&T, "w4", M, "v2", "c5");
    KT_ASSERT_INT_EQ(ft_phase(&T, M), FLEET_COMPLETE);
    struct fleet_model_info mi;
    KT_ASSERT_INT_EQ(fleet_model_get(T.fs, M, &mi), 0);
    KT_ASSERT_STR_EQ(mi.target, "v2");
    KT_ASSERT_INT_EQ(mi.n_claims, 5);
    KT_ASSERT_INT_EQ(mi.claims[2].status, FLEET_CLAIM_REFUSED);

    /* without auto_promote only a signed promote moves on */
    four_workers_on_v1();
    ft_publish(&T, M, "v2", 2,
               &(struct ft_pub){.kind = CTL_STRATEGY_CANARY, .no_auto_promote = true});
    ft_claim(&T, "w1", M, "v2", "c1");
    ft_done(&T, "w1", M, "v2", "c1");
    ft_healthy(&T, "w1", M, "v2");
    KT_ASSERT_INT_EQ(ft_phase(&T, M), FLEET_CANARY);
    KT_ASSERT_INT_EQ(ft_command(&T, M, CTL_ACTION_PROMOTE, NULL, CTL_SIG_UNSIGNED), FLEET_IGNORED);
    KT_ASSERT(strstr(T.res.reason, "unsigned"));
    KT_ASSERT_INT_EQ(ft_command(&T, M, CTL_ACTION_PROMOTE, NULL, CTL_SIG_BAD_SIGNATURE),
                     FLEET_IGNORED);
    KT_ASSERT_INT_EQ(ft_command(&T, M, CTL_ACTION_PROMOTE, "v9", CTL_SIG_OK), FLEET_IGNORED);
    KT_ASSERT_INT_EQ(ft_command(&T, M, CTL_ACTION_PROMOTE, "v2", CTL_SIG_OK), FLEET_APPLIED);
    KT_ASSERT_INT_EQ(ft_phase(&T, M), FLEET_ROLLING);
}

/* Issue 16: with a health window a rolling claim holds its slot from grant
 * to rollout.healthy, so no more than max_unavailable workers ever run a
 * version no window has judged; a health failure ends the claim and rolls
 * back; a restarted worker's held claim ends at its worker.joined. */
static void test_health_hold(void)
{
    four_workers_on_v1();
    ft_publish(&T, M, "v2", 2,
               &(struct ft_pub){.kind = CTL_STRATEGY_ROLLING, .max_unavailable = 1, .health_s = 5});
    ft_claim(&T, "w1", M, "v2", "c1");
    KT_ASSERT(T.res.granted);
    ft_done(&T, "w1", M, "v2", "c1");
    struct fleet_model_info mi;
    fleet_model_get(T.fs, M, &mi);
    KT_ASSERT_INT_EQ(mi.active_claims, 1);
    KT_ASSERT_INT_EQ(mi.held_claims, 1);
    KT_ASSERT_INT_EQ(mi.claims[0].status, FLEET_CLAIM_ACTIVE);
    KT_ASSERT(mi.claims[0].swapped_offset >= 0);
    KT_ASSERT_STR_EQ(fleet_worker_version(T.fs, "w1", M), "v2");
    struct fleet_plan plan;
    fleet_plan_worker(T.fs, "w1", M, "v2", &plan);
    KT_ASSERT_INT_EQ(plan.action, FLEET_ACT_NONE); /* swapped: nothing more to do */
    ft_claim(&T, "w2", M, "v2", "c2");
    KT_ASSERT(!T.res.granted && strstr(T.res.reason, "max_unavailable"));
    ft_healthy(&T, "w1", M, "v2");
    fleet_model_get(T.fs, M, &mi);
    KT_ASSERT_INT_EQ(mi.active_claims, 0);
    KT_ASSERT_INT_EQ(mi.claims[0].status, FLEET_CLAIM_DONE);
    ft_claim(&T, "w2", M, "v2", "c3");
    KT_ASSERT(T.res.granted);
    ft_done(&T, "w2", M, "v2", "c3");
    /* w2 restarts inside its window: the claim ends at its worker.joined */
    ft_joined(&T, "w2", M, "v2");
    fleet_model_get(T.fs, M, &mi);
    KT_ASSERT_INT_EQ(mi.active_claims, 0);
    ft_claim(&T, "w3", M, "v2", "c4");
    ft_done(&T, "w3", M, "v2", "c4");
    ft_claim(&T, "w4", M, "v2", "c5");
    KT_ASSERT(!T.res.granted);
    /* w3's window breaks: its claim fails, the fleet goes back to v1, and
     * only the two that swapped have anything to do */
    KT_ASSERT_INT_EQ(ft_unhealthy(&T, "w3", M, "v2"), FLEET_APPLIED);
    KT_ASSERT_INT_EQ(ft_phase(&T, M), FLEET_ROLLED_BACK);
    fleet_model_get(T.fs, M, &mi);
    KT_ASSERT_STR_EQ(mi.target, "v1");
    KT_ASSERT_INT_EQ(mi.active_claims, 0);
    KT_ASSERT_INT_EQ(mi.claims[3].status, FLEET_CLAIM_FAILED);
    KT_ASSERT(strstr(mi.halt_reason, "w3 failed") && strstr(mi.halt_reason, "health") &&
              strstr(mi.halt_reason, "error rate 0.2"));
    fleet_plan_worker(T.fs, "w4", M, "v1", &plan);
    KT_ASSERT_INT_EQ(plan.action, FLEET_ACT_NONE);
    fleet_plan_worker(T.fs, "w3", M, "v2", &plan);
    KT_ASSERT_INT_EQ(plan.action, FLEET_ACT_CLAIM);
    /* the way back is not held for a window */
    ft_claim(&T, "w3", M, "v1", "c6");
    KT_ASSERT(T.res.granted);
    ft_done(&T, "w3", M, "v1", "c6");
    fleet_model_get(T.fs, M, &mi);
    KT_ASSERT_INT_EQ(mi.active_claims, 0);

    /* a new publication ends claims held for the old target's windows */
    four_workers_on_v1();
    ft_publish(&T, M, "v2", 2,
               &(struct ft_pub){.kind = CTL_STRATEGY_ROLLING, .max_unavailable = 1, .health_s = 5});
    ft_claim(&T, "w1", M, "v2", "c1");
    ft_done(&T, "w1", M, "v2", "c1");
    ft_publish(&T, M, "v3", 3,
               &(struct ft_pub){.kind = CTL_STRATEGY_ROLLING, .max_unavailable = 1, .health_s = 5});
    fleet_model_get(T.fs, M, &mi);
    KT_ASSERT_INT_EQ(mi.active_claims, 0);
    KT_ASSERT_INT_EQ(mi.held_claims, 0);
}

/* Issue 16: a blue/green worker whose health window breaks after the cutover
 * rolls the fleet back by the flip back, while the verdict is still open. */
static void test_bluegreen_health(void)
{
    const char *members[] = {"w1", "w2", "w3"};
    for (int late = 0; late < 2; late++) {
        ft_fini(&T);
        ft_init(&T);
        ft_publish(&T, M, "v1", 1, NULL);
        for (int i = 0; i < 3; i++)
            ft_joined(&T, members[i], M, "v1");
        ft_publish(&T, M, "v2", 2, &(struct ft_pub){.kind = CTL_STRATEGY_BLUEGREEN, .health_s = 5});
        for (int i = 0; i < 3; i++)
            ft_staged(&T, members[i], M, "v2");
        ft_cutover(&T, M, "v2");
        KT_ASSERT_INT_EQ(ft_phase(&T, M), FLEET_COMPLETE);
        for (int i = 0; i < 3; i++)
            ft_done(&T, members[i], M, "v2", NULL);
        ft_healthy(&T, "w1", M, "v2");
        if (late) {
            /* every flipped worker said healthy: the verdict is in, a later
             * failure is recorded only */
            ft_healthy(&T, "w2", M, "v2");
            ft_healthy(&T, "w3", M, "v2");
            ft_unhealthy(&T, "w3", M, "v2");
            KT_ASSERT_INT_EQ(ft_phase(&T, M), FLEET_COMPLETE);
            continue;
        }
        KT_ASSERT_INT_EQ(ft_unhealthy(&T, "w2", M, "v2"), FLEET_APPLIED);
        int64_t at = T.offset - 1;
        KT_ASSERT_INT_EQ(ft_phase(&T, M), FLEET_ROLLED_BACK);
        struct fleet_model_info mi;
        fleet_model_get(T.fs, M, &mi);
        KT_ASSERT_STR_EQ(mi.target, "v1");
        KT_ASSERT_INT_EQ(mi.cutover_offset, at); /* flipped back at the failure's offset */
        for (int i = 0; i < 3; i++) {
            struct fleet_plan plan;
            KT_ASSERT_STR_EQ(fleet_worker_version(T.fs, members[i], M), "v1");
            fleet_plan_worker(T.fs, members[i], M, "v2", &plan);
            KT_ASSERT_INT_EQ(plan.action, FLEET_ACT_FLIP);
        }
    }
}

/* Issue 17: refused workers claim again in the order of their refusal, as
 * many as slots are free, instead of all at every freed slot. */
static void test_claim_turn(void)
{
    four_workers_on_v1();
    ft_publish(&T, M, "v2", 2,
               &(struct ft_pub){.kind = CTL_STRATEGY_ROLLING, .max_unavailable = 1});
    ft_claim(&T, "w1", M, "v2", "c1");
    ft_claim(&T, "w3", M, "v2", "c2");
    ft_claim(&T, "w2", M, "v2", "c3");
    ft_claim(&T, "w4", M, "v2", "c4");
    KT_ASSERT(!fleet_claim_turn(T.fs, M, "w3")); /* no slot free */
    ft_done(&T, "w1", M, "v2", "c1");
    KT_ASSERT(fleet_claim_turn(T.fs, M, "w3")); /* refused first */
    KT_ASSERT(!fleet_claim_turn(T.fs, M, "w2"));
    KT_ASSERT(!fleet_claim_turn(T.fs, M, "w4"));
    ft_claim(&T, "w3", M, "v2", "c5");
    KT_ASSERT(T.res.granted);
    ft_done(&T, "w3", M, "v2", "c5");
    KT_ASSERT(fleet_claim_turn(T.fs, M, "w2"));
    ft_left(&T, "w2"); /* gone: the next in the queue moves up */
    KT_ASSERT(fleet_claim_turn(T.fs, M, "w4"));
    /* a new target starts a new queue */
    ft_publish(&T, M, "v3", 3,
               &(struct ft_pub){.kind = CTL_STRATEGY_ROLLING, .max_unavailable = 1});
    ft_claim(&T, "w4", M, "v3", "c6");
    ft_claim(&T, "w1", M, "v3", "c7");
    KT_ASSERT(!T.res.granted);
    ft_done(&T, "w4", M, "v3", "c6");
    KT_ASSERT(fleet_claim_turn(T.fs, M, "w1"));
}

/* Issue 16: no claim granted and no done for stall_s: stalled. */
static void test_stall(void)
{
    four_workers_on_v1();
    ft_publish(&T, M, "v2", 2,
               &(struct ft_pub){.kind = CTL_STRATEGY_ROLLING, .health_s = 5, .stall_s = 30});
    ft_claim(&T, "w1", M, "v2", "c1");
    struct fleet_model_info mi;
    fleet_model_get(T.fs, M, &mi);
    int64_t since;
    KT_ASSERT(!fleet_model_stalled(&mi, mi.progress_ms + 29999, &since));
    KT_ASSERT(fleet_model_stalled(&mi, mi.progress_ms + 30000, &since));
    KT_ASSERT_INT_EQ(since, 30000);
    /* refusals are not progress; a done is */
    ft_wait(&T, 40000);
    ft_claim(&T, "w2", M, "v2", "c2");
    KT_ASSERT(!T.res.granted);
    fleet_model_get(T.fs, M, &mi);
    KT_ASSERT(fleet_model_stalled(&mi, T.ts_ms, NULL));
    ft_done(&T, "w1", M, "v2", "c1");
    fleet_model_get(T.fs, M, &mi);
    KT_ASSERT(!fleet_model_stalled(&mi, T.ts_ms, NULL));
    /* a finished rollout is never stalled */
    ft_healthy(&T, "w1", M, "v2");
    for (int i = 2; i <= 4; i++) {
        char w[8], c[8];
        snprintf(w, sizeof(w), "w%d", i);
        snprintf(c, sizeof(c), "k%d", i);
        ft_claim(&T, w, M, "v2", c);
        ft_done(&T, w, M, "v2", c);
        ft_healthy(&T, w, M, "v2");
    }
    KT_ASSERT_INT_EQ(ft_phase(&T, M), FLEET_COMPLETE);
    fleet_model_get(T.fs, M, &mi);
    KT_ASSERT(!fleet_model_stalled(&mi, T.ts_ms + 10000000, NULL));
}

static void test_bluegreen(void)
{
    ft_fini(&T);
    ft_init(&T);
    ft_publish(&T, M, "v1", 1, NULL);
    ft_joined(&T, "w1", M, "v1");
    ft_joined(&T, "w2", M, "v1");
    ft_joined(&T, "w3", M, "v1");
    ft_publish(&T, M, "v2", 2, &(struct ft_pub){.kind = CTL_STRATEGY_BLUEGREEN});
    KT_ASSERT_INT_EQ(ft_phase(&T, M), FLEET_STAGING);
    const char *members[] = {"w1", "w2", "w3"};
    struct fleet_plan plan;
    fleet_plan_worker(T.fs, "w1", M, "v1", &plan);
    KT_ASSERT_INT_EQ(plan.action, FLEET_ACT_STAGE);
    ft_staged(&T, "w1", M, "v2");
    ft_staged(&T, "w2", M, "v2");
    fleet_plan_worker(T.fs, "w1", M, "v1", &plan);
    KT_ASSERT_INT_EQ(plan.action, FLEET_ACT_WAIT);
    KT_ASSERT(!fleet_cutover_due(T.fs, M, members, 3));
    KT_ASSERT(fleet_cutover_due(T.fs, M, members, 2)); /* the group dropped w3 */
    ft_claim(&T, "w3", M, "v2", "c3");
    KT_ASSERT(!T.res.granted);
    ft_staged(&T, "w3", M, "v2");
    KT_ASSERT(fleet_cutover_due(T.fs, M, members, 3));
    KT_ASSERT(!fleet_cutover_due(T.fs, M, members, 0));
    KT_ASSERT_INT_EQ(ft_cutover(&T, M, "v2"), FLEET_APPLIED);
    KT_ASSERT_INT_EQ(ft_phase(&T, M), FLEET_COMPLETE);
    KT_ASSERT(!fleet_cutover_due(T.fs, M, members, 3));
    for (int i = 0; i < 3; i++)
        KT_ASSERT_STR_EQ(fleet_worker_version(T.fs, members[i], M), "v2");
    fleet_plan_worker(T.fs, "w1", M, "v1", &plan);
    KT_ASSERT_INT_EQ(plan.action, FLEET_ACT_FLIP);
    fleet_plan_worker(T.fs, "w1", M, "v2", &plan);
    KT_ASSERT_INT_EQ(plan.action, FLEET_ACT_NONE);
    KT_ASSERT_INT_EQ(ft_cutover(&T, M, "v2"), FLEET_IGNORED); /* first one won */
    struct fleet_model_info mi;
    fleet_model_get(T.fs, M, &mi);
    KT_ASSERT_STR_EQ(mi.previous_good, "v1");
    /* signed rollback flips back while the old version is resident: at the
     * command's own offset, every staged worker runs v1 again, and the plan
     * is a flip, not a claim */
    KT_ASSERT_INT_EQ(ft_command(&T, M, CTL_ACTION_ROLLBACK, NULL, CTL_SIG_OK), FLEET_APPLIED);
    int64_t rollback_offset = T.offset - 1;
    KT_ASSERT_INT_EQ(ft_phase(&T, M), FLEET_ROLLED_BACK);
    fleet_model_get(T.fs, M, &mi);
    KT_ASSERT_STR_EQ(mi.target, "v1");
    KT_ASSERT_INT_EQ(mi.cutover_offset, rollback_offset);
    for (int i = 0; i < 3; i++) {
        KT_ASSERT_STR_EQ(fleet_worker_version(T.fs, members[i], M), "v1");
        fleet_plan_worker(T.fs, members[i], M, "v2", &plan);
        KT_ASSERT_INT_EQ(plan.action, FLEET_ACT_FLIP);
        KT_ASSERT_STR_EQ(plan.version, "v1");
    }
    fleet_plan_worker(T.fs, "w1", M, "v1", &plan);
    KT_ASSERT_INT_EQ(plan.action, FLEET_ACT_NONE);
    /* a worker that joins after it holds nothing in standby: the rolling way */
    ft_joined(&T, "w4", M, "v2");
    fleet_plan_worker(T.fs, "w4", M, "v2", &plan);
    KT_ASSERT_INT_EQ(plan.action, FLEET_ACT_CLAIM);
    /* the flips' rollout.done change nothing more */
    for (int i = 0; i < 3; i++)
        KT_ASSERT_INT_EQ(ft_done(&T, members[i], M, "v1", NULL), FLEET_APPLIED);
    KT_ASSERT_INT_EQ(ft_phase(&T, M), FLEET_ROLLED_BACK);
}

/* A rollback to a version no cutover flipped away from (or before any
 * cutover) goes the rolling way: staged set cleared, plan claim. */
static void test_bluegreen_rollback_rolling(void)
{
    ft_fini(&T);
    ft_init(&T);
    ft_publish(&T, M, "v1", 1, NULL);
    ft_joined(&T, "w1", M, "v1");
    ft_publish(&T, M, "v2", 2, NULL);
    ft_claim(&T, "w1", M, "v2", "c1");
    ft_done(&T, "w1", M, "v2", "c1");
    KT_ASSERT_INT_EQ(ft_phase(&T, M), FLEET_COMPLETE);
    ft_publish(&T, M, "v3", 3, &(struct ft_pub){.kind = CTL_STRATEGY_BLUEGREEN});
    ft_staged(&T, "w1", M, "v3");
    KT_ASSERT_INT_EQ(ft_cutover(&T, M, "v3"), FLEET_APPLIED);
    /* v1 is not what w1 holds in standby (v2 is) */
    KT_ASSERT_INT_EQ(ft_command(&T, M, CTL_ACTION_ROLLBACK, "v1", CTL_SIG_OK), FLEET_APPLIED);
    struct fleet_model_info mi;
    fleet_model_get(T.fs, M, &mi);
    KT_ASSERT_INT_EQ(mi.cutover_offset, -1);
    KT_ASSERT_INT_EQ(mi.n_staged, 0);
    struct fleet_plan plan;
    fleet_plan_worker(T.fs, "w1", M, "v3", &plan);
    KT_ASSERT_INT_EQ(plan.action, FLEET_ACT_CLAIM);
    /* staging, not cut over yet: nothing flipped, nothing to flip back */
    ft_publish(&T, M, "v4", 4, &(struct ft_pub){.kind = CTL_STRATEGY_BLUEGREEN});
    ft_staged(&T, "w1", M, "v4");
    KT_ASSERT_INT_EQ(ft_command(&T, M, CTL_ACTION_ROLLBACK, "v1", CTL_SIG_OK), FLEET_APPLIED);
    fleet_model_get(T.fs, M, &mi);
    KT_ASSERT_INT_EQ(mi.cutover_offset, -1);
    fleet_plan_worker(T.fs, "w1", M, "v3", &plan);
    KT_ASSERT_INT_EQ(plan.action, FLEET_ACT_CLAIM);
}

static void test_rollback(void)
{
    four_workers_on_v1();
    ft_publish(&T, M, "v2", 2, &(struct ft_pub){.max_unavailable = 2});
    ft_claim(&T, "w1", M, "v2", "c1");
    ft_done(&T, "w1", M, "v2", "c1");
    ft_claim(&T, "w2", M, "v2", "c2");
    KT_ASSERT(T.res.granted);
    ft_failed(&T, "w2", M, "v2", "c2");
    KT_ASSERT_INT_EQ(ft_phase(&T, M), FLEET_ROLLED_BACK);
    struct fleet_model_info mi;
    fleet_model_get(T.fs, M, &mi);
    KT_ASSERT_STR_EQ(mi.target, "v1");
    KT_ASSERT_STR_EQ(mi.previous_good, "v1");
    KT_ASSERT(strstr(mi.halt_reason, "w2 failed"));
    KT_ASSERT_INT_EQ(mi.claims[1].status, FLEET_CLAIM_FAILED);
    /* w1 already swapped: it rolls back through the same slot rules */
    struct fleet_plan plan;
    fleet_plan_worker(T.fs, "w1", M, "v2", &plan);
    KT_ASSERT_INT_EQ(plan.action, FLEET_ACT_CLAIM);
    KT_ASSERT_STR_EQ(plan.version, "v1");
    fleet_plan_worker(T.fs, "w3", M, "v1", &plan);
    KT_ASSERT_INT_EQ(plan.action, FLEET_ACT_NONE);
    ft_claim(&T, "w1", M, "v1", "c3");
    KT_ASSERT(T.res.granted);
    ft_done(&T, "w1", M, "v1", "c3");
    KT_ASSERT_INT_EQ(ft_phase(&T, M), FLEET_ROLLED_BACK);
    KT_ASSERT_STR_EQ(fleet_worker_version(T.fs, "w1", M), "v1");
    /* the next publish starts from v1 as the good version */
    ft_publish(&T, M, "v3", 3, NULL);
    fleet_model_get(T.fs, M, &mi);
    KT_ASSERT_STR_EQ(mi.previous_good, "v1");

    /* without auto_rollback: halted, and a signed resume retries */
    four_workers_on_v1();
    ft_publish(&T, M, "v2", 2, &(struct ft_pub){.no_auto_rollback = true});
    ft_claim(&T, "w1", M, "v2", "c1");
    ft_failed(&T, "w1", M, "v2", "c1");
    KT_ASSERT_INT_EQ(ft_phase(&T, M), FLEET_HALTED);
    ft_claim(&T, "w2", M, "v2", "c2");
    KT_ASSERT(!T.res.granted);
    ft_command(&T, M, CTL_ACTION_RESUME, NULL, CTL_SIG_OK);
    KT_ASSERT_INT_EQ(ft_phase(&T, M), FLEET_ROLLING);
    ft_claim(&T, "w2", M, "v2", "c3");
    KT_ASSERT(T.res.granted);
    /* the first version failing has nothing to roll back to: halted */
    ft_fini(&T);
    ft_init(&T);
    ft_publish(&T, "n", "v1", 1, NULL);
    ft_joined(&T, "w1", "n", "");
    ft_failed(&T, "w1", "n", "v1", NULL);
    KT_ASSERT_INT_EQ(ft_phase(&T, "n"), FLEET_HALTED);
}

static void test_lease_expiry(void)
{
    four_workers_on_v1();
    ft_publish(&T, M, "v2", 2, &(struct ft_pub){.lease_s = 300});
    ft_claim(&T, "w1", M, "v2", "c1");
    const struct fleet_claim *c = fleet_claim_find(T.fs, "c1");
    KT_ASSERT(c && c->granted && c->lease_ms == 300000);
    int64_t t0 = c->ts_ms;
    const struct fleet_claim *out[4];
    KT_ASSERT_INT_EQ(fleet_claims_expired(T.fs, t0 + 299999, out, 4), 0);
    KT_ASSERT_INT_EQ(fleet_claims_expired(T.fs, t0 + 300000, out, 4), 1);
    KT_ASSERT_STR_EQ(out[0]->claim_id, "c1");
    ft_claim(&T, "w2", M, "v2", "c2");
    KT_ASSERT(!T.res.granted); /* max_unavailable 1 is held by c1 */
    /* an early expire is refused: the lease runs by LogAppendTime */
    KT_ASSERT_INT_EQ(ft_expire(&T, "c1"), FLEET_IGNORED);
    KT_ASSERT(fleet_claim_granted(T.fs, "c1"));
    T.ts_ms = t0 + 300000;
    KT_ASSERT_INT_EQ(ft_expire(&T, "c1"), FLEET_APPLIED);
    KT_ASSERT(!fleet_claim_granted(T.fs, "c1"));
    KT_ASSERT_INT_EQ(fleet_claim_find(T.fs, "c1")->status, FLEET_CLAIM_EXPIRED);
    KT_ASSERT_INT_EQ(ft_expire(&T, "c1"), FLEET_IGNORED); /* the first expire wins */
    KT_ASSERT_INT_EQ(fleet_claims_expired(T.fs, t0 + 900000, out, 4), 0);
    ft_claim(&T, "w2", M, "v2", "c3");
    KT_ASSERT(T.res.granted);
    /* the slow worker finishes after all: the claim stays expired, the fact counts */
    ft_done(&T, "w1", M, "v2", "c1");
    KT_ASSERT_INT_EQ(fleet_claim_find(T.fs, "c1")->status, FLEET_CLAIM_EXPIRED);
    KT_ASSERT_STR_EQ(fleet_worker_version(T.fs, "w1", M), "v2");
    ft_done(&T, "w2", M, "v2", "c3");
    /* w3, w4 crash and the group drops them: departed, left on their behalf */
    const char *members[] = {"w1", "w2"};
    const char *gone[4];
    KT_ASSERT_INT_EQ(fleet_workers_departed(T.fs, members, 2, gone, 4), 2);
    KT_ASSERT_STR_EQ(gone[0], "w3");
    ft_left(&T, "w3");
    KT_ASSERT_INT_EQ(ft_phase(&T, M), FLEET_ROLLING);
    ft_left(&T, "w4");
    KT_ASSERT_INT_EQ(ft_phase(&T, M), FLEET_COMPLETE);
    KT_ASSERT(!fleet_worker_live(T.fs, "w4"));
    /* the enumeration kfleetctl status prints */
    KT_ASSERT_INT_EQ(fleet_worker_count(T.fs), 4);
    struct fleet_worker_info wi;
    KT_ASSERT_INT_EQ(fleet_worker_at(T.fs, 0, &wi), 0);
    KT_ASSERT_STR_EQ(wi.id, "w1");
    KT_ASSERT(wi.live && wi.n_models == 1);
    const char *mname, *mver;
    KT_ASSERT_INT_EQ(fleet_worker_model_at(T.fs, 0, 0, &mname, &mver), 0);
    KT_ASSERT_STR_EQ(mname, M);
    KT_ASSERT_STR_EQ(mver, "v2");
    KT_ASSERT_INT_EQ(fleet_worker_model_at(T.fs, 0, 1, &mname, &mver), -ENOENT);
    KT_ASSERT_INT_EQ(fleet_worker_at(T.fs, 3, &wi), 0);
    KT_ASSERT(!wi.live);
    KT_ASSERT_INT_EQ(fleet_worker_at(T.fs, 4, &wi), -ENOENT);
}

static void test_downgrade_refusal(void)
{
    four_workers_on_v1();
    ft_publish(&T, M, "v2", 2, NULL);
    KT_ASSERT_INT_EQ(ft_publish(&T, M, "v1-replay", 1, NULL), FLEET_IGNORED);
    KT_ASSERT(strstr(T.res.reason, "no downgrade"));
    KT_ASSERT_INT_EQ(ft_publish(&T, M, "v3", 2, NULL), FLEET_IGNORED);
    KT_ASSERT_INT_EQ(ft_publish(&T, M, "v2", 5, NULL), FLEET_IGNORED); /* version exists */
    KT_ASSERT_INT_EQ(ft_publish_unsigned(&T, M, "v9", 9, CTL_SIG_UNSIGNED), FLEET_IGNORED);
    KT_ASSERT_INT_EQ(ft_publish_unsigned(&T, M, "v9", 9, CTL_SIG_UNKNOWN_KEY), FLEET_IGNORED);
    struct fleet_model_info mi;
    fleet_model_get(T.fs, M, &mi);
    KT_ASSERT_STR_EQ(mi.target, "v2");
    KT_ASSERT_INT_EQ(mi.seq, 2);
    /* going back is only by a signed rollback */
    KT_ASSERT_INT_EQ(ft_command(&T, M, CTL_ACTION_ROLLBACK, "v1", CTL_SIG_UNSIGNED), FLEET_IGNORED);
    KT_ASSERT_INT_EQ(ft_command(&T, M, CTL_ACTION_ROLLBACK, "v7", CTL_SIG_OK), FLEET_IGNORED);
    KT_ASSERT_INT_EQ(ft_command(&T, M, CTL_ACTION_ROLLBACK, "v1", CTL_SIG_OK), FLEET_APPLIED);
    KT_ASSERT_INT_EQ(ft_phase(&T, M), FLEET_ROLLED_BACK);
    KT_ASSERT_INT_EQ(ft_publish(&T, M, "v1", 10, NULL), FLEET_IGNORED);
    KT_ASSERT_INT_EQ(ft_publish(&T, M, "v4", 10, NULL), FLEET_APPLIED);
    fleet_model_get(T.fs, M, &mi);
    KT_ASSERT_STR_EQ(mi.previous_good, "v1");
    KT_ASSERT_INT_EQ(mi.seq, 10);
    struct fleet_version_info vi;
    KT_ASSERT_INT_EQ(fleet_version_get(T.fs, M, "v2", &vi), 0);
    KT_ASSERT_INT_EQ(vi.seq, 2);
    KT_ASSERT_INT_EQ(fleet_version_get(T.fs, M, "v9", &vi), -ENOENT);
    /* a reducer that does not require signatures (dev setups) accepts unsigned */
    struct fleet_opts o;
    fleet_opts_default(&o);
    KT_ASSERT(o.require_signatures);
}

static void test_pause_and_plans(void)
{
    four_workers_on_v1();
    ft_publish(&T, M, "v2", 2, NULL);
    struct fleet_plan plan;
    fleet_plan_worker(T.fs, "w9", M, NULL, &plan);
    KT_ASSERT_INT_EQ(plan.action, FLEET_ACT_LOAD);
    KT_ASSERT_STR_EQ(plan.version, "v2");
    fleet_plan_worker(T.fs, "w1", M, "v1", &plan);
    KT_ASSERT_INT_EQ(plan.action, FLEET_ACT_CLAIM);
    fleet_plan_worker(T.fs, "w1", "nope", "v1", &plan);
    KT_ASSERT_INT_EQ(plan.action, FLEET_ACT_NONE);
    ft_claim(&T, "w1", M, "v2", "c1");
    KT_ASSERT_INT_EQ(ft_claim(&T, "w1", M, "v2", "c1"), FLEET_IGNORED); /* duplicate id */
    ft_claim(&T, "w1", M, "v2", "c1b");
    KT_ASSERT(!T.res.granted && strstr(T.res.reason, "already holds"));
    fleet_plan_worker(T.fs, "w2", M, "v1", &plan);
    KT_ASSERT_INT_EQ(plan.action, FLEET_ACT_WAIT);
    ft_command(&T, M, CTL_ACTION_PAUSE, NULL, CTL_SIG_OK);
    fleet_plan_worker(T.fs, "w1", M, "v1", &plan);
    KT_ASSERT_INT_EQ(plan.action, FLEET_ACT_SWAP); /* granted stays granted */
    ft_claim(&T, "w2", M, "v2", "c2");
    KT_ASSERT(!T.res.granted);
    ft_done(&T, "w1", M, "v2", "c1");
    KT_ASSERT_INT_EQ(ft_phase(&T, M), FLEET_PAUSED);
    ft_command(&T, M, CTL_ACTION_RESUME, NULL, CTL_SIG_OK);
    KT_ASSERT_INT_EQ(ft_phase(&T, M), FLEET_ROLLING);
    const char *w[] = {"w2", "w3", "w4"};
    for (int i = 0; i < 3; i++) {
        char id[8];
        snprintf(id, sizeof(id), "d%d", i);
        ft_claim(&T, w[i], M, "v2", id);
        KT_ASSERT(T.res.granted);
        ft_done(&T, w[i], M, "v2", id);
    }
    KT_ASSERT_INT_EQ(ft_phase(&T, M), FLEET_COMPLETE);
    /* a worker that restarts on an old version claims in complete, and is granted */
    ft_joined(&T, "w5", M, "v1");
    ft_claim(&T, "w5", M, "v2", "late");
    KT_ASSERT(T.res.granted);
    /* feeding out of order is refused */
    struct ctl_event ev;
    ctl_event_init(&ev, CTL_WORKER_LEFT);
    strcpy(ev.event_id, "x");
    strcpy(ev.worker, "w5");
    struct fleet_record rec = {.ev = &ev, .offset = 5, .ts_ms = 0};
    KT_ASSERT_INT_EQ(fleet_state_feed(T.fs, &rec, NULL), -EINVAL);
    KT_ASSERT_INT_EQ(fleet_state_feed(T.fs, NULL, NULL), -EINVAL);
}

static void test_replay_agrees(void)
{
    /* The scenario log above, folded again from the start, gives the same state. */
    char *a = ft_dump(T.fs);
    fleet_state *fs = ft_replay(&T, T.n);
    char *b = ft_dump(fs);
    KT_ASSERT_STR_EQ(a, b);
    KT_ASSERT(strstr(a, "\"phase\":\"complete\""));
    free(a);
    free(b);
    fleet_state_free(fs);
}

int main(void)
{
    ft_init(&T);
    KT_RUN(test_phase_names_and_table);
    KT_RUN(test_every_phase_event_pair);
    KT_RUN(test_canary);
    KT_RUN(test_bluegreen);
    KT_RUN(test_health_hold);
    KT_RUN(test_bluegreen_health);
    KT_RUN(test_stall);
    KT_RUN(test_claim_turn);
    KT_RUN(test_bluegreen_rollback_rolling);
    KT_RUN(test_rollback);
    KT_RUN(test_lease_expiry);
    KT_RUN(test_downgrade_refusal);
    KT_RUN(test_pause_and_plans);
    KT_RUN(test_replay_agrees);
    ft_fini(&T);
    return 0;
}
