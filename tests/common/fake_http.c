/* The scripted HTTP server behind s3io's fault tests. One thread accepts;
 * each connection gets a thread that reads requests (answering
 * "Expect: 100-continue") and writes the next scripted reply. */
#include "fake_http.h"

#include "tests/lib/kf_test.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_CONN 64
#define MAX_LOG 256

struct fake_http {
    int lfd;
    char endpoint[32];
    const struct fake_reply *replies;
    size_t nreplies, next;
    pthread_mutex_t lock;
    pthread_t acceptor;
    pthread_t conn_threads[MAX_CONN];
    int conn_fds[MAX_CONN];
    int nconn;
    bool stopping;
    struct fake_request log[MAX_LOG];
    size_t nlog;
};

struct conn_arg {
    fake_http *fh;
    int fd;
};

static bool write_all(int fd, const void *p, size_t n)
{
    const char *c = p;
    while (n) {
        ssize_t w = send(fd, c, n, MSG_NOSIGNAL);
        if (w <= 0)
            return false;
        c += w;
        n -= (size_t)w;
    }
    return true;
}

/* Read until "\r\n\r\n"; returns header bytes (incl. terminator) or -1. */
static ssize_t read_head(int fd, char *buf, size_t size, size_t *have)
{
    for (;;) {
        buf[*have] = '\0';
        char *end = strstr(buf, "\r\n\r\n");
        if (end)
            return end + 4 - buf;
        if (*have + 1 >= size)
            return -1;
        ssize_t r = recv(fd, buf + *have, size - 1 - *have, 0);
        if (r <= 0)
            return -1;
        *have += (size_t)r;
    }
}

static const char *header_value(const char *head, const char *name, char *out, size_t size)
{
    size_t n = strlen(name);
    for (const char *line = strstr(head, "\r\n"); line && line[2];
         line = strstr(line + 2, "\r\n")) {
        const char *l = line + 2;
        if (!strncasecmp(l, name, n) && l[n] == ':') {
            const char *v = l + n + 1;
            while (*v == ' ')
                v++;
            size_t len = strcspn(v, "\r\n");
            if (len >= size)
                len = size - 1;
            memcpy(out, v, len);
            out[len] = '\0';
            return out;
        }
    }
    out[0] = '\0';
    return NULL;
}

static void *conn_main(void *p)
{
    struct conn_arg a = *(struct conn_arg *)p;
    free(p);
    fake_http *fh = a.fh;
    static __thread char buf[65536];
    size_t have = 0;
    for (;;) {
        ssize_t hl = read_head(a.fd, buf, sizeof(buf), &have);
        if (hl < 0)
            break;
        struct fake_request rq = {0};
        sscanf(buf, "%15s %1199s", rq.method, rq.target);
        char v[128];
        header_value(buf, "Range", rq.range, sizeof(rq.range));
        header_value(buf, "Host", rq.host, sizeof(rq.host));
        header_value(buf, "Authorization", rq.authorization, sizeof(rq.authorization));
        header_value(buf, "x-amz-content-sha256", rq.content_sha256, sizeof(rq.content_sha256));
        header_value(buf, "x-amz-security-token", rq.security_token, sizeof(rq.security_token));
        size_t clen = header_value(buf, "Content-Length", v, sizeof(v)) ? strtoul(v, NULL, 10) : 0;
        bool expect = header_value(buf, "Expect", v, sizeof(v)) && strstr(v, "100-continue");
        /* keep what came after the head: the start of the body */
        size_t extra = have - (size_t)hl;
        memmove(buf, buf + hl, extra);
        have = extra;
        if (expect && have < clen && !write_all(a.fd, "HTTP/1.1 100 Continue\r\n\r\n", 25))
            break;
        size_t body = 0;
        while (body < clen) {
            if (have) {
                size_t take = have < clen - body ? have : clen - body;
                body += take;
                memmove(buf, buf + take, have - take);
                have -= take;
                continue;
            }
            ssize_t r = recv(a.fd, buf, sizeof(buf) - 1, 0);
            if (r <= 0)
                goto out;
            have = (size_t)r;
        }
        rq.body_len = body;

        pthread_mutex_lock(&fh->lock);
        if (fh->nlog < MAX_LOG)
            fh->log[fh->nlog++] = rq;
        struct fake_reply rep = {.status = 500,
                                 .body = "<Error><Code>InternalError</Code></Error>"};
        if (fh->next < fh->nreplies)
            rep = fh->replies[fh->next++];
        pthread_mutex_unlock(&fh->lock);

        if (rep.mode == FAKE_SILENT) {
            /* hold the connection open and say nothing until stop */
            char sink[4096];
            while (recv(a.fd, sink, sizeof(sink), 0) > 0)
                ;
            break;
        }
        size_t blen = rep.body ? (rep.body_len ? rep.body_len : strlen(rep.body)) : 0;
        char head[1024];
        int n = snprintf(head, sizeof(head), "HTTP/1.1 %d X\r\nContent-Length: %zu\r\n%s%s\r\n",
                         rep.status, blen, rep.headers ? rep.headers : "",
                         rep.mode == FAKE_TRUNCATE ? "Connection: close\r\n" : "");
        if (!write_all(a.fd, head, (size_t)n))
            break;
        size_t send_n = rep.mode == FAKE_TRUNCATE ? rep.body_sent : blen;
        if (send_n && !write_all(a.fd, rep.body, send_n))
            break;
        if (rep.mode == FAKE_TRUNCATE)
            break;
    }
out:
    shutdown(a.fd, SHUT_RDWR);
    return NULL;
}

static void *accept_main(void *p)
{
    fake_http *fh = p;
    for (;;) {
        int fd = accept(fh->lfd, NULL, NULL);
        pthread_mutex_lock(&fh->lock);
        bool stop = fh->stopping;
        pthread_mutex_unlock(&fh->lock);
        if (fd < 0 || stop) {
            if (fd >= 0)
                close(fd);
            if (stop || (errno != EINTR && errno != ECONNABORTED))
                break;
            continue;
        }
        struct conn_arg *a = malloc(sizeof(*a));
        KT_ASSERT(a);
        a->fh = fh;
        a->fd = fd;
        pthread_mutex_lock(&fh->lock);
        KT_ASSERT_MSG(fh->nconn < MAX_CONN, "fake_http: too many connections");
        int slot = fh->nconn++;
        fh->conn_fds[slot] = fd;
        KT_ASSERT(pthread_create(&fh->conn_threads[slot], NULL, conn_main, a) == 0);
        pthread_mutex_unlock(&fh->lock);
    }
    return NULL;
}

fake_http *fake_http_start(const struct fake_reply *replies, size_t count)
{
    fake_http *fh = calloc(1, sizeof(*fh));
    KT_ASSERT(fh);
    fh->replies = replies;
    fh->nreplies = count;
    pthread_mutex_init(&fh->lock, NULL);
    fh->lfd = socket(AF_INET, SOCK_STREAM, 0);
    KT_ASSERT(fh->lfd >= 0);
    int one = 1;
    setsockopt(fh->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    KT_ASSERT(bind(fh->lfd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
    KT_ASSERT(listen(fh->lfd, 16) == 0);
    socklen_t sl = sizeof(sa);
    KT_ASSERT(getsockname(fh->lfd, (struct sockaddr *)&sa, &sl) == 0);
    snprintf(fh->endpoint, sizeof(fh->endpoint), "127.0.0.1:%d", ntohs(sa.sin_port));
    KT_ASSERT(pthread_create(&fh->acceptor, NULL, accept_main, fh) == 0);
    return fh;
}

const char *fake_http_endpoint(const fake_http *fh)
{
    return fh->endpoint;
}

size_t fake_http_request_count(fake_http *fh)
{
    pthread_mutex_lock(&fh->lock);
    size_t n = fh->nlog;
    pthread_mutex_unlock(&fh->lock);
    return n;
}

struct fake_request fake_http_request(fake_http *fh, size_t i)
{
    pthread_mutex_lock(&fh->lock);
    KT_ASSERT(i < fh->nlog);
    struct fake_request r = fh->log[i];
    pthread_mutex_unlock(&fh->lock);
    return r;
}

void fake_http_stop(fake_http *fh)
{
    pthread_mutex_lock(&fh->lock);
    fh->stopping = true;
    pthread_mutex_unlock(&fh->lock);
    shutdown(fh->lfd, SHUT_RDWR);
    close(fh->lfd);
    pthread_join(fh->acceptor, NULL);
    for (int i = 0; i < fh->nconn; i++)
        shutdown(fh->conn_fds[i], SHUT_RDWR);
    for (int i = 0; i < fh->nconn; i++) {
        pthread_join(fh->conn_threads[i], NULL);
        close(fh->conn_fds[i]);
    }
    pthread_mutex_destroy(&fh->lock);
    free(fh);
}

int fake_http_dead_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    KT_ASSERT(fd >= 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    KT_ASSERT(bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
    socklen_t sl = sizeof(sa);
    KT_ASSERT(getsockname(fd, (struct sockaddr *)&sa, &sl) == 0);
    close(fd); /* bound but never listened: connects are refused */
    return ntohs(sa.sin_port);
}
