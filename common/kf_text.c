/* Control characters made visible (kf_text.h). */
#include "common/kf_text.h"

#include <string.h>

char *kf_text_clean(const char *in, char *out, size_t size)
{
    static const char hex[] = "0123456789abcdef";
    size_t n = 0;
    if (!size)
        return out;
    for (const unsigned char *p = (const unsigned char *)in; *p; p++) {
        char esc[8];
        size_t len;
        if (*p < 0x20 || *p == 0x7f) {
            esc[0] = '\\', esc[1] = 'x', esc[2] = hex[*p >> 4], esc[3] = hex[*p & 15];
            len = 4;
        } else if (*p == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f) {
            /* a C1 control in UTF-8: U+009B is CSI to some terminals */
            memcpy(esc, "\\u00", 4);
            esc[4] = hex[p[1] >> 4], esc[5] = hex[p[1] & 15];
            len = 6;
            p++;
        } else {
            esc[0] = (char)*p;
            len = 1;
        }
        if (n + len >= size)
            break;
        memcpy(out + n, esc, len);
        n += len;
    }
    out[n] = '\0';
    return out;
}
