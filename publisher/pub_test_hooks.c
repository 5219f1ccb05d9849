/* Fault hooks (pub_test_hooks.h): built only with -Dtest_hooks=true, so that a
 * release publish-model cannot be made to kill itself mid-push or to upload a
 * corrupted chunk. */
#include "publisher/pub_test_hooks.h"

#include "common/kf_err.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

long pub_test_hook_die_after_chunks(void)
{
    const char *v = getenv(PUB_TEST_HOOK_DIE_ENV);
    return v && *v ? atol(v) : -1;
}

void pub_test_hook_die(size_t uploaded)
{
    fprintf(stderr, "%s: %zu chunks uploaded; killing myself\n", PUB_TEST_HOOK_DIE_ENV, uploaded);
    fflush(stderr);
    kill(getpid(), SIGKILL);
    _exit(137);
}

int pub_test_hook_tamper_chunk(objstore *os, const struct pub_chunk *c, const uint8_t *blob,
                               char *errstr, size_t errstr_size)
{
    char key[PUB_CHUNK_KEY_LEN], msg[512];
    pub_chunk_key(c->sha256, key);
    uint8_t *copy = malloc(c->size);
    if (!copy) {
        kf_errf(errstr, errstr_size, "tampering with %s: out of memory", key);
        return -ENOMEM;
    }
    memcpy(copy, blob + c->offset, c->size);
    copy[c->size / 2] ^= 0x5a;
    int err = objstore_put(os, key, copy, c->size, msg, sizeof(msg));
    free(copy);
    if (err)
        kf_errf(errstr, errstr_size, "tampering with %s: %s", key, msg);
    return err;
}
