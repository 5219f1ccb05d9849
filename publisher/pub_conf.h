/**
 * @file pub_conf.h
 * @brief publish-model's configuration as typed fields, parsed once from the
 *        property table (pub_props in pub.h) by pub_config_parse(). Only
 *        pub_conf.c reads the kf_conf by property name; everything else reads
 *        these fields, so that a misspelt name is a compile error, not a
 *        lookup at run time.
 */
#ifndef KF_PUB_CONF_H
#define KF_PUB_CONF_H

#include "common/kf_conf.h"
#include "common/kf_log.h"

#include <stdbool.h>
#include <stdint.h>

/** One field per property of pub_props; strings are owned copies (NULL: unset). */
struct pub_config {
    char *brokers;          /**< brokers */
    char *topic_control;    /**< topic.control */
    int control_timeout_ms; /**< control.timeout_ms */
    char *store_url;        /**< store.url; NULL: s3://<s3.bucket> */
    char *s3_bucket, *s3_endpoint, *s3_access_key, *s3_secret_key, *s3_region;
    char *s3_session_token, *s3_ca_file; /**< NULL: none */
    bool s3_https, s3_sigv2, s3_virtual_host;
    int s3_timeout_ms;
    uint64_t chunk_size;      /**< chunk.size, bytes */
    unsigned upload_parallel; /**< upload.parallel, 1..64 */
    int upload_deadline_ms;   /**< upload.deadline_ms */
    bool chunk_check_read;    /**< chunk.check=read (else etag) */
    unsigned hash_threads;    /**< hash.threads; 0: one per core */
    uint32_t golden_rows;     /**< golden.rows */
    uint64_t golden_seed;     /**< golden.seed */
    double golden_atol, golden_rtol;
    char *trusted_keys; /**< trusted_keys; NULL: unset */
    enum kf_log_level log_level;
};

/**
 * @brief Fill @p cfg from @p conf (a kf_conf over pub_props, so every value is
 *        already checked against its type and range). @p conf may change or be
 *        freed afterwards: strings are copied. Aborts on OOM (a few short strings).
 */
void pub_config_parse(struct pub_config *cfg, const kf_conf *conf);

/** @brief Free the strings; the struct is zeroed. */
void pub_config_fini(struct pub_config *cfg);

#endif
