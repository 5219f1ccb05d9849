/* Row 2: answers larger than the broker takes. Two workers under a constant
 * load; the fleet's responses topic takes at most 32 KiB a record
 * (max.message.bytes), so a 4096-row request's answer (64 KiB of outputs)
 * is refused by the broker (a failed delivery), and a model with 2048
 * outputs answers 160 rows with 1.3 MB, over librdkafka's own
 * message.max.bytes (a produce that fails at once). Each must be answered
 * with a small error, dead-lettered, and settled: the partition's committed
 * offset passes it and nothing else is lost. */
#include "tests/faults/faults.h"
#include "tests/faults/kt_probe.h"
#include "tests/faults/kt_row.h"

#include "schema/req.h"
#include "schema/resp.h"

#include <inttypes.h>

#define WORKERS 2
#define ROUNDS 3
#define BIG_ROWS 4096 /* × 4 outputs × 4 bytes = 64 KiB > 32 KiB */
#define WIDE_OUT 2048 /* outputs of the wide model */
#define WIDE_ROWS 160 /* × 2048 × 4 bytes = 1.3 MB > 1 MB */

static void send_rows(struct kt_env *e, const char *model, const char *id, uint32_t rows,
                      int32_t part)
{
    float *in = malloc((size_t)rows * 8 * sizeof(float));
    KT_ASSERT(in);
    kt_load_inputs(1, rows, 8, in);
    struct req rq = {
        .v = REQ_VERSION,
        .id = {(const uint8_t *)id, strlen(id)},
        .model = {(const uint8_t *)model, strlen(model)},
        .inputs = {
            SCHEMA_DTYPE_F32, rows, 8, {(const uint8_t *)in, (size_t)rows * 8 * sizeof(float)}}};
    kf_buf v;
    kf_buf_init(&v);
    KT_ASSERT_INT_EQ(req_encode(&rq, &v), 0);
    struct kio_out_msg m = {.topic = e->t_req,
                            .partition = part,
                            .key = {(const uint8_t *)id, strlen(id)},
                            .value = v.ptr,
                            .value_len = v.len};
    KT_ASSERT_INT_EQ(kio_producer_send(e->prod, &m, KIO_SEND_COPY | KIO_SEND_BLOCK), 0);
    KT_ASSERT_INT_EQ(kio_producer_flush(e->prod, 10000), 0);
    kf_buf_fini(&v);
    free(in);
}

int fault_too_large(const char *worker_bin)
{
    static struct kt_env env;
    struct kt_env *e = &env;
    const char *resp_cfg[] = {"max.message.bytes", "32768", NULL};
    struct kt_env_opts eo = {.resp_cfg = resp_cfg};
    kt_env_init_opts(e, "toolarge", worker_bin, 4, &eo);
    struct kt_row row;
    kt_row_init(&row, "2", "answer larger than the broker's limit", e);
    printf("# toolarge: topics *.%s, logs in %s\n", e->sfx, e->dir);

    struct kt_version v1, wide;
    kt_env_version(e, "v1", 1, 0, NULL, &v1);
    char wide_model[128];
    snprintf(wide_model, sizeof(wide_model), "wide-%s", e->sfx);
    struct kt_spec ws = kt_env_spec(e, "v1", 9);
    ws.model = wide_model;
    ws.widths[1] = WIDE_OUT;
    kt_version_build(&ws, &e->trusted, &wide);
    kt_version_publish(e->os, &wide);
    kt_env_announce(e, &v1, 1, NULL, &e->trusted);
    kt_env_announce(e, &wide, 1, NULL, &e->trusted);
    for (int i = 0; i < WORKERS; i++)
        kt_env_worker_start(e, i, NULL);

    struct kt_load_opts lo = {.rate = 100, .keep_others = true};
    struct kt_load *load = kt_load_new(e, &lo);
    kt_load_expect(load, &v1);
    kt_load_start(load);
    kt_load_warm(load, 0.5, 30);
    kt_row_sleep(&row, 3000);
    kt_load_phase(load, KT_PHASE_DURING);
    for (int round = 0; round < ROUNDS; round++) {
        char id[32];
        snprintf(id, sizeof(id), "B%d", round);
        send_rows(e, e->model, id, BIG_ROWS, (2 * round) % e->partitions);
        snprintf(id, sizeof(id), "W%d", round);
        send_rows(e, wide_model, id, WIDE_ROWS, (2 * round + 1) % e->partitions);
        kt_row_sleep(&row, 3000);
    }
    kt_load_phase(load, KT_PHASE_AFTER);
    kt_row_sleep(&row, 3000);
    int64_t lost = kt_load_drain(load, 60);
    struct kt_load_stats st;
    kt_load_stats(load, &st);
    kt_row_reap(&row);

    int64_t uncommitted = -1;
    for (int t = 0; t < 100 && uncommitted != 0; t++) {
        uncommitted = kt_probe_uncommitted(e);
        if (uncommitted)
            kt_row_sleep(&row, 200);
    }
    struct kt_dlq_rec *dlq = NULL;
    size_t n_dlq = kt_probe_dlq(e, &dlq);
    int settled = 0;
    for (int round = 0; round < ROUNDS; round++)
        for (int k = 0; k < 2; k++) {
            char id[32];
            snprintf(id, sizeof(id), "%c%d", k ? 'W' : 'B', round);
            const char *what = k ? "1.3 MB answer (over the client's limit)"
                                 : "64 KiB answer (over the topic's 32 KiB)";
            struct kt_other ans;
            bool answered = kt_load_other(load, id, &ans);
            bool code_ok = answered && ans.status == RESP_ERROR &&
                           (!strcmp(ans.code, "too_large") || !strcmp(ans.code, "delivery_failed"));
            kt_row_check(&row, code_ok && ans.count == 1,
                         "%s, %s: one small error answer (%s, %d answer(s))", id, what,
                         answered ? ans.code : "none", answered ? ans.count : 0);
            const struct kt_dlq_rec *d = kt_probe_dlq_find(dlq, n_dlq, id);
            kt_row_check(&row,
                         d && d->reason[0] &&
                             (!strcmp(d->code, "too_large") || !strcmp(d->code, "delivery_failed")),
                         "%s: dead-lettered with code '%s', reason '%s'", id, d ? d->code : "none",
                         d ? d->reason : "");
            int64_t committed = d ? kt_probe_committed(e, d->partition) : -1;
            kt_row_check(&row, d && committed > d->offset,
                         "%s: partition %d committed past its offset %" PRId64 " (at %" PRId64 ")",
                         id, d ? d->partition : -1, d ? d->offset : (int64_t)-1, committed);
            settled += d && committed > d->offset;
        }
    kt_row_check(&row, uncommitted == 0, "every record settled and committed (%" PRId64 " left)",
                 uncommitted);
    kt_row_check(&row, lost == 0 && st.lost == 0,
                 "0 of %" PRId64 " other requests lost (%" PRId64 ")", st.sent, st.lost);
    char codes[200];
    kt_load_codes(load, codes, sizeof(codes));
    kt_row_check(&row, st.wrong == 0 && st.errors == 0,
                 "every other answer ok and right (%" PRId64 " wrong, %" PRId64 " errors %s)",
                 st.wrong, st.errors, codes);
    kt_row_check(&row, row.exits == 0, "no worker exits (%d)", row.exits);
    kt_row_stop_workers(&row);
    free(dlq);

    char what[400], recover[96], a[32];
    snprintf(what, sizeof(what),
             "%d workers, %d req/s; responses topic max.message.bytes=32768; %d rounds of a "
             "%d-row request (64 KiB answer, refused by the broker) and a %d-row request to a "
             "%d-output model (1.3 MB answer, refused by the client): %d of %d answered with an "
             "error, dead-lettered and committed past",
             WORKERS, lo.rate, ROUNDS, BIG_ROWS, WIDE_ROWS, WIDE_OUT, settled, 2 * ROUNDS);
    snprintf(recover, sizeof(recover), "no interruption (max latency %s)",
             kt_row_secs(st.max_all_s, a, sizeof(a)));
    int rc = kt_row_finish(&row, what, &st, recover);
    kt_load_free(load);
    kt_version_fini(&v1);
    kt_version_fini(&wide);
    kt_env_fini(e);
    return rc;
}
