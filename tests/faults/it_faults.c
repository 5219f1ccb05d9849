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
    {"s3_join", fault_s3_join},
    {"kill", fault_kill},
    {"broker", fault_broker},
    {"leader", fault_leader},
    {"s3_rollout", fault_s3_rollout},
    {"deadline", fault_deadline},
    {"labels", fault_labels},
    {"kill_eos", fault_kill_eos},
    {"broker_eos", fault_broker_eos},
    // clang-format on
};

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
