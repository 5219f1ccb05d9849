/* One row of the fault table (kt_row.h). */
#include "tests/faults/kt_row.h"

#include "common/kf_clock.h"
#include "tests/faults/kt_probe.h"
#include "tests/faults/kt_report.h"

#include <inttypes.h>
#include <stdarg.h>
#include <time.h>

void kt_row_begin(struct kt_row *r, const char *key, const char *fault, const char *tag,
                  const char *worker_bin, int partitions, const struct kt_env_opts *opts)
{
    memset(r, 0, sizeof(*r));
    setvbuf(stdout, NULL, _IOLBF, 0);
    r->key = key;
    r->fault = fault;
    r->e = &r->env;
    r->t0_us = kf_clock_mono_us();
    kt_env_init_opts(r->e, tag, worker_bin, partitions, opts);
    printf("# row %s, %s: topics *.%s, logs in %s\n", key, fault, r->e->sfx, r->e->dir);
}

void kt_row_fleet(struct kt_row *r, struct kt_version *v1, int from, int to,
                  const char *const *extra)
{
    kt_env_version(r->e, "v1", 1, 0, NULL, v1);
    kt_env_announce(r->e, v1, 1, NULL, &r->e->trusted);
    for (int i = from; i < to; i++)
        kt_env_worker_start(r->e, i, extra);
}

struct kt_load *kt_row_load(struct kt_row *r, const struct kt_load_opts *o,
                            const struct kt_version *v)
{
    struct kt_load *l = kt_load_new(r->e, o);
    if (v)
        kt_load_expect(l, v);
    kt_load_start(l);
    if (!kt_load_warm(l, 0.5, 30))
        printf("the load did not settle under 0.5 s in its first 30 s\n");
    return l;
}

int64_t kt_row_fault_begins(struct kt_row *r, struct kt_load *l, int before_ms)
{
    kt_row_sleep(r, before_ms);
    kt_load_phase(l, KT_PHASE_DURING);
    return kf_clock_mono_us();
}

int64_t kt_row_drain(struct kt_row *r, struct kt_load *l, int after_ms, int timeout_s,
                     struct kt_load_stats *st)
{
    kt_load_phase(l, KT_PHASE_AFTER);
    kt_row_sleep(r, after_ms);
    int64_t missing = kt_load_drain(l, timeout_s);
    kt_load_stats(l, st);
    kt_row_reap(r);
    return missing;
}

void kt_row_send(struct kt_row *r, const char *id, int32_t part, const kf_buf *value)
{
    struct kio_out_msg m = {.topic = r->e->t_req,
                            .partition = part,
                            .key = {(const uint8_t *)id, strlen(id)},
                            .value = value->ptr,
                            .value_len = value->len};
    KT_ASSERT_INT_EQ(kio_producer_send(r->e->prod, &m, KIO_SEND_COPY | KIO_SEND_BLOCK), 0);
    KT_ASSERT_INT_EQ(kio_producer_flush(r->e->prod, 10000), 0);
}

void kt_row_check_settled(struct kt_row *r, int timeout_s)
{
    int64_t left = -1;
    for (int t = 0; t < timeout_s * 5 && left != 0; t++) {
        left = kt_probe_uncommitted(r->e);
        if (left)
            kt_row_sleep(r, 200);
    }
    kt_row_check(r, left == 0, "every record settled and committed (%" PRId64 " left)", left);
}

void kt_row_check_load(struct kt_row *r, struct kt_load *l, int64_t missing,
                       const struct kt_load_stats *st, const char *who)
{
    char codes[200];
    kt_load_codes(l, codes, sizeof(codes));
    kt_row_check(r, missing == 0 && st->lost == 0, "%s: %" PRId64 " of %" PRId64 " lost", who,
                 st->lost, st->sent);
    kt_row_check(r, st->wrong == 0 && st->errors == 0,
                 "%s: every answer ok and right (%" PRId64 " wrong, %" PRId64 " errors%s%s)", who,
                 st->wrong, st->errors, codes[0] ? ": " : "", codes);
}

void kt_row_check(struct kt_row *r, bool ok, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    printf("%s %s\n", ok ? "ok  " : "FAIL", msg);
    fflush(stdout);
    if (ok)
        return;
    size_t used = strlen(r->failed);
    snprintf(r->failed + used, sizeof(r->failed) - used, "%s%s", r->n_failed ? "; " : "", msg);
    r->n_failed++;
}

static void print_tail(const char *log)
{
    char cmd[512];
    snprintf(cmd, sizeof(cmd), "tail -n 15 %s | sed 's/^/    /'", log);
    if (system(cmd))
        fprintf(stderr, "(no log at %s)\n", log);
}

int kt_row_reap(struct kt_row *r)
{
    for (int i = 0; i < KT_MAX_WORKERS; i++) {
        struct kt_worker *w = &r->e->workers[i];
        int status;
        if (w->pid <= 0 || waitpid(w->pid, &status, WNOHANG) != w->pid)
            continue;
        w->pid = 0;
        r->exits++;
        size_t used = strlen(r->exit_notes);
        snprintf(r->exit_notes + used, sizeof(r->exit_notes) - used, "%s%s %s %d", used ? ", " : "",
                 w->id, WIFEXITED(status) ? "exit" : "signal",
                 WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
        printf("worker %s exited on its own (%s %d); its log ends:\n", w->id,
               WIFEXITED(status) ? "exit" : "signal",
               WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
        fflush(stdout);
        print_tail(w->log);
    }
    return r->exits;
}

void kt_row_sleep(struct kt_row *r, int ms)
{
    for (int t = 0; t < ms; t += 100) {
        kf_sleep_ms(ms - t < 100 ? ms - t : 100);
        kt_row_reap(r);
    }
}

void kt_row_stop_workers(struct kt_row *r)
{
    kt_row_reap(r);
    kt_row_check(r, r->exits == 0, "no worker exited on its own (%d%s%s)", r->exits,
                 r->exits ? ": " : "", r->exit_notes);
    for (int i = 0; i < KT_MAX_WORKERS; i++) {
        struct kt_worker *w = &r->e->workers[i];
        if (w->pid <= 0)
            continue;
        int rc = kt_env_worker_stop(r->e, i, SIGTERM);
        kt_row_check(r, rc == 0, "%s stops cleanly on SIGTERM (exit %d)", w->id, rc);
        if (rc)
            print_tail(w->log);
    }
    for (int i = 0; i < KT_MAX_WORKERS; i++) {
        struct kt_worker *w = &r->e->workers[i];
        if (!w->log[0] || access(w->log, R_OK))
            continue;
        char *log = kt_slurp(w->log);
        bool clean = !strstr(log, "ERROR: AddressSanitizer") && !strstr(log, "runtime error:") &&
                     !strstr(log, "ERROR: LeakSanitizer");
        free(log);
        if (!clean)
            kt_row_check(r, false, "%s: sanitizer report in %s", w->id, w->log);
    }
}

/* The env's topics go when the row passes: the backlog alone is 820 MB. */
static void drop_topics(struct kt_env *e)
{
    char err[256];
    struct kio_opts o = {.brokers = e->brokers, .client_id = "kt-row"};
    kio_admin *ka = kio_admin_new(&o, err, sizeof(err));
    const char *topics[] = {e->t_req, e->t_resp, e->t_dlq, e->t_ctl};
    if (!ka || kio_admin_topics_delete(ka, topics, 4, 30000, err, sizeof(err)))
        printf("could not delete the row's topics: %s\n", err);
    kio_admin_free(ka);
}

const char *kt_row_secs(double s, char *buf, size_t size)
{
    if (s < 1)
        snprintf(buf, size, "%.0f ms", s * 1e3);
    else
        snprintf(buf, size, "%.1f s", s);
    return buf;
}

int kt_row_finish(struct kt_row *r, const char *what, const struct kt_load_stats *st,
                  const char *recover)
{
    char lost[64] = "-", dups[32] = "-", p99[64] = "-", exits[300], result[1200], a[32], b[32];
    if (st) {
        snprintf(lost, sizeof(lost), "%" PRId64 " of %" PRId64, st->lost, st->sent);
        snprintf(dups, sizeof(dups), "%" PRId64, st->duplicated);
        snprintf(
            p99, sizeof(p99), "%s / %s",
            st->n[KT_PHASE_DURING] ? kt_row_secs(st->p99_s[KT_PHASE_DURING], a, sizeof(a)) : "-",
            st->n[KT_PHASE_BEFORE] ? kt_row_secs(st->p99_s[KT_PHASE_BEFORE], b, sizeof(b)) : "-");
    }
    snprintf(exits, sizeof(exits), "%d%s%s%s", r->exits, r->exits ? " (" : "", r->exit_notes,
             r->exits ? ")" : "");
    time_t now = time(NULL);
    char day[16];
    strftime(day, sizeof(day), "%Y-%m-%d", gmtime(&now));
    double wall = (double)(kf_clock_mono_us() - r->t0_us) / 1e6;
    if (r->n_failed)
        snprintf(result, sizeof(result), "**fails**: %s (%s, %.0f s)", r->failed, day, wall);
    else
        snprintf(result, sizeof(result), "passes (%s, %.0f s)", day, wall);
    char quiet[96];
    if (!recover) {
        snprintf(quiet, sizeof(quiet), "no interruption (max latency %s)",
                 st ? kt_row_secs(st->max_all_s, a, sizeof(a)) : "-");
        recover = quiet;
    }
    const char *cells[KT_REPORT_CELLS] = {r->fault, what, lost, dups, p99, exits, recover, result};
    kt_report_row(r->key, cells);
    if (r->n_failed) {
        /* The env's directory goes with kt_env_fini: keep the workers' logs. */
        char cmd[600];
        snprintf(cmd, sizeof(cmd), "mkdir -p %s-logs && cp %s/*.log %s-logs/ 2>/dev/null",
                 r->e->dir, r->e->dir, r->e->dir);
        if (!system(cmd))
            printf("workers' logs kept in %s-logs\n", r->e->dir);
    }
    printf("%s: %d check(s) failed, %.1f s\n", r->fault, r->n_failed, wall);
    kt_env_fini(r->e); /* first: its consumers must not outlive their topics */
    if (!r->n_failed)
        drop_topics(r->e); /* a failed row keeps them to look at */
    return r->n_failed ? 1 : 0;
}
