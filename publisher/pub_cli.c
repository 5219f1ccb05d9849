/* publish-model: the command line over the kfpublisher library.
 * kcat habits: -b brokers, -X name=value, -h usage on stdout (exit 0),
 * misuse on stderr with the reason (exit 2), failures exit 1; data on
 * stdout, diagnostics on stderr; signals only set a flag. */
#include "common/kf_text.h"
#include "common/kf_err.h"
#include "common/kf_log.h"
#include "common/kio.h"
#include "publisher/pub.h"
#include "publisher/pub_enroll.h"
#include "publisher/pub_ops.h"
#include "publisher/pub_push.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define EXIT_MISUSE 2
#define MAX_X 128

enum cmd {
    CMD_KEYGEN = 1 << 0,
    CMD_PUSH = 1 << 1,
    CMD_OPS = 1 << 2, /* rollback, promote, pause, resume, abort */
    CMD_LS = 1 << 3,
    CMD_VERIFY = 1 << 4,
    CMD_KEYS = 1 << 5, /* enroll, revoke (pub_enroll.h) */
};
#define CMD_ALL (CMD_KEYGEN | CMD_PUSH | CMD_OPS | CMD_LS | CMD_VERIFY | CMD_KEYS)
#define CMD_KAFKA (CMD_PUSH | CMD_OPS | CMD_LS | CMD_VERIFY | CMD_KEYS)

enum opt {
    OPT_STORE = 256,
    OPT_CONTROL_TOPIC,
    OPT_NO_PROGRESS,
    OPT_PROGRESS,
    OPT_VERSION,
    OPT_CHUNK_SIZE,
    OPT_STRATEGY,
    OPT_MAX_UNAVAILABLE,
    OPT_CANARY_WORKERS,
    OPT_BAKE,
    OPT_HEALTH_WINDOW,
    OPT_STALL_AFTER,
    OPT_AUTO_ROLLBACK,
    OPT_NO_AUTO_ROLLBACK,
    OPT_AUTO_PROMOTE,
    OPT_NO_AUTO_PROMOTE,
    OPT_LEASE,
    OPT_SWAP_MODE,
    OPT_MAX_ERROR_RATE,
    OPT_MAX_P99_RATIO,
    OPT_TO,
    OPT_REASON,
    OPT_FORCE,
    OPT_PUB,
    OPT_WORKER,
    OPT_WORKER_PUB,
    OPT_KEY_ID,
};

/* Which commands take each option (by its getopt value). */
static const struct {
    int opt;
    unsigned cmds;
    const char *name;
} opt_cmds[] = {
    {'b', CMD_KAFKA, "-b"},
    {OPT_STORE, CMD_PUSH | CMD_LS | CMD_VERIFY, "--store"},
    {OPT_CONTROL_TOPIC, CMD_KAFKA, "--control-topic"},
    {'o', CMD_KEYGEN, "-o"},
    {'m', CMD_PUSH | CMD_OPS | CMD_LS | CMD_VERIFY, "--model"},
    {OPT_VERSION, CMD_PUSH | CMD_OPS | CMD_VERIFY, "--version"},
    {'w', CMD_PUSH, "--weights"},
    {'a', CMD_PUSH, "--arch"},
    {'k', CMD_PUSH | CMD_OPS | CMD_LS | CMD_VERIFY | CMD_KEYS, "--key"},
    {'n', CMD_PUSH | CMD_OPS | CMD_KEYS, "--dry-run"},
    {OPT_CHUNK_SIZE, CMD_PUSH, "--chunk-size"},
    {OPT_STRATEGY, CMD_PUSH, "--strategy"},
    {OPT_MAX_UNAVAILABLE, CMD_PUSH, "--max-unavailable"},
    {OPT_CANARY_WORKERS, CMD_PUSH, "--canary-workers"},
    {OPT_BAKE, CMD_PUSH, "--bake"},
    {OPT_HEALTH_WINDOW, CMD_PUSH, "--health-window"},
    {OPT_STALL_AFTER, CMD_PUSH, "--stall-after"},
    {OPT_AUTO_ROLLBACK, CMD_PUSH, "--auto-rollback"},
    {OPT_NO_AUTO_ROLLBACK, CMD_PUSH, "--no-auto-rollback"},
    {OPT_AUTO_PROMOTE, CMD_PUSH, "--auto-promote"},
    {OPT_NO_AUTO_PROMOTE, CMD_PUSH, "--no-auto-promote"},
    {OPT_LEASE, CMD_PUSH, "--lease"},
    {OPT_SWAP_MODE, CMD_PUSH, "--swap-mode"},
    {OPT_MAX_ERROR_RATE, CMD_PUSH, "--max-error-rate"},
    {OPT_MAX_P99_RATIO, CMD_PUSH, "--max-p99-ratio"},
    {OPT_TO, CMD_OPS, "--to"},
    {OPT_REASON, CMD_OPS | CMD_KEYS, "--reason"},
    {OPT_WORKER, CMD_KEYS, "--worker"},
    {OPT_WORKER_PUB, CMD_KEYS, "--worker-pub"},
    {OPT_KEY_ID, CMD_KEYS, "--key-id"},
    {OPT_FORCE, CMD_OPS, "--force"},
    {OPT_PUB, CMD_LS | CMD_VERIFY, "--pub"},
};

static const struct option long_opts[] = {
    {"brokers", required_argument, NULL, 'b'},
    {"config", required_argument, NULL, 'F'},
    {"store", required_argument, NULL, OPT_STORE},
    {"control-topic", required_argument, NULL, OPT_CONTROL_TOPIC},
    {"verbose", no_argument, NULL, 'v'},
    {"quiet", no_argument, NULL, 'q'},
    {"help", no_argument, NULL, 'h'},
    {"progress", no_argument, NULL, OPT_PROGRESS},
    {"no-progress", no_argument, NULL, OPT_NO_PROGRESS},
    {"output", required_argument, NULL, 'o'},
    {"model", required_argument, NULL, 'm'},
    {"version", required_argument, NULL, OPT_VERSION},
    {"weights", required_argument, NULL, 'w'},
    {"arch", required_argument, NULL, 'a'},
    {"key", required_argument, NULL, 'k'},
    {"dry-run", no_argument, NULL, 'n'},
    {"chunk-size", required_argument, NULL, OPT_CHUNK_SIZE},
    {"strategy", required_argument, NULL, OPT_STRATEGY},
    {"max-unavailable", required_argument, NULL, OPT_MAX_UNAVAILABLE},
    {"canary-workers", required_argument, NULL, OPT_CANARY_WORKERS},
    {"bake", required_argument, NULL, OPT_BAKE},
    {"health-window", required_argument, NULL, OPT_HEALTH_WINDOW},
    {"stall-after", required_argument, NULL, OPT_STALL_AFTER},
    {"auto-rollback", optional_argument, NULL, OPT_AUTO_ROLLBACK},
    {"no-auto-rollback", no_argument, NULL, OPT_NO_AUTO_ROLLBACK},
    {"auto-promote", optional_argument, NULL, OPT_AUTO_PROMOTE},
    {"no-auto-promote", no_argument, NULL, OPT_NO_AUTO_PROMOTE},
    {"lease", required_argument, NULL, OPT_LEASE},
    {"swap-mode", required_argument, NULL, OPT_SWAP_MODE},
    {"max-error-rate", required_argument, NULL, OPT_MAX_ERROR_RATE},
    {"max-p99-ratio", required_argument, NULL, OPT_MAX_P99_RATIO},
    {"to", required_argument, NULL, OPT_TO},
    {"reason", required_argument, NULL, OPT_REASON},
    {"force", no_argument, NULL, OPT_FORCE},
    {"pub", required_argument, NULL, OPT_PUB},
    {"worker", required_argument, NULL, OPT_WORKER},
    {"worker-pub", required_argument, NULL, OPT_WORKER_PUB},
    {"key-id", required_argument, NULL, OPT_KEY_ID},
    {NULL, 0, NULL, 0},
};

static void usage(FILE *out)
{
    fputs("Usage: publish-model [OPTIONS] COMMAND [COMMAND OPTIONS]\n"
          "Ship model versions to a kfleet: signed, chunked, deduplicated uploads to the\n"
          "object store and an announcement on the control topic.\n"
          "\n"
          "Commands:\n"
          "  keygen -o NAME          an Ed25519 key pair: NAME.key (private, 0600) and NAME.pub\n"
          "                          (the workers' trusted-keys line, also printed)\n"
          "  push --model M --version V --weights FILE.safetensors [--arch ARCH.json] --key K\n"
          "                          upload and announce a new version (refused if it exists)\n"
          "       [--dry-run] [--chunk-size BYTES] [--strategy rolling|canary|bluegreen|all]\n"
          "       [--max-unavailable N] [--canary-workers N] [--bake SECONDS]\n"
          "       [--auto-rollback[=BOOL] | --no-auto-rollback] [--auto-promote[=BOOL]]\n"
          "       [--lease SECONDS] [--swap-mode auto|inplace|handoff]\n"
          "       [--max-error-rate R] [--max-p99-ratio X] [--health-window SECONDS]\n"
          "       [--stall-after SECONDS]\n"
          "  rollback|promote|pause|resume|abort --model M [--to V] --key K --reason TEXT\n"
          "       [--dry-run] [--force]\n"
          "                          a signed rollout.command (checked against the log first;\n"
          "                          rollback --to V goes back to V, default the previous good)\n"
          "  enroll --worker ID --worker-pub W.pub --key K [--reason TEXT] [--dry-run]\n"
          "                          key.enrolled: W.pub speaks for worker ID from now on\n"
          "  revoke --key-id ID --key K [--reason TEXT] [--dry-run]\n"
          "                          key.revoked: what key ID signs from now on is ignored\n"
          "  ls [--model M]          versions in the store and on the control log, with status\n"
          "  verify --model M [--version V] [--pub TRUSTED.pub | --key K]\n"
          "                          with --version: read the version back and check hash,\n"
          "                          signatures, chunks and golden vectors; without: the\n"
          "                          signature of every published/command event of M\n"
          "\n"
          "Options:\n"
          "  -b BROKERS              Kafka bootstrap servers (property brokers)\n"
          "  -X NAME=VALUE           set a property; kafka.NAME goes to librdkafka untouched\n"
          "  -F FILE                 read NAME=VALUE properties from FILE\n"
          "  --store URL             s3://BUCKET or file:///DIR (property store.url)\n"
          "  --control-topic TOPIC   (property topic.control)\n"
          "  -v                      more diagnostics (repeat for more); -q: errors only\n"
          "  --progress, --no-progress  force the progress bar on or off (default: on a TTY)\n"
          "  -V                      print the version; -h: this help\n"
          "\n"
          "Properties are read, later winning, from defaults, -F files, the environment\n"
          "(KFLEET_NAME: KFLEET_BROKERS, KFLEET_S3_ENDPOINT, KFLEET_S3_ACCESS_KEY, ...) and -X.\n"
          "Exit status: 0 success, 1 failure, 2 usage error.\n"
          "\n"
          "Properties:\n",
          out);
    kf_conf_print_help(pub_props, pub_props_count, out);
}

static volatile sig_atomic_t stop_flag;

static void on_signal(int sig)
{
    (void)sig;
    stop_flag = 1;
}

struct cli {
    unsigned cmd;
    const char *cmd_name;
    enum ctl_action action;
    const char *xs[MAX_X]; /* -X arguments, in order */
    size_t n_x;
    const char *files[16]; /* -F */
    size_t n_files;
    const char *brokers, *store, *topic, *chunk_size;
    const char *output, *model, *version, *weights, *arch, *key, *to, *reason, *pub;
    const char *worker, *worker_pub, *key_id;
    bool dry_run, force, quiet;
    int verbose, progress; /* progress: -1 off, 0 auto, 1 on */
    struct ctl_strategy strategy;
};

static int misuse(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int misuse(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("publish-model: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputs("\nTry 'publish-model -h' for more information.\n", stderr);
    va_end(ap);
    return EXIT_MISUSE;
}

/* An unsigned integer in [min, max]; durations may end in s, m or h. */
static int parse_u32(const char *name, const char *s, uint32_t min, uint32_t max, bool duration,
                     uint32_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    unsigned long long mult = 1;
    if (duration && end != s && *end && !end[1]) {
        mult = *end == 's' ? 1 : *end == 'm' ? 60 : *end == 'h' ? 3600 : 0;
        end += mult != 0;
    }
    if (end == s || *end || errno || *s == '-' || v > max / (mult ? mult : 1) || v * mult < min)
        return misuse("%s '%s': want an integer in %u..%u%s", name, s, min, max,
                      duration ? " (seconds; or with s, m, h)" : "");
    *out = (uint32_t)(v * mult);
    return 0;
}

static int parse_double(const char *name, const char *s, double min, double max, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || *end || errno || !(v >= min && v <= max))
        return misuse("%s '%s': want a number in %g..%g", name, s, min, max);
    *out = v;
    return 0;
}

static int parse_bool(const char *name, const char *s, bool *out)
{
    if (!s || !strcmp(s, "true") || !strcmp(s, "yes") || !strcmp(s, "1") || !strcmp(s, "on")) {
        *out = true;
        return 0;
    }
    if (!strcmp(s, "false") || !strcmp(s, "no") || !strcmp(s, "0") || !strcmp(s, "off")) {
        *out = false;
        return 0;
    }
    return misuse("%s '%s': want true or false", name, s);
}

static int parse_command(struct cli *c, const char *name)
{
    static const struct {
        const char *name;
        unsigned cmd;
        enum ctl_action action;
    } cmds[] = {
        {"keygen", CMD_KEYGEN, 0},
        {"push", CMD_PUSH, 0},
        {"rollback", CMD_OPS, CTL_ACTION_ROLLBACK},
        {"promote", CMD_OPS, CTL_ACTION_PROMOTE},
        {"pause", CMD_OPS, CTL_ACTION_PAUSE},
        {"resume", CMD_OPS, CTL_ACTION_RESUME},
        {"abort", CMD_OPS, CTL_ACTION_ABORT},
        {"ls", CMD_LS, 0},
        {"verify", CMD_VERIFY, 0},
        {"enroll", CMD_KEYS, 0},
        {"revoke", CMD_KEYS, 0},
    };
    for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
        if (!strcmp(name, cmds[i].name)) {
            c->cmd = cmds[i].cmd;
            c->cmd_name = cmds[i].name;
            c->action = cmds[i].action;
            return 0;
        }
    return misuse("unknown command '%s'", name);
}

/* Returns -1 to go on, else the exit status. */
static int parse_args(struct cli *c, int argc, char **argv)
{
    unsigned seen_mask[2] = {0}; /* options seen, as indexes into opt_cmds */
    ctl_strategy_default(&c->strategy);
    int opt, rc;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, ":b:X:F:o:m:w:a:k:nvqhV", long_opts, NULL)) != -1) {
        for (size_t i = 0; i < sizeof(opt_cmds) / sizeof(opt_cmds[0]); i++)
            if (opt_cmds[i].opt == opt)
                seen_mask[i / 32] |= 1u << (i % 32);
        switch (opt) {
        case 'h': usage(stdout); return 0;
        case 'V':
            printf("publish-model %s (librdkafka %s)\n", KFLEET_VERSION, kio_version_str());
            return 0;
        case 'b': c->brokers = optarg; break;
        case 'X':
            if (c->n_x == MAX_X)
                return misuse("too many -X");
            c->xs[c->n_x++] = optarg;
            break;
        case 'F':
            if (c->n_files == sizeof(c->files) / sizeof(c->files[0]))
                return misuse("too many -F");
            c->files[c->n_files++] = optarg;
            break;
        case OPT_STORE: c->store = optarg; break;
        case OPT_CONTROL_TOPIC: c->topic = optarg; break;
        case 'v': c->verbose++; break;
        case 'q': c->quiet = true; break;
        case OPT_PROGRESS: c->progress = 1; break;
        case OPT_NO_PROGRESS: c->progress = -1; break;
        case 'o': c->output = optarg; break;
        case 'm': c->model = optarg; break;
        case OPT_VERSION: c->version = optarg; break;
        case 'w': c->weights = optarg; break;
        case 'a': c->arch = optarg; break;
        case 'k': c->key = optarg; break;
        case 'n': c->dry_run = true; break;
        case OPT_CHUNK_SIZE: c->chunk_size = optarg; break;
        case OPT_STRATEGY:
            if (!strcmp(optarg, "rolling"))
                c->strategy.kind = CTL_STRATEGY_ROLLING;
            else if (!strcmp(optarg, "canary"))
                c->strategy.kind = CTL_STRATEGY_CANARY;
            else if (!strcmp(optarg, "bluegreen"))
                c->strategy.kind = CTL_STRATEGY_BLUEGREEN;
            else if (!strcmp(optarg, "all"))
                c->strategy.kind = CTL_STRATEGY_ALL;
            else
                return misuse("--strategy '%s': want rolling, canary, bluegreen or all", optarg);
            break;
        case OPT_MAX_UNAVAILABLE:
            if ((rc = parse_u32("--max-unavailable", optarg, 1, 100000, false,
                                &c->strategy.max_unavailable)))
                return rc;
            break;
        case OPT_CANARY_WORKERS:
            if ((rc = parse_u32("--canary-workers", optarg, 1, 100000, false,
                                &c->strategy.canary_workers)))
                return rc;
            break;
        case OPT_BAKE:
            if ((rc = parse_u32("--bake", optarg, 0, 7 * 86400, true, &c->strategy.bake_s)))
                return rc;
            break;
        case OPT_HEALTH_WINDOW:
            if ((rc = parse_u32("--health-window", optarg, 0, 86400, true, &c->strategy.health_s)))
                return rc;
            break;
        case OPT_STALL_AFTER:
            if ((rc =
                     parse_u32("--stall-after", optarg, 1, 30 * 86400, true, &c->strategy.stall_s)))
                return rc;
            break;
        case OPT_LEASE:
            if ((rc = parse_u32("--lease", optarg, 1, 7 * 86400, true, &c->strategy.lease_s)))
                return rc;
            break;
        case OPT_AUTO_ROLLBACK:
            if ((rc = parse_bool("--auto-rollback", optarg, &c->strategy.auto_rollback)))
                return rc;
            break;
        case OPT_NO_AUTO_ROLLBACK: c->strategy.auto_rollback = false; break;
        case OPT_AUTO_PROMOTE:
            if ((rc = parse_bool("--auto-promote", optarg, &c->strategy.auto_promote)))
                return rc;
            break;
        case OPT_NO_AUTO_PROMOTE: c->strategy.auto_promote = false; break;
        case OPT_SWAP_MODE:
            if (!strcmp(optarg, "auto"))
                c->strategy.swap_mode = CTL_SWAP_AUTO;
            else if (!strcmp(optarg, "inplace"))
                c->strategy.swap_mode = CTL_SWAP_INPLACE;
            else if (!strcmp(optarg, "handoff"))
                c->strategy.swap_mode = CTL_SWAP_HANDOFF;
            else
                return misuse("--swap-mode '%s': want auto, inplace or handoff", optarg);
            break;
        case OPT_MAX_ERROR_RATE:
            if ((rc = parse_double("--max-error-rate", optarg, 0, 1, &c->strategy.max_error_rate)))
                return rc;
            break;
        case OPT_MAX_P99_RATIO:
            if ((rc = parse_double("--max-p99-ratio", optarg, 1, 1e6, &c->strategy.max_p99_ratio)))
                return rc;
            break;
        case OPT_TO: c->to = optarg; break;
        case OPT_REASON: c->reason = optarg; break;
        case OPT_FORCE: c->force = true; break;
        case OPT_PUB: c->pub = optarg; break;
        case OPT_WORKER: c->worker = optarg; break;
        case OPT_WORKER_PUB: c->worker_pub = optarg; break;
        case OPT_KEY_ID: c->key_id = optarg; break;
        case ':':
            if (optopt)
                return misuse("option -%c needs a value", optopt);
            return misuse("option %s needs a value", argv[optind - 1]);
        default:
            if (optopt)
                return misuse("unknown option -%c", optopt);
            return misuse("unknown option %s", argv[optind - 1]);
        }
    }
    if (optind >= argc)
        return misuse("no command given (keygen, push, rollback, promote, pause, resume, "
                      "abort, enroll, revoke, ls, verify)");
    if ((rc = parse_command(c, argv[optind])))
        return rc;
    if (optind + 1 < argc)
        return misuse("%s: unexpected argument '%s'", c->cmd_name, argv[optind + 1]);
    for (size_t i = 0; i < sizeof(opt_cmds) / sizeof(opt_cmds[0]); i++)
        if ((seen_mask[i / 32] >> (i % 32) & 1) && !(opt_cmds[i].cmds & c->cmd))
            return misuse("%s does not take %s", c->cmd_name, opt_cmds[i].name);
    if (c->to && c->version)
        return misuse("give --to or --version, not both");
    if (c->to)
        c->version = c->to;
    switch (c->cmd) {
    case CMD_KEYGEN:
        if (!c->output)
            return misuse("keygen needs -o NAME");
        break;
    case CMD_PUSH:
        if (!c->model || !c->version || !c->weights)
            return misuse("push needs --model, --version and --weights");
        if (!c->key && !c->dry_run)
            return misuse("push needs --key PRIVATE.key (or --dry-run)");
        break;
    case CMD_OPS:
        if (!c->model || !c->key || !c->reason)
            return misuse("%s needs --model, --key and --reason", c->cmd_name);
        break;
    case CMD_VERIFY:
        if (!c->model)
            return misuse("verify needs --model");
        break;
    case CMD_KEYS:
        if (!strcmp(c->cmd_name, "revoke") ? !c->key || !c->key_id
                                           : !c->key || !c->worker || !c->worker_pub)
            return misuse("%s needs %s and --key", c->cmd_name,
                          strcmp(c->cmd_name, "revoke") ? "--worker, --worker-pub" : "--key-id");
        break;
    default: break;
    }
    return -1;
}

/* Defaults, -F files, the environment, -X, then the dedicated flags. */
static int build_conf(const struct cli *c, kf_conf **out)
{
    char msg[512];
    kf_conf *conf = kf_conf_new(pub_props, pub_props_count, msg, sizeof(msg));
    if (!conf) {
        fprintf(stderr, "publish-model: %s\n", msg);
        return 1;
    }
    *out = conf;
    for (size_t i = 0; i < c->n_files; i++)
        if (kf_conf_load_file(conf, c->files[i], msg, sizeof(msg)))
            return misuse("-F %s", msg);
    if (kf_conf_load_env(conf, "KFLEET_", msg, sizeof(msg)))
        return misuse("%s", msg);
    for (size_t i = 0; i < c->n_x; i++)
        if (kf_conf_set_kv(conf, c->xs[i], msg, sizeof(msg)))
            return misuse("-X %s: %s", c->xs[i], msg);
    const struct {
        const char *prop, *value, *flag;
    } flags[] = {
        {"brokers", c->brokers, "-b"},
        {"store.url", c->store, "--store"},
        {"topic.control", c->topic, "--control-topic"},
        {"chunk.size", c->chunk_size, "--chunk-size"},
        {"trusted_keys", c->pub, "--pub"},
    };
    for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++)
        if (flags[i].value && kf_conf_set(conf, flags[i].prop, flags[i].value, msg, sizeof(msg)))
            return misuse("%s %s: %s", flags[i].flag, flags[i].value, msg);
    return -1;
}

static int fail(const char *errstr, int err)
{
    fprintf(stderr, "publish-model: %s\n", errstr[0] ? errstr : kf_strerror(err));
    return 1;
}

static int run(struct pub_ctx *pc, const struct cli *c)
{
    char errstr[2048] = "";
    int err = 0;
    if (c->cmd == CMD_KEYGEN) {
        if ((err = pub_keygen(c->output, stdout, errstr, sizeof(errstr))))
            return fail(errstr, err);
        fprintf(stderr,
                "publish-model: wrote %s.key (private, mode 0600: keep it with the publisher) "
                "and %s.pub (add its line to the workers' trusted_keys file)\n",
                c->output, c->output);
        return 0;
    }
    if (c->key && (err = pub_ctx_load_key(pc, c->key, errstr, sizeof(errstr))))
        return fail(errstr, err);
    if ((err = pub_ctx_load_trusted(pc, errstr, sizeof(errstr))))
        return fail(errstr, err);
    switch (c->cmd) {
    case CMD_PUSH: {
        struct pub_push_opts o = {
            .model = c->model,
            .version = c->version,
            .weights_path = c->weights,
            .arch_path = c->arch,
            .strategy = c->strategy,
            .dry_run = c->dry_run,
        };
        struct pub_push_result res;
        err = pub_push(pc, &o, &res, errstr, sizeof(errstr));
        if (err)
            return fail(errstr, err);
        if (c->dry_run) {
            char blob[32];
            fprintf(stderr,
                    "publish-model: dry run: %s/%s would be %u chunks (%s), %u golden rows, "
                    "manifest sha256 %s; nothing was uploaded or announced\n",
                    c->model, c->version, res.up.chunks,
                    pub_fmt_bytes(res.blob_bytes, blob, sizeof(blob)), res.golden_rows,
                    res.manifest_sha256);
            return 0;
        }
        pub_push_summary(&res, stdout);
        return 0;
    }
    case CMD_OPS: {
        struct pub_command_opts o = {
            .model = c->model,
            .action = c->action,
            .version = c->version,
            .reason = c->reason,
            .dry_run = c->dry_run,
            .force = c->force,
        };
        struct pub_command_result res;
        err = pub_command(pc, &o, &res, errstr, sizeof(errstr));
        if (err)
            return fail(errstr, err);
        printf("%s %s%s%s: %s%s (%s -> %s); target %s%s\n", c->cmd_name, c->model,
               c->version ? " " : "", c->version ? c->version : "", c->dry_run ? "would be " : "",
               fleet_verdict2str(res.res.verdict), fleet_phase2str(res.res.from),
               fleet_phase2str(res.res.to), res.target[0] ? res.target : "-",
               c->dry_run ? "; nothing sent" : "");
        if (!c->dry_run)
            printf("  event:  rollout.command %s at offset %lld\n", res.event_id,
                   (long long)res.offset);
        char why[4 * sizeof(res.res.reason)];
        if (res.res.reason[0])
            printf("  reason: %s\n", kf_text_clean(res.res.reason, why, sizeof(why)));
        return 0;
    }
    case CMD_KEYS: {
        struct pub_key_opts o = {.worker = c->worker,
                                 .pub_path = c->worker_pub,
                                 .key_id = c->key_id,
                                 .reason = c->reason,
                                 .dry_run = c->dry_run};
        struct pub_key_result res;
        bool revoke = !strcmp(c->cmd_name, "revoke");
        err = (revoke ? pub_key_revoke : pub_key_enroll)(pc, &o, &res, errstr, sizeof(errstr));
        if (err)
            return fail(errstr, err);
        printf("%s key %s%s%s: %s%s\n", c->cmd_name, res.key_id, c->worker ? " for " : "",
               c->worker ? c->worker : "", c->dry_run ? "would be " : "",
               fleet_verdict2str(res.res.verdict));
        if (!c->dry_run)
            printf("  event:  %s %s at offset %lld\n", revoke ? "key.revoked" : "key.enrolled",
                   res.event_id, (long long)res.offset);
        return 0;
    }
    case CMD_LS:
        err = pub_ls(pc, c->model, errstr, sizeof(errstr));
        return err ? fail(errstr, err) : 0;
    case CMD_VERIFY:
        if (c->version)
            err = pub_verify_version(pc, c->model, c->version, errstr, sizeof(errstr));
        else
            err = pub_verify_log(pc, c->model, NULL, errstr, sizeof(errstr));
        return err ? fail(errstr, err) : 0;
    default: return 1;
    }
}

int main(int argc, char **argv)
{
    struct cli c = {0};
    int rc = parse_args(&c, argc, argv);
    if (rc >= 0)
        return rc;
    kf_conf *conf = NULL;
    if ((rc = build_conf(&c, &conf)) >= 0) {
        kf_conf_free(conf);
        return rc;
    }
    struct pub_ctx pc;
    pub_ctx_init(&pc, conf);
    enum kf_log_level lvl = pc.cfg.log_level;
    lvl = c.quiet ? KF_LOG_ERR : lvl + c.verbose > KF_LOG_DEBUG ? KF_LOG_DEBUG : lvl + c.verbose;
    kf_log_set_level(lvl);

    struct sigaction sa = {.sa_handler = on_signal};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    pc.verbose = c.verbose;
    pc.progress = c.progress > 0 || (c.progress == 0 && !c.quiet && isatty(2));
    pc.stop = &stop_flag;
    rc = run(&pc, &c);
    if (stop_flag && rc)
        fprintf(stderr, "publish-model: interrupted\n");
    pub_ctx_fini(&pc);
    kf_conf_free(conf);
    fflush(stdout);
    if (ferror(stdout)) {
        fprintf(stderr, "publish-model: writing to stdout failed\n");
        return 1;
    }
    return rc;
}
