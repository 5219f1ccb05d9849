#include "common/kf_log.h"

#include "common/kf_text.h"

#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

static atomic_int log_level = -1; /* -1: not yet read from the environment */

static const char *const level_names[] = {"ERROR", "WARN", "INFO", "DEBUG"};

int kf_log_level_from_str(const char *s, enum kf_log_level *out)
{
    static const char *const names[] = {"err", "warn", "info", "debug"};
    if (!s)
        return -EINVAL;
    for (int i = 0; i < 4; i++) {
        if (!strcasecmp(s, names[i]) || (s[0] == '0' + i && !s[1])) {
            *out = (enum kf_log_level)i;
            return 0;
        }
    }
    if (!strcasecmp(s, "error") || !strcasecmp(s, "warning")) {
        *out = s[0] == 'e' || s[0] == 'E' ? KF_LOG_ERR : KF_LOG_WARN;
        return 0;
    }
    return -EINVAL;
}

enum kf_log_level kf_log_get_level(void)
{
    int lvl = atomic_load(&log_level);
    if (lvl < 0) {
        enum kf_log_level parsed = KF_LOG_INFO;
        const char *env = getenv("KFLEET_LOG_LEVEL");
        if (env)
            kf_log_level_from_str(env, &parsed);
        lvl = (int)parsed;
        atomic_store(&log_level, lvl);
    }
    return (enum kf_log_level)lvl;
}

void kf_log_set_level(enum kf_log_level level)
{
    atomic_store(&log_level, (int)level);
}

void kf_log(enum kf_log_level level, const char *module, const char *fmt, ...)
{
    if ((int)level > (int)kf_log_get_level())
        return;

    /* Format the whole line first and write it with one call, so lines from
     * different threads never interleave. */
    char line[2048];
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    int n = snprintf(line, sizeof(line),
                     "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %-5s %s: ", tm.tm_year + 1900,
                     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                     ts.tv_nsec / 1000000, level_names[level], module ? module : "-");
    /* The message may quote text from outside (an event's reason, a host
     * name): its control characters are made visible (kf_text.h). */
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (n >= 0 && (size_t)n < sizeof(line))
        kf_text_clean(msg, line + n, sizeof(line) - (size_t)n);
    size_t len = strnlen(line, sizeof(line) - 2);
    line[len++] = '\n';
    fwrite(line, 1, len, stderr);
}
