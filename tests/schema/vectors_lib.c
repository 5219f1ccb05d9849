#include "tests/schema/vectors_lib.h"

#include "schema/ctl_event.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int vl_read(const char *path, kf_buf *out)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return -errno;
    uint8_t buf[65536];
    size_t n;
    int err = 0;
    while (!err && (n = fread(buf, 1, sizeof(buf), f)) > 0)
        err = kf_buf_append(out, buf, n);
    if (ferror(f))
        err = -EIO;
    fclose(f);
    return err;
}

int vl_write(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return -errno;
    size_t w = len ? fwrite(data, 1, len, f) : 0;
    int err = fclose(f) || w != len ? -EIO : 0;
    return err;
}

static int cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

char **vl_list(const char *dir, const char *suffix, size_t *n)
{
    *n = 0;
    DIR *d = opendir(dir);
    if (!d)
        return NULL;
    char **names = NULL;
    size_t cap = 0;
    struct dirent *e;
    size_t sl = strlen(suffix);
    while ((e = readdir(d))) {
        size_t l = strlen(e->d_name);
        if (e->d_name[0] == '.' || l < sl || strcmp(e->d_name + l - sl, suffix))
            continue;
        if (*n == cap) {
            cap = cap ? cap * 2 : 16;
            char **p = realloc(names, cap * sizeof(*names));
            if (!p)
                abort();
            names = p;
        }
        names[(*n)++] = strdup(e->d_name);
    }
    closedir(d);
    if (*n)
        qsort(names, *n, sizeof(*names), cmp);
    return names;
}

void vl_names_free(char **names, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

void vl_test_key(struct crypto_ed25519_key *key)
{
    uint8_t seed[32];
    for (int i = 0; i < 32; i++)
        seed[i] = (uint8_t)i;
    if (crypto_ed25519_from_seed(key, seed))
        abort();
}

static void quiet(void *opaque, enum kf_log_level level, const char *line)
{
    (void)opaque;
    (void)level;
    (void)line;
}

fleet_state *vl_fold_log(const uint8_t *log, size_t len, size_t *n_records)
{
    struct fleet_opts o;
    fleet_opts_default(&o);
    o.log = quiet;
    fleet_state *fs = fleet_state_new(&o);
    if (!fs)
        abort();
    struct ctl_event *ev = malloc(sizeof(*ev));
    if (!ev)
        abort();
    size_t pos = 0, n = 0;
    int64_t offset = 0;
    while (pos < len) {
        const uint8_t *line = log + pos;
        const uint8_t *nl = memchr(line, '\n', len - pos);
        size_t ll = nl ? (size_t)(nl - line) : len - pos;
        pos += ll + (nl != NULL);
        if (ll < 4 || line[0] < '0' || line[0] > '4' || line[1] != ' ')
            continue;
        size_t i = 2;
        int64_t ts = 0;
        while (i < ll && line[i] >= '0' && line[i] <= '9' && ts < (INT64_MAX / 20))
            ts = ts * 10 + (line[i++] - '0');
        if (i >= ll || line[i] != ' ')
            continue;
        i++;
        char err[256];
        if (ctl_event_decode(line + i, ll - i, ev, err, sizeof(err)))
            continue;
        struct fleet_record rec = {.ev = ev,
                                   .offset = offset++,
                                   .ts_ms = ts,
                                   .sig = (enum ctl_sig_verdict)(line[0] - '0')};
        if (fleet_state_feed(fs, &rec, NULL) == -ENOMEM)
            abort();
        n++;
    }
    free(ev);
    if (n_records)
        *n_records = n;
    return fs;
}
