/**
 * @file kt_proc.h
 * @brief Test helpers for end-to-end tests: run the project's real binaries
 *        (kfleet-worker, publish-model) as child processes, signal them, and
 *        GET their HTTP endpoints. Header-only, for tests only.
 */
#ifndef KT_PROC_H
#define KT_PROC_H

#include "tests/lib/kf_test.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

/**
 * @brief Start @p argv (NULL-terminated) with stdout and stderr appended to
 *        @p log_path (NULL: inherited). @returns the pid; a failure is a hard error.
 */
static inline pid_t kt_spawn(char *const *argv, const char *log_path)
{
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    if (log_path) {
        posix_spawn_file_actions_addopen(&fa, 1, log_path, O_WRONLY | O_CREAT | O_APPEND, 0644);
        posix_spawn_file_actions_adddup2(&fa, 1, 2);
    }
    pid_t pid;
    int err = posix_spawn(&pid, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (err) {
        fprintf(stderr, "cannot start %s: %s\n", argv[0], strerror(err));
        exit(KF_TEST_HARD_ERROR);
    }
    return pid;
}

/** @brief A TCP port free on 127.0.0.1 right now (the kernel's pick). */
static inline int kt_free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET};
    socklen_t len = sizeof(a);
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) ||
        getsockname(fd, (struct sockaddr *)&a, &len)) {
        fprintf(stderr, "no free port: %s\n", strerror(errno));
        exit(KF_TEST_HARD_ERROR);
    }
    close(fd);
    return ntohs(a.sin_port);
}

/** @brief Wait for @p pid; returns its exit code, 128+signal when killed, -1 on timeout. */
static inline int kt_wait(pid_t pid, int timeout_s)
{
    for (int i = 0; i < timeout_s * 20; i++) {
        int status;
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid)
            return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        struct timespec ts = {0, 50 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    return -1;
}

/** @brief The whole of a (small) text file, NUL-terminated (free()); a failure is fatal. */
static inline char *kt_slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    KT_ASSERT_MSG(f, "cannot read %s", path);
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    KT_ASSERT(buf);
    for (size_t got; (got = fread(buf + n, 1, cap - n - 1, f)) > 0;) {
        n += got;
        if (n + 1 == cap) {
            buf = realloc(buf, cap *= 2);
            KT_ASSERT(buf);
        }
    }
    fclose(f);
    buf[n] = '\0';
    return buf;
}

/** @brief Run @p argv to completion; returns its exit code (see kt_wait). */
static inline int kt_run(char *const *argv, const char *log_path, int timeout_s)
{
    pid_t pid = kt_spawn(argv, log_path);
    int rc = kt_wait(pid, timeout_s);
    if (rc == -1) {
        kill(pid, SIGKILL);
        kt_wait(pid, 5);
    }
    return rc;
}

/**
 * @brief GET http://127.0.0.1:@p port@p path. The body (NUL-terminated) goes
 *        to @p body (up to @p size - 1 bytes). @returns the HTTP status, or -1
 *        when nothing answers.
 */
static inline int kt_http_get(int port, const char *path, char *body, size_t size)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a))) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    char req[512];
    int n = snprintf(req, sizeof(req), "GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n", path);
    if (write(fd, req, (size_t)n) != n) {
        close(fd);
        return -1;
    }
    static char resp[1 << 20];
    size_t got = 0;
    ssize_t r;
    while (got < sizeof(resp) - 1 && (r = read(fd, resp + got, sizeof(resp) - 1 - got)) > 0)
        got += (size_t)r;
    close(fd);
    resp[got] = '\0';
    int status = -1;
    if (sscanf(resp, "HTTP/%*s %d", &status) != 1)
        return -1;
    const char *b = strstr(resp, "\r\n\r\n");
    if (body && size) {
        snprintf(body, size, "%s", b ? b + 4 : "");
    }
    return status;
}

/** @brief Poll GET @p path until it answers @p want or @p timeout_s passes. */
static inline bool kt_http_wait(int port, const char *path, int want, int timeout_s)
{
    for (int i = 0; i < timeout_s * 10; i++) {
        if (kt_http_get(port, path, NULL, 0) == want)
            return true;
        struct timespec ts = {0, 100 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    return false;
}

#endif
