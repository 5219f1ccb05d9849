#include "common/objstore.h"

#include "common/kf_err.h"
#include "common/kf_log.h"
#include "common/s3io.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct objstore {
    char *url;
    s3io *s3;  /* s3:// */
    char *dir; /* file:// */
    _Atomic uint64_t puts, gets, heads;
};

/* Keys come from manifests and events; a key that climbs out of the store's
 * directory ("..", absolute) is refused rather than followed. */
static bool key_safe(const char *key)
{
    if (!key || !*key || key[0] == '/')
        return false;
    for (const char *p = key; *p;) {
        const char *slash = strchr(p, '/');
        size_t n = slash ? (size_t)(slash - p) : strlen(p);
        if (n == 0 || (n == 2 && !strncmp(p, "..", 2)) || (n == 1 && p[0] == '.'))
            return false;
        p = slash ? slash + 1 : p + n;
    }
    return true;
}

static int path_of(const objstore *os, const char *key, char *out, size_t size, char *errstr,
                   size_t errstr_size)
{
    if (!key_safe(key)) {
        kf_errf(errstr, errstr_size, "bad object key '%s'", key ? key : "");
        return -EINVAL;
    }
    int n = snprintf(out, size, "%s/%s", os->dir, key);
    if (n < 0 || (size_t)n >= size) {
        kf_errf(errstr, errstr_size, "object key too long");
        return -ENAMETOOLONG;
    }
    return 0;
}

static int mkdirs(char *path) /* creates every parent of path */
{
    for (char *p = path + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        int rc = mkdir(path, 0755);
        *p = '/';
        if (rc && errno != EEXIST)
            return -errno;
    }
    return 0;
}

objstore *objstore_new(const char *url, const struct objstore_s3_opts *s3, char *errstr,
                       size_t errstr_size)
{
    objstore *os = calloc(1, sizeof(*os));
    if (!os || !(os->url = strdup(url ? url : ""))) {
        free(os);
        kf_errf(errstr, errstr_size, "out of memory");
        return NULL;
    }
    if (!strncmp(url, "s3://", 5)) {
        const char *bucket = url + 5;
        if (!*bucket || strchr(bucket, '/')) {
            kf_errf(errstr, errstr_size, "store URL '%s': want s3://BUCKET", url);
            goto fail;
        }
        if (!s3 || !s3->endpoint || !s3->access_key || !s3->secret_key) {
            kf_errf(errstr, errstr_size, "store %s needs an S3 endpoint, access key and secret key",
                    url);
            goto fail;
        }
        struct s3io_opts o = {
            .endpoint = s3->endpoint,
            .bucket = bucket,
            .access_key = s3->access_key,
            .secret_key = s3->secret_key,
            .region = s3->region,
            .signature = s3->signature_v2 ? S3IO_SIGV2 : S3IO_SIGV4,
            .session_token = s3->session_token,
            .ca_file = s3->ca_file,
            .https = s3->https,
            .virtual_host = s3->virtual_host,
            .timeout_ms = s3->timeout_ms,
            .max_parallel = s3->max_parallel,
        };
        if (s3io_global_init()) {
            kf_errf(errstr, errstr_size, "libs3 initialisation failed");
            goto fail;
        }
        os->s3 = s3io_new(&o, errstr, errstr_size);
        if (!os->s3)
            goto fail;
        /* Which signature a store gets is the first thing to know when it refuses. */
        KF_LOG_I("objstore", "%s at %s://%s, %s, %s addressing", url, s3->https ? "https" : "http",
                 s3->endpoint, s3io_signing(os->s3), s3->virtual_host ? "virtual-host" : "path");
        return os;
    }
    if (!strncmp(url, "file://", 7) && url[7] == '/') {
        os->dir = strdup(url + 7);
        if (!os->dir)
            goto fail;
        size_t n = strlen(os->dir);
        while (n > 1 && os->dir[n - 1] == '/')
            os->dir[--n] = '\0';
        char probe[PATH_MAX];
        snprintf(probe, sizeof(probe), "%s/", os->dir);
        int err = mkdirs(probe);
        if (err) {
            kf_errf(errstr, errstr_size, "store %s: %s", url, strerror(-err));
            goto fail;
        }
        return os;
    }
    kf_errf(errstr, errstr_size, "store URL '%s': want s3://BUCKET or file:///DIR", url);
fail:
    objstore_free(os);
    return NULL;
}

void objstore_free(objstore *os)
{
    if (!os)
        return;
    s3io_free(os->s3);
    free(os->dir);
    free(os->url);
    free(os);
}

const char *objstore_url(const objstore *os)
{
    return os->url;
}

struct s3io *objstore_s3(objstore *os)
{
    return os->s3;
}

static int file_err(const char *path, char *errstr, size_t errstr_size)
{
    int err = -errno;
    kf_errf(errstr, errstr_size, "%s: %s", path, strerror(errno));
    return err;
}

int objstore_put(objstore *os, const char *key, const void *data, size_t len, char *errstr,
                 size_t errstr_size)
{
    atomic_fetch_add(&os->puts, 1);
    if (os->s3)
        return s3io_put(os->s3, key, data, len, 0, errstr, errstr_size);
    char path[PATH_MAX], tmp[PATH_MAX + 32];
    int err = path_of(os, key, path, sizeof(path), errstr, errstr_size);
    if (err)
        return err;
    if ((err = mkdirs(path))) {
        kf_errf(errstr, errstr_size, "%s: %s", path, strerror(-err));
        return err;
    }
    snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, (int)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0)
        return file_err(tmp, errstr, errstr_size);
    const uint8_t *p = data;
    size_t left = len;
    while (left) {
        ssize_t n = write(fd, p, left);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            err = file_err(tmp, errstr, errstr_size);
            close(fd);
            unlink(tmp);
            return err ? err : -EIO;
        }
        p += n;
        left -= (size_t)n;
    }
    if (fsync(fd) || close(fd) || rename(tmp, path)) {
        err = file_err(tmp, errstr, errstr_size);
        unlink(tmp);
        return err;
    }
    return 0;
}

int objstore_head(objstore *os, const char *key, uint64_t *size, char *errstr, size_t errstr_size)
{
    atomic_fetch_add(&os->heads, 1);
    if (os->s3)
        return s3io_head(os->s3, key, size, 0, errstr, errstr_size);
    char path[PATH_MAX];
    int err = path_of(os, key, path, sizeof(path), errstr, errstr_size);
    if (err)
        return err;
    struct stat st;
    if (stat(path, &st))
        return file_err(path, errstr, errstr_size);
    if (size)
        *size = (uint64_t)st.st_size;
    return 0;
}

int objstore_head_etag(objstore *os, const char *key, uint64_t *size, char etag[OBJSTORE_ETAG_CAP],
                       char *errstr, size_t errstr_size)
{
    _Static_assert(OBJSTORE_ETAG_CAP == S3IO_ETAG_CAP, "one ETag size");
    etag[0] = '\0';
    if (!os->s3)
        return objstore_head(os, key, size, errstr, errstr_size);
    atomic_fetch_add(&os->heads, 1);
    return s3io_head_etag(os->s3, key, size, etag, 0, errstr, errstr_size);
}

int objstore_get(objstore *os, const char *key, kf_buf *out, size_t max_size, char *errstr,
                 size_t errstr_size)
{
    atomic_fetch_add(&os->gets, 1);
    if (os->s3)
        return s3io_get(os->s3, key, out, max_size, 0, errstr, errstr_size);
    char path[PATH_MAX];
    int err = path_of(os, key, path, sizeof(path), errstr, errstr_size);
    if (err)
        return err;
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return file_err(path, errstr, errstr_size);
    struct stat st;
    if (fstat(fd, &st)) {
        err = file_err(path, errstr, errstr_size);
        close(fd);
        return err;
    }
    if (max_size && (uint64_t)st.st_size > max_size) {
        close(fd);
        kf_errf(errstr, errstr_size, "%s: %lld bytes, more than the %zu allowed", key,
                (long long)st.st_size, max_size);
        return -EFBIG;
    }
    size_t old_len = out->len;
    if ((err = kf_buf_reserve(out, (size_t)st.st_size))) {
        close(fd);
        return err;
    }
    for (;;) {
        if (out->len == out->cap && (err = kf_buf_reserve(out, 4096)))
            break;
        ssize_t n = read(fd, out->ptr + out->len, out->cap - out->len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            err = file_err(path, errstr, errstr_size);
            break;
        }
        if (n == 0)
            break;
        out->len += (size_t)n;
    }
    close(fd);
    if (err)
        out->len = old_len;
    return err;
}

int objstore_get_range(objstore *os, const char *key, uint64_t offset, size_t len, void *dst,
                       char *errstr, size_t errstr_size)
{
    atomic_fetch_add(&os->gets, 1);
    if (os->s3)
        return s3io_get_range(os->s3, key, offset, len, dst, 0, errstr, errstr_size);
    char path[PATH_MAX];
    int err = path_of(os, key, path, sizeof(path), errstr, errstr_size);
    if (err)
        return err;
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return file_err(path, errstr, errstr_size);
    size_t done = 0;
    while (done < len) {
        ssize_t n = pread(fd, (uint8_t *)dst + done, len - done, (off_t)(offset + done));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            err = file_err(path, errstr, errstr_size);
            break;
        }
        if (n == 0) {
            kf_errf(errstr, errstr_size, "%s: shorter than %llu bytes", key,
                    (unsigned long long)(offset + len));
            err = -ERANGE;
            break;
        }
        done += (size_t)n;
    }
    close(fd);
    return err;
}

int objstore_delete(objstore *os, const char *key, char *errstr, size_t errstr_size)
{
    if (os->s3)
        return s3io_delete(os->s3, key, 0, errstr, errstr_size);
    char path[PATH_MAX];
    int err = path_of(os, key, path, sizeof(path), errstr, errstr_size);
    if (err)
        return err;
    if (unlink(path) && errno != ENOENT)
        return file_err(path, errstr, errstr_size);
    return 0;
}

struct list_ctx {
    int (*cb)(void *opaque, const char *key, uint64_t size);
    void *opaque;
};

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Depth-first over one directory, children in name order: yields keys in
 * the same order S3 lists them (byte order of the full key) for our layout. */
static int list_dir(const char *root, const char *rel, const char *prefix, struct list_ctx *lc,
                    char *errstr, size_t errstr_size)
{
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/%s", root, rel);
    DIR *d = opendir(path);
    if (!d)
        return errno == ENOENT ? 0 : file_err(path, errstr, errstr_size);
    char **names = NULL;
    size_t n = 0, cap = 0;
    int err = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.' || strstr(e->d_name, ".tmp."))
            continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 16;
            char **nn = realloc(names, cap * sizeof(*nn));
            if (!nn) {
                err = -ENOMEM;
                break;
            }
            names = nn;
        }
        if (!(names[n] = strdup(e->d_name))) {
            err = -ENOMEM;
            break;
        }
        n++;
    }
    closedir(d);
    if (!err && n) /* qsort's base may not be NULL, even for 0 elements */
        qsort(names, n, sizeof(*names), cmp_str);
    for (size_t i = 0; i < n && !err; i++) {
        char key[PATH_MAX], full[PATH_MAX * 2];
        snprintf(key, sizeof(key), "%s%s%s", rel, *rel ? "/" : "", names[i]);
        snprintf(full, sizeof(full), "%s/%s", root, key);
        struct stat st;
        if (stat(full, &st))
            continue;
        size_t plen = strlen(prefix);
        if (S_ISDIR(st.st_mode)) {
            /* Descend only where the prefix can still match. */
            size_t klen = strlen(key);
            if (!strncmp(key, prefix, klen < plen ? klen : plen))
                err = list_dir(root, key, prefix, lc, errstr, errstr_size);
        } else if (!strncmp(key, prefix, plen)) {
            err = lc->cb(lc->opaque, key, (uint64_t)st.st_size);
        }
    }
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    return err;
}

int objstore_list(objstore *os, const char *prefix,
                  int (*cb)(void *opaque, const char *key, uint64_t size), void *opaque,
                  char *errstr, size_t errstr_size)
{
    if (os->s3)
        return s3io_list(os->s3, prefix, cb, opaque, 0, errstr, errstr_size);
    struct list_ctx lc = {cb, opaque};
    return list_dir(os->dir, "", prefix ? prefix : "", &lc, errstr, errstr_size);
}

void objstore_counts(objstore *os, struct objstore_counts *out)
{
    if (os->s3) {
        /* s3io counts every request, batch ones and retries included. */
        struct s3io_stats st;
        s3io_stats_get(os->s3, &st);
        out->puts = st.put_requests;
        out->gets = st.get_requests;
        out->heads = st.head_requests;
        return;
    }
    out->puts = atomic_load(&os->puts);
    out->gets = atomic_load(&os->gets);
    out->heads = atomic_load(&os->heads);
}
