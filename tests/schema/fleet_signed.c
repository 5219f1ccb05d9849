#include "tests/schema/fleet_signed.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void fsig_key(struct crypto_ed25519_key *k, unsigned seed)
{
    uint8_t s[32];
    for (int i = 0; i < 32; i++)
        s[i] = (uint8_t)(i < 4 ? seed >> (8 * i) : (unsigned)i * 7 + 1);
    if (crypto_ed25519_from_seed(k, s))
        abort();
}

void fsig_make(struct fsig_rec *r, const struct ctl_event *ev, const struct crypto_ed25519_key *key)
{
    kf_buf b, h;
    kf_buf_init(&b);
    kf_buf_init(&h);
    char err[256];
    memset(r, 0, sizeof(*r));
    if (ctl_event_encode(ev, &b, err, sizeof(err))) {
        fprintf(stderr, "fsig_make: %s\n", err);
        abort();
    }
    if (key) {
        if (ctl_sig_sign(key, b.ptr, b.len, &h) || h.len != CTL_SIG_HEADER_LEN)
            abort();
        memcpy(r->hdr, h.ptr, h.len);
        r->hdr_len = h.len;
    }
    r->value = kf_buf_steal(&b, &r->len);
    kf_buf_fini(&h);
}

void fsig_copy(struct fsig_rec *dst, const struct fsig_rec *src)
{
    *dst = *src;
    dst->value = malloc(src->len);
    if (!dst->value)
        abort();
    memcpy(dst->value, src->value, src->len);
}

void fsig_free(struct fsig_rec *r)
{
    free(r->value);
    r->value = NULL;
}

int fsig_feed(fleet_state *fs, const struct fsig_rec *r, struct fleet_result *res)
{
    static struct ctl_event ev; /* large: not on the stack of every caller */
    char err[256];
    if (ctl_event_decode(r->value, r->len, &ev, err, sizeof(err)))
        abort();
    struct fleet_record rec = {.ev = &ev,
                               .offset = r->offset,
                               .ts_ms = r->ts_ms,
                               .value = r->value,
                               .value_len = r->len,
                               .sig_header = r->hdr_len ? (const uint8_t *)r->hdr : NULL,
                               .sig_header_len = r->hdr_len};
    return fleet_state_feed(fs, &rec, res);
}

void fsig_pubkey(const struct crypto_ed25519_key *k, char out[CTL_PUBKEY_CAP])
{
    crypto_base64_encode(k->pub, sizeof(k->pub), out);
}

char *fsig_dump_state(const fleet_state *fs)
{
    kf_buf b;
    kf_buf_init(&b);
    if (fleet_state_dump(fs, &b))
        abort();
    json_t *j = json_loadb((const char *)b.ptr, b.len, 0, NULL);
    kf_buf_fini(&b);
    if (!j)
        abort();
    json_object_del(j, "records");
    json_object_del(j, "last_offset");
    char *s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(j);
    if (!s)
        abort();
    return s;
}
