/* The admin client and its topic operations. Every admin request goes out on
 * one result queue and is waited for with a bound: the caller gets an answer
 * or -ETIMEDOUT, never a hang. */
#include "common/kf_err.h"
#include "common/kio_admin_impl.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* librdkafka's own request timeout plus this much before we give up waiting. */
#define WAIT_SLACK_MS 2000

kio_admin *kio_admin_new(const struct kio_opts *opts, char *errstr, size_t errstr_size)
{
    if (!opts) {
        kf_errf(errstr, errstr_size, "kio_admin_new: no options");
        return NULL;
    }
    kio_admin *ka = calloc(1, sizeof(*ka));
    if (!ka) {
        kf_errf(errstr, errstr_size, "out of memory");
        return NULL;
    }
    kio_common_init(&ka->c, opts);
    rd_kafka_conf_t *conf = kio_conf_build(opts, &ka->c, NULL, errstr, errstr_size);
    if (!conf)
        goto fail;
    char why[512];
    /* The admin API runs on any client type; a producer starts no group. */
    ka->c.rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, why, sizeof(why));
    if (!ka->c.rk) {
        kf_errf(errstr, errstr_size, "admin: %s", why);
        rd_kafka_conf_destroy(conf);
        goto fail;
    }
    conf = NULL; /* now owned by rk */
    ka->q = rd_kafka_queue_new(ka->c.rk);
    return ka;
fail:
    free(ka);
    return NULL;
}

void kio_admin_free(kio_admin *ka)
{
    if (!ka)
        return;
    if (ka->q)
        rd_kafka_queue_destroy(ka->q);
    rd_kafka_destroy(ka->c.rk);
    free(ka);
}

rd_kafka_AdminOptions_t *kio_admin_options(kio_admin *ka, rd_kafka_admin_op_t op, int timeout_ms)
{
    rd_kafka_AdminOptions_t *o = rd_kafka_AdminOptions_new(ka->c.rk, op);
    char ignore[256];
    rd_kafka_AdminOptions_set_request_timeout(o, timeout_ms, ignore, sizeof(ignore));
    if (op == RD_KAFKA_ADMIN_OP_CREATETOPICS || op == RD_KAFKA_ADMIN_OP_DELETETOPICS)
        /* Wait for the controller to finish, not just to accept. */
        rd_kafka_AdminOptions_set_operation_timeout(o, timeout_ms, ignore, sizeof(ignore));
    return o;
}

int kio_admin_wait(kio_admin *ka, int timeout_ms, rd_kafka_event_t **ev, const char *what,
                   char *errstr, size_t errstr_size)
{
    /* Nobody else polls an admin client: serve its error and statistics
     * callbacks here, or they would pile up on the main queue. */
    rd_kafka_poll(ka->c.rk, 0);
    /* Error and log events may share the queue; skip them until the result. */
    rd_kafka_event_t *e;
    for (;;) {
        e = rd_kafka_queue_poll(ka->q, timeout_ms + WAIT_SLACK_MS);
        if (!e) {
            kf_errf(errstr, errstr_size, "%s: no answer within %d ms", what, timeout_ms);
            return -ETIMEDOUT;
        }
        if (rd_kafka_event_type(e) != RD_KAFKA_EVENT_ERROR &&
            rd_kafka_event_type(e) != RD_KAFKA_EVENT_LOG)
            break;
        rd_kafka_event_destroy(e);
    }
    rd_kafka_resp_err_t err = rd_kafka_event_error(e);
    if (err) {
        kf_errf(errstr, errstr_size, "%s: %s", what, rd_kafka_event_error_string(e));
        rd_kafka_event_destroy(e);
        return kio_err_from_rd(err);
    }
    *ev = e;
    return 0;
}

/* Report the first failing per-topic result; exist_ok skips "already exists". */
static int topic_results(const rd_kafka_topic_result_t **res, size_t cnt, bool exist_ok,
                         const char *what, char *errstr, size_t errstr_size)
{
    for (size_t i = 0; i < cnt; i++) {
        rd_kafka_resp_err_t e = rd_kafka_topic_result_error(res[i]);
        if (!e || (exist_ok && e == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS))
            continue;
        const char *s = rd_kafka_topic_result_error_string(res[i]);
        kf_errf(errstr, errstr_size, "%s %s: %s", what, rd_kafka_topic_result_name(res[i]),
                s ? s : rd_kafka_err2str(e));
        return kio_err_from_rd(e);
    }
    return 0;
}

int kio_admin_topics_create(kio_admin *ka, const struct kio_topic_spec *specs, size_t count,
                            bool exist_ok, int timeout_ms, char *errstr, size_t errstr_size)
{
    if (!ka || !specs || !count || timeout_ms <= 0)
        return -EINVAL;
    int ret = 0;
    rd_kafka_event_t *ev = NULL;
    rd_kafka_AdminOptions_t *o = NULL;
    rd_kafka_NewTopic_t **nt = calloc(count, sizeof(*nt));
    if (!nt)
        return -ENOMEM;
    for (size_t i = 0; i < count; i++) {
        char why[256];
        int rf = specs[i].replication_factor > 0 ? specs[i].replication_factor : -1;
        if (!specs[i].name || specs[i].partitions < 1) {
            kf_errf(errstr, errstr_size, "topic %zu: a name and >= 1 partition are required", i);
            ret = -EINVAL;
            goto out;
        }
        nt[i] = rd_kafka_NewTopic_new(specs[i].name, specs[i].partitions, rf, why, sizeof(why));
        if (!nt[i]) {
            kf_errf(errstr, errstr_size, "topic %s: %s", specs[i].name, why);
            ret = -EINVAL;
            goto out;
        }
        for (size_t k = 0; specs[i].configs && specs[i].configs[k]; k += 2) {
            const char *key = specs[i].configs[k], *val = specs[i].configs[k + 1];
            if (!val || rd_kafka_NewTopic_set_config(nt[i], key, val)) {
                kf_errf(errstr, errstr_size, "topic %s: bad config '%s'", specs[i].name, key);
                ret = -EINVAL;
                goto out;
            }
        }
    }
    o = kio_admin_options(ka, RD_KAFKA_ADMIN_OP_CREATETOPICS, timeout_ms);
    rd_kafka_CreateTopics(ka->c.rk, nt, count, o, ka->q);
    ret = kio_admin_wait(ka, timeout_ms, &ev, "create topics", errstr, errstr_size);
    if (ret)
        goto out;
    size_t cnt = 0;
    const rd_kafka_topic_result_t **res =
        rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev), &cnt);
    ret = topic_results(res, cnt, exist_ok, "create topic", errstr, errstr_size);
out:
    if (ev)
        rd_kafka_event_destroy(ev);
    if (o)
        rd_kafka_AdminOptions_destroy(o);
    for (size_t i = 0; i < count; i++)
        if (nt[i])
            rd_kafka_NewTopic_destroy(nt[i]);
    free(nt);
    return ret;
}

int kio_admin_topics_delete(kio_admin *ka, const char *const *names, size_t count, int timeout_ms,
                            char *errstr, size_t errstr_size)
{
    if (!ka || !names || !count || timeout_ms <= 0)
        return -EINVAL;
    rd_kafka_DeleteTopic_t **dt = calloc(count, sizeof(*dt));
    if (!dt)
        return -ENOMEM;
    int ret = 0;
    rd_kafka_event_t *ev = NULL;
    rd_kafka_AdminOptions_t *o = NULL;
    for (size_t i = 0; i < count; i++) {
        if (!names[i]) {
            ret = -EINVAL;
            goto out;
        }
        dt[i] = rd_kafka_DeleteTopic_new(names[i]);
    }
    o = kio_admin_options(ka, RD_KAFKA_ADMIN_OP_DELETETOPICS, timeout_ms);
    rd_kafka_DeleteTopics(ka->c.rk, dt, count, o, ka->q);
    ret = kio_admin_wait(ka, timeout_ms, &ev, "delete topics", errstr, errstr_size);
    if (ret)
        goto out;
    size_t cnt = 0;
    const rd_kafka_topic_result_t **res =
        rd_kafka_DeleteTopics_result_topics(rd_kafka_event_DeleteTopics_result(ev), &cnt);
    ret = topic_results(res, cnt, false, "delete topic", errstr, errstr_size);
out:
    if (ev)
        rd_kafka_event_destroy(ev);
    if (o)
        rd_kafka_AdminOptions_destroy(o);
    for (size_t i = 0; i < count; i++)
        if (dt[i])
            rd_kafka_DeleteTopic_destroy(dt[i]);
    free(dt);
    return ret;
}

int kio_admin_partition_count(kio_admin *ka, const char *topic, int timeout_ms, char *errstr,
                              size_t errstr_size)
{
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_poll(ka->c.rk, 0); /* serve callbacks, see kio_admin_wait */
    rd_kafka_resp_err_t err = rd_kafka_metadata(ka->c.rk, 1, NULL, &md, timeout_ms);
    if (err) {
        kf_errf(errstr, errstr_size, "metadata: %s", rd_kafka_err2str(err));
        return kio_err_from_rd(err);
    }
    int ret = -ENOENT;
    for (int i = 0; i < md->topic_cnt; i++) {
        if (strcmp(md->topics[i].topic, topic))
            continue;
        if (md->topics[i].err)
            ret = kio_err_from_rd(md->topics[i].err);
        else
            ret = md->topics[i].partition_cnt > 0 ? md->topics[i].partition_cnt : -ENOENT;
        break;
    }
    rd_kafka_metadata_destroy(md);
    if (ret < 0)
        kf_errf(errstr, errstr_size, "topic %s: %s", topic,
                ret == -ENOENT ? "no such topic" : kf_strerror(ret));
    return ret;
}

int kio_admin_topic_partitions(kio_admin *ka, const char *topic, int timeout_ms, char *errstr,
                               size_t errstr_size)
{
    if (!ka || !topic)
        return -EINVAL;
    return kio_admin_partition_count(ka, topic, timeout_ms, errstr, errstr_size);
}

int kio_admin_topic_config(kio_admin *ka, const char *topic, const char *name, char *value,
                           size_t value_size, int timeout_ms, char *errstr, size_t errstr_size)
{
    if (!ka || !topic || !name || !value || !value_size)
        return -EINVAL;
    rd_kafka_ConfigResource_t *res = rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, topic);
    rd_kafka_AdminOptions_t *o =
        kio_admin_options(ka, RD_KAFKA_ADMIN_OP_DESCRIBECONFIGS, timeout_ms);
    rd_kafka_event_t *ev = NULL;
    rd_kafka_DescribeConfigs(ka->c.rk, &res, 1, o, ka->q);
    int ret = kio_admin_wait(ka, timeout_ms, &ev, "describe configs", errstr, errstr_size);
    if (ret)
        goto out;
    size_t nres = 0;
    const rd_kafka_ConfigResource_t **rs =
        rd_kafka_DescribeConfigs_result_resources(rd_kafka_event_DescribeConfigs_result(ev), &nres);
    ret = -ENOENT;
    if (nres < 1)
        goto out;
    if (rd_kafka_ConfigResource_error(rs[0])) {
        ret = kio_err_from_rd(rd_kafka_ConfigResource_error(rs[0]));
        kf_errf(errstr, errstr_size, "topic %s: %s", topic,
                rd_kafka_ConfigResource_error_string(rs[0]));
        goto out;
    }
    size_t nent = 0;
    const rd_kafka_ConfigEntry_t **ents = rd_kafka_ConfigResource_configs(rs[0], &nent);
    for (size_t i = 0; i < nent; i++) {
        if (strcmp(rd_kafka_ConfigEntry_name(ents[i]), name))
            continue;
        const char *v = rd_kafka_ConfigEntry_value(ents[i]);
        snprintf(value, value_size, "%s", v ? v : "");
        ret = 0;
        break;
    }
    if (ret)
        kf_errf(errstr, errstr_size, "topic %s has no config entry '%s'", topic, name);
out:
    if (ev)
        rd_kafka_event_destroy(ev);
    rd_kafka_AdminOptions_destroy(o);
    rd_kafka_ConfigResource_destroy(res);
    return ret;
}

int kio_admin_watermarks(kio_admin *ka, const char *topic, int32_t partition, int64_t *low,
                         int64_t *high, int timeout_ms)
{
    if (!ka || !topic || partition < 0 || !low || !high)
        return -EINVAL;
    rd_kafka_poll(ka->c.rk, 0); /* serve callbacks, see kio_admin_wait */
    return kio_err_from_rd(
        rd_kafka_query_watermark_offsets(ka->c.rk, topic, partition, low, high, timeout_ms));
}
