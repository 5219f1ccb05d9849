/* kfleetctl audit: the control log as a human timeline (or JSON lines).
 *
 * Every event is folded into the reducer from the start of the log, whatever
 * --from/--to/--model select for printing, so phase changes and "ignored"
 * verdicts are the ones the workers saw. The flags are the reducer's own
 * authentication verdicts (enum fleet_auth, docs/security.md): an event
 * that is forged (no valid signature by a key that speaks for it; for an
 * operator event the flag says how: unsigned, unknown_key...), signed
 * by a revoked key, a replay of an earlier record or of an old command, a
 * duplicate event_id, or whose signature was never checked because it
 * changed nothing ("unverified"); and one that does not decode. The closing
 * line counts them and the exit status is 3 when any was found (1 is a
 * failure to read the log), so a cron job can alert on it. Without
 * --trusted-keys no signature can be checked: signed events are labelled
 * "unverified" and make exit 3 too, unless --allow-unverified says that is
 * what the caller wants.
 *
 * The human timeline escapes control characters in every text that comes from
 * the log (ctl_text_clean): an event's reason is not allowed to clear the
 * auditor's screen. --json leaves strings as they are (jansson escapes them). */
#include "ops/kfleetctl/ctl.h"

#include "common/kf_text.h"
#include "common/kf_err.h"
#include "schema/json_impl.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

struct audit {
    const struct ctl_opts *o;
    uint64_t shown, flagged, unverified;
    int write_err; /* stdout failed (or out of memory): stop, exit 1 */
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
    case CTL_WORKER_LEFT:
        snprintf(out, size, "%s left (%s)%s%s", ev->worker, ev->reason, ev->by[0] ? ", says " : "",
                 ev->by);
        break;
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
        snprintf(out, size, "claim %s of %s expired (%s)%s%s", ev->claim_id, ev->worker, ev->reason,
                 ev->by[0] ? ", says " : "", ev->by);
        break;
    case CTL_KEY_ENROLLED: {
        uint8_t pub[CRYPTO_ED25519_KEY_LEN + 3];
        char id[CRYPTO_KEY_ID_LEN + 1] = "?";
        if (crypto_base64_decode(ev->pubkey, strlen(ev->pubkey), pub, sizeof(pub)) ==
            CRYPTO_ED25519_KEY_LEN)
            crypto_key_id(pub, id);
        snprintf(out, size, "operator: key %s enrolled for worker %s (%s)", id, ev->worker,
                 ev->reason);
        break;
    }
    case CTL_KEY_REVOKED:
        snprintf(out, size, "operator: key %s revoked (%s)", ev->key_id, ev->reason);
        break;
    default: snprintf(out, size, "%s", ctl_type2str(ev->type));
    }
}

/* One JSON line per event, written by jansson (ju_print_line): text fields
 * keep their UTF-8 as it is, and a field cut mid-character by a fixed buffer
 * shows U+FFFD rather than breaking the line. */
/* "" or what an auditor must look at: the signature label of an operator
 * event without a valid trusted signature (ctl_log.c: "unverified" when no
 * keys were given, else unsigned, unknown_key...), or the reducer's own
 * verdict (docs/security.md) unless it found the event authentic (ok) or took
 * it unsigned because unsigned worker events are still allowed. */
static const char *audit_flag(const struct ctl_record *r)
{
    if (r->flag[0])
        return r->flag;
    if (r->res.auth == FLEET_AUTH_OK || r->res.auth == FLEET_AUTH_UNSIGNED)
        return "";
    return fleet_auth2str(r->res.auth);
}

static int print_json(const struct ctl_opts *a_opts, const struct ctl_record *r, const char *ts,
                      const char *text)
{
    int err = 0;
    json_t *j = json_object();
    if (!j)
        return -ENOMEM;
    ju_set(j, "offset", json_integer(r->msg->offset), &err);
    ju_set(j, "time", json_string(ts), &err);
    ju_set(j, "type", json_string(r->malformed ? "malformed" : ctl_type2str(r->ev.type)), &err);
    if (!r->malformed) {
        ju_set(j, "model", ju_text(r->ev.model), &err);
        ju_set(j, "version", ju_text(r->ev.version), &err);
        ju_set(j, "worker", ju_text(r->ev.worker), &err);
        ju_set(j, "event_id", ju_text(r->ev.event_id), &err);
        if (r->ev.reason[0])
            ju_set(j, "reason", ju_text(r->ev.reason), &err);
    }
    ju_set(j, "signature", json_string(ctl_sig_label(a_opts, r->sig)), &err);
    ju_set(j, "flag", json_string(audit_flag(r)), &err);
    if (!r->malformed) {
        ju_set(j, "auth", json_string(fleet_auth2str(r->res.auth)), &err);
        if (r->res.key_id[0])
            ju_set(j, "key_id", json_string(r->res.key_id), &err);
    }
    ju_set(j, "text", ju_text(text), &err);
    if (!r->malformed && r->res.from != r->res.to)
        ju_set(j, "phase",
               json_pack("{ssss}", "from", fleet_phase2str(r->res.from), "to",
                         fleet_phase2str(r->res.to)),
               &err);
    if (!r->malformed && r->res.verdict != FLEET_APPLIED)
        ju_set(j, "ignored", ju_text(r->res.reason), &err);
    if (!err)
        err = ju_print_line(j, stdout);
    json_decref(j);
    return err;
}

static void print_text(const struct ctl_record *r, const char *ts, const char *text)
{
    char clean[4 * 1200 + 1], reason[4 * sizeof(r->res.reason) + 1];
    const char *flag = audit_flag(r);
    printf("%s  #%-5" PRId64 " %-16s %s%s%s%s\n", ts, r->msg->offset,
           r->malformed ? "?" : ctl_type2str(r->ev.type), kf_text_clean(text, clean, sizeof(clean)),
           flag[0] ? "  [" : "", flag, flag[0] ? "]" : "");
    if (r->malformed)
        return;
    kf_text_clean(r->res.reason, reason, sizeof(reason));
    if (r->res.from != r->res.to)
        printf("%33s phase %s -> %s%s%s\n", "", fleet_phase2str(r->res.from),
               fleet_phase2str(r->res.to), reason[0] ? ": " : "", reason);
    else if (r->res.verdict != FLEET_APPLIED)
        printf("%33s ignored: %s\n", "", reason);
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
    const char *flag = audit_flag(r);
    bool unverified = !strcmp(flag, "unverified");
    a->unverified += unverified;
    a->flagged += flag[0] && !unverified;
    if (!a->o->json) {
        print_text(r, ts, text);
        return 0;
    }
    a->write_err = print_json(a->o, r, ts, text);
    if (a->write_err)
        fprintf(stderr, "kfleetctl: audit --json: %s\n", kf_strerror(a->write_err));
    return a->write_err;
}

int ctl_cmd_audit(const struct ctl_opts *o)
{
    crypto_keyring *kr = ctl_keyring(o);
    if (!kr)
        return 1;
    fleet_state *fs = ctl_fleet_new(o, kr);
    struct audit a = {.o = o};
    int e = fs ? ctl_replay(o, kr, fs, on_record, &a) : -1;
    fleet_state_free(fs);
    crypto_keyring_free(kr);
    if (e || a.write_err)
        return 1;
    bool fail_unverified = a.unverified && !o->allow_unverified;
    if (!o->json)
        printf("%" PRIu64 " events shown, %" PRIu64 " flagged%s", a.shown, a.flagged,
               o->trusted_keys ? "\n" : "");
    if (!o->json && !o->trusted_keys)
        printf(", %" PRIu64 " unverified (no --trusted-keys: no signature was checked%s)\n",
               a.unverified,
               fail_unverified ? "; give -K FILE, or --allow-unverified to accept that" : "");
    if (fail_unverified)
        fprintf(stderr,
                "kfleetctl: audit: %" PRIu64 " signed event%s not verified: no --trusted-keys "
                "(--allow-unverified to exit 0 anyway)\n",
                a.unverified, a.unverified == 1 ? "" : "s");
    return a.flagged || fail_unverified ? 3 : 0;
}
