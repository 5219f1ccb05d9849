/* Per-partition lag from librdkafka's statistics (STATISTICS.md: topics →
 * <topic> → partitions → <id> → consumer_lag). In librdkafka 2.0.2
 * consumer_lag is hi_offset − committed_offset, -1 while either is unknown. */
#include "worker/lag_stats.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

int lag_stats_parse(const char *json, size_t len, const char *topic, const kio_tplist *assigned,
                    kio_tplist **out)
{
    if (!json || !topic || !out)
        return -EINVAL;
    *out = NULL;
    json_t *root = json_loadb(json, len, 0, NULL);
    if (!json_is_object(root)) {
        json_decref(root);
        return -EPROTO;
    }
    int err = 0;
    kio_tplist *l = kio_tplist_new(assigned ? assigned->count : 0);
    if (!l) {
        err = -ENOMEM;
        goto out;
    }
    /* A topic the statistics do not list yet (no metadata) has no lag to give. */
    json_t *parts =
        json_object_get(json_object_get(json_object_get(root, "topics"), topic), "partitions");
    for (size_t i = 0; assigned && json_is_object(parts) && i < assigned->count; i++) {
        const struct kio_tp *tp = &assigned->elems[i];
        if (tp->partition < 0 || strcmp(tp->topic, topic))
            continue;
        char key[16];
        snprintf(key, sizeof(key), "%d", tp->partition);
        json_t *lag = json_object_get(json_object_get(parts, key), "consumer_lag");
        if (!json_is_integer(lag) || json_integer_value(lag) < 0)
            continue;
        if ((err = kio_tplist_add(l, topic, tp->partition, (int64_t)json_integer_value(lag))))
            goto out;
    }
    kio_tplist_sort(l);
    *out = l;
    l = NULL;
out:
    kio_tplist_free(l);
    json_decref(root);
    return err;
}
