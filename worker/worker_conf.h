/**
 * @file worker_conf.h
 * @brief kfleet-worker's configuration: the property table (see kf_conf.h),
 *        the one list that drives parsing, range checks, --help and
 *        docs/worker-config.md, and the typed struct every part of the worker
 *        reads. The table is parsed once, at start-up, by worker_config_load;
 *        nothing else looks a property up by name, so a misspelt name is a
 *        compile error, not a read of the wrong slot.
 */
#ifndef KF_WORKER_CONF_H
#define KF_WORKER_CONF_H

#include "common/kf_conf.h"
#include "schema/ctl_event.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

extern const struct kf_prop worker_props[];
extern const size_t worker_props_count;

/** Most models one worker serves (models=a,b,... or every published one). */
#define WORKER_MAX_MODELS 32

struct worker_config {
    const kf_conf *conf; /**< borrowed: its kafka.* entries go to librdkafka */
    char id[CTL_NAME_CAP];
    char host[128];
    const char *brokers, *group_id;
    const char *topic_requests, *topic_responses, *topic_dlq, *topic_control;
    bool serve_all;      /**< models = "*" */
    const char *models;  /**< comma-separated list (when !serve_all) */
    const char *backend; /**< auto|ref|cuda */
    unsigned ref_threads;
    uint32_t max_batch_rows;
    int64_t max_delay_us;
    int64_t queue_max_rows, queue_max_bytes;
    bool exactly_once;          /**< delivery=exactly_once: Kafka transactions */
    int64_t commit_interval_us; /**< exactly_once: the open transaction's commit period */
    const char *reply_to_prefix;
    int64_t load_retry_max_ms;
    uint64_t limit_rows, limit_cols, limit_bytes;
    const char *store_url;
    const char *s3_endpoint, *s3_access_key, *s3_secret_key, *s3_region;
    const char *s3_session_token, *s3_ca_file; /**< NULL: none */
    bool s3_https, s3_sigv2, s3_virtual_host;
    unsigned fetch_parallel;
    int fetch_deadline_ms;
    const char *cache_dir;
    unsigned cache_keep_versions;
    const char *trusted_keys; /**< NULL: unset */
    const char *worker_key;   /**< NULL: this worker's events go unsigned */
    bool require_worker_signatures;
    bool swap_mode_set; /**< the worker's swap_mode overrides the rollout's */
    enum ctl_swap_mode swap_mode;
    int64_t swap_delay_ms;
    uint64_t memory_budget;
    const char *http_bind;
    uint16_t http_port;
    const char *log_level;
};

/**
 * @brief Read every property of @p conf (filled and validated by kf_conf)
 *        into @p cfg. Strings are borrowed from @p conf. The worker id
 *        defaults to host-pid.
 */
void worker_config_load(const kf_conf *conf, struct worker_config *cfg);

/** @brief Whether @p model is one this worker is configured to serve. */
bool worker_config_wants(const struct worker_config *cfg, const char *model);

#endif
