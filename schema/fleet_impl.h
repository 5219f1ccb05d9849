/**
 * @file fleet_impl.h
 * @brief Internal layout of struct fleet_state, shared by the fleet_*.c files.
 *
 * Every per-event lookup goes through a hash table (fleet_map) or a counter
 * kept up to date on each change, so one fed record costs O(1) on average
 * whatever the log holds: no scan over all claims, workers or event ids, and
 * no fixed caps.
 */
#ifndef SCHEMA_FLEET_IMPL_H
#define SCHEMA_FLEET_IMPL_H

#include "schema/fleet.h"

/* ---- hash tables (fleet_map.c) ---- */

struct fleet_map_slot {
    uint64_t h, val;
    uint32_t koff, used;
};

/** String → uint64_t; keys are copied; nothing is ever deleted (only cleared). */
struct fleet_map {
    struct fleet_map_slot *slots;
    size_t cap, n;
    char *keys; /* arena of NUL-terminated keys */
    size_t keys_len, keys_cap;
};

/** @returns 0 (and *val when non-NULL), -ENOENT */
int fleet_map_get(const struct fleet_map *mp, const char *key, uint64_t *val);
/** Insert or overwrite. @returns 0, -ENOMEM */
int fleet_map_put(struct fleet_map *mp, const char *key, uint64_t val);
void fleet_map_clear(struct fleet_map *mp);
void fleet_map_fini(struct fleet_map *mp);

/** A set of 64-bit hashes (record identities). */
struct fleet_hset {
    uint64_t *slots;
    size_t cap, n;
};
/** @returns 1 added, 0 already there, -ENOMEM */
int fleet_hset_add(struct fleet_hset *hs, uint64_t h);
bool fleet_hset_has(const struct fleet_hset *hs, uint64_t h);
void fleet_hset_fini(struct fleet_hset *hs);

/** Never 0. */
uint64_t fleet_hash(const void *p, size_t len, uint64_t seed);

/* ---- state ---- */

struct fleet_name {
    char s[CTL_NAME_CAP];
};

/** An ordered set of names (the dump keeps order) with an index for lookups. */
struct fleet_names {
    struct fleet_name *v;
    size_t n, cap;
    struct fleet_map ix;
};

struct fleet_version {
    char version[CTL_NAME_CAP];
    uint64_t seq;
    int64_t offset;
    struct ctl_manifest_ref manifest;
    struct ctl_strategy strategy;
};

struct fleet_model {
    char name[CTL_NAME_CAP];
    enum fleet_phase phase;
    enum fleet_phase resume_phase;
    char target[CTL_NAME_CAP];
    char previous_good[CTL_NAME_CAP];
    uint64_t seq;
    uint64_t cmd_seq; /* highest accepted rollout.command cmd_seq */
    struct ctl_strategy strategy;
    struct ctl_manifest_ref manifest;
    char halt_reason[CTL_REASON_CAP];
    int64_t phase_offset, cutover_offset;
    int64_t progress_ms; /* LogAppendTime of the last progress (fleet_model_stalled) */
    struct fleet_claim *claims;
    size_t n_claims, cap_claims;
    struct fleet_names staged, healthy;
    /* Workers refused a claim for the target, in the order of their first
     * refusal since the target was set: the queue fleet_claim_turn reads. */
    struct fleet_names waiting;
    struct fleet_version *versions;
    size_t n_versions, cap_versions;
    uint64_t n_ignored, n_invalid;
    /* Counters kept on every change (no scans per event): */
    size_t n_active;        /* claims with status active */
    size_t n_held;          /* ... of which swapped, held for the health window */
    struct fleet_map taken; /* version → granted claims active or done (canary slots) */
    size_t n_serving;       /* live workers that serve the model */
    size_t n_off_target;    /* ... of which run something else than the target */
};

struct fleet_worker_model {
    char model[CTL_NAME_CAP];
    char version[CTL_NAME_CAP]; /**< "" = serves the model, nothing loaded */
};

/** One active claim of a worker: index of the model and of the claim in it. */
struct fleet_active {
    uint32_t model, claim;
};

struct fleet_worker {
    char id[CTL_NAME_CAP];
    bool live;
    char host[CTL_HOST_CAP];
    char backend[CTL_BACKEND_CAP];
    char device[CTL_NAME_CAP];
    uint64_t free_memory;
    int64_t last_offset;
    struct fleet_worker_model *models;
    size_t n_models, cap_models;
    struct fleet_active *active; /* its active claims (at most one per model) */
    size_t n_active, cap_active;
};

/** A key the log speaks about: a worker's enrolled key, or a revoked release key. */
struct fleet_key {
    char key_id[CTL_KEY_ID_CAP];
    uint8_t pub[CRYPTO_ED25519_KEY_LEN];
    bool root;                 /* a release key (only here once revoked) */
    char worker[CTL_NAME_CAP]; /* the worker it speaks for ("" for a release key) */
    int64_t offset;            /* of the key.enrolled; -1 for a release key */
    int64_t revoked_offset;    /* of the key.revoked; -1 while valid */
};

struct fleet_state {
    struct fleet_opts opts;
    int64_t last_offset;
    uint64_t n_records;
    struct fleet_model *models;
    size_t n_models, cap_models;
    struct fleet_worker *workers;
    size_t n_workers, cap_workers;
    struct fleet_key *keys;
    size_t n_keys, cap_keys;
    struct fleet_map model_ix;  /* name → index in models */
    struct fleet_map worker_ix; /* id → index in workers */
    struct fleet_map claim_ix;  /* claim_id → model index << 32 | claim index */
    struct fleet_map event_ix;  /* event_id of every accepted event → its record hash */
    struct fleet_map key_ix;    /* key_id → index in keys */
    struct fleet_hset records;  /* hashes of the records that passed the key checks */
    uint64_t n_auth[FLEET_AUTH_COUNT];
    uint64_t n_verify;
};

struct fleet_model *fleet_model_find(const fleet_state *fs, const char *name);
struct fleet_worker *fleet_worker_find(const fleet_state *fs, const char *id);
struct fleet_claim *fleet_claim_lookup(const fleet_state *fs, const char *claim_id);
/** The worker's active claim for model index @p mi, or NULL. */
struct fleet_claim *fleet_worker_active_claim(const fleet_state *fs, const struct fleet_worker *w,
                                              size_t mi);
const char *fleet_worker_model_version(const struct fleet_worker *w, const char *model);
bool fleet_names_has(const struct fleet_names *set, const char *s);
/** Grow *ptr (elements of @p size) to hold n+1. @returns 0, -ENOMEM */
int fleet_grow(void **ptr, size_t *cap, size_t n, size_t size);
/** Write a log line through the configured sink. */
void fleet_logf(const fleet_state *fs, enum kf_log_level lvl, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ---- authentication (fleet_trust.c) ---- */

/** What the key checks found for one record; the verify itself may be deferred. */
struct fleet_auth_ctx {
    enum fleet_auth auth; /* verdict so far */
    bool pending;         /* a signature still to verify before the event counts */
    uint8_t pub[CRYPTO_ED25519_KEY_LEN];
    uint8_t sig[CRYPTO_ED25519_SIG_LEN];
    uint64_t record_hash; /* of value + header; 0 when the caller gave no bytes */
    char why[160];        /* for the result reason when not ok */
};

/**
 * Cheap checks, no crypto: the signature's presence and form, the key
 * (known, speaks for this event's issuer, not revoked), then replays (the
 * same record bytes again) and duplicate event ids. Operator events are
 * verified here at once (they are few, and their ids and cmd_seq must be
 * recorded even when they change nothing); worker events are left pending.
 * @returns 1 the event may go on to its handler; 0 it may not (ac->auth,
 *          ac->why say why); -ENOMEM
 */
int fleet_auth_check(fleet_state *fs, const struct fleet_record *rec, struct fleet_auth_ctx *ac,
                     char key_id[CTL_KEY_ID_CAP]);
/** Verify a pending signature. @returns true when the event counts. */
bool fleet_auth_verify(fleet_state *fs, const struct fleet_record *rec, struct fleet_auth_ctx *ac);
/** Remember an accepted event's id (and record hash). @returns 0, -ENOMEM */
int fleet_auth_accept(fleet_state *fs, const struct fleet_record *rec,
                      const struct fleet_auth_ctx *ac);

#endif
