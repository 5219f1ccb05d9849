/**
 * @file reply_to.h
 * @brief Which topics a request may name as its `reply_to`.
 *
 * A request is untrusted input: left unchecked, its `reply_to` could write
 * answers into the control log (every worker would then read msgpack as a
 * control event), into the request topic (a loop) or into the DLQ, or name a
 * topic Kafka rejects. The allow-list is the fleet's responses topic and
 * topics under one prefix (property `reply_to.prefix`, default
 * `kfleet.replies.`), never the requests, DLQ or control topic, and only
 * names Kafka accepts ([a-zA-Z0-9._-], 1..249 bytes, not "." or "..").
 */
#ifndef KF_REPLY_TO_H
#define KF_REPLY_TO_H

#include "common/kf_buf.h"

#include <stdbool.h>
#include <stddef.h>

struct reply_to_policy {
    const char *responses;    /**< topic.responses: always allowed */
    const char *prefix;       /**< "" allows no other topic */
    const char *forbidden[3]; /**< requests, DLQ, control (NULL entries ignored) */
};

/**
 * @brief Whether @p name (not NUL-terminated) may receive answers.
 * @param[out] why on refusal, a one-line reason (may be NULL)
 */
bool reply_to_allowed(const struct reply_to_policy *p, kf_bytes name, char *why, size_t why_size);

#endif
