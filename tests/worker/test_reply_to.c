/* The reply_to allow-list: the responses topic and the prefix pass; the
 * fleet's own topics, other names and names Kafka rejects do not. */
#include "tests/lib/kf_test.h"
#include "worker/reply_to.h"

#include <string.h>

static const struct reply_to_policy policy = {
    .responses = "kfleet.responses",
    .prefix = "kfleet.replies.",
    .forbidden = {"kfleet.requests", "kfleet.requests.dlq", "kfleet.control"},
};

static bool allowed(const struct reply_to_policy *p, const char *name)
{
    char why[200] = "";
    bool ok =
        reply_to_allowed(p, (kf_bytes){(const uint8_t *)name, strlen(name)}, why, sizeof(why));
    KT_ASSERT_MSG(ok || why[0], "a refusal says why (%s)", name);
    return ok;
}

static void test_allow_list(void)
{
    KT_ASSERT(allowed(&policy, "kfleet.responses"));
    KT_ASSERT(allowed(&policy, "kfleet.replies.client-7"));
    KT_ASSERT(allowed(&policy, "kfleet.replies.a_b-C.9"));
    KT_ASSERT(!allowed(&policy, "kfleet.replies.")); /* the prefix alone names no topic */
    KT_ASSERT(!allowed(&policy, "kfleet.control"));
    KT_ASSERT(!allowed(&policy, "kfleet.requests"));
    KT_ASSERT(!allowed(&policy, "kfleet.requests.dlq"));
    KT_ASSERT(!allowed(&policy, "other.topic"));
    KT_ASSERT(!allowed(&policy, "no such/topic"));
    KT_ASSERT(!allowed(&policy, "kfleet.replies.x\n"));
    KT_ASSERT(!allowed(&policy, "kfleet.replies.\xc3\xa9"));
    KT_ASSERT(!allowed(&policy, ""));
    char longname[300];
    memset(longname, 'a', sizeof(longname) - 1);
    memcpy(longname, "kfleet.replies.", 15);
    longname[250] = '\0'; /* 250 > Kafka's 249 */
    KT_ASSERT(!allowed(&policy, longname));
    longname[249] = '\0';
    KT_ASSERT(allowed(&policy, longname));
}

static void test_forbidden_even_under_the_prefix(void)
{
    struct reply_to_policy p = policy;
    p.prefix = "kfleet.";
    KT_ASSERT(allowed(&p, "kfleet.anything"));
    KT_ASSERT(!allowed(&p, "kfleet.control"));
    KT_ASSERT(!allowed(&p, "kfleet.requests"));
    p.prefix = "";
    KT_ASSERT(!allowed(&p, "kfleet.anything"));
    KT_ASSERT(allowed(&p, "kfleet.responses"));
}

int main(void)
{
    KT_RUN(test_allow_list);
    KT_RUN(test_forbidden_even_under_the_prefix);
    return 0;
}
