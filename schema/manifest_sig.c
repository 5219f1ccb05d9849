/* manifest.sig: {"alg":"ed25519","key_id":...,"sig":base64} beside manifest.json. */
#include "schema/manifest.h"

#include "common/kf_err.h"
#include "schema/json_impl.h"

#include <string.h>

int manifest_sig_encode(const struct crypto_ed25519_key *key, const uint8_t *manifest,
                        size_t manifest_len, kf_buf *out)
{
    if (!key || !out || !key->has_priv || (!manifest && manifest_len))
        return -EINVAL;
    uint8_t sig[CRYPTO_ED25519_SIG_LEN];
    int err = crypto_ed25519_sign(key, manifest, manifest_len, sig);
    if (err)
        return err;
    char b64[89];
    crypto_base64_encode(sig, sizeof(sig), b64);
    json_t *j = json_pack("{ssssss}", "alg", "ed25519", "key_id", key->key_id, "sig", b64);
    if (!j)
        return -ENOMEM;
    err = ju_dump(j, out);
    json_decref(j);
    return err;
}

enum ctl_sig_verdict manifest_sig_verify(const uint8_t *sig_doc, size_t sig_len,
                                         const uint8_t *manifest, size_t manifest_len,
                                         const crypto_keyring *kr,
                                         char key_id_out[CRYPTO_KEY_ID_LEN + 1])
{
    if (key_id_out)
        key_id_out[0] = '\0';
    if (!sig_doc)
        return CTL_SIG_UNSIGNED;
    json_t *j;
    if (ju_load(sig_doc, sig_len, 4096, "manifest.sig", &j, NULL, 0))
        return CTL_SIG_MALFORMED;
    char alg[16], key_id[CRYPTO_KEY_ID_LEN + 2], sig[96];
    enum ctl_sig_verdict v = CTL_SIG_MALFORMED;
    if (ju_str(j, "", "alg", true, alg, sizeof(alg), NULL, 0) || strcmp(alg, "ed25519") ||
        ju_str(j, "", "key_id", true, key_id, sizeof(key_id), NULL, 0) ||
        strlen(key_id) != CRYPTO_KEY_ID_LEN ||
        ju_str(j, "", "sig", true, sig, sizeof(sig), NULL, 0))
        goto out;
    /* Same header form as a control event: reuse its parser and verdicts. */
    char header[CTL_SIG_HEADER_LEN + 8];
    size_t slen = strlen(sig);
    if (slen != CTL_SIG_HEADER_LEN - CRYPTO_KEY_ID_LEN - 1)
        goto out;
    memcpy(header, key_id, CRYPTO_KEY_ID_LEN);
    header[CRYPTO_KEY_ID_LEN] = ':';
    memcpy(header + CRYPTO_KEY_ID_LEN + 1, sig, slen);
    v = ctl_sig_verify((const uint8_t *)header, CTL_SIG_HEADER_LEN, manifest, manifest_len, kr,
                       key_id_out);
out:
    json_decref(j);
    return v;
}
