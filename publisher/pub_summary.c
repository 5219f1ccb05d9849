/* What a push did, for the person who ran it: stdout, stable labels (tests
 * and scripts read "chunks:" and "event:"). */
#include "publisher/pub_push.h"

#include <inttypes.h>

static double secs(uint64_t us)
{
    return (double)us / 1e6;
}

void pub_push_summary(const struct pub_push_result *r, FILE *out)
{
    char up[32], pre[32], blob[32];
    pub_fmt_bytes(r->up.bytes_uploaded, up, sizeof(up));
    pub_fmt_bytes(r->up.bytes_present, pre, sizeof(pre));
    pub_fmt_bytes(r->blob_bytes, blob, sizeof(blob));
    fprintf(out, "published %s/%s as seq %" PRIu64 "%s\n", r->model, r->version, r->seq,
            r->resumed ? " (completed an interrupted push)" : "");
    fprintf(out,
            "  chunks:   %" PRIu32 " total (%s), %" PRIu32 " uploaded (%s), %" PRIu32
            " already present (%s)\n",
            r->up.chunks, blob, r->up.chunks_uploaded, up, r->up.chunks_present, pre);
    if (r->up.chunks_repaired) {
        char rep[32];
        pub_fmt_bytes(r->up.bytes_repaired, rep, sizeof(rep));
        fprintf(out,
                "  repaired: %" PRIu32 " chunk%s (%s): the store held other bytes under "
                "their keys; uploaded over them\n",
                r->up.chunks_repaired, r->up.chunks_repaired == 1 ? "" : "s", rep);
    }
    fprintf(out, "  bytes:    %" PRIu64 " uploaded, %" PRIu64 " already present\n",
            r->up.bytes_uploaded, r->up.bytes_present);
    char rd[32];
    pub_fmt_bytes(r->up.bytes_read, rd, sizeof(rd));
    fprintf(out,
            "  checked:  %" PRIu32 " distinct chunks in the store after the upload (size, MD5 "
            "ETag); %" PRIu32 " read back (%s); manifest and signature read back\n",
            r->up.chunks_verified, r->up.chunks_read, rd);
    fprintf(out, "  requests: %" PRIu64 " PUT, %" PRIu64 " HEAD, %" PRIu64 " GET\n",
            r->put_requests, r->head_requests, r->get_requests);
    fprintf(out, "  manifest: %s/%s (%" PRIu64 " bytes, sha256 %s)\n", r->store, r->manifest_key,
            r->manifest_bytes, r->manifest_sha256);
    fprintf(out, "  signed:   key %s; golden vectors: %" PRIu32 " rows\n", r->key_id,
            r->golden_rows);
    fprintf(out,
            "  stages:   read %.3f s, golden %.3f s, hash %.3f s, log %.3f s, upload %.3f s, "
            "manifest %.3f s, announce %.3f s; total %.3f s\n",
            secs(r->us.read), secs(r->us.golden), secs(r->us.hash), secs(r->us.log),
            secs(r->us.upload), secs(r->us.manifest), secs(r->us.announce), secs(r->us.total));
    if (r->us.upload && r->up.bytes_uploaded) {
        char rate[32];
        pub_fmt_bytes((uint64_t)((double)r->up.bytes_uploaded / secs(r->us.upload)), rate,
                      sizeof(rate));
        fprintf(out, "  upload:   %s/s\n", rate);
    }
    fprintf(out, "  event:    model.published on %s partition 0 offset %" PRId64 " (%s%s%s)\n",
            r->topic, r->offset, fleet_verdict2str(r->verdict), r->verdict_reason[0] ? ": " : "",
            r->verdict_reason);
}
