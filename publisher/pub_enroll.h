/**
 * @file pub_enroll.h
 * @brief Worker keys on the control log (docs/security.md): `publish-model
 *        enroll` appends a release-signed key.enrolled (this public key speaks
 *        for this worker from now on), `publish-model revoke` a key.revoked
 *        (whatever the key signs from now on is ignored; what it signed before
 *        stays).
 */
#ifndef KF_PUB_ENROLL_H
#define KF_PUB_ENROLL_H

#include "publisher/pub.h"
#include "schema/fleet.h"

#include <stdbool.h>

struct pub_key_opts {
    const char *worker;   /**< enroll: the worker id the key will speak for */
    const char *pub_path; /**< enroll: the worker's NAME.pub (publish-model keygen) */
    const char *key_id;   /**< revoke: 16 hex characters */
    const char *reason;   /**< free text for the audit trail; may be NULL */
    bool dry_run;         /**< say what the fleet would do; send nothing */
};

struct pub_key_result {
    int64_t offset; /**< of the event; -1 when none was sent */
    char key_id[CTL_KEY_ID_CAP];
    char event_id[CTL_NAME_CAP];
    struct fleet_result res; /**< what the reducer did with it (dry run: would do) */
};

/**
 * @brief Append a key.enrolled signed with the context's release key, after
 *        checking on a fold of the log that the fleet would accept it (a key
 *        is enrolled once, never after its revocation, never a release key).
 * @returns 0; -ENOKEY no --key; -EINVAL bad arguments or key file; -EPERM the
 *          fleet would not apply it (res->res.reason); -ESTALE sent but not
 *          applied; Kafka errors
 */
int pub_key_enroll(struct pub_ctx *pc, const struct pub_key_opts *o, struct pub_key_result *res,
                   char *errstr, size_t errstr_size);

/** @brief The same for key.revoked (o->key_id). Same returns. */
int pub_key_revoke(struct pub_ctx *pc, const struct pub_key_opts *o, struct pub_key_result *res,
                   char *errstr, size_t errstr_size);

#endif
