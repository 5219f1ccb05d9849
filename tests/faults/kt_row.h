/**
 * @file kt_row.h
 * @brief One row of the fault table: its checks (every one is evaluated and
 *        printed; the row fails if any failed), the workers that exited on
 *        their own, and the line it writes into docs/reliability.md before
 *        it passes or fails.
 */
#ifndef KT_ROW_H
#define KT_ROW_H

#include "tests/faults/kt_load.h"
#include "tests/worker/kt_e2e.h"

#include <stdbool.h>

struct kt_row {
    const char *key;      /**< "1".."10": the table line */
    const char *fault;    /**< first cell */
    struct kt_env env;    /**< the row's fleet (kt_row_begin .. kt_row_finish) */
    struct kt_env *e;     /**< &env */
    int exits;            /**< workers that exited without being told to */
    char exit_notes[256]; /**< "w1: signal 11; ..." */
    char failed[1024];    /**< the failed checks, "; "-separated */
    int n_failed;
    int64_t t0_us;
};

/**
 * @brief Start a row: its env (kt_env_init_opts with @p opts, NULL for the
 *        defaults; topics and temp dir named after @p tag) and its clock.
 */
void kt_row_begin(struct kt_row *r, const char *key, const char *fault, const char *tag,
                  const char *worker_bin, int partitions, const struct kt_env_opts *opts);

/**
 * @brief Publish and announce (signed) version "v1" of the env's model (seed 1)
 *        into @p v1, then start workers [@p from, @p to) with @p extra properties
 *        (NULL-terminated, or NULL), each until it is ready.
 */
void kt_row_fleet(struct kt_row *r, struct kt_version *v1, int from, int to,
                  const char *const *extra);

/** @brief A load on the row's topics checked against @p v (NULL: none), started and warmed up. */
struct kt_load *kt_row_load(struct kt_row *r, const struct kt_load_opts *o,
                            const struct kt_version *v);

/**
 * @brief Keep the load on for @p before_ms (its BEFORE phase), then switch it
 *        to DURING: the fault begins. @returns that moment (kf_clock_mono_us).
 */
int64_t kt_row_fault_begins(struct kt_row *r, struct kt_load *l, int before_ms);

/**
 * @brief End a load: requests sent from now on are AFTER the fault; keep
 *        sending @p after_ms more, then stop, wait up to @p timeout_s for the
 *        answers, fill @p st and reap. @returns kt_load_drain's missing count.
 */
int64_t kt_row_drain(struct kt_row *r, struct kt_load *l, int after_ms, int timeout_s,
                     struct kt_load_stats *st);

/** @brief Produce @p value keyed by @p id to request partition @p part, and flush. */
void kt_row_send(struct kt_row *r, const char *id, int32_t part, const kf_buf *value);

/** @brief Print and remember one check; a failure fails the row at kt_row_finish. */
void kt_row_check(struct kt_row *r, bool ok, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/** @brief Notice workers that exited (reaped, pid cleared, log tail printed). @returns exits so
 * far. */
int kt_row_reap(struct kt_row *r);

/** @brief Sleep @p ms, reaping every 100 ms. */
void kt_row_sleep(struct kt_row *r, int ms);

/**
 * @brief Check that every record of the request topic is settled: the
 *        group's committed offsets reach the end within @p timeout_s.
 */
void kt_row_check_settled(struct kt_row *r, int timeout_s);

/**
 * @brief Check a load's figures: nothing lost (@p missing: kt_load_drain's
 *        answer), nothing wrong, and no error answers; @p who names it.
 */
void kt_row_check_load(struct kt_row *r, struct kt_load *l, int64_t missing,
                       const struct kt_load_stats *st, const char *who);

/**
 * @brief Check that no worker exited on its own, then SIGTERM every live
 *        worker; a worker that does not exit 0 (a clean
 *        stop drains and commits), or whose log has a sanitizer report, fails
 *        a check.
 */
void kt_row_stop_workers(struct kt_row *r);

/**
 * @brief Write the row (the load's figures when @p st is given, else "-"),
 *        tear the env down (stopping workers still running) and return the
 *        test's exit code: 0 when every check passed, 1 otherwise.
 * @param what     what was done (the second cell)
 * @param recover  the time to recover, as the row measures it; NULL: "no
 *                 interruption" with the load's largest latency
 */
int kt_row_finish(struct kt_row *r, const char *what, const struct kt_load_stats *st,
                  const char *recover);

/** @brief "1.234 s" / "12 ms" into @p buf. */
const char *kt_row_secs(double s, char *buf, size_t size);

#endif
