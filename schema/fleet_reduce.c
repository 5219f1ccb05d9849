/* The reducer: one handler per event type. Each handler checks everything
 * first and mutates only when the event will be applied, so an ignored or
 * invalid event leaves no trace but its result and log line. Before its
 * first mutation a handler calls authentic(): a worker event's signature is
 * verified only there, so a forgery that would change nothing costs no
 * crypto (fleet_trust.c). */
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

static void names_fini(struct fleet_names *set)
{
    free(set->v);
    fleet_map_fini(&set->ix);
}

void fleet_state_free(fleet_state *fs)
{
    if (!fs)
        return;
    for (size_t i = 0; i < fs->n_models; i++) {
        struct fleet_model *m = &fs->models[i];
        free(m->claims);
        names_fini(&m->staged);
        names_fini(&m->waiting);
        names_fini(&m->healthy);
        free(m->versions);
        fleet_map_fini(&m->taken);
    }
    for (size_t i = 0; i < fs->n_workers; i++) {
        free(fs->workers[i].models);
        free(fs->workers[i].active);
    }
    free(fs->models);
    free(fs->workers);
    free(fs->keys);
    fleet_map_fini(&fs->model_ix);
    fleet_map_fini(&fs->worker_ix);
    fleet_map_fini(&fs->claim_ix);
    fleet_map_fini(&fs->event_ix);
    fleet_map_fini(&fs->key_ix);
    fleet_hset_fini(&fs->records);
    free(fs);
}

int64_t fleet_state_last_offset(const fleet_state *fs)
{
    return fs->last_offset;
}

/* ---- lookups ---- */

struct fleet_model *fleet_model_find(const fleet_state *fs, const char *name)
{
    uint64_t i;
    return fleet_map_get(&fs->model_ix, name, &i) ? NULL : &fs->models[i];
}

struct fleet_worker *fleet_worker_find(const fleet_state *fs, const char *id)
{
    uint64_t i;
    return fleet_map_get(&fs->worker_ix, id, &i) ? NULL : &fs->workers[i];
}

struct fleet_claim *fleet_claim_lookup(const fleet_state *fs, const char *claim_id)
{
    uint64_t v;
    if (fleet_map_get(&fs->claim_ix, claim_id, &v))
        return NULL;
    return &fs->models[v >> 32].claims[v & 0xffffffffu];
}

struct fleet_claim *fleet_worker_active_claim(const fleet_state *fs, const struct fleet_worker *w,
                                              size_t mi)
{
    for (size_t i = 0; w && i < w->n_active; i++)
        if (w->active[i].model == mi)
            return &fs->models[mi].claims[w->active[i].claim];
    return NULL;
}

const char *fleet_worker_model_version(const struct fleet_worker *w, const char *model)
{
    for (size_t i = 0; w && i < w->n_models; i++)
        if (!strcmp(w->models[i].model, model))
            return w->models[i].version;
    return NULL;
}

static const struct fleet_version *version_find(const struct fleet_model *m, const char *v)
{
    for (size_t i = 0; i < m->n_versions; i++)
        if (!strcmp(m->versions[i].version, v))
            return &m->versions[i];
    return NULL;
}

bool fleet_names_has(const struct fleet_names *set, const char *s)
{
    return !fleet_map_get(&set->ix, s, NULL);
}

static int names_add(struct fleet_names *set, const char *s)
{
    if (fleet_names_has(set, s))
        return 0;
    if (fleet_grow((void **)&set->v, &set->cap, set->n, sizeof(*set->v)) ||
        fleet_map_put(&set->ix, s, set->n))
        return -ENOMEM;
    snprintf(set->v[set->n++].s, CTL_NAME_CAP, "%s", s);
    return 0;
}

static void names_clear(struct fleet_names *set)
{
    set->n = 0;
    fleet_map_clear(&set->ix);
}

static size_t model_index(const fleet_state *fs, const struct fleet_model *m)
{
    return (size_t)(m - fs->models);
}

/* ---- counters: what maybe_complete and claim_refusal read ---- */

/* Granted claims for @p version that hold or held a slot (active or done). */
static uint64_t taken(const struct fleet_model *m, const char *version)
{
    uint64_t n = 0;
    fleet_map_get(&m->taken, version, &n);
    return n;
}

static int taken_add(struct fleet_model *m, const char *version, int d)
{
    return fleet_map_put(&m->taken, version, taken(m, version) + (uint64_t)(int64_t)d);
}

/* How a live worker's version of m counts: serving (0/1) and off target (0/1). */
static void serve_count(struct fleet_model *m, const char *version, int d)
{
    if (!version)
        return;
    m->n_serving += (size_t)(ptrdiff_t)d;
    if (strcmp(version, m->target))
        m->n_off_target += (size_t)(ptrdiff_t)d;
}

/* All of w's models, when w goes live (+1) or leaves (-1). */
static void worker_count(fleet_state *fs, const struct fleet_worker *w, int d)
{
    for (size_t i = 0; i < w->n_models; i++) {
        struct fleet_model *m = fleet_model_find(fs, w->models[i].model);
        if (m)
            serve_count(m, w->models[i].version, d);
    }
}

/* After the target changed (or the model appeared): one pass over the
 * workers, at a signed publication or a rollback, never per worker event. */
static void model_recount(fleet_state *fs, struct fleet_model *m)
{
    m->n_serving = m->n_off_target = 0;
    for (size_t i = 0; i < fs->n_workers; i++)
        if (fs->workers[i].live)
            serve_count(m, fleet_worker_model_version(&fs->workers[i], m->name), 1);
}

/* ---- the context of one fed record ---- */

struct feed {
    fleet_state *fs;
    const struct fleet_record *rec;
    const struct ctl_event *ev;
    struct fleet_result *res;
    struct fleet_auth_ctx *ac;
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
    /* An event that is not authentic is no model's event: it is counted by
     * its verdict (fleet_auth_count), not in the model's state. */
    bool authentic =
        (f->ac->auth == FLEET_AUTH_OK && !f->ac->pending) || f->ac->auth == FLEET_AUTH_UNSIGNED;
    struct fleet_model *m = authentic ? fleet_model_find(f->fs, f->ev->model) : NULL;
    if (m)
        v == FLEET_IGNORED ? m->n_ignored++ : m->n_invalid++;
    /* Forged, replayed and duplicate records log at debug level: a flood
     * must not flood the logs too. fleet_auth_count() counts them. */
    bool forged = f->ac->auth > FLEET_AUTH_UNVERIFIED;
    enum kf_log_level lvl = !forged && (v == FLEET_INVALID || ctl_type_needs_signature(f->ev->type))
                                ? KF_LOG_WARN
                                : KF_LOG_DEBUG;
    fleet_logf(f->fs, lvl, "offset %lld: %s %s %s: %s", (long long)f->rec->offset,
               fleet_verdict2str(v), ctl_type2str(f->ev->type), f->ev->event_id, f->res->reason);
}

/* Called before a handler's first mutation: the event counts only if its
 * signature (when it has one still to check) verifies. */
static bool authentic(struct feed *f)
{
    if (fleet_auth_verify(f->fs, f->rec, f->ac))
        return true;
    result(f, FLEET_IGNORED, "%s", f->ac->why);
    return false;
}

/* Something moved: what fleet_model_stalled measures from. */
static void progressed(struct feed *f, struct fleet_model *m)
{
    m->progress_ms = f->rec->ts_ms;
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
    progressed(f, m);
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
                       sizeof(*fs->workers)) ||
            fleet_map_put(&fs->worker_ix, id, fs->n_workers)) {
            f->err = -ENOMEM;
            return NULL;
        }
        w = &fs->workers[fs->n_workers++];
        snprintf(w->id, sizeof(w->id), "%s", id);
    }
    if (!w->live) {
        w->live = true;
        worker_count(fs, w, +1);
    }
    w->last_offset = f->rec->offset;
    return w;
}

static void worker_set_version(struct feed *f, struct fleet_worker *w, const char *model,
                               const char *version)
{
    struct fleet_model *m = w->live ? fleet_model_find(f->fs, model) : NULL;
    for (size_t i = 0; i < w->n_models; i++) {
        if (!strcmp(w->models[i].model, model)) {
            if (m) {
                serve_count(m, w->models[i].version, -1);
                serve_count(m, version, +1);
            }
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
    if (m)
        serve_count(m, version, +1);
}

/* A claim stops being active: the slot frees, and a claim that did not
 * finish (failed, expired) gives its canary slot back. */
static void claim_end(struct feed *f, struct fleet_model *m, struct fleet_claim *c,
                      enum fleet_claim_status st)
{
    if (c->status != FLEET_CLAIM_ACTIVE)
        return;
    c->status = st;
    c->end_offset = f->rec->offset;
    m->n_active--;
    if (c->swapped_offset >= 0)
        m->n_held--;
    if (st != FLEET_CLAIM_DONE && taken_add(m, c->version, -1))
        f->err = -ENOMEM;
    struct fleet_worker *w = fleet_worker_find(f->fs, c->worker);
    size_t mi = model_index(f->fs, m);
    for (size_t i = 0; w && i < w->n_active; i++) {
        if (w->active[i].model == mi) {
            w->active[i] = w->active[--w->n_active];
            break;
        }
    }
}

/* Claims held only for a health window of a version that is no longer the
 * target (a new publication, a rollback): nothing waits for their verdict. */
static void end_held_claims(struct feed *f, struct fleet_model *m)
{
    for (size_t i = 0; m->n_held && i < m->n_claims; i++) {
        struct fleet_claim *c = &m->claims[i];
        if (c->status == FLEET_CLAIM_ACTIVE && c->swapped_offset >= 0 &&
            strcmp(c->version, m->target))
            claim_end(f, m, c, FLEET_CLAIM_DONE);
    }
}

static void reset_rollout_sets(struct fleet_model *m)
{
    names_clear(&m->staged);
    names_clear(&m->healthy);
    m->cutover_offset = -1;
}

/* rolling -> complete once no claim is active and every live worker that
 * serves the model runs the target (and there is at least one). */
static void maybe_complete(struct feed *f, struct fleet_model *m)
{
    if (m->phase != FLEET_ROLLING || !m->target[0] || m->n_active || !m->n_serving ||
        m->n_off_target)
        return;
    if (can_move(f, m, FLEET_COMPLETE))
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
        m->healthy.n < m->strategy.canary_workers)
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

static void set_target(struct feed *f, struct fleet_model *m, const struct fleet_version *v)
{
    names_clear(&m->waiting); /* a queue for the old target */
    snprintf(m->target, sizeof(m->target), "%s", v->version);
    m->manifest = v->manifest;
    model_recount(f->fs, m);
}

/* Blue/green: at this offset every staged worker runs the target, by one
 * flip between the two versions it holds resident (active and standby). A
 * worker that no longer holds the target (restarted since) loads it instead
 * (fleet_plan_worker says flip; the worker knows what it holds). */
static void flip_staged(struct feed *f, struct fleet_model *m)
{
    for (size_t i = 0; i < m->staged.n; i++) {
        struct fleet_worker *w = fleet_worker_find(f->fs, m->staged.v[i].s);
        if (w)
            worker_set_version(f, w, m->name, m->target);
    }
    m->cutover_offset = f->rec->offset;
}

/* A rollback to the version a completed cutover flipped away from: the
 * staged workers still hold it in standby, so the rollback is that cutover
 * backwards, at the command's own offset: no fetch, no load, no claim. */
static bool flips_back(const struct fleet_model *m, const char *to)
{
    return m->phase == FLEET_COMPLETE && m->cutover_offset >= 0 && m->staged.n &&
           !strcmp(to, m->previous_good);
}

/* ---- handlers: the operator's events (verified before they get here) ---- */

static struct fleet_model *model_add(struct feed *f, const char *name)
{
    fleet_state *fs = f->fs;
    if (fleet_grow((void **)&fs->models, &fs->cap_models, fs->n_models, sizeof(*fs->models)) ||
        fleet_map_put(&fs->model_ix, name, fs->n_models)) {
        f->err = -ENOMEM;
        return NULL;
    }
    struct fleet_model *m = &fs->models[fs->n_models++];
    snprintf(m->name, sizeof(m->name), "%s", name);
    m->phase = m->resume_phase = FLEET_IDLE;
    m->phase_offset = m->cutover_offset = m->progress_ms = -1;
    model_recount(fs, m);
    return m;
}

static void on_published(struct feed *f)
{
    const struct ctl_event *ev = f->ev;
    struct fleet_model *m = fleet_model_find(f->fs, ev->model);
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
        if (!(m = model_add(f, ev->model)))
            return;
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
    set_target(f, m, v);
    end_held_claims(f, m);
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

/* A command names what it acts on: the publication (seq) and its place in
 * the model's command sequence (cmd_seq, increasing). A signed command
 * appended again, or one issued before a later publication, is a replay. */
static bool command_fresh(struct feed *f, struct fleet_model *m)
{
    const struct ctl_event *ev = f->ev;
    const char *why = NULL;
    char buf[160];
    if (ev->cmd_seq && ev->cmd_seq <= m->cmd_seq) {
        snprintf(buf, sizeof(buf), "cmd_seq %llu is not above %llu",
                 (unsigned long long)ev->cmd_seq, (unsigned long long)m->cmd_seq);
        why = buf;
    } else if (!ev->cmd_seq && m->cmd_seq) {
        why = "a command without cmd_seq after sequenced ones";
    } else if (ev->seq && ev->seq != m->seq) {
        snprintf(buf, sizeof(buf), "acts on publication seq %llu, the model is at %llu",
                 (unsigned long long)ev->seq, (unsigned long long)m->seq);
        why = buf;
    }
    if (!why)
        return true;
    f->ac->auth = FLEET_AUTH_REPLAYED;
    result(f, FLEET_IGNORED, "%s %s: %s", ctl_action2str(ev->action), m->name, why);
    return false;
}

static void on_command(struct feed *f)
{
    const struct ctl_event *ev = f->ev;
    struct fleet_model *m = fleet_model_find(f->fs, ev->model);
    if (!m) {
        result(f, FLEET_IGNORED, "unknown model %s", ev->model);
        return;
    }
    if (!command_fresh(f, m))
        return;
    /* Spent whatever the command does next: it cannot count later. */
    if (ev->cmd_seq)
        m->cmd_seq = ev->cmd_seq;
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
        bool flip = flips_back(m, to);
        snprintf(m->halt_reason, sizeof(m->halt_reason), "rolled back from %s: %.300s", m->target,
                 ev->reason[0] ? ev->reason : "operator");
        set_target(f, m, v);
        end_held_claims(f, m);
        if (flip)
            flip_staged(f, m);
        else
            reset_rollout_sets(m);
        m->resume_phase = FLEET_ROLLED_BACK;
        set_phase(f, m, FLEET_ROLLED_BACK,
                  flip ? "signed rollback, flipped back" : "signed rollback");
        result(f, FLEET_APPLIED, "%s rolled back to %s%s", m->name, m->target,
               flip ? " (blue/green: flipped back)" : "");
        return;
    }
    }
    result(f, FLEET_INVALID, "unknown action");
}

/* key.enrolled: from now on this key speaks for this one worker. A key id is
 * enrolled at most once, never after a revocation, and never a release key. */
static void on_enrolled(struct feed *f)
{
    const struct ctl_event *ev = f->ev;
    fleet_state *fs = f->fs;
    uint8_t raw[CRYPTO_ED25519_KEY_LEN + 3];
    if (crypto_base64_decode(ev->pubkey, strlen(ev->pubkey), raw, sizeof(raw)) !=
        CRYPTO_ED25519_KEY_LEN) {
        result(f, FLEET_INVALID, "pubkey is not a 32-byte key");
        return;
    }
    char id[CTL_KEY_ID_CAP];
    crypto_key_id(raw, id);
    uint64_t ki;
    if (!fleet_map_get(&fs->key_ix, id, &ki)) {
        const struct fleet_key *k = &fs->keys[ki];
        result(f, FLEET_IGNORED, "key %s %s", id,
               k->revoked_offset >= 0 ? "was revoked: it cannot be enrolled again"
                                      : "is already enrolled");
        return;
    }
    if (fs->opts.root_keys && crypto_keyring_find(fs->opts.root_keys, id, CRYPTO_KEY_ID_LEN)) {
        result(f, FLEET_IGNORED, "key %s is a release key: it cannot speak for a worker", id);
        return;
    }
    if (fleet_grow((void **)&fs->keys, &fs->cap_keys, fs->n_keys, sizeof(*fs->keys)) ||
        fleet_map_put(&fs->key_ix, id, fs->n_keys)) {
        f->err = -ENOMEM;
        return;
    }
    struct fleet_key *k = &fs->keys[fs->n_keys++];
    memset(k, 0, sizeof(*k));
    snprintf(k->key_id, sizeof(k->key_id), "%s", id);
    memcpy(k->pub, raw, sizeof(k->pub));
    snprintf(k->worker, sizeof(k->worker), "%s", ev->worker);
    k->offset = f->rec->offset;
    k->revoked_offset = -1;
    result(f, FLEET_APPLIED, "key %s enrolled for worker %s", id, ev->worker);
}

/* key.revoked: whatever the key signed from here on is ignored; what it
 * signed before stays (the fold at those offsets already counted it). A
 * release key or a key not yet enrolled may be revoked too: forever. */
static void on_revoked(struct feed *f)
{
    fleet_state *fs = f->fs;
    const char *id = f->ev->key_id;
    uint64_t ki;
    struct fleet_key *k = fleet_map_get(&fs->key_ix, id, &ki) ? NULL : &fs->keys[ki];
    if (k && k->revoked_offset >= 0) {
        result(f, FLEET_IGNORED, "key %s was already revoked at offset %lld", id,
               (long long)k->revoked_offset);
        return;
    }
    if (!k) {
        if (fleet_grow((void **)&fs->keys, &fs->cap_keys, fs->n_keys, sizeof(*fs->keys)) ||
            fleet_map_put(&fs->key_ix, id, fs->n_keys)) {
            f->err = -ENOMEM;
            return;
        }
        k = &fs->keys[fs->n_keys++];
        memset(k, 0, sizeof(*k));
        snprintf(k->key_id, sizeof(k->key_id), "%s", id);
        k->offset = -1;
        k->root = fs->opts.root_keys &&
                  crypto_keyring_find(fs->opts.root_keys, id, CRYPTO_KEY_ID_LEN) != NULL;
    }
    k->revoked_offset = f->rec->offset;
    result(f, FLEET_APPLIED, "key %s revoked (%s)", id,
           k->root        ? "a release key"
           : k->worker[0] ? k->worker
                          : "not enrolled");
}

/* ---- handlers: the workers' events ---- */

static void on_joined(struct feed *f)
{
    const struct ctl_event *ev = f->ev;
    if (!authentic(f))
        return;
    struct fleet_worker *w = worker_upsert(f, ev->worker);
    if (!w)
        return;
    snprintf(w->host, sizeof(w->host), "%s", ev->host);
    snprintf(w->backend, sizeof(w->backend), "%s", ev->backend);
    snprintf(w->device, sizeof(w->device), "%s", ev->device);
    w->free_memory = ev->free_memory;
    for (size_t i = 0; i < ev->n_models && i < CTL_MAX_MODELS; i++)
        worker_set_version(f, w, ev->models[i].model, ev->models[i].version);
    /* A restarted worker lost its health windows: claims it held only for
     * them end here (done) rather than at their lease. */
    for (size_t i = w->n_active; i-- > 0;) {
        struct fleet_model *m = &f->fs->models[w->active[i].model];
        struct fleet_claim *c = &m->claims[w->active[i].claim];
        if (c->swapped_offset >= 0)
            claim_end(f, m, c, FLEET_CLAIM_DONE);
    }
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
    if (!authentic(f))
        return;
    worker_count(f->fs, w, -1);
    w->live = false;
    w->last_offset = f->rec->offset;
    result(f, FLEET_APPLIED, "worker %s left%s%s", w->id, f->ev->by[0] ? ", says " : "", f->ev->by);
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
    const struct fleet_worker *w = fleet_worker_find(fs, ev->worker);
    const char *cur = fleet_worker_model_version(w, m->name);
    if (cur && !strcmp(cur, m->target))
        return "the worker already runs the target";
    if (fleet_worker_active_claim(fs, w, model_index(fs, m)))
        return "the worker already holds an active claim";
    bool unlimited = m->strategy.kind == CTL_STRATEGY_ALL;
    if (!unlimited && m->n_active >= m->strategy.max_unavailable)
        return "max_unavailable claims are active";
    if (m->phase == FLEET_CANARY && taken(m, m->target) >= m->strategy.canary_workers)
        return "the canary slots are taken";
    return NULL;
}

static void on_claim(struct feed *f)
{
    const struct ctl_event *ev = f->ev;
    fleet_state *fs = f->fs;
    struct fleet_model *m = fleet_model_find(fs, ev->model);
    if (!m) {
        result(f, FLEET_IGNORED, "unknown model %s", ev->model);
        return;
    }
    if (fleet_claim_lookup(fs, ev->claim_id)) {
        result(f, FLEET_IGNORED, "duplicate claim_id %s", ev->claim_id);
        return;
    }
    if (!authentic(f))
        return;
    const char *why = claim_refusal(fs, m, ev);
    size_t mi = model_index(fs, m);
    struct fleet_worker *w = worker_upsert(f, ev->worker);
    if (!w || fleet_grow((void **)&m->claims, &m->cap_claims, m->n_claims, sizeof(*m->claims)) ||
        fleet_map_put(&fs->claim_ix, ev->claim_id, (uint64_t)mi << 32 | m->n_claims) ||
        (!why &&
         (fleet_grow((void **)&w->active, &w->cap_active, w->n_active, sizeof(*w->active)) ||
          taken_add(m, ev->version, +1)))) {
        f->err = -ENOMEM;
        return;
    }
    struct fleet_claim *c = &m->claims[m->n_claims];
    memset(c, 0, sizeof(*c));
    snprintf(c->claim_id, sizeof(c->claim_id), "%s", ev->claim_id);
    snprintf(c->worker, sizeof(c->worker), "%s", ev->worker);
    snprintf(c->model, sizeof(c->model), "%s", ev->model);
    snprintf(c->version, sizeof(c->version), "%s", ev->version);
    c->offset = f->rec->offset;
    c->ts_ms = f->rec->ts_ms;
    c->lease_ms = (int64_t)m->strategy.lease_s * 1000;
    c->end_offset = c->swapped_offset = -1;
    c->granted = !why;
    c->status = why ? FLEET_CLAIM_REFUSED : FLEET_CLAIM_ACTIVE;
    if (why && !strcmp(ev->version, m->target) && names_add(&m->waiting, ev->worker)) {
        f->err = -ENOMEM;
        return;
    }
    snprintf(c->why, sizeof(c->why), "%s", why ? why : "");
    if (!why) {
        w->active[w->n_active++] = (struct fleet_active){(uint32_t)mi, (uint32_t)m->n_claims};
        m->n_active++;
        progressed(f, m);
    }
    m->n_claims++;
    f->res->granted = c->granted;
    result(f, FLEET_APPLIED, "claim %s by %s for %s %s: %s%s", c->claim_id, c->worker, c->model,
           c->version, why ? "refused, " : "granted", why ? why : "");
    if (!why)
        fleet_logf(fs, KF_LOG_INFO, "%s", f->res->reason);
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
    if (!authentic(f))
        return;
    if (!worker_upsert(f, ev->worker) || names_add(&m->staged, ev->worker)) {
        f->err = -ENOMEM;
        return;
    }
    progressed(f, m);
    result(f, FLEET_APPLIED, "%s staged %s %s (%zu staged)", ev->worker, m->name, m->target,
           m->staged.n);
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
    if (!can_move(f, m, FLEET_COMPLETE) || !authentic(f))
        return;
    flip_staged(f, m);
    set_phase(f, m, FLEET_COMPLETE, "cutover");
    result(f, FLEET_APPLIED, "%s cut over to %s (%zu workers)", m->name, m->target, m->staged.n);
}

/* The claim a done/failed names, if it is this worker's claim for this model. */
static struct fleet_claim *own_claim(struct feed *f)
{
    const struct ctl_event *ev = f->ev;
    if (!ev->claim_id[0])
        return NULL;
    struct fleet_claim *c = fleet_claim_lookup(f->fs, ev->claim_id);
    if (c && (strcmp(c->worker, ev->worker) || strcmp(c->model, ev->model)))
        return NULL;
    return c;
}

/* Rolling (and a canary's claims): the slot stays taken through the worker's
 * health window, so that at most max_unavailable workers run a version no
 * window has judged yet. A rollback returns to a version already proven, and
 * a publication without health_s keeps the old rule (free at done). */
static bool holds_for_health(const struct fleet_model *m, const struct fleet_claim *c)
{
    return m->strategy.health_s && c->swapped_offset < 0 && !strcmp(c->version, m->target) &&
           (m->phase == FLEET_ROLLING || m->phase == FLEET_CANARY);
}

static void on_done(struct feed *f)
{
    const struct ctl_event *ev = f->ev;
    struct fleet_model *m = fleet_model_find(f->fs, ev->model);
    if (!m) {
        result(f, FLEET_IGNORED, "unknown model %s", ev->model);
        return;
    }
    if (!authentic(f))
        return;
    struct fleet_worker *w = worker_upsert(f, ev->worker);
    if (!w)
        return;
    struct fleet_claim *c = own_claim(f);
    const char *note = "";
    if (c && c->status == FLEET_CLAIM_ACTIVE && holds_for_health(m, c)) {
        c->swapped_offset = f->rec->offset;
        m->n_held++;
        note = " (its claim holds the slot for the health window)";
    } else if (c && c->status == FLEET_CLAIM_ACTIVE) {
        claim_end(f, m, c, FLEET_CLAIM_DONE);
    } else if (ev->claim_id[0]) {
        note = c ? " (its claim had already ended)" : " (no such claim of this worker)";
    }
    progressed(f, m);
    /* A fact about the worker, whatever happened to the claim. */
    worker_set_version(f, w, m->name, ev->version);
    result(f, FLEET_APPLIED, "%s runs %s %s%s", w->id, m->name, ev->version, note);
    maybe_complete(f, m);
}

/* The worker's claim held for its health window, if any. */
static struct fleet_claim *held_claim(struct feed *f, struct fleet_model *m)
{
    struct fleet_claim *c = fleet_worker_active_claim(
        f->fs, fleet_worker_find(f->fs, f->ev->worker), model_index(f->fs, m));
    return c && c->swapped_offset >= 0 ? c : NULL;
}

/* Blue/green: a worker's health window after the cutover broke its
 * thresholds while the fleet's verdict was still open (not every flipped
 * worker has said healthy). The phase is already complete; the failure
 * still rolls back, by the flip back. */
static bool unhealthy_after_cutover(const struct fleet_model *m, const struct ctl_event *ev)
{
    return ev->stage == CTL_STAGE_HEALTH && m->strategy.health_s && m->cutover_offset >= 0 &&
           m->healthy.n < m->staged.n && fleet_names_has(&m->staged, ev->worker);
}

static void on_failed(struct feed *f)
{
    const struct ctl_event *ev = f->ev;
    struct fleet_model *m = fleet_model_find(f->fs, ev->model);
    if (!m) {
        result(f, FLEET_IGNORED, "unknown model %s", ev->model);
        return;
    }
    if (!authentic(f) || !worker_upsert(f, ev->worker))
        return;
    struct fleet_claim *c = own_claim(f);
    if (!c)
        c = held_claim(f, m); /* a health failure that did not name its claim */
    if (c && c->status == FLEET_CLAIM_ACTIVE)
        claim_end(f, m, c, FLEET_CLAIM_FAILED);
    char why[CTL_REASON_CAP];
    snprintf(why, sizeof(why), "%s failed %s %s at %s: %.300s", ev->worker, m->name, ev->version,
             ctl_stage2str(ev->stage), ev->reason);
    if (strcmp(ev->version, m->target)) {
        result(f, FLEET_APPLIED, "%s (not the target: no phase change)", why);
        return;
    }
    enum fleet_phase cur = m->phase;
    bool after_cutover = cur == FLEET_COMPLETE && unhealthy_after_cutover(m, ev);
    if (cur == FLEET_HALTED || cur == FLEET_IDLE || (cur == FLEET_COMPLETE && !after_cutover)) {
        result(f, FLEET_APPLIED, "%s (phase %s: recorded only)", why, fleet_phase2str(cur));
        return;
    }
    const struct fleet_version *back = NULL;
    if (cur != FLEET_ROLLED_BACK && m->strategy.auto_rollback && m->previous_good[0] &&
        strcmp(m->previous_good, m->target))
        back = version_find(m, m->previous_good);
    if (after_cutover && !back) {
        result(f, FLEET_APPLIED, "%s (after the cutover, no auto_rollback: recorded only)", why);
        return;
    }
    enum fleet_phase next = back ? FLEET_ROLLED_BACK : FLEET_HALTED;
    if (!can_move(f, m, next))
        return;
    snprintf(m->halt_reason, sizeof(m->halt_reason), "%.500s", why);
    if (back) {
        bool flip = flips_back(m, back->version);
        set_target(f, m, back);
        end_held_claims(f, m);
        if (flip)
            flip_staged(f, m); /* blue/green: the old version is resident, flip back */
        else
            reset_rollout_sets(m);
        m->resume_phase = FLEET_ROLLED_BACK;
        set_phase(f, m, next,
                  flip ? "rollout.failed, auto_rollback, flipped back"
                       : "rollout.failed, auto_rollback");
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
    if (!authentic(f))
        return;
    if (!worker_upsert(f, ev->worker) || names_add(&m->healthy, ev->worker)) {
        f->err = -ENOMEM;
        return;
    }
    struct fleet_claim *c = held_claim(f, m);
    if (c)
        claim_end(f, m, c, FLEET_CLAIM_DONE); /* its window passed: the slot frees */
    progressed(f, m);
    result(f, FLEET_APPLIED, "%s healthy on %s %s (%zu healthy)%s", ev->worker, m->name, m->target,
           m->healthy.n, c ? ", its slot frees" : "");
    maybe_promote(f, m);
    maybe_complete(f, m);
}

static void on_expire(struct feed *f)
{
    const struct ctl_event *ev = f->ev;
    struct fleet_claim *c = fleet_claim_lookup(f->fs, ev->claim_id);
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
    if (!authentic(f))
        return;
    struct fleet_model *m = fleet_model_find(f->fs, c->model);
    claim_end(f, m, c, FLEET_CLAIM_EXPIRED);
    result(f, FLEET_APPLIED, "claim %s of %s expired", c->claim_id, c->worker);
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
    struct fleet_auth_ctx ac;
    struct feed f = {.fs = fs, .rec = rec, .ev = rec->ev, .res = res, .ac = &ac};
    const struct fleet_model *m = NULL;
    if (rec->ev->model[0]) {
        f.subject = rec->ev->model;
        m = fleet_model_find(fs, rec->ev->model);
    }
    res->from = res->to = m ? m->phase : FLEET_IDLE;

    int go = fleet_auth_check(fs, rec, &ac, res->key_id);
    if (go < 0)
        return go;
    if (!go) {
        /* The hot path of a flood: no second formatting of the reason. */
        res->verdict = FLEET_IGNORED;
        memcpy(res->reason, ac.why, sizeof(ac.why));
        fleet_logf(fs, KF_LOG_DEBUG, "offset %lld: ignored %s %s: %s", (long long)rec->offset,
                   ctl_type2str(rec->ev->type), rec->ev->event_id, ac.why);
    } else {
        switch (rec->ev->type) {
        case CTL_MODEL_PUBLISHED: on_published(&f); break;
        case CTL_ROLLOUT_COMMAND: on_command(&f); break;
        case CTL_KEY_ENROLLED: on_enrolled(&f); break;
        case CTL_KEY_REVOKED: on_revoked(&f); break;
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
        /* Changed nothing, so its signature was never needed. */
        if (ac.pending)
            ac.auth = FLEET_AUTH_UNVERIFIED;
        if ((ac.auth == FLEET_AUTH_OK || ac.auth == FLEET_AUTH_UNSIGNED) && !f.err)
            f.err = fleet_auth_accept(fs, rec, &ac);
    }
    res->auth = ac.auth;
    fs->n_auth[ac.auth]++;
    return f.err;
}
