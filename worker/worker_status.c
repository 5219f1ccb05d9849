/* What the worker shows: Prometheus metrics, liveness, readiness and a JSON
 * status. The HTTP thread reads only metrics (atomic), slots (own lock),
 * atomics and the status snapshot that the main thread refreshes. */
#include "worker/worker_impl.h"

#include "common/kf_clock.h"
#include "common/kf_err.h"
#include "common/kf_log.h"
#include "worker/lag_stats.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

void worker_metrics_init(struct worker *w)
{
    static const double latency_buckets[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                             0.05,   0.1,   0.25,   0.5,   1,    2.5};
    static const double rows_buckets[] = {1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096};
    static const double swap_buckets[] = {0.001, 0.01, 0.1, 0.5, 1, 2, 5, 10, 30, 60, 120, 300};
    struct worker_metrics *m = &w->m;
    m->reg = metrics_new();
    m->requests = metrics_family(
        m->reg, "kfleet_requests_total", "Requests answered, by model, version and status.",
        METRIC_COUNTER, (const char *const[]){"model", "version", "status", NULL}, NULL, 0);
    m->latency = metrics_family(
        m->reg, "kfleet_request_latency_seconds",
        "Time from taking a request off Kafka to its response being queued, by model and version.",
        METRIC_HISTOGRAM, (const char *const[]){"model", "version", NULL}, latency_buckets, 12);
    m->batch_rows =
        metrics_family(m->reg, "kfleet_batch_rows", "Rows per batch, by version.", METRIC_HISTOGRAM,
                       (const char *const[]){"version", NULL}, rows_buckets, 12);
    m->dlq = metrics_family(m->reg, "kfleet_dlq_total",
                            "Records sent to the dead-letter topic, by error code.", METRIC_COUNTER,
                            (const char *const[]){"code", NULL}, NULL, 0);
    m->swaps = metrics_family(m->reg, "kfleet_swaps_total",
                              "Version swaps by model and outcome (done, failed).", METRIC_COUNTER,
                              (const char *const[]){"model", "outcome", NULL}, NULL, 0);
    m->swap_stage = metrics_family(
        m->reg, "kfleet_swap_stage_seconds", "Duration of each swap stage, by model and stage.",
        METRIC_HISTOGRAM, (const char *const[]){"model", "stage", NULL}, swap_buckets, 12);
    m->version_info = metrics_family(
        m->reg, "kfleet_model_version_info", "1 for the version each model serves on this worker.",
        METRIC_GAUGE, (const char *const[]){"model", "version", NULL}, NULL, 0);
    m->lag = metrics_family(m->reg, "kfleet_consumer_lag",
                            "Consumer-group lag of the requests topic on the partitions this "
                            "worker owns (high watermark minus committed offset).",
                            METRIC_GAUGE,
                            (const char *const[]){"group", "topic", "partition", NULL}, NULL, 0);
    m->inflight =
        metrics_family(m->reg, "kfleet_inflight_requests",
                       "Requests taken in and not yet answered.", METRIC_GAUGE, NULL, NULL, 0);
    m->up = metrics_family(m->reg, "kfleet_worker_ready", "1 when /readyz answers 200.",
                           METRIC_GAUGE, NULL, NULL, 0);
    m->resident = metrics_family(m->reg, "kfleet_resident_weight_bytes",
                                 "Bytes of weights resident per model (active, standby and "
                                 "versions still finishing a batch).",
                                 METRIC_GAUGE, (const char *const[]){"model", NULL}, NULL, 0);
    /* A state set: 1 for the phase the log gives the model, 0 for the others,
     * so alerts can say "halted for 5 minutes" without parsing the log. */
    m->rollout_phase = metrics_family(
        m->reg, "kfleet_rollout_phase",
        "1 for the rollout phase of each served model as the control log gives it, 0 otherwise.",
        METRIC_GAUGE, (const char *const[]){"model", "phase", NULL}, NULL, 0);
    m->worker_info = metrics_family(
        m->reg, "kfleet_worker_info", "1, labelled with the worker's id, backend and device.",
        METRIC_GAUGE, (const char *const[]){"worker", "backend", "device", NULL}, NULL, 0);
    m->queue_expired = metrics_family(
        m->reg, "kfleet_queue_expired_total",
        "Requests whose deadline_ms passed while they were queued: answered expired, not computed.",
        METRIC_COUNTER, (const char *const[]){"model", NULL}, NULL, 0);
    m->computed_rows = metrics_family(
        m->reg, "kfleet_computed_rows_total", "Rows run through the inference backend, by model.",
        METRIC_COUNTER, (const char *const[]){"model", NULL}, NULL, 0);
    m->paused = metrics_family(m->reg, "kfleet_intake_paused",
                               "1 while the request partitions are paused because the queue is "
                               "full (queue.max_rows, queue.max_bytes).",
                               METRIC_GAUGE, NULL, NULL, 0);
    metric_set(metrics_series(m->paused, NULL), 0);
    m->pauses = metrics_family(m->reg, "kfleet_intake_pauses_total",
                               "Times the request partitions were paused because the queue was "
                               "full.",
                               METRIC_COUNTER, NULL, NULL, 0);
    m->device_mem = metrics_family(m->reg, "kfleet_device_memory_bytes",
                                   "Memory of the inference device (host memory for the "
                                   "reference backend), free and total.",
                                   METRIC_GAUGE, (const char *const[]){"kind", NULL}, NULL, 0);
}

static bool ready(struct worker *w)
{
    if (!atomic_load(&w->joined) || !atomic_load(&w->rebalanced) || atomic_load(&w->stop) ||
        atomic_load(&w->fatal))
        return false;
    return agent_can_serve(w);
}

/* A JSON string, escaped (worker ids and versions are restricted names, but
 * escaping costs nothing and keeps /status valid whatever they hold). */
static void json_str(kf_buf *b, const char *s)
{
    kf_buf_append(b, "\"", 1);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            kf_buf_appendf(b, "\\%c", c);
        else if (c < 0x20)
            kf_buf_appendf(b, "\\u%04x", c);
        else
            kf_buf_append(b, s, 1);
    }
    kf_buf_append(b, "\"", 1);
}

/* Main thread: rebuild the /status document and the gauges that need Kafka. */
void worker_status_refresh(struct worker *w)
{
    kf_buf b;
    kf_buf_init(&b);
    kf_buf_appendf(&b, "{\"worker\":");
    json_str(&b, w->id);
    kf_buf_appendf(&b, ",\"backend\":");
    json_str(&b, kern_backend_name(w->backend));
    kf_buf_appendf(&b, ",\"device\":");
    json_str(&b, kern_backend_device(w->backend));
    kf_buf_appendf(&b, ",\"ready\":%s,\"assigned_partitions\":%d,\"inflight\":%zu",
                   ready(w) ? "true" : "false", atomic_load(&w->assigned),
                   offtrack_inflight_total(w->offsets));
    kf_buf_appendf(&b,
                   ",\"answered\":%" PRIuFAST64 ",\"errors\":%" PRIuFAST64
                   ",\"expired\":%" PRIuFAST64 ",\"dlq\":%" PRIuFAST64 ",\"models\":[",
                   atomic_load(&w->answered), atomic_load(&w->errors), atomic_load(&w->expired),
                   atomic_load(&w->dlq_count));
    for (size_t i = 0; i < w->n_models; i++) {
        struct served_model *sm = &w->models[i];
        char active[64], standby[64];
        slot_versions(sm->slot, active, standby);
        struct fleet_model_info mi;
        bool known = !fleet_model_get(w->fleet, sm->name, &mi);
        kf_buf_appendf(&b, "%s{\"model\":", i ? "," : "");
        json_str(&b, sm->name);
        kf_buf_appendf(&b, ",\"active\":");
        json_str(&b, active);
        kf_buf_appendf(&b, ",\"standby\":");
        json_str(&b, standby);
        kf_buf_appendf(&b, ",\"preparing\":");
        json_str(&b, sm->job ? sm->job->version : "");
        kf_buf_appendf(&b, ",\"target\":");
        json_str(&b, known ? mi.target : "");
        kf_buf_appendf(&b, ",\"phase\":");
        json_str(&b, known ? fleet_phase2str(mi.phase) : "unknown");
        kf_buf_appendf(&b, ",\"claim\":");
        json_str(&b, sm->claim_id);
        kf_buf_appendf(&b, ",\"resident_bytes\":%zu}", slot_resident_bytes(sm->slot));
    }
    kf_buf_appendf(&b, "],\"control_offset\":%" PRId64 "}\n", w->control_pos);
    pthread_mutex_lock(&w->status_lock);
    kf_buf_fini(&w->status_json);
    w->status_json = b;
    pthread_mutex_unlock(&w->status_lock);

    metric_set(metrics_series(w->m.inflight, NULL), (double)offtrack_inflight_total(w->offsets));
    for (size_t i = 0; i < w->n_models; i++)
        metric_set(metrics_series(w->m.resident, (const char *const[]){w->models[i].name}),
                   (double)slot_resident_bytes(w->models[i].slot));
    size_t free_bytes = 0, total_bytes = 0;
    if (!kern_backend_mem_info(w->backend, &free_bytes, &total_bytes)) {
        metric_set(metrics_series(w->m.device_mem, (const char *const[]){"free"}),
                   (double)free_bytes);
        metric_set(metrics_series(w->m.device_mem, (const char *const[]){"total"}),
                   (double)total_bytes);
    }
    metric_set(metrics_series(w->m.up, NULL), ready(w) ? 1 : 0);
    for (size_t i = 0; i < w->n_models; i++) {
        struct fleet_model_info mi;
        bool known = !fleet_model_get(w->fleet, w->models[i].name, &mi);
        for (int p = 0; p < FLEET_PHASE_COUNT; p++)
            metric_set(metrics_series(w->m.rollout_phase,
                                      (const char *const[]){w->models[i].name,
                                                            fleet_phase2str((enum fleet_phase)p)}),
                       known && mi.phase == (enum fleet_phase)p ? 1 : 0);
    }
}

/* Main thread, inside kio_consumer_poll of the request consumer, once per
 * statistics interval: the lag of the partitions this member owns, as
 * librdkafka's statistics give it (no admin API in the worker process: it
 * can abort the process when brokers go away, issue 12). A partition that
 * left this worker leaves its gauge at the next interval; its new owner
 * reports it. */
void worker_lag_stats(void *opaque, const char *json, size_t len)
{
    struct worker *w = opaque;
    const char *group = kf_conf_str(w->conf, "group.id");
    kio_tplist *mine = NULL, *lag = NULL;
    int err = kio_consumer_assignment(w->requests, &mine);
    if (!err)
        err = lag_stats_parse(json, len, w->topic_requests, mine, &lag);
    kio_tplist_free(mine);
    if (err) {
        KF_LOG_D("status", "lag from statistics: %s", kf_strerror(err));
        return;
    }
    char part[16];
    for (size_t i = 0; w->lag_reported && i < w->lag_reported->count; i++) {
        int32_t p = w->lag_reported->elems[i].partition;
        if (kio_tplist_find(lag, w->topic_requests, p))
            continue;
        snprintf(part, sizeof(part), "%d", p);
        metrics_series_remove(w->m.lag, (const char *const[]){group, w->topic_requests, part});
    }
    for (size_t i = 0; i < lag->count; i++) {
        snprintf(part, sizeof(part), "%d", lag->elems[i].partition);
        metric_set(metrics_series(w->m.lag, (const char *const[]){group, w->topic_requests, part}),
                   (double)lag->elems[i].offset);
    }
    kio_tplist_free(w->lag_reported);
    w->lag_reported = lag;
}

static int on_metrics(void *opaque, kf_buf *body, const char **content_type)
{
    struct worker *w = opaque;
    *content_type = "text/plain; version=0.0.4; charset=utf-8";
    return metrics_render(w->m.reg, body) ? 500 : 200;
}

static int on_healthz(void *opaque, kf_buf *body, const char **content_type)
{
    struct worker *w = opaque;
    bool ok = !atomic_load(&w->fatal);
    kf_buf_appendf(body, ok ? "ok\n" : "fatal error: draining\n");
    return ok ? 200 : 503;
}

static int on_readyz(void *opaque, kf_buf *body, const char **content_type)
{
    struct worker *w = opaque;
    bool ok = ready(w);
    kf_buf_appendf(body,
                   ok ? "ready\n" : "not ready: models loading, not in the group, or stopping\n");
    return ok ? 200 : 503;
}

static int on_status(void *opaque, kf_buf *body, const char **content_type)
{
    struct worker *w = opaque;
    *content_type = "application/json";
    pthread_mutex_lock(&w->status_lock);
    int err = kf_buf_append(body, w->status_json.ptr, w->status_json.len);
    pthread_mutex_unlock(&w->status_lock);
    return err ? 500 : 200;
}

int worker_http_start(struct worker *w, char *errstr, size_t errstr_size)
{
    /* Constant for the process: set once, before the first scrape can come. */
    metric_set(
        metrics_series(w->m.worker_info, (const char *const[]){w->id, kern_backend_name(w->backend),
                                                               kern_backend_device(w->backend)}),
        1);
    const struct http_route routes[] = {
        {"/metrics", on_metrics, w},
        {"/healthz", on_healthz, w},
        {"/readyz", on_readyz, w},
        {"/status", on_status, w},
    };
    w->http = http_server_new(kf_conf_str(w->conf, "http.bind"),
                              (uint16_t)kf_conf_int(w->conf, "http.port"), routes, 4, errstr,
                              errstr_size);
    return w->http ? 0 : -EADDRINUSE;
}
