/**
 * @file http.h
 * @brief The worker's HTTP endpoints (libmicrohttpd, its own thread):
 *        /metrics, /healthz, /readyz, /status. The only code that includes
 *        microhttpd.h.
 *
 * Each path is answered by a callback that fills a body; the server adds
 * the headers. Callbacks run on libmicrohttpd's thread: they must only read
 * state that is safe to read from another thread (atomics, or under a lock).
 */
#ifndef KF_HTTP_H
#define KF_HTTP_H

#include "common/kf_buf.h"

#include <stdint.h>

/**
 * @brief Fill @p body (empty on entry) and @p content_type (static string).
 * @returns the HTTP status to send (200, 503, ...); 500 if the body could not be built.
 */
typedef int(http_handler_fn)(void *opaque, kf_buf *body, const char **content_type);

struct http_route {
    const char *path; /**< exact match, e.g. "/metrics" */
    http_handler_fn *handler;
    void *opaque;
};

typedef struct http_server http_server;

/**
 * @brief Listen on @p bind_addr:@p port (port 0 = any free port) and serve
 *        @p routes (copied; opaques borrowed until http_server_free).
 * @returns NULL with the reason in errstr (address in use, bad address).
 */
http_server *http_server_new(const char *bind_addr, uint16_t port, const struct http_route *routes,
                             size_t nroutes, char *errstr, size_t errstr_size);
/** @brief The port actually bound (useful with port 0). */
uint16_t http_server_port(const http_server *srv);
/** @brief Stop serving and wait for the server thread. */
void http_server_free(http_server *srv);

#endif
