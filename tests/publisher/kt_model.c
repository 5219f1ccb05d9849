#include "tests/publisher/kt_model.h"

#include "common/kf_buf.h"
#include "kernels/kern_dtype.h"
#include "schema/model_map.h"
#include "schema/safet.h"
#include "tests/lib/kf_test.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static float uniform(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return (float)((double)(*s >> 11) * (1.0 / 9007199254740992.0) * 2.0 - 1.0);
}

static void arch_json(const struct kt_model_spec *s, int input_delta, char *out, size_t size)
{
    int n = snprintf(out, size, "{\"kind\":\"mlp\",\"input_width\":%d,\"layers\":[",
                     (int)s->input_width + input_delta);
    for (uint32_t i = 0; i < s->n_layers; i++)
        n += snprintf(out + n, size - (size_t)n,
                      "%s{\"weight\":\"%u.weight\",\"bias\":\"%u.bias\",\"activation\":\"%s\"}",
                      i ? "," : "", 2 * i, 2 * i, i + 1 < s->n_layers ? "relu" : "none");
    snprintf(out + n, size - (size_t)n, "],\"output\":\"%s\"}", s->softmax ? "softmax" : "none");
}

uint64_t kt_model_write(const char *path, const struct kt_model_spec *s)
{
    struct safet_input t[2 * KT_MODEL_MAX_LAYERS];
    uint64_t shapes[2 * KT_MODEL_MAX_LAYERS][2];
    char names[2 * KT_MODEL_MAX_LAYERS][32];
    void *data[2 * KT_MODEL_MAX_LAYERS] = {0};
    uint64_t seed = s->seed ? s->seed : 1;
    uint32_t in = s->input_width;
    size_t esz = schema_dtype_size(s->dtype);
    enum kern_dtype kd;
    KT_ASSERT(!model_map_dtype(s->dtype, &kd));
    for (uint32_t l = 0; l < s->n_layers; l++) {
        uint32_t out = s->widths[l];
        for (int b = 0; b < 2; b++) {
            size_t k = 2 * l + (size_t)b;
            size_t n = b ? out : (size_t)out * in;
            float *f = malloc(n * sizeof(float));
            data[k] = malloc(n * esz);
            KT_ASSERT(f && data[k]);
            float scale = 1.0f / sqrtf((float)in);
            uint64_t *rs = &seed, tweak = s->tweak_seed;
            bool tweaked = b && l + 1 == s->n_layers && s->tweak_seed;
            for (size_t i = 0; i < n; i++) {
                float v = uniform(rs) * scale;
                f[i] = tweaked ? uniform(&tweak) * scale : v;
            }
            KT_ASSERT(!kern_from_f32(kd, f, data[k], n));
            free(f);
            snprintf(names[k], sizeof(names[k]), "%u.%s", 2 * l, b ? "bias" : "weight");
            shapes[k][0] = out;
            shapes[k][1] = in;
            t[k] = (struct safet_input){.name = names[k],
                                        .dtype = s->dtype,
                                        .ndim = b ? 1u : 2u,
                                        .shape = shapes[k],
                                        .data = data[k]};
        }
        in = out;
    }
    char arch[4096];
    arch_json(s, 0, arch, sizeof(arch));
    struct safet_meta meta[2] = {{.key = "format", .value = "pt"},
                                 {.key = SAFET_META_ARCH, .value = arch}};
    kf_buf b;
    kf_buf_init(&b);
    KT_ASSERT(!safet_write(&b, t, 2 * s->n_layers, meta, s->no_arch_meta ? 1 : 2));
    kt_write_file(path, b.ptr, b.len);
    uint64_t size = b.len;
    kf_buf_fini(&b);
    for (size_t k = 0; k < 2 * s->n_layers; k++)
        free(data[k]);
    return size;
}

void kt_model_write_arch(const char *path, const struct kt_model_spec *s, int input_delta)
{
    char arch[4096];
    arch_json(s, input_delta, arch, sizeof(arch));
    kt_write_file(path, arch, strlen(arch));
}

void kt_model_forward(const char *path, const struct kt_model_spec *s, const float *in,
                      uint32_t rows, float *out)
{
    KT_ASSERT(s->dtype == SCHEMA_DTYPE_F32);
    size_t len;
    uint8_t *file = kt_read_file(path, &len);
    struct safet_file *sf;
    char err[256];
    KT_ASSERT_MSG(!safet_parse(file, len, len, &sf, err, sizeof(err)), "%s", err);
    uint32_t maxw = s->input_width;
    for (uint32_t l = 0; l < s->n_layers; l++)
        maxw = s->widths[l] > maxw ? s->widths[l] : maxw;
    double *x = malloc(maxw * sizeof(double)), *y = malloc(maxw * sizeof(double));
    for (uint32_t r = 0; r < rows; r++) {
        uint32_t w_in = s->input_width;
        for (uint32_t i = 0; i < w_in; i++)
            x[i] = (double)in[(size_t)r * w_in + i];
        for (uint32_t l = 0; l < s->n_layers; l++) {
            char wn[32], bn[32];
            snprintf(wn, sizeof(wn), "%u.weight", 2 * l);
            snprintf(bn, sizeof(bn), "%u.bias", 2 * l);
            long wi = schema_tensor_find(sf->tensors, sf->n_tensors, wn);
            long bi = schema_tensor_find(sf->tensors, sf->n_tensors, bn);
            KT_ASSERT(wi >= 0 && bi >= 0);
            const uint8_t *W = file + sf->data_offset + sf->tensors[wi].offset;
            const uint8_t *B = file + sf->data_offset + sf->tensors[bi].offset;
            uint32_t w_out = s->widths[l];
            for (uint32_t o = 0; o < w_out; o++) {
                float b;
                memcpy(&b, B + 4 * (size_t)o, 4);
                double acc = (double)b;
                for (uint32_t i = 0; i < w_in; i++) {
                    float w;
                    memcpy(&w, W + 4 * ((size_t)o * w_in + i), 4);
                    acc += (double)w * x[i];
                }
                y[o] = l + 1 < s->n_layers && acc < 0 ? 0 : acc;
            }
            memcpy(x, y, w_out * sizeof(double));
            w_in = w_out;
        }
        if (s->softmax) {
            double mx = x[0], sum = 0;
            for (uint32_t i = 1; i < w_in; i++)
                mx = x[i] > mx ? x[i] : mx;
            for (uint32_t i = 0; i < w_in; i++)
                sum += (x[i] = exp(x[i] - mx));
            for (uint32_t i = 0; i < w_in; i++)
                x[i] /= sum;
        }
        for (uint32_t i = 0; i < w_in; i++)
            out[(size_t)r * w_in + i] = (float)x[i];
    }
    free(x);
    free(y);
    safet_file_free(sf);
    free(file);
}

uint8_t *kt_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    KT_ASSERT_MSG(f, "%s: %s", path, strerror(errno));
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *p = malloc(n > 0 ? (size_t)n : 1);
    KT_ASSERT(p && fread(p, 1, (size_t)n, f) == (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return p;
}

void kt_write_file(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    KT_ASSERT_MSG(f, "%s: %s", path, strerror(errno));
    KT_ASSERT(fwrite(data, 1, len, f) == len);
    KT_ASSERT(!fclose(f));
}

char *kt_mkdtemp(const char *tag)
{
    const char *base = getenv("TMPDIR");
    char *p = malloc(512);
    KT_ASSERT(p);
    snprintf(p, 512, "%s/kfleet-%s-XXXXXX", base && *base ? base : "/tmp", tag);
    KT_ASSERT_MSG(mkdtemp(p), "mkdtemp %s: %s", p, strerror(errno));
    return p;
}

void kt_rmtree(const char *path)
{
    if (!path || !*path || !strcmp(path, "/"))
        return;
    char cmd[700];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", path);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", path);
}
