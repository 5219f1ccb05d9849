/* One set of name limits (schema/names.h), held at its edge by every decoder:
 * a name or id of exactly the limit is accepted, one byte more is refused —
 * by the request and response decoders, the control-event decoder (every
 * event type of the golden vectors, every name and id field it has) and the
 * manifest parser.
 *
 *   test_schema_names VECTORS_DIR */
#include "schema/ctl_event.h"
#include "schema/manifest.h"
#include "schema/names.h"
#include "schema/req.h"
#include "schema/resp.h"

#include "tests/lib/kf_test.h"

#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

static const char *dir;

/* @p n copies of @p c, NUL-terminated (free()). */
static char *repeat(char c, size_t n)
{
    char *s = malloc(n + 1);
    KT_ASSERT(s);
    memset(s, c, n);
    s[n] = '\0';
    return s;
}

static kf_bytes b(const char *s)
{
    return (kf_bytes){(const uint8_t *)s, strlen(s)};
}

static void test_validators(void)
{
    char *at = repeat('n', SCHEMA_NAME_MAX), *over = repeat('n', SCHEMA_NAME_MAX + 1);
    KT_ASSERT(schema_name_valid(at, strlen(at)));
    KT_ASSERT(!schema_name_valid(over, strlen(over)));
    free(at);
    free(over);
    at = repeat('!', SCHEMA_ID_MAX);
    over = repeat('!', SCHEMA_ID_MAX + 1);
    KT_ASSERT(schema_id_valid(at, strlen(at)));
    KT_ASSERT(!schema_id_valid(over, strlen(over)));
    free(at);
    free(over);
    KT_ASSERT_INT_EQ(CTL_NAME_CAP, SCHEMA_NAME_CAP);
    KT_ASSERT(CTL_NAME_CAP > SCHEMA_NAME_MAX && CTL_NAME_CAP > SCHEMA_ID_MAX);
}

/* ------------------------------------------------------------ request */

/* Decode a request whose @p field ("id", "model", "version") is @p n bytes. */
static int request_with(const char *field, size_t n)
{
    static const float data[2] = {1, 2};
    char *s = repeat('r', n);
    struct req rq = {.v = REQ_VERSION,
                     .id = b("id-1"),
                     .model = b("m"),
                     .inputs = {SCHEMA_DTYPE_F32, 1, 2, {(const uint8_t *)data, sizeof(data)}}};
    if (!strcmp(field, "id"))
        rq.id = b(s);
    else if (!strcmp(field, "model"))
        rq.model = b(s);
    else
        rq.version = b(s);
    kf_buf buf;
    kf_buf_init(&buf);
    KT_ASSERT_INT_EQ(req_encode(&rq, &buf), 0); /* the encoder trusts its caller */
    struct req_limits lim;
    req_limits_default(&lim);
    struct req back;
    char err[256] = "";
    int rc = req_decode(buf.ptr, buf.len, &lim, &back, err, sizeof(err));
    KT_ASSERT_MSG(rc || back.model.len, "%s", err);
    kf_buf_fini(&buf);
    free(s);
    return rc;
}

static void test_request(void)
{
    KT_ASSERT_INT_EQ(request_with("model", SCHEMA_NAME_MAX), 0);
    KT_ASSERT_INT_EQ(request_with("model", SCHEMA_NAME_MAX + 1), -EPROTO);
    KT_ASSERT_INT_EQ(request_with("version", SCHEMA_NAME_MAX), 0);
    KT_ASSERT_INT_EQ(request_with("version", SCHEMA_NAME_MAX + 1), -EPROTO);
    KT_ASSERT_INT_EQ(request_with("id", SCHEMA_REQ_ID_MAX), 0);
    /* too_large, not invalid_request: the id limit may be configured lower */
    KT_ASSERT_INT_EQ(request_with("id", SCHEMA_REQ_ID_MAX + 1), -E2BIG);
}

/* ----------------------------------------------------------- response */

static int response_with(const char *field, size_t n)
{
    char *s = repeat('s', n);
    struct resp rs = {.v = REQ_VERSION,
                      .id = b("id-1"),
                      .model = b("m"),
                      .version = b("v1"),
                      .status = RESP_ERROR,
                      .err_code = b("internal"),
                      .err_message = b("test"),
                      .worker = b("w-1")};
    if (!strcmp(field, "model"))
        rs.model = b(s);
    else if (!strcmp(field, "version"))
        rs.version = b(s);
    else if (!strcmp(field, "worker"))
        rs.worker = b(s);
    else
        rs.id = b(s);
    kf_buf buf;
    kf_buf_init(&buf);
    KT_ASSERT_INT_EQ(resp_encode(&rs, &buf), 0);
    struct resp back;
    char err[256];
    int rc = resp_decode(buf.ptr, buf.len, &back, err, sizeof(err));
    kf_buf_fini(&buf);
    free(s);
    return rc;
}

static void test_response(void)
{
    static const struct {
        const char *field;
        size_t max;
    } f[] = {{"model", SCHEMA_NAME_MAX},
             {"version", SCHEMA_NAME_MAX},
             {"worker", SCHEMA_ID_MAX},
             {"id", SCHEMA_REQ_ID_MAX}};
    for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
        KT_ASSERT_MSG(response_with(f[i].field, f[i].max) == 0, "response %s at the limit",
                      f[i].field);
        KT_ASSERT_MSG(response_with(f[i].field, f[i].max + 1) == -EPROTO,
                      "response %s over the limit", f[i].field);
    }
}

/* ----------------------------------------------------- control events */

static json_t *load_json(const char *sub, const char *name)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s/%s", dir, sub, name);
    json_error_t jerr;
    json_t *j = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
    KT_ASSERT_MSG(j, "%s: %s", path, jerr.text);
    return j;
}

/* Decode @p doc as a control event with @p key set to @p n copies of @p c. */
static int event_with(const json_t *doc, const char *key, char c, size_t n, char *err,
                      size_t err_size)
{
    json_t *j = json_deep_copy(doc);
    char *s = repeat(c, n);
    KT_ASSERT_INT_EQ(json_object_set_new(j, key, json_string(s)), 0);
    char *text = json_dumps(j, JSON_COMPACT);
    KT_ASSERT(text);
    struct ctl_event ev;
    int rc = ctl_event_decode((const uint8_t *)text, strlen(text), &ev, err, err_size);
    free(text);
    free(s);
    json_decref(j);
    return rc;
}

static void test_control(void)
{
    static const struct {
        const char *key;
        char c;
        size_t max;
    } f[] = {{"model", 'm', SCHEMA_NAME_MAX},  {"version", 'v', SCHEMA_NAME_MAX},
             {"worker", 'w', SCHEMA_ID_MAX},   {"claim_id", 'c', SCHEMA_ID_MAX},
             {"event_id", 'e', SCHEMA_ID_MAX}, {"reason", 'r', SCHEMA_REASON_MAX}};
    char path[512];
    snprintf(path, sizeof(path), "%s/control", dir);
    DIR *d = opendir(path);
    KT_ASSERT_MSG(d, "cannot open %s", path);
    int checked = 0;
    for (struct dirent *e; (e = readdir(d));) {
        size_t len = strlen(e->d_name);
        if (len < 5 || strcmp(e->d_name + len - 5, ".json"))
            continue;
        json_t *doc = load_json("control", e->d_name);
        for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
            if (!json_object_get(doc, f[i].key))
                continue;
            char err[256] = "";
            int rc = event_with(doc, f[i].key, f[i].c, f[i].max, err, sizeof(err));
            KT_ASSERT_MSG(rc == 0, "%s: %s of %zu bytes refused: %s", e->d_name, f[i].key, f[i].max,
                          err);
            rc = event_with(doc, f[i].key, f[i].c, f[i].max + 1, err, sizeof(err));
            KT_ASSERT_MSG(rc == -EPROTO && strstr(err, f[i].key), "%s: %s of %zu bytes: rc %d (%s)",
                          e->d_name, f[i].key, f[i].max + 1, rc, err);
            checked++;
        }
        json_decref(doc);
    }
    closedir(d);
    KT_ASSERT_MSG(checked >= 30, "only %d fields checked: are the vectors there?", checked);
    printf("control events: %d (type, field) pairs held at the limit and one byte over\n", checked);
}

/* ----------------------------------------------------------- manifest */

static int manifest_with(const char *key, size_t n, char *err, size_t err_size)
{
    json_t *j = load_json("manifest", "tiny.json");
    char *s = repeat('x', n);
    KT_ASSERT_INT_EQ(json_object_set_new(j, key, json_string(s)), 0);
    char *text = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
    KT_ASSERT(text);
    struct manifest *m = NULL;
    int rc = manifest_parse((const uint8_t *)text, strlen(text), &m, err, err_size);
    manifest_free(m);
    free(text);
    free(s);
    json_decref(j);
    return rc;
}

static void test_manifest(void)
{
    const char *keys[] = {"model", "version"};
    for (size_t i = 0; i < 2; i++) {
        char err[256] = "";
        KT_ASSERT_MSG(manifest_with(keys[i], SCHEMA_NAME_MAX, err, sizeof(err)) == 0,
                      "manifest %s at the limit: %s", keys[i], err);
        KT_ASSERT_MSG(manifest_with(keys[i], SCHEMA_NAME_MAX + 1, err, sizeof(err)) == -EPROTO &&
                          strstr(err, keys[i]),
                      "manifest %s over the limit: %s", keys[i], err);
    }
}

int main(int argc, char **argv)
{
    if (argc < 2)
        return KF_TEST_HARD_ERROR;
    dir = argv[1];
    KT_RUN(test_validators);
    KT_RUN(test_request);
    KT_RUN(test_response);
    KT_RUN(test_control);
    KT_RUN(test_manifest);
    return 0;
}
