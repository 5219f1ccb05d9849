/* The devstack's fault controls (kt_stack.h). */
#include "tests/faults/kt_stack.h"

#include "tests/lib/kt_proc.h"

static bool s3_down;
static int broker_down = -1; /* the node stopped: 0 the default broker, 1..3 cluster nodes */

static int devstack(const char *const *args)
{
    const char *script = getenv("KFLEET_DEVSTACK");
    if (!script || !*script) {
        fprintf(stderr, "KFLEET_DEVSTACK is not set (meson sets it to ops/devstack)\n");
        exit(KF_TEST_HARD_ERROR);
    }
    char *argv[8];
    int n = 0;
    argv[n++] = (char *)script;
    for (int i = 0; args[i] && n < 7; i++)
        argv[n++] = (char *)args[i];
    argv[n] = NULL;
    return kt_run(argv, NULL, 300);
}

static void restore(void)
{
    if (s3_down)
        kt_stack_s3(true);
    if (broker_down >= 0)
        kt_stack_broker(broker_down, true, false);
}

static void arm(void)
{
    static bool armed;
    if (!armed)
        atexit(restore);
    armed = true;
}

int kt_stack_s3(bool up)
{
    arm();
    int rc = devstack((const char *const[]){up ? "start-s3" : "stop-s3", NULL});
    s3_down = !up || rc;
    return rc;
}

int kt_stack_broker(int node, bool up, bool kill)
{
    arm();
    char n[16];
    snprintf(n, sizeof(n), "%d", node);
    const char *args[4] = {up ? "start-broker" : "stop-broker"};
    int k = 1;
    if (node)
        args[k++] = n;
    if (!up && kill)
        args[k++] = "--kill";
    args[k] = NULL;
    int rc = devstack(args);
    broker_down = up && !rc ? -1 : node;
    return rc;
}

int kt_stack_leader_of(const char *topic, int partition)
{
    const char *script = getenv("KFLEET_DEVSTACK");
    char cmd[512];
    snprintf(cmd, sizeof(cmd), "'%s' leader-of '%s' %d --cluster", script ? script : "", topic,
             partition);
    FILE *p = popen(cmd, "r");
    int leader = -1;
    if (p && fscanf(p, "%d", &leader) != 1)
        leader = -1;
    if (p)
        pclose(p);
    return leader;
}
