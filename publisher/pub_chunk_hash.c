/* Chunk digests in parallel: each thread takes the next chunk, so a blob of
 * 16 chunks on 4 cores keeps every core busy until the last four.
 *
 * Each chunk gets its SHA-256 (its name and identity) and, in the same pass
 * over the bytes, its MD5: only to compare with the ETag a store reports for
 * an object written by one PUT, so that dedup can tell "these bytes" from
 * "other bytes of the right size" without reading the object back. MD5 is
 * not what anyone trusts: workers check the SHA-256 of what they fetch. */
#include "publisher/pub_chunk.h"

#include "common/crypto.h"

#include <errno.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define HASH_PIECE (1u << 20)
#define MAX_THREADS 64

void pub_chunk_key(const char sha256[65], char key[PUB_CHUNK_KEY_LEN])
{
    snprintf(key, PUB_CHUNK_KEY_LEN, "blobs/sha256/%.64s", sha256);
}

unsigned pub_chunk_threads(unsigned threads)
{
    if (!threads) {
        long cores = sysconf(_SC_NPROCESSORS_ONLN);
        threads = cores < 1 ? 1 : (unsigned)cores;
    }
    return threads > MAX_THREADS ? MAX_THREADS : threads;
}

struct hash_job {
    const uint8_t *blob;
    struct pub_chunk *chunks;
    size_t n;
    atomic_size_t next;
    atomic_uint_fast64_t done_bytes;
    atomic_int err;
    struct pub_progress *prog;
};

static void *hash_thread(void *arg)
{
    struct hash_job *j = arg;
    crypto_sha256 *h = crypto_sha256_new();
    EVP_MD_CTX *md5 = EVP_MD_CTX_new();
    if (!h || !md5) {
        crypto_sha256_free(h);
        EVP_MD_CTX_free(md5);
        atomic_store(&j->err, -ENOMEM);
        return NULL;
    }
    for (;;) {
        size_t i = atomic_fetch_add(&j->next, 1);
        if (i >= j->n || atomic_load(&j->err))
            break;
        struct pub_chunk *c = &j->chunks[i];
        int err = EVP_DigestInit_ex(md5, EVP_md5(), NULL) == 1 ? 0 : -EIO;
        for (uint64_t off = 0; off < c->size && !err; off += HASH_PIECE) {
            size_t len = c->size - off < HASH_PIECE ? (size_t)(c->size - off) : HASH_PIECE;
            err = crypto_sha256_update(h, j->blob + c->offset + off, len);
            if (!err && EVP_DigestUpdate(md5, j->blob + c->offset + off, len) != 1)
                err = -EIO;
            uint64_t done = atomic_fetch_add(&j->done_bytes, len) + len;
            pub_progress_update(j->prog, done);
        }
        uint8_t d[CRYPTO_SHA256_LEN], m[16];
        unsigned m_len = 0;
        if (!err)
            err = crypto_sha256_final(h, d);
        if (!err && (EVP_DigestFinal_ex(md5, m, &m_len) != 1 || m_len != sizeof(m)))
            err = -EIO;
        if (err) {
            atomic_store(&j->err, err);
            break;
        }
        crypto_hex_encode(d, sizeof(d), c->sha256);
        crypto_hex_encode(m, sizeof(m), c->md5);
    }
    EVP_MD_CTX_free(md5);
    crypto_sha256_free(h);
    return NULL;
}

int pub_chunk_hash(const uint8_t *blob, uint64_t blob_size, uint64_t chunk_size, unsigned threads,
                   struct pub_progress *prog, struct pub_chunk **out, size_t *n_out)
{
    *out = NULL;
    *n_out = 0;
    if (!blob || !blob_size || !chunk_size)
        return -EINVAL;
    uint64_t n = (blob_size + chunk_size - 1) / chunk_size;
    if (n > SIZE_MAX / sizeof(struct pub_chunk))
        return -ENOMEM;
    struct pub_chunk *c = calloc((size_t)n, sizeof(*c));
    if (!c)
        return -ENOMEM;
    for (uint64_t i = 0; i < n; i++) {
        c[i].offset = i * chunk_size;
        c[i].size = blob_size - c[i].offset < chunk_size ? blob_size - c[i].offset : chunk_size;
    }
    struct hash_job j = {.blob = blob, .chunks = c, .n = (size_t)n, .prog = prog};
    unsigned nt = pub_chunk_threads(threads);
    if (nt > n)
        nt = (unsigned)n;
    pthread_t t[MAX_THREADS];
    unsigned started = 0;
    /* The calling thread is one of the hashers. */
    for (; started + 1 < nt; started++)
        if (pthread_create(&t[started], NULL, hash_thread, &j))
            break;
    hash_thread(&j);
    for (unsigned i = 0; i < started; i++)
        pthread_join(t[i], NULL);
    int err = atomic_load(&j.err);
    if (err) {
        free(c);
        return err;
    }
    *out = c;
    *n_out = (size_t)n;
    return 0;
}
