#include "worker/reply_to.h"

#include "common/kf_err.h"

#include <string.h>

/* Kafka's own rule (kafka.common.internals.Topic): legal characters and at
 * most 249 of them. */
static bool legal_topic_name(kf_bytes n)
{
    if (n.len == 0 || n.len > 249)
        return false;
    if ((n.len == 1 && n.ptr[0] == '.') || (n.len == 2 && n.ptr[0] == '.' && n.ptr[1] == '.'))
        return false;
    for (size_t i = 0; i < n.len; i++) {
        unsigned char c = n.ptr[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '.' || c == '_' || c == '-';
        if (!ok)
            return false;
    }
    return true;
}

static bool equals(kf_bytes n, const char *s)
{
    return s && strlen(s) == n.len && !memcmp(n.ptr, s, n.len);
}

bool reply_to_allowed(const struct reply_to_policy *p, kf_bytes name, char *why, size_t why_size)
{
    if (!legal_topic_name(name)) {
        kf_errf(why, why_size, "reply_to: not a valid Kafka topic name");
        return false;
    }
    for (size_t i = 0; i < sizeof(p->forbidden) / sizeof(p->forbidden[0]); i++)
        if (equals(name, p->forbidden[i])) {
            kf_errf(why, why_size, "reply_to: %s is not a responses topic", p->forbidden[i]);
            return false;
        }
    if (equals(name, p->responses))
        return true;
    size_t plen = p->prefix ? strlen(p->prefix) : 0;
    if (plen && name.len > plen && !memcmp(name.ptr, p->prefix, plen))
        return true;
    kf_errf(why, why_size, "reply_to: only %s or topics starting with '%s' may receive answers",
            p->responses, p->prefix ? p->prefix : "");
    return false;
}
