/* kfleetctl against a finished fleet scenario (see kt_ctl.h). */
#include "tests/worker/kt_ctl.h"

#include "common/kio_consumer.h"
#include "schema/resp.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

/* Run kfleetctl on the env's topics; output (stdout + stderr) in @p out_path. */
static int ctl(struct kt_env *e, const char *bin, const char *out_path, char *const *args)
{
    char *argv[32] = {(char *)bin,        "-b",
                      (char *)e->brokers, "--control-topic",
                      e->t_ctl,           "-G",
                      e->group,           "--requests-topic",
                      e->t_req,           "--responses-topic",
                      e->t_resp,          "--dlq-topic",
                      e->t_dlq,           "-K",
                      e->trusted_pub};
    int n = 15;
    for (int i = 0; args[i] && n < 31; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    return kt_run(argv, out_path, 120);
}

/* The line of @p text that contains @p needle (NULL when none), copied into @p line. */
static bool find_line(const char *text, const char *needle, char *line, size_t size)
{
    const char *p = strstr(text, needle);
    if (!p)
        return false;
    const char *b = p, *end = strchr(p, '\n');
    while (b > text && b[-1] != '\n')
        b--;
    snprintf(line, size, "%.*s", (int)((end ? end : p + strlen(p)) - b), b);
    return true;
}

void kt_ctl_audit(struct kt_env *e, const char *bin, const char *rollback_mark)
{
    /* A forgery: a "newer" version announced without a signature. */
    struct kt_version forged;
    kt_env_version(e, "v9-forged", 9, 0, NULL, &forged);
    kt_env_announce(e, &forged, 99, NULL, NULL);
    kt_version_fini(&forged);

    char path[400], line[1024];
    snprintf(path, sizeof(path), "%s/audit.txt", e->dir);
    int rc = ctl(e, bin, path, (char *[]){"audit", "--model", e->model, NULL});
    char *text = kt_slurp(path);
    KT_ASSERT_MSG(rc == 3, "kfleetctl audit exited %d (3: flagged events); output in %s", rc, path);
    KT_ASSERT_MSG(strstr(text, "model.published") && strstr(text, "rollout.done") &&
                      strstr(text, "worker.joined"),
                  "the timeline lacks publishes, joins or swaps; see %s", path);
    KT_ASSERT_MSG(strstr(text, rollback_mark), "no '%s' (the rollback) in the timeline; see %s",
                  rollback_mark, path);
    KT_ASSERT_MSG(find_line(text, "v9-forged published", line, sizeof(line)),
                  "the forged event is not in the timeline; see %s", path);
    KT_ASSERT_MSG(strstr(line, "[unsigned]"), "the forged event is not flagged: %s", line);
    KT_ASSERT_MSG(strstr(text, " 1 flagged"), "more than the forged event flagged; see %s", path);
    printf("kfleetctl audit: %s flags the forged event:\n  %s\n", rollback_mark, line);
    free(text);

    snprintf(path, sizeof(path), "%s/audit.jsonl", e->dir);
    rc = ctl(e, bin, path, (char *[]){"audit", "--json", NULL});
    KT_ASSERT_INT_EQ(rc, 3);
    text = kt_slurp(path);
    int lines = 0, flagged = 0;
    json_int_t last = -1;
    for (char *save = NULL, *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
        json_error_t err;
        json_t *j = json_loads(l, 0, &err);
        KT_ASSERT_MSG(j && json_is_object(j), "line %d of %s is not a JSON object: %s", lines + 1,
                      path, err.text);
        json_int_t off = json_integer_value(json_object_get(j, "offset"));
        KT_ASSERT_MSG(off > last, "offsets out of order at line %d", lines + 1);
        last = off;
        const char *flag = json_string_value(json_object_get(j, "flag"));
        KT_ASSERT(flag && json_is_string(json_object_get(j, "type")));
        if (flag[0]) {
            flagged++;
            KT_ASSERT_STR_EQ(json_string_value(json_object_get(j, "version")), "v9-forged");
            KT_ASSERT_STR_EQ(flag, "unsigned");
        }
        json_decref(j);
        lines++;
    }
    KT_ASSERT_INT_EQ(flagged, 1);
    printf("kfleetctl audit --json: %d lines, each a JSON object, 1 flagged\n", lines);
    free(text);
}

char *kt_ctl_status_text(struct kt_env *e, const char *bin)
{
    static int calls;
    char path[400];
    snprintf(path, sizeof(path), "%s/status-%d.txt", e->dir, ++calls);
    int rc = ctl(e, bin, path, (char *[]){"status", "--model", e->model, NULL});
    char *text = kt_slurp(path);
    KT_ASSERT_MSG(rc == 0, "kfleetctl status exited %d:\n%s", rc, text);
    return text;
}

void kt_ctl_status(struct kt_env *e, const char *bin, int workers, const char *version)
{
    char line[1024], want[200];
    char *text = kt_ctl_status_text(e, bin);
    snprintf(want, sizeof(want), "%s=%s", e->model, version);
    for (int i = 0; i < workers; i++) {
        char id[80];
        snprintf(id, sizeof(id), "%s ", e->workers[i].id);
        KT_ASSERT_MSG(find_line(text, id, line, sizeof(line)), "%s missing:\n%s", id, text);
        KT_ASSERT_MSG(strstr(line, " live ") && strstr(line, " member ") && strstr(line, want),
                      "status of %s: %s", e->workers[i].id, line);
    }
    printf("kfleetctl status: %d workers live, members of %s, on %s\n", workers, e->group, version);
    free(text);
}

void kt_ctl_trace(struct kt_env *e, const char *bin)
{
    kio_consumer *kc = kt_env_reader(e, e->t_resp, 1); /* kt_env_init: 1 partition */
    kio_msg *m = NULL;
    for (int i = 0; i < 60 && !m; i++)
        if (kio_consumer_poll(kc, 1000, &m))
            kio_msg_free(m), m = NULL;
    KT_ASSERT_MSG(m, "no response on %s", e->t_resp);
    char part[24], off[24], worker[80], version[80], id[160];
    struct {
        const char *name;
        char *out;
        size_t size;
    } hs[] = {{"kfleet-source-partition", part, sizeof(part)},
              {"kfleet-source-offset", off, sizeof(off)},
              {"kfleet-worker", worker, sizeof(worker)},
              {"kfleet-version", version, sizeof(version)}};
    for (size_t i = 0; i < 4; i++) {
        kf_bytes v;
        KT_ASSERT_MSG(!kio_msg_header(m, hs[i].name, &v), "response without %s", hs[i].name);
        snprintf(hs[i].out, hs[i].size, "%.*s", (int)v.len, (const char *)v.ptr);
    }
    struct resp rs;
    char why[200];
    KT_ASSERT_INT_EQ(resp_decode(m->value.ptr, m->value.len, &rs, why, sizeof(why)), 0);
    snprintf(id, sizeof(id), "id %.*s ", (int)rs.id.len, (const char *)rs.id.ptr);
    kio_msg_free(m);
    kio_consumer_free(kc);

    char path[400], want[200];
    snprintf(path, sizeof(path), "%s/trace.txt", e->dir);
    int rc = ctl(e, bin, path, (char *[]){"trace", "--partition", part, "--offset", off, NULL});
    char *text = kt_slurp(path);
    KT_ASSERT_MSG(rc == 0, "kfleetctl trace exited %d; see %s", rc, path);
    KT_ASSERT_MSG(strstr(text, id), "trace does not show the request's %s; see %s", id, path);
    snprintf(want, sizeof(want), "version %s  worker %s", version, worker);
    KT_ASSERT_MSG(strstr(text, want), "trace lacks '%s'; see %s", want, path);
    KT_ASSERT_MSG(strstr(text, "published #") && !strstr(text, "MISMATCH"),
                  "trace did not find the version's announcement; see %s", path);
    printf("kfleetctl trace %s@%s: %s\n", part, off, want);
    free(text);
}

char *kt_ctl_trace_text(struct kt_env *e, const char *bin, int32_t partition, int64_t offset)
{
    char path[400], part[24], off[24];
    snprintf(part, sizeof(part), "%d", partition);
    snprintf(off, sizeof(off), "%lld", (long long)offset);
    snprintf(path, sizeof(path), "%s/trace-%s-%s.txt", e->dir, part, off);
    int rc = ctl(e, bin, path, (char *[]){"trace", "--partition", part, "--offset", off, NULL});
    char *text = kt_slurp(path);
    KT_ASSERT_MSG(rc == 0, "kfleetctl trace exited %d:\n%s", rc, text);
    return text;
}
