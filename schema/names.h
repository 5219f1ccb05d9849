/**
 * @file names.h
 * @brief The one set of name and identifier limits: every wire format
 *        (requests, responses, control events, manifests), the JSON Schemas
 *        (schema/ *.schema.json), the publisher's and kfleetctl's checks and
 *        docs/schema.md's table "Names and their limits" follow it. Change a
 *        limit here and there together: tests/schema/test_names.c holds each
 *        decoder to it at exactly the limit and one byte over, and
 *        check_jsonschema.py holds the JSON Schemas to it.
 */
#ifndef SCHEMA_NAMES_H
#define SCHEMA_NAMES_H

#include <stdbool.h>
#include <stddef.h>

/** Model and version names: 1..128 bytes of [A-Za-z0-9._-], not "." or "..". */
#define SCHEMA_NAME_MAX 128
/** Worker, claim, event and key ids: 1..128 bytes of printable ASCII without space. */
#define SCHEMA_ID_MAX 128
/** Request ids: 1..128 bytes, any bytes the client chose. */
#define SCHEMA_REQ_ID_MAX 128
/** Free text of control events (reason): at most 512 bytes. */
#define SCHEMA_REASON_MAX 512
/** Kafka topic names: 1..249 bytes of [A-Za-z0-9._-], not "." or "..". */
#define SCHEMA_TOPIC_MAX 249

/** @brief A limit as a string literal, for error texts: SCHEMA_STR(SCHEMA_NAME_MAX) is "128". */
#define SCHEMA_STR(x) SCHEMA_STR_(x)
#define SCHEMA_STR_(x) #x

/** What a valid name and id look like, for error texts. */
#define SCHEMA_NAME_RULE "1.." SCHEMA_STR(SCHEMA_NAME_MAX) " bytes of [A-Za-z0-9._-], not . or .."
#define SCHEMA_ID_RULE "1.." SCHEMA_STR(SCHEMA_ID_MAX) " bytes of printable ASCII without space"

/** A buffer that holds any name or id and its NUL. */
#define SCHEMA_NAME_CAP (SCHEMA_NAME_MAX > SCHEMA_ID_MAX ? SCHEMA_NAME_MAX + 1 : SCHEMA_ID_MAX + 1)

/**
 * @brief Whether @p s (@p len bytes) is a valid model or version name:
 *        1..SCHEMA_NAME_MAX bytes of [A-Za-z0-9._-], not "." or "..". Such
 *        names are safe in S3 keys and file names.
 */
bool schema_name_valid(const char *s, size_t len);

/**
 * @brief Whether @p s is a valid identifier (worker id, claim id, event id,
 *        key id): 1..SCHEMA_ID_MAX bytes of printable ASCII without space
 *        (0x21..0x7e).
 */
bool schema_id_valid(const char *s, size_t len);

/**
 * @brief Whether @p s is a legal Kafka topic name: 1..SCHEMA_TOPIC_MAX bytes
 *        of [A-Za-z0-9._-], not "." or "..".
 */
bool schema_topic_valid(const char *s, size_t len);

#endif
