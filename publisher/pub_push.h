/**
 * @file pub_push.h
 * @brief `publish-model push`: from a safetensors file to an announced,
 *        signed model version (ARCHITECTURE §3, §5).
 *
 * Order, and why:
 *   1. read + validate the file and its architecture; golden vectors from
 *      the reference backend; chunk digests (parallel) — all local;
 *   2. fold the control log: the model's seq, and refuse a version that was
 *      announced already — before anything is written, so an unreachable
 *      broker leaves nothing behind;
 *   3. refuse a version whose manifest is already in the store (unless it is
 *      the leftover of an interrupted push of the same weights: completed);
 *   4. chunks the store cannot prove it holds (HEAD each: size and MD5
 *      ETag, else a read-back and SHA-256), parallel PUTs (over wrong bytes
 *      too: repaired), retries, deadline; then every chunk HEADed again;
 *   5. manifest.json, then manifest.sig, each read back and compared — a
 *      version is visible to a worker only through its announcement, and is
 *      complete and checked in the store before that;
 *   6. catch up with the log again (another publisher may have announced in
 *      between: the manifest is rewritten with the fresh seq), produce the
 *      signed model.published, wait for the delivery report, and read the
 *      log up to it to see that the reducer accepted it.
 */
#ifndef KF_PUB_PUSH_H
#define KF_PUB_PUSH_H

#include "publisher/pub.h"
#include "publisher/pub_chunk.h"
#include "schema/ctl_event.h"
#include "schema/fleet.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

/**
 * @brief Deliberately broken versions, for the tests of the workers that must
 *        refuse them. Only a test build (-Dtest_hooks=true) has
 *        pub_push_opts.faults: a release publish-model cannot produce one.
 */
struct pub_push_faults {
    /** Sign manifest.sig with this key instead of the context's (a wrong or untrusted key). */
    const struct crypto_ed25519_key *manifest_key;
    /** Sign the event with this key instead of the context's. */
    const struct crypto_ed25519_key *event_key;
    bool unsigned_event;  /**< announce without a kfleet-sig header */
    bool no_manifest_sig; /**< upload no manifest.sig */
    bool no_announce;     /**< stop after the upload: a complete but unannounced version */
    float golden_skew;    /**< added to golden output 0: a golden mismatch at load */
    bool tamper_chunk;    /**< after the upload, overwrite chunk tamper_index ... */
    size_t tamper_index;  /**< ... with its bytes, one of them flipped */
    uint64_t seq;         /**< non-zero: announce this seq (replay / downgrade) */
};

struct pub_push_opts {
    const char *model, *version;
    const char *weights_path; /**< a safetensors file */
    const char *arch_path;    /**< NULL: the file's "kfleet.architecture" metadata */
    struct ctl_strategy strategy;
    uint64_t chunk_size; /**< 0: the chunk.size property */
    bool dry_run;        /**< read, golden, hash; print the manifest to pc->out; no I/O */
#if KFLEET_TEST_HOOKS
    const struct pub_push_faults *faults; /**< NULL for a real push */
#endif
};

/** @brief Microseconds per stage. */
struct pub_push_times {
    uint64_t read, golden, hash, log, upload, manifest, announce, total;
};

struct pub_push_result {
    char model[CTL_NAME_CAP], version[CTL_NAME_CAP];
    uint64_t seq;
    char store[128];        /**< the store URL */
    char manifest_key[600]; /**< models/<m>/<v>/manifest.json */
    char manifest_sha256[65];
    uint64_t manifest_bytes;
    char key_id[CRYPTO_KEY_ID_LEN + 1]; /**< of the signing key */
    uint64_t blob_bytes;
    uint32_t golden_rows;
    struct pub_upload_stats up;
    /** issued to the store by this push (retries too) */
    uint64_t put_requests, head_requests, get_requests;
    bool resumed; /**< completed an interrupted push (manifest was there, unannounced) */
    char topic[256];
    int64_t offset;             /**< of model.published; -1 when none */
    enum fleet_verdict verdict; /**< what the reducer made of it */
    char verdict_reason[256];
    struct pub_push_times us;
};

/**
 * @brief The whole push (see the file comment). With o->dry_run, steps 1 only.
 * @param res  filled as far as the push got
 * @returns 0;
 *          -EINVAL bad names or options; -EPROTO / -ENOENT / -EACCES the model
 *          file or architecture (errstr names the file and the problem);
 *          -ENOKEY no signing key; -EKEYREJECTED the key is not in trusted_keys;
 *          -EEXIST the version exists (announced, or other weights under its name);
 *          -EIO a chunk, the manifest or its signature is missing or other
 *          bytes in the store right after this push wrote it (nothing announced);
 *          -ESTALE announced, but the reducer did not accept it (errstr: why);
 *          -ECANCELED stopped by a signal;
 *          the store's and Kafka's errors (-ECONNREFUSED, -ETIMEDOUT, ...)
 */
int pub_push(struct pub_ctx *pc, const struct pub_push_opts *o, struct pub_push_result *res,
             char *errstr, size_t errstr_size);

/** @brief The human summary of a push (what was uploaded, present, stages, offset). */
void pub_push_summary(const struct pub_push_result *res, FILE *out);

#endif
