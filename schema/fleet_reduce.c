/* The reducer: one handler per event type. Each handler checks everything
 * first and mutates only when the event will be applied, so an ignored or
 * invalid event leaves no trace but its result and log line. */
#include "schema/fleet_impl.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void fleet_opts_default(struct fleet_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->require_signatures = true;
}

fleet_state *fleet_state_new(const struct fleet_opts *opts)
{
    fleet_state *fs = calloc(1, sizeof(*fs));
    if (!fs)
        return NULL;
    if (opts)
        fs->opts = *opts;
    else
        fleet_opts_default(&fs->opts);
    fs->last_offset = -1;
    return fs;
}

void fleet_state_free(fleet_state *fs)
{
    if (!fs)
        return;
    for (size_t i = 0; i < fs->n_models; i++) {
        free(fs->models[i].claims);
        free(fs->models[i].staged);
        free(fs->models[i].healthy);
        free(fs->models[i].versions);
    }
    for (size_t i = 0; i < fs->n_workers; i++)
        free(fs->workers[i].models);
    free(fs->models);
    free(fs->workers);
    free(fs);
}

int64_t fleet_state_last_offset(const fleet_state *fs)
{
    return fs->last_offset;
}

/* ---- lookups ---- */

struct fleet_model *fleet_model_find(const fleet_state *fs, const char *name)
{
    for (size_t i = 0; i < fs->n_models; i++)
        if (!strcmp(fs->models[i].name, name))
            return &fs->models[i];
    return NULL;
}

struct fleet_worker *fleet_worker_find(const fleet_state *fs, const char *id)
{
    for (size_t i = 0; i < fs->n_workers; i++)
        if (!strcmp(fs->workers[i].id, id))
            return &fs->workers[i];
    return NULL;
}

size_t fleet_active_claims(const struct fleet_model *m)
{
    size_t n = 0;
    for (size_t i = 0; i < m->n_claims; i++)
        n += m->claims[i].status == FLEET_CLAIM_ACTIVE;
    return n;
}

const char *fleet_worker_model_version(const struct fleet_worker *w, const char *model)
{
    for (size_t i = 0; w && i < w->n_models; i++)
        if (!strcmp(w->models[i].model, model))
            return w->models[i].version;
    return NULL;
}

static struct fleet_claim *claim_find(const fleet_state *fs, const char *claim_id)
{
    for (size_t i = 0; i < fs->n_models; i++)
        for (size_t k = 0; k < fs->models[i].n_claims; k++)
            if (!strcmp(fs->models[i].claims[k].claim_id, claim_id))
                return &fs->models[i].claims[k];
    return NULL;
}

static const struct fleet_version *version_find(const struct fleet_model *m, const char *v)
{
    for (size_t i = 0; i < m->n_versions; i++)
        if (!strcmp(m->versions[i].version, v))
            return &m->versions[i];
    return NULL;
}

static bool name_in(const struct fleet_name *set, size_t n, const char *s)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(set[i].s, s))
            return true;
    return false;
}

static int name_add(struct fleet_name **set, size_t *n, size_t *cap, const char *s)
{
    if (name_in(*set, *n, s))
        return 0;
    if (fleet_grow((void **)set, cap, *n, sizeof(**set)))
        return -ENOMEM;
    snprintf((*set)[(*n)++].s, CTL_NAME_CAP, "%s", s);
    return 0;
}

/* ---- the context of one fed record ---- */

struct feed {
    fleet_state *fs;
    const struct fleet_record *rec;
    const struct ctl_event *ev;
    struct fleet_result *res;
    const char *subject; /* the model res->from/to describe; NULL until known */
    int err;             /* -ENOMEM sticks here */
};

static void result(struct feed *f, enum fleet_verdict v, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void result(struct feed *f, enum fleet_verdict v, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(f->res->reason, sizeof(f->res->reason), fmt, ap);
    va_end(ap);
    f->res->verdict = v;
    if (v == FLEET_APPLIED)
        return;
    struct fleet_model *m = fleet_model_find(f->fs, f->ev->model);
    if (m)
        v == FLEET_IGNORED ? m->n_ignored++ : m->n_invalid++;
    enum kf_log_level lvl =
        v == FLEET_INVALID || ctl_type_needs_signature(f->ev->type) ? KF_LOG_WARN : KF_LOG_DEBUG;
    fleet_logf(f->fs, lvl, "offset %lld: %s %s %s: %s", (long long)f->rec->offset,
               fleet_verdict2str(v), ctl_type2str(f->ev->type), f->ev->event_id, f->res->reason);
}

/* The one place a phase changes. The caller has checked validity with
 * can_move() before mutating anything else. */
static void set_phase(struct feed *f, struct fleet_model *m, enum fleet_phase next, const char *why)
{
    if (m->phase == next)
        return;
    fleet_logf(f->fs, KF_LOG_INFO, "model %s: %s -> %s at offset %lld (%s)", m->name,
               fleet_phase2str(m->phase), fleet_phase2str(next), (long long)f->rec->offset, why);
    /* Events without a model (worker.joined/left, expire) report the first
     * model whose phase they changed. */
    if (!f->subject) {
        f->subject = m->name;
        f->res->from = m->phase;
    }
    if (!strcmp(f->subject, m->name))
        f->res->to = next;
    m->phase = next;
    m->phase_offset = f->rec->offset;
}

/* Invalid transitions are reported, never applied. */
static bool can_move(struct feed *f, struct fleet_model *m, enum fleet_phase next)
{
    if (fleet_transition_is_valid(m->phase, next))
        return true;
    result(f, FLEET_INVALID, "%s: %s -> %s is not a valid transition", m->name,
           fleet_phase2str(m->phase), fleet_phase2str(next));
    return false;
}

static struct fleet_worker *worker_upsert(struct feed *f, const char *id)
{
    fleet_state *fs = f->fs;
    struct fleet_worker *w = fleet_worker_find(fs, id);
    if (!w) {
        if (fleet_grow((void **)&fs->workers, &fs->cap_workers, fs->n_workers,
                       sizeof(*fs->workers))) {
            f->err = -ENOMEM;
            return NULL;
        }
        w = &fs->workers[fs->n_workers++];
        snprintf(w->id, sizeof(w->id), "%s", id);
    }
    w->live = true;
    w->last_offset = f->rec->offset;
    return w;
}

static void worker_set_version(struct feed *f, struct fleet_worker *w, const char *model,
                               const char *version)
{
    for (size_t i = 0; i < w->n_models; i++) {
        if (!strcmp(w->models[i].model, model)) {
            snprintf(w->models[i].version, CTL_NAME_CAP, "%s", version);
            return;
        }
    }
    if (fleet_grow((void **)&w->models, &w->cap_models, w->n_models, sizeof(*w->models))) {
        f->err = -ENOMEM;
        return;
    }
    snprintf(w->models[w->n_models].model, CTL_NAME_CAP, "%s", model);
    snprintf(w->models[w->n_models].version, CTL_NAME_CAP, "%s", version);
    w->n_models++;
}

static void reset_rollout_sets(struct fleet_model *m)
{
    m->n_staged = m->n_healthy = 0;
    m->cutover_offset = -1;
}

/* rolling -> complete once no claim is active and every live worker that
 * serves the model runs the target (and there is at least one). */
static void maybe_complete(struct feed *f, struct fleet_model *m)
{
    if (m->phase != FLEET_ROLLING || !m->target[0] || fleet_active_claims(m))
        return;
    size_t on_target = 0;
    for (size_t i = 0; i < f->fs->n_workers; i++) {
        const struct fleet_worker *w = &f->fs->workers[i];
        const char *v = w->live ? fleet_worker_model_version(w, m->name) : NULL;
        if (!v)
            continue;
        if (strcmp(v, m->target))
            return;
        on_target++;
    }
    if (on_target && can_move(f, m, FLEET_COMPLETE))
        set_phase(f, m, FLEET_COMPLETE, "every live worker runs the target");
}

static void maybe_complete_all(struct feed *f)
{
    for (size_t i = 0; i < f->fs->n_models; i++)
        maybe_complete(f, &f->fs->models[i]);
}

/* canary -> rolling after canary_workers healthy reports (auto_promote). */
static void maybe_promote(struct feed *f, struct fleet_model *m)
{
    if (m->phase != FLEET_CANARY || !m->strategy.auto_promote ||
        m->n_healthy < m->strategy.canary_workers)
        return;
    if (can_move(f, m, FLEET_ROLLING))
        set_phase(f, m, FLEET_ROLLING, "canary healthy");
    maybe_complete(f, m);
}

/* Where a halt should resume to. */
static enum fleet_phase active_phase(const struct fleet_model *m)
{
    return m->phase == FLEET_PAUSED ? m->resume_phase : m->phase;
}

static enum fleet_phase strategy_phase(const struct ctl_strategy *st)
{
    switch (st->kind) {
    case CTL_STRATEGY_CANARY: return FLEET_CANARY;
    case CTL_STRATEGY_BLUEGREEN: return FLEET_STAGING;
    default: return FLEET_ROLLING;
    }
}

static void set_target(struct fleet_model *m, const struct fleet_version *v)
{
    snprintf(m->target, sizeof(m->target), "%s", v->version);
    m->manifest = v->manifest;
}

/* ---- handlers ---- */

static bool signed_ok(struct feed *f)
{
    if (!f->fs->opts.require_signatures || f->rec->sig == CTL_SIG_OK)
        return true;
    result(f, FLEET_IGNORED, "operator event not trusted: signature %s",
           ctl_sig_verdict2str(f->rec->sig));
    return false;
}

static void on_published(struct feed *f)
{
    const struct ctl_event *ev = f->ev;
    fleet_state *fs = f->fs;
    if (!signed_ok(f))
        return;
    struct fleet_model *m = fleet_model_find(fs, ev->model);
    if (m && ev->seq <= m->seq) {
        result(f, FLEET_IGNORED, "%s %s: seq %llu is not above %llu (no downgrade by replay)",
               ev->model, ev->version, (unsigned long long)ev->seq, (unsigned long long)m->seq);
        return;
    }
    if (m && version_find(m, ev->version)) {
        result(f, FLEET_IGNORED, "%s %s: version already published", ev->model, ev->version);
        return;
    }
    if (!m) {
        if (fleet_grow((void **)&fs->models, &fs->cap_models, fs->n_models, sizeof(*fs->models))) {
            f->err = -ENOMEM;
            return;
        }
        m = &fs->models[fs->n_models++];
        snprintf(m->name, sizeof(m->name), "%s", ev->model);
        m->phase = m->resume_phase = FLEET_IDLE;
        m->phase_offset = m->cutover_offset = -1;
        f->res->from = f->res->to = FLEET_IDLE;
    }
    enum fleet_phase next = strategy_phase(&ev->strategy);
    if (!can_move(f, m, next))
        return;
    if (fleet_grow((void **)&m->versions, &m->cap_versions, m->n_versions, sizeof(*m->versions))) {
        f->err = -ENOMEM;
        return;
    }
    struct fleet_version *v = &m->versions[m->n_versions++];
    snprintf(v->version, sizeof(v->version), "%s", ev->version);
    v->seq = ev->seq;
    v->offset = f->rec->offset;
    v->manifest = ev->manifest;
    v->strategy = ev->strategy;
    /* A finished rollout (or a finished rollback) proved its target good. */
    if (m->phase == FLEET_COMPLETE || m->phase == FLEET_ROLLED_BACK)
        snprintf(m->previous_good, sizeof(m->previous_good), "%s", m->target);
    set_target(m, v);
    m->seq = ev->seq;
    m->strategy = ev->strategy;
    m->halt_reason[0] = '\0';
    reset_rollout_sets(m);
    set_phase(f, m, next, "model.published");
    m->resume_phase = next;
    result(f, FLEET_APPLIED, "%s: target %s (seq %llu, %s)", m->name, m->target,
           (unsigned long long)m->seq, ctl_strategy_kind2str(m->strategy.kind));
    if (next == FLEET_ROLLING)
        maybe_complete(f, m);
}

static void on_command(struct feed *f)
{
    const struct ctl_event *ev = f->ev;
    if (!signed_ok(f))
        return;
    struct fleet_model *m = fleet_model_find(f->fs, ev->model);
    if (!m) {
        result(f, FLEET_IGNORED, "unknown model %s", ev->model);
        return;
    }
    const char *act = ctl_action2str(ev->action);
    if (ev->action != CTL_ACTION_ROLLBACK && ev->version[0] && strcmp(ev->version, m->target)) {
        result(f, FLEET_IGNORED, "%s for version %s, but the target is %s", act, ev->version,
               m->target);
        return;
    }
    enum fleet_phase cur = m->phase, next;
    switch (ev->action) {
    case CTL_ACTION_PROMOTE:
        if (cur != FLEET_CANARY) {
            result(f, FLEET_INVALID, "promote needs phase canary, not %s", fleet_phase2str(cur));
            return;
        }
        set_phase(f, m, FLEET_ROLLING, "signed promote");
        m->resume_phase = FLEET_ROLLING;
        result(f, FLEET_APPLIED, "%s promoted", m->name);
        maybe_complete(f, m);
        return;
    case CTL_ACTION_PAUSE:
        if (cur != FLEET_ROLLING && cur != FLEET_CANARY && cur != FLEET_STAGING &&
            cur != FLEET_ROLLED_BACK) {
            result(f, FLEET_INVALID, "pause needs a rollout in progress, phase is %s",
                   fleet_phase2str(cur));
            return;
        }
        m->resume_phase = cur;
        set_phase(f, m, FLEET_PAUSED, "signed pause");
        result(f, FLEET_APPLIED, "%s paused", m->name);
        return;
    case CTL_ACTION_RESUME:
        if (cur != FLEET_PAUSED && cur != FLEET_HALTED) {
            result(f, FLEET_INVALID, "resume needs phase paused or halted, not %s",
                   fleet_phase2str(cur));
            return;
        }
        next = m->resume_phase;
        if (!can_move(f, m, next))
            return;
        m->halt_reason[0] = '\0';
        set_phase(f, m, next, "signed resume");
        result(f, FLEET_APPLIED, "%s resumed", m->name);
        maybe_promote(f, m);
        maybe_complete(f, m);
        return;
    case CTL_ACTION_ABORT:
        if (cur != FLEET_ROLLING && cur != FLEET_CANARY && cur != FLEET_STAGING &&
            cur != FLEET_PAUSED && cur != FLEET_ROLLED_BACK) {
            result(f, FLEET_INVALID, "abort needs a rollout in progress, phase is %s",
                   fleet_phase2str(cur));
            return;
        }
        m->resume_phase = active_phase(m);
        snprintf(m->halt_reason, sizeof(m->halt_reason), "aborted: %.400s",
                 ev->reason[0] ? ev->reason : "operator");
        set_phase(f, m, FLEET_HALTED, "signed abort");
        result(f, FLEET_APPLIED, "%s aborted", m->name);
        return;
    case CTL_ACTION_ROLLBACK: {
        const char *to = ev->version[0] ? ev->version : m->previous_good;
        if (!to[0]) {
            result(f, FLEET_INVALID, "rollback: no previous good version");
            return;
        }
        const struct fleet_version *v = version_find(m, to);
        if (!v) {
            result(f, FLEET_IGNORED, "rollback to %s: no such published version", to);
            return;
        }
        if (!strcmp(to, m->target)) {
            result(f, FLEET_INVALID, "rollback to %s: it is already the target", to);
            return;
        }
        if (!can_move(f, m, FLEET_ROLLED_BACK))
            return;
        snprintf(m->halt_reason, sizeof(m->halt_reason), "rolled back from %s: %.300s", m->target,
                 ev->reason[0] ? ev->reason : "operator");
        set_target(m, v);
        reset_rollout_sets(m);
        m->resume_phase = FLEET_ROLLED_BACK;
        set_phase(f, m, FLEET_ROLLED_BACK, "signed rollback");
        result(f, FLEET_APPLIED, "%s rolled back to %s", m->name, m->target);
        return;
    }
    }
    result(f, FLEET_INVALID, "unknown action");
}

static void on_joined(struct feed *f)
{
    const struct ctl_event *ev = f->ev;
    struct fleet_worker *w = worker_upsert(f, ev->worker);
    if (!w)
        return;
    snprintf(w->host, sizeof(w->host), "%s", ev->host);
    snprintf(w->backend, sizeof(w->backend), "%s", ev->backend);
    snprintf(w->device, sizeof(w->device), "%s", ev->device);
    w->free_memory = ev->free_memory;
    for (size_t i = 0; i < ev->n_models && i < CTL_MAX_MODELS; i++)
        worker_set_version(f, w, ev->models[i].model, ev->models[i].version);
    result(f, FLEET_APPLIED, "worker %s joined", w->id);
    maybe_complete_all(f);
}

static void on_left(struct feed *f)
{
    struct fleet_worker *w = fleet_worker_find(f->fs, f->ev->worker);
    if (!w || !w->live) {
        result(f, FLEET_IGNORED, "worker %s is not live", f->ev->worker);
        return;
    }
    w->live = false;
    w->last_offset = f->rec->offset;
    result(f, FLEET_APPLIED, "worker %s left", w->id);
    maybe_complete_all(f);
}

/* Decided once, here, from the log prefix: every reader agrees. */
static const char *claim_refusal(const fleet_state *fs, const struct fleet_model *m,
                                 const struct ctl_event *ev)
{
    switch (m->phase) {
    case FLEET_ROLLING:
    case FLEET_CANARY:
    case FLEET_ROLLED_BACK:
    case FLEET_COMPLETE: break;
    case FLEET_STAGING: return "blue/green stages without claims";
    default: return "the phase takes no claims";
    }
    if (strcmp(ev->version, m->target))
        return "not the target version";
    const char *cur = fleet_worker_model_version(fleet_worker_find(fs, ev->worker), m->name);
    if (cur && !strcmp(cur, m->target))
        return "the worker already runs the target";
    size_t active = 0, canary_taken = 0;
    for (size_t i = 0; i < m->n_claims; i++) {
        const struct fleet_claim *c = &m->claims[i];
        if (c->status == FLEET_CLAIM_ACTIVE) {
            if (!strcmp(c->worker, ev->worker))
                return "the worker already holds an active claim";
            active++;
        }
        if (c->granted && !strcmp(c->version, m->target) &&
            (c->status == FLEET_CLAIM_ACTIVE || c->status == FLEET_CLAIM_DONE))
            canary_taken++;
    }
    bool unlimited = m->strategy.kind == CTL_STRATEGY_ALL;
    if (!unlimited && active >= m->strategy.max_unavailable)
        return "max_unavailable claims are active";
    if (m->phase == FLEET_CANARY && canary_taken >= m->strategy.canary_workers)
        return "the canary slots are taken";
    return NULL;
}

static void on_claim(struct feed *f)
{
    const struct ctl_event *ev = f->ev;
    struct fleet_model *m = fleet_model_find(f->fs, ev->model);
    if (!m) {
        result(f, FLEET_IGNORED, "unknown model %s", ev->model);
        return;
    }
    if (claim_find(f->fs, ev->claim_id)) {
        result(f, FLEET_IGNORED, "duplicate claim_id %s", ev->claim_id);
        return;
    }
    const char *why = claim_refusal(f->fs, m, ev);
    if (!worker_upsert(f, ev->worker) ||
        fleet_grow((void **)&m->claims, &m->cap_claims, m->n_claims, sizeof(*m->claims))) {
        f->err = -ENOMEM;
        return;
    }
    struct fleet_claim *c = &m->claims[m->n_claims++];
    memset(c, 0, sizeof(*c));
    snprintf(c->claim_id, sizeof(c->claim_id), "%s", ev->claim_id);
    snprintf(c->worker, sizeof(c->worker), "%s", ev->worker);
    snprintf(c->model, sizeof(c->model), "%s", ev->model);
    snprintf(c->version, sizeof(c->version), "%s", ev->version);
    c->offset = f->rec->offset;
    c->ts_ms = f->rec->ts_ms;
    c->lease_ms = (int64_t)m->strategy.lease_s * 1000;
    c->end_offset = -1;
    c->granted = !why;
    c->status = why ? FLEET_CLAIM_REFUSED : FLEET_CLAIM_ACTIVE;
    snprintf(c->why, sizeof(c->why), "%s", why ? why : "");
    f->res->granted = c->granted;
    result(f, FLEET_APPLIED, "claim %s by %s for %s %s: %s%s", c->claim_id, c->worker, c->model,
           c->version, why ? "refused, " : "granted", why ? why : "");
    if (!why)
        fleet_logf(f->fs, KF_LOG_INFO, "%s", f->res->reason);
}

static void on_staged(struct feed *f)
{
    const struct ctl_event *ev = f->ev;
    struct fleet_model *m = fleet_model_find(f->fs, ev->model);
    if (!m || strcmp(ev->version, m->target)) {
        result(f, FLEET_IGNORED, "%s %s is not the target", ev->model, ev->version);
        return;
    }
    if (active_phase(m) != FLEET_STAGING) {
        result(f, FLEET_IGNORED, "%s is not staging (phase %s)", m->name,
               fleet_phase2str(m->phase));
        return;
    }
    if (!worker_upsert(f, ev->worker) ||
        name_add(&m->staged, &m->n_staged, &m->cap_staged, ev->worker)) {
        f->err = -ENOMEM;
        return;
    }
    result(f, FLEET_APPLIED, "%s staged %s %s (%zu staged)", ev->worker, m->name, m->target,
           m->n_staged);
}

static void on_cutover(struct feed *f)
{
    const struct ctl_event *ev = f->ev;
    struct fleet_model *m = fleet_model_find(f->fs, ev->model);
    if (!m || strcmp(ev->version, m->target)) {
        result(f, FLEET_IGNORED, "%s %s is not the target", ev->model, ev->version);
        return;
    }
    if (m->phase == FLEET_COMPLETE && m->cutover_offset >= 0) {
        result(f, FLEET_IGNORED, "duplicate cutover (the one at offset %lld won)",
               (long long)m->cutover_offset);
        return;
    }
    if (m->phase != FLEET_STAGING) {
        result(f, FLEET_INVALID, "cutover needs phase staging, not %s", fleet_phase2str(m->phase));
        return;
    }
    if (!can_move(f, m, FLEET_COMPLETE))
        return;
    for (size_t i = 0; i < m->n_staged; i++) {
        struct fleet_worker *w = fleet_worker_find(f->fs, m->staged[i].s);
        if (w)
            worker_set_version(f, w, m->name, m->target);
    }
    m->cutover_offset = f->rec->offset;
    set_phase(f, m, FLEET_COMPLETE, "cutover");
    result(f, FLEET_APPLIED, "%s cut over to %s (%zu workers)", m->name, m->target, m->n_staged);
}

/* The claim a done/failed names, if it is this worker's claim for this model. */
static struct fleet_claim *own_claim(struct feed *f)
{
    const struct ctl_event *ev = f->ev;
    if (!ev->claim_id[0])
        return NULL;
    struct fleet_claim *c = claim_find(f->fs, ev->claim_id);
    if (c && (strcmp(c->worker, ev->worker) || strcmp(c->model, ev->model)))
        return NULL;
    return c;
}

static void on_done(struct feed *f)
{
    const struct ctl_event *ev = f->ev;
    struct fleet_model *m = fleet_model_find(f->fs, ev->model);
    if (!m) {
        result(f, FLEET_IGNORED, "unknown model %s", ev->model);
        return;
    }
    struct fleet_worker *w = worker_upsert(f, ev->worker);
    if (!w)
        return;
    struct fleet_claim *c = own_claim(f);
    const char *note = "";
    if (c && c->status == FLEET_CLAIM_ACTIVE) {
        c->status = FLEET_CLAIM_DONE;
        c->end_offset = f->rec->offset;
    } else if (ev->claim_id[0]) {
        note = c ? " (its claim had already ended)" : " (no such claim of this worker)";
    }
    /* A fact about the worker, whatever happened to the claim. */
    worker_set_version(f, w, m->name, ev->version);
    result(f, FLEET_APPLIED, "%s runs %s %s%s", w->id, m->name, ev->version, note);
    maybe_complete(f, m);
}

static void on_failed(struct feed *f)
{
    const struct ctl_event *ev = f->ev;
    struct fleet_model *m = fleet_model_find(f->fs, ev->model);
    if (!m) {
        result(f, FLEET_IGNORED, "unknown model %s", ev->model);
        return;
    }
    if (!worker_upsert(f, ev->worker))
        return;
    struct fleet_claim *c = own_claim(f);
    if (c && c->status == FLEET_CLAIM_ACTIVE) {
        c->status = FLEET_CLAIM_FAILED;
        c->end_offset = f->rec->offset;
    }
    char why[CTL_REASON_CAP];
    snprintf(why, sizeof(why), "%s failed %s %s at %s: %.100s", ev->worker, m->name, ev->version,
             ctl_stage2str(ev->stage), ev->reason);
    if (strcmp(ev->version, m->target)) {
        result(f, FLEET_APPLIED, "%s (not the target: no phase change)", why);
        return;
    }
    enum fleet_phase cur = m->phase;
    if (cur == FLEET_HALTED || cur == FLEET_COMPLETE || cur == FLEET_IDLE) {
        result(f, FLEET_APPLIED, "%s (phase %s: recorded only)", why, fleet_phase2str(cur));
        return;
    }
    const struct fleet_version *back = NULL;
    if (cur != FLEET_ROLLED_BACK && m->strategy.auto_rollback && m->previous_good[0] &&
        strcmp(m->previous_good, m->target))
        back = version_find(m, m->previous_good);
    enum fleet_phase next = back ? FLEET_ROLLED_BACK : FLEET_HALTED;
    if (!can_move(f, m, next))
        return;
    snprintf(m->halt_reason, sizeof(m->halt_reason), "%.500s", why);
    if (back) {
        set_target(m, back);
        reset_rollout_sets(m);
        m->resume_phase = FLEET_ROLLED_BACK;
        set_phase(f, m, next, "rollout.failed, auto_rollback");
    } else {
        m->resume_phase = active_phase(m);
        set_phase(f, m, next, "rollout.failed");
    }
    result(f, FLEET_APPLIED, "%s -> %s", why, fleet_phase2str(next));
}

static void on_healthy(struct feed *f)
{
    const struct ctl_event *ev = f->ev;
    struct fleet_model *m = fleet_model_find(f->fs, ev->model);
    if (!m || strcmp(ev->version, m->target)) {
        result(f, FLEET_IGNORED, "%s %s is not the target", ev->model, ev->version);
        return;
    }
    if (!worker_upsert(f, ev->worker) ||
        name_add(&m->healthy, &m->n_healthy, &m->cap_healthy, ev->worker)) {
        f->err = -ENOMEM;
        return;
    }
    result(f, FLEET_APPLIED, "%s healthy on %s %s (%zu healthy)", ev->worker, m->name, m->target,
           m->n_healthy);
    maybe_promote(f, m);
}

static void on_expire(struct feed *f)
{
    const struct ctl_event *ev = f->ev;
    struct fleet_claim *c = claim_find(f->fs, ev->claim_id);
    if (!c || c->status != FLEET_CLAIM_ACTIVE) {
        result(f, FLEET_IGNORED, "claim %s is %s", ev->claim_id,
               c ? fleet_claim_status2str(c->status) : "unknown");
        return;
    }
    if (f->rec->ts_ms < c->ts_ms + c->lease_ms) {
        result(f, FLEET_IGNORED, "claim %s: lease runs until %lld, this record is at %lld",
               c->claim_id, (long long)(c->ts_ms + c->lease_ms), (long long)f->rec->ts_ms);
        return;
    }
    c->status = FLEET_CLAIM_EXPIRED;
    c->end_offset = f->rec->offset;
    result(f, FLEET_APPLIED, "claim %s of %s expired", c->claim_id, c->worker);
    struct fleet_model *m = fleet_model_find(f->fs, c->model);
    if (m)
        maybe_complete(f, m);
}

int fleet_state_feed(fleet_state *fs, const struct fleet_record *rec, struct fleet_result *res)
{
    struct fleet_result dummy;
    if (!res)
        res = &dummy;
    memset(res, 0, sizeof(*res));
    if (!fs || !rec || !rec->ev || (unsigned)rec->ev->type >= CTL_TYPE_COUNT)
        return -EINVAL;
    if (rec->offset <= fs->last_offset) {
        snprintf(res->reason, sizeof(res->reason), "offset %lld is not above %lld",
                 (long long)rec->offset, (long long)fs->last_offset);
        return -EINVAL;
    }
    fs->last_offset = rec->offset;
    fs->n_records++;
    struct feed f = {.fs = fs, .rec = rec, .ev = rec->ev, .res = res};
    const struct fleet_model *m = NULL;
    if (rec->ev->model[0]) {
        f.subject = rec->ev->model;
        m = fleet_model_find(fs, rec->ev->model);
    }
    res->from = res->to = m ? m->phase : FLEET_IDLE;

    switch (rec->ev->type) {
    case CTL_MODEL_PUBLISHED: on_published(&f); break;
    case CTL_ROLLOUT_COMMAND: on_command(&f); break;
    case CTL_WORKER_JOINED: on_joined(&f); break;
    case CTL_WORKER_LEFT: on_left(&f); break;
    case CTL_ROLLOUT_CLAIM: on_claim(&f); break;
    case CTL_ROLLOUT_STAGED: on_staged(&f); break;
    case CTL_ROLLOUT_CUTOVER: on_cutover(&f); break;
    case CTL_ROLLOUT_DONE: on_done(&f); break;
    case CTL_ROLLOUT_FAILED: on_failed(&f); break;
    case CTL_ROLLOUT_HEALTHY: on_healthy(&f); break;
    case CTL_ROLLOUT_EXPIRE: on_expire(&f); break;
    }
    return f.err;
}
