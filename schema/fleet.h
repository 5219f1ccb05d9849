/**
 * @file fleet.h
 * @brief The fleet-state reducer (ARCHITECTURE §5): folds decoded control
 *        events, in offset order, into per-model rollout state, and answers
 *        the questions a worker and `kfleetctl` ask. Rules and decisions:
 *        docs/schema.md, "Fleet-state reducer".
 *
 * Pure: no I/O and no clock. Time exists only as the records' LogAppendTime
 * (ts_ms) and as the @c now_ms a caller passes to fleet_claims_expired. Every
 * reader that folds the same log prefix gets the same state (compare
 * fleet_state_dump), which is what replaces a lock service.
 *
 * @locality a fleet_state is not thread-safe; the worker's main thread owns it.
 */
#ifndef SCHEMA_FLEET_H
#define SCHEMA_FLEET_H

#include "common/kf_buf.h"
#include "common/kf_log.h"
#include "schema/ctl_event.h"
#include "schema/ctl_sig.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum fleet_phase {
    FLEET_IDLE = 0,    /**< "idle": nothing published yet */
    FLEET_ROLLING,     /**< "rolling": claims granted under max_unavailable */
    FLEET_CANARY,      /**< "canary": only canary_workers claims granted */
    FLEET_STAGING,     /**< "staging": blue/green, workers stage in standby */
    FLEET_PAUSED,      /**< "paused": no new claims; granted ones may finish */
    FLEET_HALTED,      /**< "halted": a failure or abort stopped the rollout */
    FLEET_ROLLED_BACK, /**< "rolled_back": target is the previous good version */
    FLEET_COMPLETE,    /**< "complete": every live worker runs the target */
};
#define FLEET_PHASE_COUNT 8

/** @brief "idle", "rolling", ...; "?" outside the enum. */
const char *fleet_phase2str(enum fleet_phase p);

/**
 * @brief The transition table: whether the reducer may move a model from
 *        @p cur to @p next. Staying in a phase is always valid.
 */
bool fleet_transition_is_valid(enum fleet_phase cur, enum fleet_phase next);

enum fleet_claim_status {
    FLEET_CLAIM_ACTIVE = 0, /**< granted and not yet ended: holds a slot */
    FLEET_CLAIM_DONE,       /**< rollout.done */
    FLEET_CLAIM_FAILED,     /**< rollout.failed */
    FLEET_CLAIM_EXPIRED,    /**< rollout.expire after the lease */
    FLEET_CLAIM_REFUSED,    /**< not granted when it was appended; never holds a slot */
};
const char *fleet_claim_status2str(enum fleet_claim_status s);

/** @brief A claim as the log decided it. */
struct fleet_claim {
    char claim_id[CTL_NAME_CAP];
    char worker[CTL_NAME_CAP];
    char model[CTL_NAME_CAP];
    char version[CTL_NAME_CAP];
    int64_t offset;   /**< of the rollout.claim */
    int64_t ts_ms;    /**< its LogAppendTime */
    int64_t lease_ms; /**< strategy.lease_s × 1000 at the time of the claim */
    bool granted;     /**< decided once, at the claim's position in the log */
    enum fleet_claim_status status;
    int64_t end_offset; /**< offset of the done/failed/expire; -1 while active or refused */
    /** Offset of its rollout.done while the claim still holds its slot for the
     *  worker's health window (strategy.health_s, rolling and canary); -1
     *  before the swap or without a window. The claim ends (done) at the
     *  worker's rollout.healthy, or failed at its rollout.failed. */
    int64_t swapped_offset;
    char why[96]; /**< why it was refused; "" when granted */
};

/**
 * @brief One control-topic record for the reducer. All pointers are borrowed
 *        for the call.
 *
 * The reducer authenticates the record itself (docs/security.md): hand it
 * the exact value bytes and the raw `kfleet-sig` header, and the release keys
 * in fleet_opts.root_keys. @c sig is the old caller-computed verdict and is
 * read only when fleet_opts.root_keys is NULL, and then only for the
 * operator's types (ctl_type_needs_signature).
 */
struct fleet_record {
    const struct ctl_event *ev; /**< decoded value */
    int64_t offset;             /**< Kafka offset; strictly increasing across calls */
    int64_t ts_ms;              /**< LogAppendTime, epoch ms */
    enum ctl_sig_verdict sig;   /**< legacy: ctl_sig_verify verdict (root_keys NULL only) */
    const uint8_t *value;       /**< the Kafka value bytes ev was decoded from; NULL: unknown */
    size_t value_len;
    const uint8_t *sig_header; /**< the `kfleet-sig` header value; NULL: the record has none */
    size_t sig_header_len;
};

enum fleet_verdict {
    FLEET_APPLIED = 0, /**< the event changed (or was recorded in) the state */
    FLEET_IGNORED,     /**< stale, unsigned, unknown model, duplicate...: no effect */
    FLEET_INVALID,     /**< not allowed in the current phase: reported, not applied */
};
const char *fleet_verdict2str(enum fleet_verdict v);

/**
 * @brief Who the reducer found a record to come from, and whether that let it
 *        count (kept per record for `kfleetctl audit`). Anything but OK and
 *        UNSIGNED means the record changed nothing.
 */
enum fleet_auth {
    FLEET_AUTH_OK = 0,     /**< "ok": signed by a key that speaks for it, valid signature */
    FLEET_AUTH_UNSIGNED,   /**< "unsigned": no signature, and none required (transition mode) */
    FLEET_AUTH_UNVERIFIED, /**< "unverified": had no effect anyway; signature not checked */
    FLEET_AUTH_FORGED,     /**< "forged": signature missing where required, malformed, by an
                                unknown key, by a key that does not speak for the issuer, or
                                not valid */
    FLEET_AUTH_REVOKED,    /**< "revoked_key": signed by a key revoked before this offset */
    FLEET_AUTH_REPLAYED,   /**< "replayed": byte-identical to an earlier record, or a command
                                for an older publication / with a cmd_seq not above the last */
    FLEET_AUTH_DUPLICATE,  /**< "duplicate": event_id taken by an earlier accepted event */
};
#define FLEET_AUTH_COUNT 7
const char *fleet_auth2str(enum fleet_auth a);

/** @brief What one fed record did. */
struct fleet_result {
    enum fleet_verdict verdict;
    enum fleet_auth auth;      /**< who it was found to come from (see enum fleet_auth) */
    char key_id[17];           /**< the key that signed it, "" when none could be read */
    enum fleet_phase from, to; /**< the model's phase before and after (equal if none) */
    bool granted;              /**< for rollout.claim: the claim was granted */
    char reason[256];          /**< one line: why ignored / invalid / what changed */
};

/**
 * @brief Receives one log line per transition, refusal or invalid event.
 *        Lines above kf_log_get_level() are not formatted or passed on; forged,
 *        replayed and duplicate records log at debug level (a flood of them
 *        must not flood the log: fleet_auth_count() counts them).
 */
typedef void (*fleet_log_fn)(void *opaque, enum kf_log_level level, const char *line);

struct fleet_opts {
    /** Ignore the operator's events (ctl_type_needs_signature) unless signed by a release key
     *  (default true). */
    bool require_signatures;
    /** The release keys (today's trusted_keys file; borrowed, must outlive the state). With
     *  it the reducer verifies every signature itself against the keys valid at each record's
     *  offset (release keys minus key.revoked; worker keys from key.enrolled). NULL: legacy,
     *  the operator's events are judged by fleet_record.sig. */
    const crypto_keyring *root_keys;
    /** Ignore worker events that carry no signature (default false while workers do not sign).
     *  Either way a worker event that IS signed counts only when the key is enrolled for its
     *  issuer (ctl_event_issuer), not revoked, and the signature verifies. */
    bool require_worker_signatures;
    /** Verify every signature, even of events that change nothing (kfleetctl audit): the
     *  verdict is then never FLEET_AUTH_UNVERIFIED. Costs one Ed25519 verify per signed
     *  record (default false). */
    bool verify_all;
    fleet_log_fn log; /**< NULL: kf_log() with module "fleet" */
    void *log_opaque;
};

void fleet_opts_default(struct fleet_opts *o);

typedef struct fleet_state fleet_state;

/** @brief An empty state (phase idle everywhere). @p opts NULL = defaults. NULL on OOM. */
fleet_state *fleet_state_new(const struct fleet_opts *opts);
void fleet_state_free(fleet_state *fs);

/**
 * @brief Fold one record.
 * @param res  optional out: what it did
 * @returns 0 (whether applied, ignored or invalid: see @p res);
 *          -EINVAL NULL record/event, or offset not above the last one fed
 *                  (nothing changed);
 *          -ENOMEM (the state may hold a partial effect of this record;
 *                  rebuild it from the log)
 */
int fleet_state_feed(fleet_state *fs, const struct fleet_record *rec, struct fleet_result *res);

/** @brief How many records got verdict @p a so far. */
uint64_t fleet_auth_count(const fleet_state *fs, enum fleet_auth a);

/** @brief How many Ed25519 verifications the fold has made so far. */
uint64_t fleet_verify_count(const fleet_state *fs);

/** @brief One key as the log knows it (borrowed strings). */
struct fleet_key_info {
    const char *key_id;
    const char *worker;     /**< the worker it speaks for; "" for a release key */
    int64_t offset;         /**< of its key.enrolled; -1 for a release key */
    int64_t revoked_offset; /**< of its key.revoked; -1 while valid */
};

/**
 * @brief The key @p key_id: enrolled workers' keys, and release keys the log
 *        revoked. @returns 0, -ENOENT (unknown, or a release key never revoked)
 */
int fleet_key_get(const fleet_state *fs, const char *key_id, struct fleet_key_info *out);

/** @brief Offset of the last record fed, -1 before the first. */
int64_t fleet_state_last_offset(const fleet_state *fs);

/**
 * @brief A canonical JSON dump of the whole state (sorted keys; models and
 *        workers in order of first appearance; claims in log order). Two
 *        reducers agree iff their dumps are byte-identical. `kfleetctl status
 *        --json` prints it.
 * @returns 0, -ENOMEM
 */
int fleet_state_dump(const fleet_state *fs, kf_buf *out);

/* ---- queries (all borrowed pointers stay valid until the next feed or free) ---- */

struct fleet_model_info {
    const char *model;
    enum fleet_phase phase;
    enum fleet_phase resume_phase;           /**< where resume goes from paused/halted */
    const char *target;                      /**< "" while idle */
    const char *previous_good;               /**< "" when none */
    uint64_t seq;                            /**< highest accepted model.published seq */
    const struct ctl_strategy *strategy;     /**< of the current rollout */
    const struct ctl_manifest_ref *manifest; /**< of the target version */
    size_t n_claims;
    const struct fleet_claim *claims; /**< all claims for this model, log order */
    size_t active_claims;             /**< granted and active (any version) */
    size_t n_staged, n_healthy;       /**< workers staged / healthy on the target */
    const char *halt_reason;          /**< "" unless halted or rolled back */
    int64_t phase_offset;             /**< offset of the last phase change, -1 none */
    int64_t cutover_offset;           /**< offset of the accepted cutover, or of the signed
                                           rollback that flipped it back; -1 none */
    uint64_t cmd_seq;                 /**< highest accepted rollout.command cmd_seq (0 none) */
    size_t held_claims;               /**< of active_claims: swapped, held for the health window */
    size_t off_target;   /**< live workers serving the model that do not run the target */
    int64_t progress_ms; /**< LogAppendTime of the last progress: a phase change, a claim
                              granted, a done, staged or healthy; -1 none */
};

/**
 * @brief Whether the rollout of @p mi is stalled at @p now_ms: it is under way
 *        (rolling, canary, staging, or rolled back with workers still to
 *        return) and nothing progressed for strategy.stall_s.
 * @param for_ms  optional out: how long since the last progress (0 when none)
 */
bool fleet_model_stalled(const struct fleet_model_info *mi, int64_t now_ms, int64_t *for_ms);

/** @returns 0, -ENOENT no such model */
int fleet_model_get(const fleet_state *fs, const char *model, struct fleet_model_info *out);
size_t fleet_model_count(const fleet_state *fs);
/** @returns 0, -ENOENT @p i out of range. Order: first appearance in the log. */
int fleet_model_at(const fleet_state *fs, size_t i, struct fleet_model_info *out);

struct fleet_version_info {
    const char *version;
    uint64_t seq;
    int64_t offset; /**< of its model.published */
    const struct ctl_manifest_ref *manifest;
    const struct ctl_strategy *strategy;
};

/** @brief A version accepted by model.published. @returns 0, -ENOENT */
int fleet_version_get(const fleet_state *fs, const char *model, const char *version,
                      struct fleet_version_info *out);

/** @brief The claim with @p claim_id (borrowed), or NULL. */
const struct fleet_claim *fleet_claim_find(const fleet_state *fs, const char *claim_id);

/** @brief Whether the claim exists, was granted and is still active: "may I swap now?" */
bool fleet_claim_granted(const fleet_state *fs, const char *claim_id);

/**
 * @brief The version worker @p worker runs for @p model according to the log
 *        (worker.joined, rollout.done, rollout.cutover), or NULL if unknown.
 */
const char *fleet_worker_version(const fleet_state *fs, const char *worker, const char *model);

/** @brief Whether the log considers @p worker live (it appeared and has not left). */
bool fleet_worker_live(const fleet_state *fs, const char *worker);

/** @brief One worker as the log knows it (borrowed strings). */
struct fleet_worker_info {
    const char *id, *host, *backend, *device;
    bool live;            /**< joined and not left */
    uint64_t free_memory; /**< device bytes free at its last worker.joined */
    int64_t last_offset;  /**< offset of the last event that named it */
    size_t n_models;      /**< fleet_worker_model_at() indexes */
};

size_t fleet_worker_count(const fleet_state *fs);
/** @returns 0, -ENOENT @p i out of range. Order: first appearance in the log. */
int fleet_worker_at(const fleet_state *fs, size_t i, struct fleet_worker_info *out);
/**
 * @brief Model @p j of worker @p i and the version it runs ("" = it serves the
 *        model, nothing loaded yet).
 * @returns 0, -ENOENT out of range
 */
int fleet_worker_model_at(const fleet_state *fs, size_t i, size_t j, const char **model,
                          const char **version);

enum fleet_action {
    FLEET_ACT_NONE = 0, /**< nothing to do: already on the version, or no target */
    FLEET_ACT_LOAD,     /**< nothing loaded yet: load the version, no claim (adds capacity) */
    FLEET_ACT_CLAIM,    /**< prefetch + verify, then append rollout.claim */
    FLEET_ACT_SWAP,     /**< your claim (claim_id) is granted: swap now, then rollout.done */
    FLEET_ACT_STAGE,    /**< blue/green: load into standby, then rollout.staged */
    FLEET_ACT_FLIP,     /**< blue/green cutover (or the rollback that flipped it back)
                             happened: flip to the version held in standby */
    FLEET_ACT_WAIT,     /**< not now (paused, halted, slots full, waiting for cutover) */
};
const char *fleet_action2str(enum fleet_action a);

struct fleet_plan {
    enum fleet_action action;
    const char *version;  /**< the version to run (borrowed), "" with NONE and no target */
    const char *claim_id; /**< with SWAP: the granted claim; else NULL */
    const char *why;      /**< short static text */
};

/**
 * @brief What worker @p worker should do for @p model now.
 * @param current  the version the worker actually has active, or NULL when
 *                 none is loaded (the worker knows better than the log)
 * @returns 0, -EINVAL NULL argument
 */
int fleet_plan_worker(const fleet_state *fs, const char *worker, const char *model,
                      const char *current, struct fleet_plan *out);

/**
 * @brief Whether @p worker, refused a claim for @p model's target, should
 *        claim again now: a slot is free and fewer waiting workers than free
 *        slots were refused before it (first refusal since the target was
 *        set; workers that left, swapped or hold a claim meanwhile do not
 *        count). A worker never refused goes after every waiting one. Without
 *        this every waiting worker claims at each freed slot and all but one
 *        are refused: N² / max_unavailable records per rollout
 *        (docs/scaling.md). Strategy `all`: always.
 */
bool fleet_claim_turn(const fleet_state *fs, const char *model, const char *worker);

/**
 * @brief Granted, active claims whose lease is over at @p now_ms
 *        (ts_ms + lease_ms <= now_ms), in log order: the ones a worker should
 *        append rollout.expire for. The reducer accepts an expire only when
 *        its own LogAppendTime is past the lease.
 * @param out  up to @p max claims (borrowed); may be NULL when max is 0
 * @returns the number of such claims (may exceed @p max)
 */
size_t fleet_claims_expired(const fleet_state *fs, int64_t now_ms, const struct fleet_claim **out,
                            size_t max);

/**
 * @brief Whether a rollout.cutover should be appended for @p model: the phase
 *        is staging and every member of the request consumer group (worker
 *        ids, as read from Kafka) has staged the target. No members: false.
 */
bool fleet_cutover_due(const fleet_state *fs, const char *model, const char *const *members,
                       size_t n_members);

/**
 * @brief Workers the log considers live that are not in @p members (the
 *        consumer group dropped them): candidates for a worker.left on their
 *        behalf, which lets rollouts complete without them.
 * @param out  up to @p max worker ids (borrowed)
 * @returns the number of such workers (may exceed @p max)
 */
size_t fleet_workers_departed(const fleet_state *fs, const char *const *members, size_t n_members,
                              const char **out, size_t max);

#endif
