/* Operator commands: signed rollout.command events. The reducer is asked
 * first (on a fold of the log, with the event as it would land), so an
 * operator learns "the rollout is not paused" before it clutters the audit
 * trail, and afterwards (on a fresh fold up to the event) what it did. */
#include "publisher/pub_ops.h"

#include "common/kf_text.h"
#include "common/kf_err.h"
#include "common/kf_log.h"
#include "publisher/pub_control.h"
#include "schema/dtype.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static int build_event(const struct pub_command_opts *o, const struct fleet_model_info *mi,
                       struct ctl_event *ev, char *errstr, size_t errstr_size)
{
    ctl_event_init(ev, CTL_ROLLOUT_COMMAND);
    pub_event_id(ev->event_id, ctl_action2str(o->action));
    snprintf(ev->model, sizeof(ev->model), "%s", o->model);
    ev->action = o->action;
    /* What it acts on (docs/security.md): this publication, and the next
     * place in the model's command sequence; a re-append is then a replay. */
    ev->seq = mi->seq;
    ev->cmd_seq = mi->cmd_seq + 1;
    if (o->version)
        snprintf(ev->version, sizeof(ev->version), "%s", o->version);
    else if (o->action != CTL_ACTION_ROLLBACK)
        snprintf(ev->version, sizeof(ev->version), "%s", mi->target);
    if (o->reason && strlen(o->reason) >= sizeof(ev->reason)) {
        kf_errf(errstr, errstr_size, "--reason: at most %zu bytes", sizeof(ev->reason) - 1);
        return -EINVAL;
    }
    snprintf(ev->reason, sizeof(ev->reason), "%s", o->reason ? o->reason : "");
    kf_buf b;
    kf_buf_init(&b);
    char msg[512];
    int err = ctl_event_encode(ev, &b, msg, sizeof(msg));
    kf_buf_fini(&b);
    if (err)
        kf_errf(errstr, errstr_size, "rollout.command: %s", msg);
    return err ? -EINVAL : 0;
}

/* The verdict this event will get from readers with this invocation's keys. */
static enum ctl_sig_verdict sig_verdict(struct pub_ctx *pc, const struct crypto_ed25519_key *key,
                                        const struct ctl_event *ev)
{
    kf_buf value, sig;
    kf_buf_init(&value);
    kf_buf_init(&sig);
    char msg[256];
    enum ctl_sig_verdict v = CTL_SIG_BAD_SIGNATURE;
    const crypto_keyring *kr = pub_ctx_keyring(pc, msg, sizeof(msg));
    if (!ctl_event_encode(ev, &value, msg, sizeof(msg)) &&
        !ctl_sig_sign(key, value.ptr, value.len, &sig))
        v = ctl_sig_verify(sig.ptr, sig.len, value.ptr, value.len, kr, NULL);
    kf_buf_fini(&value);
    kf_buf_fini(&sig);
    return v;
}

int pub_command(struct pub_ctx *pc, const struct pub_command_opts *o,
                struct pub_command_result *res, char *errstr, size_t errstr_size)
{
    memset(res, 0, sizeof(*res));
    res->offset = -1;
    const struct crypto_ed25519_key *key = o->signer ? o->signer : pc->have_key ? &pc->key : NULL;
    if (!key) {
        kf_errf(errstr, errstr_size, "%s needs --key PRIVATE.key to sign the command",
                ctl_action2str(o->action));
        return -ENOKEY;
    }
    if (!o->model || !schema_name_valid(o->model, strlen(o->model)) ||
        (o->version && !schema_name_valid(o->version, strlen(o->version)))) {
        kf_errf(errstr, errstr_size, "bad model or version name");
        return -EINVAL;
    }
    pub_log *lg = NULL;
    int err = pub_log_open(pc, &lg, errstr, errstr_size);
    if (!err)
        err = pub_log_catch_up(lg, -1, errstr, errstr_size);
    if (err)
        goto out;
    fleet_state *fs = pub_log_state(lg);
    struct fleet_model_info mi;
    if (fleet_model_get(fs, o->model, &mi)) {
        kf_errf(errstr, errstr_size, "model %s was never published on %s", o->model,
                pc->cfg.topic_control);
        err = -ENOENT;
        goto out;
    }
    struct fleet_version_info vi;
    if (o->version && fleet_version_get(fs, o->model, o->version, &vi)) {
        kf_errf(errstr, errstr_size, "%s/%s was never published", o->model, o->version);
        err = -ENOENT;
        goto out;
    }
    struct ctl_event ev;
    if ((err = build_event(o, &mi, &ev, errstr, errstr_size)))
        goto out;
    snprintf(res->event_id, sizeof(res->event_id), "%s", ev.event_id);

    /* What the fleet would do with it, at the position it will take. */
    struct fleet_record fr = {
        .ev = &ev, .offset = pub_log_position(lg), .ts_ms = 0, .sig = sig_verdict(pc, key, &ev)};
    if ((err = fleet_state_feed(fs, &fr, &res->res)))
        goto out;
    if (!fleet_model_get(fs, o->model, &mi))
        snprintf(res->target, sizeof(res->target), "%s", mi.target);
    if (res->res.verdict != FLEET_APPLIED && !o->force) {
        char why[4 * sizeof(res->res.reason)];
        kf_errf(errstr, errstr_size, "the fleet would not apply %s to %s now (%s): %s%s",
                ctl_action2str(o->action), o->model, fleet_verdict2str(res->res.verdict),
                kf_text_clean(res->res.reason, why, sizeof(why)),
                o->dry_run ? "" : "; nothing sent (--force sends it anyway)");
        err = -EPERM;
        goto out;
    }
    if (o->dry_run)
        goto out;
    pub_log_free(lg);
    /* A fresh fold up to the event: what every worker will conclude. */
    const struct pub_record *r;
    if ((err = pub_announce_and_fold(pc, key, &ev, &res->offset, &lg, &r, errstr, errstr_size)))
        goto out;
    res->res = r->res;
    if (!fleet_model_get(pub_log_state(lg), o->model, &mi))
        snprintf(res->target, sizeof(res->target), "%s", mi.target);
    if (r->res.verdict != FLEET_APPLIED && !o->force) {
        char why[4 * sizeof(r->res.reason)];
        kf_errf(errstr, errstr_size, "%s landed at offset %" PRId64 " but was %s: %s",
                ctl_action2str(o->action), res->offset, fleet_verdict2str(r->res.verdict),
                kf_text_clean(r->res.reason, why, sizeof(why)));
        err = -ESTALE;
    }
out:
    pub_log_free(lg);
    return err;
}
