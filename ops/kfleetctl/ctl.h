/**
 * @file ctl.h
 * @brief kfleetctl's parts: options shared by every command, the control-log
 *        replay that audit, status and trace fold, and small printing helpers.
 *
 * kfleetctl is an operator's read-mostly view of a fleet, built on the same
 * common/ (Kafka) and schema/ (events, reducer) code as the workers, so what it
 * prints is what the workers decide from. Only `topics create` writes.
 */
#ifndef KF_CTL_H
#define KF_CTL_H

#include "common/crypto.h"
#include "common/kf_conf.h"
#include "common/kio.h"
#include "schema/ctl_event.h"
#include "schema/ctl_sig.h"
#include "schema/fleet.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

/** One point of the control log: a time (epoch ms) or an offset. */
struct ctl_bound {
    bool set, is_offset;
    int64_t value;
};

struct ctl_opts {
    const char *brokers;
    kf_conf *kafka; /**< -X and -F: librdkafka properties, as kafka.* entries */
    const char *t_control, *t_requests, *t_responses, *t_dlq;
    const char *group;           /**< lag, status: the request consumer group */
    const char *trusted_keys;    /**< file of publish-model keygen .pub lines */
    bool allow_unverified;       /**< audit: unverified signatures (no -K) do not make exit 3 */
    bool allow_unsigned_workers; /**< fold as workers with require_worker_signatures=false */
    const char *model;           /**< audit, status: only this model */
    bool json;                   /**< audit, lag, status: machine-readable output */
    bool watch;                  /**< lag, status: redraw every interval_s */
    int interval_s;
    struct ctl_bound from, to; /**< audit */
    int32_t partition;         /**< trace */
    int64_t offset;            /**< trace */
    int timeout_ms;            /**< one Kafka round trip */
};

/** @brief librdkafka options for a kio handle of kfleetctl. */
struct kio_opts ctl_kio_opts(const struct ctl_opts *o);

/* ---------------------------------------------------------------- replay */

/** One record of the control log as the replay hands it over. */
struct ctl_record {
    const kio_msg *msg;
    bool malformed;      /**< the value did not decode: why says why, ev is unset */
    char why[256];       /**< decode error */
    struct ctl_event ev; /**< decoded event (when !malformed) */
    enum ctl_sig_verdict sig;
    /** "" or what an auditor must look at: MALFORMED, unsigned, bad_signature, ...,
     *  or "unverified": signed, but without --trusted-keys nothing was checked */
    const char *flag;
    struct fleet_result res; /**< what the reducer made of it (when !malformed) */
};

/** @brief Called for every record in log order; nonzero stops the replay. */
typedef int ctl_record_fn(void *opaque, const struct ctl_record *rec, const fleet_state *fs);

/**
 * @brief Read the control topic from its start to its current end, verify each
 *        event's signature against @p kr, fold it into @p fs (the same reducer
 *        the workers run) and hand it to @p fn.
 * @returns 0; -ETIMEDOUT (a record did not arrive in time), -ENOENT (no such
 *          topic), another -errno; with a reason on stderr
 */
int ctl_replay(const struct ctl_opts *o, const crypto_keyring *kr, fleet_state *fs,
               ctl_record_fn *fn, void *opaque);

/** @brief A reducer configured as the workers run it (signatures required). */
fleet_state *ctl_fleet_new(const struct ctl_opts *o, const crypto_keyring *kr);

/** @brief The trusted keys of -K (an empty ring without). @returns NULL after printing why. */
crypto_keyring *ctl_keyring(const struct ctl_opts *o);

/* -------------------------------------------------------------- printing */

/** @brief What the signature column says: the verdict, or "unverified" for a
 *         signature that could not be checked (no --trusted-keys). */
const char *ctl_sig_label(const struct ctl_opts *o, enum ctl_sig_verdict sig);

/** @brief "2026-11-22T12:00:00.123Z" */
void ctl_time_str(int64_t epoch_ms, char *out, size_t size);
/**
 * @brief Parse a --from/--to value: an offset ("1234"), an ISO-8601 UTC time
 *        ("2026-11-22T12:00:00Z", seconds and Z optional) or a relative
 *        "-10m"/"-2h"/"-1d" (from now).
 * @returns 0, -EINVAL
 */
int ctl_bound_parse(const char *s, struct ctl_bound *out);
/** @brief Whether a record at @p offset / @p ts_ms lies within [from, to]. */
bool ctl_bound_within(const struct ctl_opts *o, int64_t offset, int64_t ts_ms);
/**
 * @brief Run @p once, and with --watch again every interval_s (the screen
 *        cleared first on a TTY) until SIGINT/SIGTERM.
 * @returns the last run's exit status
 */
int ctl_watch(const struct ctl_opts *o, int (*once)(const struct ctl_opts *o, void *arg),
              void *arg);

/* -------------------------------------------------------------- commands */

int ctl_cmd_audit(const struct ctl_opts *o);
int ctl_cmd_status(const struct ctl_opts *o);
int ctl_cmd_lag(const struct ctl_opts *o);
int ctl_cmd_topics(const struct ctl_opts *o, int argc, char **argv);
int ctl_cmd_trace(const struct ctl_opts *o);

#endif
