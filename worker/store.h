/**
 * @file store.h
 * @brief The worker's model store: turns "version V of model M is at manifest
 *        {bucket, key, sha256, size}" into a verified weights blob in memory,
 *        through a local content-addressed cache (ARCHITECTURE §3, §4).
 *
 * What store_fetch() checks, in order, and the stage a failure reports
 * (enum ctl_stage, for rollout.failed):
 *
 *  | step                                              | error                | stage  |
 *  |---------------------------------------------------|----------------------|--------|
 *  | GET manifest.json / manifest.sig (S3 down, slow,  | -ECONNREFUSED,       | fetch  |
 *  |   404, 403), retried with back-off to the deadline| -ETIMEDOUT, -ENOENT, |        |
 *  |                                                   | -EACCES, -EIO ...    |        |
 *  | manifest larger than announced / than the limit   | -EBADMSG             | verify |
 *  | sha256(manifest bytes) != the announced sha256    | -EBADMSG             | verify |
 *  | manifest.sig missing (the store answered 404)     | -EBADMSG             | verify |
 *  | manifest.sig not {"alg":"ed25519",...}            | -EPROTO              | verify |
 *  | signed by a key that is not trusted               | -ENOKEY              | verify |
 *  | signature does not verify with the trusted key    | -EBADMSG             | verify |
 *  | manifest does not parse or breaks a rule, or it   | -EPROTO, -E2BIG      | verify |
 *  |   names another model / version than announced   |                      |        |
 *  | blob too large for memory / max_blob_bytes        | -ENOMEM, -EFBIG      | fetch  |
 *  | a chunk cannot be fetched before the deadline     | as for the manifest  | fetch  |
 *  | a chunk's bytes hash to another digest (tampered) | -EBADMSG             | verify |
 *
 * A manifest that does not validate is a *verify* failure, not *validate*:
 * it is part of what the signature chain vouches for, and `validate` is kept
 * for the golden-vector check after load (worker/loader.h), as ctl_event.h
 * documents the stages.
 *
 * Layout of cache_dir (owned by one worker process):
 *   cache_dir/sha256/<hex>                the chunk whose bytes hash to <hex>
 *   cache_dir/versions/<model>/<v>.json   the verified manifest bytes of version v
 *   cache_dir/versions/<model>/<v>.sig    its manifest.sig bytes
 * Files are written to a temporary name and renamed, the .sig before the
 * .json, the .json only after every chunk is in the cache: a version listed
 * in versions/ has all its chunks (unless something outside corrupted them,
 * which the re-hash on every read detects). Chunks are not fsync'ed: a crash
 * can leave a short or empty chunk file, which the re-hash turns into a
 * re-fetch.
 *
 * The weights blob (the concatenation of the chunks) is assembled in one
 * buffer in memory (on huge pages where the kernel allows): kern_weights_load copies it to the
 * device and the caller frees it right after (store_version_free), so the peak host memory of a
 * swap is one blob.
 *
 * @locality store_fetch and store_fetch_cached block (network, disk, hashing)
 *           and are meant for a fetch thread, never the main thread; several
 *           threads may call them on one model_store at once (eviction and
 *           index updates take the store's lock; chunks being fetched are
 *           pinned so that a concurrent eviction never removes them).
 */
#ifndef KF_WORKER_STORE_H
#define KF_WORKER_STORE_H

#include "common/crypto.h"
#include "common/objstore.h"
#include "schema/ctl_event.h"
#include "schema/manifest.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/** @brief Store settings. Zero fields take the defaults named. */
struct store_conf {
    objstore *os;                  /**< borrowed; must outlive the store */
    const char *cache_dir;         /**< copied; created (with parents) if missing */
    const crypto_keyring *trusted; /**< borrowed; must outlive the store */
    unsigned parallel;             /**< fetch/hash threads per call; 0: 8 (max 64) */
    size_t part_size;              /**< bytes per ranged GET; 0: 8 MiB */
    int deadline_ms;               /**< whole store_fetch, retries included; 0: 300000 */
    unsigned keep_versions;        /**< versions kept in the cache per model; 0: 3 */
    uint64_t max_blob_bytes;       /**< refuse larger weights blobs; 0: 64 GiB */
};

typedef struct model_store model_store;

/** @brief Where the time of one fetch went, in microseconds. */
struct store_timings {
    uint64_t fetch_us;  /**< wall: manifest + signature GET and the chunk phase (cache
                             reads and downloads, with the chunk hashing overlapped) */
    uint64_t verify_us; /**< manifest digest + signature + parse (wall) plus hash_us */
    uint64_t hash_us;   /**< chunk hashing, summed over the fetch threads (it runs while
                             bytes arrive, so it overlaps fetch_us) */
    uint64_t total_us;  /**< wall: the whole call */
};

/** @brief What a fetch moved. */
struct store_counts {
    uint64_t bytes_fetched, bytes_reused;   /**< from the object store / from the cache */
    uint32_t chunks_fetched, chunks_reused; /**< reused: found in the cache and re-verified */
    uint32_t chunks_corrupt;                /**< cache files that failed their re-hash */
    bool manifest_cached;                   /**< manifest + sig came from the cache index */
};

/** @brief One verified version, ready for loader_load(). */
struct store_version {
    char model[SCHEMA_NAME_MAX + 1];
    char version[SCHEMA_NAME_MAX + 1];
    uint64_t seq;
    char manifest_sha256[CRYPTO_SHA256_HEX_LEN + 1];
    char key_id[CRYPTO_KEY_ID_LEN + 1]; /**< the trusted key that signed it */
    struct manifest *manifest;          /**< owned (parsed and validated) */
    uint8_t *blob;                      /**< owned: manifest->blob_size bytes */
    size_t blob_size;
    struct store_counts counts;
    struct store_timings timings;
};

/** @brief Free @p sv and everything it owns. NULL is a no-op. */
void store_version_free(struct store_version *sv);

/**
 * @brief A store over @p c->os with its cache in @p c->cache_dir.
 * @param c  borrowed for the call (os and trusted must outlive the store)
 * @returns new (store_free), or NULL with the reason in errstr (missing os,
 *          cache_dir or trusted; cache_dir cannot be created; OOM)
 */
model_store *store_new(const struct store_conf *c, char *errstr, size_t errstr_size);

/** @brief Free the store (no call may be running on it). NULL is a no-op. */
void store_free(model_store *st);

/**
 * @brief Fetch and verify one version (see the table above).
 *
 * When the cache index already holds this version's manifest with the
 * announced sha256, it is used instead of a GET (and re-verified); chunks
 * found in the cache are re-hashed and reused, the others fetched with
 * parallel ranged GETs, hashed as their parts arrive, written to the cache.
 * On success the version is recorded in the index and older versions beyond
 * keep_versions are evicted with the chunks nothing kept refers to.
 *
 * @param model, version  what the model.published event names (valid names)
 * @param ref             the event's manifest reference (borrowed); key ""
 *                        means models/<model>/<version>/manifest.json; size 0
 *                        means unknown (then MANIFEST_MAX_BYTES bounds it);
 *                        bucket is informational (the store's own is used)
 * @param out             receives a new store_version on success (store_version_free)
 * @param failed_stage    receives the stage on failure (may be NULL)
 * @returns 0;
 *          -EINVAL  bad argument (stage fetch);
 *          -EBADMSG manifest digest, signature, or a chunk digest mismatch;
 *                   manifest larger than announced; no manifest.sig (verify);
 *          -ENOKEY  signed by an untrusted key (verify);
 *          -EPROTO, -E2BIG  malformed manifest or signature document, or a
 *                   manifest for another model/version (verify);
 *          -EFBIG   blob larger than max_blob_bytes (fetch);
 *          -ENOMEM  (fetch);
 *          -ECONNREFUSED, -EHOSTUNREACH, -ETIMEDOUT, -ECONNRESET, -EAGAIN,
 *          -ENOENT, -EACCES, -ERANGE, -EPROTO, -EIO: the object store failed
 *                   for good or the deadline passed (fetch; errstr says
 *                   which object, the last error and the time spent).
 *          errstr always names the chunk, key or key_id involved.
 * @locality a fetch thread; blocks up to deadline_ms (+ one request's slack).
 */
int store_fetch(model_store *st, const char *model, const char *version,
                const struct ctl_manifest_ref *ref, struct store_version **out,
                enum ctl_stage *failed_stage, char *errstr, size_t errstr_size);

/**
 * @brief The verified prefix of a fetch's blob grew (store_fetch_progress).
 *
 * @param ctx             the caller's
 * @param sv              borrowed, valid for the call only: the version being
 *                        fetched; only manifest, blob and blob_size may be
 *                        used (counts and timings are not filled in yet). The
 *                        blob stays valid until store_fetch_progress returns
 *                        (on failure it is freed then).
 * @param verified_bytes  every byte of sv->blob below this offset belongs to a
 *                        chunk whose SHA-256 matched the signed manifest's
 *                        digest (the manifest's signature was checked before
 *                        any chunk was read); it only grows from one call to
 *                        the next, and the last call of a successful fetch
 *                        reports sv->blob_size.
 * @locality any of the fetch's threads; calls are never concurrent (one at a
 *           time, in order). A call may take long — the loader loads layers
 *           in it — holding up only the fetch thread that makes it; growth
 *           that happens meanwhile is reported by the next call.
 */
typedef void store_verified_fn(void *ctx, const struct store_version *sv, uint64_t verified_bytes);

/**
 * @brief store_fetch(), telling @p on_verified (if non-NULL) each time the
 *        contiguous run of verified chunks from offset 0 grows, so that a
 *        caller can use those bytes while later chunks still download (the
 *        pipelined swap: loader_fetch_load()). Same checks, errors and stages
 *        as store_fetch(); no call of @p on_verified is running when this
 *        returns. No call is made after the fetch has failed.
 */
int store_fetch_progress(model_store *st, const char *model, const char *version,
                         const struct ctl_manifest_ref *ref, store_verified_fn *on_verified,
                         void *ctx, struct store_version **out, enum ctl_stage *failed_stage,
                         char *errstr, size_t errstr_size);

/**
 * @brief A version from the local cache only (the object store is never
 *        touched): for a restart while S3 is down. Re-verifies everything
 *        store_fetch does — manifest digest (against @p expect_sha256 when
 *        given), signature with the current trusted keys, manifest rules,
 *        every chunk's digest.
 * @param version        a version name, or NULL for the newest verified
 *                       version (highest seq; a cached version that fails its
 *                       re-verification is skipped, with a warning, for the
 *                       next older one)
 * @param expect_sha256  with a version: the manifest sha256 the control log
 *                       names, or NULL; ignored when @p version is NULL
 * @returns 0 (*out as for store_fetch, counts.bytes_fetched == 0);
 *          -ENOENT the version is not in the cache, or (version NULL) no
 *          version of the model is (fetch);
 *          -EBADMSG, -ENOKEY, -EPROTO the version fails re-verification, e.g.
 *          a corrupted chunk file (verify) — with version NULL, when every
 *          cached version fails: the newest one's error, errstr naming it;
 *          -EINVAL, -ENOMEM, -EIO (fetch)
 * @locality a fetch thread (reads and hashes the whole blob).
 */
int store_fetch_cached(model_store *st, const char *model, const char *version,
                       const char *expect_sha256, struct store_version **out,
                       enum ctl_stage *failed_stage, char *errstr, size_t errstr_size);

/** @brief One cached version, for store_cached_list. */
struct store_cached_version {
    char version[SCHEMA_NAME_MAX + 1];
    uint64_t seq;
    char manifest_sha256[CRYPTO_SHA256_HEX_LEN + 1];
    uint64_t blob_size;
};

/**
 * @brief The versions of @p model in the cache index, newest (highest seq)
 *        first, without verifying their chunks.
 * @param out  receives a new array (free()), NULL when there are none
 * @returns the count (>= 0), -EINVAL, -ENOMEM, -EIO
 */
int store_cached_list(model_store *st, const char *model, struct store_cached_version **out);

#endif
