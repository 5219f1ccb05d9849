/**
 * @file group_probe_impl.h
 * @brief The group probe's wire format (group_probe_wire.c and the answer
 *        encoder in group_probe_child.c), shared by both ends and the tests.
 */
#ifndef KF_WORKER_GROUP_PROBE_IMPL_H
#define KF_WORKER_GROUP_PROBE_IMPL_H

#include "worker/group_probe.h"

#include <stdint.h>

/** Longest line either side accepts (a group of many members with many partitions). */
#define GROUP_PROBE_LINE_MAX (8u << 20)

/** @brief The child's configuration, decoded from the worker's first line. */
struct group_probe_config {
    char *brokers, *client_id, *group;
    char **props; /**< {"key", "value", ..., NULL} */
    int describe_timeout_ms;
    int log_level; /**< enum kf_log_level */
};

/**
 * @brief The first line the worker writes: @p o's settings, its props, then
 *        the kafka.* entries of its conf, and @p log_level.
 * @returns new line ending in '\n' (free()), its length in *len; NULL on OOM
 */
char *group_probe_config_encode(const struct group_probe_opts *o, int log_level, size_t *len);

/**
 * @brief Decode the configuration line (with or without its '\n').
 * @returns 0 (group_probe_config_fini), -EPROTO with the reason in errstr, -ENOMEM
 */
int group_probe_config_decode(const char *line, size_t len, struct group_probe_config *c,
                              char *errstr, size_t errstr_size);
void group_probe_config_fini(struct group_probe_config *c);

/**
 * @brief A request line, {"describe": id}\n.
 * @returns its length; -ENOBUFS when @p size is too small
 */
int group_probe_request_encode(uint64_t id, char *buf, size_t size);

/**
 * @brief Decode a request line. @returns 0 with *id (>= 1), -EPROTO
 */
int group_probe_request_decode(const char *line, size_t len, uint64_t *id);

struct kio_group;
struct json_t;

/**
 * @brief @p j as one compact line with its '\n', the protocol's unit (both
 *        sides). Steals @p j (NULL: returns NULL).
 * @returns new (free()), its length in *len; NULL on OOM
 */
char *group_probe_json_line(struct json_t *j, size_t *len);

/**
 * @brief The child's answer line for request @p id: the group @p g when
 *        @p err is 0, else @p err and its reason @p error (NULL: none).
 * @returns new line ending in '\n' (free()), its length in *len; NULL on OOM
 */
char *group_probe_answer_encode(uint64_t id, int err, const char *error, const struct kio_group *g,
                                size_t *len);

/**
 * @brief Decode an answer line.
 * @param[out] err the child's result for the request (0 or a negative errno)
 * @param[out] g   the group when *err is 0 (new: group_probe_group_free), else NULL
 * @param[out] error the child's reason when *err is not 0 ("" otherwise), truncated
 * @returns 0; -EPROTO not an answer line; -ENOMEM
 */
int group_probe_answer_decode(const char *line, size_t len, uint64_t *id, int *err, char *error,
                              size_t error_size, struct group_probe_group **g);

#endif
