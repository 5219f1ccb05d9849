/* Closing a consumer, around three bugs of librdkafka 2.0.2 (Debian bookworm)
 * that later releases fixed:
 *
 *  1. Segfault/abort when a cooperative-sticky consumer is destroyed after it
 *     joined but before its first assignment (librdkafka #4312, fixed 2.3.0):
 *     the group remembers the assignor from the first successful JoinGroup,
 *     the sticky assignor's state is NULL until the first SyncGroup, and the
 *     destroy path asserts on it. Work-around: a subscribed consumer that
 *     has a member id (so a JoinGroup succeeded) but has not seen its first
 *     assignment polls until it has (bounded), so the state exists before
 *     anything is torn down. Without a member id no JoinGroup completed, the
 *     assignor is unset, and closing at once is safe.
 *
 *  2. Hang when the consumer closes while an incremental assignment is being
 *     processed (librdkafka #4527, fixed 2.4.0): the assign call is converted
 *     into an unassign but the join state stays WAIT_ASSIGN_CALL forever.
 *     Work-around (the one the reporter confirmed): unsubscribe first, poll
 *     until every partition was revoked and rebalancing is quiet, and only then
 *     call rd_kafka_consumer_close(), which then has nothing left to unassign.
 *
 *  3. The cooperative-sticky assignor can loop forever when a group has more
 *     members than partitions (librdkafka #4783, fixed 2.6.1). That runs on the
 *     group leader, not at close; kio cannot prevent it, so docs/common.md
 *     states the rule: never run more request-group members than partitions.
 *
 * Messages that arrive while closing are dropped without storing their
 * offsets: the next owner gets them again (at-least-once). */
#include "common/kf_clock.h"
#include "common/kf_log.h"
#include "common/kio_consumer_impl.h"

#include <errno.h>
#include <stdlib.h>

#define MOD "kio"

/* How long the group must stay without rebalance events, with nothing
 * assigned, before the final close. Long enough for an in-flight SyncGroup
 * response to arrive and be served. */
#define QUIET_US (300 * 1000)

static void poll_drop(kio_consumer *kc, int timeout_ms)
{
    rd_kafka_message_t *rkm = rd_kafka_consumer_poll(kc->c.rk, timeout_ms);
    if (rkm)
        rd_kafka_message_destroy(rkm);
}

static bool has_member_id(kio_consumer *kc)
{
    char *id = rd_kafka_memberid(kc->c.rk);
    bool has = id && *id;
    if (id)
        rd_kafka_mem_free(kc->c.rk, id);
    return has;
}

static int assignment_count(kio_consumer *kc)
{
    rd_kafka_topic_partition_list_t *rl = NULL;
    if (rd_kafka_assignment(kc->c.rk, &rl) != RD_KAFKA_RESP_ERR_NO_ERROR || !rl)
        return 0;
    int n = rl->cnt;
    rd_kafka_topic_partition_list_destroy(rl);
    return n;
}

int kio_consumer_close(kio_consumer *kc, int timeout_ms)
{
    if (!kc || kc->in_rebalance)
        return -EINVAL;
    if (kc->closed)
        return 0;
    if (timeout_ms < 0)
        timeout_ms = 30000;
    int64_t deadline = kf_clock_mono_us() + (int64_t)timeout_ms * 1000;
    int ret = 0;

    if (kc->subscribed) {
        /* Work-around 1: wait for the first assignment. */
        if (!kc->assigned_once && has_member_id(kc)) {
            KF_LOG_D(MOD, "%s: close before the first assignment: waiting for it",
                     rd_kafka_name(kc->c.rk));
            while (!kc->assigned_once && kf_clock_mono_us() < deadline)
                poll_drop(kc, 100);
            if (!kc->assigned_once)
                KF_LOG_W(MOD, "%s: no assignment within %d ms; closing anyway",
                         rd_kafka_name(kc->c.rk), timeout_ms);
        }
        /* Work-around 2: leave the assignment before closing. The revoke
         * callbacks run here, so the caller still stores and commits. */
        rd_kafka_unsubscribe(kc->c.rk);
        kc->subscribed = false;
        int64_t quiet_since = kf_clock_mono_us();
        uint64_t seen = kc->rebalance_events;
        for (;;) {
            int64_t now = kf_clock_mono_us();
            if (kc->rebalance_events != seen) {
                seen = kc->rebalance_events;
                quiet_since = now;
            }
            if (assignment_count(kc) == 0 && now - quiet_since >= QUIET_US)
                break;
            if (now >= deadline) {
                KF_LOG_W(MOD, "%s: group did not settle within %d ms; closing anyway",
                         rd_kafka_name(kc->c.rk), timeout_ms);
                ret = -ETIMEDOUT;
                break;
            }
            poll_drop(kc, 50);
        }
    }

    if (!kc->auto_commit && kc->has_group) {
        rd_kafka_resp_err_t cerr = rd_kafka_commit(kc->c.rk, NULL, 0);
        if (cerr && cerr != RD_KAFKA_RESP_ERR__NO_OFFSET && !ret)
            ret = kio_err_from_rd(cerr);
    }
    rd_kafka_resp_err_t err = rd_kafka_consumer_close(kc->c.rk);
    if (err && !ret)
        ret = kio_err_from_rd(err);
    kc->closed = true;
    return ret;
}

void kio_consumer_free(kio_consumer *kc)
{
    if (!kc)
        return;
    if (!kc->closed)
        kio_consumer_close(kc, -1);
    rd_kafka_destroy(kc->c.rk);
    free(kc);
}
