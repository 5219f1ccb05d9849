/* A model's health window: a ring of latencies and two counters. */
#include "worker/health.h"

#include <stdlib.h>
#include <string.h>

void health_init(struct health_window *h)
{
    memset(h, 0, sizeof(*h));
    pthread_mutex_init(&h->lock, NULL);
}

void health_fini(struct health_window *h)
{
    pthread_mutex_destroy(&h->lock);
}

void health_record(struct health_window *h, int64_t latency_us, bool error)
{
    pthread_mutex_lock(&h->lock);
    h->lat_us[h->lat_pos] = (uint32_t)(latency_us > UINT32_MAX ? UINT32_MAX
                                       : latency_us < 0        ? 0
                                                               : latency_us);
    h->lat_pos = (h->lat_pos + 1) % HEALTH_WINDOW;
    if (h->lat_n < HEALTH_WINDOW)
        h->lat_n++;
    h->requests++;
    h->errors += error;
    pthread_mutex_unlock(&h->lock);
}

struct health_counts health_counts(struct health_window *h)
{
    pthread_mutex_lock(&h->lock);
    struct health_counts c = {h->requests, h->errors};
    pthread_mutex_unlock(&h->lock);
    return c;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

static double p99_of(struct health_window *h, bool clear, size_t *count)
{
    uint32_t copy[HEALTH_WINDOW];
    pthread_mutex_lock(&h->lock);
    size_t n = h->lat_n;
    memcpy(copy, h->lat_us, n * sizeof(copy[0]));
    if (clear)
        h->lat_n = h->lat_pos = 0;
    pthread_mutex_unlock(&h->lock);
    *count = n;
    if (!n)
        return 0;
    qsort(copy, n, sizeof(copy[0]), cmp_u32);
    return copy[(size_t)((double)(n - 1) * 0.99)];
}

double health_p99(struct health_window *h, bool clear)
{
    size_t n;
    return p99_of(h, clear, &n);
}

double health_p99_n(struct health_window *h, size_t *n)
{
    return p99_of(h, false, n);
}
