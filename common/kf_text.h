/**
 * @file kf_text.h
 * @brief Text from outside (the control log, the object store, a request) on
 *        its way to a terminal or a log line: control characters made
 *        visible, so that an event's reason cannot clear a screen or forge a
 *        log line (issue 14).
 */
#ifndef KF_TEXT_H
#define KF_TEXT_H

#include <stddef.h>

/**
 * @brief Copy @p in to @p out (@p size bytes, always NUL-terminated) with
 *        C0 controls and DEL as `\xNN` and UTF-8 C1 controls as `\u00NN`;
 *        everything else, UTF-8 included, unchanged. Cut at a whole escape.
 * @returns @p out
 */
char *kf_text_clean(const char *in, char *out, size_t size);

#endif
