/* Canonical JSON of the whole state: the reducers-agree check and `kfleetctl status --json`. */
#include "schema/fleet_impl.h"

#include "schema/ctl_impl.h"
#include "schema/json_impl.h"

#include <errno.h>

static json_t *names_json(const struct fleet_names *set, int *err)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < set->n; i++)
        if (json_array_append_new(a, json_string(set->v[i].s)))
            *err = -ENOMEM;
    return a;
}

static json_t *claim_json(const struct fleet_claim *c)
{
    return json_pack("{sssssssIsIsIsbsssIsIss}", "claim_id", c->claim_id, "worker", c->worker,
                     "version", c->version, "offset", (json_int_t)c->offset, "ts_ms",
                     (json_int_t)c->ts_ms, "lease_ms", (json_int_t)c->lease_ms, "granted",
                     c->granted, "status", fleet_claim_status2str(c->status), "end_offset",
                     (json_int_t)c->end_offset, "swapped_offset", (json_int_t)c->swapped_offset,
                     "why", c->why);
}

static json_t *model_json(const struct fleet_model *m, int *err)
{
    json_t *o = json_object(), *claims = json_array(), *versions = json_array();
    if (!o || !claims || !versions) {
        json_decref(o);
        json_decref(claims);
        json_decref(versions);
        *err = -ENOMEM;
        return NULL;
    }
    ju_set(o, "model", json_string(m->name), err);
    ju_set(o, "phase", json_string(fleet_phase2str(m->phase)), err);
    ju_set(o, "resume_phase", json_string(fleet_phase2str(m->resume_phase)), err);
    ju_set(o, "target", json_string(m->target), err);
    ju_set(o, "previous_good", json_string(m->previous_good), err);
    ju_set(o, "seq", json_integer((json_int_t)m->seq), err);
    ju_set(o, "strategy", ctl_strategy_json(&m->strategy, err), err);
    ju_set(o, "manifest_sha256", json_string(m->manifest.sha256), err);
    ju_set(o, "halt_reason", json_string(m->halt_reason), err);
    ju_set(o, "phase_offset", json_integer(m->phase_offset), err);
    ju_set(o, "cutover_offset", json_integer(m->cutover_offset), err);
    ju_set(o, "progress_ms", json_integer(m->progress_ms), err);
    ju_set(o, "staged", names_json(&m->staged, err), err);
    ju_set(o, "healthy", names_json(&m->healthy, err), err);
    ju_set(o, "cmd_seq", json_integer((json_int_t)m->cmd_seq), err);
    ju_set(o, "ignored", json_integer((json_int_t)m->n_ignored), err);
    ju_set(o, "invalid", json_integer((json_int_t)m->n_invalid), err);
    for (size_t i = 0; i < m->n_versions; i++) {
        const struct fleet_version *v = &m->versions[i];
        if (json_array_append_new(versions,
                                  json_pack("{sssIsIss}", "version", v->version, "seq",
                                            (json_int_t)v->seq, "offset", (json_int_t)v->offset,
                                            "manifest_sha256", v->manifest.sha256)))
            *err = -ENOMEM;
    }
    for (size_t i = 0; i < m->n_claims; i++)
        if (json_array_append_new(claims, claim_json(&m->claims[i])))
            *err = -ENOMEM;
    ju_set(o, "versions", versions, err);
    ju_set(o, "claims", claims, err);
    return o;
}

static json_t *worker_json(const struct fleet_worker *w, int *err)
{
    json_t *o = json_object(), *models = json_object();
    if (!o || !models) {
        json_decref(o);
        json_decref(models);
        *err = -ENOMEM;
        return NULL;
    }
    ju_set(o, "worker", json_string(w->id), err);
    ju_set(o, "live", json_boolean(w->live), err);
    ju_set(o, "host", json_string(w->host), err);
    ju_set(o, "backend", json_string(w->backend), err);
    ju_set(o, "device", json_string(w->device), err);
    ju_set(o, "free_memory", json_integer((json_int_t)w->free_memory), err);
    ju_set(o, "last_offset", json_integer(w->last_offset), err);
    for (size_t i = 0; i < w->n_models; i++)
        ju_set(models, w->models[i].model, json_string(w->models[i].version), err);
    ju_set(o, "models", models, err);
    return o;
}

/* Keys in the order the log first named them: enrolled worker keys and
 * revoked ones (a release key appears only once revoked). */
static json_t *key_json(const struct fleet_key *k)
{
    return json_pack("{sssssIsIsb}", "key_id", k->key_id, "worker", k->worker, "offset",
                     (json_int_t)k->offset, "revoked_offset", (json_int_t)k->revoked_offset,
                     "release", k->root);
}

int fleet_state_dump(const fleet_state *fs, kf_buf *out)
{
    int err = 0;
    json_t *j = json_object(), *models = json_array(), *workers = json_array(),
           *keys = json_array();
    if (!j || !models || !workers || !keys) {
        json_decref(j);
        json_decref(models);
        json_decref(workers);
        json_decref(keys);
        return -ENOMEM;
    }
    for (size_t i = 0; i < fs->n_keys; i++)
        if (json_array_append_new(keys, key_json(&fs->keys[i])))
            err = -ENOMEM;
    for (size_t i = 0; i < fs->n_models; i++)
        if (json_array_append_new(models, model_json(&fs->models[i], &err)))
            err = -ENOMEM;
    for (size_t i = 0; i < fs->n_workers; i++)
        if (json_array_append_new(workers, worker_json(&fs->workers[i], &err)))
            err = -ENOMEM;
    ju_set(j, "last_offset", json_integer(fs->last_offset), &err);
    ju_set(j, "records", json_integer((json_int_t)fs->n_records), &err);
    ju_set(j, "models", models, &err);
    ju_set(j, "workers", workers, &err);
    ju_set(j, "keys", keys, &err);
    if (!err)
        err = ju_dump(j, out);
    json_decref(j);
    return err;
}
