/* Signed control records for reducer tests, the fuzz target and bench/fold:
 * an event encoded to its canonical bytes, with the kfleet-sig header a
 * worker or the operator would attach, fed as a reader of the log would. */
#ifndef TESTS_SCHEMA_FLEET_SIGNED_H
#define TESTS_SCHEMA_FLEET_SIGNED_H

#include "schema/fleet.h"

#include <stdbool.h>
#include <stdint.h>

struct fsig_rec {
    uint8_t *value; /* malloc'd canonical bytes */
    size_t len;
    char hdr[CTL_SIG_HEADER_LEN + 1];
    size_t hdr_len; /* 0: no header */
    int64_t offset, ts_ms;
};

/** A deterministic key from one small number (test keys only). */
void fsig_key(struct crypto_ed25519_key *k, unsigned seed);
/** Encode @p ev and sign it with @p key (NULL: unsigned). Aborts on failure. */
void fsig_make(struct fsig_rec *r, const struct ctl_event *ev,
               const struct crypto_ed25519_key *key);
/** A copy of @p src (its own value bytes). */
void fsig_copy(struct fsig_rec *dst, const struct fsig_rec *src);
void fsig_free(struct fsig_rec *r);
/** Decode and feed @p r at its offset and time. @returns fleet_state_feed's code */
int fsig_feed(fleet_state *fs, const struct fsig_rec *r, struct fleet_result *res);
/** The base64 public key of @p k, for key.enrolled. */
void fsig_pubkey(const struct crypto_ed25519_key *k, char out[CTL_PUBKEY_CAP]);
/** The canonical dump without the fields that count records ("records", "last_offset"). */
char *fsig_dump_state(const fleet_state *fs);

#endif
