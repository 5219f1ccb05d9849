/* kfleetctl: the fleet as the control log tells it.
 *
 *   kfleetctl [-b BROKERS] [-X k=v] [--control-topic T] [--trusted-keys FILE] audit [--model M]
 * [--json] kfleetctl ... status [--model M]
 *
 * audit replays the control topic from the start into a timeline: who
 * published what, which workers claimed, swapped, failed, what was rolled
 * back and why, and every phase change the reducer made. Each event's
 * signature is checked against the trusted keys; unsigned, unknown-key,
 * badly signed and malformed events are flagged. --json prints one JSON
 * object per line. status prints the reducer's state (the same fold). */
#include "common/crypto.h"
#include "common/kf_err.h"
#include "common/kf_log.h"
#include "common/kio_admin.h"
#include "common/kio_consumer.h"
#include "schema/ctl_sig.h"
#include "schema/fleet.h"

#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct ctl_opts {
    const char *brokers, *topic, *keys, *model;
    bool json;
    const char *props[64];
    size_t n_props;
};

static void usage(FILE *out)
{
    fprintf(out,
            "Usage: kfleetctl [options] audit [--model M] [--json]\n"
            "       kfleetctl [options] status [--model M]\n"
            "  -b BROKERS            Kafka bootstrap servers ($KFLEET_BROKERS, 127.0.0.1:19092)\n"
            "  -X KEY=VALUE          librdkafka property\n"
            "  --control-topic T     the control topic (kfleet.control)\n"
            "  --trusted-keys FILE   public keys to verify signatures with\n"
            "  -h                    this help\n");
}

static void ts_str(int64_t ms, char *out, size_t size)
{
    time_t s = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&s, &tm);
    size_t n = strftime(out, size, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + n, size - n, ".%03dZ", (int)(ms % 1000));
}

static void describe(const struct ctl_event *ev, char *out, size_t size)
{
    switch (ev->type) {
    case CTL_MODEL_PUBLISHED:
        snprintf(out, size, "%s %s published (seq %" PRIu64 ", %s, max_unavailable %u)", ev->model,
                 ev->version, ev->seq, ctl_strategy_kind2str(ev->strategy.kind),
                 ev->strategy.max_unavailable);
        break;
    case CTL_ROLLOUT_COMMAND:
        snprintf(out, size, "operator: %s %s%s%s (%s)", ctl_action2str(ev->action), ev->model,
                 ev->version[0] ? " to " : "", ev->version, ev->reason);
        break;
    case CTL_WORKER_JOINED:
        snprintf(out, size, "%s joined (%s on %s, %s)", ev->worker, ev->backend, ev->device,
                 ev->host);
        break;
    case CTL_WORKER_LEFT: snprintf(out, size, "%s left (%s)", ev->worker, ev->reason); break;
    case CTL_ROLLOUT_CLAIM:
        snprintf(out, size, "%s claims a slot for %s %s", ev->worker, ev->model, ev->version);
        break;
    case CTL_ROLLOUT_STAGED:
        snprintf(out, size, "%s staged %s %s", ev->worker, ev->model, ev->version);
        break;
    case CTL_ROLLOUT_CUTOVER: snprintf(out, size, "cutover: %s %s", ev->model, ev->version); break;
    case CTL_ROLLOUT_DONE:
        snprintf(out, size,
                 "%s runs %s %s (%s: fetch %.1f ms, load %.1f ms, flip %.3f ms, unowned %.1f ms)",
                 ev->worker, ev->model, ev->version, ctl_mode2str(ev->mode),
                 ev->timings.fetch_us / 1e3, ev->timings.load_us / 1e3, ev->timings.flip_us / 1e3,
                 ev->timings.unowned_us / 1e3);
        break;
    case CTL_ROLLOUT_FAILED:
        snprintf(out, size, "%s FAILED %s %s at %s: %s", ev->worker, ev->model, ev->version,
                 ctl_stage2str(ev->stage), ev->reason);
        break;
    case CTL_ROLLOUT_HEALTHY:
        snprintf(out, size, "%s: %s %s healthy (%" PRIu64 " requests, p99 %" PRIu64 " us)",
                 ev->worker, ev->model, ev->version, ev->metrics.requests, ev->metrics.p99_us);
        break;
    case CTL_ROLLOUT_EXPIRE:
        snprintf(out, size, "claim %s of %s expired (%s)", ev->claim_id, ev->worker, ev->reason);
        break;
    default: snprintf(out, size, "%s", ctl_type2str(ev->type));
    }
}

static void json_str(const char *s, size_t len)
{
    putchar('"');
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\')
            printf("\\%c", c);
        else if (c < 0x20 || c > 0x7e)
            printf("\\u%04x", c);
        else
            putchar(c);
    }
    putchar('"');
}

static int run(const struct ctl_opts *o, bool audit)
{
    char err[512];
    crypto_keyring *kr = crypto_keyring_new();
    if (o->keys && crypto_keyring_load(kr, o->keys, err, sizeof(err))) {
        fprintf(stderr, "kfleetctl: %s\n", err);
        return 1;
    }
    struct kio_opts ko = {
        .brokers = o->brokers, .client_id = "kfleetctl", .props = o->n_props ? o->props : NULL};
    kio_admin *ka = kio_admin_new(&ko, err, sizeof(err));
    int64_t low = 0, high = 0;
    int e = ka ? kio_admin_watermarks(ka, o->topic, 0, &low, &high, 10000) : -EINVAL;
    kio_admin_free(ka);
    if (e) {
        fprintf(stderr, "kfleetctl: control topic %s on %s: %s\n", o->topic, o->brokers,
                ka ? kf_strerror(e) : err);
        return 1;
    }
    struct fleet_opts fo;
    fleet_opts_default(&fo);
    fo.require_signatures = o->keys != NULL;
    fleet_state *fs = fleet_state_new(&fo);
    kf_log_set_level(KF_LOG_ERR); /* the reducer's own lines; the timeline says it all */
    kio_consumer *kc = kio_consumer_new(&ko, NULL, err, sizeof(err));
    kio_tplist *l = kio_tplist_new(1);
    kio_tplist_add(l, o->topic, 0, KIO_OFFSET_BEGINNING);
    kio_consumer_assign(kc, l);
    kio_tplist_free(l);
    int64_t pos = low;
    int flagged = 0;
    while (pos < high) {
        kio_msg *m = NULL;
        if (kio_consumer_poll(kc, 1000, &m) || !m)
            continue;
        pos = m->offset + 1;
        struct ctl_event ev;
        char why[512], ts[40], text[1024];
        ts_str(m->timestamp_ms, ts, sizeof(ts));
        int derr = ctl_event_decode(m->value.ptr, m->value.len, &ev, why, sizeof(why));
        kf_bytes h = {0};
        bool has = !kio_msg_header(m, "kfleet-sig", &h);
        enum ctl_sig_verdict sv =
            ctl_sig_verify(has ? h.ptr : NULL, h.len, m->value.ptr, m->value.len, kr, NULL);
        bool needs = !derr && ctl_type_needs_signature(ev.type);
        const char *flag = derr                          ? "MALFORMED"
                           : (needs && sv != CTL_SIG_OK) ? ctl_sig_verdict2str(sv)
                                                         : "";
        struct fleet_result res = {0};
        if (!derr) {
            struct fleet_record rec = {&ev, m->offset, m->timestamp_ms, sv};
            fleet_state_feed(fs, &rec, &res);
        }
        bool mine = !o->model || (!derr && !strcmp(ev.model, o->model)) || (!derr && !ev.model[0]);
        if (audit && mine) {
            flagged += flag[0] != 0;
            if (derr)
                snprintf(text, sizeof(text), "undecodable event: %s", why);
            else
                describe(&ev, text, sizeof(text));
            if (o->json) {
                printf("{\"offset\":%" PRId64 ",\"time\":\"%s\",\"type\":", m->offset, ts);
                json_str(derr ? "malformed" : ctl_type2str(ev.type),
                         strlen(derr ? "malformed" : ctl_type2str(ev.type)));
                printf(",\"signature\":\"%s\",\"flag\":\"%s\",\"text\":", ctl_sig_verdict2str(sv),
                       flag);
                json_str(text, strlen(text));
                if (!derr && res.from != res.to)
                    printf(",\"phase\":\"%s\"", fleet_phase2str(res.to));
                if (!derr && res.verdict != FLEET_APPLIED) {
                    printf(",\"ignored\":");
                    json_str(res.reason, strlen(res.reason));
                }
                printf("}\n");
            } else {
                printf("%s  #%-5" PRId64 " %-16s %s%s%s%s\n", ts, m->offset,
                       derr ? "?" : ctl_type2str(ev.type), text, flag[0] ? "  [" : "", flag,
                       flag[0] ? "]" : "");
                if (!derr && res.from != res.to)
                    printf("%28s phase %s -> %s\n", "", fleet_phase2str(res.from),
                           fleet_phase2str(res.to));
                else if (!derr && res.verdict != FLEET_APPLIED)
                    printf("%28s ignored: %s\n", "", res.reason);
            }
        }
        kio_msg_free(m);
    }
    kio_consumer_free(kc);
    if (audit && !o->json)
        printf("%" PRId64 " events, %d flagged\n", high - low, flagged);
    if (!audit) {
        kf_buf d;
        kf_buf_init(&d);
        fleet_state_dump(fs, &d);
        printf("%.*s\n", (int)d.len, (const char *)d.ptr);
        kf_buf_fini(&d);
    }
    fleet_state_free(fs);
    crypto_keyring_free(kr);
    return 0;
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"control-topic", required_argument, NULL, 'T'},
        {"trusted-keys", required_argument, NULL, 'K'},
        {"model", required_argument, NULL, 'm'},
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *env = getenv("KFLEET_BROKERS");
    struct ctl_opts o = {.brokers = env ? env : "127.0.0.1:19092", .topic = "kfleet.control"};
    if (getenv("KFLEET_TOPIC_CONTROL"))
        o.topic = getenv("KFLEET_TOPIC_CONTROL");
    int opt;
    while ((opt = getopt_long(argc, argv, "+b:X:h", longopts, NULL)) != -1) {
        switch (opt) {
        case 'b': o.brokers = optarg; break;
        case 'X': {
            char *eq = strchr(optarg, '=');
            if (!eq || o.n_props + 3 > 64) {
                fprintf(stderr, "kfleetctl: -X wants KEY=VALUE\n");
                return 2;
            }
            *eq = '\0';
            o.props[o.n_props++] = optarg;
            o.props[o.n_props++] = eq + 1;
            break;
        }
        case 'T': o.topic = optarg; break;
        case 'K': o.keys = optarg; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind >= argc) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[optind++];
    while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (opt) {
        case 'm': o.model = optarg; break;
        case 'j': o.json = true; break;
        case 'T': o.topic = optarg; break;
        case 'K': o.keys = optarg; break;
        default: usage(stderr); return 2;
        }
    }
    if (!strcmp(cmd, "audit"))
        return run(&o, true);
    if (!strcmp(cmd, "status"))
        return run(&o, false);
    fprintf(stderr, "kfleetctl: unknown command '%s'; try -h\n", cmd);
    return 2;
}
