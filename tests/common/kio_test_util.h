/**
 * @file kio_test_util.h
 * @brief Helpers for kio's integration tests against the devstack broker:
 *        unique names, a topic that is deleted at exit, bulk produce.
 */
#ifndef KF_TEST_KIO_UTIL_H
#define KF_TEST_KIO_UTIL_H

#include "common/kio_admin.h"
#include "common/kio_consumer.h"
#include "common/kio_producer.h"

#include <stdint.h>

/** @brief KFLEET_BROKERS, or exit 77/99 (kt_service_env). */
const char *kt_brokers(void);

/** @brief "kfleet-test-<what>-<pid>-<ms>" in a static buffer of the caller's (size >= 96). */
void kt_unique_name(char *buf, size_t size, const char *what);

/** @brief The shared admin client (created on first use, freed at exit). */
kio_admin *kt_admin(void);

/**
 * @brief Create a topic with @p partitions (and configs), deleted again at
 *        exit; groups named with kt_track_group() are deleted too.
 */
void kt_topic_create(const char *topic, int partitions, const char *const *configs);
void kt_track_group(const char *group);

/**
 * @brief Produce @p count messages "id-<first+i>" with key "key-<i>" and
 *        headers kfleet-id (the number) and kfleet-test; flush; assert all delivered.
 */
void kt_produce_ids(const char *topic, int first, int count);

/** @brief Parse the kfleet-id header of @p m; exits on a malformed message. */
int kt_msg_id(const kio_msg *m);

/** @brief Common options for a test client (brokers, client id). */
struct kio_opts kt_opts(const char *client_id);

/**
 * @brief A member of @p group subscribed to @p topic, with commits under the
 *        test's control only (enable.auto.commit=false); exits on failure.
 */
kio_consumer *kt_group_member(const char *group, const char *topic, const char *client_id);

#endif
