/* Questions the worker and kfleetctl ask the reducer. Read-only. */
#include "schema/fleet_impl.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static void model_info(const struct fleet_model *m, struct fleet_model_info *out)
{
    *out = (struct fleet_model_info){
        .model = m->name,
        .phase = m->phase,
        .resume_phase = m->resume_phase,
        .target = m->target,
        .previous_good = m->previous_good,
        .seq = m->seq,
        .strategy = &m->strategy,
        .manifest = &m->manifest,
        .n_claims = m->n_claims,
        .claims = m->claims,
        .active_claims = m->n_active,
        .n_staged = m->staged.n,
        .n_healthy = m->healthy.n,
        .halt_reason = m->halt_reason,
        .phase_offset = m->phase_offset,
        .cutover_offset = m->cutover_offset,
        .cmd_seq = m->cmd_seq,
        .held_claims = m->n_held,
        .off_target = m->n_off_target,
        .progress_ms = m->progress_ms,
    };
}

bool fleet_model_stalled(const struct fleet_model_info *mi, int64_t now_ms, int64_t *for_ms)
{
    int64_t since = mi->progress_ms >= 0 && now_ms > mi->progress_ms ? now_ms - mi->progress_ms : 0;
    if (for_ms)
        *for_ms = since;
    bool under_way = mi->phase == FLEET_ROLLING || mi->phase == FLEET_CANARY ||
                     mi->phase == FLEET_STAGING ||
                     (mi->phase == FLEET_ROLLED_BACK && (mi->off_target || mi->active_claims));
    return under_way && mi->progress_ms >= 0 && since >= (int64_t)mi->strategy->stall_s * 1000;
}

int fleet_model_get(const fleet_state *fs, const char *model, struct fleet_model_info *out)
{
    const struct fleet_model *m = fs && model ? fleet_model_find(fs, model) : NULL;
    if (!m)
        return -ENOENT;
    model_info(m, out);
    return 0;
}

size_t fleet_model_count(const fleet_state *fs)
{
    return fs ? fs->n_models : 0;
}

int fleet_model_at(const fleet_state *fs, size_t i, struct fleet_model_info *out)
{
    if (!fs || i >= fs->n_models)
        return -ENOENT;
    model_info(&fs->models[i], out);
    return 0;
}

size_t fleet_worker_count(const fleet_state *fs)
{
    return fs ? fs->n_workers : 0;
}

int fleet_worker_at(const fleet_state *fs, size_t i, struct fleet_worker_info *out)
{
    if (!fs || !out || i >= fs->n_workers)
        return -ENOENT;
    const struct fleet_worker *w = &fs->workers[i];
    *out = (struct fleet_worker_info){.id = w->id,
                                      .host = w->host,
                                      .backend = w->backend,
                                      .device = w->device,
                                      .live = w->live,
                                      .free_memory = w->free_memory,
                                      .last_offset = w->last_offset,
                                      .n_models = w->n_models};
    return 0;
}

int fleet_worker_model_at(const fleet_state *fs, size_t i, size_t j, const char **model,
                          const char **version)
{
    if (!fs || i >= fs->n_workers || j >= fs->workers[i].n_models)
        return -ENOENT;
    if (model)
        *model = fs->workers[i].models[j].model;
    if (version)
        *version = fs->workers[i].models[j].version;
    return 0;
}

int fleet_version_get(const fleet_state *fs, const char *model, const char *version,
                      struct fleet_version_info *out)
{
    const struct fleet_model *m = fs && model ? fleet_model_find(fs, model) : NULL;
    for (size_t i = 0; m && version && i < m->n_versions; i++) {
        const struct fleet_version *v = &m->versions[i];
        if (strcmp(v->version, version))
            continue;
        *out = (struct fleet_version_info){.version = v->version,
                                           .seq = v->seq,
                                           .offset = v->offset,
                                           .manifest = &v->manifest,
                                           .strategy = &v->strategy};
        return 0;
    }
    return -ENOENT;
}

const struct fleet_claim *fleet_claim_find(const fleet_state *fs, const char *claim_id)
{
    return fs && claim_id ? fleet_claim_lookup(fs, claim_id) : NULL;
}

bool fleet_claim_granted(const fleet_state *fs, const char *claim_id)
{
    const struct fleet_claim *c = fleet_claim_find(fs, claim_id);
    return c && c->granted && c->status == FLEET_CLAIM_ACTIVE;
}

const char *fleet_worker_version(const fleet_state *fs, const char *worker, const char *model)
{
    if (!fs || !worker || !model)
        return NULL;
    return fleet_worker_model_version(fleet_worker_find(fs, worker), model);
}

bool fleet_worker_live(const fleet_state *fs, const char *worker)
{
    const struct fleet_worker *w = fs && worker ? fleet_worker_find(fs, worker) : NULL;
    return w && w->live;
}

static bool staged_by(const struct fleet_model *m, const char *worker)
{
    return fleet_names_has(&m->staged, worker);
}

/* CLAIM, or WAIT when the claim would be refused for lack of a slot. */
static void claim_or_wait(const struct fleet_model *m, struct fleet_plan *out)
{
    size_t active = m->n_active;
    uint64_t canary_taken = 0;
    fleet_map_get(&m->taken, m->target, &canary_taken);
    out->action = FLEET_ACT_CLAIM;
    out->why = "claim a slot";
    if (m->strategy.kind != CTL_STRATEGY_ALL && active >= m->strategy.max_unavailable) {
        out->action = FLEET_ACT_WAIT;
        out->why = "max_unavailable claims are active";
    } else if (m->phase == FLEET_CANARY && canary_taken >= m->strategy.canary_workers) {
        out->action = FLEET_ACT_WAIT;
        out->why = "canary slots taken: waiting for promotion";
    }
}

int fleet_plan_worker(const fleet_state *fs, const char *worker, const char *model,
                      const char *current, struct fleet_plan *out)
{
    if (!fs || !worker || !model || !out)
        return -EINVAL;
    *out = (struct fleet_plan){.action = FLEET_ACT_NONE, .version = "", .why = "no target"};
    const struct fleet_model *m = fleet_model_find(fs, model);
    if (!m || !m->target[0])
        return 0;
    out->version = m->target;
    if (current && !strcmp(current, m->target)) {
        out->why = "already on the target";
        return 0;
    }
    if (!current || !current[0]) {
        out->action = FLEET_ACT_LOAD;
        out->why = "nothing loaded: load the target, no claim needed";
        return 0;
    }
    /* A granted claim stays granted, whatever the phase did since. */
    const struct fleet_claim *c =
        fleet_worker_active_claim(fs, fleet_worker_find(fs, worker), (size_t)(m - fs->models));
    if (c && !strcmp(c->version, m->target)) {
        out->action = FLEET_ACT_SWAP;
        out->claim_id = c->claim_id;
        out->why = "claim granted";
        return 0;
    }
    /* A cutover, or a rollback that flipped back, is in the log: the staged
     * workers hold the target resident and flip to it, whatever the phase
     * did since (the log already counts them on it). */
    if (m->cutover_offset >= 0 && staged_by(m, worker)) {
        out->action = FLEET_ACT_FLIP;
        out->why = "cutover: flip to the resident version";
        return 0;
    }
    switch (m->phase) {
    case FLEET_STAGING:
        out->action = staged_by(m, worker) ? FLEET_ACT_WAIT : FLEET_ACT_STAGE;
        out->why = staged_by(m, worker) ? "staged: waiting for cutover" : "stage in standby";
        return 0;
    case FLEET_PAUSED:
        if (m->resume_phase == FLEET_STAGING && !staged_by(m, worker)) {
            out->action = FLEET_ACT_STAGE;
            out->why = "paused, but staging costs no capacity";
            return 0;
        }
        out->action = FLEET_ACT_WAIT;
        out->why = "paused";
        return 0;
    case FLEET_HALTED:
        out->action = FLEET_ACT_WAIT;
        out->why = "halted";
        return 0;
    default: claim_or_wait(m, out); return 0;
    }
}

/* Still in the queue: live, not on the target, holding no claim of the model. */
static bool still_waiting(const fleet_state *fs, const struct fleet_model *m, const char *worker)
{
    const struct fleet_worker *w = fleet_worker_find(fs, worker);
    if (!w || !w->live || fleet_worker_active_claim(fs, w, (size_t)(m - fs->models)))
        return false;
    const char *cur = fleet_worker_model_version(w, m->name);
    return !cur || strcmp(cur, m->target);
}

bool fleet_claim_turn(const fleet_state *fs, const char *model, const char *worker)
{
    const struct fleet_model *m = fs && model && worker ? fleet_model_find(fs, model) : NULL;
    if (!m || m->strategy.kind == CTL_STRATEGY_ALL)
        return true;
    size_t free =
        m->n_active < m->strategy.max_unavailable ? m->strategy.max_unavailable - m->n_active : 0;
    size_t ahead = 0;
    for (size_t i = 0; i < m->waiting.n && ahead < free; i++) {
        if (!strcmp(m->waiting.v[i].s, worker))
            break;
        ahead += still_waiting(fs, m, m->waiting.v[i].s);
    }
    return ahead < free;
}

static int by_offset(const void *a, const void *b)
{
    const struct fleet_claim *x = *(const struct fleet_claim *const *)a;
    const struct fleet_claim *y = *(const struct fleet_claim *const *)b;
    return (x->offset > y->offset) - (x->offset < y->offset);
}

/* Walks the workers' active claims (not every claim ever made), then sorts
 * the few over their lease into log order. */
size_t fleet_claims_expired(const fleet_state *fs, int64_t now_ms, const struct fleet_claim **out,
                            size_t max)
{
    size_t n = 0, cap = 0;
    const struct fleet_claim **all = NULL;
    for (size_t i = 0; fs && i < fs->n_workers; i++) {
        const struct fleet_worker *w = &fs->workers[i];
        for (size_t k = 0; k < w->n_active; k++) {
            const struct fleet_claim *c =
                &fs->models[w->active[k].model].claims[w->active[k].claim];
            if (c->ts_ms + c->lease_ms > now_ms)
                continue;
            if (n == cap) {
                size_t ncap = cap ? cap * 2 : 16;
                const struct fleet_claim **p = realloc(all, ncap * sizeof(*p));
                if (!p)
                    abort(); /* small bookkeeping (STYLE: errors) */
                all = p;
                cap = ncap;
            }
            all[n++] = c;
        }
    }
    if (n)
        qsort(all, n, sizeof(*all), by_offset);
    for (size_t i = 0; i < n && i < max; i++)
        out[i] = all[i];
    free(all);
    return n;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

bool fleet_cutover_due(const fleet_state *fs, const char *model, const char *const *members,
                       size_t n_members)
{
    const struct fleet_model *m = fs && model ? fleet_model_find(fs, model) : NULL;
    if (!m || m->phase != FLEET_STAGING || !n_members || !members)
        return false;
    for (size_t i = 0; i < n_members; i++)
        if (!members[i] || !staged_by(m, members[i]))
            return false;
    return true;
}

/* Members sorted once, then one binary search per worker: no cap on the
 * group's size and no members × workers scan. */
size_t fleet_workers_departed(const fleet_state *fs, const char *const *members, size_t n_members,
                              const char **out, size_t max)
{
    size_t n = 0, nm = 0;
    const char **sorted = members && n_members ? malloc(n_members * sizeof(*sorted)) : NULL;
    if (members && n_members && !sorted)
        abort(); /* small bookkeeping (STYLE: errors) */
    for (size_t i = 0; sorted && i < n_members; i++)
        if (members[i])
            sorted[nm++] = members[i];
    if (nm)
        qsort(sorted, nm, sizeof(*sorted), by_name);
    for (size_t i = 0; fs && i < fs->n_workers; i++) {
        const struct fleet_worker *w = &fs->workers[i];
        const char *id = w->id;
        if (!w->live || (nm && bsearch(&id, sorted, nm, sizeof(*sorted), by_name)))
            continue;
        if (n < max)
            out[n] = w->id;
        n++;
    }
    free(sorted);
    return n;
}
