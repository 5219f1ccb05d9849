/* The control-log replay and the helpers every kfleetctl command shares. */
#include "ops/kfleetctl/ctl.h"

#include "common/kf_err.h"
#include "common/kf_log.h"
#include "common/kio_consumer.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct kio_opts ctl_kio_opts(const struct ctl_opts *o)
{
    return (struct kio_opts){.brokers = o->brokers, .client_id = "kfleetctl", .conf = o->kafka};
}

crypto_keyring *ctl_keyring(const struct ctl_opts *o)
{
    char err[512];
    crypto_keyring *kr = crypto_keyring_new();
    if (!kr) {
        fprintf(stderr, "kfleetctl: out of memory\n");
        return NULL;
    }
    if (o->trusted_keys && crypto_keyring_load(kr, o->trusted_keys, err, sizeof(err))) {
        fprintf(stderr, "kfleetctl: trusted keys %s: %s\n", o->trusted_keys, err);
        crypto_keyring_free(kr);
        return NULL;
    }
    return kr;
}

fleet_state *ctl_fleet_new(const struct ctl_opts *o, const crypto_keyring *kr)
{
    struct fleet_opts fo;
    fleet_opts_default(&fo);
    fo.require_signatures = true; /* as the workers run it */
    /* With trusted keys the reducer judges every record itself, as the
     * workers do (docs/security.md), and checks every signature so that the
     * audit's verdicts are final; without them nothing can be checked and
     * the legacy verdicts (ctl_replay) stand in. */
    if (o->trusted_keys) {
        fo.root_keys = kr;
        fo.verify_all = true;
        fo.require_worker_signatures = !o->allow_unsigned_workers;
    }
    fleet_state *fs = fleet_state_new(&fo);
    if (!fs)
        fprintf(stderr, "kfleetctl: out of memory\n");
    return fs;
}

/* What an auditor must look at: an undecodable value, or an event that needs a
 * signature (ctl_type_needs_signature) without a valid trusted one. Without
 * trusted keys every key is unknown: a well-formed signature is "unverified"
 * (never shown as fine: anyone can make one), a missing or broken one is
 * flagged as it is. */
static const char *flag_of(const struct ctl_opts *o, const struct ctl_record *r)
{
    if (r->malformed)
        return "MALFORMED";
    if (!ctl_type_needs_signature(r->ev.type) || r->sig == CTL_SIG_OK)
        return "";
    return ctl_sig_label(o, r->sig);
}

const char *ctl_sig_label(const struct ctl_opts *o, enum ctl_sig_verdict sig)
{
    if (sig == CTL_SIG_UNKNOWN_KEY && !o->trusted_keys)
        return "unverified";
    return ctl_sig_verdict2str(sig);
}

int ctl_replay(const struct ctl_opts *o, const crypto_keyring *kr, fleet_state *fs,
               ctl_record_fn *fn, void *opaque)
{
    char err[512] = "";
    struct kio_opts ko = ctl_kio_opts(o);
    kio_consumer *kc = kio_consumer_new(&ko, NULL, err, sizeof(err));
    if (!kc) {
        fprintf(stderr, "kfleetctl: %s\n", err);
        return -EINVAL;
    }
    /* The consumer asks the watermarks itself (that puts the partition's
     * leader in its metadata), then starts at the absolute low watermark,
     * not BEGINNING: librdkafka 2.0.2 resolves a logical offset on a timer
     * that fires 500 ms after an assign made before the leader was known,
     * and an absolute offset with no leader known waits for the 1 s metadata
     * refresh (docs/common.md). */
    int64_t low = 0, high = 0;
    int e = kio_consumer_watermarks(kc, o->t_control, 0, &low, &high, o->timeout_ms);
    if (e) {
        fprintf(stderr, "kfleetctl: control topic %s on %s: %s\n", o->t_control, o->brokers,
                e == -ENOENT ? "no such topic" : kf_strerror(e));
        kio_consumer_free(kc);
        return e;
    }
    kio_tplist *l = kio_tplist_new(1);
    kio_tplist_add(l, o->t_control, 0, low);
    e = kio_consumer_assign(kc, l);
    kio_tplist_free(l);
    /* The end is fixed when the replay starts: events appended meanwhile wait
     * for the next run (or the next --watch round). */
    int64_t pos = low, idle_ms = 0;
    while (!e && pos < high) {
        kio_msg *m = NULL;
        int pe = kio_consumer_poll(kc, 500, &m);
        if (pe || !m) {
            kio_msg_free(m);
            if ((idle_ms += 500) >= o->timeout_ms) {
                fprintf(stderr,
                        "kfleetctl: control topic %s: offset %" PRId64
                        " did not arrive within %d ms\n",
                        o->t_control, pos, o->timeout_ms);
                e = -ETIMEDOUT;
            }
            continue;
        }
        idle_ms = 0;
        pos = m->offset + 1;
        struct ctl_record *r = calloc(1, sizeof(*r));
        if (!r) {
            kio_msg_free(m);
            e = -ENOMEM;
            break;
        }
        r->msg = m;
        r->malformed =
            ctl_event_decode(m->value.ptr, m->value.len, &r->ev, r->why, sizeof(r->why)) != 0;
        kf_bytes h = {0};
        bool has = !kio_msg_header(m, "kfleet-sig", &h);
        r->sig = ctl_sig_verify(has ? h.ptr : NULL, h.len, m->value.ptr, m->value.len, kr, NULL);
        r->flag = flag_of(o, r);
        if (!r->malformed) {
            /* Without trusted keys a signature cannot be checked; taking a
             * well-formed one as good keeps the fold close to the workers'
             * (they refuse unsigned events either way). */
            enum ctl_sig_verdict fed =
                r->sig == CTL_SIG_UNKNOWN_KEY && !o->trusted_keys ? CTL_SIG_OK : r->sig;
            struct fleet_record rec = {
                .ev = &r->ev,
                .offset = m->offset,
                .ts_ms = m->timestamp_ms,
                .sig = fed,
                .value = m->value.ptr,
                .value_len = m->value.len,
                .sig_header = has ? h.ptr : NULL,
                .sig_header_len = has ? h.len : 0,
            };
            fleet_state_feed(fs, &rec, &r->res);
        }
        if (fn && fn(opaque, r, fs))
            pos = high;
        free(r);
        kio_msg_free(m);
    }
    kio_consumer_free(kc);
    return e;
}

/* ------------------------------------------------------------- printing */

void ctl_time_str(int64_t ms, char *out, size_t size)
{
    time_t s = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&s, &tm);
    size_t n = strftime(out, size, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + n, size - n, ".%03dZ", (int)(ms % 1000));
}

int ctl_bound_parse(const char *s, struct ctl_bound *out)
{
    *out = (struct ctl_bound){.set = true};
    char *end;
    if (s[0] == '-') { /* -10m: relative to now */
        long long n = strtoll(s + 1, &end, 10);
        int64_t unit = *end == 's'   ? 1
                       : *end == 'm' ? 60
                       : *end == 'h' ? 3600
                       : *end == 'd' ? 86400
                                     : 0;
        if (end == s + 1 || !unit || end[1] || n < 0)
            return -EINVAL;
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        out->value = (int64_t)ts.tv_sec * 1000 - (int64_t)n * unit * 1000;
        return 0;
    }
    if (!strchr(s, '-')) { /* a plain number: an offset */
        long long n = strtoll(s, &end, 10);
        if (end == s || *end || n < 0)
            return -EINVAL;
        out->is_offset = true;
        out->value = n;
        return 0;
    }
    struct tm tm = {0};
    const char *rest = strptime(s, "%Y-%m-%dT%H:%M", &tm);
    if (!rest)
        rest = strptime(s, "%Y-%m-%d", &tm);
    if (!rest)
        return -EINVAL;
    if (*rest == ':') {
        rest = strptime(rest, ":%S", &tm);
        if (!rest)
            return -EINVAL;
    }
    if (*rest == 'Z')
        rest++;
    if (*rest)
        return -EINVAL;
    out->value = (int64_t)timegm(&tm) * 1000;
    return 0;
}

bool ctl_bound_within(const struct ctl_opts *o, int64_t offset, int64_t ts_ms)
{
    const struct ctl_bound *f = &o->from, *t = &o->to;
    if (f->set && (f->is_offset ? offset < f->value : ts_ms < f->value))
        return false;
    if (t->set && (t->is_offset ? offset > t->value : ts_ms > t->value))
        return false;
    return true;
}

static volatile sig_atomic_t stop_watch;

static void on_stop(int sig)
{
    (void)sig;
    stop_watch = 1;
}

static void watch_clear(void)
{
    if (isatty(STDOUT_FILENO))
        fputs("\033[H\033[2J", stdout);
    else
        fputs("\n", stdout);
}

int ctl_watch(const struct ctl_opts *o, int (*once)(const struct ctl_opts *o, void *arg), void *arg)
{
    if (!o->watch)
        return once(o, arg);
    struct sigaction sa = {.sa_handler = on_stop};
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    int rc = 0;
    while (!stop_watch) {
        watch_clear();
        rc = once(o, arg);
        fflush(stdout);
        for (int i = 0; i < o->interval_s * 10 && !stop_watch; i++)
            nanosleep(&(struct timespec){0, 100 * 1000 * 1000}, NULL);
    }
    return rc;
}
