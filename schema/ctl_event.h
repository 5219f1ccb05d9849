/**
 * @file ctl_event.h
 * @brief Control events on `kfleet.control` (JSON, ARCHITECTURE §5): the plain
 *        C form, encode to canonical JSON bytes, decode with validation.
 *        schema/ctl.*.schema.json document each type; docs/schema.md the rules.
 *
 * struct ctl_event is one flat value type: fixed-size NUL-terminated strings,
 * no heap memory, so it can be copied, kept on the stack and needs no _fini.
 * Each type uses a subset of the fields (table in docs/schema.md); the others
 * stay zero. Every event has "v" (CTL_VERSION), "type" and "event_id".
 *
 * Canonical bytes: compact JSON with sorted keys and non-ASCII escaped;
 * optional string fields are omitted when empty, every other field of the
 * type is always written. Decoding ignores unknown keys (forward compatible)
 * and treats null as absent.
 */
#ifndef SCHEMA_CTL_EVENT_H
#define SCHEMA_CTL_EVENT_H

#include "common/kf_buf.h"
#include "schema/names.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CTL_VERSION 1
#define CTL_NAME_CAP \
    SCHEMA_NAME_CAP /**< model, version, worker, claim_id, event_id (names.h) + NUL */
#define CTL_REASON_CAP (SCHEMA_REASON_MAX + 1) /**< free text + NUL */
#define CTL_HOST_CAP 256
#define CTL_BACKEND_CAP 33
#define CTL_BUCKET_CAP 64                /**< S3 bucket names are at most 63 bytes */
#define CTL_KEY_CAP 1025                 /**< S3 keys are at most 1024 bytes */
#define CTL_MAX_MODELS 32                /**< models listed in worker.joined */
#define CTL_EVENT_MAX_BYTES (256 * 1024) /**< larger values are refused unparsed */
#define CTL_KEY_ID_CAP 17                /**< key_id: 16 lower-case hex characters + NUL */
#define CTL_PUBKEY_CAP 45                /**< pubkey: base64 of 32 bytes (44) + NUL */

struct ctl_event;

enum ctl_type {
    CTL_MODEL_PUBLISHED = 0, /**< "model.published" (publisher, signed) */
    CTL_ROLLOUT_COMMAND,     /**< "rollout.command" (operator, signed) */
    CTL_WORKER_JOINED,       /**< "worker.joined" */
    CTL_WORKER_LEFT,         /**< "worker.left" */
    CTL_ROLLOUT_CLAIM,       /**< "rollout.claim" */
    CTL_ROLLOUT_STAGED,      /**< "rollout.staged" */
    CTL_ROLLOUT_CUTOVER,     /**< "rollout.cutover" */
    CTL_ROLLOUT_DONE,        /**< "rollout.done" */
    CTL_ROLLOUT_FAILED,      /**< "rollout.failed" */
    CTL_ROLLOUT_HEALTHY,     /**< "rollout.healthy" */
    CTL_ROLLOUT_EXPIRE,      /**< "rollout.expire" */
    CTL_KEY_ENROLLED,        /**< "key.enrolled" (operator, signed): a worker's own key */
    CTL_KEY_REVOKED,         /**< "key.revoked" (operator, signed): a key stops counting */
};
#define CTL_TYPE_COUNT 13

/** @brief "model.published", ...; "?" outside the enum. */
const char *ctl_type2str(enum ctl_type t);
/** @brief Parse a type name. @returns 0, -ENOMSG for an unknown name */
int ctl_type_from_str(const char *s, enum ctl_type *out);
/**
 * @brief Whether events of type @p t speak for the operator and must be signed
 *        by a release (root) key: model.published, rollout.command,
 *        key.enrolled, key.revoked. Every other type speaks for a worker and is
 *        signed, if at all, by that worker's enrolled key (docs/security.md).
 */
bool ctl_type_needs_signature(enum ctl_type t);

/**
 * @brief The worker an event speaks for: "by" when set (an event one worker
 *        appends about another: worker.left, rollout.expire, rollout.cutover),
 *        else "worker". NULL for the operator's types (ctl_type_needs_signature)
 *        and for a worker type that names nobody (a cutover or expire with
 *        neither field). Borrowed from @p ev.
 */
const char *ctl_event_issuer(const struct ctl_event *ev);

enum ctl_strategy_kind {
    CTL_STRATEGY_ROLLING = 0, /**< "rolling" */
    CTL_STRATEGY_CANARY,      /**< "canary" */
    CTL_STRATEGY_BLUEGREEN,   /**< "bluegreen" */
    CTL_STRATEGY_ALL,         /**< "all": every claim is granted at once */
};

enum ctl_swap_mode {
    CTL_SWAP_AUTO = 0, /**< "auto" */
    CTL_SWAP_INPLACE,  /**< "inplace" */
    CTL_SWAP_HANDOFF,  /**< "handoff" */
};

struct ctl_strategy {
    enum ctl_strategy_kind kind;
    uint32_t max_unavailable; /**< >= 1; default 1 */
    uint32_t canary_workers;  /**< >= 1; default 1 */
    uint32_t bake_s;          /**< default 60 */
    bool auto_promote;        /**< default true */
    bool auto_rollback;       /**< default true */
    uint32_t lease_s;         /**< >= 1; default 600 */
    double max_error_rate;    /**< thresholds.max_error_rate, 0..1; default 0.01 */
    double max_p99_ratio;     /**< thresholds.max_p99_ratio, >= 1; default 1.5 */
    /** The health window after every swap outside a canary bake (rolling,
     *  and after a blue/green cutover), seconds: the worker judges its live
     *  traffic by the thresholds above, and a rolling claim holds its slot
     *  until the worker says healthy. 0: none. Default 10; an event without
     *  the field (appended before issue 16) has none. */
    uint32_t health_s;
    /** A rollout with no progress (no claim granted, no done, staged or
     *  healthy) for this long is reported stalled. Default 300. */
    uint32_t stall_s;
    enum ctl_swap_mode swap_mode;
};

/** @brief The defaults above with kind rolling. */
void ctl_strategy_default(struct ctl_strategy *st);

enum ctl_action {
    CTL_ACTION_PROMOTE = 0, /**< "promote" */
    CTL_ACTION_PAUSE,       /**< "pause" */
    CTL_ACTION_RESUME,      /**< "resume" */
    CTL_ACTION_ABORT,       /**< "abort" */
    CTL_ACTION_ROLLBACK,    /**< "rollback" */
};

enum ctl_mode {
    CTL_MODE_INPLACE = 0, /**< "inplace" */
    CTL_MODE_HANDOFF,     /**< "handoff" */
    CTL_MODE_CUTOVER,     /**< "cutover": a blue/green flip at rollout.cutover, no claim */
};

enum ctl_stage {
    CTL_STAGE_FETCH = 0, /**< "fetch" */
    CTL_STAGE_VERIFY,    /**< "verify": digest or signature */
    CTL_STAGE_LOAD,      /**< "load" */
    CTL_STAGE_VALIDATE,  /**< "validate": golden vectors */
    CTL_STAGE_WARMUP,    /**< "warmup" */
    CTL_STAGE_FLIP,      /**< "flip" */
    CTL_STAGE_HEALTH,    /**< "health": thresholds broken during the bake period */
};

const char *ctl_strategy_kind2str(enum ctl_strategy_kind k);
const char *ctl_swap_mode2str(enum ctl_swap_mode m);
const char *ctl_action2str(enum ctl_action a);
const char *ctl_mode2str(enum ctl_mode m);
const char *ctl_stage2str(enum ctl_stage s);

struct ctl_manifest_ref {
    char bucket[CTL_BUCKET_CAP];
    char key[CTL_KEY_CAP];
    char sha256[65]; /**< lower-case hex of the manifest bytes */
    uint64_t size;   /**< manifest bytes */
};

struct ctl_model_version {
    char model[CTL_NAME_CAP];
    char version[CTL_NAME_CAP]; /**< "" when none is loaded */
};

struct ctl_timings {
    uint64_t fetch_us, verify_us, load_us, warmup_us, flip_us, unowned_us;
};

struct ctl_metrics {
    uint64_t requests, errors, p99_us, baseline_p99_us;
};

/**
 * @brief One control event. Fields by type (R required, o optional):
 *  model.published  R model version seq manifest strategy
 *  rollout.command  R model action; o version reason seq cmd_seq
 *  worker.joined    R worker; o host backend device free_memory models
 *  worker.left      R worker; o reason by
 *  rollout.claim    R worker model version claim_id
 *  rollout.staged   R worker model version
 *  rollout.cutover  R model version; o worker by
 *  rollout.done     R worker model version mode; o claim_id timings
 *  rollout.failed   R worker model version stage reason; o claim_id
 *  rollout.healthy  R worker model version; o metrics
 *  rollout.expire   R claim_id; o worker model reason by
 *  key.enrolled     R worker pubkey; o reason
 *  key.revoked      R key_id; o reason
 */
struct ctl_event {
    enum ctl_type type;
    uint32_t v;
    char event_id[CTL_NAME_CAP];
    char model[CTL_NAME_CAP];
    char version[CTL_NAME_CAP];
    char worker[CTL_NAME_CAP];
    char claim_id[CTL_NAME_CAP];
    char reason[CTL_REASON_CAP];
    /** published: >= 1, monotonic per model; command: the publication it acts on (0: unbound) */
    uint64_t seq;
    uint64_t cmd_seq;            /**< command: per-model sequence, increasing (0 = unsequenced) */
    char by[CTL_NAME_CAP];       /**< left, expire, cutover: the issuing worker ("" = worker) */
    char key_id[CTL_KEY_ID_CAP]; /**< revoked: the key */
    char pubkey[CTL_PUBKEY_CAP]; /**< enrolled: base64 Ed25519 public key (32 bytes) */
    struct ctl_manifest_ref manifest;                /**< published */
    struct ctl_strategy strategy;                    /**< published */
    enum ctl_action action;                          /**< command */
    char host[CTL_HOST_CAP];                         /**< joined */
    char backend[CTL_BACKEND_CAP];                   /**< joined: "ref", "cuda", ... */
    char device[CTL_NAME_CAP];                       /**< joined */
    uint64_t free_memory;                            /**< joined: device bytes free */
    size_t n_models;                                 /**< joined */
    struct ctl_model_version models[CTL_MAX_MODELS]; /**< joined: what it serves */
    enum ctl_mode mode;                              /**< done */
    struct ctl_timings timings;                      /**< done */
    enum ctl_stage stage;                            /**< failed */
    struct ctl_metrics metrics;                      /**< healthy */
};

/** @brief Zero @p ev, set type, v and the default strategy. */
void ctl_event_init(struct ctl_event *ev, enum ctl_type type);

/**
 * @brief Append the canonical JSON bytes of @p ev to @p out. The event is
 *        validated exactly as ctl_event_decode would (a value that encodes
 *        always decodes). On failure @p out is left as it was.
 * @returns 0; -EINVAL a field is missing or invalid (errstr names it);
 *          -ENOMEM
 */
int ctl_event_encode(const struct ctl_event *ev, kf_buf *out, char *errstr, size_t errstr_size);

/**
 * @brief Decode and validate one control event value.
 * @returns 0;
 *          -EINVAL  NULL argument;
 *          -E2BIG   more than CTL_EVENT_MAX_BYTES;
 *          -EPROTO  not a JSON object, v missing or not 1, event_id missing,
 *                   a field of the type missing ("model: missing"), of the
 *                   wrong type or with an invalid value (errstr names it);
 *          -ENOMSG  the "type" is a string but no known event type (errstr
 *                   says which), so a reader can skip newer event types;
 *          -ENOMEM
 */
int ctl_event_decode(const uint8_t *buf, size_t len, struct ctl_event *out, char *errstr,
                     size_t errstr_size);

#endif
