/* publish-model enroll / revoke: the release key vouches for a worker's own
 * key, or withdraws a key, on the control log. Like the operator commands
 * (pub_ops.c) the reducer is asked first, on a fold of the log, and again
 * after the event landed. */
#include "publisher/pub_enroll.h"

#include "common/kf_err.h"
#include "publisher/pub_control.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static int key_event(struct pub_ctx *pc, struct ctl_event *ev, const struct pub_key_opts *o,
                     struct pub_key_result *res, char *errstr, size_t errstr_size)
{
    if (!pc->have_key) {
        kf_errf(errstr, errstr_size, "%s needs --key PRIVATE.key (a release key)",
                ctl_type2str(ev->type));
        return -ENOKEY;
    }
    if (o->reason && strlen(o->reason) >= sizeof(ev->reason)) {
        kf_errf(errstr, errstr_size, "--reason: at most %zu bytes", sizeof(ev->reason) - 1);
        return -EINVAL;
    }
    snprintf(ev->reason, sizeof(ev->reason), "%s", o->reason ? o->reason : "");
    pub_event_id(ev->event_id, ev->type == CTL_KEY_ENROLLED ? "enroll" : "revoke");
    snprintf(res->event_id, sizeof(res->event_id), "%s", ev->event_id);
    kf_buf b;
    kf_buf_init(&b);
    char msg[256];
    int err = ctl_event_encode(ev, &b, msg, sizeof(msg));
    kf_buf_fini(&b);
    if (err) {
        kf_errf(errstr, errstr_size, "%s: %s", ctl_type2str(ev->type), msg);
        return -EINVAL;
    }
    pub_log *lg = NULL;
    if ((err = pub_log_open(pc, &lg, errstr, errstr_size)) ||
        (err = pub_log_catch_up(lg, -1, errstr, errstr_size)))
        goto out;
    /* As it will land: signed by this invocation's key (the workers check
     * that it is a release key; `publish-model verify` says whether it is). */
    struct fleet_record fr = {
        .ev = ev, .offset = pub_log_position(lg), .ts_ms = 0, .sig = CTL_SIG_OK};
    if ((err = fleet_state_feed(pub_log_state(lg), &fr, &res->res)))
        goto out;
    if (res->res.verdict != FLEET_APPLIED) {
        kf_errf(errstr, errstr_size, "the fleet would not apply %s: %s", ctl_type2str(ev->type),
                res->res.reason);
        err = -EPERM;
        goto out;
    }
    if (o->dry_run)
        goto out;
    pub_log_free(lg);
    const struct pub_record *r;
    if ((err = pub_announce_and_fold(pc, &pc->key, ev, &res->offset, &lg, &r, errstr, errstr_size)))
        goto out;
    res->res = r->res;
    if (r->res.verdict != FLEET_APPLIED) {
        kf_errf(errstr, errstr_size, "%s landed at offset %" PRId64 " but was %s: %s",
                ctl_type2str(ev->type), res->offset, fleet_verdict2str(r->res.verdict),
                r->res.reason);
        err = -ESTALE;
    }
out:
    pub_log_free(lg);
    return err;
}

int pub_key_enroll(struct pub_ctx *pc, const struct pub_key_opts *o, struct pub_key_result *res,
                   char *errstr, size_t errstr_size)
{
    memset(res, 0, sizeof(*res));
    res->offset = -1;
    if (!o->worker || !schema_id_valid(o->worker, strlen(o->worker)) || !o->pub_path) {
        kf_errf(errstr, errstr_size, "enroll needs --worker ID (%s) and --worker-pub FILE",
                SCHEMA_ID_RULE);
        return -EINVAL;
    }
    struct crypto_ed25519_key k;
    char msg[256];
    if (crypto_ed25519_load(&k, o->pub_path, msg, sizeof(msg))) {
        kf_errf(errstr, errstr_size, "--worker-pub %s: %s", o->pub_path, msg);
        return -EINVAL;
    }
    struct ctl_event ev;
    ctl_event_init(&ev, CTL_KEY_ENROLLED);
    snprintf(ev.worker, sizeof(ev.worker), "%s", o->worker);
    crypto_base64_encode(k.pub, sizeof(k.pub), ev.pubkey);
    snprintf(res->key_id, sizeof(res->key_id), "%s", k.key_id);
    memset(k.priv, 0, sizeof(k.priv)); /* a .key file works too; only the public half goes */
    return key_event(pc, &ev, o, res, errstr, errstr_size);
}

int pub_key_revoke(struct pub_ctx *pc, const struct pub_key_opts *o, struct pub_key_result *res,
                   char *errstr, size_t errstr_size)
{
    memset(res, 0, sizeof(*res));
    res->offset = -1;
    if (!o->key_id || strlen(o->key_id) != CTL_KEY_ID_CAP - 1) {
        kf_errf(errstr, errstr_size, "revoke needs --key-id (16 hex characters)");
        return -EINVAL;
    }
    struct ctl_event ev;
    ctl_event_init(&ev, CTL_KEY_REVOKED);
    snprintf(ev.key_id, sizeof(ev.key_id), "%s", o->key_id);
    snprintf(res->key_id, sizeof(res->key_id), "%s", o->key_id);
    return key_event(pc, &ev, o, res, errstr, errstr_size);
}
