/* text.c: UTF-8 validation and first-line extraction. */
#include "base/text.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

bool pgqrs__utf8_valid(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        int len = *p < 0x80 ? 1 : (*p & 0xe0) == 0xc0 ? 2 : (*p & 0xf0) == 0xe0 ? 3 : (*p & 0xf8) == 0xf0 ? 4 : 0;
        uint32_t cp;
        if (!len || (len == 2 && *p < 0xc2) || (len == 4 && *p > 0xf4))
            return false;
        cp = len == 1 ? *p : *p & (0x7f >> len);
        for (int i = 1; i < len; i++) {
            if ((p[i] & 0xc0) != 0x80)
                return false;   /* also stops at the terminating NUL */
            cp = (cp << 6) | (p[i] & 0x3f);
        }
        if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) || (cp >= 0xd800 && cp <= 0xdfff))
            return false;   /* overlong or surrogate */
        p += len;
    }
    return true;
}

void pgqrs__first_line(char *out, size_t outlen, const char *prefix, const char *msg)
{
    size_t n = msg ? strcspn(msg, "\r\n") : 0;
    snprintf(out, outlen, "%s%.*s", prefix ? prefix : "", (int)(n > 300 ? 300 : n), msg ? msg : "");
}
