/**
 * @file kt_pub.h
 * @brief An isolated publish-model environment on the devstack: its own
 *        control topic (1 partition, retention.ms=-1, LogAppendTime, deleted
 *        at the end), a unique model name, a key pair, a temp dir, an
 *        in-process pub_ctx over the same settings, and helpers to run the
 *        real binary and look at S3 and the topic afterwards.
 */
#ifndef KT_PUB_H
#define KT_PUB_H

#include "common/kio_consumer.h"
#include "common/objstore.h"
#include "publisher/pub.h"
#include "schema/ctl_event.h"
#include "schema/ctl_sig.h"

#include <stdbool.h>
#include <stdint.h>

struct kt_pub {
    const char *bin;     /**< publish-model */
    const char *brokers; /**< KFLEET_BROKERS */
    char *dir;
    char topic[128];
    char model[64];
    char key[600], pub[600]; /**< DIR/signer.key, DIR/signer.pub */
    kf_conf *conf;           /**< env + topic.control */
    struct pub_ctx pc;       /**< in-process, with the signer's key */
    objstore *os;            /**< a store handle of the test's own, for checks */
};

/** @brief Exits 77 (or 99 under KFLEET_REQUIRE_SERVICES=1) without the devstack. */
void kt_pub_init(struct kt_pub *t, const char *tag, const char *bin);
void kt_pub_fini(struct kt_pub *t);

/**
 * @brief Run the binary with @p args (NULL-terminated) plus -b BROKERS and
 *        --control-topic TOPIC; stdout and stderr go to DIR/TAG.out/.err and
 *        (NUL-terminated, truncated) into @p out and @p err when given.
 * @returns the exit code, 128+signal when killed
 */
int kt_pub_run(struct kt_pub *t, const char *tag, const char *const *args, char *out,
               size_t out_size, char *err, size_t err_size);

/** @brief The control topic's high watermark (events so far). */
int64_t kt_pub_events(struct kt_pub *t);
/** @brief Whether models/<model>/<version>/manifest.json exists in the store. */
bool kt_pub_manifest_exists(struct kt_pub *t, const char *version);

/** @brief Objects under models/<model>/<version>/ in the store. */
size_t kt_pub_objects(struct kt_pub *t, const char *version);

/** @brief One record of the control topic, read independently of the publisher. */
struct kt_record {
    int64_t offset, ts_ms;
    struct ctl_event ev;
    bool decoded;
    enum ctl_sig_verdict sig; /**< against the signer's public key alone */
};

/**
 * @brief Read the control topic from the beginning to its end (a fresh
 *        consumer, manual assignment) with signatures checked against
 *        @p trusted_pub (a .pub file).
 * @param out  new array (free())
 * @returns the number of records
 */
size_t kt_pub_read_log(struct kt_pub *t, const char *trusted_pub, struct kt_record **out);

/** @brief A new key pair DIR/NAME.key + .pub (via the binary). */
void kt_pub_keygen(struct kt_pub *t, const char *name, char *key, char *pub, size_t size);

#endif
