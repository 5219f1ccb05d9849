/* One fully populated sample of every control event type, shared by the
 * control-event tests, the vector generator and the fuzz seeds. */
#ifndef TESTS_SCHEMA_CTL_SAMPLES_H
#define TESTS_SCHEMA_CTL_SAMPLES_H

#include "schema/ctl_event.h"

#include <stdio.h>
#include <string.h>

static inline void ctl_sample(struct ctl_event *ev, enum ctl_type t)
{
    ctl_event_init(ev, t);
    snprintf(ev->event_id, sizeof(ev->event_id), "evt-%02d-0001", (int)t);
    switch (t) {
    case CTL_MODEL_PUBLISHED:
        strcpy(ev->model, "mnist");
        strcpy(ev->version, "2026-01-02.1");
        ev->seq = 7;
        strcpy(ev->manifest.bucket, "kfleet");
        strcpy(ev->manifest.key, "models/mnist/2026-01-02.1/manifest.json");
        strcpy(ev->manifest.sha256,
               "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08");
        ev->manifest.size = 4242;
        ev->strategy.kind = CTL_STRATEGY_CANARY;
        ev->strategy.max_unavailable = 2;
        ev->strategy.canary_workers = 1;
        ev->strategy.bake_s = 30;
        ev->strategy.lease_s = 300;
        ev->strategy.max_error_rate = 0.5;
        ev->strategy.max_p99_ratio = 2;
        ev->strategy.swap_mode = CTL_SWAP_INPLACE;
        break;
    case CTL_ROLLOUT_COMMAND:
        strcpy(ev->model, "mnist");
        strcpy(ev->version, "2026-01-02.1");
        ev->action = CTL_ACTION_PROMOTE;
        strcpy(ev->reason, "canary looks good");
        ev->seq = 7;
        ev->cmd_seq = 3;
        break;
    case CTL_WORKER_JOINED:
        strcpy(ev->worker, "w-a1");
        strcpy(ev->host, "gpu-node-3");
        strcpy(ev->backend, "cuda");
        strcpy(ev->device, "NVIDIA H100 80GB HBM3");
        ev->free_memory = 80ull << 30;
        ev->n_models = 2;
        strcpy(ev->models[0].model, "mnist");
        strcpy(ev->models[0].version, "2026-01-01.3");
        strcpy(ev->models[1].model, "resnet-head");
        break;
    case CTL_WORKER_LEFT:
        strcpy(ev->worker, "w-a1");
        strcpy(ev->reason, "SIGTERM");
        break;
    case CTL_ROLLOUT_CLAIM:
    case CTL_ROLLOUT_STAGED:
    case CTL_ROLLOUT_DONE:
    case CTL_ROLLOUT_FAILED:
    case CTL_ROLLOUT_HEALTHY:
        strcpy(ev->worker, "w-a1");
        strcpy(ev->model, "mnist");
        strcpy(ev->version, "2026-01-02.1");
        if (t != CTL_ROLLOUT_STAGED && t != CTL_ROLLOUT_HEALTHY)
            strcpy(ev->claim_id, "w-a1/mnist/2026-01-02.1/1");
        if (t == CTL_ROLLOUT_DONE) {
            ev->mode = CTL_MODE_HANDOFF;
            ev->timings = (struct ctl_timings){1200, 300, 450000, 20000, 15, 900000};
        }
        if (t == CTL_ROLLOUT_FAILED) {
            ev->stage = CTL_STAGE_VALIDATE;
            strcpy(ev->reason, "golden output 3 off by 0.25 (atol 1e-4)");
        }
        if (t == CTL_ROLLOUT_HEALTHY)
            ev->metrics = (struct ctl_metrics){100000, 3, 2100, 2000};
        break;
    case CTL_ROLLOUT_CUTOVER:
        strcpy(ev->model, "mnist");
        strcpy(ev->version, "2026-01-02.1");
        strcpy(ev->worker, "w-b2");
        break;
    case CTL_ROLLOUT_EXPIRE:
        strcpy(ev->claim_id, "w-a1/mnist/2026-01-02.1/1");
        strcpy(ev->worker, "w-b2");
        strcpy(ev->model, "mnist");
        strcpy(ev->reason, "lease of 300 s ran out");
        strcpy(ev->by, "w-c3");
        break;
    case CTL_KEY_ENROLLED:
        strcpy(ev->worker, "w-a1");
        /* the public half of the TEST-ONLY key of seed bytes 00 01 .. 1f */
        strcpy(ev->pubkey, "A6EHv/POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg=");
        strcpy(ev->reason, "gpu-node-3 rebuilt");
        break;
    case CTL_KEY_REVOKED:
        strcpy(ev->key_id, "56475aa75463474c");
        strcpy(ev->reason, "gpu-node-3 decommissioned");
        break;
    }
}

#endif
