/* kfleet-make-model: write a random dense network as a safetensors file that
 * publish-model accepts as it is (architecture in __metadata__ under
 * "kfleet.architecture", tensors named like a PyTorch nn.Sequential state_dict:
 * 0.weight, 0.bias, 2.weight, ...). For the quickstart, the benchmarks (models
 * of a given size) and tests; a real model comes from safetensors.torch.save_file.
 *
 *   kfleet-make-model -o model.safetensors --input 64 --layers 128,128,10
 *                     [--dtype f32|f16|bf16] [--act relu] [--softmax] [--seed N]
 *                     [--scale S]
 */
#include "common/kf_buf.h"
#include "kernels/kern_dtype.h"
#include "schema/json_impl.h"
#include "schema/model_map.h"
#include "schema/safet.h"

#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_LAYERS 64

static void usage(FILE *out)
{
    fprintf(out, "Usage: kfleet-make-model -o FILE --input N --layers W1,W2,...,OUT\n"
                 "       [--dtype f32|f16|bf16] [--act relu|gelu|tanh|sigmoid|none]\n"
                 "       [--softmax] [--seed N] [--scale S]\n"
                 "Write a random MLP (PyTorch nn.Linear layout) as safetensors with its\n"
                 "kfleet architecture in the metadata. The last layer has no activation.\n");
}

/* xorshift: the same seed gives the same file on every machine. */
static float next_uniform(unsigned long long *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return (float)((*s >> 11) * (1.0 / 9007199254740992.0)) * 2.0f - 1.0f;
}

/* splitmix64's finaliser, a bijection: every seed gets its own non-zero
 * xorshift state. (Forcing the seed odd made seeds 2k and 2k+1 write the
 * same weights, and the quickstart's "v1" and "v2" came out identical.) */
static unsigned long long seed_state(unsigned long long seed)
{
    unsigned long long z = seed + 0x9E3779B97F4A7C15ULL;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    z ^= z >> 31;
    return z ? z : 0x9E3779B97F4A7C15ULL;
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"input", required_argument, NULL, 'i'},
        {"layers", required_argument, NULL, 'l'},
        {"dtype", required_argument, NULL, 'd'},
        {"act", required_argument, NULL, 'a'},
        {"softmax", no_argument, NULL, 's'},
        {"seed", required_argument, NULL, 'S'},
        {"scale", required_argument, NULL, 'k'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *out_path = NULL, *act = "relu", *dtype_name = "f32";
    long input = 0, widths[MAX_LAYERS];
    int n_layers = 0, opt;
    bool softmax = false;
    unsigned long long seed = 1;
    float scale = 0; /* 0: 1/sqrt(fan_in), which keeps activations O(1) */
    while ((opt = getopt_long(argc, argv, "o:h", longopts, NULL)) != -1) {
        switch (opt) {
        case 'o': out_path = optarg; break;
        case 'i': input = strtol(optarg, NULL, 10); break;
        case 'l':
            for (char *p = optarg; p && *p && n_layers < MAX_LAYERS;) {
                widths[n_layers++] = strtol(p, &p, 10);
                p = *p == ',' ? p + 1 : NULL;
            }
            break;
        case 'd': dtype_name = optarg; break;
        case 'a': act = optarg; break;
        case 's': softmax = true; break;
        case 'S': seed = strtoull(optarg, NULL, 10); break;
        case 'k': scale = strtof(optarg, NULL); break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    enum schema_dtype dt;
    enum kern_dtype kdt;
    if (!out_path || input <= 0 || n_layers == 0 ||
        schema_dtype_from_str(dtype_name, strlen(dtype_name), &dt) || model_map_dtype(dt, &kdt)) {
        usage(stderr);
        return 2;
    }
    for (int i = 0; i < n_layers; i++)
        if (widths[i] <= 0) {
            fprintf(stderr, "kfleet-make-model: layer widths must be positive\n");
            return 2;
        }

    int err = 0;
    struct safet_input t[2 * MAX_LAYERS];
    uint64_t shapes[2 * MAX_LAYERS][2];
    char names[2 * MAX_LAYERS][32];
    void *bufs[2 * MAX_LAYERS] = {0};
    /* The architecture goes through jansson like every other JSON kfleet
     * writes: --act is the user's text and must not be able to break it. */
    json_t *layers = json_array();
    json_t *arch_j =
        json_pack("{sssIso}", "kind", "mlp", "input_width", (json_int_t)input, "layers", layers);
    if (!arch_j) {
        fprintf(stderr, "kfleet-make-model: out of memory\n");
        return 1;
    }
    long in = input;
    size_t nt = 0;
    unsigned long long state = seed_state(seed);
    for (int l = 0; l < n_layers; l++) {
        long out = widths[l];
        /* nn.Sequential numbering: Linear at even indices, activations between */
        for (int b = 0; b < 2; b++) {
            size_t n = b ? (size_t)out : (size_t)(out * in);
            float *f = malloc(n * sizeof(float));
            void *raw = malloc(n * schema_dtype_size(dt));
            if (!f || !raw) {
                fprintf(stderr, "kfleet-make-model: out of memory\n");
                return 1;
            }
            float s = scale > 0 ? scale : 1.0f / sqrtf((float)in);
            for (size_t k = 0; k < n; k++)
                f[k] = next_uniform(&state) * s;
            kern_from_f32(kdt, f, raw, n);
            free(f);
            snprintf(names[nt], sizeof(names[nt]), "%d.%s", 2 * l, b ? "bias" : "weight");
            shapes[nt][0] = (uint64_t)out;
            shapes[nt][1] = (uint64_t)in;
            t[nt] = (struct safet_input){names[nt], dt, b ? 1u : 2u, shapes[nt], raw};
            bufs[nt++] = raw;
        }
        if (json_array_append_new(layers, json_pack("{ssssss}", "weight", names[nt - 2], "bias",
                                                    names[nt - 1], "activation",
                                                    l + 1 < n_layers ? act : "none"))) {
            fprintf(stderr, "kfleet-make-model: --act must be UTF-8 text\n");
            return 2;
        }
        in = out;
    }
    kf_buf arch;
    kf_buf_init(&arch);
    ju_set(arch_j, "output", json_string(softmax ? "softmax" : "none"), &err);
    if (err || ju_dump(arch_j, &arch) || kf_buf_append(&arch, "", 1)) {
        fprintf(stderr, "kfleet-make-model: out of memory\n");
        return 1;
    }
    json_decref(arch_j);
    struct safet_meta meta = {.key = SAFET_META_ARCH, .value = (char *)arch.ptr};
    kf_buf file;
    kf_buf_init(&file);
    err = safet_write(&file, t, nt, &meta, 1);
    for (size_t i = 0; i < nt; i++)
        free(bufs[i]);
    FILE *f = err ? NULL : fopen(out_path, "wb");
    if (!f || fwrite(file.ptr, 1, file.len, f) != file.len || fclose(f)) {
        fprintf(stderr, "kfleet-make-model: cannot write %s\n", out_path);
        return 1;
    }
    fprintf(stderr, "kfleet-make-model: wrote %s (%zu bytes, %d layers, %s)\n", out_path, file.len,
            n_layers, dtype_name);
    kf_buf_fini(&file);
    kf_buf_fini(&arch);
    return 0;
}
