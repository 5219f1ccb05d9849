/* Exactly-once delivery: the transaction cycle of the serve loop
 * (serve_txn.h, docs/delivery.md). */
#include "worker/serve_txn.h"

#include "common/kf_clock.h"
#include "common/kf_err.h"
#include "common/kf_log.h"
#include "common/kio_txn.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

/* A transaction call's time limit, and how often a retriable one is tried. */
#define TXN_TIMEOUT_MS 10000
#define TXN_TRIES 3

/* Register the producer's transactional.id (fencing older epochs) and open
 * the first transaction. */
static int init_and_begin(struct serve_txn *t, char *errstr, size_t errstr_size)
{
    int err = kio_txn_init(t->producer, 30000, errstr, errstr_size);
    if (!err)
        err = kio_txn_begin(t->producer, errstr, errstr_size);
    t->open = !err;
    t->last_commit_us = kf_clock_mono_us();
    return err;
}

int serve_txn_start(struct serve_txn *t, kio_producer *producer, kio_consumer *consumer,
                    offtrack *offsets, const char *topic, char *errstr, size_t errstr_size)
{
    memset(t, 0, sizeof(*t));
    t->producer = producer;
    t->consumer = consumer;
    t->offsets = offsets;
    t->topic = topic;
    pthread_mutex_init(&t->lock, NULL);
    return init_and_begin(t, errstr, errstr_size);
}

void serve_txn_fini(struct serve_txn *t)
{
    if (t->producer)
        pthread_mutex_destroy(&t->lock);
    t->producer = NULL;
}

/* The offsets of the assigned partitions settled since the last commit. */
static kio_tplist *settled_offsets(struct serve_txn *t)
{
    kio_tplist *assigned = NULL, *out = kio_tplist_new(0);
    if (!out || kio_consumer_assignment(t->consumer, &assigned) || !assigned) {
        kio_tplist_free(out);
        return NULL;
    }
    for (size_t i = 0; i < assigned->count; i++) {
        int32_t p = assigned->elems[i].partition;
        int64_t off = offtrack_committable(t->offsets, p);
        if (off >= 0)
            kio_tplist_add(out, t->topic, p, off);
    }
    kio_tplist_free(assigned);
    return out;
}

/* Forget what the transactions since the last commit took in, and read it
 * again from the committed offsets. */
static int rewind_to_committed(struct serve_txn *t)
{
    kio_tplist *assigned = NULL;
    if (!kio_consumer_assignment(t->consumer, &assigned) && assigned) {
        for (size_t i = 0; i < assigned->count; i++)
            offtrack_forget(t->offsets, assigned->elems[i].partition);
        kio_tplist_free(assigned);
    }
    int err = kio_consumer_rewind(t->consumer, TXN_TIMEOUT_MS);
    if (err) {
        /* Reading on would skip what the aborted transaction held. */
        KF_LOG_E("serve", "exactly-once: cannot go back to the committed offsets: %s; stopping",
                 kf_strerror(err));
        return -ENOTRECOVERABLE;
    }
    atomic_store(&t->doomed, false);
    return 0;
}

int serve_txn_restart(struct serve_txn *t, kio_producer *producer)
{
    t->producer = producer;
    t->open = false;
    char errstr[512];
    int err = init_and_begin(t, errstr, sizeof(errstr));
    if (err) {
        KF_LOG_E("serve", "exactly-once: a new transactional producer: %s", errstr);
        return -ENOTRECOVERABLE;
    }
    return rewind_to_committed(t);
}

/* Abort (retrying what may be retried), forget what the transaction held and
 * read it again from the committed offsets. */
static int abort_and_rewind(struct serve_txn *t, const char *why)
{
    char errstr[512];
    int err;
    int tries = 0;
    do
        err = kio_txn_abort(t->producer, TXN_TIMEOUT_MS, errstr, sizeof(errstr));
    while (err == -EAGAIN && ++tries < TXN_TRIES);
    t->open = false;
    if (err) {
        KF_LOG_E("serve", "exactly-once: %s", errstr);
        return -ENOTRECOVERABLE;
    }
    if ((err = rewind_to_committed(t)))
        return err;
    KF_LOG_W("serve", "exactly-once: transaction aborted (%s); its requests are read again", why);
    return -ECANCELED;
}

static int begin_next(struct serve_txn *t, bool last)
{
    t->last_commit_us = kf_clock_mono_us();
    if (last)
        return 0;
    char errstr[512];
    int err = kio_txn_begin(t->producer, errstr, sizeof(errstr));
    if (err) {
        KF_LOG_E("serve", "exactly-once: %s", errstr);
        return -ENOTRECOVERABLE;
    }
    t->open = true;
    return 0;
}

/* Send the offsets and commit, each retried while retriable; the outcome as
 * kio_txn.h says (-EAGAIN still after the last try: abort). */
static int send_and_commit(struct serve_txn *t, const kio_tplist *offsets, char *errstr,
                           size_t errstr_size)
{
    int err = 0;
    for (int tries = 0; offsets && offsets->count && tries < TXN_TRIES; tries++)
        if ((err = kio_txn_send_offsets(t->producer, t->consumer, offsets, TXN_TIMEOUT_MS, errstr,
                                        errstr_size)) != -EAGAIN)
            break;
    if (err)
        return err;
    for (int tries = 0; tries < TXN_TRIES; tries++)
        if ((err = kio_txn_commit(t->producer, TXN_TIMEOUT_MS, errstr, errstr_size)) != -EAGAIN)
            break;
    return err;
}

/* After an abort or a failed commit: fenced ends it here, the rest opens
 * the next transaction. */
static int finish(struct serve_txn *t, int err, bool last, const char *errstr)
{
    if (err == -ENOTRECOVERABLE) {
        KF_LOG_E("serve",
                 "exactly-once: %s (fenced: the transaction outlived transaction.timeout.ms, or "
                 "another instance of this worker took over)",
                 errstr);
        t->open = false;
        return err;
    }
    int berr = begin_next(t, last);
    return berr ? berr : err;
}

int serve_txn_commit(struct serve_txn *t, bool last)
{
    if (!t->open)
        return begin_next(t, last);
    if (atomic_load(&t->doomed))
        return finish(t, abort_and_rewind(t, "a delivery failed or partitions were lost"), last,
                      "the abort was refused");
    kio_tplist *offsets = settled_offsets(t);
    char errstr[512] = "";
    int err = send_and_commit(t, offsets, errstr, sizeof(errstr));
    if (!err) {
        for (size_t i = 0; offsets && i < offsets->count; i++)
            offtrack_committed(t->offsets, offsets->elems[i].partition, offsets->elems[i].offset);
        t->open = false;
    }
    kio_tplist_free(offsets);
    if (err && err != -ENOTRECOVERABLE)
        err = abort_and_rewind(t, errstr);
    return finish(t, err, last, errstr);
}

void serve_txn_doom(struct serve_txn *t)
{
    atomic_store(&t->doomed, true);
}

void serve_txn_poison(struct serve_txn *t, int32_t partition, int64_t offset, const char *why)
{
    atomic_store(&t->doomed, true);
    pthread_mutex_lock(&t->lock);
    struct serve_txn_poison *p = NULL;
    for (size_t i = 0; i < t->n_poison && !p; i++)
        if (t->poison[i].partition == partition && t->poison[i].offset == offset)
            p = &t->poison[i];
    if (!p && t->n_poison < SERVE_TXN_POISON_CAP)
        p = &t->poison[t->n_poison++];
    if (!p) /* full: one is replaced; its request fails again and is remembered again */
        p = &t->poison[offset % SERVE_TXN_POISON_CAP];
    p->partition = partition;
    p->offset = offset;
    snprintf(p->why, sizeof(p->why), "%s", why);
    pthread_mutex_unlock(&t->lock);
}

bool serve_txn_take_poison(struct serve_txn *t, int32_t partition, int64_t offset, char *why,
                           size_t why_size)
{
    bool found = false;
    pthread_mutex_lock(&t->lock);
    for (size_t i = 0; i < t->n_poison && !found; i++) {
        if (t->poison[i].partition != partition || t->poison[i].offset != offset)
            continue;
        snprintf(why, why_size, "%s", t->poison[i].why);
        t->poison[i] = t->poison[--t->n_poison];
        found = true;
    }
    pthread_mutex_unlock(&t->lock);
    return found;
}
