/* The group probe's lines (worker/group_probe_impl.h): what the worker
 * writes, what the child answers, and what is not a line of either. */
#include "common/kf_conf.h"
#include "common/kio_admin.h"
#include "tests/lib/kf_test.h"
#include "worker/group_probe_impl.h"

#include <errno.h>
#include <stdlib.h>

static void test_config(void)
{
    static const struct kf_prop props[] = {
        {"brokers", KF_PROP_STR, NULL, 0, 0, NULL, "brokers"},
    };
    char err[256];
    kf_conf *conf = kf_conf_new(props, 1, err, sizeof(err));
    KT_ASSERT_MSG(conf, "%s", err);
    KT_ASSERT_INT_EQ(kf_conf_set_kv(conf, "kafka.sasl.password=s3cr\"t\n", err, sizeof(err)), 0);
    KT_ASSERT_INT_EQ(kf_conf_set_kv(conf, "kafka.socket.timeout.ms=7000", err, sizeof(err)), 0);
    struct group_probe_opts o = {
        .brokers = "b1:9092,b2:9092",
        .client_id = "w-1",
        .group = "kfleet-workers",
        .props = (const char *const[]){"socket.timeout.ms", "5000", NULL},
        .conf = conf,
        .describe_timeout_ms = 1500,
    };
    size_t len = 0;
    char *line = group_probe_config_encode(&o, 3, &len);
    KT_ASSERT(line && len == strlen(line) && line[len - 1] == '\n');
    KT_ASSERT(!memchr(line, '\n', len - 1)); /* one line, whatever the values hold */
    struct group_probe_config c;
    KT_ASSERT_INT_EQ(group_probe_config_decode(line, len, &c, err, sizeof(err)), 0);
    KT_ASSERT_STR_EQ(c.brokers, "b1:9092,b2:9092");
    KT_ASSERT_STR_EQ(c.client_id, "w-1");
    KT_ASSERT_STR_EQ(c.group, "kfleet-workers");
    KT_ASSERT_INT_EQ(c.describe_timeout_ms, 1500);
    KT_ASSERT_INT_EQ(c.log_level, 3);
    /* props first, then kafka.* (later wins, as in kio) */
    const char *want[] = {"socket.timeout.ms",
                          "5000",
                          "sasl.password",
                          "s3cr\"t\n",
                          "socket.timeout.ms",
                          "7000",
                          NULL};
    for (size_t i = 0; want[i]; i++)
        KT_ASSERT_STR_EQ(c.props[i], want[i]);
    KT_ASSERT(!c.props[6]);
    group_probe_config_fini(&c);
    free(line);

    /* defaults */
    struct group_probe_opts d = {.brokers = "b", .group = "g"};
    line = group_probe_config_encode(&d, 2, &len);
    KT_ASSERT_INT_EQ(group_probe_config_decode(line, len, &c, err, sizeof(err)), 0);
    KT_ASSERT_STR_EQ(c.client_id, "kfleet-probe");
    KT_ASSERT_INT_EQ(c.describe_timeout_ms, 2000);
    KT_ASSERT(!c.props[0]);
    group_probe_config_fini(&c);
    free(line);

    const char *bad[] = {"",
                         "{}",
                         "[]",
                         "{\"brokers\":\"b\"}",
                         "{\"brokers\":1,\"group\":\"g\"}",
                         "{\"brokers\":\"b\",\"group\":\"g\",\"props\":[\"odd\"]}",
                         "{\"brokers\":\"b\",\"group\":\"g\",\"props\":{}}"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++)
        KT_ASSERT_MSG(group_probe_config_decode(bad[i], strlen(bad[i]), &c, err, sizeof(err)) ==
                          -EPROTO,
                      "accepted %s", bad[i]);
    kf_conf_free(conf);
}

static void test_request(void)
{
    char line[64];
    int n = group_probe_request_encode(42, line, sizeof(line));
    KT_ASSERT(n > 0 && line[n - 1] == '\n');
    uint64_t id = 0;
    KT_ASSERT_INT_EQ(group_probe_request_decode(line, (size_t)n, &id), 0);
    KT_ASSERT_INT_EQ(id, 42);
    KT_ASSERT_INT_EQ(group_probe_request_encode(42, line, 4), -ENOBUFS);
    const char *bad[] = {"describe\n", "{\"describe\":0}", "{\"describe\":\"1\"}", "{}"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++)
        KT_ASSERT_INT_EQ(group_probe_request_decode(bad[i], strlen(bad[i]), &id), -EPROTO);
}

static void test_answer(void)
{
    struct kio_group_member members[2] = {
        {.member_id = "m-1",
         .client_id = "w-1",
         .host = "/10.0.0.1",
         .instance_id = NULL,
         .assignment = kio_tplist_new(2)},
        {.member_id = "m-2",
         .client_id = "w-\"2\"",
         .host = "/10.0.0.2",
         .instance_id = "i-2",
         .assignment = kio_tplist_new(0)},
    };
    kio_tplist_add(members[0].assignment, "kfleet.requests", 0, KIO_OFFSET_INVALID);
    kio_tplist_add(members[0].assignment, "kfleet.requests", 5, KIO_OFFSET_INVALID);
    struct kio_group kg = {.group_id = "g",
                           .state = "Stable",
                           .assignor = "cooperative-sticky",
                           .members = members,
                           .member_count = 2};
    size_t len = 0;
    char *line = group_probe_answer_encode(7, 0, NULL, &kg, &len);
    KT_ASSERT(line && line[len - 1] == '\n' && !memchr(line, '\n', len - 1));
    uint64_t id = 0;
    int err = 1;
    char why[64];
    struct group_probe_group *g = NULL;
    KT_ASSERT_INT_EQ(group_probe_answer_decode(line, len, &id, &err, why, sizeof(why), &g), 0);
    KT_ASSERT_INT_EQ(id, 7);
    KT_ASSERT_INT_EQ(err, 0);
    KT_ASSERT(g);
    KT_ASSERT_STR_EQ(g->group_id, "g");
    KT_ASSERT_STR_EQ(g->state, "Stable");
    KT_ASSERT_STR_EQ(g->assignor, "cooperative-sticky");
    KT_ASSERT_INT_EQ(g->member_count, 2);
    KT_ASSERT_STR_EQ(g->members[0].member_id, "m-1");
    KT_ASSERT_STR_EQ(g->members[0].client_id, "w-1");
    KT_ASSERT_STR_EQ(g->members[0].host, "/10.0.0.1");
    KT_ASSERT(!g->members[0].instance_id);
    KT_ASSERT_INT_EQ(g->members[0].assignment->count, 2);
    KT_ASSERT(kio_tplist_find(g->members[0].assignment, "kfleet.requests", 5));
    KT_ASSERT_STR_EQ(g->members[1].client_id, "w-\"2\"");
    KT_ASSERT_STR_EQ(g->members[1].instance_id, "i-2");
    KT_ASSERT(g->members[1].assignment && g->members[1].assignment->count == 0);
    group_probe_group_free(g);
    free(line);
    kio_tplist_free(members[0].assignment);
    kio_tplist_free(members[1].assignment);

    /* an error answer carries the reason, no group */
    line = group_probe_answer_encode(8, -ETIMEDOUT, "describe timed out", NULL, &len);
    KT_ASSERT_INT_EQ(group_probe_answer_decode(line, len, &id, &err, why, sizeof(why), &g), 0);
    KT_ASSERT_INT_EQ(id, 8);
    KT_ASSERT_INT_EQ(err, -ETIMEDOUT);
    KT_ASSERT_STR_EQ(why, "describe timed out");
    KT_ASSERT(!g);
    free(line);

    /* an empty group */
    struct kio_group empty = {.group_id = "g", .state = "Dead", .assignor = ""};
    line = group_probe_answer_encode(9, 0, NULL, &empty, &len);
    KT_ASSERT_INT_EQ(group_probe_answer_decode(line, len, &id, &err, why, sizeof(why), &g), 0);
    KT_ASSERT_STR_EQ(g->state, "Dead");
    KT_ASSERT_INT_EQ(g->member_count, 0);
    group_probe_group_free(g);
    free(line);

    const char *bad[] = {
        "",
        "{\"id\":1}",
        "{\"id\":1,\"err\":5}",
        "{\"id\":1,\"err\":0,\"members\":{}}",
        "{\"id\":1,\"err\":0,\"members\":[1]}",
        "{\"id\":1,\"err\":0,\"members\":[{\"assignment\":[[\"t\",-1]]}]}",
        "{\"id\":1,\"err\":0,\"members\":[{\"assignment\":[[1,1]]}]}",
        "{\"id\":1,\"err\":0,\"members\":[{\"assignment\":[[\"t\",0]]},{\"assignment\":7}]}",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
        g = (struct group_probe_group *)1;
        KT_ASSERT_MSG(group_probe_answer_decode(bad[i], strlen(bad[i]), &id, &err, why, sizeof(why),
                                                &g) == -EPROTO,
                      "accepted %s", bad[i]);
        KT_ASSERT(!g);
    }
}

int main(void)
{
    KT_RUN(test_config);
    KT_RUN(test_request);
    KT_RUN(test_answer);
    return 0;
}
