/**
 * @file metrics.h
 * @brief A small Prometheus registry: counters, gauges and histograms with
 *        labels, rendered in the text exposition format (version 0.0.4).
 *
 * Families are registered once at start-up; series (one set of label values)
 * are created on first use and live as long as the registry. Updates are
 * lock-free atomics, so the inference and Kafka threads never wait on a
 * scrape; series creation and rendering take the registry's mutex.
 */
#ifndef KF_METRICS_H
#define KF_METRICS_H

#include "common/kf_buf.h"

#include <stddef.h>
#include <stdint.h>

enum metric_type {
    METRIC_COUNTER,
    METRIC_GAUGE,
    METRIC_HISTOGRAM,
};

#define METRIC_MAX_LABELS 4
#define METRIC_MAX_BUCKETS 16

typedef struct metrics metrics;
typedef struct metric_family metric_family;
typedef struct metric_series metric_series;

/** @brief An empty registry; NULL on OOM. */
metrics *metrics_new(void);
void metrics_free(metrics *m);

/**
 * @brief Register a family. @p label_names: up to METRIC_MAX_LABELS names,
 *        NULL-terminated (NULL for none). @p buckets: histogram upper bounds in
 *        increasing order (+Inf is implied), @p nbuckets <= METRIC_MAX_BUCKETS.
 *        Strings are borrowed and must be static.
 * @returns the family (owned by the registry), or NULL on OOM / bad arguments.
 */
metric_family *metrics_family(metrics *m, const char *name, const char *help, enum metric_type type,
                              const char *const *label_names, const double *buckets,
                              size_t nbuckets);

/**
 * @brief The series of @p fam with these label values (as many as the
 *        family has names; copied). Created on first use.
 * @returns the series (owned by the registry), NULL on OOM.
 */
metric_series *metrics_series(metric_family *fam, const char *const *label_values);

/**
 * @brief Remove the series of @p fam with these label values: scrapes no
 *        longer show it (a gauge whose subject went away, e.g. the lag of a
 *        partition this worker no longer owns). Every pointer to it from
 *        metrics_series() becomes invalid: only for series that are looked up
 *        per update, never kept, and updated on the removing thread only.
 * @returns 0, -ENOENT (no such series)
 */
int metrics_series_remove(metric_family *fam, const char *const *label_values);

void metric_inc(metric_series *s, double v);     /**< counter or gauge: += v */
void metric_set(metric_series *s, double v);     /**< gauge: = v */
void metric_observe(metric_series *s, double v); /**< histogram */
double metric_value(const metric_series *s);     /**< counter/gauge value; histogram sum */

/** @brief Append the whole registry in Prometheus text format. @returns 0, -ENOMEM */
int metrics_render(metrics *m, kf_buf *out);

#endif
