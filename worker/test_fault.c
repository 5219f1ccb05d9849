/* Test-build fault hook (test_fault.h): a version that misbehaves on live
 * traffic only. */
#include "worker/test_fault.h"

#include "common/kf_log.h"
#include "schema/names.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FAULT_ENV "KFLEET_TEST_FAULT"
#define MAX_DELAY_US 1000000
#define MIN_BASE_US 4000

#define MAX_FAULTS 4

static struct fault {
    char version[SCHEMA_NAME_CAP];
    uint64_t every; /* errors: every n-th request fails; 0 none */
    double slow;    /* slow: the factor; 0 none */
} faults[MAX_FAULTS];
static size_t n_faults;
static pthread_once_t once = PTHREAD_ONCE_INIT;
static atomic_uint_fast64_t computed;

/* One "VERSION:errors=F" or "VERSION:slow=X" of @p len bytes. */
static bool parse_one(const char *spec, size_t len)
{
    const char *colon = memchr(spec, ':', len);
    struct fault *f = &faults[n_faults];
    if (!colon || colon == spec || (size_t)(colon - spec) >= sizeof(f->version) ||
        n_faults == MAX_FAULTS)
        return false;
    char rule[64];
    snprintf(rule, sizeof(rule), "%.*s", (int)(len - (size_t)(colon + 1 - spec)), colon + 1);
    *f = (struct fault){0};
    double x;
    char end;
    if (sscanf(rule, "errors=%lf%c", &x, &end) == 1 && x > 0 && x <= 1)
        f->every = (uint64_t)(1 / x + 0.5);
    else if (sscanf(rule, "slow=%lf%c", &x, &end) == 1 && x > 1)
        f->slow = x;
    else
        return false;
    snprintf(f->version, sizeof(f->version), "%.*s", (int)(colon - spec), spec);
    n_faults++;
    return true;
}

static void parse(void)
{
    const char *env = getenv(FAULT_ENV);
    for (const char *p = env; p && *p;) {
        size_t len = strcspn(p, ",");
        if (!parse_one(p, len)) {
            KF_LOG_E("test", "%s=%s: expected VERSION:errors=F or VERSION:slow=X, comma-separated",
                     FAULT_ENV, env);
            n_faults = 0;
            return;
        }
        p += len + (p[len] == ',');
    }
    for (size_t i = 0; i < n_faults; i++)
        KF_LOG_W("test", "%s: version %s misbehaves on live traffic (test build)", FAULT_ENV,
                 faults[i].version);
}

static const struct fault *fault_of(const char *version)
{
    pthread_once(&once, parse);
    for (size_t i = 0; version && i < n_faults; i++)
        if (!strcmp(version, faults[i].version))
            return &faults[i];
    return NULL;
}

bool worker_test_fault_error(const char *version)
{
    const struct fault *f = fault_of(version);
    if (!f || !f->every)
        return false;
    return atomic_fetch_add(&computed, 1) % f->every == 0;
}

int64_t worker_test_fault_delay_us(const char *version, int64_t compute_us)
{
    const struct fault *f = fault_of(version);
    if (!f || !f->slow)
        return 0;
    /* The compute, not the time the batch waited: a wait the hold itself
     * caused must not grow the next hold. Counted as at least 4 ms (twice
     * the default batching window, max_delay_us): the test models compute in
     * microseconds, and 5x that is a slowdown no user (and no health window,
     * whose p99 floor is 10 ms) would call one. */
    double base = compute_us > MIN_BASE_US ? (double)compute_us : MIN_BASE_US;
    double d = (f->slow - 1) * base;
    return d > MAX_DELAY_US ? MAX_DELAY_US : (int64_t)d;
}
