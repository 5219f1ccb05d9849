/* Errors and their classification, byte buffers, log levels, clocks. */
#include "common/kf_buf.h"
#include "common/kf_clock.h"
#include "common/kf_err.h"
#include "common/kf_log.h"
#include "tests/lib/kf_test.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void test_err(void)
{
    KT_ASSERT_STR_EQ(kf_strerror(0), "success");
    KT_ASSERT_STR_EQ(kf_strerror(-ETIMEDOUT), "timed out");
    KT_ASSERT_STR_EQ(kf_strerror(-EPROTO), "bad wire data");
    KT_ASSERT(strlen(kf_strerror(-ENOENT)) > 0);
    KT_ASSERT(kf_strerror(-123456) != NULL);
    static const int retriable[] = {-EAGAIN,       -ETIMEDOUT,   -ECONNREFUSED, -ECONNRESET,
                                    -EHOSTUNREACH, -ENETUNREACH, -EBUSY,        -EINTR};
    static const int fatal[] = {0,       -EINVAL, -ENOMEM,  -EIO,    -EPROTO,
                                -ENOENT, -EACCES, -EBADMSG, -EEXIST, -ENOTRECOVERABLE};
    for (size_t i = 0; i < sizeof(retriable) / sizeof(retriable[0]); i++)
        KT_ASSERT_MSG(kf_err_is_retriable(retriable[i]), "%d should be retriable", retriable[i]);
    for (size_t i = 0; i < sizeof(fatal) / sizeof(fatal[0]); i++)
        KT_ASSERT_MSG(!kf_err_is_retriable(fatal[i]), "%d should not be retriable", fatal[i]);
    char buf[8];
    kf_errf(buf, sizeof(buf), "%s", "truncated text");
    KT_ASSERT_STR_EQ(buf, "truncat");
    kf_errf(NULL, 10, "x");
    kf_errf(buf, 0, "x");
}

static void test_buf(void)
{
    kf_buf b;
    kf_buf_init(&b);
    KT_ASSERT(b.ptr == NULL && b.len == 0);
    KT_ASSERT(kf_buf_steal(&b, NULL) == NULL);
    KT_ASSERT_INT_EQ(kf_buf_append(&b, "abc", 3), 0);
    KT_ASSERT_INT_EQ(kf_buf_append(&b, NULL, 0), 0);
    KT_ASSERT_INT_EQ(kf_buf_appendf(&b, "-%d-%s", 42, "x"), 0);
    KT_ASSERT_INT_EQ(b.len, 8);
    KT_ASSERT(!memcmp(b.ptr, "abc-42-x", 8));
    KT_ASSERT(b.ptr[b.len] == '\0'); /* appendf leaves a NUL after len */
    kf_bytes v = kf_buf_view(&b);
    KT_ASSERT(v.ptr == b.ptr && v.len == 8);

    /* growth keeps contents */
    for (int i = 0; i < 10000; i++)
        KT_ASSERT_INT_EQ(kf_buf_append(&b, &i, sizeof(i)), 0);
    KT_ASSERT_INT_EQ(b.len, 8 + 10000 * sizeof(int));
    int last;
    memcpy(&last, b.ptr + b.len - sizeof(int), sizeof(int));
    KT_ASSERT_INT_EQ(last, 9999);

    /* size overflow is -ENOMEM, not a wrap */
    KT_ASSERT_INT_EQ(kf_buf_reserve(&b, SIZE_MAX), -ENOMEM);
    KT_ASSERT_INT_EQ(kf_buf_reserve(&b, SIZE_MAX - b.len + 1), -ENOMEM);

    kf_buf_reset(&b);
    KT_ASSERT_INT_EQ(b.len, 0);
    KT_ASSERT(b.cap > 0);
    KT_ASSERT_INT_EQ(kf_buf_append(&b, "z", 1), 0);
    size_t len = 0;
    uint8_t *p = kf_buf_steal(&b, &len);
    KT_ASSERT(p && len == 1 && p[0] == 'z');
    KT_ASSERT(b.ptr == NULL && b.len == 0 && b.cap == 0);
    free(p);
    kf_buf_fini(&b);
    kf_buf_fini(NULL);
}

/* Run @p fn with stderr (fd 2, where kf_log writes) on a temporary file;
 * what it wrote, NUL-terminated (new; free it). */
static char *stderr_of(void (*fn)(void))
{
    char path[] = "/tmp/kt_util_log_XXXXXX";
    int fd = mkstemp(path);
    KT_ASSERT(fd >= 0);
    unlink(path);
    fflush(stderr);
    int saved = dup(2);
    KT_ASSERT(saved >= 0 && dup2(fd, 2) == 2);
    fn();
    fflush(stderr);
    KT_ASSERT(dup2(saved, 2) == 2);
    close(saved);
    off_t n = lseek(fd, 0, SEEK_END);
    KT_ASSERT(n >= 0);
    char *text = calloc((size_t)n + 1, 1);
    KT_ASSERT(text && pread(fd, text, (size_t)n, 0) == n);
    close(fd);
    return text;
}

/* No assertions in here: their message would go to the file. */
static void log_at_err_then_info(void)
{
    kf_log_set_level(KF_LOG_ERR);
    KF_LOG_I("test", "dropped: above the level");
    KF_LOG_W("test", "dropped: a warning is above ERROR too");
    KF_LOG_E("test", "kept: at the level");
    kf_log_set_level(KF_LOG_INFO);
    KF_LOG_D("test", "dropped: debug above INFO");
    KF_LOG_I("test", "a log line with %s", "arguments");
    /* text from outside (a forged event's reason) cannot clear the screen
     * or start a line of its own */
    KF_LOG_I("test", "reason: %s", "x\x1b[2J\nFAKE ERROR line \xc2\x9b é");
}

static void test_log_levels(void)
{
    enum kf_log_level l;
    KT_ASSERT_INT_EQ(kf_log_level_from_str("debug", &l), 0);
    KT_ASSERT_INT_EQ(l, KF_LOG_DEBUG);
    KT_ASSERT_INT_EQ(kf_log_level_from_str("WARN", &l), 0);
    KT_ASSERT_INT_EQ(l, KF_LOG_WARN);
    KT_ASSERT_INT_EQ(kf_log_level_from_str("error", &l), 0);
    KT_ASSERT_INT_EQ(l, KF_LOG_ERR);
    KT_ASSERT_INT_EQ(kf_log_level_from_str("warning", &l), 0);
    KT_ASSERT_INT_EQ(l, KF_LOG_WARN);
    KT_ASSERT_INT_EQ(kf_log_level_from_str("2", &l), 0);
    KT_ASSERT_INT_EQ(l, KF_LOG_INFO);
    KT_ASSERT_INT_EQ(kf_log_level_from_str("loud", &l), -EINVAL);
    KT_ASSERT_INT_EQ(kf_log_level_from_str("4", &l), -EINVAL);
    KT_ASSERT_INT_EQ(kf_log_level_from_str(NULL, &l), -EINVAL);
    enum kf_log_level saved = kf_log_get_level();
    kf_log_set_level(KF_LOG_ERR);
    KT_ASSERT_INT_EQ(kf_log_get_level(), KF_LOG_ERR);
    char *text = stderr_of(log_at_err_then_info);
    kf_log_set_level(saved);
    KT_ASSERT_MSG(!strstr(text, "dropped"), "a line above the level was written:\n%s", text);
    KT_ASSERT_MSG(strstr(text, " ERROR test: kept: at the level\n"),
                  "the ERROR line is missing:\n%s", text);
    KT_ASSERT_MSG(strstr(text, " INFO  test: a log line with arguments\n"),
                  "the INFO line is missing:\n%s", text);
    KT_ASSERT_MSG(strstr(text, " INFO  test: reason: x\\x1b[2J\\x0aFAKE ERROR line \\u009b é\n"),
                  "control characters not escaped:\n%s", text);
    KT_ASSERT_MSG(!strchr(text, 0x1b), "a raw ESC reached the log:\n%s", text);
    KT_ASSERT_MSG(text[4] == '-' && text[10] == 'T' && strstr(text, "Z ERROR"),
                  "not \"<UTC time>Z LEVEL module: message\":\n%s", text);
    free(text);
}

static void test_clock(void)
{
    int64_t a = kf_clock_mono_us();
    kf_sleep_ms(20);
    int64_t b = kf_clock_mono_us();
    KT_ASSERT_MSG(b - a >= 19000, "slept %lld us", (long long)(b - a));
    KT_ASSERT(kf_clock_wall_ms() > 1600000000000LL); /* after 2020 */
    /* Zero and negative return at once (a negative made unsigned would be weeks). */
    a = kf_clock_mono_us();
    kf_sleep_ms(0);
    kf_sleep_ms(-5);
    b = kf_clock_mono_us();
    KT_ASSERT_MSG(b - a < 1000000, "kf_sleep_ms(0) and (-5) took %lld us", (long long)(b - a));
}

int main(void)
{
    KT_RUN(test_err);
    KT_RUN(test_buf);
    KT_RUN(test_log_levels);
    KT_RUN(test_clock);
    return 0;
}
