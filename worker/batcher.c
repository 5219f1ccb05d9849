#include "worker/batcher.h"

#include "common/kf_clock.h"
#include "common/kf_log.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct batcher {
    model_slot *slot;
    struct batcher_conf conf;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t wake, idle;
    struct batch_item *head, *tail;
    struct batch_item *expired; /* taken off the queue unrun: deadline passed */
    size_t queued_rows, running_rows;
    bool stopping, running, last_batch_full;
    /* Batch buffers, grown when a version with wider rows arrives; not on the
     * steady-state request path. */
    float *in, *out;
    size_t in_cap, out_cap;
    struct batch_item **items;
};

static int ensure(float **buf, size_t *cap, size_t n)
{
    if (n <= *cap)
        return 0;
    float *p = realloc(*buf, n * sizeof(float));
    if (!p)
        return -ENOMEM;
    *buf = p;
    *cap = n;
    return 0;
}

static bool same_pin(const struct batch_item *a, const struct batch_item *b)
{
    if (!a->pin_version || !b->pin_version)
        return a->pin_version == b->pin_version;
    return !strcmp(a->pin_version, b->pin_version);
}

/* Under the lock: take items from the head while they share the first one's
 * pin and fit max_batch_rows (a single request larger than that runs alone). */
static bool expired(const struct batch_item *it, int64_t now_ms)
{
    return it->deadline_ms > 0 && it->deadline_ms < now_ms;
}

/* Under the lock: move every queued item whose deadline has passed to
 * b->expired. The check runs when a batch is formed, so a request that
 * waited past its deadline is answered `expired` instead of computed. */
static void expire_locked(batcher *b)
{
    int64_t now = kf_clock_wall_ms();
    struct batch_item **link = &b->head;
    b->tail = NULL;
    while (*link) {
        struct batch_item *it = *link;
        if (expired(it, now)) {
            *link = it->next;
            b->queued_rows -= it->rows;
            it->next = b->expired;
            b->expired = it;
        } else {
            b->tail = it;
            link = &it->next;
        }
    }
}

static size_t take_batch_locked(batcher *b, size_t *rows)
{
    size_t n = 0;
    *rows = 0;
    expire_locked(b);
    struct batch_item *first = b->head;
    while (b->head && same_pin(first, b->head) &&
           (n == 0 || *rows + b->head->rows <= b->conf.max_batch_rows)) {
        struct batch_item *it = b->head;
        b->head = it->next;
        it->next = NULL;
        b->items[n++] = it;
        *rows += it->rows;
        if (n == b->conf.max_batch_rows)
            break;
    }
    if (!b->head)
        b->tail = NULL;
    b->queued_rows -= *rows;
    return n;
}

static void answer_expired(batcher *b, struct batch_item *list)
{
    while (list) {
        struct batch_item *it = list;
        list = it->next;
        it->next = NULL;
        struct batch_timing t = {.batch_rows = 0};
        b->conf.done(b->conf.ctx, &it, 1, NULL, 0, NULL, -ETIME, &t);
    }
}

static void run_batch(batcher *b, size_t n, size_t rows)
{
    if (!n)
        return;
    struct batch_timing t = {.batch_rows = rows};
    struct slot_version *v = slot_acquire(b->slot, b->items[0]->pin_version);
    int err = v ? 0 : -ENOENT;
    size_t width = v ? v->input_width : 0;
    for (size_t i = 0; i < n && !err; i++)
        if (b->items[i]->width != width)
            err = -EINVAL;
    if (!err)
        err = ensure(&b->in, &b->in_cap, rows * v->input_width);
    if (!err)
        err = ensure(&b->out, &b->out_cap, rows * v->output_width);
    if (!err) {
        size_t r = 0;
        for (size_t i = 0; i < n; i++) {
            memcpy(b->in + r * width, b->items[i]->input,
                   b->items[i]->rows * width * sizeof(float));
            r += b->items[i]->rows;
        }
        int64_t t0 = kf_clock_mono_us();
        err = b->conf.run(b->conf.ctx, v, b->in, rows, b->out);
        t.compute_us = kf_clock_mono_us() - t0;
    }
    if (err == -EINVAL && v) {
        /* Widths differ inside the batch: answer each request on its own so
         * one bad request cannot fail its neighbours. */
        for (size_t i = 0; i < n; i++) {
            struct batch_item *one = b->items[i];
            int e = one->width == v->input_width ? 0 : -EINVAL;
            if (!e)
                e = ensure(&b->out, &b->out_cap, one->rows * v->output_width);
            if (!e)
                e = ensure(&b->in, &b->in_cap, one->rows * v->input_width);
            if (!e) {
                /* Through the aligned batch buffer: request data may sit at
                 * any byte offset of its Kafka message. */
                memcpy(b->in, one->input, one->rows * v->input_width * sizeof(float));
                e = b->conf.run(b->conf.ctx, v, b->in, one->rows, b->out);
            }
            struct batch_timing t1 = {.batch_rows = one->rows};
            b->conf.done(b->conf.ctx, &one, 1, b->out, v->output_width, v, e, &t1);
        }
    } else {
        b->conf.done(b->conf.ctx, b->items, n, b->out, v ? v->output_width : 0, v, err, &t);
    }
    slot_release(b->slot, v);
}

static void *inference_thread(void *arg)
{
    batcher *b = arg;
    pthread_mutex_lock(&b->lock);
    for (;;) {
        while (!b->head && !b->stopping)
            pthread_cond_wait(&b->wake, &b->lock);
        if (!b->head && b->stopping)
            break;
        /* Under load, give a partial batch up to max_delay_us to fill. */
        if (b->last_batch_full && b->queued_rows < b->conf.max_batch_rows && !b->stopping &&
            b->conf.max_delay_us > 0) {
            struct timespec until;
            clock_gettime(CLOCK_REALTIME, &until);
            int64_t ns = until.tv_nsec + b->conf.max_delay_us * 1000;
            until.tv_sec += ns / 1000000000;
            until.tv_nsec = ns % 1000000000;
            while (b->queued_rows < b->conf.max_batch_rows && !b->stopping)
                if (pthread_cond_timedwait(&b->wake, &b->lock, &until) == ETIMEDOUT)
                    break;
        }
        size_t rows;
        size_t n = take_batch_locked(b, &rows);
        struct batch_item *late = b->expired;
        b->expired = NULL;
        b->running_rows = rows;
        b->running = true;
        if (n)
            b->last_batch_full = rows >= b->conf.max_batch_rows;
        pthread_mutex_unlock(&b->lock);
        answer_expired(b, late);
        run_batch(b, n, rows);
        pthread_mutex_lock(&b->lock);
        b->running_rows = 0;
        b->running = false;
        if (!b->head)
            pthread_cond_broadcast(&b->idle);
    }
    pthread_cond_broadcast(&b->idle);
    pthread_mutex_unlock(&b->lock);
    return NULL;
}

batcher *batcher_new(model_slot *slot, const struct batcher_conf *conf)
{
    batcher *b = calloc(1, sizeof(*b));
    if (!b)
        return NULL;
    b->slot = slot;
    b->conf = *conf;
    if (!b->conf.max_batch_rows)
        b->conf.max_batch_rows = 1;
    b->items = calloc(b->conf.max_batch_rows, sizeof(*b->items));
    pthread_mutex_init(&b->lock, NULL);
    pthread_cond_init(&b->wake, NULL);
    pthread_cond_init(&b->idle, NULL);
    if (!b->items || pthread_create(&b->thread, NULL, inference_thread, b)) {
        pthread_mutex_destroy(&b->lock);
        pthread_cond_destroy(&b->wake);
        pthread_cond_destroy(&b->idle);
        free(b->items);
        free(b);
        return NULL;
    }
    return b;
}

void batcher_free(batcher *b)
{
    if (!b)
        return;
    pthread_mutex_lock(&b->lock);
    b->stopping = true;
    pthread_cond_broadcast(&b->wake);
    pthread_mutex_unlock(&b->lock);
    pthread_join(b->thread, NULL);
    pthread_mutex_destroy(&b->lock);
    pthread_cond_destroy(&b->wake);
    pthread_cond_destroy(&b->idle);
    free(b->in);
    free(b->out);
    free(b->items);
    free(b);
}

int batcher_submit(batcher *b, struct batch_item *item)
{
    item->next = NULL;
    item->enqueued_us = kf_clock_mono_us();
    pthread_mutex_lock(&b->lock);
    if (b->stopping) {
        pthread_mutex_unlock(&b->lock);
        return -ESHUTDOWN;
    }
    if (b->tail)
        b->tail->next = item;
    else
        b->head = item;
    b->tail = item;
    b->queued_rows += item->rows;
    pthread_cond_signal(&b->wake);
    pthread_mutex_unlock(&b->lock);
    return 0;
}

size_t batcher_pending_rows(batcher *b)
{
    pthread_mutex_lock(&b->lock);
    size_t n = b->queued_rows + b->running_rows;
    pthread_mutex_unlock(&b->lock);
    return n;
}

void batcher_drain(batcher *b)
{
    pthread_mutex_lock(&b->lock);
    while (b->head || b->running)
        pthread_cond_wait(&b->idle, &b->lock);
    pthread_mutex_unlock(&b->lock);
}
