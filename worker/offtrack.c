#include "worker/offtrack.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* Per partition: the in-flight offsets in increasing order, in a ring, with a
 * settled flag each. Settling the head pops every settled entry after it. */
struct inflight {
    int64_t offset;
    bool settled;
};

struct part {
    int32_t partition;
    struct inflight *ring;
    size_t cap, head, n;
    int64_t last_taken;     /* -1 before the first */
    int64_t next_to_commit; /* first unsettled offset, or last settled + 1; -1 unknown */
    int64_t committed;      /* what offtrack_committed() was last told */
};

struct offtrack {
    struct part *parts;
    size_t nparts;
};

offtrack *offtrack_new(void)
{
    return calloc(1, sizeof(offtrack));
}

void offtrack_free(offtrack *ot)
{
    if (!ot)
        return;
    for (size_t i = 0; i < ot->nparts; i++)
        free(ot->parts[i].ring);
    free(ot->parts);
    free(ot);
}

static struct part *part_find(const offtrack *ot, int32_t partition)
{
    for (size_t i = 0; i < ot->nparts; i++)
        if (ot->parts[i].partition == partition)
            return &ot->parts[i];
    return NULL;
}

static struct part *part_get(offtrack *ot, int32_t partition)
{
    struct part *p = part_find(ot, partition);
    if (p)
        return p;
    struct part *parts = realloc(ot->parts, (ot->nparts + 1) * sizeof(*parts));
    if (!parts)
        return NULL;
    ot->parts = parts;
    p = &parts[ot->nparts++];
    memset(p, 0, sizeof(*p));
    p->partition = partition;
    p->last_taken = p->next_to_commit = p->committed = -1;
    return p;
}

static struct inflight *at(struct part *p, size_t i)
{
    return &p->ring[(p->head + i) % p->cap];
}

static int grow(struct part *p)
{
    size_t cap = p->cap ? p->cap * 2 : 256;
    struct inflight *ring = malloc(cap * sizeof(*ring));
    if (!ring)
        return -ENOMEM;
    for (size_t i = 0; i < p->n; i++)
        ring[i] = *at(p, i);
    free(p->ring);
    p->ring = ring;
    p->cap = cap;
    p->head = 0;
    return 0;
}

int offtrack_begin(offtrack *ot, int32_t partition, int64_t offset)
{
    struct part *p = part_get(ot, partition);
    if (!p)
        return -ENOMEM;
    if (offset <= p->last_taken || offset < 0)
        return -EINVAL;
    if (p->n == p->cap && grow(p))
        return -ENOMEM;
    *at(p, p->n) = (struct inflight){.offset = offset};
    p->n++;
    p->last_taken = offset;
    p->next_to_commit = at(p, 0)->offset;
    return 0;
}

int offtrack_settle(offtrack *ot, int32_t partition, int64_t offset)
{
    struct part *p = part_find(ot, partition);
    if (!p || !p->n)
        return -ENOENT;
    /* Offsets in the ring increase: binary search. */
    size_t lo = 0, hi = p->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (at(p, mid)->offset < offset)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == p->n || at(p, lo)->offset != offset || at(p, lo)->settled)
        return -ENOENT;
    at(p, lo)->settled = true;
    while (p->n && at(p, 0)->settled) {
        p->next_to_commit = at(p, 0)->offset + 1;
        p->head = (p->head + 1) % p->cap;
        p->n--;
    }
    if (p->n)
        p->next_to_commit = at(p, 0)->offset;
    return 0;
}

int64_t offtrack_committable(const offtrack *ot, int32_t partition)
{
    const struct part *p = part_find(ot, partition);
    if (!p || p->next_to_commit < 0 || p->next_to_commit == p->committed)
        return -1;
    return p->next_to_commit;
}

void offtrack_committed(offtrack *ot, int32_t partition, int64_t offset)
{
    struct part *p = part_find(ot, partition);
    if (p)
        p->committed = offset;
}

size_t offtrack_inflight(const offtrack *ot, int32_t partition)
{
    const struct part *p = part_find(ot, partition);
    return p ? p->n : 0;
}

size_t offtrack_inflight_total(const offtrack *ot)
{
    size_t n = 0;
    for (size_t i = 0; i < ot->nparts; i++)
        n += ot->parts[i].n;
    return n;
}

void offtrack_forget(offtrack *ot, int32_t partition)
{
    struct part *p = part_find(ot, partition);
    if (!p)
        return;
    free(p->ring);
    *p = ot->parts[--ot->nparts];
}
