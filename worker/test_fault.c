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

static struct {
    char version[SCHEMA_NAME_CAP];
    uint64_t every; /* errors: every n-th request fails; 0 none */
    double slow;    /* slow: the factor; 0 none */
} fault;
static pthread_once_t once = PTHREAD_ONCE_INIT;
static atomic_uint_fast64_t computed;

static void parse(void)
{
    const char *env = getenv(FAULT_ENV);
    const char *colon = env ? strchr(env, ':') : NULL;
    if (!colon || (size_t)(colon - env) >= sizeof(fault.version))
        return;
    snprintf(fault.version, sizeof(fault.version), "%.*s", (int)(colon - env), env);
    double x;
    if (sscanf(colon + 1, "errors=%lf", &x) == 1 && x > 0 && x <= 1)
        fault.every = (uint64_t)(1 / x + 0.5);
    else if (sscanf(colon + 1, "slow=%lf", &x) == 1 && x > 1)
        fault.slow = x;
    else
        fault.version[0] = '\0';
    if (fault.version[0])
        KF_LOG_W("test", "%s=%s: version %s misbehaves on live traffic (test build)", FAULT_ENV,
                 env, fault.version);
    else
        KF_LOG_E("test", "%s=%s: expected VERSION:errors=F or VERSION:slow=X", FAULT_ENV, env);
}

static bool faulty(const char *version)
{
    pthread_once(&once, parse);
    return fault.version[0] && version && !strcmp(version, fault.version);
}

bool worker_test_fault_error(const char *version)
{
    if (!faulty(version) || !fault.every)
        return false;
    return atomic_fetch_add(&computed, 1) % fault.every == 0;
}

int64_t worker_test_fault_delay_us(const char *version, int64_t held_us)
{
    if (!faulty(version) || !fault.slow || held_us <= 0)
        return 0;
    double d = (fault.slow - 1) * (double)held_us;
    return d > MAX_DELAY_US ? MAX_DELAY_US : (int64_t)d;
}
