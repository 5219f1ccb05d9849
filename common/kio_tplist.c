/* kio's own topic-partition lists, and the conversions to and from
 * librdkafka's, so no rd_kafka_topic_partition_list_t crosses the API. */
#include "common/kio_impl.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

kio_tplist *kio_tplist_new(size_t size_hint)
{
    kio_tplist *l = calloc(1, sizeof(*l));
    if (!l)
        return NULL;
    if (size_hint) {
        l->elems = calloc(size_hint, sizeof(*l->elems));
        if (!l->elems) {
            free(l);
            return NULL;
        }
        l->cap = size_hint;
    }
    return l;
}

void kio_tplist_free(kio_tplist *l)
{
    if (!l)
        return;
    for (size_t i = 0; i < l->count; i++)
        free(l->elems[i].topic);
    free(l->elems);
    free(l);
}

int kio_tplist_add(kio_tplist *l, const char *topic, int32_t partition, int64_t offset)
{
    if (!l || !topic || partition < 0)
        return -EINVAL;
    if (l->count == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 8;
        struct kio_tp *e = realloc(l->elems, cap * sizeof(*e));
        if (!e)
            return -ENOMEM;
        l->elems = e;
        l->cap = cap;
    }
    char *t = strdup(topic);
    if (!t)
        return -ENOMEM;
    l->elems[l->count++] = (struct kio_tp){
        .topic = t,
        .partition = partition,
        .offset = offset,
        .err = 0,
    };
    return 0;
}

struct kio_tp *kio_tplist_find(const kio_tplist *l, const char *topic, int32_t partition)
{
    if (!l || !topic)
        return NULL;
    for (size_t i = 0; i < l->count; i++)
        if (l->elems[i].partition == partition && !strcmp(l->elems[i].topic, topic))
            return &l->elems[i];
    return NULL;
}

kio_tplist *kio_tplist_copy(const kio_tplist *l)
{
    if (!l)
        return NULL;
    kio_tplist *c = kio_tplist_new(l->count);
    if (!c)
        return NULL;
    for (size_t i = 0; i < l->count; i++) {
        if (kio_tplist_add(c, l->elems[i].topic, l->elems[i].partition, l->elems[i].offset)) {
            kio_tplist_free(c);
            return NULL;
        }
        c->elems[i].err = l->elems[i].err;
    }
    return c;
}

static int tp_cmp(const void *a, const void *b)
{
    const struct kio_tp *x = a, *y = b;
    int c = strcmp(x->topic, y->topic);
    if (c)
        return c;
    return (x->partition > y->partition) - (x->partition < y->partition);
}

void kio_tplist_sort(kio_tplist *l)
{
    if (l && l->count > 1)
        qsort(l->elems, l->count, sizeof(*l->elems), tp_cmp);
}

rd_kafka_topic_partition_list_t *kio_tplist_to_rd(const kio_tplist *l)
{
    size_t n = l ? l->count : 0;
    rd_kafka_topic_partition_list_t *rl =
        rd_kafka_topic_partition_list_new(n > 0 && n < INT32_MAX ? (int)n : 1);
    if (!rl)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        rd_kafka_topic_partition_t *tp =
            rd_kafka_topic_partition_list_add(rl, l->elems[i].topic, l->elems[i].partition);
        tp->offset = l->elems[i].offset;
    }
    return rl;
}

kio_tplist *kio_tplist_from_rd(const rd_kafka_topic_partition_list_t *rl)
{
    kio_tplist *l = kio_tplist_new(rl ? (size_t)rl->cnt : 0);
    if (!l || !rl)
        return l;
    for (int i = 0; i < rl->cnt; i++) {
        const rd_kafka_topic_partition_t *tp = &rl->elems[i];
        /* librdkafka's "no offset" is -1001 too, but keep the mapping explicit. */
        int64_t off = tp->offset == RD_KAFKA_OFFSET_INVALID ? KIO_OFFSET_INVALID : tp->offset;
        if (kio_tplist_add(l, tp->topic, tp->partition, off)) {
            kio_tplist_free(l);
            return NULL;
        }
        l->elems[l->count - 1].err = kio_err_from_rd(tp->err);
    }
    return l;
}
