/* The SigV4 transport: each attempt of an op is one curl easy handle on the
 * call's curl multi handle, signed by libcurl (CURLOPT_AWS_SIGV4,
 * "aws:amz:<region>:s3"). What s3io does itself is what curl 7.88 leaves to
 * the caller (docs/common.md, "SigV4 through libcurl"): the request's URI
 * already percent-encoded the canonical way and its query already sorted
 * (curl 7.88 signs both as given), and the x-amz-content-sha256 header (7.88
 * neither sends nor signs one unless told). Answers become an S3Status, as
 * libs3's would, so s3io_run's retries and error mapping serve both. */
#include "common/kf_err.h"
#include "common/s3io_impl.h"
#include "common/s3io_xml.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* SHA-256 of no bytes: the payload hash of a request without a body. */
#define EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
/* An error answer is a few hundred bytes; a page of 1000 listed keys
 * (<= 1024 bytes each, with owner and dates) well under 4 MiB. */
#define ERROR_BODY_MAX (64u << 10)
#define LIST_BODY_MAX (8u << 20)
#define PAGE_KEYS "1000"

struct s3io_v4_req {
    CURL *easy;
    struct curl_slist *headers;
    kf_buf url, body; /* body: an error answer, or the LIST page */
    kf_buf upload;    /* bucket creation's LocationConstraint */
    const uint8_t *up;
    size_t up_len, up_pos;
    bool looked;  /* the status was looked at (first body bytes) */
    bool to_data; /* the body is object bytes for the caller (a 2xx GET) */
    bool ranged;  /* a Range header was sent */
    char errbuf[CURL_ERROR_SIZE];
};

int s3io_v4_base_url(kf_buf *out, bool https, bool virtual_host, const char *endpoint,
                     const char *bucket)
{
    const char *scheme = https ? "https://" : "http://";
    if (virtual_host)
        return kf_buf_appendf(out, "%s%s.%s", scheme, bucket, endpoint);
    return kf_buf_appendf(out, "%s%s/%s", scheme, endpoint, bucket);
}

S3Status s3io_v4_status(long http_code, const char *code)
{
    if (code && *code) {
        /* AWS's names for conditions libs3 has other names for. */
        if (!strcmp(code, "ServiceUnavailable"))
            return S3StatusErrorSlowDown;
        if (!strcmp(code, "AuthorizationHeaderMalformed") ||
            !strcmp(code, "XAmzContentSHA256Mismatch"))
            return S3StatusErrorInvalidSecurity;
        /* libs3 names each S3 error code's status "Error<Code>". */
        for (int s = S3StatusErrorAccessDenied; s < S3StatusErrorUnknown; s++) {
            const char *name = S3_get_status_name((S3Status)s);
            if (!strncmp(name, "Error", 5) && !strcmp(name + 5, code))
                return (S3Status)s;
        }
    }
    switch (http_code) {
    case 301:
    case 307: return S3StatusErrorPermanentRedirect;
    case 400: return S3StatusHttpErrorBadRequest;
    case 403: return S3StatusHttpErrorForbidden;
    case 404: return S3StatusHttpErrorNotFound;
    case 409: return S3StatusHttpErrorConflict;
    case 416: return S3StatusErrorInvalidRange;
    case 500:
    case 502:
    case 504: return S3StatusErrorInternalError;
    case 503: return S3StatusErrorSlowDown;
    default: return S3StatusHttpErrorUnknown;
    }
}

static S3Status status_from_curl(CURLcode rc)
{
    switch (rc) {
    case CURLE_OK: return S3StatusOK;
    case CURLE_OUT_OF_MEMORY: return S3StatusOutOfMemory;
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY: return S3StatusNameLookupError;
    case CURLE_COULDNT_CONNECT: return S3StatusFailedToConnect;
    case CURLE_WRITE_ERROR:
    case CURLE_READ_ERROR:
    case CURLE_ABORTED_BY_CALLBACK: return S3StatusAbortedByCallback;
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH: return S3StatusServerFailedVerification;
    /* A body cut short, a reset, a stall (curl's low-speed limit): retried. */
    case CURLE_PARTIAL_FILE:
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM: return S3StatusConnectionFailed;
    default: return S3StatusInternalError;
    }
}

/* Object bytes of a 2xx GET, with libs3's transport's checks (s3io_get.c). */
static size_t deliver(struct s3io_op *op, const char *buf, size_t n)
{
    if (op->len && op->got + n > op->len) {
        op->cb_err = -EPROTO; /* more than asked for: the server ignored the Range */
        return 0;
    }
    int err = op->data_cb(op->data_opaque, (const uint8_t *)buf, n);
    if (err) {
        op->cb_err = err < 0 ? err : -ECANCELED;
        return 0;
    }
    op->got += n;
    op->attempt_got += n;
    atomic_fetch_add(&op->s3->bytes_in, (uint64_t)n);
    return n;
}

static size_t on_write(char *buf, size_t size, size_t nmemb, void *data)
{
    struct s3io_op *op = data;
    struct s3io_v4_req *r = op->v4;
    size_t n = size * nmemb;
    long code = 0;
    curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &code);
    bool ok = code >= 200 && code < 300;
    if (!r->looked) {
        r->looked = true;
        if (op->kind == S3IO_OP_GET && ok) {
            if (code != 206 && r->ranged && op->offset + op->got > 0) {
                snprintf(op->detail, sizeof(op->detail), "the server ignored the Range header");
                op->cb_err = -EPROTO;
                return 0;
            }
            r->to_data = true;
            curl_off_t cl = -1;
            if (!curl_easy_getinfo(r->easy, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &cl) && cl > 0)
                op->attempt_expect = (uint64_t)cl;
        }
    }
    if (r->to_data)
        return deliver(op, buf, n);
    size_t cap = op->kind == S3IO_OP_LIST && ok ? LIST_BODY_MAX : ERROR_BODY_MAX;
    if (r->body.len + n > cap) {
        if (!ok)
            return n; /* an error answer's start says enough */
        snprintf(op->detail, sizeof(op->detail), "a listing page over %zu bytes", cap);
        op->cb_err = -EPROTO;
        return 0;
    }
    if (kf_buf_append(&r->body, buf, n)) {
        op->cb_err = -ENOMEM;
        return 0;
    }
    return n;
}

static size_t on_header(char *buf, size_t size, size_t nmemb, void *data)
{
    struct s3io_op *op = data;
    size_t n = size * nmemb;
    if (op->kind != S3IO_OP_HEAD || n < 5 || strncasecmp(buf, "etag:", 5))
        return n;
    const char *e = buf + 5, *end = buf + n;
    while (e < end && (*e == ' ' || *e == '\t'))
        e++;
    while (end > e && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' '))
        end--;
    size_t len = (size_t)(end - e);
    if (len >= 2 && e[0] == '"' && e[len - 1] == '"')
        e++, len -= 2;
    op->etag[0] = '\0';
    if (len && len < sizeof(op->etag)) {
        memcpy(op->etag, e, len);
        op->etag[len] = '\0';
    }
    return n;
}

static size_t on_read(char *buf, size_t size, size_t nmemb, void *data)
{
    struct s3io_v4_req *r = ((struct s3io_op *)data)->v4;
    size_t left = r->up_len - r->up_pos, n = size * nmemb;
    if (n > left)
        n = left;
    if (n)
        memcpy(buf, r->up + r->up_pos, n);
    r->up_pos += n;
    return n;
}

static int on_seek(void *data, curl_off_t offset, int origin)
{
    struct s3io_v4_req *r = ((struct s3io_op *)data)->v4;
    if (origin != SEEK_SET || offset < 0 || (uint64_t)offset > r->up_len)
        return CURL_SEEKFUNC_FAIL;
    r->up_pos = (size_t)offset;
    return CURL_SEEKFUNC_OK;
}

static void req_free(struct s3io_v4_req *r, CURLM *m)
{
    if (!r)
        return;
    if (r->easy) {
        curl_multi_remove_handle(m, r->easy);
        curl_easy_cleanup(r->easy);
    }
    curl_slist_free_all(r->headers);
    kf_buf_fini(&r->url);
    kf_buf_fini(&r->body);
    kf_buf_fini(&r->upload);
    free(r);
}

/* "Name: value" */
static int add_header(struct s3io_v4_req *r, const char *name, const char *value)
{
    char line[4096];
    int n = snprintf(line, sizeof(line), "%s: %s", name, value);
    if (n < 0 || (size_t)n >= sizeof(line))
        return -EINVAL;
    struct curl_slist *l = curl_slist_append(r->headers, line);
    if (!l)
        return -ENOMEM;
    r->headers = l;
    return 0;
}

/* The URL after the base: the object's path, or the bucket's with the LIST
 * query, its parameters in sorted order (marker, max-keys, prefix). */
static int build_url(struct s3io_op *op, struct s3io_v4_req *r)
{
    const s3io *s3 = op->s3;
    int err = kf_buf_appendf(&r->url, "%s", s3->base_url);
    switch (op->kind) {
    case S3IO_OP_LIST:
        err = err ? err
                  : kf_buf_appendf(&r->url, "%s?",
                                   s3->bc.uriStyle == S3UriStyleVirtualHost ? "/" : "");
        if (!err && op->marker[0]) {
            err = kf_buf_appendf(&r->url, "marker=");
            err = err ? err : s3io_uri_encode(&r->url, op->marker, false);
            err = err ? err : kf_buf_appendf(&r->url, "&");
        }
        err = err ? err : kf_buf_appendf(&r->url, "max-keys=" PAGE_KEYS);
        if (!err && op->prefix && *op->prefix) {
            err = kf_buf_appendf(&r->url, "&prefix=");
            err = err ? err : s3io_uri_encode(&r->url, op->prefix, false);
        }
        break;
    case S3IO_OP_BUCKET_CREATE:
        if (!err && s3->bc.uriStyle == S3UriStyleVirtualHost)
            err = kf_buf_appendf(&r->url, "/");
        break;
    default:
        err = err ? err : kf_buf_appendf(&r->url, "/");
        err = err ? err : s3io_uri_encode(&r->url, op->key, true);
        break;
    }
    return err ? err : kf_buf_append(&r->url, "", 1);
}

/* The headers: payload hash, session token, Range. curl's own "Expect:
 * 100-continue" on bodies over 1 MiB stays: a refused PUT then costs no
 * upload, and removing it with an empty "Expect:" would put "expect" into
 * curl 7.88's SignedHeaders for a header never sent. */
static int build_headers(struct s3io_op *op, struct s3io_v4_req *r)
{
    const s3io *s3 = op->s3;
    bool body = r->up_len > 0;
    int err = add_header(r, "x-amz-content-sha256", body ? "UNSIGNED-PAYLOAD" : EMPTY_SHA256);
    if (!err && s3->session_token)
        err = add_header(r, "x-amz-security-token", s3->session_token);
    if (!err && op->kind == S3IO_OP_GET) {
        uint64_t start = op->offset + op->got;
        char range[64];
        if (op->len)
            snprintf(range, sizeof(range), "bytes=%llu-%llu", (unsigned long long)start,
                     (unsigned long long)(op->offset + op->len - 1));
        else
            snprintf(range, sizeof(range), "bytes=%llu-", (unsigned long long)start);
        if (op->len || start) {
            r->ranged = true;
            err = add_header(r, "Range", range);
        }
    }
    return err;
}

static void fail_now(struct s3io_op *op, CURLM *m, S3Status st, const char *why)
{
    req_free(op->v4, m);
    op->v4 = NULL;
    S3ErrorDetails d = {.message = why};
    s3io_on_complete(st, &d, op);
}

void s3io_v4_issue(struct s3io_op *op, void *ctx, int timeout_ms)
{
    (void)timeout_ms; /* the deadline is s3io_run's: it aborts what is in flight */
    CURLM *m = ctx;
    const s3io *s3 = op->s3;
    if (op->kind == S3IO_OP_GET && op->len && op->got >= op->len) {
        s3io_on_complete(S3StatusOK, NULL, op); /* all arrived before the last attempt failed */
        return;
    }
    struct s3io_v4_req *r = calloc(1, sizeof(*r));
    if (!r) {
        fail_now(op, m, S3StatusOutOfMemory, NULL);
        return;
    }
    op->v4 = r;
    kf_buf_init(&r->url);
    kf_buf_init(&r->body);
    kf_buf_init(&r->upload);
    op->truncated = false;
    if (op->kind == S3IO_OP_PUT) {
        r->up = op->put_data;
        r->up_len = op->put_len;
    } else if (op->kind == S3IO_OP_BUCKET_CREATE && strcmp(s3->region, "us-east-1")) {
        /* Anywhere but us-east-1, S3 wants the region in the body too. */
        if (kf_buf_appendf(&r->upload,
                           "<CreateBucketConfiguration xmlns=\"http://s3.amazonaws.com/doc/"
                           "2006-03-01/\"><LocationConstraint>%s</LocationConstraint>"
                           "</CreateBucketConfiguration>",
                           s3->region)) {
            fail_now(op, m, S3StatusOutOfMemory, NULL);
            return;
        }
        r->up = r->upload.ptr;
        r->up_len = r->upload.len;
    }
    int err = build_url(op, r);
    err = err ? err : build_headers(op, r);
    if (err) {
        fail_now(op, m, err == -ENOMEM ? S3StatusOutOfMemory : S3StatusUriTooLong, NULL);
        return;
    }
    CURL *e = r->easy = curl_easy_init();
    if (!e) {
        fail_now(op, m, S3StatusOutOfMemory, "curl_easy_init failed");
        return;
    }
    curl_easy_setopt(e, CURLOPT_URL, (const char *)r->url.ptr);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    /* A key is opaque: "a/../b" names an object, not a path to tidy up. */
    curl_easy_setopt(e, CURLOPT_PATH_AS_IS, 1L);
    curl_easy_setopt(e, CURLOPT_HTTPAUTH, (long)CURLAUTH_AWS_SIGV4);
    curl_easy_setopt(e, CURLOPT_AWS_SIGV4, s3->sigv4);
    curl_easy_setopt(e, CURLOPT_USERNAME, s3->access_key);
    curl_easy_setopt(e, CURLOPT_PASSWORD, s3->secret_key);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, r->headers);
    curl_easy_setopt(e, CURLOPT_USERAGENT, "kfleet");
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_PRIVATE, op);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, r->errbuf);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, op);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, op);
    /* As libs3 2.0 does: a transfer below 1 KiB/s for 15 s is dead. */
    curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, 1024L);
    curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME, 15L);
    if (s3->https && s3->ca_file)
        curl_easy_setopt(e, CURLOPT_CAINFO, s3->ca_file);
    switch (op->kind) {
    case S3IO_OP_PUT:
    case S3IO_OP_BUCKET_CREATE:
        curl_easy_setopt(e, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(e, CURLOPT_INFILESIZE_LARGE, (curl_off_t)r->up_len);
        curl_easy_setopt(e, CURLOPT_READFUNCTION, on_read);
        curl_easy_setopt(e, CURLOPT_READDATA, op);
        curl_easy_setopt(e, CURLOPT_SEEKFUNCTION, on_seek);
        curl_easy_setopt(e, CURLOPT_SEEKDATA, op);
        break;
    case S3IO_OP_HEAD: curl_easy_setopt(e, CURLOPT_NOBODY, 1L); break;
    case S3IO_OP_DELETE: curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, "DELETE"); break;
    default: break;
    }
    if (curl_multi_add_handle(m, e) != CURLM_OK)
        fail_now(op, m, S3StatusInternalError, "curl_multi_add_handle failed");
}

/* ListBucketResult keys, as libs3's transport delivers them (s3io_list.c):
 * keys up to the marker were delivered by an earlier attempt. */
static int list_key(void *opaque, const char *key, uint64_t size)
{
    struct s3io_op *op = opaque;
    if (op->marker[0] && strcmp(key, op->marker) <= 0)
        return 0;
    int err = op->list_cb(op->list_opaque, key, size);
    if (err) {
        op->cb_err = err < 0 ? err : -ECANCELED;
        return 1;
    }
    snprintf(op->marker, sizeof(op->marker), "%s", key);
    return 0;
}

static S3Status list_page(struct s3io_op *op, struct s3io_v4_req *r, char *why, size_t why_size)
{
    char before[sizeof(op->marker)], next[S3IO_KEY_MAX + 1];
    memcpy(before, op->marker, sizeof(before));
    bool truncated = false;
    int err = s3io_xml_list(r->body.ptr ? (const char *)r->body.ptr : "", r->body.len, list_key, op,
                            &truncated, next, why, why_size);
    if (err == 1)
        return S3StatusAbortedByCallback; /* op->cb_err says why */
    if (err)
        return S3StatusXmlParseFailure;
    if (truncated && next[0])
        snprintf(op->marker, sizeof(op->marker), "%s", next);
    if (truncated && !strcmp(op->marker, before)) {
        snprintf(why, why_size, "a truncated listing page that does not move past '%s'", before);
        return S3StatusXmlParseFailure;
    }
    op->truncated = truncated;
    return S3StatusOK;
}

static void finish(struct s3io_op *op, CURLM *m, CURLcode rc)
{
    struct s3io_v4_req *r = op->v4;
    char why[sizeof(op->detail)] = "";
    long code = 0;
    curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &code);
    S3Status st;
    if (rc != CURLE_OK) {
        st = status_from_curl(rc);
        snprintf(why, sizeof(why), "%s", r->errbuf[0] ? r->errbuf : curl_easy_strerror(rc));
        if (st == S3StatusAbortedByCallback && op->detail[0])
            snprintf(why, sizeof(why), "%s", op->detail);
    } else if (code >= 200 && code < 300) {
        st = S3StatusOK;
        if (op->kind == S3IO_OP_HEAD) {
            curl_off_t cl = -1;
            curl_easy_getinfo(r->easy, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &cl);
            op->size = cl > 0 ? (uint64_t)cl : 0;
        } else if (op->kind == S3IO_OP_LIST) {
            st = list_page(op, r, why, sizeof(why));
        }
    } else {
        char scode[64], message[160];
        s3io_xml_error(r->body.ptr ? (const char *)r->body.ptr : "", r->body.len, scode,
                       sizeof(scode), message, sizeof(message));
        st = s3io_v4_status(code, scode);
        snprintf(why, sizeof(why), "HTTP %ld%s%s%s%s", code, scode[0] ? " " : "", scode,
                 message[0] ? ": " : "", message);
    }
    req_free(r, m);
    op->v4 = NULL;
    S3ErrorDetails d = {.message = why[0] ? why : NULL};
    s3io_on_complete(st, &d, op);
}

void *s3io_v4_ctx_new(void)
{
    return curl_multi_init();
}

void s3io_v4_ctx_free(void *ctx)
{
    if (ctx)
        curl_multi_cleanup(ctx);
}

void s3io_v4_abort(struct s3io_op *op, void *ctx)
{
    req_free(op->v4, ctx);
    op->v4 = NULL;
}

static void complete_done(CURLM *m)
{
    CURLMsg *msg;
    int left;
    while ((msg = curl_multi_info_read(m, &left))) {
        if (msg->msg != CURLMSG_DONE)
            continue;
        char *priv = NULL;
        CURLcode rc = msg->data.result;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &priv);
        struct s3io_op *op = (struct s3io_op *)(void *)priv;
        if (op && op->v4)
            finish(op, m, rc);
    }
}

void s3io_v4_run_once(void *ctx, int64_t wait_us)
{
    CURLM *m = ctx;
    int running = 0;
    curl_multi_perform(m, &running);
    complete_done(m);
    if (running && wait_us > 0) {
        /* curl_multi_poll returns early when curl's own timers are due. */
        curl_multi_poll(m, NULL, 0, (int)((wait_us + 999) / 1000), NULL);
        curl_multi_perform(m, &running);
        complete_done(m);
    }
}
