/* The group probe's child process (group_probe.h): the only code of the
 * kfleet-worker binary that uses librdkafka's admin API, and it runs in a
 * process of its own, so that an abort inside librdkafka costs one answer
 * instead of the worker. One request at a time, answered in order. */
#include "worker/group_probe_impl.h"

#include "common/kf_err.h"
#include "common/kf_log.h"
#include "common/kio_admin.h"

#include <errno.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#define MOD "probe"

static json_t *member_json(const struct kio_group_member *m)
{
    json_t *asg = json_array();
    for (size_t i = 0; asg && m->assignment && i < m->assignment->count; i++) {
        const struct kio_tp *tp = &m->assignment->elems[i];
        if (json_array_append_new(asg, json_pack("[s, i]", tp->topic, (json_int_t)tp->partition))) {
            json_decref(asg);
            return NULL;
        }
    }
    if (!asg)
        return NULL;
    return json_pack("{s:s, s:s, s:s, s:s?, s:o}", "member_id", m->member_id ? m->member_id : "",
                     "client_id", m->client_id ? m->client_id : "", "host", m->host ? m->host : "",
                     "instance_id", m->instance_id, "assignment", asg);
}

char *group_probe_answer_encode(uint64_t id, int err, const char *error, const struct kio_group *g,
                                size_t *len)
{
    json_t *j = json_pack("{s:I, s:i}", "id", (json_int_t)id, "err", err);
    int bad = !j;
    if (!bad && (err || !g)) {
        bad = json_object_set_new(j, "error", json_string(error ? error : ""));
    } else if (!bad) {
        json_t *members = json_array();
        bad = json_object_set_new(j, "group", json_string(g->group_id ? g->group_id : "")) ||
              json_object_set_new(j, "state", json_string(g->state ? g->state : "")) ||
              json_object_set_new(j, "assignor", json_string(g->assignor ? g->assignor : "")) ||
              json_object_set_new(j, "members", members);
        for (size_t i = 0; !bad && i < g->member_count; i++)
            bad = json_array_append_new(members, member_json(&g->members[i]));
    }
    if (bad) {
        json_decref(j);
        return NULL;
    }
    return group_probe_json_line(j, len);
}

static int write_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -errno;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* One answer. With no admin client (a configuration librdkafka refused),
 * every request is answered with that reason: the worker logs it and keeps
 * going without membership, instead of restarting a child that cannot work. */
static int answer(kio_admin *ka, const struct group_probe_config *c, const char *refused,
                  uint64_t id)
{
    struct kio_group *g = NULL;
    char errstr[512] = "";
    int err = -EINVAL;
    if (ka)
        err = kio_admin_group_describe(ka, c->group, &g, c->describe_timeout_ms, errstr,
                                       sizeof(errstr));
    else
        snprintf(errstr, sizeof(errstr), "%s", refused);
    size_t len = 0;
    char *line = group_probe_answer_encode(id, err, errstr, err ? NULL : g, &len);
    kio_group_free(g);
    if (!line) {
        /* Say something rather than nothing: the worker would time out. */
        line = group_probe_answer_encode(id, -ENOMEM, "out of memory", NULL, &len);
        if (!line)
            return -ENOMEM;
    }
    err = write_all(0, line, len);
    free(line);
    return err;
}

int group_probe_child_main(void)
{
    /* The worker says when to stop, by closing our stdin (see group_probe.h). */
    signal(SIGINT, SIG_IGN);
    signal(SIGTERM, SIG_IGN);
    /* The abort this process exists to contain is a known librdkafka bug:
     * no core file per restart through a long broker outage. */
    setrlimit(RLIMIT_CORE, &(struct rlimit){0, 0});
    FILE *in = fdopen(dup(0), "r");
    if (!in) {
        KF_LOG_E(MOD, "stdin: %s", strerror(errno));
        return 1;
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t n = getline(&line, &cap, in);
    struct group_probe_config c;
    char errstr[512] = "";
    if (n <= 0 || group_probe_config_decode(line, (size_t)n, &c, errstr, sizeof(errstr))) {
        /* EOF before any configuration: the worker went away at once. */
        if (n > 0)
            KF_LOG_E(MOD, "%s", errstr);
        free(line);
        fclose(in);
        return n > 0 ? 1 : 0;
    }
    kf_log_set_level((enum kf_log_level)c.log_level);
    struct kio_opts o = {
        .brokers = c.brokers,
        .client_id = c.client_id,
        .props = (const char *const *)c.props,
    };
    kio_admin *ka = kio_admin_new(&o, errstr, sizeof(errstr));
    if (!ka)
        KF_LOG_E(MOD, "admin client: %s", errstr);
    KF_LOG_D(MOD, "describing group %s for pid %d", c.group, (int)getppid());
    int rc = 0;
    while ((n = getline(&line, &cap, in)) > 0) {
        uint64_t id;
        if (group_probe_request_decode(line, (size_t)n, &id)) {
            KF_LOG_E(MOD, "not a request: %.*s", (int)(n > 200 ? 200 : n), line);
            rc = 1;
            break;
        }
        int err = answer(ka, &c, errstr, id);
        if (err) {
            /* The worker is gone (EPIPE) or we cannot talk: nothing to do. */
            KF_LOG_D(MOD, "answer: %s", kf_strerror(err));
            break;
        }
    }
    kio_admin_free(ka);
    group_probe_config_fini(&c);
    free(line);
    fclose(in);
    return rc;
}
