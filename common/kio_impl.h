/**
 * @file kio_impl.h
 * @brief kio internals shared by its .c files: the only header that includes
 *        librdkafka. Not for use outside common/kio*.c (and kio's own tests).
 */
#ifndef KF_KIO_IMPL_H
#define KF_KIO_IMPL_H

#include "common/kio.h"

#include <librdkafka/rdkafka.h>
#include <stdatomic.h>

/** @brief The callbacks and names every kio handle carries; the first member of each handle. */
struct kio_common {
    rd_kafka_t *rk;
    kio_error_cb *error_cb;
    kio_stats_cb *stats_cb;
    void *opaque;
    /* A group member between leaving the steady join state and reaching it
     * again: a JoinGroup may be waiting at the coordinator (set from
     * librdkafka's CGRPJOINSTATE debug line; kio_consumer_commit). */
    atomic_bool group_unsettled;
};

enum kio_role {
    KIO_ROLE_PRODUCER,
    KIO_ROLE_CONSUMER,
    KIO_ROLE_ADMIN,
};

/**
 * @brief Translate a librdkafka error code to a negative errno (0 for
 *        NO_ERROR). The table is in kio_err.c and documented in kio.h.
 */
int kio_err_from_rd(rd_kafka_resp_err_t err);

/** @brief Translate an rd_kafka_error_t (fatal ones become -ENOTRECOVERABLE); NULL is 0. */
int kio_err_from_error(const rd_kafka_error_t *error);

/**
 * @brief A librdkafka configuration for @p role built from @p opts (order in
 *        kio.h), with kio's log/error/stats callbacks installed and
 *        rd_kafka_conf_set_opaque(@p common). @p role_props are kio's defaults
 *        for the role ({key, value, ..., NULL}), applied first.
 * @returns new conf (rd_kafka_conf_destroy, or steal into rd_kafka_new), or NULL with errstr
 */
rd_kafka_conf_t *kio_conf_build(const struct kio_opts *opts, struct kio_common *common,
                                const char *const *role_props, char *errstr, size_t errstr_size);

/** @brief Fill @p common from @p opts (callbacks and opaque). */
void kio_common_init(struct kio_common *common, const struct kio_opts *opts);

/**
 * @brief Report an error through the handle's error callback, or log it.
 *        @p err is a negative errno.
 */
void kio_report_error(struct kio_common *common, int err, bool fatal, const char *reason);

/** @brief librdkafka's list from ours (new: rd_kafka_topic_partition_list_destroy); NULL on OOM. */
rd_kafka_topic_partition_list_t *kio_tplist_to_rd(const kio_tplist *l);

/** @brief Our list from librdkafka's (new: kio_tplist_free); NULL on OOM. Errors translated. */
kio_tplist *kio_tplist_from_rd(const rd_kafka_topic_partition_list_t *rl);

/**
 * @brief Wrap a consumed message (steals @p rkm on success; on NULL (OOM) the
 *        caller still owns it).
 */
kio_msg *kio_msg_wrap(rd_kafka_message_t *rkm);

/** @brief Default wait for calls that have none (close, free). */
#define KIO_DEFAULT_TIMEOUT_MS 10000

#endif
