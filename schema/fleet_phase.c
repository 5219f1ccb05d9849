/* The phase enum, its names and the transition table (STYLE: state machines). */
#include "schema/fleet_impl.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const phase_names[FLEET_PHASE_COUNT] = {
    "idle", "rolling", "canary", "staging", "paused", "halted", "rolled_back", "complete",
};

const char *fleet_phase2str(enum fleet_phase p)
{
    return (unsigned)p < FLEET_PHASE_COUNT ? phase_names[p] : "?";
}

#define B(p) (1u << (p))

/* Row: from; bits: the phases it may move to. Why each exists: docs/schema.md. */
static const unsigned transitions[FLEET_PHASE_COUNT] = {
    /* publish */
    [FLEET_IDLE] = B(FLEET_ROLLING) | B(FLEET_CANARY) | B(FLEET_STAGING),
    /* publish, pause, failure/abort, auto-rollback/rollback, everyone on target */
    [FLEET_ROLLING] = B(FLEET_CANARY) | B(FLEET_STAGING) | B(FLEET_PAUSED) | B(FLEET_HALTED) |
                      B(FLEET_ROLLED_BACK) | B(FLEET_COMPLETE),
    /* promote/publish, publish, pause, failure/abort, rollback */
    [FLEET_CANARY] = B(FLEET_ROLLING) | B(FLEET_STAGING) | B(FLEET_PAUSED) | B(FLEET_HALTED) |
                     B(FLEET_ROLLED_BACK),
    /* publish, pause, failure/abort, rollback, cutover */
    [FLEET_STAGING] = B(FLEET_ROLLING) | B(FLEET_CANARY) | B(FLEET_PAUSED) | B(FLEET_HALTED) |
                      B(FLEET_ROLLED_BACK) | B(FLEET_COMPLETE),
    /* resume/publish, failure/abort, rollback */
    [FLEET_PAUSED] = B(FLEET_ROLLING) | B(FLEET_CANARY) | B(FLEET_STAGING) | B(FLEET_HALTED) |
                     B(FLEET_ROLLED_BACK),
    /* resume/publish, rollback (incl. resuming a halted rollback) */
    [FLEET_HALTED] = B(FLEET_ROLLING) | B(FLEET_CANARY) | B(FLEET_STAGING) | B(FLEET_ROLLED_BACK),
    /* publish, pause, the rollback itself failing or aborted */
    [FLEET_ROLLED_BACK] =
        B(FLEET_ROLLING) | B(FLEET_CANARY) | B(FLEET_STAGING) | B(FLEET_PAUSED) | B(FLEET_HALTED),
    /* publish, rollback */
    [FLEET_COMPLETE] = B(FLEET_ROLLING) | B(FLEET_CANARY) | B(FLEET_STAGING) | B(FLEET_ROLLED_BACK),
};

bool fleet_transition_is_valid(enum fleet_phase cur, enum fleet_phase next)
{
    if ((unsigned)cur >= FLEET_PHASE_COUNT || (unsigned)next >= FLEET_PHASE_COUNT)
        return false;
    return cur == next || (transitions[cur] & B(next));
}

const char *fleet_claim_status2str(enum fleet_claim_status s)
{
    static const char *const names[] = {"active", "done", "failed", "expired", "refused"};
    return (unsigned)s < 5 ? names[s] : "?";
}

const char *fleet_verdict2str(enum fleet_verdict v)
{
    static const char *const names[] = {"applied", "ignored", "invalid"};
    return (unsigned)v < 3 ? names[v] : "?";
}

const char *fleet_action2str(enum fleet_action a)
{
    static const char *const names[] = {"none", "load", "claim", "swap", "stage", "flip", "wait"};
    return (unsigned)a < 7 ? names[a] : "?";
}

void fleet_logf(const fleet_state *fs, enum kf_log_level lvl, const char *fmt, ...)
{
    if (lvl > kf_log_get_level()) /* dropped anyway: do not even format it */
        return;
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    if (fs->opts.log)
        fs->opts.log(fs->opts.log_opaque, lvl, line);
    else
        kf_log(lvl, "fleet", "%s", line);
}

int fleet_grow(void **ptr, size_t *cap, size_t n, size_t size)
{
    if (n < *cap)
        return 0;
    size_t ncap = *cap ? *cap * 2 : 8;
    void *p = realloc(*ptr, ncap * size);
    if (!p)
        return -ENOMEM;
    memset((char *)p + *cap * size, 0, (ncap - *cap) * size);
    *ptr = p;
    *cap = ncap;
    return 0;
}
