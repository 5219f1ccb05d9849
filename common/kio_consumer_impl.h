/**
 * @file kio_consumer_impl.h
 * @brief The consumer's layout, shared by kio_consumer.c and kio_consumer_close.c.
 */
#ifndef KF_KIO_CONSUMER_IMPL_H
#define KF_KIO_CONSUMER_IMPL_H

#include "common/kio_consumer.h"
#include "common/kio_impl.h"

#include <stdint.h>

struct kio_consumer {
    struct kio_common c; /* first: it is librdkafka's opaque */
    kio_rebalance_cb *rebalance_cb;
    kio_commit_cb *commit_cb;
    bool has_group;   /* a caller-given group.id: subscribe allowed */
    bool auto_commit; /* librdkafka commits stored offsets itself (periodically, on unassign) */
    bool subscribed;
    bool partition_eof; /* kio_consumer_opts.partition_eof: EOF events reach the caller */
    /* Set by the first ASSIGN rebalance event, even an empty one: from then
     * on librdkafka 2.0.2's sticky assignor has its state (see close). */
    bool assigned_once;
    bool in_rebalance; /* inside the rebalance callback */
    bool closed;
    uint64_t rebalances;       /* user-visible rebalance callbacks */
    uint64_t rebalance_events; /* every rebalance event, empty ones too */
    int64_t last_rebalance_us; /* kf_clock_mono_us() of the last event */
};

#endif
