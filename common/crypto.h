/**
 * @file crypto.h
 * @brief SHA-256, Ed25519, hex/base64 and the trusted-keys ring. The only
 *        module that includes OpenSSL headers.
 *
 * Key files (text, one key each, made by `publish-model keygen`):
 *   NAME.key  "kfleet-ed25519-private <key_id> <base64 32-byte seed>", mode 0600
 *   NAME.pub  "kfleet-ed25519-public <key_id> <base64 32-byte public key>"
 * A trusted-keys file is any number of public-key lines ('#' comments allowed);
 * workers hold only this. key_id = first 8 bytes of SHA-256(public key), hex.
 */
#ifndef KF_CRYPTO_H
#define KF_CRYPTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CRYPTO_SHA256_LEN 32
#define CRYPTO_SHA256_HEX_LEN 64
#define CRYPTO_ED25519_KEY_LEN 32
#define CRYPTO_ED25519_SIG_LEN 64
#define CRYPTO_KEY_ID_LEN 16 /**< hex characters */

/* ---- SHA-256 ---- */

typedef struct crypto_sha256 crypto_sha256;

/** @brief A streaming hash; NULL on OOM. */
crypto_sha256 *crypto_sha256_new(void);
void crypto_sha256_free(crypto_sha256 *h);
/** @returns 0, -EIO (OpenSSL failure) */
int crypto_sha256_update(crypto_sha256 *h, const void *data, size_t len);
/** @brief Finish into @p out; the hash restarts empty afterwards. @returns 0, -EIO */
int crypto_sha256_final(crypto_sha256 *h, uint8_t out[CRYPTO_SHA256_LEN]);
/** @brief One-shot digest. @returns 0, -ENOMEM, -EIO */
int crypto_sha256_digest(const void *data, size_t len, uint8_t out[CRYPTO_SHA256_LEN]);
/** @brief One-shot digest as lower-case hex into @p hex (65 bytes, NUL-terminated). */
int crypto_sha256_hex(const void *data, size_t len, char hex[CRYPTO_SHA256_HEX_LEN + 1]);

/* ---- hex / base64 ---- */

/** @brief Lower-case hex of @p len bytes into @p out (2*len+1 bytes, NUL-terminated). */
void crypto_hex_encode(const uint8_t *in, size_t len, char *out);
/** @brief The value of one hex digit (either case), or -1 when @p c is not one. */
int crypto_hex_digit(int c);
/** @brief Decode exactly @p out_len bytes from 2*out_len hex chars. @returns 0, -EPROTO */
int crypto_hex_decode(const char *hex, size_t hex_len, uint8_t *out, size_t out_len);
/** @brief Size of the base64 text (with padding, without NUL) for @p len bytes. */
size_t crypto_base64_len(size_t len);
/** @brief Standard base64 with padding, NUL-terminated; @p out holds base64_len+1. */
void crypto_base64_encode(const uint8_t *in, size_t len, char *out);
/**
 * @brief Decode standard base64 (padding required) of @p in_len chars.
 * @returns decoded length (>= 0), -EPROTO bad text, -ENOSPC @p out_size too small
 */
int crypto_base64_decode(const char *in, size_t in_len, uint8_t *out, size_t out_size);

/* ---- Ed25519 ---- */

struct crypto_ed25519_key {
    uint8_t pub[CRYPTO_ED25519_KEY_LEN];
    uint8_t priv[CRYPTO_ED25519_KEY_LEN]; /**< seed; all zero when public only */
    bool has_priv;
    char key_id[CRYPTO_KEY_ID_LEN + 1];
};

/** @brief A fresh key pair from the OS random source. @returns 0, -EIO */
int crypto_ed25519_keygen(struct crypto_ed25519_key *key);
/** @brief Fill pub and key_id from a 32-byte seed. @returns 0, -EIO */
int crypto_ed25519_from_seed(struct crypto_ed25519_key *key,
                             const uint8_t seed[CRYPTO_ED25519_KEY_LEN]);
/** @brief key_id for a public key (first 8 bytes of its SHA-256, hex). */
void crypto_key_id(const uint8_t pub[CRYPTO_ED25519_KEY_LEN], char out[CRYPTO_KEY_ID_LEN + 1]);
/** @returns 0, -EINVAL (no private half), -EIO */
int crypto_ed25519_sign(const struct crypto_ed25519_key *key, const void *msg, size_t len,
                        uint8_t sig[CRYPTO_ED25519_SIG_LEN]);
/** @returns 0 the signature is valid, -EBADMSG it is not, -EIO */
int crypto_ed25519_verify(const uint8_t pub[CRYPTO_ED25519_KEY_LEN], const void *msg, size_t len,
                          const uint8_t sig[CRYPTO_ED25519_SIG_LEN]);

/** @brief Write NAME.key (0600) and NAME.pub. @returns 0, -EEXIST, -errno */
int crypto_ed25519_save(const struct crypto_ed25519_key *key, const char *basename, char *errstr,
                        size_t errstr_size);
/**
 * @brief Read a private (NAME.key) or public (NAME.pub) key file.
 * @returns 0, -errno for the file, -EPROTO for bad content (errstr says which)
 */
int crypto_ed25519_load(struct crypto_ed25519_key *key, const char *path, char *errstr,
                        size_t errstr_size);
/** @brief Parse one key line (either kind). @returns 0, -EPROTO */
int crypto_ed25519_parse_line(struct crypto_ed25519_key *key, const char *line, size_t len,
                              char *errstr, size_t errstr_size);

/* ---- trusted keys ---- */

typedef struct crypto_keyring crypto_keyring;

crypto_keyring *crypto_keyring_new(void);
void crypto_keyring_free(crypto_keyring *kr);
/** @brief Add the public half of @p key. @returns 0, -ENOMEM */
int crypto_keyring_add(crypto_keyring *kr, const struct crypto_ed25519_key *key);
/** @brief Add every public-key line of a trusted-keys file. @returns 0, -errno, -EPROTO */
int crypto_keyring_load(crypto_keyring *kr, const char *path, char *errstr, size_t errstr_size);
/** @brief The key with @p key_id (borrowed, valid while kr lives), or NULL. */
const struct crypto_ed25519_key *crypto_keyring_find(const crypto_keyring *kr, const char *key_id,
                                                     size_t key_id_len);
size_t crypto_keyring_count(const crypto_keyring *kr);

#endif
