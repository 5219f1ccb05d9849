/**
 * @file pub_control.h
 * @brief The control topic from the publisher's side: fold the log (from the
 *        beginning to the high watermark) through the fleet-state reducer,
 *        and append signed events through the idempotent producer.
 *
 * Signatures while folding: the fold requires signatures, as a worker's
 * does, against `trusted_keys` when configured, else against the signing
 * key's public half (pub_ctx_keyring): unsigned or untrusted model.published
 * / rollout.command are ignored, so a forged event cannot move the seq push
 * announces or the phase an operator command is checked against. Only an
 * invocation with no key at all (ls without --key or --pub) cannot check a
 * signature: it folds a well-formed one as good, unverified
 * (pub_log_verified() is false; ls says so); unsigned events stay ignored,
 * as every worker ignores them. Each
 * signed-type record's verdict is kept either way (pub_log_records) for ls
 * and verify.
 *
 * @locality a pub_log belongs to one thread.
 */
#ifndef KF_PUB_CONTROL_H
#define KF_PUB_CONTROL_H

#include "publisher/pub.h"
#include "schema/ctl_event.h"
#include "schema/ctl_sig.h"
#include "schema/fleet.h"

#include <stdint.h>

/** @brief One model.published or rollout.command as the fold saw it. */
struct pub_record {
    int64_t offset, ts_ms;
    struct ctl_event ev;                /**< decoded value */
    enum ctl_sig_verdict sig;           /**< of the kfleet-sig header */
    char key_id[CRYPTO_KEY_ID_LEN + 1]; /**< the key it names, "" when none */
    struct fleet_result res;            /**< what the reducer did with it */
};

typedef struct pub_log pub_log;

/**
 * @brief Open a reader of `topic.control` (manual assignment from the
 *        beginning, no group) and check that the topic exists. Reads nothing yet.
 * @param out  new (pub_log_free)
 * @returns 0; -ENOENT no such topic; -ETIMEDOUT, -ECONNREFUSED, ... the
 *          broker cannot be reached (errstr names the brokers); -ENOMEM
 */
int pub_log_open(struct pub_ctx *pc, pub_log **out, char *errstr, size_t errstr_size);
void pub_log_free(pub_log *lg);

/**
 * @brief Fold records until the position reaches @p until (exclusive; < 0:
 *        the high watermark as of now), within control.timeout_ms.
 * @returns 0; -ETIMEDOUT (errstr: how far it got); broker errors
 */
int pub_log_catch_up(pub_log *lg, int64_t until, char *errstr, size_t errstr_size);

/** @brief The next offset to fold (= records folded so far, counting skipped ones). */
int64_t pub_log_position(const pub_log *lg);

/** @brief The reducer's state (borrowed; valid until the next catch-up or free). */
fleet_state *pub_log_state(pub_log *lg);

/** @brief The model.published and rollout.command records folded, in log order (borrowed). */
size_t pub_log_records(const pub_log *lg, const struct pub_record **out);

/** @brief The record at @p offset, or NULL (borrowed). */
const struct pub_record *pub_log_record_at(const pub_log *lg, int64_t offset);

/**
 * @brief Whether the fold checked signatures (some key was there to check
 *        them with). false: every well-formed signature was taken as good,
 *        and nothing the fold says is verified.
 */
bool pub_log_verified(const pub_log *lg);

/** @brief Records that did not decode (skipped, as workers skip them). */
size_t pub_log_undecodable(const pub_log *lg);

/**
 * @brief A fresh event id: "<what>-<host>-<pid>-<epoch ms>-<n>" (≤ 128 bytes).
 */
void pub_event_id(char out[CTL_NAME_CAP], const char *what);

/**
 * @brief Encode @p ev, sign the value bytes with @p signer (NULL: unsigned,
 *        for tests), produce it to partition 0 of `topic.control` with the
 *        model as key through the idempotent producer, and wait for the
 *        delivery report (control.timeout_ms).
 * @param offset  out: where it landed
 * @returns 0; -EINVAL the event does not encode; the delivery error
 *          (-ETIMEDOUT, -ECONNREFUSED, -EACCES, ...), errstr says whether it
 *          may nevertheless have been written
 */
int pub_announce(struct pub_ctx *pc, const struct crypto_ed25519_key *signer,
                 const struct ctl_event *ev, int64_t *offset, char *errstr, size_t errstr_size);

/**
 * @brief pub_announce, then a fresh fold of the log up to the event: what
 *        every worker will conclude of it (operator commands, enrolments).
 * @param lg   out: the fold (pub_log_free), also on an error after the announce
 * @param rec  out: the event's record in it
 * @returns 0; pub_announce's errors; the log's; -EIO when the record at
 *          @p offset is not the event
 */
int pub_announce_and_fold(struct pub_ctx *pc, const struct crypto_ed25519_key *signer,
                          const struct ctl_event *ev, int64_t *offset, pub_log **lg,
                          const struct pub_record **rec, char *errstr, size_t errstr_size);

#endif
