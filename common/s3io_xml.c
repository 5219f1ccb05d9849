/* URI encoding and the two S3 XML answers the SigV4 transport reads. Not a
 * general XML parser: S3 answers are flat, machine-written documents, and
 * since '<' never appears unescaped in text, the next "<Tag>" in a document
 * is that element's start. Everything is bounded by the given length, so a
 * hostile or cut-off answer gives -EPROTO, never a read past the end. */
#include "common/s3io_xml.h"

#include "common/kf_err.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

int s3io_uri_encode(kf_buf *out, const char *s, bool keep_slash)
{
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        unsigned char c = *p;
        bool plain = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                     c == '-' || c == '.' || c == '_' || c == '~' || (c == '/' && keep_slash);
        int err;
        if (plain) {
            err = kf_buf_append(out, &c, 1);
        } else {
            char e[3] = {'%', hex[c >> 4], hex[c & 15]};
            err = kf_buf_append(out, e, 3);
        }
        if (err)
            return err;
    }
    return 0;
}

/* Index of the first @p needle in doc[from, len), or len when none. */
static size_t find(const char *doc, size_t len, size_t from, const char *needle)
{
    size_t n = strlen(needle);
    for (size_t i = from; n <= len && i <= len - n; i++)
        if (doc[i] == needle[0] && !memcmp(doc + i, needle, n))
            return i;
    return len;
}

bool s3io_xml_find(const char *doc, size_t len, size_t *pos, const char *tag, const char **inner,
                   size_t *inner_len)
{
    char open[64], close[64];
    int no = snprintf(open, sizeof(open), "<%s", tag);
    int nc = snprintf(close, sizeof(close), "</%s>", tag);
    if (no < 0 || (size_t)no >= sizeof(open) || nc < 0 || (size_t)nc >= sizeof(close))
        return false;
    size_t at = *pos;
    for (;;) {
        at = find(doc, len, at, open);
        if (at >= len)
            return false;
        size_t after = at + (size_t)no;
        if (after >= len)
            return false;
        char c = doc[after];
        if (c == '>' || c == '/' || c == ' ' || c == '\t' || c == '\r' || c == '\n')
            break;
        at = after; /* a longer name that starts with tag: <KeyCount> for <Key> */
    }
    size_t gt = find(doc, len, at, ">");
    if (gt >= len)
        return false;
    if (doc[gt - 1] == '/') { /* <tag/> */
        *inner = doc + gt + 1;
        *inner_len = 0;
        *pos = gt + 1;
        return true;
    }
    size_t end = find(doc, len, gt + 1, close);
    if (end >= len)
        return false;
    *inner = doc + gt + 1;
    *inner_len = end - (gt + 1);
    *pos = end + (size_t)nc;
    return true;
}

/* One entity starting at in[0] == '&': its code point in *cp, its length. */
static size_t entity(const char *in, size_t n, unsigned long *cp)
{
    static const struct {
        const char *name;
        char c;
    } named[] = {{"&amp;", '&'}, {"&lt;", '<'}, {"&gt;", '>'}, {"&quot;", '"'}, {"&apos;", '\''}};
    for (size_t i = 0; i < sizeof(named) / sizeof(named[0]); i++) {
        size_t l = strlen(named[i].name);
        if (n >= l && !memcmp(in, named[i].name, l)) {
            *cp = (unsigned char)named[i].c;
            return l;
        }
    }
    if (n < 4 || in[1] != '#')
        return 0;
    bool hexa = in[2] == 'x';
    size_t i = hexa ? 3 : 2, digits = 0;
    unsigned long v = 0;
    for (; i < n && in[i] != ';'; i++, digits++) {
        char c = in[i];
        int d = c >= '0' && c <= '9'           ? c - '0'
                : hexa && c >= 'a' && c <= 'f' ? c - 'a' + 10
                : hexa && c >= 'A' && c <= 'F' ? c - 'A' + 10
                                               : -1;
        if (d < 0 || digits >= 8)
            return 0;
        v = v * (hexa ? 16u : 10u) + (unsigned)d;
    }
    if (i >= n || !digits || !v || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
        return 0;
    *cp = v;
    return i + 1;
}

int s3io_xml_text(const char *in, size_t n, char *out, size_t cap)
{
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        char c = in[i];
        unsigned char enc[4];
        size_t elen = 1;
        if (c == '<' || c == '\0')
            return -EPROTO;
        if (c == '&') {
            unsigned long cp;
            size_t l = entity(in + i, n - i, &cp);
            if (!l)
                return -EPROTO;
            i += l;
            if (cp < 0x80) { /* UTF-8 of the code point */
                enc[0] = (unsigned char)cp;
            } else if (cp < 0x800) {
                enc[0] = (unsigned char)(0xC0 | (cp >> 6));
                enc[1] = (unsigned char)(0x80 | (cp & 0x3F));
                elen = 2;
            } else if (cp < 0x10000) {
                enc[0] = (unsigned char)(0xE0 | (cp >> 12));
                enc[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
                enc[2] = (unsigned char)(0x80 | (cp & 0x3F));
                elen = 3;
            } else {
                enc[0] = (unsigned char)(0xF0 | (cp >> 18));
                enc[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
                enc[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
                enc[3] = (unsigned char)(0x80 | (cp & 0x3F));
                elen = 4;
            }
        } else {
            enc[0] = (unsigned char)c;
            i++;
        }
        if (o + elen >= cap)
            return -ENAMETOOLONG;
        memcpy(out + o, enc, elen);
        o += elen;
    }
    if (!cap)
        return -ENAMETOOLONG;
    out[o] = '\0';
    return 0;
}

void s3io_xml_error(const char *doc, size_t len, char *code, size_t code_cap, char *message,
                    size_t message_cap)
{
    const char *in;
    size_t n, pos = 0;
    code[0] = message[0] = '\0';
    if (s3io_xml_find(doc, len, &pos, "Code", &in, &n) && s3io_xml_text(in, n, code, code_cap))
        code[0] = '\0';
    pos = 0;
    if (s3io_xml_find(doc, len, &pos, "Message", &in, &n) &&
        s3io_xml_text(in, n, message, message_cap)) {
        /* an over-long message is still worth its start */
        size_t m = n < message_cap - 1 ? n : message_cap - 1;
        for (size_t i = 0; i < m; i++)
            message[i] = in[i] == '<' || in[i] == '\0' ? '?' : in[i];
        message[m] = '\0';
    }
}

static int parse_size(const char *in, size_t n, uint64_t *out)
{
    uint64_t v = 0;
    if (!n || n > 20)
        return -EPROTO;
    for (size_t i = 0; i < n; i++) {
        if (in[i] < '0' || in[i] > '9')
            return -EPROTO;
        uint64_t d = (uint64_t)(in[i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            return -EPROTO;
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}

int s3io_xml_list(const char *doc, size_t len, s3io_xml_key_cb *cb, void *opaque, bool *truncated,
                  char next_marker[S3IO_KEY_MAX + 1], char *why, size_t why_size)
{
    const char *in;
    size_t n, pos = 0;
    char flag[8];
    *truncated = false;
    next_marker[0] = '\0';
    if (!s3io_xml_find(doc, len, &pos, "ListBucketResult", &in, &n)) {
        kf_errf(why, why_size, "the answer is not a complete ListBucketResult");
        return -EPROTO;
    }
    /* From here on only the result's content counts. */
    doc = in;
    len = n;
    pos = 0;
    if (s3io_xml_find(doc, len, &pos, "IsTruncated", &in, &n)) {
        if (s3io_xml_text(in, n, flag, sizeof(flag)) ||
            (strcmp(flag, "true") && strcmp(flag, "false"))) {
            kf_errf(why, why_size, "IsTruncated is neither true nor false");
            return -EPROTO;
        }
        *truncated = !strcmp(flag, "true");
    }
    pos = 0;
    if (s3io_xml_find(doc, len, &pos, "NextMarker", &in, &n) &&
        s3io_xml_text(in, n, next_marker, S3IO_KEY_MAX + 1)) {
        kf_errf(why, why_size, "NextMarker is malformed or longer than %d bytes", S3IO_KEY_MAX);
        return -EPROTO;
    }
    pos = 0;
    const char *item;
    size_t item_len;
    char key[S3IO_KEY_MAX + 1];
    while (s3io_xml_find(doc, len, &pos, "Contents", &item, &item_len)) {
        size_t p = 0;
        uint64_t size;
        if (!s3io_xml_find(item, item_len, &p, "Key", &in, &n) ||
            s3io_xml_text(in, n, key, sizeof(key)) || !key[0]) {
            kf_errf(why, why_size,
                    "a listed object has no key, a malformed one or one over %d bytes",
                    S3IO_KEY_MAX);
            return -EPROTO;
        }
        p = 0;
        if (!s3io_xml_find(item, item_len, &p, "Size", &in, &n) || parse_size(in, n, &size)) {
            kf_errf(why, why_size, "listed object '%s' has no valid Size", key);
            return -EPROTO;
        }
        int err = cb(opaque, key, size);
        if (err)
            return err;
    }
    return 0;
}
