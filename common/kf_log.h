/**
 * @file kf_log.h
 * @brief Line-oriented logging to stderr, safe from any thread.
 *
 * One line per call: "2026-11-22T10:00:00.123Z LEVEL module: message".
 */
#ifndef KF_LOG_H
#define KF_LOG_H

enum kf_log_level {
    KF_LOG_ERR = 0,
    KF_LOG_WARN = 1,
    KF_LOG_INFO = 2,
    KF_LOG_DEBUG = 3,
};

/** @brief Lines above @p level are dropped. Default KF_LOG_INFO, or $KFLEET_LOG_LEVEL. */
void kf_log_set_level(enum kf_log_level level);
enum kf_log_level kf_log_get_level(void);

/** @brief Parse "err|warn|info|debug" (or 0..3); returns -EINVAL on anything else. */
int kf_log_level_from_str(const char *s, enum kf_log_level *out);

void kf_log(enum kf_log_level level, const char *module, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define KF_LOG_E(mod, ...) kf_log(KF_LOG_ERR, mod, __VA_ARGS__)
#define KF_LOG_W(mod, ...) kf_log(KF_LOG_WARN, mod, __VA_ARGS__)
#define KF_LOG_I(mod, ...) kf_log(KF_LOG_INFO, mod, __VA_ARGS__)
#define KF_LOG_D(mod, ...) kf_log(KF_LOG_DEBUG, mod, __VA_ARGS__)

#endif
