/* One row of the fault table (kt_row.h). */
#include "tests/faults/kt_row.h"

#include "common/kf_clock.h"
#include "tests/faults/kt_report.h"

#include <inttypes.h>
#include <stdarg.h>
#include <time.h>

void kt_row_init(struct kt_row *r, const char *key, const char *fault, struct kt_env *e)
{
    memset(r, 0, sizeof(*r));
    r->key = key;
    r->fault = fault;
    r->e = e;
    r->t0_us = kf_clock_mono_us();
    setvbuf(stdout, NULL, _IOLBF, 0);
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
        snprintf(p99, sizeof(p99), "%s / %s", kt_row_secs(st->p99_s[KT_PHASE_DURING], a, sizeof(a)),
                 kt_row_secs(st->p99_s[KT_PHASE_BEFORE], b, sizeof(b)));
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
    return r->n_failed ? 1 : 0;
}
