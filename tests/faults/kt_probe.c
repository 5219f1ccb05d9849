/* Probes of workers, topics and the group for the fault rows (kt_probe.h). */
#include "tests/faults/kt_probe.h"

#include "common/kf_clock.h"

#include <ctype.h>
#include <inttypes.h>
#include <math.h>

int kt_probe_partitions(struct kt_env *e, int i)
{
    static char body[65536];
    int n = -1;
    if (e->workers[i].pid > 0 &&
        kt_http_get(e->workers[i].port, "/status", body, sizeof(body)) == 200) {
        const char *p = strstr(body, "\"assigned_partitions\":");
        if (p)
            n = atoi(p + strlen("\"assigned_partitions\":"));
    }
    return n;
}

int kt_probe_owned(struct kt_env *e, int i)
{
    char err[256], want[16];
    snprintf(want, sizeof(want), "w%d", i);
    struct kio_opts o = {.brokers = e->brokers, .client_id = "kt-probe"};
    kio_admin *ka = kio_admin_new(&o, err, sizeof(err));
    struct kio_group *g = NULL;
    int n = -1;
    if (ka && !kio_admin_group_describe(ka, e->group, &g, 5000, err, sizeof(err))) {
        n = 0;
        for (size_t m = 0; m < g->member_count; m++)
            if (!strcmp(g->members[m].client_id, want))
                n += (int)g->members[m].assignment->count;
    }
    kio_group_free(g);
    kio_admin_free(ka);
    return n;
}

long kt_probe_hwm_kib(pid_t pid)
{
    char path[64], line[256];
    snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    long kib = -1;
    while (f && fgets(line, sizeof(line), f))
        if (!strncmp(line, "VmHWM:", 6))
            kib = atol(line + 6);
    if (f)
        fclose(f);
    return kib;
}

/* The sample lines of @p text, one at a time: name, the label text between
 * the braces (empty when none) and the value. */
static const char *next_sample(const char *p, const char **name, size_t *name_len,
                               const char **labels, size_t *labels_len, double *value)
{
    while (*p) {
        const char *eol = strchr(p, '\n');
        size_t len = eol ? (size_t)(eol - p) : strlen(p);
        const char *next = p + len + (eol ? 1 : 0);
        if (len && p[0] != '#') {
            *name = p;
            *name_len = strcspn(p, "{ ");
            *labels = "";
            *labels_len = 0;
            const char *v = p + *name_len;
            if (*v == '{') {
                const char *close = v;
                while (close < p + len && *close != '}')
                    close += *close == '\\' ? 2 : 1;
                *labels = v + 1;
                *labels_len = (size_t)(close - v - 1);
                v = close + 1;
            }
            *value = strtod(v, NULL);
            return next;
        }
        p = next;
    }
    return NULL;
}

double kt_probe_metric(const char *text, const char *name, const char *label)
{
    double sum = 0, v;
    const char *n, *lb;
    size_t nl, ll;
    for (const char *p = text; (p = next_sample(p, &n, &nl, &lb, &ll, &v));) {
        if (nl != strlen(name) || memcmp(n, name, nl))
            continue;
        if (label && !memmem(lb, ll, label, strlen(label)))
            continue;
        sum += v;
    }
    return sum;
}

int kt_probe_series(const char *text)
{
    int count = 0;
    double v;
    const char *n, *lb;
    size_t nl, ll;
    for (const char *p = text; (p = next_sample(p, &n, &nl, &lb, &ll, &v));)
        count++;
    return count;
}

static bool name_ok(const char *s, size_t len, bool colon)
{
    if (!len || isdigit((unsigned char)s[0]))
        return false;
    for (size_t i = 0; i < len; i++)
        if (!isalnum((unsigned char)s[i]) && s[i] != '_' && !(colon && s[i] == ':'))
            return false;
    return true;
}

static bool value_ok(const char *s)
{
    if (!strcmp(s, "+Inf") || !strcmp(s, "-Inf") || !strcmp(s, "NaN"))
        return true;
    char *end;
    strtod(s, &end);
    return end != s && (*end == '\0' || *end == ' ');
}

/* One sample line of the 0.0.4 text format: name{l="v",...} value [ts]. */
static bool sample_ok(const char *line, size_t len, char *why, size_t why_size)
{
    size_t n = strcspn(line, "{ ");
    if (n > len || !name_ok(line, n, true)) {
        snprintf(why, why_size, "bad metric name: %.*s", (int)len, line);
        return false;
    }
    const char *p = line + n, *end = line + len;
    if (*p == '{') {
        p++;
        while (p < end && *p != '}') {
            size_t ln = strcspn(p, "=");
            if (!name_ok(p, ln, false) || p[ln] != '=' || p[ln + 1] != '"') {
                snprintf(why, why_size, "bad label: %.*s", (int)len, line);
                return false;
            }
            p += ln + 2;
            while (p < end && *p != '"') {
                if (*p == '\\' && (p[1] != '\\' && p[1] != '"' && p[1] != 'n')) {
                    snprintf(why, why_size, "bad escape: %.*s", (int)len, line);
                    return false;
                }
                p += *p == '\\' ? 2 : 1;
            }
            if (p >= end) {
                snprintf(why, why_size, "unterminated label value: %.*s", (int)len, line);
                return false;
            }
            p++;
            if (*p == ',')
                p++;
        }
        if (p >= end) {
            snprintf(why, why_size, "unterminated labels: %.*s", (int)len, line);
            return false;
        }
        p++;
    }
    char value[64];
    if (*p != ' ' || (size_t)(end - p) >= sizeof(value)) {
        snprintf(why, why_size, "no value: %.*s", (int)len, line);
        return false;
    }
    snprintf(value, sizeof(value), "%.*s", (int)(end - p - 1), p + 1);
    if (!value_ok(value)) {
        snprintf(why, why_size, "bad value: %.*s", (int)len, line);
        return false;
    }
    return true;
}

bool kt_probe_metrics_valid(const char *text, char *why, size_t why_size)
{
    for (const char *p = text; *p;) {
        const char *eol = strchr(p, '\n');
        if (!eol) {
            snprintf(why, why_size, "the last line has no newline");
            return false;
        }
        size_t len = (size_t)(eol - p);
        if (len && p[0] != '#' && !sample_ok(p, len, why, why_size))
            return false;
        if (len > 7 && !strncmp(p, "# TYPE ", 7)) {
            const char *t = memchr(p + 7, ' ', len - 7);
            static const char *types[] = {"counter", "gauge", "histogram", "summary", "untyped"};
            bool known = false;
            for (size_t k = 0; t && k < 5; k++)
                known |= (size_t)(eol - t - 1) == strlen(types[k]) &&
                         !memcmp(t + 1, types[k], strlen(types[k]));
            if (!known) {
                snprintf(why, why_size, "bad TYPE line: %.*s", (int)len, p);
                return false;
            }
        }
        p = eol + 1;
    }
    if (system("command -v promtool >/dev/null 2>&1"))
        return true;
    char path[] = "/tmp/kt-metrics-XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0)
        return true;
    bool ok = write(fd, text, strlen(text)) == (ssize_t)strlen(text);
    close(fd);
    char cmd[256];
    snprintf(cmd, sizeof(cmd), "promtool check metrics < %s >/dev/null 2>&1", path);
    if (ok && system(cmd)) {
        snprintf(why, why_size, "promtool check metrics rejects it (kept in %s)", path);
        return false;
    }
    unlink(path);
    return true;
}

int kt_probe_topic_scan(struct kt_env *e, const char *topic, int (*cb)(void *, const kio_msg *),
                        void *opaque, int timeout_s)
{
    char err[256];
    struct kio_opts o = {.brokers = e->brokers, .client_id = "kt-probe"};
    kio_admin *ka = kio_admin_new(&o, err, sizeof(err));
    KT_ASSERT_MSG(ka, "%s", err);
    int parts = kio_admin_topic_partitions(ka, topic, 10000, err, sizeof(err));
    KT_ASSERT_MSG(parts > 0, "%s: %s", topic, err);
    int64_t *high = calloc((size_t)parts, sizeof(int64_t)), *pos = calloc((size_t)parts, 8);
    KT_ASSERT(high && pos);
    int left = 0;
    for (int p = 0; p < parts; p++) {
        int64_t low;
        KT_ASSERT(!kio_admin_watermarks(ka, topic, p, &low, &high[p], 10000));
        pos[p] = low;
        left += pos[p] < high[p];
    }
    kio_admin_free(ka);
    int n = 0;
    if (left) {
        kio_consumer *kc = kt_env_reader(e, topic, parts);
        int64_t deadline = kf_clock_mono_us() + (int64_t)timeout_s * 1000000;
        while (left && kf_clock_mono_us() < deadline) {
            kio_msg *m = NULL;
            kio_consumer_poll(kc, 100, &m);
            if (!m)
                continue;
            int p = m->partition, stop = 0;
            if (p >= 0 && p < parts && m->offset < high[p]) {
                n++;
                stop = cb(opaque, m);
                pos[p] = m->offset + 1;
                left -= pos[p] >= high[p];
            }
            kio_msg_free(m);
            if (stop)
                break;
        }
        kio_consumer_free(kc);
    }
    free(high);
    free(pos);
    return n;
}

void kt_probe_header(const kio_msg *m, const char *name, char *out, size_t size)
{
    kf_bytes v;
    if (kio_msg_header(m, name, &v))
        snprintf(out, size, "%s", "");
    else
        snprintf(out, size, "%.*s", (int)v.len, (const char *)v.ptr);
}

int64_t kt_probe_uncommitted(struct kt_env *e)
{
    char err[256];
    struct kio_opts o = {.brokers = e->brokers, .client_id = "kt-probe"};
    kio_admin *ka = kio_admin_new(&o, err, sizeof(err));
    struct kio_partition_lag *lag = NULL;
    size_t count = 0;
    int64_t sum = -1;
    if (ka && !kio_admin_group_lag(ka, e->group, e->t_req, &lag, &count, 10000, err, sizeof(err))) {
        sum = 0;
        for (size_t i = 0; i < count; i++)
            sum += lag[i].lag;
    }
    free(lag);
    kio_admin_free(ka);
    return sum;
}

int64_t kt_probe_committed(struct kt_env *e, int32_t p)
{
    char err[256];
    struct kio_opts o = {.brokers = e->brokers, .client_id = "kt-probe"};
    kio_admin *ka = kio_admin_new(&o, err, sizeof(err));
    kio_tplist *l = NULL;
    int64_t off = -1;
    if (ka && !kio_admin_group_offsets(ka, e->group, e->t_req, &l, 10000, err, sizeof(err))) {
        struct kio_tp *tp = kio_tplist_find(l, e->t_req, p);
        off = tp && tp->offset >= 0 ? tp->offset : -1;
    }
    kio_tplist_free(l);
    kio_admin_free(ka);
    return off;
}

struct dlq_scan {
    struct kt_dlq_rec *recs;
    size_t n, cap;
};

static int dlq_cb(void *opaque, const kio_msg *m)
{
    struct dlq_scan *d = opaque;
    if (d->n == d->cap) {
        d->cap = d->cap ? 2 * d->cap : 256;
        d->recs = realloc(d->recs, d->cap * sizeof(*d->recs));
        KT_ASSERT(d->recs);
    }
    struct kt_dlq_rec *r = &d->recs[d->n++];
    char num[32];
    snprintf(r->key, sizeof(r->key), "%.*s", (int)m->key.len, (const char *)m->key.ptr);
    kt_probe_header(m, "kfleet-error-code", r->code, sizeof(r->code));
    kt_probe_header(m, "kfleet-error", r->reason, sizeof(r->reason));
    kt_probe_header(m, "kfleet-worker", r->worker, sizeof(r->worker));
    kt_probe_header(m, "kfleet-source-partition", num, sizeof(num));
    r->partition = num[0] ? atoi(num) : -1;
    kt_probe_header(m, "kfleet-source-offset", num, sizeof(num));
    r->offset = num[0] ? strtoll(num, NULL, 10) : -1;
    return 0;
}

size_t kt_probe_dlq(struct kt_env *e, struct kt_dlq_rec **out)
{
    struct dlq_scan d = {0};
    kt_probe_topic_scan(e, e->t_dlq, dlq_cb, &d, 60);
    *out = d.recs;
    return d.n;
}

const struct kt_dlq_rec *kt_probe_dlq_find(const struct kt_dlq_rec *recs, size_t n, const char *key)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(recs[i].key, key))
            return &recs[i];
    return NULL;
}
