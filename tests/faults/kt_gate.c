/* A TCP forwarder that a test opens and closes (kt_gate.h). One thread polls
 * the listener and every pair of sockets; each direction has one buffer, and
 * a side is read only when the buffer towards the other side is empty. */
#include "tests/faults/kt_gate.h"

#include "tests/lib/kf_test.h"
#include "tests/lib/kt_proc.h"

#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>

#define MAX_PAIRS 64
#define BUF 65536

struct dir {
    char buf[BUF];
    size_t len, off;
};

struct pair {
    int fd[2];        /* 0 the client, 1 the target; -1 closed */
    struct dir to[2]; /* to[k]: bytes waiting to be written to fd[k] */
};

struct kt_gate {
    struct sockaddr_in target;
    int port;
    char addr[32];
    int listen_fd;
    struct pair pairs[MAX_PAIRS];
    pthread_t thread;
    pthread_mutex_t lock; /* listen_fd and pairs, between set() and the thread */
    atomic_bool stop;
    atomic_int accepted;
};

static int listen_on(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    KT_ASSERT_MSG(fd >= 0 && !bind(fd, (struct sockaddr *)&a, sizeof(a)) && !listen(fd, 64),
                  "gate: cannot listen on %d: %s", port, strerror(errno));
    return fd;
}

/* Close with a reset, so the peer sees the outage at once. */
static void reset_close(int fd)
{
    struct linger lg = {.l_onoff = 1, .l_linger = 0};
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
    close(fd);
}

static void pair_close(struct pair *p, bool reset)
{
    for (int k = 0; k < 2; k++)
        if (p->fd[k] >= 0) {
            if (reset)
                reset_close(p->fd[k]);
            else
                close(p->fd[k]);
            p->fd[k] = -1;
        }
}

static void accept_one(struct kt_gate *g)
{
    int c = accept(g->listen_fd, NULL, NULL);
    if (c < 0)
        return;
    int t = socket(AF_INET, SOCK_STREAM, 0);
    if (t < 0 || connect(t, (struct sockaddr *)&g->target, sizeof(g->target))) {
        reset_close(c);
        if (t >= 0)
            close(t);
        return;
    }
    for (int i = 0; i < MAX_PAIRS; i++)
        if (g->pairs[i].fd[0] < 0) {
            fcntl(c, F_SETFL, fcntl(c, F_GETFL) | O_NONBLOCK);
            fcntl(t, F_SETFL, fcntl(t, F_GETFL) | O_NONBLOCK);
            g->pairs[i].fd[0] = c;
            g->pairs[i].fd[1] = t;
            g->pairs[i].to[0].len = g->pairs[i].to[1].len = 0;
            atomic_fetch_add(&g->accepted, 1);
            return;
        }
    reset_close(c);
    close(t);
}

static bool transient(ssize_t n)
{
    return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR);
}

/* Move bytes for one pair after poll said something is ready (non-blocking sockets). */
static void pump(struct pair *p, const short *revents)
{
    for (int k = 0; k < 2 && p->fd[0] >= 0; k++) {
        struct dir *in = &p->to[1 - k], *out = &p->to[k];
        if ((revents[k] & (POLLIN | POLLHUP | POLLERR)) && in->len == 0) {
            ssize_t n = read(p->fd[k], in->buf, BUF);
            if (n == 0 || (n < 0 && !transient(n))) {
                pair_close(p, false);
                return;
            }
            in->len = n > 0 ? (size_t)n : 0;
            in->off = 0;
        }
        if (out->len && (revents[k] & POLLOUT)) {
            ssize_t n = write(p->fd[k], out->buf + out->off, out->len - out->off);
            if (n < 0 && !transient(n)) {
                pair_close(p, false);
                return;
            }
            out->off += n > 0 ? (size_t)n : 0;
            if (out->off == out->len)
                out->len = 0;
        }
    }
}

static void *gate_main(void *arg)
{
    struct kt_gate *g = arg;
    struct pollfd fds[1 + 2 * MAX_PAIRS];
    int owner[1 + 2 * MAX_PAIRS];
    while (!atomic_load(&g->stop)) {
        pthread_mutex_lock(&g->lock);
        int n = 0;
        if (g->listen_fd >= 0) {
            fds[n] = (struct pollfd){.fd = g->listen_fd, .events = POLLIN};
            owner[n++] = -1;
        }
        for (int i = 0; i < MAX_PAIRS; i++) {
            struct pair *p = &g->pairs[i];
            if (p->fd[0] < 0)
                continue;
            for (int k = 0; k < 2; k++) {
                short ev = p->to[1 - k].len ? 0 : POLLIN;
                if (p->to[k].len)
                    ev |= POLLOUT;
                fds[n] = (struct pollfd){.fd = p->fd[k], .events = ev};
                owner[n++] = 2 * i + k;
            }
        }
        pthread_mutex_unlock(&g->lock);
        if (poll(fds, (nfds_t)n, 50) <= 0)
            continue;
        pthread_mutex_lock(&g->lock);
        short rev[MAX_PAIRS][2] = {{0}};
        bool listen_ready = false;
        for (int j = 0; j < n; j++) {
            if (owner[j] < 0)
                listen_ready = fds[j].revents & POLLIN && fds[j].fd == g->listen_fd;
            else if (g->pairs[owner[j] / 2].fd[owner[j] % 2] == fds[j].fd)
                rev[owner[j] / 2][owner[j] % 2] = fds[j].revents;
        }
        for (int i = 0; i < MAX_PAIRS; i++)
            if (g->pairs[i].fd[0] >= 0 && (rev[i][0] || rev[i][1]))
                pump(&g->pairs[i], rev[i]);
        if (listen_ready)
            accept_one(g);
        pthread_mutex_unlock(&g->lock);
    }
    return NULL;
}

struct kt_gate *kt_gate_new(const char *target, bool open)
{
    struct kt_gate *g = calloc(1, sizeof(*g));
    KT_ASSERT(g);
    char host[64];
    int port = 0;
    KT_ASSERT_MSG(sscanf(target, "%63[^:]:%d", host, &port) == 2, "gate: bad target %s", target);
    g->target = (struct sockaddr_in){.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    KT_ASSERT_MSG(inet_pton(AF_INET, !strcmp(host, "localhost") ? "127.0.0.1" : host,
                            &g->target.sin_addr) == 1,
                  "gate: %s is not an IPv4 address", host);
    for (int i = 0; i < MAX_PAIRS; i++)
        g->pairs[i].fd[0] = g->pairs[i].fd[1] = -1;
    g->port = kt_free_port();
    snprintf(g->addr, sizeof(g->addr), "127.0.0.1:%d", g->port);
    g->listen_fd = open ? listen_on(g->port) : -1;
    pthread_mutex_init(&g->lock, NULL);
    KT_ASSERT(!pthread_create(&g->thread, NULL, gate_main, g));
    return g;
}

const char *kt_gate_addr(const struct kt_gate *g)
{
    return g->addr;
}

void kt_gate_set(struct kt_gate *g, bool open)
{
    pthread_mutex_lock(&g->lock);
    if (open && g->listen_fd < 0) {
        g->listen_fd = listen_on(g->port);
    } else if (!open && g->listen_fd >= 0) {
        reset_close(g->listen_fd);
        g->listen_fd = -1;
        for (int i = 0; i < MAX_PAIRS; i++)
            pair_close(&g->pairs[i], true);
    }
    pthread_mutex_unlock(&g->lock);
}

int kt_gate_accepted(struct kt_gate *g)
{
    return atomic_load(&g->accepted);
}

void kt_gate_free(struct kt_gate *g)
{
    if (!g)
        return;
    atomic_store(&g->stop, true);
    pthread_join(g->thread, NULL);
    kt_gate_set(g, false);
    pthread_mutex_destroy(&g->lock);
    free(g);
}
