/* kfleet-worker: serve models from Kafka, swap versions as the control log says.
 *
 * Start-up order (ARCHITECTURE §5): configuration, backend, object store,
 * producer, fold the whole control log, load each served model's target
 * (cache first), then join the request group — joining adds capacity, so it
 * needs no rollout slot. Shutdown (SIGTERM/SIGINT): stop fetching, finish
 * every batch, deliver every response, commit, leave the group, exit 0. */
#include "worker/agent.h"
#include "worker/control.h"
#include "worker/group_probe.h"
#include "worker/models.h"
#include "worker/serve.h"
#include "worker/status.h"
#include "worker/worker_conf.h"
#include "worker/worker_metrics.h"

#include "common/kf_clock.h"
#include "common/kf_err.h"
#include "common/kf_log.h"

#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The parts of a running worker, in the order they start (and the reverse
 * order they stop). Only this file sees them all: each part gets the few
 * others it uses, by pointer, and the main loop wires the turns. */
struct worker {
    struct worker_config cfg;
    struct worker_metrics metrics;
    struct kern_backend *backend;
    crypto_keyring *keyring;
    struct crypto_ed25519_key signer; /* worker.key; has_signer when loaded */
    bool has_signer;
    objstore *objstore;
    model_store *store;
    model_set *models;
    serve *serve;
    control *control;
    agent *agent;
    status *status;
    group_probe *probe;
};

static atomic_bool stop_requested; /* SIGTERM/SIGINT */

static void on_signal(int sig)
{
    (void)sig;
    atomic_store(&stop_requested, true);
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

static int parse_args(kf_conf *conf, int argc, char **argv)
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
            kf_conf_load_file(conf, argv[i + 1], errstr, sizeof(errstr))) {
            fprintf(stderr, "kfleet-worker: %s\n", errstr);
            return 2;
        }
    if (kf_conf_load_env(conf, "KFLEET_", errstr, sizeof(errstr))) {
        fprintf(stderr, "kfleet-worker: %s\n", errstr);
        return 2;
    }
    while ((opt = getopt_long(argc, argv, "b:c:X:m:i:vh", longopts, NULL)) != -1) {
        int err = 0;
        switch (opt) {
        case 'b': err = kf_conf_set(conf, "brokers", optarg, errstr, sizeof(errstr)); break;
        case 'c': break;
        case 'X': err = kf_conf_set_kv(conf, optarg, errstr, sizeof(errstr)); break;
        case 'm': err = kf_conf_set(conf, "models", optarg, errstr, sizeof(errstr)); break;
        case 'i': err = kf_conf_set(conf, "worker.id", optarg, errstr, sizeof(errstr)); break;
        case 'B': err = kf_conf_set(conf, "backend", optarg, errstr, sizeof(errstr)); break;
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
    kf_log_level_from_str(kf_conf_str(conf, "log_level"),
                          &lvl); /* before the typed config: logging starts first */
    if (verbose)
        lvl = verbose > 1 ? KF_LOG_DEBUG : KF_LOG_INFO;
    kf_log_set_level(lvl);
    return -1; /* go on */
}

static int open_backend(struct worker *w, char *errstr, size_t errstr_size)
{
    const char *name = w->cfg.backend;
    if (!strcmp(name, "auto"))
        name = kern_backend_probe("cuda") == 0 ? "cuda" : "ref";
    struct kern_backend_config bc = {0};
    bc.threads = w->cfg.ref_threads;
    w->backend = kern_backend_new(name, &bc, errstr, errstr_size);
    if (!w->backend)
        return -ENODEV;
    KF_LOG_I("worker", "backend %s on %s", kern_backend_name(w->backend),
             kern_backend_device(w->backend));
    return 0;
}

static int open_store(struct worker *w, char *errstr, size_t errstr_size)
{
    const struct worker_config *cfg = &w->cfg;
    w->keyring = crypto_keyring_new();
    if (!w->keyring)
        return -ENOMEM;
    if (!cfg->trusted_keys) {
        kf_errf(errstr, errstr_size,
                "trusted_keys is not set: a worker trusts weights only through signatures "
                "(-X trusted_keys=FILE, lines of publish-model keygen's .pub files)");
        return -EINVAL;
    }
    int err = crypto_keyring_load(w->keyring, cfg->trusted_keys, errstr, errstr_size);
    if (err)
        return err;
    struct objstore_s3_opts s3 = {
        .endpoint = cfg->s3_endpoint,
        .access_key = cfg->s3_access_key,
        .secret_key = cfg->s3_secret_key,
        .region = cfg->s3_region,
        .session_token = cfg->s3_session_token,
        .ca_file = cfg->s3_ca_file,
        .https = cfg->s3_https,
        .signature_v2 = cfg->s3_sigv2,
        .virtual_host = cfg->s3_virtual_host,
        .max_parallel = (int)cfg->fetch_parallel,
    };
    w->objstore = objstore_new(cfg->store_url, &s3, errstr, errstr_size);
    if (!w->objstore)
        return -EINVAL;
    struct store_conf sc = {
        .os = w->objstore,
        .cache_dir = cfg->cache_dir,
        .trusted = w->keyring,
        .parallel = cfg->fetch_parallel,
        .deadline_ms = cfg->fetch_deadline_ms,
        .keep_versions = cfg->cache_keep_versions,
    };
    w->store = store_new(&sc, errstr, errstr_size);
    return w->store ? 0 : -EINVAL;
}

/* The model set and the intake, wired: batches run on the intake's callbacks. */
static int open_serving(struct worker *w, char *errstr, size_t errstr_size)
{
    w->models = model_set_new(&w->cfg);
    if (!w->models) {
        kf_errf(errstr, errstr_size, "out of memory");
        return -ENOMEM;
    }
    w->serve = serve_new(&w->cfg, w->backend, w->models, &w->metrics, errstr, errstr_size);
    if (!w->serve)
        return -EINVAL;
    struct batcher_conf bc;
    serve_batching(w->serve, &bc);
    model_set_set_batching(w->models, &bc);
    return 0;
}

static int open_control(struct worker *w, char *errstr, size_t errstr_size)
{
    if (w->cfg.worker_key) {
        int err = crypto_ed25519_load(&w->signer, w->cfg.worker_key, errstr, errstr_size);
        if (!err && !w->signer.has_priv) {
            kf_errf(errstr, errstr_size, "worker.key %s: a public key; want the .key file",
                    w->cfg.worker_key);
            err = -EINVAL;
        }
        if (err)
            return err;
        w->has_signer = true;
    } else {
        KF_LOG_W("worker", "worker.key is not set: this worker's control events go unsigned, "
                           "and a fleet that requires worker signatures ignores them");
    }
    w->control = control_new(&w->cfg, serve_producer(w->serve), w->keyring,
                             w->has_signer ? &w->signer : NULL, errstr, errstr_size);
    if (!w->control)
        return -EINVAL;
    int err = control_start(w->control, errstr, errstr_size);
    return err ? err : control_catch_up(w->control, &stop_requested, errstr, errstr_size);
}

/* Membership for fleet upkeep and hand-off, described by a child process
 * (group_probe.h); without one those checks skip their rounds. */
static void open_probe(struct worker *w)
{
    char errstr[512];
    struct group_probe_opts po = {
        .brokers = w->cfg.brokers,
        .client_id = w->cfg.id,
        .group = w->cfg.group_id,
        .conf = w->cfg.conf,
    };
    w->probe = group_probe_new(&po, errstr, sizeof(errstr));
    if (!w->probe)
        KF_LOG_W("worker", "%s: no group membership checks", errstr);
}

static int open_agent_and_status(struct worker *w, char *errstr, size_t errstr_size)
{
    struct agent_deps ad = {
        .cfg = &w->cfg,
        .backend = w->backend,
        .store = w->store,
        .control = w->control,
        .models = w->models,
        .serve = w->serve,
        .metrics = &w->metrics,
        .probe = w->probe,
    };
    w->agent = agent_new(&ad);
    if (!w->agent) {
        kf_errf(errstr, errstr_size, "out of memory");
        return -ENOMEM;
    }
    struct status_deps sd = {
        .cfg = &w->cfg,
        .backend = w->backend,
        .metrics = &w->metrics,
        .serve = w->serve,
        .control = w->control,
        .models = w->models,
        .agent = w->agent,
        .stop = &stop_requested,
    };
    w->status = status_new(&sd, errstr, errstr_size);
    return w->status ? 0 : -EADDRINUSE;
}

static void announce(struct worker *w, enum ctl_type type, const char *reason)
{
    struct ctl_event ev;
    ctl_event_init(&ev, type);
    snprintf(ev.worker, sizeof(ev.worker), "%s", w->cfg.id);
    if (type == CTL_WORKER_LEFT) {
        snprintf(ev.reason, sizeof(ev.reason), "%s", reason);
    } else {
        snprintf(ev.host, sizeof(ev.host), "%s", w->cfg.host);
        snprintf(ev.backend, sizeof(ev.backend), "%s", kern_backend_name(w->backend));
        snprintf(ev.device, sizeof(ev.device), "%s", kern_backend_device(w->backend));
        size_t free_bytes = 0, total = 0;
        kern_backend_mem_info(w->backend, &free_bytes, &total);
        ev.free_memory = free_bytes;
        size_t n = model_set_count(w->models);
        for (size_t i = 0; i < n && ev.n_models < CTL_MAX_MODELS; i++) {
            struct served_model *sm = model_set_at(w->models, i);
            char active[SCHEMA_NAME_CAP], standby[SCHEMA_NAME_CAP];
            slot_versions(sm->slot, active, standby);
            struct ctl_model_version *mv = &ev.models[ev.n_models++];
            snprintf(mv->model, sizeof(mv->model), "%s", sm->name);
            snprintf(mv->version, sizeof(mv->version), "%s", active);
        }
    }
    control_emit(w->control, &ev);
}

/* The main loop: one turn polls the request consumer (at most 20 ms), lets
 * the agent take its next step on what the control log's thread folded, and
 * refreshes the status. Nothing in a turn waits for a fetch, a load or a rebalance, so the
 * request consumer is polled every ~20 ms throughout (docs/worker.md). */
static bool main_loop(struct worker *w)
{
    int64_t next_status = 0, next_wait_log = 0;
    bool fatal = false;
    while (!atomic_load(&stop_requested) && !fatal) {
        /* Readiness gates membership: the worker takes partitions only when
         * it can serve every model it is configured for, so it never answers
         * `unavailable` for want of weights (docs/reliability.md). */
        if (!serve_stats(w->serve).joined) {
            if (agent_may_join(w->agent)) {
                serve_join(w->serve);
            } else if (kf_clock_mono_us() >= next_wait_log) {
                KF_LOG_I("worker", "not in the request group: a model has no version loaded "
                                   "or a hand-off is under way (waiting)");
                next_wait_log = kf_clock_mono_us() + 10000000;
            }
        }
        serve_poll(w->serve, 20);
        if (control_error(w->control))
            fatal = true;
        agent_step(w->agent);
        int64_t now = kf_clock_mono_us();
        if (now >= next_status) {
            status_refresh(w->status);
            next_status = now + 250000;
        }
        fatal = fatal || serve_stats(w->serve).fatal;
    }
    return fatal;
}

static int run(struct worker *w)
{
    char errstr[1024];
    int err;
    if ((err = open_backend(w, errstr, sizeof(errstr))) ||
        (err = open_store(w, errstr, sizeof(errstr))) ||
        (err = open_serving(w, errstr, sizeof(errstr))) ||
        (err = open_control(w, errstr, sizeof(errstr)))) {
        KF_LOG_E("worker", "%s", errstr);
        return 1;
    }
    open_probe(w);
    if ((err = open_agent_and_status(w, errstr, sizeof(errstr)))) {
        KF_LOG_E("worker", "%s", errstr);
        return 1;
    }
    agent_load_initial(w->agent, &stop_requested);
    announce(w, CTL_WORKER_JOINED, NULL);
    bool fatal = main_loop(w);
    KF_LOG_I("worker", "%s: draining, committing, leaving the group",
             fatal ? "fatal error" : "stopping");
    serve_close(w->serve);
    announce(w, CTL_WORKER_LEFT, fatal ? "fatal error" : "shutdown");
    kio_producer_flush(serve_producer(w->serve), 10000);
    return fatal ? 3 : 0;
}

static void worker_fini(struct worker *w)
{
    status_free(w->status);
    agent_free(w->agent);
    model_set_free(w->models); /* the batchers answer through serve: before it */
    control_free(w->control);
    serve_free(w->serve);
    group_probe_free(w->probe);
    store_free(w->store);
    objstore_free(w->objstore);
    crypto_keyring_free(w->keyring);
    kern_backend_free(w->backend);
    worker_metrics_fini(&w->metrics);
}

int main(int argc, char **argv)
{
    static struct worker w;
    char errstr[512];
    /* The group probe's child: the same binary, talking on its stdin. */
    if (argc > 1 && !strcmp(argv[1], GROUP_PROBE_ARG))
        return group_probe_child_main();
    kf_conf *conf = kf_conf_new(worker_props, worker_props_count, errstr, sizeof(errstr));
    if (!conf) {
        fprintf(stderr, "kfleet-worker: %s\n", errstr);
        return 1;
    }
    int rc = parse_args(conf, argc, argv);
    if (rc >= 0) {
        kf_conf_free(conf);
        return rc;
    }
    worker_config_load(conf, &w.cfg);
    if (worker_metrics_init(&w.metrics)) {
        fprintf(stderr, "kfleet-worker: out of memory\n");
        kf_conf_free(conf);
        return 1;
    }

    struct sigaction sa = {.sa_handler = on_signal};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    rc = run(&w);
    worker_fini(&w);
    kf_conf_free(conf);
    KF_LOG_I("worker", "exit %d", rc);
    return rc;
}
