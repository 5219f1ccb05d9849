/**
 * @file pub_chunk.h
 * @brief The weights blob as content-addressed chunks (ARCHITECTURE §3):
 *        cut and hashed in parallel, then uploaded to blobs/sha256/<hex> —
 *        only the ones the store cannot prove it holds (HEAD + ETag, or a
 *        read-back), in parallel, with retries and one deadline — and checked
 *        in the store once more before the manifest names them.
 */
#ifndef KF_PUB_CHUNK_H
#define KF_PUB_CHUNK_H

#include "common/objstore.h"
#include "publisher/pub_progress.h"

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

/** Object key of a chunk: "blobs/sha256/" + 64 hex + NUL. */
#define PUB_CHUNK_KEY_LEN (13 + 64 + 1)

struct pub_chunk {
    uint64_t offset; /**< in the blob */
    uint64_t size;   /**< 1..chunk_size; only the last one may be shorter */
    char sha256[65]; /**< lower-case hex */
    char md5[33];    /**< lower-case hex; compared with a store's ETag, never trusted alone */
};

/** @brief "blobs/sha256/<hex>" for a digest. */
void pub_chunk_key(const char sha256[65], char key[PUB_CHUNK_KEY_LEN]);

/** @brief Threads pub_chunk_hash uses for @p threads (0: one per online core, at most 64). */
unsigned pub_chunk_threads(unsigned threads);

/**
 * @brief Cut @p blob into chunks of @p chunk_size bytes and hash them (SHA-256 and MD5) on
 *        @p threads threads (0: one per core), each chunk streamed in 1 MiB
 *        pieces so the progress bar moves.
 * @param blob  borrowed for the call
 * @param prog  optional; updated with bytes hashed
 * @param out   new array of *n_out chunks, in blob order (free())
 * @returns 0; -EINVAL empty blob or chunk_size 0; -ENOMEM; -EIO (OpenSSL)
 */
int pub_chunk_hash(const uint8_t *blob, uint64_t blob_size, uint64_t chunk_size, unsigned threads,
                   struct pub_progress *prog, struct pub_chunk **out, size_t *n_out);

struct pub_upload_opts {
    unsigned parallel; /**< HEADs, read-backs and PUTs in flight (>= 1) */
    int deadline_ms;   /**< for all PUTs together; each retries with back-off until then */
    bool read_back;    /**< prove every present chunk by reading it back (chunk.check=read) */
    struct pub_progress *prog; /**< optional: bytes uploaded */
};

struct pub_upload_stats {
    uint32_t chunks;          /**< in the manifest */
    uint32_t chunks_uploaded; /**< PUT by this call (repaired ones included) */
    uint32_t chunks_present;  /**< proven in the store (or a duplicate of one uploaded here) */
    uint32_t chunks_repaired; /**< the store held other bytes under the key: uploaded over */
    uint32_t chunks_read;     /**< read back and hashed to prove or disprove them */
    uint32_t chunks_verified; /**< distinct chunks checked in the store after the upload */
    uint64_t bytes_uploaded, bytes_present, bytes_repaired, bytes_read;
};

/**
 * @brief Make every chunk present in @p os, and prove it:
 *        1. HEAD each distinct digest. Absent: upload. Another size: other
 *           bytes, upload over it (repair). The right size and an ETag equal
 *           to the chunk's MD5: present. The right size otherwise (no ETag,
 *           a multipart or SSE-KMS ETag, another MD5), or every one with
 *           @p o->read_back: step 2.
 *        2. Read those back and SHA-256 them: the chunk's digest, present;
 *           another, upload over it (repair).
 *        3. PUT the missing and the wrong ones in parallel (one s3io batch on
 *           S3, so every request retries on its own until @p o->deadline_ms).
 *        4. HEAD every distinct digest again: each must exist with its size,
 *           and an ETag that is not the chunk's MD5 is settled by a
 *           read-back (a store that sends none is taken at its size).
 * @param c, n   the chunks (borrowed); @p blob their bytes (borrowed)
 * @param st     out: what was uploaded, present, repaired, read and verified
 *
 * In a test build, KFLEET_TEST_DIE_AFTER_CHUNKS=N kills the process after N
 * PUTs (pub_test_hook_die_after_chunks()).
 * @returns 0; -EIO a chunk is missing or wrong in step 4 (errstr names it);
 *          the store's errors (-ECONNREFUSED, -ETIMEDOUT, -EACCES, ...)
 *          with errstr naming the chunk; -ENOMEM
 */
int pub_chunk_upload(objstore *os, const struct pub_chunk *c, size_t n, const uint8_t *blob,
                     const struct pub_upload_opts *o, struct pub_upload_stats *st, char *errstr,
                     size_t errstr_size);

#endif
