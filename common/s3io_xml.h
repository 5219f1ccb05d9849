/**
 * @file s3io_xml.h
 * @brief The few pieces of S3's wire format that s3io's SigV4 transport
 *        handles itself: URI encoding of keys and query values, and reading
 *        the two XML answers it needs (an <Error> and a ListBucketResult).
 *        Pure functions, no I/O. Not for use outside common/s3io*.c and tests.
 *
 * An S3 answer is untrusted input: every function here is bounded by the
 * length it is given, never reads past it, and says -EPROTO (with a reason)
 * for anything it does not understand instead of guessing.
 */
#ifndef KF_S3IO_XML_H
#define KF_S3IO_XML_H

#include "common/kf_buf.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/** The longest key S3 allows, in bytes. */
#define S3IO_KEY_MAX 1024

/**
 * @brief Append @p s percent-encoded the way SigV4 canonicalises S3 URIs:
 *        A-Z a-z 0-9 - . _ ~ kept, every other byte as %XX (upper case);
 *        '/' kept when @p keep_slash (object paths), encoded otherwise (query values).
 * @returns 0, -ENOMEM
 */
int s3io_uri_encode(kf_buf *out, const char *s, bool keep_slash);

/**
 * @brief Find the next element <tag>...</tag> at or after @p *pos in
 *        [doc, doc + len). An element written <tag/> has empty content.
 * @param[out] inner its raw content (not decoded), borrowed from doc
 * @returns true and advances @p *pos past the end tag; false when there is none
 */
bool s3io_xml_find(const char *doc, size_t len, size_t *pos, const char *tag, const char **inner,
                   size_t *inner_len);

/**
 * @brief Decode the text @p in (XML entities: &amp; &lt; &gt; &quot; &apos;
 *        &#N; &#xN;) into @p out, NUL-terminated.
 * @returns 0; -EPROTO (markup or a bad entity in the text, an embedded NUL),
 *          -ENAMETOOLONG (does not fit in @p cap - 1 bytes)
 */
int s3io_xml_text(const char *in, size_t n, char *out, size_t cap);

/**
 * @brief The <Code> and <Message> of an S3 <Error> answer; "" for what is
 *        missing or malformed (an error answer may have no body at all).
 */
void s3io_xml_error(const char *doc, size_t len, char *code, size_t code_cap, char *message,
                    size_t message_cap);

/** @brief Receives one listed object; a non-zero return stops the walk with it. */
typedef int s3io_xml_key_cb(void *opaque, const char *key, uint64_t size);

/**
 * @brief Walk a ListBucketResult (ListObjects v1): @p cb for each
 *        <Contents>'s Key and Size, in document order.
 * @param[out] truncated <IsTruncated> was "true"
 * @param[out] next_marker <NextMarker> ("" when absent), S3IO_KEY_MAX + 1 bytes
 * @returns 0; the callback's value; -EPROTO with the reason in @p why
 *          (not a ListBucketResult, a Contents without Key or Size, a bad
 *          number, an over-long key, bad entities)
 */
int s3io_xml_list(const char *doc, size_t len, s3io_xml_key_cb *cb, void *opaque, bool *truncated,
                  char next_marker[S3IO_KEY_MAX + 1], char *why, size_t why_size);

#endif
