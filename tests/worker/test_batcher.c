/* Every submitted request comes back exactly once, with its own rows'
 * outputs, in batches no larger than max_batch_rows, on the version it asked for. */
#include "tests/lib/kf_test.h"
#include "common/kf_clock.h"
#include "worker/batcher.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>

struct req {
    struct batch_item item;
    float in[4 * 3];
    int id;
    atomic_int answered;
    int err;
    char version[64];
    float out0;
};

enum { NREQ = 3000 };
static struct req reqs[NREQ];
static atomic_int done_count, max_batch_seen;
static size_t max_rows = 16;

/* out[r][0] = sum of the row, out[r][1] = version's seq: checks both routing and rows. */
static int fake_run(void *ctx, struct slot_version *v, const float *in, size_t rows, float *out)
{
    for (size_t r = 0; r < rows; r++) {
        out[r * 2] = in[r * 3] + in[r * 3 + 1] + in[r * 3 + 2];
        out[r * 2 + 1] = (float)v->seq;
    }
    return 0;
}

static void fake_done(void *ctx, struct batch_item **items, size_t n, const float *outputs,
                      size_t output_width, const struct slot_version *v, int err,
                      const struct batch_timing *t)
{
    size_t r = 0;
    if ((int)t->batch_rows > atomic_load(&max_batch_seen))
        atomic_store(&max_batch_seen, (int)t->batch_rows);
    for (size_t i = 0; i < n; i++) {
        struct req *q = items[i]->opaque;
        q->err = err;
        if (!err) {
            snprintf(q->version, sizeof(q->version), "%s", v->version);
            q->out0 = outputs[r * output_width];
            float want = q->in[0] + q->in[1] + q->in[2];
            KT_ASSERT_MSG(q->out0 == want, "request %d got another row's output", q->id);
            KT_ASSERT(outputs[r * output_width + 1] == (float)v->seq);
        }
        r += items[i]->rows;
        atomic_fetch_add(&q->answered, 1);
        atomic_fetch_add(&done_count, 1);
    }
}

static void noop_destroy(struct slot_version *v)
{
    free(v);
}

static struct slot_version *version(const char *name, uint64_t seq, size_t in_w)
{
    struct slot_version *v = calloc(1, sizeof(*v));
    snprintf(v->version, sizeof(v->version), "%s", name);
    v->seq = seq;
    v->input_width = in_w;
    v->output_width = 2;
    v->destroy = noop_destroy;
    return v;
}

static batcher *shared;

static void *submitter(void *arg)
{
    int part = (int)(intptr_t)arg;
    for (int i = part; i < NREQ; i += 4) {
        struct req *q = &reqs[i];
        KT_ASSERT_INT_EQ(batcher_submit(shared, &q->item), 0);
    }
    return NULL;
}

static void test_all_answered_once(void)
{
    model_slot *slot = slot_new("m");
    slot_activate(slot, version("v1", 1, 3));
    slot_stage(slot, version("v2", 2, 3));
    struct batcher_conf conf = {
        .max_batch_rows = max_rows, .max_delay_us = 200, .run = fake_run, .done = fake_done};
    shared = batcher_new(slot, &conf);
    KT_ASSERT(shared);
    for (int i = 0; i < NREQ; i++) {
        struct req *q = &reqs[i];
        q->id = i;
        size_t rows = 1 + (size_t)(i % 4);
        for (size_t k = 0; k < rows * 3; k++)
            q->in[k] = (float)(i * 7 + (int)k);
        q->item = (struct batch_item){.input = q->in,
                                      .rows = rows,
                                      .width = 3,
                                      .opaque = q,
                                      .pin_version = i % 10 == 0   ? "v2"
                                                     : i % 10 == 5 ? "v1"
                                                                   : NULL};
    }
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        pthread_create(&t[i], NULL, submitter, (void *)(intptr_t)i);
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    batcher_drain(shared);
    KT_ASSERT_INT_EQ(batcher_pending_rows(shared), 0);
    KT_ASSERT_INT_EQ(atomic_load(&done_count), NREQ);
    for (int i = 0; i < NREQ; i++) {
        KT_ASSERT_INT_EQ(atomic_load(&reqs[i].answered), 1);
        /* v2 is only staged: a pin on it is refused, one on live v1 served. */
        KT_ASSERT_INT_EQ(reqs[i].err, i % 10 == 0 ? -ENOENT : 0);
        if (i % 10)
            KT_ASSERT_STR_EQ(reqs[i].version, "v1");
    }
    KT_ASSERT(atomic_load(&max_batch_seen) <= (int)max_rows);
    batcher_free(shared);
    slot_free(slot);
}

static void test_errors_are_per_request(void)
{
    model_slot *slot = slot_new("m");
    struct batcher_conf conf = {.max_batch_rows = 8, .run = fake_run, .done = fake_done};
    batcher *b = batcher_new(slot, &conf);
    atomic_store(&done_count, 0);
    struct req *q = &reqs[0];
    atomic_store(&q->answered, 0);
    q->item = (struct batch_item){.input = q->in, .rows = 1, .width = 3, .opaque = q};
    KT_ASSERT_INT_EQ(batcher_submit(b, &q->item), 0);
    batcher_drain(b);
    KT_ASSERT_INT_EQ(q->err, -ENOENT); /* nothing loaded yet */

    slot_activate(slot, version("v1", 1, 3));
    struct req *good = &reqs[1], *bad = &reqs[2];
    good->item = (struct batch_item){.input = good->in, .rows = 1, .width = 3, .opaque = good};
    bad->item = (struct batch_item){.input = bad->in, .rows = 1, .width = 5, .opaque = bad};
    batcher_submit(b, &bad->item);
    batcher_submit(b, &good->item);
    batcher_drain(b);
    KT_ASSERT_INT_EQ(bad->err, -EINVAL);
    KT_ASSERT_INT_EQ(good->err, 0);
    batcher_free(b);
    slot_free(slot);
}

/* Requests whose deadline passes while queued come back -ETIME, one by one,
 * without reaching the backend; their live neighbours are computed. The first
 * batch holds the (one) inference thread until the test has queued the rest
 * and the wall clock has passed their deadline: no timing is hoped for. */
static atomic_int runs, first_running, release_first;

static int slow_run(void *ctx, struct slot_version *v, const float *in, size_t rows, float *out)
{
    if (atomic_fetch_add(&runs, (int)rows) == 0) {
        atomic_store(&first_running, 1);
        int64_t until = kf_clock_mono_us() + 60000000;
        while (!atomic_load(&release_first) && kf_clock_mono_us() < until)
            kf_sleep_ms(1);
    }
    return fake_run(ctx, v, in, rows, out);
}

static void test_deadline_checked_at_batch_time(void)
{
    model_slot *slot = slot_new("m");
    slot_activate(slot, version("v1", 1, 3));
    struct batcher_conf conf = {.max_batch_rows = 1, .run = slow_run, .done = fake_done};
    batcher *b = batcher_new(slot, &conf);
    atomic_store(&runs, 0);
    atomic_store(&first_running, 0);
    atomic_store(&release_first, 0);
    for (int i = 0; i < 6; i++) {
        reqs[i].err = 1;
        atomic_store(&reqs[i].answered, 0);
    }
    /* Request 0 has a deadline a minute away: taken at once, computed. */
    reqs[0].item = (struct batch_item){.input = reqs[0].in,
                                       .rows = 1,
                                       .width = 3,
                                       .opaque = &reqs[0],
                                       .deadline_ms = kf_clock_wall_ms() + 60000};
    KT_ASSERT_INT_EQ(batcher_submit(b, &reqs[0].item), 0);
    int64_t until = kf_clock_mono_us() + 30000000;
    while (!atomic_load(&first_running) && kf_clock_mono_us() < until)
        kf_sleep_ms(1);
    KT_ASSERT_MSG(atomic_load(&first_running), "the first batch did not start within 30 s");
    /* 2 and 4 expire 20 ms from now, queued behind the held batch; 1, 3, 5 have none. */
    int64_t expiry = kf_clock_wall_ms() + 20;
    for (int i = 1; i < 6; i++) {
        struct req *q = &reqs[i];
        q->item = (struct batch_item){
            .input = q->in, .rows = 1, .width = 3, .opaque = q, .deadline_ms = i % 2 ? 0 : expiry};
        KT_ASSERT_INT_EQ(batcher_submit(b, &q->item), 0);
    }
    while (kf_clock_wall_ms() <= expiry)
        kf_sleep_ms(1);
    atomic_store(&release_first, 1);
    batcher_drain(b);
    for (int i = 0; i < 6; i++) {
        KT_ASSERT_INT_EQ(atomic_load(&reqs[i].answered), 1);
        KT_ASSERT_MSG(reqs[i].err == (i == 0 || i % 2 ? 0 : -ETIME), "request %d: err %d", i,
                      reqs[i].err);
    }
    KT_ASSERT_INT_EQ(atomic_load(&runs), 4); /* the two expired rows never ran */
    batcher_free(b);
    slot_free(slot);
}

int main(void)
{
    KT_RUN(test_all_answered_once);
    KT_RUN(test_errors_are_per_request);
    KT_RUN(test_deadline_checked_at_batch_time);
    return 0;
}
