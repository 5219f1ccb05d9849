/* The health window after a swap (issue 16): the version's error rate and
 * p99 on live traffic since the swap, against this worker's figures before
 * it. A canary's window is its bake (bake_s); every other swap to the target
 * of a rolling update, and every flip at a blue/green cutover, gets
 * strategy.health_s. A breach appends rollout.failed(stage=health) with the
 * figures; the reducer rolls the fleet back by the strategy's own rules. A
 * window that passes appends rollout.healthy, which frees a rolling claim's
 * slot. Rules and their reasons: docs/worker.md, "Health window". */
#include "worker/agent_impl.h"

#include "common/kf_clock.h"
#include "common/kf_log.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

/* A p99 rise smaller than this is not judged, whatever the ratio: on a
 * shared host a request scheduled late moves a small p99 by milliseconds
 * (under ASan on the 2-core CI machine a fine version's p99 went from 0.8 to
 * 6.9 ms in a 2 s window, and other workers' pre-swap p99 was 8.7 ms), and a
 * regression nobody can feel must not roll a fleet back. */
#define HEALTH_P99_FLOOR_US 10000.0
/* Requests enough to judge an error rate before the window ends: a version
 * that fails visibly is stopped at once, not after health_s. */
#define HEALTH_EARLY_REQUESTS 50
/* Latencies enough for a p99 worth comparing. */
#define HEALTH_MIN_SAMPLES 20
/* The first fifth of the window (at most 2 s) is left out of its p99: the
 * swap itself — the first batches on weights not yet in the caches, the old
 * version freed as its last batch returns, a hand-off's backlog after the
 * rejoin — is not the version's steady state. Under ASan one such turn cost
 * 6 ms at p99 in a 2 s window of a version that was fine. Errors count from
 * the swap on. */
#define HEALTH_GRACE_FRACTION 5
#define HEALTH_GRACE_MAX_MS 2000

/* The window's length for a swap to @p version now, 0 for none. */
static uint32_t window_s(const struct fleet_model_info *mi, const char *version, bool *canary)
{
    *canary = mi->phase == FLEET_CANARY;
    if (strcmp(mi->target, version))
        return 0;
    if (*canary)
        return mi->strategy->bake_s;
    bool rolling = mi->phase == FLEET_ROLLING;
    bool cutover = mi->phase == FLEET_COMPLETE && mi->cutover_offset >= 0;
    return rolling || cutover ? mi->strategy->health_s : 0;
}

void agent_health_start(agent *a, struct served_model *sm, const char *version,
                        const char *claim_id)
{
    struct fleet_model_info mi;
    bool canary;
    if (fleet_model_get(control_fleet(a->d.control), sm->name, &mi))
        return;
    uint32_t len = window_s(&mi, version, &canary);
    if (!len)
        return;
    struct model_rollout *mr = agent_rollout(a, sm);
    struct health_watch *w = &mr->watch;
    *w = (struct health_watch){.on = true, .canary = canary, .len_s = len};
    snprintf(w->version, sizeof(w->version), "%s", version);
    snprintf(w->claim_id, sizeof(w->claim_id), "%s", claim_id ? claim_id : "");
    w->baseline_p99_us = health_p99(&sm->health, true);
    w->start = health_counts(&sm->health);
    w->until_ms = kf_clock_wall_ms() + (int64_t)len * 1000;
    int64_t grace = (int64_t)len * 1000 / HEALTH_GRACE_FRACTION;
    w->grace_until_ms =
        kf_clock_wall_ms() + (grace < HEALTH_GRACE_MAX_MS ? grace : HEALTH_GRACE_MAX_MS);
    KF_LOG_I("agent", "%s %s: %s for %u s (baseline p99 %.0f us, error rate %.4f)", sm->name,
             version, canary ? "canary bake" : "health window", len, w->baseline_p99_us,
             w->start.requests ? (double)w->start.errors / (double)w->start.requests : 0.0);
}

struct verdict {
    uint64_t requests, errors;
    double error_rate, baseline_error_rate, p99_us, ratio;
    bool errors_bad, latency_bad;
};

static void judge(const struct health_watch *w, const struct ctl_strategy *st,
                  struct health_counts now, size_t samples, double p99_us, struct verdict *v)
{
    *v = (struct verdict){.requests = now.requests - w->start.requests,
                          .errors = now.errors - w->start.errors,
                          .p99_us = p99_us};
    v->error_rate = v->requests ? (double)v->errors / (double)v->requests : 0;
    /* Against the worker's own rate before the swap: a client that keeps
     * sending requests the model rejects is not the new version's fault. */
    v->baseline_error_rate =
        w->start.requests ? (double)w->start.errors / (double)w->start.requests : 0;
    v->errors_bad = v->error_rate > v->baseline_error_rate + st->max_error_rate;
    v->ratio = w->baseline_p99_us > 0 ? p99_us / w->baseline_p99_us : 1;
    v->latency_bad = samples >= HEALTH_MIN_SAMPLES && w->baseline_p99_us > 0 &&
                     v->ratio > st->max_p99_ratio &&
                     p99_us - w->baseline_p99_us >= HEALTH_P99_FLOOR_US;
}

static void emit_healthy(agent *a, struct served_model *sm, const struct health_watch *w,
                         const struct verdict *v)
{
    struct ctl_event ev;
    ctl_event_init(&ev, CTL_ROLLOUT_HEALTHY);
    snprintf(ev.worker, sizeof(ev.worker), "%s", a->d.cfg->id);
    snprintf(ev.model, sizeof(ev.model), "%s", sm->name);
    snprintf(ev.version, sizeof(ev.version), "%s", w->version);
    ev.metrics = (struct ctl_metrics){.requests = v->requests,
                                      .errors = v->errors,
                                      .p99_us = (uint64_t)v->p99_us,
                                      .baseline_p99_us = (uint64_t)w->baseline_p99_us};
    control_emit(a->d.control, &ev);
}

/* Every turn while a window is open: a breach as soon as it shows (errors
 * after HEALTH_EARLY_REQUESTS; latency at the end, when the window holds
 * enough of it), healthy at the end. Errors include answers with non-finite
 * outputs (NaN/Inf), which golden vectors may not reveal. */
void agent_health_check(agent *a, struct served_model *sm)
{
    struct health_watch *w = &agent_rollout(a, sm)->watch;
    if (!w->on)
        return;
    struct fleet_model_info mi;
    if (fleet_model_get(control_fleet(a->d.control), sm->name, &mi) ||
        strcmp(mi.target, w->version)) {
        w->on = false; /* the rollout moved on meanwhile */
        return;
    }
    if (w->grace_until_ms && kf_clock_wall_ms() >= w->grace_until_ms) {
        health_p99(&sm->health, true); /* the swap's own latencies go */
        w->grace_until_ms = 0;
    }
    struct health_counts now = health_counts(&sm->health);
    bool over = kf_clock_wall_ms() >= w->until_ms;
    bool early = now.requests - w->start.requests >= HEALTH_EARLY_REQUESTS;
    if (!over && !early)
        return;
    size_t samples = 0;
    double p99 = over ? health_p99_n(&sm->health, &samples) : 0; /* a sort: at the end only */
    struct verdict v;
    judge(w, mi.strategy, now, samples, p99, &v);
    if (!over && !v.errors_bad)
        return;
    if (over && v.requests == 0 && w->canary) {
        /* No traffic, no verdict: a canary that served nothing is not healthy
         * by default. Bake on until requests arrive (or the rollout moves on).
         * Outside a canary no traffic means nothing against the version: an
         * idle fleet must still be able to roll. */
        w->until_ms = kf_clock_wall_ms() + (int64_t)w->len_s * 1000;
        KF_LOG_I("agent", "%s %s: no requests during the bake yet; baking on", sm->name,
                 w->version);
        return;
    }
    w->on = false;
    char why[CTL_REASON_CAP], latency[160] = "p99 not judged before the window's end";
    if (over)
        snprintf(latency, sizeof(latency),
                 "p99 %.1f ms = %.2fx the %.1f ms before (max %.2fx, +%.0f ms)", v.p99_us / 1e3,
                 v.ratio, w->baseline_p99_us / 1e3, mi.strategy->max_p99_ratio,
                 HEALTH_P99_FLOOR_US / 1e3);
    snprintf(why, sizeof(why),
             "health: %" PRIu64 " requests in %.1f s; error rate %.4f (before %.4f, max +%.4f); %s",
             v.requests,
             (double)(kf_clock_wall_ms() - (w->until_ms - (int64_t)w->len_s * 1000)) / 1e3,
             v.error_rate, v.baseline_error_rate, mi.strategy->max_error_rate, latency);
    if (v.errors_bad || v.latency_bad) {
        KF_LOG_W("agent", "%s %s unhealthy: %s", sm->name, w->version, why);
        agent_emit_failed(a, sm, w->version, w->claim_id[0] ? w->claim_id : NULL, CTL_STAGE_HEALTH,
                          why);
        return;
    }
    KF_LOG_I("agent", "%s %s healthy: %s", sm->name, w->version, why);
    emit_healthy(a, sm, w, &v);
}
