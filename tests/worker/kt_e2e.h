/**
 * @file kt_e2e.h
 * @brief End-to-end fixtures: an isolated fleet on the devstack (its own
 *        topics, group, model name, temp dir), signed announcements on its
 *        control topic, real kfleet-worker processes, and a request/response
 *        ledger that counts lost and duplicate answers.
 */
#ifndef KT_E2E_H
#define KT_E2E_H

#include "common/kio_admin.h"
#include "common/kio_consumer.h"
#include "common/kio_producer.h"
#include "common/objstore.h"
#include "schema/ctl_event.h"
#include "tests/lib/kt_proc.h"
#include "tests/worker/store/kt_fixture.h"

#define KT_MAX_WORKERS 4
#define KT_REQUEST_COLS 8     /**< every request kt_env_send makes is one row of 8 */
#define KT_ANSWER_MAX_COLS 16 /**< outputs kept per answer (the fixtures answer 4) */

/** The worker property of exactly-once answers (issue 15): consume, infer and
 *  produce inside Kafka transactions. Without it a worker answers at least once. */
#define KT_DELIVERY_EXACTLY_ONCE "delivery=exactly_once"

struct kt_worker {
    char id[64];
    int port;
    pid_t pid;
    char log[300];
    char key[300]; /* its worker.key, enrolled on the control log at its first start */
};

struct kt_answer {
    int answers;
    int status;
    char version[64];
    char worker[64];
    uint32_t cols;                     /**< outputs kept: 0 unless an OK answer of one row */
    float outputs[KT_ANSWER_MAX_COLS]; /**< of the last answer */
};

struct kt_env {
    const char *brokers, *worker_bin;
    char sfx[64], t_req[128], t_resp[128], t_dlq[128], t_ctl[128], group[128], model[64];
    char *dir;
    int partitions;
    objstore *os;
    kio_producer *prod;
    kio_consumer *resp, *ctl;
    struct crypto_ed25519_key trusted, stranger;
    char trusted_pub[300];
    struct kt_worker workers[KT_MAX_WORKERS];
    /* the ledger: request i has id "q<i>" */
    struct kt_answer *answers;
    int n_sent, cap;
};

/** @brief Topics, keys, object store and clients for one test; @p tag names them. */
void kt_env_init(struct kt_env *e, const char *tag, const char *worker_bin, int partitions);

/** @brief What kt_env_init_opts may change; all-zero (or NULL) is kt_env_init. */
struct kt_env_opts {
    const char *brokers;          /**< NULL: $KFLEET_BROKERS */
    int replication;              /**< replication factor of the four topics; 0: 1 */
    const char *const *topic_cfg; /**< NULL or {"name", "value", ..., NULL} for every topic */
    const char *const *resp_cfg;  /**< the responses topic's, instead of topic_cfg */
    const char *const *ctl_cfg;   /**< the control topic's, instead of the default
                                       (retention.ms=-1, LogAppendTime) */
};
/** @brief kt_env_init with other brokers, replication or topic configs (@p opts borrowed). */
void kt_env_init_opts(struct kt_env *e, const char *tag, const char *worker_bin, int partitions,
                      const struct kt_env_opts *opts);
void kt_env_fini(struct kt_env *e);

/** @brief A fixture version of the env's model (signed by the trusted key unless @p key). */
void kt_env_version(struct kt_env *e, const char *version, uint64_t seed, float golden_skew,
                    const struct crypto_ed25519_key *key, struct kt_version *out);
/** @brief The spec kt_env_version builds from (to build, alter and publish by hand). */
struct kt_spec kt_env_spec(const struct kt_env *e, const char *version, uint64_t seed);
/**
 * @brief A consumer assigned to every partition of @p topic from the beginning;
 *        it reads committed records only (kio's consumers set
 *        isolation.level=read_committed), as issue 15's exactly-once checks
 *        count them: aborted answers are invisible.
 */
kio_consumer *kt_env_reader(struct kt_env *e, const char *topic, int parts);
/** @brief The same with another input width (requests carry 8 columns). */
void kt_env_version_w(struct kt_env *e, const char *version, uint64_t seed, uint32_t input_width,
                      struct kt_version *out);
/** The health window (strategy.health_s) of the tests' rollouts: short, so
 *  that a rolling update of three workers does not wait 3 x 10 s; the issue-16
 *  scenarios set their own. kt_push passes it as --health-window. */
#define KT_HEALTH_S 2

/** @brief ctl_strategy_default with the tests' health window (KT_HEALTH_S). */
void kt_strategy_default(struct ctl_strategy *st);

/** @brief Announce @p v with @p st (NULL: kt_strategy_default) signed by @p signer (NULL:
 *         unsigned). */
void kt_env_announce(struct kt_env *e, const struct kt_version *v, uint64_t seq,
                     const struct ctl_strategy *st, const struct crypto_ed25519_key *signer);
/** @brief Append a rollout.command (signed by @p signer, or unsigned when NULL). */
void kt_env_command(struct kt_env *e, enum ctl_action action, const char *version,
                    const struct crypto_ed25519_key *signer);

/**
 * @brief Start worker @p i (id "w<i>") with extra "-X" properties (NULL-terminated)
 *        and wait until it is ready; fails at once, with its log's last line, when
 *        it exits first (a property it refuses).
 */
void kt_env_worker_start(struct kt_env *e, int i, const char *const *extra);
/** @brief The same without waiting for /readyz (a worker that is not meant to be ready). */
void kt_env_worker_spawn(struct kt_env *e, int i, const char *const *extra);
/** @brief Signal worker @p i; wait for it; returns its exit code (128+sig if killed). */
int kt_env_worker_stop(struct kt_env *e, int i, int sig);
/**
 * @brief Whether worker @p i has exited on its own (reaped, pid cleared);
 *        @p rc (may be NULL) gets its exit code, 128+sig if killed.
 */
bool kt_env_worker_exited(struct kt_env *e, int i, int *rc);
/** @brief Append @p ev to the control topic, signed by @p signer (NULL: unsigned). */
void kt_env_append(struct kt_env *e, const struct ctl_event *ev,
                   const struct crypto_ed25519_key *signer);
/** @brief Wait until every worker in [0, n) reports @p version active (in /status). */
bool kt_env_wait_active(struct kt_env *e, int n, const char *version, int timeout_s);
/**
 * @brief Worker @p i as its /status shows it, in one line for failure
 *        messages: "w0 active=v1 preparing=v2 target=v2 phase=rolling
 *        control_offset=12", or "w0 down" / "w0 /status: HTTP 503".
 * @returns whether /status answered; @p version_out (may be NULL, size
 *          @p version_size) gets the env's model's active version ("" if none).
 */
bool kt_env_worker_status(struct kt_env *e, int i, char *line, size_t size, char *version_out,
                          size_t version_size);
/** @brief kt_env_worker_status of workers [0, n), "; "-separated, into @p out. */
void kt_env_status_lines(struct kt_env *e, int n, char *out, size_t size);
/** @brief The control topic's high watermark: the offset its next event gets. */
int64_t kt_env_control_end(struct kt_env *e);
/**
 * @brief Wait until every running worker in [0, n) has folded the control log
 *        up to @p offset (its /status control_offset reaches it: the worker
 *        fed every event before it and ran its agent since); fails after
 *        @p timeout_s with what each showed last.
 */
void kt_env_wait_control(struct kt_env *e, int n, int64_t offset, int timeout_s);

/** @brief Send @p n requests round-robin over the partitions (ids continue the ledger). */
void kt_env_send(struct kt_env *e, int n);
/** @brief The input row of request @p i ("q<i>"), as kt_env_send sends it. */
void kt_env_request_input(int i, float row[KT_REQUEST_COLS]);
/** @brief Read responses until [from, to) are all answered or @p timeout_s; returns missing. */
int kt_env_collect(struct kt_env *e, int from, int to, int timeout_s);
/** @brief Duplicate answers in [from, to). */
int kt_env_duplicates(const struct kt_env *e, int from, int to);

/**
 * @brief Read the control topic from the start; call @p cb for each decoded
 *        event with its offset (cb returns non-zero to stop). @returns events read.
 */
int kt_env_control_scan(struct kt_env *e,
                        int (*cb)(void *opaque, const struct ctl_event *ev, int64_t offset,
                                  int64_t ts_ms),
                        void *opaque, int timeout_s);

#endif
