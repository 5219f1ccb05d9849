#include "worker/metrics.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A double updated from several threads: C11 has no atomic double add, so
 * the bits live in an atomic uint64 and additions are a CAS loop. */
typedef struct atomic_f64 {
    _Atomic uint64_t bits;
} atomic_f64;

static double f64_load(const atomic_f64 *a)
{
    uint64_t b = atomic_load_explicit(&((atomic_f64 *)a)->bits, memory_order_relaxed);
    double d;
    memcpy(&d, &b, sizeof(d));
    return d;
}

static void f64_store(atomic_f64 *a, double d)
{
    uint64_t b;
    memcpy(&b, &d, sizeof(b));
    atomic_store_explicit(&a->bits, b, memory_order_relaxed);
}

static void f64_add(atomic_f64 *a, double v)
{
    uint64_t old = atomic_load_explicit(&a->bits, memory_order_relaxed), next;
    do {
        double d;
        memcpy(&d, &old, sizeof(d));
        d += v;
        memcpy(&next, &d, sizeof(next));
    } while (!atomic_compare_exchange_weak_explicit(&a->bits, &old, next, memory_order_relaxed,
                                                    memory_order_relaxed));
}

struct metric_series {
    metric_family *fam;
    char *label_values[METRIC_MAX_LABELS];
    atomic_f64 value; /* counter/gauge value, histogram sum */
    _Atomic uint64_t count;
    _Atomic uint64_t buckets[METRIC_MAX_BUCKETS];
    metric_series *next;
};

struct metric_family {
    const char *name, *help;
    enum metric_type type;
    const char *label_names[METRIC_MAX_LABELS];
    size_t nlabels;
    double bounds[METRIC_MAX_BUCKETS];
    size_t nbuckets;
    metric_series *series;
    metrics *m;
    metric_family *next;
};

struct metrics {
    pthread_mutex_t lock;
    metric_family *families, *last;
};

metrics *metrics_new(void)
{
    metrics *m = calloc(1, sizeof(*m));
    if (m)
        pthread_mutex_init(&m->lock, NULL);
    return m;
}

void metrics_free(metrics *m)
{
    if (!m)
        return;
    for (metric_family *f = m->families, *fn; f; f = fn) {
        fn = f->next;
        for (metric_series *s = f->series, *sn; s; s = sn) {
            sn = s->next;
            for (size_t i = 0; i < f->nlabels; i++)
                free(s->label_values[i]);
            free(s);
        }
        free(f);
    }
    pthread_mutex_destroy(&m->lock);
    free(m);
}

metric_family *metrics_family(metrics *m, const char *name, const char *help, enum metric_type type,
                              const char *const *label_names, const double *buckets,
                              size_t nbuckets)
{
    if (nbuckets > METRIC_MAX_BUCKETS || (type == METRIC_HISTOGRAM && !nbuckets))
        return NULL;
    metric_family *f = calloc(1, sizeof(*f));
    if (!f)
        return NULL;
    f->name = name;
    f->help = help;
    f->type = type;
    f->m = m;
    for (; label_names && label_names[f->nlabels]; f->nlabels++) {
        if (f->nlabels == METRIC_MAX_LABELS) {
            free(f);
            return NULL;
        }
        f->label_names[f->nlabels] = label_names[f->nlabels];
    }
    if (type == METRIC_HISTOGRAM) {
        memcpy(f->bounds, buckets, nbuckets * sizeof(*buckets));
        f->nbuckets = nbuckets;
    }
    pthread_mutex_lock(&m->lock);
    if (m->last)
        m->last->next = f;
    else
        m->families = f;
    m->last = f;
    pthread_mutex_unlock(&m->lock);
    return f;
}

static bool series_matches(const metric_series *s, const char *const *values)
{
    for (size_t i = 0; i < s->fam->nlabels; i++)
        if (strcmp(s->label_values[i], values[i]))
            return false;
    return true;
}

metric_series *metrics_series(metric_family *fam, const char *const *label_values)
{
    metrics *m = fam->m;
    pthread_mutex_lock(&m->lock);
    metric_series *s = fam->series;
    while (s && !series_matches(s, label_values))
        s = s->next;
    if (!s) {
        s = calloc(1, sizeof(*s));
        if (s) {
            s->fam = fam;
            for (size_t i = 0; i < fam->nlabels; i++) {
                s->label_values[i] = strdup(label_values[i] ? label_values[i] : "");
                if (!s->label_values[i]) {
                    for (size_t j = 0; j < i; j++)
                        free(s->label_values[j]);
                    free(s);
                    s = NULL;
                    break;
                }
            }
        }
        if (s) {
            s->next = fam->series;
            fam->series = s;
        }
    }
    pthread_mutex_unlock(&m->lock);
    return s;
}

int metrics_series_remove(metric_family *fam, const char *const *label_values)
{
    metrics *m = fam->m;
    metric_series *gone = NULL;
    pthread_mutex_lock(&m->lock);
    for (metric_series **pp = &fam->series; *pp; pp = &(*pp)->next)
        if (series_matches(*pp, label_values)) {
            gone = *pp;
            *pp = gone->next;
            break;
        }
    pthread_mutex_unlock(&m->lock);
    if (!gone)
        return -ENOENT;
    for (size_t i = 0; i < fam->nlabels; i++)
        free(gone->label_values[i]);
    free(gone);
    return 0;
}

void metric_inc(metric_series *s, double v)
{
    if (s)
        f64_add(&s->value, v);
}

void metric_set(metric_series *s, double v)
{
    if (s)
        f64_store(&s->value, v);
}

void metric_observe(metric_series *s, double v)
{
    if (!s)
        return;
    const metric_family *f = s->fam;
    /* Buckets are stored non-cumulative and summed at render time, so an
     * observation touches one counter. */
    size_t i = 0;
    while (i < f->nbuckets && v > f->bounds[i])
        i++;
    if (i < f->nbuckets)
        atomic_fetch_add_explicit(&s->buckets[i], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&s->count, 1, memory_order_relaxed);
    f64_add(&s->value, v);
}

double metric_value(const metric_series *s)
{
    return s ? f64_load(&s->value) : 0.0;
}

/* Label values may hold anything; the format wants \\, \" and \n escaped. */
static int append_escaped(kf_buf *out, const char *v)
{
    int err = 0;
    for (; *v && !err; v++) {
        if (*v == '\\')
            err = kf_buf_append(out, "\\\\", 2);
        else if (*v == '"')
            err = kf_buf_append(out, "\\\"", 2);
        else if (*v == '\n')
            err = kf_buf_append(out, "\\n", 2);
        else
            err = kf_buf_append(out, v, 1);
    }
    return err;
}

static int append_labels(kf_buf *out, const metric_series *s, const char *extra_name,
                         const char *extra_value)
{
    const metric_family *f = s->fam;
    if (!f->nlabels && !extra_name)
        return 0;
    int err = kf_buf_append(out, "{", 1);
    for (size_t i = 0; i < f->nlabels && !err; i++) {
        err = kf_buf_appendf(out, "%s%s=\"", i ? "," : "", f->label_names[i]);
        err = err ? err : append_escaped(out, s->label_values[i]);
        err = err ? err : kf_buf_append(out, "\"", 1);
    }
    if (extra_name && !err)
        err = kf_buf_appendf(out, "%s%s=\"%s\"", f->nlabels ? "," : "", extra_name, extra_value);
    return err ? err : kf_buf_append(out, "}", 1);
}

/* The shortest decimal that reads back as @p v ("0.0005", not
 * "0.00050000000000000001"): %.15g when it round-trips, else %.17g. */
static void format_number(char *buf, size_t size, double v)
{
    snprintf(buf, size, "%.15g", v);
    if (strtod(buf, NULL) != v)
        snprintf(buf, size, "%.17g", v);
}

static int append_number(kf_buf *out, double v)
{
    if (isinf(v))
        return kf_buf_appendf(out, v > 0 ? "+Inf" : "-Inf");
    if (isnan(v))
        return kf_buf_appendf(out, "NaN");
    char buf[40];
    format_number(buf, sizeof(buf), v);
    return kf_buf_appendf(out, "%s", buf);
}

static int render_series(kf_buf *out, const metric_series *s)
{
    const metric_family *f = s->fam;
    int err = 0;
    if (f->type != METRIC_HISTOGRAM) {
        err = kf_buf_appendf(out, "%s", f->name);
        err = err ? err : append_labels(out, s, NULL, NULL);
        err = err ? err : kf_buf_append(out, " ", 1);
        err = err ? err : append_number(out, f64_load(&s->value));
        return err ? err : kf_buf_append(out, "\n", 1);
    }
    uint64_t cumulative = 0;
    for (size_t i = 0; i <= f->nbuckets && !err; i++) {
        char le[64];
        if (i < f->nbuckets) {
            cumulative +=
                atomic_load_explicit(&((metric_series *)s)->buckets[i], memory_order_relaxed);
            format_number(le, sizeof(le), f->bounds[i]);
        } else {
            /* +Inf equals the count; read it last so it is never below a bucket. */
            cumulative = atomic_load_explicit(&((metric_series *)s)->count, memory_order_relaxed);
            snprintf(le, sizeof(le), "+Inf");
        }
        err = kf_buf_appendf(out, "%s_bucket", f->name);
        err = err ? err : append_labels(out, s, "le", le);
        err = err ? err : kf_buf_appendf(out, " %llu\n", (unsigned long long)cumulative);
    }
    err = err ? err : kf_buf_appendf(out, "%s_sum", f->name);
    err = err ? err : append_labels(out, s, NULL, NULL);
    err = err ? err : kf_buf_append(out, " ", 1);
    err = err ? err : append_number(out, f64_load(&s->value));
    err = err ? err : kf_buf_appendf(out, "\n%s_count", f->name);
    err = err ? err : append_labels(out, s, NULL, NULL);
    return err ? err : kf_buf_appendf(out, " %llu\n", (unsigned long long)cumulative);
}

int metrics_render(metrics *m, kf_buf *out)
{
    static const char *const type_names[] = {"counter", "gauge", "histogram"};
    int err = 0;
    pthread_mutex_lock(&m->lock);
    for (const metric_family *f = m->families; f && !err; f = f->next) {
        err = kf_buf_appendf(out, "# HELP %s %s\n# TYPE %s %s\n", f->name, f->help, f->name,
                             type_names[f->type]);
        for (const metric_series *s = f->series; s && !err; s = s->next)
            err = render_series(out, s);
    }
    pthread_mutex_unlock(&m->lock);
    return err;
}
