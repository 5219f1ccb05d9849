/* The model store's lifecycle and its small file helpers. */
#include "worker/store_impl.h"

#include "common/kf_err.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

void store_pathf(char *out, size_t size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out, size, fmt, ap);
    va_end(ap);
}

uint8_t *store_blob_alloc(size_t n)
{
    /* Large blobs on transparent huge pages where the kernel allows it (THP
     * "madvise" mode): first-touching 256 MiB of 4 KiB pages costs ~190 ms of
     * page faults on a small VM, of 2 MiB pages ~35 ms. free() releases it. */
    const size_t huge = 2u << 20;
    if (n >= huge) {
        void *p = NULL;
        if (!posix_memalign(&p, huge, n)) {
#ifdef MADV_HUGEPAGE
            madvise(p, n, MADV_HUGEPAGE); /* advice only: failure is harmless */
#endif
            return p;
        }
        return NULL;
    }
    return malloc(n ? n : 1);
}

int store_mkdirs(const char *path)
{
    char buf[PATH_MAX];
    size_t n = strlen(path);
    if (!n || n >= sizeof(buf))
        return -ENAMETOOLONG;
    memcpy(buf, path, n + 1);
    for (char *p = buf + 1;; p++) {
        if (*p != '/' && *p)
            continue;
        char c = *p;
        *p = '\0';
        if (mkdir(buf, 0755) && errno != EEXIST)
            return -errno;
        *p = c;
        if (!c)
            break;
    }
    return 0;
}

model_store *store_new(const struct store_conf *c, char *errstr, size_t errstr_size)
{
    if (!c || !c->os || !c->cache_dir || !*c->cache_dir || !c->trusted) {
        kf_errf(errstr, errstr_size,
                "store: an object store, a cache_dir and trusted keys are "
                "required");
        return NULL;
    }
    model_store *st = calloc(1, sizeof(*st));
    if (!st || !(st->cache_dir = strdup(c->cache_dir))) {
        free(st);
        kf_errf(errstr, errstr_size, "store: out of memory");
        return NULL;
    }
    size_t n = strlen(st->cache_dir);
    while (n > 1 && st->cache_dir[n - 1] == '/')
        st->cache_dir[--n] = '\0';
    st->os = c->os;
    st->trusted = c->trusted;
    st->parallel = c->parallel ? c->parallel : STORE_DEFAULT_PARALLEL;
    if (st->parallel > STORE_MAX_PARALLEL)
        st->parallel = STORE_MAX_PARALLEL;
    st->part_size = c->part_size ? c->part_size : STORE_DEFAULT_PART;
    st->deadline_ms = c->deadline_ms > 0 ? c->deadline_ms : STORE_DEFAULT_DEADLINE_MS;
    st->keep = c->keep_versions ? c->keep_versions : STORE_DEFAULT_KEEP;
    st->max_blob = c->max_blob_bytes ? c->max_blob_bytes : STORE_DEFAULT_MAX_BLOB;
    pthread_mutex_init(&st->lock, NULL);

    char path[PATH_MAX];
    int err = 0;
    const char *sub[] = {"sha256", "versions"};
    for (size_t i = 0; i < 2 && !err; i++) {
        store_pathf(path, sizeof(path), "%s/%s", st->cache_dir, sub[i]);
        err = store_mkdirs(path);
    }
    if (err) {
        kf_errf(errstr, errstr_size, "store: cache_dir %s: %s", st->cache_dir, strerror(-err));
        store_free(st);
        return NULL;
    }
    return st;
}

void store_free(model_store *st)
{
    if (!st)
        return;
    pthread_mutex_destroy(&st->lock);
    free(st->pins);
    free(st->cache_dir);
    free(st);
}

void store_version_free(struct store_version *sv)
{
    if (!sv)
        return;
    manifest_free(sv->manifest);
    free(sv->blob);
    free(sv);
}

int store_pin(model_store *st, const struct manifest *m)
{
    int err = 0;
    pthread_mutex_lock(&st->lock);
    if (st->n_pins == st->cap_pins) {
        size_t cap = st->cap_pins ? 2 * st->cap_pins : 8;
        const struct manifest **p = realloc(st->pins, cap * sizeof(*p));
        if (!p)
            err = -ENOMEM;
        else {
            st->pins = p;
            st->cap_pins = cap;
        }
    }
    if (!err)
        st->pins[st->n_pins++] = m;
    pthread_mutex_unlock(&st->lock);
    return err;
}

void store_unpin(model_store *st, const struct manifest *m)
{
    pthread_mutex_lock(&st->lock);
    for (size_t i = 0; i < st->n_pins; i++) {
        if (st->pins[i] == m) {
            st->pins[i] = st->pins[--st->n_pins];
            break;
        }
    }
    pthread_mutex_unlock(&st->lock);
}

void store_tmp_path(model_store *st, const char *dir, const char *what, char *out, size_t size)
{
    unsigned n = atomic_fetch_add(&st->tmp_seq, 1);
    store_pathf(out, size, "%s/" STORE_TMP_PREFIX "%ld~%u~%s", dir, (long)getpid(), n, what);
}

int store_write_file(model_store *st, const char *dir, const char *name, const void *data,
                     size_t len, char *errstr, size_t errstr_size)
{
    char tmp[PATH_MAX], path[PATH_MAX];
    store_pathf(path, sizeof(path), "%s/%s", dir, name);
    store_tmp_path(st, dir, name, tmp, sizeof(tmp));
    int err = 0;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        err = -errno;
        goto out;
    }
    const uint8_t *p = data;
    while (len) {
        ssize_t w = write(fd, p, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            err = w < 0 ? -errno : -EIO;
            break;
        }
        p += w;
        len -= (size_t)w;
    }
    if (close(fd) && !err)
        err = -errno;
    if (!err && rename(tmp, path))
        err = -errno;
out:
    if (err) {
        kf_errf(errstr, errstr_size, "%s: %s", path, strerror(-err));
        unlink(tmp);
    }
    return err;
}

int store_read_file(const char *path, kf_buf *out, size_t max)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    int err = 0;
    struct stat sb;
    if (fstat(fd, &sb)) {
        err = -errno;
        goto out;
    }
    if ((uint64_t)sb.st_size > max) {
        err = -EFBIG;
        goto out;
    }
    size_t want = (size_t)sb.st_size;
    if ((err = kf_buf_reserve(out, want)))
        goto out;
    size_t start = out->len;
    while (out->len - start < want) {
        ssize_t r = read(fd, out->ptr + out->len, want - (out->len - start));
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            err = r < 0 ? -errno : -EIO; /* shrank under us */
            out->len = start;
            break;
        }
        out->len += (size_t)r;
    }
out:
    close(fd);
    return err;
}
