/**
 * @file control.h
 * @brief The worker's side of the control topic (ARCHITECTURE §5): read it
 *        from the start into the fleet-state reducer, and append this
 *        worker's own events. The log is the only coordination: every worker
 *        folds the same events in the same order and reaches the same
 *        decisions.
 *
 * @locality one fold thread reads the log into the fleet state (under a lock);
 *           the rest from the main thread.
 */
#ifndef KF_WORKER_CONTROL_H
#define KF_WORKER_CONTROL_H

#include "common/crypto.h"
#include "common/kio_consumer.h"
#include "common/kio_producer.h"
#include "schema/fleet.h"
#include "worker/worker_conf.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct control control;

/**
 * @brief Assign the control topic from its start and read where it ends.
 *        @p producer (borrowed) appends this worker's events, signed with
 *        @p signer (borrowed; NULL: unsigned); @p keyring (borrowed) checks
 *        the signed events of others.
 * @returns NULL with the reason in errstr.
 */
control *control_new(const struct worker_config *cfg, kio_producer *producer,
                     crypto_keyring *keyring, const struct crypto_ed25519_key *signer, char *errstr,
                     size_t errstr_size);
/** @brief Close the consumer and free the fleet state. NULL is a no-op. */
void control_free(control *c);

/** @brief Start the fold thread (after the reads of the fleet state are wired). */
int control_start(control *c, char *errstr, size_t errstr_size);
/**
 * @brief Wait until the fold thread has read the log up to the end seen at
 *        control_new (start-up). It waits as long as records keep coming, and
 *        gives up only when none came for 60 s. @p stop (may be NULL) cancels.
 */
int control_catch_up(control *c, const atomic_bool *stop, char *errstr, size_t errstr_size);
/** @brief Append an event, signed with the worker's key if it has one. @returns 0 or negative
 * errno. */
int control_emit(control *c, const struct ctl_event *ev);

/**
 * @brief The fleet as the log has told it so far, locked against the fold
 *        thread until control_unlock. control_lock waits (start-up only);
 *        control_trylock returns NULL while the fold holds it (the main loop
 *        then skips its rollout turn rather than wait).
 */
fleet_state *control_lock(control *c);
fleet_state *control_trylock(control *c);
void control_unlock(control *c);
/** @brief The fleet state; only between control_lock/control_trylock and control_unlock. */
fleet_state *control_fleet(control *c);
/** @brief The next offset to read (where reading stands), from any thread. */
int64_t control_offset(control *c);
/** @brief A fatal control-consumer error (negative errno), or 0. */
int control_error(control *c);

#endif
