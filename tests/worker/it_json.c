/* JSON requests end to end (issue 18; docs/schema.md "JSON requests"): the
 * real kfleet-worker, broker and S3Proxy. Requests for the same inputs go as
 * msgpack (the ledger, checked against the reference backend), as JSON with
 * a list of numbers and as JSON with base64 data; the JSON answers are one
 * JSON line each whose outputs equal the msgpack answers'. Then malformed,
 * wrong-typed, oversized and unaddressed JSON requests: each gets the
 * documented JSON error answer (or none, when it has no id) and a DLQ copy of
 * its bytes with the reason, and a good request after them is still served.
 *
 * Last, `kfleetctl trace` follows a JSON request and its answers (with eos
 * too: a transactional topic ends in a commit marker, past the last record;
 * trace reads to the partition's end as librdkafka reports it).
 *
 *   it_json KFLEET_WORKER KFLEETCTL [eos]
 *
 * eos: the worker answers exactly once (delivery=exactly_once): the JSON
 * answers and DLQ copies go through the same transactions, and the readers
 * read committed records only.
 */
#include "common/crypto.h"
#include "common/kf_clock.h"
#include "schema/req.h"
#include "tests/worker/kt_ctl.h"
#include "tests/worker/kt_e2e.h"
#include "tests/worker/kt_outputs.h"

#include <jansson.h>
#include <math.h>

#define N_INPUTS 3
/* The worker's limits.max_bytes: 1 024 f32 numbers, so an array of 2 000 is too large. */
#define LIMIT_BYTES 4096

static struct kt_env env;

static void send_text(const char *id, const char *text)
{
    struct kio_out_msg m = {.topic = env.t_req,
                            .partition = 0,
                            .key = {(const uint8_t *)id, strlen(id)},
                            .value = (void *)text,
                            .value_len = strlen(text)};
    KT_ASSERT_INT_EQ(kio_producer_send(env.prod, &m, KIO_SEND_COPY | KIO_SEND_BLOCK), 0);
}

/* Request @p i's input (kt_env_request_input) as a JSON list or base64. */
static void send_json_input(char *id, size_t idsz, const char *prefix, int i, bool base64)
{
    float row[KT_REQUEST_COLS];
    kt_env_request_input(i, row);
    snprintf(id, idsz, "%s%c%d", prefix, base64 ? 'b' : 'j', i);
    kf_buf t;
    kf_buf_init(&t);
    KT_ASSERT_INT_EQ(kf_buf_appendf(&t,
                                    "{\"v\": 1, \"id\": \"%s\", \"model\": \"%s\",\n \"inputs\": "
                                    "{\"dtype\": \"f32\", \"shape\": [1, %d], \"data\": ",
                                    id, env.model, KT_REQUEST_COLS),
                     0);
    if (base64) {
        uint8_t le[4 * KT_REQUEST_COLS];
        for (int k = 0; k < KT_REQUEST_COLS; k++) {
            uint32_t bits;
            memcpy(&bits, &row[k], 4);
            for (int b = 0; b < 4; b++)
                le[4 * k + b] = (uint8_t)(bits >> (8 * b));
        }
        char text[64];
        crypto_base64_encode(le, sizeof(le), text);
        KT_ASSERT_INT_EQ(kf_buf_appendf(&t, "\"%s\"}}", text), 0);
    } else {
        for (int k = 0; k < KT_REQUEST_COLS; k++)
            KT_ASSERT_INT_EQ(kf_buf_appendf(&t, "%s%.9g", k ? ", " : "[", (double)row[k]), 0);
        KT_ASSERT_INT_EQ(kf_buf_appendf(&t, "]}}"), 0);
    }
    KT_ASSERT_INT_EQ(kf_buf_append(&t, "", 1), 0);
    send_text(id, (const char *)t.ptr);
    kf_buf_fini(&t);
}

/* The answers expected: by id, what each must say. */
struct want {
    const char *id;
    const char *status; /* "ok", "error" */
    const char *code;   /* error.code */
    const char *text;   /* in error.message */
    int input;          /* ok: the ledger's request whose outputs it must equal */
    bool base64;        /* ok: outputs.data is base64 */
    bool seen;
    int64_t src_off; /* the request's offset (kfleet-source-offset) */
};

static void check_ok(const struct want *w, json_t *j)
{
    json_t *out = json_object_get(j, "outputs");
    json_t *shape = json_object_get(out, "shape"), *data = json_object_get(out, "data");
    const struct kt_answer *a = &env.answers[w->input];
    KT_ASSERT_STR_EQ(json_string_value(json_object_get(out, "dtype")), "f32");
    KT_ASSERT(json_integer_value(json_array_get(shape, 0)) == 1);
    KT_ASSERT(json_integer_value(json_array_get(shape, 1)) == (json_int_t)a->cols);
    float got[KT_ANSWER_MAX_COLS];
    if (w->base64) {
        uint8_t le[4 * KT_ANSWER_MAX_COLS];
        const char *s = json_string_value(data);
        KT_ASSERT_MSG(s, "%s: outputs.data is not a base64 string", w->id);
        KT_ASSERT_INT_EQ(crypto_base64_decode(s, strlen(s), le, sizeof(le)), (int)(4 * a->cols));
        memcpy(got, le, 4 * a->cols);
    } else {
        KT_ASSERT_MSG(json_array_size(data) == a->cols, "%s: %zu numbers", w->id,
                      json_array_size(data));
        for (size_t k = 0; k < a->cols; k++)
            got[k] = (float)json_number_value(json_array_get(data, k));
    }
    for (uint32_t k = 0; k < a->cols; k++)
        KT_ASSERT_MSG(fabsf(got[k] - a->outputs[k]) <= 1e-5f + 1e-4f * fabsf(a->outputs[k]),
                      "%s[%u]: %.9g, the msgpack answer %.9g", w->id, k, (double)got[k],
                      (double)a->outputs[k]);
}

/* Read the responses topic until every JSON answer in @p w arrived. */
static void collect_json(struct want *w, size_t n)
{
    size_t missing = n;
    int64_t deadline = kf_clock_mono_us() + 30 * 1000000;
    while (missing && kf_clock_mono_us() < deadline) {
        kio_msg *m = NULL;
        kio_consumer_poll(env.resp, 100, &m);
        if (!m)
            continue;
        if (!req_is_json(m->value.ptr, m->value.len)) {
            kio_msg_free(m); /* the ledger's msgpack answers, read already */
            continue;
        }
        KT_ASSERT_MSG(!memchr(m->value.ptr, '\n', m->value.len), "a JSON answer of two lines: %.*s",
                      (int)m->value.len, (const char *)m->value.ptr);
        json_error_t je;
        json_t *j = json_loadb((const char *)m->value.ptr, m->value.len, 0, &je);
        KT_ASSERT_MSG(j, "answer is not JSON (%s): %.*s", je.text, (int)m->value.len,
                      (const char *)m->value.ptr);
        kf_bytes h;
        KT_ASSERT_MSG(!kio_msg_header(m, "kfleet-worker", &h) && h.len,
                      "a JSON answer without its provenance headers");
        const char *id = json_string_value(json_object_get(j, "id"));
        const char *status = json_string_value(json_object_get(j, "status"));
        KT_ASSERT(id && status && json_integer_value(json_object_get(j, "v")) == 1);
        struct want *w1 = NULL;
        for (size_t i = 0; i < n; i++)
            if (!strcmp(w[i].id, id))
                w1 = &w[i];
        KT_ASSERT_MSG(w1 && !w1->seen, "unexpected or duplicate answer %s", id);
        KT_ASSERT_MSG(!strcmp(status, w1->status), "%s: status %s, expected %s: %.*s", id, status,
                      w1->status, (int)m->value.len, (const char *)m->value.ptr);
        if (w1->code) {
            json_t *e = json_object_get(j, "error");
            const char *code = json_string_value(json_object_get(e, "code"));
            const char *msg = json_string_value(json_object_get(e, "message"));
            KT_ASSERT_MSG(code && !strcmp(code, w1->code) && msg && strstr(msg, w1->text),
                          "%s: error %s \"%s\", expected %s \"%s\"", id, code, msg, w1->code,
                          w1->text);
        } else {
            check_ok(w1, j);
        }
        w1->seen = true;
        KT_ASSERT(!kio_msg_header(m, "kfleet-source-offset", &h));
        char off[24];
        snprintf(off, sizeof(off), "%.*s", (int)h.len, (const char *)h.ptr);
        w1->src_off = strtoll(off, NULL, 10);
        missing--;
        json_decref(j);
        kio_msg_free(m);
    }
    for (size_t i = 0; i < n; i++)
        KT_ASSERT_MSG(w[i].seen, "no answer to %s in 30 s", w[i].id);
}

/* The bad requests' DLQ copies: each the request's bytes, with its reason. */
struct dlq_want {
    const char *body;
    const char *reason;
    bool seen;
};

static void collect_dlq(kio_consumer *dlq, struct dlq_want *w, size_t n)
{
    size_t missing = n;
    int64_t deadline = kf_clock_mono_us() + 30 * 1000000;
    while (missing && kf_clock_mono_us() < deadline) {
        kio_msg *m = NULL;
        kio_consumer_poll(dlq, 100, &m);
        if (!m)
            continue;
        kf_bytes why;
        KT_ASSERT(!kio_msg_header(m, "kfleet-error", &why));
        struct dlq_want *w1 = NULL;
        for (size_t i = 0; i < n; i++)
            if (!w[i].seen && m->value.len == strlen(w[i].body) &&
                !memcmp(m->value.ptr, w[i].body, m->value.len))
                w1 = &w[i];
        KT_ASSERT_MSG(w1, "unexpected DLQ record: %.*s", (int)m->value.len,
                      (const char *)m->value.ptr);
        char reason[300];
        snprintf(reason, sizeof(reason), "%.*s", (int)why.len, (const char *)why.ptr);
        KT_ASSERT_MSG(strstr(reason, w1->reason), "DLQ reason \"%s\", expected \"%s\"", reason,
                      w1->reason);
        w1->seen = true;
        missing--;
        kio_msg_free(m);
    }
    KT_ASSERT_MSG(!missing, "%zu DLQ copies missing after 30 s", missing);
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s KFLEET_WORKER KFLEETCTL [eos]\n", argv[0]);
        return KF_TEST_HARD_ERROR;
    }
    bool eos = argc > 3 && !strcmp(argv[3], "eos");
    kt_env_init(&env, eos ? "json-eos" : "json", argv[1], 1);
    printf("# topics *.%s, logs in %s\n", env.sfx, env.dir);
    struct kt_version v1;
    kt_env_version(&env, "v1", 1, 0, NULL, &v1);
    kt_env_announce(&env, &v1, 1, NULL, &env.trusted);
    char limit[64];
    snprintf(limit, sizeof(limit), "limits.max_bytes=%d", LIMIT_BYTES);
    const char *props[] = {"max_delay_us=1000", limit, eos ? KT_DELIVERY_EXACTLY_ONCE : NULL, NULL};
    kt_env_worker_start(&env, 0, props);
    kio_consumer *dlq = kt_env_reader(&env, env.t_dlq, 1);

    /* The msgpack answers, checked against the reference forward pass. */
    kt_env_send(&env, N_INPUTS);
    KT_ASSERT_INT_EQ(kt_env_collect(&env, 0, N_INPUTS, 30), 0);
    printf("msgpack: %d answers = reference (%d values)\n", N_INPUTS,
           kt_outputs_check(&env, 0, N_INPUTS, &v1));

    /* The same inputs as JSON, both ways. */
    struct want w[2 * N_INPUTS + 6];
    static char ids[2 * N_INPUTS][16];
    size_t n = 0;
    for (int i = 0; i < N_INPUTS; i++) {
        for (int b = 0; b < 2; b++) {
            send_json_input(ids[n], sizeof(ids[n]), "", i, b);
            w[n] = (struct want){.id = ids[n], .status = "ok", .input = i, .base64 = b};
            n++;
        }
    }

    /* The bad ones. */
    char wrong_type[300], big_rows[300], unknown[300];
    snprintf(wrong_type, sizeof(wrong_type),
             "{\"v\":1,\"id\":\"wrongtype\",\"model\":\"%s\",\"inputs\":{\"dtype\":\"f32\","
             "\"shape\":[1,2],\"data\":[1,\"2\"]}}",
             env.model);
    snprintf(big_rows, sizeof(big_rows),
             "{\"v\":1,\"id\":\"bigrows\",\"model\":\"%s\",\"inputs\":{\"dtype\":\"f32\","
             "\"shape\":[5000,8],\"data\":[]}}",
             env.model);
    snprintf(unknown, sizeof(unknown),
             "{\"v\":1,\"id\":\"nomodel\",\"model\":\"no-such-model\",\"inputs\":{\"dtype\":"
             "\"f32\",\"shape\":[1,8],\"data\":[1,2,3,4,5,6,7,8]}}");
    kf_buf big;
    kf_buf_init(&big);
    KT_ASSERT_INT_EQ(kf_buf_appendf(&big,
                                    "{\"v\":1,\"id\":\"bigarray\",\"model\":\"%s\",\"inputs\":{"
                                    "\"dtype\":\"f32\",\"shape\":[1,8],\"data\":[",
                                    env.model),
                     0);
    for (int k = 0; k < 2000; k++)
        KT_ASSERT_INT_EQ(kf_buf_appendf(&big, "%s0.5", k ? "," : ""), 0);
    KT_ASSERT_INT_EQ(kf_buf_append(&big, "]}}", 4), 0);
    const char *malformed = "{\"v\":1,\"id\":\"cut\",\"model\":";
    send_text("malformed", malformed);
    send_text("wrongtype", wrong_type);
    send_text("bigrows", big_rows);
    send_text("bigarray", (const char *)big.ptr);
    send_text("nomodel", unknown);
    w[n++] = (struct want){
        "wrongtype", "error", "invalid_request", "inputs.data[1]: expected a number", 0,
        false,       false};
    w[n++] = (struct want){"bigrows", "error", "too_large", "inputs.shape: 5000 rows, limit 4096",
                           0,         false,   false};
    w[n++] =
        (struct want){"bigarray",  "error",
                      "too_large", "inputs.data: more than 1024 numbers, the limit of 4096 bytes",
                      0,           false,
                      false};
    w[n++] = (struct want){"nomodel", "error", "unknown_model", "no-such-model", 0, false, false};
    /* and a good one after all of them: the worker keeps serving */
    char after[16];
    send_json_input(after, sizeof(after), "after-", 0, false);
    w[n++] = (struct want){.id = after, .status = "ok", .input = 0};
    kio_producer_flush(env.prod, 30000);
    collect_json(w, n);
    printf("json: %d list and %d base64 answers = the msgpack answers; 4 error answers; "
           "the worker still serves\n",
           N_INPUTS, N_INPUTS);

    struct dlq_want d[] = {
        {malformed, "request: not valid JSON at byte 26: unexpected end", false},
        {wrong_type, "inputs.data[1]: expected a number", false},
        {big_rows, "inputs.shape: 5000 rows, limit 4096", false},
        {(const char *)big.ptr, "inputs.data: more than 1024 numbers", false},
        {unknown, "no-such-model", false},
    };
    collect_dlq(dlq, d, sizeof(d) / sizeof(d[0]));
    printf("dlq: the 5 bad JSON requests, each with its reason (the malformed one: DLQ only)\n");

    /* kfleetctl trace reads JSON requests and answers too. */
    const struct want *traced[] = {&w[0], &w[2 * N_INPUTS]}; /* j0, wrongtype */
    const char *says[] = {"  ok", "  error: invalid_request: inputs.data[1]: expected a number"};
    for (int t = 0; t < 2; t++) {
        char *text = kt_ctl_trace_text(&env, argv[2], 0, traced[t]->src_off);
        char id[40];
        snprintf(id, sizeof(id), "id %s ", traced[t]->id);
        KT_ASSERT_MSG(strstr(text, "(JSON)") && strstr(text, id) && strstr(text, says[t]),
                      "kfleetctl trace of %s lacks '(JSON)', '%s' or '%s':\n%s", traced[t]->id, id,
                      says[t], text);
        free(text);
    }
    printf("kfleetctl trace: a JSON request and its ok / error answers\n");

    KT_ASSERT_INT_EQ(kt_env_worker_stop(&env, 0, SIGTERM), 0);
    kf_buf_fini(&big);
    kio_consumer_free(dlq);
    kt_version_fini(&v1);
    kt_env_fini(&env);
    return 0;
}
