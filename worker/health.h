/**
 * @file health.h
 * @brief A model's health on live traffic: the latencies of its recent
 *        requests and its request and error counts. The inference thread
 *        records every answered request; the rollout agent (main thread)
 *        reads it to judge the health window after a swap (agent_health.c).
 *
 * @locality health_record from any thread; the rest from one thread.
 */
#ifndef KF_WORKER_HEALTH_H
#define KF_WORKER_HEALTH_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HEALTH_WINDOW 1024 /**< latencies kept for the p99 */

struct health_window {
    pthread_mutex_t lock;
    uint32_t lat_us[HEALTH_WINDOW]; /* ring of recent request latencies */
    size_t lat_n, lat_pos;
    uint64_t requests, errors;
};

/** @brief Counts at one moment, to subtract from a later snapshot. */
struct health_counts {
    uint64_t requests, errors;
};

void health_init(struct health_window *h);
void health_fini(struct health_window *h);
/** @brief One answered request; @p error: an error or non-finite output. */
void health_record(struct health_window *h, int64_t latency_us, bool error);
struct health_counts health_counts(struct health_window *h);
/**
 * @brief p99 of the latencies in the window (0 when empty). @p clear: empty
 *        the window, so that after a swap it holds the new version's only.
 */
double health_p99(struct health_window *h, bool clear);
/** @brief p99 of the window without clearing it; @p n: how many latencies it holds. */
double health_p99_n(struct health_window *h, size_t *n);

#endif
