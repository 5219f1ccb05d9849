/* The client: libs3's one-time initialisation (which initialises libcurl,
 * the same libcurl-gnutls the SigV4 transport uses), the bucket context or
 * the SigV4 transport's URL and credentials, the pool of request contexts
 * and the counters. */
#include "common/kf_err.h"
#include "common/kf_log.h"
#include "common/s3io_impl.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MOD "s3io"

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static S3Status init_status = S3StatusInternalError;

static void init_libs3(void)
{
    /* The user agent must outlive libs3 (it is not copied). */
    init_status = S3_initialize("kfleet", S3_INIT_ALL, NULL);
    if (init_status != S3StatusOK)
        return;
    /* libs3 parses XML (errors, listings) with libxml2 from whatever thread
     * runs a request; libxml2 wants its global set-up done once, before
     * threads race into it. A tiny parse here, on the initialising thread,
     * does that without s3io naming libxml2. */
    char doc[] = "<AccessControlPolicy><Owner><ID>x</ID><DisplayName>x</DisplayName></Owner>"
                 "<AccessControlList></AccessControlList></AccessControlPolicy>";
    char owner[S3_MAX_GRANTEE_USER_ID_SIZE], name[S3_MAX_GRANTEE_DISPLAY_NAME_SIZE];
    int n = 0;
    S3AclGrant *grants = calloc(S3_MAX_ACL_GRANT_COUNT, sizeof(*grants));
    if (grants)
        S3_convert_acl(doc, owner, name, &n, grants);
    free(grants);
}

int s3io_global_init(void)
{
    pthread_once(&init_once, init_libs3);
    if (init_status != S3StatusOK) {
        KF_LOG_E(MOD, "libs3 initialisation failed: %s", S3_get_status_name(init_status));
        return -EIO;
    }
    return 0;
}

void s3io_global_cleanup(void)
{
    if (init_status == S3StatusOK)
        S3_deinitialize();
    init_status = S3StatusInternalError;
}

const char *s3io_signing(const s3io *s3)
{
    /* A libs3 >= 4 (authRegion) signs SigV4 itself. */
    return s3 && (s3->v4 || KF_S3_SIGV4) ? "SigV4" : "SigV2";
}

void s3io_free(s3io *s3)
{
    if (!s3)
        return;
    for (int i = 0; i < s3->pool_count; i++) {
        if (s3->v4)
            s3io_v4_ctx_free(s3->pool[i]);
        else
            S3_destroy_request_context(s3->pool[i]);
    }
    pthread_mutex_destroy(&s3->pool_lock);
    free(s3->endpoint);
    free(s3->bucket);
    free(s3->access_key);
    free(s3->secret_key);
    free(s3->region);
    free(s3->session_token);
    free(s3->ca_file);
    free(s3->base_url);
    free(s3->sigv4);
    free(s3);
}

s3io *s3io_new(const struct s3io_opts *opts, char *errstr, size_t errstr_size)
{
    if (!opts || !opts->endpoint || !*opts->endpoint || !opts->bucket || !*opts->bucket ||
        !opts->access_key || !opts->secret_key) {
        kf_errf(errstr, errstr_size,
                "s3io: endpoint, bucket, access key and secret key are required");
        return NULL;
    }
    if (s3io_global_init()) {
        kf_errf(errstr, errstr_size, "s3io: libs3 could not initialise");
        return NULL;
    }
    bool v4 = opts->signature == S3IO_SIGV4;
    if (opts->signature != S3IO_SIGV4 && opts->signature != S3IO_SIGV2) {
        kf_errf(errstr, errstr_size, "s3io: unknown signature %d", (int)opts->signature);
        return NULL;
    }
    if (!v4 &&
        ((opts->session_token && *opts->session_token) || (opts->ca_file && *opts->ca_file))) {
        kf_errf(errstr, errstr_size,
                "s3io: s3.session_token and s3.ca_file need s3.signature=v4 (libs3 2.0, "
                "which signs SigV2, can send no token and checks no certificate)");
        return NULL;
    }
    const char *region = opts->region && *opts->region ? opts->region : "us-east-1";
    for (const char *c = region; *c; c++) {
        if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
              *c == '-' || *c == '_' || *c == '.')) {
            kf_errf(errstr, errstr_size, "s3io: bad region '%s' (letters, digits, - _ .)", region);
            return NULL;
        }
    }
    if (v4 && opts->session_token && strpbrk(opts->session_token, "\r\n")) {
        kf_errf(errstr, errstr_size, "s3io: the session token has a line break");
        return NULL;
    }
    S3UriStyle style = opts->virtual_host ? S3UriStyleVirtualHost : S3UriStylePath;
    S3Status vs = S3_validate_bucket_name(opts->bucket, style);
    if (vs != S3StatusOK) {
        kf_errf(errstr, errstr_size, "s3io: bad bucket name '%s': %s", opts->bucket,
                S3_get_status_name(vs));
        return NULL;
    }
    s3io *s3 = calloc(1, sizeof(*s3));
    if (!s3)
        goto oom;
    pthread_mutex_init(&s3->pool_lock, NULL);
    s3->endpoint = strdup(opts->endpoint);
    s3->bucket = strdup(opts->bucket);
    s3->access_key = strdup(opts->access_key);
    s3->secret_key = strdup(opts->secret_key);
    s3->region = strdup(region);
    if (!s3->endpoint || !s3->bucket || !s3->access_key || !s3->secret_key || !s3->region)
        goto oom;
    s3->v4 = v4;
    s3->https = opts->https;
    if (v4) {
        kf_buf url;
        kf_buf_init(&url);
        if (s3io_v4_base_url(&url, opts->https, opts->virtual_host, s3->endpoint, s3->bucket) ||
            kf_buf_append(&url, "", 1)) {
            kf_buf_fini(&url);
            goto oom;
        }
        s3->base_url = (char *)kf_buf_steal(&url, NULL);
        if (asprintf(&s3->sigv4, "aws:amz:%s:s3", s3->region) < 0)
            s3->sigv4 = NULL;
        if (opts->session_token && *opts->session_token)
            s3->session_token = strdup(opts->session_token);
        if (opts->ca_file && *opts->ca_file)
            s3->ca_file = strdup(opts->ca_file);
        if (!s3->base_url || !s3->sigv4 ||
            (opts->session_token && *opts->session_token && !s3->session_token) ||
            (opts->ca_file && *opts->ca_file && !s3->ca_file))
            goto oom;
    }
    s3->timeout_ms = opts->timeout_ms > 0 ? opts->timeout_ms : 30000;
    s3->backoff_ms = opts->retry_backoff_ms > 0 ? opts->retry_backoff_ms : 100;
    s3->backoff_max_ms = opts->retry_backoff_max_ms > 0 ? opts->retry_backoff_max_ms : 2000;
    if (s3->backoff_max_ms < s3->backoff_ms)
        s3->backoff_max_ms = s3->backoff_ms;
    s3->max_parallel = opts->max_parallel > 0 ? opts->max_parallel : 8;
    s3->bc = (S3BucketContext)
    {
        .hostName = s3->endpoint, .bucketName = s3->bucket,
        .protocol = opts->https ? S3ProtocolHTTPS : S3ProtocolHTTP, .uriStyle = style,
        .accessKeyId = s3->access_key, .secretAccessKey = s3->secret_key,
#if KF_S3_SIGV4
        .authRegion = s3->region,
#endif
    };
    return s3;
oom:
    kf_errf(errstr, errstr_size, "out of memory");
    s3io_free(s3);
    return NULL;
}

void s3io_stats_get(const s3io *s3, struct s3io_stats *out)
{
    *out = (struct s3io_stats){0};
    if (!s3)
        return;
    /* atomic_load wants a non-const object on some compilers */
    s3io *m = (s3io *)s3;
    out->put_requests = atomic_load(&m->n_put);
    out->get_requests = atomic_load(&m->n_get);
    out->head_requests = atomic_load(&m->n_head);
    out->delete_requests = atomic_load(&m->n_delete);
    out->list_requests = atomic_load(&m->n_list);
    out->retries = atomic_load(&m->n_retries);
    out->failures = atomic_load(&m->n_failures);
    out->bytes_out = atomic_load(&m->bytes_out);
    out->bytes_in = atomic_load(&m->bytes_in);
}
