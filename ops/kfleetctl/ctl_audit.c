/* kfleetctl audit: the control log as a human timeline (or JSON lines).
 *
 * Every event is folded into the reducer from the start of the log, whatever
 * --from/--to/--model select for printing, so phase changes and "ignored"
 * verdicts are the ones the workers saw. An event that needs a signature and
 * lacks a valid trusted one, or that does not decode, is flagged; the closing
 * line counts them and the exit status is 3 when any was found (1 is a
 * failure to read the log), so a cron job can alert on it. */
#include "ops/kfleetctl/ctl.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

struct audit {
    const struct ctl_opts *o;
    uint64_t shown, flagged;
};

static void describe(const struct ctl_event *ev, char *out, size_t size)
{
    switch (ev->type) {
    case CTL_MODEL_PUBLISHED:
        snprintf(out, size, "%s %s published (seq %" PRIu64 ", %s, max_unavailable %u)", ev->model,
                 ev->version, ev->seq, ctl_strategy_kind2str(ev->strategy.kind),
                 ev->strategy.max_unavailable);
        break;
    case CTL_ROLLOUT_COMMAND:
        snprintf(out, size, "operator: %s %s%s%s (%s)", ctl_action2str(ev->action), ev->model,
                 ev->version[0] ? " to " : "", ev->version, ev->reason);
        break;
    case CTL_WORKER_JOINED:
        snprintf(out, size, "%s joined (%s on %s, %s)", ev->worker, ev->backend, ev->device,
                 ev->host);
        break;
    case CTL_WORKER_LEFT: snprintf(out, size, "%s left (%s)", ev->worker, ev->reason); break;
    case CTL_ROLLOUT_CLAIM:
        snprintf(out, size, "%s claims a slot for %s %s", ev->worker, ev->model, ev->version);
        break;
    case CTL_ROLLOUT_STAGED:
        snprintf(out, size, "%s staged %s %s", ev->worker, ev->model, ev->version);
        break;
    case CTL_ROLLOUT_CUTOVER: snprintf(out, size, "cutover: %s %s", ev->model, ev->version); break;
    case CTL_ROLLOUT_DONE:
        snprintf(out, size,
                 "%s runs %s %s (%s: fetch %.1f ms, load %.1f ms, flip %.3f ms, unowned %.1f ms)",
                 ev->worker, ev->model, ev->version, ctl_mode2str(ev->mode),
                 ev->timings.fetch_us / 1e3, ev->timings.load_us / 1e3, ev->timings.flip_us / 1e3,
                 ev->timings.unowned_us / 1e3);
        break;
    case CTL_ROLLOUT_FAILED:
        snprintf(out, size, "%s FAILED %s %s at %s: %s", ev->worker, ev->model, ev->version,
                 ctl_stage2str(ev->stage), ev->reason);
        break;
    case CTL_ROLLOUT_HEALTHY:
        snprintf(out, size, "%s: %s %s healthy (%" PRIu64 " requests, p99 %" PRIu64 " us)",
                 ev->worker, ev->model, ev->version, ev->metrics.requests, ev->metrics.p99_us);
        break;
    case CTL_ROLLOUT_EXPIRE:
        snprintf(out, size, "claim %s of %s expired (%s)", ev->claim_id, ev->worker, ev->reason);
        break;
    default: snprintf(out, size, "%s", ctl_type2str(ev->type));
    }
}

static void print_json(const struct ctl_record *r, const char *ts, const char *text)
{
    const kio_msg *m = r->msg;
    printf("{\"offset\":%" PRId64 ",\"time\":\"%s\",\"type\":", m->offset, ts);
    ctl_json_str(stdout, r->malformed ? "malformed" : ctl_type2str(r->ev.type));
    if (!r->malformed) {
        printf(",\"model\":");
        ctl_json_str(stdout, r->ev.model);
        printf(",\"version\":");
        ctl_json_str(stdout, r->ev.version);
        printf(",\"worker\":");
        ctl_json_str(stdout, r->ev.worker);
        printf(",\"event_id\":");
        ctl_json_str(stdout, r->ev.event_id);
    }
    printf(",\"signature\":\"%s\",\"flag\":\"%s\",\"text\":", ctl_sig_verdict2str(r->sig), r->flag);
    ctl_json_str(stdout, text);
    if (!r->malformed && r->res.from != r->res.to)
        printf(",\"phase\":{\"from\":\"%s\",\"to\":\"%s\"}", fleet_phase2str(r->res.from),
               fleet_phase2str(r->res.to));
    if (!r->malformed && r->res.verdict != FLEET_APPLIED) {
        printf(",\"ignored\":");
        ctl_json_str(stdout, r->res.reason);
    }
    printf("}\n");
}

static void print_text(const struct ctl_record *r, const char *ts, const char *text)
{
    printf("%s  #%-5" PRId64 " %-16s %s%s%s%s\n", ts, r->msg->offset,
           r->malformed ? "?" : ctl_type2str(r->ev.type), text, r->flag[0] ? "  [" : "", r->flag,
           r->flag[0] ? "]" : "");
    if (r->malformed)
        return;
    if (r->res.from != r->res.to)
        printf("%33s phase %s -> %s%s%s\n", "", fleet_phase2str(r->res.from),
               fleet_phase2str(r->res.to), r->res.reason[0] ? ": " : "", r->res.reason);
    else if (r->res.verdict != FLEET_APPLIED)
        printf("%33s ignored: %s\n", "", r->res.reason);
}

static int on_record(void *opaque, const struct ctl_record *r, const fleet_state *fs)
{
    (void)fs;
    struct audit *a = opaque;
    const kio_msg *m = r->msg;
    if (!ctl_bound_within(a->o, m->offset, m->timestamp_ms))
        return 0;
    /* --model keeps the model's events and the fleet-wide ones (joins, leaves);
     * a malformed event might concern any model, so it is always shown. */
    if (a->o->model && !r->malformed && r->ev.model[0] && strcmp(r->ev.model, a->o->model))
        return 0;
    char ts[40], text[1200];
    ctl_time_str(m->timestamp_ms, ts, sizeof(ts));
    if (r->malformed)
        snprintf(text, sizeof(text), "undecodable event: %s", r->why);
    else
        describe(&r->ev, text, sizeof(text));
    a->shown++;
    a->flagged += r->flag[0] != 0;
    if (a->o->json)
        print_json(r, ts, text);
    else
        print_text(r, ts, text);
    return 0;
}

int ctl_cmd_audit(const struct ctl_opts *o)
{
    crypto_keyring *kr = ctl_keyring(o);
    if (!kr)
        return 1;
    fleet_state *fs = ctl_fleet_new();
    struct audit a = {.o = o};
    int e = fs ? ctl_replay(o, kr, fs, on_record, &a) : -1;
    fleet_state_free(fs);
    crypto_keyring_free(kr);
    if (e)
        return 1;
    if (!o->json)
        printf("%" PRIu64 " events shown, %" PRIu64 " flagged%s\n", a.shown, a.flagged,
               o->trusted_keys ? "" : " (no --trusted-keys: signatures not checked against keys)");
    return a.flagged ? 3 : 0;
}
