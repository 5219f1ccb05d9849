/* bench/scale: a rolling update of N simulated workers driven through the
 * real reducer (schema/fleet.h), for docs/scaling.md (issue 17).
 *
 *   sim_rollout [N ...]        (default: 10 100 1000)
 *
 * Nothing here runs a model or Kafka: each simulated worker follows the
 * rollout agent's rules (worker/agent.c) on the state the reducer folds, and
 * what it would append is appended to a simulated log and fed back in order.
 * Simulated time (ms) stands for the broker's LogAppendTime:
 *   - a worker sees a record REACT_MS after it was appended (its fold thread
 *     reads the control log) and its own append lands APPEND_MS later;
 *   - a swap takes SWAP_MS (the in-place flip of a prepared version: the
 *     fetch and load happen before the claim, while the worker serves);
 *   - the health window is HEALTH_S (strategy.health_s).
 * A refused worker claims again when its fold shows a free slot. Before
 * issue 17 every waiting worker did so at every freed slot ("all at once"):
 * the records per rollout grew with N² / max_unavailable. Since, only the
 * workers whose turn it is in the queue of refused workers do
 * (fleet_claim_turn, "in turn"). Both rules are simulated.
 * Printed per (N, max_unavailable): simulated rollout time, records
 * appended (of which refused claims), and the wall time the reducer took to
 * fold them on this machine. */
#include "schema/fleet.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define REACT_MS 10 /* fold delay: record appended -> a worker acts on it */
#define APPEND_MS 5 /* a worker's produce -> its record is in the log */
#define SWAP_MS 50  /* grant -> rollout.done (prepared version: a pointer flip) */
#define HEALTH_S 10 /* the default health window */
#define MAX_WORKERS 1000

/* A pending append: at time t, worker w appends type (claim/done/healthy). */
struct pending {
    int64_t t;
    uint64_t seq; /* tie-break: the order they were scheduled */
    int w;
    enum ctl_type type;
};

static struct pending *heap;
static size_t n_heap, cap_heap;
static uint64_t n_sched;

static bool before(const struct pending *a, const struct pending *b)
{
    return a->t < b->t || (a->t == b->t && a->seq < b->seq);
}

static void push(int64_t t, int w, enum ctl_type type)
{
    if (n_heap == cap_heap) {
        cap_heap = cap_heap ? 2 * cap_heap : 1024;
        heap = realloc(heap, cap_heap * sizeof(*heap));
        if (!heap)
            abort();
    }
    size_t i = n_heap++;
    heap[i] = (struct pending){t, n_sched++, w, type};
    while (i && before(&heap[i], &heap[(i - 1) / 2])) {
        struct pending tmp = heap[i];
        heap[i] = heap[(i - 1) / 2];
        heap[(i - 1) / 2] = tmp;
        i = (i - 1) / 2;
    }
}

static struct pending pop(void)
{
    struct pending top = heap[0];
    heap[0] = heap[--n_heap];
    for (size_t i = 0;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < n_heap && before(&heap[l], &heap[m]))
            m = l;
        if (r < n_heap && before(&heap[r], &heap[m]))
            m = r;
        if (m == i)
            break;
        struct pending tmp = heap[i];
        heap[i] = heap[m];
        heap[m] = tmp;
        i = m;
    }
    return top;
}

/* What each simulated worker is doing. */
enum wstate { W_WANTS, W_CLAIMED, W_SWAPPING, W_WINDOW, W_DONE };

struct sim {
    fleet_state *fs;
    int n;
    bool queue; /* refused workers claim again in turn (fleet_claim_turn) */
    enum wstate st[MAX_WORKERS];
    unsigned claims[MAX_WORKERS];
    int64_t offset, records, refused, fold_ns;
};

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void quiet(void *opaque, enum kf_log_level level, const char *line)
{
    (void)opaque, (void)level, (void)line;
}

static void feed(struct sim *s, const struct ctl_event *ev, int64_t t, struct fleet_result *res)
{
    struct fleet_record rec = {.ev = ev, .offset = s->offset++, .ts_ms = t, .sig = CTL_SIG_OK};
    int64_t t0 = now_ns();
    if (fleet_state_feed(s->fs, &rec, res))
        abort();
    s->fold_ns += now_ns() - t0;
    s->records++;
}

static void worker_event(struct sim *s, int w, enum ctl_type type, int64_t t,
                         struct fleet_result *res)
{
    struct ctl_event ev;
    ctl_event_init(&ev, type);
    snprintf(ev.event_id, sizeof(ev.event_id), "e%lld", (long long)s->offset);
    snprintf(ev.worker, sizeof(ev.worker), "w%d", w);
    if (type == CTL_WORKER_JOINED) {
        ev.n_models = 1;
        strcpy(ev.models[0].model, "m");
        strcpy(ev.models[0].version, "v1");
    } else {
        strcpy(ev.model, "m");
        strcpy(ev.version, "v2");
        snprintf(ev.claim_id, sizeof(ev.claim_id), "w%d/m/v2/%u", w, s->claims[w]);
    }
    feed(s, &ev, t, res);
}

static void publish(struct sim *s, const char *version, uint64_t seq, uint32_t max_unavailable,
                    int64_t t)
{
    struct ctl_event ev;
    ctl_event_init(&ev, CTL_MODEL_PUBLISHED);
    snprintf(ev.event_id, sizeof(ev.event_id), "pub-%s", version);
    strcpy(ev.model, "m");
    snprintf(ev.version, sizeof(ev.version), "%s", version);
    ev.seq = seq;
    strcpy(ev.manifest.bucket, "b");
    snprintf(ev.manifest.key, sizeof(ev.manifest.key), "m/%s/manifest.json", version);
    memset(ev.manifest.sha256, 'a', 64);
    ev.manifest.size = 1;
    ev.strategy.max_unavailable = max_unavailable;
    ev.strategy.health_s = HEALTH_S;
    feed(s, &ev, t, NULL);
}

/* Every worker that wants a slot and sees one free claims (again); with
 * s->queue only those whose turn it is (fleet_claim_turn, as the agent does
 * since issue 17), else every one of them (the rule before it). */
static void claim_if_free(struct sim *s, int64_t t)
{
    struct fleet_model_info mi;
    if (fleet_model_get(s->fs, "m", &mi) || mi.active_claims >= mi.strategy->max_unavailable)
        return;
    for (int w = 0; w < s->n; w++) {
        char id[16];
        snprintf(id, sizeof(id), "w%d", w);
        if (s->st[w] == W_WANTS &&
            (!s->queue || s->claims[w] == 0 || fleet_claim_turn(s->fs, "m", id))) {
            s->st[w] = W_CLAIMED;
            s->claims[w]++;
            push(t + REACT_MS + APPEND_MS, w, CTL_ROLLOUT_CLAIM);
        }
    }
}

static void run(int n, uint32_t max_unavailable, bool queue)
{
    struct fleet_opts o;
    fleet_opts_default(&o);
    o.require_signatures = false;
    o.log = quiet;
    struct sim *s = calloc(1, sizeof(*s));
    s->fs = fleet_state_new(&o);
    s->n = n;
    s->queue = queue;
    int64_t t = 0;
    publish(s, "v1", 1, max_unavailable, t);
    for (int w = 0; w < n; w++)
        worker_event(s, w, CTL_WORKER_JOINED, t, NULL);
    s->fold_ns = 0;
    s->records = 0;
    publish(s, "v2", 2, max_unavailable, t);
    /* every worker prefetched v2 while serving and asks for a slot */
    for (int w = 0; w < n; w++)
        s->st[w] = W_WANTS;
    claim_if_free(s, t);
    while (n_heap) {
        struct pending p = pop();
        t = p.t;
        struct fleet_result res;
        worker_event(s, p.w, p.type, t, &res);
        switch (p.type) {
        case CTL_ROLLOUT_CLAIM:
            if (res.granted) {
                s->st[p.w] = W_SWAPPING;
                push(t + REACT_MS + SWAP_MS + APPEND_MS, p.w, CTL_ROLLOUT_DONE);
            } else {
                s->refused++;
                s->st[p.w] = W_WANTS; /* asks again when its fold shows a free slot */
            }
            break;
        case CTL_ROLLOUT_DONE:
            s->st[p.w] = W_WINDOW;
            push(t + (int64_t)HEALTH_S * 1000 + APPEND_MS, p.w, CTL_ROLLOUT_HEALTHY);
            break;
        default: /* healthy: the slot frees; every waiting worker sees it */
            s->st[p.w] = W_DONE;
            claim_if_free(s, t);
            break;
        }
    }
    struct fleet_model_info mi;
    fleet_model_get(s->fs, "m", &mi);
    printf("| %s | %d | %u | %.1f min | %lld | %lld | %.1f ms | %s |\n",
           queue ? "in turn" : "all at once", n, max_unavailable, (double)t / 60000.0,
           (long long)s->records, (long long)s->refused, (double)s->fold_ns / 1e6,
           fleet_phase2str(mi.phase));
    fleet_state_free(s->fs);
    free(s);
}

int main(int argc, char **argv)
{
    int sizes[8] = {10, 100, 1000}, n_sizes = 3;
    if (argc > 1) {
        n_sizes = 0;
        for (int i = 1; i < argc && n_sizes < 8; i++) {
            int n = atoi(argv[i]);
            if (n < 1 || n > MAX_WORKERS) {
                fprintf(stderr, "sim_rollout: N must be 1..%d\n", MAX_WORKERS);
                return 2;
            }
            sizes[n_sizes++] = n;
        }
    }
    printf("rolling update v1 -> v2 through the reducer: fold delay %d ms, append %d ms, swap %d "
           "ms, health window %d s\n\n",
           REACT_MS, APPEND_MS, SWAP_MS, HEALTH_S);
    printf("| refused workers claim again | workers | max_unavailable | rollout (simulated) | "
           "records | of which refused claims | fold (this machine) | phase |\n"
           "|---|---|---|---|---|---|---|---|\n");
    for (int q = 0; q < 2; q++)
        for (int i = 0; i < n_sizes; i++) {
            uint32_t mus[] = {1, 10, 50};
            for (size_t k = 0; k < 3; k++)
                if (mus[k] <= (uint32_t)sizes[i])
                    run(sizes[i], mus[k], q == 1);
        }
    return 0;
}
