/**
 * @file pub_push_impl.h
 * @brief Internal parts of push shared by pub_push.c and pub_manifest.c.
 */
#ifndef KF_PUB_PUSH_IMPL_H
#define KF_PUB_PUSH_IMPL_H

#include "common/kf_buf.h"
#include "publisher/pub_chunk.h"
#include "publisher/pub_model.h"
#include "publisher/pub_push.h"
#include "schema/manifest.h"

/** @brief "models/<model>/<version>/<file>" into @p key. */
void pub_version_key(char *key, size_t size, const char *model, const char *version,
                     const char *file);

/**
 * @brief A manifest for @p pm: names, created_at (now), dtype, source name
 *        and size (not its digest yet), architecture bound to the tensor table.
 * @param out new (manifest_free)
 * @returns 0, -ENOMEM, -EPROTO (errstr)
 */
int pub_manifest_build(const struct pub_model *pm, const char *model, const char *version,
                       const char *weights_path, struct manifest **out, char *errstr,
                       size_t errstr_size);

/** @brief Append the chunk list. @returns 0, -ENOMEM, -EINVAL (bad digest: a bug) */
int pub_manifest_add_chunks(struct manifest *m, const struct pub_chunk *c, size_t n);

/**
 * @brief Is there already a manifest under @p key? -EEXIST unless it is the
 *        leftover of an interrupted push of the same blob (same chunks), in
 *        which case *resume is set and 0 returned.
 * @returns 0 (absent, or resumable); -EEXIST; the store's errors
 */
int pub_manifest_check_absent(struct pub_ctx *pc, const char *key, const struct manifest *m,
                              bool *resume, char *errstr, size_t errstr_size);

/**
 * @brief Encode @p m into @p bytes (reset first) and its sha256, PUT it to
 *        @p key, then manifest.sig signed by @p signer (NULL: none) beside it,
 *        then read both back and compare them with what was written.
 * @returns 0; -EINVAL (the manifest does not validate: a bug); -EIO the store
 *          returns other bytes (errstr names the object); the store's errors
 */
int pub_manifest_put(struct pub_ctx *pc, struct manifest *m, const char *key,
                     const struct crypto_ed25519_key *signer, kf_buf *bytes, char sha256[65],
                     char *errstr, size_t errstr_size);

#endif
