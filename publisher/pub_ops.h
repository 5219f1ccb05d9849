/**
 * @file pub_ops.h
 * @brief The operator side of publish-model: key generation, signed
 *        rollout.command events, listing versions, and read-back verification
 *        of a version and of the log's signatures.
 */
#ifndef KF_PUB_OPS_H
#define KF_PUB_OPS_H

#include "publisher/pub.h"
#include "schema/ctl_event.h"
#include "schema/fleet.h"

#include <stdbool.h>
#include <stdio.h>

/**
 * @brief Make an Ed25519 key pair: @p basename.key (mode 0600, the signing
 *        key) and @p basename.pub (one trusted-keys line for the workers).
 *        The public line is printed to @p out.
 * @returns 0; -EEXIST either file exists (nothing is overwritten); -errno; -EIO
 */
int pub_keygen(const char *basename, FILE *out, char *errstr, size_t errstr_size);

struct pub_command_opts {
    const char *model;
    enum ctl_action action;
    /** rollback: the version to go back to (NULL: the previous good one);
     *  others: the version it concerns (NULL: the current target). */
    const char *version;
    const char *reason; /**< free text for the audit trail (≤ 512 bytes) */
    bool dry_run;       /**< say what the fleet would do; send nothing */
    bool force;         /**< send even when the fleet would not apply it now */
    /** NULL: the context's key. Tests: another key (untrusted), to see it refused. */
    const struct crypto_ed25519_key *signer;
};

struct pub_command_result {
    int64_t offset;            /**< of the event; -1 when none was sent */
    struct fleet_result res;   /**< what the reducer did (dry run: would do) */
    char target[CTL_NAME_CAP]; /**< the model's target version afterwards */
    char event_id[CTL_NAME_CAP];
};

/**
 * @brief Append a signed rollout.command after checking, on a fold of the
 *        log, that the fleet would apply it; then fold up to it and report
 *        what the reducer did.
 * @returns 0 applied (or would be, dry run); -ENOKEY no key; -EINVAL bad
 *          arguments; -ENOENT the model (or the rollback version) was never
 *          published; -EPERM the fleet would not apply it now (res->res.reason
 *          says why; --force sends it anyway); -ESTALE sent but not applied;
 *          Kafka errors
 */
int pub_command(struct pub_ctx *pc, const struct pub_command_opts *o,
                struct pub_command_result *res, char *errstr, size_t errstr_size);

/**
 * @brief Print the versions in the store and on the control log (one model
 *        or all), with seq, offset, signature and status, to pc->out.
 * @returns 0; the store's or Kafka's error after printing what could be read
 */
int pub_ls(struct pub_ctx *pc, const char *model, char *errstr, size_t errstr_size);

/**
 * @brief Read a published version back and check it as a worker would: the
 *        announcement's signature, the manifest's sha256 against the
 *        announcement, manifest.sig, every chunk against its digest, and the
 *        golden vectors through the reference backend. One line per check to
 *        pc->out. Keys: trusted_keys, else the context's key.
 * @returns 0 every check passed; -EBADMSG one failed; -ENOENT not announced;
 *          -ENOKEY no key to check with; the store's or Kafka's errors
 */
int pub_verify_version(struct pub_ctx *pc, const char *model, const char *version, char *errstr,
                       size_t errstr_size);

/**
 * @brief The verification helper for the log: every model.published and
 *        rollout.command (of @p model, or all) with its signature verdict
 *        (ok, unsigned, unknown_key, bad_signature, malformed) against the
 *        trusted keys, one line each to pc->out.
 * @param n_bad  optional out: events whose verdict is not ok
 * @returns 0 all signed by trusted keys; -EBADMSG some are not; -ENOKEY; Kafka errors
 */
int pub_verify_log(struct pub_ctx *pc, const char *model, size_t *n_bad, char *errstr,
                   size_t errstr_size);

#endif
