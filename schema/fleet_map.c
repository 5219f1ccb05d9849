/* The reducer's hash tables: open addressing with linear probing, keys copied
 * into one arena per table, nothing ever deleted (a fold only grows). They
 * make every per-event lookup O(1) on average, which is what keeps a fold of
 * a log flooded with forged events linear (docs/security.md). */
#include "schema/fleet_impl.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* 64-bit hash, 8 bytes at a time (a multiply-xorshift mix in the style of
 * MurmurHash64A). Not keyed: only events that passed the cheap
 * authentication checks are ever inserted, so an attacker cannot fill a
 * table with colliding keys. */
uint64_t fleet_hash(const void *p, size_t len, uint64_t seed)
{
    const uint64_t m = 0xc6a4a7935bd1e995ull;
    const unsigned char *b = p;
    uint64_t h = seed ^ (len * m);
    while (len >= 8) {
        uint64_t k;
        memcpy(&k, b, 8);
        k *= m;
        k ^= k >> 47;
        k *= m;
        h ^= k;
        h *= m;
        b += 8;
        len -= 8;
    }
    uint64_t t = 0;
    for (size_t i = 0; i < len; i++)
        t |= (uint64_t)b[i] << (8 * i);
    if (len) {
        h ^= t;
        h *= m;
    }
    h ^= h >> 47;
    h *= m;
    h ^= h >> 47;
    return h ? h : 1; /* 0 marks an empty slot of a fleet_hset */
}

static uint64_t str_hash(const char *s)
{
    return fleet_hash(s, strlen(s), 0x6b666c656574ull);
}

static int map_grow(struct fleet_map *mp)
{
    size_t ncap = mp->cap ? mp->cap * 2 : 64;
    struct fleet_map_slot *ns = calloc(ncap, sizeof(*ns));
    if (!ns)
        return -ENOMEM;
    for (size_t i = 0; i < mp->cap; i++) {
        if (!mp->slots[i].used)
            continue;
        size_t j = mp->slots[i].h & (ncap - 1);
        while (ns[j].used)
            j = (j + 1) & (ncap - 1);
        ns[j] = mp->slots[i];
    }
    free(mp->slots);
    mp->slots = ns;
    mp->cap = ncap;
    return 0;
}

static struct fleet_map_slot *map_slot(const struct fleet_map *mp, const char *key, uint64_t h)
{
    if (!mp->cap)
        return NULL;
    for (size_t j = h & (mp->cap - 1);; j = (j + 1) & (mp->cap - 1)) {
        struct fleet_map_slot *s = &mp->slots[j];
        if (!s->used || (s->h == h && !strcmp(mp->keys + s->koff, key)))
            return s;
    }
}

int fleet_map_get(const struct fleet_map *mp, const char *key, uint64_t *val)
{
    struct fleet_map_slot *s = map_slot(mp, key, str_hash(key));
    if (!s || !s->used)
        return -ENOENT;
    if (val)
        *val = s->val;
    return 0;
}

int fleet_map_put(struct fleet_map *mp, const char *key, uint64_t val)
{
    uint64_t h = str_hash(key);
    struct fleet_map_slot *s = map_slot(mp, key, h);
    if (s && s->used) {
        s->val = val;
        return 0;
    }
    size_t klen = strlen(key) + 1;
    if ((mp->n + 1) * 4 > mp->cap * 3 && map_grow(mp))
        return -ENOMEM;
    if (mp->keys_len + klen > mp->keys_cap) {
        size_t ncap = mp->keys_cap ? mp->keys_cap * 2 : 4096;
        while (ncap < mp->keys_len + klen)
            ncap *= 2;
        if (ncap > UINT32_MAX)
            return -ENOMEM;
        char *nk = realloc(mp->keys, ncap);
        if (!nk)
            return -ENOMEM;
        mp->keys = nk;
        mp->keys_cap = ncap;
    }
    s = map_slot(mp, key, h);
    if (!s)
        return -ENOMEM; /* cannot happen after the grow; says so to the compiler too */
    memcpy(mp->keys + mp->keys_len, key, klen);
    *s = (struct fleet_map_slot){.h = h, .val = val, .koff = (uint32_t)mp->keys_len, .used = 1};
    mp->keys_len += klen;
    mp->n++;
    return 0;
}

void fleet_map_clear(struct fleet_map *mp)
{
    if (mp->slots)
        memset(mp->slots, 0, mp->cap * sizeof(*mp->slots));
    mp->n = 0;
    mp->keys_len = 0;
}

void fleet_map_fini(struct fleet_map *mp)
{
    free(mp->slots);
    free(mp->keys);
    memset(mp, 0, sizeof(*mp));
}

int fleet_hset_add(struct fleet_hset *hs, uint64_t h)
{
    if (!h)
        h = 1;
    if ((hs->n + 1) * 4 > hs->cap * 3) {
        size_t ncap = hs->cap ? hs->cap * 2 : 1024;
        uint64_t *ns = calloc(ncap, sizeof(*ns));
        if (!ns)
            return -ENOMEM;
        for (size_t i = 0; i < hs->cap; i++) {
            if (!hs->slots[i])
                continue;
            size_t j = hs->slots[i] & (ncap - 1);
            while (ns[j])
                j = (j + 1) & (ncap - 1);
            ns[j] = hs->slots[i];
        }
        free(hs->slots);
        hs->slots = ns;
        hs->cap = ncap;
    }
    size_t j = h & (hs->cap - 1);
    for (; hs->slots[j]; j = (j + 1) & (hs->cap - 1))
        if (hs->slots[j] == h)
            return 0;
    hs->slots[j] = h;
    hs->n++;
    return 1;
}

bool fleet_hset_has(const struct fleet_hset *hs, uint64_t h)
{
    if (!h)
        h = 1;
    for (size_t j = hs->cap ? h & (hs->cap - 1) : 0; hs->cap && hs->slots[j];
         j = (j + 1) & (hs->cap - 1))
        if (hs->slots[j] == h)
            return true;
    return false;
}

void fleet_hset_fini(struct fleet_hset *hs)
{
    free(hs->slots);
    memset(hs, 0, sizeof(*hs));
}
