/**
 * @file store_impl.h
 * @brief Internal: the model store's layout and the helpers its files share
 *        (store.c, store_fetch.c, store_chunks.c, store_index.c, store_evict.c).
 */
#ifndef KF_WORKER_STORE_IMPL_H
#define KF_WORKER_STORE_IMPL_H

#include "worker/store.h"

#include <pthread.h>
#include <stdatomic.h>

#define STORE_MOD "store"
#define STORE_DEFAULT_PARALLEL 8u
#define STORE_MAX_PARALLEL 64u
#define STORE_DEFAULT_PART (8u << 20)
#define STORE_DEFAULT_DEADLINE_MS 300000
#define STORE_DEFAULT_KEEP 3u
#define STORE_DEFAULT_MAX_BLOB (64ull << 30)
/** First back-off between retries of one request; doubles up to the cap. */
#define STORE_BACKOFF_MS 100
#define STORE_BACKOFF_MAX_MS 2000
/** Temporary files start with this; '~' never appears in a name or a hex digest. */
#define STORE_TMP_PREFIX "~tmp~"
/** Room left in PATH_MAX after cache_dir for the longest path of the layout. */
#define STORE_PATH_ROOM 640

struct model_store {
    objstore *os;                  /* borrowed */
    const crypto_keyring *trusted; /* borrowed */
    char *cache_dir;
    unsigned parallel;
    size_t part_size;
    int deadline_ms;
    unsigned keep;
    uint64_t max_blob;

    pthread_mutex_t lock; /* index writes + eviction (one step), the pin list */
    const struct manifest **pins;
    size_t n_pins, cap_pins;
    atomic_uint tmp_seq; /* unique temporary names */
};

/* ---- store.c ---- */

/** @brief Pin @p m's chunks against eviction until store_unpin. @returns 0, -ENOMEM */
int store_pin(model_store *st, const struct manifest *m);
void store_unpin(model_store *st, const struct manifest *m);
/** @brief A unique temporary file name in @p dir for this process ("dir/~tmp~pid~n~what"). */
void store_tmp_path(model_store *st, const char *dir, const char *what, char *out, size_t size);
/** @brief Write @p len bytes to @p path via a temporary file and rename. @returns 0, -errno */
int store_write_file(model_store *st, const char *dir, const char *name, const void *data,
                     size_t len, char *errstr, size_t errstr_size);
/** @brief Read a whole small file (at most @p max bytes) into @p out. @returns 0, -errno, -EFBIG */
int store_read_file(const char *path, kf_buf *out, size_t max);
/** @brief snprintf for paths and keys. store_new bounds cache_dir so that every
 *  path of the layout fits PATH_MAX; names are at most SCHEMA_NAME_MAX. */
void store_pathf(char *out, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/** @brief Memory for a weights blob of @p n bytes (free()), NULL on OOM. */
uint8_t *store_blob_alloc(size_t n);
/** @brief mkdir -p. @returns 0, -errno */
int store_mkdirs(const char *path);

/* ---- store_verify.c: the manifest checks shared by the fetch paths ---- */

/**
 * @brief Check manifest bytes and their signature document and parse them:
 *        sha256 == @p expect_sha256 (when non-NULL), the signature verifies
 *        with a trusted key, the manifest validates and names @p model and
 *        @p version (when non-NULL).
 * @param sv  receives manifest, manifest_sha256, key_id, model, version, seq
 * @returns 0; -EBADMSG, -ENOKEY, -EPROTO, -E2BIG, -ENOMEM (all stage verify)
 */
int store_manifest_verify(model_store *st, const kf_buf *man, const kf_buf *sig,
                          const char *expect_sha256, const char *model, const char *version,
                          struct store_version *sv, char *errstr, size_t errstr_size);

/* ---- store_chunks.c: the chunk phase ---- */

/** @brief Where the chunk phase may take bytes from. */
enum store_chunk_source {
    STORE_FROM_CACHE_OR_REMOTE = 0, /* store_fetch */
    STORE_FROM_CACHE_ONLY,          /* store_fetch_cached */
};

/**
 * @brief Fill sv->blob (already allocated, sv->manifest->blob_size bytes)
 *        with every chunk: re-verified from the cache, else fetched (parts
 *        in parallel, hashed in order as they arrive) and written to the
 *        cache. Fills sv->counts and sv->timings.hash_us. Calls
 *        @p on_verified (when non-NULL) as store_fetch_progress() documents;
 *        no call is running any more when this returns.
 * @param deadline_us  monotonic time (kf_clock_mono_us) after which fetching gives up
 * @returns 0; -EBADMSG a chunk's digest (verify); with CACHE_ONLY, -EBADMSG
 *          also for a corrupt or missing cache file (verify); other
 *          negative errno: fetch failed (fetch). @p stage is set on failure.
 */
int store_chunks_fill(model_store *st, struct store_version *sv, enum store_chunk_source src,
                      int64_t deadline_us, store_verified_fn *on_verified, void *ctx,
                      enum ctl_stage *stage, char *errstr, size_t errstr_size);

/**
 * @brief One ranged read from the object store, retried with back-off on
 *        retriable errors until @p deadline_us.
 * @returns 0 or the last error (errstr filled)
 */
int store_get_range(model_store *st, const char *key, uint64_t offset, size_t len, void *dst,
                    int64_t deadline_us, char *errstr, size_t errstr_size);

/** @brief A whole small object (manifest, signature), retried like store_get_range. */
int store_get_small(model_store *st, const char *key, kf_buf *out, size_t max, int64_t deadline_us,
                    char *errstr, size_t errstr_size);

/* ---- store_index.c: cache_dir/versions ---- */

/** @brief Record a verified version (sig first, then manifest). @locks_required st->lock
 *  @returns 0, -errno */
int store_index_put(model_store *st, const char *model, const char *version, const kf_buf *man,
                    const kf_buf *sig, char *errstr, size_t errstr_size);
/** @brief Read a version's manifest and signature bytes. @returns 0, -ENOENT, -errno */
int store_index_get(model_store *st, const char *model, const char *version, kf_buf *man,
                    kf_buf *sig);
/** @brief Remove a version's index files. */
void store_index_remove(model_store *st, const char *model, const char *version);

/** @brief One index entry as listed (manifest parsed, not verified). */
struct store_index_entry {
    char version[SCHEMA_NAME_MAX + 1];
    uint64_t seq;
    struct manifest *m; /* owned; NULL when the file did not parse */
    char sha256[CRYPTO_SHA256_HEX_LEN + 1];
};

/**
 * @brief Every indexed version of @p model, highest seq first (unparseable
 *        ones last, m NULL).
 * @param out  new array (store_index_entries_free)
 * @returns count >= 0, -ENOMEM, -EIO
 */
int store_index_list(model_store *st, const char *model, struct store_index_entry **out);
void store_index_entries_free(struct store_index_entry *e, size_t n);

/* ---- store_evict.c ---- */

/**
 * @brief Keep @p keep_version and the newest others of @p model up to
 *        keep_versions in the index; then delete every chunk file that no
 *        indexed version of any model and no pinned manifest refers to, and
 *        stale temporary files of earlier processes. Failures are logged.
 * @locks_required st->lock (so that an index write and its eviction are one step)
 */
void store_evict(model_store *st, const char *model, const char *keep_version);

/** @brief "cache_dir/sha256/<hex>" into @p out. */
void store_chunk_path(const model_store *st, const char *hex, char *out, size_t size);

#endif
