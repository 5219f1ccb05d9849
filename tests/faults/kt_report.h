/**
 * @file kt_report.h
 * @brief The figures table of docs/reliability.md: each fault row rewrites its
 *        own line, found by its key (the first cell), between the markers
 *        `<!-- faults-table -->` and `<!-- /faults-table -->`. Lines keep the
 *        order of their keys (numeric), so any subset of rows can run.
 *
 * The document's path comes from $KFLEET_RELIABILITY_DOC (meson sets it to the
 * source tree's docs/reliability.md); unset or empty, the row is only printed.
 */
#ifndef KT_REPORT_H
#define KT_REPORT_H

#include <stddef.h>

/** Cells after the key: fault, what was done, lost, duplicated, p99 during / before,
 *  worker exits, time to recover, result. */
#define KT_REPORT_CELLS 8

/**
 * @brief Print the row and write it into the table (replacing the line with
 *        the same key, or adding it). A document without the markers gets the
 *        table appended. Failures to write are reported on stderr and return
 *        -1 (the row's own checks decide the test's result).
 * @param cells  KT_REPORT_CELLS strings ('|' and newlines are replaced)
 */
int kt_report_row(const char *key, const char *const cells[KT_REPORT_CELLS]);

#endif
