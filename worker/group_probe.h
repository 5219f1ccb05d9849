/**
 * @file group_probe.h
 * @brief The request group's members and their assignments, described by a
 *        helper process, so that the worker process itself never uses
 *        librdkafka's admin API.
 *
 * Why: librdkafka 2.0.2's admin API can abort the whole process when the
 * brokers go away and come back (`rd_kafka_enq_once_del_source_return:
 * Assertion 'eonce->refcnt > 0' failed`, librdkafka #4605 and #3663; issue 12).
 * The worker therefore starts a long-lived child that owns the admin client
 * and describes the group on request: GROUP_PROBE_PROGRAM from the worker's
 * own directory (a small program: loading cuBLAS alone costs a process ~95 MB
 * of private memory), or, where that is missing, the worker itself
 * (`/proc/self/exe`); either is run with the hidden first argument
 * GROUP_PROBE_ARG. An abort there costs one answer: the worker sees the
 * socket close, logs one line, reaps the child and starts a new one with
 * back-off.
 *
 * The child talks on its stdin, one end of a socketpair (its stdout is the
 * worker's stderr, so nothing it prints can garble the protocol). One JSON
 * line each way:
 *   - worker → child, first: the configuration: brokers, client id, group,
 *     librdkafka properties (kafka.* included: secrets never go on a command
 *     line or into the environment), the describe timeout, the log level;
 *   - worker → child: {"describe": ID};
 *   - child → worker: {"id": ID, "err": 0 or -errno, "error": text, "state",
 *     "assignor", "members": [{"member_id", "client_id", "host",
 *     "instance_id", "assignment": [[topic, partition], ...]}]}.
 * The child exits when its stdin reaches EOF: when the worker closes it
 * (group_probe_free) or dies, even by SIGKILL. It ignores SIGINT and SIGTERM
 * (a terminal's Ctrl-C or a supervisor's group-wide SIGTERM stops the worker,
 * which drains and then closes the child's stdin).
 *
 * @locality one thread: the one that calls every group_probe function (the
 *           worker's main thread). No call waits for the child: requests and
 *           answers go through a non-blocking socket, children are started
 *           with posix_spawn; a call that finds the child dead gives it up to
 *           5 ms to become reapable; only group_probe_free waits (up to 1 s).
 */
#ifndef KF_WORKER_GROUP_PROBE_H
#define KF_WORKER_GROUP_PROBE_H

#include "common/kio.h"
#include "common/kio_admin.h"

#include <stdint.h>
#include <sys/types.h>

/** The hidden first argument that makes a kfleet-worker (or GROUP_PROBE_PROGRAM) a group probe. */
#define GROUP_PROBE_ARG "--admin-probe"
/** The probe's own small program, installed beside kfleet-worker. */
#define GROUP_PROBE_PROGRAM "kfleet-admin-probe"

typedef struct group_probe group_probe;

/** @brief A group as the probe last described it (new: group_probe_group_free). */
struct group_probe_group {
    char *group_id;
    char *state; /**< "Stable", "PreparingRebalance", "CompletingRebalance", "Empty", "Dead", ... */
    char *assignor;                   /**< "" when the group has no members */
    struct kio_group_member *members; /**< the same members as kio_admin.h describes */
    size_t member_count;
    int64_t asked_us; /**< kf_clock_mono_us() when the request was written */
};

/** @brief NULL is a no-op. */
void group_probe_group_free(struct group_probe_group *g);

/** @brief Options, all borrowed for group_probe_new() only. */
struct group_probe_opts {
    /** Program run with GROUP_PROBE_ARG; NULL: GROUP_PROBE_PROGRAM in the directory of
     *  the running executable if it is there, else "/proc/self/exe" */
    const char *exe;
    const char *brokers;        /**< bootstrap servers (required) */
    const char *client_id;      /**< the child's client.id; NULL: "kfleet-probe" */
    const char *group;          /**< the consumer group to describe (required) */
    const char *const *props;   /**< NULL or {"key", "value", ..., NULL} librdkafka properties */
    const struct kf_conf *conf; /**< NULL or a conf whose kafka.* entries apply (after props) */
    int describe_timeout_ms;    /**< the child's bound per describe; 0: 2000 */
    /** No answer this long after a request: the child is wedged, it is killed
     *  and started again; 0: describe_timeout_ms + 3000 */
    int answer_timeout_ms;
    int backoff_max_ms; /**< cap of the restart back-off (100 ms, doubling); 0: 10000 */
};

/**
 * @brief A probe for one group; its first child starts at once.
 *        A child that cannot be started is retried with back-off.
 * @returns the probe (group_probe_free), or NULL with the reason in errstr
 *          (missing brokers or group, out of memory)
 */
group_probe *group_probe_new(const struct group_probe_opts *o, char *errstr, size_t errstr_size);

/**
 * @brief Close the child's stdin, wait up to 1 s for it to exit, then kill it;
 *        reap every child. NULL is a no-op.
 */
void group_probe_free(group_probe *gp);

/**
 * @brief Ask for a description (answered through group_probe_poll()).
 *        Starts a child first if none runs and its back-off is over.
 * @returns 0 asked; -EBUSY a request is already waiting for its answer;
 *          -EAGAIN no child running (it is being restarted); -EINVAL
 */
int group_probe_request(group_probe *gp);

/**
 * @brief Take the answer to the waiting request if it has arrived. Reads
 *        what the child wrote without waiting, reaps and restarts children,
 *        and gives up on a request older than answer_timeout_ms (killing the
 *        child that holds it).
 * @param[out] out the group (new: group_probe_group_free), or NULL
 * @returns 0 with *out; -EAGAIN no answer yet, or no request waiting;
 *          the child's error for this request (-ETIMEDOUT, -ECONNREFUSED,
 *          -EACCES, -EINVAL a configuration the child refused, ...);
 *          -ECONNRESET the child died or was killed before answering
 */
int group_probe_poll(group_probe *gp, struct group_probe_group **out);

/** @brief The running child's pid, or 0 while none runs (tests, logs). */
pid_t group_probe_pid(const group_probe *gp);

/** @brief How many children have been started so far (tests). */
unsigned group_probe_spawns(const group_probe *gp);

/**
 * @brief The child's main: run by kfleet-admin-probe, and by kfleet-worker
 *        (and the probe's test) when argv[1] is GROUP_PROBE_ARG. Talks on fd 0
 *        until EOF.
 * @returns the process exit status: 0 after EOF, 1 on a broken protocol
 */
int group_probe_child_main(void);

#endif
