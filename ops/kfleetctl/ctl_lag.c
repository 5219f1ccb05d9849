/* kfleetctl lag: per partition of the request topic, the group's committed
 * offset, the log-end offset (high watermark) and the lag between them, with
 * the member that owns the partition — the same figures and columns as
 * Kafka's `kafka-consumer-groups.sh --describe`. Like Kafka, a partition with
 * nothing committed shows "-" for the offset and the lag (JSON: null); unlike
 * it, every partition of the topic is listed, assigned or not, so an idle
 * partition is visible too. */
#include "ops/kfleetctl/ctl.h"

#include "common/kf_err.h"
#include "common/kio_admin.h"
#include "schema/json_impl.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

/* The member that owns (topic, partition), or NULL. */
static const struct kio_group_member *owner(const struct kio_group *g, const char *topic,
                                            int32_t partition)
{
    for (size_t i = 0; g && i < g->member_count; i++)
        if (kio_tplist_find(g->members[i].assignment, topic, partition))
            return &g->members[i];
    return NULL;
}

static const char *or_dash(const char *s)
{
    return s && s[0] ? s : "-";
}

static void print_table(const struct ctl_opts *o, const struct kio_group *g,
                        const struct kio_partition_lag *p, size_t n)
{
    printf("%-24s %-24s %9s %14s %14s %8s %-40s %-16s %s\n", "GROUP", "TOPIC", "PARTITION",
           "CURRENT-OFFSET", "LOG-END-OFFSET", "LAG", "CONSUMER-ID", "HOST", "CLIENT-ID");
    int64_t total = 0;
    for (size_t i = 0; i < n; i++) {
        const struct kio_group_member *m = owner(g, o->t_requests, p[i].partition);
        bool has = p[i].committed != KIO_OFFSET_INVALID;
        char cur[24] = "-", lag[24] = "-";
        if (has) {
            snprintf(cur, sizeof(cur), "%" PRId64, p[i].committed);
            snprintf(lag, sizeof(lag), "%" PRId64, p[i].lag);
            total += p[i].lag;
        }
        printf("%-24s %-24s %9d %14s %14" PRId64 " %8s %-40s %-16s %s\n", o->group, o->t_requests,
               p[i].partition, cur, p[i].high, lag, or_dash(m ? m->member_id : NULL),
               or_dash(m ? m->host : NULL), or_dash(m ? m->client_id : NULL));
    }
    printf("\ngroup %s: %s, %zu members, total lag %" PRId64 "\n", o->group, g ? g->state : "?",
           g ? g->member_count : 0, total);
}

static int print_json(const struct ctl_opts *o, const struct kio_group *g,
                      const struct kio_partition_lag *p, size_t n)
{
    int err = 0;
    json_t *j = json_object(), *parts = json_array();
    if (!j || !parts) {
        json_decref(j);
        json_decref(parts);
        return -ENOMEM;
    }
    ju_set(j, "group", ju_text(o->group), &err);
    ju_set(j, "topic", ju_text(o->t_requests), &err);
    ju_set(j, "state", ju_text(g ? g->state : ""), &err);
    ju_set(j, "partitions", parts, &err);
    for (size_t i = 0; i < n && !err; i++) {
        const struct kio_group_member *m = owner(g, o->t_requests, p[i].partition);
        bool has = p[i].committed != KIO_OFFSET_INVALID;
        json_t *pj = json_object();
        if (!pj || json_array_append_new(parts, pj)) {
            err = -ENOMEM;
            break;
        }
        ju_set(pj, "partition", json_integer(p[i].partition), &err);
        ju_set(pj, "committed", has ? json_integer(p[i].committed) : json_null(), &err);
        ju_set(pj, "lag", has ? json_integer(p[i].lag) : json_null(), &err);
        ju_set(pj, "log_start", json_integer(p[i].low), &err);
        ju_set(pj, "log_end", json_integer(p[i].high), &err);
        ju_set(pj, "member", m ? ju_text(m->member_id) : json_null(), &err);
        if (m) {
            ju_set(pj, "client_id", ju_text(or_dash(m->client_id)), &err);
            ju_set(pj, "host", ju_text(or_dash(m->host)), &err);
        }
    }
    if (!err)
        err = ju_print_line(j, stdout);
    json_decref(j);
    return err;
}

static int lag_once(const struct ctl_opts *o, void *admin)
{
    kio_admin *ka = admin;
    char err[512] = "";
    struct kio_partition_lag *p = NULL;
    size_t n = 0;
    int e =
        kio_admin_group_lag(ka, o->group, o->t_requests, &p, &n, o->timeout_ms, err, sizeof(err));
    if (e) {
        fprintf(stderr, "kfleetctl: lag of %s on %s: %s\n", o->group, o->t_requests,
                err[0] ? err : kf_strerror(e));
        return 1;
    }
    struct kio_group *g = NULL;
    err[0] = '\0';
    e = kio_admin_group_describe(ka, o->group, &g, o->timeout_ms, err, sizeof(err));
    if (e) /* the offsets stand without the members */
        fprintf(stderr, "kfleetctl: members of %s: %s\n", o->group, err[0] ? err : kf_strerror(e));
    int rc = 0;
    if (o->json && (e = print_json(o, g, p, n))) {
        fprintf(stderr, "kfleetctl: lag --json: %s\n", kf_strerror(e));
        rc = 1;
    } else if (!o->json) {
        print_table(o, g, p, n);
    }
    kio_group_free(g);
    free(p);
    return rc;
}

int ctl_cmd_lag(const struct ctl_opts *o)
{
    char err[512] = "";
    struct kio_opts ko = ctl_kio_opts(o);
    kio_admin *ka = kio_admin_new(&ko, err, sizeof(err));
    if (!ka) {
        fprintf(stderr, "kfleetctl: %s\n", err);
        return 1;
    }
    int rc = ctl_watch(o, lag_once, ka);
    kio_admin_free(ka);
    return rc;
}
