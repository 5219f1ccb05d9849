/* The Prometheus registry renders what a scraper expects: HELP/TYPE lines,
 * escaped label values, cumulative histogram buckets ending in +Inf == count. */
#include "tests/lib/kf_test.h"
#include "worker/metrics.h"

#include <errno.h>
#include <pthread.h>

static char *render(metrics *m)
{
    kf_buf out;
    kf_buf_init(&out);
    KT_ASSERT_INT_EQ(metrics_render(m, &out), 0);
    KT_ASSERT_INT_EQ(kf_buf_append(&out, "", 1), 0);
    return (char *)kf_buf_steal(&out, NULL);
}

static void test_counter_gauge_labels(void)
{
    metrics *m = metrics_new();
    const char *const labels[] = {"model", "status", NULL};
    metric_family *req = metrics_family(m, "kfleet_requests_total", "Requests answered.",
                                        METRIC_COUNTER, labels, NULL, 0);
    metric_family *up =
        metrics_family(m, "kfleet_up", "Worker is up.", METRIC_GAUGE, NULL, NULL, 0);
    KT_ASSERT(req && up);
    metric_series *ok = metrics_series(req, (const char *const[]){"mlp", "ok"});
    metric_inc(ok, 2);
    metric_inc(metrics_series(req, (const char *const[]){"mlp", "ok"}), 1);
    metric_inc(metrics_series(req, (const char *const[]){"we\"ird\\\n", "error"}), 1);
    metric_set(metrics_series(up, NULL), 1);
    KT_ASSERT(metric_value(ok) == 3.0);

    char *text = render(m);
    KT_ASSERT(strstr(text, "# HELP kfleet_requests_total Requests answered.\n"));
    KT_ASSERT(strstr(text, "# TYPE kfleet_requests_total counter\n"));
    KT_ASSERT(strstr(text, "kfleet_requests_total{model=\"mlp\",status=\"ok\"} 3\n"));
    KT_ASSERT(
        strstr(text, "kfleet_requests_total{model=\"we\\\"ird\\\\\\n\",status=\"error\"} 1\n"));
    KT_ASSERT(strstr(text, "# TYPE kfleet_up gauge\nkfleet_up 1\n"));
    free(text);
    /* numbers print as the shortest decimal that reads back exactly */
    metric_set(metrics_series(up, NULL), 0.1 + 0.2);
    text = render(m);
    KT_ASSERT(strstr(text, "kfleet_up 0.30000000000000004\n"));
    free(text);
    metric_set(metrics_series(up, NULL), 0.25);
    text = render(m);
    KT_ASSERT(strstr(text, "kfleet_up 0.25\n"));
    free(text);
    metrics_free(m);
}

/* A removed series leaves the scrape; its neighbours and a re-created one stay. */
static void test_series_remove(void)
{
    metrics *m = metrics_new();
    metric_family *lag = metrics_family(m, "kfleet_consumer_lag", "Lag.", METRIC_GAUGE,
                                        (const char *const[]){"partition", NULL}, NULL, 0);
    for (int p = 0; p < 3; p++) {
        char part[8];
        snprintf(part, sizeof(part), "%d", p);
        metric_set(metrics_series(lag, (const char *const[]){part}), 10 + p);
    }
    KT_ASSERT_INT_EQ(metrics_series_remove(lag, (const char *const[]){"1"}), 0);
    KT_ASSERT_INT_EQ(metrics_series_remove(lag, (const char *const[]){"1"}), -ENOENT);
    KT_ASSERT_INT_EQ(metrics_series_remove(lag, (const char *const[]){"7"}), -ENOENT);
    char *text = render(m);
    KT_ASSERT(strstr(text, "kfleet_consumer_lag{partition=\"0\"} 10\n"));
    KT_ASSERT(!strstr(text, "partition=\"1\""));
    KT_ASSERT(strstr(text, "kfleet_consumer_lag{partition=\"2\"} 12\n"));
    free(text);
    /* the first and the last of the list */
    KT_ASSERT_INT_EQ(metrics_series_remove(lag, (const char *const[]){"2"}), 0);
    KT_ASSERT_INT_EQ(metrics_series_remove(lag, (const char *const[]){"0"}), 0);
    metric_set(metrics_series(lag, (const char *const[]){"1"}), 5);
    text = render(m);
    KT_ASSERT(
        strstr(text, "# TYPE kfleet_consumer_lag gauge\nkfleet_consumer_lag{partition=\"1\"} 5\n"));
    KT_ASSERT(!strstr(text, "partition=\"0\""));
    free(text);
    metrics_free(m);
}

static void test_histogram(void)
{
    metrics *m = metrics_new();
    const double b[] = {0.001, 0.01, 0.1};
    metric_family *lat = metrics_family(m, "kfleet_latency_seconds", "Latency.", METRIC_HISTOGRAM,
                                        (const char *const[]){"model", NULL}, b, 3);
    metric_series *s = metrics_series(lat, (const char *const[]){"mlp"});
    metric_observe(s, 0.0005);
    metric_observe(s, 0.005);
    metric_observe(s, 0.005);
    metric_observe(s, 5);
    char *text = render(m);
    KT_ASSERT(strstr(text, "kfleet_latency_seconds_bucket{model=\"mlp\",le=\"0.001\"} 1\n"));
    KT_ASSERT(strstr(text, "kfleet_latency_seconds_bucket{model=\"mlp\",le=\"0.01\"} 3\n"));
    KT_ASSERT(strstr(text, "kfleet_latency_seconds_bucket{model=\"mlp\",le=\"0.1\"} 3\n"));
    KT_ASSERT(strstr(text, "kfleet_latency_seconds_bucket{model=\"mlp\",le=\"+Inf\"} 4\n"));
    KT_ASSERT(strstr(text, "kfleet_latency_seconds_count{model=\"mlp\"} 4\n"));
    free(text);
    metrics_free(m);
}

static metric_series *shared_series;

static void *adder(void *arg)
{
    for (int i = 0; i < 100000; i++)
        metric_inc(shared_series, 1);
    return arg;
}

static void test_concurrent_increments(void)
{
    metrics *m = metrics_new();
    metric_family *f = metrics_family(m, "c_total", "c", METRIC_COUNTER, NULL, NULL, 0);
    shared_series = metrics_series(f, NULL);
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        pthread_create(&t[i], NULL, adder, NULL);
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    KT_ASSERT(metric_value(shared_series) == 400000.0);
    metrics_free(m);
}

int main(void)
{
    KT_RUN(test_counter_gauge_labels);
    KT_RUN(test_series_remove);
    KT_RUN(test_histogram);
    KT_RUN(test_concurrent_increments);
    metrics_free(NULL);
    return 0;
}
