/* File helpers and the sample data shared by gen_vectors and test_vectors. */
#ifndef TESTS_SCHEMA_VECTORS_LIB_H
#define TESTS_SCHEMA_VECTORS_LIB_H

#include "common/crypto.h"
#include "common/kf_buf.h"
#include "schema/fleet.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/** Read a whole file into @p out (appended). @returns 0 or -errno. */
int vl_read(const char *path, kf_buf *out);
/** Write @p len bytes to @p path (created/truncated). @returns 0 or -errno. */
int vl_write(const char *path, const void *data, size_t len);
/** Names of the regular files in @p dir ending in @p suffix, sorted; free with vl_names_free. */
char **vl_list(const char *dir, const char *suffix, size_t *n);
void vl_names_free(char **names, size_t n);

/** The TEST-ONLY signing key of the vectors: seed bytes 0x00..0x1f. */
void vl_test_key(struct crypto_ed25519_key *key);

/**
 * The fleet scenario log format (also the fuzz_fleet input): one record per
 * line, "<sig verdict digit> <LogAppendTime ms> <event JSON>". Folds @p log
 * into a new reducer (offsets 0, 1, ...). Lines that do not parse are
 * skipped, as a worker skips undecodable records. @returns the state, never NULL.
 */
fleet_state *vl_fold_log(const uint8_t *log, size_t len, size_t *n_records);

#endif
