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
    const char *key;   /**< "1".."10": the table line */
    const char *fault; /**< first cell */
    struct kt_env *e;
    int exits;            /**< workers that exited without being told to */
    char exit_notes[256]; /**< "w1: signal 11; ..." */
    char failed[1024];    /**< the failed checks, "; "-separated */
    int n_failed;
    int64_t t0_us;
};

void kt_row_init(struct kt_row *r, const char *key, const char *fault, struct kt_env *e);

/** @brief Print and remember one check; a failure fails the row at kt_row_finish. */
void kt_row_check(struct kt_row *r, bool ok, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/** @brief Notice workers that exited (reaped, pid cleared, log tail printed). @returns exits so
 * far. */
int kt_row_reap(struct kt_row *r);

/** @brief Sleep @p ms, reaping every 100 ms. */
void kt_row_sleep(struct kt_row *r, int ms);

/**
 * @brief SIGTERM every live worker; a worker that does not exit 0 (a clean
 *        stop drains and commits), or whose log has a sanitizer report, fails
 *        a check.
 */
void kt_row_stop_workers(struct kt_row *r);

/**
 * @brief Write the row (the load's figures when @p st is given, else "-")
 *        and return the test's exit code: 0 when every check passed, 1 otherwise.
 * @param what     what was done (the second cell)
 * @param recover  the time to recover, as the row measures it
 */
int kt_row_finish(struct kt_row *r, const char *what, const struct kt_load_stats *st,
                  const char *recover);

/** @brief "1.234 s" / "12 ms" into @p buf. */
const char *kt_row_secs(double s, char *buf, size_t size);

#endif
