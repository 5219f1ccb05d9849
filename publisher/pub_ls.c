/* publish-model ls: what the store holds and what the log says, side by
 * side, so a version that was uploaded but never announced (an interrupted
 * push) or announced but refused shows as such. */
#include "publisher/pub_ops.h"

#include "common/kf_text.h"
#include "common/kf_err.h"
#include "publisher/pub_control.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct ls_row {
    char model[CTL_NAME_CAP], version[CTL_NAME_CAP];
    bool in_store, has_sig;
    const struct pub_record *rec; /* its model.published, if any */
};

struct ls {
    struct ls_row *rows;
    size_t n, cap;
};

static struct ls_row *row_get(struct ls *ls, const char *model, size_t mlen, const char *version,
                              size_t vlen)
{
    for (size_t i = 0; i < ls->n; i++)
        if (strlen(ls->rows[i].model) == mlen && !strncmp(ls->rows[i].model, model, mlen) &&
            strlen(ls->rows[i].version) == vlen && !strncmp(ls->rows[i].version, version, vlen))
            return &ls->rows[i];
    if (mlen >= CTL_NAME_CAP || vlen >= CTL_NAME_CAP)
        return NULL;
    if (ls->n == ls->cap) {
        size_t cap = ls->cap ? 2 * ls->cap : 32;
        struct ls_row *r = realloc(ls->rows, cap * sizeof(*r));
        if (!r)
            return NULL;
        ls->rows = r;
        ls->cap = cap;
    }
    struct ls_row *r = &ls->rows[ls->n++];
    memset(r, 0, sizeof(*r));
    snprintf(r->model, sizeof(r->model), "%.*s", (int)mlen, model);
    snprintf(r->version, sizeof(r->version), "%.*s", (int)vlen, version);
    return r;
}

/* models/<m>/<v>/manifest.json or manifest.sig */
static int on_key(void *opaque, const char *key, uint64_t size)
{
    struct ls *ls = opaque;
    (void)size;
    const char *m = key + strlen("models/");
    const char *v = strchr(m, '/');
    const char *f = v ? strchr(v + 1, '/') : NULL;
    if (!f || strchr(f + 1, '/'))
        return 0;
    bool manifest = !strcmp(f + 1, "manifest.json"), sig = !strcmp(f + 1, "manifest.sig");
    if (!manifest && !sig)
        return 0;
    struct ls_row *r = row_get(ls, m, (size_t)(v - m), v + 1, (size_t)(f - v - 1));
    if (!r)
        return -ENOMEM;
    r->in_store |= manifest;
    r->has_sig |= sig;
    return 0;
}

static int cmp_row(const void *a, const void *b)
{
    const struct ls_row *x = a, *y = b;
    int c = strcmp(x->model, y->model);
    if (c)
        return c;
    /* Announced versions in log order, then the rest by name. */
    if (x->rec && y->rec)
        return (x->rec->offset > y->rec->offset) - (x->rec->offset < y->rec->offset);
    if (!!x->rec != !!y->rec)
        return x->rec ? -1 : 1;
    return strcmp(x->version, y->version);
}

static void status_of(const struct ls_row *r, const struct fleet_model_info *mi, bool have_mi,
                      char *out, size_t size)
{
    if (!r->rec) {
        snprintf(out, size, "%s", r->has_sig ? "not announced" : "not announced, unsigned");
        return;
    }
    const char *suffix = r->in_store ? "" : "; manifest missing from the store";
    if (r->rec->res.verdict != FLEET_APPLIED)
        snprintf(out, size, "refused: %s%s", r->rec->res.reason, suffix);
    else if (have_mi && !strcmp(mi->target, r->version))
        snprintf(out, size, "target (%s)%s", fleet_phase2str(mi->phase), suffix);
    else if (have_mi && !strcmp(mi->previous_good, r->version))
        snprintf(out, size, "previous good%s", suffix);
    else
        snprintf(out, size, "published%s", suffix);
}

int pub_ls(struct pub_ctx *pc, const char *model, char *errstr, size_t errstr_size)
{
    struct ls ls = {0};
    pub_log *lg = NULL;
    char prefix[300], msg[512];
    snprintf(prefix, sizeof(prefix), "models/%s%s", model ? model : "", model ? "/" : "");
    int err = pub_store(pc, errstr, errstr_size);
    if (!err && (err = objstore_list(pc->os, prefix, on_key, &ls, msg, sizeof(msg))))
        kf_errf(errstr, errstr_size, "listing %s: %s", pub_store_url(pc), msg);
    int log_err = pub_log_open(pc, &lg, err ? NULL : errstr, err ? 0 : errstr_size);
    if (!log_err)
        log_err = pub_log_catch_up(lg, -1, err ? NULL : errstr, err ? 0 : errstr_size);
    if (!err)
        err = log_err;
    const struct pub_record *rec = NULL;
    size_t n_rec = log_err ? 0 : pub_log_records(lg, &rec);
    for (size_t i = 0; i < n_rec; i++) {
        const struct ctl_event *ev = &rec[i].ev;
        if (ev->type != CTL_MODEL_PUBLISHED || (model && strcmp(ev->model, model)))
            continue;
        struct ls_row *r =
            row_get(&ls, ev->model, strlen(ev->model), ev->version, strlen(ev->version));
        if (!r) {
            err = -ENOMEM;
            goto out;
        }
        if (!r->rec || r->rec->res.verdict != FLEET_APPLIED)
            r->rec = &rec[i];
    }
    if (ls.n) /* qsort's base may not be NULL */
        qsort(ls.rows, ls.n, sizeof(*ls.rows), cmp_row);
    FILE *out = pc->out;
    bool verified = !log_err && pub_log_verified(lg);
    if (!log_err && !verified)
        fprintf(out, "# signatures not checked (no --pub, trusted_keys or --key): every signed "
                     "announcement below was taken as good, unverified\n");
    const char *cur = "";
    for (size_t i = 0; i < ls.n; i++) {
        const struct ls_row *r = &ls.rows[i];
        struct fleet_model_info mi = {0};
        bool have_mi = !log_err && !fleet_model_get(pub_log_state(lg), r->model, &mi);
        if (strcmp(cur, r->model)) {
            char hm[4 * CTL_NAME_CAP];
            cur = r->model;
            if (have_mi) {
                /* halt_reason quotes an operator's or a worker's reason: escaped */
                char why[4 * CTL_REASON_CAP];
                fprintf(out, "# %s: %s%s%s%s, target %s (seq %" PRIu64 ")%s%s%s\n",
                        kf_text_clean(r->model, hm, sizeof(hm)), fleet_phase2str(mi.phase),
                        mi.halt_reason[0] ? " (" : "",
                        mi.halt_reason[0] ? kf_text_clean(mi.halt_reason, why, sizeof(why)) : "",
                        mi.halt_reason[0] ? ")" : "", mi.target[0] ? mi.target : "-", mi.seq,
                        mi.previous_good[0] ? ", previous good " : "", mi.previous_good,
                        verified ? "" : " (unverified)");
            } else
                fprintf(out, "# %s: not on the control log%s\n",
                        kf_text_clean(r->model, hm, sizeof(hm)),
                        log_err ? " (could not be read)" : "");
            fprintf(out, "%-20s %-20s %5s %8s %-6s %-13s %s\n", "MODEL", "VERSION", "SEQ", "OFFSET",
                    "STORE", "SIGNATURE", "STATUS");
        }
        char seq[24] = "-", off[24] = "-", status[400];
        if (r->rec) {
            snprintf(seq, sizeof(seq), "%" PRIu64, r->rec->ev.seq);
            snprintf(off, sizeof(off), "%" PRId64, r->rec->offset);
        }
        status_of(r, &mi, have_mi, status, sizeof(status));
        /* Without a key a well-formed signature cannot be checked: "unverified",
         * never a verdict that reads like a pass. */
        const char *sig = !r->rec ? "-"
                          : !verified && r->rec->sig == CTL_SIG_UNKNOWN_KEY
                              ? "unverified"
                              : ctl_sig_verdict2str(r->rec->sig);
        /* names from store keys are not checked by anyone: escape them too */
        char cm[4 * CTL_NAME_CAP], cv[4 * CTL_NAME_CAP], cs[4 * sizeof(status)];
        fprintf(out, "%-20s %-20s %5s %8s %-6s %-13s %s%s\n",
                kf_text_clean(r->model, cm, sizeof(cm)), kf_text_clean(r->version, cv, sizeof(cv)),
                seq, off, r->in_store ? "yes" : "no", sig, kf_text_clean(status, cs, sizeof(cs)),
                r->rec && !verified ? " (unverified)" : "");
    }
    if (!ls.n)
        fprintf(stderr, "no versions%s%s\n", model ? " of " : "", model ? model : "");
out:
    free(ls.rows);
    pub_log_free(lg);
    return err;
}
