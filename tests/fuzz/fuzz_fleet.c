/* The reducer fed fuzzed logs ("<verdict> <ts> <json>" lines, as in
 * schema/vectors/fleet): never crashes, never grants more than
 * max_unavailable active claims, and a second fold of the same log agrees.
 *
 * And the trust invariant (docs/security.md), as tests/schema/fleet_trust
 * checks it on random logs: the decodable events, each signed by the key
 * that speaks for it (the release key; a key enrolled for each worker on
 * first sight), fold to the same state with or without forgeries of each of
 * them interleaved (unsigned, an unknown key, another worker's key, a bad
 * signature, and the honest record appended again), and no forgery counts. */
#include "schema/fleet.h"
#include "tests/fuzz/fuzz.h"
#include "tests/schema/fleet_signed.h"
#include "tests/schema/vectors_lib.h"

#include <stdlib.h>
#include <string.h>

#define MAX_EVENTS 64
#define MAX_ISSUERS 16

struct trust {
    crypto_keyring *kr;
    struct crypto_ed25519_key root, attacker, wk[MAX_ISSUERS];
    char issuers[MAX_ISSUERS][CTL_NAME_CAP];
    size_t n_issuers;
    struct fsig_rec honest[MAX_EVENTS + MAX_ISSUERS];
    size_t n_honest;
};

static void quiet(void *opaque, enum kf_log_level level, const char *line)
{
    (void)opaque;
    (void)level;
    (void)line;
}

static fleet_state *trust_state(const struct trust *t)
{
    struct fleet_opts o;
    fleet_opts_default(&o);
    o.log = quiet;
    o.root_keys = t->kr;
    o.require_worker_signatures = true;
    fleet_state *fs = fleet_state_new(&o);
    FUZZ_CHECK(fs);
    return fs;
}

/* The key of @p issuer, enrolling it (a release-signed key.enrolled) on first sight. */
static const struct crypto_ed25519_key *issuer_key(struct trust *t, const char *issuer)
{
    for (size_t i = 0; i < t->n_issuers; i++)
        if (!strcmp(t->issuers[i], issuer))
            return &t->wk[i];
    if (t->n_issuers == MAX_ISSUERS)
        return NULL;
    size_t i = t->n_issuers++;
    snprintf(t->issuers[i], CTL_NAME_CAP, "%s", issuer);
    struct ctl_event ev;
    ctl_event_init(&ev, CTL_KEY_ENROLLED);
    snprintf(ev.event_id, sizeof(ev.event_id), "enrol-%zu", i);
    snprintf(ev.worker, sizeof(ev.worker), "%s", issuer);
    fsig_pubkey(&t->wk[i], ev.pubkey);
    fsig_make(&t->honest[t->n_honest++], &ev, &t->root);
    return &t->wk[i];
}

/* A key that does not speak for @p issuer: another issuer's, or one never enrolled. */
static const struct crypto_ed25519_key *other_key(const struct trust *t, const char *issuer)
{
    for (size_t i = 0; i < t->n_issuers; i++)
        if (!strcmp(t->issuers[i], issuer))
            return &t->wk[(i + 1) % MAX_ISSUERS];
    return &t->attacker;
}

static void trust_check(const uint8_t *data, size_t size)
{
    static struct trust t;
    static struct ctl_event ev;
    memset(&t, 0, sizeof(t));
    fsig_key(&t.root, 1);
    fsig_key(&t.attacker, 2);
    for (unsigned i = 0; i < MAX_ISSUERS; i++)
        fsig_key(&t.wk[i], 100 + i);
    t.kr = crypto_keyring_new();
    FUZZ_CHECK(t.kr && !crypto_keyring_add(t.kr, &t.root));
    int64_t ts[MAX_EVENTS + MAX_ISSUERS] = {0};
    size_t pos = 0, n_ev = 0;
    while (pos < size && n_ev < MAX_EVENTS) {
        const uint8_t *line = data + pos;
        const uint8_t *nl = memchr(line, '\n', size - pos);
        size_t ll = nl ? (size_t)(nl - line) : size - pos;
        pos += ll + (nl != NULL);
        const uint8_t *sp = ll > 2 ? memchr(line + 2, ' ', ll - 2) : NULL;
        if (!sp)
            continue;
        char err[128];
        size_t off = (size_t)(sp + 1 - line);
        if (ctl_event_decode(line + off, ll - off, &ev, err, sizeof(err)))
            continue;
        int64_t when = strtoll((const char *)line + 2, NULL, 10);
        const char *iss = ctl_event_issuer(&ev);
        const struct crypto_ed25519_key *k = ctl_type_needs_signature(ev.type) ? &t.root
                                             : iss                             ? issuer_key(&t, iss)
                                                                               : NULL;
        if (!k)
            continue;
        ts[t.n_honest] = when;
        fsig_make(&t.honest[t.n_honest++], &ev, k);
        n_ev++;
    }
    /* honest records at offsets 10, 20, ...; forgeries of each right after it */
    fleet_state *a = trust_state(&t), *b = trust_state(&t);
    for (size_t i = 0; i < t.n_honest; i++) {
        struct fsig_rec *h = &t.honest[i];
        h->offset = (int64_t)(i + 1) * 10;
        h->ts_ms = ts[i];
        struct fleet_result ra, rb;
        FUZZ_CHECK(fsig_feed(a, h, &ra) == 0 && fsig_feed(b, h, &rb) == 0);
        FUZZ_CHECK(ra.auth == rb.auth && ra.verdict == rb.verdict);
        char err[128];
        FUZZ_CHECK(ctl_event_decode(h->value, h->len, &ev, err, sizeof(err)) == 0);
        const char *iss = ctl_event_issuer(&ev);
        for (int kind = 0; kind < 5; kind++) {
            struct fsig_rec f;
            if (kind == 4) { /* the honest record again */
                fsig_copy(&f, h);
            } else {
                struct ctl_event fe = ev;
                snprintf(fe.event_id, sizeof(fe.event_id), "forged-%zu-%d", i, kind);
                const struct crypto_ed25519_key *fk = kind == 0   ? NULL
                                                      : kind == 1 ? &t.attacker
                                                      : kind == 2
                                                          ? (iss ? other_key(&t, iss) : &t.wk[0])
                                                          : (iss ? issuer_key(&t, iss) : &t.root);
                fsig_make(&f, &fe, fk);
                if (kind == 3) /* the right key, a bad signature */
                    f.hdr[CRYPTO_KEY_ID_LEN + 3] = f.hdr[CRYPTO_KEY_ID_LEN + 3] == 'A' ? 'B' : 'A';
            }
            f.offset = h->offset + 1 + kind;
            f.ts_ms = h->ts_ms;
            struct fleet_result rf;
            FUZZ_CHECK(fsig_feed(b, &f, &rf) == 0);
            FUZZ_CHECK(rf.verdict != FLEET_APPLIED);
            FUZZ_CHECK(rf.auth != FLEET_AUTH_OK && rf.auth != FLEET_AUTH_UNSIGNED);
            fsig_free(&f);
        }
    }
    char *da = fsig_dump_state(a), *db = fsig_dump_state(b);
    FUZZ_CHECK(!strcmp(da, db));
    free(da);
    free(db);
    fleet_state_free(a);
    fleet_state_free(b);
    for (size_t i = 0; i < t.n_honest; i++)
        fsig_free(&t.honest[i]);
    crypto_keyring_free(t.kr);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fleet_state *a = vl_fold_log(data, size, NULL);
    fleet_state *b = vl_fold_log(data, size, NULL);
    kf_buf da, db;
    kf_buf_init(&da);
    kf_buf_init(&db);
    FUZZ_CHECK(fleet_state_dump(a, &da) == 0 && fleet_state_dump(b, &db) == 0);
    FUZZ_CHECK(da.len == db.len && !memcmp(da.ptr, db.ptr, da.len));
    for (size_t i = 0; i < fleet_model_count(a); i++) {
        struct fleet_model_info mi;
        FUZZ_CHECK(fleet_model_at(a, i, &mi) == 0);
        FUZZ_CHECK(fleet_transition_is_valid(mi.phase, mi.phase));
        struct fleet_plan plan;
        for (size_t k = 0; k < mi.n_claims; k++)
            fleet_plan_worker(a, mi.claims[k].worker, mi.model, mi.claims[k].version, &plan);
        fleet_plan_worker(a, "w", mi.model, NULL, &plan);
        const char *members[] = {"w-a1", "w-b2"};
        fleet_cutover_due(a, mi.model, members, 2);
    }
    const struct fleet_claim *exp[8];
    fleet_claims_expired(a, INT64_MAX / 2, exp, 8);
    const char *gone[8];
    fleet_workers_departed(a, NULL, 0, gone, 8);
    kf_buf_fini(&da);
    kf_buf_fini(&db);
    fleet_state_free(a);
    fleet_state_free(b);
    trust_check(data, size);
    return 0;
}
