/* Consumer groups through the admin API: committed offsets
 * (ListConsumerGroupOffsets), lag against the partitions' watermarks, and the
 * members with their assignments (DescribeConsumerGroups, which librdkafka
 * 2.0.2 has, so no hand-decoding of rd_kafka_list_groups' assignment bytes). */
#include "common/kf_err.h"
#include "common/kio_admin_impl.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int kio_admin_group_offsets(kio_admin *ka, const char *group, const char *topic, kio_tplist **out,
                            int timeout_ms, char *errstr, size_t errstr_size)
{
    if (!ka || !group || !topic || !out)
        return -EINVAL;
    *out = NULL;
    int n = kio_admin_partition_count(ka, topic, timeout_ms, errstr, errstr_size);
    if (n < 0)
        return n;
    rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new(n);
    for (int p = 0; p < n; p++)
        rd_kafka_topic_partition_list_add(parts, topic, p);
    rd_kafka_ListConsumerGroupOffsets_t *req = rd_kafka_ListConsumerGroupOffsets_new(group, parts);
    rd_kafka_topic_partition_list_destroy(parts);
    rd_kafka_AdminOptions_t *o =
        kio_admin_options(ka, RD_KAFKA_ADMIN_OP_LISTCONSUMERGROUPOFFSETS, timeout_ms);
    rd_kafka_event_t *ev = NULL;
    rd_kafka_ListConsumerGroupOffsets(ka->c.rk, &req, 1, o, ka->q);
    int ret = kio_admin_wait(ka, timeout_ms, &ev, "list group offsets", errstr, errstr_size);
    if (ret)
        goto out;
    size_t cnt = 0;
    const rd_kafka_group_result_t **gr = rd_kafka_ListConsumerGroupOffsets_result_groups(
        rd_kafka_event_ListConsumerGroupOffsets_result(ev), &cnt);
    if (cnt < 1) {
        kf_errf(errstr, errstr_size, "group %s: empty answer", group);
        ret = -EIO;
        goto out;
    }
    const rd_kafka_error_t *gerr = rd_kafka_group_result_error(gr[0]);
    if (gerr) {
        kf_errf(errstr, errstr_size, "group %s: %s", group, rd_kafka_error_string(gerr));
        ret = kio_err_from_error(gerr);
        goto out;
    }
    kio_tplist *l = kio_tplist_from_rd(rd_kafka_group_result_partitions(gr[0]));
    if (!l) {
        ret = -ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < l->count; i++)
        if (l->elems[i].offset < 0)
            l->elems[i].offset = KIO_OFFSET_INVALID;
    kio_tplist_sort(l);
    *out = l;
out:
    if (ev)
        rd_kafka_event_destroy(ev);
    rd_kafka_AdminOptions_destroy(o);
    rd_kafka_ListConsumerGroupOffsets_destroy(req);
    return ret;
}

int kio_admin_group_lag(kio_admin *ka, const char *group, const char *topic,
                        struct kio_partition_lag **out, size_t *count, int timeout_ms, char *errstr,
                        size_t errstr_size)
{
    if (!ka || !group || !topic || !out || !count)
        return -EINVAL;
    *out = NULL;
    *count = 0;
    kio_tplist *committed = NULL;
    int ret =
        kio_admin_group_offsets(ka, group, topic, &committed, timeout_ms, errstr, errstr_size);
    if (ret)
        return ret;
    struct kio_partition_lag *lag = calloc(committed->count ? committed->count : 1, sizeof(*lag));
    if (!lag) {
        kio_tplist_free(committed);
        return -ENOMEM;
    }
    for (size_t i = 0; i < committed->count; i++) {
        const struct kio_tp *tp = &committed->elems[i];
        struct kio_partition_lag *pl = &lag[i];
        pl->partition = tp->partition;
        pl->committed = tp->offset;
        ret = kio_admin_watermarks(ka, topic, tp->partition, &pl->low, &pl->high, timeout_ms);
        if (ret) {
            kf_errf(errstr, errstr_size, "watermarks of %s [%d]: %s", topic, tp->partition,
                    kf_strerror(ret));
            free(lag);
            kio_tplist_free(committed);
            return ret;
        }
        /* Nothing committed: every retained message is still to be read. A
         * committed offset below the low watermark (retention removed the
         * rest) counts from the low watermark. */
        int64_t from = pl->committed >= 0 ? pl->committed : pl->low;
        if (from < pl->low)
            from = pl->low;
        pl->lag = pl->high > from ? pl->high - from : 0;
    }
    *count = committed->count;
    *out = lag;
    kio_tplist_free(committed);
    return 0;
}

static char *dup_or_empty(const char *s)
{
    char *d = strdup(s ? s : "");
    if (!d)
        abort(); /* bookkeeping-sized */
    return d;
}

static int group_from_rd(const rd_kafka_ConsumerGroupDescription_t *d, struct kio_group **out)
{
    struct kio_group *g = calloc(1, sizeof(*g));
    if (!g)
        return -ENOMEM;
    g->group_id = dup_or_empty(rd_kafka_ConsumerGroupDescription_group_id(d));
    /* librdkafka names states "Stable", "Empty", ...; keep them. */
    g->state = dup_or_empty(
        rd_kafka_consumer_group_state_name(rd_kafka_ConsumerGroupDescription_state(d)));
    g->assignor = dup_or_empty(rd_kafka_ConsumerGroupDescription_partition_assignor(d));
    size_t n = rd_kafka_ConsumerGroupDescription_member_count(d);
    g->members = calloc(n ? n : 1, sizeof(*g->members));
    if (!g->members) {
        kio_group_free(g);
        return -ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        const rd_kafka_MemberDescription_t *md = rd_kafka_ConsumerGroupDescription_member(d, i);
        struct kio_group_member *m = &g->members[i];
        const char *inst = rd_kafka_MemberDescription_group_instance_id(md);
        m->member_id = dup_or_empty(rd_kafka_MemberDescription_consumer_id(md));
        m->client_id = dup_or_empty(rd_kafka_MemberDescription_client_id(md));
        m->host = dup_or_empty(rd_kafka_MemberDescription_host(md));
        m->instance_id = inst && *inst ? dup_or_empty(inst) : NULL;
        const rd_kafka_MemberAssignment_t *ma = rd_kafka_MemberDescription_assignment(md);
        m->assignment = kio_tplist_from_rd(ma ? rd_kafka_MemberAssignment_partitions(ma) : NULL);
        g->member_count = i + 1; /* so kio_group_free frees what is filled */
        if (!m->assignment) {
            kio_group_free(g);
            return -ENOMEM;
        }
        kio_tplist_sort(m->assignment);
    }
    *out = g;
    return 0;
}

int kio_admin_group_describe(kio_admin *ka, const char *group, struct kio_group **out,
                             int timeout_ms, char *errstr, size_t errstr_size)
{
    if (!ka || !group || !out)
        return -EINVAL;
    *out = NULL;
    const char *groups[1] = {group};
    rd_kafka_AdminOptions_t *o =
        kio_admin_options(ka, RD_KAFKA_ADMIN_OP_DESCRIBECONSUMERGROUPS, timeout_ms);
    rd_kafka_event_t *ev = NULL;
    rd_kafka_DescribeConsumerGroups(ka->c.rk, groups, 1, o, ka->q);
    int ret = kio_admin_wait(ka, timeout_ms, &ev, "describe group", errstr, errstr_size);
    if (ret)
        goto out;
    size_t cnt = 0;
    const rd_kafka_ConsumerGroupDescription_t **ds = rd_kafka_DescribeConsumerGroups_result_groups(
        rd_kafka_event_DescribeConsumerGroups_result(ev), &cnt);
    if (cnt < 1) {
        kf_errf(errstr, errstr_size, "group %s: empty answer", group);
        ret = -EIO;
        goto out;
    }
    const rd_kafka_error_t *gerr = rd_kafka_ConsumerGroupDescription_error(ds[0]);
    if (gerr) {
        kf_errf(errstr, errstr_size, "group %s: %s", group, rd_kafka_error_string(gerr));
        ret = kio_err_from_error(gerr);
        goto out;
    }
    ret = group_from_rd(ds[0], out);
out:
    if (ev)
        rd_kafka_event_destroy(ev);
    rd_kafka_AdminOptions_destroy(o);
    return ret;
}

int kio_admin_group_delete(kio_admin *ka, const char *group, int timeout_ms, char *errstr,
                           size_t errstr_size)
{
    if (!ka || !group)
        return -EINVAL;
    rd_kafka_DeleteGroup_t *dg = rd_kafka_DeleteGroup_new(group);
    rd_kafka_AdminOptions_t *o = kio_admin_options(ka, RD_KAFKA_ADMIN_OP_DELETEGROUPS, timeout_ms);
    rd_kafka_event_t *ev = NULL;
    rd_kafka_DeleteGroups(ka->c.rk, &dg, 1, o, ka->q);
    int ret = kio_admin_wait(ka, timeout_ms, &ev, "delete group", errstr, errstr_size);
    if (ret)
        goto out;
    size_t cnt = 0;
    const rd_kafka_group_result_t **gr =
        rd_kafka_DeleteGroups_result_groups(rd_kafka_event_DeleteGroups_result(ev), &cnt);
    if (cnt >= 1 && rd_kafka_group_result_error(gr[0])) {
        const rd_kafka_error_t *gerr = rd_kafka_group_result_error(gr[0]);
        kf_errf(errstr, errstr_size, "delete group %s: %s", group, rd_kafka_error_string(gerr));
        ret = kio_err_from_error(gerr);
    }
out:
    if (ev)
        rd_kafka_event_destroy(ev);
    rd_kafka_AdminOptions_destroy(o);
    rd_kafka_DeleteGroup_destroy(dg);
    return ret;
}
