/* cache_dir/versions/<model>/<version>.{sig,json}: which versions the cache
 * holds, as the exact bytes that were verified, so that a restart without S3
 * can verify them again and find their chunks. */
#include "worker/store_impl.h"

#include "common/kf_err.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SIG_MAX_BYTES 4096

static void model_dir(const model_store *st, const char *model, char *out, size_t size)
{
    store_pathf(out, size, "%s/versions/%s", st->cache_dir, model);
}

int store_index_put(model_store *st, const char *model, const char *version, const kf_buf *man,
                    const kf_buf *sig, char *errstr, size_t errstr_size)
{
    char dir[PATH_MAX], name[SCHEMA_NAME_MAX + 8];
    model_dir(st, model, dir, sizeof(dir));
    int err = store_mkdirs(dir);
    if (err) {
        kf_errf(errstr, errstr_size, "%s: %s", dir, strerror(-err));
        return err;
    }
    /* The .json is what makes a version listed: write it last. */
    store_pathf(name, sizeof(name), "%s.sig", version);
    if ((err = store_write_file(st, dir, name, sig->ptr, sig->len, errstr, errstr_size)))
        return err;
    store_pathf(name, sizeof(name), "%s.json", version);
    return store_write_file(st, dir, name, man->ptr, man->len, errstr, errstr_size);
}

int store_index_get(model_store *st, const char *model, const char *version, kf_buf *man,
                    kf_buf *sig)
{
    char path[PATH_MAX];
    model_dir(st, model, path, sizeof(path));
    size_t n = strlen(path);
    store_pathf(path + n, sizeof(path) - n, "/%s.json", version);
    int err = store_read_file(path, man, MANIFEST_MAX_BYTES);
    if (err)
        return err;
    store_pathf(path + n, sizeof(path) - n, "/%s.sig", version);
    return store_read_file(path, sig, SIG_MAX_BYTES);
}

void store_index_remove(model_store *st, const char *model, const char *version)
{
    char path[PATH_MAX];
    model_dir(st, model, path, sizeof(path));
    size_t n = strlen(path);
    store_pathf(path + n, sizeof(path) - n, "/%s.json", version);
    unlink(path);
    store_pathf(path + n, sizeof(path) - n, "/%s.sig", version);
    unlink(path);
}

void store_index_entries_free(struct store_index_entry *e, size_t n)
{
    if (!e)
        return;
    for (size_t i = 0; i < n; i++)
        manifest_free(e[i].m);
    free(e);
}

static int by_seq_desc(const void *a, const void *b)
{
    const struct store_index_entry *x = a, *y = b;
    if (!x->m != !y->m)
        return x->m ? -1 : 1; /* unparseable last */
    if (x->seq != y->seq)
        return x->seq > y->seq ? -1 : 1;
    return strcmp(x->version, y->version);
}

int store_index_list(model_store *st, const char *model, struct store_index_entry **out)
{
    *out = NULL;
    char dir[PATH_MAX];
    model_dir(st, model, dir, sizeof(dir));
    DIR *d = opendir(dir);
    if (!d)
        return errno == ENOENT ? 0 : -EIO;
    struct store_index_entry *e = NULL;
    size_t n = 0, cap = 0;
    int err = 0;
    kf_buf man;
    kf_buf_init(&man);
    struct dirent *de;
    while ((de = readdir(d))) {
        size_t len = strlen(de->d_name);
        if (len <= 5 || strcmp(de->d_name + len - 5, ".json") ||
            !schema_name_valid(de->d_name, len - 5))
            continue; /* ".", "..", *.sig, temporary files */
        if (n == cap) {
            size_t ncap = cap ? 2 * cap : 8;
            struct store_index_entry *ne = realloc(e, ncap * sizeof(*ne));
            if (!ne) {
                err = -ENOMEM;
                break;
            }
            e = ne;
            cap = ncap;
        }
        struct store_index_entry *x = &e[n++];
        memset(x, 0, sizeof(*x));
        memcpy(x->version, de->d_name, len - 5);
        char path[PATH_MAX];
        store_pathf(path, sizeof(path), "%s/%s", dir, de->d_name);
        kf_buf_reset(&man);
        if (store_read_file(path, &man, MANIFEST_MAX_BYTES) ||
            crypto_sha256_hex(man.ptr, man.len, x->sha256) ||
            manifest_parse(man.ptr, man.len, &x->m, NULL, 0))
            continue; /* listed with m NULL: eviction removes it */
        x->seq = x->m->seq;
    }
    closedir(d);
    kf_buf_fini(&man);
    if (err) {
        store_index_entries_free(e, n);
        return err;
    }
    if (n)
        qsort(e, n, sizeof(*e), by_seq_desc);
    *out = e;
    return (int)n;
}

int store_cached_list(model_store *st, const char *model, struct store_cached_version **out)
{
    if (!st || !model || !out || !schema_name_valid(model, strlen(model)))
        return -EINVAL;
    *out = NULL;
    struct store_index_entry *e;
    pthread_mutex_lock(&st->lock);
    int n = store_index_list(st, model, &e);
    pthread_mutex_unlock(&st->lock);
    if (n <= 0)
        return n;
    struct store_cached_version *v = calloc((size_t)n, sizeof(*v));
    int k = 0;
    for (int i = 0; v && i < n; i++) {
        if (!e[i].m)
            continue;
        memcpy(v[k].version, e[i].version, sizeof(v[k].version));
        memcpy(v[k].manifest_sha256, e[i].sha256, sizeof(v[k].manifest_sha256));
        v[k].seq = e[i].seq;
        v[k].blob_size = e[i].m->blob_size;
        k++;
    }
    store_index_entries_free(e, (size_t)n);
    if (!v)
        return -ENOMEM;
    if (!k) {
        free(v);
        v = NULL;
    }
    *out = v;
    return k;
}
