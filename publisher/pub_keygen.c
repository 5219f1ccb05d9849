/* publish-model keygen: the private key stays with the publisher (0600);
 * the .pub line is what workers put in their trusted-keys file. */
#include "publisher/pub_ops.h"

#include "common/kf_err.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

int pub_keygen(const char *basename, FILE *out, char *errstr, size_t errstr_size)
{
    char path[4096];
    struct stat st;
    if (!basename || !*basename) {
        kf_errf(errstr, errstr_size, "keygen needs -o NAME");
        return -EINVAL;
    }
    for (int i = 0; i < 2; i++) {
        snprintf(path, sizeof(path), "%s.%s", basename, i ? "pub" : "key");
        if (!stat(path, &st)) {
            kf_errf(errstr, errstr_size, "%s exists: keys are never overwritten", path);
            return -EEXIST;
        }
    }
    struct crypto_ed25519_key key;
    int err = crypto_ed25519_keygen(&key);
    if (err) {
        kf_errf(errstr, errstr_size, "key generation failed: %s", kf_strerror(err));
        return err;
    }
    err = crypto_ed25519_save(&key, basename, errstr, errstr_size);
    memset(&key, 0, sizeof(key));
    if (err)
        return err;
    snprintf(path, sizeof(path), "%s.pub", basename);
    FILE *f = fopen(path, "r");
    char line[256] = "";
    if (!f || !fgets(line, sizeof(line), f)) {
        err = -errno ? -errno : -EIO;
        kf_errf(errstr, errstr_size, "%s: %s", path, strerror(errno));
    } else {
        fputs(line, out);
    }
    if (f)
        fclose(f);
    return err;
}
