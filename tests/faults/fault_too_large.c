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

static void send_rows(struct kt_row *row, const char *model, const char *id, uint32_t rows,
                      int32_t part)
{
    kf_buf v;
    kf_buf_init(&v);
    kt_load_request(&v, id, model, 1, rows, 8, NULL, 0);
    kt_row_send(row, id, part, &v);
    kf_buf_fini(&v);
}

int fault_too_large(const char *worker_bin)
{
    static struct kt_row row;
    const char *resp_cfg[] = {"max.message.bytes", "32768", NULL};
    struct kt_env_opts eo = {.resp_cfg = resp_cfg};
    kt_row_begin(&row, "2", "answer larger than the broker's limit", "toolarge", worker_bin, 4,
                 &eo);
    struct kt_env *e = row.e;

    struct kt_version v1, wide;
    char wide_model[128];
    snprintf(wide_model, sizeof(wide_model), "wide-%s", e->sfx);
    struct kt_spec ws = kt_env_spec(e, "v1", 9);
    ws.model = wide_model;
    ws.widths[1] = WIDE_OUT;
    kt_version_build(&ws, &e->trusted, &wide);
    kt_version_publish(e->os, &wide);
    kt_env_announce(e, &wide, 1, NULL, &e->trusted);
    /* A topic whose max.message.bytes is below librdkafka's batch.size (1 MB)
     * needs producers that batch no more than it takes: Kafka refuses a
     * whole batch, and librdkafka 2.0.2 does not split it, so small answers
     * batched with a big one would fail with it (docs/operations.md). */
    const char *extra[] = {"kafka.batch.size=16384", NULL};
    kt_row_fleet(&row, &v1, 0, WORKERS, extra);

    struct kt_load_opts lo = {.rate = 100, .keep_others = true};
    struct kt_load *load = kt_row_load(&row, &lo, &v1);
    kt_row_fault_begins(&row, load, 3000);
    for (int round = 0; round < ROUNDS; round++) {
        char id[32];
        snprintf(id, sizeof(id), "B%d", round);
        send_rows(&row, e->model, id, BIG_ROWS, (2 * round) % e->partitions);
        snprintf(id, sizeof(id), "W%d", round);
        send_rows(&row, wide_model, id, WIDE_ROWS, (2 * round + 1) % e->partitions);
        kt_row_sleep(&row, 3000);
    }
    struct kt_load_stats st;
    int64_t lost = kt_row_drain(&row, load, 3000, 60, &st);
    kt_row_check_settled(&row, 20);
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
    kt_row_check_load(&row, load, lost, &st, "the other requests");
    kt_row_stop_workers(&row);
    free(dlq);

    char what[400];
    snprintf(what, sizeof(what),
             "%d workers (batch.size 16 KiB), %d req/s; responses topic max.message.bytes=32768; "
             "%d rounds of a %d-row request (64 KiB answer, refused by the broker) and a %d-row "
             "request to a %d-output model (1.3 MB answer, refused by the client): %d of %d "
             "answered with an error, dead-lettered and committed past",
             WORKERS, lo.rate, ROUNDS, BIG_ROWS, WIDE_ROWS, WIDE_OUT, settled, 2 * ROUNDS);
    kt_load_free(load);
    kt_version_fini(&v1);
    kt_version_fini(&wide);
    return kt_row_finish(&row, what, &st, NULL);
}
