/* The group probe's lines (group_probe.h has the protocol): the worker's
 * configuration and requests, and the decoding of the child's answers. */
#include "worker/group_probe_impl.h"

#include "common/kf_conf.h"
#include "common/kf_err.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void group_probe_group_free(struct group_probe_group *g)
{
    if (!g)
        return;
    kio_group_members_free(g->members, g->member_count);
    free(g->group_id);
    free(g->state);
    free(g->assignor);
    free(g);
}

char *group_probe_json_line(struct json_t *j, size_t *len)
{
    char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    if (!s)
        return NULL;
    size_t n = strlen(s);
    char *line = realloc(s, n + 2);
    if (!line) {
        free(s);
        return NULL;
    }
    line[n] = '\n';
    line[n + 1] = '\0';
    *len = n + 1;
    return line;
}

static int add_pair(json_t *props, const char *key, const char *value)
{
    if (json_array_append_new(props, json_string(key)) ||
        json_array_append_new(props, json_string(value ? value : "")))
        return -ENOMEM;
    return 0;
}

char *group_probe_config_encode(const struct group_probe_opts *o, int log_level, size_t *len)
{
    json_t *props = json_array();
    json_t *j = json_pack("{s:s, s:s, s:s, s:i, s:i}", "brokers", o->brokers, "client_id",
                          o->client_id ? o->client_id : "kfleet-probe", "group", o->group,
                          "timeout_ms", o->describe_timeout_ms > 0 ? o->describe_timeout_ms : 2000,
                          "log_level", log_level);
    int err = j && props ? 0 : -ENOMEM;
    /* kio's order: props, then kafka.* from the conf (later wins). */
    for (size_t i = 0; !err && o->props && o->props[i] && o->props[i + 1]; i += 2)
        err = add_pair(props, o->props[i], o->props[i + 1]);
    size_t n = o->conf ? kf_conf_kafka_count(o->conf) : 0;
    for (size_t i = 0; !err && i < n; i++) {
        const char *key, *value;
        kf_conf_kafka_get(o->conf, i, &key, &value);
        err = add_pair(props, key, value);
    }
    if (err) {
        json_decref(props);
        json_decref(j);
        return NULL;
    }
    /* json_object_set_new steals props even when it fails. */
    if (json_object_set_new(j, "props", props)) {
        json_decref(j);
        return NULL;
    }
    return group_probe_json_line(j, len);
}

static char *dup_str(const json_t *s)
{
    return strdup(json_is_string(s) ? json_string_value(s) : "");
}

int group_probe_config_decode(const char *line, size_t len, struct group_probe_config *c,
                              char *errstr, size_t errstr_size)
{
    memset(c, 0, sizeof(*c));
    json_error_t jerr;
    json_t *j = json_loadb(line, len, 0, &jerr);
    json_t *props = json_object_get(j, "props");
    if (!json_is_object(j) || !json_is_string(json_object_get(j, "brokers")) ||
        !json_is_string(json_object_get(j, "group")) || (props && !json_is_array(props))) {
        kf_errf(errstr, errstr_size, "group probe: not a configuration line%s%s", j ? "" : ": ",
                j ? "" : jerr.text);
        json_decref(j);
        return -EPROTO;
    }
    int err = 0;
    size_t np = json_array_size(props);
    c->brokers = dup_str(json_object_get(j, "brokers"));
    c->client_id = dup_str(json_object_get(j, "client_id"));
    c->group = dup_str(json_object_get(j, "group"));
    c->describe_timeout_ms = (int)json_integer_value(json_object_get(j, "timeout_ms"));
    c->log_level = (int)json_integer_value(json_object_get(j, "log_level"));
    c->props = calloc(np + 1, sizeof(*c->props));
    if (!c->brokers || !c->client_id || !c->group || !c->props)
        err = -ENOMEM;
    for (size_t i = 0; !err && i < np; i++)
        if (!(c->props[i] = dup_str(json_array_get(props, i))))
            err = -ENOMEM;
    if (!err && np % 2) {
        kf_errf(errstr, errstr_size, "group probe: odd number of property strings");
        err = -EPROTO;
    }
    if (c->describe_timeout_ms <= 0)
        c->describe_timeout_ms = 2000;
    json_decref(j);
    if (err)
        group_probe_config_fini(c);
    return err;
}

void group_probe_config_fini(struct group_probe_config *c)
{
    for (size_t i = 0; c->props && c->props[i]; i++)
        free(c->props[i]);
    free(c->props);
    free(c->brokers);
    free(c->client_id);
    free(c->group);
    memset(c, 0, sizeof(*c));
}

int group_probe_request_encode(uint64_t id, char *buf, size_t size)
{
    int n = snprintf(buf, size, "{\"describe\":%" PRIu64 "}\n", id);
    return n > 0 && (size_t)n < size ? n : -ENOBUFS;
}

int group_probe_request_decode(const char *line, size_t len, uint64_t *id)
{
    json_t *j = json_loadb(line, len, 0, NULL);
    json_t *v = json_object_get(j, "describe");
    int err = json_is_integer(v) && json_integer_value(v) > 0 ? 0 : -EPROTO;
    if (!err)
        *id = (uint64_t)json_integer_value(v);
    json_decref(j);
    return err;
}

static int member_decode(const json_t *jm, struct kio_group_member *m)
{
    m->member_id = dup_str(json_object_get(jm, "member_id"));
    m->client_id = dup_str(json_object_get(jm, "client_id"));
    m->host = dup_str(json_object_get(jm, "host"));
    json_t *inst = json_object_get(jm, "instance_id");
    m->instance_id = json_is_string(inst) ? strdup(json_string_value(inst)) : NULL;
    json_t *asg = json_object_get(jm, "assignment");
    m->assignment = kio_tplist_new(json_array_size(asg));
    if (!m->member_id || !m->client_id || !m->host || (json_is_string(inst) && !m->instance_id) ||
        !m->assignment)
        return -ENOMEM;
    if (asg && !json_is_array(asg))
        return -EPROTO;
    size_t i;
    json_t *tp;
    json_array_foreach(asg, i, tp)
    {
        json_t *topic = json_array_get(tp, 0), *part = json_array_get(tp, 1);
        if (!json_is_string(topic) || !json_is_integer(part) || json_integer_value(part) < 0 ||
            json_integer_value(part) > INT32_MAX)
            return -EPROTO;
        int err = kio_tplist_add(m->assignment, json_string_value(topic),
                                 (int32_t)json_integer_value(part), KIO_OFFSET_INVALID);
        if (err)
            return err;
    }
    return 0;
}

int group_probe_answer_decode(const char *line, size_t len, uint64_t *id, int *err, char *error,
                              size_t error_size, struct group_probe_group **g)
{
    *g = NULL;
    if (error_size)
        error[0] = '\0';
    json_t *j = json_loadb(line, len, 0, NULL);
    json_t *jid = json_object_get(j, "id"), *jerr = json_object_get(j, "err");
    if (!json_is_integer(jid) || !json_is_integer(jerr) || json_integer_value(jerr) > 0) {
        json_decref(j);
        return -EPROTO;
    }
    *id = (uint64_t)json_integer_value(jid);
    *err = (int)json_integer_value(jerr);
    if (*err) {
        const char *why = json_string_value(json_object_get(j, "error"));
        if (error_size)
            snprintf(error, error_size, "%s", why ? why : "");
        json_decref(j);
        return 0;
    }
    json_t *members = json_object_get(j, "members");
    int ret = members && !json_is_array(members) ? -EPROTO : 0;
    struct group_probe_group *d = calloc(1, sizeof(*d));
    if (!ret && d) {
        d->group_id = dup_str(json_object_get(j, "group"));
        d->state = dup_str(json_object_get(j, "state"));
        d->assignor = dup_str(json_object_get(j, "assignor"));
        d->members = calloc(json_array_size(members) + 1, sizeof(*d->members));
        if (!d->group_id || !d->state || !d->assignor || !d->members)
            ret = -ENOMEM;
    } else if (!ret) {
        ret = -ENOMEM;
    }
    /* member_count counts every member touched, so free releases partial ones. */
    for (size_t i = 0; !ret && i < json_array_size(members); i++) {
        json_t *jm = json_array_get(members, i);
        d->member_count++;
        ret = json_is_object(jm) ? member_decode(jm, &d->members[i]) : -EPROTO;
    }
    json_decref(j);
    if (ret) {
        group_probe_group_free(d);
        return ret;
    }
    *g = d;
    return 0;
}
