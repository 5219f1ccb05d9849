/* Building a librdkafka configuration from kio_opts, and the callbacks every
 * kio handle installs: log lines go to kf_log, errors to the caller's error
 * callback (or the log), statistics JSON to the caller's stats callback. */
#include "common/kf_conf.h"
#include "common/kf_err.h"
#include "common/kf_log.h"
#include "common/kio_impl.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define MOD "kio"

void kio_common_init(struct kio_common *common, const struct kio_opts *opts)
{
    common->rk = NULL;
    common->error_cb = opts->error_cb;
    common->stats_cb = opts->stats_cb;
    common->opaque = opts->opaque;
}

void kio_report_error(struct kio_common *common, int err, bool fatal, const char *reason)
{
    if (common->error_cb) {
        common->error_cb(common->opaque, err, fatal, reason);
        return;
    }
    kf_log(fatal ? KF_LOG_ERR : KF_LOG_WARN, MOD, "%s%s: %s (%s)",
           common->rk ? rd_kafka_name(common->rk) : "kafka", fatal ? " FATAL" : "", reason,
           kf_strerror(err));
}

/* librdkafka logs from its own threads; kf_log is thread-safe. Syslog levels:
 * 0-3 error, 4 warning, 5-6 notice/info, 7 debug. */
/* "Group \"g\" changed join state wait-join -> steady (state up)": whether
 * the member is now anywhere but steady. The line's shape is the same from
 * librdkafka 1.x through 2.x; another shape leaves the flag as it was. */
static void note_join_state(struct kio_common *common, const char *buf)
{
    const char *to = strstr(buf, " -> ");
    if (!to)
        return;
    to += 4;
    bool steady = !strncmp(to, "steady", 6) && (to[6] == ' ' || to[6] == '\0');
    atomic_store(&common->group_unsettled, !steady);
}

static void log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    struct kio_common *common = rk ? rd_kafka_opaque(rk) : NULL;
    if (common && !strcmp(fac, "CGRPJOINSTATE"))
        note_join_state(common, buf);
    enum kf_log_level lvl = level <= 3   ? KF_LOG_ERR
                            : level == 4 ? KF_LOG_WARN
                            : level <= 6 ? KF_LOG_INFO
                                         : KF_LOG_DEBUG;
    kf_log(lvl, "rdkafka", "%s [%s] %s", rk ? rd_kafka_name(rk) : "-", fac, buf);
}

static void error_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
    struct kio_common *common = opaque;
    if (err == RD_KAFKA_RESP_ERR__FATAL) {
        /* The generic _FATAL hides the real cause; ask for it. */
        char why[512];
        rd_kafka_resp_err_t orig = rd_kafka_fatal_error(rk, why, sizeof(why));
        char text[768];
        snprintf(text, sizeof(text), "%s: %s", rd_kafka_err2name(orig), why);
        kio_report_error(common, -ENOTRECOVERABLE, true, text);
        return;
    }
    kio_report_error(common, kio_err_from_rd((rd_kafka_resp_err_t)err), false, reason);
}

static int stats_cb(rd_kafka_t *rk, char *json, size_t json_len, void *opaque)
{
    struct kio_common *common = opaque;
    (void)rk;
    if (common->stats_cb)
        common->stats_cb(common->opaque, json, json_len);
    return 0; /* librdkafka frees json */
}

static int set1(rd_kafka_conf_t *conf, const char *key, const char *value, const char *origin,
                char *errstr, size_t errstr_size)
{
    char why[512];
    if (rd_kafka_conf_set(conf, key, value, why, sizeof(why)) != RD_KAFKA_CONF_OK) {
        kf_errf(errstr, errstr_size, "%s: %s=%s: %s", origin, key, value, why);
        return -EINVAL;
    }
    return 0;
}

static int set_pairs(rd_kafka_conf_t *conf, const char *const *kv, const char *origin, char *errstr,
                     size_t errstr_size)
{
    for (size_t i = 0; kv && kv[i]; i += 2) {
        if (!kv[i + 1]) {
            kf_errf(errstr, errstr_size, "%s: property '%s' has no value", origin, kv[i]);
            return -EINVAL;
        }
        int err = set1(conf, kv[i], kv[i + 1], origin, errstr, errstr_size);
        if (err)
            return err;
    }
    return 0;
}

/* Defaults of every client, before the role's (which may override them).
 * Debian's librdkafka 2.0.2 leaves Nagle's algorithm on (the default changed
 * to off only in 2.10, librdkafka #4986): a small request or answer can wait for the previous
 * segment's ACK, tens of ms on an otherwise idle connection. */
static const char *const common_defaults[] = {
    "socket.nagle.disable",
    "true",
    NULL,
};

rd_kafka_conf_t *kio_conf_build(const struct kio_opts *opts, struct kio_common *common,
                                const char *const *role_props, char *errstr, size_t errstr_size)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    if (!conf) {
        kf_errf(errstr, errstr_size, "out of memory");
        return NULL;
    }
    if (set_pairs(conf, common_defaults, "kio default", errstr, errstr_size) ||
        set_pairs(conf, role_props, "kio default", errstr, errstr_size))
        goto fail;
    if (opts->brokers &&
        set1(conf, "bootstrap.servers", opts->brokers, "brokers", errstr, errstr_size))
        goto fail;
    if (set1(conf, "client.id", opts->client_id ? opts->client_id : "kfleet", "client_id", errstr,
             errstr_size))
        goto fail;
    if (opts->stats_cb) {
        char ms[32];
        snprintf(ms, sizeof(ms), "%d",
                 opts->stats_interval_ms > 0 ? opts->stats_interval_ms : 5000);
        if (set1(conf, "statistics.interval.ms", ms, "stats_interval_ms", errstr, errstr_size))
            goto fail;
        rd_kafka_conf_set_stats_cb(conf, stats_cb);
    }
    if (set_pairs(conf, opts->props, "props", errstr, errstr_size))
        goto fail;
    if (opts->conf) {
        /* kafka.* passes through untouched: librdkafka validates it. */
        size_t n = kf_conf_kafka_count(opts->conf);
        for (size_t i = 0; i < n; i++) {
            const char *key, *value;
            kf_conf_kafka_get(opts->conf, i, &key, &value);
            if (set1(conf, key, value, "kafka.*", errstr, errstr_size))
                goto fail;
        }
    }
    rd_kafka_conf_set_log_cb(conf, log_cb);
    rd_kafka_conf_set_error_cb(conf, error_cb);
    rd_kafka_conf_set_opaque(conf, common);
    return conf;
fail:
    rd_kafka_conf_destroy(conf);
    return NULL;
}
