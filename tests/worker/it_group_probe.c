/* The group probe (worker/group_probe.h) against the devstack's broker: it
 * describes a group with one member; a child killed with SIGKILL, or one
 * that stops answering, is reaped and replaced and the next question is
 * answered; a child whose worker dies (SIGKILL) exits by itself; a
 * configuration librdkafka refuses is answered, not restarted forever; no
 * call waits on the child.
 *
 *   it_group_probe [KFLEET_ADMIN_PROBE]
 *
 * The respawn tests run the probe program given (kfleet-admin-probe, what
 * kfleet-worker runs from its directory); the others run this binary as its
 * own probe child (with GROUP_PROBE_ARG it becomes one), as kfleet-worker
 * does where kfleet-admin-probe is missing. */
#include "common/kf_clock.h"
#include "tests/common/kio_test_util.h"
#include "tests/lib/kf_test.h"
#include "worker/group_probe.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *brokers;
static const char *probe_program; /* NULL: this binary */
static kio_consumer *member;      /* polled while we wait, as a worker would */
static int64_t slowest_call_us;

/* One probe call, timed: none may wait on the child. */
#define TIMED(call)                                                      \
    ({                                                                   \
        int64_t t0_ = kf_clock_mono_us();                                \
        int r_ = (call);                                                 \
        int64_t dt_ = kf_clock_mono_us() - t0_;                          \
        slowest_call_us = dt_ > slowest_call_us ? dt_ : slowest_call_us; \
        r_;                                                              \
    })

static void serve_member(void)
{
    if (!member)
        return;
    kio_msg *msg = NULL;
    kio_consumer_poll(member, 0, &msg);
    kio_msg_free(msg);
}

/* Ask and wait (polling, as the worker's main loop does) for an answer.
 * With @p until_ok, answers that carry the child's error (a broker that
 * another test restarts, a group still settling) are asked again until one
 * succeeds. @returns the last answer's result, the group in *out when 0. */
static int describe_until(group_probe *gp, int timeout_s, bool until_ok,
                          struct group_probe_group **out)
{
    int64_t until = kf_clock_mono_us() + (int64_t)timeout_s * 1000000;
    int err = -EAGAIN;
    *out = NULL;
    while (kf_clock_mono_us() < until) {
        TIMED(group_probe_request(gp));
        err = TIMED(group_probe_poll(gp, out));
        if (err == 0 || (!until_ok && err != -EAGAIN && err != -ECONNRESET))
            return err;
        serve_member();
        kf_sleep_ms(10);
    }
    return err;
}

static int describe(group_probe *gp, int timeout_s, struct group_probe_group **out)
{
    return describe_until(gp, timeout_s, true, out);
}

/* A process that is gone, or a zombie nobody reaped yet (a container's
 * init may not reap adopted children). */
static bool process_gone(pid_t pid)
{
    char path[64], stat[256] = "";
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return true;
    size_t n = fread(stat, 1, sizeof(stat) - 1, f);
    fclose(f);
    stat[n] = '\0';
    const char *paren = strrchr(stat, ')');
    return paren && paren[1] == ' ' && (paren[2] == 'Z' || paren[2] == 'X');
}

static bool wait_gone(pid_t pid, int timeout_s)
{
    int64_t until = kf_clock_mono_us() + (int64_t)timeout_s * 1000000;
    while (!process_gone(pid))
        if (kf_clock_mono_us() > until)
            return false;
        else
            kf_sleep_ms(20);
    return true;
}

/* A process's private memory (what it costs beside the worker). */
static long private_kb(pid_t pid)
{
    char path[64], line[128];
    long kb = -1, v;
    snprintf(path, sizeof(path), "/proc/%d/smaps_rollup", (int)pid);
    FILE *f = fopen(path, "r");
    while (f && fgets(line, sizeof(line), f))
        if (sscanf(line, "Private_Dirty: %ld kB", &v) == 1)
            kb = v;
    if (f)
        fclose(f);
    return kb;
}

static group_probe *probe_new(const char *exe, const char *group, const char *const *props)
{
    struct group_probe_opts o = {
        .exe = exe ? exe : "/proc/self/exe",
        .brokers = brokers,
        .client_id = "kfleet-test-probe",
        .group = group,
        .props = props,
        .describe_timeout_ms = 2000,
        .answer_timeout_ms = 4000,
        .backoff_max_ms = 1000,
    };
    char err[512];
    group_probe *gp = group_probe_new(&o, err, sizeof(err));
    KT_ASSERT_MSG(gp, "%s", err);
    return gp;
}

/* First, before this process has librdkafka threads to fork with: a worker
 * killed with SIGKILL leaves no probe behind (its stdin reaches EOF). */
static void test_worker_killed(void)
{
    char group[128];
    kt_unique_name(group, sizeof(group), "probe-orphan");
    int fds[2];
    KT_ASSERT_INT_EQ(pipe(fds), 0);
    pid_t worker = fork();
    KT_ASSERT(worker >= 0);
    if (worker == 0) {
        close(fds[0]);
        group_probe *gp = probe_new(NULL, group, NULL);
        struct group_probe_group *g = NULL;
        /* An answer, even an error: the child is up and waits for the next question. */
        int err = describe_until(gp, 30, false, &g);
        group_probe_group_free(g);
        pid_t pid = err == -EAGAIN || err == -ECONNRESET ? 0 : group_probe_pid(gp);
        if (write(fds[1], &pid, sizeof(pid)) != sizeof(pid))
            _exit(1);
        pause();
        _exit(0);
    }
    close(fds[1]);
    pid_t child = 0;
    ssize_t n = read(fds[0], &child, sizeof(child));
    close(fds[0]);
    bool running = n == sizeof(child) && child > 0 && !process_gone(child);
    KT_ASSERT_INT_EQ(kill(worker, SIGKILL), 0);
    KT_ASSERT_INT_EQ(waitpid(worker, NULL, 0), worker);
    KT_ASSERT_MSG(running, "the probe never answered in the forked worker");
    KT_ASSERT_MSG(wait_gone(child, 10), "probe %d still runs 10 s after its worker was killed",
                  (int)child);
    printf("probe %d exited after its worker was killed\n", (int)child);
}

static void check_one_member(const struct group_probe_group *g, const char *topic)
{
    KT_ASSERT_STR_EQ(g->state, "Stable");
    KT_ASSERT_INT_EQ(g->member_count, 1);
    KT_ASSERT_STR_EQ(g->members[0].client_id, "kfleet-test-probe-member");
    KT_ASSERT(g->members[0].member_id[0]);
    KT_ASSERT_INT_EQ(g->members[0].assignment->count, 2);
    KT_ASSERT(kio_tplist_find(g->members[0].assignment, topic, 0));
    KT_ASSERT(kio_tplist_find(g->members[0].assignment, topic, 1));
}

static void test_describe_respawn(void)
{
    char topic[128], group[128];
    kt_unique_name(topic, sizeof(topic), "probe");
    kt_unique_name(group, sizeof(group), "probe");
    kt_topic_create(topic, 2, NULL);
    kt_track_group(group);
    member = kt_group_member(group, topic, "kfleet-test-probe-member");
    int64_t until = kf_clock_mono_us() + 30000000;
    kio_tplist *mine = NULL;
    while (kf_clock_mono_us() < until) {
        serve_member();
        kio_tplist_free(mine);
        mine = NULL;
        if (!kio_consumer_assignment(member, &mine) && mine->count == 2)
            break;
        kf_sleep_ms(20);
    }
    KT_ASSERT_MSG(mine && mine->count == 2, "the member never got its 2 partitions");
    kio_tplist_free(mine);

    group_probe *gp = probe_new(probe_program, group, NULL);
    pid_t first = group_probe_pid(gp);
    KT_ASSERT(first > 0);
    KT_ASSERT_INT_EQ(group_probe_spawns(gp), 1);
    struct group_probe_group *g = NULL;
    /* The coordinator may still be settling the group: ask until Stable. */
    until = kf_clock_mono_us() + 30000000;
    int err;
    while ((err = describe(gp, 30, &g)) == 0 && strcmp(g->state, "Stable") &&
           kf_clock_mono_us() < until) {
        group_probe_group_free(g);
        g = NULL;
    }
    KT_ASSERT_MSG(!err, "describe: %s", strerror(-err));
    check_one_member(g, topic);
    KT_ASSERT(g->asked_us > 0 && g->asked_us <= kf_clock_mono_us());
    group_probe_group_free(g);
    KT_ASSERT_INT_EQ(TIMED(group_probe_request(gp)), 0);
    KT_ASSERT_INT_EQ(TIMED(group_probe_request(gp)), -EBUSY); /* one question at a time */
    KT_ASSERT_INT_EQ(describe(gp, 30, &g), 0);
    group_probe_group_free(g);
    printf("one member with its 2 partitions, from probe %d (%s, %ld kB private memory)\n",
           (int)first, probe_program ? probe_program : "this binary", private_kb(first));

    /* kill -9: the next question goes to a new child. */
    KT_ASSERT_INT_EQ(kill(first, SIGKILL), 0);
    KT_ASSERT_INT_EQ(describe(gp, 30, &g), 0);
    check_one_member(g, topic);
    group_probe_group_free(g);
    pid_t second = group_probe_pid(gp);
    KT_ASSERT(second > 0 && second != first);
    KT_ASSERT_INT_EQ(group_probe_spawns(gp), 2);
    errno = 0;
    KT_ASSERT_MSG(waitpid(first, NULL, WNOHANG) == -1 && errno == ECHILD,
                  "the killed probe %d was not reaped", (int)first);
    printf("probe %d killed: %d answers instead\n", (int)first, (int)second);

    /* A child that stops answering is killed and replaced after answer_timeout_ms. */
    KT_ASSERT_INT_EQ(kill(second, SIGSTOP), 0);
    int64_t t0 = kf_clock_mono_us();
    KT_ASSERT_INT_EQ(TIMED(group_probe_request(gp)), 0);
    while ((err = TIMED(group_probe_poll(gp, &g))) == -EAGAIN && kf_clock_mono_us() - t0 < 10000000)
        kf_sleep_ms(10);
    KT_ASSERT_INT_EQ(err, -ECONNRESET);
    KT_ASSERT_MSG(kf_clock_mono_us() - t0 >= 4000000, "gave up before answer_timeout_ms");
    KT_ASSERT_INT_EQ(describe(gp, 30, &g), 0);
    check_one_member(g, topic);
    group_probe_group_free(g);
    pid_t third = group_probe_pid(gp);
    KT_ASSERT(third > 0 && third != second);
    KT_ASSERT_MSG(wait_gone(second, 5), "the wedged probe %d still runs", (int)second);
    printf("probe %d stopped answering: killed after %.1f s, %d answers instead\n", (int)second,
           (double)(kf_clock_mono_us() - t0) / 1e6, (int)third);

    /* Free: EOF on its stdin, the child exits on its own (no 1 s kill). */
    t0 = kf_clock_mono_us();
    group_probe_free(gp);
    int64_t free_us = kf_clock_mono_us() - t0;
    KT_ASSERT_MSG(free_us < 1000000, "free took %lld us: the child had to be killed",
                  (long long)free_us);
    errno = 0;
    KT_ASSERT(waitpid(third, NULL, WNOHANG) == -1 && errno == ECHILD);
    printf("free: probe %d exited at EOF in %.1f ms\n", (int)third, (double)free_us / 1e3);
    kio_consumer_free(member);
    member = NULL;
}

/* A configuration librdkafka refuses: every question is answered with the
 * reason, and the child is not restarted over and over. */
static void test_bad_config(void)
{
    static const char *const props[] = {"no.such.property", "1", NULL};
    group_probe *gp = probe_new(NULL, "kfleet-test-probe-bad", props);
    struct group_probe_group *g = NULL;
    KT_ASSERT_INT_EQ(describe_until(gp, 30, false, &g), -EINVAL);
    KT_ASSERT(!g);
    KT_ASSERT_INT_EQ(describe_until(gp, 30, false, &g), -EINVAL);
    KT_ASSERT_INT_EQ(group_probe_spawns(gp), 1);
    group_probe_free(gp);
}

int main(int argc, char **argv)
{
    if (argc > 1 && !strcmp(argv[1], GROUP_PROBE_ARG))
        return group_probe_child_main();
    probe_program = argc > 1 ? argv[1] : NULL;
    brokers = kt_brokers();
    KT_RUN(test_worker_killed);
    KT_RUN(test_describe_respawn);
    KT_RUN(test_bad_config);
    printf("slowest probe call: %.2f ms\n", (double)slowest_call_us / 1e3);
    /* "A few ms" on a loaded 2-core machine under sanitizers: 50 ms catches
     * any call that waits for the child (a describe takes 2 s to time out). */
    KT_ASSERT_MSG(slowest_call_us < 50000, "a probe call took %.1f ms",
                  (double)slowest_call_us / 1e3);
    return 0;
}
