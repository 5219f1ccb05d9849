/* kfleet-sig: "key_id:base64(ed25519(value))". */
#include "schema/ctl_sig.h"

#include <errno.h>
#include <string.h>

const char *ctl_sig_verdict2str(enum ctl_sig_verdict v)
{
    static const char *const names[] = {"ok", "unsigned", "unknown_key", "bad_signature",
                                        "malformed"};
    return (unsigned)v < 5 ? names[v] : "?";
}

int ctl_sig_sign(const struct crypto_ed25519_key *key, const uint8_t *value, size_t value_len,
                 kf_buf *header)
{
    if (!key || !header || (!value && value_len) || !key->has_priv)
        return -EINVAL;
    uint8_t sig[CRYPTO_ED25519_SIG_LEN];
    int err = crypto_ed25519_sign(key, value, value_len, sig);
    if (err)
        return err;
    char text[CTL_SIG_HEADER_LEN + 1];
    memcpy(text, key->key_id, CRYPTO_KEY_ID_LEN);
    text[CRYPTO_KEY_ID_LEN] = ':';
    crypto_base64_encode(sig, sizeof(sig), text + CRYPTO_KEY_ID_LEN + 1);
    return kf_buf_append(header, text, CTL_SIG_HEADER_LEN);
}

int ctl_sig_parse(const uint8_t *header, size_t header_len, char key_id[CRYPTO_KEY_ID_LEN + 1],
                  uint8_t sig[CRYPTO_ED25519_SIG_LEN])
{
    if (!header || !key_id || !sig)
        return -EINVAL;
    key_id[0] = '\0';
    if (header_len != CTL_SIG_HEADER_LEN || header[CRYPTO_KEY_ID_LEN] != ':')
        return -EPROTO;
    for (size_t i = 0; i < CRYPTO_KEY_ID_LEN; i++) {
        uint8_t c = header[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
            return -EPROTO;
    }
    uint8_t raw[CRYPTO_ED25519_SIG_LEN + 3];
    int n = crypto_base64_decode((const char *)header + CRYPTO_KEY_ID_LEN + 1,
                                 header_len - CRYPTO_KEY_ID_LEN - 1, raw, sizeof(raw));
    if (n != CRYPTO_ED25519_SIG_LEN)
        return -EPROTO;
    memcpy(sig, raw, CRYPTO_ED25519_SIG_LEN);
    memcpy(key_id, header, CRYPTO_KEY_ID_LEN);
    key_id[CRYPTO_KEY_ID_LEN] = '\0';
    return 0;
}

enum ctl_sig_verdict ctl_sig_verify(const uint8_t *header, size_t header_len, const uint8_t *value,
                                    size_t value_len, const crypto_keyring *kr,
                                    char key_id_out[CRYPTO_KEY_ID_LEN + 1])
{
    if (key_id_out)
        key_id_out[0] = '\0';
    if (!header)
        return CTL_SIG_UNSIGNED;
    char id[CRYPTO_KEY_ID_LEN + 1];
    uint8_t sig[CRYPTO_ED25519_SIG_LEN];
    if (ctl_sig_parse(header, header_len, id, sig))
        return CTL_SIG_MALFORMED;
    if (key_id_out)
        memcpy(key_id_out, id, sizeof(id));
    const struct crypto_ed25519_key *key =
        kr ? crypto_keyring_find(kr, id, CRYPTO_KEY_ID_LEN) : NULL;
    if (!key)
        return CTL_SIG_UNKNOWN_KEY;
    if (crypto_ed25519_verify(key->pub, value, value_len, sig))
        return CTL_SIG_BAD_SIGNATURE;
    return CTL_SIG_OK;
}
