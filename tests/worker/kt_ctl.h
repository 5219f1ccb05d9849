/**
 * @file kt_ctl.h
 * @brief kfleetctl run against a fleet test's topics after its rollout
 *        (issue 8): the audited timeline with a forged event, the status view
 *        and the trace of one answered request.
 */
#ifndef KT_CTL_H
#define KT_CTL_H

#include "tests/worker/kt_e2e.h"

/**
 * @brief Append an unsigned forged model.published, then check `kfleetctl
 *        audit` (text and --json): the whole timeline, @p rollback_mark in it
 *        (evidence of the rollback), and the forged event — only it — flagged.
 */
void kt_ctl_audit(struct kt_env *e, const char *ctl_bin, const char *rollback_mark);
/** @brief `kfleetctl status --model` (exit 0 asserted): its output, malloc'd. */
char *kt_ctl_status_text(struct kt_env *e, const char *ctl_bin);
/** @brief `kfleetctl status`: every worker live, a group member, on @p version. */
void kt_ctl_status(struct kt_env *e, const char *ctl_bin, int workers, const char *version);
/** @brief `kfleetctl trace` of the first answer on the response topic names its worker and
 *         version and the request's id. */
void kt_ctl_trace(struct kt_env *e, const char *ctl_bin);
/** @brief `kfleetctl trace` of the request at (@p partition, @p offset) of the env's
 *         requests topic (exit 0 asserted): its output, malloc'd. */
char *kt_ctl_trace_text(struct kt_env *e, const char *ctl_bin, int32_t partition, int64_t offset);

#endif
