#include "worker/http.h"

#include "common/kf_err.h"
#include "common/kf_log.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <stdlib.h>
#include <string.h>

/* libmicrohttpd 0.9.75 (bookworm) returns int from handlers; later ones use
 * enum MHD_Result. */
#if MHD_VERSION >= 0x00097002
typedef enum MHD_Result mhd_result;
#else
typedef int mhd_result;
#endif

struct http_server {
    struct MHD_Daemon *daemon;
    struct http_route *routes;
    size_t nroutes;
    uint16_t port;
};

static mhd_result respond(struct MHD_Connection *conn, unsigned status, const char *content_type,
                          kf_buf *body)
{
    size_t len;
    uint8_t *data = kf_buf_steal(body, &len);
    struct MHD_Response *resp = MHD_create_response_from_buffer(
        len, data ? data : (void *)"", data ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
    if (!resp) {
        free(data);
        return MHD_NO;
    }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
    mhd_result ret = MHD_queue_response(conn, status, resp);
    MHD_destroy_response(resp);
    return ret;
}

static mhd_result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                             const char *method, const char *version, const char *upload_data,
                             size_t *upload_data_size, void **con_cls)
{
    http_server *srv = cls;
    kf_buf body;
    kf_buf_init(&body);
    if (strcmp(method, "GET") && strcmp(method, "HEAD")) {
        kf_buf_appendf(&body, "only GET and HEAD\n");
        return respond(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "text/plain", &body);
    }
    for (size_t i = 0; i < srv->nroutes; i++) {
        if (strcmp(srv->routes[i].path, url))
            continue;
        const char *content_type = "text/plain; charset=utf-8";
        int status = srv->routes[i].handler(srv->routes[i].opaque, &body, &content_type);
        return respond(conn, (unsigned)status, content_type, &body);
    }
    kf_buf_appendf(&body, "not found; try");
    for (size_t i = 0; i < srv->nroutes; i++)
        kf_buf_appendf(&body, " %s", srv->routes[i].path);
    kf_buf_appendf(&body, "\n");
    return respond(conn, MHD_HTTP_NOT_FOUND, "text/plain", &body);
}

http_server *http_server_new(const char *bind_addr, uint16_t port, const struct http_route *routes,
                             size_t nroutes, char *errstr, size_t errstr_size)
{
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons(port)};
    if (inet_pton(AF_INET, bind_addr, &addr.sin_addr) != 1) {
        kf_errf(errstr, errstr_size, "http: bad IPv4 bind address '%s'", bind_addr);
        return NULL;
    }
    http_server *srv = calloc(1, sizeof(*srv));
    if (!srv || !(srv->routes = calloc(nroutes ? nroutes : 1, sizeof(*routes)))) {
        free(srv);
        kf_errf(errstr, errstr_size, "out of memory");
        return NULL;
    }
    memcpy(srv->routes, routes, nroutes * sizeof(*routes));
    srv->nroutes = nroutes;
    srv->daemon = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG, port, NULL,
                                   NULL, on_request, srv, MHD_OPTION_SOCK_ADDR, &addr,
                                   MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)10, MHD_OPTION_END);
    if (!srv->daemon) {
        kf_errf(errstr, errstr_size, "http: cannot listen on %s:%u (address in use?)", bind_addr,
                port);
        http_server_free(srv);
        return NULL;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(srv->daemon, MHD_DAEMON_INFO_BIND_PORT);
    srv->port = info ? info->port : port;
    KF_LOG_I("http", "serving on http://%s:%u", bind_addr, srv->port);
    return srv;
}

uint16_t http_server_port(const http_server *srv)
{
    return srv->port;
}

void http_server_free(http_server *srv)
{
    if (!srv)
        return;
    if (srv->daemon)
        MHD_stop_daemon(srv->daemon);
    free(srv->routes);
    free(srv);
}
