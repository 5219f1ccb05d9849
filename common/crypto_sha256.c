/* SHA-256 through OpenSSL's EVP interface (it picks the SHA-NI / AVX2 code). */
#include "common/crypto.h"

#include <errno.h>
#include <openssl/evp.h>
#include <stdlib.h>

struct crypto_sha256 {
    EVP_MD_CTX *ctx;
};

crypto_sha256 *crypto_sha256_new(void)
{
    crypto_sha256 *h = calloc(1, sizeof(*h));
    if (!h)
        return NULL;
    h->ctx = EVP_MD_CTX_new();
    if (!h->ctx || EVP_DigestInit_ex(h->ctx, EVP_sha256(), NULL) != 1) {
        crypto_sha256_free(h);
        return NULL;
    }
    return h;
}

void crypto_sha256_free(crypto_sha256 *h)
{
    if (!h)
        return;
    EVP_MD_CTX_free(h->ctx);
    free(h);
}

int crypto_sha256_update(crypto_sha256 *h, const void *data, size_t len)
{
    if (!len)
        return 0;
    return EVP_DigestUpdate(h->ctx, data, len) == 1 ? 0 : -EIO;
}

int crypto_sha256_final(crypto_sha256 *h, uint8_t out[CRYPTO_SHA256_LEN])
{
    unsigned int n = 0;
    if (EVP_DigestFinal_ex(h->ctx, out, &n) != 1 || n != CRYPTO_SHA256_LEN)
        return -EIO;
    return EVP_DigestInit_ex(h->ctx, EVP_sha256(), NULL) == 1 ? 0 : -EIO;
}

int crypto_sha256_digest(const void *data, size_t len, uint8_t out[CRYPTO_SHA256_LEN])
{
    unsigned int n = 0;
    return EVP_Digest(data, len, out, &n, EVP_sha256(), NULL) == 1 ? 0 : -EIO;
}

int crypto_sha256_hex(const void *data, size_t len, char hex[CRYPTO_SHA256_HEX_LEN + 1])
{
    uint8_t d[CRYPTO_SHA256_LEN];
    int err = crypto_sha256_digest(data, len, d);
    if (err)
        return err;
    crypto_hex_encode(d, sizeof(d), hex);
    return 0;
}
