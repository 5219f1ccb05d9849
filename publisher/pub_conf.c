/* publish-model's property table and the invocation context. */
#include "publisher/pub.h"

#include "common/kf_err.h"
#include "common/kf_log.h"
#include "common/objstore.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Names and defaults follow the worker's (worker/worker_conf.c) so one
 * properties file or one devstack environment serves both. */
const struct kf_prop pub_props[] = {
    {"brokers", KF_PROP_STR, "127.0.0.1:19092", 0, 0, NULL, "Kafka bootstrap servers (-b)"},
    {"topic.control", KF_PROP_STR, "kfleet.control", 0, 0, NULL,
     "control topic, 1 partition (--control-topic)"},
    {"control.timeout_ms", KF_PROP_INT, "30000", 100, 3600000, NULL,
     "how long reading the control log or a delivery report may take"},
    {"store.url", KF_PROP_STR, NULL, 0, 0, NULL,
     "model store: s3://BUCKET or file:///DIR (--store; default s3://<s3.bucket>)"},
    {"s3.bucket", KF_PROP_STR, "kfleet", 0, 0, NULL, "bucket when store.url is not given"},
    OBJSTORE_S3_PROPS,
    {"s3.timeout_ms", KF_PROP_INT, "30000", 100, 3600000, NULL,
     "deadline of one S3 call (HEAD, the manifest, the signature), retries included"},
    {"chunk.size", KF_PROP_INT, "64M", 1024, 4294967296.0, NULL,
     "bytes per chunk of the weights blob (--chunk-size)"},
    {"upload.parallel", KF_PROP_INT, "8", 1, 64, NULL, "chunk PUTs (and HEADs) in flight"},
    {"upload.deadline_ms", KF_PROP_INT, "1800000", 1000, 86400000, NULL,
     "deadline for all chunk uploads together; each PUT retries with back-off until then"},
    {"chunk.check", KF_PROP_ENUM, "etag", 0, 0, "etag|read",
     "how push proves a chunk already in the store holds its bytes before skipping it: etag "
     "(the store's MD5 ETag, a read-back where there is none or it differs) or read (read "
     "back and SHA-256 every such chunk)"},
    {"hash.threads", KF_PROP_INT, "0", 0, 64, NULL, "chunk hashing threads (0 = one per core)"},
    {"golden.rows", KF_PROP_INT, "8", 1, 1024, NULL, "golden vectors: input rows"},
    {"golden.seed", KF_PROP_INT, "1801675108", 0, 0, NULL,
     "golden vectors: seed of the random inputs in [-1, 1)"},
    {"golden.atol", KF_PROP_DOUBLE, "0", 0, 1e6, NULL,
     "golden tolerance |got - want| <= atol + rtol*|want| (0 and 0: by dtype)"},
    {"golden.rtol", KF_PROP_DOUBLE, "0", 0, 1e6, NULL, "see golden.atol"},
    {"trusted_keys", KF_PROP_STR, NULL, 0, 0, NULL,
     "the workers' trusted public keys: push refuses a key not in it; ls and verify "
     "check signatures against it"},
    {"log_level", KF_PROP_ENUM, "warn", 0, 0, "err|warn|info|debug",
     "diagnostics on stderr (-v raises it)"},
};

const size_t pub_props_count = sizeof(pub_props) / sizeof(pub_props[0]);

static char *dup_or_null(const char *s)
{
    if (!s)
        return NULL;
    char *d = strdup(s);
    if (!d)
        abort(); /* bookkeeping-sized */
    return d;
}

/* The only place that reads the table by name. kf_conf aborts on a name that
 * is not in pub_props (test_pub_unit parses the defaults, so a typo here fails
 * the unit suite), and has already range-checked each value, so the casts
 * below cannot truncate. */
void pub_config_parse(struct pub_config *cfg, const kf_conf *conf)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->brokers = dup_or_null(kf_conf_str(conf, "brokers"));
    cfg->topic_control = dup_or_null(kf_conf_str(conf, "topic.control"));
    cfg->control_timeout_ms = (int)kf_conf_int(conf, "control.timeout_ms");
    const char *url = kf_conf_str(conf, "store.url");
    cfg->store_url = url && *url ? dup_or_null(url) : NULL;
    cfg->s3_bucket = dup_or_null(kf_conf_str(conf, "s3.bucket"));
    cfg->s3_endpoint = dup_or_null(kf_conf_str(conf, "s3.endpoint"));
    cfg->s3_access_key = dup_or_null(kf_conf_str(conf, "s3.access_key"));
    cfg->s3_secret_key = dup_or_null(kf_conf_str(conf, "s3.secret_key"));
    cfg->s3_https = kf_conf_bool(conf, "s3.https");
    cfg->s3_region = dup_or_null(kf_conf_str(conf, "s3.region"));
    cfg->s3_sigv2 = !strcmp(kf_conf_str(conf, "s3.signature"), "v2");
    cfg->s3_virtual_host = !strcmp(kf_conf_str(conf, "s3.addressing"), "virtual");
    cfg->s3_session_token = dup_or_null(kf_conf_str(conf, "s3.session_token"));
    cfg->s3_ca_file = dup_or_null(kf_conf_str(conf, "s3.ca_file"));
    cfg->s3_timeout_ms = (int)kf_conf_int(conf, "s3.timeout_ms");
    cfg->chunk_size = (uint64_t)kf_conf_int(conf, "chunk.size");
    cfg->upload_parallel = (unsigned)kf_conf_int(conf, "upload.parallel");
    cfg->upload_deadline_ms = (int)kf_conf_int(conf, "upload.deadline_ms");
    cfg->chunk_check_read = !strcmp(kf_conf_str(conf, "chunk.check"), "read");
    cfg->hash_threads = (unsigned)kf_conf_int(conf, "hash.threads");
    cfg->golden_rows = (uint32_t)kf_conf_int(conf, "golden.rows");
    cfg->golden_seed = (uint64_t)kf_conf_int(conf, "golden.seed");
    cfg->golden_atol = kf_conf_double(conf, "golden.atol");
    cfg->golden_rtol = kf_conf_double(conf, "golden.rtol");
    const char *tk = kf_conf_str(conf, "trusted_keys");
    cfg->trusted_keys = tk && *tk ? dup_or_null(tk) : NULL;
    cfg->log_level = KF_LOG_WARN;
    kf_log_level_from_str(kf_conf_str(conf, "log_level"), &cfg->log_level);
}

void pub_config_fini(struct pub_config *cfg)
{
    char *strs[] = {cfg->brokers,      cfg->topic_control,    cfg->store_url,     cfg->s3_bucket,
                    cfg->s3_endpoint,  cfg->s3_access_key,    cfg->s3_secret_key, cfg->s3_region,
                    cfg->trusted_keys, cfg->s3_session_token, cfg->s3_ca_file};
    for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++)
        free(strs[i]);
    memset(cfg, 0, sizeof(*cfg));
}

void pub_ctx_init(struct pub_ctx *pc, kf_conf *conf)
{
    memset(pc, 0, sizeof(*pc));
    pc->conf = conf;
    pub_config_parse(&pc->cfg, conf);
    pc->out = stdout;
}

void pub_ctx_conf_changed(struct pub_ctx *pc)
{
    pub_config_fini(&pc->cfg);
    pub_config_parse(&pc->cfg, pc->conf);
}

void pub_ctx_fini(struct pub_ctx *pc)
{
    objstore_free(pc->os);
    crypto_keyring_free(pc->trusted);
    crypto_keyring_free(pc->own);
    /* The private key leaves this process only through signatures. */
    volatile uint8_t *p = (volatile uint8_t *)&pc->key;
    for (size_t i = 0; i < sizeof(pc->key); i++)
        p[i] = 0;
    pc->os = NULL;
    pc->trusted = NULL;
    pc->own = NULL;
    pc->have_key = false;
    pub_config_fini(&pc->cfg);
}

int pub_ctx_load_key(struct pub_ctx *pc, const char *path, char *errstr, size_t errstr_size)
{
    struct crypto_ed25519_key key;
    int err = crypto_ed25519_load(&key, path, errstr, errstr_size);
    if (err)
        return err;
    if (!key.has_priv) {
        kf_errf(errstr, errstr_size,
                "%s is a public key (key %s); signing needs the private key file "
                "(NAME.key from publish-model keygen)",
                path, key.key_id);
        return -ENOKEY;
    }
    pc->key = key;
    pc->have_key = true;
    return 0;
}

int pub_ctx_load_trusted(struct pub_ctx *pc, char *errstr, size_t errstr_size)
{
    const char *path = pc->cfg.trusted_keys;
    if (!path || pc->trusted)
        return 0;
    crypto_keyring *kr = crypto_keyring_new();
    if (!kr)
        return -ENOMEM;
    char msg[512];
    int err = crypto_keyring_load(kr, path, msg, sizeof(msg));
    if (err) {
        kf_errf(errstr, errstr_size, "trusted_keys %s: %s", path, msg);
        crypto_keyring_free(kr);
        return err;
    }
    pc->trusted = kr;
    return 0;
}

const crypto_keyring *pub_ctx_keyring(struct pub_ctx *pc, char *errstr, size_t errstr_size)
{
    if (pc->trusted)
        return pc->trusted;
    if (!pc->have_key) {
        kf_errf(errstr, errstr_size,
                "no key to check signatures with: give -X trusted_keys=FILE (or --key)");
        return NULL;
    }
    if (!pc->own) {
        pc->own = crypto_keyring_new();
        if (!pc->own || crypto_keyring_add(pc->own, &pc->key)) {
            crypto_keyring_free(pc->own);
            pc->own = NULL;
            kf_errf(errstr, errstr_size, "out of memory");
        }
    }
    return pc->own;
}

const char *pub_store_url(const struct pub_ctx *pc)
{
    static __thread char url[96];
    if (pc->cfg.store_url)
        return pc->cfg.store_url;
    snprintf(url, sizeof(url), "s3://%s", pc->cfg.s3_bucket);
    return url;
}

int pub_store(struct pub_ctx *pc, char *errstr, size_t errstr_size)
{
    if (pc->os)
        return 0;
    const struct pub_config *c = &pc->cfg;
    struct objstore_s3_opts s3 = {
        .endpoint = c->s3_endpoint,
        .access_key = c->s3_access_key,
        .secret_key = c->s3_secret_key,
        .region = c->s3_region,
        .session_token = c->s3_session_token,
        .ca_file = c->s3_ca_file,
        .https = c->s3_https,
        .signature_v2 = c->s3_sigv2,
        .virtual_host = c->s3_virtual_host,
        .timeout_ms = c->s3_timeout_ms,
        .max_parallel = (int)c->upload_parallel,
    };
    pc->os = objstore_new(pub_store_url(pc), &s3, errstr, errstr_size);
    return pc->os ? 0 : -EINVAL;
}

static void kafka_error(void *opaque, int err, bool fatal, const char *reason)
{
    struct pub_ctx *pc = opaque;
    snprintf(pc->kafka_err, sizeof(pc->kafka_err), "%s", reason);
    kf_log(fatal ? KF_LOG_ERR : KF_LOG_INFO, "kafka", "%s (%s)", reason, kf_strerror(err));
}

struct kio_opts pub_kio_opts(struct pub_ctx *pc, const char *const *props, const char **buf,
                             size_t buf_len)
{
    size_t n = 0;
    /* librdkafka logs a failed connect at ERR; the command says what failed. */
    if (!pc->verbose && buf_len >= 3) {
        buf[n++] = "log_level";
        buf[n++] = "2";
    }
    for (size_t i = 0; props && props[i] && props[i + 1] && n + 3 <= buf_len; i += 2) {
        buf[n++] = props[i];
        buf[n++] = props[i + 1];
    }
    if (buf_len)
        buf[n] = NULL;
    pc->kafka_err[0] = '\0';
    return (struct kio_opts){
        .brokers = pc->cfg.brokers,
        .client_id = "publish-model",
        .props = buf_len ? buf : NULL,
        .conf = pc->conf,
        .error_cb = kafka_error,
        .opaque = pc,
    };
}

const char *pub_kafka_detail(const struct pub_ctx *pc, char *buf, size_t size)
{
    if (pc->kafka_err[0])
        snprintf(buf, size, " (%s)", pc->kafka_err);
    else if (size)
        buf[0] = '\0';
    return buf;
}

bool pub_stopped(const struct pub_ctx *pc)
{
    return pc->stop && *pc->stop;
}

const char *pub_fmt_bytes(uint64_t bytes, char *buf, size_t size)
{
    static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    double v = (double)bytes;
    int u = 0;
    while (v >= 1024 && u < 4) {
        v /= 1024;
        u++;
    }
    if (u == 0)
        snprintf(buf, size, "%llu B", (unsigned long long)bytes);
    else
        snprintf(buf, size, "%.1f %s", v, units[u]);
    return buf;
}
