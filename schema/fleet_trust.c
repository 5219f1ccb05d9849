/* Who a record comes from (docs/security.md). Every state-changing event is
 * authenticated against the key state at its own offset: the release keys
 * (fleet_opts.root_keys) minus those key.revoked before it speak for the
 * operator; a key.enrolled key speaks for its one worker until revoked.
 *
 * The order of the checks is what keeps a flooded fold cheap: everything
 * that needs no crypto comes first (signature present and well-formed, key
 * known, speaking for this issuer, not revoked, record not seen before,
 * event_id not taken), so unsigned and wrongly-keyed forgeries and replays
 * cost a hash lookup. Operator events are then verified at once; a worker
 * event is verified only when its handler is about to change the state
 * (fleet_auth_verify), so a forgery that would change nothing costs nothing. */
#include "schema/fleet_impl.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

const char *fleet_auth2str(enum fleet_auth a)
{
    static const char *const names[FLEET_AUTH_COUNT] = {
        "ok", "unsigned", "unverified", "forged", "revoked_key", "replayed", "duplicate"};
    return (unsigned)a < FLEET_AUTH_COUNT ? names[a] : "?";
}

uint64_t fleet_auth_count(const fleet_state *fs, enum fleet_auth a)
{
    return fs && (unsigned)a < FLEET_AUTH_COUNT ? fs->n_auth[a] : 0;
}

uint64_t fleet_verify_count(const fleet_state *fs)
{
    return fs ? fs->n_verify : 0;
}

static struct fleet_key *key_find(const fleet_state *fs, const char *key_id)
{
    uint64_t i;
    return fleet_map_get(&fs->key_ix, key_id, &i) ? NULL : &fs->keys[i];
}

int fleet_key_get(const fleet_state *fs, const char *key_id, struct fleet_key_info *out)
{
    const struct fleet_key *k = fs && key_id ? key_find(fs, key_id) : NULL;
    if (!k)
        return -ENOENT;
    *out = (struct fleet_key_info){.key_id = k->key_id,
                                   .worker = k->worker,
                                   .offset = k->offset,
                                   .revoked_offset = k->revoked_offset};
    return 0;
}

static bool fail(struct fleet_auth_ctx *ac, enum fleet_auth a, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static bool fail(struct fleet_auth_ctx *ac, enum fleet_auth a, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ac->why, sizeof(ac->why), fmt, ap);
    va_end(ap);
    ac->auth = a;
    ac->pending = false;
    return false;
}

/* An operator event: signed by a release key not revoked before this offset. */
static bool check_root(fleet_state *fs, const struct fleet_record *rec, struct fleet_auth_ctx *ac,
                       char key_id[CTL_KEY_ID_CAP])
{
    const char *what = ctl_type2str(rec->ev->type);
    bool has =
        rec->sig_header && !ctl_sig_parse(rec->sig_header, rec->sig_header_len, key_id, ac->sig);
    const struct fleet_key *k = has ? key_find(fs, key_id) : NULL;
    if (k && k->revoked_offset >= 0)
        return fail(ac, FLEET_AUTH_REVOKED, "%s signed by key %s, revoked at an earlier offset",
                    what, key_id);
    if (!fs->opts.root_keys) { /* legacy: the caller verified against its keyring */
        if (rec->sig == CTL_SIG_OK)
            return true;
        if (!fs->opts.require_signatures) {
            ac->auth = FLEET_AUTH_UNSIGNED;
            return true;
        }
        return fail(ac, FLEET_AUTH_FORGED, "operator event not trusted: signature %s",
                    ctl_sig_verdict2str(rec->sig));
    }
    if (!rec->sig_header) {
        if (!fs->opts.require_signatures) {
            ac->auth = FLEET_AUTH_UNSIGNED;
            return true;
        }
        return fail(ac, FLEET_AUTH_FORGED, "operator event not trusted: %s is unsigned", what);
    }
    if (!has)
        return fail(ac, FLEET_AUTH_FORGED, "%s: malformed %s header", what, CTL_SIG_HEADER);
    if (k)
        return fail(ac, FLEET_AUTH_FORGED, "%s signed by %s, a worker key (of %s)", what, key_id,
                    k->worker);
    const struct crypto_ed25519_key *rk =
        crypto_keyring_find(fs->opts.root_keys, key_id, CRYPTO_KEY_ID_LEN);
    if (!rk)
        return fail(ac, FLEET_AUTH_FORGED, "%s signed by %s, not a release key", what, key_id);
    if (!rec->value)
        return fail(ac, FLEET_AUTH_FORGED, "%s: no value bytes to verify", what);
    memcpy(ac->pub, rk->pub, sizeof(ac->pub));
    ac->pending = true; /* verified once the replay checks passed */
    return true;
}

/* A worker event: signed by a key enrolled for its issuer; verified later. */
static bool check_worker(fleet_state *fs, const struct fleet_record *rec, struct fleet_auth_ctx *ac,
                         char key_id[CTL_KEY_ID_CAP])
{
    const char *what = ctl_type2str(rec->ev->type);
    const char *issuer = ctl_event_issuer(rec->ev);
    if (!rec->sig_header || !rec->value) {
        if (!fs->opts.require_worker_signatures) {
            ac->auth = FLEET_AUTH_UNSIGNED;
            return true;
        }
        return fail(ac, FLEET_AUTH_FORGED, "unsigned %s (from %s)", what,
                    issuer ? issuer : "nobody");
    }
    if (ctl_sig_parse(rec->sig_header, rec->sig_header_len, key_id, ac->sig))
        return fail(ac, FLEET_AUTH_FORGED, "%s: malformed %s header", what, CTL_SIG_HEADER);
    const struct fleet_key *k = key_find(fs, key_id);
    if (k && k->revoked_offset >= 0)
        return fail(ac, FLEET_AUTH_REVOKED, "%s signed by key %s, revoked at an earlier offset",
                    what, key_id);
    if (!k || k->root) {
        bool rel = k || (fs->opts.root_keys &&
                         crypto_keyring_find(fs->opts.root_keys, key_id, CRYPTO_KEY_ID_LEN));
        return fail(ac, FLEET_AUTH_FORGED, "%s signed by %s: %s", what, key_id,
                    rel ? "a release key does not speak for a worker" : "no such enrolled key");
    }
    if (!issuer)
        return fail(ac, FLEET_AUTH_FORGED, "%s names no issuer (by)", what);
    if (strcmp(k->worker, issuer))
        return fail(ac, FLEET_AUTH_FORGED, "key %s speaks for %s, not for %s", key_id, k->worker,
                    issuer);
    memcpy(ac->pub, k->pub, sizeof(ac->pub));
    ac->pending = true;
    return true;
}

int fleet_auth_check(fleet_state *fs, const struct fleet_record *rec, struct fleet_auth_ctx *ac,
                     char key_id[CTL_KEY_ID_CAP])
{
    memset(ac, 0, sizeof(*ac));
    key_id[0] = '\0';
    ac->auth = FLEET_AUTH_OK;
    if (rec->value) {
        uint64_t hh = rec->sig_header ? fleet_hash(rec->sig_header, rec->sig_header_len, 1) : 2;
        ac->record_hash = fleet_hash(rec->value, rec->value_len, hh) | 1;
    }
    bool ok = ctl_type_needs_signature(rec->ev->type) ? check_root(fs, rec, ac, key_id)
                                                      : check_worker(fs, rec, ac, key_id);
    if (!ok)
        return false;
    /* Anything appended again changes nothing: the same bytes (a verbatim
     * re-append, whether honest, forged or never applied)... */
    if (ac->record_hash) {
        int added = fleet_hset_add(&fs->records, ac->record_hash);
        if (added < 0)
            return added;
        if (!added)
            return fail(ac, FLEET_AUTH_REPLAYED, "%s %s: the same record as an earlier one",
                        ctl_type2str(rec->ev->type), rec->ev->event_id);
    }
    /* ... or another record with an event_id already accepted. An unsigned
     * event's id does not block a signed one (transition mode: an attacker
     * could otherwise burn the ids a worker will use). */
    uint64_t prev;
    bool is_signed = rec->sig_header && rec->value;
    if (!fleet_map_get(&fs->event_ix, rec->ev->event_id, &prev) && (!is_signed || (prev & 2))) {
        bool same = ac->record_hash && (prev | 3) == (ac->record_hash | 3);
        return fail(ac, same ? FLEET_AUTH_REPLAYED : FLEET_AUTH_DUPLICATE,
                    "event_id %s was taken by an earlier event", rec->ev->event_id);
    }
    /* Operator events are verified now: they are few, and their event_id
     * and cmd_seq must be spent even when they change nothing. */
    if (ac->pending && (fs->opts.verify_all || ctl_type_needs_signature(rec->ev->type)))
        return fleet_auth_verify(fs, rec, ac);
    return 1;
}

bool fleet_auth_verify(fleet_state *fs, const struct fleet_record *rec, struct fleet_auth_ctx *ac)
{
    if (!ac->pending)
        return ac->auth == FLEET_AUTH_OK || ac->auth == FLEET_AUTH_UNSIGNED;
    ac->pending = false;
    fs->n_verify++;
    if (crypto_ed25519_verify(ac->pub, rec->value, rec->value_len, ac->sig)) {
        ac->auth = FLEET_AUTH_FORGED;
        const char *iss = ctl_event_issuer(rec->ev);
        snprintf(ac->why, sizeof(ac->why), "%s from %s: the signature does not verify",
                 ctl_type2str(rec->ev->type), iss ? iss : "the operator");
        return false;
    }
    ac->auth = FLEET_AUTH_OK;
    return true;
}

int fleet_auth_accept(fleet_state *fs, const struct fleet_record *rec,
                      const struct fleet_auth_ctx *ac)
{
    /* bit 1: signed; the other bits: the record hash (replayed vs duplicate) */
    bool is_signed = rec->sig_header && rec->value;
    uint64_t v = (ac->record_hash & ~(uint64_t)3) | (is_signed ? 2 : 0);
    return fleet_map_put(&fs->event_ix, rec->ev->event_id, v);
}
