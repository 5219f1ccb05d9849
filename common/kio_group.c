/* Freeing a described consumer group (kio_admin.h). Its own file, without
 * librdkafka's admin API: the worker frees the groups its probe describes
 * and must not link the admin code (tests/worker/no_admin_api.sh). */
#include "common/kio_admin.h"

#include <stdlib.h>

void kio_group_members_free(struct kio_group_member *members, size_t n)
{
    for (size_t i = 0; members && i < n; i++) {
        free(members[i].member_id);
        free(members[i].client_id);
        free(members[i].host);
        free(members[i].instance_id);
        kio_tplist_free(members[i].assignment);
    }
    free(members);
}

void kio_group_free(struct kio_group *g)
{
    if (!g)
        return;
    kio_group_members_free(g->members, g->member_count);
    free(g->group_id);
    free(g->state);
    free(g->assignor);
    free(g);
}
