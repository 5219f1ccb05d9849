/* /metrics, /healthz, /readyz and /status. The /status document is built by
 * jansson on the main thread and served as a snapshot. */
#include "worker/status.h"

#include "common/kf_buf.h"
#include "common/kf_clock.h"
#include "common/kf_err.h"
#include "schema/json_impl.h"
#include "worker/http.h"

#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct status {
    struct status_deps d;
    http_server *http;
    pthread_mutex_t lock; /* guards json */
    char *json;           /* the last /status document (malloc'd by jansson) */
};

/* Any thread: in the group with an assignment seen, every model servable,
 * not stopping. */
static bool ready(status *st)
{
    struct serve_stats ss = serve_stats(st->d.serve);
    if (!ss.joined || !ss.rebalanced || ss.fatal || atomic_load(st->d.stop))
        return false;
    return model_set_can_serve(st->d.models);
}

static json_t *model_json(status *st, struct served_model *sm)
{
    char active[SCHEMA_NAME_CAP], standby[SCHEMA_NAME_CAP];
    slot_versions(sm->slot, active, standby);
    struct fleet_model_info mi;
    bool known = !fleet_model_get(control_fleet(st->d.control), sm->name, &mi);
    struct agent_model_status as;
    agent_model_status(st->d.agent, sm, &as);
    int64_t since_ms = 0;
    bool stalled = known && fleet_model_stalled(&mi, kf_clock_wall_ms(), &since_ms);
    /* ju_text: names are validated, but a string that is not UTF-8 must
     * not leave /status stale (json_pack refuses it). */
    return json_pack("{s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:I, s:o, s:b, s:f}", "model",
                     ju_text(sm->name), "active", ju_text(active), "standby", ju_text(standby),
                     "preparing", ju_text(as.preparing), "target", ju_text(known ? mi.target : ""),
                     "phase", ju_text(known ? fleet_phase2str(mi.phase) : "unknown"), "claim",
                     ju_text(as.claim_id), "resident_bytes",
                     (json_int_t)slot_resident_bytes(sm->slot), "halt_reason",
                     ju_text(known ? mi.halt_reason : ""), "stalled", stalled, "since_progress_s",
                     (double)since_ms / 1e3);
}

static json_t *status_json(status *st)
{
    struct serve_stats ss = serve_stats(st->d.serve);
    json_t *models = json_array();
    size_t n = model_set_count(st->d.models);
    for (size_t i = 0; models && i < n; i++)
        json_array_append_new(models, model_json(st, model_set_at(st->d.models, i)));
    return json_pack("{s:s, s:s, s:s, s:b, s:i, s:I, s:I, s:I, s:I, s:I, s:o, s:I, s:f}", "worker",
                     st->d.cfg->id, "backend", kern_backend_name(st->d.backend), "device",
                     kern_backend_device(st->d.backend), "ready", ready(st), "assigned_partitions",
                     ss.assigned, "inflight", (json_int_t)serve_inflight(st->d.serve), "answered",
                     (json_int_t)ss.answered, "errors", (json_int_t)ss.errors, "expired",
                     (json_int_t)ss.expired, "dlq", (json_int_t)ss.dlq, "models",
                     models ? models : json_array(), "control_offset",
                     (json_int_t)control_offset(st->d.control), "max_poll_gap_ms",
                     (double)ss.max_poll_gap_us / 1e3);
}

static void gauges(status *st)
{
    struct worker_metrics *m = st->d.metrics;
    metric_set(metrics_series(m->inflight, NULL), (double)serve_inflight(st->d.serve));
    size_t free_bytes = 0, total_bytes = 0;
    if (!kern_backend_mem_info(st->d.backend, &free_bytes, &total_bytes)) {
        metric_set(metrics_series(m->device_mem, (const char *const[]){"free"}),
                   (double)free_bytes);
        metric_set(metrics_series(m->device_mem, (const char *const[]){"total"}),
                   (double)total_bytes);
    }
    metric_set(metrics_series(m->up, NULL), ready(st) ? 1 : 0);
    size_t n = model_set_count(st->d.models);
    for (size_t i = 0; i < n; i++) {
        struct served_model *sm = model_set_at(st->d.models, i);
        metric_set(metrics_series(m->resident, (const char *const[]){sm->name}),
                   (double)slot_resident_bytes(sm->slot));
        struct fleet_model_info mi;
        bool known = !fleet_model_get(control_fleet(st->d.control), sm->name, &mi);
        for (int p = 0; p < FLEET_PHASE_COUNT; p++)
            metric_set(metrics_series(
                           m->rollout_phase,
                           (const char *const[]){sm->name, fleet_phase2str((enum fleet_phase)p)}),
                       known && mi.phase == (enum fleet_phase)p ? 1 : 0);
        metric_set(metrics_series(m->rollout_stalled, (const char *const[]){sm->name}),
                   known && fleet_model_stalled(&mi, kf_clock_wall_ms(), NULL) ? 1 : 0);
    }
}

void status_refresh(status *st)
{
    /* The fold thread holds the fleet state while it folds a batch: refresh
     * on a later turn rather than wait. */
    if (!control_trylock(st->d.control))
        return;
    json_t *doc = status_json(st);
    char *text = doc ? json_dumps(doc, JU_OUT_FLAGS) : NULL;
    json_decref(doc);
    if (text) {
        pthread_mutex_lock(&st->lock);
        free(st->json);
        st->json = text;
        pthread_mutex_unlock(&st->lock);
    }
    gauges(st);
    control_unlock(st->d.control);
}

static int on_metrics(void *opaque, kf_buf *body, const char **content_type)
{
    status *st = opaque;
    *content_type = "text/plain; version=0.0.4; charset=utf-8";
    return metrics_render(st->d.metrics->reg, body) ? 500 : 200;
}

static int on_healthz(void *opaque, kf_buf *body, const char **content_type)
{
    status *st = opaque;
    (void)content_type;
    bool ok = !serve_stats(st->d.serve).fatal;
    kf_buf_appendf(body, ok ? "ok\n" : "fatal error: draining\n");
    return ok ? 200 : 503;
}

static int on_readyz(void *opaque, kf_buf *body, const char **content_type)
{
    status *st = opaque;
    (void)content_type;
    bool ok = ready(st);
    kf_buf_appendf(body,
                   ok ? "ready\n" : "not ready: models loading, not in the group, or stopping\n");
    return ok ? 200 : 503;
}

static int on_status(void *opaque, kf_buf *body, const char **content_type)
{
    status *st = opaque;
    *content_type = "application/json";
    pthread_mutex_lock(&st->lock);
    int err = st->json ? kf_buf_appendf(body, "%s\n", st->json) : kf_buf_appendf(body, "{}\n");
    pthread_mutex_unlock(&st->lock);
    return err ? 500 : 200;
}

status *status_new(const struct status_deps *deps, char *errstr, size_t errstr_size)
{
    status *st = calloc(1, sizeof(*st));
    if (!st) {
        kf_errf(errstr, errstr_size, "out of memory");
        return NULL;
    }
    st->d = *deps;
    pthread_mutex_init(&st->lock, NULL);
    /* The fold thread may not run yet; this first snapshot waits for it if it does. */
    /* Constant for the process: set once, before the first scrape can come. */
    metric_set(metrics_series(deps->metrics->worker_info,
                              (const char *const[]){deps->cfg->id, kern_backend_name(deps->backend),
                                                    kern_backend_device(deps->backend)}),
               1);
    status_refresh(st);
    const struct http_route routes[] = {
        {"/metrics", on_metrics, st},
        {"/healthz", on_healthz, st},
        {"/readyz", on_readyz, st},
        {"/status", on_status, st},
    };
    st->http =
        http_server_new(deps->cfg->http_bind, deps->cfg->http_port, routes, 4, errstr, errstr_size);
    if (!st->http) {
        status_free(st);
        return NULL;
    }
    return st;
}

void status_free(status *st)
{
    if (!st)
        return;
    http_server_free(st->http);
    pthread_mutex_destroy(&st->lock);
    free(st->json);
    free(st);
}
