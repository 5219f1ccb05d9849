/* The manifest half of the signature chain (ARCHITECTURE §3): digest against
 * the control event, signature against the trusted keys, then the rules.
 * The order matters: nothing of an unauthenticated manifest is parsed. */
#include "worker/store_impl.h"

#include "common/kf_err.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

int store_manifest_verify(model_store *st, const kf_buf *man, const kf_buf *sig,
                          const char *expect_sha256, const char *model, const char *version,
                          struct store_version *sv, char *errstr, size_t errstr_size)
{
    char hex[CRYPTO_SHA256_HEX_LEN + 1];
    int err = crypto_sha256_hex(man->ptr, man->len, hex);
    if (err) {
        kf_errf(errstr, errstr_size, "manifest: hashing failed: %s", kf_strerror(err));
        return err;
    }
    if (expect_sha256 && strcmp(hex, expect_sha256)) {
        kf_errf(errstr, errstr_size,
                "manifest sha256 %s differs from the announced %s: the manifest was replaced "
                "or the announcement is wrong",
                hex, expect_sha256);
        return -EBADMSG;
    }

    char key_id[CRYPTO_KEY_ID_LEN + 1];
    enum ctl_sig_verdict v =
        manifest_sig_verify(sig->ptr, sig->len, man->ptr, man->len, st->trusted, key_id);
    switch (v) {
    case CTL_SIG_OK: break;
    case CTL_SIG_UNKNOWN_KEY:
        kf_errf(errstr, errstr_size,
                "manifest.sig: signed by key %s, which is not among the %zu trusted keys", key_id,
                crypto_keyring_count(st->trusted));
        return -ENOKEY;
    case CTL_SIG_BAD_SIGNATURE:
        kf_errf(errstr, errstr_size,
                "manifest.sig: bad signature: it does not verify with trusted key %s", key_id);
        return -EBADMSG;
    case CTL_SIG_UNSIGNED:
        kf_errf(errstr, errstr_size, "manifest.sig: missing (the version is unsigned)");
        return -EBADMSG;
    case CTL_SIG_MALFORMED:
    default:
        kf_errf(errstr, errstr_size,
                "manifest.sig: malformed (want {\"alg\":\"ed25519\",\"key_id\":...,\"sig\":...})");
        return -EPROTO;
    }

    char why[384];
    struct manifest *m = NULL;
    err = manifest_parse(man->ptr, man->len, &m, why, sizeof(why));
    if (err) {
        kf_errf(errstr, errstr_size, "manifest (signed by %s) does not validate: %s", key_id, why);
        return err;
    }
    if ((model && strcmp(m->model, model)) || (version && strcmp(m->version, version))) {
        kf_errf(errstr, errstr_size, "manifest is for %s/%s, but %s/%s was announced", m->model,
                m->version, model ? model : m->model, version ? version : m->version);
        manifest_free(m);
        return -EPROTO;
    }
    sv->manifest = m;
    memcpy(sv->manifest_sha256, hex, sizeof(hex));
    memcpy(sv->key_id, key_id, sizeof(key_id));
    memcpy(sv->model, m->model, sizeof(sv->model));
    memcpy(sv->version, m->version, sizeof(sv->version));
    sv->seq = m->seq;
    return 0;
}
