/* kfleet-client's answers by version. A fixed table: a run sees one or two
 * versions (the quickstart's v1 and v2), a handful during a long rollout. */
#include "ops/client/client_tally.h"

#include <string.h>

void client_tally_add(struct client_tally *t, kf_bytes version)
{
    if (version.len >= CLIENT_TALLY_NAME_CAP) {
        t->unprintable++;
        return;
    }
    for (size_t i = 0; i < t->n; i++)
        if (strlen(t->by[i].version) == version.len &&
            !memcmp(t->by[i].version, version.ptr, version.len)) {
            t->by[i].answers++;
            return;
        }
    if (t->n == CLIENT_TALLY_MAX) {
        t->other++;
        return;
    }
    if (version.len)
        memcpy(t->by[t->n].version, version.ptr, version.len);
    t->by[t->n].version[version.len] = '\0';
    t->by[t->n++].answers = 1;
}

kf_bytes client_tally_version(const kf_bytes *header, kf_bytes body)
{
    return header ? *header : body;
}

void client_tally_print(const struct client_tally *t, FILE *out)
{
    if (!t->n && !t->other && !t->unprintable) {
        fputs("answered by no version\n", out);
        return;
    }
    fputs("answered", out);
    const char *sep = " ";
    for (size_t i = 0; i < t->n; i++, sep = ", ")
        fprintf(out, "%sby %s: %ld", sep, t->by[i].version[0] ? t->by[i].version : "(none)",
                t->by[i].answers);
    if (t->other)
        fprintf(out, "%sby other versions: %ld", sep, t->other), sep = ", ";
    if (t->unprintable)
        fprintf(out, "%sby over-long versions: %ld", sep, t->unprintable);
    fputc('\n', out);
}
