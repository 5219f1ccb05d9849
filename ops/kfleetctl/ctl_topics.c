/* kfleetctl topics create: the four topics with the settings of ARCHITECTURE
 * §2, through the admin API. Topics that exist are left as they are, but the
 * control topic is then checked: a second partition or a retention limit would
 * break the fleet's total order or lose its history, so that is an error. */
#include "ops/kfleetctl/ctl.h"

#include "common/kf_clock.h"
#include "common/kf_err.h"
#include "common/kio_admin.h"

#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

/* The control topic as it must be; returns 0 or 1 after saying what is wrong. */
static int check_control(const struct ctl_opts *o, kio_admin *ka)
{
    char err[512] = "", v[64];
    /* A topic just created may not be in the metadata yet (-ENOENT for a
     * moment): ask again until it is, within the timeout. */
    int parts = -ENOENT;
    for (int64_t until = kf_clock_mono_us() + (int64_t)o->timeout_ms * 1000;;) {
        parts = kio_admin_topic_partitions(ka, o->t_control, o->timeout_ms, err, sizeof(err));
        if ((parts != -ENOENT && parts != -EAGAIN) || kf_clock_mono_us() >= until)
            break;
        kf_sleep_ms(100);
    }
    if (parts < 0) {
        fprintf(stderr, "kfleetctl: control topic %s: %s\n", o->t_control,
                err[0] ? err : kf_strerror(parts));
        return 1;
    }
    if (parts != 1) {
        fprintf(stderr, "kfleetctl: control topic %s has %d partitions; it must have exactly 1\n",
                o->t_control, parts);
        return 1;
    }
    static const char *const want[][2] = {{"retention.ms", "-1"},
                                          {"message.timestamp.type", "LogAppendTime"}};
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        int e = kio_admin_topic_config(ka, o->t_control, want[i][0], v, sizeof(v), o->timeout_ms,
                                       err, sizeof(err));
        if (e || strcmp(v, want[i][1])) {
            fprintf(stderr, "kfleetctl: control topic %s: %s is %s; it must be %s\n", o->t_control,
                    want[i][0], e ? kf_strerror(e) : v, want[i][1]);
            return 1;
        }
    }
    return 0;
}

int ctl_cmd_topics(const struct ctl_opts *o, int argc, char **argv)
{
    static const struct option longopts[] = {
        {"partitions", required_argument, NULL, 'p'},
        {"replication-factor", required_argument, NULL, 'r'},
        {NULL, 0, NULL, 0},
    };
    if (optind >= argc || strcmp(argv[optind], "create")) {
        fprintf(stderr, "kfleetctl: topics wants 'create'\n");
        return 2;
    }
    optind++;
    long partitions = 8, rf = -1;
    int opt;
    while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        char *end = NULL;
        long *dst = opt == 'p' ? &partitions : opt == 'r' ? &rf : NULL;
        if (!dst) {
            fprintf(stderr, "kfleetctl: topics create [--partitions N] [--replication-factor R]\n");
            return 2;
        }
        *dst = strtol(optarg, &end, 10);
        if (*end || *dst < 1 || *dst > 100000) {
            fprintf(stderr, "kfleetctl: --%s wants a number >= 1, not '%s'\n",
                    opt == 'p' ? "partitions" : "replication-factor", optarg);
            return 2;
        }
    }
    static const char *const control_cfg[] = {"retention.ms", "-1", "message.timestamp.type",
                                              "LogAppendTime", NULL};
    const struct kio_topic_spec specs[] = {
        {o->t_requests, (int)partitions, (int)rf, NULL},
        {o->t_responses, (int)partitions, (int)rf, NULL},
        {o->t_dlq, 2, (int)rf, NULL},
        {o->t_control, 1, (int)rf, control_cfg},
    };
    char err[512] = "";
    struct kio_opts ko = ctl_kio_opts(o);
    kio_admin *ka = kio_admin_new(&ko, err, sizeof(err));
    int e =
        ka ? kio_admin_topics_create(ka, specs, 4, true, o->timeout_ms, err, sizeof(err)) : -EINVAL;
    int rc = 0;
    if (e) {
        fprintf(stderr, "kfleetctl: creating topics on %s: %s\n", o->brokers,
                err[0] ? err : kf_strerror(e));
        rc = 1;
    } else {
        rc = check_control(o, ka);
    }
    if (!rc)
        for (size_t i = 0; i < 4; i++)
            printf("%s: %d partitions\n", specs[i].name,
                   kio_admin_topic_partitions(ka, specs[i].name, o->timeout_ms, NULL, 0));
    kio_admin_free(ka);
    return rc;
}
