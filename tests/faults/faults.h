/**
 * @file faults.h
 * @brief The rows of the fault suite (issue 12, docs/reliability.md). Each
 *        runs real kfleet-worker processes under a constant, checked request
 *        load against the devstack, writes its line of the table and returns
 *        the test's exit code (0 pass, 1 a check failed, 77 skip, 99 broken fixture).
 */
#ifndef FAULTS_H
#define FAULTS_H

int fault_poison(const char *worker_bin);
int fault_too_large(const char *worker_bin);
int fault_backlog(const char *worker_bin);
int fault_s3_join(const char *worker_bin);
int fault_kill(const char *worker_bin);
int fault_broker(const char *worker_bin);
/* Issue 15: kill and broker with -X delivery=exactly_once, 0 duplicates. */
int fault_kill_eos(const char *worker_bin);
int fault_broker_eos(const char *worker_bin);
int fault_leader(const char *worker_bin);
int fault_s3_rollout(const char *worker_bin);
int fault_deadline(const char *worker_bin);
int fault_labels(const char *worker_bin);

#endif
