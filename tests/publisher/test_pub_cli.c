/* The publish-model command line without services: -h and -V, misuse is
 * exit 2 with a reason on stderr, failures exit 1 with a message, and no
 * input crashes it. Brokers and S3 point at closed ports, so nothing here
 * can reach a server by accident.
 *
 *   test_pub_cli PUBLISH_MODEL */
#include "schema/manifest.h"
#include "tests/lib/kt_proc.h"
#include "tests/publisher/kt_model.h"

static const char *bin;
static char *dir;

struct run {
    int rc;
    char out[65536], err[8192];
};

static void run(struct run *r, const char *const *args)
{
    char *argv[64];
    int n = 0;
    argv[n++] = (char *)bin;
    for (int i = 0; args[i] && n < 63; i++)
        argv[n++] = (char *)args[i];
    argv[n] = NULL;
    char po[600], pe[600];
    snprintf(po, sizeof(po), "%s/out", dir);
    snprintf(pe, sizeof(pe), "%s/err", dir);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, po, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_addopen(&fa, 2, pe, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    pid_t pid;
    KT_ASSERT(!posix_spawn(&pid, bin, &fa, NULL, argv, environ));
    posix_spawn_file_actions_destroy(&fa);
    r->rc = kt_wait(pid, 60);
    KT_ASSERT_MSG(r->rc >= 0, "%s %s: still running after 60 s", bin, args[0]);
    FILE *f = fopen(po, "r");
    size_t k = fread(r->out, 1, sizeof(r->out) - 1, f);
    r->out[k] = '\0';
    fclose(f);
    f = fopen(pe, "r");
    k = fread(r->err, 1, sizeof(r->err) - 1, f);
    r->err[k] = '\0';
    fclose(f);
}

/* Exit @p want, never a signal, and stderr says @p needle. */
static void expect(int want, const char *needle, const char *const *args)
{
    static struct run r;
    run(&r, args);
    char line[512] = "";
    for (int i = 0; args[i]; i++)
        snprintf(line + strlen(line), sizeof(line) - strlen(line), " %.60s", args[i]);
    KT_ASSERT_MSG(r.rc < 128, "publish-model%s: killed by signal %d", line, r.rc - 128);
    KT_ASSERT_MSG(r.rc == want, "publish-model%s: exit %d, want %d; stderr: %s", line, r.rc, want,
                  r.err);
    KT_ASSERT_MSG(!needle || strstr(r.err, needle), "publish-model%s: stderr '%s' lacks '%s'", line,
                  r.err, needle);
    if (want == 2)
        KT_ASSERT_MSG(!r.out[0], "publish-model%s: misuse printed to stdout", line);
}

static void test_help(void)
{
    static struct run r;
    const char *h[] = {"-h", NULL};
    run(&r, h);
    KT_ASSERT_INT_EQ(r.rc, 0);
    KT_ASSERT(strstr(r.out, "Usage: publish-model") && strstr(r.out, "push") &&
              strstr(r.out, "upload.parallel") && !r.err[0]);
    const char *h2[] = {"push", "--help", NULL};
    run(&r, h2);
    KT_ASSERT_INT_EQ(r.rc, 0);
    const char *v[] = {"-V", NULL};
    run(&r, v);
    KT_ASSERT(r.rc == 0 && strstr(r.out, "publish-model"));
}

static void test_misuse(void)
{
    const char *const cases[][16] = {
        {NULL},
        {"frobnicate", NULL},
        {"--bogus", NULL},
        {"push", "-Z", NULL},
        {"push", "--model", NULL},
        {"push", "--model", "m", "--version", "v", NULL},
        {"push", "--model", "m", "--version", "v", "--weights", "w", NULL},
        {"push", "--model", "m", "--version", "v", "--weights", "w", "--key", "k", "extra", NULL},
        {"push", "--dry-run", "--model", "m", "--version", "v", "--weights", "w", "--reason", "r",
         NULL},
        {"push", "--dry-run", "--model", "m", "--version", "v", "--weights", "w", "--strategy",
         "yolo", NULL},
        {"push", "--dry-run", "--model", "m", "--version", "v", "--weights", "w",
         "--max-unavailable", "0", NULL},
        {"push", "--dry-run", "--model", "m", "--version", "v", "--weights", "w",
         "--max-unavailable", "-3", NULL},
        {"push", "--dry-run", "--model", "m", "--version", "v", "--weights", "w", "--bake", "10x",
         NULL},
        {"push", "--dry-run", "--model", "m", "--version", "v", "--weights", "w", "--lease",
         "99999999999999999999999", NULL},
        {"push", "--dry-run", "--model", "m", "--version", "v", "--weights", "w", "--swap-mode",
         "fast", NULL},
        {"push", "--dry-run", "--model", "m", "--version", "v", "--weights", "w",
         "--auto-rollback=maybe", NULL},
        {"push", "--dry-run", "--model", "m", "--version", "v", "--weights", "w",
         "--max-error-rate", "2", NULL},
        {"push", "--dry-run", "--model", "m", "--version", "v", "--weights", "w", "--max-p99-ratio",
         "nan", NULL},
        {"push", "--dry-run", "--model", "m", "--version", "v", "--weights", "w", "--chunk-size",
         "12", NULL},
        {"push", "--dry-run", "--model", "m", "--version", "v", "--weights", "w", "--chunk-size",
         "lots", NULL},
        {"push", "--dry-run", "--model", "m", "--version", "v", "--weights", "w", "-X", "nokv",
         NULL},
        {"push", "--dry-run", "--model", "m", "--version", "v", "--weights", "w", "-X",
         "no.such.property=1", NULL},
        {"push", "--dry-run", "--model", "m", "--version", "v", "--weights", "w", "-X",
         "upload.parallel=0", NULL},
        {"push", "--dry-run", "--model", "m", "--version", "v", "--weights", "w", "-F",
         "/nonexistent.properties", NULL},
        {"keygen", NULL},
        {"keygen", "-o", "x", "--model", "m", NULL},
        {"pause", "--model", "m", "--key", "k", NULL},
        {"rollback", "--model", "m", "--reason", "r", NULL},
        {"rollback", "--model", "m", "--key", "k", "--reason", "r", "--to", "a", "--version", "b",
         NULL},
        {"ls", "extra", NULL},
        {"ls", "--weights", "w", NULL},
        {"verify", NULL},
        {"verify", "--model", "m", "--strategy", "all", NULL},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        expect(2, "publish-model: ", cases[i]);
}

/* A property the table lacks, or a value of the wrong type, from -X, -F or
 * the environment: misuse (exit 2) naming it, whatever the command, before
 * any I/O. */
static void test_unknown_property(void)
{
    const char *a1[] = {"ls", "-X", "nosuch=1", NULL};
    expect(2, "nosuch", a1);
    const char *a2[] = {"ls", "-X", "upload.paralel=4", NULL};
    expect(2, "upload.paralel", a2);
    const char *a3[] = {"ls", "-X", "upload.parallel=many", NULL};
    expect(2, "upload.parallel", a3);
    const char *a4[] = {"keygen", "-o", "x", "-X", "s3.htps=true", NULL};
    expect(2, "s3.htps", a4);
    char path[600];
    snprintf(path, sizeof(path), "%s/bad.properties", dir);
    FILE *f = fopen(path, "w");
    KT_ASSERT(f);
    fputs("# a typo on line 2\nchunk.sise=1M\n", f);
    fclose(f);
    const char *a5[] = {"ls", "-F", path, NULL};
    expect(2, "chunk.sise", a5);
    expect(2, ":2:", a5);
    setenv("KFLEET_UPLOAD_PARALLEL", "0", 1);
    const char *a6[] = {"ls", NULL};
    expect(2, "KFLEET_UPLOAD_PARALLEL", a6);
    unsetenv("KFLEET_UPLOAD_PARALLEL");
}

static void test_failures(void)
{
    char good[600], junk[600], key[600], pub[600], base[600];
    snprintf(good, sizeof(good), "%s/good.safetensors", dir);
    snprintf(junk, sizeof(junk), "%s/junk.safetensors", dir);
    struct kt_model_spec s = {
        .input_width = 8, .n_layers = 2, .widths = {16, 4}, .dtype = SCHEMA_DTYPE_F32, .seed = 9};
    uint64_t size = kt_model_write(good, &s);
    size_t len;
    uint8_t *bytes = kt_read_file(good, &len);
    KT_ASSERT_INT_EQ(len, size);
    kt_write_file(junk, bytes, len - 3);
    snprintf(base, sizeof(base), "%s/k", dir);
    snprintf(key, sizeof(key), "%s.key", base);
    snprintf(pub, sizeof(pub), "%s.pub", base);
    const char *kg[] = {"keygen", "-o", base, NULL};
    expect(0, "wrote", kg);
    expect(1, "exists", kg); /* never overwritten */

    const char *a1[] = {"push", "--dry-run", "--model", "m", "--version",
                        "v",    "--weights", junk,      NULL};
    expect(1, "not a valid safetensors file", a1);
    const char *a2[] = {"push", "--dry-run", "--model",      "m", "--version",
                        "v",    "--weights", "/nonexistent", NULL};
    expect(1, "No such file", a2);
    const char *a3[] = {"push", "--dry-run", "--model", "no/slash", "--version",
                        "v",    "--weights", good,      NULL};
    expect(1, "model name", a3);
    const char *a4[] = {"push",      "--model", "m",     "--version", "v",
                        "--weights", good,      "--key", pub,         NULL};
    expect(1, "public key", a4);
    const char *a5[] = {"push",      "--model", "m",     "--version", "v",
                        "--weights", good,      "--key", good,        NULL};
    expect(1, NULL, a5);
    /* A key that the configured trusted keys do not hold: refused before any I/O. */
    char other[600], otherpub[600];
    snprintf(other, sizeof(other), "%s/o", dir);
    snprintf(otherpub, sizeof(otherpub), "%s/o.pub", dir);
    const char *kg2[] = {"keygen", "-o", other, NULL};
    expect(0, NULL, kg2);
    char tk[700];
    snprintf(tk, sizeof(tk), "trusted_keys=%s", otherpub);
    const char *a6[] = {"push", "--model", "m", "--version", "v", "--weights",
                        good,   "--key",   key, "-X",        tk,  NULL};
    expect(1, "not in trusted_keys", a6);
    const char *a7[] = {"pause", "--model", "m",
                        "--key", key,       "--reason",
                        "r",     "-X",      "trusted_keys=/nonexistent.pub",
                        NULL};
    expect(1, "trusted_keys", a7);
    /* Brokers that do not answer: a clear message, quickly. */
    char store[700];
    snprintf(store, sizeof(store), "file://%s/store", dir);
    const char *a8[] = {"ls", "-X", "control.timeout_ms=1500", "--store", store, NULL};
    expect(1, "127.0.0.1:1", a8);
    free(bytes);
}

static void test_dry_run(void)
{
    char good[600];
    snprintf(good, sizeof(good), "%s/dry.safetensors", dir);
    struct kt_model_spec s = {.input_width = 8,
                              .n_layers = 2,
                              .widths = {16, 4},
                              .dtype = SCHEMA_DTYPE_BF16,
                              .seed = 4,
                              .softmax = true};
    kt_model_write(good, &s);
    static struct run r;
    const char *a[] = {"push",
                       "--dry-run",
                       "--model",
                       "m",
                       "--version",
                       "v1",
                       "--weights",
                       good,
                       "--chunk-size",
                       "1K",
                       "--strategy",
                       "canary",
                       "--canary-workers",
                       "2",
                       "--bake",
                       "5m",
                       NULL};
    run(&r, a);
    KT_ASSERT_MSG(r.rc == 0, "dry run: exit %d: %s", r.rc, r.err);
    KT_ASSERT(strstr(r.err, "nothing was uploaded or announced"));
    struct manifest *m;
    char err[512];
    size_t n = strlen(r.out);
    KT_ASSERT(n && r.out[n - 1] == '\n');
    KT_ASSERT_MSG(!manifest_parse((const uint8_t *)r.out, n - 1, &m, err, sizeof(err)), "%s", err);
    KT_ASSERT_INT_EQ(m->dtype, SCHEMA_DTYPE_BF16);
    KT_ASSERT(m->n_chunks >= 1 && m->golden.rows == 8);
    manifest_free(m);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: test_pub_cli PUBLISH_MODEL\n");
        return KF_TEST_HARD_ERROR;
    }
    bin = argv[1];
    dir = kt_mkdtemp("pub-cli");
    /* Nothing here may reach a real server. */
    setenv("KFLEET_BROKERS", "127.0.0.1:1", 1);
    setenv("KFLEET_S3_ENDPOINT", "127.0.0.1:1", 1);
    unsetenv("KFLEET_STORE_URL");
    unsetenv("KFLEET_TRUSTED_KEYS");
    KT_RUN(test_help);
    KT_RUN(test_misuse);
    KT_RUN(test_unknown_property);
    KT_RUN(test_failures);
    KT_RUN(test_dry_run);
    kt_rmtree(dir);
    free(dir);
    return 0;
}
