/* kfleet-worker: serve models from Kafka, swap versions as the control log says.
 *
 * Start-up order (ARCHITECTURE §5): configuration, backend, object store,
 * producer, fold the whole control log, load each served model's target
 * (cache first), then join the request group — joining adds capacity, so it
 * needs no rollout slot. Shutdown (SIGTERM/SIGINT): stop fetching, finish
 * every batch, deliver every response, commit, leave the group, exit 0. */
#include "worker/worker_impl.h"
#include "worker/worker_conf.h"

#include "common/kf_clock.h"
#include "common/kf_err.h"
#include "common/kf_log.h"

#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static struct worker *the_worker; /* for the signal handler only */

static void on_signal(int sig)
{
    (void)sig;
    if (the_worker)
        atomic_store(&the_worker->stop, true);
}

static void usage(FILE *out, const char *argv0)
{
    fprintf(out,
            "Usage: %s [options]\n"
            "Serve inference requests from Kafka and roll model versions as the control log says.\n"
            "\n"
            "  -b BROKERS        Kafka bootstrap servers (property brokers)\n"
            "  -c FILE           read name=value properties from FILE\n"
            "  -X NAME=VALUE     set a property; kafka.* go to librdkafka unchanged\n"
            "  -m MODELS         models to serve, comma-separated, * = all (property models)\n"
            "      --backend=B   auto|ref|cuda (property backend)\n"
            "  -i ID             worker id (property worker.id)\n"
            "  -v                more logging (repeat for debug)\n"
            "  -h                this help\n"
            "      --config-reference  print the property table as Markdown and exit\n"
            "\n"
            "Properties are read from defaults, then -c FILE, then KFLEET_<NAME> environment\n"
            "variables ('.' as '_'), then flags, later wins:\n",
            argv0);
    kf_conf_print_help(worker_props, worker_props_count, out);
}

static int parse_args(struct worker *w, int argc, char **argv)
{
    static const struct option longopts[] = {
        {"backend", required_argument, NULL, 'B'},
        {"config-reference", no_argument, NULL, 'R'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    char errstr[512];
    int verbose = 0, opt;
    /* The file comes first whatever the order of the flags: flags override it. */
    for (int i = 1; i + 1 < argc; i++)
        if (!strcmp(argv[i], "-c") &&
            kf_conf_load_file(w->conf, argv[i + 1], errstr, sizeof(errstr))) {
            fprintf(stderr, "kfleet-worker: %s\n", errstr);
            return 2;
        }
    if (kf_conf_load_env(w->conf, "KFLEET_", errstr, sizeof(errstr))) {
        fprintf(stderr, "kfleet-worker: %s\n", errstr);
        return 2;
    }
    while ((opt = getopt_long(argc, argv, "b:c:X:m:i:vh", longopts, NULL)) != -1) {
        int err = 0;
        switch (opt) {
        case 'b': err = kf_conf_set(w->conf, "brokers", optarg, errstr, sizeof(errstr)); break;
        case 'c': break;
        case 'X': err = kf_conf_set_kv(w->conf, optarg, errstr, sizeof(errstr)); break;
        case 'm': err = kf_conf_set(w->conf, "models", optarg, errstr, sizeof(errstr)); break;
        case 'i': err = kf_conf_set(w->conf, "worker.id", optarg, errstr, sizeof(errstr)); break;
        case 'B': err = kf_conf_set(w->conf, "backend", optarg, errstr, sizeof(errstr)); break;
        case 'v': verbose++; break;
        case 'h': usage(stdout, argv[0]); return 0;
        case 'R': kf_conf_print_markdown(worker_props, worker_props_count, stdout); return 0;
        default: fprintf(stderr, "Try '%s -h'.\n", argv[0]); return 2;
        }
        if (err) {
            fprintf(stderr, "kfleet-worker: %s\n", errstr);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "kfleet-worker: unexpected argument '%s'; try -h\n", argv[optind]);
        return 2;
    }
    enum kf_log_level lvl = KF_LOG_INFO;
    kf_log_level_from_str(kf_conf_str(w->conf, "log_level"), &lvl);
    if (verbose)
        lvl = verbose > 1 ? KF_LOG_DEBUG : KF_LOG_INFO;
    kf_log_set_level(lvl);
    return -1; /* go on */
}

static int open_backend(struct worker *w, char *errstr, size_t errstr_size)
{
    const char *name = kf_conf_str(w->conf, "backend");
    if (!strcmp(name, "auto"))
        name = kern_backend_probe("cuda") == 0 ? "cuda" : "ref";
    struct kern_backend_config bc = {0};
    bc.threads = (unsigned)kf_conf_int(w->conf, "ref.threads");
    w->backend = kern_backend_new(name, &bc, errstr, errstr_size);
    if (!w->backend)
        return -ENODEV;
    KF_LOG_I("worker", "backend %s on %s", kern_backend_name(w->backend),
             kern_backend_device(w->backend));
    return 0;
}

static int open_store(struct worker *w, char *errstr, size_t errstr_size)
{
    const char *keys = kf_conf_str(w->conf, "trusted_keys");
    w->keyring = crypto_keyring_new();
    if (!w->keyring)
        return -ENOMEM;
    if (!keys) {
        kf_errf(errstr, errstr_size,
                "trusted_keys is not set: a worker trusts weights only through signatures "
                "(-X trusted_keys=FILE, lines of publish-model keygen's .pub files)");
        return -EINVAL;
    }
    int err = crypto_keyring_load(w->keyring, keys, errstr, errstr_size);
    if (err)
        return err;
    struct objstore_s3_opts s3 = {
        .endpoint = kf_conf_str(w->conf, "s3.endpoint"),
        .access_key = kf_conf_str(w->conf, "s3.access_key"),
        .secret_key = kf_conf_str(w->conf, "s3.secret_key"),
        .region = kf_conf_str(w->conf, "s3.region"),
        .https = kf_conf_bool(w->conf, "s3.https"),
        .max_parallel = (int)kf_conf_int(w->conf, "fetch.parallel"),
    };
    w->objstore = objstore_new(kf_conf_str(w->conf, "store.url"), &s3, errstr, errstr_size);
    if (!w->objstore)
        return -EINVAL;
    struct store_conf sc = {
        .os = w->objstore,
        .cache_dir = kf_conf_str(w->conf, "cache.dir"),
        .trusted = w->keyring,
        .parallel = (unsigned)kf_conf_int(w->conf, "fetch.parallel"),
        .deadline_ms = (int)kf_conf_int(w->conf, "fetch.deadline_ms"),
        .keep_versions = (unsigned)kf_conf_int(w->conf, "cache.keep_versions"),
    };
    w->store = store_new(&sc, errstr, errstr_size);
    return w->store ? 0 : -EINVAL;
}

static void announce(struct worker *w, enum ctl_type type, const char *reason)
{
    struct ctl_event ev;
    ctl_event_init(&ev, type);
    snprintf(ev.worker, sizeof(ev.worker), "%s", w->id);
    if (type == CTL_WORKER_LEFT) {
        snprintf(ev.reason, sizeof(ev.reason), "%s", reason);
    } else {
        snprintf(ev.host, sizeof(ev.host), "%s", w->host);
        snprintf(ev.backend, sizeof(ev.backend), "%s", kern_backend_name(w->backend));
        snprintf(ev.device, sizeof(ev.device), "%s", kern_backend_device(w->backend));
        size_t free_bytes = 0, total = 0;
        kern_backend_mem_info(w->backend, &free_bytes, &total);
        ev.free_memory = free_bytes;
        for (size_t i = 0; i < w->n_models && ev.n_models < CTL_MAX_MODELS; i++) {
            char active[64], standby[64];
            slot_versions(w->models[i].slot, active, standby);
            struct ctl_model_version *mv = &ev.models[ev.n_models++];
            snprintf(mv->model, sizeof(mv->model), "%s", w->models[i].name);
            snprintf(mv->version, sizeof(mv->version), "%s", active);
        }
    }
    control_emit(w, &ev);
}

static int run(struct worker *w)
{
    char errstr[1024];
    int err;
    if ((err = open_backend(w, errstr, sizeof(errstr))) ||
        (err = open_store(w, errstr, sizeof(errstr))) ||
        (err = serve_producer_start(w, errstr, sizeof(errstr))) ||
        (err = control_start(w, errstr, sizeof(errstr))) ||
        (err = control_catch_up(w, errstr, sizeof(errstr))) ||
        (err = worker_http_start(w, errstr, sizeof(errstr))) ||
        (err = agent_load_initial(w, errstr, sizeof(errstr)))) {
        KF_LOG_E("worker", "%s", errstr);
        return 1;
    }
    announce(w, CTL_WORKER_JOINED, NULL);
    if ((err = serve_start(w, errstr, sizeof(errstr)))) {
        KF_LOG_E("worker", "%s", errstr);
        return 1;
    }

    /* Membership for fleet upkeep and hand-off, described by a child process
     * (group_probe.h); without one those checks skip their rounds. */
    struct group_probe_opts po = {
        .brokers = kf_conf_str(w->conf, "brokers"),
        .client_id = w->id,
        .group = kf_conf_str(w->conf, "group.id"),
        .conf = w->conf,
    };
    w->probe = group_probe_new(&po, errstr, sizeof(errstr));
    if (!w->probe)
        KF_LOG_W("worker", "%s: no group membership checks", errstr);
    int64_t next_status = 0;
    int64_t next_wait_log = 0;
    while (!atomic_load(&w->stop) && !atomic_load(&w->fatal)) {
        /* Readiness gates membership: the worker takes partitions only when
         * it can serve every model it is configured for, so it never answers
         * `unavailable` for want of weights (docs/reliability.md). */
        if (!atomic_load(&w->joined)) {
            if (agent_can_serve(w)) {
                serve_join(w);
            } else if (kf_clock_mono_us() >= next_wait_log) {
                KF_LOG_I("worker", "not joining the request group yet: a model has no version "
                                   "loaded (retrying)");
                next_wait_log = kf_clock_mono_us() + 10000000;
            }
        }
        serve_poll(w, 20);
        if (control_poll(w, 0) || true)
            agent_step(w);
        int64_t now = kf_clock_mono_us();
        if (now >= next_status) {
            worker_status_refresh(w);
            next_status = now + 250000;
        }
    }
    bool fatal = atomic_load(&w->fatal);
    KF_LOG_I("worker", "%s: draining, committing, leaving the group",
             fatal ? "fatal error" : "stopping");
    atomic_store(&w->joined, false);
    serve_stop(w);
    announce(w, CTL_WORKER_LEFT, fatal ? "fatal error" : "shutdown");
    kio_producer_flush(w->producer, 10000);
    return fatal ? 3 : 0;
}

static void worker_fini(struct worker *w)
{
    http_server_free(w->http);
    agent_stop(w);
    for (size_t i = 0; i < w->n_models; i++) {
        batcher_free(w->models[i].batcher);
        slot_free(w->models[i].slot);
    }
    kio_consumer_free(w->requests);
    control_stop(w);
    kio_consumer_free(w->control);
    kio_producer_free(w->producer);
    group_probe_free(w->probe);
    kio_tplist_free(w->lag_reported);
    fleet_state_free(w->fleet);
    offtrack_free(w->offsets);
    store_free(w->store);
    objstore_free(w->objstore);
    crypto_keyring_free(w->keyring);
    kern_backend_free(w->backend);
    metrics_free(w->m.reg);
    kf_buf_fini(&w->status_json);
    pthread_mutex_destroy(&w->status_lock);
    kf_conf_free(w->conf);
}

int main(int argc, char **argv)
{
    static struct worker w;
    char errstr[512];
    /* The group probe's child: the same binary, talking on its stdin. */
    if (argc > 1 && !strcmp(argv[1], GROUP_PROBE_ARG))
        return group_probe_child_main();
    w.conf = kf_conf_new(worker_props, worker_props_count, errstr, sizeof(errstr));
    if (!w.conf) {
        fprintf(stderr, "kfleet-worker: %s\n", errstr);
        return 1;
    }
    pthread_mutex_init(&w.status_lock, NULL);
    int rc = parse_args(&w, argc, argv);
    if (rc >= 0) {
        kf_conf_free(w.conf);
        return rc;
    }
    gethostname(w.host, sizeof(w.host) - 1);
    const char *id = kf_conf_str(w.conf, "worker.id");
    if (id)
        snprintf(w.id, sizeof(w.id), "%s", id);
    else
        snprintf(w.id, sizeof(w.id), "%.100s-%d", w.host, (int)getpid());
    w.topic_requests = kf_conf_str(w.conf, "topic.requests");
    w.topic_responses = kf_conf_str(w.conf, "topic.responses");
    w.topic_dlq = kf_conf_str(w.conf, "topic.dlq");
    w.topic_control = kf_conf_str(w.conf, "topic.control");
    w.serve_all = !strcmp(kf_conf_str(w.conf, "models"), "*");
    req_limits_default(&w.limits);
    w.limits.max_rows = (uint64_t)kf_conf_int(w.conf, "limits.max_rows");
    w.limits.max_cols = (uint64_t)kf_conf_int(w.conf, "limits.max_cols");
    w.limits.max_bytes = (uint64_t)kf_conf_int(w.conf, "limits.max_bytes");
    worker_metrics_init(&w);

    the_worker = &w;
    struct sigaction sa = {.sa_handler = on_signal};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    rc = run(&w);
    worker_fini(&w);
    KF_LOG_I("worker", "exit %d", rc);
    return rc;
}
