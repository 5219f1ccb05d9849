/* The fault suite (issue 12): one row of docs/reliability.md per meson test.
 *
 *   it_faults KFLEET_WORKER ROW
 *
 * ROW is one of the names below. Each row prints its checks ("ok" / "FAIL"),
 * writes its line of the table into $KFLEET_RELIABILITY_DOC and exits 0 when
 * every check passed. */
#include "tests/faults/faults.h"
#include "tests/lib/kt_proc.h"

static const struct {
    const char *name;
    int (*run)(const char *worker_bin);
} rows[] = {
    // clang-format off
    {"poison", fault_poison},
    {"too_large", fault_too_large},
    {"backlog", fault_backlog},
    {"kill", fault_kill},
    {"deadline", fault_deadline},
    {"labels", fault_labels},
    // clang-format on
};

int fault_devstack(const char *const *args)
{
    const char *script = getenv("KFLEET_DEVSTACK");
    if (!script || !*script)
        return 127;
    char *argv[16];
    int n = 0;
    argv[n++] = (char *)script;
    for (int i = 0; args[i] && n < 15; i++)
        argv[n++] = (char *)args[i];
    argv[n] = NULL;
    return kt_run(argv, NULL, 300);
}

int main(int argc, char **argv)
{
    if (argc < 3)
        return KF_TEST_HARD_ERROR;
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
        if (!strcmp(argv[2], rows[i].name))
            return rows[i].run(argv[1]);
    fprintf(stderr, "unknown row %s\n", argv[2]);
    return KF_TEST_HARD_ERROR;
}
