/**
 * @file kt_fixture.h
 * @brief Test and benchmark fixtures for the model store and loader: build a
 *        signed model version the way the publisher does (a small MLP as a
 *        safetensors file, its data section chunked, a manifest with golden
 *        vectors computed by the reference backend, manifest.sig), publish it
 *        through an objstore, and break it in the ways the store must refuse.
 *
 * Built only from schema/, common/ and kernels/ APIs, so the store's tests do
 * not depend on publisher/.
 */
#ifndef KT_FIXTURE_H
#define KT_FIXTURE_H

#include "common/crypto.h"
#include "common/kf_buf.h"
#include "common/objstore.h"
#include "schema/ctl_event.h"
#include "schema/manifest.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define KT_MAX_LAYERS 32

struct kt_spec {
    const char *model, *version;
    uint64_t seq; /**< 0: 1 */
    uint32_t input_width;
    uint32_t n_layers;
    uint32_t widths[KT_MAX_LAYERS]; /**< out width of each layer */
    enum schema_dtype dtype;
    enum arch_act act; /**< of every layer but the last (which has none) */
    bool softmax;
    bool no_bias;
    uint64_t seed;        /**< weights and golden inputs */
    uint64_t chunk_size;  /**< 0: 64 MiB */
    uint32_t golden_rows; /**< 0: 4 */
    double atol, rtol;    /**< 0, 0: 1e-4, 1e-4 */
    /** Change this many values of the last layer's bias (or weight, with
     *  no_bias) from the seed's: a fine-tune that touches one tensor. */
    uint32_t tweak_last;
    /** Added to golden output 0 after computing it (a golden mismatch). */
    float golden_skew;
};

/** @brief A built version: everything the publisher would upload. */
struct kt_version {
    char model[SCHEMA_NAME_MAX + 1], version[SCHEMA_NAME_MAX + 1];
    kf_buf blob;     /**< the weights blob (safetensors data section) */
    kf_buf manifest; /**< manifest.json bytes */
    kf_buf sig;      /**< manifest.sig bytes */
    struct ctl_manifest_ref ref;
    struct manifest *m; /**< parsed manifest (owned) */
};

/**
 * @brief Build a version signed with @p key. Exits 99 (broken fixture) on
 *        any failure, so callers need not check.
 */
void kt_version_build(const struct kt_spec *spec, const struct crypto_ed25519_key *key,
                      struct kt_version *v);
void kt_version_fini(struct kt_version *v);

/** @brief Replace the signature by one of @p key over other bytes (a bad signature). */
void kt_version_bad_sig(struct kt_version *v, const struct crypto_ed25519_key *key);

/**
 * @brief Upload chunks (those already present are skipped: HEAD), then the
 *        manifest, then the signature. Exits 99 on failure.
 * @returns bytes of chunks uploaded
 */
uint64_t kt_version_publish(objstore *os, const struct kt_version *v);

/** @brief Overwrite chunk @p i in the store with bytes that differ in one place. */
void kt_tamper_chunk(objstore *os, const struct kt_version *v, size_t i);

/** @brief A fresh Ed25519 key from a seed byte (deterministic). */
void kt_key(struct crypto_ed25519_key *key, uint8_t seed);

/** @brief mkdtemp under $TMPDIR (or /tmp) with @p tag. @returns new path (free()) */
char *kt_tmpdir(const char *tag);
/** @brief rm -rf @p path (test cleanup). */
void kt_rmtree(const char *path);

struct store_version;
/** @brief A store_version of @p v as the store would return it (copies), for loader tests. */
struct store_version *kt_store_version(const struct kt_version *v);

#endif
