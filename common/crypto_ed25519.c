/* Ed25519 through OpenSSL 3's raw-key EVP interface, and the key files. */
#include "common/crypto.h"
#include "common/kf_err.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PRIV_TAG "kfleet-ed25519-private"
#define PUB_TAG "kfleet-ed25519-public"

void crypto_key_id(const uint8_t pub[CRYPTO_ED25519_KEY_LEN], char out[CRYPTO_KEY_ID_LEN + 1])
{
    uint8_t d[CRYPTO_SHA256_LEN];
    if (crypto_sha256_digest(pub, CRYPTO_ED25519_KEY_LEN, d))
        memset(d, 0, sizeof(d));
    crypto_hex_encode(d, CRYPTO_KEY_ID_LEN / 2, out);
}

int crypto_ed25519_from_seed(struct crypto_ed25519_key *key,
                             const uint8_t seed[CRYPTO_ED25519_KEY_LEN])
{
    EVP_PKEY *pk =
        EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, seed, CRYPTO_ED25519_KEY_LEN);
    if (!pk)
        return -EIO;
    size_t n = CRYPTO_ED25519_KEY_LEN;
    int ok = EVP_PKEY_get_raw_public_key(pk, key->pub, &n) == 1 && n == CRYPTO_ED25519_KEY_LEN;
    EVP_PKEY_free(pk);
    if (!ok)
        return -EIO;
    memcpy(key->priv, seed, CRYPTO_ED25519_KEY_LEN);
    key->has_priv = true;
    crypto_key_id(key->pub, key->key_id);
    return 0;
}

int crypto_ed25519_keygen(struct crypto_ed25519_key *key)
{
    uint8_t seed[CRYPTO_ED25519_KEY_LEN];
    if (RAND_priv_bytes(seed, sizeof(seed)) != 1)
        return -EIO;
    int err = crypto_ed25519_from_seed(key, seed);
    memset(seed, 0, sizeof(seed));
    return err;
}

int crypto_ed25519_sign(const struct crypto_ed25519_key *key, const void *msg, size_t len,
                        uint8_t sig[CRYPTO_ED25519_SIG_LEN])
{
    if (!key->has_priv)
        return -EINVAL;
    EVP_PKEY *pk =
        EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, key->priv, CRYPTO_ED25519_KEY_LEN);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    size_t siglen = CRYPTO_ED25519_SIG_LEN;
    int err = -EIO;
    /* Ed25519 is "pure": no digest is named, the message goes in one call. */
    if (pk && ctx && EVP_DigestSignInit(ctx, NULL, NULL, NULL, pk) == 1 &&
        EVP_DigestSign(ctx, sig, &siglen, msg, len) == 1 && siglen == CRYPTO_ED25519_SIG_LEN)
        err = 0;
    EVP_MD_CTX_free(ctx);
    EVP_PKEY_free(pk);
    return err;
}

int crypto_ed25519_verify(const uint8_t pub[CRYPTO_ED25519_KEY_LEN], const void *msg, size_t len,
                          const uint8_t sig[CRYPTO_ED25519_SIG_LEN])
{
    EVP_PKEY *pk = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, pub, CRYPTO_ED25519_KEY_LEN);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    int err = -EIO;
    if (pk && ctx && EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, pk) == 1) {
        int rc = EVP_DigestVerify(ctx, sig, CRYPTO_ED25519_SIG_LEN, msg, len);
        err = rc == 1 ? 0 : -EBADMSG;
    }
    EVP_MD_CTX_free(ctx);
    EVP_PKEY_free(pk);
    return err;
}

int crypto_ed25519_parse_line(struct crypto_ed25519_key *key, const char *line, size_t len,
                              char *errstr, size_t errstr_size)
{
    char buf[256], tag[64], id[64], b64text[128];
    if (len >= sizeof(buf)) {
        kf_errf(errstr, errstr_size, "key line too long");
        return -EPROTO;
    }
    memcpy(buf, line, len);
    buf[len] = '\0';
    if (sscanf(buf, "%63s %63s %127s", tag, id, b64text) != 3) {
        kf_errf(errstr, errstr_size, "expected '<tag> <key_id> <base64 key>'");
        return -EPROTO;
    }
    bool priv = !strcmp(tag, PRIV_TAG);
    if (!priv && strcmp(tag, PUB_TAG)) {
        kf_errf(errstr, errstr_size, "unknown key tag '%s' (want %s or %s)", tag, PRIV_TAG,
                PUB_TAG);
        return -EPROTO;
    }
    uint8_t raw[64];
    int n = crypto_base64_decode(b64text, strlen(b64text), raw, sizeof(raw));
    if (n != CRYPTO_ED25519_KEY_LEN) {
        kf_errf(errstr, errstr_size, "key is not 32 bytes of base64");
        return -EPROTO;
    }
    memset(key, 0, sizeof(*key));
    if (priv) {
        if (crypto_ed25519_from_seed(key, raw))
            return -EIO;
    } else {
        memcpy(key->pub, raw, CRYPTO_ED25519_KEY_LEN);
        crypto_key_id(key->pub, key->key_id);
    }
    memset(raw, 0, sizeof(raw));
    if (strcmp(id, key->key_id)) {
        kf_errf(errstr, errstr_size, "key_id %s does not match the key (it is %s)", id,
                key->key_id);
        return -EPROTO;
    }
    return 0;
}

int crypto_ed25519_load(struct crypto_ed25519_key *key, const char *path, char *errstr,
                        size_t errstr_size)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        int err = -errno;
        kf_errf(errstr, errstr_size, "%s: %s", path, strerror(errno));
        return err;
    }
    char line[256];
    int err = -EPROTO;
    kf_errf(errstr, errstr_size, "%s: no key in the file", path);
    while (fgets(line, sizeof(line), f)) {
        size_t len = strcspn(line, "\r\n");
        if (!len || line[0] == '#')
            continue;
        char msg[256];
        err = crypto_ed25519_parse_line(key, line, len, msg, sizeof(msg));
        if (err)
            kf_errf(errstr, errstr_size, "%s: %s", path, msg);
        break;
    }
    memset(line, 0, sizeof(line));
    fclose(f);
    return err;
}

static int write_file(const char *path, mode_t mode, const char *text)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, mode);
    if (fd < 0)
        return -errno;
    size_t len = strlen(text);
    ssize_t n = write(fd, text, len);
    int err = n == (ssize_t)len ? 0 : -EIO;
    /* close even when fsync fails, or the descriptor leaks */
    if (fsync(fd) && !err)
        err = -errno;
    if (close(fd) && !err)
        err = -errno;
    return err;
}

int crypto_ed25519_save(const struct crypto_ed25519_key *key, const char *basename, char *errstr,
                        size_t errstr_size)
{
    char path[4096], line[256], b64text[64];
    if (!key->has_priv)
        return -EINVAL;
    crypto_base64_encode(key->priv, CRYPTO_ED25519_KEY_LEN, b64text);
    snprintf(line, sizeof(line), "%s %s %s\n", PRIV_TAG, key->key_id, b64text);
    snprintf(path, sizeof(path), "%s.key", basename);
    int err = write_file(path, 0600, line);
    memset(line, 0, sizeof(line));
    memset(b64text, 0, sizeof(b64text));
    if (err) {
        kf_errf(errstr, errstr_size, "%s: %s", path, strerror(-err));
        return err;
    }
    crypto_base64_encode(key->pub, CRYPTO_ED25519_KEY_LEN, b64text);
    snprintf(line, sizeof(line), "%s %s %s\n", PUB_TAG, key->key_id, b64text);
    snprintf(path, sizeof(path), "%s.pub", basename);
    err = write_file(path, 0644, line);
    if (err)
        kf_errf(errstr, errstr_size, "%s: %s", path, strerror(-err));
    return err;
}
