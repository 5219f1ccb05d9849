/**
 * @file ctl_sig.h
 * @brief The `kfleet-sig` Kafka header of signed control events: an Ed25519
 *        signature over the exact value bytes, as "key_id:base64sig".
 *
 * Pure: the caller reads the header from the Kafka message and hands over
 * its bytes; keys come from common/crypto.h.
 */
#ifndef SCHEMA_CTL_SIG_H
#define SCHEMA_CTL_SIG_H

#include "common/crypto.h"
#include "common/kf_buf.h"

#include <stddef.h>
#include <stdint.h>

/** Name of the Kafka header that carries the signature. */
#define CTL_SIG_HEADER "kfleet-sig"

/** Header length: key_id (16) + ':' + base64 of 64 bytes (88). */
#define CTL_SIG_HEADER_LEN (CRYPTO_KEY_ID_LEN + 1 + 88)

enum ctl_sig_verdict {
    CTL_SIG_OK = 0,            /**< signed by a trusted key, signature valid */
    CTL_SIG_UNSIGNED = 1,      /**< no header */
    CTL_SIG_UNKNOWN_KEY = 2,   /**< well-formed, but key_id is not in the keyring */
    CTL_SIG_BAD_SIGNATURE = 3, /**< trusted key, signature does not verify */
    CTL_SIG_MALFORMED = 4,     /**< header present but not "key_id:base64(64 bytes)" */
};

/** @brief "ok", "unsigned", "unknown_key", "bad_signature", "malformed"; "?" outside the enum. */
const char *ctl_sig_verdict2str(enum ctl_sig_verdict v);

/**
 * @brief Sign @p value (the exact bytes that will be the Kafka value) and
 *        append the header value "key_id:base64sig" to @p header (no NUL counted).
 * @param key  a key with its private half (borrowed)
 * @returns 0; -EINVAL NULL argument or no private half; -EIO signing failed;
 *          -ENOMEM
 */
int ctl_sig_sign(const struct crypto_ed25519_key *key, const uint8_t *value, size_t value_len,
                 kf_buf *header);

/**
 * @brief Split a header value into its key_id and the 64 signature bytes,
 *        without any key (the reducer looks the key up in its own state).
 * @param key_id  out: 16 hex characters + NUL
 * @returns 0; -EPROTO not "key_id:base64(64 bytes)"; -EINVAL NULL argument
 */
int ctl_sig_parse(const uint8_t *header, size_t header_len, char key_id[CRYPTO_KEY_ID_LEN + 1],
                  uint8_t sig[CRYPTO_ED25519_SIG_LEN]);

/**
 * @brief Verify the header of one message against a keyring.
 * @param header      the header value bytes, or NULL when the message has none
 * @param value       the message value bytes (what was signed)
 * @param kr          trusted keys (borrowed); NULL is an empty ring
 * @param key_id_out  optional out: the key_id named by the header (17 bytes,
 *                    NUL-terminated, "" when none could be read)
 * @returns the verdict; never fails otherwise (an internal crypto error reads
 *          as CTL_SIG_BAD_SIGNATURE).
 */
enum ctl_sig_verdict ctl_sig_verify(const uint8_t *header, size_t header_len, const uint8_t *value,
                                    size_t value_len, const crypto_keyring *kr,
                                    char key_id_out[CRYPTO_KEY_ID_LEN + 1]);

#endif
