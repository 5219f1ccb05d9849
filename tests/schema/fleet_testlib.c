#include "tests/schema/fleet_testlib.h"

#include "tests/lib/kf_test.h"

#include <stdio.h>

static void quiet(void *opaque, enum kf_log_level level, const char *line)
{
    (void)opaque;
    (void)level;
    (void)line;
}

static fleet_state *new_state(void)
{
    struct fleet_opts o;
    fleet_opts_default(&o);
    o.log = quiet;
    fleet_state *fs = fleet_state_new(&o);
    KT_ASSERT(fs);
    return fs;
}

void ft_init(struct ft *t)
{
    memset(t, 0, sizeof(*t));
    t->fs = new_state();
    t->offset = 100;
    t->ts_ms = 1000000;
}

void ft_fini(struct ft *t)
{
    fleet_state_free(t->fs);
    t->fs = NULL;
}

enum fleet_verdict ft_feed(struct ft *t, const struct ctl_event *ev, enum ctl_sig_verdict sig)
{
    kf_buf b;
    kf_buf_init(&b);
    char err[256] = "";
    KT_ASSERT_MSG(ctl_event_encode(ev, &b, err, sizeof(err)) == 0, "encode: %s", err);
    struct ctl_event back;
    KT_ASSERT_MSG(ctl_event_decode(b.ptr, b.len, &back, err, sizeof(err)) == 0, "decode: %s", err);
    kf_buf_fini(&b);
    KT_ASSERT(t->n < sizeof(t->log) / sizeof(t->log[0]));
    t->log[t->n] = back;
    t->sigs[t->n] = sig;
    t->tss[t->n] = t->ts_ms;
    t->n++;
    struct fleet_record rec = {.ev = &back, .offset = t->offset++, .ts_ms = t->ts_ms, .sig = sig};
    t->ts_ms += 10;
    KT_ASSERT_INT_EQ(fleet_state_feed(t->fs, &rec, &t->res), 0);
    /* Every transition the reducer makes is in the table; refusals change no phase. */
    KT_ASSERT_MSG(fleet_transition_is_valid(t->res.from, t->res.to), "%s -> %s",
                  fleet_phase2str(t->res.from), fleet_phase2str(t->res.to));
    if (t->res.verdict != FLEET_APPLIED)
        KT_ASSERT_MSG(t->res.from == t->res.to, "%s changed the phase: %s",
                      fleet_verdict2str(t->res.verdict), t->res.reason);
    return t->res.verdict;
}

static void base(struct ctl_event *ev, enum ctl_type type, const char *worker, const char *model,
                 const char *version)
{
    static unsigned long long n;
    ctl_event_init(ev, type);
    snprintf(ev->event_id, sizeof(ev->event_id), "e%llu", ++n);
    if (worker)
        snprintf(ev->worker, sizeof(ev->worker), "%s", worker);
    if (model)
        snprintf(ev->model, sizeof(ev->model), "%s", model);
    if (version)
        snprintf(ev->version, sizeof(ev->version), "%s", version);
}

static void pub_event(struct ctl_event *ev, const char *model, const char *version, uint64_t seq,
                      const struct ft_pub *p)
{
    base(ev, CTL_MODEL_PUBLISHED, NULL, model, version);
    ev->seq = seq;
    snprintf(ev->manifest.bucket, sizeof(ev->manifest.bucket), "b");
    snprintf(ev->manifest.key, sizeof(ev->manifest.key), "models/%s/%s/manifest.json", model,
             version);
    memset(ev->manifest.sha256, 'a', 64);
    ev->manifest.sha256[0] = (char)('0' + seq % 10);
    ev->manifest.size = 100;
    ev->strategy.health_s = p ? p->health_s : 0;
    if (p && p->stall_s)
        ev->strategy.stall_s = p->stall_s;
    if (p) {
        ev->strategy.kind = p->kind;
        if (p->max_unavailable)
            ev->strategy.max_unavailable = p->max_unavailable;
        if (p->canary_workers)
            ev->strategy.canary_workers = p->canary_workers;
        if (p->lease_s)
            ev->strategy.lease_s = p->lease_s;
        ev->strategy.auto_rollback = !p->no_auto_rollback;
        ev->strategy.auto_promote = !p->no_auto_promote;
    }
}

enum fleet_verdict ft_publish(struct ft *t, const char *model, const char *version, uint64_t seq,
                              const struct ft_pub *p)
{
    struct ctl_event ev;
    pub_event(&ev, model, version, seq, p);
    return ft_feed(t, &ev, CTL_SIG_OK);
}

enum fleet_verdict ft_publish_unsigned(struct ft *t, const char *model, const char *version,
                                       uint64_t seq, enum ctl_sig_verdict sig)
{
    struct ctl_event ev;
    pub_event(&ev, model, version, seq, NULL);
    return ft_feed(t, &ev, sig);
}

enum fleet_verdict ft_command(struct ft *t, const char *model, enum ctl_action a,
                              const char *version, enum ctl_sig_verdict sig)
{
    struct ctl_event ev;
    base(&ev, CTL_ROLLOUT_COMMAND, NULL, model, version);
    ev.action = a;
    snprintf(ev.reason, sizeof(ev.reason), "test");
    return ft_feed(t, &ev, sig);
}

enum fleet_verdict ft_joined(struct ft *t, const char *worker, const char *model,
                             const char *version)
{
    struct ctl_event ev;
    base(&ev, CTL_WORKER_JOINED, worker, NULL, NULL);
    snprintf(ev.backend, sizeof(ev.backend), "ref");
    if (model) {
        ev.n_models = 1;
        snprintf(ev.models[0].model, CTL_NAME_CAP, "%s", model);
        snprintf(ev.models[0].version, CTL_NAME_CAP, "%s", version ? version : "");
    }
    return ft_feed(t, &ev, CTL_SIG_UNSIGNED);
}

enum fleet_verdict ft_left(struct ft *t, const char *worker)
{
    struct ctl_event ev;
    base(&ev, CTL_WORKER_LEFT, worker, NULL, NULL);
    return ft_feed(t, &ev, CTL_SIG_UNSIGNED);
}

enum fleet_verdict ft_claim(struct ft *t, const char *worker, const char *model,
                            const char *version, const char *claim_id)
{
    struct ctl_event ev;
    base(&ev, CTL_ROLLOUT_CLAIM, worker, model, version);
    snprintf(ev.claim_id, sizeof(ev.claim_id), "%s", claim_id);
    return ft_feed(t, &ev, CTL_SIG_UNSIGNED);
}

enum fleet_verdict ft_staged(struct ft *t, const char *worker, const char *model,
                             const char *version)
{
    struct ctl_event ev;
    base(&ev, CTL_ROLLOUT_STAGED, worker, model, version);
    return ft_feed(t, &ev, CTL_SIG_UNSIGNED);
}

enum fleet_verdict ft_cutover(struct ft *t, const char *model, const char *version)
{
    struct ctl_event ev;
    base(&ev, CTL_ROLLOUT_CUTOVER, "w-any", model, version);
    return ft_feed(t, &ev, CTL_SIG_UNSIGNED);
}

enum fleet_verdict ft_done(struct ft *t, const char *worker, const char *model, const char *version,
                           const char *claim_id)
{
    struct ctl_event ev;
    base(&ev, CTL_ROLLOUT_DONE, worker, model, version);
    if (claim_id)
        snprintf(ev.claim_id, sizeof(ev.claim_id), "%s", claim_id);
    ev.mode = claim_id ? CTL_MODE_INPLACE : CTL_MODE_CUTOVER;
    return ft_feed(t, &ev, CTL_SIG_UNSIGNED);
}

enum fleet_verdict ft_failed(struct ft *t, const char *worker, const char *model,
                             const char *version, const char *claim_id)
{
    struct ctl_event ev;
    base(&ev, CTL_ROLLOUT_FAILED, worker, model, version);
    if (claim_id)
        snprintf(ev.claim_id, sizeof(ev.claim_id), "%s", claim_id);
    ev.stage = CTL_STAGE_VALIDATE;
    snprintf(ev.reason, sizeof(ev.reason), "golden mismatch");
    return ft_feed(t, &ev, CTL_SIG_UNSIGNED);
}

enum fleet_verdict ft_unhealthy(struct ft *t, const char *worker, const char *model,
                                const char *version)
{
    struct ctl_event ev;
    base(&ev, CTL_ROLLOUT_FAILED, worker, model, version);
    ev.stage = CTL_STAGE_HEALTH;
    snprintf(ev.reason, sizeof(ev.reason), "health: error rate 0.2 (max 0.01)");
    return ft_feed(t, &ev, CTL_SIG_UNSIGNED);
}

void ft_wait(struct ft *t, int64_t ms)
{
    t->ts_ms += ms;
}

enum fleet_verdict ft_healthy(struct ft *t, const char *worker, const char *model,
                              const char *version)
{
    struct ctl_event ev;
    base(&ev, CTL_ROLLOUT_HEALTHY, worker, model, version);
    return ft_feed(t, &ev, CTL_SIG_UNSIGNED);
}

enum fleet_verdict ft_expire(struct ft *t, const char *claim_id)
{
    struct ctl_event ev;
    base(&ev, CTL_ROLLOUT_EXPIRE, "w-any", NULL, NULL);
    snprintf(ev.claim_id, sizeof(ev.claim_id), "%s", claim_id);
    return ft_feed(t, &ev, CTL_SIG_UNSIGNED);
}

enum fleet_phase ft_phase(const struct ft *t, const char *model)
{
    struct fleet_model_info mi;
    return fleet_model_get(t->fs, model, &mi) ? FLEET_IDLE : mi.phase;
}

char *ft_dump(const fleet_state *fs)
{
    kf_buf b;
    kf_buf_init(&b);
    KT_ASSERT_INT_EQ(fleet_state_dump(fs, &b), 0);
    KT_ASSERT_INT_EQ(kf_buf_append(&b, "", 1), 0);
    return (char *)kf_buf_steal(&b, NULL);
}

fleet_state *ft_replay(const struct ft *t, size_t n)
{
    fleet_state *fs = new_state();
    for (size_t i = 0; i < n; i++) {
        struct fleet_record rec = {
            .ev = &t->log[i], .offset = 100 + (int64_t)i, .ts_ms = t->tss[i], .sig = t->sigs[i]};
        KT_ASSERT_INT_EQ(fleet_state_feed(fs, &rec, NULL), 0);
    }
    return fs;
}
