/* The consumer: group membership with cooperative-sticky rebalancing that the
 * caller sees, manual assignment, poll, offset store and commit, pause and
 * resume. Close and its librdkafka 2.0.2 work-arounds are in kio_consumer_close.c. */
#include "common/kf_clock.h"
#include "common/kf_err.h"
#include "common/kf_log.h"
#include "common/kio_consumer_impl.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MOD "kio"

const char *kio_rebalance2str(enum kio_rebalance ev)
{
    switch (ev) {
    case KIO_REBALANCE_ASSIGNED: return "assigned";
    case KIO_REBALANCE_REVOKED: return "revoked";
    case KIO_REBALANCE_LOST: return "lost";
    }
    return "?";
}

static bool is_cooperative(rd_kafka_t *rk)
{
    const char *proto = rd_kafka_rebalance_protocol(rk);
    return proto && !strcmp(proto, "COOPERATIVE");
}

/* Cooperative rebalances end with an ASSIGN event for every member, empty
 * or not (KIP-429), and the caller sees those too: the end of a round is
 * news (a member that rejoined learns the group settled). Empty revokes are
 * never delivered by librdkafka in that protocol. */
static void call_user(kio_consumer *kc, enum kio_rebalance ev,
                      const rd_kafka_topic_partition_list_t *parts)
{
    if (!parts || (parts->cnt == 0 && ev != KIO_REBALANCE_ASSIGNED))
        return;
    kc->rebalances++;
    if (!kc->rebalance_cb)
        return;
    kio_tplist *l = kio_tplist_from_rd(parts);
    if (!l) {
        /* Bookkeeping-sized: a consumer that cannot tell its owner about a
         * rebalance would break at-least-once, so fail loudly. */
        KF_LOG_E(MOD, "out of memory in the rebalance callback");
        abort();
    }
    for (size_t i = 0; i < l->count; i++)
        l->elems[i].offset = KIO_OFFSET_INVALID;
    kc->rebalance_cb(kc->c.opaque, kc, ev, l);
    kio_tplist_free(l);
}

static void log_rd_error(const char *what, rd_kafka_error_t *error)
{
    if (!error)
        return;
    KF_LOG_W(MOD, "%s: %s", what, rd_kafka_error_string(error));
    rd_kafka_error_destroy(error);
}

static void rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *parts, void *opaque)
{
    kio_consumer *kc = opaque;
    bool coop = is_cooperative(rk);
    kc->in_rebalance = true;
    kc->rebalance_events++;
    kc->last_rebalance_us = kf_clock_mono_us();
    KF_LOG_D(MOD, "%s: rebalance %s of %d partition(s) (%s)", rd_kafka_name(rk),
             rd_kafka_err2name(err), parts ? parts->cnt : 0, coop ? "cooperative" : "eager");
    switch (err) {
    case RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS:
        /* Assign first, then tell the caller: it may pause the new partitions
         * or read their committed offsets, which needs them assigned. */
        if (coop)
            log_rd_error("incremental assign", rd_kafka_incremental_assign(rk, parts));
        else if (rd_kafka_assign(rk, parts) != RD_KAFKA_RESP_ERR_NO_ERROR)
            KF_LOG_W(MOD, "assign failed");
        kc->assigned_once = true;
        call_user(kc, KIO_REBALANCE_ASSIGNED, parts);
        break;
    case RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS: {
        /* Tell the caller first: it finishes its work on these partitions and
         * stores its last offsets while they are still ours to commit. */
        bool lost = rd_kafka_assignment_lost(rk);
        call_user(kc, lost ? KIO_REBALANCE_LOST : KIO_REBALANCE_REVOKED, parts);
        if (!lost && !kc->auto_commit) {
            /* With auto-commit librdkafka commits stored offsets of removed
             * partitions itself; without it, this is the last chance. */
            rd_kafka_resp_err_t cerr = rd_kafka_commit(rk, NULL, 0);
            if (cerr && cerr != RD_KAFKA_RESP_ERR__NO_OFFSET)
                KF_LOG_W(MOD, "commit on revoke: %s", rd_kafka_err2str(cerr));
        }
        if (coop)
            log_rd_error("incremental unassign", rd_kafka_incremental_unassign(rk, parts));
        else
            rd_kafka_assign(rk, NULL);
        break;
    }
    default:
        KF_LOG_W(MOD, "%s: rebalance error: %s", rd_kafka_name(rk), rd_kafka_err2str(err));
        if (coop && parts)
            log_rd_error("incremental unassign", rd_kafka_incremental_unassign(rk, parts));
        else
            rd_kafka_assign(rk, NULL);
        break;
    }
    kc->in_rebalance = false;
}

static void commit_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                      rd_kafka_topic_partition_list_t *offsets, void *opaque)
{
    kio_consumer *kc = opaque;
    (void)rk;
    if (err == RD_KAFKA_RESP_ERR__NO_OFFSET) {
        /* Nothing was stored: not a failure. */
        if (kc->commit_cb)
            kc->commit_cb(kc->c.opaque, 0, NULL);
        return;
    }
    int e = kio_err_from_rd(err);
    if (!kc->commit_cb) {
        if (e)
            KF_LOG_W(MOD, "commit failed: %s", rd_kafka_err2str(err));
        return;
    }
    kio_tplist *l = offsets ? kio_tplist_from_rd(offsets) : NULL;
    kc->commit_cb(kc->c.opaque, e, l);
    kio_tplist_free(l);
}

static bool conf_bool(rd_kafka_conf_t *conf, const char *name)
{
    char v[16];
    size_t size = sizeof(v);
    if (rd_kafka_conf_get(conf, name, v, &size) != RD_KAFKA_CONF_OK)
        return false;
    return !strcmp(v, "true");
}

kio_consumer *kio_consumer_new(const struct kio_opts *opts, const struct kio_consumer_opts *copts,
                               char *errstr, size_t errstr_size)
{
    static atomic_uint anon_seq;
    const struct kio_consumer_opts none = {0};
    if (!opts) {
        kf_errf(errstr, errstr_size, "kio_consumer_new: no options");
        return NULL;
    }
    if (!copts)
        copts = &none;
    kio_consumer *kc = calloc(1, sizeof(*kc));
    if (!kc) {
        kf_errf(errstr, errstr_size, "out of memory");
        return NULL;
    }
    kio_common_init(&kc->c, opts);
    kc->rebalance_cb = copts->rebalance_cb;
    kc->commit_cb = copts->commit_cb;
    kc->has_group = copts->group_id && *copts->group_id;

    /* librdkafka's KafkaConsumer needs a group.id even for manual assignment;
     * a reader without one (the control-topic reader) gets a private id that
     * no one joins and nothing is committed to. */
    char anon[96];
    snprintf(anon, sizeof(anon), "kfleet-private-%ld-%lld-%u", (long)getpid(),
             (long long)kf_clock_wall_ms(), atomic_fetch_add(&anon_seq, 1));
    const char *defaults[] = {
        "group.id",
        kc->has_group ? copts->group_id : anon,
        "partition.assignment.strategy",
        "cooperative-sticky",
        /* At-least-once: the caller stores offsets when it is done with a
         * message; auto-commit then commits only what was stored. */
        "enable.auto.offset.store",
        "false",
        "enable.auto.commit",
        kc->has_group ? "true" : "false",
        /* A new group must not skip requests that are already waiting. */
        "auto.offset.reset",
        "earliest",
        /* librdkafka's default, said out loud: a reader of the answers of
         * exactly-once workers sees only committed transactions, so each
         * request answered once (Java's consumer defaults to
         * read_uncommitted; docs/delivery.md). */
        "isolation.level",
        "read_committed",
        /* Last: a group member's join-state lines tell commits when to wait
         * (commit_must_wait). A caller's kafka.debug replaces this: add cgrp. */
        "debug",
        "cgrp",
        NULL,
    };
    if (!kc->has_group)
        defaults[sizeof(defaults) / sizeof(defaults[0]) - 3] = NULL;
    rd_kafka_conf_t *conf = kio_conf_build(opts, &kc->c, defaults, errstr, errstr_size);
    if (!conf)
        goto fail;
    kc->auto_commit = conf_bool(conf, "enable.auto.commit");
    kc->partition_eof = copts->partition_eof;
    if (kc->partition_eof &&
        rd_kafka_conf_set(conf, "enable.partition.eof", "true", NULL, 0) != RD_KAFKA_CONF_OK) {
        kf_errf(errstr, errstr_size, "consumer: enable.partition.eof refused");
        rd_kafka_conf_destroy(conf);
        goto fail;
    }
    rd_kafka_conf_set_rebalance_cb(conf, rebalance_cb);
    rd_kafka_conf_set_offset_commit_cb(conf, commit_cb);
    char why[512];
    kc->c.rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, why, sizeof(why));
    if (!kc->c.rk) {
        kf_errf(errstr, errstr_size, "consumer: %s", why);
        rd_kafka_conf_destroy(conf);
        goto fail;
    }
    conf = NULL; /* now owned by rk */
    /* One queue for everything: error, stats and commit callbacks are served
     * by kio_consumer_poll on the caller's thread. */
    rd_kafka_poll_set_consumer(kc->c.rk);
    return kc;
fail:
    free(kc);
    return NULL;
}

int kio_consumer_subscribe(kio_consumer *kc, const char *const *topics, size_t topic_count)
{
    if (!kc || !topics || !topic_count || !kc->has_group || kc->closed)
        return -EINVAL;
    rd_kafka_topic_partition_list_t *rl = rd_kafka_topic_partition_list_new((int)topic_count);
    for (size_t i = 0; i < topic_count; i++) {
        if (!topics[i] || !*topics[i]) {
            rd_kafka_topic_partition_list_destroy(rl);
            return -EINVAL;
        }
        rd_kafka_topic_partition_list_add(rl, topics[i], RD_KAFKA_PARTITION_UA);
    }
    rd_kafka_resp_err_t err = rd_kafka_subscribe(kc->c.rk, rl);
    rd_kafka_topic_partition_list_destroy(rl);
    if (err)
        return kio_err_from_rd(err);
    kc->subscribed = true;
    return 0;
}

int kio_consumer_unsubscribe(kio_consumer *kc)
{
    if (!kc)
        return -EINVAL;
    rd_kafka_resp_err_t err = rd_kafka_unsubscribe(kc->c.rk);
    if (err)
        return kio_err_from_rd(err);
    kc->subscribed = false;
    return 0;
}

int kio_consumer_assign(kio_consumer *kc, const kio_tplist *parts)
{
    if (!kc || kc->subscribed || kc->closed)
        return -EINVAL;
    if (!parts || !parts->count)
        return kio_err_from_rd(rd_kafka_assign(kc->c.rk, NULL));
    rd_kafka_topic_partition_list_t *rl = kio_tplist_to_rd(parts);
    if (!rl)
        return -ENOMEM;
    rd_kafka_resp_err_t err = rd_kafka_assign(kc->c.rk, rl);
    rd_kafka_topic_partition_list_destroy(rl);
    return kio_err_from_rd(err);
}

int kio_consumer_poll(kio_consumer *kc, int timeout_ms, kio_msg **msg)
{
    if (!kc || !msg)
        return -EINVAL;
    *msg = NULL;
    rd_kafka_message_t *rkm = rd_kafka_consumer_poll(kc->c.rk, timeout_ms);
    if (!rkm)
        return 0;
    if (rkm->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
        /* Not an error. A marker for a caller that asked for it (kfleetctl
         * trace: a transactional topic ends in a commit marker that no record
         * is delivered for, so the last record is not the high watermark). */
        if (!kc->partition_eof) {
            rd_kafka_message_destroy(rkm);
            return 0;
        }
        kio_msg *m = kio_msg_wrap(rkm);
        if (!m) {
            rd_kafka_message_destroy(rkm);
            return -ENOMEM;
        }
        *msg = m;
        return 0;
    }
    if (rkm->err) {
        bool fatal = rkm->err == RD_KAFKA_RESP_ERR__FATAL;
        int err = fatal ? -ENOTRECOVERABLE : kio_err_from_rd(rkm->err);
        char reason[768];
        if (rkm->rkt)
            snprintf(reason, sizeof(reason), "%s [%d]: %s", rd_kafka_topic_name(rkm->rkt),
                     rkm->partition, rd_kafka_message_errstr(rkm));
        else
            snprintf(reason, sizeof(reason), "%s", rd_kafka_message_errstr(rkm));
        rd_kafka_message_destroy(rkm);
        kio_report_error(&kc->c, err, fatal, reason);
        return err;
    }
    kio_msg *m = kio_msg_wrap(rkm);
    if (!m) {
        rd_kafka_message_destroy(rkm);
        return -ENOMEM;
    }
    *msg = m;
    return 0;
}

int kio_consumer_store(kio_consumer *kc, const char *topic, int32_t partition, int64_t next_offset)
{
    if (!kc || !topic || partition < 0 || next_offset < 0)
        return -EINVAL;
    rd_kafka_topic_partition_list_t *rl = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(rl, topic, partition)->offset = next_offset;
    rd_kafka_resp_err_t err = rd_kafka_offsets_store(kc->c.rk, rl);
    if (!err)
        err = rl->elems[0].err;
    rd_kafka_topic_partition_list_destroy(rl);
    return kio_err_from_rd(err);
}

int kio_consumer_store_msg(kio_consumer *kc, const kio_msg *msg)
{
    if (!msg)
        return -EINVAL;
    return kio_consumer_store(kc, msg->topic, msg->partition, msg->offset + 1);
}

static int commit_result(rd_kafka_resp_err_t err)
{
    return err == RD_KAFKA_RESP_ERR__NO_OFFSET ? 0 : kio_err_from_rd(err);
}

/* Whether an asynchronous commit now could reach the coordinator behind
 * this member's JoinGroup. The broker handles one request per connection at
 * a time, and a JoinGroup waits there until every member has rejoined, so a
 * commit sent meanwhile is read only after the generation changed: the
 * answer is ILLEGAL_GENERATION, and librdkafka 2.0.2 then drops the whole
 * assignment as lost (#4059, fixed in 2.10): every answer given since the
 * last commit is given again by the partitions' next owner. So commits wait
 * for the steady join state (librdkafka's cgrp debug line, kio_conf.c); the
 * stored offsets keep for the next commit. Inside the rebalance callback no
 * JoinGroup is pending, and the revoke's synchronous commit goes out. */
static bool commit_must_wait(kio_consumer *kc, bool async)
{
    return async && kc->has_group && atomic_load(&kc->c.group_unsettled);
}

int kio_consumer_commit(kio_consumer *kc, bool async)
{
    if (!kc)
        return -EINVAL;
    if (commit_must_wait(kc, async))
        return -EAGAIN;
    return commit_result(rd_kafka_commit(kc->c.rk, NULL, async));
}

int kio_consumer_commit_offsets(kio_consumer *kc, const kio_tplist *offsets, bool async)
{
    if (!kc || !offsets || !offsets->count)
        return -EINVAL;
    if (commit_must_wait(kc, async))
        return -EAGAIN;
    rd_kafka_topic_partition_list_t *rl = kio_tplist_to_rd(offsets);
    if (!rl)
        return -ENOMEM;
    int err = commit_result(rd_kafka_commit(kc->c.rk, rl, async));
    rd_kafka_topic_partition_list_destroy(rl);
    return err;
}

int kio_consumer_rewind(kio_consumer *kc, int timeout_ms)
{
    if (!kc)
        return -EINVAL;
    rd_kafka_topic_partition_list_t *rl = NULL;
    rd_kafka_resp_err_t err = rd_kafka_assignment(kc->c.rk, &rl);
    if (!err && rl->cnt)
        err = rd_kafka_committed(kc->c.rk, rl, timeout_ms);
    if (err) {
        rd_kafka_topic_partition_list_destroy(rl);
        return kio_err_from_rd(err);
    }
    for (int i = 0; i < rl->cnt; i++)
        if (rl->elems[i].offset < 0)
            rl->elems[i].offset = RD_KAFKA_OFFSET_BEGINNING;
    rd_kafka_error_t *error = rl->cnt ? rd_kafka_seek_partitions(kc->c.rk, rl, timeout_ms) : NULL;
    int e = kio_err_from_error(error);
    if (error)
        rd_kafka_error_destroy(error);
    for (int i = 0; i < rl->cnt && !e; i++)
        e = kio_err_from_rd(rl->elems[i].err);
    rd_kafka_topic_partition_list_destroy(rl);
    return e;
}

/* Copy offsets and errors back by position: librdkafka keeps the order. */
static void copy_back(kio_tplist *parts, const rd_kafka_topic_partition_list_t *rl)
{
    for (size_t i = 0; i < parts->count && (int)i < rl->cnt; i++) {
        parts->elems[i].offset = rl->elems[i].offset;
        parts->elems[i].err = kio_err_from_rd(rl->elems[i].err);
    }
}

int kio_consumer_committed(kio_consumer *kc, kio_tplist *parts, int timeout_ms)
{
    if (!kc || !parts)
        return -EINVAL;
    if (!parts->count)
        return 0;
    rd_kafka_topic_partition_list_t *rl = kio_tplist_to_rd(parts);
    if (!rl)
        return -ENOMEM;
    rd_kafka_resp_err_t err = rd_kafka_committed(kc->c.rk, rl, timeout_ms);
    if (!err)
        copy_back(parts, rl);
    rd_kafka_topic_partition_list_destroy(rl);
    return kio_err_from_rd(err);
}

int kio_consumer_watermarks(kio_consumer *kc, const char *topic, int32_t partition, int64_t *low,
                            int64_t *high, int timeout_ms)
{
    if (!kc || !topic || partition < 0 || !low || !high)
        return -EINVAL;
    /* A ListOffsets request to the partition's leader on this consumer's own
     * connections: no admin request, no group coordinator involved. */
    return kio_err_from_rd(
        rd_kafka_query_watermark_offsets(kc->c.rk, topic, partition, low, high, timeout_ms));
}

int kio_consumer_assignment(kio_consumer *kc, kio_tplist **out)
{
    if (!kc || !out)
        return -EINVAL;
    *out = NULL;
    rd_kafka_topic_partition_list_t *rl = NULL;
    rd_kafka_resp_err_t err = rd_kafka_assignment(kc->c.rk, &rl);
    if (err)
        return kio_err_from_rd(err);
    rd_kafka_position(kc->c.rk, rl);
    kio_tplist *l = kio_tplist_from_rd(rl);
    rd_kafka_topic_partition_list_destroy(rl);
    if (!l)
        return -ENOMEM;
    for (size_t i = 0; i < l->count; i++)
        if (l->elems[i].offset < 0)
            l->elems[i].offset = KIO_OFFSET_INVALID;
    *out = l;
    return 0;
}

static int pause_resume(kio_consumer *kc, kio_tplist *parts, bool pause)
{
    if (!kc || !parts)
        return -EINVAL;
    if (!parts->count)
        return 0;
    rd_kafka_topic_partition_list_t *rl = kio_tplist_to_rd(parts);
    if (!rl)
        return -ENOMEM;
    rd_kafka_resp_err_t err =
        pause ? rd_kafka_pause_partitions(kc->c.rk, rl) : rd_kafka_resume_partitions(kc->c.rk, rl);
    int ret = kio_err_from_rd(err);
    for (size_t i = 0; i < parts->count && (int)i < rl->cnt; i++) {
        parts->elems[i].err = kio_err_from_rd(rl->elems[i].err);
        if (!ret && parts->elems[i].err)
            ret = parts->elems[i].err == -ENOENT ? -ESTALE : parts->elems[i].err;
    }
    rd_kafka_topic_partition_list_destroy(rl);
    return ret;
}

int kio_consumer_pause(kio_consumer *kc, kio_tplist *parts)
{
    return pause_resume(kc, parts, true);
}

int kio_consumer_resume(kio_consumer *kc, kio_tplist *parts)
{
    return pause_resume(kc, parts, false);
}

char *kio_consumer_member_id(kio_consumer *kc)
{
    if (!kc)
        return NULL;
    char *id = rd_kafka_memberid(kc->c.rk);
    char *copy = strdup(id ? id : "");
    if (id)
        rd_kafka_mem_free(kc->c.rk, id);
    return copy;
}

bool kio_consumer_is_cooperative(kio_consumer *kc)
{
    return kc && is_cooperative(kc->c.rk);
}

uint64_t kio_consumer_rebalance_count(kio_consumer *kc)
{
    return kc ? kc->rebalances : 0;
}
