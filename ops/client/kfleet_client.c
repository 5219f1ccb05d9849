/* kfleet-client: send inference requests to a fleet and collect the answers.
 *
 * Produces --count requests of random inputs (rows × cols f32, seeded), then
 * reads the responses topic until every request id is answered or --timeout
 * passes, and prints a summary: a line of outcomes with latency percentiles,
 * and a line of answers by the version that computed them (the kfleet-version
 * header), which shows a rollout's progress: "answered by v1: N, by v2: M".
 * Exit 0 when every request was answered (any status), 1 when some were not,
 * 2 on misuse. It is the quickstart's client, the serve benchmark's load and
 * a smoke test for a real deployment. */
#include "common/kf_clock.h"
#include "common/kf_conf.h"
#include "common/kf_err.h"
#include "common/kf_log.h"
#include "common/kio_admin.h"
#include "common/kio_consumer.h"
#include "common/kio_producer.h"
#include "ops/client/client_tally.h"
#include "schema/req.h"
#include "schema/resp.h"

#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct opts {
    const char *brokers, *model, *version, *requests, *responses, *id_prefix;
    long count, rows, cols, rate, timeout_s;
    unsigned seed;
    bool dump, quiet;
    kf_conf *kafka; /**< -X and -F: librdkafka properties, as kafka.* entries */
};

struct pending {
    int64_t sent_us;
    int answers;
};

static atomic_bool stop;

static void on_signal(int sig)
{
    (void)sig;
    atomic_store(&stop, true);
}

static void usage(FILE *out)
{
    fprintf(out, "Usage: kfleet-client [options] --model MODEL --cols N\n"
                 "Send inference requests and wait for their responses.\n"
                 "\n"
                 "  -b BROKERS          Kafka bootstrap servers (default $KFLEET_BROKERS or "
                 "127.0.0.1:19092)\n"
                 "  -X KEY=VALUE        librdkafka property for both clients (or\n"
                 "                      kafka.KEY=VALUE, as the other programs spell it)\n"
                 "  -F FILE             kafka.KEY=VALUE lines, '#' comments (a role's config\n"
                 "                      file, docs/security.md)\n"
                 "  -m, --model MODEL   model to ask\n"
                 "      --version V     pin the live version (other: error unknown_version)\n"
                 "  -c, --cols N        input width (the model's input_width)\n"
                 "  -r, --rows N        rows per request (default 1)\n"
                 "  -n, --count N       requests to send (default 100)\n"
                 "      --rate N        requests per second (default: as fast as possible)\n"
                 "      --requests T    requests topic (default kfleet.requests)\n"
                 "      --responses T   responses topic (default kfleet.responses)\n"
                 "      --id-prefix P   request ids are P-0, P-1, ... (default: client-<pid>)\n"
                 "      --seed N        input data seed (default 1)\n"
                 "  -t, --timeout S     give up waiting after S seconds (default 60)\n"
                 "  -d, --dump          print every response as one JSON line on stdout\n"
                 "                      (its \"version\" is the version that answered)\n"
                 "  -q                  only the summary\n"
                 "  -h                  this help\n");
}

static int parse(struct opts *o, int argc, char **argv)
{
    static const struct option longopts[] = {
        {"model", required_argument, NULL, 'm'},
        {"version", required_argument, NULL, 'V'},
        {"cols", required_argument, NULL, 'c'},
        {"rows", required_argument, NULL, 'r'},
        {"count", required_argument, NULL, 'n'},
        {"rate", required_argument, NULL, 'R'},
        {"requests", required_argument, NULL, 'Q'},
        {"responses", required_argument, NULL, 'P'},
        {"id-prefix", required_argument, NULL, 'I'},
        {"seed", required_argument, NULL, 'S'},
        {"timeout", required_argument, NULL, 't'},
        {"dump", no_argument, NULL, 'd'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *env = getenv("KFLEET_BROKERS");
    *o = (struct opts){.brokers = env ? env : "127.0.0.1:19092",
                       .requests = "kfleet.requests",
                       .responses = "kfleet.responses",
                       .count = 100,
                       .rows = 1,
                       .timeout_s = 60,
                       .seed = 1};
    char err[512];
    if (!(o->kafka = kf_conf_new(NULL, 0, err, sizeof(err)))) {
        fprintf(stderr, "kfleet-client: %s\n", err);
        return 1;
    }
    int opt;
    while ((opt = getopt_long(argc, argv, "b:X:F:m:c:r:n:t:dqh", longopts, NULL)) != -1) {
        switch (opt) {
        case 'b': o->brokers = optarg; break;
        case 'X':
            if (kf_conf_set_kafka_kv(o->kafka, optarg, err, sizeof(err))) {
                fprintf(stderr, "kfleet-client: -X wants KEY=VALUE: %s\n", err);
                return 2;
            }
            break;
        case 'F':
            if (kf_conf_load_file(o->kafka, optarg, err, sizeof(err))) {
                fprintf(stderr, "kfleet-client: -F: %s\n", err);
                return 2;
            }
            break;
        case 'm': o->model = optarg; break;
        case 'V': o->version = optarg; break;
        case 'c': o->cols = strtol(optarg, NULL, 10); break;
        case 'r': o->rows = strtol(optarg, NULL, 10); break;
        case 'n': o->count = strtol(optarg, NULL, 10); break;
        case 'R': o->rate = strtol(optarg, NULL, 10); break;
        case 'Q': o->requests = optarg; break;
        case 'P': o->responses = optarg; break;
        case 'I': o->id_prefix = optarg; break;
        case 'S': o->seed = (unsigned)strtoul(optarg, NULL, 10); break;
        case 't': o->timeout_s = strtol(optarg, NULL, 10); break;
        case 'd': o->dump = true; break;
        case 'q': o->quiet = true; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (!o->model || o->cols <= 0 || o->rows <= 0 || o->count <= 0 || o->timeout_s <= 0) {
        fprintf(stderr, "kfleet-client: --model, and positive --cols, --rows, --count, "
                        "--timeout are required; try -h\n");
        return 2;
    }
    return -1;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* Reads the responses topic from its current end on every partition, so only
 * answers to this run are seen. */
static kio_consumer *responses_open(const struct opts *o, const struct kio_opts *ko, char *errstr,
                                    size_t errstr_size)
{
    kio_admin *ka = kio_admin_new(ko, errstr, errstr_size);
    if (!ka)
        return NULL;
    int parts = kio_admin_topic_partitions(ka, o->responses, 10000, errstr, errstr_size);
    kio_consumer *kc = NULL;
    kio_tplist *l = parts > 0 ? kio_tplist_new((size_t)parts) : NULL;
    for (int p = 0; l && p < parts; p++) {
        int64_t low, high;
        if (kio_admin_watermarks(ka, o->responses, p, &low, &high, 10000) ||
            kio_tplist_add(l, o->responses, p, high)) {
            kf_errf(errstr, errstr_size, "%s: cannot read its watermarks", o->responses);
            goto out;
        }
    }
    if (l && (kc = kio_consumer_new(ko, NULL, errstr, errstr_size)) && kio_consumer_assign(kc, l)) {
        kio_consumer_free(kc);
        kc = NULL;
    }
out:
    kio_tplist_free(l);
    kio_admin_free(ka);
    return kc;
}

int main(int argc, char **argv)
{
    struct opts o;
    int rc = parse(&o, argc, argv);
    if (rc >= 0)
        return rc;
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    char prefix[64], errstr[512];
    snprintf(prefix, sizeof(prefix), "%s", o.id_prefix ? o.id_prefix : "");
    if (!prefix[0])
        snprintf(prefix, sizeof(prefix), "client-%d-%" PRId64, (int)getpid(), kf_clock_wall_ms());

    struct kio_opts ko = {.brokers = o.brokers, .client_id = "kfleet-client", .conf = o.kafka};
    kio_consumer *rc_cons = responses_open(&o, &ko, errstr, sizeof(errstr));
    kio_producer *kp = rc_cons ? kio_producer_new(&ko, NULL, errstr, sizeof(errstr)) : NULL;
    struct pending *pend = calloc((size_t)o.count, sizeof(*pend));
    int64_t *lat = calloc((size_t)o.count, sizeof(*lat));
    float *data = malloc((size_t)(o.rows * o.cols) * sizeof(float));
    if (!rc_cons || !kp || !pend || !lat || !data) {
        fprintf(stderr, "kfleet-client: %s\n", errstr[0] ? errstr : "out of memory");
        return 1;
    }

    srand(o.seed);
    int64_t t_start = kf_clock_mono_us();
    long sent = 0, ok = 0, errors = 0, expired = 0, dups = 0, unknown = 0, answered = 0;
    struct client_tally by_version = {0};
    int64_t deadline = 0;
    while (!atomic_load(&stop)) {
        /* Send at --rate (or all at once), reading answers in between. */
        long due = o.count;
        if (o.rate > 0)
            due = (long)((kf_clock_mono_us() - t_start) * o.rate / 1000000) + 1;
        while (sent < o.count && sent < due) {
            for (long k = 0; k < o.rows * o.cols; k++)
                data[k] = (float)rand() / (float)RAND_MAX * 2.0f - 1.0f;
            char id[128];
            snprintf(id, sizeof(id), "%s-%ld", prefix, sent);
            struct req rq = {
                .v = REQ_VERSION,
                .id = {(const uint8_t *)id, strlen(id)},
                .model = {(const uint8_t *)o.model, strlen(o.model)},
                .version = {(const uint8_t *)(o.version ? o.version : ""),
                            o.version ? strlen(o.version) : 0},
                .inputs = {.dtype = SCHEMA_DTYPE_F32,
                           .rows = (uint64_t)o.rows,
                           .cols = (uint64_t)o.cols,
                           .data = {(const uint8_t *)data, (size_t)(o.rows * o.cols) * 4}},
            };
            kf_buf v;
            kf_buf_init(&v);
            if (req_encode(&rq, &v)) {
                fprintf(stderr, "kfleet-client: cannot encode a request\n");
                return 1;
            }
            size_t len;
            uint8_t *bytes = kf_buf_steal(&v, &len);
            struct kio_out_msg m = {.topic = o.requests,
                                    .partition = KIO_PARTITION_ANY,
                                    .key = {(const uint8_t *)id, strlen(id)},
                                    .value = bytes,
                                    .value_len = len};
            pend[sent].sent_us = kf_clock_mono_us();
            int err = kio_producer_send(kp, &m, KIO_SEND_FREE | KIO_SEND_BLOCK);
            if (err) {
                free(bytes);
                fprintf(stderr, "kfleet-client: produce: %s\n", kf_strerror(err));
                return 1;
            }
            sent++;
            if (sent % 1000 == 0)
                kio_producer_poll(kp, 0);
        }
        if (sent == o.count && !deadline) {
            kio_producer_flush(kp, 30000);
            deadline = kf_clock_mono_us() + o.timeout_s * 1000000;
        }
        kio_producer_poll(kp, 0);

        /* Wait for answers until the next request is due: an open-loop
         * sender that does not spin (it shares the host with what it measures). */
        int wait_ms = sent == o.count ? 100 : 0;
        if (o.rate > 0 && sent < o.count) {
            int64_t due_us = t_start + (int64_t)((double)sent * 1e6 / o.rate);
            int64_t left = due_us - kf_clock_mono_us();
            wait_ms = left > 0 ? (int)(left / 1000) : 0;
        }
        kio_msg *msg = NULL;
        kio_consumer_poll(rc_cons, wait_ms, &msg);
        if (msg) {
            struct resp rs;
            long idx = -1;
            if (!resp_decode(msg->value.ptr, msg->value.len, &rs, errstr, sizeof(errstr)) &&
                rs.id.len > strlen(prefix) + 1 && !memcmp(rs.id.ptr, prefix, strlen(prefix))) {
                char tail[32];
                size_t tl = rs.id.len - strlen(prefix) - 1;
                if (tl < sizeof(tail)) {
                    memcpy(tail, rs.id.ptr + strlen(prefix) + 1, tl);
                    tail[tl] = '\0';
                    idx = strtol(tail, NULL, 10);
                }
            }
            if (idx >= 0 && idx < sent) {
                if (pend[idx].answers++) {
                    dups++;
                } else {
                    lat[answered++] = kf_clock_mono_us() - pend[idx].sent_us;
                    ok += rs.status == RESP_OK;
                    errors += rs.status == RESP_ERROR;
                    expired += rs.status == RESP_EXPIRED;
                    kf_bytes h;
                    bool has_h = !kio_msg_header(msg, "kfleet-version", &h);
                    client_tally_add(&by_version,
                                     client_tally_version(has_h ? &h : NULL, rs.version));
                }
                if (o.dump) {
                    kf_buf j;
                    kf_buf_init(&j);
                    if (!resp_to_json(&rs, &j))
                        printf("%.*s\n", (int)j.len, (const char *)j.ptr);
                    kf_buf_fini(&j);
                }
            } else {
                unknown++;
            }
            kio_msg_free(msg);
        }
        if (sent == o.count && (answered == o.count || kf_clock_mono_us() > deadline))
            break;
    }
    double secs = (double)(kf_clock_mono_us() - t_start) / 1e6;
    if (answered)
        qsort(lat, (size_t)answered, sizeof(*lat), cmp_i64);
    double p50 = answered ? (double)lat[answered / 2] / 1e3 : 0;
    double p99 = answered ? (double)lat[(size_t)((double)answered * 0.99)] / 1e3 : 0;
    double p999 = answered ? (double)lat[(size_t)((double)answered * 0.999)] / 1e3 : 0;
    double max = answered ? (double)lat[answered - 1] / 1e3 : 0;
    printf("sent %ld answered %ld ok %ld error %ld expired %ld missing %ld duplicates %ld "
           "in %.2f s: %.0f req/s, p50 %.2f ms, p99 %.2f ms, p99.9 %.2f ms, max %.2f ms\n",
           sent, answered, ok, errors, expired, sent - answered, dups, secs,
           secs > 0 ? (double)answered / secs : 0.0, p50, p99, p999, max);
    client_tally_print(&by_version, stdout);
    (void)unknown;
    kio_consumer_free(rc_cons);
    kio_producer_free(kp);
    free(pend);
    free(lat);
    free(data);
    kf_conf_free(o.kafka);
    return answered == sent ? 0 : 1;
}
