/**
 * @file control.h
 * @brief The worker's side of the control topic (ARCHITECTURE §5): read it
 *        from the start into the fleet-state reducer, and append this
 *        worker's own events. The log is the only coordination: every worker
 *        folds the same events in the same order and reaches the same
 *        decisions.
 *
 * @locality main thread only.
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
 *        @p producer (borrowed) appends this worker's events; @p keyring
 *        (borrowed) checks the signed ones.
 * @returns NULL with the reason in errstr.
 */
control *control_new(const struct worker_config *cfg, kio_producer *producer,
                     crypto_keyring *keyring, char *errstr, size_t errstr_size);
/** @brief Close the consumer and free the fleet state. NULL is a no-op. */
void control_free(control *c);

/**
 * @brief Read the log up to the end seen at control_new (start-up).
 *        @p stop (may be NULL) is checked between polls.
 */
int control_catch_up(control *c, const atomic_bool *stop, char *errstr, size_t errstr_size);
/**
 * @brief Fold whatever new events arrived.
 * @returns how many records were read, or a negative fatal consumer error.
 */
int control_poll(control *c, int timeout_ms);
/** @brief Append an event (worker events are unsigned). @returns 0 or negative errno. */
int control_emit(control *c, const struct ctl_event *ev);

/** @brief The fleet as the log has told it so far (owned by @p c). */
fleet_state *control_fleet(control *c);
/** @brief The next offset to read (where reading stands). */
int64_t control_offset(const control *c);

#endif
