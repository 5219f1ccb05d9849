/* A real Prometheus scrapes two real workers with the shipped configuration
 * (issue 8, acceptance 3 and 4):
 *
 *   it_monitoring KFLEET_WORKER PROMETHEUS PROMTOOL PYTHON3 CHECK_QUERIES_PY OPS_DIR
 *
 * An isolated fleet on the devstack (tests/worker/kt_e2e.h): v1 published,
 * two kfleet-workers, requests answered, one undecodable record (the DLQ),
 * then v2 rolled through both, so every metric family has series. Both
 * workers' /metrics go to one file that check_queries.py checks the shipped
 * dashboard and rules against (names and labels as really exported).
 * Then Debian's prometheus runs on loopback with ops/prometheus/prometheus.yml
 * and rules.yml, copied with only the intervals shortened, and a file_sd
 * targets file naming the two workers: both targets up (/api/v1/targets),
 * per-partition lag from the workers owning them (/api/v1/query), the recording rules
 * evaluated (one lag series per partition, one version of the model) and
 * every rule healthy (/api/v1/rules). promtool accepts the shipped files.
 * Prometheus and the workers are stopped with SIGTERM and must exit 0. */
#include "common/kf_clock.h"
#include "tests/worker/kt_e2e.h"

#include <ctype.h>
#include <jansson.h>
#include <sys/stat.h>

#define N_PARTITIONS 3

static struct kt_env env;
static pid_t prom_pid;
static int prom_port;

static void kill_prometheus(void)
{
    if (prom_pid > 0) {
        kill(prom_pid, SIGKILL);
        kt_wait(prom_pid, 10);
    }
}

/* Exit 77, or 99 under KFLEET_REQUIRE_SERVICES=1, when a program is missing. */
static void need(const char *what, const char *path)
{
    if (path && *path && access(path, X_OK) == 0)
        return;
    const char *req = getenv("KFLEET_REQUIRE_SERVICES");
    bool required = req && !strcmp(req, "1");
    fprintf(stderr, "%s not found (Debian's prometheus package)%s\n", what,
            required ? " (required: KFLEET_REQUIRE_SERVICES=1)" : "; skipping");
    exit(required ? KF_TEST_HARD_ERROR : KF_TEST_SKIP);
}

static char *read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    KT_ASSERT_MSG(f, "%s: %s", path, strerror(errno));
    kf_buf b;
    kf_buf_init(&b);
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        KT_ASSERT(!kf_buf_append(&b, chunk, n));
    fclose(f);
    KT_ASSERT(!kf_buf_append(&b, "", 1));
    size_t len;
    return (char *)kf_buf_steal(&b, &len);
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    KT_ASSERT_MSG(f && fputs(text, f) >= 0 && fclose(f) == 0, "cannot write %s", path);
}

/* @p text with the one occurrence of @p from replaced by @p to (new, free()). */
static char *replace_once(char *text, const char *from, const char *to)
{
    char *at = strstr(text, from);
    KT_ASSERT_MSG(at && !strstr(at + 1, from),
                  "the shipped prometheus.yml should hold '%s' exactly once", from);
    size_t head = (size_t)(at - text), flen = strlen(from), tlen = strlen(to);
    char *out = malloc(strlen(text) - flen + tlen + 1);
    KT_ASSERT(out);
    memcpy(out, text, head);
    memcpy(out + head, to, tlen);
    strcpy(out + head + tlen, at + flen);
    free(text);
    return out;
}

/* GET a Prometheus API path; its JSON "data" on status "success" (new ref). */
static json_t *prom_api(const char *path)
{
    static char body[1 << 20];
    int st = kt_http_get(prom_port, path, body, sizeof(body));
    if (st != 200)
        return NULL;
    json_error_t jerr;
    json_t *doc = json_loads(body, 0, &jerr);
    KT_ASSERT_MSG(doc, "%s: not JSON (%s): %.200s", path, jerr.text, body);
    const char *status = json_string_value(json_object_get(doc, "status"));
    KT_ASSERT_MSG(status && !strcmp(status, "success"), "%s: %.300s", path, body);
    json_t *data = json_incref(json_object_get(doc, "data"));
    json_decref(doc);
    return data;
}

/* /api/v1/query for @p promql: the result vector (new ref), NULL on no answer. */
static json_t *prom_query(const char *promql)
{
    char path[2048];
    size_t n = (size_t)snprintf(path, sizeof(path), "/api/v1/query?query=");
    for (const unsigned char *c = (const unsigned char *)promql; *c && n + 4 < sizeof(path); c++)
        n += (size_t)(isalnum(*c) || strchr("-_.~", *c)
                          ? snprintf(path + n, sizeof(path) - n, "%c", *c)
                          : snprintf(path + n, sizeof(path) - n, "%%%02X", *c));
    json_t *data = prom_api(path);
    if (!data)
        return NULL;
    KT_ASSERT_STR_EQ(json_string_value(json_object_get(data, "resultType")), "vector");
    json_t *result = json_incref(json_object_get(data, "result"));
    json_decref(data);
    return result;
}

static const char *label(json_t *series, const char *name)
{
    return json_string_value(json_object_get(json_object_get(series, "metric"), name));
}

static double sample_value(json_t *series)
{
    const char *v = json_string_value(json_array_get(json_object_get(series, "value"), 1));
    KT_ASSERT(v);
    return atof(v);
}

/* Poll @p cond every 200 ms for up to @p timeout_s; true once it holds. */
static bool wait_for(bool (*cond)(void), int timeout_s)
{
    int64_t deadline = kf_clock_mono_us() + (int64_t)timeout_s * 1000000;
    while (!cond()) {
        if (kf_clock_mono_us() >= deadline)
            return false;
        kf_sleep_ms(200);
    }
    return true;
}

/* Each worker shows the lag of the partitions it owns on /metrics: every
 * partition on some worker, some partition on every worker (3 partitions
 * shared by 2 workers). */
static bool workers_report_lag(void)
{
    static char body[1 << 18];
    bool part_seen[N_PARTITIONS] = {false};
    for (int i = 0; i < 2; i++) {
        if (kt_http_get(env.workers[i].port, "/metrics", body, sizeof(body)) != 200)
            return false;
        bool any = false;
        for (int p = 0; p < N_PARTITIONS; p++) {
            char want[512];
            snprintf(want, sizeof(want),
                     "kfleet_consumer_lag{group=\"%s\",topic=\"%s\",partition=\"%d\"}", env.group,
                     env.t_req, p);
            if (strstr(body, want))
                any = part_seen[p] = true;
        }
        if (!any)
            return false;
    }
    for (int p = 0; p < N_PARTITIONS; p++)
        if (!part_seen[p])
            return false;
    return true;
}

static bool worker_has_dlq(void)
{
    static char body[1 << 18];
    for (int i = 0; i < 2; i++)
        if (kt_http_get(env.workers[i].port, "/metrics", body, sizeof(body)) == 200 &&
            strstr(body, "kfleet_dlq_total{code="))
            return true;
    return false;
}

static bool targets_up(void)
{
    json_t *data = prom_api("/api/v1/targets?state=active");
    if (!data)
        return false;
    int up = 0;
    size_t i;
    json_t *t;
    json_array_foreach(json_object_get(data, "activeTargets"), i, t)
    {
        json_t *labels = json_object_get(t, "labels");
        const char *inst = json_string_value(json_object_get(labels, "instance"));
        const char *job = json_string_value(json_object_get(labels, "job"));
        const char *health = json_string_value(json_object_get(t, "health"));
        for (int w = 0; w < 2; w++) {
            char want[64];
            snprintf(want, sizeof(want), "127.0.0.1:%d", env.workers[w].port);
            if (inst && !strcmp(inst, want) && job && !strcmp(job, "kfleet-worker") && health &&
                !strcmp(health, "up"))
                up++;
        }
    }
    json_decref(data);
    return up == 2;
}

/* Per-partition lag from the workers that own them: every partition from
 * some worker, both workers reporting, each series with its partition label. */
static bool lag_per_partition(void)
{
    char q[512];
    snprintf(q, sizeof(q), "kfleet_consumer_lag{group=\"%s\"}", env.group);
    json_t *res = prom_query(q);
    if (!res)
        return false;
    int seen[N_PARTITIONS][2] = {{0}};
    size_t i;
    json_t *s;
    json_array_foreach(res, i, s)
    {
        const char *part = label(s, "partition"), *inst = label(s, "instance");
        KT_ASSERT_MSG(part && inst, "a lag series without a partition or instance label");
        KT_ASSERT_STR_EQ(label(s, "topic"), env.t_req);
        KT_ASSERT_STR_EQ(label(s, "job"), "kfleet-worker");
        int p = atoi(part);
        KT_ASSERT_MSG(p >= 0 && p < N_PARTITIONS, "partition %s of a %d-partition topic", part,
                      N_PARTITIONS);
        KT_ASSERT_MSG(sample_value(s) >= 0, "negative lag on partition %s", part);
        for (int w = 0; w < 2; w++) {
            char want[64];
            snprintf(want, sizeof(want), "127.0.0.1:%d", env.workers[w].port);
            seen[p][w] |= !strcmp(inst, want);
        }
    }
    bool all = true, by_worker[2] = {false, false};
    for (int p = 0; p < N_PARTITIONS; p++) {
        all = all && (seen[p][0] || seen[p][1]);
        by_worker[0] |= seen[p][0];
        by_worker[1] |= seen[p][1];
    }
    all = all && by_worker[0] && by_worker[1];
    for (i = 0; all && i < json_array_size(res); i++) {
        s = json_array_get(res, i);
        printf("  kfleet_consumer_lag{partition=\"%s\",instance=\"%s\"} %g\n",
               label(s, "partition"), label(s, "instance"), sample_value(s));
    }
    json_decref(res);
    return all;
}

/* The recording rule folds the two workers' reports: one series per partition. */
static bool lag_recorded(void)
{
    char q[512];
    snprintf(q, sizeof(q), "kfleet:consumer_lag:partition{group=\"%s\"}", env.group);
    json_t *res = prom_query(q);
    if (!res)
        return false;
    bool ok = json_array_size(res) == N_PARTITIONS;
    KT_ASSERT_MSG(json_array_size(res) <= N_PARTITIONS, "%zu recorded lag series for %d partitions",
                  json_array_size(res), N_PARTITIONS);
    json_decref(res);
    return ok;
}

static bool versions_recorded(void)
{
    char q[512];
    snprintf(q, sizeof(q), "kfleet:model_versions:count{model=\"%s\"}", env.model);
    json_t *res = prom_query(q);
    if (!res)
        return false;
    bool ok = json_array_size(res) == 1;
    if (ok)
        KT_ASSERT_MSG(sample_value(json_array_get(res, 0)) == 1,
                      "both workers serve v2, yet %g versions recorded",
                      sample_value(json_array_get(res, 0)));
    json_decref(res);
    return ok;
}

/* Every rule evaluated at least once; none may be unhealthy. */
static bool rules_evaluated(void)
{
    json_t *data = prom_api("/api/v1/rules");
    if (!data)
        return false;
    int n = 0, unknown = 0;
    size_t gi, ri;
    json_t *g, *r;
    json_array_foreach(json_object_get(data, "groups"), gi, g)
    {
        json_array_foreach(json_object_get(g, "rules"), ri, r)
        {
            const char *name = json_string_value(json_object_get(r, "name"));
            const char *health = json_string_value(json_object_get(r, "health"));
            n++;
            if (!health || !strcmp(health, "unknown")) {
                unknown++;
                continue;
            }
            KT_ASSERT_MSG(!strcmp(health, "ok"), "rule %s: %s: %s", name, health,
                          json_string_value(json_object_get(r, "lastError")));
        }
    }
    json_decref(data);
    return n > 0 && !unknown;
}

static void scrape_workers(const char *path)
{
    static char body[1 << 18];
    FILE *f = fopen(path, "w");
    KT_ASSERT(f);
    for (int i = 0; i < 2; i++) {
        KT_ASSERT_INT_EQ(kt_http_get(env.workers[i].port, "/metrics", body, sizeof(body)), 200);
        fputs(body, f);
    }
    KT_ASSERT(fclose(f) == 0);
}

static void promtool(const char *bin, const char *what, const char *file)
{
    char *argv[] = {(char *)bin, "check", (char *)what, (char *)file, NULL};
    int rc = kt_run(argv, NULL, 60);
    KT_ASSERT_MSG(rc == 0, "promtool check %s %s: exit %d", what, file, rc);
}

int main(int argc, char **argv)
{
    if (argc < 7)
        return KF_TEST_HARD_ERROR;
    setvbuf(stdout, NULL, _IOLBF, 0); /* in order with promtool's and the checker's output */
    const char *prometheus = argv[2], *promtool_bin = argv[3], *python = argv[4],
               *check_queries = argv[5], *ops = argv[6];
    need("prometheus", prometheus);
    need("promtool", promtool_bin);
    char shipped_conf[1024], shipped_rules[1024], dashboard[1024];
    snprintf(shipped_conf, sizeof(shipped_conf), "%s/prometheus/prometheus.yml", ops);
    snprintf(shipped_rules, sizeof(shipped_rules), "%s/prometheus/rules.yml", ops);
    snprintf(dashboard, sizeof(dashboard), "%s/grafana/kfleet.json", ops);
    promtool(promtool_bin, "config", shipped_conf);
    promtool(promtool_bin, "rules", shipped_rules);

    kt_env_init(&env, "mon", argv[1], N_PARTITIONS);
    atexit(kill_prometheus);
    struct kt_version v1, v2;
    kt_env_version(&env, "v1", 1, 0, NULL, &v1);
    kt_env_announce(&env, &v1, 1, NULL, &env.trusted);
    kt_env_worker_start(&env, 0, NULL);
    kt_env_worker_start(&env, 1, NULL);
    printf("workers w0 on :%d, w1 on :%d, group %s\n", env.workers[0].port, env.workers[1].port,
           env.group);

    kt_env_send(&env, 60);
    KT_ASSERT_INT_EQ(kt_env_collect(&env, 0, 60, 120), 0);
    /* Undecodable bytes: DLQ only, so kfleet_dlq_total gets a series. */
    char junk_bytes[] = "junk";
    struct kio_out_msg junk = {
        .topic = env.t_req, .partition = 0, .value = junk_bytes, .value_len = 4};
    KT_ASSERT_INT_EQ(kio_producer_send(env.prod, &junk, KIO_SEND_COPY | KIO_SEND_BLOCK), 0);
    KT_ASSERT_INT_EQ(kio_producer_flush(env.prod, 10000), 0);
    KT_ASSERT_MSG(wait_for(worker_has_dlq, 60), "no kfleet_dlq_total after an undecodable record");
    /* v2 through both workers: swaps, stage timings, two versions in version_info. */
    kt_env_version(&env, "v2", 2, 0, NULL, &v2);
    kt_env_announce(&env, &v2, 2, NULL, &env.trusted);
    KT_ASSERT_MSG(kt_env_wait_active(&env, 2, "v2", 180), "v2 did not reach both workers");
    kt_env_send(&env, 30);
    KT_ASSERT_INT_EQ(kt_env_collect(&env, 60, 90, 120), 0);
    KT_ASSERT_MSG(wait_for(workers_report_lag, 90),
                  "the workers do not report the lag of every partition on /metrics");

    /* Acceptance 4 on what the workers really export. */
    char metrics[512];
    snprintf(metrics, sizeof(metrics), "%s/workers-metrics.txt", env.dir);
    scrape_workers(metrics);
    char *check[] = {(char *)python,     (char *)check_queries,
                     "--metrics",        metrics,
                     "--dashboard",      dashboard,
                     "--rules",          shipped_rules,
                     "--promtool",       (char *)promtool_bin,
                     "--require-series", NULL};
    KT_ASSERT_MSG(kt_run(check, NULL, 120) == 0,
                  "check_queries.py: the dashboard or the rules name what the workers do not "
                  "export (scrape in %s)",
                  metrics);

    /* Prometheus on the shipped files: only the intervals are shortened. */
    char prom_dir[512], path[700], json[256];
    snprintf(prom_dir, sizeof(prom_dir), "%s/prometheus", env.dir);
    KT_ASSERT(!mkdir(prom_dir, 0755));
    snprintf(path, sizeof(path), "%s/targets", prom_dir);
    KT_ASSERT(!mkdir(path, 0755));
    char *conf = read_file(shipped_conf);
    conf = replace_once(conf, "scrape_interval: 15s", "scrape_interval: 1s");
    conf = replace_once(conf, "evaluation_interval: 15s", "evaluation_interval: 1s");
    conf = replace_once(conf, "scrape_timeout: 10s", "scrape_timeout: 1s");
    snprintf(path, sizeof(path), "%s/prometheus.yml", prom_dir);
    write_file(path, conf);
    free(conf);
    char *rules = read_file(shipped_rules);
    snprintf(path, sizeof(path), "%s/rules.yml", prom_dir);
    write_file(path, rules);
    free(rules);
    snprintf(json, sizeof(json),
             "[{\"targets\": [\"127.0.0.1:%d\", \"127.0.0.1:%d\"], \"labels\": {\"fleet\": "
             "\"it_monitoring\"}}]\n",
             env.workers[0].port, env.workers[1].port);
    snprintf(path, sizeof(path), "%s/targets/workers.json", prom_dir);
    write_file(path, json);
    snprintf(path, sizeof(path), "%s/prometheus.yml", prom_dir);
    promtool(promtool_bin, "config", path);

    prom_port = kt_free_port();
    char a_conf[800], a_data[800], a_listen[64], log[800];
    snprintf(a_conf, sizeof(a_conf), "--config.file=%s/prometheus.yml", prom_dir);
    snprintf(a_data, sizeof(a_data), "--storage.tsdb.path=%s/data", prom_dir);
    snprintf(a_listen, sizeof(a_listen), "--web.listen-address=127.0.0.1:%d", prom_port);
    snprintf(log, sizeof(log), "%s/prometheus.log", prom_dir);
    char *pargv[] = {(char *)prometheus, a_conf, a_data, a_listen, "--log.level=warn", NULL};
    prom_pid = kt_spawn(pargv, log);
    KT_ASSERT_MSG(kt_http_wait(prom_port, "/-/ready", 200, 60), "prometheus not ready; see %s",
                  log);
    printf("prometheus on 127.0.0.1:%d (log %s)\n", prom_port, log);

    KT_ASSERT_MSG(wait_for(targets_up, 60), "both workers are not up in /api/v1/targets; see %s",
                  log);
    printf("both targets up\n");
    KT_ASSERT_MSG(wait_for(lag_per_partition, 60),
                  "no kfleet_consumer_lag series for every partition from its owner");
    KT_ASSERT_MSG(wait_for(lag_recorded, 60), "kfleet:consumer_lag:partition is not recorded");
    KT_ASSERT_MSG(wait_for(versions_recorded, 60), "kfleet:model_versions:count is not recorded");
    KT_ASSERT_MSG(wait_for(rules_evaluated, 60), "the rules were not all evaluated");
    printf("recording rules: one lag series per partition, one version; every rule healthy\n");

    kill(prom_pid, SIGTERM);
    KT_ASSERT_INT_EQ(kt_wait(prom_pid, 60), 0);
    prom_pid = 0;
    KT_ASSERT_INT_EQ(kt_env_worker_stop(&env, 0, SIGTERM), 0);
    KT_ASSERT_INT_EQ(kt_env_worker_stop(&env, 1, SIGTERM), 0);
    kt_version_fini(&v1);
    kt_version_fini(&v2);
    kt_env_fini(&env);
    return 0;
}
