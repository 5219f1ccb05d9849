/**
 * @file kt_probe.h
 * @brief What the fault rows look at besides the answers: a worker's
 *        endpoints (/status partitions, /metrics text, its validity and its
 *        series), its peak memory, the records of a topic (the DLQ, the
 *        control log) and the group's committed offsets.
 */
#ifndef KT_PROBE_H
#define KT_PROBE_H

#include "tests/worker/kt_e2e.h"

#include <stdbool.h>
#include <stdint.h>

/** @brief Partitions worker @p i says it owns (its /status); -1 when it does not answer. */
int kt_probe_partitions(struct kt_env *e, int i);

/**
 * @brief Request partitions the group's coordinator assigns to worker @p i
 *        (members whose client id is "w<i>"); 0 when it is no member; -1 when
 *        the admin query fails.
 */
int kt_probe_owned(struct kt_env *e, int i);

/** @brief The worker's peak resident set (VmHWM) in KiB; -1 when unreadable. */
long kt_probe_hwm_kib(pid_t pid);

/**
 * @brief Sum of the samples of @p name in exposition text @p text whose labels
 *        contain @p label (e.g. "model=\"_unknown\""; NULL: every sample).
 */
double kt_probe_metric(const char *text, const char *name, const char *label);

/** @brief Sample lines (series) in @p text. */
int kt_probe_series(const char *text);

/**
 * @brief Whether @p text is valid Prometheus text: `promtool check metrics`
 *        when promtool is on PATH, else a line-by-line parse of the 0.0.4
 *        format. @p why gets the reason on failure.
 */
bool kt_probe_metrics_valid(const char *text, char *why, size_t why_size);

/**
 * @brief Read every partition of @p topic from the start to its high
 *        watermark (as of the call); @p cb is called per record (return
 *        non-zero to stop). @returns records read.
 */
int kt_probe_topic_scan(struct kt_env *e, const char *topic, int (*cb)(void *, const kio_msg *),
                        void *opaque, int timeout_s);

/** @brief A header's value as a string ("" when absent). */
void kt_probe_header(const kio_msg *m, const char *name, char *out, size_t size);

/**
 * @brief Records of the request topic not yet committed by the env's group
 *        (sum over partitions of high watermark minus committed offset);
 *        -1 when the admin query fails.
 */
int64_t kt_probe_uncommitted(struct kt_env *e);

/** @brief The committed offset of the env's group on request partition @p p (-1: none). */
int64_t kt_probe_committed(struct kt_env *e, int32_t p);

/** @brief One dead-lettered record, by its headers. */
struct kt_dlq_rec {
    char key[64];     /**< the request's key (the fault rows key requests by id) */
    char code[32];    /**< kfleet-error-code */
    char reason[200]; /**< kfleet-error */
    char worker[16];  /**< kfleet-worker */
    int partition;    /**< kfleet-source-partition, -1 when absent */
    int64_t offset;   /**< kfleet-source-offset, -1 when absent */
};

/** @brief Every record of the env's DLQ topic. @returns the count; *out new (free()). */
size_t kt_probe_dlq(struct kt_env *e, struct kt_dlq_rec **out);

/** @brief The record for @p key in @p recs, or NULL. */
const struct kt_dlq_rec *kt_probe_dlq_find(const struct kt_dlq_rec *recs, size_t n,
                                           const char *key);

#endif
