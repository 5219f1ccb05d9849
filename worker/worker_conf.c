#include "worker/worker_conf.h"

#include "common/kf_conf.h"
#include "common/objstore.h"

#include <string.h>
#include <stdio.h>
#include <unistd.h>

/* Defaults match ops/devstack, so a worker started on a developer's machine
 * needs no flags at all. */
const struct kf_prop worker_props[] = {
    {"brokers", KF_PROP_STR, "127.0.0.1:19092", 0, 0, NULL, "Kafka bootstrap servers"},
    {"group.id", KF_PROP_STR, "kfleet-workers", 0, 0, NULL,
     "consumer group of the request topic (one per fleet)"},
    {"worker.id", KF_PROP_STR, NULL, 0, 0, NULL,
     "this worker's name in the control log and responses (default: host-pid)"},
    {"topic.requests", KF_PROP_STR, "kfleet.requests", 0, 0, NULL, "requests topic"},
    {"topic.responses", KF_PROP_STR, "kfleet.responses", 0, 0, NULL,
     "default responses topic (a request may name its own reply_to)"},
    {"topic.dlq", KF_PROP_STR, "kfleet.requests.dlq", 0, 0, NULL,
     "dead-letter topic for undecodable or invalid requests"},
    {"topic.control", KF_PROP_STR, "kfleet.control", 0, 0, NULL, "control topic (1 partition)"},
    {"models", KF_PROP_STR, "*", 0, 0, NULL,
     "comma-separated models to serve; * = every model published on the control topic"},
    {"backend", KF_PROP_ENUM, "auto", 0, 0, "auto|ref|cuda",
     "inference backend: cuda when a GPU is present, else the plain-C reference"},
    {"ref.threads", KF_PROP_INT, "0", 0, 256, NULL,
     "threads of the reference backend (0 = one per core)"},
    {"max_batch_rows", KF_PROP_INT, "256", 1, 65536, NULL, "most rows in one batch"},
    {"max_delay_us", KF_PROP_INT, "2000", 0, 1000000, NULL,
     "under load, how long a partial batch may wait to fill (never when idle)"},
    {"queue.max_rows", KF_PROP_INT, "8192", 1, 16777216, NULL,
     "rows taken off Kafka and not yet answered, at most; beyond it the worker takes no "
     "request until there is room (backpressure; docs/worker.md)"},
    {"queue.max_bytes", KF_PROP_INT, "64M", 4096, 17179869184.0, NULL,
     "bytes of requests taken off Kafka and not yet answered, at most (same rule)"},
    {"delivery", KF_PROP_ENUM, "at_least_once", 0, 0, "at_least_once|exactly_once",
     "at_least_once: an answer is produced, then its request's offset committed (a crash may "
     "answer a request twice); exactly_once: answers, DLQ copies and offsets commit together "
     "in Kafka transactions, and read_committed readers see each request answered once "
     "(docs/delivery.md)"},
    {"delivery.commit_interval_ms", KF_PROP_INT, "50", 1, 60000, NULL,
     "exactly_once: how often the open transaction is committed; answers become visible to "
     "read_committed readers then, so this bounds the latency it adds"},
    {"reply_to.prefix", KF_PROP_STR, "kfleet.replies.", 0, 0, NULL,
     "a request's reply_to must be topic.responses or start with this prefix (empty: only "
     "topic.responses); never the requests, DLQ or control topic"},
    {"load.retry_max_ms", KF_PROP_INT, "30000", 100, 3600000, NULL,
     "a version that could not be fetched (object store unreachable) is tried again after "
     "1 s, doubling up to this"},
    {"limits.max_rows", KF_PROP_INT, "4096", 1, 65536, NULL, "most rows in one request"},
    {"limits.max_cols", KF_PROP_INT, "65536", 1, 65536, NULL, "most columns in one request"},
    {"limits.max_bytes", KF_PROP_INT, "64M", 1, 1073741824, NULL,
     "most bytes of tensor data in one request"},
    {"store.url", KF_PROP_STR, "s3://kfleet", 0, 0, NULL,
     "model store: s3://BUCKET (s3io) or file:///DIR (same layout on disk)"},
    OBJSTORE_S3_PROPS,
    {"fetch.parallel", KF_PROP_INT, "4", 1, 64, NULL, "parallel chunk downloads"},
    {"fetch.deadline_ms", KF_PROP_INT, "120000", 1000, 86400000, NULL,
     "give up fetching a version after this long (retries with back-off until then)"},
    {"cache.dir", KF_PROP_STR, "kfleet-cache", 0, 0, NULL,
     "local content-addressed chunk cache (cache.dir/sha256/<hex>)"},
    {"cache.keep_versions", KF_PROP_INT, "3", 1, 100, NULL,
     "versions per model whose chunks the cache keeps (for rollback and restart)"},
    {"trusted_keys", KF_PROP_STR, NULL, 0, 0, NULL,
     "file of trusted Ed25519 public keys (publish-model keygen's .pub lines)"},
    {"worker.key", KF_PROP_STR, NULL, 0, 0, NULL,
     "this worker's Ed25519 private key (publish-model keygen's .key file): it signs every "
     "event the worker appends, so the fleet can tell its events from forgeries once the key is "
     "enrolled (docs/security.md)"},
    {"require_worker_signatures", KF_PROP_BOOL, "true", 0, 0, NULL,
     "ignore worker events not signed by the key enrolled for their worker (docs/security.md); "
     "false only while a fleet moves from unsigned workers to enrolled ones"},
    {"swap_mode", KF_PROP_ENUM, "auto", 0, 0, "auto|inplace|handoff",
     "how to swap: beside the old weights, or leaving the group; auto picks by memory"},
    {"rollout.swap_delay_ms", KF_PROP_INT, "0", 0, 3600000, NULL,
     "wait this long between a granted claim and the swap (drills: lease expiry, kill tests)"},
    {"memory_budget", KF_PROP_INT, "0", 0, 1099511627776.0, NULL,
     "reference backend: bytes of weights that may be resident (0 = unlimited); "
     "lets auto swap mode pick handoff without a GPU"},
    {"http.bind", KF_PROP_STR, "127.0.0.1", 0, 0, NULL, "address of /metrics, /healthz, ..."},
    {"http.port", KF_PROP_INT, "9400", 0, 65535, NULL, "port of the HTTP endpoints (0 = any)"},
    {"log_level", KF_PROP_ENUM, "info", 0, 0, "err|warn|info|debug", "log verbosity"},
};

const size_t worker_props_count = sizeof(worker_props) / sizeof(worker_props[0]);

void worker_config_load(const kf_conf *conf, struct worker_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->conf = conf;
    gethostname(cfg->host, sizeof(cfg->host) - 1);
    const char *id = kf_conf_str(conf, "worker.id");
    if (id)
        snprintf(cfg->id, sizeof(cfg->id), "%s", id);
    else
        snprintf(cfg->id, sizeof(cfg->id), "%.100s-%d", cfg->host, (int)getpid());
    cfg->brokers = kf_conf_str(conf, "brokers");
    cfg->group_id = kf_conf_str(conf, "group.id");
    cfg->topic_requests = kf_conf_str(conf, "topic.requests");
    cfg->topic_responses = kf_conf_str(conf, "topic.responses");
    cfg->topic_dlq = kf_conf_str(conf, "topic.dlq");
    cfg->topic_control = kf_conf_str(conf, "topic.control");
    cfg->models = kf_conf_str(conf, "models");
    cfg->serve_all = !strcmp(cfg->models, "*");
    cfg->backend = kf_conf_str(conf, "backend");
    cfg->ref_threads = (unsigned)kf_conf_int(conf, "ref.threads");
    cfg->max_batch_rows = (uint32_t)kf_conf_int(conf, "max_batch_rows");
    cfg->max_delay_us = kf_conf_int(conf, "max_delay_us");
    cfg->queue_max_rows = kf_conf_int(conf, "queue.max_rows");
    cfg->queue_max_bytes = kf_conf_int(conf, "queue.max_bytes");
    cfg->exactly_once = !strcmp(kf_conf_str(conf, "delivery"), "exactly_once");
    cfg->commit_interval_us = kf_conf_int(conf, "delivery.commit_interval_ms") * 1000;
    cfg->reply_to_prefix = kf_conf_str(conf, "reply_to.prefix");
    cfg->load_retry_max_ms = kf_conf_int(conf, "load.retry_max_ms");
    cfg->limit_rows = (uint64_t)kf_conf_int(conf, "limits.max_rows");
    cfg->limit_cols = (uint64_t)kf_conf_int(conf, "limits.max_cols");
    cfg->limit_bytes = (uint64_t)kf_conf_int(conf, "limits.max_bytes");
    cfg->store_url = kf_conf_str(conf, "store.url");
    cfg->s3_endpoint = kf_conf_str(conf, "s3.endpoint");
    cfg->s3_access_key = kf_conf_str(conf, "s3.access_key");
    cfg->s3_secret_key = kf_conf_str(conf, "s3.secret_key");
    cfg->s3_region = kf_conf_str(conf, "s3.region");
    cfg->s3_https = kf_conf_bool(conf, "s3.https");
    cfg->s3_sigv2 = !strcmp(kf_conf_str(conf, "s3.signature"), "v2");
    cfg->s3_virtual_host = !strcmp(kf_conf_str(conf, "s3.addressing"), "virtual");
    cfg->s3_session_token = kf_conf_str(conf, "s3.session_token");
    cfg->s3_ca_file = kf_conf_str(conf, "s3.ca_file");
    cfg->fetch_parallel = (unsigned)kf_conf_int(conf, "fetch.parallel");
    cfg->fetch_deadline_ms = (int)kf_conf_int(conf, "fetch.deadline_ms");
    cfg->cache_dir = kf_conf_str(conf, "cache.dir");
    cfg->cache_keep_versions = (unsigned)kf_conf_int(conf, "cache.keep_versions");
    cfg->trusted_keys = kf_conf_str(conf, "trusted_keys");
    cfg->worker_key = kf_conf_str(conf, "worker.key");
    cfg->require_worker_signatures = kf_conf_bool(conf, "require_worker_signatures");
    const char *mode = kf_conf_str(conf, "swap_mode");
    cfg->swap_mode_set = kf_conf_is_set(conf, "swap_mode");
    cfg->swap_mode = !strcmp(mode, "inplace")   ? CTL_SWAP_INPLACE
                     : !strcmp(mode, "handoff") ? CTL_SWAP_HANDOFF
                                                : CTL_SWAP_AUTO;
    cfg->swap_delay_ms = kf_conf_int(conf, "rollout.swap_delay_ms");
    cfg->memory_budget = (uint64_t)kf_conf_int(conf, "memory_budget");
    cfg->http_bind = kf_conf_str(conf, "http.bind");
    cfg->http_port = (uint16_t)kf_conf_int(conf, "http.port");
    cfg->log_level = kf_conf_str(conf, "log_level");
}

bool worker_config_wants(const struct worker_config *cfg, const char *model)
{
    if (cfg->serve_all)
        return true;
    size_t n = strlen(model);
    for (const char *p = cfg->models; p && *p;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        if (len == n && !strncmp(p, model, n))
            return true;
        p = comma ? comma + 1 : NULL;
    }
    return false;
}
