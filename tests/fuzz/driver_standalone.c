/* Runs a fuzz target without libFuzzer, so the normal (gcc) build exercises
 * it in the unit suite: every file of the given corpus directories, then
 * deterministic mutations of each (bit flips, truncations, byte
 * insertions, splices). Usage: fuzz_X_standalone [-n MUTATIONS] DIR|FILE... */
#include "tests/fuzz/fuzz.h"

#include <dirent.h>
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

static uint64_t rng = 0x243f6a8885a308d3ull;

static uint64_t next(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

struct input {
    uint8_t *data;
    size_t len;
};

static struct input *inputs;
static size_t n_inputs, cap_inputs;

static void add_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "%s: %s\n", path, strerror(errno));
        exit(99);
    }
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *data = malloc(len > 0 ? (size_t)len : 1);
    if (!data || (len > 0 && fread(data, 1, (size_t)len, f) != (size_t)len))
        exit(99);
    fclose(f);
    if (n_inputs == cap_inputs) {
        cap_inputs = cap_inputs ? 2 * cap_inputs : 64;
        inputs = realloc(inputs, cap_inputs * sizeof(*inputs));
        if (!inputs)
            exit(99);
    }
    inputs[n_inputs++] = (struct input){data, (size_t)len};
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void add_path(const char *path)
{
    struct stat st;
    if (stat(path, &st)) {
        fprintf(stderr, "%s: %s\n", path, strerror(errno));
        exit(99);
    }
    if (!S_ISDIR(st.st_mode)) {
        add_file(path);
        return;
    }
    DIR *d = opendir(path);
    if (!d)
        exit(99);
    char *names[1024];
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < 1024)
        if (e->d_name[0] != '.')
            names[n++] = strdup(e->d_name);
    closedir(d);
    qsort(names, n, sizeof(*names), by_name); /* deterministic order */
    for (size_t i = 0; i < n; i++) {
        char p[4096];
        snprintf(p, sizeof(p), "%s/%s", path, names[i]);
        if (!stat(p, &st) && S_ISREG(st.st_mode))
            add_file(p);
        free(names[i]);
    }
}

static void run(const uint8_t *data, size_t len)
{
    /* a private copy, so reads past the end are caught by ASan */
    uint8_t *copy = malloc(len ? len : 1);
    if (!copy)
        exit(99);
    memcpy(copy, data, len);
    LLVMFuzzerTestOneInput(copy, len);
    free(copy);
}

static void mutate_and_run(const struct input *in)
{
    size_t cap = in->len + 64;
    uint8_t *buf = malloc(cap);
    if (!buf)
        exit(99);
    memcpy(buf, in->data, in->len);
    size_t len = in->len;
    switch (next() % 6) {
    case 0: /* flip a few bits */
        for (int k = 0, n = 1 + (int)(next() % 4); len && k < n; k++)
            buf[next() % len] ^= (uint8_t)(1u << (next() % 8));
        break;
    case 1: /* truncate */ len = len ? next() % len : 0; break;
    case 2: /* insert a random byte */
        if (len < cap) {
            size_t at = len ? next() % len : 0;
            memmove(buf + at + 1, buf + at, len - at);
            buf[at] = (uint8_t)next();
            len++;
        }
        break;
    case 3: /* set an interesting byte */
        if (len) {
            static const uint8_t v[] = {0x00, 0xff, 0x7f, 0x80, 0xc1, 0xdf, 0xdd, '"', '{', '9'};
            buf[next() % len] = v[next() % sizeof(v)];
        }
        break;
    case 4: /* splice the tail of another input */
        if (n_inputs > 1 && len) {
            const struct input *o = &inputs[next() % n_inputs];
            size_t at = next() % len, take = o->len ? next() % o->len : 0;
            if (take > cap - at)
                take = cap - at;
            memcpy(buf + at, o->data + (o->len - take), take);
            len = at + take;
        }
        break;
    default: /* erase a range */
        if (len > 2) {
            size_t a = next() % len, b = a + next() % (len - a);
            memmove(buf + a, buf + b, len - b);
            len -= b - a;
        }
        break;
    }
    run(buf, len);
    free(buf);
}

int main(int argc, char **argv)
{
    long mutations = 300;
    int i = 1;
    if (argc > 2 && !strcmp(argv[1], "-n")) {
        mutations = strtol(argv[2], NULL, 10);
        i = 3;
    }
    for (; i < argc; i++)
        add_path(argv[i]);
    if (!n_inputs) {
        fprintf(stderr, "no corpus\n");
        return 99;
    }
    for (size_t k = 0; k < n_inputs; k++)
        run(inputs[k].data, inputs[k].len);
    run((const uint8_t *)"", 0);
    for (size_t k = 0; k < n_inputs; k++)
        for (long m = 0; m < mutations; m++)
            mutate_and_run(&inputs[k]);
    printf("%zu corpus files, %ld mutations each: ok\n", n_inputs, mutations);
    for (size_t k = 0; k < n_inputs; k++)
        free(inputs[k].data);
    free(inputs);
    return 0;
}
