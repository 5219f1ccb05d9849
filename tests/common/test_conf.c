/* The property table: defaults, types, ranges, enums, unknown keys, kafka.*
 * passthrough, files (with line numbers in errors), the environment, help. */
#include "common/kf_conf.h"
#include "tests/lib/kf_test.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static const struct kf_prop props[] = {
    {"worker.id", KF_PROP_STR, NULL, 0, 0, NULL, "worker id (unset: hostname)"},
    {"topic.requests", KF_PROP_STR, "kfleet.requests", 0, 0, NULL, "request topic"},
    {"batch.max-rows", KF_PROP_INT, "64", 1, 4096, NULL, "rows per batch"},
    {"cache.bytes", KF_PROP_INT, "1G", 0, 0, NULL, "cache size (unbounded)"},
    {"canary.fraction", KF_PROP_DOUBLE, "0.25", 0.0, 1.0, NULL, "share of canaries"},
    {"metrics.enabled", KF_PROP_BOOL, "true", 0, 0, NULL, "serve /metrics"},
    {"swap.mode", KF_PROP_ENUM, "auto", 0, 0, "auto|inplace|handoff", "swap mode"},
};
#define NPROPS (sizeof(props) / sizeof(props[0]))

static kf_conf *new_conf(void)
{
    char err[256];
    kf_conf *c = kf_conf_new(props, NPROPS, err, sizeof(err));
    KT_ASSERT_MSG(c, "kf_conf_new: %s", err);
    return c;
}

static void test_defaults(void)
{
    kf_conf *c = new_conf();
    KT_ASSERT(kf_conf_str(c, "worker.id") == NULL);
    KT_ASSERT_STR_EQ(kf_conf_str(c, "topic.requests"), "kfleet.requests");
    KT_ASSERT_INT_EQ(kf_conf_int(c, "batch.max-rows"), 64);
    KT_ASSERT_INT_EQ(kf_conf_int(c, "cache.bytes"), 1024LL * 1024 * 1024);
    KT_ASSERT(kf_conf_double(c, "canary.fraction") == 0.25);
    KT_ASSERT(kf_conf_bool(c, "metrics.enabled"));
    KT_ASSERT_STR_EQ(kf_conf_str(c, "swap.mode"), "auto");
    for (size_t i = 0; i < NPROPS; i++)
        KT_ASSERT(!kf_conf_is_set(c, props[i].name));
    KT_ASSERT_INT_EQ(kf_conf_kafka_count(c), 0);
    kf_conf_free(c);
    kf_conf_free(NULL);
}

static void test_bad_default_is_a_table_bug(void)
{
    static const struct kf_prop bad[] = {
        {"x", KF_PROP_INT, "12x", 0, 0, NULL, "broken default"},
    };
    char err[256] = "";
    KT_ASSERT(kf_conf_new(bad, 1, err, sizeof(err)) == NULL);
    KT_ASSERT_MSG(strstr(err, "x"), "error names the property: %s", err);
}

static void test_types_and_ranges(void)
{
    kf_conf *c = new_conf();
    char err[256];
    KT_ASSERT_INT_EQ(kf_conf_set(c, "batch.max-rows", "128", err, sizeof(err)), 0);
    KT_ASSERT_INT_EQ(kf_conf_int(c, "batch.max-rows"), 128);
    KT_ASSERT(kf_conf_is_set(c, "batch.max-rows"));
    KT_ASSERT_INT_EQ(kf_conf_set(c, "batch.max-rows", "4096", err, sizeof(err)), 0); /* inclusive */
    KT_ASSERT_INT_EQ(kf_conf_set(c, "batch.max-rows", "1", err, sizeof(err)), 0);
    KT_ASSERT_INT_EQ(kf_conf_set(c, "batch.max-rows", "0", err, sizeof(err)), -EINVAL);
    KT_ASSERT_MSG(strstr(err, "batch.max-rows") && strstr(err, "range"), "%s", err);
    KT_ASSERT_INT_EQ(kf_conf_set(c, "batch.max-rows", "4097", err, sizeof(err)), -EINVAL);
    KT_ASSERT_INT_EQ(kf_conf_set(c, "batch.max-rows", "12abc", err, sizeof(err)), -EINVAL);
    KT_ASSERT_INT_EQ(kf_conf_set(c, "batch.max-rows", "", err, sizeof(err)), -EINVAL);
    /* a failed set keeps the old value */
    KT_ASSERT_INT_EQ(kf_conf_int(c, "batch.max-rows"), 1);

    KT_ASSERT_INT_EQ(kf_conf_set(c, "cache.bytes", "512M", err, sizeof(err)), 0);
    KT_ASSERT_INT_EQ(kf_conf_int(c, "cache.bytes"), 512LL * 1024 * 1024);
    KT_ASSERT_INT_EQ(kf_conf_set(c, "cache.bytes", "4k", err, sizeof(err)), 0);
    KT_ASSERT_INT_EQ(kf_conf_int(c, "cache.bytes"), 4096);
    KT_ASSERT_INT_EQ(kf_conf_set(c, "cache.bytes", "0x10", err, sizeof(err)), 0);
    KT_ASSERT_INT_EQ(kf_conf_int(c, "cache.bytes"), 16);
    KT_ASSERT_INT_EQ(kf_conf_set(c, "cache.bytes", "9999999999999G", err, sizeof(err)), -EINVAL);

    KT_ASSERT_INT_EQ(kf_conf_set(c, "canary.fraction", "0.5", err, sizeof(err)), 0);
    KT_ASSERT(kf_conf_double(c, "canary.fraction") == 0.5);
    KT_ASSERT_INT_EQ(kf_conf_set(c, "canary.fraction", "1.5", err, sizeof(err)), -EINVAL);
    KT_ASSERT_INT_EQ(kf_conf_set(c, "canary.fraction", "nan", err, sizeof(err)), -EINVAL);
    KT_ASSERT_INT_EQ(kf_conf_set(c, "canary.fraction", "half", err, sizeof(err)), -EINVAL);

    static const char *const yes[] = {"true", "1", "yes", "on", "TRUE", "On"};
    static const char *const no[] = {"false", "0", "no", "off", "False"};
    for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
        KT_ASSERT_INT_EQ(kf_conf_set(c, "metrics.enabled", yes[i], err, sizeof(err)), 0);
        KT_ASSERT(kf_conf_bool(c, "metrics.enabled"));
    }
    for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++) {
        KT_ASSERT_INT_EQ(kf_conf_set(c, "metrics.enabled", no[i], err, sizeof(err)), 0);
        KT_ASSERT(!kf_conf_bool(c, "metrics.enabled"));
    }
    KT_ASSERT_INT_EQ(kf_conf_set(c, "metrics.enabled", "maybe", err, sizeof(err)), -EINVAL);

    KT_ASSERT_INT_EQ(kf_conf_set(c, "swap.mode", "handoff", err, sizeof(err)), 0);
    KT_ASSERT_STR_EQ(kf_conf_str(c, "swap.mode"), "handoff");
    KT_ASSERT_INT_EQ(kf_conf_set(c, "swap.mode", "hand", err, sizeof(err)), -EINVAL); /* prefix */
    KT_ASSERT_INT_EQ(kf_conf_set(c, "swap.mode", "auto|inplace", err, sizeof(err)), -EINVAL);
    KT_ASSERT_MSG(strstr(err, "auto|inplace|handoff"), "error lists the choices: %s", err);

    KT_ASSERT_INT_EQ(kf_conf_set(c, "worker.id", "w-1", err, sizeof(err)), 0);
    KT_ASSERT_STR_EQ(kf_conf_str(c, "worker.id"), "w-1");
    KT_ASSERT_INT_EQ(kf_conf_set(c, "worker.id", NULL, err, sizeof(err)), -EINVAL);
    kf_conf_free(c);
}

static void test_unknown_and_kafka_passthrough(void)
{
    kf_conf *c = new_conf();
    char err[256];
    KT_ASSERT_INT_EQ(kf_conf_set(c, "batch.max_rows", "1", err, sizeof(err)), -ENOENT);
    KT_ASSERT_MSG(strstr(err, "batch.max_rows"), "%s", err);
    KT_ASSERT_INT_EQ(kf_conf_set(c, "kafka", "x", err, sizeof(err)), -ENOENT);
    /* kafka.* is not validated here: librdkafka does that */
    KT_ASSERT_INT_EQ(kf_conf_set(c, "kafka.security.protocol", "SASL_SSL", err, sizeof(err)), 0);
    KT_ASSERT_INT_EQ(kf_conf_set(c, "kafka.no.such.property", "42", err, sizeof(err)), 0);
    KT_ASSERT_INT_EQ(kf_conf_set_kv(c, "kafka.security.protocol=SSL", err, sizeof(err)), 0);
    KT_ASSERT_INT_EQ(kf_conf_set_kv(c, "kafka.sasl.password=a=b", err, sizeof(err)), 0);
    KT_ASSERT_INT_EQ(kf_conf_set(c, "kafka.", "x", err, sizeof(err)), -EINVAL);
    KT_ASSERT_INT_EQ(kf_conf_kafka_count(c), 3);
    const char *k, *v;
    kf_conf_kafka_get(c, 0, &k, &v);
    KT_ASSERT_STR_EQ(k, "security.protocol");
    KT_ASSERT_STR_EQ(v, "SSL"); /* the later value wins, the entry is not duplicated */
    kf_conf_kafka_get(c, 1, &k, &v);
    KT_ASSERT_STR_EQ(k, "no.such.property");
    KT_ASSERT_STR_EQ(v, "42");
    kf_conf_kafka_get(c, 2, &k, &v);
    KT_ASSERT_STR_EQ(k, "sasl.password");
    KT_ASSERT_STR_EQ(v, "a=b"); /* split at the first '=' */

    KT_ASSERT_INT_EQ(kf_conf_set_kv(c, "swap.mode", err, sizeof(err)), -EINVAL);
    KT_ASSERT_INT_EQ(kf_conf_set_kv(c, "=x", err, sizeof(err)), -EINVAL);
    KT_ASSERT_INT_EQ(kf_conf_set_kv(c, "swap.mode=inplace", err, sizeof(err)), 0);
    KT_ASSERT_STR_EQ(kf_conf_str(c, "swap.mode"), "inplace");
    kf_conf_free(c);
}

/* kfleetctl's and kfleet-client's -X: librdkafka's KEY with or without kafka. */
static void test_kafka_kv(void)
{
    char err[256];
    kf_conf *c = kf_conf_new(NULL, 0, err, sizeof(err));
    KT_ASSERT(c);
    KT_ASSERT_INT_EQ(kf_conf_set_kafka_kv(c, "security.protocol=SASL_SSL", err, sizeof(err)), 0);
    KT_ASSERT_INT_EQ(kf_conf_set_kafka_kv(c, "kafka.security.protocol=SSL", err, sizeof(err)), 0);
    KT_ASSERT_INT_EQ(kf_conf_set_kafka_kv(c, "sasl.password=a=b", err, sizeof(err)), 0);
    KT_ASSERT_INT_EQ(kf_conf_set_kafka_kv(c, "acks", err, sizeof(err)), -EINVAL);
    KT_ASSERT_INT_EQ(kf_conf_set_kafka_kv(c, "=x", err, sizeof(err)), -EINVAL);
    KT_ASSERT_INT_EQ(kf_conf_set_kafka_kv(c, "kafka.=x", err, sizeof(err)), -EINVAL);
    KT_ASSERT_INT_EQ(kf_conf_kafka_count(c), 2);
    const char *k, *v;
    kf_conf_kafka_get(c, 0, &k, &v);
    KT_ASSERT_STR_EQ(k, "security.protocol");
    KT_ASSERT_STR_EQ(v, "SSL"); /* one key, either spelling, the later wins */
    kf_conf_kafka_get(c, 1, &k, &v);
    KT_ASSERT_STR_EQ(k, "sasl.password");
    KT_ASSERT_STR_EQ(v, "a=b");
    kf_conf_free(c);
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    KT_ASSERT(f);
    fputs(text, f);
    KT_ASSERT(fclose(f) == 0);
}

static void test_file(void)
{
    char path[256], err[512];
    const char *base = getenv("TMPDIR");
    snprintf(path, sizeof(path), "%s/kfleet-conf-%ld.conf", base && *base ? base : "/tmp",
             (long)getpid());
    write_file(path, "# worker configuration\n"
                     "\n"
                     "  batch.max-rows = 256   # trailing comment\n"
                     "swap.mode=handoff\n"
                     "kafka.linger.ms = 2\n"
                     "topic.requests=   reqs  \n");
    kf_conf *c = new_conf();
    KT_ASSERT_INT_EQ(kf_conf_load_file(c, path, err, sizeof(err)), 0);
    KT_ASSERT_INT_EQ(kf_conf_int(c, "batch.max-rows"), 256);
    KT_ASSERT_STR_EQ(kf_conf_str(c, "swap.mode"), "handoff");
    KT_ASSERT_STR_EQ(kf_conf_str(c, "topic.requests"), "reqs");
    KT_ASSERT_INT_EQ(kf_conf_kafka_count(c), 1);
    const char *k, *v;
    kf_conf_kafka_get(c, 0, &k, &v);
    KT_ASSERT_STR_EQ(k, "linger.ms");
    KT_ASSERT_STR_EQ(v, "2");
    kf_conf_free(c);

    char want[300];
    struct {
        const char *text;
        int line, err;
    } bad[] = {
        {"swap.mode=auto\n# fine\nbatch.max-rows=99999\n", 3, -EINVAL},
        {"\n\nno-equals-sign\n", 3, -EINVAL},
        {"x.unknown=1\n", 1, -ENOENT},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        write_file(path, bad[i].text);
        c = new_conf();
        KT_ASSERT_INT_EQ(kf_conf_load_file(c, path, err, sizeof(err)), bad[i].err);
        snprintf(want, sizeof(want), "%s:%d:", path, bad[i].line);
        KT_ASSERT_MSG(strstr(err, want), "error '%s' lacks '%s'", err, want);
        kf_conf_free(c);
    }
    unlink(path);
    c = new_conf();
    KT_ASSERT_INT_EQ(kf_conf_load_file(c, path, err, sizeof(err)), -ENOENT);
    KT_ASSERT_MSG(strstr(err, path), "%s", err);
    kf_conf_free(c);
}

static void test_env(void)
{
    char err[256];
    setenv("KFTEST_BATCH_MAX_ROWS", "32", 1);
    setenv("KFTEST_SWAP_MODE", "inplace", 1);
    setenv("KFTEST_WORKER_ID", "env-worker", 1);
    kf_conf *c = new_conf();
    KT_ASSERT_INT_EQ(kf_conf_load_env(c, "KFTEST_", err, sizeof(err)), 0);
    KT_ASSERT_INT_EQ(kf_conf_int(c, "batch.max-rows"), 32);
    KT_ASSERT_STR_EQ(kf_conf_str(c, "swap.mode"), "inplace");
    KT_ASSERT_STR_EQ(kf_conf_str(c, "worker.id"), "env-worker");
    KT_ASSERT(!kf_conf_is_set(c, "canary.fraction"));
    /* precedence is call order: a later -X wins over the environment */
    KT_ASSERT_INT_EQ(kf_conf_set_kv(c, "batch.max-rows=8", err, sizeof(err)), 0);
    KT_ASSERT_INT_EQ(kf_conf_int(c, "batch.max-rows"), 8);
    kf_conf_free(c);

    setenv("KFTEST_CANARY_FRACTION", "2", 1);
    c = new_conf();
    KT_ASSERT_INT_EQ(kf_conf_load_env(c, "KFTEST_", err, sizeof(err)), -EINVAL);
    KT_ASSERT_MSG(strstr(err, "KFTEST_CANARY_FRACTION"), "error names the variable: %s", err);
    kf_conf_free(c);
    unsetenv("KFTEST_CANARY_FRACTION");
    unsetenv("KFTEST_BATCH_MAX_ROWS");
    unsetenv("KFTEST_SWAP_MODE");
    unsetenv("KFTEST_WORKER_ID");
}

static void test_help_and_markdown(void)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    KT_ASSERT(f);
    kf_conf_print_help(props, NPROPS, f);
    kf_conf_print_markdown(props, NPROPS, f);
    fclose(f);
    for (size_t i = 0; i < NPROPS; i++)
        KT_ASSERT_MSG(strstr(text, props[i].name), "help lacks %s", props[i].name);
    KT_ASSERT(strstr(text, "auto|inplace|handoff"));
    KT_ASSERT(strstr(text, "| `batch.max-rows` | integer | 64 | 1..4096 |"));
    KT_ASSERT(strstr(text, "kafka.*"));
    free(text);
}

/* Runs @p fn(c) in a child with stderr into a pipe; returns its stderr and
 * asserts that it died of SIGABRT. */
static void expect_abort(kf_conf *c, void (*fn)(kf_conf *), const char *needle)
{
    int fds[2];
    KT_ASSERT(pipe(fds) == 0);
    fflush(NULL);
    pid_t pid = fork();
    KT_ASSERT(pid >= 0);
    if (pid == 0) {
        dup2(fds[1], 2);
        close(fds[0]);
        close(fds[1]);
        fn(c);
        _exit(0); /* reached only when the getter returned */
    }
    close(fds[1]);
    char buf[512];
    size_t n = 0;
    ssize_t r;
    while (n < sizeof(buf) - 1 && (r = read(fds[0], buf + n, sizeof(buf) - 1 - n)) > 0)
        n += (size_t)r;
    buf[n] = '\0';
    close(fds[0]);
    int st = 0;
    KT_ASSERT(waitpid(pid, &st, 0) == pid);
    KT_ASSERT_MSG(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT,
                  "the getter returned or exited (status %#x); stderr: %s", st, buf);
    KT_ASSERT_MSG(strstr(buf, needle), "stderr does not name it (%s): %s", needle, buf);
}

static void get_unknown_int(kf_conf *c)
{
    (void)kf_conf_int(c, "batch.max_rows"); /* the table says batch.max-rows */
}
static void get_unknown_str(kf_conf *c)
{
    (void)kf_conf_str(c, "no.such.property");
}
static void get_unknown_is_set(kf_conf *c)
{
    (void)kf_conf_is_set(c, "no.such.flag");
}
static void get_str_as_int(kf_conf *c)
{
    (void)kf_conf_int(c, "topic.requests");
}
static void get_int_as_bool(kf_conf *c)
{
    (void)kf_conf_bool(c, "batch.max-rows");
}

/* A getter's name comes from our code, not the user: a typo is a bug. It must
 * abort naming the property in every build, never read out of bounds (an
 * assert would be gone under NDEBUG). */
static void test_getter_misuse_aborts(void)
{
    kf_conf *c = new_conf();
    expect_abort(c, get_unknown_int, "\"batch.max_rows\" is not in the table");
    expect_abort(c, get_unknown_str, "\"no.such.property\" is not in the table");
    expect_abort(c, get_unknown_is_set, "\"no.such.flag\" is not in the table");
    expect_abort(c, get_str_as_int, "\"topic.requests\" is read with a getter of another type");
    expect_abort(c, get_int_as_bool, "\"batch.max-rows\" is read with a getter of another type");
    kf_conf_free(c);
}

int main(void)
{
    KT_RUN(test_defaults);
    KT_RUN(test_bad_default_is_a_table_bug);
    KT_RUN(test_types_and_ranges);
    KT_RUN(test_unknown_and_kafka_passthrough);
    KT_RUN(test_kafka_kv);
    KT_RUN(test_file);
    KT_RUN(test_env);
    KT_RUN(test_help_and_markdown);
    KT_RUN(test_getter_misuse_aborts);
    return 0;
}
