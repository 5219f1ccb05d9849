/* The request loop under every s3io call: ops run on one libs3 request
 * context (a curl multi handle), driven by select() + S3_runonce, so several
 * requests share one thread; each op retries on its own with back-off; one
 * deadline bounds the whole call.
 *
 * Why not S3_runall_request_context: it has no deadline. libs3 2.0 takes no
 * per-request timeout either (curl's only limit there is "below 1 KiB/s for
 * 15 s"), so the deadline is ours: when it passes, destroying the context
 * aborts what is in flight, and libs3 completes those requests with
 * S3StatusInterrupted. */
#include "common/kf_clock.h"
#include "common/kf_log.h"
#include "common/s3io_impl.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>

#define MOD "s3io"

pthread_mutex_t s3io_issue_lock = PTHREAD_MUTEX_INITIALIZER;

/* Longest single wait, so a missed wake-up costs at most this much. */
#define MAX_WAIT_US (50 * 1000)

void s3io_op_init(struct s3io_op *op, s3io *s3, enum s3io_op_kind kind, const char *key)
{
    memset(op, 0, sizeof(*op));
    op->kind = kind;
    op->key = key;
    op->s3 = s3;
    op->status = S3StatusOK;
}

S3Status s3io_on_properties(const S3ResponseProperties *props, void *data)
{
    struct s3io_op *op = data;
    if (op->kind == S3IO_OP_HEAD) {
        op->size = props->contentLength;
        op->etag[0] = '\0';
        const char *e = props->eTag;
        size_t n = e ? strlen(e) : 0;
        if (n >= 2 && e[0] == '"' && e[n - 1] == '"')
            e++, n -= 2;
        if (n && n < sizeof(op->etag)) {
            memcpy(op->etag, e, n);
            op->etag[n] = '\0';
        }
    } else if (op->kind == S3IO_OP_GET)
        op->attempt_expect = props->contentLength;
    return S3StatusOK;
}

void s3io_on_complete(S3Status status, const S3ErrorDetails *details, void *data)
{
    struct s3io_op *op = data;
    op->status = status;
    op->detail[0] = '\0';
    if (status != S3StatusOK && details && details->message)
        snprintf(op->detail, sizeof(op->detail), "%s", details->message);
    op->attempt_done = true;
}

/* A request context: libs3's S3RequestContext, or the SigV4 transport's
 * curl multi handle. Either caches connections. */
static void ctx_free(const s3io *s3, void *ctx)
{
    if (s3->v4)
        s3io_v4_ctx_free(ctx);
    else if (ctx)
        S3_destroy_request_context(ctx);
}

static void *ctx_get(s3io *s3)
{
    void *ctx = NULL;
    pthread_mutex_lock(&s3->pool_lock);
    if (s3->pool_count > 0)
        ctx = s3->pool[--s3->pool_count];
    pthread_mutex_unlock(&s3->pool_lock);
    if (ctx)
        return ctx;
    if (s3->v4)
        return s3io_v4_ctx_new();
    S3RequestContext *c = NULL;
    return S3_create_request_context(&c) == S3StatusOK ? c : NULL;
}

/* Keep an idle context: it caches the connections. */
static void ctx_put(s3io *s3, void *ctx)
{
    pthread_mutex_lock(&s3->pool_lock);
    if (s3->pool_count < S3IO_CTX_POOL) {
        s3->pool[s3->pool_count++] = ctx;
        ctx = NULL;
    }
    pthread_mutex_unlock(&s3->pool_lock);
    if (ctx)
        ctx_free(s3, ctx);
}

static void count_issue(s3io *s3, const struct s3io_op *op)
{
    switch (op->kind) {
    case S3IO_OP_PUT: atomic_fetch_add(&s3->n_put, 1); break;
    case S3IO_OP_GET: atomic_fetch_add(&s3->n_get, 1); break;
    case S3IO_OP_HEAD: atomic_fetch_add(&s3->n_head, 1); break;
    case S3IO_OP_DELETE: atomic_fetch_add(&s3->n_delete, 1); break;
    case S3IO_OP_LIST: atomic_fetch_add(&s3->n_list, 1); break;
    case S3IO_OP_BUCKET_CREATE: break;
    }
    if (op->attempts > 1)
        atomic_fetch_add(&s3->n_retries, 1);
}

static void issue(struct s3io_op *op, void *ctx, int timeout_ms)
{
    op->attempts++;
    op->attempt_done = false;
    op->attempt_got = op->attempt_expect = 0;
    op->cb_err = 0;
    op->state = S3IO_OP_RUNNING;
    count_issue(op->s3, op);
    if (op->s3->v4) {
        op->detail[0] = '\0'; /* the transport may write a reason of its own here */
        s3io_v4_issue(op, ctx, timeout_ms);
        return;
    }
    pthread_mutex_lock(&s3io_issue_lock);
    switch (op->kind) {
    case S3IO_OP_PUT: s3io_put_issue(op, ctx, timeout_ms); break;
    case S3IO_OP_GET: s3io_get_issue(op, ctx, timeout_ms); break;
    case S3IO_OP_LIST: s3io_list_issue(op, ctx, timeout_ms); break;
    case S3IO_OP_HEAD:
    case S3IO_OP_DELETE:
    case S3IO_OP_BUCKET_CREATE: s3io_object_issue(op, ctx, timeout_ms); break;
    }
    pthread_mutex_unlock(&s3io_issue_lock);
}

/* Exponential back-off with jitter in [d/2, d]: retries of parallel requests
 * against one struggling server should not arrive in lock-step. */
static int64_t backoff_us(const s3io *s3, int attempts)
{
    int64_t d = (int64_t)s3->backoff_ms * 1000;
    for (int i = 1; i < attempts && d < (int64_t)s3->backoff_max_ms * 1000; i++)
        d *= 2;
    if (d > (int64_t)s3->backoff_max_ms * 1000)
        d = (int64_t)s3->backoff_max_ms * 1000;
    unsigned r = (unsigned)kf_clock_mono_us() * 2654435761u;
    return d / 2 + (int64_t)(r % (unsigned)(d / 2 + 1));
}

/* Decide what follows a finished attempt. */
static void attempt_finished(struct s3io_op *op, int64_t now, int64_t deadline)
{
    s3io *s3 = op->s3;
    op->attempt_done = false;
    S3Status st = op->status;
    if (op->cb_err) {
        /* A caller's callback (or s3io's own check) stopped the request.
         * libs3 2.0 ignores a list callback's status when it runs at the end
         * of the response, so this is checked whatever the status says. */
        op->result = op->cb_err;
        op->state = S3IO_OP_DONE;
        return;
    }
    if (op->kind == S3IO_OP_GET && st == S3StatusOK && op->attempt_expect &&
        op->attempt_got < op->attempt_expect) {
        /* Truncated body reported as success: retry the rest. */
        snprintf(op->detail, sizeof(op->detail), "body cut short: %llu of %llu bytes",
                 (unsigned long long)op->attempt_got, (unsigned long long)op->attempt_expect);
        st = op->status = S3StatusConnectionFailed;
    }
    /* A resumed read-to-the-end that had in fact received everything. */
    if (op->kind == S3IO_OP_GET && st == S3StatusErrorInvalidRange && op->got > 0 && !op->len)
        st = S3StatusOK;
    if (st == S3StatusOK) {
        if (op->kind == S3IO_OP_LIST && op->truncated) {
            /* The next page: a continuation, not a retry. */
            op->state = S3IO_OP_WAITING;
            op->next_try_us = now;
            op->attempts = 0;
            return;
        }
        op->result = 0;
        if (op->kind == S3IO_OP_GET && op->len && op->got < op->len) {
            /* The server clipped the range: the object is shorter. */
            snprintf(op->detail, sizeof(op->detail), "got %llu of %llu bytes",
                     (unsigned long long)op->got, (unsigned long long)op->len);
            op->result = -ERANGE;
        }
        if (op->kind == S3IO_OP_PUT && !op->result)
            atomic_fetch_add(&s3->bytes_out, op->put_len);
        op->state = S3IO_OP_DONE;
        return;
    }
    if (s3io_status_retriable(st)) {
        int64_t wait = backoff_us(s3, op->attempts);
        if (now + wait < deadline) {
            KF_LOG_D(MOD, "%s: attempt %d: %s; retrying in %lld ms", op->key ? op->key : "",
                     op->attempts, S3_get_status_name(st), (long long)(wait / 1000));
            op->state = S3IO_OP_WAITING;
            op->next_try_us = now + wait;
            return;
        }
    }
    op->result = s3io_err_from_status(st);
    op->state = S3IO_OP_DONE;
}

static void wait_for_io(S3RequestContext *ctx, int64_t wait_us)
{
    fd_set r, w, x;
    int maxfd = -1;
    FD_ZERO(&r);
    FD_ZERO(&w);
    FD_ZERO(&x);
    if (S3_get_request_context_fdsets(ctx, &r, &w, &x, &maxfd) != S3StatusOK)
        maxfd = -1;
    int64_t curl_ms = S3_get_request_context_timeout(ctx);
    if (curl_ms >= 0 && curl_ms * 1000 < wait_us)
        wait_us = curl_ms * 1000;
    /* No socket yet (connect or resolve still being set up): poll briefly. */
    if (maxfd < 0 && wait_us > 5000)
        wait_us = 5000;
    if (wait_us <= 0)
        return;
    struct timeval tv = {.tv_sec = wait_us / 1000000, .tv_usec = wait_us % 1000000};
    select(maxfd + 1, maxfd >= 0 ? &r : NULL, maxfd >= 0 ? &w : NULL, maxfd >= 0 ? &x : NULL, &tv);
}

int s3io_run(s3io *s3, struct s3io_op **ops, size_t count, int timeout_ms, char *errstr,
             size_t errstr_size)
{
    if (timeout_ms <= 0)
        timeout_ms = s3->timeout_ms;
    int64_t now = kf_clock_mono_us();
    const int64_t deadline = now + (int64_t)timeout_ms * 1000;
    size_t done = 0;
    int running = 0;
    void *ctx = ctx_get(s3);
    for (size_t i = 0; i < count; i++) {
        ops[i]->state = S3IO_OP_WAITING;
        ops[i]->next_try_us = now;
        ops[i]->attempts = 0;
        ops[i]->attempt_done = false;
        if (!ctx) {
            ops[i]->result = -ENOMEM;
            ops[i]->state = S3IO_OP_DONE;
            done++;
        }
    }

    while (done < count) {
        now = kf_clock_mono_us();
        for (size_t i = 0; i < count; i++) {
            if (!ops[i]->attempt_done)
                continue;
            running--;
            attempt_finished(ops[i], now, deadline);
            if (ops[i]->state == S3IO_OP_DONE)
                done++;
        }
        if (done == count || now >= deadline)
            break;
        int64_t wait_us = deadline - now;
        if (wait_us > MAX_WAIT_US)
            wait_us = MAX_WAIT_US;
        bool started = false;
        for (size_t i = 0; i < count; i++) {
            struct s3io_op *op = ops[i];
            if (op->state != S3IO_OP_WAITING)
                continue;
            if (op->next_try_us <= now && running < s3->max_parallel) {
                issue(op, ctx, (int)((deadline - now) / 1000));
                running++;
                started = true;
            } else if (op->next_try_us > now && op->next_try_us - now < wait_us) {
                wait_us = op->next_try_us - now;
            }
        }
        if (started)
            continue; /* an attempt may have failed synchronously: look first */
        if (running > 0 && s3->v4) {
            s3io_v4_run_once(ctx, wait_us);
        } else if (running > 0) {
            wait_for_io(ctx, wait_us);
            int remaining = 0;
            S3Status st = S3_runonce_request_context(ctx, &remaining);
            if (st != S3StatusOK)
                KF_LOG_W(MOD, "request loop: %s", S3_get_status_name(st));
        } else if (wait_us > 0) {
            kf_sleep_ms((wait_us + 999) / 1000);
        }
    }

    if (done < count) {
        /* Deadline: abort what is in flight (their complete callbacks run
         * now, with S3StatusInterrupted); what waits in back-off keeps the
         * error of its last attempt, which says more than "timed out". */
        for (size_t i = 0; s3->v4 && i < count; i++)
            if (ops[i]->v4)
                s3io_v4_abort(ops[i], ctx);
        ctx_free(s3, ctx);
        ctx = NULL;
        for (size_t i = 0; i < count; i++) {
            struct s3io_op *op = ops[i];
            if (op->state == S3IO_OP_DONE)
                continue;
            if (op->state == S3IO_OP_RUNNING || op->attempts == 0)
                op->result = -ETIMEDOUT;
            else
                op->result = s3io_err_from_status(op->status);
            op->state = S3IO_OP_DONE;
        }
    }
    if (ctx)
        ctx_put(s3, ctx);

    int ret = 0;
    for (size_t i = 0; i < count; i++) {
        if (!ops[i]->result)
            continue;
        atomic_fetch_add(&s3->n_failures, 1);
        if (!ret) {
            ret = ops[i]->result;
            s3io_op_errstr(ops[i], ret, timeout_ms, errstr, errstr_size);
        }
    }
    return ret;
}
