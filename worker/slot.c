#include "worker/slot.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct model_slot {
    pthread_mutex_t lock;
    char model[SCHEMA_NAME_CAP];
    struct slot_version *active, *standby;
    size_t retiring_bytes; /* dropped but still referenced by in-flight batches */
};

model_slot *slot_new(const char *model)
{
    model_slot *s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    pthread_mutex_init(&s->lock, NULL);
    snprintf(s->model, sizeof(s->model), "%s", model);
    return s;
}

const char *slot_model(const model_slot *s)
{
    return s->model;
}

/* Drop the slot's own reference; returns the version if it must be destroyed
 * now (outside the lock: destroy frees device memory and may take a while). */
static struct slot_version *unref_locked(model_slot *s, struct slot_version *v)
{
    if (!v)
        return NULL;
    if (--v->refs == 0)
        return v;
    s->retiring_bytes += v->weight_bytes; /* batches still use it */
    return NULL;
}

static void destroy(struct slot_version *v)
{
    if (v && v->destroy)
        v->destroy(v);
}

void slot_free(model_slot *s)
{
    if (!s)
        return;
    pthread_mutex_lock(&s->lock);
    struct slot_version *a = unref_locked(s, s->active);
    struct slot_version *b = unref_locked(s, s->standby);
    s->active = s->standby = NULL;
    pthread_mutex_unlock(&s->lock);
    destroy(a);
    destroy(b);
    pthread_mutex_destroy(&s->lock);
    free(s);
}

struct slot_version *slot_acquire(model_slot *s, const char *version)
{
    pthread_mutex_lock(&s->lock);
    /* Only the live version serves, pinned or not: a standby is a blue/green
     * stage (not cut over yet) or the version a cutover left (kept for a
     * flip back); neither has passed or still holds the fleet's verdict. */
    struct slot_version *v = s->active;
    if (version && v && strcmp(v->version, version))
        v = NULL;
    if (v)
        v->refs++;
    pthread_mutex_unlock(&s->lock);
    return v;
}

void slot_release(model_slot *s, struct slot_version *v)
{
    if (!v)
        return;
    pthread_mutex_lock(&s->lock);
    bool resident = v == s->active || v == s->standby;
    struct slot_version *dead = NULL;
    if (--v->refs == 0) {
        if (!resident)
            s->retiring_bytes -= v->weight_bytes;
        dead = v;
    }
    pthread_mutex_unlock(&s->lock);
    destroy(dead);
}

void slot_activate(model_slot *s, struct slot_version *v)
{
    v->refs = 1; /* the slot's own reference */
    pthread_mutex_lock(&s->lock);
    struct slot_version *old = s->active, *old_standby = NULL;
    s->active = v;
    if (s->standby && !strcmp(s->standby->version, v->version)) {
        old_standby = s->standby;
        s->standby = NULL;
    }
    struct slot_version *d1 = unref_locked(s, old);
    struct slot_version *d2 = unref_locked(s, old_standby);
    pthread_mutex_unlock(&s->lock);
    destroy(d1);
    destroy(d2);
}

void slot_stage(model_slot *s, struct slot_version *v)
{
    v->refs = 1;
    pthread_mutex_lock(&s->lock);
    struct slot_version *old = s->standby;
    s->standby = v;
    struct slot_version *d = unref_locked(s, old);
    pthread_mutex_unlock(&s->lock);
    destroy(d);
}

int slot_flip(model_slot *s)
{
    pthread_mutex_lock(&s->lock);
    if (!s->standby) {
        pthread_mutex_unlock(&s->lock);
        return -ENOENT;
    }
    struct slot_version *t = s->active;
    s->active = s->standby;
    s->standby = t;
    pthread_mutex_unlock(&s->lock);
    return 0;
}

void slot_unstage(model_slot *s)
{
    pthread_mutex_lock(&s->lock);
    struct slot_version *d = unref_locked(s, s->standby);
    s->standby = NULL;
    pthread_mutex_unlock(&s->lock);
    destroy(d);
}

void slot_drop_active(model_slot *s)
{
    pthread_mutex_lock(&s->lock);
    struct slot_version *d = unref_locked(s, s->active);
    s->active = NULL;
    pthread_mutex_unlock(&s->lock);
    destroy(d);
}

void slot_versions(model_slot *s, char active[SCHEMA_NAME_CAP], char standby[SCHEMA_NAME_CAP])
{
    pthread_mutex_lock(&s->lock);
    snprintf(active, SCHEMA_NAME_CAP, "%s", s->active ? s->active->version : "");
    snprintf(standby, SCHEMA_NAME_CAP, "%s", s->standby ? s->standby->version : "");
    pthread_mutex_unlock(&s->lock);
}

size_t slot_resident_bytes(model_slot *s)
{
    pthread_mutex_lock(&s->lock);
    size_t n = s->retiring_bytes + (s->active ? s->active->weight_bytes : 0) +
               (s->standby ? s->standby->weight_bytes : 0);
    pthread_mutex_unlock(&s->lock);
    return n;
}
