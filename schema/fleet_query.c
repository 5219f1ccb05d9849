/* Questions the worker and kfleetctl ask the reducer. Read-only. */
#include "schema/fleet_impl.h"

#include <errno.h>
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
        .active_claims = fleet_active_claims(m),
        .n_staged = m->n_staged,
        .n_healthy = m->n_healthy,
        .halt_reason = m->halt_reason,
        .phase_offset = m->phase_offset,
        .cutover_offset = m->cutover_offset,
    };
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
    for (size_t i = 0; fs && claim_id && i < fs->n_models; i++)
        for (size_t k = 0; k < fs->models[i].n_claims; k++)
            if (!strcmp(fs->models[i].claims[k].claim_id, claim_id))
                return &fs->models[i].claims[k];
    return NULL;
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
    for (size_t i = 0; i < m->n_staged; i++)
        if (!strcmp(m->staged[i].s, worker))
            return true;
    return false;
}

/* CLAIM, or WAIT when the claim would be refused for lack of a slot. */
static void claim_or_wait(const struct fleet_model *m, struct fleet_plan *out)
{
    size_t active = 0, canary_taken = 0;
    for (size_t i = 0; i < m->n_claims; i++) {
        const struct fleet_claim *c = &m->claims[i];
        active += c->status == FLEET_CLAIM_ACTIVE;
        canary_taken += c->granted && !strcmp(c->version, m->target) &&
                        (c->status == FLEET_CLAIM_ACTIVE || c->status == FLEET_CLAIM_DONE);
    }
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
    for (size_t i = 0; i < m->n_claims; i++) {
        const struct fleet_claim *c = &m->claims[i];
        if (c->status == FLEET_CLAIM_ACTIVE && !strcmp(c->worker, worker) &&
            !strcmp(c->version, m->target)) {
            out->action = FLEET_ACT_SWAP;
            out->claim_id = c->claim_id;
            out->why = "claim granted";
            return 0;
        }
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
    case FLEET_COMPLETE:
        if (m->cutover_offset >= 0 && staged_by(m, worker)) {
            out->action = FLEET_ACT_FLIP;
            out->why = "cutover: flip to the staged version";
            return 0;
        }
        claim_or_wait(m, out);
        return 0;
    default: claim_or_wait(m, out); return 0;
    }
}

size_t fleet_claims_expired(const fleet_state *fs, int64_t now_ms, const struct fleet_claim **out,
                            size_t max)
{
    size_t n = 0;
    for (size_t i = 0; fs && i < fs->n_models; i++) {
        for (size_t k = 0; k < fs->models[i].n_claims; k++) {
            const struct fleet_claim *c = &fs->models[i].claims[k];
            if (c->status != FLEET_CLAIM_ACTIVE || c->ts_ms + c->lease_ms > now_ms)
                continue;
            if (n < max)
                out[n] = c;
            n++;
        }
    }
    return n;
}

static bool member_of(const char *const *members, size_t n, const char *id)
{
    for (size_t i = 0; i < n; i++)
        if (members[i] && !strcmp(members[i], id))
            return true;
    return false;
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

size_t fleet_workers_departed(const fleet_state *fs, const char *const *members, size_t n_members,
                              const char **out, size_t max)
{
    size_t n = 0;
    for (size_t i = 0; fs && i < fs->n_workers; i++) {
        const struct fleet_worker *w = &fs->workers[i];
        if (!w->live || member_of(members, members ? n_members : 0, w->id))
            continue;
        if (n < max)
            out[n] = w->id;
        n++;
    }
    return n;
}
