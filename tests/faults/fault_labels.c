/* Row 10: 100 000 requests naming random unknown models, beside a constant
 * load for a real one, on two workers. Every unknown-model request is
 * answered `unknown_model`; /metrics, scraped every second of the flood,
 * stays valid Prometheus text and its series count stays bounded (unknown
 * models share the label value `_unknown`). */
#include "tests/faults/faults.h"
#include "tests/faults/kt_probe.h"
#include "tests/faults/kt_row.h"

#include "common/kf_clock.h"
#include "schema/resp.h"

#include <inttypes.h>

#define WORKERS 2
#define FLOOD 100000
#define FLOOD_RATE 5000
#define SERIES_SLACK 40 /* series a fleet may add under load: histograms, codes */

struct scrapes {
    int n, invalid, max_series[WORKERS], first_series[WORKERS];
    double max_ms;
    char why[300];
};

static void scrape(struct kt_env *e, struct scrapes *sc, char *buf, size_t cap)
{
    for (int i = 0; i < WORKERS; i++) {
        int64_t t0 = kf_clock_mono_us();
        int code = kt_http_get(e->workers[i].port, "/metrics", buf, cap);
        double ms = (double)(kf_clock_mono_us() - t0) / 1e3;
        sc->max_ms = ms > sc->max_ms ? ms : sc->max_ms;
        char why[300] = "";
        bool ok = code == 200;
        if (!ok)
            snprintf(why, sizeof(why), "w%d: /metrics answered %d", i, code);
        else if (strlen(buf) + 1 >= cap)
            snprintf(why, sizeof(why), "w%d: /metrics larger than %zu bytes", i, cap);
        else
            ok = kt_probe_metrics_valid(buf, why, sizeof(why));
        if (!ok && !sc->invalid++)
            snprintf(sc->why, sizeof(sc->why), "%s", why);
        int series = code == 200 ? kt_probe_series(buf) : 0;
        if (!sc->n)
            sc->first_series[i] = series;
        if (series > sc->max_series[i])
            sc->max_series[i] = series;
    }
    sc->n++;
}

int fault_labels(const char *worker_bin)
{
    static struct kt_row row;
    kt_row_begin(&row, "10", "requests naming random unknown models", "labels", worker_bin, 4,
                 NULL);
    struct kt_env *e = row.e;

    struct kt_version v1;
    kt_row_fleet(&row, &v1, 0, WORKERS, NULL);
    struct kt_load_opts lo = {.rate = 100};
    struct kt_load *load = kt_row_load(&row, &lo, &v1);
    size_t cap = 1 << 20;
    char *buf = malloc(cap);
    KT_ASSERT(buf);
    struct scrapes sc = {0};
    scrape(e, &sc, buf, cap);
    kt_row_fault_begins(&row, load, 2000);
    struct kt_load_opts fo = {
        .rate = FLOOD_RATE, .max = FLOOD, .id_prefix = "U", .random_model = true};
    struct kt_load *flood = kt_load_new(e, &fo);
    int64_t t0 = kf_clock_mono_us();
    kt_load_start(flood);
    /* Scrape every second until every unknown-model request is answered. */
    struct kt_load_stats fs;
    do {
        kt_row_sleep(&row, 1000);
        scrape(e, &sc, buf, cap);
        kt_load_stats(flood, &fs);
    } while ((fs.answered < FLOOD) && kf_clock_mono_us() - t0 < 180 * 1000000ll);
    int64_t flood_lost = kt_load_drain(flood, 30);
    double flood_s = (double)(kf_clock_mono_us() - t0) / 1e6;
    kt_load_stats(flood, &fs);
    struct kt_load_stats st;
    int64_t lost = kt_row_drain(&row, load, 2000, 60, &st);
    scrape(e, &sc, buf, cap);

    double unknown = 0;
    for (int i = 0; i < WORKERS; i++)
        if (kt_http_get(e->workers[i].port, "/metrics", buf, cap) == 200)
            unknown += kt_probe_metric(buf, "kfleet_requests_total", "model=\"_unknown\"");
    free(buf);
    int64_t unknown_answers = kt_load_code_count(flood, "unknown_model");
    int grown = 0;
    for (int i = 0; i < WORKERS; i++) {
        printf("w%d: %d series before the flood, at most %d during it\n", i, sc.first_series[i],
               sc.max_series[i]);
        grown = sc.max_series[i] - sc.first_series[i] > grown
                    ? sc.max_series[i] - sc.first_series[i]
                    : grown;
    }
    kt_row_check(&row, sc.invalid == 0, "%d scrapes, all valid Prometheus text%s%s", sc.n * WORKERS,
                 sc.invalid ? ": " : "", sc.why);
    kt_row_check(&row, grown <= SERIES_SLACK,
                 "series count bounded: at most %d more than before the flood (allowed %d)", grown,
                 SERIES_SLACK);
    kt_row_check(&row, flood_lost == 0 && fs.lost == 0 && unknown_answers == fs.sent,
                 "every unknown-model request answered unknown_model (%" PRId64 " of %" PRId64
                 ", %" PRId64 " lost)",
                 unknown_answers, fs.sent, fs.lost);
    kt_row_check(&row, unknown == (double)fs.sent,
                 "kfleet_requests_total{model=\"_unknown\"} counts them all (%.0f of %" PRId64 ")",
                 unknown, fs.sent);
    kt_row_check_load(&row, load, lost, &st, "the real model's load");
    kt_row_stop_workers(&row);

    char what[400];
    snprintf(what, sizeof(what),
             "%d workers, %d req/s for a real model; %d requests naming random unknown models at "
             "%d/s (all answered in %.0f s); /metrics scraped every second: %d series before, at "
             "most %d during, slowest scrape %.0f ms",
             WORKERS, lo.rate, FLOOD, FLOOD_RATE, flood_s, sc.first_series[0], sc.max_series[0],
             sc.max_ms);
    kt_load_free(flood);
    kt_load_free(load);
    kt_version_fini(&v1);
    return kt_row_finish(&row, what, &st, NULL);
}
