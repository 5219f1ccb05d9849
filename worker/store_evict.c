/* Cache eviction: the last keep_versions versions of a model stay (for a fast
 * rollback and a restart without S3); a chunk stays while any kept version
 * of any model, or a fetch in progress (a pin), refers to it. Versions are
 * ordered by seq, the publisher's monotonic counter, not by fetch time; the
 * version just fetched always stays, even when it is older (a rollback). */
#include "worker/store_impl.h"

#include "common/kf_log.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct hexset {
    char (*h)[CRYPTO_SHA256_HEX_LEN + 1];
    size_t n, cap;
    bool oom;
};

static void hexset_add_manifest(struct hexset *s, const struct manifest *m)
{
    for (size_t i = 0; i < m->n_chunks && !s->oom; i++) {
        if (s->n == s->cap) {
            size_t cap = s->cap ? 2 * s->cap : 256;
            void *p = realloc(s->h, cap * sizeof(*s->h));
            if (!p) {
                s->oom = true;
                return;
            }
            s->h = p;
            s->cap = cap;
        }
        memcpy(s->h[s->n++], m->chunks[i].sha256, CRYPTO_SHA256_HEX_LEN + 1);
    }
}

static int cmp_hex(const void *a, const void *b)
{
    return strcmp(a, b);
}

static bool is_hex64(const char *s)
{
    size_t i = 0;
    for (; s[i]; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    return i == CRYPTO_SHA256_HEX_LEN;
}

/* Trim one model's index to keep_versions. */
static void trim_model(model_store *st, const char *model, const char *keep_version)
{
    struct store_index_entry *e;
    int n = store_index_list(st, model, &e);
    if (n <= 0)
        return;
    bool have_keep = false;
    for (int i = 0; i < n; i++)
        have_keep |= keep_version && e[i].m && !strcmp(e[i].version, keep_version);
    unsigned others = 0, limit = st->keep - (have_keep ? 1 : 0);
    for (int i = 0; i < n; i++) {
        if (e[i].m && keep_version && !strcmp(e[i].version, keep_version))
            continue;
        if (e[i].m && others < limit) {
            others++;
            continue;
        }
        KF_LOG_I(STORE_MOD, "cache: dropping %s/%s (seq %llu)%s", model, e[i].version,
                 (unsigned long long)e[i].seq, e[i].m ? "" : ": its manifest file does not parse");
        store_index_remove(st, model, e[i].version);
    }
    store_index_entries_free(e, (size_t)n);
}

/* Every chunk that some indexed version or a pin refers to. */
static int collect_refs(model_store *st, struct hexset *s)
{
    char dir[PATH_MAX];
    store_pathf(dir, sizeof(dir), "%s/versions", st->cache_dir);
    DIR *d = opendir(dir);
    if (!d)
        return -errno;
    struct dirent *de;
    int err = 0;
    while ((de = readdir(d)) && !err) {
        if (!schema_name_valid(de->d_name, strlen(de->d_name)))
            continue;
        struct store_index_entry *e;
        int n = store_index_list(st, de->d_name, &e);
        if (n < 0) {
            err = n; /* cannot tell what is referenced: delete nothing */
            break;
        }
        for (int i = 0; i < n; i++)
            if (e[i].m)
                hexset_add_manifest(s, e[i].m);
        store_index_entries_free(e, (size_t)n);
    }
    closedir(d);
    for (size_t i = 0; i < st->n_pins; i++)
        hexset_add_manifest(s, st->pins[i]);
    if (!err && s->oom)
        err = -ENOMEM;
    if (!err && s->n)
        qsort(s->h, s->n, sizeof(*s->h), cmp_hex);
    return err;
}

void store_evict(model_store *st, const char *model, const char *keep_version)
{
    trim_model(st, model, keep_version);

    struct hexset refs = {0};
    int err = collect_refs(st, &refs);
    if (err) {
        KF_LOG_W(STORE_MOD, "cache: eviction skipped: %s", strerror(-err));
        free(refs.h);
        return;
    }
    char dir[PATH_MAX];
    store_pathf(dir, sizeof(dir), "%s/sha256", st->cache_dir);
    DIR *d = opendir(dir);
    if (!d) {
        free(refs.h);
        return;
    }
    char mine[32];
    store_pathf(mine, sizeof(mine), STORE_TMP_PREFIX "%ld~", (long)getpid());
    uint64_t freed = 0;
    unsigned removed = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        const char *name = de->d_name;
        bool stale_tmp = !strncmp(name, STORE_TMP_PREFIX, strlen(STORE_TMP_PREFIX)) &&
                         strncmp(name, mine, strlen(mine));
        bool unref =
            is_hex64(name) && !(refs.n && bsearch(name, refs.h, refs.n, sizeof(*refs.h), cmp_hex));
        if (!stale_tmp && !unref)
            continue;
        char path[PATH_MAX];
        store_pathf(path, sizeof(path), "%s/%s", dir, name);
        struct stat sb;
        if (!stat(path, &sb) && !unlink(path)) {
            freed += (uint64_t)sb.st_size;
            removed++;
        }
    }
    closedir(d);
    free(refs.h);
    if (removed)
        KF_LOG_I(STORE_MOD, "cache: evicted %u chunk files (%llu bytes)", removed,
                 (unsigned long long)freed);
}
