/* kfleetctl: the operator's view of a kfleet — fleet status, consumer lag,
 * the audited control log, request tracing — and topic creation.
 * Options follow kcat / publish-model habits: -b brokers, -X key=value for
 * librdkafka, -h; exit 0 success, 1 failure, 2 usage, 3 audit found flagged
 * events (or, without -K and --allow-unverified, signatures it could not check). */
#include "ops/kfleetctl/ctl.h"

#include "common/kf_log.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *out)
{
    fprintf(
        out,
        "Usage: kfleetctl [OPTIONS] COMMAND [COMMAND OPTIONS]\n"
        "\n"
        "Commands:\n"
        "  status [--model M] [--watch] [--json]\n"
        "              the fleet as the control log tells it (per model: phase, target,\n"
        "              previous good version, who holds a rollout slot; per worker: its\n"
        "              versions, backend, device, and whether the request group lists it)\n"
        "  lag [--group G] [--watch] [--json]\n"
        "              per partition of the request topic: committed offset, log-end\n"
        "              offset, lag and owning member (as kafka-consumer-groups --describe)\n"
        "  audit [--from T|OFFSET] [--to T|OFFSET] [--model M] [--json] [--allow-unverified]\n"
        "              the control log as a timeline, every signature verified against -K;\n"
        "              unsigned, unknown-key, badly signed and malformed events are flagged\n"
        "              (exit 3). Without -K no signature can be checked: signed events show\n"
        "              as \"unverified\" and also exit 3, unless --allow-unverified.\n"
        "              Control characters in event text are shown escaped (\\x1b).\n"
        "              T: 2026-11-22T10:00:00Z, or -30m / -2h / -1d from now\n"
        "  trace --partition P --offset O\n"
        "              which worker answered the request at that position of the request\n"
        "              topic, with which version and manifest, and how it came to run it\n"
        "  topics create [--partitions N] [--replication-factor R]\n"
        "              the four topics with their required settings (existing ones are\n"
        "              kept; the control topic's settings are checked)\n"
        "\n"
        "Options:\n"
        "  -b BROKERS              Kafka bootstrap servers ($KFLEET_BROKERS, 127.0.0.1:19092)\n"
        "  -X KEY=VALUE            librdkafka property (security.protocol, sasl.*, ...);\n"
        "                          kafka.KEY=VALUE is the same, as the other programs spell it\n"
        "  -F FILE                 kafka.KEY=VALUE lines, '#' comments (a role's config file,\n"
        "                          docs/security.md)\n"
        "  -K, --trusted-keys FILE public keys (publish-model keygen .pub lines) to verify with;\n"
        "                          without it audit and status say signatures were not checked\n"
        "  --allow-unsigned-workers  fold as workers with require_worker_signatures=false do\n"
        "                          (by default, with -K, unsigned worker events are forgeries)\n"
        "  -G, --group GROUP       the workers' consumer group ($KFLEET_GROUP, kfleet-workers)\n"
        "  --control-topic T       ($KFLEET_TOPIC_CONTROL, kfleet.control)\n"
        "  --requests-topic T      ($KFLEET_TOPIC_REQUESTS, kfleet.requests)\n"
        "  --responses-topic T     ($KFLEET_TOPIC_RESPONSES, kfleet.responses)\n"
        "  --dlq-topic T           ($KFLEET_TOPIC_DLQ, kfleet.requests.dlq)\n"
        "  --interval S            seconds between --watch redraws (2)\n"
        "  --timeout-ms MS         one Kafka round trip (10000)\n"
        "  -v                      librdkafka and kfleet diagnostics on stderr\n"
        "  -V                      version;  -h  this help\n");
}

static const char *env_or(const char *name, const char *dflt)
{
    const char *v = getenv(name);
    return v && v[0] ? v : dflt;
}

enum {
    OPT_CONTROL = 256,
    OPT_REQUESTS,
    OPT_RESPONSES,
    OPT_DLQ,
    OPT_INTERVAL,
    OPT_TIMEOUT,
    OPT_MODEL,
    OPT_JSON,
    OPT_WATCH,
    OPT_FROM,
    OPT_TO,
    OPT_PARTITION,
    OPT_OFFSET,
    OPT_ALLOW_UNVERIFIED,
    OPT_ALLOW_UNSIGNED_WORKERS,
};

static const struct option longopts[] = {
    {"trusted-keys", required_argument, NULL, 'K'},
    {"group", required_argument, NULL, 'G'},
    {"control-topic", required_argument, NULL, OPT_CONTROL},
    {"requests-topic", required_argument, NULL, OPT_REQUESTS},
    {"responses-topic", required_argument, NULL, OPT_RESPONSES},
    {"dlq-topic", required_argument, NULL, OPT_DLQ},
    {"interval", required_argument, NULL, OPT_INTERVAL},
    {"timeout-ms", required_argument, NULL, OPT_TIMEOUT},
    {"model", required_argument, NULL, OPT_MODEL},
    {"json", no_argument, NULL, OPT_JSON},
    {"watch", no_argument, NULL, OPT_WATCH},
    {"from", required_argument, NULL, OPT_FROM},
    {"to", required_argument, NULL, OPT_TO},
    {"partition", required_argument, NULL, OPT_PARTITION},
    {"offset", required_argument, NULL, OPT_OFFSET},
    {"allow-unverified", no_argument, NULL, OPT_ALLOW_UNVERIFIED},
    {"allow-unsigned-workers", no_argument, NULL, OPT_ALLOW_UNSIGNED_WORKERS},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

static bool parse_num(const char *name, const char *s, long long lo, long long hi, long long *out)
{
    char *end;
    long long v = strtoll(s, &end, 10);
    if (end == s || *end || v < lo || v > hi) {
        fprintf(stderr, "kfleetctl: --%s wants a number in %lld..%lld, not '%s'\n", name, lo, hi,
                s);
        return false;
    }
    *out = v;
    return true;
}

/* One option, global or of a command. @returns 0, or the exit status (2, or 0 after -h/-V). */
static int apply(struct ctl_opts *o, int opt, const char *arg)
{
    long long n;
    char err[512];
    switch (opt) {
    case 'b': o->brokers = arg; return 0;
    case 'X':
        if (kf_conf_set_kafka_kv(o->kafka, arg, err, sizeof(err))) {
            fprintf(stderr, "kfleetctl: -X wants KEY=VALUE: %s\n", err);
            return 2;
        }
        return 0;
    case 'F':
        if (kf_conf_load_file(o->kafka, arg, err, sizeof(err))) {
            fprintf(stderr, "kfleetctl: -F: %s\n", err);
            return 2;
        }
        return 0;
    case 'K': o->trusted_keys = arg; return 0;
    case 'G': o->group = arg; return 0;
    case 'v': kf_log_set_level(KF_LOG_DEBUG); return 0;
    case OPT_CONTROL: o->t_control = arg; return 0;
    case OPT_REQUESTS: o->t_requests = arg; return 0;
    case OPT_RESPONSES: o->t_responses = arg; return 0;
    case OPT_DLQ: o->t_dlq = arg; return 0;
    case OPT_MODEL: o->model = arg; return 0;
    case OPT_JSON: o->json = true; return 0;
    case OPT_WATCH: o->watch = true; return 0;
    case OPT_ALLOW_UNVERIFIED: o->allow_unverified = true; return 0;
    case OPT_ALLOW_UNSIGNED_WORKERS: o->allow_unsigned_workers = true; return 0;
    case OPT_INTERVAL:
        if (!parse_num("interval", arg, 1, 3600, &n))
            return 2;
        o->interval_s = (int)n;
        return 0;
    case OPT_TIMEOUT:
        if (!parse_num("timeout-ms", arg, 100, 3600000, &n))
            return 2;
        o->timeout_ms = (int)n;
        return 0;
    case OPT_PARTITION:
        if (!parse_num("partition", arg, 0, INT32_MAX, &n))
            return 2;
        o->partition = (int32_t)n;
        return 0;
    case OPT_OFFSET:
        if (!parse_num("offset", arg, 0, INT64_MAX, &n))
            return 2;
        o->offset = n;
        return 0;
    case OPT_FROM:
    case OPT_TO:
        if (ctl_bound_parse(arg, opt == OPT_FROM ? &o->from : &o->to)) {
            fprintf(stderr,
                    "kfleetctl: --%s wants an offset, a UTC time like 2026-11-22T10:00:00Z, or "
                    "-30m/-2h/-1d, not '%s'\n",
                    opt == OPT_FROM ? "from" : "to", arg);
            return 2;
        }
        return 0;
    case 'h': usage(stdout); return -1;
    case 'V': printf("kfleetctl %s\n", KFLEET_VERSION); return -1;
    default: usage(stderr); return 2;
    }
}

static int run(struct ctl_opts *o, int argc, char **argv)
{
    int opt, rc;
    /* global options, up to the command */
    while ((opt = getopt_long(argc, argv, "+b:X:F:K:G:vVh", longopts, NULL)) != -1)
        if ((rc = apply(o, opt, optarg)))
            return rc < 0 ? 0 : rc;
    if (optind >= argc) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[optind++];
    if (!strcmp(cmd, "topics"))
        return ctl_cmd_topics(o, argc, argv);
    /* the command's options (global ones are accepted here too) */
    while ((opt = getopt_long(argc, argv, "b:X:F:K:G:vVh", longopts, NULL)) != -1)
        if ((rc = apply(o, opt, optarg)))
            return rc < 0 ? 0 : rc;
    if (optind < argc) {
        fprintf(stderr, "kfleetctl: unexpected argument '%s'; try -h\n", argv[optind]);
        return 2;
    }
    if (!strcmp(cmd, "audit"))
        return ctl_cmd_audit(o);
    if (!strcmp(cmd, "status"))
        return ctl_cmd_status(o);
    if (!strcmp(cmd, "lag"))
        return ctl_cmd_lag(o);
    if (!strcmp(cmd, "trace"))
        return ctl_cmd_trace(o);
    fprintf(stderr, "kfleetctl: unknown command '%s'; try -h\n", cmd);
    return 2;
}

int main(int argc, char **argv)
{
    struct ctl_opts o = {
        .brokers = env_or("KFLEET_BROKERS", "127.0.0.1:19092"),
        .t_control = env_or("KFLEET_TOPIC_CONTROL", "kfleet.control"),
        .t_requests = env_or("KFLEET_TOPIC_REQUESTS", "kfleet.requests"),
        .t_responses = env_or("KFLEET_TOPIC_RESPONSES", "kfleet.responses"),
        .t_dlq = env_or("KFLEET_TOPIC_DLQ", "kfleet.requests.dlq"),
        .group = env_or("KFLEET_GROUP", "kfleet-workers"),
        .interval_s = 2,
        .timeout_ms = 10000,
        .partition = -1,
        .offset = -1,
    };
    kf_log_set_level(KF_LOG_ERR);
    char err[256];
    if (!(o.kafka = kf_conf_new(NULL, 0, err, sizeof(err)))) {
        fprintf(stderr, "kfleetctl: %s\n", err);
        return 1;
    }
    int rc = run(&o, argc, argv);
    kf_conf_free(o.kafka);
    return rc;
}
