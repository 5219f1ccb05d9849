#include "tests/worker/kt_push.h"

#include "schema/safet.h"

#include <jansson.h>

void kt_push_write_weights(const struct kt_version *v, const char *path)
{
    const struct manifest *m = v->m;
    struct safet_input t[2 * KT_MAX_LAYERS];
    KT_ASSERT(m->n_tensors <= sizeof(t) / sizeof(t[0]));
    for (size_t i = 0; i < m->n_tensors; i++) {
        const struct schema_tensor *st = &m->tensors[i];
        t[i] = (struct safet_input){st->name, st->dtype, st->ndim, st->shape,
                                    v->blob.ptr + st->offset};
    }
    /* The architecture as the manifest states it: the JSON form push reads. */
    json_t *doc = json_loadb((const char *)v->manifest.ptr, v->manifest.len, 0, NULL);
    char *arch = json_dumps(json_object_get(doc, "architecture"), JSON_COMPACT);
    KT_ASSERT_MSG(arch, "the fixture's manifest has no architecture");
    struct safet_meta meta = {.key = SAFET_META_ARCH, .value = arch};
    kf_buf file;
    kf_buf_init(&file);
    KT_ASSERT_INT_EQ(safet_write(&file, t, m->n_tensors, &meta, 1), 0);
    /* The chunk keys a test plants under come from the fixture's manifest:
     * they are push's only if the data section is the blob. */
    struct safet_file *sf;
    char err[256];
    KT_ASSERT_MSG(!safet_parse(file.ptr, file.len, file.len, &sf, err, sizeof(err)), "%s", err);
    KT_ASSERT_MSG(sf->data_size == v->blob.len &&
                      !memcmp(file.ptr + sf->data_offset, v->blob.ptr, v->blob.len),
                  "%s: the data section is not the fixture's blob", path);
    safet_file_free(sf);
    FILE *f = fopen(path, "wb");
    KT_ASSERT_MSG(f && fwrite(file.ptr, 1, file.len, f) == file.len && !fclose(f), "write %s",
                  path);
    kf_buf_fini(&file);
    free(arch);
    json_decref(doc);
}

char *kt_push(struct kt_env *e, const char *publish_bin, const char *version, const char *weights,
              const char *const *extra)
{
    char key[320], log[320];
    snprintf(key, sizeof(key), "%s/trusted.key", e->dir);
    snprintf(log, sizeof(log), "%s/push-%s.log", e->dir, version);
    char health[16];
    snprintf(health, sizeof(health), "%d", KT_HEALTH_S);
    /* The tests' short health window (kt_e2e.h); @p extra may override it. */
    const char *argv[48] = {publish_bin,       "push",    "-b",     e->brokers,  "--control-topic",
                            e->t_ctl,          "--model", e->model, "--version", version,
                            "--weights",       weights,   "--key",  key,         "--no-progress",
                            "--health-window", health};
    int n = 17;
    for (int i = 0; extra && extra[i]; i++) {
        KT_ASSERT(n + 1 < (int)(sizeof(argv) / sizeof(argv[0])));
        argv[n++] = extra[i];
    }
    argv[n] = NULL;
    int rc = kt_run((char *const *)argv, log, 120);
    char *out = kt_slurp(log);
    KT_ASSERT_MSG(rc == 0, "publish-model push %s: exit %d:\n%s", version, rc, out);
    return out;
}
