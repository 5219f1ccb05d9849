/**
 * @file pub_progress.h
 * @brief A one-line progress bar on stderr for the stages that take seconds
 *        (hashing, uploading): "  upload [######......]  45%  460.0 MiB / 1.0 GiB  312.5 MiB/s".
 *        Drawn only when enabled (the CLI enables it when stderr is a TTY).
 *
 * @locality pub_progress_update may be called from any thread (it draws at
 *           most every 100 ms and takes a lock); start and end on one thread.
 */
#ifndef KF_PUB_PROGRESS_H
#define KF_PUB_PROGRESS_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

struct pub_progress {
    bool on;
    const char *label; /**< borrowed: a string literal */
    uint64_t total;
    int64_t t0_us, last_us;
    pthread_mutex_t lock;
};

/** @brief Begin a bar of @p total units (bytes); draws nothing unless @p on. */
void pub_progress_start(struct pub_progress *p, bool on, const char *label, uint64_t total);
/** @brief @p done of total are finished (monotonic). Any thread. */
void pub_progress_update(struct pub_progress *p, uint64_t done);
/** @brief Erase the bar (the summary says how it went). */
void pub_progress_end(struct pub_progress *p);

#endif
