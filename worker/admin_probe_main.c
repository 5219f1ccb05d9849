/* kfleet-admin-probe: the group probe's child (worker/group_probe.h) as a
 * program of its own, so that it loads no inference libraries (cuBLAS alone
 * costs a process ~95 MB of private memory). kfleet-worker starts it from its
 * own directory and talks to it on its stdin; it is not for use by hand. */
#include "worker/group_probe.h"

#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
    if (argc != 2 || strcmp(argv[1], GROUP_PROBE_ARG)) {
        fprintf(stderr,
                "%s: the group probe of kfleet-worker, which starts it (docs/worker.md, "
                "\"The group probe\"); not for use by hand\n",
                argv[0]);
        return 2;
    }
    return group_probe_child_main();
}
