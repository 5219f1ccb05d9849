/* kfleetctl status: the reducer's fleet view, the same fold the workers run,
 * plus what the request group's coordinator says about membership: a worker
 * the log calls live but the group does not list is not serving (crashed,
 * stuck, or still joining). */
#include "ops/kfleetctl/ctl.h"

#include "common/kf_buf.h"
#include "common/kf_clock.h"
#include "common/kf_err.h"
#include "common/kio_admin.h"
#include "schema/json_impl.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

static bool in_group(const struct kio_group *g, const char *worker)
{
    for (size_t i = 0; g && i < g->member_count; i++)
        if (g->members[i].client_id && !strcmp(g->members[i].client_id, worker))
            return true;
    return false;
}

static void print_models(const struct ctl_opts *o, const fleet_state *fs)
{
    if (!o->trusted_keys)
        printf("# signatures not checked (no --trusted-keys): every signed event was taken as "
               "good; this view is unverified\n");
    printf("%-20s %-10s %-14s %-14s %-8s %s\n", "MODEL", "PHASE", "TARGET", "PREVIOUS", "SLOTS",
           "HOLDERS");
    for (size_t i = 0; i < fleet_model_count(fs); i++) {
        struct fleet_model_info mi;
        fleet_model_at(fs, i, &mi);
        if (o->model && strcmp(mi.model, o->model))
            continue;
        char holders[512] = "";
        size_t n = 0;
        for (size_t c = 0; c < mi.n_claims; c++) {
            const struct fleet_claim *cl = &mi.claims[c];
            if (!cl->granted || cl->status != FLEET_CLAIM_ACTIVE)
                continue;
            /* (health): swapped, holding the slot through its health window */
            n += (size_t)snprintf(holders + n, n < sizeof(holders) ? sizeof(holders) - n : 0,
                                  "%s%s%s", n ? "," : "", cl->worker,
                                  cl->swapped_offset >= 0 ? "(health)" : "");
        }
        char slots[32];
        snprintf(slots, sizeof(slots), "%zu/%u", mi.active_claims,
                 mi.strategy ? mi.strategy->max_unavailable : 0);
        printf("%-20s %-10s %-14s %-14s %-8s %s\n", mi.model, fleet_phase2str(mi.phase),
               mi.target[0] ? mi.target : "-", mi.previous_good[0] ? mi.previous_good : "-", slots,
               holders[0] ? holders : "-");
        /* Why it stopped, with the figures the failing worker appended
         * (a health window: requests, error rate and p99 against before). */
        if (mi.halt_reason[0])
            printf("%20s %s: %s\n", "", mi.phase == FLEET_ROLLED_BACK ? "rolled back" : "halted",
                   mi.halt_reason);
        int64_t since_ms;
        if (fleet_model_stalled(&mi, kf_clock_wall_ms(), &since_ms))
            printf("%20s stalled: no claim granted and no done, staged or healthy for %.0f s "
                   "(stall_s %u)%s%s\n",
                   "", (double)since_ms / 1e3, mi.strategy->stall_s,
                   holders[0] ? "; slots held by " : "", holders);
    }
}

static void print_workers(const struct ctl_opts *o, const fleet_state *fs,
                          const struct kio_group *g)
{
    printf("\n%-24s %-6s %-6s %-10s %-20s %s\n", "WORKER", "LOG", "GROUP", "BACKEND", "DEVICE",
           "VERSIONS");
    for (size_t i = 0; i < fleet_worker_count(fs); i++) {
        struct fleet_worker_info wi;
        fleet_worker_at(fs, i, &wi);
        char versions[512] = "";
        size_t n = 0;
        bool shown = !o->model;
        for (size_t j = 0; j < wi.n_models; j++) {
            const char *model, *version;
            fleet_worker_model_at(fs, i, j, &model, &version);
            if (o->model && strcmp(model, o->model))
                continue;
            shown = true;
            n += (size_t)snprintf(versions + n, n < sizeof(versions) ? sizeof(versions) - n : 0,
                                  "%s%s=%s", n ? " " : "", model, version[0] ? version : "(none)");
        }
        if (!shown)
            continue;
        printf("%-24s %-6s %-6s %-10s %-20s %s\n", wi.id, wi.live ? "live" : "left",
               !g                   ? "?"
               : in_group(g, wi.id) ? "member"
                                    : "-",
               wi.backend, wi.device, versions[0] ? versions : "-");
    }
    if (g)
        printf("\ngroup %s: %s, %zu members (%s)\n", g->group_id, g->state, g->member_count,
               g->assignor[0] ? g->assignor : "no assignor");
}

/* The reducer's canonical dump, parsed back so that the one writer
 * (ju_print_line) prints the whole line. */
static int print_json(const struct ctl_opts *o, const fleet_state *fs, const struct kio_group *g)
{
    kf_buf d;
    kf_buf_init(&d);
    int err = fleet_state_dump(fs, &d);
    json_t *fleet = NULL;
    if (!err)
        fleet = json_loadb((const char *)d.ptr, d.len, 0, NULL);
    kf_buf_fini(&d);
    json_t *j = json_object(), *group = g ? json_object() : json_null();
    if (err || !fleet || !j || !group) {
        json_decref(fleet);
        json_decref(j);
        json_decref(group);
        return err ? err : -ENOMEM;
    }
    ju_set(j, "fleet", fleet, &err);
    ju_set(j, "group", group, &err);
    /* false: no --trusted-keys, every signed event was taken as good */
    ju_set(j, "signatures_verified", json_boolean(o->trusted_keys != NULL), &err);
    if (g) {
        json_t *members = json_array();
        ju_set(group, "id", ju_text(g->group_id), &err);
        ju_set(group, "state", ju_text(g->state), &err);
        ju_set(group, "members", members, &err);
        for (size_t i = 0; members && i < g->member_count; i++)
            if (json_array_append_new(
                    members, ju_text(g->members[i].client_id ? g->members[i].client_id : "")))
                err = -ENOMEM;
    }
    if (!err)
        err = ju_print_line(j, stdout);
    json_decref(j);
    return err;
}

static int status_once(const struct ctl_opts *o, void *keyring)
{
    const crypto_keyring *kr = keyring;
    fleet_state *fs = ctl_fleet_new(o, kr);
    if (!fs || ctl_replay(o, kr, fs, NULL, NULL)) {
        fleet_state_free(fs);
        return 1;
    }
    char err[512] = "";
    struct kio_opts ko = ctl_kio_opts(o);
    kio_admin *ka = kio_admin_new(&ko, err, sizeof(err));
    struct kio_group *g = NULL;
    int e =
        ka ? kio_admin_group_describe(ka, o->group, &g, o->timeout_ms, err, sizeof(err)) : -EINVAL;
    kio_admin_free(ka);
    if (e) /* the log view stands without it; membership shows as "?" */
        fprintf(stderr, "kfleetctl: group %s: %s\n", o->group, err[0] ? err : kf_strerror(e));
    int rc = 0;
    if (o->json && (e = print_json(o, fs, g))) {
        fprintf(stderr, "kfleetctl: status --json: %s\n", kf_strerror(e));
        rc = 1;
    } else if (!o->json) {
        print_models(o, fs);
        print_workers(o, fs, g);
    }
    kio_group_free(g);
    fleet_state_free(fs);
    return rc;
}

int ctl_cmd_status(const struct ctl_opts *o)
{
    crypto_keyring *kr = ctl_keyring(o);
    if (!kr)
        return 1;
    int rc = ctl_watch(o, status_once, kr);
    crypto_keyring_free(kr);
    return rc;
}
