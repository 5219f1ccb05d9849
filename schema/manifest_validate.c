/* The manifest's rules (ARCHITECTURE §3, issue 3), one function per group. */
#include "schema/manifest.h"

#include "common/kf_err.h"
#include "schema/names.h"

#include <math.h>
#include <string.h>

static bool is_digits(const char *s, int n)
{
    for (int i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return true;
}

/* "YYYY-MM-DDTHH:MM:SS[.fraction]Z" */
static bool rfc3339_utc(const char *s)
{
    size_t len = strlen(s);
    if (len < 20 || !is_digits(s, 4) || s[4] != '-' || !is_digits(s + 5, 2) || s[7] != '-' ||
        !is_digits(s + 8, 2) || s[10] != 'T' || !is_digits(s + 11, 2) || s[13] != ':' ||
        !is_digits(s + 14, 2) || s[16] != ':' || !is_digits(s + 17, 2) || s[len - 1] != 'Z')
        return false;
    int mon = (s[5] - '0') * 10 + s[6] - '0', day = (s[8] - '0') * 10 + s[9] - '0';
    int hour = (s[11] - '0') * 10 + s[12] - '0', min = (s[14] - '0') * 10 + s[15] - '0';
    int sec = (s[17] - '0') * 10 + s[18] - '0';
    if (mon < 1 || mon > 12 || day < 1 || day > 31 || hour > 23 || min > 59 || sec > 60)
        return false;
    if (len == 20)
        return true;
    return s[19] == '.' && len > 21 && is_digits(s + 20, (int)(len - 21));
}

static int check_header(const struct manifest *m, char *errstr, size_t errstr_size)
{
    if (m->kfleet_manifest != MANIFEST_FORMAT) {
        kf_errf(errstr, errstr_size, "kfleet_manifest: unsupported format %u (this code reads %d)",
                m->kfleet_manifest, MANIFEST_FORMAT);
        return -EPROTO;
    }
    if (!schema_name_valid(m->model, strnlen(m->model, sizeof(m->model)))) {
        kf_errf(errstr, errstr_size, "model: expected a name: " SCHEMA_NAME_RULE);
        return -EPROTO;
    }
    if (!schema_name_valid(m->version, strnlen(m->version, sizeof(m->version)))) {
        kf_errf(errstr, errstr_size, "version: expected a name: " SCHEMA_NAME_RULE);
        return -EPROTO;
    }
    if (m->seq < 1 || m->seq > INT64_MAX) {
        kf_errf(errstr, errstr_size, "seq: must be 1..2^63-1");
        return -EPROTO;
    }
    if (!rfc3339_utc(m->created_at)) {
        kf_errf(errstr, errstr_size,
                "created_at: expected RFC 3339 UTC time such as 2026-01-02T03:04:05Z");
        return -EPROTO;
    }
    if (!schema_dtype_size(m->dtype)) {
        kf_errf(errstr, errstr_size, "dtype: unknown dtype");
        return -EPROTO;
    }
    return 0;
}

static int check_chunks(struct manifest *m, char *errstr, size_t errstr_size)
{
    if (!m->n_chunks) {
        kf_errf(errstr, errstr_size, "chunks: at least one chunk is needed");
        return -EPROTO;
    }
    if (m->n_chunks > MANIFEST_MAX_CHUNKS) {
        kf_errf(errstr, errstr_size, "chunks: %zu chunks, limit %u", m->n_chunks,
                MANIFEST_MAX_CHUNKS);
        return -E2BIG;
    }
    uint64_t sum = 0;
    for (size_t i = 0; i < m->n_chunks; i++) {
        struct manifest_chunk *c = &m->chunks[i];
        if (!c->size) {
            kf_errf(errstr, errstr_size, "chunks[%zu].size: must be at least 1", i);
            return -EPROTO;
        }
        bool hex = strnlen(c->sha256, sizeof(c->sha256)) == 64;
        for (int k = 0; hex && k < 64; k++)
            hex = (c->sha256[k] >= '0' && c->sha256[k] <= '9') ||
                  (c->sha256[k] >= 'a' && c->sha256[k] <= 'f');
        if (!hex) {
            kf_errf(errstr, errstr_size, "chunks[%zu].sha256: expected 64 lower-case hex digits",
                    i);
            return -EPROTO;
        }
        c->offset = sum;
        if (__builtin_add_overflow(sum, c->size, &sum)) {
            kf_errf(errstr, errstr_size, "chunks: sizes overflow");
            return -EPROTO;
        }
    }
    if (sum != m->blob_size) {
        kf_errf(errstr, errstr_size, "chunks: sizes add up to %llu, but blob_size is %llu",
                (unsigned long long)sum, (unsigned long long)m->blob_size);
        return -EPROTO;
    }
    return 0;
}

static int check_golden(const struct manifest *m, char *errstr, size_t errstr_size)
{
    const struct manifest_golden *g = &m->golden;
    if (g->rows < 1 || g->rows > MANIFEST_MAX_GOLDEN_ROWS) {
        kf_errf(errstr, errstr_size, "golden.rows: must be 1..%d", MANIFEST_MAX_GOLDEN_ROWS);
        return -EPROTO;
    }
    uint64_t ni = g->rows * m->arch.input_width, no = g->rows * m->arch.output_width;
    if (g->n_inputs != ni || !g->inputs) {
        kf_errf(errstr, errstr_size,
                "golden.inputs: %zu values, expected rows × input_width = %llu × %llu", g->n_inputs,
                (unsigned long long)g->rows, (unsigned long long)m->arch.input_width);
        return -EPROTO;
    }
    if (g->n_outputs != no || !g->outputs) {
        kf_errf(errstr, errstr_size,
                "golden.outputs: %zu values, expected rows × output_width = %llu × %llu",
                g->n_outputs, (unsigned long long)g->rows,
                (unsigned long long)m->arch.output_width);
        return -EPROTO;
    }
    for (size_t i = 0; i < g->n_inputs; i++) {
        if (!isfinite(g->inputs[i])) {
            kf_errf(errstr, errstr_size, "golden.inputs[%zu]: not a finite number", i);
            return -EPROTO;
        }
    }
    for (size_t i = 0; i < g->n_outputs; i++) {
        if (!isfinite(g->outputs[i])) {
            kf_errf(errstr, errstr_size, "golden.outputs[%zu]: not a finite number", i);
            return -EPROTO;
        }
    }
    if (!isfinite(g->atol) || g->atol < 0 || !isfinite(g->rtol) || g->rtol < 0) {
        kf_errf(errstr, errstr_size, "golden.%s: must be a finite number >= 0",
                !isfinite(g->atol) || g->atol < 0 ? "atol" : "rtol");
        return -EPROTO;
    }
    return 0;
}

int manifest_validate(struct manifest *m, char *errstr, size_t errstr_size)
{
    if (!m) {
        kf_errf(errstr, errstr_size, "manifest: NULL");
        return -EINVAL;
    }
    int err;
    if ((err = check_header(m, errstr, errstr_size)) ||
        (err = check_chunks(m, errstr, errstr_size)))
        return err;
    if (m->n_tensors > MANIFEST_MAX_TENSORS) {
        kf_errf(errstr, errstr_size, "tensors: %zu tensors, limit %d", m->n_tensors,
                MANIFEST_MAX_TENSORS);
        return -E2BIG;
    }
    if ((err = schema_tensors_check(m->tensors, m->n_tensors, m->blob_size, "tensors", errstr,
                                    errstr_size)))
        return err;
    enum schema_dtype dt = m->dtype;
    if ((err = arch_bind(&m->arch, m->tensors, m->n_tensors, &dt, errstr, errstr_size)))
        return err;
    if (dt != m->dtype) {
        kf_errf(errstr, errstr_size, "dtype: \"%s\", but the architecture's tensors are %s",
                schema_dtype2str(m->dtype), schema_dtype2str(dt));
        return -EPROTO;
    }
    return check_golden(m, errstr, errstr_size);
}
