#include "common/crypto.h"
#include "common/kf_err.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct crypto_keyring {
    struct crypto_ed25519_key *keys;
    size_t n;
};

crypto_keyring *crypto_keyring_new(void)
{
    return calloc(1, sizeof(crypto_keyring));
}

void crypto_keyring_free(crypto_keyring *kr)
{
    if (!kr)
        return;
    free(kr->keys);
    free(kr);
}

int crypto_keyring_add(crypto_keyring *kr, const struct crypto_ed25519_key *key)
{
    if (crypto_keyring_find(kr, key->key_id, strlen(key->key_id)))
        return 0;
    struct crypto_ed25519_key *k = realloc(kr->keys, (kr->n + 1) * sizeof(*k));
    if (!k)
        return -ENOMEM;
    kr->keys = k;
    /* Only the public half: a worker's ring never holds a private key. */
    memset(&k[kr->n], 0, sizeof(*k));
    memcpy(k[kr->n].pub, key->pub, sizeof(key->pub));
    memcpy(k[kr->n].key_id, key->key_id, sizeof(key->key_id));
    kr->n++;
    return 0;
}

int crypto_keyring_load(crypto_keyring *kr, const char *path, char *errstr, size_t errstr_size)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        int err = -errno;
        kf_errf(errstr, errstr_size, "%s: %s", path, strerror(errno));
        return err;
    }
    char line[512];
    int lineno = 0, err = 0;
    while (!err && fgets(line, sizeof(line), f)) {
        lineno++;
        size_t len = strcspn(line, "\r\n");
        size_t skip = strspn(line, " \t");
        if (skip >= len || line[skip] == '#')
            continue;
        struct crypto_ed25519_key key;
        char msg[256];
        err = crypto_ed25519_parse_line(&key, line + skip, len - skip, msg, sizeof(msg));
        if (err)
            kf_errf(errstr, errstr_size, "%s:%d: %s", path, lineno, msg);
        else
            err = crypto_keyring_add(kr, &key);
        memset(&key, 0, sizeof(key));
    }
    fclose(f);
    return err;
}

const struct crypto_ed25519_key *crypto_keyring_find(const crypto_keyring *kr, const char *key_id,
                                                     size_t key_id_len)
{
    for (size_t i = 0; i < kr->n; i++)
        if (strlen(kr->keys[i].key_id) == key_id_len &&
            !memcmp(kr->keys[i].key_id, key_id, key_id_len))
            return &kr->keys[i];
    return NULL;
}

size_t crypto_keyring_count(const crypto_keyring *kr)
{
    return kr->n;
}
