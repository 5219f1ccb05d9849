/**
 * @file fake_http.h
 * @brief A scripted HTTP/1.1 server on 127.0.0.1 for s3io's tests: each
 *        request gets the next scripted answer, so retries, throttling,
 *        truncated bodies and silence can be produced on demand.
 */
#ifndef KF_TEST_FAKE_HTTP_H
#define KF_TEST_FAKE_HTTP_H

#include <stddef.h>

enum fake_mode {
    FAKE_REPLY = 0, /**< status + headers + body */
    FAKE_SILENT,    /**< read the request, never answer (until stop) */
    FAKE_TRUNCATE,  /**< declare Content-Length but send only body_sent bytes, then close */
};

struct fake_reply {
    enum fake_mode mode;
    int status;          /**< 200, 206, 403, ... */
    const char *headers; /**< extra header lines, each ending in \r\n; may be NULL */
    const char *body;    /**< may be NULL */
    size_t body_len;     /**< 0 with a body: strlen(body) */
    size_t body_sent;    /**< FAKE_TRUNCATE: bytes actually sent */
};

/** @brief What the server saw of one request. */
struct fake_request {
    char method[16];
    char target[1200];        /**< path and query */
    char range[128];          /**< the Range header value, "" if none */
    char host[128];           /**< the Host header value */
    char authorization[512];  /**< the Authorization header value: how it was signed */
    char content_sha256[80];  /**< x-amz-content-sha256, "" if none */
    char security_token[256]; /**< x-amz-security-token, "" if none */
    size_t body_len;          /**< bytes of body received */
};

typedef struct fake_http fake_http;

/**
 * @brief Start serving @p replies in order (borrowed until stop); after the
 *        last one every request gets a 500.
 */
fake_http *fake_http_start(const struct fake_reply *replies, size_t count);
/** @brief "127.0.0.1:PORT" (borrowed). */
const char *fake_http_endpoint(const fake_http *fh);
/** @brief Requests seen so far. */
size_t fake_http_request_count(fake_http *fh);
/** @brief A copy of request @p i. */
struct fake_request fake_http_request(fake_http *fh, size_t i);
/** @brief Close every connection and stop. */
void fake_http_stop(fake_http *fh);

/** @brief A port on 127.0.0.1 where nothing listens (bound, then closed). */
int fake_http_dead_port(void);

#endif
