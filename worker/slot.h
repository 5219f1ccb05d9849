/**
 * @file slot.h
 * @brief A served model's versions: one active, at most one standby.
 *
 * Inference takes a reference on the active version for one batch and drops
 * it after; a swap publishes the new version in one step; a version is
 * destroyed (its device memory freed) when it is neither active nor standby
 * and its last batch returned. The lock is held only to read or swap the two
 * pointers and move a reference count — once per batch, never per request,
 * and never across compute or I/O.
 *
 * @locality any thread.
 */
#ifndef KF_SLOT_H
#define KF_SLOT_H

#include "schema/names.h"

#include <stddef.h>
#include <stdint.h>

/** @brief One loaded version. Fields are set before it is first published and read-only after. */
struct slot_version {
    char version[SCHEMA_NAME_CAP];
    char manifest_sha256[65];
    uint64_t seq;
    size_t input_width, output_width;
    size_t weight_bytes; /**< device (or host) memory it holds */
    void *impl;          /**< the backend's weights handle and whatever else the owner needs */
    /** Frees impl; called once, from whichever thread drops the last reference. */
    void (*destroy)(struct slot_version *v);
    int refs; /**< owned by the slot's lock */
};

typedef struct model_slot model_slot;

/** @brief An empty slot for @p model (copied). NULL on OOM. */
model_slot *slot_new(const char *model);
/** @brief Drop both versions (destroyed once their batches return) and the slot. */
void slot_free(model_slot *s);
const char *slot_model(const model_slot *s);

/**
 * @brief The active version with a reference taken, or NULL if none is loaded.
 *        With @p version non-NULL, the active version only if it has that
 *        name (a request may pin the live version, never the standby), or NULL.
 */
struct slot_version *slot_acquire(model_slot *s, const char *version);
/** @brief Drop a reference from slot_acquire (NULL is a no-op). */
void slot_release(model_slot *s, struct slot_version *v);

/**
 * @brief Make @p v (steals: the slot owns it from now on) active. The old
 *        active version is dropped — destroyed when its last batch returns.
 *        A standby of the same version name is dropped too.
 */
void slot_activate(model_slot *s, struct slot_version *v);
/** @brief Put @p v (steals) in standby, replacing (and dropping) any standby. */
void slot_stage(model_slot *s, struct slot_version *v);
/**
 * @brief Swap active and standby (blue/green cutover, and the flip back).
 * @returns 0, -ENOENT (no standby)
 */
int slot_flip(model_slot *s);
/** @brief Drop the standby, if any. */
void slot_unstage(model_slot *s);
/**
 * @brief Drop the active version (hand-off: free the old weights before the
 *        new ones load). Requests then get -ENOENT until slot_activate().
 */
void slot_drop_active(model_slot *s);

/** @brief Copy the active (and standby) version names, "" if none. */
void slot_versions(model_slot *s, char active[SCHEMA_NAME_CAP], char standby[SCHEMA_NAME_CAP]);
/** @brief Bytes held by resident versions (active + standby + retiring). */
size_t slot_resident_bytes(model_slot *s);

#endif
