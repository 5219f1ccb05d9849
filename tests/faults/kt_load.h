/**
 * @file kt_load.h
 * @brief Constant request load for the fault suite: a sender thread that
 *        produces requests at a fixed rate with its own producer, before,
 *        during and after a fault, and a collector thread that checks every
 *        answer by id and by numbers against the reference backend run on the
 *        same weights the fixture published.
 *
 * Request i has id "<prefix><i>" (prefix "L" unless set), goes to partition
 * i % partitions and carries
 * inputs that are a pure function of (i, row, column), so the collector
 * recomputes them. An answer is *wrong* when it cannot be decoded, names an
 * id that was never sent, or is `ok` with outputs that differ from the
 * reference forward of the version it names (or names a version that was not
 * registered with kt_load_expect). Error and expired answers are counted by
 * code; each row decides which codes it allows.
 *
 * A request counts as *sent* once the broker acknowledged it (its delivery
 * report); one whose delivery failed is *unsent* and never counted lost.
 * Answers to ids of another form (a row's own probes) are kept for
 * kt_load_other() when keep_others is set, and ignored otherwise.
 *
 * @locality kt_load_* from the test's main thread; the two threads are internal.
 */
#ifndef KT_LOAD_H
#define KT_LOAD_H

#include "tests/worker/kt_e2e.h"

#include <stdbool.h>
#include <stdint.h>

/** The phase a request was sent in (kt_load_phase); the load starts in WARMUP
 *  (consumers joining, first fetches), which counts for lost and duplicated
 *  but not for the latency of any other phase. */
enum kt_phase { KT_PHASE_WARMUP = 0, KT_PHASE_BEFORE, KT_PHASE_DURING, KT_PHASE_AFTER, KT_PHASES };

struct kt_load_opts {
    int rate;              /**< requests per second; 0: as fast as the producer takes them */
    uint32_t rows;         /**< rows per request; 0: 1 */
    uint32_t width;        /**< columns; 0: 8 (kt_env_spec's input width) */
    int64_t deadline_ms;   /**< > 0: deadline_ms = send time (wall) + this */
    int64_t max;           /**< stop after this many requests; 0: until kt_load_stop */
    const char *model;     /**< NULL: the env's model */
    const char *id_prefix; /**< NULL: "L"; loads sharing a responses topic need distinct ones */
    bool random_model;     /**< each request names its own unknown model ("zz-<hex>") */
    bool keep_others;      /**< keep answers to other ids for kt_load_other() */
};

struct kt_load;

/** @brief A load on @p e's topics (borrowed until kt_load_free); not started. */
struct kt_load *kt_load_new(struct kt_env *e, const struct kt_load_opts *opts);

/** @brief Check answers computed by @p v (loads its weights on a reference backend). */
void kt_load_expect(struct kt_load *l, const struct kt_version *v);

/** @brief Start the collector and the sender. */
void kt_load_start(struct kt_load *l);

/** @brief Requests sent from now on belong to @p phase. */
void kt_load_phase(struct kt_load *l, enum kt_phase phase);

/**
 * @brief End the warm-up: wait until requests are answered within @p settle_s
 *        (the last one answered was sent at most that long before its answer)
 *        or @p timeout_s passes, then switch to BEFORE. @returns whether it settled.
 */
bool kt_load_warm(struct kt_load *l, double settle_s, int timeout_s);

/** @brief Stop sending (the collector keeps reading); waits for the sender thread
 *         (with opts.max, until it has sent them all). */
void kt_load_stop(struct kt_load *l);

/** @brief Requests handed to the producer so far. */
int64_t kt_load_count(struct kt_load *l);

/**
 * @brief Stop sending, wait until every sent request has an answer or
 *        @p timeout_s passes. @returns the requests still unanswered (lost).
 */
int64_t kt_load_drain(struct kt_load *l, int timeout_s);

/** @brief Wait until every request sent so far has been acknowledged by the broker. */
void kt_load_flush(struct kt_load *l, int timeout_s);

struct kt_load_stats {
    int64_t sent;                /**< acknowledged by the broker */
    int64_t unsent;              /**< delivery failed: never in Kafka */
    int64_t answered;            /**< sent requests with at least one answer */
    int64_t lost;                /**< sent requests without an answer */
    int64_t duplicated;          /**< answers beyond the first */
    int64_t wrong;               /**< see the file comment */
    int64_t ok, errors, expired; /**< first answers by status */
    int64_t rows_ok;             /**< rows of the `ok` first answers */
    /** answered requests per phase; a request sent BEFORE and answered after DURING
     *  began counts for DURING (it met the fault) */
    int64_t n[KT_PHASES];
    double p50_s[KT_PHASES], p99_s[KT_PHASES], max_s[KT_PHASES]; /**< latency per phase */
    double p99_all_s, max_all_s;
    int64_t by_worker[KT_MAX_WORKERS]; /**< first answers per worker "w<i>" */
};

/** @brief Figures so far (consistent with each other; may be called while running). */
void kt_load_stats(struct kt_load *l, struct kt_load_stats *st);

/** @brief First answers whose error code is @p code. */
int64_t kt_load_code_count(struct kt_load *l, const char *code);

/** @brief The codes seen, "code=N code=N" (for a report line). */
void kt_load_codes(struct kt_load *l, char *buf, size_t size);

/**
 * @brief Seconds from @p since_us (kf_clock_mono_us) to the last answer of a
 *        request that took longer than @p slow_s; 0 when none did.
 */
double kt_load_recovery_s(struct kt_load *l, int64_t since_us, double slow_s);

/**
 * @brief Of the requests sent in [from_us, to_us): how many (acknowledged by
 *        the broker), how many answered, and the answers' latency p99 and max.
 */
void kt_load_window(struct kt_load *l, int64_t from_us, int64_t to_us, int64_t *sent,
                    int64_t *answered, double *p99_s, double *max_s);

/** @brief The first answer (mono µs) by worker "w<i>" to a request sent at or after @p since_us; 0
 * when none. */
int64_t kt_load_first_answer_by(struct kt_load *l, int worker, int64_t since_us);

/** @brief First answers computed by @p version (kt_load_expect'ed) to requests sent in
 *         [from_us, to_us). */
int64_t kt_load_version_count(struct kt_load *l, const char *version, int64_t from_us,
                              int64_t to_us);

/** @brief An answer to an id not of the load's form. */
struct kt_other {
    char id[64];
    int status;    /**< enum resp_status */
    char code[32]; /**< error code, "" when ok */
    char worker[16];
    int64_t at_us; /**< when the collector read it */
    int count;     /**< answers with this id */
};

/** @brief Copy of the answer to @p id, if one came. @returns true when found. */
bool kt_load_other(struct kt_load *l, const char *id, struct kt_other *out);

/** @brief Stop everything and free. NULL is a no-op. */
void kt_load_free(struct kt_load *l);

/**
 * @brief The inputs of request @p i (rows × width floats), as the sender
 *        writes them: for a row's own probes that want checkable inputs.
 */
void kt_load_inputs(int64_t i, uint32_t rows, uint32_t width, float *out);

/**
 * @brief Encode (append to @p out) a request with id @p id for @p model with
 *        the inputs of request @p i; @p reply_to NULL for none, @p deadline_ms
 *        0 for none (else epoch ms).
 */
void kt_load_request(kf_buf *out, const char *id, const char *model, int64_t i, uint32_t rows,
                     uint32_t width, const char *reply_to, int64_t deadline_ms);

#endif
