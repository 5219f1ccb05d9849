/* bench/fold: how fast the reducer folds a control log flooded by an
 * attacker who can append but holds no key (issue 14).
 *
 * 1 000 000 records, require_worker_signatures on, root keys given:
 *   - an honest fleet of 200 enrolled workers through ROLLOUTS rolling
 *     rollouts (every event signed by its speaker: ~4 600 records);
 *   - 500 000 forged rollout.claim: unsigned phantom workers, keys nobody
 *     enrolled, another worker's key, a revoked key, a release key;
 *   - forged failed/healthy/done/cutover/expire/left of the same kinds, and
 *     verbatim replays of earlier honest records;
 *   - FORGED_VERIFY records that name the right worker's key with a bad
 *     signature and would change the state: the only forgeries that cost an
 *     Ed25519 verify.
 * Forgeries are generated just before they are fed (their garbage
 * signatures need no signing); the timer covers fleet_state_feed only. The
 * baseline is ctl_event_decode of every record, timed in the same run. The
 * fold must end in the same state as a fold of the honest records alone. */
#include "tests/schema/fleet_signed.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define N_TOTAL 1000000
#define N_CLAIMS 500000
#define NW 200
#define ROLLOUTS 10
#define FORGED_VERIFY 1000

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static uint64_t rng = 88172645463325252ull;
static uint32_t rnd(uint32_t n)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng % n);
}

static struct crypto_ed25519_key root, wk[NW], attacker, revoked;
static char names[NW][16];
static struct fsig_rec *honest;
static size_t n_honest, cap_honest;
static unsigned n_ids;

static void quiet(void *opaque, enum kf_log_level level, const char *line)
{
    (void)opaque;
    (void)level;
    (void)line;
}

static void base(struct ctl_event *ev, enum ctl_type t)
{
    ctl_event_init(ev, t);
    snprintf(ev->event_id, sizeof(ev->event_id), "e-%u", ++n_ids);
}

static void wev(struct ctl_event *ev, enum ctl_type t, const char *w, const char *ver,
                const char *claim)
{
    base(ev, t);
    snprintf(ev->worker, sizeof(ev->worker), "%s", w);
    if (t == CTL_WORKER_JOINED) {
        ev->n_models = 1;
        strcpy(ev->models[0].model, "m");
        snprintf(ev->models[0].version, CTL_NAME_CAP, "%s", ver);
        return;
    }
    strcpy(ev->model, "m");
    snprintf(ev->version, sizeof(ev->version), "%s", ver);
    if (claim)
        snprintf(ev->claim_id, sizeof(ev->claim_id), "%s", claim);
    if (t == CTL_ROLLOUT_FAILED) {
        ev->stage = CTL_STAGE_HEALTH;
        strcpy(ev->reason, "forged");
    }
}

static void add_honest(const struct ctl_event *ev, const struct crypto_ed25519_key *k)
{
    if (n_honest == cap_honest) {
        cap_honest = cap_honest ? cap_honest * 2 : 1024;
        honest = realloc(honest, cap_honest * sizeof(*honest));
        if (!honest)
            abort();
    }
    fsig_make(&honest[n_honest++], ev, k);
}

static void publish(unsigned seq)
{
    struct ctl_event ev;
    base(&ev, CTL_MODEL_PUBLISHED);
    strcpy(ev.model, "m");
    snprintf(ev.version, sizeof(ev.version), "v%u", seq);
    ev.seq = seq;
    strcpy(ev.manifest.bucket, "b");
    snprintf(ev.manifest.key, sizeof(ev.manifest.key), "m/v%u/manifest.json", seq);
    memset(ev.manifest.sha256, 'a', 64);
    ev.manifest.size = 1;
    ev.strategy.max_unavailable = 20;
    add_honest(&ev, &root);
}

/* The honest log: enrolments, joins, ROLLOUTS rollouts in batches of 20. */
static void make_honest(void)
{
    struct ctl_event ev;
    publish(1);
    base(&ev, CTL_KEY_ENROLLED);
    strcpy(ev.worker, "retired");
    fsig_pubkey(&revoked, ev.pubkey);
    add_honest(&ev, &root);
    base(&ev, CTL_KEY_REVOKED);
    snprintf(ev.key_id, sizeof(ev.key_id), "%s", revoked.key_id);
    add_honest(&ev, &root);
    for (unsigned i = 0; i < NW; i++) {
        base(&ev, CTL_KEY_ENROLLED);
        snprintf(ev.worker, sizeof(ev.worker), "%s", names[i]);
        fsig_pubkey(&wk[i], ev.pubkey);
        add_honest(&ev, &root);
        wev(&ev, CTL_WORKER_JOINED, names[i], "v1", NULL);
        add_honest(&ev, &wk[i]);
    }
    for (unsigned r = 2; r < 2 + ROLLOUTS; r++) {
        publish(r);
        char ver[16];
        snprintf(ver, sizeof(ver), "v%u", r);
        for (unsigned b = 0; b < NW; b += 20) {
            for (unsigned i = b; i < b + 20; i++) {
                char c[32];
                snprintf(c, sizeof(c), "c-%u-%u", r, i);
                wev(&ev, CTL_ROLLOUT_CLAIM, names[i], ver, c);
                add_honest(&ev, &wk[i]);
            }
            for (unsigned i = b; i < b + 20; i++) {
                char c[32];
                snprintf(c, sizeof(c), "c-%u-%u", r, i);
                wev(&ev, CTL_ROLLOUT_DONE, names[i], ver, c);
                add_honest(&ev, &wk[i]);
            }
        }
    }
}

/* A well-formed header naming @p key_id, with signature bytes that verify for nothing. */
static void garbage_sig(struct fsig_rec *r, const char *key_id)
{
    uint8_t sig[CRYPTO_ED25519_SIG_LEN];
    for (size_t i = 0; i < sizeof(sig); i++)
        sig[i] = (uint8_t)rnd(256);
    memcpy(r->hdr, key_id, CRYPTO_KEY_ID_LEN);
    r->hdr[CRYPTO_KEY_ID_LEN] = ':';
    crypto_base64_encode(sig, sizeof(sig), r->hdr + CRYPTO_KEY_ID_LEN + 1);
    r->hdr_len = CTL_SIG_HEADER_LEN;
}

/* One forgery; @p kind 0..4 picks whose key it names. */
static void forge(struct fsig_rec *r, bool claim, unsigned kind, const char *target)
{
    struct ctl_event ev;
    unsigned i = rnd(NW);
    char who[32], c[32];
    if (kind == 0)
        snprintf(who, sizeof(who), "ghost-%u", rnd(1000000));
    else
        snprintf(who, sizeof(who), "%s", names[i]);
    if (claim) {
        snprintf(c, sizeof(c), "fc-%u", n_ids);
        wev(&ev, CTL_ROLLOUT_CLAIM, who, target, c);
    } else {
        static const enum ctl_type ts[] = {CTL_ROLLOUT_FAILED, CTL_ROLLOUT_HEALTHY,
                                           CTL_ROLLOUT_DONE,   CTL_ROLLOUT_CUTOVER,
                                           CTL_ROLLOUT_EXPIRE, CTL_WORKER_LEFT};
        enum ctl_type t = ts[rnd(6)];
        wev(&ev, t, who, target, "c-2-0");
        if (t == CTL_ROLLOUT_EXPIRE || t == CTL_WORKER_LEFT || t == CTL_ROLLOUT_CUTOVER)
            strcpy(ev.by, who);
        if (t == CTL_WORKER_LEFT)
            snprintf(ev.worker, sizeof(ev.worker), "%s", names[rnd(NW)]);
    }
    fsig_make(r, &ev, NULL);
    switch (kind) {
    case 0: break;                                          /* unsigned phantom */
    case 1: garbage_sig(r, attacker.key_id); break;         /* nobody's key */
    case 2: garbage_sig(r, wk[(i + 1) % NW].key_id); break; /* another worker's */
    case 3: garbage_sig(r, revoked.key_id); break;          /* revoked */
    case 4: garbage_sig(r, root.key_id); break;             /* a release key */
    default: garbage_sig(r, wk[i].key_id); break;           /* the right key, bad sig */
    }
}

static fleet_state *new_state(const crypto_keyring *kr)
{
    struct fleet_opts o;
    fleet_opts_default(&o);
    o.log = quiet;
    o.root_keys = kr;
    o.require_worker_signatures = true;
    fleet_state *fs = fleet_state_new(&o);
    if (!fs)
        abort();
    return fs;
}

int main(void)
{
    fsig_key(&root, 1);
    fsig_key(&attacker, 2);
    fsig_key(&revoked, 3);
    for (unsigned i = 0; i < NW; i++) {
        fsig_key(&wk[i], 1000 + i);
        snprintf(names[i], sizeof(names[i]), "w%03u", i);
    }
    crypto_keyring *kr = crypto_keyring_new();
    if (!kr || crypto_keyring_add(kr, &root))
        abort();
    double t0 = now_s();
    make_honest();
    printf("setup: %zu honest signed records in %.2f s\n", n_honest, now_s() - t0);

    fleet_state *fs = new_state(kr);
    struct ctl_event *ev = malloc(sizeof(*ev));
    if (!ev)
        abort();
    double fold_s = 0, decode_s = 0;
    size_t next_honest = 0, claims = 0, others = 0, bad_verify = 0;
    size_t stride = N_TOTAL / n_honest;
    uint64_t verdicts[FLEET_AUTH_COUNT] = {0};
    char target[CTL_NAME_CAP] = "v1";
    for (size_t k = 0; k < N_TOTAL; k++) {
        struct fsig_rec r;
        bool is_honest = next_honest < n_honest && k % stride == 0;
        if (is_honest) {
            r = honest[next_honest++];
        } else if (claims < N_CLAIMS && (rnd(N_TOTAL - (uint32_t)k) < N_CLAIMS - claims)) {
            forge(&r, true, rnd(5), target);
            claims++;
        } else if (bad_verify < FORGED_VERIFY && rnd(400) == 0) {
            forge(&r, false, 5, target);
            bad_verify++;
        } else if (next_honest && rnd(2)) { /* a verbatim replay */
            fsig_copy(&r, &honest[rnd((uint32_t)next_honest)]);
            others++;
        } else {
            forge(&r, false, rnd(5), target);
            others++;
        }
        r.offset = (int64_t)k;
        r.ts_ms = 1000000 + (int64_t)k;
        char err[256];
        double a = now_s();
        if (ctl_event_decode(r.value, r.len, ev, err, sizeof(err)))
            abort();
        double b = now_s();
        struct fleet_record rec = {.ev = ev,
                                   .offset = r.offset,
                                   .ts_ms = r.ts_ms,
                                   .value = r.value,
                                   .value_len = r.len,
                                   .sig_header = r.hdr_len ? (const uint8_t *)r.hdr : NULL,
                                   .sig_header_len = r.hdr_len};
        struct fleet_result res;
        if (fleet_state_feed(fs, &rec, &res))
            abort();
        double c = now_s();
        decode_s += b - a;
        fold_s += c - b;
        verdicts[res.auth]++;
        if (!is_honest)
            fsig_free(&r);
        else if (res.auth != FLEET_AUTH_OK && res.auth != FLEET_AUTH_UNVERIFIED)
            abort();
        if (is_honest && ev->type == CTL_MODEL_PUBLISHED)
            snprintf(target, sizeof(target), "%s", ev->version);
        if ((k + 1) % 250000 == 0)
            printf("  %7zu records: fold %.3f s so far\n", k + 1, fold_s);
    }
    struct fleet_model_info mi;
    if (fleet_model_get(fs, "m", &mi))
        abort();
    printf("records: %d (%zu honest, %zu forged claims, %zu other forgeries and replays, %zu "
           "forgeries with the right key id and a bad signature)\n",
           N_TOTAL, n_honest, claims, others, bad_verify);
    printf("verdicts:");
    for (int a = 0; a < FLEET_AUTH_COUNT; a++)
        printf(" %s %" PRIu64, fleet_auth2str((enum fleet_auth)a), verdicts[a]);
    printf("\nEd25519 verifications: %" PRIu64 "\n", fleet_verify_count(fs));
    printf("fold:   %.3f s, %.0f events/s (%.3f us/event)\n", fold_s, N_TOTAL / fold_s,
           fold_s * 1e6 / N_TOTAL);
    printf("decode: %.3f s, %.0f events/s (baseline: ctl_event_decode of the same records)\n",
           decode_s, N_TOTAL / decode_s);
    printf("ratio fold/decode: %.2f\n", fold_s / decode_s);
    printf("final: phase %s, target %s, %zu claims, %zu workers\n", fleet_phase2str(mi.phase),
           mi.target, mi.n_claims, fleet_worker_count(fs));

    /* The flood changed nothing: same state as the honest records alone. */
    fleet_state *ref = new_state(kr);
    for (size_t i = 0; i < n_honest; i++) {
        honest[i].offset = (int64_t)(i * stride);
        honest[i].ts_ms = 1000000 + honest[i].offset;
        if (fsig_feed(ref, &honest[i], NULL))
            abort();
    }
    char *a = fsig_dump_state(fs), *b = fsig_dump_state(ref);
    int same = !strcmp(a, b);
    printf("state equals the honest-only fold: %s\n", same ? "yes" : "NO");
    int rc = same && mi.phase == FLEET_COMPLETE && fold_s <= 2.0 ? 0 : 1;
    if (fold_s > 2.0)
        printf("FAIL: the fold took more than 2 s\n");
    free(a);
    free(b);
    fleet_state_free(ref);
    fleet_state_free(fs);
    for (size_t i = 0; i < n_honest; i++)
        fsig_free(&honest[i]);
    free(honest);
    free(ev);
    crypto_keyring_free(kr);
    return rc;
}
