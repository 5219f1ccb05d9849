/* Helpers that build control events, pass them through the JSON codec (so
 * the reducer sees exactly what a reader of the log would) and feed them. */
#ifndef TESTS_SCHEMA_FLEET_TESTLIB_H
#define TESTS_SCHEMA_FLEET_TESTLIB_H

#include "schema/fleet.h"

#include <stdbool.h>
#include <stdint.h>

struct ft {
    fleet_state *fs;
    int64_t offset;
    int64_t ts_ms;              /* LogAppendTime of the next record; advanced by 10 ms each */
    struct fleet_result res;    /* of the last feed */
    struct ctl_event log[1024]; /* everything fed, for replays */
    enum ctl_sig_verdict sigs[1024];
    int64_t tss[1024];
    size_t n;
};

/** A fresh reducer with a silent log sink. */
void ft_init(struct ft *t);
void ft_fini(struct ft *t);

/** Encode + decode @p ev, feed it, check the invariants every result must keep. */
enum fleet_verdict ft_feed(struct ft *t, const struct ctl_event *ev, enum ctl_sig_verdict sig);

struct ft_pub {
    enum ctl_strategy_kind kind;
    uint32_t max_unavailable, canary_workers, lease_s;
    bool no_auto_rollback, no_auto_promote;
    uint32_t health_s; /* 0 (the default here): no health window, claims end at done */
    uint32_t stall_s;  /* 0: the strategy's default */
};

enum fleet_verdict ft_publish(struct ft *t, const char *model, const char *version, uint64_t seq,
                              const struct ft_pub *p);
enum fleet_verdict ft_publish_unsigned(struct ft *t, const char *model, const char *version,
                                       uint64_t seq, enum ctl_sig_verdict sig);
enum fleet_verdict ft_command(struct ft *t, const char *model, enum ctl_action a,
                              const char *version, enum ctl_sig_verdict sig);
enum fleet_verdict ft_joined(struct ft *t, const char *worker, const char *model,
                             const char *version);
enum fleet_verdict ft_left(struct ft *t, const char *worker);
enum fleet_verdict ft_claim(struct ft *t, const char *worker, const char *model,
                            const char *version, const char *claim_id);
enum fleet_verdict ft_staged(struct ft *t, const char *worker, const char *model,
                             const char *version);
enum fleet_verdict ft_cutover(struct ft *t, const char *model, const char *version);
enum fleet_verdict ft_done(struct ft *t, const char *worker, const char *model, const char *version,
                           const char *claim_id);
enum fleet_verdict ft_failed(struct ft *t, const char *worker, const char *model,
                             const char *version, const char *claim_id);
/** rollout.failed at stage health, naming no claim (a health window broke). */
enum fleet_verdict ft_unhealthy(struct ft *t, const char *worker, const char *model,
                                const char *version);
/** Let @p ms of LogAppendTime pass before the next record. */
void ft_wait(struct ft *t, int64_t ms);
enum fleet_verdict ft_healthy(struct ft *t, const char *worker, const char *model,
                              const char *version);
enum fleet_verdict ft_expire(struct ft *t, const char *claim_id);

/** The model's phase (FLEET_IDLE when unknown). */
enum fleet_phase ft_phase(const struct ft *t, const char *model);
/** Canonical dump of @p fs, NUL-terminated; free() it. */
char *ft_dump(const fleet_state *fs);
/** A new reducer fed the first @p n records of t's log; fleet_state_free it. */
fleet_state *ft_replay(const struct ft *t, size_t n);

#endif
