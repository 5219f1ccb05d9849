/* The worker's side of the group probe (group_probe.h): start the child,
 * write requests, read answers without waiting, notice a child that died or
 * wedged, reap it and start another with back-off. */
#include "worker/group_probe_impl.h"

#include "common/kf_buf.h"
#include "common/kf_clock.h"
#include "common/kf_err.h"
#include "common/kf_log.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define MOD "probe"
#define ZOMBIES_MAX 8

extern char **environ;

struct group_probe {
    char *exe;
    char *argv0;  /* what ps and an abort message call the child */
    char *config; /* the first line every child gets */
    size_t config_len;
    int answer_timeout_ms, backoff_max_ms;

    pid_t pid; /* 0: no child running */
    int fd;    /* our end of the child's stdin; -1 with no child */
    kf_buf in; /* what the child wrote, up to a partial line */

    uint64_t next_id;
    uint64_t pending_id; /* 0: no request waiting */
    int64_t pending_since_us;

    unsigned failures;          /* children lost since the last answer */
    int64_t respawn_at_us;      /* no child before this */
    unsigned spawns;            /* children started */
    bool spawn_failed;          /* the last posix_spawn failed (logged once) */
    pid_t zombies[ZOMBIES_MAX]; /* killed, not reaped yet */
    size_t nzombies;
};

static void describe_status(int status, char *buf, size_t size)
{
    if (WIFSIGNALED(status))
        snprintf(buf, size, "killed by signal %d (%s)", WTERMSIG(status),
                 strsignal(WTERMSIG(status)));
    else if (WIFEXITED(status))
        snprintf(buf, size, "exit status %d", WEXITSTATUS(status));
    else
        snprintf(buf, size, "status 0x%x", (unsigned)status);
}

static void reap_zombies(group_probe *gp)
{
    for (size_t i = 0; i < gp->nzombies;) {
        int status;
        pid_t r = waitpid(gp->zombies[i], &status, WNOHANG);
        if (r == 0) {
            i++;
            continue;
        }
        gp->zombies[i] = gp->zombies[--gp->nzombies];
    }
}

/* The child is gone or useless: kill it, reap it if it is ready, and plan
 * the next one. One log line per child lost. */
static void child_lost(group_probe *gp, const char *why)
{
    pid_t pid = gp->pid;
    kill(pid, SIGKILL);
    close(gp->fd);
    gp->fd = -1;
    gp->pid = 0;
    gp->pending_id = 0;
    kf_buf_reset(&gp->in);
    /* A child that closed its end is exiting already: give it a moment to
     * become reapable, so the log line can say how it ended. Bounded: the
     * main loop must not wait on a child (a core dump can take long). */
    int status = 0;
    pid_t r = 0;
    for (int i = 0; i < 5 && r == 0; i++) {
        r = waitpid(pid, &status, WNOHANG);
        if (r == 0)
            kf_sleep_ms(1);
    }
    char how[96] = "not reaped yet";
    if (r == pid)
        describe_status(status, how, sizeof(how));
    else if (gp->nzombies < ZOMBIES_MAX)
        gp->zombies[gp->nzombies++] = pid;
    else
        waitpid(pid, &status, 0); /* SIGKILLed: never long; keeps the table bounded */
    gp->failures++;
    unsigned shift = gp->failures - 1 < 10 ? gp->failures - 1 : 10;
    int64_t delay_ms = 100LL << shift;
    if (delay_ms > gp->backoff_max_ms)
        delay_ms = gp->backoff_max_ms;
    gp->respawn_at_us = kf_clock_mono_us() + delay_ms * 1000;
    KF_LOG_W(MOD, "group probe (pid %d) lost: %s; %s; starting another in %lld ms", (int)pid, why,
             how, (long long)delay_ms);
}

/* The program to run: GROUP_PROBE_PROGRAM beside our own executable (no
 * inference libraries to load), else ourselves. New (free()), NULL on OOM. */
static char *probe_exe(const char *given)
{
    if (given)
        return strdup(given);
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    char *slash = n > 0 ? memrchr(self, '/', (size_t)n) : NULL;
    if (slash) {
        char sibling[PATH_MAX + sizeof(GROUP_PROBE_PROGRAM) + 1];
        snprintf(sibling, sizeof(sibling), "%.*s/%s", (int)(slash - self), self,
                 GROUP_PROBE_PROGRAM);
        if (!access(sibling, X_OK))
            return strdup(sibling);
    }
    return strdup("/proc/self/exe");
}

static void spawn_child(group_probe *gp)
{
    int sv[2] = {-1, -1};
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    sigset_t none;
    int err;
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv)) {
        err = errno;
        goto fail;
    }
    posix_spawn_file_actions_init(&fa);
    posix_spawnattr_init(&attr);
    sigemptyset(&none);
    /* stdin: the socket; stdout: our stderr (nothing the child prints can
     * garble the protocol); nothing else: our other descriptors (HTTP
     * listener, Kafka sockets, cache files) must not outlive us in it. */
    posix_spawn_file_actions_adddup2(&fa, sv[1], 0);
    posix_spawn_file_actions_adddup2(&fa, 2, 1);
    posix_spawn_file_actions_addclosefrom_np(&fa, 3);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK);
    char *argv[] = {gp->argv0, GROUP_PROBE_ARG, NULL};
    pid_t pid = 0;
    err = posix_spawn(&pid, gp->exe, &fa, &attr, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    close(sv[1]);
    if (err)
        goto fail;
    gp->pid = pid;
    gp->fd = sv[0];
    gp->spawns++;
    gp->spawn_failed = false;
    fcntl(gp->fd, F_SETFL, fcntl(gp->fd, F_GETFL) | O_NONBLOCK);
    /* The configuration fits the socket's buffer (a few KiB against ~200). */
    ssize_t w = send(gp->fd, gp->config, gp->config_len, MSG_NOSIGNAL);
    if (w != (ssize_t)gp->config_len) {
        child_lost(gp, "refused its configuration");
        return;
    }
    KF_LOG_D(MOD, "group probe %s started (pid %d)", gp->exe, (int)pid);
    return;
fail:
    if (sv[0] >= 0)
        close(sv[0]);
    gp->failures++;
    gp->respawn_at_us = kf_clock_mono_us() + (int64_t)gp->backoff_max_ms * 1000;
    if (!gp->spawn_failed)
        KF_LOG_W(MOD, "cannot start the group probe %s: %s; retrying every %d ms", gp->exe,
                 strerror(err), gp->backoff_max_ms);
    gp->spawn_failed = true;
}

/* Reap what is left of earlier children; start one when none runs and the
 * back-off is over. */
static void maintain(group_probe *gp)
{
    if (gp->nzombies)
        reap_zombies(gp);
    if (!gp->pid && kf_clock_mono_us() >= gp->respawn_at_us)
        spawn_child(gp);
}

group_probe *group_probe_new(const struct group_probe_opts *o, char *errstr, size_t errstr_size)
{
    if (!o || !o->brokers || !*o->brokers || !o->group || !*o->group) {
        kf_errf(errstr, errstr_size, "group probe: brokers and group are required");
        return NULL;
    }
    group_probe *gp = calloc(1, sizeof(*gp));
    if (!gp) {
        kf_errf(errstr, errstr_size, "out of memory");
        return NULL;
    }
    gp->fd = -1;
    kf_buf_init(&gp->in);
    gp->exe = probe_exe(o->exe);
    /* Ourselves as the child: "kfleet-worker-probe", so that an abort in it
     * does not read as the worker's. */
    if (gp->exe && !strcmp(gp->exe, "/proc/self/exe")) {
        if (asprintf(&gp->argv0, "%s-probe", program_invocation_name) < 0)
            gp->argv0 = NULL;
    } else if (gp->exe) {
        gp->argv0 = strdup(gp->exe);
    }
    gp->config = group_probe_config_encode(o, (int)kf_log_get_level(), &gp->config_len);
    int describe_ms = o->describe_timeout_ms > 0 ? o->describe_timeout_ms : 2000;
    gp->answer_timeout_ms = o->answer_timeout_ms > 0 ? o->answer_timeout_ms : describe_ms + 3000;
    gp->backoff_max_ms = o->backoff_max_ms > 0 ? o->backoff_max_ms : 10000;
    if (!gp->exe || !gp->argv0 || !gp->config) {
        kf_errf(errstr, errstr_size, "out of memory");
        group_probe_free(gp);
        return NULL;
    }
    spawn_child(gp);
    return gp;
}

void group_probe_free(group_probe *gp)
{
    if (!gp)
        return;
    if (gp->pid) {
        /* EOF on its stdin: the child frees its admin client and exits. */
        close(gp->fd);
        gp->fd = -1;
        int status;
        pid_t r = 0;
        for (int i = 0; i < 100 && r == 0; i++) {
            r = waitpid(gp->pid, &status, WNOHANG);
            if (r == 0)
                kf_sleep_ms(10);
        }
        if (r == 0) {
            KF_LOG_W(MOD, "group probe (pid %d) did not exit within 1 s; killing it", (int)gp->pid);
            kill(gp->pid, SIGKILL);
            waitpid(gp->pid, &status, 0);
        }
    }
    for (size_t i = 0; i < gp->nzombies; i++)
        waitpid(gp->zombies[i], NULL, 0); /* SIGKILLed already */
    kf_buf_fini(&gp->in);
    free(gp->config);
    free(gp->argv0);
    free(gp->exe);
    free(gp);
}

int group_probe_request(group_probe *gp)
{
    if (!gp)
        return -EINVAL;
    maintain(gp);
    if (!gp->pid)
        return -EAGAIN;
    if (gp->pending_id)
        return -EBUSY;
    char line[64];
    uint64_t id = ++gp->next_id;
    int n = group_probe_request_encode(id, line, sizeof(line));
    /* One request at a time, a few bytes: the buffer always has room, so a
     * short or failed send means the child is gone. */
    ssize_t w = send(gp->fd, line, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (w != n) {
        child_lost(gp, w < 0 ? strerror(errno) : "took a partial request");
        return -EAGAIN;
    }
    gp->pending_id = id;
    gp->pending_since_us = kf_clock_mono_us();
    return 0;
}

/* Read what the child wrote so far. @returns 0, or -ECONNRESET when it is gone. */
static int read_child(group_probe *gp)
{
    for (;;) {
        if (kf_buf_reserve(&gp->in, 64 * 1024))
            return 0; /* try again on a later turn */
        ssize_t r = recv(gp->fd, gp->in.ptr + gp->in.len, gp->in.cap - gp->in.len, MSG_DONTWAIT);
        if (r > 0) {
            gp->in.len += (size_t)r;
            if (gp->in.len > GROUP_PROBE_LINE_MAX) {
                child_lost(gp, "wrote an over-long answer");
                return -ECONNRESET;
            }
            continue;
        }
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return 0;
        child_lost(gp, r == 0 ? "exited" : strerror(errno));
        return -ECONNRESET;
    }
}

/* The first complete line's answer, if it answers the waiting request. */
static int take_line(group_probe *gp, struct group_probe_group **out)
{
    char *nl = gp->in.len ? memchr(gp->in.ptr, '\n', gp->in.len) : NULL;
    if (!nl)
        return -EAGAIN;
    size_t len = (size_t)(nl - (char *)gp->in.ptr) + 1;
    uint64_t id = 0;
    int child_err = 0;
    char why[256];
    struct group_probe_group *g = NULL;
    int err = group_probe_answer_decode((const char *)gp->in.ptr, len, &id, &child_err, why,
                                        sizeof(why), &g);
    memmove(gp->in.ptr, gp->in.ptr + len, gp->in.len - len);
    gp->in.len -= len;
    if (err == -EPROTO) {
        child_lost(gp, "wrote something that is not an answer");
        return -ECONNRESET;
    }
    if (err)
        return err; /* -ENOMEM: this answer is lost, the child is fine */
    if (!gp->pending_id || id != gp->pending_id) {
        /* Answers come in order, one per request: this cannot happen. */
        group_probe_group_free(g);
        child_lost(gp, "answered a request it was not asked");
        return -ECONNRESET;
    }
    int64_t asked = gp->pending_since_us;
    gp->pending_id = 0;
    gp->failures = 0; /* it answers: the next loss restarts quickly again */
    if (child_err) {
        KF_LOG_D(MOD, "describe: %s (%s)", why, kf_strerror(child_err));
        return child_err;
    }
    g->asked_us = asked;
    *out = g;
    return 0;
}

int group_probe_poll(group_probe *gp, struct group_probe_group **out)
{
    if (!gp || !out)
        return -EINVAL;
    *out = NULL;
    maintain(gp);
    if (!gp->pid)
        return -EAGAIN;
    bool waiting = gp->pending_id != 0;
    if (read_child(gp))
        return waiting ? -ECONNRESET : -EAGAIN;
    int err = take_line(gp, out);
    if (err != -EAGAIN)
        return err;
    if (gp->pending_id &&
        kf_clock_mono_us() - gp->pending_since_us > (int64_t)gp->answer_timeout_ms * 1000) {
        char why[64];
        snprintf(why, sizeof(why), "did not answer within %d ms", gp->answer_timeout_ms);
        child_lost(gp, why);
        return -ECONNRESET;
    }
    return -EAGAIN;
}

pid_t group_probe_pid(const group_probe *gp)
{
    return gp ? gp->pid : 0;
}

unsigned group_probe_spawns(const group_probe *gp)
{
    return gp ? gp->spawns : 0;
}
