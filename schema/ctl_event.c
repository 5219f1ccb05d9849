/* Control event names, defaults and the enum <-> string tables. */
#include "schema/ctl_event.h"

#include "schema/ctl_impl.h"

#include <errno.h>
#include <string.h>

const char *const ctl_type_names[CTL_TYPE_COUNT] = {
    [CTL_MODEL_PUBLISHED] = "model.published", [CTL_ROLLOUT_COMMAND] = "rollout.command",
    [CTL_WORKER_JOINED] = "worker.joined",     [CTL_WORKER_LEFT] = "worker.left",
    [CTL_ROLLOUT_CLAIM] = "rollout.claim",     [CTL_ROLLOUT_STAGED] = "rollout.staged",
    [CTL_ROLLOUT_CUTOVER] = "rollout.cutover", [CTL_ROLLOUT_DONE] = "rollout.done",
    [CTL_ROLLOUT_FAILED] = "rollout.failed",   [CTL_ROLLOUT_HEALTHY] = "rollout.healthy",
    [CTL_ROLLOUT_EXPIRE] = "rollout.expire",   [CTL_KEY_ENROLLED] = "key.enrolled",
    [CTL_KEY_REVOKED] = "key.revoked",
};
const char *const ctl_kind_names[CTL_KIND_COUNT] = {"rolling", "canary", "bluegreen", "all"};
const char *const ctl_swap_names[CTL_SWAP_COUNT] = {"auto", "inplace", "handoff"};
const char *const ctl_action_names[CTL_ACTION_COUNT] = {"promote", "pause", "resume", "abort",
                                                        "rollback"};
const char *const ctl_mode_names[CTL_MODE_COUNT] = {"inplace", "handoff", "cutover"};
const char *const ctl_stage_names[CTL_STAGE_COUNT] = {"fetch",  "verify", "load",  "validate",
                                                      "warmup", "flip",   "health"};

static const char *lookup(const char *const *names, unsigned n, unsigned v)
{
    return v < n ? names[v] : "?";
}

const char *ctl_type2str(enum ctl_type t)
{
    return lookup(ctl_type_names, CTL_TYPE_COUNT, t);
}

const char *ctl_strategy_kind2str(enum ctl_strategy_kind k)
{
    return lookup(ctl_kind_names, CTL_KIND_COUNT, k);
}

const char *ctl_swap_mode2str(enum ctl_swap_mode m)
{
    return lookup(ctl_swap_names, CTL_SWAP_COUNT, m);
}

const char *ctl_action2str(enum ctl_action a)
{
    return lookup(ctl_action_names, CTL_ACTION_COUNT, a);
}

const char *ctl_mode2str(enum ctl_mode m)
{
    return lookup(ctl_mode_names, CTL_MODE_COUNT, m);
}

const char *ctl_stage2str(enum ctl_stage s)
{
    return lookup(ctl_stage_names, CTL_STAGE_COUNT, s);
}

int ctl_type_from_str(const char *s, enum ctl_type *out)
{
    for (int i = 0; i < CTL_TYPE_COUNT; i++) {
        if (!strcmp(s, ctl_type_names[i])) {
            *out = (enum ctl_type)i;
            return 0;
        }
    }
    return -ENOMSG;
}

bool ctl_type_needs_signature(enum ctl_type t)
{
    return t == CTL_MODEL_PUBLISHED || t == CTL_ROLLOUT_COMMAND || t == CTL_KEY_ENROLLED ||
           t == CTL_KEY_REVOKED;
}

const char *ctl_event_issuer(const struct ctl_event *ev)
{
    if (!ev || ctl_type_needs_signature(ev->type))
        return NULL;
    if (ev->by[0])
        return ev->by;
    return ev->worker[0] ? ev->worker : NULL;
}

void ctl_strategy_default(struct ctl_strategy *st)
{
    memset(st, 0, sizeof(*st));
    st->kind = CTL_STRATEGY_ROLLING;
    st->max_unavailable = 1;
    st->canary_workers = 1;
    st->bake_s = 60;
    st->auto_promote = true;
    st->auto_rollback = true;
    st->lease_s = 600;
    st->max_error_rate = 0.01;
    st->max_p99_ratio = 1.5;
    st->health_s = 10;
    st->stall_s = 300;
    st->swap_mode = CTL_SWAP_AUTO;
}

void ctl_event_init(struct ctl_event *ev, enum ctl_type type)
{
    memset(ev, 0, sizeof(*ev));
    ev->type = type;
    ev->v = CTL_VERSION;
    ctl_strategy_default(&ev->strategy);
}
