/**
 * @file json_impl.h
 * @brief Internal jansson helpers: strict field getters whose error texts name
 *        the field ("tensors[2].dtype: missing"), the canonical dump, and
 *        the one JSON writer for output meant for people and their scripts.
 *        Not a public header: no public header includes it, so jansson.h
 *        does not leak out through one. The .c files of ops/ and worker/
 *        that already use jansson may include it for the writer (ju_text,
 *        ju_dump_out, ju_print_line) so that every tool escapes JSON the same way.
 */
#ifndef SCHEMA_JSON_IMPL_H
#define SCHEMA_JSON_IMPL_H

#include "common/kf_buf.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

/** Canonical JSON: compact, keys sorted, non-ASCII escaped. */
#define JU_DUMP_FLAGS (JSON_COMPACT | JSON_SORT_KEYS | JSON_ENSURE_ASCII)

/** Output JSON (CLI lines, status pages): compact, keys in insertion order,
 *  UTF-8 written as it is (only quotes, backslashes and control characters
 *  are escaped). Not for bytes that are signed: those use JU_DUMP_FLAGS. */
#define JU_OUT_FLAGS (JSON_COMPACT)

/**
 * @brief Parse @p len bytes as one JSON object (duplicate keys refused).
 * @param what  document name for error texts
 * @returns 0 and a new reference in @p out; -EPROTO with the parser's
 *          line/column in errstr; -E2BIG when @p len > @p max_len
 */
int ju_load(const uint8_t *buf, size_t len, size_t max_len, const char *what, json_t **out,
            char *errstr, size_t errstr_size);

/** @brief Append the canonical dump of @p j to @p out. @returns 0, -ENOMEM */
int ju_dump(const json_t *j, kf_buf *out);

/** @brief A JSON string for @p b, or "hex:<hex>" when @p b is not UTF-8. New reference or NULL. */
json_t *ju_bytes(kf_bytes b);

/**
 * @brief A JSON string for the text @p s (NUL-terminated), which may hold
 *        bytes that are not UTF-8 (a name cut mid-character by a fixed-size
 *        buffer, a foreign producer's bytes): each such byte becomes U+FFFD,
 *        the rest is kept exactly. For display; ju_bytes keeps the bytes.
 * @returns a new reference, or NULL when out of memory
 */
json_t *ju_text(const char *s);

/** @brief Append @p j with JU_OUT_FLAGS to @p out (an HTTP body). @returns 0, -ENOMEM */
int ju_dump_out(const json_t *j, kf_buf *out);

/**
 * @brief Write @p j to @p out with JU_OUT_FLAGS and a newline: one JSON line.
 * @returns 0; -EIO (the write failed), -ENOMEM
 */
int ju_print_line(const json_t *j, FILE *out);

/** @brief json_object_set_new that records allocation failure in *err. */
void ju_set(json_t *obj, const char *key, json_t *val, int *err);

/* Getters. @p path is the enclosing object's name ("" for the top level).
 * An absent key or a null value is "missing": -EPROTO when @p required,
 * otherwise 0 with the output left at its default (empty string, untouched
 * number). All return 0 or -EPROTO. */

/** @brief A string of at most @p cap - 1 bytes into @p out (NUL-terminated). */
int ju_str(const json_t *obj, const char *path, const char *key, bool required, char *out,
           size_t cap, char *errstr, size_t errstr_size);
/** @brief ju_str that also requires schema_name_valid (model, version). */
int ju_name(const json_t *obj, const char *path, const char *key, bool required, char *out,
            size_t cap, char *errstr, size_t errstr_size);
/** @brief ju_str that also requires schema_id_valid (worker, claim, event ids). */
int ju_id(const json_t *obj, const char *path, const char *key, bool required, char *out,
          size_t cap, char *errstr, size_t errstr_size);
/** @brief An integer in [@p min, @p max] (reals such as 1.0 are refused). */
int ju_uint(const json_t *obj, const char *path, const char *key, bool required, uint64_t min,
            uint64_t max, uint64_t *out, char *errstr, size_t errstr_size);
/** @brief A finite number (integer or real) in [@p min, @p max]. */
int ju_real(const json_t *obj, const char *path, const char *key, bool required, double min,
            double max, double *out, char *errstr, size_t errstr_size);
int ju_bool(const json_t *obj, const char *path, const char *key, bool required, bool *out,
            char *errstr, size_t errstr_size);
/** @brief A lower-case 64-character hex SHA-256 into @p out[65]. */
int ju_sha256(const json_t *obj, const char *path, const char *key, bool required, char *out,
              char *errstr, size_t errstr_size);
/**
 * @brief The member @p key when it is of @p type (JSON_OBJECT, JSON_ARRAY);
 *        NULL when absent (and -EPROTO in *err if required) or of another type
 *        (-EPROTO). Borrowed.
 */
json_t *ju_child(const json_t *obj, const char *path, const char *key, json_type type,
                 bool required, int *err, char *errstr, size_t errstr_size);

/** @brief "path.key" (or "key" when path is empty) into @p out. */
void ju_path(char *out, size_t cap, const char *path, const char *key);

#endif
