/* The reducer authenticates what it folds (docs/security.md): release keys
 * for the operator's events, enrolled keys for each worker's, revocation by
 * offset, no replays, commands bound to what they act on, linear lookups
 * with 200 group members, and a property test: forgeries of every kind
 * interleaved with an honest log change nothing in the folded state. */
#include "tests/lib/kf_test.h"
#include "tests/schema/fleet_signed.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NW 8

struct tc {
    fleet_state *fs;
    crypto_keyring *kr;
    struct crypto_ed25519_key root, root2, wk[NW], attacker;
    int64_t off, ts;
    struct fleet_result res;
    unsigned n;
};

static void quiet(void *opaque, enum kf_log_level level, const char *line)
{
    (void)opaque;
    (void)level;
    (void)line;
}

static fleet_state *tc_state(const struct tc *t, bool require_worker, bool verify_all)
{
    struct fleet_opts o;
    fleet_opts_default(&o);
    o.log = quiet;
    o.root_keys = t->kr;
    o.require_worker_signatures = require_worker;
    o.verify_all = verify_all;
    fleet_state *fs = fleet_state_new(&o);
    KT_ASSERT(fs);
    return fs;
}

static void tc_init(struct tc *t, bool require_worker)
{
    memset(t, 0, sizeof(*t));
    fsig_key(&t->root, 1000);
    fsig_key(&t->root2, 1001);
    fsig_key(&t->attacker, 666);
    for (unsigned i = 0; i < NW; i++)
        fsig_key(&t->wk[i], i);
    t->kr = crypto_keyring_new();
    KT_ASSERT(t->kr && !crypto_keyring_add(t->kr, &t->root) &&
              !crypto_keyring_add(t->kr, &t->root2));
    t->fs = tc_state(t, require_worker, false);
    t->off = 0;
    t->ts = 1000000;
}

static void tc_fini(struct tc *t)
{
    fleet_state_free(t->fs);
    crypto_keyring_free(t->kr);
}

static void ev_base(struct tc *t, struct ctl_event *ev, enum ctl_type type)
{
    ctl_event_init(ev, type);
    snprintf(ev->event_id, sizeof(ev->event_id), "t-%u", ++t->n);
}

static void ev_pub(struct tc *t, struct ctl_event *ev, const char *ver, uint64_t seq,
                   enum ctl_strategy_kind kind, uint32_t max_unavailable)
{
    ev_base(t, ev, CTL_MODEL_PUBLISHED);
    strcpy(ev->model, "m");
    snprintf(ev->version, sizeof(ev->version), "%s", ver);
    ev->seq = seq;
    strcpy(ev->manifest.bucket, "b");
    snprintf(ev->manifest.key, sizeof(ev->manifest.key), "m/%s/manifest.json", ver);
    memset(ev->manifest.sha256, 'a', 64);
    ev->manifest.size = 10;
    ev->strategy.kind = kind;
    ev->strategy.max_unavailable = max_unavailable;
    ev->strategy.lease_s = 5;
    ev->strategy.health_s = 0; /* the simulated workers say done, never healthy */
}

static void ev_w(struct tc *t, struct ctl_event *ev, enum ctl_type type, const char *worker,
                 const char *ver, const char *claim)
{
    ev_base(t, ev, type);
    snprintf(ev->worker, sizeof(ev->worker), "%s", worker);
    if (type != CTL_WORKER_JOINED && type != CTL_WORKER_LEFT)
        strcpy(ev->model, "m");
    if (type == CTL_WORKER_JOINED) {
        ev->n_models = 1;
        strcpy(ev->models[0].model, "m");
        snprintf(ev->models[0].version, CTL_NAME_CAP, "%s", ver ? ver : "");
    } else if (ver) {
        snprintf(ev->version, sizeof(ev->version), "%s", ver);
    }
    if (claim)
        snprintf(ev->claim_id, sizeof(ev->claim_id), "%s", claim);
    if (type == CTL_ROLLOUT_FAILED) {
        ev->stage = CTL_STAGE_HEALTH;
        strcpy(ev->reason, "error rate");
    }
}

static void ev_cmd(struct tc *t, struct ctl_event *ev, enum ctl_action a, const char *ver,
                   uint64_t seq, uint64_t cmd_seq)
{
    ev_base(t, ev, CTL_ROLLOUT_COMMAND);
    strcpy(ev->model, "m");
    ev->action = a;
    if (ver)
        snprintf(ev->version, sizeof(ev->version), "%s", ver);
    ev->seq = seq;
    ev->cmd_seq = cmd_seq;
}

static void ev_enrol(struct tc *t, struct ctl_event *ev, const char *worker,
                     const struct crypto_ed25519_key *k)
{
    ev_base(t, ev, CTL_KEY_ENROLLED);
    snprintf(ev->worker, sizeof(ev->worker), "%s", worker);
    fsig_pubkey(k, ev->pubkey);
}

static void ev_revoke(struct tc *t, struct ctl_event *ev, const struct crypto_ed25519_key *k)
{
    ev_base(t, ev, CTL_KEY_REVOKED);
    snprintf(ev->key_id, sizeof(ev->key_id), "%s", k->key_id);
}

/* Feed one event signed by @p key (NULL: unsigned); keep the record in @p keep. */
static enum fleet_auth feed_keep(struct tc *t, const struct ctl_event *ev,
                                 const struct crypto_ed25519_key *key, struct fsig_rec *keep)
{
    struct fsig_rec r;
    fsig_make(&r, ev, key);
    r.offset = t->off++;
    r.ts_ms = t->ts;
    t->ts += 100;
    KT_ASSERT_INT_EQ(fsig_feed(t->fs, &r, &t->res), 0);
    if (t->res.auth > FLEET_AUTH_UNVERIFIED)
        KT_ASSERT_MSG(t->res.verdict == FLEET_IGNORED && t->res.from == t->res.to,
                      "a %s event had an effect", fleet_auth2str(t->res.auth));
    if (keep)
        *keep = r;
    else
        fsig_free(&r);
    return t->res.auth;
}

static enum fleet_auth feed(struct tc *t, const struct ctl_event *ev,
                            const struct crypto_ed25519_key *key)
{
    return feed_keep(t, ev, key, NULL);
}

/* Re-append a kept record verbatim at the next offset. */
static enum fleet_auth refeed(struct tc *t, const struct fsig_rec *r)
{
    struct fsig_rec c;
    fsig_copy(&c, r);
    c.offset = t->off++;
    c.ts_ms = t->ts;
    t->ts += 100;
    KT_ASSERT_INT_EQ(fsig_feed(t->fs, &c, &t->res), 0);
    fsig_free(&c);
    return t->res.auth;
}

static enum fleet_phase phase(const struct tc *t)
{
    struct fleet_model_info mi;
    return fleet_model_get(t->fs, "m", &mi) ? FLEET_IDLE : mi.phase;
}

static const char *target(const struct tc *t)
{
    struct fleet_model_info mi;
    return fleet_model_get(t->fs, "m", &mi) ? "" : mi.target;
}

#define AUTH_EQ(expr, want)                                                            \
    do {                                                                               \
        enum fleet_auth a_ = (expr);                                                   \
        KT_ASSERT_MSG(a_ == (want), "%s: %s, want %s (%s)", #expr, fleet_auth2str(a_), \
                      fleet_auth2str(want), t->res.reason);                            \
    } while (0)

/* w0..w(n-1) enrolled and joined on v1; v1 published rolling and complete. */
static void setup_fleet(struct tc *t, unsigned n)
{
    struct ctl_event ev;
    ev_pub(t, &ev, "v1", 1, CTL_STRATEGY_ROLLING, 1);
    AUTH_EQ(feed(t, &ev, &t->root), FLEET_AUTH_OK);
    for (unsigned i = 0; i < n; i++) {
        char w[16];
        snprintf(w, sizeof(w), "w%u", i);
        ev_enrol(t, &ev, w, &t->wk[i]);
        AUTH_EQ(feed(t, &ev, &t->root), FLEET_AUTH_OK);
        ev_w(t, &ev, CTL_WORKER_JOINED, w, "v1", NULL);
        AUTH_EQ(feed(t, &ev, &t->wk[i]), FLEET_AUTH_OK);
    }
    KT_ASSERT_INT_EQ(phase(t), FLEET_COMPLETE);
}

static void test_keys_speak_for_their_own(void)
{
    struct tc tt, *t = &tt;
    tc_init(t, true);
    struct ctl_event ev;
    setup_fleet(t, 2);
    /* operator events: only a release key */
    ev_pub(t, &ev, "v9", 9, CTL_STRATEGY_ROLLING, 1);
    AUTH_EQ(feed(t, &ev, NULL), FLEET_AUTH_FORGED);
    AUTH_EQ(feed(t, &ev, &t->wk[0]), FLEET_AUTH_FORGED);
    AUTH_EQ(feed(t, &ev, &t->attacker), FLEET_AUTH_FORGED);
    ev_enrol(t, &ev, "w0", &t->attacker);
    AUTH_EQ(feed(t, &ev, &t->wk[0]), FLEET_AUTH_FORGED);
    AUTH_EQ(feed(t, &ev, &t->attacker), FLEET_AUTH_FORGED);
    ev_enrol(t, &ev, "w0", &t->root2); /* a release key cannot be a worker's */
    feed(t, &ev, &t->root);
    KT_ASSERT_INT_EQ(t->res.verdict, FLEET_IGNORED);
    ev_enrol(t, &ev, "w1", &t->wk[0]); /* w0's key cannot also speak for w1 */
    feed(t, &ev, &t->root);
    KT_ASSERT_INT_EQ(t->res.verdict, FLEET_IGNORED);
    /* worker events: only the issuer's enrolled key */
    ev_w(t, &ev, CTL_WORKER_JOINED, "ghost", "v1", NULL);
    AUTH_EQ(feed(t, &ev, NULL), FLEET_AUTH_FORGED);
    AUTH_EQ(feed(t, &ev, &t->attacker), FLEET_AUTH_FORGED);
    AUTH_EQ(feed(t, &ev, &t->root), FLEET_AUTH_FORGED);
    ev_w(t, &ev, CTL_WORKER_LEFT, "w1", NULL, NULL);
    AUTH_EQ(feed(t, &ev, &t->wk[0]), FLEET_AUTH_FORGED); /* names no issuer: speaks for w1 */
    strcpy(ev.by, "w0");
    snprintf(ev.event_id, sizeof(ev.event_id), "left-by-w0");
    AUTH_EQ(feed(t, &ev, &t->wk[1]), FLEET_AUTH_FORGED); /* by w0, signed by w1 */
    KT_ASSERT(fleet_worker_live(t->fs, "w1"));
    AUTH_EQ(feed(t, &ev, &t->wk[0]), FLEET_AUTH_OK);
    KT_ASSERT(!fleet_worker_live(t->fs, "w1"));
    KT_ASSERT_INT_EQ(fleet_worker_count(t->fs), 2);
    /* a malformed header */
    struct fsig_rec r;
    ev_w(t, &ev, CTL_WORKER_JOINED, "w1", "v1", NULL);
    fsig_make(&r, &ev, &t->wk[1]);
    r.hdr[3] = 'Z';
    r.offset = t->off++;
    KT_ASSERT_INT_EQ(fsig_feed(t->fs, &r, &t->res), 0);
    AUTH_EQ(t->res.auth, FLEET_AUTH_FORGED);
    fsig_free(&r);
    tc_fini(t);
}

/* The attacks of issue 14, each with require_worker_signatures. */
static void test_forged_worker_events_change_nothing(void)
{
    struct tc tt, *t = &tt;
    tc_init(t, true);
    struct ctl_event ev;
    setup_fleet(t, 3);
    ev_pub(t, &ev, "v2", 2, CTL_STRATEGY_CANARY, 1);
    ev.strategy.canary_workers = 1;
    AUTH_EQ(feed(t, &ev, &t->root), FLEET_AUTH_OK);
    KT_ASSERT_INT_EQ(phase(t), FLEET_CANARY);
    /* rollout.failed from a worker that does not exist: no rollback */
    ev_w(t, &ev, CTL_ROLLOUT_FAILED, "ghost", "v2", NULL);
    AUTH_EQ(feed(t, &ev, NULL), FLEET_AUTH_FORGED);
    AUTH_EQ(feed(t, &ev, &t->attacker), FLEET_AUTH_FORGED);
    /* ... nor from a real one without its key */
    ev_w(t, &ev, CTL_ROLLOUT_FAILED, "w0", "v2", NULL);
    AUTH_EQ(feed(t, &ev, &t->wk[1]), FLEET_AUTH_FORGED);
    KT_ASSERT_INT_EQ(phase(t), FLEET_CANARY);
    KT_ASSERT_STR_EQ(target(t), "v2");
    /* rollout.healthy: no promotion without a bake */
    ev_w(t, &ev, CTL_ROLLOUT_HEALTHY, "w0", "v2", NULL);
    AUTH_EQ(feed(t, &ev, NULL), FLEET_AUTH_FORGED);
    KT_ASSERT_INT_EQ(phase(t), FLEET_CANARY);
    /* phantom claims hold no slot */
    for (int i = 0; i < 50; i++) {
        char w[32], c[32];
        snprintf(w, sizeof(w), "ghost-%d", i);
        snprintf(c, sizeof(c), "gc-%d", i);
        ev_w(t, &ev, CTL_ROLLOUT_CLAIM, w, "v2", c);
        AUTH_EQ(feed(t, &ev, i % 2 ? NULL : &t->attacker), FLEET_AUTH_FORGED);
    }
    struct fleet_model_info mi;
    KT_ASSERT_INT_EQ(fleet_model_get(t->fs, "m", &mi), 0);
    KT_ASSERT_INT_EQ(mi.active_claims, 0);
    KT_ASSERT_INT_EQ(mi.n_claims, 0);
    ev_w(t, &ev, CTL_ROLLOUT_CLAIM, "w0", "v2", "c0");
    AUTH_EQ(feed(t, &ev, &t->wk[0]), FLEET_AUTH_OK);
    KT_ASSERT(t->res.granted);
    /* rollout.done forged for w1/w2: not complete while they run v1 */
    ev_cmd(t, &ev, CTL_ACTION_PROMOTE, NULL, 2, 1);
    AUTH_EQ(feed(t, &ev, &t->root), FLEET_AUTH_OK);
    ev_w(t, &ev, CTL_ROLLOUT_DONE, "w0", "v2", "c0");
    AUTH_EQ(feed(t, &ev, &t->wk[0]), FLEET_AUTH_OK);
    for (int i = 1; i < 3; i++) {
        char w[8];
        snprintf(w, sizeof(w), "w%d", i);
        ev_w(t, &ev, CTL_ROLLOUT_DONE, w, "v2", NULL);
        AUTH_EQ(feed(t, &ev, NULL), FLEET_AUTH_FORGED);
    }
    KT_ASSERT_INT_EQ(phase(t), FLEET_ROLLING);
    KT_ASSERT_STR_EQ(fleet_worker_version(t->fs, "w1", "m"), "v1");
    /* blue/green: a forged cutover flips nothing */
    ev_pub(t, &ev, "v3", 3, CTL_STRATEGY_BLUEGREEN, 1);
    AUTH_EQ(feed(t, &ev, &t->root), FLEET_AUTH_OK);
    ev_w(t, &ev, CTL_ROLLOUT_STAGED, "w0", "v3", NULL);
    AUTH_EQ(feed(t, &ev, &t->wk[0]), FLEET_AUTH_OK);
    ev_base(t, &ev, CTL_ROLLOUT_CUTOVER);
    strcpy(ev.model, "m");
    strcpy(ev.version, "v3");
    AUTH_EQ(feed(t, &ev, NULL), FLEET_AUTH_FORGED);
    strcpy(ev.by, "w0");
    AUTH_EQ(feed(t, &ev, &t->wk[1]), FLEET_AUTH_FORGED);
    KT_ASSERT_INT_EQ(phase(t), FLEET_STAGING);
    tc_fini(t);
}

static void test_replayed_commands(void)
{
    struct tc tt, *t = &tt;
    tc_init(t, true);
    struct ctl_event ev;
    struct fsig_rec rollback, resume, pub2;
    setup_fleet(t, 1);
    ev_pub(t, &ev, "v2", 2, CTL_STRATEGY_ROLLING, 1);
    AUTH_EQ(feed_keep(t, &ev, &t->root, &pub2), FLEET_AUTH_OK);
    ev_cmd(t, &ev, CTL_ACTION_ROLLBACK, "v1", 2, 1);
    AUTH_EQ(feed_keep(t, &ev, &t->root, &rollback), FLEET_AUTH_OK);
    KT_ASSERT_STR_EQ(target(t), "v1");
    ev_pub(t, &ev, "v3", 3, CTL_STRATEGY_ROLLING, 1);
    AUTH_EQ(feed(t, &ev, &t->root), FLEET_AUTH_OK);
    ev_w(t, &ev, CTL_ROLLOUT_DONE, "w0", "v3", NULL);
    AUTH_EQ(feed(t, &ev, &t->wk[0]), FLEET_AUTH_OK);
    KT_ASSERT_INT_EQ(phase(t), FLEET_COMPLETE);
    /* re-appending the signed "rollback --to v1" moves nothing */
    AUTH_EQ(refeed(t, &rollback), FLEET_AUTH_REPLAYED);
    AUTH_EQ(refeed(t, &pub2), FLEET_AUTH_REPLAYED);
    KT_ASSERT_STR_EQ(target(t), "v3");
    KT_ASSERT_INT_EQ(phase(t), FLEET_COMPLETE);
    /* a command for an older publication, or an old cmd_seq, signed anew */
    ev_cmd(t, &ev, CTL_ACTION_ROLLBACK, "v1", 2, 5);
    AUTH_EQ(feed(t, &ev, &t->root), FLEET_AUTH_REPLAYED);
    ev_cmd(t, &ev, CTL_ACTION_ROLLBACK, "v1", 3, 1);
    AUTH_EQ(feed(t, &ev, &t->root), FLEET_AUTH_REPLAYED);
    ev_cmd(t, &ev, CTL_ACTION_ROLLBACK, "v1", 0, 0);
    AUTH_EQ(feed(t, &ev, &t->root), FLEET_AUTH_REPLAYED); /* unsequenced after sequenced */
    KT_ASSERT_STR_EQ(target(t), "v3");
    /* an old resume re-appended after an abort: the rollout stays halted */
    ev_pub(t, &ev, "v4", 4, CTL_STRATEGY_ROLLING, 1);
    AUTH_EQ(feed(t, &ev, &t->root), FLEET_AUTH_OK);
    ev_cmd(t, &ev, CTL_ACTION_PAUSE, NULL, 4, 2);
    AUTH_EQ(feed(t, &ev, &t->root), FLEET_AUTH_OK);
    ev_cmd(t, &ev, CTL_ACTION_RESUME, NULL, 4, 3);
    AUTH_EQ(feed_keep(t, &ev, &t->root, &resume), FLEET_AUTH_OK);
    ev_cmd(t, &ev, CTL_ACTION_ABORT, NULL, 4, 4);
    AUTH_EQ(feed(t, &ev, &t->root), FLEET_AUTH_OK);
    KT_ASSERT_INT_EQ(phase(t), FLEET_HALTED);
    AUTH_EQ(refeed(t, &resume), FLEET_AUTH_REPLAYED);
    KT_ASSERT_INT_EQ(phase(t), FLEET_HALTED);
    /* the same event_id with other bytes, even validly signed */
    ev_cmd(t, &ev, CTL_ACTION_RESUME, NULL, 4, 9);
    struct ctl_event back;
    char err[128];
    KT_ASSERT_INT_EQ(ctl_event_decode(resume.value, resume.len, &back, err, sizeof(err)), 0);
    strcpy(ev.event_id, back.event_id);
    AUTH_EQ(feed(t, &ev, &t->root), FLEET_AUTH_DUPLICATE);
    KT_ASSERT_INT_EQ(phase(t), FLEET_HALTED);
    struct fleet_model_info mi;
    KT_ASSERT_INT_EQ(fleet_model_get(t->fs, "m", &mi), 0);
    KT_ASSERT_INT_EQ(mi.cmd_seq, 4);
    fsig_free(&rollback);
    fsig_free(&resume);
    fsig_free(&pub2);
    tc_fini(t);
}

static void test_revocation_keeps_history(void)
{
    struct tc tt, *t = &tt;
    tc_init(t, true);
    struct ctl_event ev;
    setup_fleet(t, 2);
    /* a version published with root2 before root2 is revoked stays */
    ev_pub(t, &ev, "v2", 2, CTL_STRATEGY_ROLLING, 1);
    AUTH_EQ(feed(t, &ev, &t->root2), FLEET_AUTH_OK);
    ev_revoke(t, &ev, &t->root2);
    AUTH_EQ(feed(t, &ev, &t->root), FLEET_AUTH_OK);
    ev_pub(t, &ev, "v3", 3, CTL_STRATEGY_ROLLING, 1);
    AUTH_EQ(feed(t, &ev, &t->root2), FLEET_AUTH_REVOKED);
    KT_ASSERT_STR_EQ(target(t), "v2");
    struct fleet_version_info vi;
    KT_ASSERT_INT_EQ(fleet_version_get(t->fs, "m", "v2", &vi), 0);
    /* w0's key: what it signed before counts, after does not */
    ev_w(t, &ev, CTL_ROLLOUT_CLAIM, "w0", "v2", "c0");
    AUTH_EQ(feed(t, &ev, &t->wk[0]), FLEET_AUTH_OK);
    ev_revoke(t, &ev, &t->wk[0]);
    AUTH_EQ(feed(t, &ev, &t->root), FLEET_AUTH_OK);
    KT_ASSERT(fleet_claim_granted(t->fs, "c0"));
    ev_w(t, &ev, CTL_ROLLOUT_FAILED, "w0", "v2", "c0");
    AUTH_EQ(feed(t, &ev, &t->wk[0]), FLEET_AUTH_REVOKED);
    KT_ASSERT_INT_EQ(phase(t), FLEET_ROLLING);
    struct fleet_key_info ki;
    KT_ASSERT_INT_EQ(fleet_key_get(t->fs, t->wk[0].key_id, &ki), 0);
    KT_ASSERT_STR_EQ(ki.worker, "w0");
    KT_ASSERT(ki.revoked_offset > ki.offset);
    /* never again, and a new key takes over */
    ev_enrol(t, &ev, "w0", &t->wk[0]);
    feed(t, &ev, &t->root);
    KT_ASSERT_INT_EQ(t->res.verdict, FLEET_IGNORED);
    ev_enrol(t, &ev, "w0", &t->wk[5]);
    AUTH_EQ(feed(t, &ev, &t->root), FLEET_AUTH_OK);
    ev_w(t, &ev, CTL_ROLLOUT_DONE, "w0", "v2", "c0");
    AUTH_EQ(feed(t, &ev, &t->wk[5]), FLEET_AUTH_OK);
    /* a fresh fold of the same log agrees (judged by offset, not by today's keys) */
    tc_fini(t);
}

/* Unsigned worker events count while require_worker_signatures is off; a
 * signed one still needs the right key. Lazy verification: a bad signature
 * on an event that would change nothing costs no verify. */
static void test_transition_and_lazy_verify(void)
{
    struct tc tt, *t = &tt;
    tc_init(t, false);
    struct ctl_event ev;
    setup_fleet(t, 1);
    ev_w(t, &ev, CTL_WORKER_JOINED, "w7", "v1", NULL);
    AUTH_EQ(feed(t, &ev, NULL), FLEET_AUTH_UNSIGNED);
    KT_ASSERT(fleet_worker_live(t->fs, "w7"));
    ev_w(t, &ev, CTL_WORKER_JOINED, "w6", "v1", NULL);
    AUTH_EQ(feed(t, &ev, &t->wk[0]), FLEET_AUTH_FORGED);
    KT_ASSERT(!fleet_worker_live(t->fs, "w6"));
    /* a bad signature under w0's key */
    uint64_t before = fleet_verify_count(t->fs);
    struct fsig_rec r;
    ev_w(t, &ev, CTL_ROLLOUT_HEALTHY, "w0", "v0", NULL); /* not the target: no effect */
    fsig_make(&r, &ev, &t->wk[0]);
    r.hdr[CRYPTO_KEY_ID_LEN + 5] ^= 1;
    r.offset = t->off++;
    KT_ASSERT_INT_EQ(fsig_feed(t->fs, &r, &t->res), 0);
    AUTH_EQ(t->res.auth, FLEET_AUTH_UNVERIFIED);
    KT_ASSERT_INT_EQ(fleet_verify_count(t->fs), before);
    fsig_free(&r);
    ev_w(t, &ev, CTL_WORKER_LEFT, "w0", NULL, NULL); /* would change the state */
    fsig_make(&r, &ev, &t->wk[0]);
    r.hdr[CRYPTO_KEY_ID_LEN + 5] ^= 1;
    r.offset = t->off++;
    KT_ASSERT_INT_EQ(fsig_feed(t->fs, &r, &t->res), 0);
    AUTH_EQ(t->res.auth, FLEET_AUTH_FORGED);
    KT_ASSERT_INT_EQ(fleet_verify_count(t->fs), before + 1);
    KT_ASSERT(fleet_worker_live(t->fs, "w0"));
    fsig_free(&r);
    tc_fini(t);
}

/* ---- 200 group members ---- */

#define NM 200

static void big_fleet(struct tc *t, struct crypto_ed25519_key *keys, const char **members,
                      char (*names)[16])
{
    struct ctl_event ev;
    ev_pub(t, &ev, "v1", 1, CTL_STRATEGY_ROLLING, 1);
    AUTH_EQ(feed(t, &ev, &t->root), FLEET_AUTH_OK);
    for (unsigned i = 0; i < NM; i++) {
        snprintf(names[i], 16, "m%03u", i);
        members[i] = names[i];
        fsig_key(&keys[i], 5000 + i);
        ev_enrol(t, &ev, names[i], &keys[i]);
        AUTH_EQ(feed(t, &ev, &t->root), FLEET_AUTH_OK);
        ev_w(t, &ev, CTL_WORKER_JOINED, names[i], "v1", NULL);
        AUTH_EQ(feed(t, &ev, &keys[i]), FLEET_AUTH_OK);
    }
    KT_ASSERT_INT_EQ(phase(t), FLEET_COMPLETE);
}

static void test_bluegreen_200(void)
{
    static struct crypto_ed25519_key keys[NM];
    static char names[NM][16];
    const char *members[NM];
    struct tc tt, *t = &tt;
    tc_init(t, true);
    big_fleet(t, keys, members, names);
    struct ctl_event ev;
    ev_pub(t, &ev, "v2", 2, CTL_STRATEGY_BLUEGREEN, 1);
    AUTH_EQ(feed(t, &ev, &t->root), FLEET_AUTH_OK);
    for (unsigned i = 0; i < NM; i++) {
        KT_ASSERT(!fleet_cutover_due(t->fs, "m", members, NM));
        struct fleet_plan p;
        KT_ASSERT_INT_EQ(fleet_plan_worker(t->fs, names[i], "m", "v1", &p), 0);
        KT_ASSERT_INT_EQ(p.action, FLEET_ACT_STAGE);
        ev_w(t, &ev, CTL_ROLLOUT_STAGED, names[i], "v2", NULL);
        AUTH_EQ(feed(t, &ev, &keys[i]), FLEET_AUTH_OK);
    }
    KT_ASSERT(fleet_cutover_due(t->fs, "m", members, NM));
    const char *gone[4];
    KT_ASSERT_INT_EQ(fleet_workers_departed(t->fs, members, NM, gone, 4), 0);
    KT_ASSERT_INT_EQ(fleet_workers_departed(t->fs, members + 1, NM - 1, gone, 4), 1);
    KT_ASSERT_STR_EQ(gone[0], "m000");
    ev_base(t, &ev, CTL_ROLLOUT_CUTOVER);
    strcpy(ev.model, "m");
    strcpy(ev.version, "v2");
    strcpy(ev.by, names[77]);
    AUTH_EQ(feed(t, &ev, &keys[77]), FLEET_AUTH_OK);
    KT_ASSERT_INT_EQ(phase(t), FLEET_COMPLETE);
    for (unsigned i = 0; i < NM; i++)
        KT_ASSERT_STR_EQ(fleet_worker_version(t->fs, names[i], "m"), "v2");
    tc_fini(t);
}

static void test_rolling_200(void)
{
    static struct crypto_ed25519_key keys[NM];
    static char names[NM][16];
    const char *members[NM];
    struct tc tt, *t = &tt;
    tc_init(t, true);
    big_fleet(t, keys, members, names);
    struct ctl_event ev;
    ev_pub(t, &ev, "v2", 2, CTL_STRATEGY_ROLLING, 10);
    AUTH_EQ(feed(t, &ev, &t->root), FLEET_AUTH_OK);
    unsigned done = 0, rounds = 0, claims = 0;
    while (done < NM) {
        KT_ASSERT(++rounds < 100);
        /* every worker asks; at most 10 get a slot */
        for (unsigned i = 0; i < NM; i++) {
            struct fleet_plan p;
            const char *cur = fleet_worker_version(t->fs, names[i], "m");
            KT_ASSERT_INT_EQ(fleet_plan_worker(t->fs, names[i], "m", cur, &p), 0);
            if (p.action != FLEET_ACT_CLAIM)
                continue;
            char c[32];
            snprintf(c, sizeof(c), "c-%u", ++claims);
            ev_w(t, &ev, CTL_ROLLOUT_CLAIM, names[i], "v2", c);
            AUTH_EQ(feed(t, &ev, &keys[i]), FLEET_AUTH_OK);
        }
        struct fleet_model_info mi;
        KT_ASSERT_INT_EQ(fleet_model_get(t->fs, "m", &mi), 0);
        KT_ASSERT_MSG(mi.active_claims <= 10, "%zu active", mi.active_claims);
        for (unsigned i = 0; i < NM; i++) {
            struct fleet_plan p;
            const char *cur = fleet_worker_version(t->fs, names[i], "m");
            KT_ASSERT_INT_EQ(fleet_plan_worker(t->fs, names[i], "m", cur, &p), 0);
            if (p.action != FLEET_ACT_SWAP)
                continue;
            ev_w(t, &ev, CTL_ROLLOUT_DONE, names[i], "v2", p.claim_id);
            AUTH_EQ(feed(t, &ev, &keys[i]), FLEET_AUTH_OK);
            done++;
        }
        KT_ASSERT(done == NM || phase(t) == FLEET_ROLLING);
    }
    KT_ASSERT_INT_EQ(phase(t), FLEET_COMPLETE);
    KT_ASSERT_INT_EQ(rounds, NM / 10);
    tc_fini(t);
}

/* ---- property: forgeries interleaved with an honest log change nothing ---- */

#define PW 6 /* workers */
#define PSTEPS 70

struct prec {
    struct fsig_rec r;
    bool forged;
    unsigned allow;        /* forged: bit set of acceptable verdicts (lazy fold) */
    enum fleet_auth exact; /* forged: the verdict when every signature is verified */
    enum fleet_auth honest_auth;
};

struct gen {
    struct tc t;
    uint64_t rng;
    struct prec *recs;
    size_t n, cap;
    size_t honest; /* honest records so far */
    struct crypto_ed25519_key keys[PW][16];
    unsigned cur[PW];
    unsigned n_claims, n_versions;
    char names[PW][8];
    int revoked[PW]; /* key generation revoked most recently, -1 none */
};

static uint32_t rnd(struct gen *g, uint32_t n)
{
    g->rng ^= g->rng << 13;
    g->rng ^= g->rng >> 7;
    g->rng ^= g->rng << 17;
    return (uint32_t)(g->rng % n);
}

static struct prec *push(struct gen *g)
{
    if (g->n == g->cap) {
        g->cap = g->cap ? g->cap * 2 : 256;
        g->recs = realloc(g->recs, g->cap * sizeof(*g->recs));
        KT_ASSERT(g->recs);
    }
    struct prec *p = &g->recs[g->n++];
    memset(p, 0, sizeof(*p));
    return p;
}

static const struct crypto_ed25519_key *wkey(struct gen *g, unsigned i)
{
    return &g->keys[i][g->cur[i]];
}

/* An honest event: signed by its speaker's current key, fed to the oracle. */
static void honest(struct gen *g, const struct ctl_event *ev, const struct crypto_ed25519_key *k)
{
    struct prec *p = push(g);
    fsig_make(&p->r, ev, k);
    p->r.offset = (int64_t)++g->honest * 16;
    p->r.ts_ms = g->t.ts;
    g->t.ts += 400;
    struct fleet_result res;
    KT_ASSERT_INT_EQ(fsig_feed(g->t.fs, &p->r, &res), 0);
    KT_ASSERT_MSG(res.auth == FLEET_AUTH_OK || res.auth == FLEET_AUTH_UNVERIFIED,
                  "honest %s: %s (%s)", ctl_type2str(ev->type), fleet_auth2str(res.auth),
                  res.reason);
    p->honest_auth = res.auth;
}

static int live_worker(struct gen *g)
{
    for (int tries = 0; tries < 20; tries++) {
        unsigned i = rnd(g, PW);
        if (fleet_worker_live(g->t.fs, g->names[i]))
            return (int)i;
    }
    return -1;
}

static void honest_step(struct gen *g)
{
    struct tc *t = &g->t;
    struct ctl_event ev;
    struct fleet_model_info mi;
    KT_ASSERT_INT_EQ(fleet_model_get(t->fs, "m", &mi), 0);
    uint32_t r = rnd(g, 100);
    int i = live_worker(g);
    if (i < 0 || r >= 90) { /* someone (re)joins */
        unsigned k = rnd(g, PW);
        const char *v = fleet_worker_version(t->fs, g->names[k], "m");
        ev_w(t, &ev, CTL_WORKER_JOINED, g->names[k], v ? v : "v1", NULL);
        honest(g, &ev, wkey(g, k));
        return;
    }
    const char *w = g->names[i];
    if (r < 50) {
        struct fleet_plan p;
        const char *cur = fleet_worker_version(t->fs, w, "m");
        KT_ASSERT_INT_EQ(fleet_plan_worker(t->fs, w, "m", cur, &p), 0);
        char c[32];
        switch (p.action) {
        case FLEET_ACT_CLAIM:
            snprintf(c, sizeof(c), "c%u", ++g->n_claims);
            ev_w(t, &ev, CTL_ROLLOUT_CLAIM, w, p.version, c);
            break;
        case FLEET_ACT_SWAP:
        case FLEET_ACT_LOAD:
        case FLEET_ACT_FLIP: ev_w(t, &ev, CTL_ROLLOUT_DONE, w, p.version, p.claim_id); break;
        case FLEET_ACT_STAGE: ev_w(t, &ev, CTL_ROLLOUT_STAGED, w, p.version, NULL); break;
        default: ev_w(t, &ev, CTL_ROLLOUT_HEALTHY, w, mi.target, NULL); break;
        }
        honest(g, &ev, wkey(g, (unsigned)i));
    } else if (r < 54) {
        const struct fleet_claim *c = NULL;
        for (size_t k = 0; k < mi.n_claims; k++)
            if (mi.claims[k].status == FLEET_CLAIM_ACTIVE && !strcmp(mi.claims[k].worker, w))
                c = &mi.claims[k];
        ev_w(t, &ev, CTL_ROLLOUT_FAILED, w, mi.target, c ? c->claim_id : NULL);
        honest(g, &ev, wkey(g, (unsigned)i));
    } else if (r < 62) {
        const char *members[PW];
        size_t nm = 0;
        for (unsigned k = 0; k < PW; k++)
            if (fleet_worker_live(t->fs, g->names[k]))
                members[nm++] = g->names[k];
        if (!fleet_cutover_due(t->fs, "m", members, nm))
            return;
        ev_base(t, &ev, CTL_ROLLOUT_CUTOVER);
        strcpy(ev.model, "m");
        snprintf(ev.version, sizeof(ev.version), "%s", mi.target);
        strcpy(ev.by, w);
        honest(g, &ev, wkey(g, (unsigned)i));
    } else if (r < 71) {
        static const enum ctl_action acts[] = {CTL_ACTION_PROMOTE, CTL_ACTION_PAUSE,
                                               CTL_ACTION_RESUME, CTL_ACTION_ABORT,
                                               CTL_ACTION_ROLLBACK};
        enum ctl_action a = acts[rnd(g, 5)];
        ev_cmd(t, &ev, a, NULL, mi.seq, mi.cmd_seq + 1);
        if (a == CTL_ACTION_ROLLBACK && rnd(g, 2))
            strcpy(ev.version, "v1");
        honest(g, &ev, rnd(g, 2) ? &t->root : &t->root2);
    } else if (r < 78) {
        static const enum ctl_strategy_kind kinds[] = {CTL_STRATEGY_ROLLING, CTL_STRATEGY_CANARY,
                                                       CTL_STRATEGY_BLUEGREEN, CTL_STRATEGY_ALL};
        char v[16];
        snprintf(v, sizeof(v), "v%llu", (unsigned long long)mi.seq + 1);
        ev_pub(t, &ev, v, mi.seq + 1, kinds[rnd(g, 4)], 1 + rnd(g, 3));
        ev.strategy.lease_s = 2;
        ev.strategy.canary_workers = 1 + rnd(g, 2);
        honest(g, &ev, &t->root);
    } else if (r < 84) {
        const struct fleet_claim *exp[4];
        if (!fleet_claims_expired(t->fs, t->ts, exp, 4))
            return;
        ev_base(t, &ev, CTL_ROLLOUT_EXPIRE);
        snprintf(ev.claim_id, sizeof(ev.claim_id), "%s", exp[0]->claim_id);
        snprintf(ev.worker, sizeof(ev.worker), "%s", exp[0]->worker);
        strcpy(ev.model, "m");
        strcpy(ev.by, w);
        honest(g, &ev, wkey(g, (unsigned)i));
    } else if (r < 87) {
        int j = live_worker(g);
        if (j < 0)
            return;
        ev_w(t, &ev, CTL_WORKER_LEFT, g->names[j], NULL, NULL);
        if (j != i)
            strcpy(ev.by, w);
        honest(g, &ev, wkey(g, (unsigned)i));
    } else { /* key rotation: revoke the current key, enrol the next */
        unsigned k = (unsigned)i;
        if (g->cur[k] + 1 >= 16)
            return;
        ev_revoke(t, &ev, wkey(g, k));
        honest(g, &ev, &t->root);
        g->revoked[k] = (int)g->cur[k]++;
        ev_enrol(t, &ev, w, wkey(g, k));
        honest(g, &ev, &t->root2);
    }
}

/* A worker event an attacker would like counted, about worker @p w. */
static void forge_content(struct gen *g, struct ctl_event *ev, const char *w)
{
    struct tc *t = &g->t;
    struct fleet_model_info mi;
    KT_ASSERT_INT_EQ(fleet_model_get(t->fs, "m", &mi), 0);
    const char *claim = mi.n_claims ? mi.claims[rnd(g, (uint32_t)mi.n_claims)].claim_id : "cx";
    char fresh[32];
    snprintf(fresh, sizeof(fresh), "forged-%u", rnd(g, 1000000));
    switch (rnd(g, 9)) {
    case 0: ev_w(t, ev, CTL_ROLLOUT_CLAIM, w, mi.target, fresh); break;
    case 1: ev_w(t, ev, CTL_ROLLOUT_DONE, w, mi.target, claim); break;
    case 2: ev_w(t, ev, CTL_ROLLOUT_FAILED, w, mi.target, claim); break;
    case 3: ev_w(t, ev, CTL_ROLLOUT_HEALTHY, w, mi.target, NULL); break;
    case 4: ev_w(t, ev, CTL_ROLLOUT_STAGED, w, mi.target, NULL); break;
    case 5:
        ev_w(t, ev, CTL_WORKER_LEFT, g->names[rnd(g, PW)], NULL, NULL);
        strcpy(ev->by, w);
        break;
    case 6: ev_w(t, ev, CTL_WORKER_JOINED, w, mi.target, NULL); break;
    case 7:
        ev_base(t, ev, CTL_ROLLOUT_EXPIRE);
        snprintf(ev->claim_id, sizeof(ev->claim_id), "%s", claim);
        strcpy(ev->by, w);
        break;
    default:
        ev_base(t, ev, CTL_ROLLOUT_CUTOVER);
        strcpy(ev->model, "m");
        snprintf(ev->version, sizeof(ev->version), "%s", mi.target);
        strcpy(ev->by, w);
    }
}

#define A(x) (1u << (x))

static void forged(struct gen *g, const struct ctl_event *ev, const struct crypto_ed25519_key *k,
                   unsigned allow, enum fleet_auth exact)
{
    struct prec *p = push(g);
    fsig_make(&p->r, ev, k);
    p->forged = true;
    p->allow = allow;
    p->exact = exact;
}

static void forge(struct gen *g)
{
    struct tc *t = &g->t;
    struct ctl_event ev;
    unsigned i = rnd(g, PW), j = (i + 1 + rnd(g, PW - 1)) % PW;
    char ghost[16];
    snprintf(ghost, sizeof(ghost), "ghost-%u", rnd(g, 100));
    const char *who = rnd(g, 4) ? g->names[i] : ghost;
    unsigned kind = rnd(g, 9);
    if (kind == 7 && g->revoked[i] < 0)
        kind = 0;
    switch (kind) {
    case 0: /* unsigned */
        forge_content(g, &ev, who);
        forged(g, &ev, NULL, A(FLEET_AUTH_FORGED), FLEET_AUTH_FORGED);
        return;
    case 1: /* a key nobody enrolled */
        forge_content(g, &ev, who);
        forged(g, &ev, &t->attacker, A(FLEET_AUTH_FORGED), FLEET_AUTH_FORGED);
        return;
    case 2: /* another worker's key */
        forge_content(g, &ev, g->names[i]);
        forged(g, &ev, wkey(g, j), A(FLEET_AUTH_FORGED), FLEET_AUTH_FORGED);
        return;
    case 3: /* a release key speaking for a worker */
        forge_content(g, &ev, g->names[i]);
        forged(g, &ev, &t->root, A(FLEET_AUTH_FORGED), FLEET_AUTH_FORGED);
        return;
    case 4: { /* the right key id, a wrong signature */
        forge_content(g, &ev, g->names[i]);
        forged(g, &ev, wkey(g, i), A(FLEET_AUTH_FORGED) | A(FLEET_AUTH_UNVERIFIED),
               FLEET_AUTH_FORGED);
        struct prec *p = &g->recs[g->n - 1];
        p->r.hdr[CRYPTO_KEY_ID_LEN + 1 + rnd(g, 80)] ^= 2;
        p->r.hdr[CRYPTO_KEY_ID_LEN + 1] = p->r.hdr[CRYPTO_KEY_ID_LEN + 1] == 'A' ? 'B' : 'A';
        return;
    }
    case 5: { /* an earlier honest record appended again */
        size_t n_honest = 0, pick;
        for (size_t k = 0; k < g->n; k++)
            n_honest += !g->recs[k].forged;
        pick = rnd(g, (uint32_t)n_honest);
        for (size_t k = 0; k < g->n; k++) {
            if (g->recs[k].forged || pick--)
                continue;
            struct prec *p = push(g);
            fsig_copy(&p->r, &g->recs[k].r);
            p->forged = true;
            p->allow = A(FLEET_AUTH_REPLAYED) | A(FLEET_AUTH_REVOKED);
            p->exact = FLEET_AUTH_REPLAYED; /* or revoked_key: checked with allow */
            return;
        }
        return;
    }
    case 6: { /* an accepted event's id on other bytes, validly signed */
        size_t k = rnd(g, (uint32_t)g->n);
        while (k > 0 && (g->recs[k].forged || g->recs[k].honest_auth != FLEET_AUTH_OK))
            k--;
        const struct prec *o = &g->recs[k];
        if (o->forged || o->honest_auth != FLEET_AUTH_OK)
            return;
        char err[128];
        KT_ASSERT_INT_EQ(ctl_event_decode(o->r.value, o->r.len, &ev, err, sizeof(err)), 0);
        const struct crypto_ed25519_key *key = &t->root;
        const char *iss = ctl_event_issuer(&ev);
        if (iss) {
            unsigned w = (unsigned)(iss[1] - '0');
            key = wkey(g, w);
        }
        switch (ev.type) {
        case CTL_MODEL_PUBLISHED: ev.manifest.size++; break;
        case CTL_WORKER_JOINED: strcpy(ev.host, "elsewhere"); break;
        case CTL_ROLLOUT_CLAIM:
        case CTL_ROLLOUT_STAGED:
        case CTL_ROLLOUT_CUTOVER:
        case CTL_ROLLOUT_HEALTHY: strcpy(ev.version, "zz"); break;
        case CTL_ROLLOUT_DONE: ev.timings.fetch_us++; break;
        default: strcpy(ev.reason, "again"); break;
        }
        /* the same copy twice is a replay of the first */
        forged(g, &ev, key, A(FLEET_AUTH_DUPLICATE) | A(FLEET_AUTH_REPLAYED), FLEET_AUTH_DUPLICATE);
        return;
    }
    case 7: /* a revoked key, signature valid */
        forge_content(g, &ev, g->names[i]);
        forged(g, &ev, &g->keys[i][g->revoked[i]], A(FLEET_AUTH_REVOKED), FLEET_AUTH_REVOKED);
        return;
    default: { /* operator events without a release key */
        switch (rnd(g, 4)) {
        case 0: ev_pub(t, &ev, "evil", 1000 + rnd(g, 100), CTL_STRATEGY_ALL, 1); break;
        case 1: ev_cmd(t, &ev, CTL_ACTION_ROLLBACK, "v1", 0, 1000); break;
        case 2: ev_enrol(t, &ev, g->names[i], &t->attacker); break;
        default: ev_revoke(t, &ev, wkey(g, i)); break;
        }
        forged(g, &ev, rnd(g, 2) ? wkey(g, i) : &t->attacker, A(FLEET_AUTH_FORGED),
               FLEET_AUTH_FORGED);
    }
    }
}

static uint64_t seen_auth[FLEET_AUTH_COUNT], seen_applied;

/* Fold the records (all, or the honest ones) into a fresh state and dump it. */
static char *fold(struct gen *g, bool with_forgeries, bool verify_all)
{
    fleet_state *fs = tc_state(&g->t, true, verify_all);
    int64_t last = 0;
    for (size_t k = 0; k < g->n; k++) {
        struct prec *p = &g->recs[k];
        if (p->forged) {
            p->r.offset = ++last;
            p->r.ts_ms = g->t.ts;
            if (!with_forgeries)
                continue;
        }
        last = p->r.offset;
        struct fleet_result res;
        KT_ASSERT_INT_EQ(fsig_feed(fs, &p->r, &res), 0);
        if (with_forgeries && !verify_all) {
            seen_auth[res.auth]++;
            seen_applied += res.verdict == FLEET_APPLIED;
        }
        if (!p->forged) {
            if (!verify_all)
                KT_ASSERT_MSG(res.auth == p->honest_auth, "honest record %zu: %s, was %s", k,
                              fleet_auth2str(res.auth), fleet_auth2str(p->honest_auth));
            continue;
        }
        KT_ASSERT_MSG(res.verdict != FLEET_APPLIED, "forgery %zu applied: %s", k, res.reason);
        KT_ASSERT_MSG(p->allow & A(res.auth), "forgery %zu: verdict %s (%s)", k,
                      fleet_auth2str(res.auth), res.reason);
        if (verify_all)
            KT_ASSERT_MSG(res.auth == p->exact ||
                              (p->allow & A(res.auth) && res.auth != FLEET_AUTH_UNVERIFIED),
                          "forgery %zu: %s, want %s (%s)", k, fleet_auth2str(res.auth),
                          fleet_auth2str(p->exact), res.reason);
    }
    char *d = fsig_dump_state(fs);
    fleet_state_free(fs);
    return d;
}

static void property_once(uint64_t seed)
{
    static struct gen gg;
    struct gen *g = &gg;
    memset(g, 0, sizeof(*g));
    g->rng = seed * 0x9e3779b97f4a7c15ull + 1;
    tc_init(&g->t, true);
    struct tc *t = &g->t;
    for (unsigned i = 0; i < PW; i++) {
        snprintf(g->names[i], sizeof(g->names[i]), "w%u", i);
        for (unsigned k = 0; k < 16; k++)
            fsig_key(&g->keys[i][k], 100 + i * 16 + k);
        g->revoked[i] = -1;
    }
    struct ctl_event ev;
    ev_pub(t, &ev, "v1", 1, CTL_STRATEGY_ROLLING, 1);
    ev.strategy.lease_s = 2;
    honest(g, &ev, &t->root);
    for (unsigned i = 0; i < PW; i++) {
        ev_enrol(t, &ev, g->names[i], wkey(g, i));
        honest(g, &ev, &t->root);
        ev_w(t, &ev, CTL_WORKER_JOINED, g->names[i], "v1", NULL);
        honest(g, &ev, wkey(g, i));
    }
    for (unsigned s = 0; s < PSTEPS; s++) {
        honest_step(g);
        for (unsigned f = rnd(g, 4); f > 0; f--)
            forge(g);
    }
    char *a = fold(g, false, false), *b = fold(g, true, false);
    KT_ASSERT_MSG(!strcmp(a, b), "seed %llu: forgeries changed the state\nhonest: %s\nwith:   %s",
                  (unsigned long long)seed, a, b);
    char *c = fold(g, false, true), *d = fold(g, true, true);
    KT_ASSERT_MSG(!strcmp(c, d), "seed %llu (verify_all): forgeries changed the state",
                  (unsigned long long)seed);
    free(a);
    free(b);
    free(c);
    free(d);
    for (size_t k = 0; k < g->n; k++)
        fsig_free(&g->recs[k].r);
    free(g->recs);
    tc_fini(t);
}

static void test_property_forgeries_change_nothing(void)
{
    const char *env = getenv("KFLEET_TEST_SEED");
    uint64_t first = env ? strtoull(env, NULL, 10) : 1, n = env ? 1 : 40;
    for (uint64_t s = first; s < first + n; s++)
        property_once(s);
    printf("# %llu random logs (seeds %llu..%llu; KFLEET_TEST_SEED=N replays one): %llu applied;",
           (unsigned long long)n, (unsigned long long)first, (unsigned long long)(first + n - 1),
           (unsigned long long)seen_applied);
    for (int a = 0; a < FLEET_AUTH_COUNT; a++)
        printf(" %s %llu", fleet_auth2str((enum fleet_auth)a), (unsigned long long)seen_auth[a]);
    printf("\n");
    for (int a = 0; a < FLEET_AUTH_COUNT; a++) /* every verdict was reached */
        KT_ASSERT_MSG(env || a == FLEET_AUTH_UNSIGNED || seen_auth[a], "no %s",
                      fleet_auth2str((enum fleet_auth)a));
}

int main(void)
{
    KT_RUN(test_keys_speak_for_their_own);
    KT_RUN(test_forged_worker_events_change_nothing);
    KT_RUN(test_replayed_commands);
    KT_RUN(test_revocation_keeps_history);
    KT_RUN(test_transition_and_lazy_verify);
    KT_RUN(test_bluegreen_200);
    KT_RUN(test_rolling_200);
    KT_RUN(test_property_forgeries_change_nothing);
    return 0;
}
